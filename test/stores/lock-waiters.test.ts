/**
 * Lock waiters served from the store without the lock (`LockOptions.satisfied`): a caller that waits for
 * the store's lock while another renews is served the holder's token by a re-read after the holder's
 * release, instead of taking the lock in turn — on the file store (polling and directory watch), Redis
 * (pub/sub and polling) and PostgreSQL (the shared-lock barrier).
 *
 * Everything is counted, nothing timed: the managers' stores are wrapped to count the locks they take,
 * the waits that ended without one and the re-reads; "all waiters are waiting" is observed (a re-read
 * made, or — PostgreSQL, whose waiters re-read only once woken — the server's own list of waiting
 * advisory locks), never guessed from a delay; the token server holds the holder's request until then.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { LockTimeoutError, StoreError } from '../../src/errors.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { type ChannelMessages, channels } from '../../src/observe/channels.js';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import type {
  LockOptions,
  LockWaitRead,
  StoredEntry,
  StoreLock,
  TokenStore,
} from '../../src/stores/types.js';
import { LockWaiters } from '../../src/stores/util.js';
import { dropPrefix, dropTable, requireService, uniqueName, withPg, withRedis } from '../helpers/services.js';
import { until } from '../helpers/wait.js';
import { makeManager, realClient, useRealStack } from '../manager/real-stack.js';
import { sampleEntry } from './conformance.js';

const stack = useRealStack({ lifetime: 3600, latencyMs: 0 });
const TEST_LIMIT = { timeout: 300_000 } as const;
/** Waiters that could wait for the lock much longer than any test runs. */
const LONG_WAIT = { ttlMs: 30_000, timeoutMs: 600_000 };
const N_WAITERS = 4;

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

/**
 * While a test holds the waiters' re-reads ({@link holdReReads}), a re-read waits, and one under way is
 * made again once they are let go. A polling waiter's re-read that started before the holder stored its
 * token and ended after it (false) would otherwise be followed by a lock attempt after the holder's
 * release, which succeeds: the waiter takes the lock (and is then served by its re-read under the
 * lock). That is correct, but a matter of timing; the tests count what a waiter whose re-read comes
 * after the holder is done does.
 */
let held: { promise: Promise<void>; resolve: () => void } | undefined;
let holds = 0;
/** Holds the waiters' re-reads until the returned function is called. */
function holdReReads(): () => void {
  const d = deferred();
  held = d;
  holds++;
  return () => {
    held = undefined;
    d.resolve();
  };
}

/** A store wrapped to count what its lock() does; `ignoreSatisfied` makes it a store that ignores the option. */
interface Counting extends TokenStore {
  /** lock() calls. */
  asked: number;
  /** Locks taken. */
  taken: number;
  /** Waits that ended without a lock (`satisfied` said so). */
  satisfiedWaits: number;
  /** Calls of the caller's `satisfied`, and how many of them said `true`. */
  checks: number;
  /** `checks` per lock key: a barrier for one key's wait is not passed by an earlier key's checks. */
  checksByKey: Map<string, number>;
  yes: number;
  /** get() calls. */
  gets: number;
  /** `satisfied` calls that said `true` with an entry the store handed over (read with the wake-up). */
  yesHanded: number;
  /** get() calls made during the `satisfied` calls that said `true`. */
  getsInYes: number;
}

function counting(inner: TokenStore, ignoreSatisfied = false): Counting {
  const out: Counting = {
    kind: inner.kind,
    shared: inner.shared,
    asked: 0,
    taken: 0,
    satisfiedWaits: 0,
    checks: 0,
    checksByKey: new Map(),
    yes: 0,
    gets: 0,
    yesHanded: 0,
    getsInYes: 0,
    get: (k: string) => {
      out.gets++;
      return inner.get(k);
    },
    set: (e: StoredEntry) => inner.set(e),
    delete: (k: string) => inner.delete(k),
    list: () => inner.list(),
    close: () => inner.close(),
    lock: (async (k: string, o: LockOptions): Promise<StoreLock | undefined> => {
      out.asked++;
      const { satisfied, ...rest } = o;
      const counted =
        satisfied === undefined || ignoreSatisfied
          ? rest
          : {
              ...rest,
              satisfied: async (handed?: LockWaitRead) => {
                // An entry handed over was read with a release, after the holder's write: it stays good
                // across a hold.
                const read = handed;
                for (;;) {
                  while (held !== undefined) await held.promise;
                  const hold = holds;
                  out.checks++;
                  out.checksByKey.set(k, (out.checksByKey.get(k) ?? 0) + 1);
                  const gets = out.gets;
                  const yes = await satisfied(read);
                  // Overlapped a hold (the holder finishing): read again once it is over.
                  if (hold !== holds || held !== undefined) continue;
                  if (yes) {
                    out.yes++;
                    if (read !== undefined) out.yesHanded++;
                    out.getsInYes += out.gets - gets;
                  }
                  return yes;
                }
              },
            };
      const l = await inner.lock(k, counted);
      if (l === undefined) out.satisfiedWaits++;
      else out.taken++;
      return l;
    }) as TokenStore['lock'],
  };
  return out;
}

/** A backend shared by several stores ("processes"), and how to see that a manager's caller waits for the lock. */
interface Backend {
  name: string;
  /** One more store on the backend. */
  open(): TokenStore;
  /** Resolves once `n` callers wait for the lock of `key` (the stores in `waiters` count their re-reads). */
  waiting(key: string, waiters: Counting[], n: number): Promise<void>;
  cleanup(): Promise<void>;
}

type BackendFactory = (t: TestContext) => Promise<Backend | undefined>;

/**
 * Waiters that poll or are woken make a (failed) re-read after their first wait: that is "waiting".
 * Counted per key, so that a waiter's earlier wait on another key does not pass the barrier at once.
 */
function byChecks(key: string, waiters: Counting[], n: number): Promise<void> {
  return until(
    () => waiters.filter((w) => (w.checksByKey.get(key) ?? 0) > 0).length >= n,
    `${n} waiters re-read while waiting for ${key}`,
  );
}

function fileBackend(lockWakeups: boolean): BackendFactory {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-waiters-'));
    const key = randomBytes(32);
    return {
      name: lockWakeups ? 'file store, woken by the directory watch' : 'file store, polling',
      open: () => new FileStore({ dir, key, lockWakeups, onWarning: () => {} }),
      waiting: (k, w, n) => byChecks(k, w, n),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  };
}

function redisBackend(lockWakeups: boolean): BackendFactory {
  return async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return undefined;
    const prefix = `${uniqueName()}:`;
    const key = randomBytes(32);
    return {
      name: lockWakeups ? 'Redis, woken by pub/sub' : 'Redis, polling',
      open: () => new RedisStore({ url, prefix, key, lockWakeups, onWarning: () => {} }),
      waiting: (k, w, n) => byChecks(k, w, n),
      cleanup: () => dropPrefix(url, prefix),
    };
  };
}

/**
 * Advisory locks on the lock id of `table` + `key`, on its wake lock's id (`table` + `key` + `\0wake`), or
 * on either (classid = high 32 bits, objid = low 32 bits, objsubid = 1).
 */
async function pgAdvisory(
  url: string,
  table: string,
  key: string,
  granted: boolean,
  which: 'lock' | 'wake' | 'either' = 'either',
): Promise<number> {
  const ids = [`${table}\0${key}`, `${table}\0${key}\0wake`]
    .filter((_, i) => which === 'either' || (which === 'lock' ? i === 0 : i === 1))
    .map((s) => createHash('sha256').update(s).digest());
  let n = 0;
  for (const h of ids) {
    const r = await withPg(url, (c) =>
      c.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks
          WHERE locktype = 'advisory' AND granted = $3 AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
        [String(h.readUInt32BE(0)), String(h.readUInt32BE(4)), granted],
      ),
    );
    n += Number(r.rows[0]?.n ?? 0);
  }
  return n;
}

/**
 * Waiters wait at a barrier (a shared advisory lock on the wake lock or the lock, not granted while the
 * holder holds it).
 */
function pgWaiting(url: string, table: string): Backend['waiting'] {
  return async (k, _w, n) => {
    const deadline = Date.now() + 120_000;
    while ((await pgAdvisory(url, table, k, false)) < n) {
      if (Date.now() > deadline) throw new Error(`${n} PostgreSQL waiters never showed in pg_locks`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
}

function pgBackend(): BackendFactory {
  return async (t) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return undefined;
    const table = uniqueName();
    const key = randomBytes(32);
    return {
      name: 'PostgreSQL',
      open: () => new PostgresStore({ url, table, key, onWarning: () => {} }),
      waiting: pgWaiting(url, table),
      cleanup: () => dropTable(url, table),
    };
  };
}

const BACKENDS: Array<[string, BackendFactory]> = [
  ['file store, polling (the default)', fileBackend(false)],
  ['file store, lockWakeups: true', fileBackend(true)],
  ['Redis, pub/sub (the default)', redisBackend(true)],
  ['Redis, lockWakeups: false', redisBackend(false)],
  ['PostgreSQL', pgBackend()],
];

/** A promise and its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The window a waiter's last `satisfied` cannot see: it says "not yet", then — before the waiter's next
 * try — the holder stores the token and releases, so that try wins the lock. The store must ask once more
 * and serve the waiter without the lock. `satisfied` itself plays the holder on its first call; where
 * only a release wakes a waiter (PostgreSQL's barrier, the memory mutex) the test releases first and a
 * caller takes the lock, now free, in that call instead.
 */
async function wonJustAfterTheHolder(b: Backend, stores: TokenStore[]): Promise<void> {
  const open = () => {
    const s = counting(b.open());
    stores.push(s);
    return s;
  };
  const [holder, waiter, probe] = [open(), open(), open()];
  const key = 'k-race';
  let held: StoreLock | undefined = await holder.lock(key, LONG_WAIT);
  let asks = 0;
  const waiting = waiter.lock(key, {
    ...LONG_WAIT,
    satisfied: async () => {
      asks++;
      if (asks > 1) return (await waiter.get(key)) !== undefined;
      const h = held ?? (await holder.lock(key, { ttlMs: 30_000, timeoutMs: 1 }));
      held = undefined;
      await holder.set(sampleEntry(key));
      await h.release();
      return false; // read before the write: not yet
    },
  });
  await b.waiting(key, [waiter], 1);
  if (held !== undefined) {
    const h: StoreLock = held;
    held = undefined;
    await h.release();
  }
  const got = await waiting;
  await got?.release();
  assert.equal(got, undefined, 'served without the lock');
  assert.equal(asks, 2, '"not yet", then once more after winning the lock');
  assert.deepEqual([waiter.taken, waiter.satisfiedWaits, waiter.yes], [0, 1, 1]);
  // The lock it won was released: a caller that will not wait takes it at once.
  const free = await probe.lock(key, { ttlMs: 30_000, timeoutMs: 1 });
  await free.release();
}

async function withBackend(
  t: TestContext,
  factory: BackendFactory,
  fn: (b: Backend, stores: TokenStore[]) => Promise<void>,
): Promise<void> {
  const b = await factory(t);
  if (b === undefined) return;
  const stores: TokenStore[] = [];
  try {
    await fn(b, stores);
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await b.cleanup();
  }
}

for (const [label, factory] of BACKENDS) {
  describe(`lock waiters, ${label}`, () => {
    test(
      `${N_WAITERS} managers waiting while another renews are served from the store without taking the lock: 1 lock, 1 token request`,
      TEST_LIMIT,
      (t) =>
        withBackend(t, factory, async (b, stores) => {
          const client = await realClient(stack.server);
          const open = (ignore = false) => {
            const s = counting(b.open(), ignore);
            stores.push(s);
            return s;
          };
          const holderStore = open();
          const holder = makeManager(client, holderStore, stack.clock).manager;
          const waiterStores = Array.from({ length: N_WAITERS }, () => open());
          const waiters = waiterStores.map((s) => makeManager(client, s, stack.clock).manager);
          const served = listen('served');
          const waits = listen('lockWait');
          // The holder's request hangs until every waiter waits for the lock.
          const gate = deferred();
          stack.server.onRequest = () => gate.promise;
          const holding = holder.getToken();
          await until(() => stack.server.counts.total === 1, 'the holder asks for a token, holding the lock');
          const waiting = waiters.map((m) => m.getToken());
          await until(() => waiterStores.every((s) => s.asked === 1), 'every waiter asks for the lock');
          await b.waiting(holder.key, waiterStores, N_WAITERS);
          const letGo = holdReReads();
          gate.resolve();
          const token = await holding;
          letGo();
          const got = await Promise.all(waiting);
          for (const t2 of got) assert.equal(t2.accessToken, token.accessToken);
          assert.equal(stack.server.counts.total, 1, 'one token request');
          assert.deepEqual(
            [holderStore, ...waiterStores].map((s) => s.taken),
            [1, ...waiterStores.map(() => 0)],
            'one lock taken: the holder; no waiter ever held it',
          );
          assert.deepEqual(
            waiterStores.map((s) => [s.asked, s.satisfiedWaits, s.yes]),
            waiterStores.map(() => [1, 1, 1]),
            'each waiter: one wait, ended by one re-read that found the token',
          );
          assert.deepEqual(
            waiters.map((m) => m.counts),
            waiters.map(() => ({ grants: 0, refreshes: 0, storeHits: 1 })),
            'each waiter counts a store hit',
          );
          // PostgreSQL reads the entry in the round trip that waits for the release and hands it over:
          // the manager does not read it again. The file store hands nothing: the manager reads. (Redis
          // hands the entry its release message carried, unless a poll came first: see the tests below.)
          if (b.name === 'PostgreSQL') {
            assert.deepEqual(
              waiterStores.map((s) => [s.yesHanded, s.getsInYes]),
              waiterStores.map(() => [1, 0]),
              'served from the entry read with the release, without a read of its own',
            );
          } else if (b.name.startsWith('file')) {
            assert.deepEqual(
              waiterStores.map((s) => [s.yesHanded, s.getsInYes]),
              waiterStores.map(() => [0, 1]),
              'served by a read of its own',
            );
          }
          // Diagnostics as for a store hit: a lock wait that ended served, then `served` from the store.
          assert.equal(waits.filter((w) => !w.acquired && w.served).length, N_WAITERS);
          assert.equal(waits.filter((w) => w.acquired && !w.served).length, 1);
          assert.equal(served.filter((s) => s.source === 'store').length, N_WAITERS);
          await Promise.all([holder, ...waiters].map((m: TokenManager) => m.close()));
        }),
    );

    test(
      'store level: satisfied ends the wait with undefined and the lock stays free; false or throwing keeps waiting and takes it',
      TEST_LIMIT,
      (t) =>
        withBackend(t, factory, async (b, stores) => {
          const open = () => {
            const s = counting(b.open());
            stores.push(s);
            return s;
          };
          const [holder, w1, w2, w3, probe] = [open(), open(), open(), open(), open()];
          let released = false;
          const held = await holder.lock('k-sat', LONG_WAIT);
          const yes = w1.lock('k-sat', { ...LONG_WAIT, satisfied: async () => released });
          const no = w2.lock('k-sat', { ...LONG_WAIT, satisfied: async () => false });
          const throws = w3.lock('k-sat', {
            ...LONG_WAIT,
            satisfied: () => {
              if (released) throw new Error('the re-read failed');
              return Promise.reject(new Error('the re-read failed'));
            },
          });
          await b.waiting('k-sat', [w1, w2, w3], 3);
          released = true;
          await held.release();
          assert.equal(await yes, undefined, 'satisfied: no lock');
          // The other two take the lock one after the other (false / a rejection = "not satisfied").
          const first = await Promise.race([no, throws]);
          assert.ok(first !== undefined, 'not satisfied: a lock');
          await first.release();
          const [l2, l3] = await Promise.all([no, throws]);
          assert.ok(l2 !== undefined && l3 !== undefined);
          const second = l2 === first ? l3 : l2;
          await second.release();
          assert.deepEqual(
            [w1, w2, w3].map((s) => [s.taken, s.satisfiedWaits, s.yes]),
            [
              [0, 1, 1],
              [1, 0, 0],
              [1, 0, 0],
            ],
          );
          assert.ok(w2.checks >= 1 && w3.checks >= 1, 'the waiters that took the lock were asked first');
          // Nobody holds it now: a caller that will not wait takes it at once.
          const free = await probe.lock('k-sat', { ttlMs: 30_000, timeoutMs: 1 });
          await free.release();
        }),
    );

    test(
      'a waiter that wins the lock just after the holder stored the token and released it is served without it',
      TEST_LIMIT,
      (t) => withBackend(t, factory, wonJustAfterTheHolder),
    );
  });
}

test('memory store: a waiter that wins the lock just after the holder stored the token is served without it', (t) => {
  const shared = new MemoryStore();
  const memory: Backend = {
    name: 'memory',
    open: () => shared,
    waiting: async () => {}, // lock() waits on the mutex from its first, synchronous step
    cleanup: async () => {},
  };
  return withBackend(t, async () => memory, wonJustAfterTheHolder);
});

describe('a waiter whose re-read finds nothing usable still takes the lock (file store)', () => {
  /** A manager on its own counting store, a token in the store for it, and a raw lock held by another "process". */
  async function setup(options: Parameters<typeof makeManager>[3] = {}) {
    const client = await realClient(stack.server);
    const store = counting(stack.stores.store());
    const other = stack.stores.store();
    const { manager } = makeManager(client, store, stack.clock, options);
    return { client, store, other, manager };
  }

  test(
    'an invalidated token (an API rejected it): the lock is taken and a new token requested',
    TEST_LIMIT,
    async () => {
      const { store, other, manager } = await setup();
      const t0 = await manager.getToken();
      manager.invalidate(t0.accessToken);
      const before = { ...store };
      const held = await other.lock(manager.key, LONG_WAIT);
      const p = manager.getToken();
      await byChecks(manager.key, [store], 1);
      await held.release(); // nothing new written: the store still holds the rejected token
      const t1 = await p;
      assert.notEqual(t1.accessToken, t0.accessToken);
      assert.equal(stack.server.counts.total, 2, 'one request more');
      assert.equal(store.taken - before.taken, 1, 'the waiter took the lock');
      assert.equal(store.yes, 0, 'no re-read found the rejected token usable');
      await manager.close();
      await other.close();
    },
  );

  test(
    'a token that does not fit minTtlMs: the lock is taken and a new token requested',
    TEST_LIMIT,
    async () => {
      // A long optional budget: this renewal is optional (a valid token is at hand), and the test decides when the wait ends.
      const { store, other, manager } = await setup({ optionalBudgetMs: 600_000 });
      const t0 = await manager.getToken();
      stack.now += 3_000_000; // t0 has 600 s left
      const held = await other.lock(manager.key, LONG_WAIT);
      const p = manager.getToken({ minTtlMs: 1_200_000 });
      await byChecks(manager.key, [store], 1);
      await held.release();
      const t1 = await p;
      assert.notEqual(t1.accessToken, t0.accessToken);
      assert.equal(stack.server.counts.total, 2);
      assert.equal(store.taken, 2, 'the first token and this renewal, each under the lock');
      assert.equal(store.yes, 0);
      await manager.close();
      await other.close();
    },
  );

  test(
    'an error recorded by the holder: the lock is taken, the recorded error is the answer, no request',
    TEST_LIMIT,
    async () => {
      const { store, other, manager } = await setup();
      const held = await other.lock(manager.key, LONG_WAIT);
      const p = manager.getToken();
      await byChecks(manager.key, [store], 1);
      await other.set({
        v: 1,
        key: manager.key,
        lastError: {
          code: 'ERR_TOKEN_ENDPOINT',
          message: 'invalid_client',
          at: stack.now,
          status: 401,
          error: 'invalid_client',
        },
        updatedAt: stack.now,
      });
      await held.release();
      await assert.rejects(p, (err: unknown) => (err as { code?: string }).code === 'ERR_TOKEN_ENDPOINT');
      assert.equal(stack.server.counts.total, 0, "the holder's failure is not repeated");
      assert.equal(store.taken, 1);
      assert.equal(store.yes, 0);
      await manager.close();
      await other.close();
    },
  );

  test(
    'a custom store that ignores satisfied: waiters take the lock in turn, still one token request',
    TEST_LIMIT,
    async () => {
      const client = await realClient(stack.server);
      const stores = Array.from({ length: 1 + N_WAITERS }, () => counting(stack.stores.store(), true));
      const [holderStore, ...waiterStores] = stores as [Counting, ...Counting[]];
      const holder = makeManager(client, holderStore, stack.clock).manager;
      const waiters = waiterStores.map((s) => makeManager(client, s, stack.clock).manager);
      const gate = deferred();
      stack.server.onRequest = () => gate.promise;
      const holding = holder.getToken();
      await until(() => stack.server.counts.total === 1, 'the holder asks for a token');
      const waiting = waiters.map((m) => m.getToken());
      await until(() => waiterStores.every((s) => s.asked === 1), 'every waiter asks for the lock');
      gate.resolve();
      const token = await holding;
      for (const t2 of await Promise.all(waiting)) assert.equal(t2.accessToken, token.accessToken);
      assert.equal(stack.server.counts.total, 1);
      assert.deepEqual(
        stores.map((s) => [s.taken, s.checks]),
        stores.map(() => [1, 0]),
        'every caller took the lock once; nobody was asked to re-read while waiting',
      );
      await Promise.all([holder, ...waiters].map((m) => m.close()));
      for (const s of stores) await s.close();
    },
  );
});

describe('PostgreSQL: the barrier wait keeps the lock timeout and ends its connection on every path', () => {
  test(
    'timeout: LockTimeoutError with the time waited; the waiter leaves nothing on the server',
    TEST_LIMIT,
    (t) =>
      withBackend(t, pgBackend(), async (b, stores) => {
        const url = (await requireService(t, 'postgres')) as string;
        const holder = b.open() as PostgresStore;
        const waiter = b.open() as PostgresStore;
        stores.push(holder, waiter);
        const held = await holder.lock('k-to', LONG_WAIT);
        let checks = 0;
        await assert.rejects(
          waiter.lock('k-to', {
            ttlMs: 30_000,
            timeoutMs: 300,
            satisfied: async () => {
              checks++;
              return false;
            },
          }),
          (err: unknown) =>
            err instanceof LockTimeoutError && err.waitedMs === 300 && err.store === 'postgres',
        );
        assert.equal(checks, 0, 'never woken: the lock was held throughout');
        assert.equal(await pgAdvisory(url, waiter.table, 'k-to', false), 0, 'no waiting lock left');
        assert.equal(await pgAdvisory(url, waiter.table, 'k-to', true, 'lock'), 1, "only the holder's");
        assert.equal(
          await pgAdvisory(url, waiter.table, 'k-to', true, 'wake'),
          1,
          "and the holder's wake lock",
        );
        await held.release();
        assert.equal(await pgAdvisory(url, waiter.table, 'k-to', true), 0);
      }),
  );

  test(
    "a holder whose session dies lets the waiters through the wake lock's barrier; not satisfied, one takes both locks",
    TEST_LIMIT,
    (t) =>
      withBackend(t, pgBackend(), async (b, stores) => {
        const url = (await requireService(t, 'postgres')) as string;
        const holder = b.open() as PostgresStore;
        const waiter = b.open() as PostgresStore;
        stores.push(holder, waiter);
        const held = await holder.lock('k-dead', LONG_WAIT);
        let checks = 0;
        const waiting = waiter.lock('k-dead', {
          ...LONG_WAIT,
          satisfied: async () => {
            checks++;
            return false;
          },
        });
        await until(
          async () => (await pgAdvisory(url, waiter.table, 'k-dead', false, 'wake')) === 1,
          'the waiter waits at the wake lock',
        );
        // The holder's session ends (a crash, an administrator): both of its locks go with it.
        const h = createHash('sha256').update(`${waiter.table}\0k-dead`).digest();
        await withPg(url, (c) =>
          c.query(
            `SELECT pg_terminate_backend(pid) FROM pg_locks
              WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
            [String(h.readUInt32BE(0)), String(h.readUInt32BE(4))],
          ),
        );
        const got = await waiting;
        assert.ok(got !== undefined, 'not satisfied: the lock');
        assert.ok(checks >= 1, 'woken and asked');
        assert.equal(
          await pgAdvisory(url, waiter.table, 'k-dead', true, 'lock'),
          1,
          'the waiter holds the lock',
        );
        assert.equal(await pgAdvisory(url, waiter.table, 'k-dead', true, 'wake'), 1, 'and its wake lock');
        await got.release();
        await held.release();
        assert.equal(await pgAdvisory(url, waiter.table, 'k-dead', true), 0, 'nothing left held');
      }),
  );

  test(
    'close() while waiting at the barrier: StoreError, and the wait leaves nothing on the server',
    TEST_LIMIT,
    (t) =>
      withBackend(t, pgBackend(), async (b, stores) => {
        const url = (await requireService(t, 'postgres')) as string;
        const holder = b.open() as PostgresStore;
        const waiter = b.open() as PostgresStore;
        stores.push(holder, waiter);
        const held = await holder.lock('k-close', LONG_WAIT);
        const waiting = waiter.lock('k-close', { ...LONG_WAIT, satisfied: async () => true });
        await b.waiting('k-close', [], 1);
        await waiter.close();
        await assert.rejects(waiting, (err: unknown) => err instanceof StoreError);
        await held.release();
        // The closed waiter's session ends (at the latest when the barrier lets it through and it finds its
        // client gone): nothing of it is left, waiting or granted.
        const deadline = Date.now() + 60_000;
        for (;;) {
          const left =
            (await pgAdvisory(url, waiter.table, 'k-close', false)) +
            (await pgAdvisory(url, waiter.table, 'k-close', true));
          if (left === 0) break;
          if (Date.now() > deadline) throw new Error(`the closed waiter left ${left} advisory lock(s)`);
          await new Promise((r) => setTimeout(r, 10));
        }
      }),
  );
});

/**
 * The entry read with the wake-up ({@link LockWaitRead}): Redis' release message carries the entry as
 * stored, PostgreSQL reads the row in the barrier's round trip. The Redis stores here poll only every
 * ten minutes, so that a release message is the only thing that wakes a waiter.
 */
describe('lock waiters are handed the entry read with the release', () => {
  const NO_POLL = { baseMs: 600_000, capMs: 600_000 };
  /** A backend whose stores report their warnings to `warnings`, with its server's URL and key prefix. */
  type Handing = Backend & { url: string; prefix: string };
  const redis = async (t: TestContext, warnings: string[]): Promise<Handing | undefined> => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return undefined;
    const prefix = `${uniqueName()}:`;
    const key = randomBytes(32);
    return {
      name: 'Redis',
      url,
      prefix,
      open: () => new RedisStore({ url, prefix, key, lockPoll: NO_POLL, onWarning: (m) => warnings.push(m) }),
      waiting: (k, w, n) => byChecks(k, w, n),
      cleanup: () => dropPrefix(url, prefix),
    };
  };
  const postgres = async (t: TestContext, warnings: string[]): Promise<Handing | undefined> => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return undefined;
    const table = uniqueName();
    const key = randomBytes(32);
    return {
      name: 'PostgreSQL',
      url,
      prefix: table,
      open: () => new PostgresStore({ url, table, key, onWarning: (m) => warnings.push(m) }),
      waiting: pgWaiting(url, table),
      cleanup: () => dropTable(url, table),
    };
  };
  const HANDING: Array<[string, typeof redis]> = [
    ['Redis', redis],
    ['PostgreSQL', postgres],
  ];

  /** Runs `fn` on a fresh backend of `factory` whose warnings `fn` can read. */
  async function withHanding(
    t: TestContext,
    factory: typeof redis,
    fn: (b: Handing, stores: TokenStore[], warnings: string[]) => Promise<void>,
  ): Promise<void> {
    const warnings: string[] = [];
    const b = await factory(t, warnings);
    if (b === undefined) return;
    await withBackend(
      t,
      async () => b,
      (_b, stores) => fn(b, stores, warnings),
    );
  }

  /** A satisfied that records what it is handed and is satisfied by a handed token only. */
  function recorder(): {
    reads: Array<LockWaitRead | undefined>;
    satisfied: (read?: LockWaitRead) => Promise<boolean>;
  } {
    const reads: Array<LockWaitRead | undefined> = [];
    return {
      reads,
      satisfied: async (read) => {
        reads.push(read);
        return read?.entry?.token !== undefined;
      },
    };
  }

  for (const [label, factory] of HANDING) {
    test(
      `${label}, store level: the entry the holder wrote is handed to satisfied; a release with no entry hands none`,
      TEST_LIMIT,
      (t) =>
        withHanding(t, factory, async (b, stores, warnings) => {
          const [holder, waiter] = [counting(b.open()), counting(b.open())];
          stores.push(holder, waiter);
          const { reads, satisfied } = recorder();
          // The holder writes a token and releases: the waiter is handed it and served without the lock.
          const entry = sampleEntry('k-hand');
          let held = await holder.lock('k-hand', LONG_WAIT);
          const waiting = waiter.lock('k-hand', { ...LONG_WAIT, satisfied });
          await b.waiting('k-hand', [waiter], 1);
          await holder.set(entry);
          await held.release();
          assert.equal(await waiting, undefined, 'served without the lock');
          assert.equal(reads.at(-1)?.entry?.key, 'k-hand');
          assert.equal(
            reads.at(-1)?.entry?.token?.accessToken,
            entry.token?.accessToken,
            'the entry the holder wrote',
          );
          assert.equal(waiter.gets, 0, 'the waiter never read the store itself');
          // A release with no entry stored: nothing usable is handed over, and the waiter takes the lock.
          held = await holder.lock('k-none', LONG_WAIT);
          const none = waiter.lock('k-none', { ...LONG_WAIT, satisfied });
          await b.waiting('k-none', [waiter], 1);
          await held.release();
          const got = await none;
          assert.ok(got !== undefined, 'not satisfied: the lock');
          await got.release();
          // PostgreSQL read the missing row; Redis' message said only "released" (`1`). Then, the lock
          // won, the store asks once more (handOverWonLock) with nothing handed over.
          assert.deepEqual(reads.slice(-2), [
            label === 'PostgreSQL' ? { entry: undefined } : undefined,
            undefined,
          ]);
          assert.deepEqual(warnings, []);
        }),
    );
  }

  test(
    'Redis: a release message with a forged or foreign entry is not served; an older release (`1`) has the waiter read the store',
    TEST_LIMIT,
    (t) =>
      withHanding(t, redis, async (b, stores, warnings) => {
        const [holder, waiter] = [counting(b.open()), counting(b.open())];
        stores.push(holder, waiter);
        // A real envelope, but of another key: what a replayed release of another entry would carry.
        await holder.set(sampleEntry('k-other'));
        const foreign = await withRedis(b.url, (r) => r.getBuffer(`${b.prefix}tok:k-other`));
        assert.ok(foreign !== null);
        const { reads, satisfied } = recorder();
        const held = await holder.lock('k-forged', LONG_WAIT);
        const waiting = waiter.lock('k-forged', { ...LONG_WAIT, satisfied });
        await b.waiting('k-forged', [waiter], 1);
        const publish = async (message: Buffer) => {
          const before = reads.length;
          await withRedis(b.url, (r) => r.publish(`${b.prefix}unlock:k-forged`, message));
          await until(() => reads.length > before, 'the waiter is woken and asks satisfied');
        };
        await publish(Buffer.concat([Buffer.from('e1:'), randomBytes(200)]));
        await publish(Buffer.concat([Buffer.from('e1:'), foreign]));
        await publish(Buffer.from('1'));
        assert.deepEqual(
          reads.slice(-3),
          [undefined, undefined, undefined],
          'nothing handed over: read the store',
        );
        assert.equal(
          warnings.filter((w) => /release of the Redis lock .* is unusable/.test(w)).length,
          2,
          warnings.join('\n'),
        );
        await holder.set(sampleEntry('k-forged'));
        await held.release();
        assert.equal(await waiting, undefined, 'the real release serves it');
        assert.equal(reads.at(-1)?.entry?.key, 'k-forged');
      }),
  );

  test(
    'Redis: a write under the lock hands the entry to the waiters before the release; one it does not satisfy waits on',
    TEST_LIMIT,
    (t) =>
      withHanding(t, redis, async (b, stores, warnings) => {
        const [holder, waiter, other] = [counting(b.open()), counting(b.open()), counting(b.open())];
        stores.push(holder, waiter, other);
        // Every message on the lock's channel, in the order the server ran the scripts that sent them.
        const messages: Buffer[] = [];
        const sub = new Redis(b.url);
        sub.on('error', () => {});
        sub.on('messageBuffer', (_c: Buffer, m: Buffer) => messages.push(m));
        try {
          await sub.subscribe(`${b.prefix}unlock:k-write`);
          const stored = async () => {
            const v = await withRedis(b.url, (r) => r.getBuffer(`${b.prefix}tok:k-write`));
            assert.ok(v !== null);
            return Buffer.concat([Buffer.from('e1:'), v]);
          };
          const { reads, satisfied } = recorder();
          const held = await holder.lock('k-write', LONG_WAIT);
          let done = false;
          const waiting = waiter.lock('k-write', { ...LONG_WAIT, satisfied }).finally(() => {
            done = true;
          });
          await b.waiting('k-write', [waiter], 1);
          const asked = reads.length;
          const failure = (code: string): StoredEntry => ({
            v: 1,
            key: 'k-write',
            lastError: { code, message: 'invalid_client', at: Date.now(), status: 401 },
            updatedAt: Date.now(),
          });
          // A store that does not hold the lock writes: nothing is published.
          await other.set(failure('ERR_OTHER'));
          // The holder records a failure: the waiter is handed it, turns it down and waits on.
          await holder.set(failure('ERR_TOKEN_ENDPOINT'));
          // Messages on a channel arrive in the order the server ran their scripts: the first is the
          // holder's write (the other store's, had it published, would come before it).
          await until(() => messages.length >= 1, "the holder's write is published");
          assert.deepEqual(messages, [await stored()], "one message: the holder's write, not the other's");
          await until(() => reads.length > asked, 'the waiter is handed the recorded failure');
          assert.equal(reads.at(-1)?.entry?.lastError?.code, 'ERR_TOKEN_ENDPOINT');
          assert.equal(done, false, 'not satisfied: still waiting');
          // The holder writes the token: the waiter is served by the write, the lock still held.
          const entry = sampleEntry('k-write');
          await holder.set(entry);
          await until(() => messages.length >= 2, "the holder's second write is published");
          assert.deepEqual(messages[1], await stored());
          assert.equal(await waiting, undefined, 'served without the lock, before the release');
          assert.equal(reads.at(-1)?.entry?.token?.accessToken, entry.token?.accessToken);
          assert.deepEqual([waiter.gets, waiter.taken, waiter.satisfiedWaits], [0, 0, 1]);
          await held.release();
          // Released: a later write by the same store is not the holder's any more, and publishes nothing.
          await holder.set(entry);
          await withRedis(b.url, (r) => r.publish(`${b.prefix}unlock:k-write`, 'end'));
          await until(() => messages.at(-1)?.toString() === 'end', 'the end marker arrives');
          assert.equal(messages.length, 4, 'the release, then the marker: nothing from the write after it');
          assert.deepEqual(messages[2], messages[1], 'the release carries the entry as the write left it');
          assert.deepEqual(warnings, []);
        } finally {
          sub.disconnect();
        }
      }),
  );

  test(
    'PostgreSQL: a write under the lock lets the waiters read it before the release; one it does not satisfy waits for the release',
    TEST_LIMIT,
    (t) =>
      withHanding(t, postgres, async (b, stores, warnings) => {
        const [holder, waiter, other] = [counting(b.open()), counting(b.open()), counting(b.open())];
        stores.push(holder, waiter, other);
        const queued = (key: string, which: 'lock' | 'wake') =>
          pgAdvisory(b.url, b.prefix, key, false, which);
        const failure = (key: string): StoredEntry => ({
          v: 1,
          key,
          lastError: { code: 'ERR_TOKEN_ENDPOINT', message: 'invalid_client', at: Date.now(), status: 401 },
          updatedAt: Date.now(),
        });
        // 1. The holder writes a token: the waiter reads it and is served while the lock is still held.
        {
          const { reads, satisfied } = recorder();
          const held = await holder.lock('k-write', LONG_WAIT);
          const waiting = waiter.lock('k-write', { ...LONG_WAIT, satisfied });
          await until(
            async () => (await queued('k-write', 'wake')) === 1,
            'the waiter waits at the wake lock',
          );
          // A store that does not hold the lock writes: the waiter is not let through.
          await other.set(failure('k-write'));
          assert.equal(await queued('k-write', 'wake'), 1, 'still waiting at the wake lock');
          assert.equal(reads.length, 0);
          const entry = sampleEntry('k-write');
          await holder.set(entry);
          await until(() => reads.length === 1, 'the waiter is let through by the write');
          assert.equal(await waiting, undefined, 'served without the lock, before the release');
          assert.equal(reads.at(-1)?.entry?.token?.accessToken, entry.token?.accessToken);
          assert.deepEqual([waiter.gets, waiter.taken, waiter.satisfiedWaits], [0, 0, 1]);
          assert.equal(
            await pgAdvisory(b.url, b.prefix, 'k-write', true, 'lock'),
            1,
            'the holder still holds the lock',
          );
          await held.release();
          assert.equal(
            await pgAdvisory(b.url, b.prefix, 'k-write', true),
            0,
            'the release lets go of everything',
          );
        }
        // 2. The holder records a failure: the waiter reads it, is not satisfied, waits for the release
        //    (at the lock, not the wake lock already let go) and then takes the lock.
        {
          const { reads, satisfied } = recorder();
          const held = await holder.lock('k-fail', LONG_WAIT);
          const waiting = waiter.lock('k-fail', { ...LONG_WAIT, satisfied });
          await until(
            async () => (await queued('k-fail', 'wake')) === 1,
            'the waiter waits at the wake lock',
          );
          await holder.set(failure('k-fail'));
          await until(async () => (await queued('k-fail', 'lock')) === 1, 'the waiter waits at the lock');
          assert.equal(reads.length, 1);
          assert.equal(reads[0]?.entry?.lastError?.code, 'ERR_TOKEN_ENDPOINT', 'handed the recorded failure');
          // A second write under the same lock lets nobody through: the wake lock is let go once.
          await holder.set(failure('k-fail'));
          assert.equal(await queued('k-fail', 'lock'), 1, 'still waiting at the lock');
          await held.release();
          const got = await waiting;
          assert.ok(got !== undefined, 'not satisfied: the lock');
          await got.release();
          assert.equal(reads.length, 3, 'the write, the release, and once more with the lock won');
        }
        assert.deepEqual(warnings, []);
      }),
  );

  for (const [label, factory] of HANDING) {
    test(
      `${label}, manager: a waiter served from the entry handed over makes no read of its own`,
      TEST_LIMIT,
      (t) =>
        withHanding(t, factory, async (b, stores) => {
          const client = await realClient(stack.server);
          const [holderStore, waiterStore] = [counting(b.open()), counting(b.open())];
          stores.push(holderStore, waiterStore);
          const holder = makeManager(client, holderStore, stack.clock).manager;
          const waiter = makeManager(client, waiterStore, stack.clock).manager;
          const gate = deferred();
          stack.server.onRequest = () => gate.promise;
          const holding = holder.getToken();
          await until(() => stack.server.counts.total === 1, 'the holder asks for a token, holding the lock');
          const waiting = waiter.getToken();
          await until(() => waiterStore.asked === 1, 'the waiter asks for the lock');
          await b.waiting(holder.key, [waiterStore], 1);
          const readsBefore = waiterStore.gets;
          gate.resolve();
          const token = await holding;
          assert.equal((await waiting).accessToken, token.accessToken);
          assert.equal(stack.server.counts.total, 1, 'one token request');
          assert.deepEqual([waiterStore.taken, waiterStore.yesHanded, waiterStore.getsInYes], [0, 1, 0]);
          assert.equal(waiterStore.gets, readsBefore, 'no read after the wake-up');
          assert.deepEqual(waiter.counts, { grants: 0, refreshes: 0, storeHits: 1 });
          await holder.close();
          await waiter.close();
        }),
    );
  }
});

describe('LockWaiters: a wake-up that comes while the waiter looks at the lock', () => {
  test('hands over the data of that key’s latest wake-up; a later one without data, or another key’s, hands none', async () => {
    const w = new LockWaiters<string>();
    let mark = w.mark();
    w.wake('k', 'first');
    w.wake('k', 'second');
    w.wake('other', 'theirs');
    assert.deepEqual(await w.wait('k', 600_000, mark), { woken: true, data: 'second' });
    mark = w.mark();
    w.wake('other', 'theirs again');
    assert.deepEqual(await w.wait('k', 600_000, mark), { woken: true }, "only another key's data since");
    mark = w.mark();
    w.wake('k', 'entry');
    w.wake('k'); // a release without the entry: read the store
    assert.deepEqual(await w.wait('k', 600_000, mark), { woken: true });
    // A waiter already waiting is handed the data directly.
    const waiting = w.wait('k', 600_000, w.mark());
    w.wake('k', 'direct');
    assert.deepEqual(await waiting, { woken: true, data: 'direct' });
  });
});
