/**
 * The Redis store: one key per token, `<prefix>tok:<key>`, holding the encrypted envelope, with a TTL
 * equal to how long the entry is useful: the access token's remaining lifetime, or — when it carries a
 * refresh token — until the refresh token's expiry (`refresh_expires_in`) or, when unknown, a retention
 * after the access token's expiry (default 7 days), because an expired access token's refresh token still
 * saves a primary grant. An entry holding only a last error is kept for a day.
 *
 * Locking: `SET <prefix>lock:<key> <nonce> NX PX <lease>`. The holder renews the lease about every
 * third of it with a Lua compare-and-`PEXPIRE` (only while the key still holds its nonce); release is a
 * Lua compare-and-delete that also publishes on `<prefix>unlock:<key>`, so only the owner frees its
 * lock, and a dead or frozen holder's lock vanishes one lease after its last renewal. Waiters subscribe
 * to that channel (one subscriber connection per store, opened on the first wait, with the store's
 * bounds) and try again the moment a release is published; they also poll with exponential backoff
 * and jitter, the fallback for a release that published nothing (an expired lease, an older release's
 * holder, a lost message), until `timeoutMs` (then `LockTimeoutError`). After each wake-up or poll a
 * waiter first asks `LockOptions.satisfied`, which can end the wait without the lock. The release
 * message carries the entry as stored (encrypted; read in the same script as the delete), so a woken
 * waiter hands it to `satisfied` — decoded and checked as `get()` does — instead of reading it again;
 * a message without it (`1`: no entry, or a holder of an older version) has the waiter read the store.
 * A write by the store that holds the key's lock publishes the same kind of message on the same channel,
 * in the same script as its `SET` and only while the lock still holds that holder's nonce: waiters are
 * handed the entry at the write, before the release, and one whose `satisfied` turns it down (a recorded
 * failure) waits on. Writes by a store that does not hold the lock publish nothing.
 *
 * Connection: fails fast — `connectTimeout`, one retry per request, no offline queue — so an
 * unreachable server is a `StoreError` naming it, never a hang; every command is bounded by
 * `commandTimeoutMs` (a server that keeps the connection open but stops answering is a `StoreError`
 * too), and `close()` by `closeTimeoutMs`. After a successful first connection the client reconnects in
 * the background; commands issued while it is down fail at once.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
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
  backoffDelay,
  connectionReason,
  handOverWonLock,
  Lease,
  LockWaiters,
  type LockWaitOptions,
  lockWaitSatisfied,
  onceUntilRejected,
  resolveLockWait,
  resolveStoreTimeouts,
  type StoreTimeouts,
  type StoreWarningHandler,
  safeWarn,
  settledWithin,
} from './util.js';

/** The default key prefix. */
export const DEFAULT_REDIS_PREFIX = 'tokenward:';

/**
 * Options of {@link RedisStore}. The time bounds (`connectTimeoutMs`, `commandTimeoutMs`,
 * `closeTimeoutMs`) can also be given as `store_url` query parameters; see {@link StoreTimeouts}.
 * Lock waiters are woken by a release (pub/sub) unless `lockWakeups` is `false`; see {@link LockWaitOptions}.
 */
export interface RedisStoreOptions extends Partial<StoreTimeouts>, LockWaitOptions {
  /**
   * Connection URL: `redis://[user:password@]host:port/db` or `rediss://…` for TLS; optionally with
   * `?connect_timeout_ms=…&command_timeout_ms=…&close_timeout_ms=…`.
   */
  url: string;
  /** Prefix of every key. Default `tokenward:`. */
  prefix?: string;
  /** The 32-byte encryption key. Default: resolved by `resolveCacheKey` (env, then key file). */
  key?: Buffer;
  /** Entries holding a refresh token with no known expiry are kept this long after the access token expires, ms. Default 7 days. */
  refreshRetentionMs?: number;
  /** Receives non-fatal problems. Default: `process.emitWarning`. */
  onWarning?: StoreWarningHandler;
  /** Environment for `TOKENWARD_CACHE_KEY` / `TOKENWARD_CONFIG_DIR`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const DAY_MS = 24 * 3600_000;
/**
 * Compare-and-delete of the lock KEYS[1]; a lock it deleted is announced on the channel ARGV[2] (lock
 * waiters wake up). The message carries the entry KEYS[2] as stored (encrypted), read atomically with
 * the delete and prefixed with {@link RELEASE_ENTRY}, so that a woken waiter need not read it again;
 * `1` when there is none (what releases of older versions always send).
 */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); local v = redis.call('get', KEYS[2]); if v then redis.call('publish', ARGV[2], ARGV[3] .. v) else redis.call('publish', ARGV[2], '1') end; return 1 else return 0 end`;
/**
 * A write by the store that holds the key's lock: the SET of the entry KEYS[1], and — only while the lock
 * KEYS[2] still holds this holder's nonce ARGV[3] — the stored bytes published on the lock's channel
 * ARGV[4], prefixed with {@link RELEASE_ENTRY}, in the same script: lock waiters are handed the entry at
 * the write, before the release.
 */
const HOLDER_WRITE_SCRIPT = `redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]); if redis.call('get', KEYS[2]) == ARGV[3] then redis.call('publish', ARGV[4], ARGV[5] .. ARGV[1]); return 1 end; return 0`;
/** The head of a message that carries the entry (see {@link RELEASE_SCRIPT}, {@link HOLDER_WRITE_SCRIPT}). */
const RELEASE_ENTRY = 'e1:';
const RELEASE_ENTRY_BYTES = Buffer.from(RELEASE_ENTRY, 'latin1');
/** Extends the lease only while the key still holds our nonce: 1 renewed, 0 not ours (any more). */
const RENEW_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** A Redis URL for messages: `host:port/db`, never the password (which is registered as a secret). */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    registerUrlPassword(url);
    const db = u.pathname.replace(/^\//, '') || '0';
    return `${u.protocol}//${u.hostname || '127.0.0.1'}:${u.port || '6379'}/${db}`;
  } catch {
    return '(unparseable Redis URL)';
  }
}

function reason(err: unknown, boundMs: number): string {
  return connectionReason(err, boundMs, /timed? ?out/i, (_code, msg) =>
    /NOAUTH|WRONGPASS/i.test(msg) ? `authentication failed (${msg})` : undefined,
  );
}

/**
 * Drops a connection without waiting. Skipped when it is already over: ioredis' disconnect() on a dead
 * socket arms a timer (`disconnectTimeout`) that nothing clears, keeping the process alive.
 */
function drop(conn: Redis): void {
  if (conn.status !== 'end') conn.disconnect();
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** A {@link TokenStore} in Redis. See the module documentation. */
export class RedisStore implements TokenStore {
  readonly kind = 'redis';
  readonly shared = true;
  /** Where the store lives, for messages: `redis://host:port/db`. No password. */
  readonly target: string;
  /** The key prefix. */
  readonly prefix: string;
  readonly #redis: Redis;
  readonly #timeouts: StoreTimeouts;
  /** Wake-ups on or off, and the poll intervals. */
  readonly #lockWait: ReturnType<typeof resolveLockWait>;
  /** Lock waiters; a release notification hands them the entry it carries (stored bytes, not yet decoded). */
  readonly #waiters = new LockWaiters<Buffer>();
  /** The subscriber connection (release notifications), opened on the first wait for a lock. */
  #sub: Redis | undefined;
  readonly #subConnect: () => Promise<Redis>;
  /** Channels subscribed to, with how many waiters need each and whether the subscription is in place. */
  readonly #channels = new Map<string, { count: number; ready: Promise<boolean> }>();
  readonly #connectTimeoutMs: number;
  /** Leases of the locks held now, stopped by close(). */
  readonly #leases = new Set<Lease>();
  /** The nonces of the locks this store holds now, by key: a write of such a key hands its entry to the waiters. */
  readonly #holding = new Map<string, string>();
  readonly #refreshRetentionMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #warn: StoreWarningHandler;
  /** The encryption key, resolved once. */
  readonly #encKey: () => Promise<CacheEncryptionKey>;
  /** Connects (and prepares), once; a failure is retried by the next operation. */
  readonly #connectOnce: () => Promise<void>;
  #everConnected = false;
  #lastError: unknown;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    this.target = describeRedisUrl(options.url);
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    const { url, timeouts } = resolveStoreTimeouts('redis', options.url, options);
    this.#timeouts = timeouts;
    this.#connectTimeoutMs = timeouts.connectTimeoutMs;
    this.#refreshRetentionMs = options.refreshRetentionMs ?? 7 * DAY_MS;
    this.#env = options.env ?? process.env;
    this.#warn = safeWarn(options.onWarning);
    this.#encKey = storeKeyResolver(options.key, this.#env, this.#warn);
    this.#connectOnce = onceUntilRejected(() => this.#init());
    this.#lockWait = resolveLockWait(options, true);
    this.#subConnect = onceUntilRejected(() => this.#openSubscriber());
    this.#redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: this.#connectTimeoutMs,
      // A server that keeps the connection open but stops answering (SIGSTOP, a paused VM, a black
      // hole) must not hang a command: each one fails after this.
      commandTimeout: timeouts.commandTimeoutMs,
      // Lets the OS notice a dead peer on an idle connection.
      keepAlive: 10_000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // How long disconnect() waits for a socket that does not close before destroying it (default 2 s).
      disconnectTimeout: 500,
      // Never retry a first connection (fail fast); after one succeeded, reconnect with a capped backoff.
      retryStrategy: (times) => (this.#everConnected && !this.#closed ? Math.min(times * 100, 2_000) : null),
    });
    this.#redis.on('error', (err: unknown) => {
      this.#lastError = err;
    });
    this.#redis.on('ready', () => {
      this.#everConnected = true;
    });
  }

  #fail(what: string, err: unknown, boundMs = this.#timeouts.commandTimeoutMs): StoreError {
    if (err instanceof StoreError) return err;
    return new StoreError('redis', `Redis at ${this.target}: ${what}: ${reason(err, boundMs)}`, {
      target: this.target,
      cause: err,
    });
  }

  #k(key: string): string {
    return `${this.prefix}tok:${key}`;
  }

  /**
   * Connects (within `connectTimeoutMs`) and resolves the encryption key. Every operation does this
   * lazily; call it to fail fast (`createStore` does).
   * @throws {StoreError} naming the server and the reason when it is unreachable.
   */
  connect(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new StoreError('redis', 'the store is closed', { target: this.target }));
    return this.#connectOnce();
  }

  async #init(): Promise<void> {
    await this.#encKey();
    const status = this.#redis.status;
    if (status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        status === 'wait' || status === 'end' || status === 'close'
          ? this.#redis.connect()
          : new Promise<void>((resolve, reject) => {
              this.#redis.once('ready', resolve);
              this.#redis.once('end', () => reject(this.#lastError ?? new Error('connection closed')));
            }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
            this.#connectTimeoutMs + 500,
          );
        }),
      ]);
    } catch (err) {
      this.#drop();
      throw this.#fail('cannot connect', this.#lastError ?? err, this.#connectTimeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.connect();
    try {
      return await fn();
    } catch (err) {
      throw this.#fail(what, err);
    }
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    assertSafeKey('redis', key);
    const value = await this.#run('read failed', () => this.#redis.getBuffer(this.#k(key)));
    return value === null ? undefined : this.#decode(key, value);
  }

  async #decode(key: string, value: Buffer): Promise<StoredEntry | undefined> {
    const r = decodeEntry(value, key, await this.#encKey(), { scope: `redis:${this.target} ${this.prefix}` });
    if (r.ok) return r.entry;
    this.#warn(
      `the cached token ${this.#k(key)} in ${this.target} is unusable: ${r.message}; treated as a miss`,
    );
    return undefined;
  }

  async set(entry: StoredEntry): Promise<void> {
    assertSafeKey('redis', entry.key);
    await this.connect();
    const bytes = encodeEntry(entry, await this.#encKey(), { scope: `redis:${this.target} ${this.prefix}` });
    const now = Date.now();
    const ttl = Math.ceil(
      entryKeepUntil(entry, { now, refreshRetentionMs: this.#refreshRetentionMs, errorRetentionMs: DAY_MS }) -
        now,
    );
    // Written under this store's lock: the same script publishes the entry on the lock's channel (only
    // while the lock still holds our nonce), so that its waiters are served at the write.
    const nonce = this.#holding.get(entry.key);
    await this.#run('write failed', async () => {
      if (ttl <= 0) await this.#redis.del(this.#k(entry.key));
      else if (nonce === undefined) await this.#redis.set(this.#k(entry.key), bytes, 'PX', ttl);
      else {
        await this.#redis.eval(
          HOLDER_WRITE_SCRIPT,
          2,
          this.#k(entry.key),
          `${this.prefix}lock:${entry.key}`,
          bytes,
          String(ttl),
          nonce,
          this.#channel(entry.key),
          RELEASE_ENTRY,
        );
      }
    });
    noteWritten(`redis:${this.target} ${this.prefix}`, entry.key, bytes);
  }

  async delete(key: string): Promise<void> {
    assertSafeKey('redis', key);
    await this.#run('delete failed', () => this.#redis.del(this.#k(key)));
  }

  async list(): Promise<StoredEntry[]> {
    const head = `${this.prefix}tok:`;
    const keys = await this.#run('list failed', async () => {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${escapeGlob(head)}*`, 'COUNT', 200);
        cursor = next;
        for (const k of batch) found.add(k);
      } while (cursor !== '0');
      return [...found].sort();
    });
    const out: StoredEntry[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      const values = await this.#run('list failed', () => this.#redis.mgetBuffer(...batch));
      for (let j = 0; j < batch.length; j++) {
        const v = values[j];
        const k = batch[j];
        if (v === null || v === undefined || k === undefined) continue;
        const e = await this.#decode(k.slice(head.length), v);
        if (e !== undefined) out.push(e);
      }
    }
    return out;
  }

  lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  async lock(key: string, options: LockOptions): Promise<StoreLock | undefined> {
    assertSafeKey('redis', key);
    const lockKey = `${this.prefix}lock:${key}`;
    const nonce = randomBytes(16).toString('hex');
    const leaseMs = Math.max(1, Math.ceil(options.ttlMs));
    const started = Date.now();
    const { wakeups, poll } = this.#lockWait;
    let watching = false;
    let tried = false;
    try {
      for (let attempt = 0; ; attempt++) {
        const mark = this.#waiters.mark();
        const ok = await this.#run('cannot take the lock', () =>
          this.#redis.set(lockKey, nonce, 'PX', leaseMs, 'NX'),
        );
        if (ok === 'OK') break;
        tried = true;
        const remaining = options.timeoutMs - (Date.now() - started);
        if (remaining <= 0) {
          throw new LockTimeoutError(
            'redis',
            options.timeoutMs,
            `could not take the Redis lock ${lockKey} at ${this.target} within ${options.timeoutMs} ms`,
          );
        }
        if (wakeups && !watching) {
          watching = true;
          // Subscribed: a release published before the subscription would be missed, so look again at
          // once — first at the store (the holder may be done already), then at the lock.
          if (await this.#watch(key, remaining)) {
            if (await lockWaitSatisfied(options)) return undefined;
            continue;
          }
        }
        // The read's one-time costs, paid while waiting (see warmEnvelope).
        if (options.satisfied !== undefined) void this.#encKey().then(warmEnvelope, () => {});
        const { data } = await this.#waiters.wait(
          key,
          backoffDelay(attempt, remaining, poll.baseMs, poll.capMs),
          mark,
        );
        // Woken (or polled): the holder may have stored what this caller waits for. A message that
        // carried the entry (the holder's write, or its release) hands it over, decoded and checked as
        // get() does: no second read. One that does not satisfy the caller: the wait goes on.
        const read = data === undefined ? undefined : await this.#releasedEntry(key, data);
        if (await lockWaitSatisfied(options, read)) return undefined;
      }
    } finally {
      if (watching) this.#unwatch(key);
    }
    const lease = new Lease({
      leaseMs,
      renew: async () => {
        if (this.#closed) return false;
        const n = await this.#redis.eval(RENEW_SCRIPT, 1, lockKey, nonce, String(leaseMs));
        return n === 1;
      },
      onLost: (why) =>
        this.#warn(`lost the Redis lock ${lockKey} at ${this.target} before releasing it: ${why}`),
    });
    this.#leases.add(lease);
    this.#holding.set(key, nonce);
    let released = false;
    const lock: StoreLock = {
      get lost() {
        return lease.lost;
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.#holding.get(key) === nonce) this.#holding.delete(key);
        this.#leases.delete(lease);
        await lease.stop();
        if (this.#closed) return; // the key expires within its lease
        try {
          // Compare-and-delete: safe even after a lost lease (it never deletes another's lock).
          const n = await this.#redis.eval(
            RELEASE_SCRIPT,
            2,
            lockKey,
            this.#k(key),
            nonce,
            this.#channel(key),
            RELEASE_ENTRY,
          );
          if (n !== 1 && !lease.lost) {
            this.#warn(
              `the Redis lock ${lockKey} had expired before release (not renewed within its lease of ${leaseMs} ms?)`,
            );
          }
        } catch (err) {
          this.#warn(
            `could not release the Redis lock ${lockKey} (${reason(err, this.#timeouts.commandTimeoutMs)}); it expires by itself within ${leaseMs} ms`,
          );
        }
      },
    };
    return handOverWonLock(lock, options, tried);
  }

  /**
   * The entry a release (or a lock holder's write) message carried, decoded and checked exactly as
   * {@link get} does (decryption, the envelope's key and rollback checks). Unusable bytes are reported
   * and handed over as nothing (`undefined`): the waiter then reads the store itself.
   */
  async #releasedEntry(key: string, value: Buffer): Promise<LockWaitRead | undefined> {
    let r: ReturnType<typeof decodeEntry>;
    try {
      r = decodeEntry(value, key, await this.#encKey(), { scope: `redis:${this.target} ${this.prefix}` });
    } catch {
      return undefined;
    }
    if (r.ok) return { entry: r.entry };
    this.#warn(
      `the entry carried by the release of the Redis lock ${this.prefix}lock:${key} at ${this.target} is unusable: ${r.message}; reading the store instead`,
    );
    return undefined;
  }

  /** The channel a release of `key` is published on: `<prefix>unlock:<key>`. */
  #channel(key: string): string {
    return `${this.prefix}unlock:${key}`;
  }

  /** Opens the subscriber connection (same URL and bounds as the store's own) and routes its messages. */
  async #openSubscriber(): Promise<Redis> {
    let sub = this.#sub;
    if (sub === undefined) {
      sub = this.#redis.duplicate();
      this.#sub = sub;
      sub.on('error', () => {});
      const head = `${this.prefix}unlock:`;
      sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        const name = channel.toString('latin1');
        if (!name.startsWith(head)) return;
        // A message with the entry hands it to the waiters; any other (`1`, an older release) wakes them
        // to read it themselves.
        const carried =
          message.length > RELEASE_ENTRY_BYTES.length &&
          message.subarray(0, RELEASE_ENTRY_BYTES.length).equals(RELEASE_ENTRY_BYTES);
        this.#waiters.wake(
          name.slice(head.length),
          carried ? message.subarray(RELEASE_ENTRY_BYTES.length) : undefined,
        );
      });
      // Back after a reconnection (ioredis subscribes again): a release may have gone unheard meanwhile.
      sub.on('ready', () => this.#waiters.wake());
    }
    if (this.#closed) throw new Error('the store is closed');
    if (sub.status === 'wait' || sub.status === 'end' || sub.status === 'close') await sub.connect();
    return sub;
  }

  /**
   * Subscribes (once per key, shared by its waiters) to the release notifications of `key`. Resolves
   * `true` once the subscription is in place, `false` when it could not be made within `boundMs` (or the
   * store's bounds): that waiter then polls.
   */
  async #watch(key: string, boundMs: number): Promise<boolean> {
    const channel = this.#channel(key);
    let c = this.#channels.get(channel);
    if (c === undefined) {
      const ready = this.#subConnect()
        .then((sub) => sub.subscribe(channel))
        .then(
          () => true,
          () => false,
        );
      c = { count: 0, ready };
      this.#channels.set(channel, c);
    }
    c.count++;
    let ok = false;
    await settledWithin(
      c.ready.then((v) => {
        ok = v;
      }),
      Math.min(boundMs, this.#timeouts.connectTimeoutMs + this.#timeouts.commandTimeoutMs),
    );
    return ok;
  }

  /** One waiter of `key` less; the last one unsubscribes. */
  #unwatch(key: string): void {
    const channel = this.#channel(key);
    const c = this.#channels.get(channel);
    if (c === undefined) return;
    c.count--;
    if (c.count > 0) return;
    this.#channels.delete(channel);
    const sub = this.#sub;
    // On a later turn of the event loop: the waiter that was just served goes on first.
    void c.ready.then((subscribed) =>
      setImmediate(() => {
        if (subscribed && sub !== undefined && sub.status === 'ready' && !this.#channels.has(channel)) {
          sub.unsubscribe(channel).catch(() => {});
        }
      }),
    );
  }

  /**
   * Stops renewing held locks (they expire within their lease) and closes the connections (the store's
   * and, if a lock was waited for, the subscriber): a polite `QUIT`, and after `closeTimeoutMs` (a server
   * that does not answer) the socket is dropped. Commands still waiting fail with a `StoreError`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#leases) l.markLost('the store was closed while it was held');
    this.#leases.clear();
    this.#holding.clear();
    this.#waiters.wake();
    const conns = this.#sub === undefined ? [this.#redis] : [this.#redis, this.#sub];
    await Promise.all(conns.map((c) => this.#quit(c)));
  }

  /** Ends a connection within `closeTimeoutMs`: `QUIT`, else the socket is dropped. */
  async #quit(conn: Redis): Promise<void> {
    if (conn.status === 'ready') {
      let quit = false;
      const quitting = conn.quit().then(
        () => {
          quit = true;
        },
        () => {},
      );
      await settledWithin(quitting, this.#timeouts.closeTimeoutMs);
      if (!quit) drop(conn);
    } else {
      drop(conn);
    }
  }

  #drop(): void {
    drop(this.#redis);
  }
}
