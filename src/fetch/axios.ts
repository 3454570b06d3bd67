/**
 * axios interceptors: a request interceptor that sets the token for allowed origins, and a response
 * interceptor that retries once on 401. axios stays an optional peer: only its types are imported.
 * @module
 */

import { Agent as HttpsAgent } from 'node:https';
import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { pinnedLookup } from '../http/agent.js';
import type { ClientCertificate } from '../http/client-cert.js';
import { caWithDefaults } from '../http/trust.js';
import type { TokenManager } from '../manager/token-manager.js';
import {
  type Attachment,
  CertifiedTransport,
  isReplayableAxiosData,
  RequestCore,
  type ResponseInfo,
} from './core.js';
import type { AuthRequestOptions, TokenSource } from './shared.js';

/** Options of {@link attachAxios}. */
export interface AttachAxiosOptions extends AuthRequestOptions {
  /**
   * The client certificate presented to the allowed {@link AuthRequestOptions.origins} (mutual TLS,
   * RFC 8705): what a certificate-bound access token needs (see `loadClientCertificate`). Default: the
   * token source's ({@link TokenSource.clientCertificate}: a manager's profile `tls_cert` / `tls_key`);
   * given here, it wins. The requests that carry the token get an `httpsAgent` with this
   * certificate (one per {@link attachAxios}, replacing the instance's for those requests); requests
   * to other origins, and redirect hops to them, keep the instance's own agent.
   */
  clientCert?: ClientCertificate | undefined;
  /**
   * Extra CA certificates (PEM) the client-certificate agent trusts, besides Node's (with
   * {@link clientCert}).
   */
  ca?: string | undefined;
}

/** What {@link attachAxios} returns. */
export interface AxiosAttachment {
  /** Removes both interceptors from the instance (and closes the client-certificate agent's connections). */
  detach(): void;
}

/**
 * The config property where tokenward notes what it set. A string key, because axios copies a config's
 * own keys when a request is sent again.
 */
const MARK = '_tokenward';

/** tokenward's note on a request config. */
interface Mark {
  /** What the core attached. */
  attachment: Attachment;
  /** The exact Authorization value set, to tell it from one the caller set. */
  header: string;
  /** True once the request was sent again after a 401. */
  retried: boolean;
  /** The config's own `httpsAgent`, replaced by the client-certificate one (put back if the config goes elsewhere). */
  httpsAgent?: unknown;
}

type Marked = InternalAxiosRequestConfig & { [MARK]?: Mark };
type BeforeRedirect = NonNullable<InternalAxiosRequestConfig['beforeRedirect']>;

function headerValue(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const v = typeof h.get === 'function' ? h.get(name) : h[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.join(', ');
  return undefined;
}

/** The Authorization value the final request actually carried, when the adapter tells (Node's http). */
function sentAuthorization(res: AxiosResponse): string | undefined | null {
  const req = res.request as { getHeader?: (name: string) => unknown } | undefined;
  if (typeof req?.getHeader !== 'function') return null; // unknown: another adapter
  const v = req.getHeader('authorization');
  return typeof v === 'string' ? v : undefined;
}

/** Lets go of a response body we do not return (a stream, with `responseType: 'stream'`). */
function discard(data: unknown): void {
  if (typeof data !== 'object' || data === null) return;
  const d = data as { destroy?: () => void; cancel?: () => Promise<void> };
  if (typeof d.destroy === 'function') d.destroy();
  else if (data instanceof ReadableStream) data.cancel().catch(() => {});
}

function responseOf(err: unknown): AxiosResponse | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const res = (err as { response?: unknown }).response;
  if (typeof res !== 'object' || res === null) return undefined;
  return typeof (res as { status?: unknown }).status === 'number' ? (res as AxiosResponse) : undefined;
}

/**
 * Adds tokenward to an axios instance.
 *
 * - Request interceptor: a request whose URL (`baseURL` + `url` + `params`) has an allowed origin gets
 *   `Authorization: <type> <token>`, unless the caller set an Authorization header. Other origins go
 *   out without the token (or are refused with `onForeignOrigin: 'throw'`).
 * - Response interceptor: a 401 (or `error="invalid_token"`) to a request that carried the token
 *   invalidates the token and sends the request once more with a new one. The retry is marked on the
 *   config (`_tokenward.retried`), so it cannot loop; the second answer is returned (or rejected) as is.
 *   A stream body (`data` that is a stream) is not retried. Works whether the 401 arrives as a rejection
 *   (the default `validateStatus`) or as a response.
 * - Redirects (Node http adapter): a `beforeRedirect` guard drops the Authorization header on any hop
 *   whose origin is not allowed, whatever axios/follow-redirects would do; a `beforeRedirect` of your
 *   own still runs first.
 *
 * Interceptors you add after this one see the retried request twice (once inside the retry).
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { attachAxios, createTokenManager } from 'tokenward';
 *
 * const api = axios.create({ baseURL: 'https://api.example.com/v1' });
 * const manager = await createTokenManager(profile);
 * const { detach } = attachAxios(api, manager, { origins: ['https://api.example.com'] });
 * const { data } = await api.get('/items');
 * detach(); // when done
 * ```
 * @throws ConfigError / InsecureEndpointError (at attach time) for an empty or invalid `origins` list.
 */
export function attachAxios(
  instance: AxiosInstance,
  source: TokenManager | TokenSource,
  options: AttachAxiosOptions,
): AxiosAttachment {
  const core = new RequestCore(source, options);
  // The agent of the token-bearing requests when there is a client certificate (made on first use).
  const certified = new CertifiedTransport(source, options.clientCert, (cert) =>
    clientCertAgent(cert, options.ca),
  );
  /** Our guard → the caller's own beforeRedirect it wraps. */
  const guards = new WeakMap<BeforeRedirect, BeforeRedirect | undefined>();

  /** A beforeRedirect that runs the caller's, then applies the core's redirect policy to the hop. */
  const guard = (
    previous: BeforeRedirect | undefined,
    attachment: Attachment,
    ownAgent: unknown,
    certAgent: HttpsAgent | undefined,
  ): BeforeRedirect => {
    const own = previous !== undefined && guards.has(previous) ? guards.get(previous) : previous;
    const fn: BeforeRedirect = (opts, responseDetails, requestDetails) => {
      own?.(opts, responseDetails, requestDetails);
      const to = redirectOrigin(opts);
      const policy = core.hop(requestDetails.url, to);
      // follow-redirects picks each hop's agent from `agents`: the certificate only to allowed origins.
      const agents = opts['agents'] as Record<string, unknown> | undefined;
      if (certAgent !== undefined && agents !== undefined) {
        opts['agents'] = { ...agents, https: policy.carry ? certAgent : ownAgent };
      }
      const headers = opts['headers'] as Record<string, unknown> | undefined;
      if (headers === undefined) return;
      const drop = new Set(policy.drop);
      const method = String(opts['method'] ?? requestDetails.method).toUpperCase();
      const next = policy.carry ? core.attach({ method, url: to }, attachment.token) : undefined;
      // follow-redirects cannot wait: a hop whose headers are still being computed goes without the token.
      if (next instanceof Promise) next.catch(() => {});
      const carried = next instanceof Promise ? undefined : next;
      if (carried === undefined) for (const name in attachment.headers) drop.add(name);
      const set = carried?.headers ?? {};
      for (const name of Object.keys(headers)) {
        const lower = name.toLowerCase();
        if (drop.has(lower) || lower in set) delete headers[name];
      }
      Object.assign(headers, set);
    };
    guards.set(fn, own);
    return fn;
  };

  const requestId = instance.interceptors.request.use(async (config) => {
    const c = config as Marked;
    const mark = c[MARK];
    let url: string;
    try {
      url = instance.getUri(config);
    } catch {
      return config; // axios fails on it by itself
    }
    const current = config.headers.get('authorization');
    const ours = mark !== undefined && current === mark.header;
    const callerAuthorization =
      !ours && current !== undefined && current !== null && current !== false && current !== '';
    if (core.route(url, callerAuthorization) === 'plain') {
      if (ours) config.headers.delete('authorization'); // a reused config pointed elsewhere
      const certAgent = certified.made;
      if (mark !== undefined && certAgent !== undefined && config.httpsAgent === certAgent) {
        config.httpsAgent = mark.httpsAgent;
      }
      delete c[MARK]; // no token of ours went out: its 401 is not ours to answer
      return config;
    }
    const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
    const method = (config.method ?? 'get').toUpperCase();
    const attachment = await core.attach({ method, url }, await core.token(signal));
    const certAgent = await certified.get(); // after the token: a manager has built its client
    for (const name in attachment.headers) config.headers.set(name, attachment.headers[name] as string);
    const header = attachment.headers['authorization'] ?? '';
    const ownAgent: unknown =
      mark !== undefined && config.httpsAgent === certAgent ? mark.httpsAgent : config.httpsAgent;
    c[MARK] = { attachment, header, retried: mark?.retried === true, httpsAgent: ownAgent };
    if (certAgent !== undefined) config.httpsAgent = certAgent;
    c.beforeRedirect = guard(c.beforeRedirect, attachment, ownAgent, certAgent);
    return config;
  });

  /** The retried request when the core says our token was rejected and a retry is allowed; else undefined. */
  const retry = (res: AxiosResponse): Promise<AxiosResponse> | undefined => {
    const config = res.config as Marked | undefined;
    const mark = config?.[MARK];
    if (config === undefined || mark === undefined) return undefined;
    if (mark.retried && !core.observes) return undefined;
    const sent = sentAuthorization(res);
    const info: ResponseInfo = {
      status: res.status,
      header: (name) => headerValue(res.headers, name),
      // With Node's http adapter: did the final hop carry our token? (null: the adapter does not tell)
      carried: sent === null || sent === mark.header,
    };
    if (mark.retried) {
      core.observe(mark.attachment, info); // the answer to the retry: read, never retried again
      return undefined;
    }
    if (!core.settle(mark.attachment, info, () => isReplayableAxiosData(config.data))) return undefined;
    mark.retried = true;
    discard(res.data);
    return instance.request(config);
  };

  const responseId = instance.interceptors.response.use(
    (res) => retry(res) ?? res,
    (err: unknown) => {
      const res = responseOf(err);
      return (res === undefined ? undefined : retry(res)) ?? Promise.reject(err);
    },
  );

  return {
    detach() {
      instance.interceptors.request.eject(requestId);
      instance.interceptors.response.eject(responseId);
      certified.made?.destroy();
    },
  };
}

/** The `https.Agent` that presents `c` (verifying the server, loopback-pinned lookup; `ca` added). */
function clientCertAgent(c: ClientCertificate, ca: string | undefined): HttpsAgent {
  // Node replaces its default trust when `ca` is given: keep it and add the extra ones.
  const trusted = caWithDefaults(ca);
  return new HttpsAgent({
    cert: c.cert,
    key: c.key,
    keepAlive: true,
    rejectUnauthorized: true,
    lookup: pinnedLookup,
    ...(trusted === undefined ? {} : { ca: trusted }),
  });
}

/** The origin of the next hop, from follow-redirects' request options. */
function redirectOrigin(opts: Record<string, unknown>): string {
  const href = opts['href'];
  if (typeof href === 'string') return href;
  const protocol = String(opts['protocol'] ?? 'http:');
  const host = String(opts['hostname'] ?? opts['host'] ?? '');
  const port = opts['port'];
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${protocol}//${h}${port === undefined || port === '' || port === null ? '' : `:${String(port)}`}`;
}
