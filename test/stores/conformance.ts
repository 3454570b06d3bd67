/**
 * The TokenStore conformance suite, run against every store (memory, file, postgres, redis).
 * `open(t)` returns a fresh, empty store (or undefined when the test was skipped).
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { StoredEntry, StoreLock, TokenStore } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';

export interface Opened {
  store: TokenStore;
  warnings: string[];
  cleanup(): Promise<void>;
  /** Opens a second store on the same backing (directory, table, prefix; same encryption key). */
  reopen?(): Promise<TokenStore>;
  /**
   * Takes the lock on `key` away from its holder behind the store's back, as a server restart, an
   * administrator or another process that judged it stale would (deletes the Redis key or lock file,
   * terminates the PostgreSQL lock session).
   */
  stealLock?(key: string): Promise<void>;
}

export type Opener = (t: TestContext) => Promise<Opened | undefined>;

let n = 0;
export function sampleToken(over: Partial<Token> = {}): Token {
  n++;
  const now = Date.now();
  return {
    accessToken: `at-sample-${n}-${Math.random().toString(36).slice(2)}`,
    tokenType: 'Bearer',
    expiresAt: now + 3_600_000,
    obtainedAt: now,
    expirySource: 'expires_in',
    refreshToken: `rt-sample-${n}-${Math.random().toString(36).slice(2)}`,
    scope: 'read write',
    raw: { token_type: 'Bearer', expires_in: 3600 },
    ...over,
  };
}

export function sampleEntry(key: string, over: Partial<StoredEntry> = {}): StoredEntry {
  return {
    v: 1,
    key,
    profile: 'sample',
    identity: { token_url: 'http://127.0.0.1/token', client_id: 'c1' },
    token: sampleToken(),
    updatedAt: Date.now(),
    ...over,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withStore(t: TestContext, open: Opener, fn: (o: Opened) => Promise<void>): Promise<void> {
  const o = await open(t);
  if (o === undefined) return;
  try {
    await fn(o);
  } finally {
    await o.store.close();
    await o.cleanup();
  }
}

export function conformance(name: string, open: Opener): void {
  describe(`TokenStore conformance: ${name}`, () => {
    test('get/set/delete round-trip', async (t) => {
      await withStore(t, open, async ({ store }) => {
        assert.equal(await store.get('k-missing'), undefined);
        const e = sampleEntry('k-one');
        await store.set(e);
        assert.deepEqual(await store.get('k-one'), e);
        const e2 = sampleEntry('k-one', { updatedAt: e.updatedAt + 1 });
        await store.set(e2);
        assert.deepEqual(await store.get('k-one'), e2);
        await store.delete('k-one');
        assert.equal(await store.get('k-one'), undefined);
        await store.delete('k-one'); // deleting a missing key is fine
      });
    });

    test('an entry with only a last error round-trips', async (t) => {
      await withStore(t, open, async ({ store }) => {
        const e: StoredEntry = {
          v: 1,
          key: 'k-err',
          lastError: { code: 'ERR_NETWORK', message: 'refused', at: Date.now() },
          updatedAt: Date.now(),
        };
        await store.set(e);
        assert.deepEqual(await store.get('k-err'), e);
      });
    });

    test('list returns every entry', async (t) => {
      await withStore(t, open, async ({ store }) => {
        assert.deepEqual(await store.list(), []);
        const a = sampleEntry('k-a');
        const b = sampleEntry('k-b');
        await store.set(a);
        await store.set(b);
        const got = (await store.list()).sort((x, y) => x.key.localeCompare(y.key));
        assert.deepEqual(got, [a, b]);
      });
    });

    test('the lock is exclusive', async (t) => {
      await withStore(t, open, async ({ store }) => {
        let inside = 0;
        let maxInside = 0;
        let counter = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            const lock = await store.lock('k-lock', { ttlMs: 30_000, timeoutMs: 30_000 });
            inside++;
            maxInside = Math.max(maxInside, inside);
            const seen = counter;
            await sleep(5);
            counter = seen + 1;
            inside--;
            await lock.release();
          }),
        );
        assert.equal(maxInside, 1);
        assert.equal(counter, 8);
      });
    });

    test('locks on different keys are independent', async (t) => {
      await withStore(t, open, async ({ store }) => {
        const a = await store.lock('k-x', { ttlMs: 30_000, timeoutMs: 1_000 });
        const b = await store.lock('k-y', { ttlMs: 30_000, timeoutMs: 1_000 });
        await a.release();
        await b.release();
      });
    });

    test('waiting too long gives LockTimeoutError; release frees the lock; double release is a no-op', async (t) => {
      await withStore(t, open, async ({ store }) => {
        const a = await store.lock('k-to', { ttlMs: 30_000, timeoutMs: 1_000 });
        await assert.rejects(store.lock('k-to', { ttlMs: 30_000, timeoutMs: 150 }), {
          name: 'LockTimeoutError',
          code: 'ERR_LOCK_TIMEOUT',
        });
        await a.release();
        await a.release();
        const b = await store.lock('k-to', { ttlMs: 30_000, timeoutMs: 1_000 });
        await b.release();
      });
    });

    test('lease: a live holder keeps its lock past its lease (the store renews it) and is not lost', async (t) => {
      await withStore(t, open, async ({ store, warnings }) => {
        if (!store.shared) {
          t.skip('an unshared store has no lease (its holder is this process)');
          return;
        }
        const lock = await store.lock('k-renew', { ttlMs: 1_500, timeoutMs: 1_000 });
        // Several leases pass while it is held; every other taker waits in vain.
        let refused = 0;
        const until = Date.now() + 4_500;
        while (Date.now() < until) {
          await assert.rejects(store.lock('k-renew', { ttlMs: 1_500, timeoutMs: 200 }), {
            code: 'ERR_LOCK_TIMEOUT',
          });
          refused++;
          await sleep(300);
        }
        assert.ok(refused >= 3, `refused ${refused} times`);
        assert.equal(lock.lost, false);
        await lock.release();
        const again = await store.lock('k-renew', { ttlMs: 1_500, timeoutMs: 1_000 });
        await again.release();
        assert.deepEqual(warnings, []);
      });
    });

    test('lease: a holder that stops renewing (its store closed) frees the key within a lease; its late release does not free the next holder', async (t) => {
      await withStore(t, open, async ({ store, reopen }) => {
        if (!store.shared || reopen === undefined) {
          t.skip('an unshared store has no lease');
          return;
        }
        const other = await reopen();
        const abandoned: StoreLock = await other.lock('k-ttl', { ttlMs: 500, timeoutMs: 1_000 });
        await other.close(); // stops renewing: the holder is as good as frozen
        assert.equal(abandoned.lost, true, 'a lock given up by close() reports itself lost');
        const next = await store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 30_000 });
        await abandoned.release(); // must not free `next`
        await assert.rejects(store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 150 }), {
          code: 'ERR_LOCK_TIMEOUT',
        });
        await next.release();
        const again = await store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 1_000 });
        await again.release();
      });
    });

    test('lease: a holder whose lock is taken away learns it (lost, and a warning) at its next renewal', async (t) => {
      await withStore(t, open, async ({ store, warnings, stealLock }) => {
        if (!store.shared || stealLock === undefined) {
          t.skip('an unshared store has no lease');
          return;
        }
        const lock = await store.lock('k-steal', { ttlMs: 600, timeoutMs: 1_000 });
        assert.equal(lock.lost, false);
        await stealLock('k-steal');
        const thief = await store.lock('k-steal', { ttlMs: 30_000, timeoutMs: 10_000 });
        const isLost = () => lock.lost === true;
        for (let i = 0; i < 300 && !isLost(); i++) await sleep(50);
        assert.equal(lock.lost, true, 'the old holder knows it lost the lock');
        assert.equal(warnings.filter((w) => /lost the .*lock/.test(w)).length, 1, warnings.join('\n'));
        await lock.release(); // a no-op for the thief's lock
        await assert.rejects(store.lock('k-steal', { ttlMs: 30_000, timeoutMs: 150 }), {
          code: 'ERR_LOCK_TIMEOUT',
        });
        assert.equal(thief.lost, false);
        await thief.release();
      });
    });

    test('keys are isolated: an entry is found only under its own key', async (t) => {
      await withStore(t, open, async ({ store }) => {
        await store.set(sampleEntry('k-iso-1'));
        assert.equal(await store.get('k-iso-2'), undefined);
      });
    });
  });
}
