/**
 * Cylance end to end: a new signed auth token per grant, reuse of the access token, expiry, scopes in
 * both `scp` formats, and typed rejections — against the sandbox's Cylance emulator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import { apiBaseUrl } from '../../src/providers/cylance.js';
import { DEMO_CREDENTIALS } from '../../src/sandbox/index.js';
import type { Token } from '../../src/token.js';
import { secretsInError, useVendorWorld } from './helpers.js';

const w = useVendorWorld('cylance', { apiBaseUrl, settings: { tokenLifetimeSeconds: undefined } });
const devices = (t: Token) => w.api(t, '/devices/v2?page=1&page_size=5');

describe('cylance end to end', () => {
  it('50 getToken() calls make ONE auth-token exchange; the token lists devices', async () => {
    const m = await w.manager('cylance');
    const first = await m.getToken();
    for (let i = 0; i < 49; i++) assert.equal((await m.getToken()).accessToken, first.accessToken);
    assert.deepEqual(w.stats(), { jwt: 1 });
    assert.equal(first.expirySource, 'jwt_exp', 'the sandbox access token is a JWT with exp');
    assert.equal(first.expiresAt - first.obtainedAt <= 1800_000, true);
    assert.equal(first.refreshToken, undefined);
    const res = await devices(first);
    assert.equal(res.status, 200);
    const page = (await res.json()) as { page_items: unknown[]; total_number_of_items: number };
    assert.equal(page.page_items.length, 5);
    assert.equal(w.sandbox.stats().api.cylance, 1);
  });

  it('after expiry, ONE new exchange with a new auth token (no replayed jti)', async () => {
    w.sandbox.configure('cylance', { tokenLifetimeSeconds: 60 });
    const m = await w.manager('cylance');
    const t1 = await m.getToken();
    assert.equal(t1.expiresAt - t1.obtainedAt <= 60_000, true);
    w.jumpTo(t1.expiresAt + 1000);
    const t2 = await m.getToken();
    for (let i = 0; i < 10; i++) await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(w.stats(), { jwt: 2 });
    assert.equal(w.sandbox.stats().rejected.cylance, 0, 'the second auth token was accepted (fresh jti)');
    assert.equal((await devices(t1)).status, 401);
    assert.equal((await devices(t2)).status, 200);
  });

  it('scopes travel in scp as a list or as one comma-separated string', async () => {
    for (const scp_format of ['list', 'string'] as const) {
      const m = await w.manager('cylance', { scopes: ['device:list', 'device:read'], scp_format });
      const t = await m.getToken();
      assert.equal((await devices(t)).status, 200, scp_format);
    }
    // a token restricted to policy scopes may not list devices
    const p = await w.manager('cylance', { scopes: ['policy:list'] });
    assert.equal((await devices(await p.getToken())).status, 403);
    assert.deepEqual(w.stats(), { jwt: 3 });
  });

  it('a scope the application lacks is a 403 TokenEndpointError', async () => {
    const m = await w.manager('cylance', { scopes: ['tenant:destroy'] });
    await assert.rejects(m.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 403);
      assert.match(e.errorDescription ?? '', /scope not granted/);
      return true;
    });
  });

  it('a wrong secret is a typed 401 in Cylance terms, with no secret in it', async () => {
    const wrong = 'not-the-cylance-app-secret-0000';
    const m = await w.manager('cylance', { app_secret: wrong });
    const err = await m.getToken().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TokenEndpointError);
    assert.equal(err.code, 'ERR_TOKEN_ENDPOINT');
    assert.equal(err.status, 401);
    assert.match(err.message, /check app_id, app_secret and tenant_id/);
    const text = JSON.stringify({ m: err.message, s: err.stack, j: err.toJSON() });
    assert.deepEqual(secretsInError(err, [wrong, DEMO_CREDENTIALS.cylance.appSecret]), []);
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'no JWT (the auth token) in the error');
    assert.equal(w.sandbox.stats().rejected.cylance, 1);
    assert.deepEqual(w.stats(), {});
  });

  it('a wrong tenant is refused too', async () => {
    const m = await w.manager('cylance', { tenant_id: 'another-tenant' });
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof TokenEndpointError && e.status === 401);
  });
});
