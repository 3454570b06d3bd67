/**
 * The PostgreSQL store: one row per key in one table, upserted; single flight across a fleet with a
 * session-level advisory lock. Values are the same encrypted envelope as the file store.
 *
 * Table (created with `CREATE TABLE IF NOT EXISTS` on first use, under a transaction-level advisory lock
 * so that many processes starting together do not trip over each other; see {@link postgresMigrationSql}
 * to create it yourself and pass `createTable: false`):
 * ```sql
 * CREATE TABLE IF NOT EXISTS tokenward_tokens (
 *   key        text PRIMARY KEY,
 *   value      bytea NOT NULL,
 *   expires_at timestamptz,
 *   updated_at timestamptz NOT NULL DEFAULT now()
 * );
 * ```
 * `expires_at` is when the row stops being useful (the refresh token's expiry, or the access token's
 * plus a retention); {@link PostgresStore.prune} deletes rows past it.
 *
 * Locking: an advisory lock `k` on a dedicated connection, where `k` is a 64-bit hash of table and
 * key, and with it — in the same statement — the key's *wake lock* `w` (the hash of table, key and
 * `wake`), which only a holder of `k` ever holds exclusively. A caller that passes
 * `LockOptions.satisfied` tries for both (`pg_try_advisory_lock(k)`, then `pg_advisory_lock(w)` only if
 * that succeeded) and, while another session holds them, waits at a barrier — the shared lock on `w`,
 * taken and let go in one round trip — which the server passes for every waiting session at once the
 * moment `w` is free, and, in the same round trip, reads the key's row; it then hands that entry to
 * `satisfied` (so the manager need not read it again) and tries again only if it still needs the lock.
 * The holder lets go of `w` at its first write of the key, in the write's own round trip (`BEGIN`,
 * the upsert, `COMMIT`, then `pg_advisory_unlock(w)`: one simple query on the lock's session), so the
 * waiters read the committed entry at the write, not at the release; a holder that writes nothing lets
 * go of `w` just before `k` at its release, and a dead holder's session frees both. A waiter whose
 * entry did not satisfy it waits next at the same barrier on `k` (passed at the release), then on `w`
 * again, in turn, so it never spins on a wake lock already let go; a holder of an older version (which
 * takes no `w`) costs a waiter one extra round trip. Without `satisfied` it blocks in
 * `pg_advisory_lock(k)`, then takes `w` (the server grants the lock to the next waiter). Every wait is
 * bounded by `lock_timeout`. The
 * lock lives as long as its session, and the session is a lease: it has `idle_session_timeout` = the
 * lease (PostgreSQL 14+) and `tcp_user_timeout` / TCP keepalives of about the lease, and the holder
 * renews it (`SELECT 1` on that connection) about every third of the lease. A holder that crashes
 * loses the lock at once (its connection closes); one that freezes, or whose host or network dies,
 * loses it one lease after its last renewal, when the server ends the session. A lock connection known
 * to hold nothing (a waiter served by `satisfied`, a holder after a successful unlock) is kept as the
 * store's spare for the next lock (10 s at most): nobody waits for a connection to close, and the next
 * lock needs no new connection (nor a new server backend).
 *
 * Bounds: every pooled query has `query_timeout` (client side) and `statement_timeout` (server side) =
 * `commandTimeoutMs`, connections `connectTimeoutMs`, `close()` `closeTimeoutMs` (then sockets are
 * destroyed), so a server that stops answering is a `StoreError`, never a hang.
 * @module
 */

import { createHash } from 'node:crypto';
import pg from 'pg';
import { LockTimeoutError, StoreError } from '../errors.js';
import { registerUrlPassword } from '../redact.js';
import { decodeEntry, encodeEntry, entryKeepUntil, noteWritten, warmEnvelope } from './envelope.js';
import { type CacheEncryptionKey, storeKeyResolver } from './keys.js';
import type {
  LockOnlyOptions,
  LockOptions,
  LockWaitRead,
  StoredEntry,
  StoreLock,
  TokenStore,
} from './types.js';
import {
  assertSafeKey,
  connectionReason,
  errnoCode,
  handOverWonLock,
  Lease,
  lockWaitSatisfied,
  onceUntilRejected,
  resolveStoreTimeouts,
  type StoreTimeouts,
  type StoreWarningHandler,
  safeWarn,
  settledWithin,
} from './util.js';

/** The default table name. */
export const DEFAULT_PG_TABLE = 'tokenward_tokens';

/**
 * Options of {@link PostgresStore}. The time bounds (`connectTimeoutMs`, `commandTimeoutMs`,
 * `closeTimeoutMs`) can also be given as `store_url` query parameters; see {@link StoreTimeouts}.
 */
export interface PostgresStoreOptions extends Partial<StoreTimeouts> {
  /**
   * Connection URL, e.g. `postgres://user@db.internal:5432/app`, optionally with
   * `?connect_timeout_ms=…&command_timeout_ms=…&close_timeout_ms=…`. A password in it is never shown.
   */
  url: string;
  /** Table name, optionally schema-qualified (`schema.table`). Default `tokenward_tokens`. */
  table?: string;
  /** Create the table when missing. Default true. */
  createTable?: boolean;
  /** The 32-byte encryption key. Default: resolved by `resolveCacheKey` (env, then key file). */
  key?: Buffer;
  /** Rows holding a refresh token with no known expiry are kept this long after the access token's expiry, ms. Default 7 days. */
  refreshRetentionMs?: number;
  /** Most pooled connections (lock connections are separate). Default 4. */
  poolSize?: number;
  /** Receives non-fatal problems. Default: `process.emitWarning`. */
  onWarning?: StoreWarningHandler;
  /** Environment for `TOKENWARD_CACHE_KEY` / `TOKENWARD_CONFIG_DIR`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const DAY_MS = 24 * 3600_000;

/** Quotes a (possibly schema-qualified) table name, or throws a StoreError if it is not a plain identifier. */
export function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    throw new StoreError(
      'postgres',
      `invalid table name ${JSON.stringify(table)}: use letters, digits and _ (optionally schema.table)`,
    );
  }
  return parts.map((p) => `"${p}"`).join('.');
}

/** The SQL that creates the store's table (for a migration run by hand). */
export function postgresMigrationSql(table: string = DEFAULT_PG_TABLE): string {
  const q = quoteTable(table);
  return `CREATE TABLE IF NOT EXISTS ${q} (\n  key        text PRIMARY KEY,\n  value      bytea NOT NULL,\n  expires_at timestamptz,\n  updated_at timestamptz NOT NULL DEFAULT now()\n);`;
}

/**
 * A connection URL for messages: `host:port/database` with the user, and never the password.
 * The password, if any, is registered as a secret.
 */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    registerUrlPassword(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    const db = u.pathname.replace(/^\//, '') || '(default database)';
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${host}:${u.port || '5432'}/${db}`;
  } catch {
    return '(unparseable PostgreSQL URL)';
  }
}

function reason(err: unknown, boundMs: number): string {
  return connectionReason(err, boundMs, /timeout/i, (code, msg) => {
    if (code === 'ECONNRESET') return 'connection reset';
    if (code === '57014') return `cancelled by the server after ${boundMs} ms (statement_timeout)`;
    if (code === '28P01' || code === '28000') return `authentication failed (${msg})`;
    if (code === '3D000') return `database does not exist (${msg})`;
    return undefined;
  });
}

/** A query with a client-side time bound of its own (pg supports it; its types do not say so). */
function timed(text: string, values: unknown[], queryTimeoutMs: number): pg.QueryConfig {
  const q: pg.QueryConfig & { query_timeout: number } = { text, values, query_timeout: queryTimeoutMs };
  return q;
}

/** Destroys a client's socket at once (a server that does not answer cannot hold up an end()). */
function destroyClient(client: pg.Client): void {
  try {
    client.connection.stream.destroy();
  } catch {
    // never connected
  }
}

/** How long a lock session that holds nothing is kept for the next lock, ms (the pool's idle time). */
const SPARE_IDLE_MS = 10_000;

/** pg's Client can let the process exit while it is idle; its types do not say so. */
type RefClient = pg.Client & { ref(): void; unref(): void };

/** A dedicated connection for advisory locks, and what broke it. */
interface LockSession {
  client: pg.Client;
  /** Why its connection is unusable, once it is. */
  broken?: string;
  /** Told when the connection breaks, while a lock call uses it. */
  onBroken: ((why: string) => void) | undefined;
  /** The timer that ends it after {@link SPARE_IDLE_MS} as the spare. */
  idle?: NodeJS.Timeout;
}

/** A 64-bit advisory lock id for a string, as a decimal string (pg takes bigint as text). */
function lockId(s: string): string {
  return createHash('sha256').update(s).digest().readBigInt64BE(0).toString();
}

/** A lock this store holds: its session, its ids, and whether the session still holds the wake lock. */
interface Holding {
  session: LockSession;
  /** The lock's advisory id. */
  id: string;
  /** The wake lock's advisory id. */
  wake: string;
  /** True until the wake lock is let go (at the holder's first write, else at the release). */
  wakeHeld: boolean;
  /** The lock's lease: a lost lock's session is not written through. */
  lease: Lease;
}

/** A {@link TokenStore} in a PostgreSQL table. See the module documentation. */
export class PostgresStore implements TokenStore {
  readonly kind = 'postgres';
  readonly shared = true;
  /** Where the store lives, for messages: `user@host:port/db`. No password. */
  readonly target: string;
  /** The table name as given. */
  readonly table: string;
  readonly #q: string;
  readonly #url: string;
  readonly #pool: pg.Pool;
  readonly #timeouts: StoreTimeouts;
  readonly #connectTimeoutMs: number;
  /** Every connection of the pool not yet ended, to destroy at close() if the server does not answer. */
  readonly #pooled = new Set<pg.Client>();
  /** The dedicated connections of held locks, with their leases. */
  readonly #held = new Map<pg.Client, Lease | undefined>();
  /**
   * The locks this store holds now, by store key: their session and whether it still holds the key's
   * wake lock (see {@link PostgresStore.lock}); a write of such a key lets the waiters go at its commit.
   */
  readonly #holding = new Map<string, Holding>();
  /** A lock session that holds nothing, kept for the next lock (see `#park`). */
  #spare: LockSession | undefined;
  /** Lock sessions being ended in the background. */
  readonly #ending = new Set<Promise<void>>();
  readonly #createTable: boolean;
  readonly #refreshRetentionMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #warn: StoreWarningHandler;
  /** The encryption key, resolved once. */
  readonly #encKey: () => Promise<CacheEncryptionKey>;
  /** Connects (and prepares), once; a failure is retried by the next operation. */
  readonly #connectOnce: () => Promise<void>;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    this.target = describePgUrl(options.url);
    this.table = options.table ?? DEFAULT_PG_TABLE;
    this.#q = quoteTable(this.table);
    const { url, timeouts } = resolveStoreTimeouts('postgres', options.url, options);
    this.#url = url;
    this.#timeouts = timeouts;
    this.#connectTimeoutMs = timeouts.connectTimeoutMs;
    this.#createTable = options.createTable ?? true;
    this.#refreshRetentionMs = options.refreshRetentionMs ?? 7 * DAY_MS;
    this.#env = options.env ?? process.env;
    this.#warn = safeWarn(options.onWarning);
    this.#encKey = storeKeyResolver(options.key, this.#env, this.#warn);
    this.#connectOnce = onceUntilRejected(() => this.#init());
    this.#pool = new pg.Pool({
      connectionString: url,
      connectionTimeoutMillis: this.#connectTimeoutMs,
      // Client side: a query not answered in time fails (and its connection is dropped).
      query_timeout: timeouts.commandTimeoutMs,
      // Server side: a query the server is slow to run is cancelled.
      statement_timeout: timeouts.commandTimeoutMs,
      max: options.poolSize ?? 4,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.#pool.on('connect', (client) => {
      this.#pooled.add(client);
      client.once('end', () => this.#pooled.delete(client));
    });
    // An idle pooled connection that breaks emits 'error'; without a listener that would crash the process.
    this.#pool.on('error', (err) =>
      this.#warn(`PostgreSQL connection to ${this.target} lost: ${reason(err, 0)}`),
    );
  }

  #fail(what: string, err: unknown, boundMs = this.#timeouts.commandTimeoutMs): StoreError {
    if (err instanceof StoreError) return err;
    return new StoreError('postgres', `PostgreSQL at ${this.target}: ${what}: ${reason(err, boundMs)}`, {
      target: this.target,
      cause: err,
    });
  }

  /**
   * Connects, creates the table if needed and resolves the encryption key. Every operation does this
   * lazily; call it to fail fast (`createStore` does).
   * @throws {StoreError} naming the server and the reason when it is unreachable.
   */
  connect(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new StoreError('postgres', 'the store is closed', { target: this.target }));
    return this.#connectOnce();
  }

  async #init(): Promise<void> {
    await this.#encKey();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#fail('cannot connect', err, this.#connectTimeoutMs);
    }
    try {
      if (this.#createTable) {
        await client.query('BEGIN');
        try {
          await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
            lockId(`tokenward:ddl:${this.table}`),
          ]);
          await client.query(postgresMigrationSql(this.table));
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      } else {
        await client.query(`SELECT 1 FROM ${this.#q} LIMIT 0`);
      }
    } catch (err) {
      throw this.#fail(
        this.#createTable ? `cannot create table ${this.table}` : `cannot use table ${this.table}`,
        err,
      );
    } finally {
      client.release();
    }
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    assertSafeKey('postgres', key);
    await this.connect();
    let rows: Array<{ value: Buffer }>;
    try {
      rows = (await this.#pool.query<{ value: Buffer }>(`SELECT value FROM ${this.#q} WHERE key = $1`, [key]))
        .rows;
    } catch (err) {
      throw this.#fail('read failed', err);
    }
    const row = rows[0];
    return row === undefined ? undefined : this.#decode(key, row.value);
  }

  async #decode(key: string, value: Buffer): Promise<StoredEntry | undefined> {
    const r = decodeEntry(value, key, await this.#encKey(), {
      scope: `postgres:${this.target} ${this.table}`,
    });
    if (r.ok) return r.entry;
    this.#warn(
      `the cached token ${key} in ${this.target} table ${this.table} is unusable: ${r.message}; treated as a miss`,
    );
    return undefined;
  }

  async set(entry: StoredEntry): Promise<void> {
    assertSafeKey('postgres', entry.key);
    await this.connect();
    const bytes = encodeEntry(entry, await this.#encKey(), {
      scope: `postgres:${this.target} ${this.table}`,
    });
    const until = entryKeepUntil(entry, {
      now: Date.now(),
      refreshRetentionMs: this.#refreshRetentionMs,
      errorRetentionMs: DAY_MS,
    });
    if (await this.#holderWrite(entry.key, bytes, until)) {
      noteWritten(`postgres:${this.target} ${this.table}`, entry.key, bytes);
      return;
    }
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#q} (key, value, expires_at, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = now()`,
        [entry.key, bytes, until > 0 ? new Date(until) : null],
      );
    } catch (err) {
      throw this.#fail('write failed', err);
    }
    noteWritten(`postgres:${this.target} ${this.table}`, entry.key, bytes);
  }

  /**
   * The first write of a key whose lock this store holds: on the lock's session, the upsert committed
   * and the wake lock let go in one round trip (one simple query), so that the lock's waiters — queued
   * at the wake lock — are let through the moment the row is committed, not at the release. Returns
   * `false` (the caller writes through the pool as usual) when this store does not hold the key's lock,
   * the wake lock was let go already, the lock is known lost, or the write on the lock's session failed.
   */
  async #holderWrite(key: string, bytes: Buffer, until: number): Promise<boolean> {
    const h = this.#holding.get(key);
    if (h === undefined || !h.wakeHeld || h.session.broken !== undefined || h.lease.lost) return false;
    if (!Number.isFinite(until)) return false;
    // A simple query (several statements) takes no parameters: every value is a literal of our own —
    // the key checked by assertSafeKey ([A-Za-z0-9._-] only), the bytes as hex, numbers, the table
    // quoted. COMMIT comes before the unlock: a session-level advisory unlock takes effect at once, not
    // at the end of a transaction, so the waiters let through read the committed row.
    const expires = until > 0 ? `to_timestamp(${Math.floor(until)}::double precision / 1000)` : 'NULL';
    // Bounded as every command is: the client's timeout for the round trip, and the transaction's own
    // lock_timeout (the session keeps the one its last wait set) for a row another writer holds.
    const commandMs = this.#timeouts.commandTimeoutMs;
    const text =
      `BEGIN; SET LOCAL lock_timeout = '${commandMs}ms'; ` +
      `INSERT INTO ${this.#q} (key, value, expires_at, updated_at) ` +
      `VALUES ('${key}', decode('${bytes.toString('hex')}', 'hex'), ${expires}, now()) ` +
      'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = now(); ' +
      `COMMIT; SELECT pg_advisory_unlock(${h.wake}::bigint) AS woke`;
    const { client } = h.session;
    try {
      await client.query(timed(text, [], commandMs));
      h.wakeHeld = false;
      return true;
    } catch {
      // Not written there (or not known to be): the transaction, if open, is rolled back, and the write
      // goes through the pool; the wake lock is let go at the release.
      await client.query(timed('ROLLBACK', [], commandMs)).catch(() => {});
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey('postgres', key);
    await this.connect();
    try {
      await this.#pool.query(`DELETE FROM ${this.#q} WHERE key = $1`, [key]);
    } catch (err) {
      throw this.#fail('delete failed', err);
    }
  }

  async list(): Promise<StoredEntry[]> {
    await this.connect();
    let rows: Array<{ key: string; value: Buffer }>;
    try {
      rows = (
        await this.#pool.query<{ key: string; value: Buffer }>(
          `SELECT key, value FROM ${this.#q} ORDER BY key`,
        )
      ).rows;
    } catch (err) {
      throw this.#fail('list failed', err);
    }
    const out: StoredEntry[] = [];
    for (const r of rows) {
      const e = await this.#decode(r.key, r.value);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /** Deletes rows whose `expires_at` has passed. Returns how many were deleted. */
  async prune(): Promise<number> {
    await this.connect();
    try {
      const r = await this.#pool.query(`DELETE FROM ${this.#q} WHERE expires_at < now()`);
      return r.rowCount ?? 0;
    } catch (err) {
      throw this.#fail('prune failed', err);
    }
  }

  lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  async lock(key: string, options: LockOptions): Promise<StoreLock | undefined> {
    assertSafeKey('postgres', key);
    await this.connect();
    const id = lockId(`${this.table}\0${key}`);
    const wake = lockId(`${this.table}\0${key}\0wake`);
    const leaseMs = Math.max(1, Math.ceil(options.ttlMs));
    const commandMs = this.#timeouts.commandTimeoutMs;
    let lease: Lease | undefined;
    let satisfied = false;
    let waited = false;
    // A dedicated connection: the advisory lock lives as long as its session. The spare one of an
    // earlier lock when there is one (no new connection, no new server process to wait for).
    const s = await this.#session(leaseMs, options.timeoutMs, (why) => lease?.markLost(why));
    const { client } = s;
    try {
      const timedOut = () =>
        new LockTimeoutError(
          'postgres',
          options.timeoutMs,
          `could not take the PostgreSQL advisory lock for ${key} at ${this.target} within ${options.timeoutMs} ms`,
        );
      if (options.satisfied === undefined) {
        // Queued on the server, which grants the lock to the next waiter the moment it is free.
        try {
          await client.query(
            timed(
              'SELECT pg_advisory_lock($1::bigint), pg_advisory_lock($2::bigint)',
              [id, wake],
              options.timeoutMs + commandMs,
            ),
          );
        } catch (err) {
          if (errnoCode(err) === '55P03') throw timedOut();
          throw this.#fail('cannot take the lock', err, options.timeoutMs + commandMs);
        }
      } else {
        const got = await this.#lockUnlessSatisfied(client, id, wake, key, options, timedOut);
        satisfied = got === 'satisfied';
        waited = got === 'after a wait';
      }
      if (s.broken !== undefined || this.#closed) {
        throw this.#fail('cannot take the lock', new Error(s.broken ?? 'the store was closed'));
      }
    } catch (err) {
      this.#held.delete(client);
      await this.#end(client);
      throw err;
    }
    if (satisfied) {
      // The wait ended without the lock: this session holds nothing, and is kept for the next lock.
      this.#held.delete(client);
      this.#park(s);
      return undefined;
    }
    const held = new Lease({
      leaseMs,
      renew: async () => {
        if (s.broken !== undefined) return false;
        await client.query('SELECT 1');
        return s.broken === undefined;
      },
      onLost: (why) =>
        this.#warn(`lost the PostgreSQL lock for ${key} at ${this.target} before releasing it: ${why}`),
    });
    lease = held;
    this.#held.set(client, held);
    const holding: Holding = { session: s, id, wake, wakeHeld: true, lease: held };
    this.#holding.set(key, holding);
    let released = false;
    const lock: StoreLock = {
      get lost() {
        return held.lost;
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.#holding.get(key) === holding) this.#holding.delete(key);
        await held.stop();
        if (!this.#held.delete(client)) return; // closed with the store
        let freed = false;
        try {
          if (s.broken === undefined) {
            // The wake lock first (when no write let it go), then the lock, in one round trip: nobody
            // holds a wake lock without its lock.
            const r = await client.query<{ freed: boolean; woke?: boolean }>(
              holding.wakeHeld
                ? 'SELECT pg_advisory_unlock($2::bigint) AS woke, pg_advisory_unlock($1::bigint) AS freed'
                : 'SELECT pg_advisory_unlock($1::bigint) AS freed',
              holding.wakeHeld ? [id, wake] : [id],
            );
            freed = r.rows[0]?.freed === true && (!holding.wakeHeld || r.rows[0]?.woke === true);
            holding.wakeHeld = false;
          }
        } catch (err) {
          this.#warn(
            `could not release the PostgreSQL lock for ${key} at ${this.target} (${reason(err, commandMs)}); it is freed when its session ends`,
          );
        }
        // A session known to hold nothing is kept for the next lock; any other is ended (which frees
        // whatever it still holds).
        if (freed) this.#park(s);
        else await this.#end(client);
      },
    };
    return handOverWonLock(lock, options, waited);
  }

  /**
   * A lock session, set up for this lock ({@link #leaseSession}) and registered in `#held`: the spare
   * one when it is still sound, else a new connection. `onBroken` hears of its connection failing.
   */
  async #session(leaseMs: number, timeoutMs: number, onBroken: (why: string) => void): Promise<LockSession> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) {
      clearTimeout(spare.idle);
      if (spare.broken === undefined && !this.#closed) {
        spare.onBroken = onBroken;
        (spare.client as RefClient).ref();
        this.#held.set(spare.client, undefined);
        try {
          await this.#leaseSession(spare.client, leaseMs, timeoutMs);
          return spare;
        } catch {
          // Gone while it was kept (a server restart, an idle timeout): a new connection instead.
          this.#held.delete(spare.client);
        }
      }
      this.#endLater(spare.client);
    }
    const commandMs = this.#timeouts.commandTimeoutMs;
    const client = new pg.Client({
      connectionString: this.#url,
      connectionTimeoutMillis: this.#connectTimeoutMs,
      query_timeout: commandMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.max(1_000, Math.min(leaseMs, 10_000)),
    });
    const s: LockSession = { client, onBroken };
    const broke = (why: string) => {
      s.broken ??= why;
      s.onBroken?.(why);
      if (this.#spare === s) {
        this.#spare = undefined;
        clearTimeout(s.idle);
        this.#endLater(client);
      }
    };
    client.on('error', (err) => broke(`its connection failed (${reason(err, commandMs)})`));
    client.on('end', () => broke('its connection ended'));
    this.#held.set(client, undefined);
    try {
      try {
        await client.connect();
      } catch (err) {
        throw this.#fail('cannot connect for the lock', err, this.#connectTimeoutMs);
      }
      await this.#leaseSession(client, leaseMs, timeoutMs);
    } catch (err) {
      this.#held.delete(client);
      await this.#end(client);
      throw err;
    }
    return s;
  }

  /**
   * Keeps a lock session that holds nothing for the next lock (one spare per store; ended after
   * {@link SPARE_IDLE_MS} unused, or at close). A second one is ended in the background.
   */
  #park(s: LockSession): void {
    s.onBroken = undefined;
    if (this.#spare !== undefined || this.#closed || s.broken !== undefined) {
      this.#endLater(s.client);
      return;
    }
    this.#spare = s;
    s.idle = setTimeout(() => {
      if (this.#spare !== s) return;
      this.#spare = undefined;
      this.#endLater(s.client);
    }, SPARE_IDLE_MS);
    s.idle.unref();
    // An idle spare does not keep the process alive (as the pool's idle connections do not).
    (s.client as RefClient).unref();
  }

  /** Ends a connection in the background; close() waits for it. */
  #endLater(client: pg.Client): void {
    const ending = this.#end(client).finally(() => this.#ending.delete(ending));
    this.#ending.add(ending);
  }

  /**
   * Waits for the lock on `client` while letting {@link LockOptions.satisfied} end the wait: tries the
   * lock (`pg_try_advisory_lock`); when another session holds it, waits at a barrier — takes the
   * *shared* advisory lock on the same id and lets go of it in the same round trip — which the server
   * passes for every waiting session at once the moment the exclusive lock is released (by its
   * holder, or by the end of a dead holder's session) — and reads the entry in the same round trip —,
   * then asks `satisfied` with that entry ({@link LockWaitRead}) and, when the caller still needs the
   * lock, tries again. Each barrier is bounded by `lock_timeout` = the time left. Resolves
   * with the lock held — `at once` (the first try) or `after a wait` — or `satisfied` when `satisfied`
   * ended the wait.
   */
  async #lockUnlessSatisfied(
    client: pg.Client,
    id: string,
    wake: string,
    key: string,
    options: LockOptions,
    timedOut: () => LockTimeoutError,
  ): Promise<'at once' | 'after a wait' | 'satisfied'> {
    const commandMs = this.#timeouts.commandTimeoutMs;
    const started = Date.now();
    // The first wait is at the wake lock (let go at the holder's write); after a wait there, the next
    // is at the lock itself (let go at the release), and so on in turn: a waiter whose entry did not
    // satisfy it waits for the release, never spins on a wake lock already let go.
    let atWake = true;
    for (let tries = 0; ; tries++) {
      let locked: boolean | undefined;
      try {
        // The lock, and with it (in the same statement, only when the lock was taken) its wake lock,
        // which only a lock holder ever takes exclusively: it is free, or held for an instant by a
        // waiter passing its barrier.
        const r = await client.query<{ locked: boolean }>(
          timed(
            "SELECT CASE WHEN pg_try_advisory_lock($1::bigint) THEN pg_advisory_lock($2::bigint)::text = '' ELSE false END AS locked",
            [id, wake],
            commandMs,
          ),
        );
        locked = r.rows[0]?.locked;
      } catch (err) {
        if (errnoCode(err) === '55P03') throw timedOut();
        throw this.#fail('cannot take the lock', err);
      }
      if (locked === true) return tries === 0 ? 'at once' : 'after a wait';
      const remaining = Math.ceil(options.timeoutMs - (Date.now() - started));
      if (remaining <= 0) throw timedOut();
      // `id` is our own decimal integer, `remaining` a number, the table quoted and `key` checked by
      // assertSafeKey ([A-Za-z0-9._-] only): nothing unchecked of the caller's is in the text.
      // One round trip (a simple query): the lock_timeout for this wait, the barrier, and — once it
      // passes — the entry as the holder left it, so that the waiter need not read it again.
      const at = atWake ? wake : id;
      atWake = !atWake;
      const barrier =
        `SET lock_timeout = '${remaining}ms'; ` +
        `SELECT pg_advisory_lock_shared(${at}::bigint), pg_advisory_unlock_shared(${at}::bigint); ` +
        `SELECT value FROM ${this.#q} WHERE key = '${key}'`;
      let results: pg.QueryResult<{ value?: Buffer }>[] | pg.QueryResult<{ value?: Buffer }>;
      try {
        const waiting = client.query<{ value?: Buffer }>({
          text: barrier,
          query_timeout: remaining + commandMs,
        } as pg.QueryConfig);
        // The read's one-time costs, paid while the barrier waits (see warmEnvelope).
        void this.#encKey().then(warmEnvelope, () => {});
        results = await waiting;
      } catch (err) {
        if (errnoCode(err) === '55P03') throw timedOut();
        throw this.#fail('cannot take the lock', err, remaining + commandMs);
      }
      const last = Array.isArray(results) ? results[results.length - 1] : undefined;
      let read: LockWaitRead | undefined;
      if (last !== undefined && last.command === 'SELECT') {
        const value = last.rows[0]?.value;
        // Decoded and checked as get() does (an unusable row is reported and is a miss); a failure to
        // decode at all (no encryption key) hands nothing over: the waiter reads the store itself.
        read = Buffer.isBuffer(value)
          ? await this.#decode(key, value).then(
              (entry) => ({ entry }),
              () => undefined,
            )
          : { entry: undefined };
      }
      if (await lockWaitSatisfied(options, read)) return 'satisfied';
    }
  }

  /**
   * Bounds the lock session on the server: `lock_timeout` for the wait, and — so that a holder that
   * freezes or disappears cannot keep the lock for hours — `idle_session_timeout` (PostgreSQL 14+),
   * `tcp_user_timeout` (12+) and TCP keepalives of about one lease. Settings the server does not know
   * are skipped.
   */
  async #leaseSession(client: pg.Client, leaseMs: number, timeoutMs: number): Promise<void> {
    const secs = String(Math.max(1, Math.ceil(leaseMs / 3_000)));
    const settings: Array<[string, string]> = [
      ['lock_timeout', `${Math.max(1, Math.ceil(timeoutMs))}ms`],
      ['idle_session_timeout', `${leaseMs}ms`],
      ['tcp_user_timeout', `${leaseMs}ms`],
      ['tcp_keepalives_idle', secs],
      ['tcp_keepalives_interval', secs],
      ['tcp_keepalives_count', '3'],
    ];
    const all = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ');
    try {
      await client.query(`SELECT ${all}`, settings.flat());
      return;
    } catch (err) {
      if (errnoCode(err) !== '42704') throw this.#fail('cannot set up the lock session', err);
    }
    // An older server: set what it knows, one by one.
    for (const [name, value] of settings) {
      try {
        await client.query('SELECT set_config($1, $2, false)', [name, value]);
      } catch (err) {
        if (errnoCode(err) !== '42704') throw this.#fail('cannot set up the lock session', err);
      }
    }
  }

  /** Ends a connection; one whose server does not answer within `closeTimeoutMs` is destroyed. */
  async #end(client: pg.Client): Promise<void> {
    // A kept spare lets the process exit while idle (see `#park`); its ending must not.
    (client as RefClient).ref();
    const ending = client.end().catch(() => {});
    if (!(await settledWithin(ending, this.#timeouts.closeTimeoutMs))) {
      destroyClient(client);
      await settledWithin(ending, this.#timeouts.closeTimeoutMs);
    }
  }

  /**
   * Closes the pool and the connections of locks still held (which frees those locks). Within
   * `closeTimeoutMs`; a server that does not answer by then has its sockets destroyed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#holding.clear();
    const held = [...this.#held];
    this.#held.clear();
    for (const [, lease] of held) lease?.markLost('the store was closed while it was held');
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) {
      clearTimeout(spare.idle);
      this.#endLater(spare.client);
    }
    const ending = Promise.all([
      this.#pool.end().catch(() => {}),
      ...held.map(([c]) => c.end().catch(() => {})),
      ...this.#ending,
    ]);
    if (!(await settledWithin(ending, this.#timeouts.closeTimeoutMs))) {
      for (const c of this.#pooled) destroyClient(c);
      for (const [c] of held) destroyClient(c);
      await settledWithin(ending, this.#timeouts.closeTimeoutMs);
    }
  }
}
