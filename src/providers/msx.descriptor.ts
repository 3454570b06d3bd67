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
  /** A switch profile's parent: the msx profile whose session is switched (and whose client is used). */
  parent_profile: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a profile name'))),
    doc: 'switch profiles: the msx profile whose token is switched (its base_url, client and settings are inherited)',
  },
  /** Switch-tenant: the tenant id the parent's session is switched to. */
  switch_tenant: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a tenant id'))),
    doc: 'with parent_profile: the tenant to switch to (switch-tenant grant)',
  },
  /** Switch-user: the user name the parent's session is switched to (super users only). */
  switch_user: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a user name'))),
    doc: 'with parent_profile: the user name to switch to (switch-user grant; with switch_tenant, in that tenant)',
  },
  /** Switch-user by id instead of name. */
  switch_user_id: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a user id'))),
    doc: 'with parent_profile: the user id to switch to, instead of switch_user',
  },
} satisfies ProfileKeySpecs;

/** The switch grant a profile names: `switch-user` when it names a user, else `switch-tenant`. */
export function msxSwitchKind(profile: Profile): 'switch-tenant' | 'switch-user' | undefined {
  if (profile.parent_profile === undefined) return undefined;
  return profile.switch_user !== undefined || profile.switch_user_id !== undefined
    ? 'switch-user'
    : 'switch-tenant';
}

/** The `msx` preset: Cisco MSX. */
export const msx = defineProvider({
  name: 'msx',
  summary:
    'Cisco MSX (password grant, client credentials in HTTP Basic; switch-tenant, switch-user profiles)',
  keys: msxKeys,
  required: [
    'base_url|token_url',
    'client_id',
    'client_secret',
    'username|parent_profile',
    'password|parent_profile',
  ],
  apiOrigins: (profile: Profile) => baseUrlOrigins(profile, 'base_url'),
  identity: (profile: Profile) => {
    const sw = msxSwitchKind(profile);
    if (sw !== undefined) {
      // A switch profile: the parent (its name; its own identity keys its own tokens) and the target.
      return {
        provider: 'msx',
        token_url: msxTokenUrlFrom(profile),
        client_id: profile.client_id,
        grant: sw,
        parent_profile: profile.parent_profile,
        tenant_id: profile.switch_tenant,
        switch_user: profile.switch_user,
        switch_user_id: profile.switch_user_id,
        scope: scopeFromProfile(profile),
      };
    }
    return {
      provider: 'msx',
      token_url: msxTokenUrlFrom(profile),
      client_id: profile.client_id,
      grant: 'password',
      username: profile.username,
      tenant_id: profile.tenant_id,
      scope: scopeFromProfile(profile),
    };
  },
  load: () => import('./msx.js'),
});

/** The MSX keys of {@link Profile}. */
export type MsxKeys = KeysOf<typeof msxKeys>;

/** The API base a MSX token is for: `api_base_url`, else `base_url`, else the token URL's origin. Pure. */
export function apiBaseUrl(profile: Profile): string {
  return presetApiBaseUrl(msx, profile);
}
