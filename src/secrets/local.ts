/**
 * The local secret store: for machines where no OS keyring answers (servers, containers, CI). One
 * encrypted file per secret, `<NAME>.secret`, in `secrets/` under the config directory
 * (`TOKENWARD_CONFIG_DIR`, else the platform's, `~/.config/tokenward` on Linux).
 *
 * - Each file is the token cache's envelope (`stores/envelope.ts`: AES-256-GCM, random IV, format 2)
 *   with the same key (`stores/keys.ts`: `TOKENWARD_CACHE_KEY`, else the key file `cache.key` beside
 *   it). The store key `secret:NAME` is bound into the authenticated data, so a file renamed or copied
 *   to another name does not decrypt.
 * - The directory is created 0700 and checked as the file store's (`stores/trust.ts`): owned by the
 *   user, reached only through links and directories nobody else can change. A file must be a regular
 *   file of the user's, mode without group/other bits, at most 1 MiB; it is replaced atomically (a
 *   temporary file created 0600 with O_EXCL, fsync, rename, directory fsync).
 * - A file that fails authentication (changed, truncated), was encrypted with another key, or is older
 *   than one this process already read (rolled back) is refused with a {@link StoreError} that says so;
 *   it is never taken for a missing secret.
 *
 * What it protects against: a copy of the directory (a backup, an image) without the key. With the key
 * file in the same directory, it is as private as the user's files; set `TOKENWARD_CACHE_KEY` from
 * elsewhere (a CI secret, a KMS) to keep the key apart.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { checkRollback, openBytes, sealBytes } from '../stores/envelope.js';
import { type CacheEncryptionKey, defaultKeyDir, storeKeyResolver } from '../stores/keys.js';
import {
  readPrivateFile,
  securePrivateDir,
  syncDir,
  type TrustFailure,
  writePrivateFileAtomic,
} from '../stores/trust.js';
import { errnoCode, onceUntilRejected, type StoreWarningHandler, safeWarn } from '../stores/util.js';

/** The `store` of the {@link StoreError}s of the local secret store. */
export const LOCAL_SECRET_STORE = 'local secret store';

/** A secret's name: a letter or digit, then up to 127 letters, digits, `_`, `.` or `-`. */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The largest secret value accepted, in bytes (a PEM or JWK private key is a few KiB). */
export const MAX_SECRET_BYTES = 64 * 1024;

/** The largest secret file read, in bytes (the value JSON-escaped, in an envelope). */
const MAX_FILE_BYTES = 1024 * 1024;

const SUFFIX = '.secret';

/** The default directory of the local secret store: `secrets` in the config directory. */
export function defaultSecretDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultKeyDir(env), 'secrets');
}

/** Options of {@link LocalSecretStore}. */
export interface LocalSecretStoreOptions {
  /** The directory. Default {@link defaultSecretDir}. */
  dir?: string;
  /** The 32-byte encryption key. Default: as the token cache (`TOKENWARD_CACHE_KEY`, else the key file). */
  key?: Buffer;
  /** Environment for `TOKENWARD_CONFIG_DIR` and `TOKENWARD_CACHE_KEY`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Receives non-fatal problems (a directory that was open to others and was made private). */
  onWarning?: StoreWarningHandler;
}

const fail: TrustFailure = (message, target, cause) =>
  new StoreError(LOCAL_SECRET_STORE, message, cause === undefined ? { target } : { target, cause });

/** What a secret file holds, decrypted. */
interface SecretRecord {
  v: 1;
  value: string;
  updatedAt: number;
}

function isRecord(x: unknown): x is SecretRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return r['v'] === 1 && typeof r['value'] === 'string' && typeof r['updatedAt'] === 'number';
}

/**
 * Checks a secret name (see {@link SECRET_NAME}).
 * @throws {StoreError} naming the rule.
 */
export function assertSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new StoreError(
      LOCAL_SECRET_STORE,
      `"${name.slice(0, 64)}" is not a secret name: use a letter or digit, then up to 127 letters, digits, "_", "." or "-"`,
    );
  }
}

/** The local, encrypted secret store (see the module documentation). */
export class LocalSecretStore {
  /** The directory holding the files. */
  readonly dir: string;
  readonly #encKey: () => Promise<CacheEncryptionKey>;
  readonly #ensureDir: () => Promise<string>;
  readonly #warn: StoreWarningHandler;

  constructor(options: LocalSecretStoreOptions = {}) {
    const env = options.env ?? process.env;
    this.dir = options.dir ?? defaultSecretDir(env);
    this.#warn = safeWarn(options.onWarning);
    this.#encKey = storeKeyResolver(options.key, env, this.#warn);
    this.#ensureDir = onceUntilRejected(async () => {
      const real = await securePrivateDir(this.dir, {
        what: 'the secret store directory',
        create: true,
        tighten: true,
        onWarning: this.#warn,
        fail,
      });
      return real ?? this.dir;
    });
  }

  /** The path of the file that holds `name`. */
  pathOf(name: string): string {
    assertSecretName(name);
    return join(this.dir, `${name}${SUFFIX}`);
  }

  /** The rollback scope of this store (see `stores/envelope.ts`). */
  #scope(dir: string): string {
    return `secrets:${dir}`;
  }

  /**
   * The secret `name`, or `undefined` when there is none. Registers it for redaction.
   * @throws {StoreError} for a file that is unsafe, tampered with, encrypted with another key or rolled back.
   */
  async get(name: string): Promise<string | undefined> {
    assertSecretName(name);
    const dir = await this.#ensureDir();
    const path = join(dir, `${name}${SUFFIX}`);
    let bytes: Buffer;
    try {
      bytes = await readPrivateFile(path, {
        what: 'the secret file',
        maxBytes: MAX_FILE_BYTES,
        fail,
        walk: false,
      });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const key = await this.#encKey();
    const storeKey = `secret:${name}`;
    const opened = openBytes(bytes, storeKey, key);
    const refuse = (why: string) =>
      new StoreError(
        LOCAL_SECRET_STORE,
        `the secret "${name}" (${path}) cannot be used: ${why}; set it again with: tokenward secret set ${name}`,
        { target: path },
      );
    if (!opened.ok) throw refuse(opened.message);
    let record: unknown;
    try {
      record = JSON.parse(opened.plain.toString('utf8'));
    } catch {
      record = undefined;
    } finally {
      opened.plain.fill(0);
    }
    if (!isRecord(record) || opened.version === undefined) throw refuse('it does not hold a secret');
    const rolledBack = checkRollback(this.#scope(dir), key, storeKey, opened.version);
    if (rolledBack !== undefined) throw refuse(rolledBack.message);
    registerSecret(record.value);
    return record.value;
  }

  /**
   * Stores `value` as the secret `name` (replacing it), atomically, mode 0600.
   * @throws {StoreError} for a bad name, an empty or too large value, or a failed write.
   */
  async set(name: string, value: string): Promise<void> {
    assertSecretName(name);
    const size = Buffer.byteLength(value, 'utf8');
    if (size === 0) throw new StoreError(LOCAL_SECRET_STORE, `the secret "${name}" is empty`);
    if (size > MAX_SECRET_BYTES) {
      throw new StoreError(
        LOCAL_SECRET_STORE,
        `the secret "${name}" is larger than ${MAX_SECRET_BYTES} bytes`,
      );
    }
    registerSecret(value);
    const dir = await this.#ensureDir();
    const key = await this.#encKey();
    const plain = Buffer.from(JSON.stringify({ v: 1, value, updatedAt: Date.now() } satisfies SecretRecord));
    const bytes = sealBytes(plain, `secret:${name}`, Date.now(), key, { scope: this.#scope(dir) });
    plain.fill(0);
    const path = join(dir, `${name}${SUFFIX}`);
    const tmp = join(dir, `.${name}${SUFFIX}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writePrivateFileAtomic(path, tmp, bytes);
    } catch (err) {
      throw new StoreError(
        LOCAL_SECRET_STORE,
        `cannot write the secret "${name}" to ${path} (${errnoCode(err) ?? 'error'})`,
        { target: path, cause: err },
      );
    }
  }

  /** Deletes the secret `name`; false when there was none. */
  async delete(name: string): Promise<boolean> {
    assertSecretName(name);
    const dir = await this.#ensureDir();
    const path = join(dir, `${name}${SUFFIX}`);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw new StoreError(LOCAL_SECRET_STORE, `cannot delete ${path} (${errnoCode(err) ?? 'error'})`, {
        target: path,
        cause: err,
      });
    }
    await syncDir(dir);
    return true;
  }

  /** The names of the stored secrets, sorted. Nothing is decrypted. */
  async list(): Promise<string[]> {
    const dir = await this.#ensureDir();
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      throw new StoreError(LOCAL_SECRET_STORE, `cannot list ${dir} (${errnoCode(err) ?? 'error'})`, {
        target: dir,
        cause: err,
      });
    }
    return names
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => f.slice(0, -SUFFIX.length))
      .filter((n) => SECRET_NAME.test(n))
      .sort();
  }
}
