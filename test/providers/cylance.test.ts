import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { HttpExchange } from '../../src/http/types.js';
import type { Profile } from '../../src/profile.js';
import {
  apiBaseUrl,
  authTokenLifetime,
  CYLANCE_DEFAULT_ISSUER,
  createClient,
  cylanceClaims,
  cylanceScopes,
  cylanceTokenUrl,
} from '../../src/providers/cylance.js';
import { createTokenClient } from '../../src/providers/index.js';
import { json, type Loopback, raw, startLoopback } from '../helpers/loopback.js';

const SECRET = 'cy-app-secret-6d1f0c2e9b';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ctx = { now: () => Date.now() };

let lb: Loopback;
const base = (): Profile => ({
  provider: 'cylance',
  token_url: `${lb.url}/auth/v2/token`,
  app_id: 'app-1234',
  app_secret: SECRET,
  tenant_id: 'tenant-5678',
});

before(async () => {
  lb = await startLoopback((_req, res) => json(res, 200, { access_token: 'opaque-cylance-access' }));
});
after(() => lb.close());
beforeEach(() => {
  lb.requests.length = 0;
  lb.handler = (_req, res) => json(res, 200, { access_token: 'opaque-cylance-access' });
});

describe('cylance: regions and URLs', () => {
  it('maps every documented region to its host', () => {
    const host = (r?: string) => new URL(cylanceTokenUrl(r)).host;
    assert.equal(cylanceTokenUrl(), 'https://protectapi.cylance.com/auth/v2/token');
    assert.equal(host('us'), 'protectapi.cylance.com');
    assert.equal(host('NA'), 'protectapi.cylance.com');
    assert.equal(host('us-gov'), 'protectapi.us.cylance.com');
    assert.equal(host('apne1'), 'protectapi-apne1.cylance.com');
    assert.equal(host('au'), 'protectapi-au.cylance.com');
    assert.equal(host('-euc1'), 'protectapi-euc1.cylance.com');
    assert.equal(host('sae1'), 'protectapi-sae1.cylance.com');
  });
  it('refuses an unknown region with a ConfigError on key region', () => {
    assert.throws(
      () => cylanceTokenUrl('mars1'),
      (e: unknown) => e instanceof ConfigError && e.key === 'region' && /euc1/.test(e.message),
    );
  });
  it('api_base_url defaults to the region origin; token_url and api_base_url override', () => {
    assert.equal(apiBaseUrl({ region: 'euc1' }), 'https://protectapi-euc1.cylance.com');
    assert.equal(apiBaseUrl({}), 'https://protectapi.cylance.com');
    assert.equal(apiBaseUrl({ token_url: 'http://127.0.0.1:9/auth/v2/token' }), 'http://127.0.0.1:9');
    assert.equal(apiBaseUrl({ region: 'au', api_base_url: 'https://x.example' }), 'https://x.example');
  });
});

describe('cylance: claims', () => {
  it('scp is a JSON list by default and a comma-separated string with scp_format=string', () => {
    const scopes = ['policy:list', 'policy:read'];
    assert.deepEqual(cylanceClaims({ app_id: 'a', tenant_id: 't', scopes }), {
      tid: 't',
      scp: ['policy:list', 'policy:read'],
    });
    assert.deepEqual(cylanceClaims({ app_id: 'a', tenant_id: 't', scopes, scp_format: 'string' }), {
      tid: 't',
      scp: 'policy:list,policy:read',
    });
    assert.deepEqual(cylanceClaims({ app_id: 'a', tenant_id: 't' }), { tid: 't' });
  });
  it('scopes are read from a list, a comma-separated string, or the generic scope key', () => {
    assert.deepEqual(cylanceScopes({ scopes: ['a:b', ' c:d '] }), ['a:b', 'c:d']);
    assert.deepEqual(cylanceScopes({ scopes: 'a:b,c:d' as unknown as string[] }), ['a:b', 'c:d']);
    assert.deepEqual(cylanceScopes({ scope: 'a:b c:d' }), ['a:b', 'c:d']);
    assert.equal(cylanceScopes({ scopes: [] }), undefined);
  });
  it('auth_token_lifetime defaults to 1800 and never exceeds it', async () => {
    assert.equal(authTokenLifetime({}), 1800);
    assert.equal(authTokenLifetime({ auth_token_lifetime: 600 }), 600);
    assert.equal(authTokenLifetime({ auth_token_lifetime: 1.5 }), 1);
    // The schema's range is what the client needs: whole seconds from 1 (0.5 would floor to 0).
    for (const bad of [0, 0.5, 1801, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(
        createTokenClient({ ...base(), auth_token_lifetime: bad }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.key === 'auth_token_lifetime' &&
          /from 1 to 1800|expected a number/.test(e.message),
        String(bad),
      );
    }
  });
});

describe('cylance: the token request', () => {
  it('POSTs {"auth_token": JWT} as JSON with charset=utf-8 and the seed claims', async () => {
    const client = await createClient({ ...base(), scopes: ['policy:list', 'policy:read'] });
    const before = Math.floor(Date.now() / 1000);
    const t = await client.fetchToken(ctx);
    assert.equal(t.accessToken, 'opaque-cylance-access');
    assert.equal(lb.requests.length, 1);
    const req = lb.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/auth/v2/token');
    assert.equal(req.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(req.headers.authorization, undefined);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['auth_token']);
    const jwt = String(body['auth_token']);
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET));
    assert.equal(payload.iss, CYLANCE_DEFAULT_ISSUER);
    assert.equal(payload.sub, 'app-1234');
    assert.equal(payload['tid'], 'tenant-5678');
    assert.deepEqual(payload['scp'], ['policy:list', 'policy:read']);
    assert.match(String(payload.jti), UUID);
    assert.ok(payload.iat! >= before && payload.iat! <= before + 2);
    assert.equal(payload.exp! - payload.iat!, 1800);
  });

  it('signs a new auth token per request (new jti), with the configured lifetime, issuer and scp string', async () => {
    const client = await createClient({
      ...base(),
      auth_token_lifetime: 120,
      issuer_claim: 'http://cylance.example',
      scopes: ['device:list'],
      scp_format: 'string',
    });
    await client.fetchToken(ctx);
    await client.fetchToken(ctx);
    const claims = await Promise.all(
      lb.requests.map(
        async (r) =>
          (
            await jwtVerify(
              String((JSON.parse(r.body) as { auth_token: string }).auth_token),
              new TextEncoder().encode(SECRET),
            )
          ).payload,
      ),
    );
    assert.equal(claims.length, 2);
    assert.notEqual(claims[0]!.jti, claims[1]!.jti);
    for (const c of claims) {
      assert.equal(c.exp! - c.iat!, 120);
      assert.equal(c.iss, 'http://cylance.example');
      assert.equal(c['scp'], 'device:list');
    }
  });

  it('an opaque answer lives the documented 1800 s; a JWT answer lives until its exp', async () => {
    const client = await createClient(base());
    const t0 = Date.now();
    const t = await client.fetchToken({ now: () => t0 });
    assert.equal(t.expirySource, 'default');
    assert.equal(t.expiresAt - t.obtainedAt, 1800 * 1000);
    assert.equal(t.refreshToken, undefined);
    const exp = Math.floor(t0 / 1000) + 900;
    const at = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode('server-side-key-0123456789'));
    lb.handler = (_req, res) => json(res, 200, { access_token: at });
    const t2 = await client.fetchToken({ now: () => t0 });
    assert.equal(t2.expirySource, 'jwt_exp');
    assert.equal(t2.expiresAt, exp * 1000);
    // default_lifetime in the profile wins over the vendor default
    const c3 = await createClient({ ...base(), default_lifetime: 60 });
    lb.handler = (_req, res) => json(res, 200, { access_token: 'opaque-2' });
    const t3 = await c3.fetchToken({ now: () => t0 });
    assert.equal(t3.expiresAt - t3.obtainedAt, 60_000);
  });

  it('a 401 with an empty body is a TokenEndpointError in Cylance terms, with no secret in it', async () => {
    lb.handler = (_req, res) => raw(res, 401, '');
    const client = await createClient(base());
    const err = await client.fetchToken(ctx).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TokenEndpointError);
    assert.equal(err.code, 'ERR_TOKEN_ENDPOINT');
    assert.equal(err.status, 401);
    assert.match(err.message, /app_id, app_secret and tenant_id/);
    const sent = String((JSON.parse(lb.requests[0]!.body) as { auth_token: string }).auth_token);
    const all = JSON.stringify({ m: err.message, s: err.stack, j: err.toJSON() });
    assert.ok(!all.includes(SECRET));
    assert.ok(!all.includes(sent));
  });

  it('a 403 carries the vendor error and a scope hint', async () => {
    lb.handler = (_req, res) => json(res, 403, { message: 'scope not granted' });
    const client = await createClient(base());
    await assert.rejects(client.fetchToken(ctx), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 403);
      assert.equal(e.errorDescription, 'scope not granted');
      assert.match(e.message, /scope/);
      return true;
    });
  });

  it('the debug trace shows the auth token redacted', async () => {
    const seen: HttpExchange[] = [];
    const client = await createClient(base(), { onExchange: (x) => seen.push(x) });
    await client.fetchToken(ctx);
    assert.equal(seen.length, 1);
    assert.match(seen[0]!.requestBody ?? '', /"auth_token":"\[REDACTED\]"/);
    assert.ok(!(seen[0]!.responseBody ?? '').includes('opaque-cylance-access'));
  });
});

describe('cylance: profile checks and identity', () => {
  it('names the missing key', async () => {
    for (const key of ['app_id', 'app_secret', 'tenant_id'] as const) {
      const p = base();
      delete p[key];
      await assert.rejects(createClient(p), (e: unknown) => e instanceof ConfigError && e.key === key);
    }
    await assert.rejects(
      createTokenClient({ ...base(), scp_format: 'csv' as 'string' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'scp_format' &&
        /expected one of "list", "string"/.test(e.message),
    );
    await assert.rejects(
      createClient({ ...base(), token_url: 'http://cylance.example/auth/v2/token' }),
      (e: unknown) => (e as { code?: string }).code === 'ERR_INSECURE_ENDPOINT',
    );
  });
  it('identity covers endpoint, app, tenant and scopes, and holds no secret', async () => {
    const a = await createClient({ ...base(), scopes: ['x:y'] });
    assert.deepEqual(
      { ...a.identity },
      {
        provider: 'cylance',
        token_url: `${lb.url}/auth/v2/token`,
        app_id: 'app-1234',
        tenant_id: 'tenant-5678',
        issuer_claim: CYLANCE_DEFAULT_ISSUER,
        scopes: 'x:y',
      },
    );
    assert.ok(!JSON.stringify(a.identity).includes(SECRET));
    const { token_url: _, ...noTokenUrl } = base();
    const b = await createClient({ ...noTokenUrl, region: 'euc1' });
    assert.equal(b.identity['token_url'], 'https://protectapi-euc1.cylance.com/auth/v2/token');
    assert.equal(a.refresh, undefined);
  });
  it('through createTokenManager: the second getToken() is served from memory', async () => {
    const m = await createTokenManager({ ...base(), store: 'memory' });
    try {
      const t1 = await m.getToken();
      const t2 = await m.getToken();
      assert.equal(t1.accessToken, t2.accessToken);
      assert.equal(lb.requests.length, 1);
      assert.deepEqual(m.counts, { grants: 1, refreshes: 0, storeHits: 0 });
    } finally {
      await m.close();
    }
  });
});
