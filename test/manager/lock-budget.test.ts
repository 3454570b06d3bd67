/**
 * Lock lease and wait derived from the client's HTTP budget, and close() bounded (issue 11).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NetworkError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import {
  DEFAULT_LOCK_LEASE_MS,
  defaultLockWaitMs,
  TokenManager,
  type TokenwardWarning,
} from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { LockOptions, StoredEntry } from '../../src/stores/types.js';
import { httpBudgetMs } from '../../src/token-client.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

let releaseHang: (() => void) | undefined;

afterEach(() => {
  releaseHang?.();
  releaseHang = undefined;
});

describe('the HTTP budget and the lock parameters', () => {
  it('httpBudgetMs: attempts x timeout + retries x the cap of one wait', () => {
    assert.equal(httpBudgetMs(), 50_000);
    assert.equal(httpBudgetMs({ timeoutMs: 2_000, retries: 1 }), 14_000);
    assert.equal(httpBudgetMs({ timeoutMs: 5_000, retries: 0 }), 5_000);
    assert.equal(httpBudgetMs({ timeoutMs: 1_000, retries: 3, retryMaxMs: 500 }), 5_500);
  });

  it('createTokenManager: the client carries the profile’s budget; lease 10 s; wait = 2 x budget + lease', async () => {
    const m = await createTokenManager(
      {
        token_url: stack.server.tokenUrl,
        client_id: 'c',
        client_secret: 'manager-tests-secret',
        timeout: 2,
        retries: 1,
      },
      { store: new MemoryStore() },
    );
    assert.deepEqual(m.parameters, {
      budgetMs: 14_000,
      optionalBudgetMs: 10_000,
      retryGapMs: 5_000,
      lockLeaseMs: DEFAULT_LOCK_LEASE_MS,
      lockTimeoutMs: defaultLockWaitMs(14_000, 10_000),
      closeTimeoutMs: 38_000,
    });
    assert.equal(defaultLockWaitMs(14_000, 10_000), 38_000);
    await m.close();
  });

  it('createTokenManager passes tuning through', async () => {
    const m = await createTokenManager(
      { token_url: stack.server.tokenUrl, client_id: 'c', client_secret: 'manager-tests-secret' },
      {
        store: new MemoryStore(),
        tuning: {
          optionalBudgetMs: 2_000,
          eagerRetryGapMs: 30_000,
          lockLeaseMs: 4_000,
          closeTimeoutMs: 1_000,
        },
      },
    );
    assert.deepEqual(m.parameters, {
      budgetMs: 50_000,
      optionalBudgetMs: 2_000,
      retryGapMs: 30_000,
      lockLeaseMs: 4_000,
      lockTimeoutMs: 104_000,
      closeTimeoutMs: 1_000,
    });
    await m.close();
  });

  it('defaults: a 50 s budget gives a 110 s wait; the optional budget never exceeds the client budget', async () => {
    const dflt = makeManager(await realClient(stack.server, { retries: 2 }), new MemoryStore(), stack.clock);
    assert.equal(dflt.manager.parameters.budgetMs, 50_000);
    assert.equal(dflt.manager.parameters.lockTimeoutMs, 110_000);
    const quick = makeManager(await realClient(stack.server, { timeout: 3 }), new MemoryStore(), stack.clock);
    assert.equal(quick.manager.parameters.budgetMs, 3_000);
    assert.equal(quick.manager.parameters.optionalBudgetMs, 3_000);
  });

  it('the store lock is taken with the short lease and the derived wait (a shorter one for optional renewals)', async () => {
    const taken: LockOptions[] = [];
    const store = stack.stores.store();
    const lock = store.lock.bind(store);
    store.lock = ((key: string, options: LockOptions) => {
      taken.push(options);
      return lock(key, options);
    }) as typeof store.lock;
    const client = await realClient(stack.server, { timeout: 2, retries: 1 });
    const { manager } = makeManager(client, store, stack.clock, { optionalBudgetMs: 4_000 });
    const t1 = await manager.getToken();
    assert.deepEqual(
      taken.map(({ ttlMs, timeoutMs }) => ({ ttlMs, timeoutMs })),
      [{ ttlMs: 10_000, timeoutMs: 38_000 }],
    );
    assert.equal(typeof taken[0]?.satisfied, 'function', 'the wait may end with a token read from the store');
    stack.now += 250_000;
    await manager.getToken({ minTtlMs: t1.expiresAt - stack.now }); // optional: the token is still valid
    assert.equal(taken.length, 2);
    assert.equal(taken[1]!.ttlMs, 10_000);
    assert.ok(taken[1]!.timeoutMs > 0 && taken[1]!.timeoutMs <= 4_000, `got ${taken[1]!.timeoutMs}`);
    assert.equal(stack.server.counts.total, 2);
  });
});

/**
 * A store that stops answering, as a SIGSTOPped Redis or PostgreSQL does: its promises never settle.
 * (A test double on purpose: the real paused servers are the store tests' subject; here only the
 * manager's bound on waiting for one is.)
 */
class StalledStore extends MemoryStore {
  override readonly shared = true as unknown as false;
  stall = false;
  override set(entry: StoredEntry): Promise<void> {
    return this.stall ? new Promise(() => {}) : super.set(entry);
  }
  override close(): Promise<void> {
    return this.stall ? new Promise(() => {}) : super.close();
  }
}

describe('close() is bounded', () => {
  it('a flight stuck on a store that stopped answering: close() gives up after closeTimeoutMs', async () => {
    const store = new StalledStore();
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: await realClient(stack.server),
      key: 'k',
      store,
      ownsStore: true,
      clock: stack.clock,
      closeTimeoutMs: 300,
      onWarning: (w) => warnings.push(w),
    });
    store.stall = true;
    const stuck = m.getToken();
    stuck.catch(() => {});
    while (stack.server.counts.total < 1) await new Promise((r) => setTimeout(r, 5));
    await m.close();
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['CLOSE_TIMEOUT', 'CLOSE_TIMEOUT'],
      'one for the flight, one for the store',
    );
    assert.equal(stack.server.counts.total, 1);
  });

  /** A manager whose token endpoint hangs from now on (two tries of 120 ms allowed, close gives up after 300 ms). */
  async function hangingManager(): Promise<ReturnType<typeof makeManager>> {
    return makeManager(
      await realClient(stack.server, { timeout: 120, retries: 2 }),
      stack.stores.store(),
      stack.clock,
      { closeTimeoutMs: 300 },
    );
  }

  /** Makes the endpoint hang, starts `get`, waits until its request reached the server, then closes. */
  async function closeDuringHang(manager: { close(): Promise<void> }, get: () => Promise<unknown>) {
    const p = new Promise<void>((resolve) => {
      releaseHang = resolve;
    });
    stack.server.onRequest = () => p;
    const before = stack.server.counts.total;
    const stuck = get();
    stuck.catch(() => {});
    while (stack.server.counts.total < before + 1) await new Promise((r) => setTimeout(r, 5));
    await manager.close();
    await assert.rejects(stuck, NetworkError);
  }

  it('a flight stuck on a hanging token endpoint: close() aborts its request', async () => {
    const { manager, warnings } = await hangingManager();
    await closeDuringHang(manager, () => manager.getToken());
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['CLOSE_TIMEOUT'],
    );
    assert.equal(stack.server.counts.total, 1, 'aborted, not retried');
  });

  it('after close() gave up on a flight, a new token request is refused without reaching the server', async () => {
    const { manager } = await hangingManager();
    await closeDuringHang(manager, () => manager.getToken());
    releaseHang?.();
    stack.server.onRequest = undefined;
    await assert.rejects(manager.getToken(), (err: unknown) => err instanceof NetworkError);
    await assert.rejects(manager.getToken({ force: true }), (err: unknown) => err instanceof NetworkError);
    assert.equal(stack.server.counts.total, 1, 'no request after close()');
  });

  it('token requests after finished ones still work, and close() aborts the one in flight', async () => {
    const { manager, warnings } = await hangingManager();
    await manager.getToken({ force: true });
    await manager.getToken({ force: true });
    assert.equal(stack.server.counts.total, 2);
    await closeDuringHang(manager, () => manager.getToken({ force: true }));
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['CLOSE_TIMEOUT'],
    );
    assert.equal(stack.server.counts.total, 3, 'aborted, not retried');
  });

  it('a flight that finishes in time is waited for (close() does not cut it short)', async () => {
    stack.server.latencyMs = 200;
    try {
      const { manager, warnings } = makeManager(
        await realClient(stack.server),
        stack.stores.store(),
        stack.clock,
      );
      const p = manager.getToken();
      await manager.close();
      assert.ok((await p).accessToken.startsWith('at-'));
      assert.deepEqual(warnings, []);
    } finally {
      stack.server.latencyMs = 0;
    }
  });
});
