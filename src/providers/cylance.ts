/**
 * The `cylance` preset: BlackBerry/Cylance Protect API v2 (seeds 000 and 001).
 *
 * Per token request a new auth token is built — a JWT signed HS256 with the application secret, with
 * `exp` (now + `auth_token_lifetime`, at most 1800 s), `iat`, `iss` (`issuer_claim`, default
 * `http://cylance.com`), `sub` (`app_id`), `tid` (`tenant_id`), a fresh `jti` and, when scopes are
 * given, `scp` — and POSTed as `{"auth_token": "…"}` (JSON, `charset=utf-8`) to
 * `https://protectapi{-region}.cylance.com/auth/v2/token`. The answer is `{"access_token": "…"}` with no
 * lifetime field: the access token's JWT `exp` is used when it has one, else 1800 s (the vendor's
 * documented 30 minutes). There is no refresh: a new auth token is signed each time.
 *
 * Profile keys: `region` or `token_url`, `app_id`, `app_secret`, `tenant_id`, `scopes` (or `scope`),
 * `scp_format` (`list` default, or `string`), `auth_token_lifetime`, `issuer_claim`, `api_base_url`.
 * @module
 */

import { TokenEndpointError, withEndpointMessage } from '../errors.js';
import { type SignedJwtExchangeContext, signedJwtExchange } from '../grants/signed-jwt-exchange.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import type { Token } from '../token.js';
import { httpBudgetMs, type TokenClient, type TokenIdentity } from '../token-client.js';
import {
  CYLANCE_DEFAULT_ISSUER,
  CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS,
  cylance,
  cylanceScopes,
  cylanceTokenUrlFrom,
} from './cylance.descriptor.js';
import { httpOptionsFromProfile, parseOptionsFromProfile, requiredString } from './values.js';

export {
  apiBaseUrl,
  CYLANCE_DEFAULT_ISSUER,
  CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS,
  CYLANCE_REGIONS,
  CYLANCE_TOKEN_PATH,
  cylanceScopes,
  cylanceTokenUrl,
} from './cylance.descriptor.js';

/** The vendor's documented access-token lifetime (30 minutes), used when the answer does not say. */
export const CYLANCE_DEFAULT_LIFETIME_SECONDS = 1800;

/** The token URL of a profile, checked: `token_url`, else the one of `region`. */
export function cylanceTokenUrlOf(profile: Profile): string {
  if (profile.token_url !== undefined) assertSecureUrl(profile.token_url, 'token_url');
  return cylanceTokenUrlFrom(profile);
}

/** Inputs of {@link cylanceClaims}. */
export interface CylanceClaimsInput {
  app_id: string;
  tenant_id: string;
  scopes?: readonly string[];
  scp_format?: 'list' | 'string';
}

/**
 * The vendor claims besides `iat`, `exp`, `jti`, `iss` and `sub` (which the exchange sets): `tid`, and
 * `scp` when scopes are given — a JSON list (`list`, default, as the seed shows) or one comma-separated
 * string (`string`, as some public clients send).
 */
export function cylanceClaims(input: CylanceClaimsInput): Record<string, unknown> {
  const claims: Record<string, unknown> = { tid: input.tenant_id };
  if (input.scopes !== undefined && input.scopes.length > 0) {
    claims['scp'] = input.scp_format === 'string' ? input.scopes.join(',') : [...input.scopes];
  }
  return claims;
}

/** The auth-token lifetime of a profile in whole seconds (the schema's 1…1800, default 1800). */
export function authTokenLifetime(profile: Profile): number {
  return Math.floor(profile.auth_token_lifetime ?? CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS);
}

/** Rewrites the generic hint of a token endpoint error into Cylance terms. Never adds a secret. */
function cylanceError(err: unknown): unknown {
  if (!(err instanceof TokenEndpointError)) return err;
  let hint: string;
  if (err.status === 401) {
    hint =
      'check app_id, app_secret and tenant_id, and that this machine’s clock is right (the auth token carries iat/exp)';
  } else if (err.status === 400) {
    hint =
      'the auth token was refused: check auth_token_lifetime (at most 1800 s), issuer_claim and this machine’s clock';
  } else if (err.status === 403) {
    hint = 'the application lacks a requested scope: check scopes and the application’s permissions';
  } else return err;
  const detail = [err.error, err.errorDescription].filter(Boolean).join(': ');
  return withEndpointMessage(
    err,
    `Cylance token endpoint ${err.url} answered HTTP ${err.status}${detail ? ` (${detail})` : ''}; ${hint}`,
  );
}

/**
 * Creates the Cylance token client. No network I/O.
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(profile: Profile, http: HttpOptions = {}): Promise<TokenClient> {
  const appId = requiredString(profile, 'app_id', 'cylance');
  const appSecret = requiredString(profile, 'app_secret', 'cylance');
  const tenantId = requiredString(profile, 'tenant_id', 'cylance');
  const tokenUrl = cylanceTokenUrlOf(profile);
  const lifetime = authTokenLifetime(profile);
  const scopes = cylanceScopes(profile);
  const fmt = profile.scp_format ?? 'list';
  const issuer = profile.issuer_claim ?? CYLANCE_DEFAULT_ISSUER;
  if (profile.api_base_url !== undefined) assertSecureUrl(profile.api_base_url, 'api_base_url');
  const parse = {
    defaultLifetimeSeconds: CYLANCE_DEFAULT_LIFETIME_SECONDS,
    ...parseOptionsFromProfile(profile),
  };
  const httpOpts = await httpOptionsFromProfile(profile, http);
  const claimsInput: CylanceClaimsInput = { app_id: appId, tenant_id: tenantId, scp_format: fmt };
  if (scopes !== undefined) claimsInput.scopes = scopes;
  const claims = cylanceClaims(claimsInput);

  const identity: TokenIdentity = cylance.identity(profile);

  return {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    clientCert: httpOpts.clientCert,
    async fetchToken(ctx): Promise<Token> {
      const g: SignedJwtExchangeContext = { tokenUrl, http: httpOpts, parse, now: ctx.now };
      const p: Parameters<typeof signedJwtExchange>[1] = {
        secret: appSecret,
        alg: 'HS256',
        issuer,
        subject: appId,
        lifetimeSeconds: lifetime,
        maxLifetimeSeconds: CYLANCE_MAX_AUTH_TOKEN_LIFETIME_SECONDS,
        claims,
      };
      if (ctx.signal !== undefined) p.signal = ctx.signal;
      try {
        return await signedJwtExchange(g, p);
      } catch (err) {
        throw cylanceError(err);
      }
    },
  };
}
