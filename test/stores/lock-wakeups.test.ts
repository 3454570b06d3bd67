/**
 * Lock waiters are woken by the release instead of waiting for their next poll (Redis: a message the
 * releaser publishes on `<prefix>unlock:<key>`; file: a watch on the cache directory), and polling stays
 * the fallback when no notification comes.
 *
 * The wake-up tests give the waiter a poll interval (10 minutes) and a lock wait (15 minutes) longer
 * than the test's own time limit: the only way it can take the lock within the test is the wake-up.
 * Nothing here measures a time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { FileStore } from '../../src/stores/file.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis.js';
import type { StoreLock } from '../../src/stores/types.js';
import { dropPrefix, requireService, uniqueName, withRedis } from '../helpers/services.js';
import { until } from '../helpers/wait.js';

/** Polls only after ten minutes: within the test's limit, only a wake-up can hand the lock over. */
const NO_POLL = { baseMs: 600_000, capMs: 600_000 };
const LONG_WAIT = { ttlMs: 30_000, timeoutMs: 900_000 };
const TEST_LIMIT = { timeout: 120_000 } as const;

/** A promise's state, to check that a lock() has not resolved yet. */
function track<T>(p: Promise<T>): { settled: () => boolean; value: Promise<T> } {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { settled: () => done, value: p };
}

/** A subscriber that counts the release notifications of one channel. */
async function countMessages(url: string, channel: string): Promise<{ count: () => number; stop(): void }> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
  r.on('error', () => {});
  await r.connect();
  let n = 0;
  r.on('message', (c: string) => {
    if (c === channel) n++;
  });
  await r.subscribe(channel);
  return { count: () => n, stop: () => r.disconnect() };
}

/** Waits until `channel` has exactly `n` subscribers on the server (PUBSUB NUMSUB), bounded. */
async function subscribersReach(url: string, channel: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = (await withRedis(url, (r) => r.call('PUBSUB', 'NUMSUB', channel))) as [string, number];
    if (Number(reply[1]) === n) return;
    if (Date.now() > deadline) throw new Error(`${channel} did not reach ${n} subscriber(s)`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface RedisPair {
  url: string;
  prefix: string;
  holder: RedisStore;
  waiter: RedisStore;
  /** Counts what is published on the release channel of `key`. */
  observe(key: string): Promise<{ count: () => number }>;
}

/** Two stores on one fresh prefix (same encryption key): a holder and a waiter with `waiterOptions`. */
async function withRedisPair(
  t: TestContext,
  waiterOptions: Partial<RedisStoreOptions>,
  fn: (p: RedisPair) => Promise<void>,
): Promise<void> {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  const key = randomBytes(32);
  const holder = new RedisStore({ url, prefix, key });
  const waiter = new RedisStore({ url, prefix, key, ...waiterOptions });
  const observers: Array<{ stop(): void }> = [];
  try {
    await fn({
      url,
      prefix,
      holder,
      waiter,
      observe: async (k) => {
        const o = await countMessages(url, `${prefix}unlock:${k}`);
        observers.push(o);
        return o;
      },
    });
  } finally {
    for (const o of observers) o.stop();
    await holder.close();
    await waiter.close();
    await dropPrefix(url, prefix);
  }
}

describe('Redis: lock waiters are woken by the release (pub/sub)', () => {
  test(
    'a waiter that would not poll for ten minutes takes the lock after exactly one release notification; its subscription ends with the wait',
    TEST_LIMIT,
    (t) =>
      withRedisPair(t, { lockPoll: NO_POLL }, async ({ url, prefix, holder, waiter, observe }) => {
        const channel = `${prefix}unlock:k-wake`;
        const observer = await observe('k-wake');
        const held = await holder.lock('k-wake', LONG_WAIT);
        const waiting = track(waiter.lock('k-wake', LONG_WAIT));
        // The waiter subscribes on its first failed attempt (the observer is the other subscriber).
        await subscribersReach(url, channel, 2);
        assert.equal(waiting.settled(), false, 'the waiter must still be waiting while the lock is held');
        assert.equal(observer.count(), 0);
        await held.release();
        const got: StoreLock = await waiting.value;
        await until(() => observer.count() >= 1, 'the release notification reaches the observer');
        assert.equal(observer.count(), 1, 'one release, one notification');
        assert.equal(got.lost, false);
        // The wait is over: the waiter's store no longer listens on the channel.
        await subscribersReach(url, channel, 1);
        await got.release();
        await until(() => observer.count() >= 2, 'the second release is announced too');
        assert.equal(observer.count(), 2);
      }),
  );

  test('close() ends the subscriber connection: no subscription is left on the server', TEST_LIMIT, (t) =>
    withRedisPair(t, { lockPoll: NO_POLL }, async ({ url, prefix, holder, waiter }) => {
      const channel = `${prefix}unlock:k-close`;
      await holder.lock('k-close', LONG_WAIT);
      const waiting = track(waiter.lock('k-close', LONG_WAIT));
      await subscribersReach(url, channel, 1);
      await waiter.close();
      // The waiter is woken by close() and fails (the store is closed) instead of waiting ten minutes.
      await assert.rejects(waiting.value, (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'ERR_STORE');
        assert.match((err as Error).message, /closed/);
        return true;
      });
      await subscribersReach(url, channel, 0);
    }),
  );

  test(
    'fallback: a lock that goes without a notification (its lease ran out, an older release deleted it) is taken by polling',
    TEST_LIMIT,
    (t) =>
      withRedisPair(t, {}, async ({ url, prefix, waiter, observe }) => {
        const observer = await observe('k-quiet');
        await withRedis(url, async (r) => {
          await r.set(`${prefix}lock:k-quiet`, 'a-holder-of-an-older-release', 'PX', 60_000);
          const waiting = track(waiter.lock('k-quiet', LONG_WAIT));
          await subscribersReach(url, `${prefix}unlock:k-quiet`, 2);
          await r.del(`${prefix}lock:k-quiet`); // no PUBLISH
          const got = await waiting.value;
          assert.equal(observer.count(), 0, 'nothing was published: the waiter polled');
          await got.release();
        });
      }),
  );

  test('fallback: with lockWakeups: false the waiter subscribes to nothing and polls', TEST_LIMIT, (t) =>
    withRedisPair(t, { lockWakeups: false }, async ({ url, prefix, holder, waiter }) => {
      const channel = `${prefix}unlock:k-poll`;
      const held = await holder.lock('k-poll', LONG_WAIT);
      const waiting = track(waiter.lock('k-poll', LONG_WAIT));
      await subscribersReach(url, channel, 0);
      await held.release();
      const got = await waiting.value;
      await subscribersReach(url, channel, 0);
      await got.release();
    }),
  );
});

/**
 * Inotify watches of this process (Linux; libuv keeps one inotify instance per loop, with one watch per
 * watched path): one more while a file lock waiter watches the cache directory.
 */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify') continue;
      n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('file store: lock waiters are woken by the release (a watch on the directory)', {
  skip: process.platform !== 'linux' && 'counts inotify watches in /proc',
}, () => {
  test(
    'a waiter that would not poll for ten minutes takes the lock when the holder releases it; the watch ends with the wait',
    TEST_LIMIT,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tw-wake-'));
      const key = randomBytes(32);
      const holderStore = new FileStore({ dir: join(dir, 'c'), key });
      const waiterStore = new FileStore({ dir: join(dir, 'c'), key, lockWakeups: true, lockPoll: NO_POLL });
      try {
        const before = inotifyWatches();
        const held = await holderStore.lock('k-wake', LONG_WAIT);
        const waiting = track(waiterStore.lock('k-wake', LONG_WAIT));
        await until(() => inotifyWatches() === before + 1, 'the waiter watches the directory');
        assert.equal(waiting.settled(), false, 'the waiter must still be waiting while the lock is held');
        await held.release();
        const got = await waiting.value;
        await until(() => inotifyWatches() === before, 'the watch is closed once nobody waits');
        await got.release();
      } finally {
        await holderStore.close();
        await waiterStore.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test('fallback: with lockWakeups: false the waiter watches nothing and polls', TEST_LIMIT, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-wake-'));
    const key = randomBytes(32);
    const holderStore = new FileStore({ dir: join(dir, 'c'), key });
    const waiterStore = new FileStore({ dir: join(dir, 'c'), key, lockWakeups: false });
    try {
      const before = inotifyWatches();
      const held = await holderStore.lock('k-poll', LONG_WAIT);
      const waiting = track(waiterStore.lock('k-poll', LONG_WAIT));
      assert.equal(inotifyWatches(), before);
      await held.release();
      const got = await waiting.value;
      assert.equal(inotifyWatches(), before);
      await got.release();
    } finally {
      await holderStore.close();
      await waiterStore.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
