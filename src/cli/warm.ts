/**
 * The warm bundle's side of the installed executable (see `tokenward.cts` and scripts/build-cli.mjs):
 * the warm bundle holds only the modules a warm `tokenward token` evaluates, and every other module of
 * the CLI is a stub that records the miss ({@link WarmRun.missed}) and throws. Until the call ends it is
 * not known whether the warm bundle could serve it, so its output is held back:
 * - stdout (the token, `--json`, a help or version text) is written only when the call ended without a
 *   miss;
 * - stderr (warnings, an error) is written as it comes until a miss, and dropped after it. The lines it
 *   wrote are added to `said`, so the full bundle, which runs the call again after a miss, does not print
 *   the same warning twice.
 *
 * No side effect a warm call can have before a miss changes what the full bundle then does: the warm
 * bundle holds no HTTP layer, token client, secret command or keyring module, so nothing is requested
 * and no secret is resolved before the miss; a token client that cannot be built is not recorded in the
 * store; a lock taken is released on the way out.
 * @module
 */

import type { Io } from './output.js';
import { writeStdout } from './output.js';

/** The warm bundle's run, shared with its loader and the stubs of the modules it does not hold. */
export interface WarmRun {
  /** The first module the call needed that the warm bundle does not hold, once one was needed. */
  missed?: string;
  /** Runs the same call with the full bundle (which exits the process). */
  fallback(): Promise<never>;
}

/** Text of a chunk written to a stream. */
function text(chunk: string | Uint8Array): string {
  return typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
}

/**
 * A stream that hands each chunk to `take`: what a command's `io.stdout` / `io.stderr` are used for is
 * `write()` (a full `Writable` would load `node:stream` for it). The callback of a write, if any, is
 * called once the chunk is taken, as a stream calls it once the chunk is handled.
 */
function heldStream(take: (text: string) => void): Io['stdout'] {
  const write = (
    chunk: string | Uint8Array,
    encodingOrDone?: BufferEncoding | ((err?: Error | null) => void),
    done?: (err?: Error | null) => void,
  ): boolean => {
    take(text(chunk));
    const callback = typeof encodingOrDone === 'function' ? encodingOrDone : done;
    if (callback !== undefined) queueMicrotask(() => callback());
    return true;
  };
  // Only write() is there: the CLI's commands use nothing else of their streams.
  return { write } as unknown as Io['stdout'];
}

/** The command's Io in the warm bundle, and the flush of its held-back stdout. */
export function warmIo(base: Io, warm: WarmRun, said: Set<string>): { io: Io; flush(): void } {
  const held: Array<{ text: string; raw: boolean }> = [];
  const io = Object.defineProperties({}, Object.getOwnPropertyDescriptors(base)) as Io;
  Object.defineProperty(io, 'stdout', {
    value: heldStream((t) => held.push({ text: t, raw: false })),
    enumerable: true,
  });
  Object.defineProperty(io, 'stderr', {
    value: heldStream((t) => {
      if (warm.missed !== undefined) return;
      said.add(t);
      process.stderr.write(t);
    }),
    enumerable: true,
  });
  io.writeOut = (t: string) => {
    held.push({ text: t, raw: true });
  };
  return {
    io,
    flush() {
      for (const h of held) {
        if (h.raw) writeStdout(h.text);
        else process.stdout.write(h.text);
      }
    },
  };
}
