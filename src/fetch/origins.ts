/**
 * Where a token may go: an allow-list of origins, normalised once, and the check every integration runs
 * before it attaches a token. Origins are compared exactly (scheme, host, port) after WHATWG URL
 * normalisation, so `https://API.example.com:443/v2` and `https://api.example.com` are the same origin
 * and `https://api.example.com.evil.test` is not.
 * @module
 */

import { ConfigError, InsecureEndpointError } from '../errors.js';
import { assertSecureUrl, safeUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import { descriptorOf } from '../providers/index.js';

/**
 * A normalised allow-list of origins. Built once per integration: the per-request check is a string
 * prefix comparison, with a URL parse only for URLs that are not already in canonical form.
 *
 * @example
 * ```ts
 * const scope = new OriginScope(['https://api.example.com', 'https://files.example.com:443/v1']);
 * scope.allowsUrl('https://api.example.com/v2/users'); // true
 * scope.allowsUrl('https://API.EXAMPLE.COM:443/x');    // true (normalised)
 * scope.allowsUrl('https://api.example.com.evil.test/'); // false
 * ```
 */
export class OriginScope {
  /** The allowed origins, serialised (`https://host[:port]`), without duplicates. */
  readonly origins: readonly string[];
  readonly #set: ReadonlySet<string>;
  /** `origin + '/'`: a URL string that starts with one of these has exactly that origin. */
  readonly #prefixes: readonly string[];

  /**
   * @param origins URLs or origins; only the origin of each is kept (a path is ignored).
   * @throws ConfigError when the list is empty, or an entry is not an absolute http(s) URL or carries
   *   credentials.
   * @throws InsecureEndpointError for an `http://` origin that is not loopback: a token must not travel
   *   in clear text.
   */
  constructor(origins: readonly string[]) {
    if (!Array.isArray(origins) || origins.length === 0) {
      throw new ConfigError(
        'is empty: the token would never be sent anywhere. List the API origin(s), e.g. ["https://api.example.com"], or use originsFromProfile(profile)',
        { key: 'origins' },
      );
    }
    const set = new Set<string>();
    for (const o of origins) {
      if (typeof o !== 'string') {
        throw new ConfigError(`must be a list of URLs, got a ${typeof o}`, { key: 'origins' });
      }
      set.add(assertSecureUrl(o, 'origins').origin);
    }
    this.origins = [...set];
    this.#set = set;
    this.#prefixes = this.origins.map((o) => `${o}/`);
  }

  /**
   * True when `url` (absolute) has one of the allowed origins. An unparsable URL is not allowed.
   * Canonical URL strings (what `URL#href` gives) are matched without parsing.
   */
  allowsUrl(url: string | URL): boolean {
    if (typeof url !== 'string') return this.#set.has(url.origin);
    // A string that begins with "<origin>/" has that origin: the authority ends at the first "/".
    for (const p of this.#prefixes) if (url.startsWith(p)) return true;
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return false;
    }
    return this.#set.has(origin);
  }

  /** True when `origin` (an origin string such as undici's `opts.origin`, or a URL) is allowed. */
  allowsOrigin(origin: string | URL): boolean {
    if (typeof origin === 'string' && this.#set.has(origin)) return true;
    return this.allowsUrl(origin);
  }
}

/**
 * The error for a request to an origin outside the allow-list when `onForeignOrigin` is `'throw'`.
 * Names the URL without its query string (which may hold secrets) and the allowed origins.
 */
export function foreignOriginError(url: string | URL, scope: OriginScope): InsecureEndpointError {
  const shown = safeUrl(url);
  return new InsecureEndpointError(
    shown,
    `${shown} is not in the allowed origins (${scope.origins.join(', ')}); the token is not sent there. Add its origin to "origins" (allowed_origins in a profile) if it should receive the token`,
  );
}

/**
 * The origins a profile's token may be sent to: `api_base_url` and `allowed_origins`; when
 * `api_base_url` is absent, also where its provider says the API lives (the provider descriptor's
 * `apiOrigins`: a preset's base URL, else its token URL's origin, or a vendor's regional
 * host). The one answer to "where may the token go": each preset's `apiBaseUrl` is the first
 * of these, and `tokenward request` uses this list. Each entry is reduced to its origin; duplicates are
 * dropped.
 *
 * @example
 * ```ts
 * const profile = await getProfile('acronis');
 * const manager = await createTokenManager(profile);
 * const authFetch = createAuthFetch(manager, { origins: originsFromProfile(profile) });
 * ```
 * @throws ConfigError when an entry is not a valid http(s) URL, or the profile names no origin at all.
 * @throws InsecureEndpointError for a plain `http://` origin that is not loopback.
 */
export function originsFromProfile(profile: Profile): string[] {
  const out = profileOrigins(profile);
  if (out.length === 0) {
    throw new ConfigError(
      `${profile.name === undefined ? 'the profile' : `profile "${profile.name}"`} names no API origin: set api_base_url (and allowed_origins for more origins) so that authenticated requests know where the token may be sent`,
      { key: 'api_base_url' },
    );
  }
  return out;
}

/**
 * Like {@link originsFromProfile}, but an empty list (instead of an error) for a profile that names no
 * API origin at all — for callers with a fallback of their own, such as `tokenward request`, which then
 * allows only the origin of the URL it was given.
 *
 * @throws ConfigError when an entry is not a valid http(s) URL.
 * @throws InsecureEndpointError for a plain `http://` origin that is not loopback.
 */
export function profileOrigins(profile: Profile): string[] {
  const entries: Array<readonly [key: string, value: unknown]> = [];
  if (profile.api_base_url !== undefined) entries.push(['api_base_url', profile.api_base_url]);
  else entries.push(...descriptorOf(profile).apiOrigins(profile));
  const extra = profile.allowed_origins;
  if (extra !== undefined) {
    if (!Array.isArray(extra)) throw new ConfigError('must be a list of URLs', { key: 'allowed_origins' });
    for (const o of extra) entries.push(['allowed_origins', o]);
  }
  const out = new Set<string>();
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new ConfigError(`must be a URL, got a ${typeof value}`, { key });
    out.add(assertSecureUrl(value, key).origin);
  }
  return [...out];
}
