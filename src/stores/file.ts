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
 *   (so it is never seen empty). A holder on this host is judged by its pid only (stale once dead, never
 *   on age); a holder on another host, or an unreadable file, is stale after the TTL.
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
import type { Stats } from 'node:fs';
import { link, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import envPaths from 'env-paths';
import { ConfigError, LockTimeoutError, StoreError } from '../errors.js';
import { decodeEntry, encodeEntry, noteWritten } from './envelope.js';
import { type CacheEncryptionKey, storeKeyResolver } from './keys.js';
import { readPrivateFile, securePrivateDir, type TrustFailure } from './trust.js';
import type { LockOptions, StoredEntry, StoreLock, TokenStore } from './types.js';
import {
  assertSafeKey,
  backoffDelay,
  errnoCode,
  onceUntilRejected,
  type StoreWarningHandler,
  safeWarn,
  sleep,
} from './util.js';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
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
const POSIX = process.platform !== 'win32';

interface LockInfo {
  pid: number;
  host: string;
  createdAt: number;
  ttlMs: number;
  nonce: string;
}

type LockState = { kind: 'gone' } | { kind: 'held' } | { kind: 'stale'; content: string; why: string };

/** A short, non-identifying tag of this host, put in temporary file names (`h` + 8 hex digits). */
const HOST_TAG = `h${createHash('sha256').update(hostname()).digest('hex').slice(0, 8)}`;
/** `.<name>.h<host>.<pid>.<random>.tmp`: a temporary file of this version's write path. */
const TAGGED_TEMP = /^\..+\.(h[0-9a-f]{8})\.(\d+)\.[0-9a-f]+\.tmp$/;
/** `.<name>.<pid>.<random>.tmp`: a temporary file without host tag (older versions, lock files). */
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
  readonly #host = hostname();
  /** The encryption key, resolved once. */
  readonly #encKey: () => Promise<CacheEncryptionKey>;
  /** Creates/checks the directory, once. */
  readonly #ensureDir: () => Promise<void>;
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
      names = await readdir(this.dir);
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
      if (tagged !== null && tagged[1] === HOST_TAG && deadHere) {
        await unlink(p).catch(() => {});
        continue;
      }
      const st = await stat(p).catch(() => undefined);
      if (st === undefined) continue;
      const age = now - st.mtimeMs;
      if (age > TEMP_MAX_AGE_MS || (untagged !== null && deadHere && age > TEMP_UNTAGGED_DEAD_MS)) {
        await unlink(p).catch(() => {});
      }
    }
  }

  async #atomicWrite(path: string, bytes: Buffer): Promise<void> {
    const tmp = join(
      this.dir,
      `.${basename(path)}.${HOST_TAG}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new StoreError('file', `cannot write the cached token ${path} (${errnoCode(err) ?? 'error'})`, {
        target: path,
        cause: err,
      });
    }
    await this.#syncDir();
  }

  async #syncDir(): Promise<void> {
    if (!POSIX) return;
    try {
      const dh = await open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      // Some file systems cannot fsync a directory; the rename is still atomic.
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
      await rename(path, aside);
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
      await link(aside, path).catch(() => {});
      await unlink(aside).catch(() => {});
      return;
    }
    this.#warn(`the unusable cached token ${path} was kept as ${aside} before a new token replaced it`);
    await this.#pruneBadFiles(key);
  }

  async #pruneBadFiles(key: string): Promise<void> {
    const prefix = `${key}${TOKEN_SUFFIX}.bad-`;
    const names = (await readdir(this.dir).catch(() => [] as string[]))
      .filter((n) => n.startsWith(prefix))
      .sort();
    for (const n of names.slice(0, Math.max(0, names.length - MAX_BAD_FILES))) {
      try {
        await unlink(join(this.dir, n));
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
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw new StoreError('file', `cannot delete the cached token ${path} (${errnoCode(err) ?? 'error'})`, {
        target: path,
        cause: err,
      });
    }
    await this.#syncDir();
  }

  async list(): Promise<StoredEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
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

  async lock(key: string, options: LockOptions): Promise<StoreLock> {
    assertSafeKey('file', key);
    await this.#ensureDir();
    const lockPath = join(this.dir, `${key}${LOCK_SUFFIX}`);
    const nonce = randomBytes(16).toString('hex');
    const started = Date.now();
    for (let attempt = 0; ; ) {
      const info: LockInfo = {
        pid: process.pid,
        host: this.#host,
        createdAt: Date.now(),
        ttlMs: options.ttlMs,
        nonce,
      };
      if (await this.#tryCreate(lockPath, info)) return this.#handle(lockPath, nonce);
      const state = await this.#inspect(lockPath, options.ttlMs);
      if (state.kind === 'gone') continue;
      if (state.kind === 'stale') {
        await this.#breakStale(lockPath, state.content, state.why);
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
      await sleep(backoffDelay(attempt++, remaining));
    }
  }

  async #tryCreate(lockPath: string, info: LockInfo): Promise<boolean> {
    const tmp = join(this.dir, `.${basename(lockPath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      await link(tmp, lockPath);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw new StoreError('file', `cannot create the lock file ${lockPath} (${errnoCode(err) ?? 'error'})`, {
        target: lockPath,
        cause: err,
      });
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  async #inspect(lockPath: string, ttlMs: number): Promise<LockState> {
    let content: string;
    let st: Stats;
    try {
      st = await stat(lockPath);
      content = await readFile(lockPath, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { kind: 'gone' };
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
      info = undefined;
    }
    if (info === undefined || typeof info.createdAt !== 'number') {
      return now - st.mtimeMs > ttlMs
        ? { kind: 'stale', content, why: 'unreadable and old' }
        : { kind: 'held' };
    }
    if (info.host === this.#host && typeof info.pid === 'number') {
      // A holder on this host is judged by its pid alone: a slow but live holder keeps its lock
      // whatever its age (the TTL is for holders we cannot see: other hosts, unreadable files).
      return pidAlive(info.pid)
        ? { kind: 'held' }
        : { kind: 'stale', content, why: `its holder, pid ${info.pid} on this host, is gone` };
    }
    const ttl = typeof info.ttlMs === 'number' && info.ttlMs > 0 ? info.ttlMs : ttlMs;
    if (now - info.createdAt > ttl) {
      return {
        kind: 'stale',
        content,
        why: `held by pid ${info.pid} on ${info.host} for more than ${ttl} ms`,
      };
    }
    return { kind: 'held' };
  }

  /**
   * Removes the lock judged stale, and only it: under the breaker file, the lock is read again and
   * unlinked only if it is still byte for byte the content judged stale. A live lock is never moved
   * away from its path, so no other process can slip a lock in beside it.
   */
  async #breakStale(lockPath: string, content: string, why: string): Promise<void> {
    await this.#underBreaker(lockPath, async () => {
      let current: string;
      try {
        current = await readFile(lockPath, 'utf8');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return; // someone else broke it
        throw err;
      }
      if (current !== content) return; // broken already, and a new lock taken since
      try {
        await unlink(lockPath);
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
        const fh = await open(breakerPath, 'wx', 0o600);
        try {
          ino = (await fh.stat()).ino;
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        const st = await stat(breakerPath).catch(() => undefined);
        if (st !== undefined && Date.now() - st.mtimeMs > BREAKER_STALE_MS) {
          this.#warn(
            `removed the breaker file ${breakerPath} left by a process killed while breaking a lock`,
          );
          await unlink(breakerPath).catch(() => {});
          continue;
        }
        await sleep(backoffDelay(attempt, BREAKER_STALE_MS));
        continue;
      }
      try {
        return await fn();
      } finally {
        const st = await stat(breakerPath).catch(() => undefined);
        if (st?.ino === ino) await unlink(breakerPath).catch(() => {});
      }
    }
  }

  #handle(lockPath: string, nonce: string): StoreLock {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.#underBreaker(lockPath, async () => {
            const content = await readFile(lockPath, 'utf8');
            const info = JSON.parse(content) as Partial<LockInfo>;
            if (info.nonce === nonce) await unlink(lockPath);
          });
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') {
            this.#warn(
              `could not release the lock ${lockPath} (${errnoCode(err) ?? 'error'}); it expires by itself`,
            );
          }
        }
      },
    };
  }

  async close(): Promise<void> {}
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
