/**
 * Runs a helper program (a `cmd:` secret's shell command, `secret-tool`, `security`) bounded in time and
 * output size, in its own process group (POSIX) so that a timeout kills it and whatever it started.
 * Never throws: the result says how it ended, and callers build their own errors from it (never from
 * its standard output, which may be a secret).
 * @module
 */

import { spawn } from 'node:child_process';

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** The child's environment. */
  env: NodeJS.ProcessEnv;
  /** Time limit, ms: then the process group is killed and the result is `timeout`. */
  timeoutMs: number;
  /** The largest standard output kept, in bytes: beyond it the process is killed (`too-big`). */
  maxBytes: number;
  /** Written to the child's standard input, which is then closed. Default: no standard input. */
  input?: Buffer;
  /** Run `command` through the shell (`cmd:` secrets). Default false: `command` is the program. */
  shell?: boolean;
  /** Keep the start of standard error (default false: it is discarded). */
  captureStderr?: boolean;
  /** How much of standard error to keep, in characters. Default 4,096. */
  maxStderr?: number;
}

/** How a program run by {@link runTool} ended. */
export type ToolResult =
  | {
      kind: 'exit';
      /** The exit status, or `null` when killed by a signal. */
      code: number | null;
      signal: NodeJS.Signals | null;
      /** Everything it printed on standard output (may be a secret). */
      stdout: Buffer;
      /** The start of its standard error ('' unless `captureStderr`; at most `maxStderr`). */
      stderr: string;
    }
  | { kind: 'spawn-error'; errno: string }
  | { kind: 'timeout' }
  | { kind: 'too-big' };

const MAX_STDERR = 4096;

/** Runs a program (or, with `shell`, a command line) and collects its output. Never rejects. */
export function runTool(
  command: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const detached = process.platform !== 'win32';
    const child = spawn(command, options.shell === true ? [] : [...args], {
      env: options.env,
      stdio: [
        options.input === undefined ? 'ignore' : 'pipe',
        'pipe',
        options.captureStderr ? 'pipe' : 'ignore',
      ],
      windowsHide: true,
      detached,
      shell: options.shell === true,
    });
    const kill = () => {
      try {
        if (detached && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    let settled = false;
    const finish = (r: ToolResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (r.kind !== 'exit') child.stdout?.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      kill();
      finish({ kind: 'timeout' });
    }, options.timeoutMs);
    timer.unref();
    const chunks: Buffer[] = [];
    let size = 0;
    child.stdout?.on('data', (c: Buffer) => {
      size += c.length;
      if (size > options.maxBytes) {
        kill();
        finish({ kind: 'too-big' });
        return;
      }
      chunks.push(c);
    });
    let stderr = '';
    const maxStderr = options.maxStderr ?? MAX_STDERR;
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < maxStderr) stderr = (stderr + c).slice(0, maxStderr);
    });
    if (child.stdin !== null) {
      child.stdin.on('error', () => {}); // a child that exits without reading: EPIPE is its answer
      child.stdin.end(options.input);
    }
    child.on('error', (err) => {
      finish({ kind: 'spawn-error', errno: (err as { code?: string }).code ?? 'error' });
    });
    child.on('close', (code, signal) => {
      finish({ kind: 'exit', code, signal, stdout: Buffer.concat(chunks), stderr });
    });
  });
}
