/**
 * Endpoint URL checks: only `https://`, or `http://` to a loopback host, and never credentials in a URL.
 * @module
 */

import { ConfigError, InsecureEndpointError } from '../errors.js';

/**
 * A dotted-quad IPv4 address: the pattern of `node:net`'s `isIPv4` (Node 20, `internal/net`), here so
 * that checking a config's URL does not load `node:net` and the stream modules behind it (a warm
 * `tokenward token` checks its profile's URLs and opens no socket).
 */
const IPV4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^(?:${IPV4_SEG}\\.){3}${IPV4_SEG}$`);

/**
 * True when `hostname` (as `URL.hostname` gives it) is a loopback host: a literal address in
 * 127.0.0.0/8 or `::1` (also IPv4-mapped), or the name `localhost` itself (also `localhost.`).
 *
 * Other names are not loopback, not even `*.localhost` (RFC 6761 reserves them, but the system resolver
 * may send them to a DNS server and use whatever it answers). `localhost` is safe because tokenward's
 * HTTP layer never asks a resolver for it: its connections pin it to 127.0.0.1 and ::1
 * ({@link ./agent.js | pinnedLookup}), whatever `/etc/hosts` says.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (IPV4.test(h)) return h.startsWith('127.');
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  // IPv4-mapped IPv6 loopback (::ffff:127.x.y.z, which URL normalises to ::ffff:7fxx:xxxx)
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h) || /^::ffff:127\./.test(h);
}

/**
 * Checks that `url` is a usable endpoint and returns it parsed. `what` names the setting for messages
 * (e.g. `token_url`).
 *
 * @throws ConfigError when the URL does not parse, is not http(s), or carries credentials.
 * @throws InsecureEndpointError for `http://` to anything but a loopback host.
 */
export function assertSecureUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const shown =
      typeof url === 'string' && !url.includes('@') && url.length <= 200 ? ` (${JSON.stringify(url)})` : '';
    throw new ConfigError(`is not a valid absolute URL${shown}; expected https://host/path`, { key: what });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ConfigError(`must be an https:// URL, got the scheme ${u.protocol}`, { key: what });
  }
  if (u.username !== '' || u.password !== '') {
    throw new ConfigError(
      'must not contain credentials (user:password@); give them as client_id/client_secret instead',
      { key: what },
    );
  }
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw new InsecureEndpointError(
      safeUrl(u),
      `${what} ${safeUrl(u)} uses plain http:// to a non-loopback host; tokens and secrets would travel in clear text. Use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)`,
    );
  }
  return u;
}

/** The URL without query string, fragment or credentials: safe for messages and logs. */
export function safeUrl(url: string | URL): string {
  try {
    // Stryker disable next-line ConditionalExpression: new URL(aUrl) is a copy of it, with the same parts
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
