/**
 * The file store's lock (src/stores/file.ts: `lock`, `#tryCreate`, `#inspect`, `#breakStale`,
 * `#underBreaker`, `#handle`, `pidAlive`), pinned on exact messages and files: when a lock file is
 * judged stale and broken (unreadable, dead pid, lease run out, the lease it may claim), when it is held,
 * what a holder writes and renews, and what release removes (only its own lock). Staleness is driven by
 * setting a lock file's mtime, never by waiting; the renewal tests wait for the lease's own event.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LockTimeoutError, StoreError } from '../../src/errors.js';
import { FileStore } from '../../src/stores/file.js';
import { lockInfo, lockTestRoot, plant } from './lock-helpers.js';

const env = lockTestRoot('tw-mut-lock-');

let n = 0;
/** A file store in a fresh directory (created), collecting warnings; with a waiter that fails at once. */
async function fresh() {
  const dir = join(env.root, `s${n++}`);
  const warnings: string[] = [];
  let onWarn: ((m: string) => void) | undefined;
  const store = new FileStore({
    dir,
    key: randomBytes(32),
    onWarning: (m) => {
      warnings.push(m);
      onWarn?.(m);
    },
  });
  const first = await store.lock('init', { ttlMs: 30_000, timeoutMs: 1_000 }); // creates the directory
  await first.release();
  /** The next warning. */
  const nextWarning = () =>
    new Promise<string>((resolve) => {
      onWarn = (m) => {
        onWarn = undefined;
        resolve(m);
      };
    });
  return { store, dir, warnings, nextWarning };
}

/**
 * Awaits `p` with a timer keeping the event loop alive: a holder's renewal timer is unref'd (it never
 * keeps a process alive), and the test waits for what that timer does.
 */
async function alive<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1_000);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

const deadPid = () => env.dead;

/** Asserts `store.lock(key)` fails at once (timeout 0) with the exact timeout error. */
async function assertHeld(store: FileStore, dir: string, key: string, ttlMs = 30_000): Promise<void> {
  await assert.rejects(store.lock(key, { ttlMs, timeoutMs: 0 }), (e: unknown) => {
    assert.ok(e instanceof LockTimeoutError, String(e));
    assert.equal(
      e.message,
      `could not take the file lock ${join(dir, `${key}.lock`)} within 0 ms (another process holds it)`,
    );
    return true;
  });
}

/** Takes the lock (it must be free or stale) and releases it; returns the warnings it caused. */
async function takeOver(
  s: Awaited<ReturnType<typeof fresh>>,
  key: string,
  ttlMs = 30_000,
): Promise<string[]> {
  const before = s.warnings.length;
  const lock = await s.store.lock(key, { ttlMs, timeoutMs: 0 });
  await lock.release();
  assert.deepEqual(await readdir(s.dir), [], 'nothing left: lock, breaker and temporary files all gone');
  return s.warnings.slice(before);
}

describe('the lock file a holder writes', () => {
  test('JSON {pid, host, createdAt, ttlMs, nonce}, mode 0600, no temporary file left; release removes it', async () => {
    const s = await fresh();
    const t0 = Date.now();
    const lock = await s.store.lock('k', { ttlMs: 12_345, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    assert.deepEqual(await readdir(s.dir), ['k.lock']);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const info = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info).sort(), ['createdAt', 'host', 'nonce', 'pid', 'ttlMs']);
    assert.equal(info['pid'], process.pid);
    assert.equal(info['host'], hostname());
    assert.equal(info['ttlMs'], 12_345);
    assert.ok(
      typeof info['createdAt'] === 'number' && info['createdAt'] >= t0 && info['createdAt'] <= Date.now(),
    );
    assert.match(String(info['nonce']), /^[0-9a-f]{32}$/);
    assert.equal(lock.lost, false);
    await assertHeld(s.store, s.dir, 'k');
    await lock.release();
    await lock.release(); // a second release is a no-op
    assert.deepEqual(await readdir(s.dir), []);
    assert.deepEqual(s.warnings, []);
  });

  test('two keys, two independent locks; each holder gets its own nonce', async () => {
    const s = await fresh();
    const a = await s.store.lock('a', { ttlMs: 30_000, timeoutMs: 0 });
    const b = await s.store.lock('b', { ttlMs: 30_000, timeoutMs: 0 });
    const na = JSON.parse(await readFile(join(s.dir, 'a.lock'), 'utf8')).nonce;
    const nb = JSON.parse(await readFile(join(s.dir, 'b.lock'), 'utf8')).nonce;
    assert.notEqual(na, nb);
    await a.release();
    assert.deepEqual(await readdir(s.dir), ['b.lock']);
    await b.release();
    assert.deepEqual(s.warnings, []);
  });

  test('the directory gone under the store: a StoreError naming the lock file and the errno, no file made', async () => {
    const s = await fresh();
    await rm(s.dir, { recursive: true });
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.message, `cannot create the lock file ${join(s.dir, 'k.lock')} (ENOENT)`);
      return true;
    });
  });

  test('a lock path that is a directory cannot be read: a StoreError naming it and the errno', async () => {
    const s = await fresh();
    await mkdir(join(s.dir, 'k.lock'));
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.message, `cannot read the lock file ${join(s.dir, 'k.lock')} (EISDIR)`);
      return true;
    });
  });
});

describe('a lock file that cannot be read as a lock', () => {
  for (const [name, content] of [
    ['not JSON', '{garbage'],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
    ['an object without createdAt', '{"pid":1}'],
    ['createdAt not a number', '{"createdAt":"now","pid":1,"host":"x"}'],
    ['empty', ''],
  ] as const) {
    test(`${name}: held while its mtime is within the caller's lease, broken after it (said why)`, async () => {
      const s = await fresh();
      await plant(s.dir, 'k', content, 5_000);
      await assertHeld(s.store, s.dir, 'k', 30_000);
      assert.deepEqual(s.warnings, []);
      const path = await plant(s.dir, 'k', content, 60_000);
      const w = await takeOver(s, 'k', 30_000);
      assert.equal(w.length, 1);
      assert.match(
        w[0] ?? '',
        new RegExp(
          `^broke a stale lock ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unreadable and not renewed for (\\d+) ms$`,
        ),
      );
      const idle = Number(/for (\d+) ms$/.exec(w[0] ?? '')?.[1]);
      assert.ok(idle >= 60_000 && idle < 600_000, `idle ${idle}`);
    });
  }
});

describe('a lock naming a process on this host', () => {
  test('a dead pid frees the lock at once, however fresh the file', async () => {
    const s = await fresh();
    const pid = deadPid();
    const path = await plant(s.dir, 'k', lockInfo({ pid }), 0);
    const w = await takeOver(s, 'k');
    assert.deepEqual(w, [`broke a stale lock ${path}: its holder, pid ${pid} on this host, is gone`]);
  });

  for (const pid of [0, -5, 1.5]) {
    test(`pid ${pid} is no process: the lock is broken at once`, async () => {
      const s = await fresh();
      const path = await plant(s.dir, 'k', lockInfo({ pid }), 0);
      const w = await takeOver(s, 'k');
      assert.deepEqual(w, [`broke a stale lock ${path}: its holder, pid ${pid} on this host, is gone`]);
    });
  }

  test('a live pid (this process; pid 1) holds the lock while it is renewed', async () => {
    const s = await fresh();
    for (const pid of [process.pid, 1]) {
      await plant(s.dir, 'k', lockInfo({ pid }), 1_000);
      await assertHeld(s.store, s.dir, 'k');
    }
    assert.deepEqual(s.warnings, []);
  });

  test('a live pid whose lock is not renewed for its lease is broken (the pid may be a reused one)', async () => {
    const s = await fresh();
    const path = await plant(s.dir, 'k', lockInfo({ pid: process.pid, ttlMs: 10_000 }), 60_000);
    const w = await takeOver(s, 'k');
    assert.equal(w.length, 1);
    assert.match(
      w[0] ?? '',
      new RegExp(
        `^broke a stale lock ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: held by pid ${process.pid} on this host, not renewed for \\d+ ms \\(its lease is 10000 ms\\)$`,
      ),
    );
  });

  test('a pid that is not a number on this host: judged by its lease only', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: String(deadPid()) }), 1_000);
    await assertHeld(s.store, s.dir, 'k');
    assert.deepEqual(s.warnings, []);
  });
});

describe('a lock naming another host: a lease', () => {
  const other = `not-${hostname()}`;
  const leaseOf = (w: string | undefined) => Number(/\(its lease is (\d+) ms\)$/.exec(w ?? '')?.[1]);

  test('a dead pid there means nothing here: held while renewed', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ host: other, pid: deadPid() }), 1_000);
    await assertHeld(s.store, s.dir, 'k');
    assert.deepEqual(s.warnings, []);
  });

  test("stale after the lease it claims, when shorter than the caller's; message names pid and host", async () => {
    const s = await fresh();
    const path = await plant(s.dir, 'k', lockInfo({ host: other, pid: 4242, ttlMs: 2_000 }), 3_000);
    const w = await takeOver(s, 'k');
    assert.equal(w.length, 1);
    assert.match(
      w[0] ?? '',
      new RegExp(
        `^broke a stale lock ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: held by pid 4242 on ${other}, not renewed for \\d+ ms \\(its lease is 2000 ms\\)$`,
      ),
    );
  });

  test("a claimed lease longer than the caller's counts only up to the caller's lease…", async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: 10 ** 9 }), 25_000);
    await assertHeld(s.store, s.dir, 'k', 30_000);
    await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: 10 ** 9 }), 35_000);
    const w = await takeOver(s, 'k', 30_000);
    assert.equal(leaseOf(w[0]), 30_000);
  });

  test("…and never less than 6 s (three renewals of a live holder), whatever the caller's lease", async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: 10 ** 9 }), 5_000);
    await assertHeld(s.store, s.dir, 'k', 1_000);
    await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: 10 ** 9 }), 7_000);
    const w = await takeOver(s, 'k', 1_000);
    assert.equal(leaseOf(w[0]), 6_000);
  });

  for (const claimed of [0, -1, 'x', null]) {
    test(`a claimed lease of ${JSON.stringify(claimed)} is not one: the caller's lease applies`, async () => {
      const s = await fresh();
      await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: claimed }), 20_000);
      await assertHeld(s.store, s.dir, 'k', 30_000);
      await plant(s.dir, 'k', lockInfo({ host: other, ttlMs: claimed }), 20_000);
      const w = await takeOver(s, 'k', 15_000);
      assert.equal(leaseOf(w[0]), 15_000);
    });
  }
});

describe('a holder: renewal and release', () => {
  test('the holder renews the mtime of its lock file (and so keeps it from being judged stale)', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(path, old, old);
    const before = (await stat(path)).mtimeMs;
    // Wait for the renewal (every 100 ms), by looking: at most 10 000 looks, 10 ms apart.
    let renewed = before;
    for (let i = 0; i < 10_000 && renewed === before; i++) {
      await new Promise((r) => setTimeout(r, 10));
      renewed = (await stat(path)).mtimeMs;
    }
    assert.ok(renewed > before + 3_000_000, 'the mtime is renewed to now');
    await lock.release();
    assert.deepEqual(await readdir(s.dir), []);
  });

  test('a holder whose lock file is removed learns it at the next renewal (lost, one warning)', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const warned = s.nextWarning();
    await rm(path);
    assert.equal(
      await alive(warned),
      `lost the lock ${path} before releasing it: it was taken over or removed (its lease had run out)`,
    );
    assert.equal(lock.lost, true);
    await lock.release();
    assert.equal(s.warnings.length, 1);
  });

  test('a holder whose lock file is replaced (another inode) learns it, and release leaves the new one', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const warned = s.nextWarning();
    const other = lockInfo({ nonce: 'someone-else' });
    await writeFile(join(s.dir, 'other'), other);
    await rename(join(s.dir, 'other'), path);
    assert.equal(
      await alive(warned),
      `lost the lock ${path} before releasing it: it was taken over or removed (its lease had run out)`,
    );
    await lock.release();
    assert.equal(await readFile(path, 'utf8'), other);
    assert.equal(s.warnings.length, 1);
  });

  test("release removes the lock file only when it still carries the holder's nonce", async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const other = lockInfo({ nonce: 'someone-else' });
    await writeFile(path, other); // same inode: the holder does not notice before release
    await lock.release();
    assert.equal(await readFile(path, 'utf8'), other);
    assert.deepEqual(s.warnings, []);
    assert.deepEqual((await readdir(s.dir)).sort(), ['k.lock']);
  });

  test('a lock file gone before release: released quietly', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    await rm(join(s.dir, 'k.lock'));
    await lock.release();
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(await readdir(s.dir), []);
  });

  test('a lock file that cannot be read back at release: one warning, the file left for the lease to end', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    await writeFile(path, '{garbage');
    await lock.release();
    assert.deepEqual(s.warnings, [
      `could not release the lock ${path} (error); it is stale one lease (30000 ms) after its last renewal`,
    ]);
    assert.deepEqual(await readdir(s.dir), ['k.lock']);
  });

  test('after release the key can be taken again at once, by this store or another one on the directory', async () => {
    const s = await fresh();
    const other = new FileStore({ dir: s.dir, key: randomBytes(32), onWarning: (m) => s.warnings.push(m) });
    for (let i = 0; i < 3; i++) {
      const a = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      await assertHeld(other, s.dir, 'k');
      await a.release();
      const b = await other.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      await assertHeld(s.store, s.dir, 'k');
      await b.release();
    }
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(await readdir(s.dir), []);
  });
});

describe('breaking a stale lock', () => {
  test('a fresh breaker file held by someone else delays the break; the stale lock is broken once it goes', async () => {
    const s = await fresh();
    const pid = deadPid();
    const path = await plant(s.dir, 'k', lockInfo({ pid }), 0);
    const breaker = `${path}.breaking`;
    await writeFile(breaker, '');
    const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 60_000 });
    // The taker is now waiting on the breaker (it cannot have broken the lock while the breaker exists).
    await rm(breaker);
    const lock = await taking;
    await lock.release();
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${path}: its holder, pid ${pid} on this host, is gone`,
    ]);
    assert.deepEqual(await readdir(s.dir), []);
  });

  test('an old breaker file (a breaker killed mid-break) is removed with a warning, then the lock broken', async () => {
    const s = await fresh();
    const pid = deadPid();
    const path = await plant(s.dir, 'k', lockInfo({ pid }), 0);
    const breaker = `${path}.breaking`;
    await writeFile(breaker, '');
    const old = new Date(Date.now() - 5_001 - 1_000);
    await utimes(breaker, old, old);
    const w = await takeOver(s, 'k');
    assert.deepEqual(w, [
      `removed the breaker file ${breaker} left by a process killed while breaking a lock`,
      `broke a stale lock ${path}: its holder, pid ${pid} on this host, is gone`,
    ]);
  });
});
