/**
 * Starts the `tokenward` executable: runs the dispatcher, flushes stdout and stderr, exits with its code.
 * Write errors on stdout/stderr (a reader that went away: EPIPE) are caught from the start (on each
 * stream as it is built, see `guardProcessOutput`), so a flow always finishes (token stored, lock released) before the process exits; see `exitCodeAfterOutput`.
 * Shared by the unbundled entry (`main.ts`) and the CLI bundles the installed `bin` runs
 * (`tokenward.cts`).
 * @module
 */

import { baseIo } from './args.js';
import { builtProcessStreams, exitCodeAfterOutput, guardProcessOutput, skipWarningsSaid } from './output.js';
import { main } from './run.js';
import type { WarmRun } from './warm.js';

/**
 * What the installed executable's loader (`tokenward.cts`) hands the bundle it runs: the warm bundle
 * gets `warm`; both get `said`, the warning lines an earlier run in this process (the warm bundle, before
 * it handed over) printed already, so that each warning is printed once.
 */
export interface LoaderHooks {
  warm?: WarmRun;
  said?: Set<string>;
}

function drain(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and exits the process with its code. In the
 * warm bundle (`hooks.warm`), a run that reached a module the warm bundle does not hold prints nothing
 * of what it would have printed after that point, and hands the call to the full bundle instead
 * (`WarmRun.fallback`, which starts over and exits).
 */
export async function start(argv: string[], hooks: LoaderHooks = {}): Promise<never> {
  // Guarded as they are built: a command that prints one line through `writeOut` builds neither.
  const failures = guardProcessOutput();
  if (hooks.said !== undefined) skipWarningsSaid(hooks.said);
  const warm = hooks.warm;
  if (warm === undefined) return finish(await main(argv), failures);
  const { warmIo } = await import('./warm.js');
  const io = warmIo(baseIo(process.env, argv), warm, hooks.said ?? new Set());
  const code = await main(argv, io.io);
  if (warm.missed !== undefined) {
    await Promise.all(builtProcessStreams().map(drain));
    return warm.fallback();
  }
  io.flush();
  return finish(code, failures);
}

async function finish(code: number, failures: ReturnType<typeof guardProcessOutput>): Promise<never> {
  await Promise.all(builtProcessStreams().map(drain));
  return process.exit(exitCodeAfterOutput(code, failures));
}
