/**
 * OpenID Connect ID token validation (OpenID Connect Core §3.1.3.7, §12.2) with `jose`: the signature
 * against the issuer's JWKS (fetched through tokenward's HTTP layer — bounded in size and time — cached,
 * and fetched again once when a token names an unknown `kid`), `iss`, `aud`, `azp`, `exp` and `iat`
 * with the profile's clock skew, `nonce`, `auth_time` with `max_age`, and an algorithm allow-list of
 * asymmetric algorithms (never `none`, never an HMAC algorithm keyed with a public key).
 * @module
 */

import {
  createLocalJWKSet,
  decodeProtectedHeader,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { IdTokenError, TokenwardError } from '../errors.js';
import { getJson } from '../http/token-endpoint.js';
import type { HttpOptions } from '../http/types.js';

/** The signing algorithms accepted by default (asymmetric only). */
export const DEFAULT_ID_TOKEN_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** How long a fetched JWKS is reused before it is fetched again, ms. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

/** The claims of a validated ID token. */
export type IdTokenClaims = JWTPayload & {
  sub: string;
  nonce?: string;
  azp?: string;
  auth_time?: number;
  email?: string;
  name?: string;
};

type KeyGetter = ReturnType<typeof createLocalJWKSet>;
interface CachedSet {
  getter: Promise<KeyGetter>;
  fetchedAt: number;
}
const jwksCache = new Map<string, CachedSet>();

/** Forgets the cached JWKS (all, or one URL). For tests and after a key rotation. */
export function clearJwksCache(url?: string): void {
  if (url === undefined) jwksCache.clear();
  else jwksCache.delete(url);
}

function fetchSet(url: string, http: HttpOptions, now: number): CachedSet {
  const getter = getJson(url, { ...http, what: 'JWKS' }).then((res) => {
    const body = res.body as Partial<JSONWebKeySet> | null;
    if (body === null || typeof body !== 'object' || !Array.isArray(body.keys)) {
      throw new IdTokenError('signature', `the JWKS at ${res.url} has no "keys" list`);
    }
    return createLocalJWKSet(body as JSONWebKeySet);
  });
  const entry = { getter, fetchedAt: now };
  jwksCache.set(url, entry);
  getter.catch(() => {
    if (jwksCache.get(url) === entry) jwksCache.delete(url); // a failure is not remembered
  });
  return entry;
}

/** What {@link validateIdToken} checks against. */
export interface IdTokenExpectations {
  /** The issuer (exactly, as discovered). */
  issuer: string;
  /** The client id: the `aud` must contain it, and `azp`, when present, must be it. */
  clientId: string;
  /** The JWKS URL. */
  jwksUrl: string;
  /** The nonce sent in the authorization request (code flow): the token's must equal it. Absent (device flow, refresh): not checked. */
  nonce?: string;
  /** `max_age` sent: `auth_time` must then be present and recent enough. Seconds. */
  maxAge?: number;
  /** The `sub` the session already has (a refresh): must be the same. */
  sub?: string;
  /** Clock skew tolerated on `exp`, `iat`, `auth_time`, ms. */
  skewMs: number;
  /** Current time, ms. */
  now: number;
  /** Accepted algorithms. Default {@link DEFAULT_ID_TOKEN_ALGORITHMS}. */
  algorithms?: readonly string[];
  /** HTTP options for fetching the JWKS. */
  http?: HttpOptions;
}

/** The `alg` of a JWT's protected header, or undefined when it cannot be read. */
function algOf(jwt: string): string | undefined {
  try {
    const alg = decodeProtectedHeader(jwt).alg;
    return typeof alg === 'string' ? alg.slice(0, 32) : undefined;
  } catch {
    return undefined;
  }
}

function reasonOf(err: unknown, jwt: string, allowed: readonly string[]): { reason: string; text: string } {
  if (err instanceof joseErrors.JWTExpired) return { reason: 'exp', text: 'it has expired' };
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return { reason: err.claim, text: `its "${err.claim}" claim is wrong (${err.reason})` };
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    const alg = algOf(jwt);
    const shown = alg === undefined ? 'an algorithm' : JSON.stringify(alg).replace(/[^\x20-\x7e]/g, '?');
    // HMAC ID tokens are keyed with the client secret; tokenward never verifies with a shared secret.
    const hint = alg?.startsWith('HS')
      ? ' (HMAC-signed ID tokens are refused: set the client at the server to sign them with RS256 or ES256)'
      : '';
    return {
      reason: 'alg',
      text: `it is signed with ${shown}, which is not allowed (accepted: ${allowed.join(', ')})${hint}`,
    };
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return { reason: 'signature', text: "its signature does not verify with the issuer's keys" };
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys)
    return { reason: 'signature', text: "no key of the issuer's JWKS matches it" };
  return { reason: 'malformed', text: 'it is not a valid signed JWT' };
}

/**
 * Validates an ID token and returns its claims.
 *
 * @throws IdTokenError naming the check that failed; NetworkError / TokenEndpointError when the JWKS
 * cannot be fetched.
 */
export async function validateIdToken(idToken: string, expect: IdTokenExpectations): Promise<IdTokenClaims> {
  const algorithms = [...(expect.algorithms ?? DEFAULT_ID_TOKEN_ALGORITHMS)].filter(
    (a) => a !== 'none' && !a.startsWith('HS'),
  );
  const http = expect.http ?? {};
  let refetched = false;
  const keys = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    let cached = jwksCache.get(expect.jwksUrl);
    if (cached === undefined || expect.now - cached.fetchedAt >= JWKS_MAX_AGE_MS) {
      cached = fetchSet(expect.jwksUrl, http, expect.now);
      refetched = true;
    }
    try {
      return await (await cached.getter)(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || refetched) throw err;
      // A key rotated since the set was fetched: fetch it once more.
      refetched = true;
      return (await fetchSet(expect.jwksUrl, http, expect.now).getter)(header, token);
    }
  };
  const skewSeconds = Math.ceil(expect.skewMs / 1000);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms,
      clockTolerance: skewSeconds,
      currentDate: new Date(expect.now),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    }));
  } catch (err) {
    if (err instanceof TokenwardError) throw err;
    const { reason, text } = reasonOf(err, idToken, algorithms);
    throw new IdTokenError(reason, `the ID token was refused: ${text}; nothing was stored`, { cause: err });
  }
  const fail = (reason: string, text: string): never => {
    throw new IdTokenError(reason, `the ID token was refused: ${text}; nothing was stored`);
  };
  const nowS = expect.now / 1000;
  if (typeof payload.iat !== 'number' || payload.iat > nowS + skewSeconds)
    fail('iat', 'it was issued in the future ("iat")');
  const aud = payload.aud;
  if (Array.isArray(aud) && aud.length > 1 && payload['azp'] === undefined)
    fail('azp', 'it has several audiences and no "azp"');
  if (payload['azp'] !== undefined && payload['azp'] !== expect.clientId)
    fail('azp', `its "azp" is not this client (${expect.clientId})`);
  if (expect.nonce !== undefined && payload['nonce'] !== expect.nonce)
    fail('nonce', 'its "nonce" is not the one this sign-in sent (a replayed or mixed-up answer)');
  if (expect.maxAge !== undefined) {
    const at = payload['auth_time'];
    if (typeof at !== 'number') fail('auth_time', 'max_age was asked for but it has no "auth_time"');
    else if (at + expect.maxAge + skewSeconds < nowS) fail('auth_time', 'the sign-in is older than max_age');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') fail('sub', 'it has no "sub"');
  if (expect.sub !== undefined && payload.sub !== expect.sub)
    fail('sub', 'its "sub" is another user than the one signed in');
  return payload as IdTokenClaims;
}
