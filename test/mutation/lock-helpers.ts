/**
 * Helpers of the `lock` mutation tests (`lock-*.test.ts`): a root directory and a dead pid for the
 * file, lock files planted with a chosen age, and a lock file's JSON.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

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
