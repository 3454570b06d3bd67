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
  /**
   * Makes the lock held on `key` look held by a process on another host. The file store never breaks
   * a lock of a live process on its own host on age alone, so its TTL applies to such holders only.
   */
  holderElsewhere?(key: string): Promise<void>;
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

    test('a lock whose holder never releases frees itself after its TTL; the old holder cannot release the new lock', async (t) => {
      await withStore(t, open, async ({ store, holderElsewhere }) => {
        if (!store.shared) {
          t.skip('an unshared store has no TTL (its holder is this process)');
          return;
        }
        const lost: StoreLock = await store.lock('k-ttl', { ttlMs: 300, timeoutMs: 1_000 });
        await holderElsewhere?.('k-ttl');
        // Never released: the next taker gets it once the TTL has passed.
        const next = await store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 15_000 });
        await lost.release(); // must not free `next`
        await assert.rejects(store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 150 }), {
          code: 'ERR_LOCK_TIMEOUT',
        });
        await next.release();
        const again = await store.lock('k-ttl', { ttlMs: 30_000, timeoutMs: 1_000 });
        await again.release();
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
