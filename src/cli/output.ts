/**
 * Terminal output: stdout carries only the requested data; every message goes to stderr. Colours only
 * when the stream is a TTY, never with `NO_COLOR` (any non-empty value) or `--no-color`.
 *
 * A reader that goes away (`tokenward token -v 2>&1 | head -c 20`) or a full disk must not crash the
 * CLI half-way through a flow, after a rotating refresh token was spent and before its successor is
 * stored: {@link guardOutput} catches write errors on both streams, later output to a broken stream is
 * dropped, the command finishes (store written, lock released), and {@link exitCodeAfterOutput} decides
 * the exit code.
 * @module
 */

import { writeSync } from 'node:fs';
import type { HttpExchange } from '../http/types.js';
import { redactText } from '../redact.js';
import { EXIT } from './exit.js';

/** The streams and switches a command runs with. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** `-v/--verbose`. */
  verbose: boolean;
  /** Colours on stderr. */
  color: boolean;
  /** Colours on stdout. */
  colorOut: boolean;
  /**
   * Writes command output to stdout (what `stdout.write` does, ordered with it). The CLI's own Io
   * writes it to file descriptor 1 at once while `process.stdout` has not been built (see
   * {@link writeStdout}), so a command that prints one line never builds Node's stdout stream.
   */
  writeOut(text: string): void;
}

/** True when colours may be used on a stream. */
export function colorAllowed(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  noColorFlag: boolean,
): boolean {
  if (noColorFlag) return false;
  const nc = env['NO_COLOR'];
  if (nc !== undefined && nc !== '') return false;
  return stream.isTTY === true && env['TERM'] !== 'dumb';
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;

/** A colour name. */
export type Color = keyof typeof CODES;

/** Wraps text in an ANSI colour when `on`. */
export function paint(on: boolean, color: Color, text: string): string {
  return on ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** Writes a message line to stderr, redacted. */
export function say(io: Io, text: string): void {
  io.stderr.write(`${redactText(text)}\n`);
}

let said: ReadonlySet<string> | undefined;

/**
 * Warning lines (as written, with their newline) that this process printed already, before this bundle
 * ran: the warm bundle's, when it handed the call over (see `start.ts`). {@link warn} skips them.
 */
export function skipWarningsSaid(lines: ReadonlySet<string>): void {
  said = lines;
}

/** Writes `tokenward: warning: …` to stderr (once: not when this process printed the line already). */
export function warn(io: Io, text: string): void {
  const line = `${paint(io.color, 'yellow', 'tokenward: warning:')} ${text}`;
  if (said?.has(`${redactText(line)}\n`) === true) return;
  say(io, line);
}

/** Writes `tokenward: error: …` to stderr. */
export function error(io: Io, text: string): void {
  say(io, `${paint(io.color, 'red', 'tokenward: error:')} ${text}`);
}

/** Writes a verbose line to stderr (only with `-v`). */
export function debug(io: Io, text: string): void {
  if (io.verbose) say(io, paint(io.color, 'dim', text));
}

/** Prints one HTTP exchange (already redacted by the HTTP layer; redacted again here). */
export function printExchange(io: Io, x: HttpExchange): void {
  if (!io.verbose) return;
  const c = io.color;
  const lines: string[] = [];
  lines.push(paint(c, 'cyan', `> ${x.method} ${x.url}${x.attempt > 1 ? ` (attempt ${x.attempt})` : ''}`));
  for (const [k, v] of Object.entries(x.requestHeaders)) lines.push(paint(c, 'dim', `> ${k}: ${v}`));
  if (x.requestBody !== undefined && x.requestBody !== '') lines.push(paint(c, 'dim', `> ${x.requestBody}`));
  if (x.error !== undefined) {
    lines.push(paint(c, 'red', `< ${x.error} (${Math.round(x.durationMs)} ms)`));
  } else {
    const st = x.status ?? 0;
    lines.push(paint(c, st >= 400 ? 'red' : 'green', `< ${st} (${Math.round(x.durationMs)} ms)`));
    for (const [k, v] of Object.entries(x.responseHeaders ?? {})) lines.push(paint(c, 'dim', `< ${k}: ${v}`));
    if (x.responseBody !== undefined && x.responseBody !== '')
      lines.push(paint(c, 'dim', `< ${x.responseBody}`));
  }
  for (const l of lines) say(io, l);
}

/** The first write error of each standard stream (an errno code such as `EPIPE`), once one happened. */
export interface OutputFailures {
  stdout?: string;
  stderr?: string;
}

/**
 * Catches write errors (EPIPE, EIO, ENOSPC, …) on stdout and stderr for the rest of the process and
 * records the first of each. Without this, an unhandled `'error'` event kills the process mid-flow.
 */
export function guardOutput(
  streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = {
    stdout: process.stdout,
    stderr: process.stderr,
  },
): OutputFailures {
  const failures: OutputFailures = {};
  for (const name of ['stdout', 'stderr'] as const) guardStream(streams[name], name, failures);
  return failures;
}

function guardStream(stream: NodeJS.WritableStream, name: keyof OutputFailures, failures: OutputFailures) {
  stream.on('error', (err: unknown) => {
    failures[name] ??= errorCode(err);
  });
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** The process's output, as {@link guardProcessOutput} watches it. */
interface ProcessOutput {
  failures: OutputFailures;
  /** `process.stdout` / `process.stderr` have been built (by anyone) since the guard was installed. */
  built: { stdout: boolean; stderr: boolean };
}

let processOutput: ProcessOutput | undefined;

/**
 * {@link guardOutput} for the process's own streams, without building them: Node builds
 * `process.stdout` and `process.stderr` on first access (on a pipe, with `net` and the stream modules
 * behind it, more than a warm `tokenward token` costs otherwise), so the guard is attached by a wrapper
 * of each lazy getter when whoever first reads it builds it. Installed once per process; later calls
 * return the same failures.
 */
export function guardProcessOutput(): OutputFailures {
  if (processOutput !== undefined) return processOutput.failures;
  const state: ProcessOutput = { failures: {}, built: { stdout: false, stderr: false } };
  for (const name of ['stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    const get = d?.get;
    if (get === undefined || d?.configurable !== true) {
      // Not Node's lazy getter (already replaced): guard what is there.
      guardStream(process[name], name, state.failures);
      state.built[name] = true;
      continue;
    }
    let stream: NodeJS.WriteStream | undefined;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable ?? true,
      get() {
        if (stream === undefined) {
          stream = get.call(process) as NodeJS.WriteStream;
          guardStream(stream, name, state.failures);
          state.built[name] = true;
        }
        return stream;
      },
    });
  }
  processOutput = state;
  return state.failures;
}

/** The process's streams that have been built, to be flushed before exit (all of them without the guard). */
export function builtProcessStreams(): NodeJS.WritableStream[] {
  const built = processOutput?.built ?? { stdout: true, stderr: true };
  return [...(built.stdout ? [process.stdout] : []), ...(built.stderr ? [process.stderr] : [])];
}

/**
 * Writes `text` to the process's stdout. While `process.stdout` has not been built (and
 * {@link guardProcessOutput} watches it), the bytes go to file descriptor 1 with `fs.writeSync`, which
 * builds no stream; partial writes are continued. A failure is recorded as a stream error would be (so
 * a closed pipe, `EPIPE`, ends the process with 141 and no message, see {@link exitCodeAfterOutput});
 * `EAGAIN` (a non-blocking descriptor that is full) hands the rest to `process.stdout`, which waits for
 * it to drain. Once built, the stream is used, so output stays in order.
 * @param write - `fs.writeSync` (a test hook).
 */
export function writeStdout(
  text: string,
  write: (fd: number, data: Uint8Array, offset: number, length: number) => number = writeSync,
): void {
  const state = processOutput;
  if (state === undefined || state.built.stdout) {
    process.stdout.write(text);
    return;
  }
  if (state.failures.stdout !== undefined) return; // broken already: output is dropped
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) {
    try {
      done += write(1, bytes, done, bytes.length - done);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'EAGAIN') {
        process.stdout.write(bytes.subarray(done));
        return;
      }
      state.failures.stdout ??= code;
      return;
    }
  }
}

/**
 * The exit code once the command is done, given what happened to its output:
 * - stdout closed by its reader (EPIPE) after an otherwise successful command: {@link EXIT}.BROKEN_PIPE,
 *   141 (128 + SIGPIPE, what a shell reports for `cat big | head`), quietly;
 * - another stdout write error (EIO, ENOSPC, …) after an otherwise successful command: 1, with a message
 *   on stderr when stderr still works;
 * - a failed command keeps its own exit code; a broken stderr alone changes nothing (messages are lost,
 *   the data on stdout is not).
 */
export function exitCodeAfterOutput(
  code: number,
  failures: OutputFailures,
  stderr?: NodeJS.WritableStream,
): number {
  const out = failures.stdout;
  if (code !== 0 || out === undefined) return code;
  if (out === 'EPIPE') return EXIT.BROKEN_PIPE;
  if (failures.stderr === undefined) {
    (stderr ?? process.stderr).write(`tokenward: error: could not write to standard output (${out})\n`);
  }
  return 1;
}
