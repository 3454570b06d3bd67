import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import { TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TokenStore } from '../../src/stores/types.js';
import { parseTokenResponse } from '../../src/token.js';
import { simpleClient } from '../helpers/simple-client.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

/** A memory store that claims to be shared, so the manager takes its lock and re-reads. */
class SharedMemoryStore extends MemoryStore {
  override readonly shared = true as unknown as false;
}

let server: TokenServer;
let clockMs: number;
const clock = () => clockMs;

function manager(opts: { store?: TokenStore; warnings?: TokenwardWarning[]; eager?: number } = {}) {
  return new TokenManager({
    client: simpleClient(server.tokenUrl),
    key: 'k',
    store: opts.store ?? new MemoryStore(),
    clock,
    eagerRefreshFraction: opts.eager ?? 1,
    onWarning: (w) => opts.warnings?.push(w),
  });
}

before(async () => {
  server = await startTokenServer({ lifetime: 300 });
});
after(() => server.close());
beforeEach(() => {
  server.counts = { total: 0, byGrant: {} };
  server.fault = undefined;
  server.lifetime = 300;
  server.latencyMs = 20;
  server.issueRefreshTokens = true;
  server.rotate = true;
  server.rejectedRefreshes = 0;
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
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.counts.byGrant['refresh_token'], 1);
    assert.notEqual((await m.getToken()).accessToken, t1.accessToken);
  });

  it('a failing eager refresh is quiet (warning hook) and the valid token keeps being served', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: simpleClient(server.tokenUrl),
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
    for (let i = 0; i < 5; i++) {
      assert.equal((await m.getToken()).accessToken, t1.accessToken);
      await m.close(); // waits for the background refresh this call started
    }
    assert.equal(warnings.length, 5, 'with no gap, each call starts one background refresh');
    assert.ok(warnings.every((w) => w.code === 'EAGER_REFRESH_FAILED'));
    assert.equal(server.counts.total, 6);
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
      client: simpleClient(server.tokenUrl),
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
    let grants = 0;
    const m = new TokenManager({
      client: {
        identity: { t: 'same' },
        fetchToken: async (ctx) => {
          grants++;
          return parseTokenResponse(
            { access_token: 'same-token-value', expires_in: 3600 },
            { url: 'x', now: ctx.now() },
          );
        },
      },
      key: 'same',
      store: new MemoryStore(),
      clock,
    });
    const t = await m.getToken();
    m.invalidate(t.accessToken);
    await m.getToken(); // one new grant: the server answers with the same string
    for (let i = 0; i < 5; i++) await m.getToken();
    assert.equal(grants, 2, 'one grant, one renewal after the 401, then the cache');
  });
});
