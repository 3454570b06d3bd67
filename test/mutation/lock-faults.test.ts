/**
 * The file store's lock against another process acting at the worst moment: a lock released between a
 * failed attempt and the look at it, a breaker file gone between its failed creation and the look at
 * its age, the breaker file replaced or removed while held, the stale lock removed between its re-read
 * and its removal, a release just before the directory watch begins. Races between processes that a
 * single test process cannot produce by timing: each is made exact by wrapping one `node:fs` function
 * (its `node:fs/promises` or `node:fs` export, which `src/` imports, updated with
 * `syncBuiltinESMExports`) so that "the other process" acts right before the call the race is about.
 * The wrapper acts once, on the named path only, and calls the real function.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { StoreError } from '../../src/errors.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file.js';
import { lockInfo, lockTestRoot, noteTimers, plant, until } from './lock-helpers.js';

const env = lockTestRoot('tw-mut-lockf-');

/** The real functions, for the tests' own use while one is wrapped. */
const real = {
  link: fsp.link,
  open: fsp.open,
  readdir: fsp.readdir,
  readFile: fsp.readFile,
  rename: fsp.rename,
  stat: fsp.stat,
  unlink: fsp.unlink,
  writeFile: fsp.writeFile,
  unlinkSync: fs.unlinkSync,
  watch: fs.watch,
};

const restores: (() => void)[] = [];
afterEach(() => {
  for (const r of restores.splice(0)) r();
});

/**
 * Replaces `module[name]` (and so the named import of it in `src/`) with `make(original)` until the
 * end of the test.
 */
function wrap<M extends object, K extends keyof M>(module: M, name: K, make: (original: M[K]) => M[K]): void {
  const original = module[name];
  module[name] = make(original);
  syncBuiltinESMExports();
  restores.push(() => {
    module[name] = original;
    syncBuiltinESMExports();
  });
}

let n = 0;
/** A file store in a fresh directory (created), collecting warnings. */
async function fresh(over: Partial<FileStoreOptions> = {}) {
  const dir = join(env.root, `s${n++}`);
  const warnings: string[] = [];
  const store = new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m), ...over });
  const first = await store.lock('init', { ttlMs: 30_000, timeoutMs: 0 }); // creates the directory
  await first.release();
  return { store, dir, warnings, lockPath: join(dir, 'k.lock'), breakerPath: join(dir, 'k.lock.breaking') };
}

/** Takes `k` (timeout 0), releases it, and checks that nothing is left in the directory. */
async function takeAndRelease(s: Awaited<ReturnType<typeof fresh>>): Promise<void> {
  const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
  assert.equal(lock.lost, false);
  await lock.release();
  assert.deepEqual(await real.readdir(s.dir), []);
}

describe('a lock released by its holder right after a failed attempt', () => {
  test('gone when looked at: the lock is tried again at once and taken (timeout 0), nothing warned', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ nonce: 'holder' }), 0); // held: a live pid, just renewed
    let once = true;
    wrap(fsp, 'link', (link) => async (from, to) => {
      try {
        return await link(from, to);
      } catch (err) {
        if (once && to === s.lockPath) {
          once = false;
          await real.unlink(s.lockPath); // the holder releases it now
        }
        throw err;
      }
    });
    await takeAndRelease(s);
    assert.equal(once, false, 'the first attempt failed');
    assert.deepEqual(s.warnings, []);
  });

  const linux = process.platform === 'linux';
  test('just before the directory watch begins: looked at again at once, taken, not left to a poll', {
    skip: linux ? false : 'the directory watch is only known to work on Linux here',
  }, async () => {
    // Polling off in effect (one poll an hour): only the look right after the watch begins finds it.
    const s = await fresh({ lockWakeups: true, lockPoll: { baseMs: 3_600_000, capMs: 3_600_000 } });
    await plant(s.dir, 'k', lockInfo({ nonce: 'holder' }), 0);
    let once = true;
    wrap(
      fs,
      'watch',
      (watch) =>
        ((...args: Parameters<typeof fs.watch>) => {
          if (once) {
            once = false;
            real.unlinkSync(s.lockPath); // released before the watch can see it: no event
          }
          return watch(...args);
        }) as typeof fs.watch,
    );
    // A waiter that does not look again sleeps until its poll (here its timeout, 30 s), and then takes
    // the lock all the same: what tells it apart is that sleep. Long timers are noted while it runs.
    const sleeps: number[] = [];
    const setTimeoutBefore = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (typeof ms === 'number' && ms > 10_000) sleeps.push(ms);
      return setTimeoutBefore(fn, ms);
    }) as typeof setTimeout;
    restores.push(() => {
      globalThis.setTimeout = setTimeoutBefore;
    });
    const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 30_000 });
    taking.catch(() => {});
    let settled = false;
    taking.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    while (!settled && sleeps.length === 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual(sleeps, [], 'went to sleep instead of looking again');
    const lock = await taking;
    assert.equal(once, false, 'the waiter started watching');
    await lock.release();
    assert.deepEqual(await real.readdir(s.dir), []);
    assert.deepEqual(s.warnings, []);
  });
});

describe('a directory that cannot be watched', () => {
  test('wake-ups on, but the watch fails: the waiter polls, trying the watch once per poll (no spinning)', async (t) => {
    const s = await fresh({ lockWakeups: true, lockPoll: { baseMs: 3_600_000, capMs: 3_600_000 } });
    await plant(s.dir, 'k', lockInfo({ nonce: 'holder' }), 0);
    let tries = 0;
    wrap(
      fs,
      'watch',
      () =>
        (() => {
          tries++;
          throw Object.assign(new Error('no watch here'), { code: 'ENOSYS' });
        }) as typeof fs.watch,
    );
    const timers = noteTimers(t);
    try {
      const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 3_600_000 });
      taking.catch(() => {});
      // Its first poll (a mocked timer): a waiter that went on without one tries the watch again.
      await until(() => timers.delays.length > 0 || tries > 1, taking);
      assert.equal(tries, 1, 'tried the watch again without waiting');
      await real.unlink(s.lockPath); // released (and nobody is told: no watch)
      t.mock.timers.tick(timers.delays[0] ?? 0);
      const lock = await taking;
      await lock.release();
    } finally {
      timers.undo();
    }
    assert.equal(tries, 1);
    assert.deepEqual(await real.readdir(s.dir), []);
    assert.deepEqual(s.warnings, []);
  });
});

describe('breaking a stale lock while another process breaks it too', () => {
  test('the breaker file gone between its failed creation and the look at its age: tried again, the lock broken', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    let once = true;
    wrap(
      fsp,
      'open',
      (open) =>
        (async (path: string, flags?: string, mode?: number) => {
          if (once && path === s.breakerPath) {
            once = false;
            await real.writeFile(s.breakerPath, ''); // another breaker holds it…
            try {
              return await open(path, flags, mode);
            } finally {
              await real.unlink(s.breakerPath); // …and gives it back right after this attempt failed
            }
          }
          return open(path, flags, mode);
        }) as typeof fsp.open,
    );
    await takeAndRelease(s);
    assert.equal(once, false);
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${s.lockPath}: its holder, pid ${env.dead} on this host, is gone`,
    ]);
  });

  test('its breaker file replaced by another process while held: the other one is left in place', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    let once = true;
    wrap(fsp, 'unlink', (unlink) => async (path) => {
      if (once && path === s.lockPath) {
        once = false;
        // Another process's breaker file takes the path (a new inode: written first, then renamed).
        await real.writeFile(`${s.breakerPath}.theirs`, 'theirs');
        await real.rename(`${s.breakerPath}.theirs`, s.breakerPath);
      }
      return unlink(path);
    });
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    assert.equal(once, false);
    assert.equal(await real.readFile(s.breakerPath, 'utf8'), 'theirs', 'the other breaker file is left');
    await real.unlink(s.breakerPath); // its owner is done
    await lock.release();
    assert.deepEqual(await real.readdir(s.dir), []);
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${s.lockPath}: its holder, pid ${env.dead} on this host, is gone`,
    ]);
  });

  test('its breaker file removed by another process while held: nothing to give back, no error', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    let once = true;
    wrap(fsp, 'unlink', (unlink) => async (path) => {
      if (once && path === s.lockPath) {
        once = false;
        await real.unlink(s.breakerPath);
      }
      return unlink(path);
    });
    await takeAndRelease(s);
    assert.equal(once, false);
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${s.lockPath}: its holder, pid ${env.dead} on this host, is gone`,
    ]);
  });

  test('the stale lock removed by another process between its re-read and its removal: taken, nothing warned', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    let once = true;
    wrap(fsp, 'unlink', (unlink) => async (path) => {
      if (once && path === s.lockPath) {
        once = false;
        await real.unlink(s.lockPath); // the other breaker was first
      }
      return unlink(path);
    });
    await takeAndRelease(s);
    assert.equal(once, false);
    assert.deepEqual(s.warnings, [], 'this store broke nothing');
  });
});

describe('a file system error without an errno code (not one Node gives): named "error"', () => {
  /** An error as Node's fs never throws one: no `code`. */
  const codeless = () => new Error('no code');
  const storeError = (message: string) => (e: unknown) => {
    assert.ok(e instanceof StoreError, String(e));
    assert.equal(e.message, message);
    assert.equal((e.cause as Error).message, 'no code');
    return true;
  };

  test('creating the lock file', async () => {
    const s = await fresh();
    wrap(fsp, 'link', (link) => async (from, to) => {
      if (to === s.lockPath) throw codeless();
      return link(from, to);
    });
    await assert.rejects(
      s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }),
      storeError(`cannot create the lock file ${s.lockPath} (error)`),
    );
  });

  test('reading a lock file', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ nonce: 'holder' }), 0);
    wrap(
      fsp,
      'stat',
      (stat) =>
        (async (path: string, opts?: fs.StatOptions) => {
          if (path === s.lockPath) throw codeless();
          return stat(path, opts);
        }) as typeof fsp.stat,
    );
    await assert.rejects(
      s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }),
      storeError(`cannot read the lock file ${s.lockPath} (error)`),
    );
  });

  test('removing a stale lock', async () => {
    const s = await fresh();
    await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    wrap(fsp, 'unlink', (unlink) => async (path) => {
      if (path === s.lockPath) throw codeless();
      return unlink(path);
    });
    await assert.rejects(
      s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 }),
      storeError(`cannot break the stale lock ${s.lockPath} (error)`),
    );
    assert.deepEqual(s.warnings, []);
  });
});
