/**
 * The token client contract: what a grant or a vendor preset gives the {@link TokenManager}.
 * The manager owns caching, locking and single flight; a token client only talks to the token endpoint.
 * @module
 */

import { requestBudgetMs } from './http/budget.js';
import type { ClientCertificate } from './http/client-cert.js';
import type { HttpOptions } from './http/types.js';
import type { IntrospectionResult } from './introspection.js';
import type { TokenTypeHint } from './revocation.js';
import type { SignInOptions } from './signin/types.js';
import type { Token } from './token.js';

/** Per-request context handed to a token client. */
export interface TokenRequestContext {
  /** Current time in ms (the manager's injectable clock). */
  now(): number;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * What identifies a token, for cache keys: the endpoint, the client, the subject, scopes, audience,
 * tenant… Values must not be secret (they are hashed, but also shown by `status`).
 */
export type TokenIdentity = Readonly<Record<string, string | undefined>>;

/** A token client: obtains tokens from one endpoint for one client/subject. */
export interface TokenClient {
  /** Non-secret facts that identify the tokens this client obtains. Hashed into the cache key. */
  readonly identity: TokenIdentity;
  /** Runs the primary grant (client_credentials, password, a vendor's JWT exchange…). */
  fetchToken(ctx: TokenRequestContext): Promise<Token>;
  /**
   * Uses a refresh token. Absent when the flow has no refresh. The returned token keeps `refreshToken`
   * when the server sent no new one (see `previousRefreshToken` in `parseTokenResponse`).
   */
  refresh?(token: Token, ctx: TokenRequestContext): Promise<Token>;
  /**
   * Runs the profile's interactive grant (authorization code + PKCE, or the device flow): a person
   * signs in. Present only for interactive profiles; the manager calls it from
   * {@link TokenManager.signIn}, never from `getToken()` (whose `fetchToken` throws
   * `LoginRequiredError` for such a profile). The token is validated (ID token) but not stored.
   */
  signIn?(ctx: TokenRequestContext, options: SignInOptions): Promise<Token>;
  /** Revokes a token (RFC 7009 or the vendor's way). Absent when the server cannot. */
  revoke?(token: Token, ctx: TokenRequestContext): Promise<void>;
  /**
   * Introspects a token (RFC 7662) with this client's authentication. Absent when the flow has no
   * introspection; throws `UnsupportedError` when the server advertises no endpoint.
   */
  introspect?(
    token: string,
    ctx: TokenRequestContext,
    tokenTypeHint?: TokenTypeHint,
  ): Promise<IntrospectionResult>;
  /**
   * The longest one token request can take, ms: every attempt timing out and every wait between
   * attempts at its cap (see {@link httpBudgetMs}). The manager derives from it how long a caller waits
   * for another caller's lock. Absent: the manager assumes the HTTP defaults.
   */
  readonly budgetMs?: number;
  /**
   * The client certificate this client presents (mutual TLS, RFC 8705; the profile's `tls_cert` /
   * `tls_key`, checked when the client was built). The manager hands it to the request integrations
   * ({@link TokenManager.clientCertificate}), so that certificate-bound tokens reach the API over it.
   */
  readonly clientCert?: ClientCertificate | undefined;
}

/**
 * The worst-case time of one token request under `http`: `(retries + 1) × timeoutMs + retries ×
 * retryMaxMs` (each wait between attempts, back-off or a honoured `Retry-After`, is capped at
 * `retryMaxMs`). With the defaults (10 s, 2 retries, 10 s cap): 50 s.
 */
export function httpBudgetMs(http: HttpOptions = {}): number {
  // The HTTP layer's own reading of the options (defaults, bounds), so the two never disagree.
  return requestBudgetMs(http);
}
