/**
 * What the credential-helper commands (`git-credential`, `docker-credential`, `kubectl-credential`)
 * share: the request the calling tool writes on stdin, read with a size cap and an idle limit, and the
 * expiry they report — the token's, less the profile's safety margin, so the tool asks again (and gets a
 * renewed token) before the server would refuse it.
 * @module
 */

import type { Profile } from '../profile.js';
import { DEFAULT_FRESHNESS, type Token } from '../token-state.js';
import { UsageError } from './exit.js';
import type { Io } from './output.js';

/** The largest request a calling tool may write on stdin: 64 KiB (git and docker send a few lines). */
export const HELPER_INPUT_MAX_BYTES = 64 * 1024;
/** The longest pause in that request: 10 s (the tools write it at once and close the pipe). */
export const HELPER_INPUT_IDLE_MS = 10_000;

/** Reads the calling tool's request from stdin to its end (bounded in size and time), as UTF-8. */
export async function readHelperInput(io: Io): Promise<string> {
  const { LocalReadError, readBoundedStream } = await import('../config/local-file.js');
  try {
    const buf = await readBoundedStream(io.stdin, {
      maxBytes: HELPER_INPUT_MAX_BYTES,
      idleMs: HELPER_INPUT_IDLE_MS,
    });
    return buf.toString('utf8');
  } catch (err) {
    if (err instanceof LocalReadError) throw new UsageError(`standard input ${err.message}`);
    throw err;
  }
}

/**
 * When the calling tool should stop using `token`, ms since the epoch: its expiry less the profile's
 * `skew_seconds` (default 10 s), the margin within which tokenward itself renews it.
 */
export function helperExpiry(token: Token, profile: Profile): number {
  const skewMs = profile.skew_seconds === undefined ? DEFAULT_FRESHNESS.skewMs : profile.skew_seconds * 1000;
  return token.expiresAt - Math.min(skewMs, (token.expiresAt - token.obtainedAt) / 2);
}
