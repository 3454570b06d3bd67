/**
 * Issued-token bookkeeping and JWT signing for the emulators. Every access token is an RS256 JWT (as
 * MSX's and Acronis's are) whose `exp` matches the lifetime the vendor reports; the sandbox itself never
 * trusts a signature on the way back in, it looks the token up in its {@link TokenBook}.
 * @module
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** The signing key of a sandbox process (generated once, shared by every sandbox in the process). */
export interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
}

let keyPromise: Promise<SigningKey> | undefined;

/** The process-wide RS256 signing key, generated on first use. */
export function signingKey(): Promise<SigningKey> {
  keyPromise ??= (async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const kid = randomBytes(8).toString('hex');
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    return { privateKey, publicJwk, kid };
  })();
  return keyPromise;
}

/** Signs `claims` as an RS256 JWT valid from `nowMs` for `lifetimeSeconds`. */
export async function signJwt(
  key: SigningKey,
  claims: JWTPayload,
  nowMs: number,
  lifetimeSeconds: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ ...claims, jti: claims.jti ?? randomUUID() })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetimeSeconds)
    .sign(key.privateKey);
}

/** An opaque random token (refresh tokens). */
export function opaqueToken(): string {
  return randomBytes(24).toString('base64url');
}

/** How a looked-up token stands. */
export type Lookup<T> =
  | { state: 'valid'; entry: T }
  | { state: 'expired'; entry: T }
  | { state: 'revoked'; entry: T }
  | { state: 'unknown' };

interface Slot<T> {
  entry: T;
  expiresAt: number;
  revoked: boolean;
}

/** Entries expired longer than this are forgotten (then reported `unknown` instead of `expired`). */
const FORGET_AFTER_MS = 60 * 60 * 1000;

/**
 * Issued tokens of one kind: token → entry, expiry (epoch ms) and revocation. Old entries are swept
 * from time to time so a long-running sandbox does not grow without bound.
 */
export class TokenBook<T> {
  readonly #slots = new Map<string, Slot<T>>();
  #adds = 0;

  /** Records a token. */
  add(token: string, entry: T, expiresAt: number, now: number): void {
    this.#slots.set(token, { entry, expiresAt, revoked: false });
    if (++this.#adds % 256 === 0) this.sweep(now);
  }

  /** Looks a token up at time `now` (epoch ms). */
  lookup(token: string, now: number): Lookup<T> {
    const slot = this.#slots.get(token);
    if (slot === undefined) return { state: 'unknown' };
    if (slot.revoked) return { state: 'revoked', entry: slot.entry };
    if (now >= slot.expiresAt) return { state: 'expired', entry: slot.entry };
    return { state: 'valid', entry: slot.entry };
  }

  /** Revokes one token (it is then reported `revoked`). */
  revoke(token: string): void {
    const slot = this.#slots.get(token);
    if (slot !== undefined) slot.revoked = true;
  }

  /** Revokes every token whose entry matches. */
  revokeWhere(match: (entry: T) => boolean): number {
    let n = 0;
    for (const slot of this.#slots.values()) {
      if (!slot.revoked && match(slot.entry)) {
        slot.revoked = true;
        n++;
      }
    }
    return n;
  }

  /** True when the token was ever recorded (and not yet forgotten). */
  has(token: string): boolean {
    return this.#slots.has(token);
  }

  /** Forgets entries that expired more than an hour before `now`. */
  sweep(now: number): void {
    for (const [token, slot] of this.#slots) {
      if (now - slot.expiresAt > FORGET_AFTER_MS) this.#slots.delete(token);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#slots.clear();
  }
}
