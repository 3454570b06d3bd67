/**
 * `tokenward/stores`: where tokens are kept. The front door opens the store a profile names (`store`,
 * default the encrypted file store), so most programs never import this; it is for a store shared by
 * several managers, a custom store, or a `TokenManager` built by hand.
 *
 * - {@link TokenStore} and its entry, lock and failure types: the contract a custom store implements
 *   (the conformance suite in the repository's `test/stores/` checks one);
 * - {@link MemoryStore} (one process) and {@link FileStore} (AES-256-GCM files, 0600 in a 0700
 *   directory, a lock file), and {@link createStore} (the store a profile names);
 * - {@link storeKey}: the store key of a token identity, and {@link resolveCacheKey}: the encryption key
 *   (`TOKENWARD_CACHE_KEY`, else the key file).
 *
 * PostgreSQL and Redis are their own entry points, `tokenward/stores/postgres` and
 * `tokenward/stores/redis`, so that `pg` and `ioredis` are loaded only by a program that uses them.
 *
 * @example
 * ```ts
 * import { createTokenManager, getProfile } from 'tokenward';
 * import { MemoryStore } from 'tokenward/stores';
 *
 * const store = new MemoryStore(); // the caller owns it: managers given a store do not close it
 * const reports = await createTokenManager(await getProfile('reports'), { store });
 * const billing = await createTokenManager(await getProfile('billing'), { store });
 * ```
 * @module
 */

export { defaultCacheDir, FileStore, type FileStoreOptions } from '../stores/file.js';
export { type CreateStoreOptions, createStore } from '../stores/index.js';
export {
  type CacheEncryptionKey,
  type CacheKeySource,
  defaultKeyDir,
  type ResolveKeyOptions,
  resolveCacheKey,
} from '../stores/keys.js';
export { MemoryStore } from '../stores/memory.js';
export { storeKey } from '../stores/store-key.js';
export type {
  LastError,
  LockOnlyOptions,
  LockOptions,
  LockWaitRead,
  StoredEntry,
  StoreLock,
  TokenStore,
} from '../stores/types.js';
export type { StoreTimeouts, StoreWarningHandler } from '../stores/util.js';
