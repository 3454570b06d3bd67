/**
 * The signed-JWT exchange (Cylance-style): the JWT it signs (`signExchangeJwt`: header, `iat`/`exp`
 * from the signing clock, a fresh `jti` per attempt, verified with jose against the shared secret), the
 * exact request (`{"auth_token": JWT}` as JSON, no client authentication), and how answers map — against
 * a recording loopback token endpoint. The Cylance preset's own claims and hints:
 * `test/providers/cylance.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { ConfigError, InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import {
  type SignedJwtExchangeContext,
  type SignedJwtParams,
  signExchangeJwt,
  signedJwtExchange,
} from '../../src/grants/signed-jwt-exchange.js';
import { secretsInError } from '../e2e/helpers.js';
import { NOW, TOKEN_PATH, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const SECRET = 'jwt-exchange-secret-0a9b8c7d6e';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The signing clock: apart from the token clock {@link NOW}, to tell which one each claim reads. */
const SIGN_NOW = 1_700_000_000_500;
const PARAMS: SignedJwtParams = { secret: SECRET, issuer: 'iss-1', subject: 'app-1', lifetimeSeconds: 120 };

function exchangeContext(extra: Partial<SignedJwtExchangeContext> = {}): SignedJwtExchangeContext {
  return {
    tokenUrl: ep.tokenUrl,
    http: { retries: 0 },
    now: () => NOW,
    signingClock: () => SIGN_NOW,
    ...extra,
  };
}

/** The claims of the JWT a request carried in `field`, verified with the shared secret. */
async function claimsOf(body: string, field = 'auth_token'): Promise<JWTPayload> {
  const jwt = (JSON.parse(body) as Record<string, unknown>)[field];
  assert.equal(typeof jwt, 'string');
  const key = new TextEncoder().encode(SECRET);
  return (await jwtVerify(String(jwt), key, { currentDate: new Date(SIGN_NOW) })).payload;
}

describe('signExchangeJwt', () => {
  it('signs HS256 with iat/exp from the given time and a fresh jti each call', async () => {
    const now = 1_700_000_000_500;
    const p = { secret: SECRET, issuer: 'http://cylance.com', subject: 'app', lifetimeSeconds: 1800 };
    const a = await signExchangeJwt({ ...p, claims: { tid: 't' } }, now);
    const b = await signExchangeJwt(p, now);
    assert.deepEqual(decodeProtectedHeader(a), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(a, new TextEncoder().encode(SECRET), {
      currentDate: new Date(now),
    });
    assert.equal(payload.iat, 1_700_000_000);
    assert.equal(payload.exp, 1_700_000_000 + 1800);
    assert.equal(payload['tid'], 't');
    const jb = (await jwtVerify(b, new TextEncoder().encode(SECRET), { currentDate: new Date(now) })).payload;
    assert.match(String(payload.jti), UUID);
    assert.notEqual(payload.jti, jb.jti);
    await assert.rejects(
      signExchangeJwt({ ...p, lifetimeSeconds: 1801, maxLifetimeSeconds: 1800 }, now),
      (e: unknown) => e instanceof ConfigError && e.key === 'lifetime' && /at most 1800/.test(e.message),
    );
  });

  it('HS384 and HS512 are used as asked; the claims it sets overwrite the same-named extra claims', async () => {
    for (const alg of ['HS384', 'HS512']) {
      const jwt = await signExchangeJwt(
        { ...PARAMS, alg, claims: { iat: 1, exp: 2, jti: 'fixed', iss: 'other', sub: 'other', scp: ['a'] } },
        SIGN_NOW,
      );
      assert.deepEqual(decodeProtectedHeader(jwt), { alg, typ: 'JWT' });
      const c = (
        await jwtVerify(jwt, new TextEncoder().encode(SECRET), {
          currentDate: new Date(SIGN_NOW),
          algorithms: [alg],
        })
      ).payload;
      assert.deepEqual(
        { iat: c.iat, exp: c.exp, iss: c.iss, sub: c.sub, scp: c['scp'] },
        { iat: 1_700_000_000, exp: 1_700_000_120, iss: 'iss-1', sub: 'app-1', scp: ['a'] },
      );
      assert.match(String(c.jti), UUID);
    }
  });

  it('refuses a missing secret, a non-HMAC algorithm and a lifetime below one second, naming the key', async () => {
    const bad: Array<[Partial<SignedJwtParams>, string]> = [
      [{ secret: '' }, 'secret'],
      [{ alg: 'RS256' }, 'signing_alg'],
      [{ alg: 'none' }, 'signing_alg'],
      [{ lifetimeSeconds: 0 }, 'lifetime'],
      [{ lifetimeSeconds: -5 }, 'lifetime'],
      [{ lifetimeSeconds: Number.NaN }, 'lifetime'],
    ];
    for (const [change, key] of bad) {
      await assert.rejects(
        signExchangeJwt({ ...PARAMS, ...change }, SIGN_NOW),
        (e: unknown) => e instanceof ConfigError && e.key === key,
        JSON.stringify(change),
      );
    }
  });
});

describe('signedJwtExchange: the request', () => {
  it('POSTs {"auth_token": JWT} as JSON with charset=utf-8, no Authorization, nothing in the URL', async () => {
    const t = await signedJwtExchange(exchangeContext(), PARAMS);
    assert.equal(ep.requests.length, 1);
    const req = ep.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, TOKEN_PATH);
    assert.equal(req.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(req.headers.accept, 'application/json');
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(Object.keys(JSON.parse(req.body) as object), ['auth_token']);
    assert.ok(!req.body.includes(SECRET));
    const c = await claimsOf(req.body);
    assert.equal(c.iss, 'iss-1');
    assert.equal(c.sub, 'app-1');
    assert.match(String(c.jti), UUID);
    // iat/exp follow the signing clock; the token's times follow the token clock
    assert.equal(c.iat, Math.floor(SIGN_NOW / 1000));
    assert.equal(c.exp, Math.floor(SIGN_NOW / 1000) + 120);
    assert.equal(t.obtainedAt, NOW);
    assert.equal(t.expiresAt, NOW + 3_600_000);
  });

  it('the field, the content type and extra headers are as asked', async () => {
    await signedJwtExchange(exchangeContext(), {
      ...PARAMS,
      field: 'assertion_jwt',
      contentType: 'application/json',
      headers: { 'x-tenant': 'tenant-9' },
    });
    const req = ep.requests[0]!;
    assert.equal(ep.requests.length, 1);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-tenant'], 'tenant-9');
    assert.deepEqual(Object.keys(JSON.parse(req.body) as object), ['assertion_jwt']);
    assert.equal((await claimsOf(req.body, 'assertion_jwt')).sub, 'app-1');
  });

  it('each exchange signs a new JWT (new jti)', async () => {
    await signedJwtExchange(exchangeContext(), PARAMS);
    await signedJwtExchange(exchangeContext(), PARAMS);
    assert.equal(ep.requests.length, 2);
    const jtis = await Promise.all(ep.requests.map(async (r) => (await claimsOf(r.body)).jti));
    assert.equal(new Set(jtis).size, 2);
  });

  it('a retry after 503 signs a new JWT (new jti), so a replay check cannot refuse it', async () => {
    ep.answerEach((n, _req, res) => {
      res.writeHead(n === 1 ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(n === 1 ? { message: 'busy' } : { access_token: 'at-after-retry' }));
    });
    const t = await signedJwtExchange(exchangeContext({ http: { retries: 2, retryBaseMs: 0 } }), PARAMS);
    assert.equal(t.accessToken, 'at-after-retry');
    assert.equal(ep.requests.length, 2);
    const jtis = await Promise.all(ep.requests.map(async (r) => (await claimsOf(r.body)).jti));
    assert.equal(new Set(jtis).size, 2, 'each attempt carries its own jti');
  });

  it('a bad parameter is refused before anything is sent', async () => {
    await assert.rejects(
      signedJwtExchange(exchangeContext(), { ...PARAMS, alg: 'ES256' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'signing_alg',
    );
    assert.equal(ep.requests.length, 0);
  });
});

describe('signedJwtExchange: the answer', () => {
  it('a success has no refresh token; the parse options apply', async () => {
    ep.answer(200, { access_token: 'opaque-at' });
    const t = await signedJwtExchange(exchangeContext({ parse: { defaultLifetimeSeconds: 1800 } }), PARAMS);
    assert.equal(t.accessToken, 'opaque-at');
    assert.equal(t.expirySource, 'default');
    assert.equal(t.expiresAt, NOW + 1_800_000);
    assert.equal(t.refreshToken, undefined);
  });

  it('an error status is a TokenEndpointError with the server error; neither the JWT nor the secret is in it', async () => {
    // The secret signs and is never sent; a server echoing it anyway must not put it in the error.
    ep.answer(401, { error: 'invalid_token', error_description: `signature check failed for ${SECRET}` });
    await assert.rejects(signedJwtExchange(exchangeContext(), PARAMS), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_token');
      assert.match(e.errorDescription ?? '', /^signature check failed for /);
      const jwt = String((JSON.parse(ep.requests[0]!.body) as { auth_token: string }).auth_token);
      assert.deepEqual(secretsInError(e, [SECRET, jwt]), []);
      return true;
    });
    assert.equal(ep.requests.length, 1);
  });

  it('a malformed 200 is an InvalidTokenResponseError', async () => {
    ep.answerRaw(200, '{"accessToken":"wrong-name"}', 'application/json');
    await assert.rejects(
      signedJwtExchange(exchangeContext(), PARAMS),
      (e: unknown) =>
        e instanceof InvalidTokenResponseError && e.status === 200 && /access_token/.test(e.message),
    );
  });
});
