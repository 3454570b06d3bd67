/**
 * The store lock is released on every path out of a flight — in particular when, once the lock is taken,
 * the re-read finds a token another process wrote while this one waited. (A lock kept there stayed held,
 * renewed, until the process closed its store: the herds saw lock timeouts and "lock lost on close".)
 * Real client stack and a real file store; the store is wrapped only to count lock and release calls and
 * to let "another process" write between the first read and the lock, which a test cannot time otherwise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LockOptions, StoredEntry, TokenStore } from '../../src/stores/types.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 3600, latencyMs: 0 });

/** A file store that counts locks and releases, and runs `beforeLock` once, as another process would. */
function counting(
  inner: TokenStore,
  beforeLock: () => Promise<void>,
): TokenStore & { locks: number; releases: number } {
  let once = true;
  const out = {
    kind: inner.kind,
    shared: inner.shared,
    locks: 0,
    releases: 0,
    get: (k: string) => inner.get(k),
    set: (e: StoredEntry) => inner.set(e),
    delete: (k: string) => inner.delete(k),
    list: () => inner.list(),
    close: () => inner.close(),
    // Forwards the options (`satisfied` included): the wrapper keeps the inner store's behaviour.
    lock: (async (k: string, o: LockOptions) => {
      if (once) {
        once = false;
        await beforeLock();
      }
      const l = await inner.lock(k, o);
      if (l === undefined) return undefined;
      out.locks++;
      return {
        get lost() {
          return l.lost === true;
        },
        release: async () => {
          out.releases++;
          await l.release();
        },
      };
    }) as TokenStore['lock'],
  };
  return out;
}

describe('the store lock is released on every path', () => {
  it('a token written by another process while this one waited: served, lock released', async () => {
    const client = await realClient(stack.server);
    // "Another process" obtains and stores a token just before this one takes the lock.
    const other = makeManager(client, stack.stores.store(), stack.clock).manager;
    const store = counting(stack.stores.store(), async () => {
      await other.getToken();
    });
    const { manager } = makeManager(client, store, stack.clock);
    const t = await manager.getToken();
    assert.equal(stack.server.counts.total, 1, "the other process's token is used");
    assert.equal(t.accessToken, (await other.getToken()).accessToken);
    assert.deepEqual([store.locks, store.releases], [1, 1]);
    // The key is free: a forced renewal takes the lock again at once.
    await manager.getToken({ force: true });
    assert.deepEqual([store.locks, store.releases], [2, 2]);
    await other.close();
    await manager.close();
  });

  it('a failure recorded by the holder it waited for: that error, lock released', async () => {
    const client = await realClient(stack.server);
    const other = makeManager(client, stack.stores.store(), stack.clock).manager;
    stack.server.fault = { status: 400, body: JSON.stringify({ error: 'invalid_client' }) };
    const store = counting(stack.stores.store(), async () => {
      await other.getToken().catch(() => {});
    });
    const { manager } = makeManager(client, store, stack.clock);
    await assert.rejects(
      manager.getToken(),
      (e: unknown) => (e as { error?: string }).error === 'invalid_client',
    );
    assert.equal(stack.server.counts.total, 1, 'the holder’s failure is the answer: no second request');
    assert.deepEqual([store.locks, store.releases], [1, 1]);
    await other.close();
    await manager.close();
  });
});
