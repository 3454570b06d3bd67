/**
 * The generic OAuth 2.0 provider: a {@link TokenClient} from a plain profile (secrets already resolved):
 * `token_url` (or `issuer`, discovered on first use), client authentication, the primary grant
 * (client_credentials, password, or refresh_token from a given refresh token), refresh and revocation.
 * The client itself is {@link createGenericClient}; the profile readers are in `./values.ts`.
 * @module
 */

import { discover } from '../discovery.js';
import { ConfigError } from '../errors.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import type { TokenClient } from '../token-client.js';
import type { ClientLinks } from './descriptor.js';
import { createGenericClient, type Endpoints } from './generic.js';
import { oauth2 } from './oauth2.descriptor.js';

/**
 * Creates the generic `oauth2` token client. Uses `token_url`; with only `issuer`, the token endpoint is
 * discovered on first use (as the `oidc` provider does).
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(
  profile: Profile,
  http: HttpOptions = {},
  links?: ClientLinks,
): Promise<TokenClient> {
  if (profile.token_url === undefined) {
    if (profile.issuer !== undefined) {
      const { createClient: createOidc } = await import('./oidc.js');
      return createOidc(profile, http, links);
    }
    throw new ConfigError('is required (or give issuer to discover it)', { key: 'token_url' });
  }
  assertSecureUrl(profile.token_url, 'token_url');
  const tokenUrl = profile.token_url;
  const ep: Endpoints = { tokenUrl };
  if (profile.revocation_url !== undefined) ep.revocationUrl = profile.revocation_url;
  if (profile.introspection_url !== undefined) {
    ep.introspectionUrl = assertSecureUrl(profile.introspection_url, 'introspection_url').href;
  }
  return createGenericClient(profile, http, {
    identity: oauth2.identity(profile),
    links,
    endpoints: async () => ep,
  });
}

/** Re-exported for presets that need to run discovery themselves. */
export { discover };
