/**
 * The in-memory store: one process, no persistence. Its lock is a per-key async mutex.
 * @module
 */

import { LockTimeoutError } from '../errors.js';
import type { LockOptions, StoredEntry, StoreLock, TokenStore } from './types.js';

/** An in-process {@link TokenStore}. Entries are kept as given (no copy, no encryption). */
export class MemoryStore implements TokenStore {
  readonly kind = 'memory';
  readonly shared = false;
  readonly #entries = new Map<string, StoredEntry>();
  readonly #locks = new Map<string, Promise<void>>();

  async get(key: string): Promise<StoredEntry | undefined> {
    return this.#entries.get(key);
  }

  async set(entry: StoredEntry): Promise<void> {
    this.#entries.set(entry.key, entry);
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async list(): Promise<StoredEntry[]> {
    return [...this.#entries.values()];
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size;
  }

  async lock(key: string, options: LockOptions): Promise<StoreLock> {
    const started = Date.now();
    for (;;) {
      const held = this.#locks.get(key);
      if (held === undefined) break;
      const remaining = options.timeoutMs - (Date.now() - started);
      if (remaining <= 0) throw new LockTimeoutError(this.kind, options.timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([held, new Promise((r) => (timer = setTimeout(r, remaining)))]);
      clearTimeout(timer);
    }
    let release!: () => void;
    const p = new Promise<void>((r) => (release = r));
    this.#locks.set(key, p);
    let released = false;
    return {
      // In one process nothing can take the lock away from its holder.
      lost: false,
      release: async () => {
        if (released) return;
        released = true;
        if (this.#locks.get(key) === p) this.#locks.delete(key);
        release();
      },
    };
  }

  async close(): Promise<void> {}
}
