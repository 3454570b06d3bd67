/**
 * Token introspection (RFC 7662): asks the authorization server whether a token is active and what it
 * stands for, the client authenticated like on token requests (and over its client certificate with
 * mutual TLS).
 * @module
 */

import type { ClientAuth } from './auth/types.js';
import { InvalidTokenResponseError, UnsupportedError } from './errors.js';
import { requestToken } from './http/token-endpoint.js';
import type { HttpOptions } from './http/types.js';
import { type TokenTypeHint, tokenRequestOf } from './revocation.js';

/** Where and how to introspect. */
export interface IntrospectionContext {
  /** The introspection endpoint; when absent, introspection is unsupported. */
  introspectionUrl?: string;
  /** The token endpoint (the default `aud` of JWT client assertions). */
  tokenUrl: string;
  clientAuth: ClientAuth;
  http: HttpOptions;
  /** The `aud` of JWT client assertions instead of the token URL. */
  assertionAudience?: string;
  /** Current time in ms. Default `Date.now`. */
  now?(): number;
}

/**
 * The confirmation (`cnf`) of a sender-constrained token: `x5t#S256` for a certificate-bound token
 * (RFC 8705 §3.2), `jkt` for a DPoP-bound one (RFC 9449 §6.2).
 */
export interface Confirmation {
  'x5t#S256'?: string;
  jkt?: string;
  [member: string]: unknown;
}

/**
 * An introspection answer (RFC 7662 §2.2). Only `active` is always there; an inactive token has
 * nothing else that counts. Members the server adds are kept as they came.
 */
export interface IntrospectionResult {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  cnf?: Confirmation;
  [member: string]: unknown;
}

const STRING_MEMBERS = ['scope', 'client_id', 'username', 'token_type', 'sub', 'iss', 'jti'] as const;
const NUMBER_MEMBERS = ['exp', 'iat', 'nbf'] as const;

/**
 * Introspects one token (RFC 7662 §2.1): POSTs `token` (and `token_type_hint`) with the client's
 * authentication and returns the server's answer, checked.
 *
 * @throws UnsupportedError when there is no introspection endpoint.
 * @throws TokenEndpointError / NetworkError when the server refuses (`invalid_client`…) or cannot be reached.
 * @throws InvalidTokenResponseError for an answer without a boolean `active` or with members of the
 *   wrong type.
 */
export async function introspect(
  ctx: IntrospectionContext,
  token: string,
  tokenTypeHint?: TokenTypeHint,
  signal?: AbortSignal,
): Promise<IntrospectionResult> {
  if (!ctx.introspectionUrl) {
    throw new UnsupportedError(
      'this server advertises no introspection endpoint (RFC 7662); set introspection_url in the profile if it has one',
    );
  }
  const { req, http } = await tokenRequestOf(ctx, token, tokenTypeHint, signal);
  const res = await requestToken(
    { url: ctx.introspectionUrl, form: req.form, headers: req.headers, what: 'introspection endpoint' },
    http,
  );
  return checkIntrospection(res.body, res.url, res.status);
}

/** Checks an introspection answer's shape (RFC 7662 §2.2). */
function checkIntrospection(body: unknown, url: string, status: number): IntrospectionResult {
  const bad = (why: string) =>
    new InvalidTokenResponseError(url, status, `the introspection answer from ${url} ${why}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('is not a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b['active'] !== 'boolean') throw bad('has no boolean "active"');
  for (const k of STRING_MEMBERS) {
    if (b[k] !== undefined && typeof b[k] !== 'string') throw bad(`has a non-string "${k}"`);
  }
  for (const k of NUMBER_MEMBERS) {
    if (b[k] !== undefined && (typeof b[k] !== 'number' || !Number.isFinite(b[k]))) {
      throw bad(`has a non-numeric "${k}"`);
    }
  }
  const aud = b['aud'];
  if (
    aud !== undefined &&
    typeof aud !== 'string' &&
    !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))
  ) {
    throw bad('has an "aud" that is neither a string nor a list of strings');
  }
  const cnf = b['cnf'];
  if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))) {
    throw bad('has a "cnf" that is not an object');
  }
  return b as IntrospectionResult;
}
