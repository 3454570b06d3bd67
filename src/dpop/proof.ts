/**
 * DPoP proofs (RFC 9449 §4): a JWT signed with the profile's DPoP key, `typ: dpop+jwt`, the public key
 * in the `jwk` header, and the claims `jti`, `htm`, `htu` (no query, no fragment), `iat`, `ath` (for a
 * request to a resource, the hash of the access token) and `nonce` (when the server gave one).
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import type { DpopKeyPair } from './keys.js';

/** What a proof is for. */
export interface ProofTarget {
  /** The HTTP method (`htm`), upper case for the standard ones. */
  readonly method: string;
  /** The request URL; its query and fragment are left out of `htu`. */
  readonly url: string | URL;
}

/** Extras of one proof. */
export interface ProofExtras {
  /** The access token the request carries: its hash goes in `ath`. */
  readonly accessToken?: string | undefined;
  /** The server's nonce for this origin. */
  readonly nonce?: string | undefined;
  /** The proof's time, seconds since the epoch. */
  readonly iat: number;
}

/** `htu`: the URL without query and fragment (RFC 9449 §4.2). */
export function htuOf(url: string | URL): string {
  const u = new URL(typeof url === 'string' ? url : url.href);
  u.search = '';
  u.hash = '';
  return u.href;
}

/** `ath`: the base64url SHA-256 of the access token (RFC 9449 §4.2). */
export function athOf(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/** The JWK SHA-256 thumbprint of the key (`cnf.jkt` of a bound token, RFC 7638). */
export function jwkThumbprint(key: DpopKeyPair): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk, 'sha256');
}

/** Signs one DPoP proof. Each proof has a fresh random `jti`. */
export async function createProof(
  key: DpopKeyPair,
  target: ProofTarget,
  extras: ProofExtras,
): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomBytes(16).toString('base64url'),
    htm: target.method,
    htu: htuOf(target.url),
    iat: extras.iat,
  };
  if (extras.accessToken !== undefined) claims['ath'] = athOf(extras.accessToken);
  if (extras.nonce !== undefined) claims['nonce'] = extras.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: { ...key.publicJwk } })
    .sign(key.privateKey);
}
