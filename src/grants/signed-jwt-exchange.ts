/**
 * The signed-JWT exchange (Cylance-style): the client signs a short-lived JWT with its shared secret
 * and POSTs it as a JSON body (`{"auth_token": "<JWT>"}`); the answer carries the access token. No form,
 * no client authentication header, no refresh token.
 *
 * Split as a request builder ({@link signExchangeJwt}, pure apart from the clock and the random `jti`)
 * and the exchange itself ({@link signedJwtExchange}).
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { ConfigError } from '../errors.js';
import { requestToken } from '../http/token-endpoint.js';
import type { HttpOptions } from '../http/types.js';
import { registerSecret } from '../redact.js';
import { parseTokenResponse, type Token } from '../token.js';
import type { GrantParseOptions } from './types.js';

/** HMAC algorithms accepted for the exchange JWT. */
const HMAC_ALGS: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);

/** What the exchange needs besides the JWT: the endpoint, HTTP options, parsing, the clock. */
export interface SignedJwtExchangeContext {
  /** The token endpoint. */
  tokenUrl: string;
  /** Timeouts, retries, TLS, debug hook. */
  http: HttpOptions;
  /** How the answer is parsed into a token (default lifetime, cap, token types). */
  parse?: GrantParseOptions;
  /** Current time in ms, for the token's `obtainedAt`/`expiresAt`. Default `Date.now`. */
  now?(): number;
  /**
   * The clock for the JWT's `iat`/`exp`. Default `Date.now` — the wall clock, even when `now` is a test
   * clock, because the server checks these claims against its own real clock.
   */
  signingClock?(): number;
}

/** The JWT to sign. `iat`, `exp` and `jti` are set per request. */
export interface SignedJwtParams {
  /** The shared secret the JWT is signed with (HMAC). Secret. */
  secret: string;
  /** `HS256` (default), `HS384` or `HS512`. */
  alg?: string;
  /** `iss` claim. */
  issuer?: string;
  /** `sub` claim. */
  subject?: string;
  /** Seconds from `iat` to `exp`. */
  lifetimeSeconds: number;
  /** Largest accepted `lifetimeSeconds` (the server rejects longer ones). Default: no limit. */
  maxLifetimeSeconds?: number;
  /** Other claims (e.g. `tid`, `scp`). `iat`, `exp`, `jti`, `iss` and `sub` here are overwritten. */
  claims?: JWTPayload;
}

/** Options of {@link signedJwtExchange}. */
export interface SignedJwtExchangeParams extends SignedJwtParams {
  /** The JSON field that carries the JWT. Default `auth_token`. */
  field?: string;
  /** The request's content type. Default `application/json; charset=utf-8`. */
  contentType?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * Signs the exchange JWT: header `{alg, typ: "JWT"}`; claims `iat` = now (whole seconds),
 * `exp` = `iat` + lifetime, a fresh random `jti`, `iss`, `sub` and the extra claims. The result is
 * registered as a secret.
 *
 * @throws ConfigError for a missing secret, a non-HMAC algorithm or a lifetime out of range.
 */
export async function signExchangeJwt(p: SignedJwtParams, nowMs: number): Promise<string> {
  if (typeof p.secret !== 'string' || p.secret === '') {
    throw new ConfigError('is required to sign the auth token', { key: 'secret' });
  }
  const alg = p.alg ?? 'HS256';
  if (!HMAC_ALGS.has(alg)) {
    throw new ConfigError(`"${alg}" is not an HMAC algorithm; use HS256, HS384 or HS512`, {
      key: 'signing_alg',
    });
  }
  const life = p.lifetimeSeconds;
  if (!Number.isFinite(life) || life < 1) {
    throw new ConfigError(`must be a positive number of seconds, got ${String(life)}`, {
      key: 'lifetime',
    });
  }
  if (p.maxLifetimeSeconds !== undefined && life > p.maxLifetimeSeconds) {
    throw new ConfigError(
      `must be at most ${p.maxLifetimeSeconds} seconds (the server rejects longer auth tokens), got ${life}`,
      { key: 'lifetime' },
    );
  }
  // The secret signs and is never sent, so the HTTP layer cannot see it: register it here, where it is used.
  registerSecret(p.secret);
  const iat = Math.floor(nowMs / 1000);
  // Loaded on first use (jose's barrel is large); only signed-JWT profiles pay for it.
  const { SignJWT } = await import('jose/jwt/sign');
  const jwt = new SignJWT({ ...(p.claims ?? {}) })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.floor(life))
    .setJti(randomUUID());
  if (p.issuer !== undefined) jwt.setIssuer(p.issuer);
  if (p.subject !== undefined) jwt.setSubject(p.subject);
  const signed = await jwt.sign(new TextEncoder().encode(p.secret));
  return signed;
}

/**
 * Runs the exchange: signs a new JWT (never reused: each request has its own `jti` and `iat`), POSTs
 * `{[field]: jwt}` as JSON, and parses the answer into a {@link Token}.
 *
 * @throws TokenEndpointError for an error status (the JWT is never in the message).
 * @throws InvalidTokenResponseError for an answer without a usable `access_token`.
 * @throws NetworkError when the endpoint does not answer.
 */
export async function signedJwtExchange(
  ctx: SignedJwtExchangeContext,
  p: SignedJwtExchangeParams,
): Promise<Token> {
  const now = ctx.now ?? Date.now;
  const field = p.field ?? 'auth_token';
  const http = p.signal !== undefined ? { ...ctx.http, signal: p.signal } : ctx.http;
  // A retry (5xx, 429, timeout) signs a new JWT: a server that remembers `jti`s refuses a replay.
  const build = async (): Promise<Parameters<typeof requestToken>[0]> => {
    const jwt = await signExchangeJwt(p, (ctx.signingClock ?? Date.now)());
    const req: Parameters<typeof requestToken>[0] = {
      url: ctx.tokenUrl,
      json: { [field]: jwt },
      contentType: p.contentType ?? 'application/json; charset=utf-8',
      renew: build,
    };
    if (p.headers !== undefined) req.headers = p.headers;
    return req;
  };
  const res = await requestToken(await build(), http);
  return parseTokenResponse(res.body, { ...(ctx.parse ?? {}), url: res.url, status: res.status, now: now() });
}
