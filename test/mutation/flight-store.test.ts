/**
 * The single flight's store side, branch by branch (written against the `flight` group's surviving
 * mutants in `#acquire`, `#plan`, `#servable`, `#settle`, `#join`, `#fits`, `#loadClient` and `#get`; see
 * docs/testing.md, "Mutation testing"): what the diagnostics channels say (served from memory or the
 * store, coalesced flights, lock waits, served-stale), the lock's wait and its failures, a failure the
 * lock holder recorded while this caller waited, the budget of an optional renewal, `Retry-After` to
 * the millisecond, the minimum TTL at the token's usable lifetime.
 *
 * Real client stack against the loopback token server, injected clock, exact counts. The shared store
 * is the memory store claiming to be shared (so the manager locks and re-reads), with hooks to see its
 * lock being asked for; the test holds that lock itself where a caller must wait.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { afterEach, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import {
  ClientSetupError,
  LockTimeoutError,
  StoreError,
  TokenEndpointError,
  type TokenwardError,
} from '../../src/errors.js';
import { TokenManager, type TokenManagerOptions } from '../../src/manager/token-manager.js';
import { type ChannelMessages, channels } from '../../src/observe/channels.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry, StoreLock } from '../../src/stores/types.js';
import { parseTokenResponse } from '../../src/token.js';
import type { TokenClient } from '../../src/token-client.js';
import { makeManager, realClient, useRealStack } from '../manager/real-stack.js';
import { before, deferred, SharedMemoryStore } from './flight-helpers.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });
const KEY = 'manager-test-key';
const SERVER_ERROR = { status: 500, body: '{"error":"server_error"}', contentType: 'application/json' };
const refreshes = () => stack.server.counts.byGrant['refresh_token'] ?? 0;

/** The HTTP status of a token endpoint's refusal (undefined for any other error). */
const statusOf = (e: unknown) => (e instanceof TokenEndpointError ? e.status : undefined);

/** Records the messages of one diagnostics channel until the end of the test. */
const listening: Array<() => void> = [];
function listen<K extends keyof ChannelMessages>(name: K): Array<ChannelMessages[K]> {
  const messages: Array<ChannelMessages[K]> = [];
  const channel = channels[name];
  const onMessage = (m: ChannelMessages[K]) => messages.push(m);
  channel.subscribe(onMessage);
  listening.push(() => channel.unsubscribe(onMessage));
  return messages;
}
afterEach(() => {
  for (const stop of listening.splice(0)) stop();
});

/** A manager of the real client on `store`, with a test clock and a warnings list. */
async function manager(store: MemoryStore, options: Partial<TokenManagerOptions> = {}) {
  return makeManager(await realClient(stack.server), store, stack.clock, options);
}

/** Holds the store's lock for the test (another process renewing). */
function holdLock(store: MemoryStore): Promise<StoreLock> {
  return store.lock(KEY, { ttlMs: 10_000, timeoutMs: 0 });
}

/**
 * The lock holder's token request waits at the server until `release()`; `arrived` resolves when it is
 * there.
 */
function holdRequests(): { arrived: Promise<void>; release: () => void } {
  const arrived = deferred();
  const gate = deferred();
  stack.server.onRequest = async () => {
    arrived.resolve();
    await gate.promise;
  };
  return { arrived: arrived.promise, release: gate.resolve };
}

describe('what the channels say about serving and flights', () => {
  it('served: "store" after the first read and after the re-read under the lock, "memory" after that', async () => {
    const store = new SharedMemoryStore();
    const served = listen('served');
    const { manager: a } = await manager(store, { profile: 'a' });
    const { manager: b } = await manager(store, { profile: 'b' });
    // Both cold at once: a takes the lock and renews, b waits for it and finds a's token on re-reading.
    const [ta, tb] = await Promise.all([a.getToken(), b.getToken()]);
    assert.equal(tb.accessToken, ta.accessToken);
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(
      served.map((m) => [m.profile, m.source]),
      [['b', 'store']],
    );
    await b.getToken();
    const { manager: c } = await manager(store, { profile: 'c' });
    await c.getToken(); // cold: the first read finds it
    assert.deepEqual(
      served.map((m) => [m.profile, m.source]),
      [
        ['b', 'store'],
        ['b', 'memory'],
        ['c', 'store'],
      ],
    );
    assert.equal(b.counts.storeHits, 1);
    assert.equal(c.counts.storeHits, 1);
    assert.equal(stack.server.counts.total, 1);
  });

  it('flight: the first caller starts it (not coalesced), a concurrent one joins it (coalesced)', async () => {
    const flights = listen('flight');
    const { manager: m } = await manager(new MemoryStore());
    const [t1, t2] = await Promise.all([m.getToken(), m.getToken()]);
    assert.equal(t1, t2);
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(
      flights.map((f) => [f.coalesced, f.background, f.force]),
      [
        [false, false, false],
        [true, false, false],
      ],
    );
  });
});

describe('the minimum TTL and short lifetimes (#fits)', () => {
  it('a token living less than the safety margin, asked for without a minimum TTL: no MIN_TTL warning', async () => {
    stack.server.lifetime = 4; // below the 10 s margin
    const { manager: m, warnings } = await manager(new MemoryStore());
    await m.getToken();
    stack.now += 1_000;
    await m.getToken();
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(warnings, []);
  });

  it('a minimum TTL exactly the usable lifetime (lifetime less the margin) is cut to half, with one warning', async () => {
    const { manager: m, warnings } = await manager(new MemoryStore());
    const t1 = await m.getToken({ minTtlMs: 290_000 }); // 300 s less the 10 s margin
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['MIN_TTL_EXCEEDS_LIFETIME'],
    );
    stack.now += 1_000;
    assert.equal((await m.getToken({ minTtlMs: 290_000 })).accessToken, t1.accessToken, 'from memory');
    assert.equal(stack.server.counts.total, 1);
    assert.equal(warnings.length, 1, 'said once');
  });

  it('1 ms less than the usable lifetime is met by a new token: no warning', async () => {
    const { manager: m, warnings } = await manager(new MemoryStore());
    const t1 = await m.getToken({ minTtlMs: 289_999 });
    assert.equal((await m.getToken({ minTtlMs: 289_999 })).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(warnings, []);
  });
});

describe('a lazy client that cannot be built (#loadClient)', () => {
  it('an error that is not a TokenwardError becomes a ClientSetupError with the original as its cause', async () => {
    const m = new TokenManager({
      client: {
        identity: { token_url: 'http://127.0.0.1/token' },
        create: async () => {
          throw new TypeError('the grant module is missing');
        },
      },
      key: KEY,
      store: new MemoryStore(),
      clock: stack.clock,
    });
    await assert.rejects(m.getToken(), (e) => {
      assert.ok(e instanceof ClientSetupError);
      assert.equal(e.message, 'the token client could not be built: the grant module is missing');
      const cause = e.cause as Error | undefined;
      assert.equal(cause?.name, 'TypeError');
      assert.equal(cause?.message, 'the grant module is missing');
      return true;
    });
  });
});

/** A manager (memory store, eager at half the lifetime) whose background renewal just failed. */
async function afterFailedBackgroundRenewal() {
  const store = new MemoryStore();
  const { manager: m, warnings } = await manager(store, { eagerRefreshFraction: 0.5 });
  const t1 = await m.getToken();
  stack.server.fault = { ...SERVER_ERROR, times: 1 };
  stack.now += 200_000; // past the eager point, 100 s left
  assert.equal((await m.getToken()).accessToken, t1.accessToken);
  await m.close(); // waits for the background renewal
  assert.equal(stack.server.counts.total, 2);
  assert.equal((await store.get(KEY))?.lastError?.status, 500, 'the failure is recorded');
  return { m, t1, store, warnings };
}

describe('a failure recorded within the retry gap (#plan, #servable, #settle)', () => {
  it('force still renews (a forced renewal has no token to fall back to)', async () => {
    const { m, t1 } = await afterFailedBackgroundRenewal();
    const t2 = await m.getToken({ force: true });
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 3);
  });

  it('a token an API rejected (invalidate) is not served from the record: a new one is obtained', async () => {
    const { m, t1 } = await afterFailedBackgroundRenewal();
    m.invalidate(t1.accessToken);
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 3);
  });

  it('a minimum TTL the token does not meet serves it with the recorded error: one served-stale event', async () => {
    const { m, t1, warnings } = await afterFailedBackgroundRenewal();
    const stale = listen('servedStale');
    assert.equal((await m.getToken({ minTtlMs: 150_000 })).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, 'backed off: no request');
    assert.equal(stale.length, 1);
    assert.equal(stale[0]?.errorCode, m.lastError?.code);
    assert.equal(stale[0]?.expiresAt, t1.expiresAt);
    assert.equal(statusOf(m.lastError), 500);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
  });
});

describe('Retry-After (#plan)', () => {
  it('no request before notBefore, and one at exactly notBefore', async () => {
    const store = new MemoryStore();
    const { manager: m } = await manager(store);
    await m.getToken();
    stack.now += 400_000; // expired
    stack.server.fault = {
      status: 503,
      body: '{"error":"temporarily_unavailable"}',
      headers: { 'retry-after': '30' },
      times: 1,
    };
    await assert.rejects(m.getToken(), (e) => e instanceof TokenEndpointError && e.status === 503);
    assert.equal(stack.server.counts.total, 2);
    stack.now += 29_999;
    await assert.rejects(m.getToken(), (e) => e instanceof TokenEndpointError && e.status === 503);
    const { manager: other } = await manager(store);
    await assert.rejects(other.getToken(), (e) => e instanceof TokenEndpointError && e.status === 503);
    assert.equal(stack.server.counts.total, 2, 'neither this manager nor another on the store asks');
    stack.now += 1;
    await m.getToken();
    assert.equal(stack.server.counts.total, 3, 'at notBefore: one request');
  });
});

describe('a failure the lock holder recorded while this caller waited (#plan after the lock)', () => {
  /**
   * Managers `a` and `b` on one shared store, both holding t1. `a` renews (its request held at the
   * server); `b` is started by `startB` and waits for the lock; then the server answers `a` with a 500.
   */
  async function holderFails(
    aRenews: (a: TokenManager) => Promise<unknown>,
    startB: (b: TokenManager) => Promise<unknown>,
    bOptions: Partial<TokenManagerOptions> = {},
  ) {
    const store = new SharedMemoryStore();
    const generous = { optionalBudgetMs: 600_000 }; // the lock wait and the requests are never cut short
    const a = await manager(store, { eagerRefreshFraction: 0.5, ...generous });
    const b = await manager(store, { ...generous, ...bOptions });
    const t1 = await a.manager.getToken();
    assert.equal((await b.manager.getToken()).accessToken, t1.accessToken);
    stack.now += 200_000;
    const held = holdRequests();
    stack.server.fault = { ...SERVER_ERROR, times: 1 };
    const aDone = aRenews(a.manager);
    // a's renewal ends when its getToken() does (required) or when close() has waited for it (background).
    const aFlight = aDone.then(
      () => a.manager.close(),
      () => undefined,
    );
    await before(held.arrived, aFlight, "a's request reaching the server");
    const bWaits = deferred();
    store.onLock = bWaits.resolve;
    const bDone = startB(b.manager);
    await before(bWaits.promise, bDone, 'b asking for the lock');
    held.release();
    return { a, b, t1, aDone, bDone, store };
  }

  it('a required renewal takes the holder’s failure (not optional) as its answer: no request of its own', async () => {
    const { bDone, aDone } = await holderFails(
      (a) => {
        stack.now += 200_000; // both tokens expired: a's renewal is required
        return a.getToken();
      },
      (b) => b.getToken(),
    );
    await assert.rejects(aDone, (e) => e instanceof TokenEndpointError && e.status === 500);
    await assert.rejects(
      bDone,
      (e) =>
        e instanceof TokenEndpointError && e.status === 500 && /a renewal 0 s ago failed so/.test(e.message),
    );
    assert.equal(stack.server.counts.total, 2, "t1, and a's renewal");
  });

  it('a forced renewal does not take the holder’s optional (cut-short) failure as its answer: it renews', async () => {
    const { a, t1, bDone } = await holderFails(
      (a) => a.getToken(), // past a's eager point: a background renewal (optional)
      (b) => b.getToken({ force: true }),
    );
    const t2 = (await bDone) as { accessToken: string };
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 3);
    assert.equal(refreshes(), 2);
    await a.manager.close();
    assert.deepEqual(
      a.warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
  });

  it('a caller with a valid token takes the holder’s optional failure as its answer: serves it, no request', async () => {
    const stale = listen('servedStale');
    const { a, b, t1, bDone } = await holderFails(
      (a) => a.getToken(),
      // 100 s left, 150 s asked for: an optional renewal; no retry gap, so only the holder's record stops it.
      (b) => b.getToken({ minTtlMs: 150_000 }),
      { eagerRetryGapMs: 0 },
    );
    assert.equal(((await bDone) as { accessToken: string }).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, "t1, and a's renewal");
    assert.equal(statusOf(b.manager.lastError), 500);
    await a.manager.close();
    assert.equal(stale.length, 1);
    assert.deepEqual(b.warnings, []);
  });
});

describe('the store lock (#acquire)', () => {
  it('an unshared store is not locked: no lock-wait event; a shared one: one, acquired', async () => {
    const waits = listen('lockWait');
    await (await manager(new MemoryStore())).manager.getToken();
    assert.equal(waits.length, 0);
    const shared = new SharedMemoryStore();
    await (await manager(shared)).manager.getToken();
    assert.deepEqual(
      waits.map((w) => [w.store, w.acquired]),
      [['memory', true]],
    );
    assert.equal(shared.locks.length, 1);
  });

  it('a store whose lock() ends the wait with no lock although nothing satisfied it: StoreError, no request, nothing served', async () => {
    const waits = listen('lockWait');
    const served = listen('served');
    const store = new SharedMemoryStore();
    store.endsWaitUnasked = true;
    const { manager: m } = await manager(store);
    const err = await m.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StoreError, `got ${String(err)}`);
    assert.equal(err.store, 'memory');
    assert.equal(
      err.message,
      "the memory store's lock() resolved without a lock while the caller still needed it",
    );
    assert.equal(stack.server.counts.total, 0, 'no token request');
    assert.deepEqual(
      waits.map((w) => [w.acquired, w.served]),
      [[false, false]],
    );
    assert.deepEqual(served, []);
    assert.deepEqual(m.counts, { grants: 0, refreshes: 0, storeHits: 0 });
    await m.close();
  });

  it('the wait: lockTimeoutMs for a required renewal; no more than the optional budget for an optional one', async () => {
    const store = new SharedMemoryStore();
    const { manager: m } = await manager(store, {
      eagerRefreshFraction: 0.5,
      lockTimeoutMs: 120_000,
      optionalBudgetMs: 60_000,
    });
    await m.getToken();
    assert.deepEqual(
      store.locks.map(({ ttlMs, timeoutMs }) => ({ ttlMs, timeoutMs })),
      [{ ttlMs: 10_000, timeoutMs: 120_000 }],
    );
    stack.now += 200_000;
    await m.getToken();
    await m.close();
    assert.equal(store.locks.length, 2);
    const optional = store.locks[1]?.timeoutMs ?? 0;
    assert.ok(optional > 30_000 && optional <= 60_000, `an optional renewal waits ${optional} ms`);
  });

  it('a required renewal that cannot take the lock in time fails with LockTimeoutError, no request', async () => {
    const store = new SharedMemoryStore();
    const waits = listen('lockWait');
    const held = await holdLock(store);
    try {
      const { manager: m } = await manager(store, { lockTimeoutMs: 1 });
      await assert.rejects(m.getToken(), (e) => e instanceof LockTimeoutError);
      assert.equal(stack.server.counts.total, 0);
      assert.deepEqual(
        waits.map((w) => w.acquired),
        [false],
      );
    } finally {
      await held.release();
    }
  });

  it('an optional renewal that cannot take the lock within its budget serves the valid token quietly', async () => {
    const store = new SharedMemoryStore();
    const { manager: m, warnings } = await manager(store, { eagerRefreshFraction: 0.5, optionalBudgetMs: 1 });
    const t1 = await m.getToken();
    stack.now += 200_000;
    const held = await holdLock(store);
    try {
      assert.equal((await m.getToken()).accessToken, t1.accessToken);
      await m.close();
    } finally {
      await held.release();
    }
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(warnings, [], 'another caller is renewing: nothing to warn about');
    assert.equal(m.lastError, undefined);
  });

  it('an optional renewal whose lock fails otherwise (the store is down) warns: that is not another caller renewing', async () => {
    const store = new SharedMemoryStore();
    const { manager: m, warnings } = await manager(store, { eagerRefreshFraction: 0.5 });
    const t1 = await m.getToken();
    stack.now += 200_000;
    store.lockError = new Error('the store is down');
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    await m.close();
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
    assert.match(String((warnings[0]?.cause as Error | undefined)?.message), /the store is down/);
  });
});

describe('the budget of an optional renewal (#acquire)', () => {
  /** The `optional` flag of the recorded failure and of the renewal-failed events. */
  async function failureFlags(store: MemoryStore, failed: Array<ChannelMessages['renewalFailed']>) {
    return {
      recorded: (await store.get(KEY))?.lastError?.optional,
      published: failed.map((f) => f.optional),
    };
  }

  it('a failed background renewal is recorded as optional', async () => {
    const failed = listen('renewalFailed');
    const { store } = await afterFailedBackgroundRenewal();
    assert.deepEqual(await failureFlags(store, failed), { recorded: true, published: [true] });
  });

  it('a failed required renewal is not', async () => {
    const failed = listen('renewalFailed');
    const store = new MemoryStore();
    const { manager: m } = await manager(store);
    await m.getToken();
    stack.now += 400_000;
    stack.server.fault = SERVER_ERROR;
    await assert.rejects(m.getToken(), (e) => e instanceof TokenEndpointError && e.status === 500);
    assert.deepEqual(await failureFlags(store, failed), { recorded: undefined, published: [false] });
  });

  it('an optional renewal whose token expired while it waited for the lock is required after it: no budget', async () => {
    const failed = listen('renewalFailed');
    const store = new SharedMemoryStore();
    const { manager: m, warnings } = await manager(store, {
      eagerRefreshFraction: 0.5,
      optionalBudgetMs: 600_000,
    });
    await m.getToken();
    stack.now += 200_000; // past the eager point
    const held = await holdLock(store);
    const waits = deferred();
    store.onLock = waits.resolve;
    await m.getToken(); // starts the background renewal, which waits for the lock
    await before(waits.promise, m.close(), 'the background renewal asking for the lock');
    stack.now += 200_000; // expired meanwhile
    stack.server.fault = SERVER_ERROR;
    await held.release();
    await m.close();
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(await failureFlags(store, failed), { recorded: undefined, published: [false] });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
  });

  it('a required renewal that finds a valid token (short of its minimum TTL) after the lock stays required', async () => {
    const failed = listen('renewalFailed');
    const store = new SharedMemoryStore();
    const { manager: m, warnings } = await manager(store);
    const held = await holdLock(store);
    const waits = deferred();
    store.onLock = waits.resolve;
    const done = m.getToken({ minTtlMs: 200_000 }); // cold: required
    await before(waits.promise, done, 'the renewal asking for the lock');
    // Meanwhile another process stored a token with 150 s left: valid, but short of the 200 s asked for.
    const theirs = parseTokenResponse(
      { access_token: 'at-of-another-process', expires_in: 300, refresh_token: 'rt-unknown-here' },
      { url: stack.server.tokenUrl, now: stack.now - 150_000 },
    );
    const entry: StoredEntry = { v: 1, key: KEY, token: theirs, updatedAt: stack.now };
    await store.set(entry);
    stack.server.fault = SERVER_ERROR;
    await held.release();
    assert.equal(
      (await done).accessToken,
      theirs.accessToken,
      'the renewal failed: the valid token is served',
    );
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(await failureFlags(store, failed), { recorded: undefined, published: [false] });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['SERVED_STALE_MARGIN'],
    );
  });

  it('a budget that runs out aborts the request with the reason "optional renewal budget used up"', async () => {
    // A scripted client that, like fetch(), rejects with the abort signal's reason and otherwise never
    // answers its second request: what ends that request is the budget alone.
    let calls = 0;
    const client: TokenClient = {
      identity: { token_url: 'http://127.0.0.1/token' },
      fetchToken: (ctx) => {
        calls++;
        if (calls === 1)
          return Promise.resolve(
            parseTokenResponse(
              { access_token: 'at-first-one', expires_in: 300 },
              { url: 'http://127.0.0.1/token', now: ctx.now() },
            ),
          );
        return new Promise((_, reject) => {
          ctx.signal?.addEventListener('abort', () => reject(ctx.signal?.reason), { once: true });
        });
      },
    };
    const { manager: m, warnings } = makeManager(client, new MemoryStore(), stack.clock, {
      eagerRefreshFraction: 0.5,
      optionalBudgetMs: 1,
      closeTimeoutMs: 20_000, // a safety net: a budget that never ran out would leave the request hanging
    });
    await m.getToken();
    stack.now += 200_000;
    await m.getToken();
    await m.close();
    assert.equal(calls, 2);
    assert.equal(warnings.length, 1);
    const err = warnings[0]?.cause as TokenwardError | undefined;
    assert.equal(err?.code, 'ERR_TIMEOUT');
    assert.equal((err?.cause as Error | undefined)?.message, 'optional renewal budget used up');
  });

  it('the budget timer is cleared when the renewal ends (not left to fire later)', async () => {
    const BUDGET = 987_654; // a delay no other timer here has
    const ours = new Set<number>();
    const gone = new Set<number>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        const delay = (resource as { _idleTimeout?: unknown })._idleTimeout;
        if (type === 'Timeout' && typeof delay === 'number' && delay > BUDGET - 60_000 && delay <= BUDGET)
          ours.add(id);
      },
      destroy(id) {
        if (ours.has(id)) gone.add(id);
      },
    });
    hook.enable();
    try {
      const { manager: m } = await manager(new MemoryStore(), {
        eagerRefreshFraction: 0.5,
        optionalBudgetMs: BUDGET,
      });
      const t1 = await m.getToken();
      stack.now += 200_000;
      await m.getToken();
      await m.close();
      assert.notEqual((await m.getToken()).accessToken, t1.accessToken, 'renewed');
      assert.equal(ours.size, 1, 'one budget timer');
      // Destroy hooks run soon after clearTimeout, on a later turn of the event loop.
      for (let i = 0; i < 20 && gone.size < ours.size; i++) await turn();
      assert.equal(gone.size, 1, 'and it is gone');
    } finally {
      hook.disable();
    }
  });
});
