/**
 * The Token model: what a token endpoint answered, normalised, with an absolute expiry.
 * Pure functions only; no I/O.
 * @module
 */

import { decodeJwt } from 'jose/jwt/decode';
import { InvalidTokenResponseError } from './errors.js';
import { redactText, registerToken } from './redact.js';

/** Where a token's expiry came from. */
export type ExpirySource = 'expires_in' | 'expires_on' | 'jwt_exp' | 'default';

/** An access token and what came with it. Plain data: safe to serialise into an (encrypted) store. */
export interface Token {
  /** The access token itself. Secret. */
  readonly accessToken: string;
  /** The token type as the server sent it (`Bearer` when it sent none). */
  readonly tokenType: string;
  /** Absolute expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
  /** When tokenward received the token, milliseconds since the epoch. */
  readonly obtainedAt: number;
  /** Where `expiresAt` came from. */
  readonly expirySource: ExpirySource;
  /** The refresh token, when the server sent one (or the previous one, kept when a refresh sent none). Secret. */
  readonly refreshToken?: string;
  /** Absolute expiry of the refresh token, when the server said (`refresh_expires_in`). */
  readonly refreshExpiresAt?: number;
  /** Granted scope, space-separated, when the server said. */
  readonly scope?: string;
  /** The OpenID Connect ID token, when the server sent one. Secret. */
  readonly idToken?: string;
  /**
   * The whole JSON response. Never logged; secret fields inside it are secrets too. Stores give it back
   * equal to what was written: the persistent ones keep it in the encrypted entry; the `MemoryStore`
   * keeps only the fields this token does not already carry (see docs/stores.md) and rebuilds the rest.
   * A `TokenManager` keeps it on the token it holds, so `getToken()` returns it with no work; a string
   * `scope` in it may be an equal string shared with other responses (never a different value).
   */
  readonly raw: Readonly<Record<string, unknown>>;
}

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

/**
 * Characters allowed in an access token: visible ASCII (`!` to `~`, RFC 7230 VCHAR), one or more. This
 * holds every RFC 6750 `b64token` (`[A-Za-z0-9-._~+/]+=*`) and the wider sets some vendors issue (for
 * example `!` or `:`), but no space, CR, LF, tab, other control character or non-ASCII character: the
 * token goes into an `Authorization` header and onto a command line, where those would inject or split.
 */
export const ACCESS_TOKEN_PATTERN = /^[!-~]+$/;

/**
 * Characters allowed in a refresh token: RFC 6749 Appendix A's `1*VSCHAR` (`\x20`-`\x7e`), not all
 * spaces; no CR, LF, tab, control or non-ASCII character. It only ever travels in a form body.
 */
export const REFRESH_TOKEN_PATTERN = /^[ -~]*[!-~][ -~]*$/;

/** A `token_type`: RFC 6749 Appendix A's `type-name`, `1*( ALPHA / DIGIT / "-" / "." / "_" )`. */
export const TOKEN_TYPE_PATTERN = /^[A-Za-z0-9._-]+$/;

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
      throw new InvalidTokenResponseError(
        ctx.url,
        status,
        `token response "token_type" is ${typeof tt === 'string' ? JSON.stringify(tt) : describe(tt)}; expected ${accepted.join(' or ')} (set the profile's token_types to accept it)`,
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
  return token;
}

/**
 * The `Authorization` header value of a token (`Bearer abc…`), checked once more so that a token that
 * reached a store before validation (or through a foreign writer) can never inject a header or a line.
 *
 * @throws InvalidTokenResponseError when the token or its type has characters a header must not carry.
 */
export function authorizationValue(token: Pick<Token, 'accessToken' | 'tokenType'>): string {
  if (!ACCESS_TOKEN_PATTERN.test(token.accessToken) || !TOKEN_TYPE_PATTERN.test(token.tokenType)) {
    throw new InvalidTokenResponseError(
      '(cached token)',
      0,
      'the cached token has characters an HTTP header must not carry (space, CR/LF, control or non-ASCII); run `tokenward logout` and get a new one',
    );
  }
  return `${token.tokenType} ${token.accessToken}`;
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

/** Freshness policy. */
export interface FreshnessPolicy {
  /** A token is not used within this many ms of its expiry. Default 10,000 (as the seeds do). */
  skewMs: number;
  /** Fraction of the lifetime after which a background refresh starts (0 < f <= 1; 1 disables). Default 0.8. */
  eagerRefreshFraction: number;
}

/** The default {@link FreshnessPolicy}. */
export const DEFAULT_FRESHNESS: FreshnessPolicy = { skewMs: 10_000, eagerRefreshFraction: 0.8 };

/**
 * True when the token may be used now and keeps at least `minTtlMs` of life beyond the safety margin.
 * The margin is `skewMs`, but never more than half the token's lifetime: a token issued for less than
 * the margin (a 5 s token against the 10 s default) is used for the first half of its life instead of
 * being renewed on every call.
 */
export function isUsable(token: Token, now: number, skewMs: number, minTtlMs = 0): boolean {
  return now + minTtlMs < usableUntil(token, skewMs);
}

/**
 * When a token stops being served (ms since the epoch): its expiry less the safety margin, the margin
 * being `skewMs` but at most half the token's lifetime (see {@link isUsable}).
 */
export function usableUntil(token: Token, skewMs: number): number {
  return token.expiresAt - Math.min(skewMs, (token.expiresAt - token.obtainedAt) / 2);
}

/** True when the token is past its eager-refresh point (but may still be usable). */
export function isPastEagerPoint(token: Token, now: number, fraction: number): boolean {
  if (fraction >= 1) return false;
  const lifetime = token.expiresAt - token.obtainedAt;
  return now >= token.obtainedAt + lifetime * fraction;
}

/** True when the refresh token (if any) is known to have expired. */
export function refreshTokenExpired(token: Token, now: number): boolean {
  return token.refreshExpiresAt !== undefined && token.refreshExpiresAt <= now;
}
