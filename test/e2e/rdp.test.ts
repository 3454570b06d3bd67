/**
 * RDP end to end: the preset, the front door and the manager against the sandbox's RDP emulator.
 * Expiry is reached by moving the clock the sandbox and the managers share (standing still, for a
 * 2-second token); no test waits for real time. Reuse is proven by the sandbox's own counters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import { createAuthFetch } from '../../src/fetch/index.js';
import { createTokenManager } from '../../src/front-door.js';
import { apiBaseUrl, changePassword } from '../../src/providers/rdp.js';
import { DEMO_CREDENTIALS } from '../../src/sandbox/index.js';
import { secretsInError, useVendorWorld } from './helpers.js';

const NEW_PASSWORD = 'Another-sandbox-Password-2025-for-tests';
const w = useVendorWorld('rdp', {
  apiBaseUrl,
  settings: { tokenLifetimeSeconds: undefined, sessionLifetimeSeconds: undefined },
});

describe('rdp end to end', () => {
  it('50 getToken() calls in a row make ONE password grant; 100 concurrent on a cold manager make one', async () => {
    const m = await w.manager('rdp');
    const first = await m.getToken();
    for (let i = 0; i < 49; i++) assert.equal((await m.getToken()).accessToken, first.accessToken);
    assert.deepEqual(w.stats(), { password: 1 });
    assert.equal(first.expiresAt - first.obtainedAt, 300_000, 'expires_in "300" read as 300 s');
    assert.ok(first.refreshToken !== undefined);

    const cold = await w.manager('rdp');
    const all = await Promise.all(Array.from({ length: 100 }, () => cold.getToken()));
    assert.equal(new Set(all.map((t) => t.accessToken)).size, 1);
    assert.deepEqual(w.stats(), { password: 2 });
  });

  it('after expiry ONE refresh grant, not a new password grant; the refresh token rotates', async () => {
    const m = await w.manager('rdp');
    const t1 = await m.getToken();
    w.jumpTo(t1.expiresAt + 1000);
    const t2 = await m.getToken();
    for (let i = 0; i < 20; i++) assert.equal((await m.getToken()).accessToken, t2.accessToken);
    assert.deepEqual(w.stats(), { password: 1, refresh_token: 1 });
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    assert.deepEqual(m.counts, { grants: 1, refreshes: 1, storeHits: 0 });

    // the new token opens the data API; the old one is expired there
    const path = '/data/historical-pricing/v1/views/events/TRI.N?count=3';
    const ok = await w.api(t2, path);
    assert.equal(ok.status, 200);
    const rows = (await ok.json()) as Array<{ data: unknown[] }>;
    assert.equal(rows[0]?.data.length, 3);
    const old = await w.api(t1, path);
    assert.equal(old.status, 401);
    assert.equal(((await old.json()) as { error: { message: string } }).error.message, 'token expired');
  });

  it('a 2-second token (skew 0) is served until its last millisecond, then renewed by ONE refresh grant', async () => {
    w.sandbox.configure('rdp', { tokenLifetimeSeconds: 2 });
    // The clock stands still unless the test moves it: expiry never depends on how fast the machine is.
    w.standStill();
    const m = await w.manager('rdp', { skew_seconds: 0, eager_refresh: 1 });
    const t1 = await m.getToken();
    assert.equal(t1.expiresAt - t1.obtainedAt, 2000);
    for (let i = 0; i < 10; i++) assert.equal((await m.getToken()).accessToken, t1.accessToken);
    w.jumpTo(t1.expiresAt - 1);
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(w.stats(), { password: 1 });
    w.jumpTo(t1.expiresAt);
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(t2.expiresAt - t2.obtainedAt, 2000);
    assert.equal((await m.getToken()).accessToken, t2.accessToken);
    assert.deepEqual(w.stats(), { password: 1, refresh_token: 1 });
    assert.deepEqual(m.counts, { grants: 1, refreshes: 1, storeHits: 0 });
    assert.deepEqual(w.warnings, []);
  });

  it('a shortened refresh answer ends the chain: the next renewal is a password grant, no rejected refresh', async () => {
    w.sandbox.configure('rdp', { tokenLifetimeSeconds: 300, sessionLifetimeSeconds: 700 });
    const m = await w.manager('rdp', { eager_refresh: 1 });
    const t1 = await m.getToken(); // session ends 700 s from now
    w.jumpTo(t1.expiresAt);
    const t2 = await m.getToken(); // 400 s left: a full 300 s token
    assert.equal(t2.expiresAt - t2.obtainedAt, 300_000);
    assert.equal(t2.refreshExpiresAt, undefined);
    w.jumpTo(t2.expiresAt);
    const t3 = await m.getToken(); // about 100 s left: a shorter token, the chain is ending
    assert.ok(t3.expiresAt - t3.obtainedAt < 300_000);
    assert.equal(t3.refreshExpiresAt, t3.obtainedAt);
    assert.deepEqual(w.stats(), { password: 1, refresh_token: 2 });
    w.jumpTo(t3.expiresAt);
    const t4 = await m.getToken();
    assert.equal(t4.expiresAt - t4.obtainedAt, 300_000);
    assert.deepEqual(w.stats(), { password: 2, refresh_token: 2 });
    assert.equal(w.sandbox.stats().rejected.rdp, 0);
    assert.deepEqual(
      w.warnings.map((x) => x.code),
      [],
    );
  });

  it('createAuthFetch: an API 401 for a token the manager thought fresh causes ONE refresh and one retry', async () => {
    const profile = w.profile('rdp');
    // This manager's clock is the real time; the sandbox's will run ahead of it.
    const m = await createTokenManager(profile, { env: {}, onWarning: () => {} });
    try {
      const t1 = await m.getToken();
      const authFetch = createAuthFetch(m, { origins: [apiBaseUrl(profile)] });
      const url = `${apiBaseUrl(profile)}/data/historical-pricing/v1/views/events/VOD.L?count=2`;
      assert.equal((await authFetch(url)).status, 200);
      w.offset = t1.expiresAt - Date.now() + 1000; // the sandbox now sees the token as expired
      const res = await authFetch(url);
      assert.equal(res.status, 200);
      assert.notEqual(m.peek()?.accessToken, t1.accessToken);
      assert.deepEqual(w.stats(), { password: 1, refresh_token: 1 });
      assert.equal(w.sandbox.stats().api.rdp, 2);
      assert.equal(w.sandbox.stats().rejected.rdp, 1, 'the one 401');
    } finally {
      await m.close();
    }
  });

  it('a file store shares the token with a second manager: no second grant', async () => {
    const dir = await w.tempDir();
    const m1 = await w.manager('rdp', { store: 'file', cache_dir: dir });
    const t1 = await m1.getToken();
    const m2 = await w.manager('rdp', { store: 'file', cache_dir: dir });
    const t2 = await m2.getToken();
    assert.equal(t2.accessToken, t1.accessToken);
    assert.equal(t2.refreshToken, t1.refreshToken);
    assert.deepEqual(m2.counts, { grants: 0, refreshes: 0, storeHits: 1 });
    assert.deepEqual(w.stats(), { password: 1 });
    // after expiry, the second manager refreshes with the stored refresh token
    w.jumpTo(t1.expiresAt + 1000);
    await m2.getToken();
    assert.deepEqual(w.stats(), { password: 1, refresh_token: 1 });
  });

  it('the app key in HTTP Basic (client_id_in_basic) works like the body', async () => {
    const m = await w.manager('rdp', { client_id_in_basic: true });
    await m.getToken();
    assert.deepEqual(w.stats(), { password: 1 });
  });

  it('rejections are typed, carry the vendor error, and never the secret', async () => {
    const secrets = [DEMO_CREDENTIALS.rdp.password, 'wrong-password-for-the-test'];
    const bad = await w.manager('rdp', { password: 'wrong-password-for-the-test' });
    const e1 = await bad.getToken().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(e1 instanceof TokenEndpointError);
    assert.equal(e1.code, 'ERR_TOKEN_ENDPOINT');
    assert.equal(e1.status, 400);
    assert.equal(e1.error, 'invalid_grant');
    assert.equal(e1.errorDescription, 'Invalid username or password.');
    assert.deepEqual(secretsInError(e1, secrets), []);

    const badKey = await w.manager('rdp', { client_id: 'not-the-app-key' });
    await assert.rejects(badKey.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.equal(e.errorDescription, 'Invalid Application Credential.');
      assert.deepEqual(secretsInError(e, secrets), []);
      return true;
    });
    assert.equal(w.sandbox.stats().rejected.rdp, 2);
    assert.deepEqual(w.stats(), {});
  });

  it('without exclusive sign-on a second session is refused with a hint', async () => {
    await (await w.manager('rdp')).getToken();
    const second = await w.manager('rdp', { take_exclusive_sign_on: false });
    await assert.rejects(second.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.errorDescription, 'Session quota is reached.');
      assert.match(e.message, /take_exclusive_sign_on = true/);
      return true;
    });
  });

  it('changePassword changes the sandbox password; the old one stops working', async () => {
    const t = await changePassword(w.profile('rdp'), NEW_PASSWORD, { env: {} });
    assert.ok(t.accessToken.length > 0);
    assert.equal(w.sandbox.credentials.rdp.password, NEW_PASSWORD);
    const old = await w.manager('rdp', { password: DEMO_CREDENTIALS.rdp.password });
    await assert.rejects(old.getToken(), (e: unknown) => (e as TokenEndpointError).error === 'invalid_grant');
    const fresh = await w.manager('rdp', { password: NEW_PASSWORD });
    await fresh.getToken();
    assert.deepEqual(w.stats(), { password: 2 });
  });
});
