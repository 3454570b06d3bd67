/**
 * Token response parsing and the freshness rules (src/token.ts), pinned at their boundaries and on their
 * exact messages (written to kill the mutants StrykerJS found surviving there; see docs/testing.md).
 * Times are fixed numbers: no clock is read.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { UnsecuredJWT } from 'jose';
import { InvalidTokenResponseError } from '../../src/errors.js';
import { clearRegisteredSecrets, REDACTED, redactText, registerSecret } from '../../src/redact.js';
import {
  authorizationValue,
  DEFAULT_LIFETIME_SECONDS,
  isPastEagerPoint,
  isUsable,
  jwtExp,
  type ParseTokenOptions,
  parseTokenResponse,
  readSeconds,
  refreshTokenExpired,
  type Token,
  usableUntil,
} from '../../src/token.js';

const NOW = 1_700_000_000_000;
const url = 'https://idp.example.com/token';
const parse = (body: unknown, extra: Partial<ParseTokenOptions> = {}) =>
  parseTokenResponse(body, { url, now: NOW, ...extra });
/** Asserts that parsing throws an InvalidTokenResponseError with exactly this message (and status, url). */
const refusedWith = (body: unknown, message: string, extra: Partial<ParseTokenOptions> = {}) =>
  assert.throws(
    () => parse(body, extra),
    (e: unknown) => {
      assert.ok(e instanceof InvalidTokenResponseError, String(e));
      assert.equal(e.message, message);
      assert.equal(e.url, url);
      assert.equal(e.status, extra.status ?? 200);
      return true;
    },
  );
const jwt = (exp: number) => new UnsecuredJWT({ sub: 'x' }).setExpirationTime(exp).encode();

beforeEach(() => clearRegisteredSecrets());

describe('the access token and its characters', () => {
  it('what is wrong with it is named, without quoting it', () => {
    const tail = '; refused (an access token is visible ASCII only, RFC 6750)';
    refusedWith(
      { access_token: 'abc\ndef' },
      `token response "access_token" contains a line break (CR or LF)${tail}`,
    );
    refusedWith(
      { access_token: 'abc\rdef' },
      `token response "access_token" contains a line break (CR or LF)${tail}`,
    );
    // A line break wins over anything else, wherever it is.
    refusedWith(
      { access_token: 'a b\u0001é\n' },
      `token response "access_token" contains a line break (CR or LF)${tail}`,
    );
    refusedWith(
      { access_token: 'ab\u0001c d' },
      `token response "access_token" contains a control character${tail}`,
    );
    refusedWith(
      { access_token: 'ab\u001fcd' },
      `token response "access_token" contains a control character${tail}`,
    );
    refusedWith(
      { access_token: 'ab\u007fcd' },
      `token response "access_token" contains a control character${tail}`,
    );
    refusedWith(
      { access_token: 'abé c' },
      `token response "access_token" contains a non-ASCII character${tail}`,
    );
    refusedWith(
      { access_token: 'ab\u0080cd' },
      `token response "access_token" contains a non-ASCII character${tail}`,
    );
    refusedWith({ access_token: 'ab cd' }, `token response "access_token" contains a space${tail}`);
  });

  it('the edges of the allowed range: "!" and "~" are accepted', () => {
    assert.equal(parse({ access_token: '!abc~' }).accessToken, '!abc~');
  });

  it('an access token that is only white space is refused as empty', () => {
    refusedWith(
      { access_token: '   ' },
      'token response "access_token" must be a non-empty string, got an empty string',
    );
  });

  it('a non-string access token is described, not quoted whole', () => {
    const tail = 'token response "access_token" must be a non-empty string, got';
    refusedWith({ access_token: 42 }, `${tail} a number`);
    refusedWith({ access_token: null }, `${tail} null`);
    refusedWith({ access_token: ['x'] }, `${tail} an array`);
    refusedWith({ access_token: { a: 1 } }, `${tail} a object`);
    refusedWith({ access_token: true }, `${tail} a boolean`);
  });

  it('a body that is not an object: the string is shown redacted, then clipped to 20 characters', () => {
    refusedWith('short', 'token response must be a JSON object, got the string "short"');
    refusedWith('x'.repeat(20), `token response must be a JSON object, got the string "${'x'.repeat(20)}"`);
    refusedWith('y'.repeat(21), `token response must be a JSON object, got the string "${'y'.repeat(20)}…"`);
    registerSecret('a-long-registered-secret-value');
    refusedWith(
      'a-long-registered-secret-value',
      `token response must be a JSON object, got the string "${REDACTED}"`,
    );
    refusedWith(null, 'token response must be a JSON object, got null');
    refusedWith([1], 'token response must be a JSON object, got an array');
    refusedWith(7, 'token response must be a JSON object, got a number');
  });

  it('the status given is the one in the error', () => {
    refusedWith({}, 'token response has no "access_token"', { status: 201 });
  });
});

describe('token_type', () => {
  const tail = '; refused (a token type is letters, digits, "-", "." and "_", RFC 6749)';
  it('empty, or with characters a type cannot have: refused and said why', () => {
    refusedWith({ access_token: 'a1234', token_type: '' }, `token response "token_type" is empty${tail}`);
    refusedWith(
      { access_token: 'a1234', token_type: 'Bea rer' },
      `token response "token_type" contains a space${tail}`,
    );
    refusedWith(
      { access_token: 'a1234', token_type: 'Bearer!' },
      `token response "token_type" contains a character that is not allowed${tail}`,
    );
  });

  it('a type not accepted: the message lists the accepted ones (not redacted as "bearer <credential>")', () => {
    refusedWith(
      { access_token: 'a1234', token_type: 'mac' },
      'token response "token_type" is "mac"; expected bearer (set the profile\'s token_types to accept it)',
    );
    refusedWith(
      { access_token: 'a1234', token_type: 'mac' },
      'token response "token_type" is "mac"; expected bearer, dpop (set the profile\'s token_types to accept it)',
      { acceptedTokenTypes: ['Bearer', 'DPoP'] },
    );
    refusedWith(
      { access_token: 'a1234', token_type: 7 },
      'token response "token_type" is a number; expected bearer (set the profile\'s token_types to accept it)',
    );
  });

  it('accepted types are compared in any case; Bearer is normalised, others kept as sent; null means Bearer', () => {
    assert.equal(parse({ access_token: 'a1234', token_type: 'BEARER' }).tokenType, 'Bearer');
    assert.equal(parse({ access_token: 'a1234', token_type: null }).tokenType, 'Bearer');
    assert.equal(
      parse({ access_token: 'a1234', token_type: 'dpop' }, { acceptedTokenTypes: ['DPoP'] }).tokenType,
      'dpop',
    );
    assert.equal(
      parse({ access_token: 'a1234', token_type: 'N_A.x-1' }, { acceptedTokenTypes: ['n_a.x-1'] }).tokenType,
      'N_A.x-1',
    );
  });
});

describe('lifetimes', () => {
  const ctx = { url, status: 200 };
  it('readSeconds: absent or null is undefined; fractions and padded strings are numbers', () => {
    assert.equal(readSeconds({}, 'expires_in', ctx), undefined);
    assert.equal(readSeconds({ expires_in: null }, 'expires_in', ctx), undefined);
    assert.equal(readSeconds({ expires_in: '1.5' }, 'expires_in', ctx), 1.5);
    assert.equal(readSeconds({ expires_in: '12.25' }, 'expires_in', ctx), 12.25);
    assert.equal(readSeconds({ expires_in: ' 60 ' }, 'expires_in', ctx), 60);
    assert.equal(readSeconds({ expires_in: 0.25 }, 'expires_in', ctx), 0.25);
  });

  it('readSeconds: the messages name the field and what came, and carry the url and status', () => {
    const refused = (v: unknown, message: string) =>
      assert.throws(
        () => readSeconds({ f: v }, 'f', { url, status: 203 }),
        (e: unknown) =>
          e instanceof InvalidTokenResponseError &&
          e.message === message &&
          e.status === 203 &&
          e.url === url,
      );
    refused(
      '1.',
      'token response field "f" must be a number of seconds (a number or a numeric string), got the string "1."',
    );
    refused(
      '.5',
      'token response field "f" must be a number of seconds (a number or a numeric string), got the string ".5"',
    );
    refused(
      '1 2',
      'token response field "f" must be a number of seconds (a number or a numeric string), got the string "1 2"',
    );
    refused(
      true,
      'token response field "f" must be a number of seconds (a number or a numeric string), got a boolean',
    );
    refused(0, 'token response field "f" must be a positive number of seconds, got 0');
    refused('0', 'token response field "f" must be a positive number of seconds, got 0');
    refused(-3, 'token response field "f" must be a positive number of seconds, got -3');
    refused(
      Number.POSITIVE_INFINITY,
      'token response field "f" must be a positive number of seconds, got Infinity',
    );
  });

  it('expires_in below the floor is refused; exactly at it is accepted', () => {
    refusedWith(
      { access_token: 'a1234', expires_in: 0.5 },
      'token response "expires_in" is 0.5 s, below the shortest usable lifetime (1 s): the token would be stale on arrival and every call would renew it',
    );
    assert.equal(parse({ access_token: 'a1234', expires_in: 1 }).expiresAt, NOW + 1000);
    refusedWith(
      { access_token: 'a1234', expires_in: 29 },
      'token response "expires_in" is 29 s, below the shortest usable lifetime (30 s): the token would be stale on arrival and every call would renew it',
      { minLifetimeSeconds: 30 },
    );
    assert.equal(
      parse({ access_token: 'a1234', expires_in: 30 }, { minLifetimeSeconds: 30 }).expiresAt,
      NOW + 30_000,
    );
  });

  it('expires_on: seconds up to 10^12, milliseconds above', () => {
    // 10^12 seconds is the year 33658: taken as seconds (and capped to the longest lifetime).
    const capped = parse({ access_token: 'a1234', expires_on: 1e12 }, { maxLifetimeSeconds: 10 ** 13 });
    assert.equal(capped.expiresAt, 1e15);
    const ms = NOW + 3_600_000;
    assert.ok(ms > 1e12);
    assert.equal(parse({ access_token: 'a1234', expires_on: ms }).expiresAt, ms);
    assert.equal(parse({ access_token: 'a1234', expires_on: String(ms) }).expirySource, 'expires_on');
  });

  it('expires_on now or in the past, or within the floor: refused with the time and a clock hint', () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    refusedWith(
      { access_token: 'a1234', expires_on: NOW / 1000 },
      `token response "expires_on" (${iso(NOW)}) is already in the past; check this machine's clock`,
    );
    refusedWith(
      { access_token: 'a1234', expires_on: NOW + 999 },
      `token response "expires_on" (${iso(NOW + 999)}) leaves less than the shortest usable lifetime (1 s); check this machine's clock`,
    );
    assert.equal(parse({ access_token: 'a1234', expires_on: NOW + 1000 }).expiresAt, NOW + 1000);
  });

  it('JWT exp: used when in the future (even by one second); the default otherwise', () => {
    const t = parse({ access_token: jwt(NOW / 1000 + 1) });
    assert.equal(t.expirySource, 'jwt_exp');
    assert.equal(t.expiresAt, NOW + 1000);
    const now = parse({ access_token: jwt(NOW / 1000) });
    assert.equal(now.expirySource, 'default');
    assert.equal(now.expiresAt, NOW + DEFAULT_LIFETIME_SECONDS * 1000);
  });

  it('a default lifetime that is not a positive number is refused', () => {
    for (const d of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      refusedWith({ access_token: 'opaque-1' }, 'default lifetime must be a positive number', {
        defaultLifetimeSeconds: d,
      });
    }
    assert.equal(parse({ access_token: 'opaque-1' }, { defaultLifetimeSeconds: 0.5 }).expiresAt, NOW + 500);
  });

  it('the longest lifetime: exactly at it is kept, one second more is capped', () => {
    assert.equal(
      parse({ access_token: 'a1234', expires_in: 60 }, { maxLifetimeSeconds: 60 }).expiresAt,
      NOW + 60_000,
    );
    assert.equal(
      parse({ access_token: 'a1234', expires_in: 61 }, { maxLifetimeSeconds: 60 }).expiresAt,
      NOW + 60_000,
    );
    assert.equal(
      parse({ access_token: jwt(NOW / 1000 + 61) }, { maxLifetimeSeconds: 60 }).expiresAt,
      NOW + 60_000,
    );
  });

  it('without `now`, the time of the call is used', () => {
    const before = Date.now();
    const t = parseTokenResponse({ access_token: 'a1234', expires_in: 100 }, { url });
    const after = Date.now();
    assert.ok(t.obtainedAt >= before && t.obtainedAt <= after);
    assert.equal(t.expiresAt, t.obtainedAt + 100_000);
  });
});

describe('refresh token, scope, id_token', () => {
  it('a refresh token with a space inside is fine; only spaces, a line break or non-ASCII are refused', () => {
    assert.equal(parse({ access_token: 'a1234', refresh_token: 'r t' }).refreshToken, 'r t');
    const tail = '; refused (a refresh token is printable ASCII only, RFC 6749)';
    refusedWith(
      { access_token: 'a1234', refresh_token: '   ' },
      `token response "refresh_token" contains a space${tail}`,
    );
    refusedWith(
      { access_token: 'a1234', refresh_token: 'r\nt' },
      `token response "refresh_token" contains a line break (CR or LF)${tail}`,
    );
    refusedWith(
      { access_token: 'a1234', refresh_token: 'rü' },
      `token response "refresh_token" contains a non-ASCII character${tail}`,
    );
    refusedWith(
      { access_token: 'a1234', refresh_token: '' },
      'token response "refresh_token" must be a non-empty string, got an empty string',
    );
    refusedWith(
      { access_token: 'a1234', refresh_token: 5 },
      'token response "refresh_token" must be a non-empty string, got a number',
    );
  });

  it('a null refresh token keeps the previous one; a new one drops the previous expiry', () => {
    const kept = parse(
      { access_token: 'a1234', refresh_token: null },
      { previousRefreshToken: 'r-old', previousRefreshExpiresAt: NOW + 5 },
    );
    assert.equal(kept.refreshToken, 'r-old');
    assert.equal(kept.refreshExpiresAt, NOW + 5);
    const noExpiry = parse({ access_token: 'a1234' }, { previousRefreshToken: 'r-old' });
    assert.equal(noExpiry.refreshToken, 'r-old');
    assert.equal('refreshExpiresAt' in noExpiry, false);
    const fresh = parse(
      { access_token: 'a1234', refresh_token: 'r-new' },
      { previousRefreshToken: 'r-old', previousRefreshExpiresAt: NOW + 5 },
    );
    assert.equal(fresh.refreshToken, 'r-new');
    assert.equal('refreshExpiresAt' in fresh, false);
    assert.equal(
      parse({ access_token: 'a1234', refresh_token: 'r-new', refresh_expires_in: '60' }).refreshExpiresAt,
      NOW + 60_000,
    );
  });

  it('scope: a list of strings is joined; anything else is left out', () => {
    assert.equal(parse({ access_token: 'a1234', scope: ['a', 'b', 'c'] }).scope, 'a b c');
    assert.equal('scope' in parse({ access_token: 'a1234', scope: ['a', 2] }), false);
    assert.equal('scope' in parse({ access_token: 'a1234', scope: 5 }), false);
    assert.equal(parse({ access_token: 'a1234', scope: '' }).scope, '');
  });

  it('an empty or non-string id_token is left out; tokens received are registered for redaction', () => {
    assert.equal('idToken' in parse({ access_token: 'a1234', id_token: '' }), false);
    assert.equal('idToken' in parse({ access_token: 'a1234', id_token: 5 }), false);
    parse({
      access_token: 'at-registered-1',
      refresh_token: 'rt-registered-1',
      id_token: 'idt-registered-1',
    });
    assert.equal(
      redactText('at-registered-1 rt-registered-1 idt-registered-1'),
      `${REDACTED} ${REDACTED} ${REDACTED}`,
    );
  });
});

describe('authorizationValue, jwtExp and the freshness rules', () => {
  const token = (over: Partial<Token> = {}): Token => ({
    accessToken: 'at-1234',
    tokenType: 'Bearer',
    expiresAt: NOW + 100_000,
    obtainedAt: NOW,
    expirySource: 'expires_in',
    raw: {},
    ...over,
  });

  it('authorizationValue: "<type> <token>", and a token or type with bad characters is refused', () => {
    assert.equal(authorizationValue(token({ tokenType: 'DPoP' })), 'DPoP at-1234');
    for (const t of [token({ accessToken: 'a b' }), token({ tokenType: 'Bea rer' })]) {
      assert.throws(
        () => authorizationValue(t),
        (e: unknown) =>
          e instanceof InvalidTokenResponseError &&
          e.url === '(cached token)' &&
          e.status === 0 &&
          e.message ===
            'the cached token has characters an HTTP header must not carry (space, CR/LF, control or non-ASCII); run `tokenward logout` and get a new one',
      );
    }
  });

  it('jwtExp: the exp of a three-part JWT; undefined for anything else', () => {
    assert.equal(jwtExp(jwt(1234)), 1234);
    assert.equal(jwtExp(`${jwt(1234)}.extra`), undefined);
    assert.equal(jwtExp('a.b'), undefined);
    assert.equal(jwtExp('not.a.jwt'), undefined);
    assert.equal(jwtExp(new UnsecuredJWT({ sub: 'x' }).encode()), undefined);
    assert.equal(jwtExp(new UnsecuredJWT({ exp: 'soon' } as never).encode()), undefined);
  });

  it('isUsable / usableUntil: the margin is skew, or half the lifetime when that is shorter', () => {
    const t = token(); // 100 s lifetime
    assert.equal(usableUntil(t, 10_000), NOW + 90_000);
    assert.equal(isUsable(t, NOW + 89_999, 10_000), true);
    assert.equal(isUsable(t, NOW + 90_000, 10_000), false);
    assert.equal(isUsable(t, NOW + 79_999, 10_000, 10_000), true);
    assert.equal(isUsable(t, NOW + 80_000, 10_000, 10_000), false);
    const short = token({ expiresAt: NOW + 6_000 }); // 6 s lifetime: margin 3 s, not 10 s
    assert.equal(usableUntil(short, 10_000), NOW + 3_000);
    assert.equal(isUsable(short, NOW + 2_999, 10_000), true);
  });

  it('isPastEagerPoint: at the fraction of the lifetime exactly; never with a fraction of 1 or more', () => {
    const t = token(); // 100 s lifetime
    assert.equal(isPastEagerPoint(t, NOW + 79_999, 0.8), false);
    assert.equal(isPastEagerPoint(t, NOW + 80_000, 0.8), true);
    assert.equal(isPastEagerPoint(t, NOW + 99_999, 1), false);
    assert.equal(isPastEagerPoint(t, NOW + 500_000, 1.5), false);
  });

  it('refreshTokenExpired: at its expiry exactly; never when the expiry is unknown', () => {
    assert.equal(refreshTokenExpired(token({ refreshExpiresAt: NOW }), NOW - 1), false);
    assert.equal(refreshTokenExpired(token({ refreshExpiresAt: NOW }), NOW), true);
    assert.equal(refreshTokenExpired(token(), NOW + 10 ** 12), false);
  });
});
