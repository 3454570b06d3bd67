/**
 * The manager's single flight, pinned where the suite was weak (written against the mutants StrykerJS
 * found surviving in src/manager/token-manager.ts; see docs/testing.md). Expiry and back-off are driven
 * by an injected clock; counts are exact.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { NetworkError, TokenEndpointError } from '../../src/errors.js';
import { closeAgents } from '../../src/http/agent.js';
import { TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { parseTokenResponse, type Token } from '../../src/token.js';
import type { TokenClient } from '../../src/token-client.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

/** A memory store that claims to be shared, so the manager takes its lock and re-reads. */
class SharedMemoryStore extends MemoryStore {
  override readonly shared = true as unknown as false;
}

let server: TokenServer;
let clockMs = 0;
const clock = () => clockMs;

before(async () => {
  server = await startTokenServer({ lifetime: 300, latencyMs: 0 });
});
after(async () => {
  await server.close();
  await closeAgents();
});
beforeEach(() => {
  server.counts = { total: 0, byGrant: {} };
  server.fault = undefined;
  clockMs = Date.now();
});

/** The real generic OAuth2 client (profile → provider → grant → HTTP), no retries. */
const realClient = () =>
  createTokenClient({
    token_url: server.tokenUrl,
    client_id: 'flight',
    client_secret: 'flight-secret',
    retries: 0,
  });

describe('eager refresh back-off (default gap 5 s), on an injected clock', () => {
  it('a failing endpoint is tried once per gap, not on every getToken()', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: await realClient(),
      key: 'k',
      store: new MemoryStore(),
      clock,
      eagerRefreshFraction: 0.5,
      onWarning: (w) => warnings.push(w),
    });
    const t1 = await m.getToken();
    assert.equal(server.counts.total, 1);
    server.fault = { status: 500, body: JSON.stringify({ error: 'server_error' }) };
    clockMs += 200_000; // past half of the 300 s lifetime
    /** getToken(), then wait for any background refresh it started (close() waits; it owns no store). */
    const call = async () => {
      assert.equal((await m.getToken()).accessToken, t1.accessToken, 'the valid token is served');
      await m.close();
    };
    await call();
    assert.equal(server.counts.total, 2, 'the first call past the eager point tries once');
    for (let i = 0; i < 5; i++) await call();
    assert.equal(server.counts.total, 2, 'no new attempt within the gap');
    clockMs += 4_999;
    await call();
    assert.equal(server.counts.total, 2, '1 ms before the gap ends: still none');
    clockMs += 1;
    await call();
    assert.equal(server.counts.total, 3, 'at exactly the gap: one more');
    await call();
    assert.equal(server.counts.total, 3);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED', 'EAGER_REFRESH_FAILED'],
    );
    server.fault = undefined;
    clockMs += 5_000;
    await call();
    assert.equal(server.counts.total, 4);
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken, 'the background refresh replaced the token');
    assert.equal(server.counts.total, 4, 'and it is served from memory');
  });

  it('eagerRetryGapMs: 0 retries on every call past the eager point, one at a time', async () => {
    const m = new TokenManager({
      client: await realClient(),
      key: 'k',
      store: new MemoryStore(),
      clock,
      eagerRefreshFraction: 0.5,
      eagerRetryGapMs: 0,
    });
    await m.getToken();
    server.fault = { status: 500, body: '{}' };
    clockMs += 200_000;
    for (let i = 0; i < 3; i++) {
      await m.getToken();
      await m.close();
    }
    assert.equal(server.counts.total, 4);
  });
});

/** Tokens for the scripted client below. */
function token(access: string, refresh: string, expiresIn: number, now: number): Token {
  return parseTokenResponse(
    { access_token: access, refresh_token: refresh, expires_in: expiresIn },
    { url: 'http://127.0.0.1/token', now },
  );
}

describe('a failed renewal on a shared store records the error on the newest entry', () => {
  // A scripted client, because the test must interleave "another process" exactly: while this
  // process's refresh is in flight (its lock lost), another process rotates the refresh token and
  // writes its token; this process then fails with a network error.
  it('the token another process wrote meanwhile is kept (with its refresh token), not overwritten by the older one', async () => {
    const store = new SharedMemoryStore();
    const key = 'shared-k';
    const now = clockMs;
    const old = token('at-old-0001', 'rt-1-rotated-away', 60, now - 120_000); // expired a minute ago
    await store.set({ v: 1, key, token: old, updatedAt: now - 120_000 });
    const theirs = token('at-theirs-02', 'rt-2-still-good', 60, now - 90_000); // expired too
    const refreshedWith: string[] = [];
    let networkDown = true;
    const client: TokenClient = {
      identity: { token_url: 'http://127.0.0.1/token' },
      fetchToken: async () => {
        throw new NetworkError('http://127.0.0.1/token', 'connection refused');
      },
      refresh: async (t) => {
        refreshedWith.push(t.refreshToken ?? '');
        if (t.refreshToken === 'rt-1-rotated-away') {
          // Another process used rt-1 (rotating it) and wrote its token meanwhile.
          await store.set({ v: 1, key, token: theirs, updatedAt: clockMs });
          throw new TokenEndpointError('http://127.0.0.1/token', 400, { error: 'invalid_grant' });
        }
        if (networkDown) throw new NetworkError('http://127.0.0.1/token', 'connection refused');
        return token('at-new-000003', 'rt-3', 3600, clockMs);
      },
    };
    const m = new TokenManager({ client, key, store, clock });
    await assert.rejects(m.getToken(), (e) => e instanceof NetworkError);
    assert.deepEqual(refreshedWith, ['rt-1-rotated-away', 'rt-2-still-good']);
    const entry = await store.get(key);
    assert.equal(entry?.token?.refreshToken, 'rt-2-still-good', 'the newer refresh token survives');
    assert.equal(entry?.lastError?.code, 'ERR_NETWORK');

    networkDown = false;
    const t = await m.getToken();
    assert.equal(t.accessToken, 'at-new-000003');
    assert.deepEqual(refreshedWith, ['rt-1-rotated-away', 'rt-2-still-good', 'rt-2-still-good']);
    assert.equal((await store.get(key))?.lastError, undefined, 'a success clears the error');
  });
});

describe('store reads, background refresh and errors', () => {
  it('a second manager on the same (unshared) store takes the token from it: no request, one store hit', async () => {
    const store = new MemoryStore();
    const a = new TokenManager({ client: await realClient(), key: 'k', store, clock });
    const b = new TokenManager({ client: await realClient(), key: 'k', store, clock });
    const t = await a.getToken();
    assert.equal((await b.getToken()).accessToken, t.accessToken);
    assert.equal(server.counts.total, 1);
    assert.equal(b.counts.storeHits, 1);
  });

  it('a stored token past its eager point but valid is served to a cold manager without a request', async () => {
    const store = new MemoryStore();
    const a = new TokenManager({
      client: await realClient(),
      key: 'k',
      store,
      clock,
      eagerRefreshFraction: 0.5,
    });
    const t = await a.getToken();
    clockMs += 200_000; // past half of 300 s, still valid
    const b = new TokenManager({
      client: await realClient(),
      key: 'k',
      store,
      clock,
      eagerRefreshFraction: 0.5,
    });
    const bt = await b.getToken();
    assert.equal(bt.accessToken, t.accessToken);
    assert.equal(server.counts.total, 1, 'the first call of b is not a refresh');
  });

  it('a background refresh adopts a newer token another manager stored meanwhile (it is not forced)', async () => {
    const store = new SharedMemoryStore();
    const opts = { key: 'k', store, clock, eagerRefreshFraction: 0.5 };
    const a = new TokenManager({ client: await realClient(), ...opts });
    const b = new TokenManager({ client: await realClient(), ...opts });
    const t1 = await a.getToken();
    assert.equal((await b.getToken()).accessToken, t1.accessToken);
    clockMs += 200_000;
    const t2 = await a.getToken({ force: true }); // a renews; b still holds t1 in memory
    assert.equal(server.counts.total, 2);
    assert.equal(
      (await b.getToken()).accessToken,
      t1.accessToken,
      'b serves t1 and starts a background refresh',
    );
    await b.close();
    assert.equal(server.counts.total, 2, "b's background refresh took a's token from the store");
    assert.equal((await b.getToken()).accessToken, t2.accessToken);
  });

  it('a client that throws something other than a TokenwardError: getToken() rejects with a TokenwardError (ERR_NETWORK)', async () => {
    const client: TokenClient = {
      identity: { token_url: 'http://127.0.0.1/token' },
      fetchToken: async () => {
        throw new TypeError('socket hang up');
      },
    };
    const m = new TokenManager({ client, key: 'k', store: new MemoryStore(), clock });
    await assert.rejects(m.getToken(), (e) => {
      assert.ok(e instanceof Error && !(e instanceof TypeError), 'wrapped');
      assert.equal((e as { code?: string }).code, 'ERR_NETWORK');
      assert.equal(e.message, 'socket hang up');
      const cause = (e as { cause?: unknown }).cause;
      assert.ok(
        cause instanceof Error && cause.name === 'TypeError',
        'the original error is the (scrubbed) cause',
      );
      return true;
    });
    assert.equal(m.lastError?.code, 'ERR_NETWORK');
  });

  it('a renewal that fails while the token is still valid serves it with a SERVED_STALE_MARGIN warning', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: await realClient(),
      key: 'k',
      store: new MemoryStore(),
      clock,
      onWarning: (w) => warnings.push(w),
    });
    const t1 = await m.getToken();
    server.fault = { status: 500, body: '{}' };
    // 200 s later 100 s are left; asking for 150 s (a minimum the 300 s token could meet) renews, and fails.
    clockMs += 200_000;
    assert.equal((await m.getToken({ minTtlMs: 150_000 })).accessToken, t1.accessToken);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'SERVED_STALE_MARGIN');
    assert.match(
      warnings[0]?.message ?? '',
      /renewal failed; serving the current token, which is still valid/,
    );
  });
});

describe('no background refresh while a flight is in progress', () => {
  it('a failing forced renewal in flight: a concurrent getToken() past the eager point serves the token and starts nothing', async () => {
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: await realClient(),
      key: 'k',
      store: new MemoryStore(),
      clock,
      eagerRefreshFraction: 0.5,
      onWarning: (w) => warnings.push(w),
    });
    const t1 = await m.getToken();
    clockMs += 200_000; // past the eager point
    server.fault = { status: 500, body: '{}' };
    const forced = m.getToken({ force: true });
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    await assert.rejects(forced);
    await m.close();
    assert.equal(server.counts.total, 2, 'the forced request only');
    assert.deepEqual(warnings, [], 'no background refresh was joined to the failing forced one');
  });
});
