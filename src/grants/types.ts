/**
 * What every grant needs: the endpoint, the client's authentication, HTTP options and parsing options.
 * @module
 */

import type { ClientAuth } from '../auth/types.js';
import type { HttpOptions } from '../http/types.js';
import type { ParseTokenOptions } from '../token.js';

/** Options for `parseTokenResponse` that a grant context fixes. */
export type GrantParseOptions = Pick<
  ParseTokenOptions,
  'defaultLifetimeSeconds' | 'maxLifetimeSeconds' | 'minLifetimeSeconds' | 'acceptedTokenTypes'
>;

/** The context every grant function takes first. */
export interface GrantContext {
  /** The token endpoint. */
  tokenUrl: string;
  /** How the client authenticates. */
  clientAuth: ClientAuth;
  /** Timeouts, retries, TLS, debug hook. */
  http: HttpOptions;
  /** How answers are parsed into tokens. */
  parse?: GrantParseOptions;
  /** The `aud` of JWT client assertions instead of the token URL (e.g. the issuer). */
  assertionAudience?: string;
  /** Current time in ms. Default `Date.now`. */
  now?(): number;
}

/**
 * Resource indicators (RFC 8707): one absolute URI or several, each sent as its own `resource` form
 * field.
 */
export type ResourceInput = string | readonly string[];

/** The `resource` form value: the list as it is (empty → undefined), or the one URI. */
export function resourceParam(resource: ResourceInput | undefined): string | readonly string[] | undefined {
  if (resource === undefined || resource === '') return undefined;
  if (typeof resource === 'string') return resource;
  return resource.length === 0 ? undefined : resource;
}

/** Scopes: a space-separated string or a list. */
export type ScopeInput = string | readonly string[];

/** Joins scopes into the space-separated form a token request carries; undefined when empty. */
export function scopeParam(scope: ScopeInput | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const s = typeof scope === 'string' ? scope.trim() : scope.join(' ').trim();
  return s === '' ? undefined : s;
}
