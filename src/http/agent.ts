/**
 * undici, loaded lazily (the CLI's warm path never pays for it), and one connection pool per TLS setting.
 * @module
 */

import { createHash, X509Certificate } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import type { Dispatcher } from 'undici';
import { LOCAL_FILE_LIMITS, LocalReadError, readLocalFile } from '../config/local-file.js';
import { ConfigError, printWarningOnce, type WarningHandler } from '../errors.js';
import { registerBasicCredentials, registerUrlPassword } from '../redact.js';
import type { ClientCertificate } from './client-cert.js';
import { type ProxyRoute, type ProxySettings, proxyFor } from './proxy.js';
import { caWithDefaults } from './trust.js';

/** The parts of undici the HTTP layer uses. */
export type Undici = typeof import('undici');

let undiciPromise: Promise<Undici> | undefined;

/** Loads undici once. */
export function loadUndici(): Promise<Undici> {
  undiciPromise ??= import('undici');
  return undiciPromise;
}

const agents = new Map<string, Dispatcher>();

/** Origins already warned about, per warning hook. */
const tlsWarned = new WeakMap<WarningHandler, Set<string>>();

/**
 * Gives the TLS-verification-off warning (code `TLS_VERIFY_DISABLED`) once per origin and warning hook:
 * a long-lived manager warns once per origin, not on every request. Without a hook it is printed once
 * to stderr ({@link printWarningOnce}).
 */
export function warnInsecureTlsOnce(origin: string, message: string, onWarning?: WarningHandler): void {
  const hook = onWarning ?? printWarningOnce;
  let seen = tlsWarned.get(hook);
  if (seen === undefined) {
    seen = new Set();
    tlsWarned.set(hook, seen);
  }
  if (seen.has(origin)) return;
  seen.add(origin);
  try {
    hook({ code: 'TLS_VERIFY_DISABLED', message });
  } catch {
    // A throwing warning hook must not break the request.
  }
}

/** The TLS settings that select a connection pool. */
export interface TlsSettings {
  /** Extra CA certificates (PEM). */
  ca?: string;
  /** Skip certificate verification. */
  insecureSkipTlsVerify?: boolean;
  /** The client certificate presented to every server (mutual TLS, RFC 8705). */
  clientCert?: ClientCertificate;
}

/** The addresses `localhost` stands for. */
const LOCALHOST: readonly LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/**
 * The `lookup` of every connection: `localhost` (any case, with or without a trailing dot) is answered
 * with 127.0.0.1 and ::1 without asking any resolver, so the plain-`http://` exemption for `localhost`
 * cannot be turned into a request elsewhere by `/etc/hosts`, NSS or DNS; every other name goes to
 * `dns.lookup` as usual.
 */
export function pinnedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  if (/^localhost\.?$/i.test(hostname)) {
    const f = options.family;
    const family = f === 4 || f === 'IPv4' ? 4 : f === 6 || f === 'IPv6' ? 6 : 0;
    const found = LOCALHOST.filter((a) => family === 0 || a.family === family);
    const first = found[0] ?? { address: '127.0.0.1', family: 4 };
    if (options.all === true) process.nextTick(callback, null, found.length > 0 ? found : [first]);
    else process.nextTick(callback, null, first.address, first.family);
    return;
  }
  if (options.all === true) {
    dnsLookup(hostname, options as LookupAllOptions, (err, addresses) => callback(err, addresses));
  } else {
    dnsLookup(hostname, options, (err, address, family) => callback(err, address, family));
  }
}

/**
 * The dispatcher for these TLS settings and, when given, this proxy: one cached undici `Agent` per
 * (ca, insecure, client certificate) combination, and one `ProxyAgent` per (proxy, ca, insecure, client
 * certificate), so connections are reused
 * across requests. Through a proxy, an `https:` target is reached through a `CONNECT` tunnel, with TLS
 * to the target verified end to end (the same `ca`); an `http:` target through an `http:` proxy is sent
 * in absolute form, as curl does.
 */
export async function dispatcherFor(tls: TlsSettings, proxy?: ProxyRoute): Promise<Dispatcher> {
  return pickDispatcher(await loadUndici(), tls, proxy);
}

function pickDispatcher(undici: Undici, tls: TlsSettings, proxy: ProxyRoute | undefined): Dispatcher {
  const insecure = tls.insecureSkipTlsVerify === true;
  // An empty `ca` is no `ca` (caWithDefaults): the same pool, the same trust.
  const key = `${insecure ? 'insecure' : 'verify'}\n${tls.ca ?? ''}\n${proxy?.uri ?? ''}\n${certKey(tls.clientCert)}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    const connect: {
      ca?: string[];
      rejectUnauthorized: boolean;
      lookup: typeof pinnedLookup;
      cert?: string;
      key?: string;
    } = {
      rejectUnauthorized: !insecure,
      lookup: pinnedLookup,
    };
    if (tls.clientCert !== undefined) {
      connect.cert = tls.clientCert.cert;
      connect.key = tls.clientCert.key;
    }
    // Node replaces its default trust when `ca` is given: keep it and add the extra ones.
    const ca = caWithDefaults(tls.ca);
    if (ca !== undefined) connect.ca = ca;
    if (proxy === undefined) {
      agent = new undici.Agent({ connect, keepAliveTimeout: 4_000 });
    } else {
      registerProxyCredentials(proxy.uri);
      agent = new undici.ProxyAgent({
        uri: proxy.uri,
        // TLS to the target (inside the tunnel) and to an https:// proxy: the same trust.
        requestTls: connect,
        // The client certificate is for the endpoint, not for the proxy.
        proxyTls: { ...withoutClientCert(connect), rejectUnauthorized: true },
        proxyTunnel: false,
        keepAliveTimeout: 4_000,
      });
    }
    agents.set(key, agent);
  }
  return agent;
}

/** The part of an agent's cache key for a client certificate: a hash, so no key material is a map key. */
function certKey(c: ClientCertificate | undefined): string {
  return c === undefined ? '' : createHash('sha256').update(c.cert).update('\0').update(c.key).digest('hex');
}

function withoutClientCert<T extends { cert?: string; key?: string }>(o: T): Omit<T, 'cert' | 'key'> {
  const { cert: _c, key: _k, ...rest } = o;
  return rest;
}

/** Registers a proxy URL's password, and the `Proxy-Authorization: Basic` value made of it, for redaction. */
function registerProxyCredentials(uri: string): void {
  registerUrlPassword(uri);
  try {
    const u = new URL(uri);
    if (u.username !== '' || u.password !== '') {
      const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      registerBasicCredentials(Buffer.from(pair).toString('base64'));
    }
  } catch {
    // not a URL: proxyFor never hands one over
  }
}

/**
 * A dispatcher that sends each request the way {@link proxyFor} says for its origin: through the
 * profile's `proxy`, through the environment's (`HTTPS_PROXY`, `NO_PROXY`… read at each request), or
 * direct. For `fetch(url, { dispatcher })`, undici's `request`, and as the base of the undici interceptor
 * (`(await proxyDispatcher()).compose(tokenwardInterceptor(…))`). Direct requests go through the same
 * connection pool as token requests.
 *
 * @throws ConfigError (when a request is dispatched) for a proxy URL that is not `http://` or `https://`.
 */
export async function proxyDispatcher(settings: ProxySettings & TlsSettings = {}): Promise<Dispatcher> {
  const undici = await loadUndici();
  const tls: TlsSettings = {};
  if (settings.ca !== undefined) tls.ca = settings.ca;
  if (settings.insecureSkipTlsVerify === true) tls.insecureSkipTlsVerify = true;
  if (settings.clientCert !== undefined) tls.clientCert = settings.clientCert;
  class ProxyRouter extends undici.Dispatcher {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const target = new URL(String(options.origin));
      return pickDispatcher(undici, tls, proxyFor(target, settings)).dispatch(options, handler);
    }
    // Pools are shared with every other user of these settings; closeAgents() closes them.
    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | undefined {
      if (callback === undefined) return Promise.resolve();
      queueMicrotask(callback);
      return undefined;
    }
    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
      const callback = typeof a === 'function' ? a : b;
      if (callback === undefined) return Promise.resolve();
      queueMicrotask(callback);
      return undefined;
    }
  }
  return new ProxyRouter();
}

/** Closes every cached agent (for tests and clean shutdown). */
export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => undefined)));
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads a `ca_file`: a regular file of at most 1 MiB, read within 10 s, holding at least one PEM
 * certificate, every one of which must parse. Returns the certificates as PEM text.
 *
 * @throws ConfigError (key `ca_file`) when the file cannot be read, is not a regular file, is too large,
 * or holds no certificate (for example a private key or a DER file) or a broken one.
 */
export async function loadCaFile(path: string, key = 'ca_file'): Promise<string> {
  let text: string;
  try {
    text = (await readLocalFile(path, { maxBytes: LOCAL_FILE_LIMITS.caFileBytes })).toString('latin1');
  } catch (err) {
    const reason = err instanceof LocalReadError ? err.reason : 'cannot be read';
    throw new ConfigError(`${path} ${reason}`, { key });
  }
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new ConfigError(
      `${path} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); give the CA certificate(s) that sign the server's certificate, in PEM`,
      { key },
    );
  }
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError(`certificate ${i + 1} of ${blocks.length} in ${path} does not parse`, { key });
    }
  }
  return blocks.join('\n');
}
