/**
 * Reading a token endpoint's answer into a {@link Token}: what it answered, normalised, with an absolute
 * expiry (a JWT's `exp` read with jose). The model itself and the freshness rules are in
 * `./token-state.ts` (re-exported here), which a warm `getToken` uses without loading jose.
 * Pure functions only; no I/O.
 * @module
 */

import { decodeJwt } from 'jose/jwt/decode';
import { InvalidTokenResponseError } from './errors.js';
import { withLazyRaw } from './raw-fields.js';
import { redactText, registerToken } from './redact.js';
import {
  ACCESS_TOKEN_PATTERN,
  type ExpirySource,
  REFRESH_TOKEN_PATTERN,
  TOKEN_TYPE_PATTERN,
  type Token,
} from './token-state.js';

export {
  ACCESS_TOKEN_PATTERN,
  authorizationValue,
  DEFAULT_FRESHNESS,
  type ExpirySource,
  type FreshnessPolicy,
  isPastEagerPoint,
  isUsable,
  REFRESH_TOKEN_PATTERN,
  refreshTokenExpired,
  TOKEN_TYPE_PATTERN,
  type Token,
  usableUntil,
} from './token-state.js';

/** How to turn a token response into a {@link Token}. */
export interface ParseTokenOptions {
  /** The endpoint, for error messages. */
  url: string;
  /** The HTTP status, for error messages. Default 200. */
  status?: number;
  /** Current time in ms. Default `Date.now()`. */
  now?: number;
  /** Lifetime in seconds when the response has no `expires_in`, `expires_on` or JWT `exp`. Default 300. */
  defaultLifetimeSeconds?: number;
  /** Longest lifetime believed, in seconds; longer values are capped to it. Default 7 days. */
  maxLifetimeSeconds?: number;
  /** Token types accepted, compared case-insensitively. Default `['bearer']`. A missing type means Bearer. */
  acceptedTokenTypes?: readonly string[];
  /**
   * Shortest lifetime accepted, in seconds: a response whose `expires_in`, `expires_on` or JWT `exp`
   * gives less is refused ({@link InvalidTokenResponseError}), since such a token would be stale on
   * arrival and every call would renew it. Default {@link DEFAULT_MIN_LIFETIME_SECONDS} (1 s); a caller
   * that knows its safety margin passes it here.
   */
  minLifetimeSeconds?: number;
  /** The refresh token in use, kept when the response carries none (RFC 6749 §6). */
  previousRefreshToken?: string;
  /** The previous refresh token's expiry, kept with it. */
  previousRefreshExpiresAt?: number;
}

/** Default lifetime for a token whose response does not say (seconds). */
export const DEFAULT_LIFETIME_SECONDS = 300;
/** Longest lifetime believed by default (seconds): seven days. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 7 * 24 * 3600;

/** Shortest token lifetime accepted by default, in seconds. */
export const DEFAULT_MIN_LIFETIME_SECONDS = 1;

const NUMERIC = /^\s*\d+(\.\d+)?\s*$/;

/** What is wrong with a token's characters, without quoting any of them. */
function badCharacters(value: string): string {
  let control = false;
  let nonAscii = false;
  let space = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return 'contains a line break (CR or LF)';
    if (c < 0x20 || c === 0x7f) control = true;
    else if (c > 0x7f) nonAscii = true;
    else if (c === 0x20) space = true;
  }
  if (control) return 'contains a control character';
  if (nonAscii) return 'contains a non-ASCII character';
  if (space) return 'contains a space';
  return 'contains a character that is not allowed';
}

/**
 * Reads a numeric field sent as a number or a numeric string. Returns `undefined` when absent, and throws
 * a precise {@link InvalidTokenResponseError} for anything else (negative, zero, NaN, non-numeric).
 */
export function readSeconds(
  body: Record<string, unknown>,
  field: string,
  ctx: { url: string; status: number },
): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && NUMERIC.test(v)) n = Number(v);
  else {
    throw new InvalidTokenResponseError(
      ctx.url,
      ctx.status,
      `token response field "${field}" must be a number of seconds (a number or a numeric string), got ${describe(v)}`,
    );
  }
  if (!Number.isFinite(n) || n <= 0) {
    throw new InvalidTokenResponseError(
      ctx.url,
      ctx.status,
      `token response field "${field}" must be a positive number of seconds, got ${String(n)}`,
    );
  }
  return n;
}

function describe(v: unknown): string {
  if (typeof v === 'string') {
    // Redact before clipping: a secret cut in two would no longer be recognised.
    const r = redactText(v);
    return `the string ${JSON.stringify(r.length > 20 ? `${r.slice(0, 20)}…` : r)}`;
  }
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : `a ${typeof v}`;
}

/** Scopes repeat across tenants and renewals: up to this many distinct values are shared. */
const MAX_SHARED_SCOPES = 1_000;
const sharedScopes = new Map<string, string>();

/**
 * The granted scope of a response, space-separated, or undefined. A string scope is shared with earlier
 * equal ones (bounded), in the token and in `raw` alike — the string a response carries is replaced by
 * an equal one, which no caller can tell apart — so a token per tenant does not keep its own copy.
 */
function scopeOf(b: Record<string, unknown>): string | undefined {
  const scope = b['scope'];
  if (Array.isArray(scope) && scope.every((s) => typeof s === 'string')) return scope.join(' ');
  if (typeof scope !== 'string') return undefined;
  const known = sharedScopes.get(scope);
  if (known === undefined) {
    if (sharedScopes.size < MAX_SHARED_SCOPES) sharedScopes.set(scope, scope);
    return scope;
  }
  try {
    b['scope'] = known;
  } catch {
    // A frozen response object keeps its own (equal) string.
  }
  return known;
}

/**
 * Validates a parsed JSON token response and normalises it into a {@link Token}.
 *
 * Expiry, in order: `expires_in` (relative seconds, number or numeric string), `expires_on` (absolute epoch
 * seconds; values above 10^12 are taken as milliseconds), the access token's JWT `exp`, then
 * `defaultLifetimeSeconds`. A lifetime longer than `maxLifetimeSeconds` is capped to it, so no token is
 * ever fresh forever.
 */
export function parseTokenResponse(body: unknown, options: ParseTokenOptions): Token {
  const status = options.status ?? 200;
  const ctx = { url: options.url, status };
  const now = options.now ?? Date.now();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidTokenResponseError(
      ctx.url,
      status,
      `token response must be a JSON object, got ${describe(body)}`,
    );
  }
  const b = body as Record<string, unknown>;
  const at = b['access_token'];
  if (at === undefined) {
    throw new InvalidTokenResponseError(ctx.url, status, 'token response has no "access_token"');
  }
  if (typeof at !== 'string' || at.trim() === '') {
    throw new InvalidTokenResponseError(
      ctx.url,
      status,
      `token response "access_token" must be a non-empty string, got ${typeof at === 'string' ? 'an empty string' : describe(at)}`,
    );
  }
  registerToken(at);
  if (!ACCESS_TOKEN_PATTERN.test(at)) {
    throw new InvalidTokenResponseError(
      ctx.url,
      status,
      `token response "access_token" ${badCharacters(at)}; refused (an access token is visible ASCII only, RFC 6750)`,
    );
  }
  const accepted = (options.acceptedTokenTypes ?? ['bearer']).map((t) => t.toLowerCase());
  const tt = b['token_type'];
  let tokenType = 'Bearer';
  if (tt !== undefined && tt !== null) {
    if (typeof tt === 'string' && !TOKEN_TYPE_PATTERN.test(tt)) {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "token_type" ${tt === '' ? 'is empty' : badCharacters(tt)}; refused (a token type is letters, digits, "-", "." and "_", RFC 6749)`,
      );
    }
    if (typeof tt !== 'string' || !accepted.includes(tt.toLowerCase())) {
      // A comma, not "or": "bearer or …" reads as a Bearer credential and would be redacted from the message.
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "token_type" is ${typeof tt === 'string' ? JSON.stringify(tt) : describe(tt)}; expected ${accepted.join(', ')} (set the profile's token_types to accept it)`,
      );
    }
    tokenType = tt.toLowerCase() === 'bearer' ? 'Bearer' : tt;
  }

  const maxLifetimeMs = (options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS) * 1000;
  const minLifetimeSeconds = options.minLifetimeSeconds ?? DEFAULT_MIN_LIFETIME_SECONDS;
  let expiresAt: number;
  let expirySource: ExpirySource;
  const expiresIn = readSeconds(b, 'expires_in', ctx);
  const expiresOn = expiresIn === undefined ? readSeconds(b, 'expires_on', ctx) : undefined;
  if (expiresIn !== undefined) {
    expiresAt = now + expiresIn * 1000;
    expirySource = 'expires_in';
    if (expiresIn < minLifetimeSeconds) {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "expires_in" is ${expiresIn} s, below the shortest usable lifetime (${minLifetimeSeconds} s): the token would be stale on arrival and every call would renew it`,
      );
    }
  } else if (expiresOn !== undefined) {
    expiresAt = expiresOn > 1e12 ? expiresOn : expiresOn * 1000;
    expirySource = 'expires_on';
    if (expiresAt <= now) {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "expires_on" (${new Date(expiresAt).toISOString()}) is already in the past; check this machine's clock`,
      );
    }
    if (expiresAt - now < minLifetimeSeconds * 1000) {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "expires_on" (${new Date(expiresAt).toISOString()}) leaves less than the shortest usable lifetime (${minLifetimeSeconds} s); check this machine's clock`,
      );
    }
  } else {
    const exp = jwtExp(at);
    if (exp !== undefined && exp * 1000 > now) {
      expiresAt = exp * 1000;
      expirySource = 'jwt_exp';
    } else {
      const def = options.defaultLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
      if (!Number.isFinite(def) || def <= 0) {
        throw new InvalidTokenResponseError(ctx.url, status, 'default lifetime must be a positive number');
      }
      expiresAt = now + def * 1000;
      expirySource = 'default';
    }
  }
  if (expiresAt - now > maxLifetimeMs) expiresAt = now + maxLifetimeMs;

  const scope = scopeOf(b);
  // `scope` (most responses have one) is in the literal, so that V8 keeps it in the object itself
  // rather than in a separate property array: a process with a token per tenant holds many of these.
  const token: {
    -readonly [K in keyof Token]: Token[K];
  } =
    scope === undefined
      ? { accessToken: at, tokenType, expiresAt, obtainedAt: now, expirySource, raw: b }
      : { accessToken: at, tokenType, expiresAt, obtainedAt: now, expirySource, raw: b, scope };

  const rt = b['refresh_token'];
  if (rt !== undefined && rt !== null) {
    if (typeof rt !== 'string' || rt === '') {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "refresh_token" must be a non-empty string, got ${typeof rt === 'string' ? 'an empty string' : describe(rt)}`,
      );
    }
    registerToken(rt);
    if (!REFRESH_TOKEN_PATTERN.test(rt)) {
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "refresh_token" ${badCharacters(rt)}; refused (a refresh token is printable ASCII only, RFC 6749)`,
      );
    }
    token.refreshToken = rt;
    const rin = readSeconds(b, 'refresh_expires_in', ctx);
    if (rin !== undefined) token.refreshExpiresAt = now + rin * 1000;
  } else if (options.previousRefreshToken !== undefined) {
    token.refreshToken = options.previousRefreshToken;
    if (options.previousRefreshExpiresAt !== undefined)
      token.refreshExpiresAt = options.previousRefreshExpiresAt;
  }
  const idt = b['id_token'];
  if (typeof idt === 'string' && idt !== '') {
    registerToken(idt);
    token.idToken = idt;
  }
  // A response made only of fields the token carries is not kept: `raw` rebuilds it (src/raw-fields.ts).
  return withLazyRaw(token) ?? token;
}

/** The `exp` claim of a JWT access token, or undefined when the token is not a JWT or has none. */
export function jwtExp(accessToken: string): number | undefined {
  if (accessToken.split('.').length !== 3) return undefined;
  try {
    const { exp } = decodeJwt(accessToken);
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
