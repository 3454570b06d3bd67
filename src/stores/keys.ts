/**
 * Key material for encrypting cached tokens at rest (AES-256-GCM, 32-byte keys).
 *
 * Where the key comes from, first match wins:
 * 1. `TOKENWARD_CACHE_KEY` (surrounding white space ignored; empty means unset):
 *    - 64 hex digits, or the base64 / base64url of exactly 32 bytes (`openssl rand -base64 32`): the key
 *      itself;
 *    - `passphrase:` followed by at least 16 characters: stretched with scrypt (N=2^15, r=8, p=1, fixed
 *      salt `tokenward-cache-key-v1`; ~0.1 s once per process). A random key avoids that cost.
 *
 *    Anything else is a `ConfigError` saying what is expected — a mistyped key is never silently used
 *    as a passphrase (which would give this process a different key from the rest of the fleet).
 * 2. A key file, `cache.key` under the config directory (`TOKENWARD_CONFIG_DIR`, else the platform's
 *    config dir, `~/.config/tokenward` on Linux), holding the key in base64. It is created on first use
 *    with mode 0600; two processes racing to create it end up with the same key (the file is written
 *    under a temporary name and hard-linked into place, which fails if it already exists).
 *
 *    The key file and its directory must be the user's own (see `trust.ts`): a key file owned by
 *    another user, open to group/others, reached through a link another user owns, not a regular
 *    file, or larger than 1 KiB is refused with a `StoreError`
 *    (whoever can read or plant it can read or forge cached tokens); so is a key directory owned by
 *    another user or reached through links and directories others can change. An own key directory
 *    open to others is changed to 0700 (with a warning when it already held the key file).
 *
 * The OS keyring is not used (no maintained, dependency-free binding); a key can be fed from one through
 * `TOKENWARD_CACHE_KEY`. Every process sharing a store (one host or a fleet) must use the same key.
 * @module
 */

import { createHash, randomBytes, scrypt } from 'node:crypto';
// `fs.promises` is read on first use (only when a key file is made): see stores/file.ts.
import { promises as fsp, lstatSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { ConfigError, StoreError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { readPrivateFile, securePrivateDir, type TrustFailure } from './trust.js';
import { onceUntilRejected, type StoreWarningHandler } from './util.js';

/** The largest key file read, in bytes (a key is 45 bytes of base64; 64 of hex). */
const MAX_KEY_FILE_BYTES = 1024;

const keyFailure: TrustFailure = (message, target, cause) =>
  new StoreError('file', message, cause === undefined ? { target } : { target, cause });

/** Length of an encryption key in bytes (AES-256). */
export const KEY_LENGTH = 32;

/** The key file's name inside the config directory. */
export const KEY_FILE_NAME = 'cache.key';

/** Where a key came from. */
export type CacheKeySource = 'env' | 'env-passphrase' | 'file' | 'option';

/** A resolved encryption key. */
export interface CacheEncryptionKey {
  /** The 32 key bytes. Secret. */
  readonly key: Buffer;
  /** Where it came from. */
  readonly source: CacheKeySource;
  /** The key file, when `source` is `file`. */
  readonly path?: string;
  /** A short, non-secret fingerprint (8 hex digits) to tell keys apart in messages. */
  readonly id: string;
}

/** Options of {@link resolveCacheKey}. */
export interface ResolveKeyOptions {
  /** Environment to read `TOKENWARD_CACHE_KEY` and `TOKENWARD_CONFIG_DIR` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The directory of the key file. Default: `TOKENWARD_CONFIG_DIR`, else the platform's config dir. */
  configDir?: string;
  /** Receives non-fatal problems (a key directory that was open to others and was made private). */
  onWarning?: (message: string) => void;
}

const SCRYPT_SALT = 'tokenward-cache-key-v1';

/** The environment variable that holds the cache encryption key. */
export const CACHE_KEY_ENV = 'TOKENWARD_CACHE_KEY';

/** The prefix that marks a `TOKENWARD_CACHE_KEY` value as a passphrase. */
export const PASSPHRASE_PREFIX = 'passphrase:';

/** The shortest passphrase accepted after {@link PASSPHRASE_PREFIX}, in characters. */
export const MIN_PASSPHRASE_LENGTH = 16;

/** What a `TOKENWARD_CACHE_KEY` value holds: the key itself, or a passphrase to stretch. */
export type CacheKeyText = { kind: 'raw'; key: Buffer } | { kind: 'passphrase'; passphrase: string };

const EXPECTED = `expected 64 hex digits or the base64/base64url of 32 bytes (make one with: openssl rand -base64 32), or "${PASSPHRASE_PREFIX}" followed by at least ${MIN_PASSPHRASE_LENGTH} characters`;

const memo = new Map<string, Promise<CacheEncryptionKey>>();

/** The non-secret fingerprint of a key: the first 8 hex digits of SHA-256 over a label and the key. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('tokenward key id\0').update(key).digest('hex').slice(0, 8);
}

/** The directory that holds the key file by default. */
export function defaultKeyDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['TOKENWARD_CONFIG_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return envPaths('tokenward', { suffix: '' }).config;
}

/**
 * Decodes `TOKENWARD_CACHE_KEY`-style text into raw key bytes: 64 hex digits, or base64/base64url of
 * exactly 32 bytes. Returns `undefined` for anything else (which is then treated as a passphrase).
 */
export function decodeRawKey(text: string): Buffer | undefined {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(s)) {
    const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === KEY_LENGTH) return b;
  }
  return undefined;
}

/**
 * Parses a `TOKENWARD_CACHE_KEY` value (see the module documentation for the formats). The message of
 * the error never contains the value, only its length and what was expected.
 * @throws {ConfigError} for a value that is neither a 32-byte key nor a long enough passphrase.
 */
export function parseCacheKeyText(text: string): CacheKeyText {
  const s = text.trim();
  if (s.startsWith(PASSPHRASE_PREFIX)) {
    const passphrase = s.slice(PASSPHRASE_PREFIX.length);
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new ConfigError(`the passphrase is too short (${passphrase.length} characters); ${EXPECTED}`, {
        key: CACHE_KEY_ENV,
      });
    }
    return { kind: 'passphrase', passphrase };
  }
  const key = decodeRawKey(s);
  if (key !== undefined) return { kind: 'raw', key };
  let hint = `${s.length} characters`;
  if (/^[0-9a-fA-F]+$/.test(s)) hint = `${s.length} hex digits, not 64`;
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const bytes = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').length;
    hint = `base64 of ${bytes} bytes, not 32`;
  }
  throw new ConfigError(`not a usable cache key (${hint}); ${EXPECTED}`, { key: CACHE_KEY_ENV });
}

/**
 * Checks `TOKENWARD_CACHE_KEY` in `env`, if set, without deriving anything, so that a bad value fails
 * when a store is created rather than on first use.
 * @throws {ConfigError} as {@link parseCacheKeyText}.
 */
export function checkCacheKeyEnv(env: NodeJS.ProcessEnv = process.env): void {
  const v = env[CACHE_KEY_ENV];
  if (v !== undefined && v.trim() !== '') {
    registerKeyText(v);
    parseCacheKeyText(v);
  }
}

/** Registers a `TOKENWARD_CACHE_KEY` value as a secret (but not a bare prefix, which is not one). */
function registerKeyText(v: string): void {
  for (const x of [v, v.trim()]) if (x.trim() !== PASSPHRASE_PREFIX) registerSecret(x);
}

function fromPassphrase(passphrase: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase,
      SCRYPT_SALT,
      KEY_LENGTH,
      { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

function made(key: Buffer, source: CacheKeySource, path?: string): CacheEncryptionKey {
  const k: CacheEncryptionKey = { key, source, id: keyId(key) };
  return path === undefined ? k : { ...k, path };
}

/** Wraps 32 caller-supplied bytes as a key (for the stores' `key` option). */
export function keyFromBytes(key: Buffer): CacheEncryptionKey {
  if (key.length !== KEY_LENGTH) {
    throw new StoreError('file', `the cache encryption key must be ${KEY_LENGTH} bytes, got ${key.length}`);
  }
  return made(Buffer.from(key), 'option');
}

/**
 * Resolves the cache encryption key (see the module documentation for the order). The result is
 * memoised per process and source, so the key file is read and a passphrase stretched once.
 * @throws {ConfigError} (rejects) for a malformed `TOKENWARD_CACHE_KEY`.
 * @throws {StoreError} (rejects) when the key file can be neither read nor created.
 */
export function resolveCacheKey(options: ResolveKeyOptions = {}): Promise<CacheEncryptionKey> {
  const env = options.env ?? process.env;
  const fromEnv = env[CACHE_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    registerKeyText(fromEnv);
    const memoKey = `env\0${fromEnv}`;
    let p = memo.get(memoKey);
    if (p === undefined) {
      let parsed: CacheKeyText;
      try {
        parsed = parseCacheKeyText(fromEnv);
      } catch (err) {
        return Promise.reject(err);
      }
      if (parsed.kind === 'passphrase') registerSecret(parsed.passphrase);
      p =
        parsed.kind === 'raw'
          ? Promise.resolve(made(parsed.key, 'env'))
          : fromPassphrase(parsed.passphrase).then((k) => made(k, 'env-passphrase'));
      p.catch(() => memo.delete(memoKey));
      memo.set(memoKey, p);
    }
    return p;
  }
  const dir = options.configDir ?? defaultKeyDir(env);
  const path = join(dir, KEY_FILE_NAME);
  const memoKey = `file\0${path}`;
  let p = memo.get(memoKey);
  if (p === undefined) {
    p = loadOrCreateKeyFile(dir, path, options.onWarning);
    p.catch(() => memo.delete(memoKey));
    memo.set(memoKey, p);
  }
  return p;
}

async function readKeyFile(path: string): Promise<CacheEncryptionKey> {
  const bytes = await readPrivateFile(path, {
    what: 'the key file',
    maxBytes: MAX_KEY_FILE_BYTES,
    fail: keyFailure,
  });
  const key = decodeRawKey(bytes.toString('utf8'));
  bytes.fill(0);
  if (key === undefined) {
    throw new StoreError(
      'file',
      `the key file ${path} does not hold a 32-byte key (base64 or hex); restore it, or delete it to start a new cache (cached tokens are then lost)`,
      { target: path },
    );
  }
  return made(key, 'file', path);
}

async function loadOrCreateKeyFile(
  dir: string,
  path: string,
  onWarning?: (m: string) => void,
): Promise<CacheEncryptionKey> {
  // The directory first: a key file is only as safe as the directory it is in. Making an own directory
  // private is worth a warning only when a key was already in it (else nothing was exposed).
  // Synchronous, as the checks of stores/trust.ts: a metadata lookup costs less than a thread-pool trip.
  let hadKey: boolean;
  try {
    hadKey = lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    hadKey = false;
  }
  const checked = await securePrivateDir(dir, {
    what: 'the key directory',
    create: true,
    tighten: true,
    ...(onWarning === undefined || !hadKey ? {} : { onWarning }),
    fail: keyFailure,
  });
  const real = checked === undefined ? path : join(checked, KEY_FILE_NAME);
  try {
    return await readKeyFile(real);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapKeyError(err, path);
  }
  try {
    const key = randomBytes(KEY_LENGTH);
    const tmp = join(dir, `.${KEY_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${key.toString('base64')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.chmod(tmp, 0o600);
      // link() fails with EEXIST when another process created the key first: then its key wins.
      await fsp.link(tmp, path);
      return made(key, 'file', path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return await readKeyFile(real);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') {
        // No hard links here (some network or FAT file systems): exclusive create, then read back.
        return await createExclusive(path, key);
      }
      throw err;
    } finally {
      await fsp.unlink(tmp).catch(() => {});
    }
  } catch (err) {
    throw wrapKeyError(err, path);
  }
}

async function createExclusive(path: string, key: Buffer): Promise<CacheEncryptionKey> {
  try {
    const fh = await fsp.open(path, 'wx', 0o600);
    try {
      await fh.writeFile(`${key.toString('base64')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return made(key, 'file', path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Another process is writing it: wait briefly for the content.
  for (let i = 0; i < 50; i++) {
    try {
      return await readKeyFile(path);
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return readKeyFile(path);
}

function wrapKeyError(err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return new StoreError(
    'file',
    `cannot read or create the cache key file ${path}${code ? ` (${code})` : ''}; set TOKENWARD_CACHE_KEY or TOKENWARD_CONFIG_DIR`,
    { target: path, cause: err },
  );
}

/** For tests: forgets memoised keys. */
export function clearKeyCache(): void {
  memo.clear();
}

/**
 * The encryption key of a store, resolved on first use and shared by its operations: the given bytes,
 * else `TOKENWARD_CACHE_KEY` (checked now, so a malformed value fails when the store is created), else
 * the key file. A failure to resolve it is not remembered.
 */
export function storeKeyResolver(
  key: Buffer | undefined,
  env: NodeJS.ProcessEnv,
  onWarning: StoreWarningHandler,
): () => Promise<CacheEncryptionKey> {
  if (key !== undefined) {
    const fixed = Promise.resolve(keyFromBytes(key));
    return () => fixed;
  }
  checkCacheKeyEnv(env);
  return onceUntilRejected(() => resolveCacheKey({ env, onWarning }));
}
