/**
 * The store lock is released on every path out of a flight — in particular when, once the lock is taken,
 * the re-read finds a token another process wrote while this one waited. (A lock kept there stayed held,
 * renewed, until the process closed its store: the herds saw lock timeouts and "lock lost on close".)
 * Real client stack and a real file store; the store is wrapped only to count lock and release calls and
 * to let "another process" write between the first read and the lock, which a test cannot time otherwise.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { StoredEntry, TokenStore } from '../../src/stores/types.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { fileStores, makeManager, realClient } from './real-stack.js';

let server: TokenServer;
let stores: Awaited<ReturnType<typeof fileStores>>;
let now: number;
const clock = () => now;

before(async () => {
  server = await startTokenServer({ lifetime: 3600, latencyMs: 0 });
});
after(() => server.close());
beforeEach(async () => {
  server.reset();
  now = Date.now();
  stores = await fileStores();
});
afterEach(() => stores.cleanup());

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
    async lock(k: string, o: Parameters<TokenStore['lock']>[1]) {
      if (once) {
        once = false;
        await beforeLock();
      }
      const l = await inner.lock(k, o);
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
    },
  };
  return out;
}

describe('the store lock is released on every path', () => {
  it('a token written by another process while this one waited: served, lock released', async () => {
    const client = await realClient(server);
    // "Another process" obtains and stores a token just before this one takes the lock.
    const other = makeManager(client, stores.store(), clock).manager;
    const store = counting(stores.store(), async () => {
      await other.getToken();
    });
    const { manager } = makeManager(client, store, clock);
    const t = await manager.getToken();
    assert.equal(server.counts.total, 1, "the other process's token is used");
    assert.equal(t.accessToken, (await other.getToken()).accessToken);
    assert.deepEqual([store.locks, store.releases], [1, 1]);
    // The key is free: a forced renewal takes the lock again at once.
    await manager.getToken({ force: true });
    assert.deepEqual([store.locks, store.releases], [2, 2]);
    await other.close();
    await manager.close();
  });

  it('a failure recorded by the holder it waited for: that error, lock released', async () => {
    const client = await realClient(server);
    const other = makeManager(client, stores.store(), clock).manager;
    server.fault = { status: 400, body: JSON.stringify({ error: 'invalid_client' }) };
    const store = counting(stores.store(), async () => {
      await other.getToken().catch(() => {});
    });
    const { manager } = makeManager(client, store, clock);
    await assert.rejects(
      manager.getToken(),
      (e: unknown) => (e as { error?: string }).error === 'invalid_client',
    );
    assert.equal(server.counts.total, 1, 'the holder’s failure is the answer: no second request');
    assert.deepEqual([store.locks, store.releases], [1, 1]);
    await other.close();
    await manager.close();
  });
});
