/**
 * The encrypted envelope that persistent stores (file, PostgreSQL, Redis) keep per key.
 *
 * Layout (binary):
 * ```
 * "tw1:" (4 bytes) | key id (4 bytes) | IV (12 bytes) | GCM tag (16 bytes) | ciphertext
 * ```
 * The plaintext is the JSON of a {@link StoredEntry} (`v: 1`). Encryption is AES-256-GCM with a random
 * IV per write. The additional authenticated data is the 8-byte header plus the store key, so an entry
 * copied under another key (another profile's file or row) fails to decrypt instead of being served.
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

/** The 4-byte magic that starts every envelope. */
export const ENVELOPE_MAGIC = Buffer.from('tw1:', 'latin1');
const KEY_ID_LEN = 4;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = ENVELOPE_MAGIC.length + KEY_ID_LEN;
/** The smallest possible envelope (empty ciphertext). */
export const ENVELOPE_MIN_LENGTH = HEADER_LEN + IV_LEN + TAG_LEN;

/** Why an envelope could not be used. */
export type DecodeFailure = 'not-envelope' | 'wrong-key' | 'corrupt' | 'invalid';

/** The result of {@link decodeEntry}. */
export type DecodeResult =
  | { ok: true; entry: StoredEntry }
  | { ok: false; reason: DecodeFailure; message: string };

function aad(header: Buffer, storeKey: string): Buffer {
  return Buffer.concat([header, Buffer.from(storeKey, 'utf8')]);
}

/**
 * Serialises and encrypts an entry. The entry's own `key` is the store key bound into the envelope.
 * @param entry - What to store.
 * @param key - The encryption key.
 */
export function encodeEntry(entry: StoredEntry, key: CacheEncryptionKey): Buffer {
  const header = Buffer.concat([ENVELOPE_MAGIC, Buffer.from(key.id, 'hex')]);
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_LEN });
  cipher.setAAD(aad(header, entry.key));
  const plain = Buffer.from(JSON.stringify(entry), 'utf8');
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  return Buffer.concat([header, iv, cipher.getAuthTag(), ct]);
}

/**
 * Decrypts and validates an envelope stored under `storeKey`. Never throws.
 * @param bytes - The stored bytes.
 * @param storeKey - The key the bytes were stored under (file name, row key, Redis key suffix).
 * @param key - The encryption key.
 */
export function decodeEntry(bytes: Buffer, storeKey: string, key: CacheEncryptionKey): DecodeResult {
  const head = bytes.subarray(0, ENVELOPE_MAGIC.length);
  if (
    bytes.length > 0 &&
    bytes.length < ENVELOPE_MIN_LENGTH &&
    ENVELOPE_MAGIC.subarray(0, head.length).equals(head)
  ) {
    return { ok: false, reason: 'corrupt', message: `the entry is truncated (${bytes.length} bytes)` };
  }
  if (bytes.length < ENVELOPE_MIN_LENGTH || !head.equals(ENVELOPE_MAGIC)) {
    return {
      ok: false,
      reason: 'not-envelope',
      message: bytes.length === 0 ? 'the entry is empty' : 'the entry is not a tokenward envelope (tw1)',
    };
  }
  const header = bytes.subarray(0, HEADER_LEN);
  const storedKeyId = header.subarray(ENVELOPE_MAGIC.length).toString('hex');
  const iv = bytes.subarray(HEADER_LEN, HEADER_LEN + IV_LEN);
  const tag = bytes.subarray(HEADER_LEN + IV_LEN, HEADER_LEN + IV_LEN + TAG_LEN);
  const ct = bytes.subarray(HEADER_LEN + IV_LEN + TAG_LEN);
  if (storedKeyId !== key.id) {
    return {
      ok: false,
      reason: 'wrong-key',
      message: `the entry was encrypted with another key (key id ${storedKeyId}, ours ${key.id}); every process sharing a store needs the same TOKENWARD_CACHE_KEY or key file`,
    };
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_LEN });
    decipher.setAAD(aad(header, storeKey));
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    return {
      ok: false,
      reason: 'corrupt',
      message: 'the entry failed authentication (corrupted, truncated, or stored under another key)',
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid', message: 'the decrypted entry is not JSON' };
  } finally {
    plain.fill(0);
  }
  const problem = validateEntry(parsed, storeKey);
  if (problem !== undefined) return { ok: false, reason: 'invalid', message: problem };
  const entry = parsed as StoredEntry;
  const t = entry.token;
  if (t !== undefined) {
    registerToken(t.accessToken);
    registerToken(t.refreshToken);
    registerToken(t.idToken);
  }
  return { ok: true, entry };
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
  return until;
}
