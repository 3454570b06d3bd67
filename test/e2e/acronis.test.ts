/**
 * Acronis end to end: client_credentials with HTTP Basic on both token paths, `expires_on` expiry,
 * reuse (also across managers through a file store), the seed's API call, and typed rejections —
 * against the sandbox's Acronis emulator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import { apiBaseUrl } from '../../src/providers/acronis.js';
import { DEMO_CREDENTIALS } from '../../src/sandbox/index.js';
import type { Token } from '../../src/token.js';
import { secretsInError, useVendorWorld } from './helpers.js';

const w = useVendorWorld('acronis', { apiBaseUrl, settings: { tokenLifetimeSeconds: undefined } });
const getClient = (t: Token) => w.api(t, `/api/2/clients/${DEMO_CREDENTIALS.acronis.clientId}`);

describe('acronis end to end', () => {
  it('50 getToken() calls make ONE client_credentials grant; expires_on and id_token are read', async () => {
    const m = await w.manager('acronis');
    const t = await m.getToken();
    for (let i = 0; i < 49; i++) assert.equal((await m.getToken()).accessToken, t.accessToken);
    assert.deepEqual(w.stats(), { client_credentials: 1 });
    assert.equal(t.expirySource, 'expires_on');
    assert.equal(t.expiresAt, (t.raw['expires_on'] as number) * 1000);
    assert.ok(t.idToken !== undefined && t.idToken.split('.').length === 3);
    const res = await getClient(t);
    assert.equal(res.status, 200);
    assert.equal(w.sandbox.stats().api.acronis, 1);
  });

  it('the older /bc/idp/token path works the same', async () => {
    const m = await w.manager('acronis', { token_path: 'bc' });
    const t = await m.getToken();
    assert.equal(m.identity['token_url'], `${w.sandbox.url}/bc/idp/token`);
    assert.equal((await getClient(t)).status, 200);
    assert.deepEqual(w.stats(), { client_credentials: 1 });
  });

  it('after expires_on, ONE new grant; the old token gets 401 from the API', async () => {
    const m = await w.manager('acronis');
    const t1 = await m.getToken();
    w.jumpTo(t1.expiresAt + 1000);
    const t2 = await m.getToken();
    for (let i = 0; i < 10; i++) await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(w.stats(), { client_credentials: 2 });
    assert.equal((await getClient(t1)).status, 401);
    assert.equal((await getClient(t2)).status, 200);
  });

  it('a 2-second token (skew 0) is served until its last millisecond and replaced at its expiry', async () => {
    w.sandbox.configure('acronis', { tokenLifetimeSeconds: 2 });
    // The clock stands still unless the test moves it: expiry never depends on how fast the machine is.
    w.standStill();
    const m = await w.manager('acronis', { skew_seconds: 0, eager_refresh: 1 });
    const t1 = await m.getToken();
    assert.equal(t1.expirySource, 'expires_on');
    assert.ok(
      t1.expiresAt - t1.obtainedAt > 1000 && t1.expiresAt - t1.obtainedAt <= 2000,
      'a 2-second token',
    );
    w.jumpTo(t1.expiresAt - 1);
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(w.stats(), { client_credentials: 1 });
    w.jumpTo(t1.expiresAt);
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal((await m.getToken()).accessToken, t2.accessToken);
    assert.deepEqual(w.stats(), { client_credentials: 2 });
    assert.deepEqual(m.counts, { grants: 2, refreshes: 0, storeHits: 0 });
    assert.deepEqual(w.warnings, []);
  });

  it('a file store shares the token between managers', async () => {
    const dir = await w.tempDir();
    const t1 = await (await w.manager('acronis', { store: 'file', cache_dir: dir })).getToken();
    const m2 = await w.manager('acronis', { store: 'file', cache_dir: dir });
    const t2 = await m2.getToken();
    assert.equal(t2.accessToken, t1.accessToken);
    assert.equal(t2.idToken, t1.idToken);
    assert.equal(t2.expiresAt, t1.expiresAt);
    assert.deepEqual(m2.counts, { grants: 0, refreshes: 0, storeHits: 1 });
    assert.deepEqual(w.stats(), { client_credentials: 1 });
  });

  it('a wrong secret is a typed 401 invalid_client without the secret', async () => {
    const wrong = 'wrong-acronis-secret-9f8e7d';
    const m = await w.manager('acronis', { client_secret: wrong });
    await assert.rejects(m.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.equal(e.errorDescription, 'Client authentication failed');
      assert.deepEqual(secretsInError(e, [wrong, DEMO_CREDENTIALS.acronis.clientSecret]), []);
      return true;
    });
    assert.equal(w.sandbox.stats().rejected.acronis, 1);
    assert.deepEqual(w.stats(), {});
  });
});
