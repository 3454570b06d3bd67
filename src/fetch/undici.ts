/**
 * An undici interceptor: `new Agent().compose(tokenwardInterceptor(manager, { origins }))` gives a
 * dispatcher whose requests (`request`, `stream`, `fetch` with `dispatcher`…) carry the token, with the
 * same origin rule and the same single retry on 401 as `createAuthFetch`.
 *
 * Only types are imported from undici: the interceptor is plain functions over `dispatch`.
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { proxyDispatcher } from '../http/agent.js';
import type { ClientCertificate } from '../http/client-cert.js';
import type { TokenManager } from '../manager/token-manager.js';
import {
  type Attachment,
  CertifiedTransport,
  isReplayableDispatchBody,
  RequestCore,
  type Route,
} from './core.js';
import type { AuthRequestOptions, TokenSource } from './shared.js';

/** Options of {@link tokenwardInterceptor}. */
export interface TokenwardInterceptorOptions extends AuthRequestOptions {
  /**
   * The client certificate presented to the allowed {@link AuthRequestOptions.origins} (mutual TLS,
   * RFC 8705): what a certificate-bound access token needs (see `loadClientCertificate`). Default: the
   * token source's ({@link TokenSource.clientCertificate}: a manager's profile `tls_cert` / `tls_key`);
   * given here, it wins. The requests that carry the token are then dispatched through a
   * connection pool with this certificate (one cached pool per certificate, shared with authFetch and
   * the token endpoint; proxies from `HTTPS_PROXY`/`NO_PROXY`), not through the dispatcher the
   * interceptor is composed on; every other request goes on that dispatcher, without the certificate.
   */
  clientCert?: ClientCertificate | undefined;
  /** Extra CA certificates (PEM) the client-certificate pool trusts (with {@link clientCert}). */
  ca?: string | undefined;
}

type Headers_ = Dispatcher.DispatchOptions['headers'];
type FlatHeaders = string[];

/** Stands in for a controller when an error is reported before any request went out. */
const DETACHED: Dispatcher.DispatchController = {
  aborted: false,
  paused: false,
  reason: null,
  abort: () => {},
  pause: () => {},
  resume: () => {},
};

function isIterable(h: object): h is Iterable<[string, string | string[] | undefined]> {
  return typeof (h as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** Turns list-of-pairs and iterable headers into undici's flat `[name, value, …]` form (read once). */
function normaliseHeaders(headers: Headers_): Headers_ {
  if (headers === null || headers === undefined || typeof headers !== 'object') return headers;
  if (Array.isArray(headers)) {
    if (headers.length === 0 || !Array.isArray(headers[0])) return headers;
  } else if (!isIterable(headers)) return headers;
  const flat: FlatHeaders = [];
  for (const [name, value] of headers as Iterable<[string, string | string[] | undefined]>) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  return flat;
}

/** True when normalised `headers` (flat list or record) has an Authorization header. */
function hasAuthorization(headers: Headers_): boolean {
  if (headers === null || headers === undefined) return false;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (typeof name === 'string' && name.length === 13 && name.toLowerCase() === 'authorization')
        return true;
    }
    return false;
  }
  for (const name of Object.keys(headers)) {
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      return (headers as IncomingHttpHeaders)[name] !== undefined;
    }
  }
  return false;
}

/** A copy of normalised `headers` with `added` set (the caller's object is not changed). */
function withHeaders(headers: Headers_, added: Readonly<Record<string, string>>): NonNullable<Headers_> {
  if (headers === null || headers === undefined) return { ...added };
  if (Array.isArray(headers)) {
    const flat = [...(headers as FlatHeaders)];
    for (const name in added) flat.push(name, added[name] as string);
    return flat;
  }
  return { ...(headers as IncomingHttpHeaders), ...added };
}

/** The method of a dispatch, upper case as fetch normalises the standard ones. */
function methodOf(opts: Dispatcher.DispatchOptions): string {
  return opts.method.toUpperCase();
}

/** One header of a response, several values joined. */
function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * What undici's redirect handler tells the handler it wraps: the URLs answered so far, the current one
 * last (`context.history`). Present when tokenward is composed outside undici's `redirect` interceptor.
 */
function historyOf(context: unknown): readonly URL[] | undefined {
  const h = (context as { history?: unknown } | null | undefined)?.history;
  return Array.isArray(h) && h.every((u) => u instanceof URL) ? (h as URL[]) : undefined;
}

/** The URL of a dispatch, for messages (the origin alone when the path does not parse). */
function requestUrl(origin: string | URL, path: string): string {
  try {
    return new URL(path, origin).href;
  } catch {
    return String(origin);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * One token-bearing request: gets the token, dispatches, and when the core says so (a rejected token)
 * swallows the answer, gets a new token and dispatches once more. Everything else passes through to
 * the caller's handler.
 */
class AuthorizedDispatch implements Dispatcher.DispatchHandler {
  /**
   * The dispatch of the token-bearing request: undefined until the first send (after the token) picks
   * it, a promise until the client-certificate pool is ready.
   */
  #dispatch: Dispatcher.Dispatch | Promise<Dispatcher.Dispatch> | undefined;
  /** The dispatch the interceptor is composed on: without a client certificate. */
  readonly #plain: Dispatcher.Dispatch;
  readonly #certified: CertifiedTransport<Dispatcher.Dispatch>;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #core: RequestCore;
  readonly #url: string;
  #attachment: Attachment | undefined;
  #history: readonly URL[] | undefined;
  #retried = false;
  #swallowing = false;

  constructor(
    plain: Dispatcher.Dispatch,
    certified: CertifiedTransport<Dispatcher.Dispatch>,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    core: RequestCore,
    url: string,
  ) {
    this.#plain = plain;
    this.#certified = certified;
    this.#opts = opts;
    this.#handler = handler;
    this.#core = core;
    this.#url = url;
  }

  start(controller: Dispatcher.DispatchController = DETACHED): void {
    this.#core
      .token()
      .then((token) => this.#core.attach({ method: methodOf(this.#opts), url: this.#url }, token))
      .then(
        (attachment) => this.#send(attachment),
        (err: unknown) => this.#fail(controller, err),
      );
  }

  #send(attachment: Attachment): void {
    if (this.#dispatch === undefined) {
      // Asked after the token: a manager has built its client, whose certificate this is.
      const over = this.#certified.get();
      const plain = this.#plain;
      this.#dispatch = over instanceof Promise ? over.then((d) => d ?? plain) : (over ?? plain);
    }
    const dispatch = this.#dispatch;
    if (dispatch instanceof Promise) {
      dispatch.then(
        (d) => {
          this.#dispatch = d;
          this.#send(attachment);
        },
        (err: unknown) => this.#fail(DETACHED, err),
      );
      return;
    }
    try {
      this.#attachment = attachment;
      dispatch({ ...this.#opts, headers: withHeaders(this.#opts.headers, attachment.headers) }, this);
    } catch (err) {
      this.#fail(DETACHED, err);
    }
  }

  #fail(controller: Dispatcher.DispatchController, err: unknown): void {
    this.#handler.onResponseError?.(controller, asError(err));
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#history = historyOf(context);
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const attachment = this.#attachment;
    const settles = !this.#retried && statusCode >= 400;
    if (attachment !== undefined && (settles || this.#core.observes)) {
      // Outside undici's redirect interceptor, the answer may come from a later hop: ours only if every
      // hop stayed on the first origin (the redirect handler drops Authorization on a change of origin).
      const history = this.#history;
      const first = history?.[0]?.origin;
      const info = {
        status: statusCode,
        header: (name: string) => headerOf(headers, name),
        url: history?.at(-1),
        carried: history === undefined || history.every((u) => u.origin === first),
      };
      if (!settles) this.#core.observe(attachment, info);
      else if (this.#core.settle(attachment, info, () => isReplayableDispatchBody(this.#opts.body))) {
        // Read the answer to its end (the connection stays reusable), then send again.
        this.#retried = true;
        this.#swallowing = true;
        return;
      }
    }
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#swallowing) this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.#swallowing) {
      this.#handler.onResponseEnd?.(controller, trailers);
      return;
    }
    this.#swallowing = false;
    this.start(controller);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    this.#swallowing = false;
    this.#handler.onResponseError?.(controller, err);
  }
}

/**
 * An undici interceptor that sends the token of `source` to the allowed origins.
 *
 * Requests whose `origin` is in `origins` get `Authorization: <type> <token>` unless they already have
 * an Authorization header. A 401 (or `error="invalid_token"`) to such a request invalidates the token;
 * when the body is replayable (none, a string, a Buffer/Uint8Array) the 401 is read and dropped, a new
 * token is obtained and the request is dispatched once more — never twice. A stream body is not
 * retried: its 401 reaches the caller. Requests to other origins pass through untouched (or fail with
 * `InsecureEndpointError` when `onForeignOrigin` is `'throw'`); so do requests without an `origin`
 * (a `Client`/`Pool` bound to one origin dispatches without one — compose on an `Agent`).
 *
 * Redirects: undici's `fetch` follows them above the dispatcher, so every hop passes through the
 * interceptor and only allowed origins get the token. With `request()`, compose undici's `redirect`
 * interceptor AFTER this one in the list (`compose(tokenwardInterceptor(…), interceptors.redirect(…))`):
 * each hop is then checked here.
 *
 * Mutual TLS: with a client certificate (`clientCert`, else the source's: a manager of a profile with
 * `tls_cert`), the requests that carry the token go through a pool that presents that certificate (what
 * a certificate-bound token, RFC 8705, needs); requests to other origins never see it.
 *
 * @example
 * ```ts
 * import { Agent, interceptors, request } from 'undici';
 * import { tokenwardInterceptor } from 'tokenward';
 *
 * const dispatcher = new Agent().compose(
 *   tokenwardInterceptor(manager, { origins: ['https://api.example.com'] }),
 *   interceptors.redirect({ maxRedirections: 5 }),
 * );
 * const { statusCode, body } = await request('https://api.example.com/v1/items', { dispatcher });
 * console.log(statusCode, await body.json());
 * ```
 * @throws ConfigError / InsecureEndpointError (at creation) for an empty or invalid `origins` list.
 */
export function tokenwardInterceptor(
  source: TokenManager | TokenSource,
  options: TokenwardInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  const core = new RequestCore(source, options);
  // The dispatch of the token-bearing requests when there is a client certificate: the cached pool
  // that presents it (made on first use).
  const certified = new CertifiedTransport(source, options.clientCert, async (clientCert) => {
    const d = await proxyDispatcher(
      options.ca === undefined ? { clientCert } : { clientCert, ca: options.ca },
    );
    return d.dispatch.bind(d);
  });
  return (dispatch) =>
    function tokenwardDispatch(
      opts: Dispatcher.DispatchOptions,
      handler: Dispatcher.DispatchHandler,
    ): boolean {
      const origin = opts.origin;
      if (origin === undefined) return dispatch(opts, handler); // a Client/Pool: no origin to check
      const headers = normaliseHeaders(opts.headers);
      const own = headers === opts.headers || headers === undefined ? opts : { ...opts, headers };
      let route: Route;
      try {
        route = core.route(origin, hasAuthorization(headers), () => requestUrl(origin, opts.path));
      } catch (err) {
        queueMicrotask(() => handler.onResponseError?.(DETACHED, asError(err)));
        return true;
      }
      if (route === 'plain') return dispatch(own, handler);
      new AuthorizedDispatch(dispatch, certified, own, handler, core, requestUrl(origin, opts.path)).start();
      return true;
    };
}
