/**
 * Temporary files of writers killed mid-write are removed on the write path (not only by `status`):
 * after many SIGKILLed writers, the next write leaves none behind. And the rules that keep a live
 * writer's file: this process's, another host's (for a while), an untagged one (for a while).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileStore } from '../../src/stores/file.js';
import { storeKey } from '../../src/stores/store-key.js';
import { sampleEntry } from './conformance.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let writer: Worker;
const dirs: string[] = [];
before(async () => {
  writer = await prepareWorker('file-writer');
});
after(async () => {
  await writer.dispose();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-orphans-'));
  dirs.push(d);
  return d;
}

const temps = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp')).sort();

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  const pid = c.pid as number;
  await new Promise((r) => c.on('exit', r));
  return pid;
}

test('writers SIGKILLed mid-write leave temporary files; the next write by anyone removes them all', async (t) => {
  const dir = await tempDir();
  const key = randomBytes(32);
  const store = new FileStore({ dir, key });
  await store.open();
  const WRITERS = 8;
  let kills = 0;
  let orphaned: string[] = [];
  // Rounds of eight writers on one directory, all killed at once while writing in a loop (at least three
  // rounds, more until some temporary files are left: a writer spends most of its time between creating
  // its temporary file and renaming it).
  let most = 0;
  for (let round = 0; round < 3 || (round < 8 && orphaned.length === 0); round++) {
    const ws = Array.from({ length: WRITERS }, (_, i) =>
      run(writer, [dir, key.toString('hex'), storeKey('orphans', { i: String(i) }), String(round * 1e6)]),
    );
    await Promise.all(ws.map((w) => w.waitFor((l) => l === 'ready')));
    await sleep(300);
    for (const w of ws) w.child.kill('SIGKILL');
    for (const w of ws) {
      const { signal } = await w.exited;
      assert.equal(signal, 'SIGKILL');
      kills++;
    }
    orphaned = await temps(dir);
    most = Math.max(most, orphaned.length);
  }
  t.diagnostic(
    `${kills} writers killed; up to ${most} temporary files left after a round (earlier rounds' are removed by later writers); ${orphaned.length} before the next write`,
  );
  assert.ok(orphaned.length > 0, 'writers were killed while writing');
  await store.set(sampleEntry(storeKey('orphans', { after: 'kill' })));
  assert.deepEqual(await temps(dir), [], 'no orphan survives the next write');
});

test('what the write path removes: a dead writer of this host at once; others only when surely dead', async () => {
  const dir = await tempDir();
  const store = new FileStore({ dir, key: randomBytes(32) });
  await store.open();
  const host = `h${createHash('sha256').update(hostname()).digest('hex').slice(0, 8)}`;
  const dead = await deadPid();
  const rnd = () => randomBytes(6).toString('hex');
  const k = storeKey('rules', {});
  const names = {
    deadHere: `.${k}.tok.${host}.${dead}.${rnd()}.tmp`,
    mine: `.${k}.tok.${host}.${process.pid}.${rnd()}.tmp`,
    otherHostFresh: `.${k}.tok.h00000000.${dead}.${rnd()}.tmp`,
    otherHostOld: `.${k}.tok.h00000000.${process.pid}.${rnd()}.tmp`,
    untaggedFresh: `.${k}.lock.${dead}.${rnd()}.tmp`,
    untaggedDeadAWhile: `.${k}.tok.${dead}.${rnd()}.tmp`,
    notOurs: 'notes.tmp',
  };
  for (const n of Object.values(names)) await writeFile(join(dir, n), 'x', { mode: 0o600 });
  const ago = (s: number) => new Date(Date.now() - s * 1000);
  await utimes(join(dir, names.otherHostOld), ago(11 * 60), ago(11 * 60));
  await utimes(join(dir, names.untaggedDeadAWhile), ago(40), ago(40));

  await store.set(sampleEntry(k));
  assert.deepEqual(
    await temps(dir),
    [names.mine, names.otherHostFresh, names.untaggedFresh, names.notOurs].sort(),
    'kept: this process’s own, another host’s fresh one, an untagged fresh one, and files not named like ours',
  );
});
