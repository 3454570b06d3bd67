/**
 * Which proxy a request goes through: a profile's `proxy`, else the environment's, as curl reads it —
 * `https_proxy`/`HTTPS_PROXY` for https targets, `http_proxy` for http targets (lower case only: an
 * upper-case `HTTP_PROXY` can be set by a request header under CGI, "httpoxy"), `all_proxy`/`ALL_PROXY`
 * for both when those are unset, and `no_proxy`/`NO_PROXY` (lower case wins) to go direct. No undici
 * here: the decision costs nothing until a proxy is used.
 *
 * Loopback: a target on loopback (`localhost`, 127.0.0.0/8, ::1) goes through a proxy only when the
 * proxy is on loopback too. Through a proxy elsewhere, `localhost` would be the proxy's host and a
 * plain-http request would cross the network in clear; and an `HTTPS_PROXY` that CI points at its
 * corporate proxy leaves a developer's or a test's loopback servers reachable.
 * @module
 */

import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** Environment variables, as `process.env`. */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** Where a request's proxy comes from. */
export interface ProxySettings {
  /**
   * The proxy for every request, instead of the environment's `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`:
   * an `http://` or `https://` URL, credentials in it (`http://user:pw@proxy:3128`); `"direct"` for no
   * proxy at all. `NO_PROXY` applies to it too. Default: the environment's.
   */
  proxy?: string | undefined;
  /** The environment the proxy variables are read from, at each request. Default `process.env`. */
  env?: ProxyEnv | undefined;
}

/** The proxy chosen for one request. */
export interface ProxyRoute {
  /** The proxy URL, with its credentials. Never shown. */
  readonly uri: string;
  /** The proxy URL without credentials, for messages. */
  readonly shown: string;
  /** Where it came from: `proxy` (the profile key) or the variable's name (`HTTPS_PROXY`…). */
  readonly source: string;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The value of the first of `names` that is set and not empty, with its name. */
function firstSet(env: ProxyEnv, names: readonly string[]): [string, string] | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return [name, value.trim()];
  }
  return undefined;
}

/** Strips the brackets of an IPv6 host. */
function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** True for `localhost` (with or without a trailing dot), 127.0.0.0/8 and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = bare(hostname).toLowerCase();
  if (/^localhost\.?$/.test(h)) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1';
}

/** A proxy URL without its credentials. */
export function shownProxyUrl(uri: string): string {
  try {
    const u = new URL(uri);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Parses a proxy setting: a URL (`http://` or `https://`), or `host:port`, read as `http://host:port`
 * as curl does.
 * @throws ConfigError (key `source`) for anything else; the message never holds the credentials.
 */
export function parseProxyUrl(value: string, source: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ConfigError('is not a proxy URL (expected http://host:port)', { key: source });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`proxy scheme ${u.protocol} is not supported; use an http:// or https:// proxy`, {
      key: source,
    });
  }
  if (u.hostname === '') throw new ConfigError('names no proxy host', { key: source });
  return u;
}

/** One parsed `NO_PROXY`. */
interface NoProxy {
  all: boolean;
  names: Array<{ host: string; port: number }>;
  addresses: BlockList;
}

let lastNoProxy: [string, NoProxy] | undefined;

/**
 * Parses `NO_PROXY`: entries separated by commas or spaces; `*` alone for every host; a host name
 * (`example.com` matches it and its subdomains; a leading `.` or `*.` is ignored); an IP address or a
 * CIDR block (`10.0.0.0/8`, `fd00::/8`); each optionally with `:port` (`[::1]:8080` for IPv6).
 */
function parseNoProxy(value: string): NoProxy {
  if (lastNoProxy?.[0] === value) return lastNoProxy[1];
  const out: NoProxy = { all: false, names: [], addresses: new BlockList() };
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      out.all = true;
      continue;
    }
    const cidr = /^\[?([0-9a-f:.]+)\]?\/(\d{1,3})$/.exec(entry);
    if (cidr !== null) {
      const family = isIP(cidr[1] ?? '');
      const prefix = Number(cidr[2]);
      if (family !== 0 && prefix <= (family === 4 ? 32 : 128)) {
        out.addresses.addSubnet(cidr[1] ?? '', prefix, family === 4 ? 'ipv4' : 'ipv6');
      }
      continue;
    }
    let host = entry;
    let port = 0;
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (withPort !== null) {
      host = withPort[1] ?? '';
      port = Number(withPort[2]);
    }
    host = bare(host)
      .replace(/^\*?\./, '')
      .replace(/\.$/, '');
    if (host !== '') out.names.push({ host, port });
  }
  lastNoProxy = [value, out];
  return out;
}

/** True when `NO_PROXY` says the target goes direct. */
function excluded(noProxy: NoProxy, target: URL): boolean {
  if (noProxy.all) return true;
  const host = bare(target.hostname).toLowerCase().replace(/\.$/, '');
  const port = target.port === '' ? (DEFAULT_PORTS[target.protocol] ?? 0) : Number(target.port);
  const family = isIP(host);
  if (family !== 0 && noProxy.addresses.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
  return noProxy.names.some(
    (e) => (e.port === 0 || e.port === port) && (host === e.host || host.endsWith(`.${e.host}`)),
  );
}

/**
 * The proxy for a request to `target`, or `undefined` to go direct: the profile's `proxy` (`"direct"`:
 * none), else the environment's (see the module documentation), unless `NO_PROXY` excludes the target
 * or the target is on loopback and the proxy is not.
 * @throws ConfigError naming `proxy` or the variable for a proxy that is not an http(s) URL.
 */
export function proxyFor(target: URL, settings: ProxySettings = {}): ProxyRoute | undefined {
  const env = settings.env ?? process.env;
  let source: string;
  let value: string;
  if (settings.proxy !== undefined) {
    if (settings.proxy.trim().toLowerCase() === 'direct') return undefined;
    source = 'proxy';
    value = settings.proxy.trim();
  } else {
    const names =
      target.protocol === 'https:'
        ? ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']
        : ['http_proxy', 'all_proxy', 'ALL_PROXY'];
    const found = firstSet(env, names);
    if (found === undefined) return undefined;
    [source, value] = found;
  }
  const noProxy = env['no_proxy'] ?? env['NO_PROXY'];
  if (noProxy !== undefined && noProxy.trim() !== '' && excluded(parseNoProxy(noProxy), target))
    return undefined;
  const proxy = parseProxyUrl(value, source);
  if (isLoopbackHost(target.hostname) && !isLoopbackHost(proxy.hostname)) return undefined;
  return { uri: proxy.href, shown: `${proxy.protocol}//${proxy.host}`, source };
}

/**
 * True when a request may go through a proxy at all: a `proxy` other than `"direct"` is set, or the
 * environment names one. Cheap: lets a caller skip the proxy machinery on its warm path.
 */
export function mayProxy(settings: ProxySettings = {}): boolean {
  if (settings.proxy !== undefined) return settings.proxy.trim().toLowerCase() !== 'direct';
  const env = settings.env ?? process.env;
  return firstSet(env, ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'all_proxy', 'ALL_PROXY']) !== undefined;
}

/** The status of a proxy's refusal, from undici's errors (`Proxy response (407) !== 200…`). */
export function proxyStatusOf(e: unknown): number | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    const m = /Proxy (?:response|Authentication Required) \((\d{3})\)/.exec(cur.message);
    if (m !== null) return Number(m[1]);
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
