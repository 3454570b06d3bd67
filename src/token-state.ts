/**
 * The Token model and the rules for using a cached one: its fields, the characters a token may carry,
 * its `Authorization` value and when it is fresh. Import-light (no jose, no HTTP): what a warm
 * `getToken` needs. Reading a token endpoint's answer into a {@link Token} is `./token.ts`.
 * Pure functions only; no I/O.
 * @module
 */

import { InvalidTokenResponseError } from './errors.js';

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
   * Kept lazily: when the response has only fields the token carries itself (`access_token`,
   * `token_type`, an `expires_in` that is the token's lifetime in whole seconds, `refresh_token`,
   * `scope`, `id_token`), `parseTokenResponse` makes `raw` an enumerable accessor that rebuilds an equal
   * object on each read (so `token.raw !== token.raw` then), and the response object is not kept; a
   * response with any other field (a vendor's `tenantId`, say) is kept as it was parsed. A string
   * `scope` in it may be an equal string shared with other responses (never a different value).
   */
  readonly raw: Readonly<Record<string, unknown>>;
}

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
