/**
 * The `oauth2` provider's descriptor: a plain OAuth 2.0 token endpoint. Import-light (see
 * {@link ProviderDescriptor}).
 * @module
 */

import type { Profile } from '../profile.js';
import { exchangeKeys } from '../subject/keys.js';
import { defineProvider } from './descriptor.js';
import { interactiveKeys } from './interactive.keys.js';
import { oidc } from './oidc.descriptor.js';
import { genericIdentity } from './values.js';

/** The `oauth2` provider. With only `issuer` (no `token_url`) it is the `oidc` provider. */
export const oauth2 = defineProvider({
  name: 'oauth2',
  summary:
    'a plain OAuth 2.0 token endpoint (client_credentials, password, refresh_token, token_exchange or jwt_bearer; authorization_code or device_code for a person)',
  keys: { ...interactiveKeys, ...exchangeKeys },
  required: ['token_url|issuer'],
  apiOrigins: () => [],
  identity: (profile: Profile) =>
    profile.token_url === undefined && profile.issuer !== undefined
      ? oidc.identity(profile)
      : genericIdentity('oauth2', { token_url: profile.token_url }, profile),
  load: () => import('./oauth2.js'),
});
