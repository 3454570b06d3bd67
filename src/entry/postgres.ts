/**
 * `tokenward/stores/postgres`: the PostgreSQL store — one row per token in one table, single flight
 * across a fleet with an advisory lock, every operation time-bounded. Its own entry point, so that `pg`
 * is loaded only by a program that uses it (a profile with `store = "postgres"` needs no import:
 * `createTokenManager` opens the store itself). See docs/stores.md.
 *
 * @example
 * ```ts
 * import { createTokenManager, getProfile } from 'tokenward';
 * import { PostgresStore, postgresMigrationSql } from 'tokenward/stores/postgres';
 *
 * console.log(postgresMigrationSql('tokenward_tokens')); // for your migration tool; then createTable: false
 * const store = new PostgresStore({ url: 'postgres://app@db.example.com/app', createTable: false });
 * const manager = await createTokenManager(await getProfile('reports'), { store });
 * ```
 * @module
 */

export {
  DEFAULT_PG_TABLE,
  PostgresStore,
  type PostgresStoreOptions,
  postgresMigrationSql,
} from '../stores/postgres.js';
export type { StoreTimeouts } from '../stores/util.js';
