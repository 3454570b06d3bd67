/**
 * The provider registry: which module builds the {@link TokenClient} of a profile. Each provider is one
 * module exporting `createClient(profile, http)`, loaded only when a profile uses it, so a CLI call for
 * an RDP profile never loads the Cylance JWT code.
 * @module
 */

import type { TokenClient } from '../client.js';
import { ConfigError } from '../errors.js';
import type { HttpOptions } from '../http/types.js';
import type { Profile, ProviderName } from '../profile.js';

/** What every provider module exports. */
export interface ProviderModule {
  /** Builds the token client of a profile whose secrets are already resolved. No network I/O. */
  createClient(profile: Profile, http?: HttpOptions): Promise<TokenClient>;
}

const loaders: Readonly<Record<ProviderName, () => Promise<ProviderModule>>> = {
  oauth2: () => import('./oauth2.js'),
  oidc: () => import('./oidc.js'),
  cylance: () => import('./cylance.js'),
  msx: () => import('./msx.js'),
  acronis: () => import('./acronis.js'),
  rdp: () => import('./rdp.js'),
};

/** Every provider name. */
export const PROVIDERS: readonly ProviderName[] = Object.keys(loaders) as ProviderName[];
const ALL: readonly string[] = PROVIDERS;

/** The provider of a profile: `provider`, else `oidc` when only `issuer` is given, else `oauth2`. */
export function providerOf(profile: Profile): ProviderName {
  const p =
    profile.provider ?? (profile.issuer !== undefined && profile.token_url === undefined ? 'oidc' : 'oauth2');
  if (!ALL.includes(p)) {
    throw new ConfigError(`unknown provider "${String(p)}"; use one of ${PROVIDERS.join(', ')}`, {
      key: 'provider',
    });
  }
  return p;
}

/**
 * Builds the token client of a profile (secrets already resolved) with its provider's module.
 * @throws ConfigError for an unknown provider or a profile the provider cannot use.
 */
export async function createTokenClient(profile: Profile, http: HttpOptions = {}): Promise<TokenClient> {
  const mod = await loaders[providerOf(profile)]();
  return mod.createClient(profile, http);
}
