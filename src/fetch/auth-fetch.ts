/**
 * `createAuthFetch`: a `fetch` that adds the token, retries once on a 401, and never lets the token
 * leave the allowed origins — not even through a redirect.
 *
 * Redirects of token-bearing requests are followed here (the underlying fetch gets
 * `redirect: 'manual'`), hop by hop, with the rules of the Fetch standard (303 and POST-after-301/302
 * become GET without a body, at most 20 hops); the token goes only to hops whose origin is allowed. A
 * caller's `redirect: 'manual'` or `'error'` is passed through unchanged.
 * @module
 */

import { NetworkError } from '../errors.js';
import { proxyDispatcher } from '../http/agent.js';
import type { ClientCertificate } from '../http/client-cert.js';
import type { ProxySettings } from '../http/proxy.js';
import { safeUrl } from '../http/url.js';
import type { TokenManager } from '../manager/token-manager.js';
import {
  type Attachment,
  CertifiedTransport,
  isReplayableBody,
  RequestCore,
  type ResponseInfo,
} from './core.js';
import { type ProxiedFetchOptions, proxiedFetch } from './proxied-fetch.js';
import type { AuthRequestOptions, TokenSource } from './shared.js';

/** The signature of the global `fetch`: what {@link createAuthFetch} returns. */
export type AuthFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link createAuthFetch}. */
export interface AuthFetchOptions extends AuthRequestOptions {
  /**
   * The fetch that sends the requests. Default: `globalThis.fetch`, looked up at each call, routed
   * through the proxy that applies ({@link proxy}, else `HTTPS_PROXY`/`NO_PROXY`…; see
   * {@link proxiedFetch}). A fetch given here sends as it will: proxies are its business.
   */
  fetch?: AuthFetch;
  /**
   * The proxy of the default fetch, instead of the environment's: an `http(s)://` URL (credentials in
   * it), or `"direct"`. Pass the profile's `proxy`. Default: the environment's.
   */
  proxy?: string | undefined;
  /** The environment the default fetch reads the proxy variables from. Default `process.env`. */
  proxyEnv?: ProxySettings['env'];
  /**
   * The client certificate presented to the allowed {@link origins} (mutual TLS, RFC 8705): what a
   * certificate-bound access token needs (see `loadClientCertificate`). Default: the token source's
   * ({@link TokenSource.clientCertificate}: a manager's profile `tls_cert` / `tls_key`); given here, it
   * wins. Requests to other origins go without it. With {@link fetch} given, it is handed to that fetch
   * as undici's `dispatcher` (unless the call sets its own).
   */
  clientCert?: ClientCertificate | undefined;
  /** Extra CA certificates (PEM) the default fetch, and the client-certificate dispatcher, trust. */
  ca?: string | undefined;
}

/** Most redirects followed, as in the Fetch standard. */
const MAX_REDIRECTS = 20;
/** Headers dropped with the body when a redirect turns a request into a GET (Fetch: request-body-header names). */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

const ignore = (): void => {};

/** Lets go of a response we do not return, so its connection goes back to the pool. */
function discard(res: Response): void {
  if (res.body !== null && !res.bodyUsed) res.body.cancel().catch(ignore);
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** What the slow paths (redirects, the retry) need to know about one call. */
interface Call {
  /** The fetch of the requests that carry the token (over the client certificate, if any). */
  doFetch: AuthFetch;
  /** The fetch of redirect hops that do not carry the token (never over the client certificate). */
  plain: AuthFetch;
  core: RequestCore;
  /** The URL of the first hop, as a string. */
  href: string;
  /** The method, normalised as fetch does. */
  method: string;
  /** Settings for hops after the first (signal, keepalive… of the caller or its Request). */
  hopBase: RequestInit;
  /** True when the request has a body. */
  hasBody: boolean;
  /** A fresh copy of the body for another send; undefined when it cannot be sent twice. */
  replayBody: (() => RequestInit['body']) | undefined;
  /** Sends the first hop (again). */
  send: () => Promise<Response>;
  /** The headers of the first hop (the token is set here). */
  headers: Headers;
}

/**
 * Creates a `fetch` that sends the token of `source` to the allowed origins.
 *
 * - Adds `Authorization: <type> <token>` (`Bearer` unless the token says otherwise) to requests whose
 *   URL origin is in `origins`. A request to any other origin is sent as is, without the token
 *   (or refused, with `onForeignOrigin: 'throw'`).
 * - Keeps an `Authorization` header the caller set: such a request is a plain fetch, never retried.
 * - On a 401, or `WWW-Authenticate: Bearer error="invalid_token"`, for a request that carried the token:
 *   invalidates that token, gets a new one and sends the request once more — exactly once; the answer
 *   to the second attempt is returned whatever it is. The body of the first 401 is cancelled. Many
 *   concurrent 401s for the same token cause one renewal (the manager's `invalidate` is idempotent per
 *   token and its single flight is shared). If getting the new token fails, that error is thrown.
 * - A body that cannot be sent twice — a `ReadableStream` or async iterable passed as `init.body` — is
 *   not retried: the 401 is returned as is (the token is still invalidated, so the next call gets a new
 *   one). Strings, `URLSearchParams`, `Blob`, `ArrayBuffer`/typed arrays and `FormData` are replayed. A
 *   `Request` with a body is cloned before the first attempt and replayed from the clone.
 * - Redirects are followed by authFetch itself (see the module documentation): a redirect to an origin
 *   outside `origins` never carries the token. The returned response's `url` is the final URL and
 *   `redirected` is `true` after a redirect, as with fetch.
 *
 * The warm path (token cached in memory) costs one `Headers` copy and one init object over a plain fetch.
 *
 * @example
 * ```ts
 * import { createTokenManager, createAuthFetch, originsFromProfile } from 'tokenward';
 *
 * const profile = { provider: 'acronis', datacenter_url: 'https://eu2-cloud.acronis.com',
 *                   client_id: 'env:ACRONIS_ID', client_secret: 'env:ACRONIS_SECRET' } as const;
 * const manager = await createTokenManager(profile);
 * const authFetch = createAuthFetch(manager, { origins: originsFromProfile(profile) });
 * const res = await authFetch(`https://eu2-cloud.acronis.com/api/2/clients/${id}`);
 * console.log(res.status, await res.json());
 * ```
 * @throws ConfigError / InsecureEndpointError (at creation) for an empty or invalid `origins` list.
 */
export function createAuthFetch(source: TokenManager | TokenSource, options: AuthFetchOptions): AuthFetch {
  const core = new RequestCore(source, options);
  const sender = options.fetch ?? proxiedFetch(tlsOf(options));
  // The fetch of the requests that carry the token: over the client certificate, when there is one.
  const certified = new CertifiedTransport(source, options.clientCert, (cert) => certSender(options, cert));

  return async function authFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const doFetch: AuthFetch = sender;
    const request = typeof input === 'string' || input instanceof URL ? undefined : input;
    const href =
      typeof input === 'string' ? input : request === undefined ? (input as URL).href : request.url;
    const headers = new Headers(init?.headers ?? request?.headers);
    if (core.route(href, headers.has('authorization')) === 'plain') return doFetch(input, init);
    if (request?.bodyUsed === true) return doFetch(input, init); // fails as fetch fails: nothing to send

    const signal = init?.signal ?? request?.signal ?? undefined;
    const method = methodOf(init, request);
    const target = { method, url: href };
    const first = core.attach(target, await core.token(signal));
    let attachment = first instanceof Promise ? await first : first; // no extra await on the warm path
    setAll(headers, attachment.headers);
    const over = certified.get();
    const bound = (over instanceof Promise ? await over : over) ?? sender;
    const redirect = init?.redirect ?? request?.redirect ?? 'follow';
    const follow = redirect === 'follow';
    const attemptInit: RequestInit = follow ? { ...init, headers, redirect: 'manual' } : { ...init, headers };
    // A Request's own body is read by the first send: keep a clone for a retry or a 307/308 hop.
    const spare =
      request !== undefined && request.body !== null && init?.body === undefined
        ? request.clone()
        : undefined;

    const res = await bound(input, attemptInit);
    const redirected = follow && isRedirect(res.status);
    if (!redirected && res.status < 400) {
      if (core.observes) core.observe(attachment, responseInfo(res, href, true));
      return res; // the warm path ends here
    }

    const call = describeCall(input, init, request, spare, bound, core, href, method, headers, attemptInit);
    call.plain = sender;
    let final = res;
    let carried = true;
    let url = href;
    if (redirected) ({ res: final, carried, url } = await followRedirects(call, res, attachment));
    const replayable = (): boolean => !call.hasBody || call.replayBody !== undefined;
    if (!core.settle(attachment, responseInfo(final, url, carried), replayable)) return final;

    discard(final);
    attachment = await core.attach(target, await core.token(signal));
    setAll(headers, attachment.headers);
    const second = await call.send();
    if (follow && isRedirect(second.status)) return (await followRedirects(call, second, attachment)).res;
    if (core.observes) core.observe(attachment, responseInfo(second, href, true));
    return second;
  };
}

function tlsOf(options: AuthFetchOptions): ProxiedFetchOptions {
  const o: ProxiedFetchOptions = { proxy: options.proxy, env: options.proxyEnv };
  if (options.ca !== undefined) o.ca = options.ca;
  return o;
}

/** The fetch of requests that carry the token, over `clientCert`. */
function certSender(options: AuthFetchOptions, clientCert: ClientCertificate): AuthFetch {
  if (options.fetch === undefined) return proxiedFetch({ ...tlsOf(options), clientCert });
  const given = options.fetch;
  let dispatcher: Promise<unknown> | undefined;
  return async (input, init) => {
    if (init !== undefined && 'dispatcher' in init) return given(input, init);
    dispatcher ??= proxyDispatcher({ ...tlsOf(options), clientCert });
    // Node's fetch takes undici's `dispatcher` (its DOM type does not list it).
    return given(input, { ...init, dispatcher: await dispatcher } as RequestInit);
  };
}

function setAll(headers: Headers, values: Readonly<Record<string, string>>): void {
  for (const name in values) headers.set(name, values[name] as string);
}

/** The core's view of a fetch Response. */
function responseInfo(res: Response, url: string, carried: boolean): ResponseInfo {
  return {
    status: res.status,
    header: (name) => res.headers.get(name) ?? undefined,
    url,
    carried,
  };
}

/** The method, normalised as fetch does. */
function methodOf(init: RequestInit | undefined, request: Request | undefined): string {
  const rawMethod = init?.method ?? request?.method ?? 'GET';
  const upper = rawMethod.toUpperCase();
  return NORMALISED_METHODS.has(upper) ? upper : rawMethod;
}

function describeCall(
  input: string | URL | Request,
  init: RequestInit | undefined,
  request: Request | undefined,
  spare: Request | undefined,
  doFetch: AuthFetch,
  core: RequestCore,
  href: string,
  method: string,
  headers: Headers,
  attemptInit: RequestInit,
): Call {
  let hasBody: boolean;
  let replayBody: Call['replayBody'];
  let send: Call['send'];
  if (init?.body !== undefined && init.body !== null) {
    hasBody = true;
    const body = init.body;
    replayBody = isReplayableBody(body) ? () => body : undefined;
    send = () => doFetch(input, attemptInit);
  } else if (spare !== undefined) {
    hasBody = true;
    replayBody = () => spare.clone().body;
    // The first send consumed `input`'s body: send a clone of the spare, which keeps its own copy.
    send = () => doFetch(spare.clone(), attemptInit);
  } else {
    hasBody = false;
    replayBody = undefined;
    send = () => doFetch(input, attemptInit);
  }
  const hopBase: RequestInit =
    request === undefined ? { ...init } : { signal: request.signal, keepalive: request.keepalive, ...init };
  return { doFetch, plain: doFetch, core, href, method, hopBase, hasBody, replayBody, send, headers };
}

/**
 * Follows the redirects of `res` (the answer to the first hop of `call`). Returns the final response, its
 * URL and whether its request carried the token.
 * @throws NetworkError as fetch would fail: too many redirects, a Location that is not an http(s) URL,
 *   or a 307/308 that needs a body that cannot be sent again.
 */
async function followRedirects(
  call: Call,
  first: Response,
  attachment: Attachment,
): Promise<{ res: Response; carried: boolean; url: string }> {
  let res = first;
  let url = call.href;
  let method = call.method;
  let withBody = call.hasBody;
  let carried = true;
  const headers = new Headers(call.headers);
  for (let hops = 1; ; hops++) {
    const location = res.headers.get('location');
    if (location === null) return { res, carried, url };
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      discard(res);
      throw new NetworkError(
        safeUrl(url),
        `${safeUrl(url)} redirected to a Location that is not a valid URL`,
      );
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      discard(res);
      throw new NetworkError(safeUrl(url), `${safeUrl(url)} redirected to a ${next.protocol} URL`);
    }
    if (hops > MAX_REDIRECTS) {
      discard(res);
      throw new NetworkError(safeUrl(url), `${safeUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
    }
    const status = res.status;
    discard(res);
    if (
      ((status === 301 || status === 302) && method === 'POST') ||
      (status === 303 && method !== 'GET' && method !== 'HEAD')
    ) {
      method = 'GET';
      withBody = false;
      for (const h of BODY_HEADERS) headers.delete(h);
    }
    let body: Exclude<RequestInit['body'], undefined> = null;
    if (withBody) {
      if (call.replayBody === undefined) {
        throw new NetworkError(
          safeUrl(url),
          `${safeUrl(url)} answered ${status}, which needs the request body sent again, but the body is a stream that can be sent only once`,
        );
      }
      body = call.replayBody() ?? null;
    }
    // The core's redirect policy: the caller's credentials never follow a hop to another origin, and the
    // token goes only to an allowed one (with headers prepared for that hop).
    const policy = call.core.hop(url, next);
    for (const h of policy.drop) headers.delete(h);
    carried = policy.carry;
    const hopTarget = { method, url: next };
    if (carried) setAll(headers, (await call.core.attach(hopTarget, attachment.token)).headers);
    else for (const h in attachment.headers) headers.delete(h);
    url = next.href;
    const hopInit: RequestInit = { ...call.hopBase, method, headers, body, redirect: 'manual' };
    if (body instanceof ReadableStream) hopInit.duplex = 'half';
    res = await (carried ? call.doFetch : call.plain)(url, hopInit);
    if (!isRedirect(res.status)) {
      Object.defineProperty(res, 'redirected', { value: true, configurable: true });
      return { res, carried, url };
    }
  }
}
