/**
 * The `acronis` preset's descriptor: its profile keys, token URL, API origin and identity.
 * Import-light (see {@link ProviderDescriptor}); the token client is `./acronis.ts`.
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

/** Token endpoint paths under the data center URL. */
export const ACRONIS_TOKEN_PATHS: Readonly<Record<'api2' | 'bc', string>> = {
  api2: '/api/2/idp/token',
  bc: '/bc/idp/token',
};

/**
 * The token URL of a profile, unchecked: `token_url` (canonical form), else
 * `{datacenter_url}/api/2/idp/token`, or `{datacenter_url}/bc/idp/token` with `token_path = "bc"`.
 */
export function acronisTokenUrlFrom(profile: Profile): string {
  const missing = () =>
    new ConfigError('is required for provider "acronis" (e.g. https://eu8-cloud.acronis.com)', {
      key: 'datacenter_url',
    });
  return tokenUrlUnder(profile, 'datacenter_url', ACRONIS_TOKEN_PATHS[profile.token_path ?? 'api2'], missing);
}

/** The profile keys of the `acronis` preset, beyond the common ones. */
export const acronisKeys = {
  /** Data center URL. */
  datacenter_url: {
    schema: v.optional(v.string()),
    doc: 'the data center, e.g. https://eu8-cloud.acronis.com',
    endpoint: true,
  },
  /** Which token path: `api2` (`/api/2/idp/token`, default) or `bc` (`/bc/idp/token`). */
  token_path: {
    schema: v.optional(
      v.picklist(['api2', 'bc'], (issue) => `expected one of "api2", "bc", got ${issue.received}`),
    ),
    doc: 'api2 (/api/2/idp/token, default) or bc (/bc/idp/token)',
  },
} satisfies ProfileKeySpecs;

/** The `acronis` preset: Acronis Cyber Platform API clients. */
export const acronis = defineProvider({
  name: 'acronis',
  summary: 'Acronis Cyber Platform API clients (client_credentials with HTTP Basic; expires_on)',
  keys: acronisKeys,
  required: ['datacenter_url|token_url', 'client_id', 'client_secret'],
  apiOrigins: (profile: Profile) => baseUrlOrigins(profile, 'datacenter_url'),
  identity: (profile: Profile) => ({
    provider: 'acronis',
    token_url: acronisTokenUrlFrom(profile),
    client_id: profile.client_id,
    grant: 'client_credentials',
    scope: scopeFromProfile(profile),
  }),
  load: () => import('./acronis.js'),
});

/** The Acronis keys of {@link Profile}. */
export type AcronisKeys = KeysOf<typeof acronisKeys>;

/** The API base an Acronis token is for: `api_base_url`, else `datacenter_url`, else the token URL's origin. Pure. */
export function apiBaseUrl(profile: Profile): string {
  return presetApiBaseUrl(acronis, profile);
}
