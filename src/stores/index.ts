/**
 * Opens the store a profile asks for. `pg` and `ioredis` are loaded only when a profile uses them, so the
 * default file store never pays for them.
 * @module
 */

import { ConfigError, StoreError } from '../errors.js';
import type { Profile } from '../profile.js';
import { FileStore } from './file.js';
import { MemoryStore } from './memory.js';
import type { TokenStore } from './types.js';
import { type StoreWarningHandler, safeWarn } from './util.js';

export { defaultCacheDir, FileStore, type FileStoreOptions } from './file.js';
export { type CacheEncryptionKey, defaultKeyDir, resolveCacheKey } from './keys.js';
export { MemoryStore } from './memory.js';
export { CACHE_KEY_VERSION, isStoreKey, storeKey } from './store-key.js';

/** Options of {@link createStore}. */
export interface CreateStoreOptions {
  /** Receives non-fatal problems, one line each, secret-free. Default: `process.emitWarning`. */
  onWarning?: StoreWarningHandler;
  /** Environment for `TOKENWARD_CACHE_DIR`, `TOKENWARD_CACHE_KEY`, `TOKENWARD_CONFIG_DIR`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The 32-byte encryption key, instead of resolving it from the environment or the key file. */
  key?: Buffer;
}

/**
 * Creates the store a profile names (`store`, default `file`):
 * - `file`: {@link FileStore} in `cache_dir`, else `TOKENWARD_CACHE_DIR`, else the platform cache dir;
 * - `memory`: a {@link MemoryStore} (one process, nothing persisted);
 * - `postgres`: a `PostgresStore` at `store_url`, table `store_prefix` (default `tokenward_tokens`);
 * - `redis`: a `RedisStore` at `store_url`, key prefix `store_prefix` (default `tokenward:`).
 *
 * PostgreSQL and Redis are connected before this returns. When that fails, the `StoreError` (which names
 * the server and the reason) is thrown — unless the profile sets `store_fallback_memory = true`: then a
 * warning is reported and a {@link MemoryStore} is returned.
 * @throws {ConfigError} for a missing `store_url` or an unknown store kind.
 * @throws {StoreError} when a server is unreachable and no fallback is allowed.
 */
export async function createStore(profile: Profile, options: CreateStoreOptions = {}): Promise<TokenStore> {
  const kind = profile.store ?? 'file';
  const env = options.env ?? process.env;
  const where = profile.name === undefined ? {} : { key: `profiles.${profile.name}.store` };
  const common = {
    env,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.key === undefined ? {} : { key: options.key }),
  };
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    case 'file':
      return new FileStore({
        ...common,
        ...(profile.cache_dir === undefined ? {} : { dir: profile.cache_dir }),
      });
    case 'postgres':
    case 'redis': {
      const url = profile.store_url;
      if (url === undefined || url === '') {
        throw new ConfigError(`store = "${kind}" needs store_url (a ${kind} connection URL)`, where);
      }
      let store: TokenStore & { connect(): Promise<void> };
      if (kind === 'postgres') {
        const { PostgresStore } = await import('./postgres.js');
        store = new PostgresStore({
          ...common,
          url,
          ...(profile.store_prefix === undefined ? {} : { table: profile.store_prefix }),
        });
      } else {
        const { RedisStore } = await import('./redis.js');
        store = new RedisStore({
          ...common,
          url,
          ...(profile.store_prefix === undefined ? {} : { prefix: profile.store_prefix }),
        });
      }
      try {
        await store.connect();
        return store;
      } catch (err) {
        await store.close().catch(() => {});
        if (profile.store_fallback_memory === true && err instanceof StoreError) {
          safeWarn(options.onWarning)(
            `${err.message}; using an in-memory store instead (store_fallback_memory): tokens are not shared or kept`,
          );
          return new MemoryStore();
        }
        throw err;
      }
    }
    default:
      throw new ConfigError(
        `unknown store ${JSON.stringify(kind)}; use "file", "memory", "postgres" or "redis"`,
        where,
      );
  }
}
