/**
 * Crash safety with real processes: a writer SIGKILLed at random moments (200 times) never leaves the
 * file store unreadable, and a lock holder killed with SIGKILL delays the next taker by at most the TTL:
 * the file lock is broken at once because the holder's pid is dead (asserted by the warning that says
 * so, with a one-minute TTL), the PostgreSQL advisory lock dies with its session, and the Redis lock key
 * carries a PTTL of at most the TTL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { FileStore } from '../../src/stores/file.js';
import { createStore } from '../../src/stores/index.js';
import { storeKey as makeStoreKey } from '../../src/stores/store-key.js';
import { dropPrefix, dropTable, requireService, uniqueName } from '../helpers/services.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let writer: Worker;
let locker: Worker;
const dirs: string[] = [];

before(async () => {
  writer = await prepareWorker('file-writer');
  locker = await prepareWorker('locker');
});
after(async () => {
  await writer.dispose();
  await locker.dispose();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-crash-'));
  dirs.push(d);
  return d;
}

test('200 SIGKILLs of a writer at random moments: the file always decodes to the previous or a newer token', async (t) => {
  const LANES = 8;
  const PER_LANE = 25;
  const warnings: string[] = [];
  let kills = 0;
  let advanced = 0;
  let interrupted = 0;
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      const dir = await tempDir();
      const key = randomBytes(32);
      const storeKey = makeStoreKey('crash', { lane: String(lane) });
      const store = new FileStore({ dir, key, onWarning: (m) => warnings.push(m) });
      const now = Date.now();
      await store.set({
        v: 1,
        key: storeKey,
        updatedAt: now,
        token: {
          accessToken: 'tok-0-initial',
          tokenType: 'Bearer',
          expiresAt: now + 3_600_000,
          obtainedAt: now,
          expirySource: 'expires_in',
          raw: {},
        },
      });
      let last = 0;
      for (let i = 0; i < PER_LANE; i++) {
        const w = run(writer, [dir, key.toString('hex'), storeKey, String(last + 1)]);
        await w.waitFor((l) => l === 'ready');
        await sleep(Math.random() * 20);
        w.child.kill('SIGKILL');
        const { signal } = await w.exited;
        assert.equal(signal, 'SIGKILL');
        kills++;
        const entry = await store.get(storeKey);
        assert.ok(entry?.token !== undefined, `lane ${lane} kill ${i}: the file must decode`);
        const m = /^tok-(\d+)-/.exec(entry.token.accessToken);
        assert.ok(m?.[1] !== undefined);
        const n = Number(m[1]);
        assert.ok(n >= last, `lane ${lane} kill ${i}: token went back from ${last} to ${n}`);
        if (n > last) advanced++;
        last = n;
      }
      const names = await readdir(dir);
      interrupted += names.filter((x) => x.endsWith('.tmp')).length;
      assert.deepEqual(
        names.filter((x) => x.includes('.bad-')),
        [],
        'no file was ever found unreadable',
      );
    }),
  );
  t.diagnostic(
    `${kills} kills; ${advanced} after at least one new write; ${interrupted} left a half-written temporary file`,
  );
  assert.equal(kills, LANES * PER_LANE);
  assert.ok(advanced > 0, 'writers were killed while writing, not only before');
  assert.deepEqual(warnings, []);
});

async function killedHolderThenTake(
  kind: 'file' | 'postgres' | 'redis',
  target: string,
  prefix: string,
  ttlMs: number,
): Promise<void> {
  const key = randomBytes(32);
  const storeKey = makeStoreKey('locker', { kind });
  const w = run(locker, [kind, target, prefix, key.toString('hex'), storeKey, String(ttlMs)]);
  await w.waitFor((l) => l === 'locked');
  const warnings: string[] = [];
  const store = await createStore(
    kind === 'file'
      ? { store: 'file', cache_dir: target }
      : { store: kind, store_url: target, store_prefix: prefix },
    { key, onWarning: (m) => warnings.push(m) },
  );
  try {
    // While the holder lives, the lock is held.
    await assert.rejects(store.lock(storeKey, { ttlMs, timeoutMs: 100 }), { code: 'ERR_LOCK_TIMEOUT' });
    if (kind === 'redis') {
      // The bound is structural: the lock key itself expires within the TTL, whoever holds it.
      const pttl = await redisPttl(target, `${prefix}lock:${storeKey}`);
      assert.ok(pttl > 0 && pttl <= ttlMs, `the lock key's PTTL (${pttl}) is at most the TTL (${ttlMs})`);
    }
    w.child.kill('SIGKILL');
    await w.exited;
    // After SIGKILL it is free within the TTL (plus a margin for polling).
    const lock = await store.lock(storeKey, { ttlMs, timeoutMs: Math.min(ttlMs, 5_000) + 3_000 });
    await lock.release();
    if (kind === 'file') {
      // Recovered because the holder's pid is dead, not because the (one minute) TTL ran out.
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /broke a stale lock .*: its holder, pid \d+ on this host, is gone/);
    } else {
      assert.deepEqual(warnings, []);
    }
  } finally {
    await store.close();
  }
}

async function redisPttl(url: string, key: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.pttl(key);
  } finally {
    r.disconnect();
  }
}

test('file: a lock holder killed with SIGKILL is detected (dead pid) and its lock broken', async () => {
  // TTL one minute: recovery must come from the dead-pid check, not from waiting it out.
  await killedHolderThenTake('file', await tempDir(), '', 60_000);
});

test('postgres: a lock holder killed with SIGKILL loses its advisory lock with its session', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  try {
    await killedHolderThenTake('postgres', url, table, 60_000);
  } finally {
    await dropTable(url, table);
  }
});

test('redis: a lock holder killed with SIGKILL blocks others for at most the lock TTL', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  try {
    await killedHolderThenTake('redis', url, prefix, 1_500);
  } finally {
    await dropPrefix(url, prefix);
  }
});
