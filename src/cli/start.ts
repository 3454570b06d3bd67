/**
 * Starts the `tokenward` executable: runs the dispatcher, flushes stdout and stderr, exits with its code.
 * Write errors on stdout/stderr (a reader that went away: EPIPE) are caught from the start (on each
 * stream as it is built, see `guardProcessOutput`), so a flow always finishes (token stored, lock released) before the process exits; see `exitCodeAfterOutput`.
 * Shared by the unbundled entry (`main.ts`) and the CLI bundle the installed `bin` runs (`bin/`).
 * @module
 */

import { builtProcessStreams, exitCodeAfterOutput, guardProcessOutput } from './output.js';
import { main } from './run.js';

function drain(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

/** Runs the CLI with `argv` (without `node` and the script) and exits the process with its code. */
export async function start(argv: string[]): Promise<never> {
  // Guarded as they are built: a command that prints one line through `writeOut` builds neither.
  const failures = guardProcessOutput();
  const code = await main(argv);
  await Promise.all(builtProcessStreams().map(drain));
  return process.exit(exitCodeAfterOutput(code, failures));
}
