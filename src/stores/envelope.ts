/**
 * The encrypted envelope that persistent stores (file, PostgreSQL, Redis) keep per key.
 *
 * Layout (binary), format version 2 (what is written now; see docs/stores.md):
 * ```
 * "tw2:" (4 bytes) | key id (4 bytes) | version (8 bytes, big-endian) | IV (12 bytes) | GCM tag (16 bytes) | ciphertext
 * ```
 * The plaintext is the JSON of a {@link StoredEntry} (`v: 1`). Encryption is AES-256-GCM with a random
 * IV per write. The additional authenticated data is the 16-byte header (magic, key id, version) plus
 * the store key, so an entry copied under another key (another profile's file or row) fails to decrypt
 * instead of being served, and the version cannot be changed without the encryption key.
 *
 * The **version** is the write time in ms since the epoch, made strictly greater than any version the
 * process has already seen for that key in that store (a hybrid logical clock), so that a process can
 * refuse an older envelope put back in place of a newer one (a rollback): see {@link RollbackGuard}.
 *
 * Version 1 (`"tw1:" | key id | IV | tag | ciphertext`, AAD = 8-byte header + store key; its version is
 * the entry's `updatedAt`) is still read, and replaced by version 2 at the next write.
 *
 * The key id (a fingerprint of the encryption key, not secret) only lets a wrong key be reported as
 * such rather than as corruption.
 *
 * Decoding never throws: it returns a result saying why an entry is unusable, and the store reports it
 * as a warning and treats it as a miss.
 * @module
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { registerToken } from '../redact.js';
import type { ExpirySource, Token } from '../token.js';
import type { CacheEncryptionKey } from './keys.js';
import type { LastError, StoredEntry } from './types.js';

/** The 4-byte magic that starts every envelope written now (format version 2). */
export const ENVELOPE_MAGIC = Buffer.from('tw2:', 'latin1');
/** The 4-byte magic of format version 1 envelopes (still read; rewritten as version 2). */
export const ENVELOPE_MAGIC_V1 = Buffer.from('tw1:', 'latin1');
const MAGIC_LEN = 4;
const KEY_ID_LEN = 4;
const VERSION_LEN = 8;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_V1_LEN = MAGIC_LEN + KEY_ID_LEN;
const HEADER_LEN = MAGIC_LEN + KEY_ID_LEN + VERSION_LEN;
/** The smallest possible (version 2) envelope (empty ciphertext). */
export const ENVELOPE_MIN_LENGTH = HEADER_LEN + IV_LEN + TAG_LEN;
const ENVELOPE_V1_MIN_LENGTH = HEADER_V1_LEN + IV_LEN + TAG_LEN;

/** Why an envelope could not be used. `rollback`: older than one already seen (see {@link RollbackGuard}). */
export type DecodeFailure = 'not-envelope' | 'wrong-key' | 'corrupt' | 'invalid' | 'rollback';

/** The result of {@link decodeEntry}. */
export type DecodeResult =
  | {
      ok: true;
      entry: StoredEntry;
      /** The envelope's authenticated version (version 1 envelopes: the entry's `updatedAt`). */
      version: number;
      /** The envelope format: 1 (`tw1:`, rewritten at the next write) or 2. */
      format: 1 | 2;
    }
  | { ok: false; reason: DecodeFailure; message: string };

/** Options of {@link encodeEntry} and {@link decodeEntry}. */
export interface EnvelopeOptions {
  /**
   * The store's identity for rollback protection (kind and location, no secret, e.g.
   * `file:/home/me/.cache/tokenward/tokens`). With it, {@link encodeEntry} gives the envelope a version
   * above every version this process has seen for the key in that store, and {@link decodeEntry}
   * refuses (`reason: 'rollback'`) an envelope older than one this process has already seen there.
   * Without it, no rollback check is made.
   */
  scope?: string;
}

/**
 * How much older than the newest version seen an envelope may be before it counts as a rollback (ms).
 * Writers that race without the lock (or hosts whose clocks differ slightly) can land versions a few
 * ms out of order; a put-back copy worth anything to an attacker is older than this.
 */
export const ROLLBACK_TOLERANCE_MS = 1_000;

/**
 * Remembers, per store scope, encryption key and store key, the newest envelope version this process
 * has read or written, and refuses ones more than {@link ROLLBACK_TOLERANCE_MS} older. Process-wide:
 * every store instance of one scope shares it. Keys passed here are `<key id>:<store key>` (an entry
 * written with another encryption key is another lineage: going back to an old key's entries is a
 * recovery, not a rollback an attacker without that key could make).
 */
export class RollbackGuard {
  readonly #seen = new Map<string, number>();

  /** The newest version seen for `key`, if any. */
  seen(key: string): number | undefined {
    return this.#seen.get(key);
  }

  /** The version to write for `key`: `updatedAt` (whole ms), but above every version seen. */
  next(key: string, updatedAt: number): number {
    const base = Number.isFinite(updatedAt) ? Math.max(0, Math.floor(updatedAt)) : Date.now();
    const seen = this.#seen.get(key);
    return Math.min(Number.MAX_SAFE_INTEGER, seen === undefined ? base : Math.max(base, seen + 1));
  }

  /** Records `version` as seen for `key` (keeps the newest). */
  note(key: string, version: number): void {
    const seen = this.#seen.get(key);
    if (seen === undefined || version > seen) this.#seen.set(key, version);
  }

  /** True when `version` is older than one already seen for `key`, beyond the tolerance (a rollback). */
  isRollback(key: string, version: number): boolean {
    const seen = this.#seen.get(key);
    return seen !== undefined && version < seen - ROLLBACK_TOLERANCE_MS;
  }
}

const guards = new Map<string, RollbackGuard>();

/** The process-wide {@link RollbackGuard} of a store scope (see {@link EnvelopeOptions.scope}). */
export function rollbackGuard(scope: string): RollbackGuard {
  let g = guards.get(scope);
  if (g === undefined) {
    g = new RollbackGuard();
    guards.set(scope, g);
  }
  return g;
}

/**
 * The authenticated version in an envelope's header (version 2), or `undefined` for anything else.
 * Not verified: only trust it from bytes this process has just encoded or decoded.
 */
export function envelopeVersion(bytes: Buffer): number | undefined {
  if (bytes.length < ENVELOPE_MIN_LENGTH || !bytes.subarray(0, MAGIC_LEN).equals(ENVELOPE_MAGIC))
    return undefined;
  return Number(bytes.readBigUInt64BE(MAGIC_LEN + KEY_ID_LEN));
}

/**
 * Records that `bytes` (an envelope this process encoded for `storeKey`) was written to the store of
 * `scope`, so an older envelope read there later is refused as a rollback. Call it after the write
 * succeeded.
 */
export function noteWritten(scope: string, storeKey: string, bytes: Buffer): void {
  const v = envelopeVersion(bytes);
  const id = bytes.subarray(MAGIC_LEN, MAGIC_LEN + KEY_ID_LEN).toString('hex');
  if (v !== undefined) rollbackGuard(scope).note(guardKey(id, storeKey), v);
}

/** The {@link RollbackGuard} key of an entry: encryption key id and store key. */
function guardKey(keyId: string, storeKey: string): string {
  return `${keyId}:${storeKey}`;
}

/**
 * Serialises and encrypts an entry (format version 2). The entry's own `key` is the store key bound
 * into the envelope.
 * @param entry - What to store.
 * @param key - The encryption key.
 * @param options - `scope` for rollback protection (see {@link EnvelopeOptions}).
 */
export function encodeEntry(
  entry: StoredEntry,
  key: CacheEncryptionKey,
  options: EnvelopeOptions = {},
): Buffer {
  const plain = Buffer.from(JSON.stringify(entry), 'utf8');
  try {
    return sealBytes(plain, entry.key, entry.updatedAt, key, options);
  } finally {
    plain.fill(0);
  }
}

/**
 * Encrypts any plaintext into a format-2 envelope bound to `storeKey` (the layout of the module
 * documentation; {@link encodeEntry} is this over a {@link StoredEntry}'s JSON). The version is
 * `updatedAt`, raised above every version seen for the key in `options.scope`.
 * @param plain - The bytes to encrypt (not changed).
 * @param storeKey - The key the envelope is stored under, bound into the authenticated data.
 * @param updatedAt - The write time, ms since the epoch.
 * @param key - The encryption key.
 * @param options - `scope` for rollback protection (see {@link EnvelopeOptions}).
 */
export function sealBytes(
  plain: Buffer,
  storeKey: string,
  updatedAt: number,
  key: CacheEncryptionKey,
  options: EnvelopeOptions = {},
): Buffer {
  const version =
    options.scope === undefined
      ? new RollbackGuard().next(storeKey, updatedAt)
      : rollbackGuard(options.scope).next(guardKey(key.id, storeKey), updatedAt);
  const ver = Buffer.alloc(VERSION_LEN);
  ver.writeBigUInt64BE(BigInt(version));
  const header = Buffer.concat([ENVELOPE_MAGIC, Buffer.from(key.id, 'hex'), ver]);
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_LEN });
  cipher.setAAD(Buffer.concat([header, Buffer.from(storeKey, 'utf8')]));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), ct]);
}

/** True when `head` (up to 4 bytes) is the start of a known magic. */
function startsLikeMagic(head: Buffer): boolean {
  return (
    ENVELOPE_MAGIC.subarray(0, head.length).equals(head) ||
    ENVELOPE_MAGIC_V1.subarray(0, head.length).equals(head)
  );
}

/** The result of {@link openBytes}. */
export type OpenResult =
  | {
      ok: true;
      /** The decrypted bytes (the caller should zero them once used). */
      plain: Buffer;
      /** The envelope format: 1 (`tw1:`) or 2. */
      format: 1 | 2;
      /** The authenticated version of a format-2 envelope (format 1 keeps it in the entry). */
      version: number | undefined;
    }
  | { ok: false; reason: DecodeFailure; message: string };

/**
 * Decrypts an envelope (format 2, or 1) stored under `storeKey`, without looking at what it holds and
 * without the rollback check (see {@link checkRollback}). Never throws.
 * @param bytes - The stored bytes.
 * @param storeKey - The key the bytes were stored under (bound into the authenticated data).
 * @param key - The encryption key.
 */
export function openBytes(bytes: Buffer, storeKey: string, key: CacheEncryptionKey): OpenResult {
  const head = bytes.subarray(0, MAGIC_LEN);
  const format: 1 | 2 | undefined = head.equals(ENVELOPE_MAGIC)
    ? 2
    : head.equals(ENVELOPE_MAGIC_V1)
      ? 1
      : undefined;
  const minLength = format === 1 ? ENVELOPE_V1_MIN_LENGTH : ENVELOPE_MIN_LENGTH;
  if (bytes.length > 0 && bytes.length < minLength && startsLikeMagic(head)) {
    return { ok: false, reason: 'corrupt', message: `the entry is truncated (${bytes.length} bytes)` };
  }
  if (format === undefined) {
    return {
      ok: false,
      reason: 'not-envelope',
      message:
        bytes.length === 0 ? 'the entry is empty' : 'the entry is not a tokenward envelope (tw2 or tw1)',
    };
  }
  const headerLen = format === 2 ? HEADER_LEN : HEADER_V1_LEN;
  const header = bytes.subarray(0, headerLen);
  const storedKeyId = header.subarray(MAGIC_LEN, MAGIC_LEN + KEY_ID_LEN).toString('hex');
  const iv = bytes.subarray(headerLen, headerLen + IV_LEN);
  const tag = bytes.subarray(headerLen + IV_LEN, headerLen + IV_LEN + TAG_LEN);
  const ct = bytes.subarray(headerLen + IV_LEN + TAG_LEN);
  if (storedKeyId !== key.id) {
    return {
      ok: false,
      reason: 'wrong-key',
      message: `the entry was encrypted with another key (key id ${storedKeyId}, ours ${key.id}); every process sharing a store needs the same TOKENWARD_CACHE_KEY or key file`,
    };
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_LEN });
    decipher.setAAD(Buffer.concat([header, Buffer.from(storeKey, 'utf8')]));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(ct), decipher.final()]);
    const version = format === 2 ? Number(header.readBigUInt64BE(MAGIC_LEN + KEY_ID_LEN)) : undefined;
    return { ok: true, plain, format, version };
  } catch {
    return {
      ok: false,
      reason: 'corrupt',
      message: 'the entry failed authentication (corrupted, truncated, or stored under another key)',
    };
  }
}

/**
 * The rollback check of a decrypted envelope: refuses (returns a failure) a `version` more than
 * {@link ROLLBACK_TOLERANCE_MS} older than one this process has seen for the key in `scope`, else
 * remembers it and returns `undefined`. Without a scope, nothing is checked.
 */
export function checkRollback(
  scope: string | undefined,
  key: CacheEncryptionKey,
  storeKey: string,
  version: number,
): { ok: false; reason: 'rollback'; message: string } | undefined {
  if (scope === undefined) return undefined;
  const guard = rollbackGuard(scope);
  const gk = guardKey(key.id, storeKey);
  if (guard.isRollback(gk, version)) {
    return {
      ok: false,
      reason: 'rollback',
      message: `the entry (version ${version}, written ${isoTime(version)}) is older than one this process already read or wrote there (version ${guard.seen(gk)}, ${isoTime(guard.seen(gk) ?? 0)}): an older copy was put back (a rollback)`,
    };
  }
  guard.note(gk, version);
  return undefined;
}

/**
 * Decrypts and validates an envelope (format 2, or 1) stored under `storeKey`. Never throws.
 * @param bytes - The stored bytes.
 * @param storeKey - The key the bytes were stored under (file name, row key, Redis key suffix).
 * @param key - The encryption key.
 * @param options - `scope` for rollback protection (see {@link EnvelopeOptions}): an envelope older than
 *   one this process has seen for the key there is refused (`reason: 'rollback'`); a newer one is
 *   remembered.
 */
export function decodeEntry(
  bytes: Buffer,
  storeKey: string,
  key: CacheEncryptionKey,
  options: EnvelopeOptions = {},
): DecodeResult {
  const opened = openBytes(bytes, storeKey, key);
  if (!opened.ok) return opened;
  let parsed: unknown;
  try {
    parsed = JSON.parse(opened.plain.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid', message: 'the decrypted entry is not JSON' };
  } finally {
    opened.plain.fill(0);
  }
  const problem = validateEntry(parsed, storeKey);
  if (problem !== undefined) return { ok: false, reason: 'invalid', message: problem };
  const entry = parsed as StoredEntry;
  const version = opened.version ?? Math.floor(entry.updatedAt);
  const rolledBack = checkRollback(options.scope, key, storeKey, version);
  if (rolledBack !== undefined) return rolledBack;
  const t = entry.token;
  if (t !== undefined) {
    registerToken(t.accessToken);
    registerToken(t.refreshToken);
    registerToken(t.idToken);
  }
  return { ok: true, entry, version, format: opened.format };
}

/** Keys whose decryption path {@link warmEnvelope} has run. */
const warmed = new WeakSet<CacheEncryptionKey>();
/** The store key of the throwaway envelope of {@link warmEnvelope} (not a valid store key: never stored). */
const WARM_KEY = 'tokenward warm-up';

/**
 * Runs the path of a read once, on a throwaway envelope sealed with `key` — the cipher's first use in
 * the process, JSON, the entry's checks — so that a lock waiter pays that one-time cost while it waits,
 * not after it is woken, when a herd's waiters all want a core at once. Once per key; touches no store,
 * no rollback state and no redaction registry. Never throws.
 */
export function warmEnvelope(key: CacheEncryptionKey): void {
  if (warmed.has(key)) return;
  warmed.add(key);
  try {
    const token = {
      accessToken: 'warm-up',
      tokenType: 'Bearer',
      expiresAt: 0,
      obtainedAt: 0,
      expirySource: 'default',
    };
    const plain = Buffer.from(JSON.stringify({ v: 1, key: WARM_KEY, updatedAt: 0, token }), 'utf8');
    // No scope: a throwaway rollback guard, not the process's.
    const opened = openBytes(sealBytes(plain, WARM_KEY, 0, key), WARM_KEY, key);
    if (opened.ok) {
      validateEntry(JSON.parse(opened.plain.toString('utf8')), WARM_KEY);
      opened.plain.fill(0);
    }
  } catch {
    // Only a warm-up.
  }
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

const EXPIRY_SOURCES: ReadonlySet<ExpirySource> = new Set(['expires_in', 'expires_on', 'jwt_exp', 'default']);

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}
function optType(o: Record<string, unknown>, k: string, t: 'string' | 'number'): boolean {
  const v = o[k];
  return v === undefined || (t === 'number' ? isNum(v) : typeof v === 'string');
}

/**
 * Checks that a decrypted value is a version-1 {@link StoredEntry} stored under `storeKey`.
 * Returns a description of the first problem, or `undefined` when it is valid. A missing `raw` is
 * filled with `{}` (it is informational).
 */
export function validateEntry(x: unknown, storeKey: string): string | undefined {
  if (!isObj(x)) return 'the entry is not an object';
  if (x['v'] !== 1) return `unsupported entry version ${JSON.stringify(x['v'])} (expected 1)`;
  if (x['key'] !== storeKey) return 'the entry belongs to another key';
  if (!isNum(x['updatedAt'])) return 'the entry has no numeric updatedAt';
  if (!optType(x, 'profile', 'string')) return 'the entry profile is not a string';
  const id = x['identity'];
  if (id !== undefined) {
    if (!isObj(id)) return 'the entry identity is not an object';
    for (const v of Object.values(id))
      if (v !== undefined && typeof v !== 'string') return 'bad identity value';
  }
  const le = x['lastError'];
  if (le !== undefined) {
    if (
      !isObj(le) ||
      typeof le['code'] !== 'string' ||
      typeof le['message'] !== 'string' ||
      !isNum(le['at'])
    ) {
      return 'the entry lastError is malformed';
    }
  }
  const dk = x['dpopKey'];
  if (dk !== undefined) {
    if (!isObj(dk) || typeof dk['alg'] !== 'string' || !isObj(dk['jwk']) || !isNum(dk['createdAt']))
      return 'the entry dpopKey is malformed';
  }
  const t = x['token'];
  if (t !== undefined) {
    if (!isObj(t)) return 'the entry token is not an object';
    if (typeof t['accessToken'] !== 'string' || t['accessToken'] === '')
      return 'the token has no accessToken';
    if (typeof t['tokenType'] !== 'string') return 'the token has no tokenType';
    if (!isNum(t['expiresAt'])) return 'the token has no numeric expiresAt';
    if (!isNum(t['obtainedAt'])) return 'the token has no numeric obtainedAt';
    if (!EXPIRY_SOURCES.has(t['expirySource'] as ExpirySource)) return 'the token has a bad expirySource';
    if (!optType(t, 'refreshToken', 'string') || t['refreshToken'] === '')
      return 'the token refreshToken is bad';
    if (!optType(t, 'refreshExpiresAt', 'number')) return 'the token refreshExpiresAt is bad';
    if (!optType(t, 'scope', 'string')) return 'the token scope is bad';
    if (!optType(t, 'idToken', 'string')) return 'the token idToken is bad';
    if (t['raw'] === undefined) t['raw'] = {};
    else if (!isObj(t['raw'])) return 'the token raw response is not an object';
  }
  return undefined;
}

/** How long a stored DPoP key is kept after it was written (store TTLs), ms: 365 days. */
export const DPOP_KEY_RETENTION_MS = 365 * 24 * 3_600_000;

/** The latest time, ms since the epoch, at which an entry is still worth keeping (for store TTLs). */
export function entryKeepUntil(
  entry: StoredEntry,
  options: { refreshRetentionMs: number; errorRetentionMs: number; now: number },
): number {
  let until = 0;
  const t: Token | undefined = entry.token;
  if (t !== undefined) {
    until = t.expiresAt;
    if (t.refreshToken !== undefined) {
      until = Math.max(
        until,
        t.refreshExpiresAt ?? Math.max(t.expiresAt, options.now) + options.refreshRetentionMs,
      );
    }
  }
  const le: LastError | undefined = entry.lastError;
  if (le !== undefined) until = Math.max(until, le.at + options.errorRetentionMs);
  // A DPoP key outlives the tokens bound to it: kept for a year after it was written.
  if (entry.dpopKey !== undefined) until = Math.max(until, entry.updatedAt + DPOP_KEY_RETENTION_MS);
  return until;
}
