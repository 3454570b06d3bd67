import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import type { Profile } from '../../src/profile.js';
import {
  apiBaseUrl,
  createClient,
  MSX_SWITCH_TENANT_GRANT,
  MSX_SWITCH_USER_GRANT,
  msxTokenUrlOf,
  switchTenant,
  switchUser,
} from '../../src/providers/msx.js';
import { json, type Loopback, type SeenRequest, startLoopback } from '../helpers/loopback.js';

const CLIENT_SECRET = 'msx-client-secret-8c1d3f';
const PASSWORD = 'FrmedealY((!1[ps=wCBwG!E[%|]Ob7=';
const ctx = { now: () => Date.now() };

let lb: Loopback;
let n = 0;
const profile = (): Profile => ({
  provider: 'msx',
  base_url: lb.url,
  client_id: 'my-test-private-client',
  client_secret: CLIENT_SECRET,
  username: 'superuser',
  password: PASSWORD,
});
const form = (r: SeenRequest) => Object.fromEntries(new URLSearchParams(r.body));
const answer: Parameters<typeof startLoopback>[0] = (_req, res) => {
  n++;
  json(res, 200, {
    access_token: `msx-at-${n}`,
    token_type: 'bearer',
    expires_in: 9000,
    scope: 'read write',
    id_token: `msx-id-${n}`,
    tenantId: 't-1',
    username: 'superuser',
  });
};

before(async () => {
  lb = await startLoopback(answer);
});
after(() => lb.close());
beforeEach(() => {
  lb.requests.length = 0;
  lb.handler = answer;
});

describe('msx: URLs', () => {
  it('token URL is {base_url}/idm/v2/token, keeping a path prefix; token_url overrides', () => {
    assert.equal(msxTokenUrlOf({ base_url: 'https://msx.example' }), 'https://msx.example/idm/v2/token');
    assert.equal(msxTokenUrlOf({ base_url: 'https://msx.example/' }), 'https://msx.example/idm/v2/token');
    assert.equal(msxTokenUrlOf({ base_url: 'https://h.example/msx/' }), 'https://h.example/msx/idm/v2/token');
    assert.equal(
      msxTokenUrlOf({ base_url: 'https://msx.example', token_url: 'https://idm.example/t' }),
      'https://idm.example/t',
    );
    assert.throws(
      () => msxTokenUrlOf({}),
      (e: unknown) => e instanceof ConfigError && e.key === 'base_url',
    );
  });
  it('api_base_url defaults to base_url', () => {
    assert.equal(apiBaseUrl({ base_url: 'https://msx.example' }), 'https://msx.example');
    assert.equal(
      apiBaseUrl({ base_url: 'https://msx.example', api_base_url: 'https://api.example' }),
      'https://api.example',
    );
  });
});

describe('msx: password grant', () => {
  it('sends Basic base64(client_id:client_secret) as the seed does, and the password form', async () => {
    const client = await createClient(profile());
    const t = await client.fetchToken(ctx);
    const req = lb.requests[0]!;
    assert.equal(req.url, '/idm/v2/token');
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(
      req.headers.authorization,
      `Basic ${Buffer.from(`my-test-private-client:${CLIENT_SECRET}`).toString('base64')}`,
    );
    assert.deepEqual(form(req), { grant_type: 'password', username: 'superuser', password: PASSWORD });
    assert.equal(t.accessToken, 'msx-at-1');
    assert.equal(t.idToken, 'msx-id-1');
    assert.equal(t.scope, 'read write');
    assert.equal(t.expiresAt - t.obtainedAt, 9000 * 1000);
    assert.equal(t.raw['tenantId'], 't-1');
  });
  it('adds tenant_id and scope when the profile has them', async () => {
    const client = await createClient({ ...profile(), tenant_id: 'tenant-a', scope: ['read', 'write'] });
    await client.fetchToken(ctx);
    assert.deepEqual(form(lb.requests[0]!), {
      grant_type: 'password',
      username: 'superuser',
      password: PASSWORD,
      scope: 'read write',
      tenant_id: 'tenant-a',
    });
    assert.equal(client.identity['tenant_id'], 'tenant-a');
  });
  it('a refused login is a TokenEndpointError with the vendor error, without the password', async () => {
    lb.handler = (_req, res) =>
      json(res, 400, { error: 'invalid_grant', error_description: 'Bad credentials' });
    const client = await createClient(profile());
    await assert.rejects(client.fetchToken(ctx), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.error, 'invalid_grant');
      assert.equal(e.errorDescription, 'Bad credentials');
      const all = JSON.stringify({ m: e.message, s: e.stack });
      assert.ok(!all.includes(PASSWORD) && !all.includes(CLIENT_SECRET));
      return true;
    });
  });
  it('refreshes with the standard grant when a refresh token came back', async () => {
    const client = await createClient(profile());
    lb.handler = (_req, res) =>
      json(res, 200, { access_token: 'msx-new', token_type: 'bearer', expires_in: 9000 });
    const prev = {
      accessToken: 'msx-old',
      tokenType: 'Bearer',
      expiresAt: Date.now(),
      obtainedAt: Date.now() - 9000,
      expirySource: 'expires_in' as const,
      refreshToken: 'msx-refresh-0a9b8c',
      raw: {},
    };
    const t = await client.refresh!(prev, ctx);
    assert.deepEqual(form(lb.requests[0]!), {
      grant_type: 'refresh_token',
      refresh_token: 'msx-refresh-0a9b8c',
    });
    assert.ok(lb.requests[0]!.headers.authorization?.startsWith('Basic '));
    assert.equal(t.refreshToken, 'msx-refresh-0a9b8c', 'the old refresh token is kept when none comes back');
  });
  it('requires client_secret (MSX always uses Basic) and the user credentials', async () => {
    for (const key of ['client_id', 'client_secret', 'username', 'password'] as const) {
      const p = profile();
      delete p[key];
      await assert.rejects(createClient(p), (e: unknown) => e instanceof ConfigError && e.key === key);
    }
  });
  it('identity covers endpoint, client, user, tenant and scope, and holds no secret', async () => {
    const c = await createClient({ ...profile(), scope: 'read' });
    assert.deepEqual(
      { ...c.identity },
      {
        provider: 'msx',
        token_url: `${lb.url}/idm/v2/token`,
        client_id: 'my-test-private-client',
        grant: 'password',
        username: 'superuser',
        tenant_id: undefined,
        scope: 'read',
      },
    );
    const s = JSON.stringify(c.identity);
    assert.ok(!s.includes(PASSWORD) && !s.includes(CLIENT_SECRET));
  });
});

describe('msx: switch grants', () => {
  it('switchTenant sends the current access token and tenant_id with Basic, and returns the new token', async () => {
    const client = await createClient(profile());
    const current = await client.fetchToken(ctx);
    const t = await switchTenant(client, current, 'tenant-b');
    const req = lb.requests[1]!;
    assert.deepEqual(form(req), {
      grant_type: MSX_SWITCH_TENANT_GRANT,
      access_token: 'msx-at-' + String(n - 1),
      tenant_id: 'tenant-b',
    });
    assert.equal(MSX_SWITCH_TENANT_GRANT, 'urn:cisco:nfv:oauth:grant-type:switch-tenant');
    assert.equal(req.headers.authorization, lb.requests[0]!.headers.authorization);
    assert.equal(t.accessToken, `msx-at-${n}`);
  });
  it('switchTenant from a profile resolves its secret references', async () => {
    const p = { ...profile(), client_secret: 'env:MSX_TEST_SECRET' };
    const t = await switchTenant(p, 'current-access-token-xyz', 'tenant-c', {
      env: { MSX_TEST_SECRET: CLIENT_SECRET },
    });
    const req = lb.requests[0]!;
    assert.equal(
      req.headers.authorization,
      `Basic ${Buffer.from(`my-test-private-client:${CLIENT_SECRET}`).toString('base64')}`,
    );
    assert.equal(form(req)['access_token'], 'current-access-token-xyz');
    assert.equal(t.accessToken, `msx-at-${n}`);
  });
  it('switchUser sends switch_username or switch_user_id, and an optional tenant_id', async () => {
    const client = await createClient(profile());
    await switchUser(client, 'at-cur-1', { username: 'alice' });
    await switchUser(client, 'at-cur-2', { userId: 'u-42', tenantId: 'tenant-d' });
    assert.deepEqual(form(lb.requests[0]!), {
      grant_type: MSX_SWITCH_USER_GRANT,
      access_token: 'at-cur-1',
      switch_username: 'alice',
    });
    assert.deepEqual(form(lb.requests[1]!), {
      grant_type: 'urn:cisco:nfv:oauth:grant-type:switch-user',
      access_token: 'at-cur-2',
      switch_user_id: 'u-42',
      tenant_id: 'tenant-d',
    });
  });
  it('refuses ambiguous or empty switch targets before sending anything', async () => {
    const client = await createClient(profile());
    await assert.rejects(switchUser(client, 'at', {}), ConfigError);
    await assert.rejects(switchUser(client, 'at', { username: 'a', userId: 'b' }), ConfigError);
    await assert.rejects(switchTenant(client, 'at', ''), ConfigError);
    await assert.rejects(switchTenant(client, '', 'tenant'), ConfigError);
    assert.equal(lb.requests.length, 0);
  });
  it('a refused switch is a TokenEndpointError without the access token in it', async () => {
    lb.handler = (_req, res) =>
      json(res, 401, { error: 'invalid_token', error_description: 'Token has expired' });
    const client = await createClient(profile());
    const at = 'expired-access-token-3f2e1d';
    await assert.rejects(switchTenant(client, at, 'tenant-b'), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_token');
      assert.ok(!JSON.stringify({ m: e.message, s: e.stack }).includes(at));
      return true;
    });
  });
});
