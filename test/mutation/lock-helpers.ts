/**
 * Helpers of the `lock` mutation tests (`lock-*.test.ts`): a root directory and a dead pid for the
 * file, lock files planted with a chosen age, a lock file's JSON; waiting for a condition, for a
 * promise to settle, and noting mocked timers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';

/**
 * Registers the file's `before`/`after` hooks: a fresh root directory (removed after), and a pid that
 * was alive a moment ago and is now gone. Read both through the returned object once the tests run.
 */
export function lockTestRoot(prefix: string): { root: string; dead: number } {
  const state = { root: '', dead: 0 };
  before(async () => {
    state.root = await mkdtemp(join(tmpdir(), prefix));
    state.dead = spawnSync(process.execPath, ['-e', '']).pid;
  });
  after(async () => {
    await rm(state.root, { recursive: true, force: true });
  });
  return state;
}

/** Writes `<key>.lock` with this content, its mtime (and atime) `ageMs` in the past. */
export async function plant(dir: string, key: string, content: string, ageMs: number): Promise<string> {
  const path = join(dir, `${key}.lock`);
  await writeFile(path, content);
  const t = new Date(Date.now() - ageMs);
  await utimes(path, t, t);
  return path;
}

/** A lock file's JSON as a holder on this host writes it, with `over` replacing or adding fields. */
export const lockInfo = (over: Record<string, unknown>): string =>
  JSON.stringify({
    pid: process.pid,
    host: hostname(),
    createdAt: Date.now(),
    ttlMs: 30_000,
    nonce: 'n',
    ...over,
  });

/**
 * Resolves once `cond()` is true, looking again after each turn of the event loop (no timer). Rejects
 * with `p`'s error, or an error saying it ended, if `p` (a lock attempt that must still be pending)
 * settles first; without `p`, never rejects.
 */
export async function until(cond: () => boolean, p?: Promise<unknown>): Promise<void> {
  let ended: { error: unknown } | undefined;
  p?.then(
    () => {
      ended = { error: new Error('ended before the awaited condition held') };
    },
    (error: unknown) => {
      ended = { error };
    },
  );
  while (!cond()) {
    if (ended !== undefined) throw ended.error;
    await new Promise((r) => setImmediate(r));
  }
}

/** Whether `p` has settled, as a function to poll. */
export function settledFlag(p: Promise<unknown>): () => boolean {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return () => settled;
}

/**
 * Mocks `setTimeout` (`mock.timers`: a timer fires only when the test ticks past it) and notes each
 * one's delay, in order; with `frozenAt`, `Date` too (frozen there until a tick). Call the returned
 * `undo` to undo it all (in a `finally`).
 */
export function noteTimers(t: TestContext, frozenAt?: number): { delays: number[]; undo: () => void } {
  if (frozenAt === undefined) t.mock.timers.enable({ apis: ['setTimeout'] });
  else t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: frozenAt });
  const mocked = globalThis.setTimeout;
  const delays: number[] = [];
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return mocked(fn, ms);
  }) as typeof setTimeout;
  return {
    delays,
    undo: () => {
      globalThis.setTimeout = mocked;
      t.mock.timers.reset();
    },
  };
}
