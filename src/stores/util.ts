/**
 * Small helpers shared by the persistent stores: warnings, key checks, backoff.
 * @module
 */

import { ConfigError, StoreError } from '../errors.js';
import { redactText } from '../redact.js';
import type { LockOptions, LockWaitRead, StoreLock } from './types.js';

/** A store's warning hook: receives one human-readable, secret-free line per problem. */
export type StoreWarningHandler = (message: string) => void;

/** The default warning hook: `process.emitWarning` with the name `TokenwardStoreWarning`. */
export function defaultStoreWarning(message: string): void {
  process.emitWarning(message, { type: 'TokenwardStoreWarning', code: 'TOKENWARD_STORE' });
}

/** Wraps a warning hook so that it redacts, and a throwing hook cannot break a store operation. */
export function safeWarn(handler: StoreWarningHandler | undefined): StoreWarningHandler {
  const h = handler ?? defaultStoreWarning;
  return (message) => {
    try {
      h(redactText(message));
    } catch {
      // A broken warning hook must not turn a miss into a crash.
    }
  };
}

/**
 * Memoises an async initialiser (connect, resolve a key, create a directory): every caller shares one
 * promise. A rejection is not remembered, so the next call tries again.
 */
export function onceUntilRejected<T>(init: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    if (current === undefined) {
      const p = init();
      current = p;
      p.catch(() => {
        if (current === p) current = undefined;
      });
    }
    return current;
  };
}

const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * Checks that a store key is safe as a file name and a Redis/SQL key: 1–200 characters of
 * `[A-Za-z0-9._-]`, not starting with a dot. Keys from `storeKey` always are.
 * @throws {StoreError} otherwise.
 */
export function assertSafeKey(store: string, key: string): void {
  if (!SAFE_KEY.test(key)) {
    throw new StoreError(
      store,
      `invalid store key ${JSON.stringify(key.slice(0, 40))}: use storeKey() or 1-200 characters of [A-Za-z0-9._-] not starting with a dot`,
    );
  }
}

/**
 * Asks a lock waiter's {@link LockOptions.satisfied} whether it still needs the lock: `true` ends the
 * wait without it. No callback, a rejection or anything but `true` is `false` (the wait goes on).
 * `read` is the entry the store read with the wake-up, if any (see {@link LockWaitRead}).
 */
export async function lockWaitSatisfied(options: LockOptions, read?: LockWaitRead): Promise<boolean> {
  if (options.satisfied === undefined) return false;
  try {
    return (await options.satisfied(read)) === true;
  } catch {
    return false;
  }
}

/**
 * Hands over a lock that its caller took: one taken only after a failed try (the caller waited) is
 * handed over only if {@link LockOptions.satisfied} still says the caller needs it — the holder may have
 * stored what the caller waits for and released the lock between the caller's last `satisfied` and its
 * winning try. When `satisfied` now says `true`, the lock is released (the store's own release) and the
 * result is `undefined`, as for a wait that `satisfied` ended.
 */
export async function handOverWonLock(
  lock: StoreLock,
  options: LockOptions,
  waited: boolean,
): Promise<StoreLock | undefined> {
  if (!waited || !(await lockWaitSatisfied(options))) return lock;
  await lock.release();
  return undefined;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Exponential backoff with full jitter for lock polling: attempt 0 waits up to `baseMs`, doubling to
 * at most `capMs`, never beyond `remainingMs`.
 */
export function backoffDelay(
  attempt: number,
  remainingMs: number,
  baseMs = DEFAULT_LOCK_POLL.baseMs,
  capMs = DEFAULT_LOCK_POLL.capMs,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  const d = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.max(1, Math.min(d, remainingMs));
}

/**
 * How a lock waiter polls: the first wait is up to `baseMs`, doubling to at most `capMs` (with jitter).
 * With wake-ups on (see {@link LockWaitOptions}) polling is only the fallback for a release that sent
 * no notification (a lease that ran out, a holder of an older release, a notification lost).
 */
export interface LockPoll {
  /** The first poll interval's ceiling, ms. Default 5. */
  baseMs: number;
  /** The longest poll interval, ms. Default 50. */
  capMs: number;
}

/** The default {@link LockPoll}: 5 ms doubling to 50 ms. */
export const DEFAULT_LOCK_POLL: Readonly<LockPoll> = Object.freeze({ baseMs: 5, capMs: 50 });

/** How waiters for a shared store's lock learn that it is free (file and Redis stores). */
export interface LockWaitOptions {
  /**
   * Wake lock waiters when the lock is released — Redis: a message on `<prefix>unlock:<key>`
   * published by the releaser (pub/sub, no server configuration); file: a watch on the cache directory
   * (`fs.watch`) — instead of waiting for the next poll. Polling stays as the fallback, so a missed
   * notification costs at most one poll interval, never a hang. Default: on for Redis, off for the file
   * store (a release wakes every waiting process at once; on a 2-core machine with 16 waiting processes
   * that burst made waiters slower than polling — bench figure 3, measured while every waiter still took
   * the lock in turn); `false` polls only.
   */
  lockWakeups?: boolean;
  /** The poll intervals (see {@link LockPoll}). Default 5 ms doubling to 50 ms. */
  lockPoll?: Partial<LockPoll>;
}

/**
 * Resolves {@link LockWaitOptions}: wake-ups as given, else the store's default; poll intervals of at
 * least 1 ms.
 */
export function resolveLockWait(
  options: LockWaitOptions,
  defaultWakeups: boolean,
): { wakeups: boolean; poll: LockPoll } {
  const base = options.lockPoll?.baseMs ?? DEFAULT_LOCK_POLL.baseMs;
  const cap = options.lockPoll?.capMs ?? Math.max(base, DEFAULT_LOCK_POLL.capMs);
  for (const [name, v] of [
    ['lockPoll.baseMs', base],
    ['lockPoll.capMs', cap],
  ] as const) {
    if (!Number.isFinite(v) || v < 1) {
      throw new ConfigError(`${name} must be a number of milliseconds of at least 1, got ${String(v)}`);
    }
  }
  return {
    wakeups: options.lockWakeups ?? defaultWakeups,
    poll: { baseMs: base, capMs: Math.max(base, cap) },
  };
}

/** How many keys' latest wake-up data a {@link LockWaiters} keeps for waiters not yet waiting. */
const LATEST_KEPT = 64;

/**
 * Lock waiters of one store, by key, and what wakes them: a waiter sleeps until {@link wake} names its
 * key (a release notification) or its poll interval ends, whichever comes first. A wake-up may carry
 * what the notification brought (`T`: the Redis store's release carries the stored entry). A waiting
 * caller keeps the process alive, as a sleep would.
 */
export class LockWaiters<T = never> {
  readonly #waiting = new Map<string, Set<(data: T | undefined) => void>>();
  /** How many wake-ups there have been (any key): a waiter compares it with {@link mark}. */
  #wakes = 0;
  /**
   * The data of each key's latest wake-up, when it carried any, with that wake-up's number: handed to a
   * waiter that was not yet waiting when it came (see {@link wait}). At most {@link LATEST_KEPT} keys.
   */
  readonly #latest = new Map<string, { wake: number; data: T }>();

  /**
   * A mark to take before looking at the lock: {@link wait} given it returns at once when a wake-up came
   * since (a release noticed between the look and the wait is not lost).
   */
  mark(): number {
    return this.#wakes;
  }

  /** Keys with at least one waiter. */
  get keys(): number {
    return this.#waiting.size;
  }

  /** True while someone waits for `key`. */
  has(key: string): boolean {
    return this.#waiting.has(key);
  }

  /**
   * Waits until {@link wake} names `key` or `ms` pass. Resolves `woken: true` when woken, with the
   * wake-up's `data` if it carried any; `woken: false` when the time ran out. When a wake-up came after
   * `since` (a {@link mark}) it resolves at once, with the data of `key`'s latest wake-up if that came
   * after `since` and carried any (a release noticed while the waiter was looking at the lock hands over
   * what it carried all the same).
   */
  wait(key: string, ms: number, since?: number): Promise<{ woken: boolean; data?: T }> {
    if (since !== undefined && since !== this.#wakes) {
      const latest = this.#latest.get(key);
      return Promise.resolve(
        latest !== undefined && latest.wake > since ? { woken: true, data: latest.data } : { woken: true },
      );
    }
    return new Promise((resolve) => {
      let set = this.#waiting.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiting.set(key, set);
      }
      const waiters = set;
      const done = (woken: boolean, data?: T) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
        resolve(data === undefined ? { woken } : { woken, data });
      };
      const wake = (data: T | undefined) => done(true, data);
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      waiters.add(wake);
    });
  }

  /** Wakes every waiter of `key` (every key when `key` is undefined), handing each `data` if given. */
  wake(key?: string, data?: T): void {
    this.#wakes++;
    if (key === undefined) this.#latest.clear();
    else if (data === undefined) this.#latest.delete(key);
    else {
      this.#latest.delete(key);
      this.#latest.set(key, { wake: this.#wakes, data });
      if (this.#latest.size > LATEST_KEPT) {
        const oldest = this.#latest.keys().next().value;
        if (oldest !== undefined) this.#latest.delete(oldest);
      }
    }
    const sets = key === undefined ? [...this.#waiting.values()] : [this.#waiting.get(key)];
    for (const set of sets) if (set !== undefined) for (const w of [...set]) w(data);
  }
}

/**
 * Why a connection to a store server failed, in words: refused, unknown host, no answer within the
 * timeout (errno, or a message matching `timeoutPattern`), reset — else `server(code, message)` for the
 * server's own errors, else the message with its code.
 */
export function connectionReason(
  err: unknown,
  connectTimeoutMs: number,
  timeoutPattern: RegExp,
  server: (code: string | undefined, message: string) => string | undefined = () => undefined,
): string {
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running and listening there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'ETIMEDOUT' || timeoutPattern.test(msg)) return `no answer within ${connectTimeoutMs} ms`;
  return server(code, msg) ?? (code !== undefined ? `${msg} (${code})` : msg);
}

/** The `code` of a Node.js system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * Waits for `p` at most `ms` milliseconds (an unref'd timer: it never keeps the process alive).
 * Resolves `true` when `p` settled in time (whether it resolved or rejected), `false` otherwise.
 */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long the shared stores (PostgreSQL, Redis) may take, ms. Every bound is a positive integer.
 * Set them as store options, or as query parameters of `store_url` (`connect_timeout_ms`,
 * `command_timeout_ms`, `close_timeout_ms`); options win over the URL.
 */
export interface StoreTimeouts {
  /** A connection attempt (TCP, TLS and the server's greeting). Default 5,000. */
  connectTimeoutMs: number;
  /** One command or query (a read, a write, a lock renewal, a release). Default 5,000. */
  commandTimeoutMs: number;
  /** `close()`: after this, connections still open are destroyed. Default 2,000. */
  closeTimeoutMs: number;
}

/** The default {@link StoreTimeouts}. */
export const DEFAULT_STORE_TIMEOUTS: Readonly<StoreTimeouts> = Object.freeze({
  connectTimeoutMs: 5_000,
  commandTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
});

/** The largest accepted bound: ten minutes. */
export const MAX_STORE_TIMEOUT_MS = 600_000;

const URL_TIMEOUT_PARAMS: ReadonlyArray<readonly [string, keyof StoreTimeouts]> = [
  ['connect_timeout_ms', 'connectTimeoutMs'],
  ['command_timeout_ms', 'commandTimeoutMs'],
  ['close_timeout_ms', 'closeTimeoutMs'],
];

function checkTimeout(store: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_STORE_TIMEOUT_MS) {
    throw new ConfigError(
      `${store} store: ${name} must be a whole number of milliseconds from 1 to ${MAX_STORE_TIMEOUT_MS}, got ${JSON.stringify(
        typeof value === 'string' ? value.slice(0, 20) : value,
      )}`,
      { key: 'store_url' },
    );
  }
  return value;
}

/**
 * Resolves a shared store's time bounds: `options` first, then the `store_url` query parameters
 * `connect_timeout_ms`, `command_timeout_ms`, `close_timeout_ms`, then {@link DEFAULT_STORE_TIMEOUTS}.
 * Returns the URL without those parameters (the driver never sees them).
 * @throws {ConfigError} for a bound that is not a whole number of ms in 1..600,000.
 */
export function resolveStoreTimeouts(
  store: 'postgres' | 'redis',
  url: string,
  options: Partial<StoreTimeouts>,
): { url: string; timeouts: StoreTimeouts } {
  const out: StoreTimeouts = { ...DEFAULT_STORE_TIMEOUTS };
  let cleanUrl = url;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined; // the driver reports an unparseable URL
  }
  if (parsed !== undefined && URL_TIMEOUT_PARAMS.some(([p]) => parsed.searchParams.has(p))) {
    for (const [param, field] of URL_TIMEOUT_PARAMS) {
      const raw = parsed.searchParams.get(param);
      if (raw === null) continue;
      out[field] = checkTimeout(store, `store_url parameter ${param}`, /^\d+$/.test(raw) ? Number(raw) : raw);
      parsed.searchParams.delete(param);
    }
    cleanUrl = parsed.toString();
  }
  for (const [, field] of URL_TIMEOUT_PARAMS) {
    const v = options[field];
    if (v !== undefined) out[field] = checkTimeout(store, field, v);
  }
  return { url: cleanUrl, timeouts: out };
}

/** What a {@link Lease} does to keep its lock. */
export interface LeaseRenewal {
  /** The lease, ms: how long the lock survives its holder's last successful renewal. */
  leaseMs: number;
  /**
   * Renews the lock once, bounded in time. Resolves `true` when the lock is still ours (renewed),
   * `false` when it is known to be someone else's or gone; a rejection means "unknown" (the store could
   * not be reached): the lease counts as lost once no renewal succeeded for a whole lease.
   */
  renew(): Promise<boolean>;
  /** How often to renew, ms. Default a third of the lease. */
  intervalMs?: number;
  /** Called once, when the lease is found lost (with why, secret-free). */
  onLost(why: string): void;
}

/**
 * Keeps a held lock alive: renews it about every third of its lease (an unref'd timer, so a held lock
 * never keeps the process alive) until {@link stop}. Renewals never overlap. The lease is lost when a
 * renewal says the lock is no longer ours, or when none succeeded within one lease (measured on the
 * monotonic clock from the moment the last successful renewal was sent).
 */
export class Lease {
  readonly #r: LeaseRenewal;
  readonly #intervalMs: number;
  #confirmedAt: number;
  #timer: NodeJS.Timeout | undefined;
  #lost = false;
  #stopped = false;
  #renewing: Promise<void> | undefined;

  constructor(renewal: LeaseRenewal) {
    this.#r = renewal;
    this.#intervalMs = Math.max(1, Math.floor(renewal.intervalMs ?? renewal.leaseMs / 3));
    this.#confirmedAt = performance.now();
    this.#schedule();
  }

  /** True once the lease is known lost (see the class documentation). */
  get lost(): boolean {
    if (!this.#lost && !this.#stopped && performance.now() - this.#confirmedAt > this.#r.leaseMs) {
      this.#markLost(`not renewed for more than its lease of ${this.#r.leaseMs} ms`);
    }
    return this.#lost;
  }

  /** Marks the lease lost now (the store learnt it another way, e.g. its connection died). */
  markLost(why: string): void {
    if (!this.#stopped) this.#markLost(why);
  }

  /** Stops renewing (release, close). Waits for a renewal in progress, so none runs after this. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
  }

  #markLost(why: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#r.onLost(why);
    } catch {
      // A throwing hook must not break the timer chain's error handling.
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#renewing = this.#renewOnce().finally(() => {
        this.#renewing = undefined;
        this.#schedule();
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #renewOnce(): Promise<void> {
    if (this.#stopped) return;
    const sent = performance.now();
    let ours: boolean | undefined;
    try {
      ours = await this.#r.renew();
    } catch {
      ours = undefined;
    }
    if (this.#stopped) return;
    if (ours === true) {
      this.#confirmedAt = sent;
    } else if (ours === false) {
      this.#markLost('it was taken over or removed (its lease had run out)');
    } else if (performance.now() - this.#confirmedAt > this.#r.leaseMs) {
      this.#markLost(`the store did not confirm it for more than its lease of ${this.#r.leaseMs} ms`);
    }
  }
}
