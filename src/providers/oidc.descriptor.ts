/**
 * The `oidc` provider's descriptor: the generic OAuth 2.0 client with its endpoints discovered from
 * `issuer`. Import-light (see {@link ProviderDescriptor}).
 * @module
 */

import type { Profile } from '../profile.js';
import { exchangeKeys } from '../subject/keys.js';
import { defineProvider } from './descriptor.js';
import { interactiveKeys } from './interactive.keys.js';
import { genericIdentity } from './values.js';

/** The `oidc` provider. */
export const oidc = defineProvider({
  name: 'oidc',
  summary: 'OpenID Connect / RFC 8414: the token endpoint discovered from issuer',
  keys: { ...interactiveKeys, ...exchangeKeys },
  required: ['issuer'],
  apiOrigins: () => [],
  identity: (profile: Profile) =>
    genericIdentity(
      'oidc',
      profile.token_url !== undefined
        ? { issuer: profile.issuer, token_url: profile.token_url }
        : { issuer: profile.issuer },
      profile,
    ),
  load: () => import('./oidc.js'),
});
