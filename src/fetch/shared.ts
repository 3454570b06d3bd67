/**
 * What the three integrations (authFetch, the undici interceptor, the axios interceptors) share: the
 * token source contract, the common options, the `Authorization` value, the "token rejected" test and
 * the "can this body be sent twice" test.
 * @module
 */

import type { DpopSigner } from '../dpop/signer.js';
import { TokenwardError } from '../errors.js';
import type { ClientCertificate } from '../http/client-cert.js';
import type { TokenManager } from '../manager/token-manager.js';
import type { Token } from '../token.js';

/**
 * Where the integrations get tokens. A {@link TokenManager} is one; anything with the same two methods
 * works (a test double, a token from another library).
 *
 * @example
 * ```ts
 * let current = { accessToken: process.env.API_TOKEN ?? '', tokenType: 'Bearer' };
 * const source: TokenSource = {
 *   getToken: async () => current,
 *   invalidate: () => {}, // a static token cannot be renewed
 * };
 * ```
 */
export interface TokenSource {
  /** A valid token. Concurrent callers should share one renewal (the manager's single flight does). */
  getToken(options?: { signal?: AbortSignal }): Promise<Pick<Token, 'accessToken' | 'tokenType'>>;
  /**
   * Marks `accessToken` as rejected by the API, so that the next {@link getToken} returns a new one.
   * Must be idempotent per token: N concurrent 401s for one token must cause one renewal.
   */
  invalidate(accessToken: string): void;
  /**
   * The DPoP signer of the source's tokens (a manager of a profile with `dpop`): the integrations then
   * send `Authorization: DPoP <token>` with a proof on every request. Absent: bearer tokens.
   */
  readonly dpop?: DpopSigner | undefined;
  /**
   * The client certificate the source's tokens are bound to (mutual TLS, RFC 8705 §3; a manager of a
   * profile with `tls_cert` / `tls_key`), or `undefined`. An integration given no `clientCert` of its
   * own asks once, after its first token, and presents the answer to the allowed origins only.
   *
   * A method returning a promise, not a property: a manager that found its token in the store has not
   * yet built the token client that loads and checks the certificate (see
   * {@link TokenManager.clientCertificate}). Absent: no certificate.
   */
  clientCertificate?(): Promise<ClientCertificate | undefined>;
}

/** What to do with a request to an origin outside the allow-list. */
export type ForeignOriginPolicy = 'plain' | 'throw';

/** Options every integration takes. */
export interface AuthRequestOptions {
  /**
   * The origins that may receive the token (REQUIRED, non-empty). Each entry is a URL or an origin; only
   * its origin (scheme, host, port) counts. Use {@link originsFromProfile} to take them from a profile.
   */
  origins: readonly string[];
  /**
   * On a 401 (or `WWW-Authenticate: ... error="invalid_token"`) for a request that carried the token:
   * invalidate the token, get a new one and send the request once more. Default `true`. With `false`,
   * the 401 is returned and the token is not invalidated.
   */
  retryOn401?: boolean;
  /**
   * A request to an origin outside {@link origins}: `'plain'` (default) sends it without the token,
   * `'throw'` refuses it with an `InsecureEndpointError` (`ERR_INSECURE_ENDPOINT`). Redirects to a
   * foreign origin are always followed without the token.
   */
  onForeignOrigin?: ForeignOriginPolicy;
}

const INVALID_TOKEN = /\berror\s*=\s*"?invalid_token\b/i;

/**
 * True when a response says the token was rejected: status 401, or a 4xx with a `WWW-Authenticate`
 * challenge carrying `error="invalid_token"` (RFC 6750 §3.1).
 */
export function isTokenRejected(
  status: number,
  wwwAuthenticate: string | readonly string[] | null | undefined,
): boolean {
  if (status === 401) return true;
  if (status < 400 || status >= 500 || wwwAuthenticate == null) return false;
  return INVALID_TOKEN.test(
    typeof wwwAuthenticate === 'string' ? wwwAuthenticate : wwwAuthenticate.join(', '),
  );
}

/**
 * True for request bodies that can be sent again as they are: none, strings, `URLSearchParams`, `Blob`,
 * `ArrayBuffer` and typed arrays (Buffers), `FormData`. Streams and async iterables are sent once only.
 */
export function isReplayableBody(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true;
  if (typeof body !== 'object') return false;
  return (
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

// CR, LF and NUL would split or end the header; anything else a server sent is passed on as is.
const UNSAFE_HEADER_CHARS = /[\r\n\0]/;

/**
 * Builds `Authorization` values, remembering the last one so that the warm path does no string work.
 * The scheme is the token's type, with `bearer` (any case) or a missing type written `Bearer`.
 */
export class AuthorizationValue {
  #token: string | undefined;
  #type: string | undefined;
  #value = '';

  /**
   * The header value for `token`.
   * @throws TokenwardError (`ERR_INVALID_TOKEN_RESPONSE`) when the token or its type contains CR, LF or
   *   NUL and so cannot be sent in a header. The message never contains the token.
   */
  of(token: Pick<Token, 'accessToken' | 'tokenType'>): string {
    if (token.accessToken === this.#token && token.tokenType === this.#type) return this.#value;
    const type = token.tokenType;
    const scheme =
      type === undefined || type === '' || type === 'Bearer' || type.toLowerCase() === 'bearer'
        ? 'Bearer'
        : type;
    if (UNSAFE_HEADER_CHARS.test(token.accessToken) || UNSAFE_HEADER_CHARS.test(scheme)) {
      throw new TokenwardError(
        'ERR_INVALID_TOKEN_RESPONSE',
        'the access token (or its token_type) contains CR, LF or NUL and cannot be sent in an Authorization header',
      );
    }
    this.#value = `${scheme} ${token.accessToken}`;
    this.#token = token.accessToken;
    this.#type = type;
    return this.#value;
  }
}
