/**
 * The device authorization grant (RFC 8628) against a scripted loopback server: the exact requests,
 * `authorization_pending`, `slow_down` (+5 s), `access_denied`, `expired_token` from the server and by
 * the clock — with the sleep and the clock injected (no real waits).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noneAuth } from '../../src/auth/none.js';
import { DpopSigner } from '../../src/dpop/signer.js';
import { AuthorizationError } from '../../src/errors.js';
import { DEVICE_CODE_GRANT_TYPE, deviceCodeGrant } from '../../src/grants/device-code.js';
import type { GrantContext } from '../../src/grants/types.js';
import type { DeviceCodeInfo } from '../../src/signin/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';

describe('device authorization grant', () => {
  let server: Loopback;
  /** The token endpoint's answers, in order (then the last one again). */
  let answers: { status: number; body: Record<string, unknown> }[] = [];
  let deviceBody: Record<string, unknown> = {};
  before(async () => {
    server = await startLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/device') {
        res.end(JSON.stringify(deviceBody));
        return;
      }
      const a = answers.length > 1 ? answers.shift() : answers[0];
      res.statusCode = a?.status ?? 500;
      res.end(JSON.stringify(a?.body ?? {}));
    });
  });
  after(() => server.close());

  function setup(initial: Record<string, unknown> = {}) {
    server.requests.length = 0;
    deviceBody = {
      device_code: 'dc-secret-123',
      user_code: 'WDJB-MJHT',
      verification_uri: 'https://example.test/device',
      verification_uri_complete: 'https://example.test/device?user_code=WDJB-MJHT',
      expires_in: 600,
      interval: 5,
      ...initial,
    };
    let now = 1_000_000;
    const slept: number[] = [];
    const ctx: GrantContext = {
      tokenUrl: `${server.url}/token`,
      clientAuth: noneAuth({ clientId: 'tv-app' }),
      http: { retries: 0 },
      now: () => now,
    };
    const shown: DeviceCodeInfo[] = [];
    const polls: number[] = [];
    const run = (sleepAdvances = true) =>
      deviceCodeGrant(ctx, {
        deviceAuthorizationUrl: `${server.url}/device`,
        scope: 'openid offline_access',
        onDeviceCode: (i) => shown.push(i),
        onPoll: (left) => polls.push(left),
        sleep: async (ms) => {
          slept.push(ms);
          if (sleepAdvances) now += ms;
        },
      });
    return { run, slept, shown, polls };
  }
  const pending = { status: 400, body: { error: 'authorization_pending' } };
  const token = {
    status: 200,
    body: { access_token: 'at-device', token_type: 'Bearer', expires_in: 300, refresh_token: 'rt' },
  };

  it('resource (a list) goes on both requests; with a DPoP hook both carry a proof and the device answer is not taken for a token', async () => {
    answers = [{ status: 200, body: { access_token: 'at-bound', token_type: 'DPoP', expires_in: 300 } }];
    const { run } = setup();
    void run; // the setup resets the server and the device answer
    const signer = new DpopSigner({ alg: 'ES256', store: new MemoryStore(), tokenKey: 'device-test' });
    const resource = ['https://rs1.example/', 'https://rs2.example/api'];
    const t = await deviceCodeGrant(
      {
        tokenUrl: `${server.url}/token`,
        clientAuth: noneAuth({ clientId: 'tv-app' }),
        http: { retries: 0, tokenRequestHook: signer.tokenRequestHook },
        parse: { acceptedTokenTypes: ['bearer', 'dpop'] },
        now: () => 1_000_000,
      },
      {
        deviceAuthorizationUrl: `${server.url}/device`,
        resource,
        onDeviceCode: () => {},
        sleep: async () => {},
      },
    );
    assert.equal(t.tokenType, 'DPoP');
    assert.deepEqual(
      server.requests.map((r) => [
        r.url,
        new URLSearchParams(r.body).getAll('resource'),
        typeof r.headers['dpop'],
      ]),
      [
        ['/device', resource, 'string'],
        ['/token', resource, 'string'],
      ],
    );
  });

  it('shows the code, polls at the interval, honours slow_down (+5 s), and returns the token', async () => {
    answers = [pending, { status: 400, body: { error: 'slow_down' } }, pending, token];
    const { run, slept, shown, polls } = setup();
    const t = await run();
    assert.equal(t.accessToken, 'at-device');
    assert.deepEqual(shown, [
      {
        userCode: 'WDJB-MJHT',
        verificationUri: 'https://example.test/device',
        verificationUriComplete: 'https://example.test/device?user_code=WDJB-MJHT',
        expiresIn: 600,
        interval: 5,
      },
    ]);
    assert.deepEqual(slept, [5000, 5000, 10_000, 10_000]);
    assert.deepEqual(polls, [600, 595, 590, 580]);
    assert.equal(server.requests.length, 5, 'one device authorization request and four polls');
    const device = new URLSearchParams(server.requests[0]?.body);
    assert.equal(device.get('client_id'), 'tv-app');
    assert.equal(device.get('scope'), 'openid offline_access');
    for (const r of server.requests.slice(1)) {
      const f = new URLSearchParams(r.body);
      assert.equal(f.get('grant_type'), DEVICE_CODE_GRANT_TYPE);
      assert.equal(f.get('device_code'), 'dc-secret-123');
      assert.equal(f.get('client_id'), 'tv-app');
    }
  });

  it('access_denied stops with a typed error', async () => {
    answers = [pending, { status: 400, body: { error: 'access_denied', error_description: 'no' } }];
    const { run, slept } = setup();
    await assert.rejects(
      run(),
      (e: unknown) =>
        e instanceof AuthorizationError && e.error === 'access_denied' && /denied/.test(e.message),
    );
    assert.equal(slept.length, 2);
  });

  it('expired_token from the server stops with a typed error', async () => {
    answers = [{ status: 400, body: { error: 'expired_token' } }];
    const { run } = setup();
    await assert.rejects(
      run(),
      (e: unknown) =>
        e instanceof AuthorizationError &&
        e.error === 'expired_token' &&
        /run the sign-in again/.test(e.message),
    );
    assert.equal(server.requests.length, 2);
  });

  it('the code expires by the clock: no poll after expires_in', async () => {
    answers = [pending];
    const { run, slept } = setup({ expires_in: 12, interval: 5 });
    await assert.rejects(
      run(),
      (e: unknown) => e instanceof AuthorizationError && e.error === 'expired_token',
    );
    // Polls at 5 s and 10 s; the wait that ends at 15 s is past the 12 s: no third poll.
    assert.deepEqual(slept, [5000, 5000, 5000]);
    assert.equal(server.requests.length, 3, 'the device request and two polls within the 12 s');
  });

  it('no interval: 5 s (RFC 8628 §3.2); an answer without user_code is refused', async () => {
    answers = [token];
    const { run, slept } = setup({ interval: undefined });
    await run();
    assert.deepEqual(slept, [5000]);
    const bad = setup({ user_code: undefined });
    await assert.rejects(
      bad.run(),
      (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_TOKEN_RESPONSE',
    );
  });
});
