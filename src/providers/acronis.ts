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
import { httpBudgetMs, type TokenClient, type TokenIdentity, type TokenRequestContext } from '../client.js';
import { ConfigError } from '../errors.js';
import { clientCredentials } from '../grants/client-credentials.js';
import { refreshWithToken } from '../grants/refresh-token.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import { httpOptionsFromProfile, parseOptionsFromProfile, scopeFromProfile } from './oauth2.js';
import { optionalString, requiredString, urlUnder } from './values.js';

/** Token endpoint paths under the data center URL. */
export const ACRONIS_TOKEN_PATHS: Readonly<Record<'api2' | 'bc', string>> = {
  api2: '/api/2/idp/token',
  bc: '/bc/idp/token',
};

/**
 * The token URL of a profile: `token_url`, else `{datacenter_url}/api/2/idp/token`, or
 * `{datacenter_url}/bc/idp/token` with `token_path = "bc"`.
 */
export function acronisTokenUrlOf(profile: Profile): string {
  const t = optionalString(profile, 'token_url');
  if (t !== undefined) return assertSecureUrl(t, 'token_url').href;
  const dc = optionalString(profile, 'datacenter_url');
  if (dc === undefined) {
    throw new ConfigError('is required for provider "acronis" (e.g. https://eu8-cloud.acronis.com)', {
      key: 'datacenter_url',
    });
  }
  assertSecureUrl(dc, 'datacenter_url');
  const which = profile.token_path ?? 'api2';
  const path = ACRONIS_TOKEN_PATHS[which];
  if (path === undefined) {
    throw new ConfigError(`must be "api2" or "bc", got ${JSON.stringify(which)}`, { key: 'token_path' });
  }
  return urlUnder(dc, path);
}

/** The API base an Acronis token is for: `api_base_url`, else `datacenter_url`, else the token URL's origin. Pure. */
export function apiBaseUrl(profile: Profile): string {
  return profile.api_base_url ?? profile.datacenter_url ?? new URL(acronisTokenUrlOf(profile)).origin;
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

  const identity: TokenIdentity = {
    provider: 'acronis',
    token_url: tokenUrl,
    client_id: clientId,
    grant: 'client_credentials',
    scope,
  };

  return {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    fetchToken(ctx) {
      return clientCredentials(grantContext(ctx), { scope }, extrasOf(ctx));
    },
    refresh(token, ctx) {
      return refreshWithToken(grantContext(ctx), token, extrasOf(ctx));
    },
  };
}
