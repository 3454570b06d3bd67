import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError, InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import type { Profile } from '../../src/profile.js';
import { acronisTokenUrlOf, apiBaseUrl, createClient } from '../../src/providers/acronis.js';
import { createTokenClient } from '../../src/providers/index.js';
import { json, type Loopback, startLoopback } from '../helpers/loopback.js';

const SECRET = 'acronis-secret-4b7e9a0c';
const ctx = { now: () => Date.now() };
let lb: Loopback;
let expiresOn = 0;

const profile = (): Profile => ({
  provider: 'acronis',
  datacenter_url: lb.url,
  client_id: '1b2c3d4e-client',
  client_secret: SECRET,
});
const answer: Parameters<typeof startLoopback>[0] = (_req, res) =>
  json(res, 200, {
    access_token: 'acronis-access-1',
    expires_on: expiresOn,
    id_token: 'acronis-id-token-1',
    token_type: 'bearer',
  });

before(async () => {
  lb = await startLoopback(answer);
});
after(() => lb.close());
beforeEach(() => {
  lb.requests.length = 0;
  lb.handler = answer;
  expiresOn = Math.floor(Date.now() / 1000) + 7200;
});

describe('acronis: URLs', () => {
  it('token URL is {datacenter_url}/api/2/idp/token, or /bc/idp/token with token_path=bc', async () => {
    const dc = 'https://eu8-cloud.acronis.com';
    assert.equal(acronisTokenUrlOf({ datacenter_url: dc }), `${dc}/api/2/idp/token`);
    assert.equal(acronisTokenUrlOf({ datacenter_url: `${dc}/` }), `${dc}/api/2/idp/token`);
    assert.equal(acronisTokenUrlOf({ datacenter_url: dc, token_path: 'bc' }), `${dc}/bc/idp/token`);
    assert.equal(
      acronisTokenUrlOf({ token_url: 'https://x.example/t', datacenter_url: dc }),
      'https://x.example/t',
    );
    await assert.rejects(
      createTokenClient({ ...profile(), token_path: 'v3' as 'bc' }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'token_path' && /expected one of "api2", "bc"/.test(e.message),
    );
    assert.throws(
      () => acronisTokenUrlOf({}),
      (e: unknown) => e instanceof ConfigError && e.key === 'datacenter_url',
    );
  });
  it('api_base_url defaults to datacenter_url', () => {
    assert.equal(
      apiBaseUrl({ datacenter_url: 'https://eu8-cloud.acronis.com' }),
      'https://eu8-cloud.acronis.com',
    );
    assert.equal(
      apiBaseUrl({ datacenter_url: 'https://eu8-cloud.acronis.com', api_base_url: 'https://api.example' }),
      'https://api.example',
    );
  });
});

describe('acronis: client_credentials', () => {
  it('sends Basic base64(client_id:client_secret) and grant_type=client_credentials as a form', async () => {
    const client = await createClient(profile());
    const t = await client.fetchToken(ctx);
    const req = lb.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/api/2/idp/token');
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(
      req.headers.authorization,
      `Basic ${Buffer.from(`1b2c3d4e-client:${SECRET}`).toString('base64')}`,
    );
    assert.equal(req.body, 'grant_type=client_credentials');
    assert.equal(t.accessToken, 'acronis-access-1');
    assert.equal(t.idToken, 'acronis-id-token-1');
    assert.equal(t.tokenType, 'Bearer');
  });
  it('reads expires_on as the absolute expiry', async () => {
    const client = await createClient({ ...profile(), token_path: 'bc' });
    const t = await client.fetchToken(ctx);
    assert.equal(lb.requests[0]!.url, '/bc/idp/token');
    assert.equal(t.expirySource, 'expires_on');
    assert.equal(t.expiresAt, expiresOn * 1000);
  });
  it('an expires_on in the past is refused (a clock problem), not cached', async () => {
    expiresOn = Math.floor(Date.now() / 1000) - 60;
    const client = await createClient(profile());
    await assert.rejects(client.fetchToken(ctx), InvalidTokenResponseError);
  });
  it('a wrong secret is a TokenEndpointError with the vendor error and no secret', async () => {
    lb.handler = (_req, res) =>
      json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    const client = await createClient(profile());
    await assert.rejects(client.fetchToken(ctx), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      const all = JSON.stringify({ m: e.message, s: e.stack, j: e.toJSON() });
      assert.ok(!all.includes(SECRET));
      assert.ok(!all.includes(Buffer.from(`1b2c3d4e-client:${SECRET}`).toString('base64')));
      return true;
    });
  });
  it('requires client_id and client_secret; identity holds no secret', async () => {
    for (const key of ['client_id', 'client_secret'] as const) {
      const p = profile();
      delete p[key];
      await assert.rejects(createClient(p), (e: unknown) => e instanceof ConfigError && e.key === key);
    }
    const c = await createClient(profile());
    assert.deepEqual(
      { ...c.identity },
      {
        provider: 'acronis',
        token_url: `${lb.url}/api/2/idp/token`,
        client_id: '1b2c3d4e-client',
        grant: 'client_credentials',
        scope: undefined,
      },
    );
    assert.ok(!JSON.stringify(c.identity).includes(SECRET));
  });
});
