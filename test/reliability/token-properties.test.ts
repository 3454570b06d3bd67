/**
 * Property tests (fast-check) of the token-response parser: any JSON value gives a valid Token or an
 * InvalidTokenResponseError (never another kind of throw); a token with a forbidden character is always
 * refused and never quoted; the expiry read from `expires_in` (number or numeric string), `expires_on`
 * (seconds or milliseconds) and a JWT `exp` agree; lifetimes below the floor are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidTokenResponseError } from '../../src/errors.js';
import {
  ACCESS_TOKEN_PATTERN,
  authorizationValue,
  DEFAULT_MAX_LIFETIME_SECONDS,
  parseTokenResponse,
  type Token,
} from '../../src/token.js';

const NOW = 1_800_000_000_000;
const URL_ = 'https://idp.example/token';
const parse = (body: unknown, extra: Record<string, unknown> = {}): Token =>
  parseTokenResponse(body, { url: URL_, now: NOW, ...extra });

/** A b64token (RFC 6750). */
const b64token = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'ABCabz019-._~+/'.split('')), minLength: 1, maxLength: 40 }),
    fc.nat({ max: 2 }),
  )
  .map(([s, pad]) => s + '='.repeat(pad));

/** A character an access token must never hold. */
const forbidden = fc.oneof(
  fc.constantFrom('\r', '\n', ' ', '\t', '\u0000', '\u007f', 'é', '€', '\u2028'),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
);

/** Any string with at least one forbidden character somewhere. */
const badToken = fc
  .tuple(b64token, forbidden, fc.string({ maxLength: 10 }))
  .map(([a, bad, b]) => `${a}${bad}${b}`);

/** A JWT (unsigned parts are enough for `exp`). */
function jwt(exp: number): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ exp, sub: 'x' })}.c2ln`;
}

describe('parseTokenResponse properties', () => {
  it('any JSON value → a Token or InvalidTokenResponseError, nothing else', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          access_token: fc.oneof(b64token, badToken, fc.jsonValue()),
          token_type: fc.oneof(fc.constantFrom('Bearer', 'bearer', 'MAC', 'DPoP'), fc.jsonValue()),
          expires_in: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.nat().map(String), fc.jsonValue()),
          expires_on: fc.oneof(fc.integer(), fc.string(), fc.jsonValue()),
          refresh_token: fc.oneof(b64token, badToken, fc.jsonValue()),
          refresh_expires_in: fc.oneof(fc.integer(), fc.jsonValue()),
          scope: fc.oneof(fc.string(), fc.array(fc.string()), fc.jsonValue()),
          id_token: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(value, (body) => {
        try {
          const t = parse(body);
          assert.ok(ACCESS_TOKEN_PATTERN.test(t.accessToken));
          assert.ok(Number.isFinite(t.expiresAt) && t.expiresAt > NOW);
          assert.ok(t.expiresAt - NOW <= DEFAULT_MAX_LIFETIME_SECONDS * 1000);
          // What a token prints is always one header line.
          assert.ok(!/[\r\n]/.test(authorizationValue(t)));
        } catch (e) {
          if (!(e instanceof InvalidTokenResponseError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a forbidden character in access_token, refresh_token or token_type is always refused, never quoted', () => {
    fc.assert(
      fc.property(badToken, fc.constantFrom('access_token', 'refresh_token', 'token_type'), (bad, field) => {
        // A refresh token may hold an inner space (RFC 6749 VSCHAR): only the other characters count there.
        if (field === 'refresh_token' && /^[ -~]*[!-~][ -~]*$/.test(bad)) return;
        const body: Record<string, unknown> = { access_token: 'good-at', expires_in: 60, [field]: bad };
        try {
          parse(body);
        } catch (e) {
          assert.ok(e instanceof InvalidTokenResponseError);
          if (bad.trim().length >= 4) assert.ok(!e.message.includes(bad), 'the bad value is quoted');
          return;
        }
        assert.fail(`accepted ${JSON.stringify(bad)} in ${field}`);
      }),
      { numRuns: 300 },
    );
  });

  it('every b64token access token is accepted as is', () => {
    fc.assert(
      fc.property(b64token, (at) => {
        assert.equal(parse({ access_token: at, token_type: 'Bearer', expires_in: 60 }).accessToken, at);
      }),
    );
  });

  it('expires_in as a number or a numeric string, expires_on in seconds or milliseconds, and JWT exp agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 * 24 * 3600 }), (life) => {
        const capped = Math.min(life, DEFAULT_MAX_LIFETIME_SECONDS) * 1000;
        const at = NOW + capped;
        const viaNumber = parse({ access_token: 'a', expires_in: life });
        const viaString = parse({ access_token: 'a', expires_in: String(life) });
        const viaSeconds = parse({ access_token: 'a', expires_on: NOW / 1000 + life });
        const viaMillis = parse({ access_token: 'a', expires_on: NOW + life * 1000 });
        const viaJwt = parse({ access_token: jwt(NOW / 1000 + life) });
        for (const t of [viaNumber, viaString, viaSeconds, viaMillis, viaJwt]) assert.equal(t.expiresAt, at);
        assert.deepEqual(
          [viaNumber, viaString, viaSeconds, viaMillis, viaJwt].map((t) => t.expirySource),
          ['expires_in', 'expires_in', 'expires_on', 'expires_on', 'jwt_exp'],
        );
      }),
    );
  });

  it('lifetimes below the floor (default 1 s, or minLifetimeSeconds) are refused, never cached to renew on every call', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: -1e9, max: 0.999, noNaN: true }),
          fc.constantFrom(0, -1, 0.001, '0', '0.5'),
        ),
        (life) => {
          assert.throws(() => parse({ access_token: 'a', expires_in: life }), InvalidTokenResponseError);
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 29 }), (life) => {
        assert.throws(
          () => parse({ access_token: 'a', expires_in: life }, { minLifetimeSeconds: 30 }),
          InvalidTokenResponseError,
        );
        assert.throws(
          () => parse({ access_token: 'a', expires_on: NOW / 1000 + life }, { minLifetimeSeconds: 30 }),
          InvalidTokenResponseError,
        );
        assert.equal(
          parse({ access_token: 'a', expires_in: life + 30 }, { minLifetimeSeconds: 30 }).expirySource,
          'expires_in',
        );
      }),
    );
  });
});
