/**
 * Building a profile's {@link TokenClient} with its provider's module. Which providers exist is the
 * registry's answer (`./registry.ts`, one descriptor per provider); each provider's client module is
 * loaded only when a profile uses it, so a CLI call never loads another provider's grant or JWT code.
 * @module
 */

import { validateProfile } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { HttpOptions } from '../http/types.js';
import type { Profile, ProviderName } from '../profile.js';
import type { TokenClient } from '../token-client.js';
import type { ProviderDescriptor } from './descriptor.js';
import { BUILT_IN_PROVIDERS, findProvider, providerNames } from './registry.js';

export type { ProviderDescriptor, ProviderModule } from './descriptor.js';

/** Every built-in provider name. */
export const PROVIDERS: readonly ProviderName[] = BUILT_IN_PROVIDERS.map((d) => d.name);

/** The provider of a profile: `provider`, else `oidc` when only `issuer` is given, else `oauth2`. */
export function providerOf(profile: Profile): ProviderName {
  return descriptorOf(profile).name as ProviderName;
}

/**
 * The descriptor of a profile's provider (see {@link providerOf}).
 * @throws ConfigError for an unknown provider.
 */
export function descriptorOf(profile: Profile): ProviderDescriptor {
  const p =
    profile.provider ?? (profile.issuer !== undefined && profile.token_url === undefined ? 'oidc' : 'oauth2');
  const d = typeof p === 'string' ? findProvider(p) : undefined;
  if (d === undefined) {
    throw new ConfigError(`unknown provider "${String(p)}"; use one of ${providerNames().join(', ')}`, {
      key: 'provider',
    });
  }
  return d;
}

/**
 * Builds the token client of a profile (secrets already resolved) with its provider's module. The
 * profile is first validated with the config file's schema ({@link validateProfile}, the check
 * `createTokenManager` runs), so a profile built in code gets the same key-level messages and the
 * provider modules below can trust the types and ranges of its values.
 * @throws ConfigError for an invalid profile (an unknown key, a wrong type, a value out of range), an
 * unknown provider, or a profile the provider cannot use (a missing key it needs).
 */
export async function createTokenClient(profile: Profile, http: HttpOptions = {}): Promise<TokenClient> {
  validateProfile(profile);
  const mod = await descriptorOf(profile).load();
  return mod.createClient(profile, http);
}
