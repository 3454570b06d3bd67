/**
 * The `cylance` preset's descriptor: its profile keys, regions and token URL, API origin and identity.
 * Import-light (see {@link ProviderDescriptor}); the token client is `./cylance.ts`.
 * @module
 */

import * as v from 'valibot';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import { defineProvider, type KeysOf, type ProfileKeySpecs, presetApiBaseUrl } from './descriptor.js';
import { canonicalUrl, originOf } from './values.js';

/** The default `iss` claim. */
export const CYLANCE_DEFAULT_ISSUER = 'http://cylance.com';
/** The token endpoint path on every regional host. */
export const CYLANCE_TOKEN_PATH = '/auth/v2/token';
/** The longest auth-token lifetime the server accepts (`exp` − `iat`), seconds. */
export const CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS = 1800;

/** Regions and their API hosts. `us`/`na` and no region are North America. */
const REGION_HOSTS: Readonly<Record<string, string>> = {
  '': 'protectapi.cylance.com',
  us: 'protectapi.cylance.com',
  na: 'protectapi.cylance.com',
  'us-gov': 'protectapi.us.cylance.com',
  apne1: 'protectapi-apne1.cylance.com',
  au: 'protectapi-au.cylance.com',
  euc1: 'protectapi-euc1.cylance.com',
  sae1: 'protectapi-sae1.cylance.com',
};

/** The region names {@link cylanceTokenUrl} knows. */
export const CYLANCE_REGIONS: readonly string[] = ['us', 'na', 'us-gov', 'apne1', 'au', 'euc1', 'sae1'];

/**
 * The token URL of a region: none, `us` or `na` → `https://protectapi.cylance.com/auth/v2/token`;
 * `us-gov` → `https://protectapi.us.cylance.com/…`; `apne1`, `au`, `euc1`, `sae1` →
 * `https://protectapi-<region>.cylance.com/…`. Case and a leading `-` are ignored.
 *
 * @throws ConfigError for an unknown region.
 */
export function cylanceTokenUrl(region?: string): string {
  const r = (region ?? '').trim().toLowerCase().replace(/^-/, '');
  const host = REGION_HOSTS[r];
  if (host === undefined) {
    throw new ConfigError(
      `unknown region ${JSON.stringify(region)}; use one of ${CYLANCE_REGIONS.join(', ')} (or set token_url)`,
      { key: 'region' },
    );
  }
  return `https://${host}${CYLANCE_TOKEN_PATH}`;
}

/** The token URL of a profile, unchecked: `token_url` (canonical form), else the one of `region`. */
export function cylanceTokenUrlFrom(profile: Profile): string {
  if (profile.token_url !== undefined) return canonicalUrl(profile.token_url);
  return cylanceTokenUrl(profile.region);
}

/**
 * The scopes of a profile: `scopes` (a list; an entry may hold several, comma-separated), else `scope`
 * (a list or a space-separated string). Empty entries are dropped; undefined when there are none.
 */
export function cylanceScopes(profile: Profile): string[] | undefined {
  const pick = (value: string | readonly string[] | undefined, sep: RegExp): string[] | undefined => {
    if (value === undefined) return undefined;
    const list = typeof value === 'string' ? value.split(sep) : value.flatMap((x) => x.split(sep));
    const out = list.map((s) => s.trim()).filter((s) => s !== '');
    return out.length > 0 ? out : undefined;
  };
  return pick(profile.scopes, /,/) ?? pick(profile.scope, /[\s,]+/);
}

/** The profile keys of the `cylance` preset, beyond the common ones. */
export const cylanceKeys = {
  /** Region suffix (`us`/`na`, `apne1`, `au`, `euc1`, `sae1`, `us-gov`). */
  region: {
    schema: v.optional(v.string()),
    doc: `region suffix (${CYLANCE_REGIONS.join(', ')}; default North America), or set token_url`,
  },
  /** Application id. */
  app_id: { schema: v.optional(v.string()), doc: 'the application id (sub)' },
  /** Application secret (may be a reference). */
  app_secret: {
    schema: v.optional(v.string()),
    doc: 'the application secret (signs the auth token)',
    secret: true,
  },
  /** The tenant id (`tid`). Also read by other presets (one string key). */
  tenant_id: { schema: v.optional(v.string()), doc: 'the tenant id (tid)' },
  /** Scopes for the `scp` claim. */
  scopes: { schema: v.optional(v.array(v.string())), doc: 'scopes for the scp claim (a list; else scope)' },
  /** How `scp` is sent: a JSON list (default) or one comma-separated string. */
  scp_format: {
    schema: v.optional(
      v.picklist(['list', 'string'], (issue) => `expected one of "list", "string", got ${issue.received}`),
    ),
    doc: 'scp as a JSON list (list, default) or one comma-separated string (string)',
  },
  /** Auth-token lifetime, seconds (at most 1800). */
  auth_token_lifetime: {
    schema: v.optional(
      v.pipe(
        v.number(),
        v.check(
          (n) => n >= 1 && n <= CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS,
          `expected seconds from 1 to ${CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS} (the server rejects longer auth tokens)`,
        ),
      ),
    ),
    doc: `auth-token lifetime, seconds (1-${CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS}, default ${CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS})`,
  },
  /** The `iss` claim. Default `http://cylance.com`. */
  issuer_claim: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a non-empty string'))),
    doc: `the iss claim (default ${CYLANCE_DEFAULT_ISSUER})`,
  },
} satisfies ProfileKeySpecs;

/** The `cylance` preset: BlackBerry/Cylance Protect API v2. */
export const cylance = defineProvider({
  name: 'cylance',
  summary: 'BlackBerry/Cylance Protect API v2 (an HS256 auth token exchanged for an access token)',
  keys: cylanceKeys,
  required: ['app_id', 'app_secret', 'tenant_id'],
  // Cylance's API lives on the host of its regional token endpoint.
  apiOrigins: (profile: Profile) =>
    profile.token_url !== undefined
      ? [['token_url', originOf(cylanceTokenUrlFrom(profile))]]
      : [['region', originOf(cylanceTokenUrlFrom(profile))]],
  identity: (profile: Profile) => ({
    provider: 'cylance',
    token_url: cylanceTokenUrlFrom(profile),
    app_id: profile.app_id,
    tenant_id: profile.tenant_id,
    issuer_claim: profile.issuer_claim ?? CYLANCE_DEFAULT_ISSUER,
    scopes: cylanceScopes(profile)?.join(','),
  }),
  load: () => import('./cylance.js'),
});

/** The Cylance keys of {@link Profile}. */
export type CylanceKeys = KeysOf<typeof cylanceKeys>;

/**
 * The API origin a Cylance token is for: `api_base_url`, else the origin of the token URL (the
 * region's host). Pure; no I/O.
 */
export function apiBaseUrl(profile: Profile): string {
  return presetApiBaseUrl(cylance, profile);
}
