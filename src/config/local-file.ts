/**
 * Bounded reads of local input: the config file, `file:` secrets, `ca_file`, and `request --data @file`
 * / `@-`. Every read is capped in size and in time, and only regular files are read: a device
 * (`/dev/zero`), a FIFO, a socket or a directory is refused before a byte is read. The file is opened
 * with `O_NONBLOCK` (POSIX), so opening a FIFO that has no writer returns at once instead of hanging, and
 * its type is checked on the open descriptor (no race between a check and the read).
 *
 * The caps ({@link LOCAL_FILE_LIMITS}) are documented in docs/config.md and docs/cli.md.
 * @module
 */

import { close, constants, fstat, open, read, type Stats } from 'node:fs';

/** Size caps (bytes) and the time bound (ms) of local reads. */
export const LOCAL_FILE_LIMITS = {
  /** The config file (`--config`, `TOKENWARD_CONFIG`, the default path): 1 MiB. */
  configBytes: 1 << 20,
  /** A `file:` secret (a password, a PEM or JWK private key): 1 MiB, as the output of a `cmd:` secret. */
  secretBytes: 1 << 20,
  /** `ca_file` (PEM certificates; the whole Mozilla bundle is about 0.2 MiB): 1 MiB. */
  caFileBytes: 1 << 20,
  /** `request --data @file` and `--data @-` (standard input): 64 MiB. */
  requestBodyBytes: 64 << 20,
  /** A whole read of a local file: 10 s. */
  readTimeoutMs: 10_000,
  /** `--data @-`: longest wait for the next chunk of standard input when it is not a terminal: 30 s. */
  stdinIdleMs: 30_000,
} as const;

/** Why a local read failed: an errno code (`ENOENT`, `EACCES`, …) or one of these. */
export type LocalReadFailure = 'ENOTREG' | 'EISDIR' | 'ETOOBIG' | 'ETIMEDOUT' | (string & {});

/**
 * A local read that failed. `reason` is a short, secret-free description ("is a FIFO, not a regular
 * file"); callers wrap it in a ConfigError or UsageError that names the setting.
 */
export class LocalReadError extends Error {
  /** What went wrong, as a code. */
  readonly code: LocalReadFailure;
  /** A short description for messages, without the path. */
  readonly reason: string;
  constructor(code: LocalReadFailure, reason: string) {
    super(reason);
    this.name = 'LocalReadError';
    this.code = code;
    this.reason = reason;
  }
}

/** Options of {@link readLocalFile}. */
export interface ReadLocalFileOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** Time bound of the whole read in ms. Default {@link LOCAL_FILE_LIMITS.readTimeoutMs}. */
  timeoutMs?: number;
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** "1 MiB", "64 MiB", "512 KiB", or bytes. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function describeErrno(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'does not exist (ENOENT)';
    case 'EACCES':
    case 'EPERM':
      return `is not readable (${code})`;
    case 'EISDIR':
      return 'is a directory, not a regular file';
    case 'ENXIO':
      return 'is a socket or device without a reader (ENXIO), not a regular file';
    case 'ELOOP':
      return 'is a symbolic link loop (ELOOP)';
    case 'ENOTDIR':
      return 'has a path component that is not a directory (ENOTDIR)';
    default:
      return `cannot be read (${code})`;
  }
}

/** Rejects after `ms` with ETIMEDOUT; `clear()` stops the timer. */
function deadline(ms: number): { promise: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LocalReadError('ETIMEDOUT', `was not read within ${ms} ms (ETIMEDOUT)`)),
      ms,
    );
    timer.unref();
  });
  promise.catch(() => {});
  return { promise, clear: () => clearTimeout(timer) };
}

// The callback API of node:fs, not node:fs/promises: the same calls through the thread pool, without
// loading Node's promise API of the file system (some 200 functions to compile) into a CLI call that
// reads only the config file. See docs/architecture.md, "The warm CLI path".
function openFd(path: string, flags: number): Promise<number> {
  return new Promise((res, rej) => open(path, flags, (err, fd) => (err ? rej(err) : res(fd))));
}
function fstatFd(fd: number): Promise<Stats> {
  return new Promise((res, rej) => fstat(fd, (err, st) => (err ? rej(err) : res(st))));
}
function readFd(fd: number, buf: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((res, rej) =>
    read(fd, buf, offset, length, null, (err, n) => (err ? rej(err) : res(n))),
  );
}
/**
 * An open descriptor, its call in flight, and whether the reader gave up (a timeout): then no further
 * call is made, and the descriptor is closed once the call in flight returns.
 */
interface OpenFile {
  fd: number;
  busy: Promise<unknown>;
  done: boolean;
}
function track<T>(f: OpenFile, call: (fd: number) => Promise<T>): Promise<T> {
  if (f.done) return Promise.reject(new LocalReadError('ETIMEDOUT', 'was not read in time (ETIMEDOUT)'));
  const p = call(f.fd);
  f.busy = p.catch(() => {});
  return p;
}

async function readOpen(f: OpenFile, maxBytes: number): Promise<Buffer> {
  const s = await track(f, fstatFd);
  if (!s.isFile()) {
    throw new LocalReadError(s.isDirectory() ? 'EISDIR' : 'ENOTREG', `is ${kindOf(s)}, not a regular file`);
  }
  const tooBig = () => new LocalReadError('ETOOBIG', `is larger than ${formatBytes(maxBytes)}`);
  if (s.size > maxBytes) throw tooBig();
  // Read at most one byte past the cap: the file may grow between the stat and the read.
  let buf = Buffer.alloc(Math.min(maxBytes + 1, s.size + 1));
  let total = 0;
  for (;;) {
    if (total === buf.length) {
      if (buf.length > maxBytes) throw tooBig();
      const grown = Buffer.alloc(Math.min(maxBytes + 1, buf.length * 2));
      buf.copy(grown, 0, 0, total);
      buf = grown;
    }
    const want = buf.length - total;
    const bytesRead = await track(f, (fd) => readFd(fd, buf, total, want));
    total += bytesRead;
    // A regular file reads short only at its end: no second read (one thread-pool round trip) to find it.
    if (bytesRead < want) return buf.subarray(0, total);
  }
}

/**
 * Reads a local regular file, at most `maxBytes`, within `timeoutMs`.
 *
 * @throws LocalReadError when the file is missing or unreadable (its errno code), is not a regular
 * file (`ENOTREG`, `EISDIR`), is larger than the cap (`ETOOBIG`), or is not read in time (`ETIMEDOUT`).
 */
export async function readLocalFile(path: string, options: ReadLocalFileOptions): Promise<Buffer> {
  const limit = deadline(options.timeoutMs ?? LOCAL_FILE_LIMITS.readTimeoutMs);
  // O_NONBLOCK: opening a FIFO without a writer (or a device that would block) returns at once; the type
  // check below then refuses it. O_NOCTTY: never become the controlling terminal. Not on Windows.
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
  let file: OpenFile | undefined;
  const opening = openFd(path, flags);
  try {
    const fd = await Promise.race([opening, limit.promise]);
    file = { fd, busy: Promise.resolve(), done: false };
    return await Promise.race([readOpen(file, options.maxBytes), limit.promise]);
  } catch (err) {
    if (err instanceof LocalReadError) throw err;
    const code = (err as { code?: unknown }).code;
    const c = typeof code === 'string' ? code : 'error';
    throw new LocalReadError(c, describeErrno(c));
  } finally {
    limit.clear();
    // Not awaited: after a timeout the read may be stuck; the descriptor is closed when it returns (so
    // that no call of ours can reach a descriptor number the process reuses meanwhile).
    const closeFd = (fd: number) => close(fd, () => {});
    if (file !== undefined) {
      const f = file;
      f.done = true;
      void f.busy.then(() => closeFd(f.fd));
    } else opening.then(closeFd, () => {});
  }
}

/** Options of {@link readBoundedStream}. */
export interface ReadStreamOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** Longest wait for the next chunk in ms; none when undefined (a terminal, where a person types). */
  idleMs?: number;
}

/**
 * Reads a stream (standard input) to its end, at most `maxBytes`, failing when no data arrives for
 * `idleMs`. The stream is not closed on failure (it is the process's stdin), only no longer read.
 *
 * @throws LocalReadError `ETOOBIG` or `ETIMEDOUT`, or the stream's error code.
 */
export function readBoundedStream(
  stream: NodeJS.ReadableStream,
  options: ReadStreamOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (options.idleMs === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new LocalReadError(
              'ETIMEDOUT',
              `sent no data for ${Math.round(options.idleMs ?? 0) / 1000} s (ETIMEDOUT)`,
            ),
          ),
        options.idleMs,
      );
    };
    const onData = (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      size += b.length;
      if (size > options.maxBytes) {
        finish(new LocalReadError('ETOOBIG', `is larger than ${formatBytes(options.maxBytes)}`));
        return;
      }
      chunks.push(b);
      arm();
    };
    const onEnd = () => finish(undefined);
    const onError = (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      finish(new LocalReadError(typeof code === 'string' ? code : 'error', 'could not be read'));
    };
    const finish = (err: LocalReadError | undefined) => {
      clearTimeout(timer);
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.pause();
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    arm();
    stream.resume();
  });
}
