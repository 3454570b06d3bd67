/**
 * The TokenManager over the real client stack: the generic `oauth2` provider built from a profile
 * (client_secret_basic, client_credentials, the refresh grant, the HTTP layer) against the loopback
 * token server, which checks the client's credentials, rotates refresh tokens and counts every grant.
 * Time is the manager's injected clock; tokens live 300 s on the server and expire only when a test
 * moves the clock.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import { TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TokenStore } from '../../src/stores/types.js';
import type { TokenClient } from '../../src/token-client.js';
import { profileFor, startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';

/**
 * A test double, on purpose: a memory store that claims to be shared, so the manager takes its lock and
 * re-reads as it does with a file/PostgreSQL/Redis store, for two managers in one process (the real
 * stores across real processes are the herd tests in test/stores/).
 */
class SharedMemoryStore extends MemoryStore {
  override readonly shared = true as unknown as false;
}

let server: TokenServer;
/** The real token client of the generic provider. No HTTP retries: a fault injected once stays seen. */
let client: TokenClient;
let clockMs: number;
const clock = () => clockMs;

function manager(opts: { store?: TokenStore; warnings?: TokenwardWarning[]; eager?: number } = {}) {
  return new TokenManager({
    client,
    key: 'k',
    store: opts.store ?? new MemoryStore(),
    clock,
    eagerRefreshFraction: opts.eager ?? 1,
    onWarning: (w) => opts.warnings?.push(w),
  });
}

before(async () => {
  server = await startTokenServer({ lifetime: 300, clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
  client = await createTokenClient(profileFor(server, { retries: 0 }));
});
after(() => server.close());
beforeEach(() => {
  server.reset();
  clockMs = Date.now();
});

describe('TokenManager single flight', () => {
  it('1,000 concurrent getToken() calls on a cold cache make exactly one token request', async () => {
    const m = manager();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => m.getToken()));
    assert.equal(server.counts.total, 1);
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
  });

  it('returns a fresh cached token without any request', async () => {
    const m = manager();
    const first = await m.getToken();
    for (let i = 0; i < 100; i++) assert.equal((await m.getToken()).accessToken, first.accessToken);
    assert.equal(server.counts.total, 1);
  });

  it('a failed flight fails every waiter with the same error and does not poison the next call', async () => {
    const m = manager();
    server.fault = { status: 400, body: JSON.stringify({ error: 'invalid_client' }), times: 1 };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => m.getToken()));
    assert.equal(server.counts.total, 1);
    const reasons = new Set(results.map((r) => (r.status === 'rejected' ? r.reason : undefined)));
    assert.equal(reasons.size, 1);
    const [err] = [...reasons];
    assert.ok(err instanceof TokenEndpointError);
    assert.equal(err.error, 'invalid_client');
    assert.equal(m.lastError, err);
    const t = await m.getToken();
    assert.ok(t.accessToken.startsWith('at-'));
    assert.equal(server.counts.total, 2);
    assert.equal(m.lastError, undefined);
  });

  it('two managers on one shared store (two "processes") make one request between them', async () => {
    const store = new SharedMemoryStore();
    const a = manager({ store });
    const b = manager({ store });
    const all = await Promise.all([
      ...Array.from({ length: 20 }, () => a.getToken()),
      ...Array.from({ length: 20 }, () => b.getToken()),
    ]);
    assert.equal(server.counts.total, 1);
    assert.equal(new Set(all.map((t) => t.accessToken)).size, 1);
    assert.equal(b.counts.storeHits + a.counts.storeHits, 1);
  });
});

describe('TokenManager expiry and refresh', () => {
  it('after expiry uses the refresh grant, not the primary grant, and keeps the rotated refresh token', async () => {
    const m = manager();
    const t1 = await m.getToken();
    clockMs += 301_000;
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    assert.ok(server.liveRefreshTokens.has(t2.refreshToken!));
    assert.ok(!server.liveRefreshTokens.has(t1.refreshToken!));
    assert.deepEqual(m.counts, { grants: 1, refreshes: 1, storeHits: 0 });
    // The real client stack: the client authenticated with Basic both times, and the refresh presented
    // the refresh token of the first answer.
    assert.deepEqual(
      server.requests.map((r) => [r.grant, r.auth, r.clientId, r.refreshToken, r.status]),
      [
        ['client_credentials', 'basic', TEST_CLIENT.id, undefined, 200],
        ['refresh_token', 'basic', TEST_CLIENT.id, t1.refreshToken, 200],
      ],
    );
    assert.equal(server.rejectedClients, 0);
  });

  it('the safety margin (10 s) makes a token stale before it expires', async () => {
    const m = manager();
    await m.getToken();
    clockMs += 289_000;
    await m.getToken();
    assert.equal(server.counts.total, 1);
    clockMs += 2_000; // 9 s left: inside the margin
    await m.getToken();
    assert.equal(server.counts.total, 2);
  });

  it('keeps the old refresh token when a refresh answer carries none', async () => {
    const m = manager();
    const t1 = await m.getToken();
    server.rotate = false;
    clockMs += 301_000;
    const t2 = await m.getToken();
    assert.equal(t2.refreshToken, t1.refreshToken);
    clockMs += 301_000;
    await m.getToken();
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 2 });
    assert.deepEqual(
      server.requests.filter((r) => r.grant === 'refresh_token').map((r) => r.refreshToken),
      [t1.refreshToken, t1.refreshToken],
      'both refreshes presented the one refresh token the server ever issued',
    );
    assert.equal(server.rejectedRefreshes, 0);
  });

  it('two managers on one shared store: a refresh token rotated by one is never presented again by the other', async () => {
    const store = new SharedMemoryStore();
    const a = manager({ store });
    const b = manager({ store });
    const t1 = await a.getToken();
    assert.equal((await b.getToken()).accessToken, t1.accessToken, "b found a's token in the store");
    clockMs += 301_000;
    const t2 = await a.getToken(); // a refreshes; the server revokes t1's refresh token
    assert.ok(!server.liveRefreshTokens.has(t1.refreshToken!));
    // b still holds t1 in memory: it must re-read the store under the lock, not refresh with a dead token.
    assert.equal((await b.getToken()).accessToken, t2.accessToken);
    clockMs += 301_000;
    const t3 = await b.getToken(); // b refreshes with the rotated refresh token it read from the store
    assert.equal((await a.getToken()).accessToken, t3.accessToken);
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 2 });
    assert.deepEqual(
      server.requests.filter((r) => r.grant === 'refresh_token').map((r) => r.refreshToken),
      [t1.refreshToken, t2.refreshToken],
    );
    assert.equal(server.rejectedRefreshes, 0, 'no invalid_grant');
    assert.ok(server.liveRefreshTokens.has((await store.get('k'))!.token!.refreshToken!));
  });

  it('falls back to the primary grant when the refresh token is rejected, with a warning', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = manager({ warnings });
    const t1 = await m.getToken();
    server.liveRefreshTokens.delete(t1.refreshToken!);
    clockMs += 301_000;
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(server.counts.byGrant, { client_credentials: 2, refresh_token: 1 });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['REFRESH_REJECTED'],
    );
  });

  it('a failed refresh (server down) keeps the refresh token for the next attempt', async () => {
    const m = manager();
    const t1 = await m.getToken();
    clockMs += 301_000;
    server.fault = { status: 503, body: 'down', contentType: 'text/plain', times: 1 };
    await assert.rejects(m.getToken(), TokenEndpointError);
    const t2 = await m.getToken();
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 2 });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    assert.equal(server.rejectedRefreshes, 0);
  });

  it('a malformed response never replaces a good cached token', async () => {
    const store = new MemoryStore();
    const m = manager({ store });
    const t1 = await m.getToken();
    server.fault = { status: 200, body: '{"access_token": 42}', times: 1 };
    await assert.rejects(m.getToken({ force: true }), InvalidTokenResponseError);
    assert.equal((await store.get('k'))?.token?.accessToken, t1.accessToken);
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    assert.equal((await store.get('k'))?.lastError?.code, 'ERR_INVALID_TOKEN_RESPONSE');
  });
});

describe('TokenManager serving through an outage', () => {
  it('eager refresh runs in the background while the current token is returned', async () => {
    const m = manager({ eager: 0.5 });
    const t1 = await m.getToken();
    clockMs += 200_000; // past 50 % of 300 s
    const t = await m.getToken();
    assert.equal(t.accessToken, t1.accessToken);
    await m.close(); // waits for the background refresh (the manager owns no store: it stays usable)
    assert.notEqual(m.peek()?.accessToken, t1.accessToken, 'the background refresh landed');
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
    assert.equal((await m.getToken()).accessToken, m.peek()?.accessToken);
    assert.equal(server.counts.total, 2);
  });

  it('a failing eager refresh is quiet (warning hook) and the valid token keeps being served', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client,
      key: 'k',
      store: new MemoryStore(),
      clock,
      eagerRefreshFraction: 0.5,
      eagerRetryGapMs: 0,
      onWarning: (w) => warnings.push(w),
    });
    const t1 = await m.getToken();
    server.fault = { status: 502, body: '<html>bad gateway</html>', contentType: 'text/html' };
    clockMs += 200_000;
    for (let i = 1; i <= 5; i++) {
      assert.equal((await m.getToken()).accessToken, t1.accessToken);
      // No gap between attempts (eagerRetryGapMs 0): each call past the eager point starts one.
      await m.close(); // waits for the background refresh to fail
      assert.equal(warnings.length, i, `background refresh ${i} failed, warned once`);
    }
    assert.equal(server.counts.byGrant['refresh_token'], 5, 'one request per background attempt');
    assert.deepEqual(new Set(warnings.map((w) => w.code)), new Set(['EAGER_REFRESH_FAILED']));
    clockMs += 100_000; // now expired
    await assert.rejects(m.getToken(), TokenEndpointError);
  });

  it('a minimum TTL that forces renewal still serves the valid token when the endpoint is down', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = manager({ warnings });
    const t1 = await m.getToken();
    server.fault = { status: 500, body: '{}' };
    clockMs += 100_000; // 200 s left: a minimum TTL of 250 s needs a new token (one could meet it)
    const t = await m.getToken({ minTtlMs: 250_000 });
    assert.equal(t.accessToken, t1.accessToken);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['SERVED_STALE_MARGIN'],
    );
  });
});

describe('TokenManager invalidation', () => {
  it('invalidate() forces one new token, once, for any number of concurrent 401s', async () => {
    const m = manager();
    const t1 = await m.getToken();
    for (let i = 0; i < 10; i++) m.invalidate(t1.accessToken);
    const next = await Promise.all(Array.from({ length: 10 }, () => m.getToken()));
    assert.equal(new Set(next.map((t) => t.accessToken)).size, 1);
    assert.notEqual(next[0]!.accessToken, t1.accessToken);
    m.invalidate(t1.accessToken); // an old token: ignored
    await m.getToken();
    assert.equal(server.counts.total, 2);
  });

  it('a rejected token is not served through an outage', async () => {
    const m = manager();
    const t1 = await m.getToken();
    m.invalidate();
    server.fault = { status: 503, body: '{}' };
    await assert.rejects(m.getToken(), TokenEndpointError);
    assert.notEqual(m.peek()?.accessToken, undefined);
    assert.equal(m.peek()?.accessToken, t1.accessToken);
  });

  it('force ignores the cache and a shared flight serves all forced callers', async () => {
    const m = manager();
    const t1 = await m.getToken();
    const forced = await Promise.all(Array.from({ length: 10 }, () => m.getToken({ force: true })));
    assert.equal(new Set(forced.map((t) => t.accessToken)).size, 1);
    assert.notEqual(forced[0]!.accessToken, t1.accessToken);
    assert.equal(server.counts.total, 2);
  });

  it('logout deletes the token from the store', async () => {
    const store = new MemoryStore();
    const m = manager({ store });
    await m.getToken();
    assert.equal(store.size, 1);
    const r = await m.logout();
    assert.deepEqual(r, { revoked: false, deleted: true });
    assert.equal(store.size, 0);
    assert.equal(m.peek(), undefined);
  });
});

describe('TokenManager cancellation', () => {
  it('an already-aborted signal starts no request', async () => {
    const m = manager();
    await assert.rejects(m.getToken({ signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(server.counts.total, 0);
  });

  it('a caller that gives up leaves the flight to the others; its later failure is not unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const m = manager();
      server.latencyMs = 100;
      server.fault = { status: 503, body: '{"error":"temporarily_unavailable"}' };
      const ac = new AbortController();
      const quitter = m.getToken({ signal: ac.signal });
      const stayer = m.getToken();
      ac.abort();
      await assert.rejects(quitter, { name: 'AbortError' });
      await assert.rejects(stayer, TokenEndpointError);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
      assert.equal(server.counts.total, 1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('TokenManager close', () => {
  it('waits for a background refresh in flight, so its rotated refresh token is stored', async () => {
    const store = new MemoryStore();
    const m = new TokenManager({
      client,
      key: 'close',
      store,
      clock,
      eagerRefreshFraction: 0.5,
      ownsStore: false,
    });
    server.latencyMs = 150;
    const first = await m.getToken();
    clockMs += ((first.expiresAt - first.obtainedAt) * 3) / 4; // past the eager point, still valid
    assert.equal((await m.getToken()).accessToken, first.accessToken, 'the current token is served');
    await m.close(); // the background refresh is still running here
    const stored = await store.get('close');
    assert.equal(server.counts.byGrant['refresh_token'], 1);
    assert.notEqual(stored?.token?.accessToken, first.accessToken, 'the refreshed token was written');
    assert.ok(
      stored?.token?.refreshToken !== undefined && server.liveRefreshTokens.has(stored.token.refreshToken),
    );
  });
});

describe('TokenManager invalidation when the server hands back the same token', () => {
  it('clears the mark once the server has answered: the cache works again', async () => {
    server.fixedAccessToken = 'same-token-value';
    const m = manager();
    const t = await m.getToken();
    m.invalidate(t.accessToken);
    const again = await m.getToken(); // one renewal: the server answers with the same string
    assert.equal(again.accessToken, 'same-token-value');
    for (let i = 0; i < 5; i++) await m.getToken();
    assert.deepEqual(
      server.counts.byGrant,
      { client_credentials: 1, refresh_token: 1 },
      'one grant, one renewal after the 401, then the cache',
    );
  });
});

describe('the front door (createTokenManager) over the token server', () => {
  it('a password-grant profile: single flight on a cold cache, then one rotating refresh per expiry', async () => {
    const users = await startTokenServer({
      lifetime: 300,
      clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret },
      users: { alice: 'pw of alice' },
    });
    const warnings: TokenwardWarning[] = [];
    const m = await createTokenManager(
      profileFor(users, { store: 'memory', username: 'alice', password: 'pw of alice', eager_refresh: 1 }),
      { clock, onWarning: (w) => warnings.push(w) },
    );
    try {
      const first = await Promise.all(Array.from({ length: 200 }, () => m.getToken()));
      assert.equal(new Set(first.map((t) => t.accessToken)).size, 1);
      assert.deepEqual(users.counts.byGrant, { password: 1 });
      let previous = first[0]!;
      for (let round = 1; round <= 2; round++) {
        clockMs += 301_000;
        const next = await Promise.all(Array.from({ length: 200 }, () => m.getToken()));
        assert.equal(new Set(next.map((t) => t.accessToken)).size, 1);
        assert.notEqual(next[0]!.accessToken, previous.accessToken);
        assert.deepEqual(users.counts.byGrant, { password: 1, refresh_token: round });
        assert.equal(users.requests.at(-1)?.refreshToken, previous.refreshToken);
        previous = next[0]!;
      }
      assert.equal(users.rejectedRefreshes, 0);
      assert.equal(users.rejectedClients, 0);
      assert.ok(users.requests.every((r) => r.auth === 'basic' && r.status === 200));
      assert.deepEqual(warnings, []);
    } finally {
      await m.close();
      await users.close();
    }
  });

  it('wrong client credentials: invalid_client from the server, typed, with the status', async () => {
    const m = await createTokenManager(
      profileFor(server, { store: 'memory', client_secret: 'not the secret', retries: 0 }),
      { clock },
    );
    try {
      await assert.rejects(m.getToken(), (err: unknown) => {
        assert.ok(err instanceof TokenEndpointError);
        assert.equal(err.error, 'invalid_client');
        assert.equal(err.status, 401);
        return true;
      });
      assert.equal(server.rejectedClients, 1);
    } finally {
      await m.close();
    }
  });
});
