/**
 * The `msx` preset: Cisco MSX (seed 002).
 *
 * `POST {base_url}/idm/v2/token`, form body, always `Authorization: Basic base64(client_id:client_secret)`
 * (the id and secret joined as is, as the seed does). The primary grant is `password` (`username`,
 * `password`, optional `tenant_id` and `scope`). MSX's own grants —
 * `urn:cisco:nfv:oauth:grant-type:switch-tenant` and `…:switch-user` — turn the current session's access
 * token into a new token for another tenant or user: see {@link switchTenant} and {@link switchUser}, or
 * a switch profile (`parent_profile` with `switch_tenant`, `switch_user` or `switch_user_id`), whose
 * primary grant is the switch of its parent profile's current token.
 * A refresh token, when the server sends one (this is unconfirmed for MSX), is used by the standard
 * refresh grant.
 *
 * Profile keys: `base_url` (or `token_url`), `client_id`, `client_secret`, `username`, `password`,
 * `tenant_id`, `scope`, `api_base_url` (default `base_url`).
 * @module
 */

import { clientSecretBasic } from '../auth/basic.js';
import type { ClientAuth } from '../auth/types.js';
import { ConfigError } from '../errors.js';
import { customGrant } from '../grants/custom.js';
import { passwordGrant } from '../grants/password.js';
import { refreshWithToken } from '../grants/refresh-token.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import type { Token } from '../token.js';
import {
  httpBudgetMs,
  type TokenClient,
  type TokenIdentity,
  type TokenRequestContext,
} from '../token-client.js';
import { assertTokenUrlSource } from './checks.js';
import type { ClientLinks } from './descriptor.js';
import { msx, msxSwitchKind, msxTokenUrlFrom } from './msx.descriptor.js';
import {
  httpOptionsFromProfile,
  optionalString,
  parseOptionsFromProfile,
  requiredString,
  scopeFromProfile,
} from './values.js';

export { apiBaseUrl, MSX_TOKEN_PATH } from './msx.descriptor.js';

/** The grant type that switches the session to another tenant. */
export const MSX_SWITCH_TENANT_GRANT = 'urn:cisco:nfv:oauth:grant-type:switch-tenant';
/** The grant type that switches the session to another user. */
export const MSX_SWITCH_USER_GRANT = 'urn:cisco:nfv:oauth:grant-type:switch-user';

/** The token URL of a profile, checked: `token_url`, else `{base_url}/idm/v2/token`. */
export function msxTokenUrlOf(profile: Profile): string {
  assertTokenUrlSource(profile, 'base_url');
  return msxTokenUrlFrom(profile);
}

/** Whom {@link switchUser} switches to: a user name or a user id, and optionally a tenant. */
export interface MsxSwitchUserTarget {
  /** `switch_username`. */
  username?: string;
  /** `switch_user_id`. */
  userId?: string;
  /** `tenant_id`. */
  tenantId?: string;
}

/** The MSX token client: the {@link TokenClient} contract plus the two switch grants. */
export interface MsxTokenClient extends TokenClient {
  /** Runs the switch-tenant grant with `current`'s access token; returns the new token. */
  switchTenant(current: Token | string, tenantId: string, ctx?: Partial<TokenRequestContext>): Promise<Token>;
  /** Runs the switch-user grant with `current`'s access token; returns the new token. */
  switchUser(
    current: Token | string,
    target: MsxSwitchUserTarget,
    ctx?: Partial<TokenRequestContext>,
  ): Promise<Token>;
}

/**
 * Creates the MSX token client. No network I/O.
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(
  profile: Profile,
  http: HttpOptions = {},
  links: ClientLinks = {},
): Promise<MsxTokenClient> {
  const tokenUrl = msxTokenUrlOf(profile);
  const clientId = requiredString(profile, 'client_id', 'msx');
  const clientSecret = requiredString(profile, 'client_secret', 'msx');
  const switchKind = msxSwitchKind(profile);
  // A switch profile signs in through its parent: it has no user or password of its own.
  const username = switchKind === undefined ? requiredString(profile, 'username', 'msx') : '';
  const password = switchKind === undefined ? requiredString(profile, 'password', 'msx') : '';
  if (switchKind === undefined) {
    for (const key of ['switch_tenant', 'switch_user', 'switch_user_id'] as const) {
      if (profile[key] !== undefined)
        throw new ConfigError('needs parent_profile (the msx profile to switch from)', { key });
    }
  } else if (
    profile.switch_user === undefined &&
    profile.switch_user_id === undefined &&
    profile.switch_tenant === undefined
  ) {
    throw new ConfigError('needs switch_tenant, switch_user or switch_user_id (what to switch to)', {
      key: 'parent_profile',
    });
  } else if (profile.switch_user !== undefined && profile.switch_user_id !== undefined) {
    throw new ConfigError('and switch_user both name the user; keep one', { key: 'switch_user_id' });
  }
  const tenantId = optionalString(profile, 'tenant_id');
  const scope = scopeFromProfile(profile);
  if (profile.api_base_url !== undefined) assertSecureUrl(profile.api_base_url, 'api_base_url');
  const clientAuth: ClientAuth = clientSecretBasic({ clientId, clientSecret, encoding: 'raw' });
  const parse = parseOptionsFromProfile(profile);
  const httpOpts = await httpOptionsFromProfile(profile, http);

  const grantContext = (now?: () => number): GrantContext => ({
    tokenUrl,
    clientAuth,
    http: httpOpts,
    parse,
    now: now ?? Date.now,
  });
  const extrasOf = (ctx?: Partial<TokenRequestContext>) => (ctx?.signal ? { signal: ctx.signal } : {});
  const accessTokenOf = (current: Token | string): string => {
    const at = typeof current === 'string' ? current : current?.accessToken;
    if (typeof at !== 'string' || at === '') {
      throw new ConfigError('a switch grant needs the current access token', { key: 'access_token' });
    }
    return at;
  };

  const identity: TokenIdentity =
    links.identity === undefined ? msx.identity(profile) : { ...msx.identity(profile), ...links.identity };

  const client: MsxTokenClient = {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    clientCert: httpOpts.clientCert,
    fetchToken(ctx) {
      if (switchKind !== undefined) return switchFromParent(ctx);
      const params: Record<string, string> = {};
      if (tenantId !== undefined) params['tenant_id'] = tenantId;
      return passwordGrant(grantContext(ctx.now), { username, password, scope, params }, extrasOf(ctx));
    },
    refresh(token, ctx) {
      return refreshWithToken(grantContext(ctx.now), token, extrasOf(ctx));
    },
    async switchTenant(current, target, ctx) {
      if (typeof target !== 'string' || target === '') {
        throw new ConfigError('switch-tenant needs a tenant id', { key: 'tenant_id' });
      }
      return customGrant(
        grantContext(ctx?.now),
        MSX_SWITCH_TENANT_GRANT,
        { access_token: accessTokenOf(current), tenant_id: target },
        extrasOf(ctx),
      );
    },
    async switchUser(current, target, ctx) {
      const name = target?.username;
      const id = target?.userId;
      if ((name === undefined || name === '') === (id === undefined || id === '')) {
        throw new ConfigError('switch-user needs exactly one of a user name or a user id', {
          key: 'switch_username',
        });
      }
      const form: Record<string, string | undefined> = {
        access_token: accessTokenOf(current),
        switch_username: name || undefined,
        switch_user_id: id || undefined,
        tenant_id: target.tenantId || undefined,
      };
      return customGrant(grantContext(ctx?.now), MSX_SWITCH_USER_GRANT, form, extrasOf(ctx));
    },
  };

  /** A switch profile's primary grant: the parent profile's current token, switched. */
  async function switchFromParent(ctx: TokenRequestContext): Promise<Token> {
    const parent = profile.parent_profile!;
    if (links.profileToken === undefined) {
      throw new ConfigError(
        `names profile "${parent}", which only a manager opened from the config file can reach (createTokenManager, openProfile)`,
        links.where?.('parent_profile') ?? { key: 'parent_profile' },
      );
    }
    const current = await links.profileToken(parent, ctx.signal);
    if (switchKind === 'switch-tenant') return client.switchTenant(current, profile.switch_tenant!, ctx);
    const target: MsxSwitchUserTarget = {};
    if (profile.switch_user !== undefined) target.username = profile.switch_user;
    if (profile.switch_user_id !== undefined) target.userId = profile.switch_user_id;
    if (profile.switch_tenant !== undefined) target.tenantId = profile.switch_tenant;
    return client.switchUser(current, target, ctx);
  }
  return client;
}

/** Options of {@link switchTenant} and {@link switchUser} when given a profile. */
export interface MsxSwitchOptions {
  /** HTTP settings over the profile's. */
  http?: HttpOptions;
  /** Environment for the profile's secret references. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Aborts the request. */
  signal?: AbortSignal;
}

function isMsxClient(x: Profile | MsxTokenClient): x is MsxTokenClient {
  return typeof (x as MsxTokenClient).switchTenant === 'function';
}

async function clientFor(
  source: Profile | MsxTokenClient,
  options: MsxSwitchOptions,
): Promise<MsxTokenClient> {
  if (isMsxClient(source)) return source;
  const { resolveProfileSecrets } = await import('../config/secrets.js');
  const resolved = await resolveProfileSecrets(source, options.env !== undefined ? { env: options.env } : {});
  return createClient(resolved, options.http ?? {});
}

/**
 * Switches an MSX session to another tenant: runs `urn:cisco:nfv:oauth:grant-type:switch-tenant` with
 * the current access token and `tenantId`, authenticated with the profile's client (HTTP Basic), and
 * returns the new token. The new token is not cached by any manager: keep it yourself, or make it a
 * profile (`parent_profile` and `switch_tenant`), whose tokens are cached per tenant and renewed, or
 * give a profile `tenant_id` to get tokens for that tenant directly.
 *
 * @param source - The MSX profile (secret references are resolved) or a client from {@link createClient}.
 * @param current - The current token (or its access token).
 * @example
 * ```ts
 * const manager = await createTokenManager(profile);
 * const other = await switchTenant(profile, await manager.getToken(), '6f0e…');
 * ```
 */
export async function switchTenant(
  source: Profile | MsxTokenClient,
  current: Token | string,
  tenantId: string,
  options: MsxSwitchOptions = {},
): Promise<Token> {
  const client = await clientFor(source, options);
  return client.switchTenant(current, tenantId, options.signal ? { signal: options.signal } : {});
}

/**
 * Switches an MSX session to another user: runs `urn:cisco:nfv:oauth:grant-type:switch-user` with the
 * current access token and `switch_username` or `switch_user_id` (exactly one), plus an optional
 * `tenant_id`, and returns the new token (not cached; see {@link switchTenant}).
 */
export async function switchUser(
  source: Profile | MsxTokenClient,
  current: Token | string,
  target: MsxSwitchUserTarget,
  options: MsxSwitchOptions = {},
): Promise<Token> {
  const client = await clientFor(source, options);
  return client.switchUser(current, target, options.signal ? { signal: options.signal } : {});
}
