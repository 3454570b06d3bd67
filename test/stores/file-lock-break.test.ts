/**
 * Regression: breaking a stale file lock never destroys a live one. 8 OS processes each take the lock
 * on one key 50 times; after each release a process plants a stale lock (a lock file naming a dead pid
 * on this host) if the key is free, so most acquisitions have to break a stale lock while others race
 * to do the same. Every process logs entering and leaving its critical section to one O_APPEND file;
 * replaying the log, at most one process is ever inside. Counted, not timed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileStore } from '../../src/stores/file.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

const PROCESSES = 8;
const CYCLES = 50;
let cycler: Worker;
let dir: string;

before(async () => {
  cycler = await prepareWorker('lock-cycler');
  dir = await mkdtemp(join(tmpdir(), 'tw-lockbreak-'));
});
after(async () => {
  await cycler.dispose();
  await rm(dir, { recursive: true, force: true });
});

interface Summary {
  ok: boolean;
  planted?: number;
  broke?: number;
  warnings?: string[];
  error?: string;
}

test(`${PROCESSES} processes x ${CYCLES} lock cycles with dead-pid locks planted between them: no two critical sections overlap`, async () => {
  // A pid that surely is dead: a process that has already exited.
  const dead = spawnSync(process.execPath, ['-e', '']);
  assert.equal(dead.status, 0);
  const deadPid = dead.pid;
  const storeDir = join(dir, 'tokens');
  const logPath = join(dir, 'cs.log');
  const key = randomBytes(32).toString('hex');
  const storeKey = 'lockbreak';
  const workers = Array.from({ length: PROCESSES }, () =>
    run(cycler, [storeDir, key, storeKey, String(CYCLES), logPath, String(deadPid)]),
  );
  await Promise.all(workers.map((w) => w.waitFor((l) => l === 'ready')));
  for (const w of workers) w.child.stdin?.write('go\n');
  const summaries = await Promise.all(
    workers.map(async (w) => JSON.parse(await w.waitFor((l) => l.startsWith('{'))) as Summary),
  );
  await Promise.all(workers.map((w) => w.exited));

  const lines = (await readFile(logPath, 'utf8')).split('\n').filter((l) => l !== '');
  let inside = 0;
  let maxInside = 0;
  let overlaps = 0;
  for (const l of lines) {
    if (l.startsWith('+')) {
      inside++;
      if (inside > 1) overlaps++;
      maxInside = Math.max(maxInside, inside);
    } else {
      inside--;
    }
  }
  const planted = summaries.reduce((a, s) => a + (s.planted ?? 0), 0);
  const broke = summaries.reduce((a, s) => a + (s.broke ?? 0), 0);
  assert.equal(
    overlaps,
    0,
    `overlapping critical sections: ${overlaps} (at most ${maxInside} inside at once)`,
  );
  assert.equal(maxInside, 1);
  // No lock was lost or resurrected: every process finished all its cycles.
  for (const s of summaries) assert.equal(s.ok, true, s.error);
  assert.equal(lines.length, PROCESSES * CYCLES * 2, 'every cycle logged its entry and exit');
  // The scenario really exercised breaking: many stale locks were planted and broken.
  assert.ok(planted >= CYCLES, `stale locks planted: ${planted}`);
  assert.ok(broke >= CYCLES, `stale locks broken: ${broke}`);
  assert.deepEqual(
    summaries.flatMap((s) => s.warnings ?? []),
    [],
  );
  // Nothing left behind but (perhaps) the last planted stale lock.
  const left = (await readdir(storeDir)).filter((n) => n !== `${storeKey}.lock`);
  assert.deepEqual(left, []);
});

test('a live holder keeps its lock past its lease (renewed); a lock not renewed (another host) is broken after its lease', async () => {
  const storeDir = join(dir, 'ttl');
  const warnings: string[] = [];
  const store = new FileStore({ dir: storeDir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  const slow = await store.lock('k-slow', { ttlMs: 1_200, timeoutMs: 1_000 });
  await new Promise((r) => setTimeout(r, 3_000)); // the lease has certainly passed, more than twice
  await assert.rejects(store.lock('k-slow', { ttlMs: 1_200, timeoutMs: 200 }), { code: 'ERR_LOCK_TIMEOUT' });
  assert.equal(slow.lost, false);
  await slow.release();
  const after = await store.lock('k-slow', { ttlMs: 1_200, timeoutMs: 1_000 });
  await after.release();
  assert.deepEqual(warnings, []);

  // The same lock recorded as held on another host: its pid cannot be checked, so the TTL applies.
  const lockPath = join(storeDir, 'k-remote.lock');
  await writeFile(
    lockPath,
    JSON.stringify({
      pid: process.pid,
      host: `not-${hostname()}`,
      createdAt: Date.now() - 1_000,
      ttlMs: 50,
      nonce: 'n',
    }),
  );
  const taken = await store.lock('k-remote', { ttlMs: 30_000, timeoutMs: 1_000 });
  await taken.release();
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0] ?? '',
    /broke a stale lock .*k-remote\.lock: held by pid \d+ on not-.*, not renewed for \d+ ms \(its lease is 50 ms\)/,
  );
});

test('a breaker file left by a process killed mid-break does not wedge the key: removed once old', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']);
  const storeDir = join(dir, 'breaker');
  const warnings: string[] = [];
  const store = new FileStore({ dir: storeDir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  const first = await store.lock('k-b', { ttlMs: 30_000, timeoutMs: 1_000 }); // creates the directory
  await first.release();
  await writeFile(
    join(storeDir, 'k-b.lock'),
    JSON.stringify({ pid: dead.pid, host: hostname(), createdAt: Date.now(), ttlMs: 30_000, nonce: 'n' }),
  );
  const breaker = join(storeDir, 'k-b.lock.breaking');
  await writeFile(breaker, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(breaker, old, old);
  const lock = await store.lock('k-b', { ttlMs: 30_000, timeoutMs: 2_000 });
  await lock.release();
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? '', /removed the breaker file .*k-b\.lock\.breaking left by a process killed/);
  assert.match(
    warnings[1] ?? '',
    /broke a stale lock .*k-b\.lock: its holder, pid \d+ on this host, is gone/,
  );
  assert.deepEqual(await readdir(storeDir), []);
});
