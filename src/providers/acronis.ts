/**
 * The `acronis` preset: Acronis Cyber Platform API clients (seed 003).
 *
 * `POST {datacenter_url}/api/2/idp/token` (or `/bc/idp/token` with `token_path = "bc"`, the path the seed
 * uses), form `grant_type=client_credentials`, `Authorization: Basic base64(client_id:client_secret)`
 * (joined as is, as the seed does). The answer has `expires_on` (absolute Unix seconds) and no
 * `expires_in`, plus an `id_token`; both are kept on the token. A refresh token, when one comes, is used
 * by the standard refresh grant.
 *
 * Profile keys: `datacenter_url` (or `token_url`), `token_path`, `client_id`, `client_secret`, `scope`,
 * `api_base_url` (default `datacenter_url`).
 * @module
 */

import { clientSecretBasic } from '../auth/basic.js';
import { clientCredentials } from '../grants/client-credentials.js';
import { refreshWithToken } from '../grants/refresh-token.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import {
  httpBudgetMs,
  type TokenClient,
  type TokenIdentity,
  type TokenRequestContext,
} from '../token-client.js';
import { acronis, acronisTokenUrlFrom } from './acronis.descriptor.js';
import { assertTokenUrlSource } from './checks.js';
import {
  httpOptionsFromProfile,
  parseOptionsFromProfile,
  requiredString,
  scopeFromProfile,
} from './values.js';

export { ACRONIS_TOKEN_PATHS, apiBaseUrl } from './acronis.descriptor.js';

/** The token URL of a profile, checked: `token_url`, else `{datacenter_url}` and the `token_path`'s path. */
export function acronisTokenUrlOf(profile: Profile): string {
  assertTokenUrlSource(profile, 'datacenter_url');
  return acronisTokenUrlFrom(profile);
}

/**
 * Creates the Acronis token client. No network I/O.
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(profile: Profile, http: HttpOptions = {}): Promise<TokenClient> {
  const tokenUrl = acronisTokenUrlOf(profile);
  const clientId = requiredString(profile, 'client_id', 'acronis');
  const clientSecret = requiredString(profile, 'client_secret', 'acronis');
  const scope = scopeFromProfile(profile);
  if (profile.api_base_url !== undefined) assertSecureUrl(profile.api_base_url, 'api_base_url');
  const clientAuth = clientSecretBasic({ clientId, clientSecret, encoding: 'raw' });
  const parse = parseOptionsFromProfile(profile);
  const httpOpts = await httpOptionsFromProfile(profile, http);
  const grantContext = (ctx: TokenRequestContext): GrantContext => ({
    tokenUrl,
    clientAuth,
    http: httpOpts,
    parse,
    now: ctx.now,
  });
  const extrasOf = (ctx: TokenRequestContext) => (ctx.signal ? { signal: ctx.signal } : {});

  const identity: TokenIdentity = acronis.identity(profile);

  return {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    clientCert: httpOpts.clientCert,
    fetchToken(ctx) {
      return clientCredentials(grantContext(ctx), { scope }, extrasOf(ctx));
    },
    refresh(token, ctx) {
      return refreshWithToken(grantContext(ctx), token, extrasOf(ctx));
    },
  };
}
