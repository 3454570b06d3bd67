/**
 * The DPoP key pair of a profile identity: generated once with `jose`, kept in the profile's store beside
 * its tokens (an entry of its own, encrypted at rest like every entry of the persistent stores), created
 * under the store's lock so that every process and machine sharing the store uses one key.
 * @module
 */

import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ConfigError, StoreError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { storeKey } from '../stores/store-key.js';
import type { StoredDpopKey, StoredEntry, TokenStore } from '../stores/types.js';
import type { DpopAlgorithm } from './algorithms.js';

/** A usable DPoP key: the private key for signing and the public JWK for the proofs' `jwk` header. */
export interface DpopKeyPair {
  readonly alg: DpopAlgorithm;
  readonly privateKey: CryptoKey;
  /** The public key (no private member), as the `jwk` header of each proof carries it. */
  readonly publicJwk: Readonly<JWK>;
}

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** The public part of a JWK: `kty` and the public members, nothing private, no `alg`/`kid`/`use`. */
export function publicJwkOf(jwk: JWK): JWK {
  const out: JWK = {};
  for (const [k, v] of Object.entries(jwk)) {
    if (PRIVATE_MEMBERS.has(k) || k === 'key_ops' || k === 'ext' || k === 'use' || k === 'alg' || k === 'kid')
      continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Makes a new extractable key pair for `alg` and its stored form. */
export async function generateDpopKey(alg: DpopAlgorithm, now: number): Promise<StoredDpopKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, jwk: { ...(await exportJWK(privateKey)) }, createdAt: now };
}

/**
 * Imports a stored key.
 * @throws ConfigError (key `dpop`) when the stored key is unusable.
 */
export async function importDpopKey(stored: StoredDpopKey, alg: DpopAlgorithm): Promise<DpopKeyPair> {
  try {
    const jwk = stored.jwk as JWK;
    if (typeof jwk.d !== 'string') throw new Error('the stored JWK has no private part');
    registerSecret(jwk.d);
    const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
    return { alg, privateKey, publicJwk: Object.freeze(publicJwkOf(jwk)) };
  } catch (err) {
    throw new ConfigError(
      `the stored key pair (for \`dpop\`, ${alg}) cannot be used; it is damaged or of another kind`,
      { key: 'dpop' },
      { cause: err },
    );
  }
}

/** The store key of the DPoP key that belongs to the tokens under `tokenKey` (and to `alg`). */
export function dpopKeyStoreKey(tokenKey: string, alg: DpopAlgorithm): string {
  return storeKey(undefined, { dpop_key_for: tokenKey, alg });
}

/** Options of {@link loadOrCreateDpopKey}. */
export interface DpopKeyStoreOptions {
  /** The store the profile's tokens are kept in. */
  store: TokenStore;
  /** The store key of the profile's tokens. */
  tokenKey: string;
  /** The profile name (kept with the entry, for humans). */
  profile?: string | undefined;
  /** The algorithm. */
  alg: DpopAlgorithm;
  /** Current time, ms. */
  now(): number;
  /** The lock's lease and wait, ms. Defaults 10,000 and 60,000. */
  lockLeaseMs?: number;
  lockTimeoutMs?: number;
}

function usable(entry: StoredEntry | undefined, alg: DpopAlgorithm): StoredDpopKey | undefined {
  const k = entry?.dpopKey;
  return k !== undefined && k.alg === alg ? k : undefined;
}

/**
 * The DPoP key of a profile identity: read from the store, else created and written under the store's
 * lock (a shared store: two processes never create two keys; the loser of the race reads the winner's).
 * @throws StoreError / LockTimeoutError from the store; ConfigError (key `dpop`) for an unusable key.
 */
export async function loadOrCreateDpopKey(o: DpopKeyStoreOptions): Promise<DpopKeyPair> {
  const key = dpopKeyStoreKey(o.tokenKey, o.alg);
  const found = usable(await o.store.get(key), o.alg);
  if (found !== undefined) return importDpopKey(found, o.alg);
  const lock = await o.store.lock(key, {
    ttlMs: o.lockLeaseMs ?? 10_000,
    timeoutMs: o.lockTimeoutMs ?? 60_000,
  });
  try {
    const again = usable(await o.store.get(key), o.alg);
    if (again !== undefined) return importDpopKey(again, o.alg);
    const made = await generateDpopKey(o.alg, o.now());
    const entry: StoredEntry = { v: 1, key, dpopKey: made, updatedAt: o.now() };
    if (o.profile !== undefined) entry.profile = o.profile;
    if (lock.lost === true) {
      throw new StoreError(
        o.store.kind,
        'lost the store lock while creating the key pair for `dpop`; try again',
      );
    }
    await o.store.set(entry);
    return importDpopKey(made, o.alg);
  } finally {
    await lock.release();
  }
}
