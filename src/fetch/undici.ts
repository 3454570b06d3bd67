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
import type { TokenManager } from '../manager/token-manager.js';
import { foreignOriginError, OriginScope } from './origins.js';
import { AuthorizationValue, type AuthRequestOptions, isTokenRejected, type TokenSource } from './shared.js';

/** Options of {@link tokenwardInterceptor}. */
export interface TokenwardInterceptorOptions extends AuthRequestOptions {}

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

/**
 * Turns list-of-pairs and iterable headers into undici's flat `[name, value, …]` form (read once);
 * undefined when `headers` are fine as they are (none, a record, or already flat).
 */
function normaliseHeaders(headers: Headers_): FlatHeaders | undefined {
  if (headers === null || headers === undefined || typeof headers !== 'object') return undefined;
  if (Array.isArray(headers)) {
    if (headers.length === 0 || !Array.isArray(headers[0])) return undefined;
  } else if (!isIterable(headers)) return undefined;
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

/** A copy of normalised `headers` with `authorization: value` added (the caller's object is not changed). */
function withAuthorization(headers: Headers_, value: string): NonNullable<Headers_> {
  if (headers === null || headers === undefined) return { authorization: value };
  if (Array.isArray(headers)) return [...(headers as FlatHeaders), 'authorization', value];
  return { ...(headers as IncomingHttpHeaders), authorization: value };
}

/** Bodies undici can send again as they are. */
function isReplayable(body: Dispatcher.DispatchOptions['body']): boolean {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array;
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
 * One token-bearing request: gets the token, dispatches, and on a rejected token swallows the 401,
 * invalidates, gets a new token and dispatches once more. Everything else passes through to the
 * caller's handler.
 */
class AuthorizedDispatch implements Dispatcher.DispatchHandler {
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #source: TokenSource;
  readonly #auth: AuthorizationValue;
  readonly #retryOn401: boolean;
  #token = '';
  #retried = false;
  #swallowing = false;

  constructor(
    dispatch: Dispatcher.Dispatch,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    source: TokenSource,
    auth: AuthorizationValue,
    retryOn401: boolean,
  ) {
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
    this.#source = source;
    this.#auth = auth;
    this.#retryOn401 = retryOn401;
  }

  start(): void {
    this.#source.getToken().then(
      (token) => this.#send(token),
      (err: unknown) => this.#fail(DETACHED, err),
    );
  }

  #send(token: { accessToken: string; tokenType: string }): void {
    try {
      const value = this.#auth.of(token);
      this.#token = token.accessToken;
      this.#dispatch({ ...this.#opts, headers: withAuthorization(this.#opts.headers, value) }, this);
    } catch (err) {
      this.#fail(DETACHED, err);
    }
  }

  #fail(controller: Dispatcher.DispatchController, err: unknown): void {
    this.#handler.onResponseError?.(controller, asError(err));
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
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
    if (
      !this.#retried &&
      statusCode >= 400 &&
      this.#retryOn401 &&
      isTokenRejected(statusCode, headers['www-authenticate'])
    ) {
      this.#retried = true;
      this.#source.invalidate(this.#token);
      if (isReplayable(this.#opts.body)) {
        // Read the 401 to its end (the connection stays reusable), then send again.
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
    this.#source.getToken().then(
      (token) => this.#send(token),
      (err: unknown) => this.#fail(controller, err),
    );
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
  const scope = new OriginScope(options.origins);
  const retryOn401 = options.retryOn401 !== false;
  const throwForeign = options.onForeignOrigin === 'throw';
  const auth = new AuthorizationValue();
  const tokens: TokenSource = source;
  return (dispatch) =>
    function tokenwardDispatch(
      opts: Dispatcher.DispatchOptions,
      handler: Dispatcher.DispatchHandler,
    ): boolean {
      const origin = opts.origin;
      if (origin === undefined || !scope.allowsOrigin(origin)) {
        if (throwForeign && origin !== undefined) {
          const err = foreignOriginError(requestUrl(origin, opts.path), scope);
          queueMicrotask(() => handler.onResponseError?.(DETACHED, err));
          return true;
        }
        return dispatch(opts, handler);
      }
      const flat = normaliseHeaders(opts.headers);
      const own = flat === undefined ? opts : { ...opts, headers: flat };
      if (hasAuthorization(own.headers)) return dispatch(own, handler);
      new AuthorizedDispatch(dispatch, own, handler, tokens, auth, retryOn401).start();
      return true;
    };
}
