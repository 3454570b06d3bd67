/**
 * Terminal output: stdout carries only the requested data; every message goes to stderr. Colours only
 * when the stream is a TTY, never with `NO_COLOR` (any non-empty value) or `--no-color`.
 * @module
 */

import type { HttpExchange } from '../http/types.js';
import { redactText } from '../redact.js';

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

/** Writes `tokenward: warning: …` to stderr. */
export function warn(io: Io, text: string): void {
  say(io, `${paint(io.color, 'yellow', 'tokenward: warning:')} ${text}`);
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
