/**
 * Authorization server metadata: OpenID Connect discovery (`/.well-known/openid-configuration`) with the
 * RFC 8414 fallback (`/.well-known/oauth-authorization-server`, inserted before the issuer's path).
 * Fetched once per issuer and kept in memory, with one shared in-flight fetch; failures are not cached.
 * @module
 */

import { ConfigError, InvalidTokenResponseError, TokenEndpointError } from './errors.js';
import { getJson } from './http/token-endpoint.js';
import type { HttpOptions } from './http/types.js';
import { assertSecureUrl, safeUrl } from './http/url.js';

/** The metadata fields tokenward uses; the rest are kept as they came. */
export interface DiscoveryDocument {
  issuer: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  /** RFC 7662 introspection endpoint. */
  introspection_endpoint?: string;
  /**
   * RFC 8705 §5: the endpoints to use with a client certificate instead of the plain ones (same names:
   * `token_endpoint`, `revocation_endpoint`, `introspection_endpoint`…).
   */
  mtls_endpoint_aliases?: Record<string, string>;
  jwks_uri?: string;
  token_endpoint_auth_methods_supported?: string[];
  grant_types_supported?: string[];
  [key: string]: unknown;
}

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** How long a fetched document is reused, ms. Default one hour. */
  maxAgeMs?: number;
  /** Current time in ms. Default `Date.now`. */
  now?(): number;
  /** Fetch again even when a fresh document is cached. */
  force?: boolean;
}

/** Default cache lifetime of a discovery document: one hour. */
export const DISCOVERY_MAX_AGE_MS = 3_600_000;

interface Entry {
  promise: Promise<DiscoveryDocument>;
  fetchedAt?: number;
}

const cache = new Map<string, Entry>();

/** The URLs tried for `issuer`, in order: OpenID Connect, then RFC 8414 (path-aware, §3.1). */
export function discoveryUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  const base = `${u.protocol}//${u.host}`;
  const oidc = `${base}${path}/.well-known/openid-configuration`;
  const rfc8414 = `${base}/.well-known/oauth-authorization-server${path}`;
  return oidc === rfc8414 ? [oidc] : [oidc, rfc8414];
}

/**
 * The issuer's metadata, from the in-process cache when fresh. Concurrent callers share one fetch.
 *
 * @throws ConfigError when the document's `issuer` is not the configured issuer.
 * @throws InvalidTokenResponseError when the document lacks a usable `token_endpoint`.
 * @throws TokenEndpointError / NetworkError when neither document can be fetched.
 */
export function discover(
  issuer: string,
  http: HttpOptions = {},
  options: DiscoverOptions = {},
): Promise<DiscoveryDocument> {
  assertSecureUrl(issuer, 'issuer');
  const now = options.now ?? Date.now;
  const maxAge = options.maxAgeMs ?? DISCOVERY_MAX_AGE_MS;
  const hit = cache.get(issuer);
  if (hit !== undefined && !options.force) {
    if (hit.fetchedAt === undefined) return hit.promise; // in flight
    if (now() - hit.fetchedAt < maxAge) return hit.promise;
  }
  const entry: Entry = { promise: fetchDocument(issuer, http) };
  cache.set(issuer, entry);
  entry.promise.then(
    () => {
      entry.fetchedAt = now();
    },
    () => {
      if (cache.get(issuer) === entry) cache.delete(issuer);
    },
  );
  return entry.promise;
}

/** Forgets cached documents (all, or one issuer's). */
export function clearDiscoveryCache(issuer?: string): void {
  if (issuer === undefined) cache.clear();
  else cache.delete(issuer);
}

async function fetchDocument(issuer: string, http: HttpOptions): Promise<DiscoveryDocument> {
  const urls = discoveryUrls(issuer);
  let lastError: unknown;
  for (const url of urls) {
    try {
      const res = await getJson(url, { ...http, what: 'discovery document' });
      return validate(issuer, res.body as Record<string, unknown>, res.url, res.status);
    } catch (e) {
      // Fall back to the next location only when this one is not there (4xx) or is not JSON.
      const fallBack =
        (e instanceof TokenEndpointError && e.status >= 400 && e.status < 500) ||
        e instanceof InvalidTokenResponseError;
      if (!fallBack || e instanceof ConfigError) throw e;
      lastError = e;
    }
  }
  throw lastError;
}

function validate(
  issuer: string,
  doc: Record<string, unknown>,
  url: string,
  status: number,
): DiscoveryDocument {
  if (doc['issuer'] !== issuer) {
    const got = typeof doc['issuer'] === 'string' ? JSON.stringify(doc['issuer']) : 'no issuer';
    throw new ConfigError(
      `the discovery document at ${url} names ${got}, not ${JSON.stringify(issuer)}; set issuer to exactly the server's issuer (trailing slash included)`,
      { key: 'issuer' },
    );
  }
  const te = doc['token_endpoint'];
  if (typeof te !== 'string' || te === '') {
    throw new InvalidTokenResponseError(
      url,
      status,
      `the discovery document at ${url} has no "token_endpoint"`,
    );
  }
  assertSecureUrl(te, 'token_endpoint');
  for (const name of ['revocation_endpoint', 'introspection_endpoint']) {
    const re = doc[name];
    if (re !== undefined && typeof re !== 'string') {
      throw new InvalidTokenResponseError(
        url,
        status,
        `the discovery document at ${url} has a non-string "${name}"`,
      );
    }
  }
  const aliases = doc['mtls_endpoint_aliases'];
  if (
    aliases !== undefined &&
    (typeof aliases !== 'object' ||
      aliases === null ||
      Array.isArray(aliases) ||
      Object.values(aliases).some((a) => typeof a !== 'string'))
  ) {
    throw new InvalidTokenResponseError(
      url,
      status,
      `the discovery document at ${url} has an "mtls_endpoint_aliases" that is not an object of URLs`,
    );
  }
  return doc as DiscoveryDocument;
}

/**
 * The URL of endpoint `name` (`token_endpoint`, `revocation_endpoint`, `introspection_endpoint`) to
 * use: with a client certificate (`mtls`), its `mtls_endpoint_aliases` entry when there is one (RFC 8705
 * §5), else the plain one. Checked like every endpoint URL.
 * @throws InsecureEndpointError for a URL that is not https (or http to loopback).
 */
export function endpointOf(doc: DiscoveryDocument, name: string, mtls: boolean): string | undefined {
  const alias = mtls ? doc.mtls_endpoint_aliases?.[name] : undefined;
  const plain = doc[name];
  const url = alias ?? (typeof plain === 'string' ? plain : undefined);
  return url === undefined
    ? undefined
    : assertSecureUrl(url, alias !== undefined ? `mtls_endpoint_aliases.${name}` : name).href;
}

/** For messages: the issuer without query string or credentials. */
export function issuerLabel(issuer: string): string {
  return safeUrl(issuer);
}
