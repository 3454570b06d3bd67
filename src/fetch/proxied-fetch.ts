/**
 * A `fetch` that honours proxies: the global `fetch`, given a dispatcher that routes each request as
 * {@link proxyFor} says (a profile's `proxy`, else `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and
 * `NO_PROXY`). With no proxy set anywhere it is the global `fetch` itself, unchanged.
 * @module
 */

import type { Dispatcher } from 'undici';
import { proxyDispatcher, type TlsSettings } from '../http/agent.js';
import { mayProxy, type ProxySettings } from '../http/proxy.js';

/** Options of {@link proxiedFetch}: the proxy settings, and the TLS trust of requests it routes. */
export interface ProxiedFetchOptions extends ProxySettings, TlsSettings {}

/** `init` with undici's `dispatcher`, which Node's fetch takes (its DOM type does not list it). */
function withDispatcher(init: RequestInit | undefined, dispatcher: Dispatcher): RequestInit {
  // The same object to Node's fetch; its types come from `undici-types`, a copy of undici's own.
  return { ...init, dispatcher } as unknown as RequestInit;
}

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Returns a `fetch` that sends each request through the proxy that applies to it (see docs/fetch.md,
 * "Proxies"). The environment is read at each call, so a proxy set later is honoured; while none is set
 * (and none of `ca`, `insecureSkipTlsVerify`, `clientCert` is given), each call is
 * `globalThis.fetch(input, init)` as it is. `ca` / `insecureSkipTlsVerify` / `clientCert` (the client
 * certificate of mutual TLS) apply to direct and proxied requests alike. A `dispatcher` the
 * caller puts in `init` wins.
 * Through a proxy, https requests go through a `CONNECT` tunnel with TLS verified end to end.
 *
 * @example
 * ```ts
 * import { proxiedFetch } from 'tokenward';
 *
 * const fetchViaProxy = proxiedFetch({ proxy: 'http://proxy.internal:3128' });
 * const res = await fetchViaProxy('https://api.example.com/v1/health');
 * ```
 */
export function proxiedFetch(options: ProxiedFetchOptions = {}): Fetch {
  let dispatcher: Promise<Dispatcher> | undefined;
  // Own TLS trust needs the dispatcher even for direct requests.
  const ownTls =
    options.ca !== undefined || options.insecureSkipTlsVerify === true || options.clientCert !== undefined;
  return (input, init) => {
    if ((!ownTls && !mayProxy(options)) || (init !== undefined && 'dispatcher' in init))
      return globalThis.fetch(input, init);
    dispatcher ??= proxyDispatcher(options);
    return dispatcher.then((d) => globalThis.fetch(input, withDispatcher(init, d)));
  };
}
