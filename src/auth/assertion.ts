/**
 * Signing of JWT client assertions (RFC 7523 §3), shared by `client_secret_jwt` and `private_key_jwt`.
 * @module
 */

import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { ClientAuthContext, ClientAuthRequest } from './types.js';
import { JWT_BEARER_ASSERTION_TYPE } from './types.js';

/** Lifetime of a client assertion, seconds. */
export const ASSERTION_LIFETIME_SECONDS = 60;

/** What to sign. */
export interface AssertionParams {
  clientId: string;
  alg: string;
  key: KeyObject | Uint8Array;
  kid?: string;
  /** Fixed `aud` (overrides the context's audience and the token URL). */
  audience?: string | string[];
}

/**
 * Signs a client assertion (`iss` = `sub` = client id, `aud` = token URL or the configured audience,
 * random `jti`, `iat`, `exp` = now + 60 s) and adds it to the form with `client_id`.
 */
export async function applyAssertion(
  req: ClientAuthRequest,
  ctx: ClientAuthContext,
  p: AssertionParams,
): Promise<void> {
  const iat = Math.floor(ctx.now() / 1000);
  const header: { alg: string; typ: string; kid?: string } = { alg: p.alg, typ: 'JWT' };
  // Stryker disable next-line ConditionalExpression: a `kid` set to undefined is left out of the JSON header all the same (→ false is killed).
  if (p.kid !== undefined) header.kid = p.kid;
  // Loaded on first use: profiles without JWT client authentication never load the signing code.
  const { SignJWT } = await import('jose/jwt/sign');
  const jwt = await new SignJWT({})
    .setProtectedHeader(header)
    .setIssuer(p.clientId)
    .setSubject(p.clientId)
    .setAudience(p.audience ?? ctx.audience ?? ctx.tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
    .sign(p.key);
  req.form['client_id'] = p.clientId;
  req.form['client_assertion_type'] = JWT_BEARER_ASSERTION_TYPE;
  req.form['client_assertion'] = jwt;
}
