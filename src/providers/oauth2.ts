/**
 * The generic OAuth 2.0 provider: a {@link TokenClient} from a plain profile (secrets already resolved):
 * `token_url` (or `issuer`, discovered on first use), client authentication, the primary grant
 * (client_credentials, password, or refresh_token from a given refresh token), refresh and revocation.
 * @module
 */

import { createHash } from 'node:crypto';
import { type ClientAuthProfile, createClientAuth } from '../auth/index.js';
import type { ClientAuth } from '../auth/types.js';
import { httpBudgetMs, type TokenClient, type TokenIdentity, type TokenRequestContext } from '../client.js';
import { discover } from '../discovery.js';
import { ConfigError } from '../errors.js';
import { clientCredentials } from '../grants/client-credentials.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant, refreshWithToken } from '../grants/refresh-token.js';
import type { GrantContext, GrantParseOptions } from '../grants/types.js';
import { scopeParam } from '../grants/types.js';
import { loadCaFile } from '../http/agent.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { GrantName, Profile } from '../profile.js';
import { revokeToken } from '../revocation.js';
import { isSecretField } from '../secret-fields.js';
import { optionalString } from './values.js';

const GRANTS: readonly GrantName[] = ['client_credentials', 'password', 'refresh_token'];

/** The endpoints a generic client talks to. */
interface Endpoints {
  tokenUrl: string;
  revocationUrl?: string;
  /** The `aud` for JWT client assertions (the token URL unless set). */
  assertionAudience?: string;
}

function positive(
  profile: Profile,
  key: 'default_lifetime' | 'max_lifetime' | 'timeout' | 'retries',
): number | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  const ok = typeof v === 'number' && Number.isFinite(v) && (key === 'retries' ? v >= 0 : v > 0);
  if (!ok)
    throw new ConfigError(
      `must be a ${key === 'retries' ? 'non-negative' : 'positive'} number, got ${JSON.stringify(v)}`,
      { key },
    );
  return v;
}

/** Validates the generic keys of a profile and returns the parse options. */
export function parseOptionsFromProfile(profile: Profile): GrantParseOptions {
  const out: GrantParseOptions = {};
  const def = positive(profile, 'default_lifetime');
  const max = positive(profile, 'max_lifetime');
  if (def !== undefined) out.defaultLifetimeSeconds = def;
  if (max !== undefined) out.maxLifetimeSeconds = max;
  if (profile.token_types !== undefined) {
    if (
      !Array.isArray(profile.token_types) ||
      !profile.token_types.every((t) => typeof t === 'string' && t !== '')
    ) {
      throw new ConfigError('must be a list of token type names', { key: 'token_types' });
    }
    out.acceptedTokenTypes = ['bearer', ...profile.token_types];
  }
  return out;
}

/**
 * HTTP options from a profile (`timeout`, `retries`, `ca_file`, `insecure_skip_tls_verify`, `proxy`) under the
 * caller's `http`, which wins.
 */
export async function httpOptionsFromProfile(profile: Profile, http: HttpOptions = {}): Promise<HttpOptions> {
  const out: HttpOptions = {};
  const timeout = positive(profile, 'timeout');
  const retries = positive(profile, 'retries');
  if (timeout !== undefined) out.timeoutMs = timeout * 1000;
  if (retries !== undefined) out.retries = retries;
  if (profile.insecure_skip_tls_verify !== undefined) {
    if (typeof profile.insecure_skip_tls_verify !== 'boolean') {
      throw new ConfigError('must be true or false', { key: 'insecure_skip_tls_verify' });
    }
    out.insecureSkipTlsVerify = profile.insecure_skip_tls_verify;
  }
  if (profile.ca_file !== undefined && http.ca === undefined) out.ca = await loadCaFile(profile.ca_file);
  if (profile.proxy !== undefined) out.proxy = profile.proxy;
  return { ...out, ...http };
}

/** The scope as one space-separated string, validated. */
export function scopeFromProfile(profile: Profile): string | undefined {
  const s = profile.scope;
  if (s === undefined) return undefined;
  if (typeof s === 'string') return scopeParam(s);
  if (Array.isArray(s) && s.every((x) => typeof x === 'string')) return scopeParam(s);
  throw new ConfigError('must be a space-separated string or a list of strings', { key: 'scope' });
}

function paramsFromProfile(profile: Profile): Record<string, string> | undefined {
  const p = profile.params;
  if (p === undefined) return undefined;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    throw new ConfigError('must be a table of string values', { key: 'params' });
  }
  for (const [k, v] of Object.entries(p)) {
    if (typeof v !== 'string') throw new ConfigError(`${k} must be a string`, { key: 'params' });
  }
  return p;
}

/** The primary grant: `grant`, else `password` when `username` is set, else `client_credentials`. */
export function grantFromProfile(profile: Profile): GrantName {
  const g = profile.grant ?? (profile.username ? 'password' : 'client_credentials');
  if (!GRANTS.includes(g)) {
    throw new ConfigError(`unknown grant "${String(g)}"; use one of ${GRANTS.join(', ')}`, { key: 'grant' });
  }
  return g;
}

/** Options for {@link createGenericClient}. */
export interface GenericClientOptions {
  /** The provider name in the identity. */
  provider: 'oauth2' | 'oidc';
  /** Resolves the endpoints (on first use, e.g. by discovery). */
  endpoints(http: HttpOptions): Promise<Endpoints>;
  /** The identity's endpoint facts (token_url or issuer). */
  endpointIdentity: Record<string, string | undefined>;
}

/** Builds a generic token client; the endpoints are resolved lazily, on the first network call. */
export async function createGenericClient(
  profile: Profile,
  http: HttpOptions,
  opts: GenericClientOptions,
): Promise<TokenClient> {
  const grant = grantFromProfile(profile);
  const scope = scopeFromProfile(profile);
  const audience = optionalString(profile, 'audience');
  const resource = optionalString(profile, 'resource');
  const params = paramsFromProfile(profile);
  const parse = parseOptionsFromProfile(profile);
  const httpOpts = await httpOptionsFromProfile(profile, http);
  if (
    profile.client_id !== undefined &&
    (typeof profile.client_id !== 'string' || profile.client_id === '')
  ) {
    throw new ConfigError('must be a non-empty string', { key: 'client_id' });
  }
  const clientAuth: ClientAuth = createClientAuth(profile as ClientAuthProfile);
  if (grant === 'client_credentials' && clientAuth.method === 'none') {
    throw new ConfigError(
      'the client_credentials grant needs a confidential client: set client_secret or private_key',
      { key: 'client_secret' },
    );
  }
  if (grant === 'password') {
    if (!profile.username) throw new ConfigError('is required for grant = "password"', { key: 'username' });
    if (!profile.password) throw new ConfigError('is required for grant = "password"', { key: 'password' });
  }
  if (grant === 'refresh_token') {
    if (!profile.refresh_token) {
      throw new ConfigError('is required for grant = "refresh_token"', { key: 'refresh_token' });
    }
  }
  if (profile.revocation_url !== undefined) assertSecureUrl(profile.revocation_url, 'revocation_url');

  let endpoints: Promise<Endpoints> | undefined;
  const resolveEndpoints = (signal?: AbortSignal): Promise<Endpoints> => {
    if (endpoints === undefined) {
      // The first caller's signal bounds discovery too; an aborted discovery is not remembered.
      endpoints = opts.endpoints(signal === undefined ? httpOpts : { ...httpOpts, signal });
      endpoints.catch(() => {
        endpoints = undefined; // a failure is not remembered
      });
    }
    return endpoints;
  };
  const grantContext = async (ctx: TokenRequestContext): Promise<GrantContext> => {
    const ep = await resolveEndpoints(ctx.signal);
    const g: GrantContext = { tokenUrl: ep.tokenUrl, clientAuth, http: httpOpts, parse, now: ctx.now };
    if (ep.assertionAudience !== undefined) g.assertionAudience = ep.assertionAudience;
    return g;
  };
  const extrasOf = (ctx: TokenRequestContext) => (ctx.signal ? { signal: ctx.signal } : {});

  const identity: TokenIdentity = {
    provider: opts.provider,
    ...opts.endpointIdentity,
    client_id: profile.client_id,
    auth_method: clientAuth.method,
    grant,
    username: grant === 'password' ? profile.username : undefined,
    scope,
    audience,
    resource,
    params: params ? canonicalParams(params) : undefined,
  };

  const client: TokenClient = {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    async fetchToken(ctx) {
      const g = await grantContext(ctx);
      switch (grant) {
        case 'password':
          return passwordGrant(
            g,
            { username: profile.username!, password: profile.password!, scope, audience, resource, params },
            extrasOf(ctx),
          );
        case 'refresh_token':
          return refreshTokenGrant(g, { refreshToken: profile.refresh_token!, scope, params }, extrasOf(ctx));
        default:
          return clientCredentials(g, { scope, audience, resource, params }, extrasOf(ctx));
      }
    },
    async refresh(token, ctx) {
      return refreshWithToken(await grantContext(ctx), token, extrasOf(ctx));
    },
    async revoke(token, ctx) {
      const ep = await resolveEndpoints();
      const r: Parameters<typeof revokeToken>[0] = {
        tokenUrl: ep.tokenUrl,
        clientAuth,
        http: httpOpts,
        now: ctx.now,
      };
      if (ep.revocationUrl !== undefined) r.revocationUrl = ep.revocationUrl;
      if (ep.assertionAudience !== undefined) r.assertionAudience = ep.assertionAudience;
      await revokeToken(r, token, ctx.signal);
    },
  };
  return client;
}

/**
 * Extra parameters as a stable string for the identity. The identity is stored with the token and shown
 * by `status`, so the value of a secret param (one the catalogue in `src/secret-fields.ts` names secret,
 * e.g. `api_key`) never appears in it: only `sha256:` and 16 hex digits of a domain-separated SHA-256,
 * so two profiles that differ only in that secret still get different cache keys.
 */
export function canonicalParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${k}=${isSecretField(k) ? secretFingerprint(k, params[k] ?? '') : params[k]}`)
    .join('&');
}

function secretFingerprint(name: string, value: string): string {
  const h = createHash('sha256').update('tokenward identity param\0').update(name).update('\0').update(value);
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}

/**
 * Creates the generic `oauth2` token client. Uses `token_url`; with only `issuer`, the token endpoint is
 * discovered on first use (as the `oidc` provider does).
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(profile: Profile, http: HttpOptions = {}): Promise<TokenClient> {
  if (profile.token_url === undefined) {
    if (profile.issuer !== undefined) {
      const { createClient: createOidc } = await import('./oidc.js');
      return createOidc(profile, http);
    }
    throw new ConfigError('is required (or give issuer to discover it)', { key: 'token_url' });
  }
  if (typeof profile.token_url !== 'string')
    throw new ConfigError('must be a URL string', { key: 'token_url' });
  assertSecureUrl(profile.token_url, 'token_url');
  const tokenUrl = profile.token_url;
  const revocationUrl = profile.revocation_url;
  return createGenericClient(profile, http, {
    provider: 'oauth2',
    endpointIdentity: { token_url: profile.token_url },
    endpoints: async () => (revocationUrl !== undefined ? { tokenUrl, revocationUrl } : { tokenUrl }),
  });
}

/** Re-exported for presets that need to run discovery themselves. */
export { discover };
