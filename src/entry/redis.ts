/**
 * `tokenward/stores/redis`: the Redis store — one key per token with a TTL, a `SET NX PX` lock that
 * only its owner releases, every command time-bounded. Its own entry point, so that `ioredis` is loaded
 * only by a program that uses it (a profile with `store = "redis"` needs no import:
 * `createTokenManager` opens the store itself). See docs/stores.md.
 *
 * @example
 * ```ts
 * import { createTokenManager, getProfile } from 'tokenward';
 * import { RedisStore } from 'tokenward/stores/redis';
 *
 * const store = new RedisStore({ url: 'redis://cache.example.com:6379/0', prefix: 'reports:' });
 * const manager = await createTokenManager(await getProfile('reports'), { store });
 * ```
 * @module
 */

export { DEFAULT_REDIS_PREFIX, RedisStore, type RedisStoreOptions } from '../stores/redis.js';
export type { StoreTimeouts } from '../stores/util.js';
