/**
 * The request core: the one place where the rules of authenticated requests live. `createAuthFetch`,
 * the undici interceptor and the axios interceptors are adapters over it: each translates its client's
 * request and response into the core's terms and does what the core decides.
 *
 * The core owns
 * - the origin check ({@link RequestCore.route}: attach, send plain, or refuse),
 * - attaching the token ({@link RequestCore.token}, {@link RequestCore.attach}; the headers come from a
 *   {@link CredentialScheme}),
 * - the answer to a challenge ({@link RequestCore.settle}: a rejected token is invalidated and the
 *   request is sent once more, only when the response is ours — it answered a request that carried our
 *   token, on an allowed origin — and its body can be sent again),
 * - the redirect policy ({@link RequestCore.hop}: which of the caller's credentials to drop and whether
 *   the token goes to the next hop), and
 * - the body replay rules ({@link isReplayableBody}, {@link isReplayableDispatchBody},
 *   {@link isReplayableAxiosData}).
 *
 * The {@link CredentialScheme} is the seam for sender-constrained tokens (`src/dpop/scheme.ts` is the
 * DPoP one, chosen when the token source has a DPoP signer): `prepare` is called for every
 * request and every redirect hop that carries the token (method and URL at hand, as a DPoP proof needs
 * them), and `onChallenge` reads every response to such a request and may ask for one retry with the
 * same token (a DPoP `use_dpop_nonce`) or with a renewed one (a rejected token).
 * @module
 */

import { DpopScheme } from '../dpop/scheme.js';
import type { ClientCertificate } from '../http/client-cert.js';
import type { TokenManager } from '../manager/token-manager.js';
import type { Token } from '../token.js';
import { foreignOriginError, OriginScope } from './origins.js';
import {
  AuthorizationValue,
  type AuthRequestOptions,
  isReplayableBody,
  isTokenRejected,
  type TokenSource,
} from './shared.js';

/** The token fields the request core uses. */
export type RequestToken = Pick<Token, 'accessToken' | 'tokenType'>;

/** A request as the core sees it: what a credential scheme may bind to (a DPoP proof's `htm`, `htu`). */
export interface RequestTarget {
  /** The method, upper case for the standard ones. */
  readonly method: string;
  /** The absolute URL. */
  readonly url: string | URL;
}

/** What the core attached to one request. */
export interface Attachment {
  /** The token the headers carry. */
  readonly token: RequestToken;
  /** Lower-case header name → value, to set on the request (`authorization`; a DPoP proof later). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A response as the core reads it. */
export interface ResponseInfo {
  readonly status: number;
  /** A response header (any case), `undefined` when absent; several values joined with `, `. */
  header(name: string): string | undefined;
  /** The URL that answered, when the adapter knows it (after redirects); checked against the origins. */
  readonly url?: string | URL | undefined;
  /**
   * `false` when the adapter knows that the request that got this answer did not carry the attachment
   * (a redirect took it elsewhere). Default: it did.
   */
  readonly carried?: boolean | undefined;
}

/**
 * What a {@link CredentialScheme} asks after a response: `'renew'` — the token was rejected: invalidate
 * it and send once more with a new one; `'resend'` — send once more with the same token (new headers
 * from `prepare`, e.g. a DPoP proof with the server's nonce); `undefined` — the answer stands.
 */
export type ChallengeVerdict = 'renew' | 'resend' | undefined;

/**
 * How a token is carried: the headers for a request, and the reading of the server's challenges. The
 * core calls `prepare` for every request and redirect hop that carries the token, and `onChallenge` for
 * every response to such a request that is not a redirect. A DPoP scheme implements both (proofs; the
 * `use_dpop_nonce` challenge); the default is {@link BearerScheme}.
 */
export interface CredentialScheme {
  /**
   * The headers (lower-case names) that carry `token` on a request to `target`. May be a promise (a
   * proof to sign); where an adapter cannot wait (axios's synchronous redirect hook), a hop whose
   * headers are a promise goes without the token.
   * @throws TokenwardError when the token cannot be sent (it contains CR, LF or NUL).
   */
  prepare(
    target: RequestTarget,
    token: RequestToken,
  ): Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>;
  /** The verdict on a response to a request that carried the token. */
  onChallenge(response: ResponseInfo, attachment: Attachment): ChallengeVerdict;
  /**
   * Reads every response to a request that carried the token and that {@link RequestCore.settle} sees
   * (from an allowed origin), whatever its status: a DPoP scheme keeps the server's `DPoP-Nonce`.
   */
  observe?(response: ResponseInfo, attachment: Attachment): void;
}

/**
 * `Authorization: <type> <token>` (`Bearer` for `bearer` in any case or no type), and `'renew'` on a
 * 401 or a 4xx with `error="invalid_token"` (RFC 6750 §3.1).
 */
export class BearerScheme implements CredentialScheme {
  readonly #value = new AuthorizationValue();
  #headers: Readonly<Record<string, string>> = {};

  prepare(_target: RequestTarget, token: RequestToken): Readonly<Record<string, string>> {
    const value = this.#value.of(token);
    // One object per token: the warm path allocates nothing here.
    if (this.#headers['authorization'] !== value) this.#headers = Object.freeze({ authorization: value });
    return this.#headers;
  }

  onChallenge(response: ResponseInfo): ChallengeVerdict {
    return isTokenRejected(response.status, response.header('www-authenticate')) ? 'renew' : undefined;
  }
}

/** Where a request goes: with the token, as it is, or nowhere (see {@link RequestCore.route}). */
export type Route = 'attach' | 'plain';

/** The decision for one redirect hop (see {@link RequestCore.hop}). */
export interface HopPolicy {
  /** Lower-case names of the caller's headers that must not follow this hop. */
  readonly drop: readonly string[];
  /** True when the token goes to the next hop (its origin is allowed). */
  readonly carry: boolean;
}

/** Headers dropped on a redirect to another origin (the Fetch standard's list, as undici and fetch do). */
export const CROSS_ORIGIN_STRIPPED: readonly string[] = Object.freeze([
  'authorization',
  'cookie',
  'proxy-authorization',
  'host',
]);
const NOTHING: readonly string[] = Object.freeze([]);

function originOf(url: string | URL): string | undefined {
  try {
    return (typeof url === 'string' ? new URL(url) : url).origin;
  } catch {
    return undefined;
  }
}

/**
 * The rules of authenticated requests, for one integration instance (one allow-list, one token source).
 * Adapters call {@link route} for every request, {@link token} and {@link attach} for those that get
 * the token, {@link hop} (then {@link attach} again when the token goes on) for every redirect they
 * see, and {@link settle} for the answer to a request that carried the token.
 */
export class RequestCore {
  /** The allow-list. */
  readonly scope: OriginScope;
  readonly #source: TokenSource;
  readonly #scheme: CredentialScheme;
  readonly #retry: boolean;
  readonly #throwForeign: boolean;

  /**
   * @throws ConfigError / InsecureEndpointError for an empty or invalid `origins` list.
   */
  constructor(source: TokenManager | TokenSource, options: AuthRequestOptions, scheme?: CredentialScheme) {
    this.scope = new OriginScope(options.origins);
    this.#source = source;
    // A source with a DPoP signer (a manager of a profile with `dpop`) gets the DPoP scheme.
    this.#scheme = scheme ?? (source.dpop === undefined ? new BearerScheme() : new DpopScheme(source.dpop));
    this.#retry = options.retryOn401 !== false;
    this.#throwForeign = options.onForeignOrigin === 'throw';
  }

  /**
   * Where a request to `url` goes: `'attach'` for an allowed origin (unless the caller set its own
   * `Authorization`, `callerAuthorization`), `'plain'` otherwise. `url` may be an origin; `shown` gives the
   * URL an error names (default `url`), computed only for the error.
   * @throws InsecureEndpointError for a foreign origin under `onForeignOrigin: 'throw'` (the URL is
   *   named without its query string).
   */
  route(url: string | URL, callerAuthorization: boolean, shown?: () => string): Route {
    if (!this.scope.allowsOrigin(url)) {
      if (this.#throwForeign) throw foreignOriginError(shown === undefined ? url : shown(), this.scope);
      return 'plain';
    }
    return callerAuthorization ? 'plain' : 'attach';
  }

  /**
   * The token for a request (the source's single flight). An already aborted `signal` rejects before
   * the source is asked.
   * @throws whatever the token source throws (a `TokenEndpointError`…).
   */
  token(signal?: AbortSignal): Promise<RequestToken> {
    if (signal === undefined) return this.#source.getToken();
    if (signal.aborted) return Promise.reject(signal.reason);
    return this.#source.getToken({ signal });
  }

  /**
   * The headers that carry `token` to `target`: for a request, and again for each redirect hop that
   * carries it. Synchronous for the Bearer scheme (no promise on the warm path); a scheme that signs
   * (DPoP) may return a promise.
   * @throws TokenwardError when the token cannot be sent (CR, LF or NUL in it).
   */
  attach(target: RequestTarget, token: RequestToken): Attachment | Promise<Attachment> {
    const headers = this.#scheme.prepare(target, token);
    return headers instanceof Promise ? headers.then((h) => ({ token, headers: h })) : { token, headers };
  }

  /**
   * The redirect policy for a hop from `from` to `to`: on a change of origin the caller's credentials
   * (`Authorization`, `Cookie`, `Proxy-Authorization`) and `Host` are dropped; the token goes only to an
   * allowed origin, whatever the HTTP client would forward.
   */
  hop(from: string | URL, to: string | URL): HopPolicy {
    const toOrigin = originOf(to);
    const carry = toOrigin !== undefined && this.scope.allowsOrigin(toOrigin);
    return { drop: originOf(from) === toOrigin ? NOTHING : CROSS_ORIGIN_STRIPPED, carry };
  }

  /** True when the scheme reads answers that need no decision (DPoP nonces): see {@link observe}. */
  get observes(): boolean {
    return this.#scheme.observe !== undefined;
  }

  /**
   * Shows the scheme an answer to a request that carried `attachment` and that needs no decision (a
   * success, the answer to a retry): a DPoP scheme keeps the server's `DPoP-Nonce`. Only an answer from
   * an allowed origin to a request that carried the token counts. {@link settle} does this itself.
   */
  observe(attachment: Attachment, response: ResponseInfo): void {
    const observe = this.#scheme.observe;
    if (observe === undefined || response.carried === false) return;
    if (response.url !== undefined && !this.scope.allowsUrl(response.url)) return;
    observe.call(this.#scheme, response, attachment);
  }

  /**
   * Reads the answer to a request that carried `attachment` (the first attempt; adapters do not ask
   * again about the answer to a retry). Returns true when the request is to be sent once more, with a
   * new {@link token} and {@link attach}.
   *
   * A response is *ours* when the request that got it carried the token (`carried`) to an allowed origin
   * (`url`). For ours, the scheme's verdict counts: `'renew'` invalidates the token (when `retryOn401`
   * is on; else the answer stands) and asks for a retry; `'resend'` asks for a retry with the same
   * token. A retry happens only when `replayable()` says the body can be sent again: a stream's answer
   * is returned, its token invalidated all the same.
   */
  settle(attachment: Attachment, response: ResponseInfo, replayable: () => boolean): boolean {
    if (this.observes) this.observe(attachment, response);
    if (response.status < 400) return false; // the warm path: no challenge below 400
    if (response.carried === false) return false;
    if (response.url !== undefined && !this.scope.allowsUrl(response.url)) return false;
    const verdict = this.#scheme.onChallenge(response, attachment);
    if (verdict === undefined) return false;
    if (verdict === 'renew') {
      if (!this.#retry) return false;
      this.#source.invalidate(attachment.token.accessToken);
    }
    return replayable();
  }
}

/**
 * The transport (a fetch, a dispatch, an agent) of the requests that carry the token, made once from the
 * client certificate: the integration's explicit `clientCert` when it has one (it wins), else the token
 * source's ({@link TokenSource.clientCertificate}). Adapters call {@link get} after the request's token:
 * a manager has then built its client (and loaded the certificate) already. `undefined`: no certificate,
 * send as without one.
 */
export class CertifiedTransport<T> {
  readonly #source: TokenManager | TokenSource;
  readonly #explicit: ClientCertificate | undefined;
  readonly #make: (cert: ClientCertificate) => T | Promise<T>;
  #done = false;
  #made: T | undefined;
  #pending: Promise<T | undefined> | undefined;

  constructor(
    source: TokenManager | TokenSource,
    explicit: ClientCertificate | undefined,
    make: (cert: ClientCertificate) => T | Promise<T>,
  ) {
    this.#source = source;
    this.#explicit = explicit;
    this.#make = make;
    // Nothing to ask: settled at once (no promise on any request).
    if (explicit === undefined && source.clientCertificate === undefined) this.#done = true;
  }

  /** The transport made so far (before the first {@link get}, or without a certificate: undefined). */
  get made(): T | undefined {
    return this.#made;
  }

  /**
   * The transport, made on the first call (then the same value, without a promise). A failure (the
   * source could not load its certificate) is thrown to that request and not remembered.
   */
  get(): T | undefined | Promise<T | undefined> {
    if (this.#done) return this.#made;
    this.#pending ??= (async () => {
      try {
        const cert = this.#explicit ?? (await this.#source.clientCertificate?.());
        this.#made = cert === undefined ? undefined : await this.#make(cert);
        this.#done = true;
        return this.#made;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }
}

/**
 * Bodies undici can dispatch again as they are: none, a string, a `Buffer`/`Uint8Array`. (Streams,
 * async iterables and `FormData` are read by the first dispatch.)
 */
export function isReplayableDispatchBody(body: unknown): boolean {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/** Bodies axios can send again: what fetch can ({@link isReplayableBody}), plus plain objects and arrays. */
export function isReplayableAxiosData(data: unknown): boolean {
  if (isReplayableBody(data)) return true;
  if (Array.isArray(data)) return true;
  if (typeof data !== 'object' || data === null) return false;
  const proto = Object.getPrototypeOf(data) as unknown;
  return proto === Object.prototype || proto === null;
}

export { isReplayableBody };
