/**
 * The token store contract. A store keeps serialised tokens by key and, when other processes share it,
 * provides a lock so that one caller anywhere does the network work.
 * @module
 */

import type { Token } from '../token.js';

/**
 * The last failure seen for a key, kept for `tokenward status` and so that other callers (other
 * processes sharing the store too) back off instead of repeating a renewal that just failed. No secret
 * in it.
 */
export interface LastError {
  /** The error's `code` (`ERR_TOKEN_ENDPOINT`, `ERR_TIMEOUT`…). */
  code: string;
  /** The error's message, already redacted. */
  message: string;
  /** When the renewal failed, ms since the epoch. */
  at: number;
  /** No caller should ask the token endpoint again before this time (ms since the epoch): the server's `Retry-After`. */
  notBefore?: number;
  /** The HTTP status of the token endpoint's answer, when it answered. */
  status?: number;
  /** The server's OAuth `error`, when it sent one. */
  error?: string;
  /** The server's `Retry-After`, seconds, when it sent one. */
  retryAfter?: number;
  /** The endpoint, without query string or credentials. */
  url?: string;
  /**
   * True when the failed attempt was an optional renewal (a still-valid token was at hand) cut short by
   * its small time budget: callers that need a new token do not take it as the final word.
   */
  optional?: boolean;
}

/**
 * How many times the entry's token was renewed and a renewal failed, summed over every process that
 * wrote the entry since it was created (`logout` deletes it, and so resets them). Kept by the token
 * manager when it writes the entry: cheap (no extra I/O), and approximate only where two processes write
 * without the store's lock (a store that is not shared).
 */
export interface EntryCounts {
  /** New tokens obtained and stored (primary grants and refreshes). */
  renewals: number;
  /** Failed renewals recorded (as `lastError`). */
  failures: number;
}

/**
 * A DPoP key pair kept in the store (an entry of its own, beside the tokens it binds; see `src/dpop/`):
 * encrypted at rest as every entry of the persistent stores is.
 */
export interface StoredDpopKey {
  /** The signature algorithm (`ES256`…). */
  alg: string;
  /** The private key as a JWK (it holds the public members too). */
  jwk: Record<string, unknown>;
  /** When it was made, ms since the epoch. */
  createdAt: number;
}

/** What a store keeps per key: the versioned envelope (encrypted at rest by persistent stores). */
export interface StoredEntry {
  /** Envelope version. */
  v: 1;
  /** The store key (a hash; see `storeKey`). */
  key: string;
  /** The profile name, for humans. */
  profile?: string;
  /** The non-secret identity the key was derived from, for `status`. */
  identity?: Readonly<Record<string, string | undefined>>;
  /** The token; absent when only an error is recorded. */
  token?: Token;
  /** The last failure, if the last attempt failed. */
  lastError?: LastError;
  /** A DPoP key pair (an entry of its own, with no token). */
  dpopKey?: StoredDpopKey;
  /** Renewals and failures counted by every process that shares the entry (for `status`); see {@link EntryCounts}. */
  counts?: EntryCounts;
  /** When the entry was written, ms since the epoch. */
  updatedAt: number;
}

/**
 * A held lock. Release it exactly once; releasing a lock that expired or was taken over is a no-op
 * (it never frees another holder's lock).
 *
 * A shared store's lock is a *lease* (see {@link LockOptions.ttlMs}): the store renews it by itself
 * while it is held, so a live holder keeps it however long it works.
 */
export interface StoreLock {
  release(): Promise<void>;
  /**
   * True once the store knows this holder lost the lock before releasing it: another process took it
   * over, or the store could not renew the lease within one lease (the holder's process was frozen,
   * the server did not answer, the lock's connection died). From then on another process may hold the
   * lock: the holder must not act as if it still did (e.g. re-read the store before writing, and
   * treat its work as unprotected). The stores also report the loss through their warning hook.
   * Absent (a custom store) means the store cannot tell.
   */
  readonly lost?: boolean;
}

/** Options for {@link TokenStore.lock}. */
export interface LockOptions {
  /**
   * The lock's lease, ms. A shared store renews a held lock by itself about every `ttlMs / 3` until
   * `release()`, so a live holder keeps its lock however long it works, while a holder that dies or
   * freezes (and so stops renewing) frees the key within one lease. Keep it short (seconds): it is
   * what a dead holder costs the next caller.
   */
  ttlMs: number;
  /** How long to wait for the lock before `LockTimeoutError` (ms). */
  timeoutMs: number;
  /**
   * Lets the wait end without the lock. A store that supports it calls `satisfied` whenever it has
   * waited — after each wake-up (the holder's write or release) and each poll interval, before trying for the lock
   * again; never before the first try — and, when it resolves `true`, stops waiting and resolves `lock()`
   * with `undefined` instead of a lock. The token manager passes a re-read of the entry: once the holder
   * has stored a token that fits, every waiter is served from the store at once (the stores write
   * atomically, so reading needs no lock), instead of each taking the lock in turn to read it. A waiter
   * that takes the lock after waiting is asked once more before the lock is handed over (the holder may
   * have stored the token and released the lock just after the last ask): `true` then releases the lock
   * at once and `lock()` resolves `undefined` all the same.
   *
   * A rejection (say, the store could not be read) counts as `false`: the wait goes on, and `lock()`
   * still ends with a lock, `LockTimeoutError` or the store's own error. `timeoutMs` includes the time
   * spent in `satisfied`. The file, Redis, PostgreSQL and memory stores honour it; a store that ignores
   * the option (a custom store) simply hands over the lock as before. A store that read the entry as part
   * of the wake-up passes it (see {@link LockWaitRead}); the caller then need not read it again.
   */
  satisfied?: (read?: LockWaitRead) => Promise<boolean>;
}

/**
 * The entry a store read as part of a lock waiter's wake-up, handed to {@link LockOptions.satisfied} so
 * that the waiter need not read it again: the PostgreSQL store reads the row in the same round trip that
 * waits for the holder's first write (or its release); the Redis store's notification of the holder's
 * write, and of its release, carries the entry (as stored, encrypted). Both let the waiters go at the
 * holder's write, before the release. The store decodes and checks it exactly as {@link TokenStore.get}
 * does; an entry that does not satisfy the waiter (a recorded failure) leaves it waiting. `satisfied` is
 * called without one (`undefined`) when the store has nothing fresh to hand over (a poll, a release
 * notification without the entry, an entry that could not be decoded): the caller then reads the store
 * itself.
 */
export interface LockWaitRead {
  /** The entry as read with the wake-up; `undefined` when there was none (or it was unusable). */
  readonly entry: StoredEntry | undefined;
}

/** {@link LockOptions} without {@link LockOptions.satisfied}: `lock()` then always resolves a lock. */
export type LockOnlyOptions = LockOptions & { satisfied?: undefined };

/** A token store. */
export interface TokenStore {
  /** `memory`, `file`, `postgres`, `redis`, or a custom name. */
  readonly kind: string;
  /**
   * True when other processes may read and write the same entries. The manager then takes the lock and
   * re-reads before any network work.
   */
  readonly shared: boolean;
  /** Reads an entry. A corrupt or undecryptable entry is reported (via the store's warning hook) and is a miss. */
  get(key: string): Promise<StoredEntry | undefined>;
  /** Writes an entry atomically. */
  set(entry: StoredEntry): Promise<void>;
  /** Deletes an entry; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every entry (for `status`). */
  list(): Promise<StoredEntry[]>;
  /**
   * Takes the cross-process lock for a key, waiting at most `options.timeoutMs` (then
   * `LockTimeoutError`). Without `options.satisfied` it always resolves a lock.
   */
  lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  /**
   * Takes the cross-process lock for a key, or — when `options.satisfied` resolves `true` during the
   * wait — resolves `undefined` without it (see {@link LockOptions.satisfied}). A store may ignore
   * `satisfied` and always resolve a lock: a store implementing only
   * `lock(key: string, options: LockOptions): Promise<StoreLock>` satisfies both signatures.
   */
  lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  /** Frees connections and handles. */
  close(): Promise<void>;
}
