/**
 * The file store's lock, the paths `lock-file.test.ts` leaves out (the survivors of the `lock` group's
 * Stryker run, settled by hand — see docs/testing.md): the fields of its errors, a waiter that waits
 * (polling, and woken through the directory watch), the watch given back, no file descriptor left
 * open, a stale lock that changes while its breaker waits, the holder's renewal interval and
 * `close()`, and a pid this user may not signal. Nothing waits on the wall clock: a waiter is released
 * by a release, a breaker by the test removing it, and the test learns that the taker has read the lock
 * from the lock file's access time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  mkdir,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LockTimeoutError, StoreError } from '../../src/errors.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file.js';
import { lockInfo, lockTestRoot, plant } from './lock-helpers.js';

const env = lockTestRoot('tw-mut-lockr-');

let n = 0;
/** A file store in a fresh directory (created), collecting warnings. */
async function fresh(over: Partial<FileStoreOptions> = {}) {
  const dir = join(env.root, `s${n++}`);
  const warnings: string[] = [];
  const opts = { dir, key: randomBytes(32), onWarning: (m: string) => warnings.push(m), ...over };
  const store = new FileStore(opts);
  const first = await store.lock('init', { ttlMs: 30_000, timeoutMs: 0 }); // creates the directory
  await first.release();
  /** Another store on the same directory (another process, as far as the lock goes). */
  const other = () => new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  return { store, dir, warnings, other };
}

/**
 * Resolves once `cond()` is true, looking again after each turn of the event loop (no timer). With
 * `first`, a promise that must still be pending meanwhile (the waiter or taker being watched): rejects
 * with its error, or an error saying it ended, when it settles before `cond()` holds.
 */
async function until(cond: () => Promise<boolean> | boolean, first?: Promise<unknown>): Promise<void> {
  let ended: { error: unknown } | undefined;
  first?.then(
    () => {
      ended = { error: new Error('ended before the awaited condition held') };
    },
    (error: unknown) => {
      ended = { error };
    },
  );
  while (!(await cond())) {
    if (ended !== undefined) throw ended.error;
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Resolves once the file at `path` has been read since `atimeMs` (its access time moved: the file
 * system is mounted `relatime` or `strictatime`, and `plant` leaves atime <= mtime).
 */
const readSince = (path: string, atimeMs: number, first?: Promise<unknown>) =>
  until(async () => (await stat(path)).atimeMs !== atimeMs, first);

/** The directory watches (inotify) this process holds; undefined where there is no /proc. */
function watches(): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return undefined;
  }
  let count = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify') continue;
      count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}

/** The file descriptors this process has open (undefined where there is no /proc). */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** A breaker file held by "someone else" that never goes stale by age (its mtime an hour ahead). */
async function foreignBreaker(lockPath: string): Promise<string> {
  const breaker = `${lockPath}.breaking`;
  await writeFile(breaker, '');
  const later = new Date(Date.now() + 3_600_000);
  await utimes(breaker, later, later);
  return breaker;
}

describe('errors name the store, the file and the cause', () => {
  test('an invalid key: a StoreError of the file store', async () => {
    const s = await fresh();
    await assert.rejects(s.store.lock('../k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.store, 'file');
      assert.match(e.message, /^invalid store key "\.\.\/k"/);
      return true;
    });
  });

  test('the lock cannot be created (directory gone): store, target and the errno cause', async () => {
    const s = await fresh();
    await rm(s.dir, { recursive: true });
    const path = join(s.dir, 'k.lock');
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.store, 'file');
      assert.equal(e.target, path);
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOENT');
      return true;
    });
  });

  test('the lock cannot be read (a directory): store, target and the errno cause', async () => {
    const s = await fresh();
    const path = join(s.dir, 'k.lock');
    await mkdir(path);
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.store, 'file');
      assert.equal(e.target, path);
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'EISDIR');
      return true;
    });
  });

  test('a lock path that is a symbolic link to nothing: a StoreError, not an endless retry', async () => {
    const s = await fresh();
    const path = join(s.dir, 'k.lock');
    await symlink(join(s.dir, 'nowhere'), path);
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.message, `cannot read the lock file ${path} (a symbolic link to nothing)`);
      assert.equal(e.store, 'file');
      assert.equal(e.target, path);
      return true;
    });
    assert.deepEqual((await readdir(s.dir)).sort(), ['k.lock']);
  });

  test('a lock held: LockTimeoutError of the file store, with the time waited', async () => {
    const s = await fresh();
    const held = await s.other().lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError, String(e));
      assert.equal(e.store, 'file');
      assert.equal(e.waitedMs, 0);
      return true;
    });
    await held.release();
  });
});

describe('a waiter', () => {
  test('polling: takes the lock once the holder (another store) releases it, within a long timeout', async () => {
    const s = await fresh({ lockWakeups: false, lockPoll: { baseMs: 1, capMs: 2 } });
    const holder = await s.other().lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const { atimeMs } = await stat(path);
    const waiting = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 600_000 });
    await readSince(path, atimeMs, waiting); // the waiter found it held
    await holder.release();
    const lock = await waiting;
    assert.equal(lock.lost, false);
    await lock.release();
    assert.deepEqual(await readdir(s.dir), []);
    assert.deepEqual(s.warnings, []);
  });

  const linux = watches() !== undefined;
  test('wake-ups on, polling off in effect: the release wakes the waiter through the watch, which then ends', {
    skip: linux ? false : 'needs /proc (Linux) to see the watch',
  }, async () => {
    const s = await fresh({ lockWakeups: true, lockPoll: { baseMs: 3_600_000, capMs: 3_600_000 } });
    const before = watches() ?? 0;
    const holder = await s.other().lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    // The waiter's only poll is at its timeout (90 s): a waiter not woken fails with LockTimeoutError.
    const waiting = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 90_000 });
    await until(() => (watches() ?? 0) === before + 1, waiting); // it waits, watching the directory
    await holder.release();
    const lock = await waiting;
    assert.equal(watches(), before, 'the watch is given back once nobody waits');
    await lock.release();
    assert.deepEqual(s.warnings, []);
  });

  test('a lock taken at once does not stop the watch another waiter of the same store relies on', {
    skip: linux ? false : 'needs /proc (Linux) to see the watch',
  }, async () => {
    const s = await fresh({ lockWakeups: true, lockPoll: { baseMs: 3_600_000, capMs: 3_600_000 } });
    const before = watches() ?? 0;
    const holder = await s.other().lock('a', { ttlMs: 30_000, timeoutMs: 0 });
    const waiting = s.store.lock('a', { ttlMs: 30_000, timeoutMs: 90_000 });
    await until(() => (watches() ?? 0) === before + 1, waiting);
    const b = await s.store.lock('b', { ttlMs: 30_000, timeoutMs: 0 });
    await b.release();
    assert.equal(watches(), before + 1, 'still watching for the waiter of "a"');
    await holder.release();
    const a = await waiting;
    await a.release();
    assert.equal(watches(), before);
    assert.deepEqual(s.warnings, []);
  });
});

describe('no file descriptor is left open', () => {
  test('by failed attempts, a stale lock broken, and lock/release cycles', {
    skip: openFds() === undefined ? 'needs /proc to count descriptors' : false,
  }, async () => {
    const s = await fresh();
    const holder = await s.other().lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    // Warm up the paths once (the first use of an fs API may open descriptors of its own).
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), LockTimeoutError);
    const start = openFds();
    for (let i = 0; i < 10; i++) {
      await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), LockTimeoutError);
    }
    assert.equal(openFds(), start, 'failed attempts');
    await holder.release();
    const released = openFds();
    for (let i = 0; i < 10; i++) {
      await plant(s.dir, 'd', lockInfo({ pid: env.dead }), 0);
      const l = await s.store.lock('d', { ttlMs: 30_000, timeoutMs: 0 });
      await l.release();
      const m = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      await m.release();
    }
    assert.equal(openFds(), released, 'stale locks broken, lock/release cycles');
    assert.deepEqual(await readdir(s.dir), []);
    assert.equal(s.warnings.length, 10);
  });
});

describe('a stale lock that changes while the breaker is held by someone else', () => {
  /**
   * Plants a lock judged stale (`content`, `ageMs` old) and a foreign breaker, starts a taker
   * (timeout 0) and resolves once the taker has read the lock (and so judged it stale).
   */
  async function setUp(content: string, ageMs: number) {
    const s = await fresh();
    const path = await plant(s.dir, 'k', content, ageMs);
    const { atimeMs } = await stat(path);
    const breaker = await foreignBreaker(path);
    const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    taking.catch(() => {}); // awaited by each test
    await readSince(path, atimeMs, taking);
    return { s, path, breaker, taking };
  }

  test('replaced by a live lock (same mtime): left alone (the taker times out on it), nothing warned', async () => {
    const { s, path, breaker, taking } = await setUp(lockInfo({ pid: env.dead }), 0);
    const live = lockInfo({ pid: process.pid, nonce: 'live' });
    const { mtime } = await stat(path);
    await writeFile(path, live);
    await utimes(path, mtime, mtime); // the content alone tells the new lock from the stale one
    await rm(breaker);
    await assert.rejects(taking, (e: unknown) => e instanceof LockTimeoutError);
    assert.equal(await readFile(path, 'utf8'), live);
    assert.deepEqual(s.warnings, []);
  });

  test('renewed by its holder (same content, new mtime): left alone', async () => {
    const content = lockInfo({ host: `not-${hostname()}`, pid: 4242, ttlMs: 10_000 });
    const { s, path, breaker, taking } = await setUp(content, 60_000);
    const now = new Date();
    await utimes(path, now, now);
    await rm(breaker);
    await assert.rejects(taking, (e: unknown) => e instanceof LockTimeoutError);
    assert.equal(await readFile(path, 'utf8'), content);
    assert.deepEqual(s.warnings, []);
  });

  test('removed meanwhile (someone else broke it): the taker takes the lock, warning nothing', async () => {
    const { s, path, breaker, taking } = await setUp(lockInfo({ pid: env.dead }), 0);
    await rm(path);
    await rm(breaker);
    const lock = await taking;
    await lock.release();
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(await readdir(s.dir), []);
  });

  test('turned into something unreadable: a StoreError naming the lock, the errno and the cause', async () => {
    const { s, path, breaker, taking } = await setUp(lockInfo({ pid: env.dead }), 0);
    await rm(path);
    await mkdir(path);
    await rm(breaker);
    await assert.rejects(taking, (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.message, `cannot break the stale lock ${path} (EISDIR)`);
      assert.equal(e.store, 'file');
      assert.equal(e.target, path);
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'EISDIR');
      return true;
    });
    assert.deepEqual(s.warnings, []);
    assert.deepEqual((await readdir(s.dir)).sort(), ['k.lock']);
  });
});

describe('a lock naming another host: the claimed lease must be a number', () => {
  test('a claimed lease "2000" (a string) is not one: the caller\'s lease applies', async () => {
    const s = await fresh();
    const path = await plant(s.dir, 'k', lockInfo({ host: `not-${hostname()}`, ttlMs: '2000' }), 3_000);
    await assert.rejects(s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }), LockTimeoutError);
    assert.equal((await stat(path)).isFile(), true);
    assert.deepEqual(s.warnings, []);
  });
});

describe('a holder', () => {
  test('renews every third of a short lease (100 ms of 300), not at the 2 s cap', async (t) => {
    const s = await fresh();
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(path, old, old);
    t.mock.timers.tick(100);
    // The renewal is two file operations; look up to 1 000 times (each a file operation too).
    let renewed = false;
    for (let i = 0; i < 1_000 && !renewed; i++)
      renewed = (await stat(path)).mtimeMs > old.getTime() + 1_000_000;
    assert.equal(renewed, true, 'renewed after 100 ms');
    t.mock.timers.reset();
    await lock.release();
    assert.deepEqual(s.warnings, []);
  });

  test('keeps its lock over renewals: two renewals, not lost, nothing warned', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const keep = setInterval(() => {}, 1_000); // the renewal timer is unref'd
    try {
      for (let round = 0; round < 2; round++) {
        const old = new Date(Date.now() - 3_600_000);
        await utimes(path, old, old);
        await until(async () => (await stat(path)).mtimeMs > old.getTime() + 1_000_000);
      }
    } finally {
      clearInterval(keep);
    }
    assert.equal(lock.lost, false);
    await lock.release();
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(await readdir(s.dir), []);
  });

  test('close() gives up a held lock: lost, its file left for its lease to end, release then a no-op', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const content = await readFile(path, 'utf8');
    await s.store.close();
    assert.equal(lock.lost, true);
    await lock.release();
    assert.equal(await readFile(path, 'utf8'), content, 'a closed store removes nothing');
    assert.deepEqual(s.warnings, [
      `lost the lock ${path} before releasing it: the store was closed while it was held`,
    ]);
  });

  test('the directory removed while held: release returns quietly', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    await rm(s.dir, { recursive: true });
    await lock.release();
    assert.deepEqual(s.warnings, []);
  });
});

describe('a pid this user may not signal (EPERM) is alive', () => {
  const isRoot = process.getuid?.() === 0;
  test('pid 1, seen by an unprivileged process: the lock is held', {
    skip: isRoot
      ? false
      : 'needs root to start a process as another user (as non-root, pid 1 gives EPERM anyway)',
  }, async () => {
    const dir = join(env.root, 'eperm');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, 65534, 65534); // the child's own directory, in one only root can change
    await chmod(env.root, 0o755);
    // The child reads a copy of src/ (with the node_modules it needs): the tree this file runs from may
    // be one only root can read — Stryker's sandbox is a mkdtemp directory (mode 0700). A mutant
    // Stryker activates reaches the copy too, through the inherited __STRYKER_ACTIVE_MUTANT__.
    const pkg = join(dir, 'pkg');
    await cp(fileURLToPath(new URL('../../src', import.meta.url)), join(pkg, 'src'), { recursive: true });
    // node_modules as this file resolves it (Stryker's sandbox has none of its own: the one above it).
    const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
    await symlink(await realpath(dirname(tsxDir)), join(pkg, 'node_modules'));
    await writeFile(join(pkg, 'package.json'), '{"type":"module"}');
    const store = join(pkg, 'src', 'stores', 'file.ts');
    const code = `
      import { writeFile, utimes, mkdir } from 'node:fs/promises';
      import { createRequire } from 'node:module';
import { hostname } from 'node:os';
      import { dirname, join } from 'node:path';
      import { randomBytes } from 'node:crypto';
      const { FileStore } = await import(${JSON.stringify(store)});
      const dir = join(${JSON.stringify(dir)}, 'store');
      const warnings = [];
      const s = new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
      await (await s.lock('init', { ttlMs: 30000, timeoutMs: 0 })).release();
      const path = join(dir, 'k.lock');
      await writeFile(path, JSON.stringify({ pid: 1, host: hostname(), createdAt: Date.now(), ttlMs: 30000, nonce: 'n' }));
      let result;
      try { await s.lock('k', { ttlMs: 30000, timeoutMs: 0 }); result = 'taken'; }
      catch (e) { result = e.name; }
      process.stdout.write(JSON.stringify({ result, warnings }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      uid: 65534,
      gid: 65534,
      cwd: pkg,
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { result: 'LockTimeoutError', warnings: [] });
  });
});
