/**
 * The device flow through `login()` against a scripted loopback server (discovery, device authorization
 * and token endpoints): `slow_down` and `authorization_pending` on the way to a stored token, and each
 * way it ends without one — `access_denied`, `expired_token` from the server, the code's lifetime run out
 * by the clock — typed, with a clear message, and nothing stored. `device: true` (`login --device`)
 * takes the device flow for a profile whose grant is `authorization_code`. The sleep and the clock are
 * injected: no real waits.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { clearDiscoveryCache } from '../../src/discovery.js';
import { AuthorizationError, login, type Profile } from '../../src/index.js';
import type { DeviceCodeInfo } from '../../src/signin/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';

const T0 = 1_800_000_000_000;

describe('device flow through login(): the good path and the bad ones, nothing stored', () => {
  let as: Loopback;
  /** The token endpoint's answers, in order (the last one repeats). */
  let answers: { status: number; body: Record<string, unknown> }[] = [];
  before(async () => {
    as = await startLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(
          JSON.stringify({
            issuer: as.url,
            authorization_endpoint: `${as.url}/authorize`,
            device_authorization_endpoint: `${as.url}/device`,
            token_endpoint: `${as.url}/token`,
          }),
        );
      } else if (req.url === '/device') {
        res.end(
          JSON.stringify({
            device_code: 'dc-1',
            user_code: 'BCDF-GHJK',
            verification_uri: `${as.url}/verify`,
            expires_in: 30,
            interval: 5,
          }),
        );
      } else {
        const a = answers.length > 1 ? answers.shift() : answers[0];
        res.statusCode = a?.status ?? 500;
        res.end(JSON.stringify(a?.body ?? {}));
      }
    });
  });
  after(() => as.close());
  afterEach(() => {
    clearDiscoveryCache();
    as.requests.length = 0;
  });

  const pending = { status: 400, body: { error: 'authorization_pending' } };
  const slowDown = { status: 400, body: { error: 'slow_down' } };
  const token = {
    status: 200,
    body: { access_token: 'at-device', token_type: 'Bearer', expires_in: 300, refresh_token: 'rt' },
  };

  function run(grant: 'device_code' | 'authorization_code', device?: boolean) {
    let now = T0;
    const slept: number[] = [];
    const shown: DeviceCodeInfo[] = [];
    const polls: number[] = [];
    const store = new MemoryStore();
    const profile: Profile = {
      name: 'tv',
      provider: 'oidc',
      issuer: as.url,
      client_id: 'tv-app',
      grant,
      scope: 'api',
      retries: 0,
    };
    const p = login(profile, {
      store,
      clock: () => now,
      ...(device !== undefined ? { device } : {}),
      openBrowser: () => assert.fail('the device flow opens no browser'),
      onDeviceCode: (i) => {
        shown.push(i);
      },
      onDevicePoll: (left) => polls.push(left),
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    const polled = () => as.requests.filter((r) => r.url === '/token').length;
    return { p, store, slept, shown, polls, polled };
  }

  it('authorization_pending, slow_down (+5 s), then the token, stored', async () => {
    answers = [pending, slowDown, token];
    const r = run('device_code');
    assert.equal((await r.p).accessToken, 'at-device');
    assert.deepEqual(r.slept, [5000, 5000, 10_000]);
    assert.deepEqual(r.polls, [30, 25, 20]);
    assert.equal(r.polled(), 3);
    assert.deepEqual(r.shown, [
      { userCode: 'BCDF-GHJK', verificationUri: `${as.url}/verify`, expiresIn: 30, interval: 5 },
    ]);
    assert.equal((await r.store.list()).length, 1);
  });

  it('device: true takes the device flow for an authorization_code profile (login --device)', async () => {
    answers = [token];
    const r = run('authorization_code', true);
    assert.equal((await r.p).accessToken, 'at-device');
    assert.equal(as.requests.filter((q) => q.url === '/device').length, 1);
    assert.equal((await r.store.list()).length, 1);
  });

  const typed = (error: string, text: RegExp) => (e: unknown) =>
    e instanceof AuthorizationError &&
    e.code === 'ERR_AUTHORIZATION' &&
    e.error === error &&
    text.test(e.message) &&
    /nothing was stored/.test(e.message);

  it('slow_down, then access_denied: AuthorizationError, nothing stored', async () => {
    answers = [slowDown, { status: 400, body: { error: 'access_denied' } }];
    const r = run('device_code');
    await assert.rejects(r.p, typed('access_denied', /denied on the verification page/));
    assert.deepEqual(r.slept, [5000, 10_000]);
    assert.equal((await r.store.list()).length, 0);
  });

  it('expired_token from the server: AuthorizationError, nothing stored', async () => {
    answers = [pending, { status: 400, body: { error: 'expired_token' } }];
    const r = run('device_code');
    await assert.rejects(r.p, typed('expired_token', /expired before the sign-in was approved/));
    assert.equal(r.polled(), 2);
    assert.equal((await r.store.list()).length, 0);
  });

  it('the code runs out by the clock while slow_down stretches the wait: expired_token, no late poll, nothing stored', async () => {
    answers = [slowDown];
    const r = run('device_code');
    await assert.rejects(r.p, typed('expired_token', /after 30 s/));
    // Polls at 5 s, 15 s, 30 s… the last wait ends at 30 s, the code's end: not sent.
    assert.deepEqual(r.slept, [5000, 10_000, 15_000]);
    assert.equal(r.polled(), 2);
    assert.equal((await r.store.list()).length, 0);
  });
});
