/**
 * The `msx` preset's descriptor: its profile keys, token URL, API origin and identity. Import-light
 * (see {@link ProviderDescriptor}); the token client is `./msx.ts`.
 * @module
 */

import * as v from 'valibot';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import {
  baseUrlOrigins,
  defineProvider,
  type KeysOf,
  type ProfileKeySpecs,
  presetApiBaseUrl,
} from './descriptor.js';
import { scopeFromProfile, tokenUrlUnder } from './values.js';

/** The token endpoint path under `base_url`. */
export const MSX_TOKEN_PATH = '/idm/v2/token';

/** The token URL of a profile, unchecked: `token_url` (canonical form), else `{base_url}/idm/v2/token`. */
export function msxTokenUrlFrom(profile: Profile): string {
  return tokenUrlUnder(
    profile,
    'base_url',
    MSX_TOKEN_PATH,
    () => new ConfigError('is required for provider "msx" (or set token_url)', { key: 'base_url' }),
  );
}

/** The profile keys of the `msx` preset, beyond the common ones. */
export const msxKeys = {
  /** The MSX platform's base URL (the token URL is derived from it). */
  base_url: {
    schema: v.optional(v.string()),
    doc: 'the MSX platform, e.g. https://msx.example.com (token URL {base_url}/idm/v2/token)',
    endpoint: true,
  },
  /** The tenant to sign in to (sent with the password grant). */
  tenant_id: { schema: v.optional(v.string()), doc: 'the tenant to sign in to' },
} satisfies ProfileKeySpecs;

/** The `msx` preset: Cisco MSX. */
export const msx = defineProvider({
  name: 'msx',
  summary: 'Cisco MSX (password grant, client credentials in HTTP Basic; switch-tenant, switch-user)',
  keys: msxKeys,
  required: ['base_url|token_url', 'client_id', 'client_secret', 'username', 'password'],
  apiOrigins: (profile: Profile) => baseUrlOrigins(profile, 'base_url'),
  identity: (profile: Profile) => ({
    provider: 'msx',
    token_url: msxTokenUrlFrom(profile),
    client_id: profile.client_id,
    grant: 'password',
    username: profile.username,
    tenant_id: profile.tenant_id,
    scope: scopeFromProfile(profile),
  }),
  load: () => import('./msx.js'),
});

/** The MSX keys of {@link Profile}. */
export type MsxKeys = KeysOf<typeof msxKeys>;

/** The API base a MSX token is for: `api_base_url`, else `base_url`, else the token URL's origin. Pure. */
export function apiBaseUrl(profile: Profile): string {
  return presetApiBaseUrl(msx, profile);
}
