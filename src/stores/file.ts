/**
 * The file store (the default): one encrypted file per key in a private directory, atomic writes, and a
 * cross-process lock file with stale-lock recovery. Safe for one script, many cron jobs on one host, and
 * (with a shared `TOKENWARD_CACHE_KEY`) a directory on a network file system that supports hard links.
 *
 * The directory must be the user's own and private (checked once per store, see `trust.ts`): owned by
 * the current user, reached only through links and enclosing directories that nobody but the user and
 * root can change; an own directory open to others is made 0700 (with a warning), anything else is
 * refused with a `StoreError`. Token files are read with `O_NOFOLLOW` and must be regular files owned
 * by the user, at most {@link MAX_ENTRY_BYTES}; anything else is a warning and a miss.
 *
 * Layout of the directory (mode 0700):
 * - `<key>.tok` — the envelope (see `envelope.ts`), mode 0600, replaced atomically: written to
 *   `.<key>.tok.h<host>.<pid>.<random>.tmp` (created with O_EXCL, mode 0600), fsynced, renamed over,
 *   and the directory fsynced. A reader sees the old or the new file, never a mix. Every write then
 *   removes temporary files left by killed writers (see `#removeOrphanTemps`). A process refuses an
 *   envelope older than one it already saw for the key (rollback, see `envelope.ts`).
 * - `<key>.lock` — JSON `{pid, host, createdAt, ttlMs, nonce}`, created atomically with a hard link
 *   (so it is never seen empty). It is a lease: the holder keeps the file open and renews its mtime
 *   about every third of `ttlMs` until it releases. A lock is stale when its mtime is older than its
 *   lease, whatever pid it names, and at once when it names a pid on this host that is gone; an
 *   unreadable lock file is stale once its mtime is older than the caller's lease.
 * - `<key>.lock.breaking` — created exclusively while a lock file is removed (a stale one broken, or
 *   one's own released): inside it the lock is read again and unlinked only if unchanged, so a live
 *   lock is never removed or moved. Older than five seconds, it was left by a killed breaker and is
 *   removed.
 * - `<key>.tok.bad-<time>-<random>` — an unreadable file (corrupt, another key, unknown format) moved
 *   aside before a new token is written in its place, so nothing is silently overwritten with less.
 *   At most three are kept per key.
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
// `fs.promises`, not `node:fs/promises`: read on first use, so a store that only reads (a warm CLI call)
// never loads Node's promise API of the file system (see stores/trust.ts).
import { type FSWatcher, promises as fsp, type Stats, watch } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import envPaths from 'env-paths';
import { ConfigError, LockTimeoutError, StoreError } from '../errors.js';
import { decodeEntry, encodeEntry, noteWritten, warmEnvelope } from './envelope.js';
import { type CacheEncryptionKey, storeKeyResolver } from './keys.js';
import {
  readPrivateFile,
  securePrivateDir,
  syncDir,
  type TrustFailure,
  writePrivateFileAtomic,
} from './trust.js';
import type { LockOnlyOptions, LockOptions, StoredEntry, StoreLock, TokenStore } from './types.js';
import {
  assertSafeKey,
  backoffDelay,
  errnoCode,
  handOverWonLock,
  Lease,
  LockWaiters,
  type LockWaitOptions,
  lockWaitSatisfied,
  onceUntilRejected,
  resolveLockWait,
  type StoreWarningHandler,
  safeWarn,
  sleep,
} from './util.js';

/**
 * Options of {@link FileStore}. Lock waiters poll; `lockWakeups: true` also wakes them on a release (a
 * watch on the directory); see {@link LockWaitOptions}.
 */
export interface FileStoreOptions extends LockWaitOptions {
  /** The directory. Default: `TOKENWARD_CACHE_DIR`, else `tokens` in the platform's cache dir. */
  dir?: string;
  /** The 32-byte encryption key. Default: resolved by `resolveCacheKey` (env, then key file). */
  key?: Buffer;
  /** Receives non-fatal problems (corrupt file, wrong key, loose permissions…). Default: `process.emitWarning`. */
  onWarning?: StoreWarningHandler;
  /** Environment for `TOKENWARD_CACHE_DIR`, `TOKENWARD_CACHE_KEY`, `TOKENWARD_CONFIG_DIR`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The default directory of the file store: `TOKENWARD_CACHE_DIR`, else `<platform cache dir>/tokens`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['TOKENWARD_CACHE_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(envPaths('tokenward', { suffix: '' }).cache, 'tokens');
}

const TOKEN_SUFFIX = '.tok';
const LOCK_SUFFIX = '.lock';
/** Held (created exclusively) while a lock file is removed: `<key>.lock.breaking`. */
const BREAKER_SUFFIX = '.breaking';
/** A breaker file older than this was left by a process killed mid-break and is removed. */
const BREAKER_STALE_MS = 5_000;
const MAX_BAD_FILES = 3;
/** A holder renews its lock file at least this often (and about every third of its lease). */
const MAX_RENEW_INTERVAL_MS = 2_000;
/**
 * A waiter judges a lock stale after the lease the file claims, but never later than its own lease or
 * this (three renewals of any live holder), whichever is longer: a planted or leftover lock claiming a
 * long lease costs one lease, not the lease it claims.
 */
const MIN_HONOURED_LEASE_MS = 3 * MAX_RENEW_INTERVAL_MS;
/** Temporary files older than this are leftovers of a killed writer and are removed, whoever made them. */
const TEMP_MAX_AGE_MS = 10 * 60_000;
/**
 * A temporary file named in the older way (no host tag; lock files' temporaries too) whose pid is not
 * alive on this host is removed once it is this old (it may belong to a writer on another host that
 * shares the directory, which keeps it only for the instant of a write).
 */
const TEMP_UNTAGGED_DEAD_MS = 30_000;
/** The largest token file read, in bytes (an envelope is a few kB; a JWT-heavy one tens of kB). */
export const MAX_ENTRY_BYTES = 1024 * 1024;

interface LockInfo {
  pid: number;
  host: string;
  createdAt: number;
  ttlMs: number;
  nonce: string;
}

type LockState =
  | { kind: 'gone' }
  | { kind: 'held' }
  | { kind: 'stale'; content: string; mtimeMs: number; why: string };

let hostTagOnce: string | undefined;
/**
 * A short, non-identifying tag of this host, put in temporary file names (`h` + 8 hex digits). Made on
 * first use: a read from the store (a warm `tokenward token`) writes no temporary file.
 */
function hostTag(): string {
  hostTagOnce ??= `h${createHash('sha256').update(hostname()).digest('hex').slice(0, 8)}`;
  return hostTagOnce;
}
/** `.<name>.h<host>.<pid>.<random>.tmp`: a temporary file of this version's write path. */
const TAGGED_TEMP = /^\..+\.(h[0-9a-f]{8})\.(\d+)\.[0-9a-f]+\.tmp$/;
/** `.<name>.<pid>.<random>.tmp`: a temporary file without host tag (older versions). */
const UNTAGGED_TEMP = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/;

const storeFailure: TrustFailure = (message, target, cause) =>
  new StoreError('file', message, cause === undefined ? { target } : { target, cause });

/** A {@link TokenStore} over a private directory. See the module documentation for the layout. */
export class FileStore implements TokenStore {
  readonly kind = 'file';
  readonly shared = true;
  /** The directory holding the files. */
  readonly dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #warn: StoreWarningHandler;
  #hostOnce: string | undefined;
  /** This host's name, for the lock files (asked on first use: a read takes no lock). */
  get #host(): string {
    this.#hostOnce ??= hostname();
    return this.#hostOnce;
  }
  /** The encryption key, resolved once. */
  readonly #encKey: () => Promise<CacheEncryptionKey>;
  /** Creates/checks the directory, once. */
  readonly #ensureDir: () => Promise<void>;
  /** Locks held now (their open lock files and leases), given up by close(). */
  readonly #held = new Set<{ fh: FileHandle; lease: Lease }>();
  /** Wake-ups on or off, and the poll intervals. */
  readonly #lockWait: ReturnType<typeof resolveLockWait>;
  readonly #waiters = new LockWaiters();
  /** The watch on the directory while someone waits for a lock (wakes them when a lock file goes). */
  #watcher: FSWatcher | undefined;
  /** Lock waits using the watch. */
  #watching = 0;
  /** The directory's real path once it has been checked (see `trust.ts`). */
  #verified: string | undefined;
  /** A pending check of an existing directory, for reads. */
  #readCheck: Promise<string | undefined> | undefined;

  constructor(options: FileStoreOptions = {}) {
    this.#env = options.env ?? process.env;
    this.dir = options.dir ?? defaultCacheDir(this.#env);
    this.#warn = safeWarn(options.onWarning);
    this.#encKey = storeKeyResolver(options.key, this.#env, this.#warn);
    this.#ensureDir = onceUntilRejected(() => this.#makeDir());
    this.#lockWait = resolveLockWait(options, false);
  }

  /** Resolves the encryption key and creates/checks the directory. Optional: every operation does it lazily. */
  async open(): Promise<void> {
    await this.#encKey();
    await this.#ensureDir();
  }

  /** The path of the file that holds `key`. */
  pathOf(key: string): string {
    return join(this.dir, `${key}${TOKEN_SUFFIX}`);
  }

  /**
   * Creates the directory (0700) if needed and checks it can be trusted: owned by the current user,
   * reached through links and enclosing directories only the user or root can change, and private
   * (an own directory open to others is changed to 0700, with a warning). Anything else is refused
   * with a `StoreError` saying what to fix.
   */
  async #makeDir(): Promise<void> {
    this.#verified = await securePrivateDir(this.dir, {
      what: 'the cache directory',
      create: true,
      tighten: true,
      onWarning: this.#warn,
      fail: storeFailure,
    });
  }

  /**
   * For reads: checks the directory as {@link FileStore.#makeDir} does, without creating it.
   * @returns its real path, or `undefined` when it does not exist (then there is nothing to read).
   */
  #checkDir(): Promise<string | undefined> {
    if (this.#verified !== undefined) return Promise.resolve(this.#verified);
    if (this.#readCheck === undefined) {
      const p = securePrivateDir(this.dir, {
        what: 'the cache directory',
        create: false,
        tighten: true,
        onWarning: this.#warn,
        fail: storeFailure,
      }).then((real) => {
        if (real !== undefined) this.#verified = real;
        return real;
      });
      const forget = () => {
        if (this.#readCheck === p) this.#readCheck = undefined;
      };
      p.then((real) => real === undefined && forget(), forget);
      this.#readCheck = p;
    }
    return this.#readCheck;
  }

  /** The rollback scope of this store's envelopes: `file:` and the directory's real path. */
  get #scope(): string {
    return `file:${this.#verified ?? resolve(this.dir)}`;
  }

  /**
   * Reads a token file without following a link: a regular file owned by the current user, at most
   * {@link MAX_ENTRY_BYTES}. Rejects with the `ENOENT` error when it is missing, else a `StoreError`.
   */
  #readEntryFile(path: string): Promise<Buffer> {
    return readPrivateFile(path, {
      what: 'the cached token',
      maxBytes: MAX_ENTRY_BYTES,
      walk: false,
      checkMode: false,
      fail: storeFailure,
    });
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    assertSafeKey('file', key);
    if ((await this.#checkDir()) === undefined) return undefined;
    const path = this.pathOf(key);
    let bytes: Buffer;
    try {
      bytes = await this.#readEntryFile(path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (err instanceof StoreError) this.#warn(`${err.message}; treated as a miss`);
      else this.#warn(`cannot read the cached token ${path} (${code ?? 'error'}); treated as a miss`);
      return undefined;
    }
    let k: CacheEncryptionKey;
    try {
      k = await this.#encKey();
    } catch (err) {
      // A malformed TOKENWARD_CACHE_KEY is the caller's to fix; an unreadable key file only costs the cache.
      if (err instanceof ConfigError) throw err;
      this.#warn(
        `${err instanceof Error ? err.message : String(err)}; the cached token is treated as a miss`,
      );
      return undefined;
    }
    const r = decodeEntry(bytes, key, k, { scope: this.#scope });
    if (!r.ok) {
      this.#warn(
        `the cached token ${path} is unusable: ${r.message}; treated as a miss (it is moved aside, not overwritten, when a new token is written)`,
      );
      return undefined;
    }
    return r.entry;
  }

  async set(entry: StoredEntry): Promise<void> {
    assertSafeKey('file', entry.key);
    const path = this.pathOf(entry.key);
    const k = await this.#encKey();
    await this.#ensureDir();
    const bytes = encodeEntry(entry, k, { scope: this.#scope });
    await this.#setAsideIfBad(path, entry.key, k);
    await this.#atomicWrite(path, bytes);
    noteWritten(this.#scope, entry.key, bytes);
    await this.#removeOrphanTemps();
  }

  /**
   * Removes temporary files left by writers that were killed mid-write (run after every write, so they
   * cannot pile up): one of this host whose pid is gone at once; one without host tag (older versions,
   * lock files) whose pid is gone on this host after {@link TEMP_UNTAGGED_DEAD_MS}; any after
   * {@link TEMP_MAX_AGE_MS}. Best effort: a failure here never fails the write.
   */
  async #removeOrphanTemps(): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch {
      return;
    }
    const now = Date.now();
    for (const n of names) {
      if (!n.startsWith('.') || !n.endsWith('.tmp')) continue;
      const p = join(this.dir, n);
      const tagged = TAGGED_TEMP.exec(n);
      const untagged = tagged === null ? UNTAGGED_TEMP.exec(n) : null;
      const pid = Number(tagged !== null ? tagged[2] : untagged?.[1]);
      const deadHere = Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid);
      if (tagged !== null && tagged[1] === hostTag() && deadHere) {
        await fsp.unlink(p).catch(() => {});
        continue;
      }
      const st = await fsp.stat(p).catch(() => undefined);
      if (st === undefined) continue;
      const age = now - st.mtimeMs;
      if (age > TEMP_MAX_AGE_MS || (untagged !== null && deadHere && age > TEMP_UNTAGGED_DEAD_MS)) {
        await fsp.unlink(p).catch(() => {});
      }
    }
  }

  async #atomicWrite(path: string, bytes: Buffer): Promise<void> {
    const tmp = join(
      this.dir,
      `.${basename(path)}.${hostTag()}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      await writePrivateFileAtomic(path, tmp, bytes);
    } catch (err) {
      throw new StoreError('file', `cannot write the cached token ${path} (${errnoCode(err) ?? 'error'})`, {
        target: path,
        cause: err,
      });
    }
  }

  /** Moves an existing file that cannot be decoded out of the way, so a write never destroys it silently. */
  async #setAsideIfBad(path: string, key: string, k: CacheEncryptionKey): Promise<void> {
    let bytes: Buffer | undefined;
    try {
      bytes = await this.#readEntryFile(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
    }
    if (bytes !== undefined && decodeEntry(bytes, key, k).ok) return;
    const aside = `${path}.bad-${Date.now()}-${randomBytes(3).toString('hex')}`;
    try {
      await fsp.rename(path, aside);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw new StoreError(
        'file',
        `cannot move the unusable file ${path} aside (${errnoCode(err) ?? 'error'})`,
        {
          target: path,
          cause: err,
        },
      );
    }
    // A concurrent writer may have replaced the bad file with a good one just before our rename.
    const moved = await this.#readEntryFile(aside).catch(() => undefined);
    if (moved !== undefined && decodeEntry(moved, key, k).ok) {
      await fsp.link(aside, path).catch(() => {});
      await fsp.unlink(aside).catch(() => {});
      return;
    }
    this.#warn(`the unusable cached token ${path} was kept as ${aside} before a new token replaced it`);
    await this.#pruneBadFiles(key);
  }

  async #pruneBadFiles(key: string): Promise<void> {
    const prefix = `${key}${TOKEN_SUFFIX}.bad-`;
    const names = (await fsp.readdir(this.dir).catch(() => [] as string[]))
      .filter((n) => n.startsWith(prefix))
      .sort();
    for (const n of names.slice(0, Math.max(0, names.length - MAX_BAD_FILES))) {
      try {
        await fsp.unlink(join(this.dir, n));
        this.#warn(
          `removed the oldest set-aside file ${join(this.dir, n)} (at most ${MAX_BAD_FILES} are kept per key)`,
        );
      } catch {
        // Gone already.
      }
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey('file', key);
    const path = this.pathOf(key);
    try {
      await fsp.unlink(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw new StoreError('file', `cannot delete the cached token ${path} (${errnoCode(err) ?? 'error'})`, {
        target: path,
        cause: err,
      });
    }
    await syncDir(this.dir);
  }

  async list(): Promise<StoredEntry[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw new StoreError(
        'file',
        `cannot list the cache directory ${this.dir} (${errnoCode(err) ?? 'error'})`,
        {
          target: this.dir,
          cause: err,
        },
      );
    }
    await this.#checkDir();
    const out: StoredEntry[] = [];
    for (const n of names.sort()) {
      if (n.endsWith(TOKEN_SUFFIX) && !n.startsWith('.')) {
        const e = await this.get(n.slice(0, -TOKEN_SUFFIX.length)).catch(() => undefined);
        if (e !== undefined) out.push(e);
      }
    }
    await this.#removeOrphanTemps();
    return out;
  }

  lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  async lock(key: string, options: LockOptions): Promise<StoreLock | undefined> {
    assertSafeKey('file', key);
    await this.#ensureDir();
    const lockPath = join(this.dir, `${key}${LOCK_SUFFIX}`);
    const nonce = randomBytes(16).toString('hex');
    const started = Date.now();
    const { wakeups, poll } = this.#lockWait;
    let watching = false;
    let tried = false;
    try {
      for (let attempt = 0; ; ) {
        const mark = this.#waiters.mark();
        const info: LockInfo = {
          pid: process.pid,
          host: this.#host,
          createdAt: Date.now(),
          ttlMs: options.ttlMs,
          nonce,
        };
        const fh = await this.#tryCreate(lockPath, info);
        if (fh !== undefined)
          return handOverWonLock(this.#handle(lockPath, nonce, fh, options.ttlMs), options, tried);
        tried = true;
        const state = await this.#inspect(lockPath, options.ttlMs);
        if (state.kind === 'gone') continue;
        if (state.kind === 'stale') {
          await this.#breakStale(lockPath, state);
          continue;
        }
        const remaining = options.timeoutMs - (Date.now() - started);
        if (remaining <= 0) {
          throw new LockTimeoutError(
            'file',
            options.timeoutMs,
            `could not take the file lock ${lockPath} within ${options.timeoutMs} ms (another process holds it)`,
          );
        }
        if (wakeups && !watching) {
          watching = this.#watch();
          // Watching: look again at once, so a release just before the watch began is not missed.
          if (watching) continue;
        }
        // The read's one-time costs, paid while waiting (see warmEnvelope).
        if (options.satisfied !== undefined) void this.#encKey().then(warmEnvelope, () => {});
        await this.#waiters.wait(key, backoffDelay(attempt++, remaining, poll.baseMs, poll.capMs), mark);
        // Woken (or polled): the holder may have stored what this caller waits for.
        if (await lockWaitSatisfied(options)) return undefined;
      }
    } finally {
      if (watching) this.#unwatch();
    }
  }

  /**
   * Starts (or shares) the watch on the directory that wakes lock waiters when a lock file is removed
   * or replaced. Returns false when the platform or file system cannot watch it (then waiters poll).
   */
  #watch(): boolean {
    if (this.#watcher === undefined) {
      let w: FSWatcher;
      try {
        // Not persistent: a waiter's own poll timer keeps the process alive, the watch never does.
        w = watch(this.dir, { persistent: false }, (event, name) => {
          if (name === null) this.#waiters.wake();
          else if (event === 'rename' && name.endsWith(LOCK_SUFFIX)) {
            this.#waiters.wake(name.slice(0, -LOCK_SUFFIX.length));
          }
        });
      } catch {
        return false;
      }
      w.on('error', () => {
        // The watch broke (the directory went away, a watch limit): waiters go back to polling.
        w.close();
        if (this.#watcher === w) this.#watcher = undefined;
        this.#waiters.wake();
      });
      this.#watcher = w;
    }
    this.#watching++;
    return true;
  }

  /** One lock wait less on the watch; the last one stops it. */
  #unwatch(): void {
    this.#watching = Math.max(0, this.#watching - 1);
    if (this.#watching === 0 && this.#watcher !== undefined) {
      this.#watcher.close();
      this.#watcher = undefined;
    }
  }

  /**
   * Creates the lock file (written under a temporary name, hard-linked into place). Returns the open
   * file, kept by the holder to renew the lease on that very inode, or undefined when a lock exists.
   */
  async #tryCreate(lockPath: string, info: LockInfo): Promise<FileHandle | undefined> {
    const tmp = join(
      this.dir,
      `.${basename(lockPath)}.${hostTag()}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    let fh: FileHandle | undefined;
    let linked = false;
    try {
      fh = await fsp.open(tmp, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(info));
      await fsp.link(tmp, lockPath);
      linked = true;
      return fh;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return undefined;
      throw new StoreError('file', `cannot create the lock file ${lockPath} (${errnoCode(err) ?? 'error'})`, {
        target: lockPath,
        cause: err,
      });
    } finally {
      if (!linked) await fh?.close().catch(() => {});
      await fsp.unlink(tmp).catch(() => {});
    }
  }

  async #inspect(lockPath: string, ttlMs: number): Promise<LockState> {
    let content: string;
    let st: Stats;
    try {
      st = await fsp.stat(lockPath);
      content = await fsp.readFile(lockPath, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        // A symbolic link to nothing: the link cannot be made (EEXIST) nor the lock read (ENOENT) —
        // "gone" would retry at once, for ever.
        if (!(await isSymlink(lockPath))) return { kind: 'gone' };
        throw new StoreError('file', `cannot read the lock file ${lockPath} (a symbolic link to nothing)`, {
          target: lockPath,
          cause: err,
        });
      }
      throw new StoreError('file', `cannot read the lock file ${lockPath} (${errnoCode(err) ?? 'error'})`, {
        target: lockPath,
        cause: err,
      });
    }
    const now = Date.now();
    let info: Partial<LockInfo> | undefined;
    try {
      const parsed = JSON.parse(content) as unknown;
      if (typeof parsed === 'object' && parsed !== null) info = parsed as Partial<LockInfo>;
    } catch {
      // Not JSON: info stays undefined.
    }
    const idle = Math.round(now - st.mtimeMs);
    if (info === undefined || typeof info.createdAt !== 'number') {
      return idle > ttlMs
        ? { kind: 'stale', content, mtimeMs: st.mtimeMs, why: `unreadable and not renewed for ${idle} ms` }
        : // Stryker disable next-line ObjectLiteral,StringLiteral: lock() takes any state but 'gone' and 'stale' as held
          { kind: 'held' };
    }
    if (info.host === this.#host && typeof info.pid === 'number' && !pidAlive(info.pid)) {
      // A holder on this host that is gone (killed, crashed) frees the lock at once.
      return {
        kind: 'stale',
        content,
        mtimeMs: st.mtimeMs,
        why: `its holder, pid ${info.pid} on this host, is gone`,
      };
    }
    // Otherwise the lock is a lease: held while its holder renews the mtime, stale one lease after the
    // last renewal, whatever pid it names (a live pid may be a reused one, or on another host).
    const claimed = typeof info.ttlMs === 'number' && info.ttlMs > 0 ? info.ttlMs : ttlMs;
    const lease = Math.min(claimed, Math.max(ttlMs, MIN_HONOURED_LEASE_MS));
    if (idle > lease) {
      return {
        kind: 'stale',
        content,
        mtimeMs: st.mtimeMs,
        why: `held by pid ${info.pid} on ${info.host === this.#host ? 'this host' : info.host}, not renewed for ${idle} ms (its lease is ${lease} ms)`,
      };
    }
    // Stryker disable next-line ObjectLiteral,StringLiteral: lock() takes any state but 'gone' and 'stale' as held
    return { kind: 'held' };
  }

  /**
   * Removes the lock judged stale, and only it: under the breaker file, the lock is read again and
   * unlinked only if it is still byte for byte the content judged stale. A live lock is never moved
   * away from its path, so no other process can slip a lock in beside it.
   */
  async #breakStale(
    lockPath: string,
    { content, mtimeMs, why }: { content: string; mtimeMs: number; why: string },
  ): Promise<void> {
    await this.#underBreaker(lockPath, async () => {
      let current: string;
      let st: Stats;
      try {
        st = await fsp.stat(lockPath);
        current = await fsp.readFile(lockPath, 'utf8');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return; // someone else broke it
        throw err;
      }
      if (current !== content) return; // broken already, and a new lock taken since
      if (st.mtimeMs !== mtimeMs) return; // its holder renewed it after all
      try {
        await fsp.unlink(lockPath);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw err;
      }
      this.#warn(`broke a stale lock ${lockPath}: ${why}`);
    }).catch((err: unknown) => {
      throw new StoreError('file', `cannot break the stale lock ${lockPath} (${errnoCode(err) ?? 'error'})`, {
        target: lockPath,
        cause: err,
      });
    });
  }

  /**
   * Runs `fn` while holding `<key>.lock.breaking`, created exclusively: every removal of `<key>.lock`
   * (breaking a stale lock, releasing one's own) happens under it, one at a time, so reading the lock
   * and unlinking it cannot be interleaved with another removal. Creating a lock needs no breaker (the
   * hard link only succeeds where there is no lock). A breaker file older than `BREAKER_STALE_MS` was
   * left by a process killed mid-break and is removed.
   */
  async #underBreaker<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
    const breakerPath = `${lockPath}${BREAKER_SUFFIX}`;
    for (let attempt = 0; ; attempt++) {
      let ino: number;
      try {
        const fh = await fsp.open(breakerPath, 'wx', 0o600);
        try {
          ino = (await fh.stat()).ino;
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        const st = await fsp.stat(breakerPath).catch(() => undefined);
        if (st !== undefined && Date.now() - st.mtimeMs > BREAKER_STALE_MS) {
          this.#warn(
            `removed the breaker file ${breakerPath} left by a process killed while breaking a lock`,
          );
          await fsp.unlink(breakerPath).catch(() => {});
          continue;
        }
        await sleep(backoffDelay(attempt, BREAKER_STALE_MS));
        continue;
      }
      try {
        return await fn();
      } finally {
        const st = await fsp.stat(breakerPath).catch(() => undefined);
        if (st?.ino === ino) await fsp.unlink(breakerPath).catch(() => {});
      }
    }
  }

  /**
   * A held lock: renews the lease (the mtime of the lock file, through the open file, so only this
   * inode is ever touched) about every third of it, after checking that the path still names this
   * inode; the lease is lost if not.
   */
  #handle(lockPath: string, nonce: string, fh: FileHandle, leaseMs: number): StoreLock {
    const ino = fh.stat().then(
      (st) => st.ino,
      // Stryker disable next-line ArrowFunction,UnaryOperator: fstat of a file this process holds open does not fail
      () => -1,
    );
    const lease = new Lease({
      leaseMs: Math.max(1, leaseMs),
      intervalMs: Math.min(Math.max(1, leaseMs) / 3, MAX_RENEW_INTERVAL_MS),
      renew: async () => {
        let st: Stats;
        try {
          st = await fsp.stat(lockPath);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return false;
          throw err;
        }
        if (st.ino !== (await ino)) return false;
        const now = new Date();
        await fh.utimes(now, now);
        return true;
      },
      onLost: (why) => this.#warn(`lost the lock ${lockPath} before releasing it: ${why}`),
    });
    const held = { fh, lease };
    this.#held.add(held);
    let released = false;
    return {
      get lost() {
        return lease.lost;
      },
      release: async () => {
        if (released) return;
        // Stryker disable next-line BooleanLiteral: a second release finds its lock no longer in #held, and removes nothing
        released = true;
        await lease.stop();
        const mine = this.#held.delete(held);
        try {
          if (mine) {
            await this.#underBreaker(lockPath, async () => {
              // Stryker disable next-line StringLiteral: readFile(path, '') gives a Buffer, which JSON.parse reads as UTF-8 too
              const content = await fsp.readFile(lockPath, 'utf8');
              const info = JSON.parse(content) as Partial<LockInfo>;
              if (info.nonce === nonce) await fsp.unlink(lockPath);
            });
          }
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') {
            this.#warn(
              `could not release the lock ${lockPath} (${errnoCode(err) ?? 'error'}); it is stale one lease (${leaseMs} ms) after its last renewal`,
            );
          }
        } finally {
          if (mine) await fh.close().catch(() => {});
        }
      },
    };
  }

  /**
   * Gives up the locks still held: stops renewing them (each becomes stale one lease later, or at
   * once for other processes on this host once this process exits) and closes their files.
   */
  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#waiters.wake();
    const held = [...this.#held];
    this.#held.clear();
    for (const h of held) h.lease.markLost('the store was closed while it was held');
    await Promise.all(held.map((h) => h.fh.close().catch(() => {})));
  }
}

/** True when `path` is a symbolic link (whatever it points to). */
async function isSymlink(path: string): Promise<boolean> {
  return fsp.lstat(path).then(
    (st) => st.isSymbolicLink(),
    () => false,
  );
}

/** True when a process with this pid exists (on this host). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
