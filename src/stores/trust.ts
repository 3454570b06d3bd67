/**
 * Ownership and permission checks for the files tokenward keeps on disk (the file store's directory,
 * the key file and its directory, the config directory), in the manner of OpenSSH's `StrictModes` and
 * gpg's "unsafe permissions" checks: a path is trusted only when nobody but the current user (and root)
 * can change what it leads to.
 *
 * A path is walked one component at a time with `lstat`, resolving symbolic links by hand:
 * - every **symbolic link** on the way must be owned by the current user or root (a link planted by
 *   another user in a shared, sticky directory such as `/tmp` is refused even when it points to one of
 *   the user's own directories: its owner could re-point it at any time);
 * - every **enclosing directory** of the resolved path must be owned by the current user or root, and
 *   must not be writable by group or others unless it has the sticky bit (as `/tmp` does), so that no
 *   other user can rename the directory away and put their own in its place;
 * - the **directory itself** is opened with `O_NOFOLLOW` and checked with `fstat`: it must be owned by
 *   the current user (root included: as root, a directory owned by another uid is refused too). When it
 *   is open to group or others it is changed to 0700 through the same descriptor (with a warning) if
 *   the caller allows it, else refused;
 * - a **file** (the key file) is opened with `O_NOFOLLOW | O_NONBLOCK` and checked with `fstat`: a
 *   regular file, owned by the current user, not readable or writable by group or others, and not
 *   larger than a bound.
 *
 * On Windows (no POSIX ownership or modes) only the directory creation is done.
 *
 * The checks and the reads of these small files call the file system synchronously (inside the async
 * functions): each call is a metadata lookup or a read of at most a few KiB from a regular file, cheaper
 * than the round trip through libuv's thread pool the promise API makes of it (two thread switches per
 * call; a warm `tokenward token` made some 40 of them, and on a busy machine each waits for a core).
 * Writes, with their fsync, stay asynchronous. See docs/architecture.md, "The warm CLI path".
 * @module
 */

import {
  closeSync,
  constants,
  fchmodSync,
  promises as fsp, // read on first use: only writes need it
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  type Stats,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { errnoCode } from './util.js';

const POSIX = process.platform !== 'win32';
/** Symbolic links followed while resolving one path, as the kernel's own limit (`ELOOP`). */
const MAX_LINKS = 40;

/** Builds the error for a refused path: a `StoreError` for stores, a `ConfigError` for the config dir. */
export type TrustFailure = (message: string, target: string, cause?: unknown) => Error;

/** Options of {@link securePrivateDir}. */
export interface PrivateDirOptions {
  /** What the directory is, for messages: `the cache directory`, `the key directory`... */
  what: string;
  /** Create it (and missing parents, mode 0700) when it does not exist. */
  create: boolean;
  /** Change an own directory that is open to group/others to 0700 (with a warning) instead of refusing. */
  tighten: boolean;
  /** Receives the warning when a directory was tightened. */
  onWarning?: (message: string) => void;
  /** Builds the error thrown for a refused directory. */
  fail: TrustFailure;
}

/** The current user's uid (POSIX), or `undefined` on Windows. */
export function currentUid(): number | undefined {
  return POSIX && typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function owner(uid: number): string {
  return uid === 0 ? 'root' : `uid ${uid}`;
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(3, '0');
}

/** Why an enclosing directory is not trusted, or `undefined` when it is. */
function ancestorProblem(st: Stats, uid: number): string | undefined {
  if (st.uid !== uid && st.uid !== 0) return `is owned by another user (${owner(st.uid)})`;
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    return `is writable by ${(st.mode & 0o002) !== 0 ? 'all users' : 'its group'} (mode ${modeText(st)}) without the sticky bit`;
  }
  return undefined;
}

/**
 * Resolves `path` to a real path, checking every symbolic link and enclosing directory on the way (see
 * the module documentation). The last component is resolved (if it is a link) but not itself checked.
 * @returns the resolved path, or `undefined` when some component does not exist.
 * @throws the error built by `fail` for an untrusted link or enclosing directory.
 */
export async function resolveTrustedPath(
  path: string,
  what: string,
  fail: TrustFailure,
): Promise<string | undefined> {
  const uid = currentUid();
  const abs = resolve(path);
  if (uid === undefined) return abs;
  let todo = abs.split(sep).filter((c) => c !== '');
  let cur: string = sep;
  let links = 0;
  const checked = new Set<string>();
  // A directory's lstat from the step that walked into it: checked as the next step's enclosing directory.
  let walkedInto: { path: string; st: Stats } | undefined;
  const checkDir = (dir: string): void => {
    if (checked.has(dir)) return;
    const st = walkedInto?.path === dir ? walkedInto.st : lstatSync(dir);
    const problem = ancestorProblem(st, uid);
    if (problem !== undefined) {
      throw fail(
        `${what} ${path} is not safe: its enclosing directory ${dir} ${problem}, so another user could replace what it holds; use a directory that only you (and root) can change`,
        dir,
      );
    }
    checked.add(dir);
  };
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '.') continue;
    if (c === '..') {
      cur = dirname(cur);
      continue;
    }
    checkDir(cur);
    const p = join(cur, c);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return undefined;
      throw fail(`cannot check ${what} ${path}: ${p} (${code ?? 'error'})`, p, err);
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== uid && st.uid !== 0) {
        throw fail(
          `${what} ${path} is not safe: ${p} is a symbolic link owned by another user (${owner(st.uid)}), who could point it anywhere; remove the link, or use another directory`,
          p,
        );
      }
      if (++links > MAX_LINKS) throw fail(`${what} ${path}: too many symbolic links`, p);
      const target = readlinkSync(p);
      todo = [...target.split(sep).filter((x) => x !== ''), ...todo];
      if (isAbsolute(target)) cur = sep;
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) {
      throw fail(`${what} ${path}: ${p} is not a directory`, p);
    }
    cur = p;
    walkedInto = { path: p, st };
  }
  return cur;
}

/**
 * Makes sure `dir` is a private directory of the current user: created (0700) if asked, every link and
 * enclosing directory trusted, owned by the user, and not open to group/others (tightened to 0700 if
 * `tighten`, else refused).
 * @returns the resolved real path of the directory, or `undefined` when it does not exist (and `create`
 *   is false).
 * @throws the error built by `fail` when the directory cannot be created or is not trusted.
 */
export async function securePrivateDir(dir: string, options: PrivateDirOptions): Promise<string | undefined> {
  const { what, fail } = options;
  if (options.create) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fail(`cannot create ${what} ${dir} (${errnoCode(err) ?? 'error'})`, dir, err);
    }
  }
  const uid = currentUid();
  if (uid === undefined) return resolve(dir);
  const real = await resolveTrustedPath(dir, what, fail);
  if (real === undefined) {
    if (options.create) throw fail(`${what} ${dir} vanished while it was being checked`, dir);
    return undefined;
  }
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' && !options.create) return undefined;
    if (code === 'ENOTDIR') throw fail(`${what} ${dir} is not a directory`, dir, err);
    throw fail(`cannot open ${what} ${dir} (${code ?? 'error'})`, dir, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory()) throw fail(`${what} ${dir} is not a directory`, dir);
    if (st.uid !== uid) {
      throw fail(
        `${what} ${dir}${real !== resolve(dir) ? ` (${real})` : ''} is owned by another user (${owner(st.uid)}), who could read, replace or roll back what it holds; use a directory of your own (or chown it to yourself)`,
        dir,
      );
    }
    if ((st.mode & 0o077) !== 0) {
      const was = modeText(st);
      if (!options.tighten) {
        throw fail(`${what} ${dir} is open to other users (mode ${was}); run: chmod 700 ${dir}`, dir);
      }
      try {
        fchmodSync(fd, 0o700);
      } catch (err) {
        throw fail(
          `${what} ${dir} is open to other users (mode ${was}) and could not be changed (${errnoCode(err) ?? 'error'}); run: chmod 700 ${dir}`,
          dir,
          err,
        );
      }
      options.onWarning?.(`${what} ${dir} was accessible to other users (mode ${was}); changed it to 700`);
    }
  } finally {
    closeSync(fd);
  }
  return real;
}

/** Options of {@link readPrivateFile}. */
export interface PrivateFileOptions {
  /** What the file is, for messages: `the key file`. */
  what: string;
  /** The largest size accepted, in bytes. */
  maxBytes: number;
  /** Builds the error thrown for a refused file. */
  fail: TrustFailure;
  /**
   * Check the links and enclosing directories on the way first (default true). False for a file in a
   * directory already checked with {@link securePrivateDir}.
   */
  walk?: boolean;
  /**
   * Refuse a file open to group or others (default true). False for a file in a private directory
   * whose content is protected otherwise (the file store's encrypted entries).
   */
  checkMode?: boolean;
}

/**
 * Reads a small private file: every link and enclosing directory trusted, then opened with
 * `O_NOFOLLOW | O_NONBLOCK` (a FIFO cannot block it) and checked with `fstat`: a regular file owned by
 * the current user, mode without any group/other bit, at most `maxBytes`.
 * @throws an error with `code: 'ENOENT'` when the file does not exist (so callers can create it).
 * @throws the error built by `fail` for a refused file.
 */
export async function readPrivateFile(path: string, options: PrivateFileOptions): Promise<Buffer> {
  const { what, fail } = options;
  const uid = currentUid();
  let real = path;
  if (uid !== undefined && options.walk !== false) {
    const r = await resolveTrustedPath(path, what, fail);
    if (r === undefined) throw Object.assign(new Error(`${path} does not exist`), { code: 'ENOENT' });
    real = r;
  }
  let fd: number;
  try {
    fd = openSync(real, POSIX ? constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK : 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw err;
    throw fail(`cannot open ${what} ${path} (${errnoCode(err) ?? 'error'})`, path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail(`${what} ${path} is not a regular file`, path);
    if (uid !== undefined) {
      if (st.uid !== uid) {
        throw fail(
          `${what} ${path} is owned by another user (${owner(st.uid)}), who could have planted it to read or forge what it protects; remove it (a new one is then made) or chown it to yourself if you made it`,
          path,
        );
      }
      if (options.checkMode !== false && (st.mode & 0o077) !== 0) {
        throw fail(
          `${what} ${path} is open to other users (mode ${modeText(st)}), so it may be known to them; if it never was, run: chmod 600 ${path}; else delete it to start afresh`,
          path,
        );
      }
    }
    if (st.size > options.maxBytes) {
      throw fail(`${what} ${path} is too large (${st.size} bytes, at most ${options.maxBytes})`, path);
    }
    // Sized from fstat, grown if the file grows meanwhile, never beyond the bound.
    let buf = Buffer.alloc(Math.min(st.size, options.maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > options.maxBytes) {
          throw fail(`${what} ${path} is too large (more than ${options.maxBytes} bytes)`, path);
        }
        const bigger = Buffer.alloc(Math.min(buf.length * 2, options.maxBytes + 1));
        buf.copy(bigger);
        buf.fill(0);
        buf = bigger;
      }
      const bytesRead = readSync(fd, buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `path` atomically with `bytes`: written to `tmp` (created with `O_EXCL`, mode 0600, in the
 * same directory), fsynced, renamed over `path`, and the directory fsynced. A reader sees the old file
 * or the new one, never a mix. On failure the temporary file is removed and the error is rethrown as it
 * is (callers wrap it in their own error).
 */
export async function writePrivateFileAtomic(path: string, tmp: string, bytes: Buffer): Promise<void> {
  try {
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dirname(path));
}

/** fsyncs a directory, so that a rename or unlink in it survives a crash (best effort; not on Windows). */
export async function syncDir(dir: string): Promise<void> {
  if (!POSIX) return;
  try {
    const dh = await fsp.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}
