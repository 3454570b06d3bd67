/**
 * The `token` group's last survivors (docs/testing.md, "token"): each test below fails with the mutant
 * it is named after applied to src/token.ts or src/token-state.ts (checked by hand), and passes without.
 * Times are fixed numbers: no clock is read.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { InvalidTokenResponseError } from '../../src/errors.js';
import { clearRegisteredSecrets } from '../../src/redact.js';
import {
  DEFAULT_LIFETIME_SECONDS,
  isPastEagerPoint,
  jwtExp,
  type ParseTokenOptions,
  parseTokenResponse,
  readSeconds,
  type Token,
} from '../../src/token.js';

const NOW = 1_700_000_000_000;
const url = 'https://idp.example.com/token';
const parse = (body: unknown, extra: Partial<ParseTokenOptions> = {}) =>
  parseTokenResponse(body, { url, now: NOW, ...extra });
const refusedWith = (body: unknown, message: string) =>
  assert.throws(
    () => parse(body),
    (e: unknown) => e instanceof InvalidTokenResponseError && e.message === message,
  );
/** An unsigned JWT whose payload is this exact JSON text (JSON that `JSON.stringify` cannot produce). */
const rawJwt = (payload: string) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(payload).toString('base64url')}.`;

beforeEach(() => clearRegisteredSecrets());

describe('token: the survivors of the last Stryker run', () => {
  it('readSeconds: a one-element array is not a number, though String([60]) is "60"', () => {
    // Mutant: `typeof v === 'string' && NUMERIC.test(v)` → `true && NUMERIC.test(v)`.
    for (const v of [[60], ['60']]) {
      assert.throws(
        () => readSeconds({ expires_in: v }, 'expires_in', { url, status: 200 }),
        (e: unknown) =>
          e instanceof InvalidTokenResponseError &&
          e.message ===
            'token response field "expires_in" must be a number of seconds (a number or a numeric string), got an array',
      );
    }
  });

  it('token_type: an object or an array is refused as not a type, not by its characters', () => {
    // Mutant: `typeof tt === 'string' && !TOKEN_TYPE_PATTERN.test(tt)` → `true && …` ("[object Object]"
    // fails the pattern; String(['a b']) too).
    refusedWith(
      { access_token: 'a1234', token_type: {} },
      'token response "token_type" is a object; expected bearer (set the profile\'s token_types to accept it)',
    );
    refusedWith(
      { access_token: 'a1234', token_type: ['a b'] },
      'token response "token_type" is an array; expected bearer (set the profile\'s token_types to accept it)',
    );
  });

  it('expires_on is not read at all when expires_in is there: a bad one does not refuse the response', () => {
    // Mutant: `expiresIn === undefined ? readSeconds(b, 'expires_on', ctx) : undefined` → `true ? …`.
    const t = parse({ access_token: 'a1234', expires_in: 60, expires_on: 'tomorrow' });
    assert.equal(t.expirySource, 'expires_in');
    assert.equal(t.expiresAt, NOW + 60_000);
  });

  it('a JWT whose exp is not finite (1e999 in the JSON) falls back to the default lifetime', () => {
    // Mutant: `typeof exp === 'number' && Number.isFinite(exp)` → `typeof exp === 'number' && true`.
    const at = rawJwt('{"exp":1e999}');
    assert.equal(jwtExp(at), undefined);
    const t = parse({ access_token: at });
    assert.equal(t.expirySource, 'default');
    assert.equal(t.expiresAt, NOW + DEFAULT_LIFETIME_SECONDS * 1000);
  });

  it('no refresh token in the response and none before: the token has no refreshToken key at all', () => {
    // Mutant: `else if (options.previousRefreshToken !== undefined)` → `else if (true)`, which sets
    // `refreshToken: undefined` (a key a store would write, and `'refreshToken' in token` would see).
    const t = parse({ access_token: 'a1234' });
    assert.deepEqual(Object.keys(t).sort(), [
      'accessToken',
      'expiresAt',
      'expirySource',
      'obtainedAt',
      'raw',
      'tokenType',
    ]);
    assert.equal('refreshToken' in parse({ access_token: 'a1234', refresh_token: null }), false);
  });

  it('a refresh token that starts with a control character is refused', () => {
    // Mutant: REFRESH_TOKEN_PATTERN `^[ -~]*…` → `^[^ -~]*…` (anything before the first visible character).
    const tail = '; refused (a refresh token is printable ASCII only, RFC 6749)';
    for (const rt of ['\u0001rt', '\u007frt', 'ért']) {
      refusedWith(
        { access_token: 'a1234', refresh_token: rt },
        `token response "refresh_token" ${rt === 'ért' ? 'contains a non-ASCII character' : 'contains a control character'}${tail}`,
      );
    }
    assert.equal(parse({ access_token: 'a1234', refresh_token: ' rt' }).refreshToken, ' rt');
  });

  it('isPastEagerPoint with a fraction of 1 is false even at and after the expiry', () => {
    // Mutant: `if (fraction >= 1) return false` → `if (fraction > 1)`.
    const t: Token = {
      accessToken: 'at-1234',
      tokenType: 'Bearer',
      expiresAt: NOW + 100_000,
      obtainedAt: NOW,
      expirySource: 'expires_in',
      raw: {},
    };
    assert.equal(isPastEagerPoint(t, NOW + 100_000, 1), false);
    assert.equal(isPastEagerPoint(t, NOW + 200_000, 1), false);
    assert.equal(isPastEagerPoint(t, NOW + 100_000, 0.999), true);
  });
});
