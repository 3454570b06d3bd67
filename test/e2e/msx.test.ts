/**
 * MSX end to end: the password grant with HTTP Basic, reuse, expiry, the seed's tenant round trip, the
 * switch-tenant and switch-user grants, a refresh-capable security client, and typed rejections —
 * against the sandbox's MSX emulator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import {
  apiBaseUrl,
  MSX_SWITCH_TENANT_GRANT,
  MSX_SWITCH_USER_GRANT,
  switchTenant,
  switchUser,
} from '../../src/providers/msx.js';
import { DEMO_CREDENTIALS } from '../../src/sandbox/index.js';
import { secretsInError, useVendorWorld } from './helpers.js';

const COKE = '133815cb-2335-474d-8c10-3e635aba94fd';
const w = useVendorWorld('msx', { apiBaseUrl });

describe('msx end to end', () => {
  it('50 getToken() calls make ONE password grant; the token runs the seed tenant round trip', async () => {
    const m = await w.manager('msx');
    const t = await m.getToken();
    for (let i = 0; i < 49; i++) assert.equal((await m.getToken()).accessToken, t.accessToken);
    assert.deepEqual(w.stats(), { password: 1 });
    assert.equal(t.expiresAt - t.obtainedAt, 9000_000);
    assert.ok(t.idToken !== undefined);
    assert.equal(t.raw['username'], DEMO_CREDENTIALS.msx.username);

    const name = `my_unique_tenant_name_${crypto.randomUUID()}`;
    const created = await w.api(t, '/idm/api/v8/tenants', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, description: 'e2e', email: 'test@example.com', url: 'https://cisco.com' }),
    });
    assert.equal(created.status, 201);
    const tenant = (await created.json()) as { id: string; name: string };
    const page = (await (await w.api(t, '/idm/api/v8/tenants?page=0&pageSize=100')).json()) as {
      contents: Array<{ id: string; name: string }>;
    };
    assert.ok(page.contents.some((x) => x.id === tenant.id && x.name === name));
    assert.equal((await w.api(t, `/idm/api/v8/tenants/${tenant.id}`, { method: 'DELETE' })).status, 204);
    assert.equal(w.sandbox.stats().api.msx, 3);
    assert.deepEqual(w.stats(), { password: 1 }, 'the API calls reused the token');
  });

  it('after expiry ONE new password grant (the seed client gets no refresh token)', async () => {
    const m = await w.manager('msx');
    const t1 = await m.getToken();
    assert.equal(t1.refreshToken, undefined);
    w.jumpTo(t1.expiresAt + 1000);
    const t2 = await m.getToken();
    await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(w.stats(), { password: 2 });
  });

  it('switchTenant and switchUser turn the current token into another one', async () => {
    const m = await w.manager('msx');
    const current = await m.getToken();
    const coke = await switchTenant(w.profile('msx'), current, COKE, { env: {} });
    assert.equal(coke.raw['tenantId'], COKE);
    assert.notEqual(coke.accessToken, current.accessToken);
    const op = await switchUser(w.profile('msx'), current, { username: 'operator' }, { env: {} });
    assert.equal(op.raw['username'], 'operator');
    // the operator is not a super user: creating a tenant is forbidden with its token
    const denied = await w.api(op, '/idm/api/v8/tenants', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nope' }),
    });
    assert.equal(denied.status, 403);
    assert.deepEqual(w.stats(), { password: 1, [MSX_SWITCH_TENANT_GRANT]: 1, [MSX_SWITCH_USER_GRANT]: 1 });
    // the manager's own token is untouched
    assert.equal((await m.getToken()).accessToken, current.accessToken);
  });

  it('a profile tenant_id signs in to that tenant directly', async () => {
    const m = await w.manager('msx', { tenant_id: COKE });
    const t = await m.getToken();
    assert.equal(t.raw['tenantId'], COKE);
    assert.equal(m.identity['tenant_id'], COKE);
  });

  it('a security client registered with refresh_token gets refreshed, not re-authenticated', async () => {
    const admin = await (await w.manager('msx')).getToken();
    const reg = await w.api(admin, '/idm/api/v2/clientsecurity', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId: 'e2e-refresh-client',
        clientSecret: 'e2e-refresh-client-secret-77aa',
        grantTypes: ['password', 'refresh_token'],
        scopes: ['read', 'write'],
        accessTokenValiditySeconds: 600,
        refreshTokenValiditySeconds: 18000,
      }),
    });
    assert.equal(reg.status, 201);
    const m = await w.manager('msx', {
      client_id: 'e2e-refresh-client',
      client_secret: 'e2e-refresh-client-secret-77aa',
    });
    const t1 = await m.getToken();
    assert.ok(t1.refreshToken !== undefined);
    assert.equal(t1.expiresAt - t1.obtainedAt, 600_000);
    w.jumpTo(t1.expiresAt + 1000);
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(t2.refreshToken, t1.refreshToken, 'MSX (Spring) reuses the refresh token');
    assert.deepEqual(w.stats(), { password: 2, refresh_token: 1 });
  });

  it('a wrong client secret and a wrong password are typed rejections with the vendor error', async () => {
    const wrongSecret = 'wrong-msx-client-secret-1234';
    const a = await w.manager('msx', { client_secret: wrongSecret });
    await assert.rejects(a.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.equal(e.errorDescription, 'Bad client credentials');
      assert.deepEqual(secretsInError(e, [wrongSecret, DEMO_CREDENTIALS.msx.password]), []);
      return true;
    });
    const wrongPassword = 'Wrong-msx-password-5678';
    const b = await w.manager('msx', { password: wrongPassword });
    await assert.rejects(b.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 400);
      assert.equal(e.error, 'invalid_grant');
      assert.equal(e.errorDescription, 'Bad credentials');
      assert.deepEqual(secretsInError(e, [wrongPassword]), []);
      return true;
    });
    assert.equal(w.sandbox.stats().rejected.msx, 2);
    assert.deepEqual(w.stats(), {});
  });
});
