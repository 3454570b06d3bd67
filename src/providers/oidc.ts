/**
 * The `oidc` provider: the generic OAuth 2.0 client with endpoints discovered from `issuer` (OpenID
 * Connect discovery, RFC 8414 fallback). `token_url`, `revocation_url` and `introspection_url`, when set,
 * win over discovery; with a client certificate (`tls_cert`), the discovered `mtls_endpoint_aliases` are
 * used (RFC 8705 §5).
 * @module
 */

import { discover, endpointOf } from '../discovery.js';
import { ConfigError } from '../errors.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import type { TokenClient } from '../token-client.js';
import type { ClientLinks } from './descriptor.js';
import { createGenericClient, type Endpoints } from './generic.js';
import { oidc } from './oidc.descriptor.js';

/**
 * Creates an `oidc` token client. Discovery happens on the first network call, not here, so building a
 * client for a cached token costs no I/O.
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(
  profile: Profile,
  http: HttpOptions = {},
  links?: ClientLinks,
): Promise<TokenClient> {
  if (profile.issuer === undefined) {
    throw new ConfigError('is required for provider "oidc"', { key: 'issuer' });
  }
  const issuer = profile.issuer;
  assertSecureUrl(issuer, 'issuer');
  const tokenUrl = profile.token_url;
  if (tokenUrl !== undefined) assertSecureUrl(tokenUrl, 'token_url');
  const revocationUrl = profile.revocation_url;
  const introspectionUrl = profile.introspection_url;
  return createGenericClient(profile, http, {
    identity: oidc.identity(profile),
    links,
    endpoints: async (h) => {
      const doc = await discover(issuer, h);
      // With a client certificate, the mTLS aliases (RFC 8705 §5); the profile's own URLs win.
      const mtls = h.clientCert !== undefined;
      const ep: Endpoints = {
        tokenUrl: tokenUrl ?? endpointOf(doc, 'token_endpoint', mtls) ?? doc.token_endpoint,
        discovery: doc,
      };
      const rev = revocationUrl ?? endpointOf(doc, 'revocation_endpoint', mtls);
      if (rev !== undefined) ep.revocationUrl = assertSecureUrl(rev, 'revocation_endpoint').href;
      const intro = introspectionUrl ?? endpointOf(doc, 'introspection_endpoint', mtls);
      if (intro !== undefined) ep.introspectionUrl = assertSecureUrl(intro, 'introspection_endpoint').href;
      return ep;
    },
  });
}
