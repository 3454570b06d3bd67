/**
 * The file store's lock at its edges (the survivors of the `lock` group's Stryker run that the other
 * `lock-*` files leave — see docs/testing.md): staleness and the timeout at exactly their boundary (the
 * clock frozen with `mock.timers`, so an idle time equals a lease to the millisecond), a renewal whose
 * `stat` fails with something other than `ENOENT`, and a stale lock that cannot be removed (an
 * immutable file). Nothing waits on the wall clock: a wait ends on the store's own event, or on a count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, readlinkSync, watch } from 'node:fs';
import { readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { LockTimeoutError, StoreError } from '../../src/errors.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file.js';
import { lockInfo, lockTestRoot, noteTimers, plant, settledFlag, until } from './lock-helpers.js';

const env = lockTestRoot('tw-mut-locke-');

let n = 0;
/** A file store in a fresh directory (created), collecting warnings. */
async function fresh(over: Partial<FileStoreOptions> = {}) {
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
    ...over,
  });
  const first = await store.lock('init', { ttlMs: 30_000, timeoutMs: 0 }); // creates the directory
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

/** Freezes `Date` (only) at a whole millisecond of now, for the rest of the test. */
function freezeClock(t: TestContext): number {
  const now = Date.now();
  t.mock.timers.enable({ apis: ['Date'], now });
  return now;
}

const linux = watches() !== undefined;
const needsProc = linux ? false : 'needs /proc (Linux) to see the watch';

/**
 * Asserts that `store` (wake-ups on) fails to take `key` at once with `LockTimeoutError` (timeout 0),
 * without starting the directory watch: a store that would wait (which, the clock frozen, would be for
 * ever) starts it first, and fails the test instead of hanging it.
 */
async function assertHeldAtOnce(store: FileStore, key: string, ttlMs: number): Promise<void> {
  const before = watches() ?? 0;
  const taking = store.lock(key, { ttlMs, timeoutMs: 0 });
  taking.catch(() => {});
  const settled = settledFlag(taking);
  await until(() => settled() || (watches() ?? 0) > before);
  assert.equal(watches(), before, 'started waiting with no time left');
  await assert.rejects(taking, (e: unknown) => e instanceof LockTimeoutError && e.waitedMs === 0);
}

describe('staleness at exactly the lease (the clock frozen)', () => {
  test("an unreadable lock idle for exactly the caller's lease is held; one millisecond more, broken", {
    skip: needsProc,
  }, async (t) => {
    const s = await fresh({ lockWakeups: true });
    freezeClock(t);
    await plant(s.dir, 'k', '{garbage', 30_000);
    await assertHeldAtOnce(s.store, 'k', 30_000);
    assert.deepEqual(s.warnings, []);
    const path = await plant(s.dir, 'k', '{garbage', 30_001);
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    await lock.release();
    assert.deepEqual(s.warnings, [`broke a stale lock ${path}: unreadable and not renewed for 30001 ms`]);
  });

  test('a lock idle for exactly the lease it claims is held; one millisecond more, broken', {
    skip: needsProc,
  }, async (t) => {
    const s = await fresh({ lockWakeups: true });
    freezeClock(t);
    const other = `not-${hostname()}`;
    const content = lockInfo({ host: other, pid: 4242, ttlMs: 10_000 });
    await plant(s.dir, 'k', content, 10_000);
    await assertHeldAtOnce(s.store, 'k', 30_000);
    assert.deepEqual(s.warnings, []);
    const path = await plant(s.dir, 'k', content, 10_001);
    const lock = await s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
    await lock.release();
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${path}: held by pid 4242 on ${other}, not renewed for 10001 ms (its lease is 10000 ms)`,
    ]);
  });
});

describe('the timeout at exactly its end', () => {
  test('no time left (0 ms, the clock frozen): LockTimeoutError at once, without starting to wait', {
    skip: needsProc,
  }, async (t) => {
    const s = await fresh({ lockWakeups: true });
    const holder = await new FileStore({ dir: s.dir, key: randomBytes(32) }).lock('k', {
      ttlMs: 30_000,
      timeoutMs: 0,
    });
    freezeClock(t);
    await assertHeldAtOnce(s.store, 'k', 30_000);
    await holder.release();
    assert.deepEqual(s.warnings, []);
  });
});

describe('a holder whose renewal cannot look at its lock file', () => {
  test('stat failing with ELOOP (a symlink loop at the lock path): lost after a lease unconfirmed, not at once', async () => {
    const s = await fresh();
    const lock = await s.store.lock('k', { ttlMs: 300, timeoutMs: 0 });
    const path = join(s.dir, 'k.lock');
    const warned = s.nextWarning();
    await rm(path);
    await symlink('k.lock', path); // a link to itself: stat fails with ELOOP, not ENOENT
    const keep = setInterval(() => {}, 1_000); // the renewal timer is unref'd
    let first: string;
    try {
      first = await warned;
    } finally {
      clearInterval(keep);
    }
    assert.equal(
      first,
      `lost the lock ${path} before releasing it: the store did not confirm it for more than its lease of 300 ms`,
    );
    assert.equal(lock.lost, true);
    await lock.release();
    assert.deepEqual(s.warnings, [
      first,
      `could not release the lock ${path} (ELOOP); it is stale one lease (300 ms) after its last renewal`,
    ]);
  });
});

describe('a stale lock that cannot be removed', () => {
  const isRoot = process.getuid?.() === 0;
  /** Sets or clears the immutable attribute; false where chattr is missing or not allowed. */
  const chattr = (flag: '+i' | '-i', path: string) =>
    spawnSync('chattr', [flag, path], { stdio: 'ignore' }).status === 0;

  test('an immutable lock file (chattr +i): a StoreError with the errno, once, and no "broke" warning', {
    skip: isRoot ? false : 'needs root to make a file immutable',
  }, async (t) => {
    const s = await fresh();
    const path = await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    if (!chattr('+i', path)) {
      t.skip('chattr +i is not available here');
      return;
    }
    let events = 0;
    let w: FSWatcher | undefined;
    try {
      w = watch(s.dir, () => {
        events++;
      });
      const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      taking.catch(() => {});
      const settled = settledFlag(taking);
      // One attempt makes a handful of file events (its temporary file, the breaker file); a taker
      // that retries the break for ever makes them without end.
      await until(() => settled() || s.warnings.length > 0 || events > 200);
      assert.deepEqual(s.warnings, []);
      assert.equal(settled(), true, `still trying after ${events} file events`);
      await assert.rejects(taking, (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.message, `cannot break the stale lock ${path} (EPERM)`);
        assert.equal(e.target, path);
        assert.equal((e.cause as NodeJS.ErrnoException).code, 'EPERM');
        return true;
      });
    } finally {
      w?.close();
      chattr('-i', path);
    }
    assert.deepEqual(await readdir(s.dir), ['k.lock'], 'the breaker file is given back');
    assert.match(await readFile(path, 'utf8'), new RegExp(`"pid":${env.dead}`));
  });
});

/** Asserts `x` lies in [lo, hi]. */
function within(x: number | undefined, lo: number, hi: number, what: string): void {
  assert.ok(x !== undefined && x >= lo && x <= hi, `${what}: ${x} is not within [${lo}, ${hi}]`);
}

describe('waits that grow (timers mocked: each wait is noted, and ended by the test)', () => {
  test('a waiter polls less and less often: each poll up to twice the one before (base 1 s)', async (t) => {
    const s = await fresh({ lockPoll: { baseMs: 1_000, capMs: 1_000_000 } });
    const holder = await new FileStore({ dir: s.dir, key: randomBytes(32) }).lock('k', {
      ttlMs: 30_000,
      timeoutMs: 0,
    });
    const timers = noteTimers(t);
    try {
      const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 3_600_000 });
      taking.catch(() => {});
      for (let i = 1; i <= 3; i++) {
        await until(() => timers.delays.length === i, taking);
        if (i < 3) t.mock.timers.tick(timers.delays[i - 1] ?? 0);
      }
      // Jittered: the n-th poll waits between half and all of min(base * 2^n, cap).
      within(timers.delays[0], 500, 1_000, 'first poll');
      within(timers.delays[1], 1_000, 2_000, 'second poll');
      within(timers.delays[2], 2_000, 4_000, 'third poll');
      await holder.release();
      t.mock.timers.tick(timers.delays[2] ?? 0);
      const lock = await taking;
      await lock.release();
    } finally {
      timers.undo();
    }
    assert.deepEqual(s.warnings, []);
  });

  test('a taker waiting for a breaker file waits up to twice as long each time (5 ms, then 10, 20)', async (t) => {
    const s = await fresh();
    const path = await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    const breaker = `${path}.breaking`;
    await writeFile(breaker, '');
    const later = new Date(Date.now() + 3_600_000); // held by someone else, never old enough to remove
    await utimes(breaker, later, later);
    const timers = noteTimers(t);
    try {
      const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      taking.catch(() => {});
      for (let i = 1; i <= 3; i++) {
        await until(() => timers.delays.length === i, taking);
        if (i < 3) t.mock.timers.tick(timers.delays[i - 1] ?? 0);
      }
      within(timers.delays[0], 2.5, 5, 'first wait');
      within(timers.delays[1], 5, 10, 'second wait');
      within(timers.delays[2], 10, 20, 'third wait');
      await rm(breaker);
      t.mock.timers.tick(timers.delays[2] ?? 0);
      const lock = await taking;
      await lock.release();
    } finally {
      timers.undo();
    }
    assert.deepEqual(s.warnings, [
      `broke a stale lock ${path}: its holder, pid ${env.dead} on this host, is gone`,
    ]);
  });
});

describe('a breaker file exactly 5 s old (the clock frozen)', () => {
  test('is still waited for; one millisecond older, it is removed (a breaker killed mid-break)', async (t) => {
    const s = await fresh();
    // A whole second: the mtime set below is then exact (no fraction of a millisecond either way).
    const now = Math.floor(Date.now() / 1_000) * 1_000;
    const path = await plant(s.dir, 'k', lockInfo({ pid: env.dead }), 0);
    const breaker = `${path}.breaking`;
    await writeFile(breaker, '');
    const fiveSecondsAgo = new Date(now - 5_000);
    await utimes(breaker, fiveSecondsAgo, fiveSecondsAgo);
    const timers = noteTimers(t, now);
    try {
      const taking = s.store.lock('k', { ttlMs: 30_000, timeoutMs: 0 });
      taking.catch(() => {});
      // A taker that waits sets a timer; one that removes the breaker file warns first.
      await until(() => timers.delays.length > 0 || s.warnings.length > 0, taking);
      assert.deepEqual(s.warnings, []);
      const older = new Date(now - 5_001);
      await utimes(breaker, older, older);
      t.mock.timers.tick(timers.delays[0] ?? 0);
      const lock = await taking;
      await lock.release();
    } finally {
      timers.undo();
    }
    assert.deepEqual(s.warnings, [
      `removed the breaker file ${breaker} left by a process killed while breaking a lock`,
      `broke a stale lock ${path}: its holder, pid ${env.dead} on this host, is gone`,
    ]);
  });
});

describe("a holder's renewal timer (timers mocked)", () => {
  for (const [ttlMs, interval] of [
    [300, 100],
    [30_000, 2_000],
    [2, 1],
  ] as const) {
    test(`a lease of ${ttlMs} ms is renewed every ${interval} ms (a third of it, at most 2 s, at least 1 ms)`, async (t) => {
      const s = await fresh();
      const timers = noteTimers(t);
      try {
        const lock = await s.store.lock('k', { ttlMs, timeoutMs: 0 });
        assert.deepEqual(timers.delays, [interval]);
        await lock.release();
      } finally {
        timers.undo();
      }
      assert.deepEqual(s.warnings, []);
    });
  }
});
