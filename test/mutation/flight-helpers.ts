/**
 * Helpers of the `flight` mutation tests (`flight-*.test.ts`): a memory store that claims to be shared,
 * with its lock observable, and a promise with its resolver.
 */
import { MemoryStore } from '../../src/stores/memory.js';
import type { LockOnlyOptions, LockOptions, StoreLock } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';

/**
 * The memory store claiming to be shared, so the manager takes its lock and re-reads (the lock is the
 * memory store's own, real one). It records the options of every lock asked for and can be made to fail.
 */
export class SharedMemoryStore extends MemoryStore {
  override readonly shared = true as unknown as false;
  /** The options of every lock asked for, in order. */
  readonly locks: LockOptions[] = [];
  /** Called when a lock is asked for (before waiting for it). */
  onLock: (() => void) | undefined;
  /** Thrown by `lock()` when set (a store that fails). */
  lockError: Error | undefined;
  /** When true, `lock()` resolves without a lock and without asking `satisfied` (a store breaking the contract). */
  endsWaitUnasked = false;
  override lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  override lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  override lock(key: string, options: LockOptions): Promise<StoreLock | undefined> {
    this.locks.push(options);
    this.onLock?.();
    if (this.lockError !== undefined) return Promise.reject(this.lockError);
    if (this.endsWaitUnasked) return Promise.resolve(undefined);
    return super.lock(key, options);
  }
}

/** A promise and its resolver. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Waits for `event` (a request reaching the server, a lock being asked for), failing at once when
 * `work` settles first: the event will not come, and waiting for it would hang the test.
 */
export async function before(event: Promise<void>, work: Promise<unknown>, what: string): Promise<void> {
  const settled = work.then(
    () => 'resolved',
    () => 'rejected',
  );
  const first = await Promise.race([event.then(() => 'event'), settled]);
  if (first !== 'event') throw new Error(`${what}: the work ${first} first`);
}

/** The scripted clock's time in the manager mutation tests (ms since the epoch). */
export const NOW = 1_700_000_000_000;
/** The token URL the scripted clients name (nothing listens there). */
export const URL_ = 'http://127.0.0.1/token';
/** One turn of the event loop. */
export const tick = (): Promise<unknown> => new Promise((r) => setImmediate(r));

/** A Bearer token obtained at {@link NOW}, living 300 s, with `o` over it. */
export function tok(access: string, o: Partial<Token> = {}): Token {
  return {
    accessToken: access,
    tokenType: 'Bearer',
    obtainedAt: NOW,
    expiresAt: NOW + 300_000,
    expirySource: 'expires_in',
    raw: {},
    ...o,
  };
}
