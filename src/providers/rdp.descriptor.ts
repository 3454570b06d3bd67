/**
 * The `rdp` preset's descriptor: its profile keys, token URL, API origin and identity. Import-light
 * (see {@link ProviderDescriptor}); the token client is `./rdp.ts`.
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

/** The v1 token endpoint path under `base_url`. */
export const RDP_TOKEN_PATH = '/auth/oauth2/v1/token';
/** The default scope. */
export const RDP_DEFAULT_SCOPE = 'trapi';

/** The token URL of a profile, unchecked: `token_url` (canonical form), else `{base_url}/auth/oauth2/v1/token`. */
export function rdpTokenUrlFrom(profile: Profile): string {
  return tokenUrlUnder(
    profile,
    'base_url',
    RDP_TOKEN_PATH,
    () => new ConfigError('is required for provider "rdp" (or set token_url)', { key: 'base_url' }),
  );
}

/** The profile keys of the `rdp` preset, beyond the common ones. */
export const rdpKeys = {
  /** The platform's base URL (the token URL is derived from it). */
  base_url: {
    schema: v.optional(v.string()),
    doc: 'the platform, e.g. https://api.refinitiv.com (token URL {base_url}/auth/oauth2/v1/token)',
    endpoint: true,
  },
  /** Take exclusive sign-on control. Default true. */
  take_exclusive_sign_on: {
    schema: v.optional(v.boolean()),
    doc: 'take over the user’s session elsewhere (default true)',
  },
  /** Send the app key in HTTP Basic (empty secret) instead of the body. Default false. */
  client_id_in_basic: {
    schema: v.optional(v.boolean()),
    doc: 'send the app key in HTTP Basic, not in the body (default false)',
  },
} satisfies ProfileKeySpecs;

/** The `rdp` preset: Refinitiv / LSEG Data Platform, authentication v1. */
export const rdp = defineProvider({
  name: 'rdp',
  summary: 'Refinitiv / LSEG Data Platform v1 (password grant, rotating refresh tokens)',
  keys: rdpKeys,
  required: ['base_url|token_url', 'client_id', 'username', 'password'],
  apiOrigins: (profile: Profile) => baseUrlOrigins(profile, 'base_url'),
  identity: (profile: Profile) => ({
    provider: 'rdp',
    token_url: rdpTokenUrlFrom(profile),
    client_id: profile.client_id,
    grant: 'password',
    username: profile.username,
    scope: scopeFromProfile(profile) ?? RDP_DEFAULT_SCOPE,
  }),
  load: () => import('./rdp.js'),
});

/** The RDP keys of {@link Profile}. */
export type RdpKeys = KeysOf<typeof rdpKeys>;

/** The API base an RDP token is for: `api_base_url`, else `base_url`, else the token URL's origin. Pure. */
export function apiBaseUrl(profile: Profile): string {
  return presetApiBaseUrl(rdp, profile);
}
