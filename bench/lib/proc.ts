/**
 * Child processes for the bench: bundled workers (see `bench/run.mjs`) started with their stdout split
 * into lines, and timed one-shot commands.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './harness.js';

/** The bundled file of a bench worker, `bench/.work/<name>.mjs` (built by `bench/run.mjs`). */
export function workerFile(name: string): string {
  return join(ROOT, 'bench', '.work', `${name}.mjs`);
}

/** A running worker with its stdout split into lines. */
export interface Running {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `test`; rejects if the process exits first. */
  waitFor(test: (line: string) => boolean): Promise<string>;
  /** Every stdout line so far. */
  lines: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node [nodeArgs] <bench/.work/name.mjs> [args]` in the repository root. */
export function startWorker(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  nodeArgs: string[] = [],
): Running {
  const child = spawn(process.execPath, [...nodeArgs, workerFile(name), ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ test: (l: string) => boolean; resolve: (l: string) => void }> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w?.test(line)) {
        waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  // 'close', not 'exit': 'exit' can come before the last stdout lines have been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('close', (code, signal) => res({ code, signal })),
  );
  return {
    child,
    lines,
    stderr,
    exited,
    waitFor: (test) => {
      const found = lines.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<string>((res, rej) => {
        waiters.push({ test, resolve: res });
        void exited.then(({ code, signal }) =>
          rej(
            new Error(`${name} exited (${code ?? signal}) early; stderr: ${stderr.join('').slice(0, 2000)}`),
          ),
        );
      });
    },
  };
}

/** The outcome of one timed command. */
export interface Timed {
  /** Wall time from spawn to exit, ms. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and measures its wall time (spawn to exit). */
export function timeCommand(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({
        ms: performance.now() - t0,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
