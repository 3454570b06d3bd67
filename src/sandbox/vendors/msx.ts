/**
 * Cisco MSX identity (seed 002), in the style of its Spring Security OAuth2 server; the APIs are in
 * `msx-api.ts`, the clients, users and tenants in `msx-directory.ts`.
 *
 * `POST /idm/v2/token`: form body, HTTP Basic client authentication required (401 `unauthorized`
 * without it, 401 `invalid_client` for wrong credentials). Grants: `password` (`username`, `password`,
 * optional `tenant_id`, `scope`), `urn:cisco:nfv:oauth:grant-type:switch-tenant` (`access_token`,
 * `tenant_id`), `urn:cisco:nfv:oauth:grant-type:switch-user` (`access_token`, `switch_username` or
 * `switch_user_id`, optional `tenant_id`; super users only), and — for clients registered with them —
 * `refresh_token` (not rotated, Spring's default) and `client_credentials`. A grant the client is not
 * registered for is `400 invalid_client "Unauthorized grant type: …"`; the seed's client (the built-in
 * one) is registered for `password` and the two switch grants only, so it gets no refresh token.
 *
 * The answer: an RS256 JWT `access_token`, `token_type: "bearer"`, integer `expires_in`, `scope`, an
 * `id_token`, and the profile fields `firstName`, `lastName`, `roles`, `tenantId`, `email`, `username`.
 * @module
 */

import {
  basicMatches,
  json,
  oauthError,
  parseBasic,
  parseForm,
  type Reply,
  type SandboxRequest,
} from '../core/http.js';
import { opaqueToken, signJwt } from '../core/tokens.js';
import type { VendorContext, VendorModule } from '../core/vendor.js';
import { msxApiRoutes } from './msx-api.js';
import {
  MSX_GRANTS,
  MSX_ROOT_TENANT,
  MSX_SWITCH_TENANT,
  MSX_UNAUTHORIZED,
  MsxDirectory,
  type SecurityClient,
  type Session,
} from './msx-directory.js';

export { MSX_OPERATOR, MSX_SWITCH_TENANT, MSX_SWITCH_USER } from './msx-directory.js';

/** Creates the MSX emulator. */
export function createMsx(ctx: VendorContext<'msx'>): VendorModule {
  const dir = new MsxDirectory(ctx);

  async function issue(
    client: SecurityClient,
    s: Session,
    grant: string,
    nonce?: string,
    reuseRefresh?: string,
  ): Promise<Reply> {
    const now = ctx.now();
    const lifetime = client.accessTokenValiditySeconds ?? ctx.settings().tokenLifetimeSeconds;
    const user = dir.user(s.userId);
    const iss = `${ctx.origin()}/idm`;
    const accessToken = await signJwt(
      ctx.key,
      {
        iss,
        client_id: client.clientId,
        scope: s.scopes,
        tenant_id: s.tenantId,
        ...(user ? { sub: user.username, user_name: user.username, authorities: user.roles } : {}),
      },
      now,
      lifetime,
    );
    dir.access.add(accessToken, s, now + lifetime * 1000, now);
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: lifetime,
      scope: s.scopes.join(' '),
    };
    if (reuseRefresh !== undefined) {
      body['refresh_token'] = reuseRefresh;
    } else if (client.grantTypes.includes('refresh_token') && user !== undefined) {
      const rt = opaqueToken();
      dir.refresh.add(rt, s, now + client.refreshTokenValiditySeconds * 1000, now);
      body['refresh_token'] = rt;
    }
    if (user !== undefined) {
      body['id_token'] = await signJwt(
        ctx.key,
        {
          iss,
          sub: user.username,
          aud: client.clientId,
          email: user.email,
          name: `${user.firstName} ${user.lastName}`,
          tenant_id: s.tenantId,
          ...(nonce === undefined ? {} : { nonce }),
        },
        now,
        lifetime,
      );
      Object.assign(body, {
        firstName: user.firstName,
        lastName: user.lastName,
        roles: user.roles,
        tenantId: s.tenantId,
        email: user.email,
        username: user.username,
      });
    } else {
      body['tenantId'] = s.tenantId;
    }
    return { ...json(200, body), grant };
  }

  function requestedScopes(client: SecurityClient, form: Map<string, string>): string[] | Reply {
    const raw = form.get('scope');
    if (raw === undefined) return client.scopes;
    const list = raw.split(' ').filter((s) => s !== '');
    const bad = list.find((s) => !client.scopes.includes(s));
    return bad === undefined && list.length > 0
      ? list
      : oauthError(400, 'invalid_scope', `Invalid scope: ${raw}`);
  }

  /** The session behind the `access_token` parameter of a switch grant. */
  function currentSession(client: SecurityClient, form: Map<string, string>): Session | Reply {
    const t = form.get('access_token');
    if (t === undefined || t === '') return oauthError(400, 'invalid_request', 'Missing access_token');
    const found = dir.access.lookup(t, ctx.now());
    if (found.state !== 'valid')
      return oauthError(
        401,
        'invalid_token',
        `Access token ${found.state === 'expired' ? 'expired' : 'is not valid'}`,
      );
    if (found.entry.clientId !== client.clientId)
      return oauthError(400, 'invalid_grant', 'Access token was issued to another client');
    return found.entry;
  }

  async function token(req: SandboxRequest): Promise<Reply> {
    const creds = parseBasic(req.headers);
    if (creds === undefined) {
      return oauthError(401, 'unauthorized', MSX_UNAUTHORIZED, {
        'www-authenticate': 'Basic realm="oauth2/client"',
      });
    }
    const client = dir.client(creds.id);
    if (client === undefined || !basicMatches(creds, client.clientId, client.clientSecret)) {
      return oauthError(401, 'invalid_client', 'Bad client credentials', {
        'www-authenticate': 'Basic realm="oauth2/client"',
      });
    }
    const parsed = parseForm(req);
    if (!parsed.ok) return oauthError(400, 'invalid_request', parsed.detail);
    const form = parsed.value;
    const grant = form.get('grant_type');
    if (grant === undefined || grant === '') return oauthError(400, 'invalid_request', 'Missing grant type');
    if (!MSX_GRANTS.includes(grant))
      return oauthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
    if (!client.grantTypes.includes(grant))
      return oauthError(400, 'invalid_client', `Unauthorized grant type: ${grant}`);
    const scopes = requestedScopes(client, form);
    if (!Array.isArray(scopes)) return scopes;
    const all = dir.users();
    const nonce = form.get('nonce');

    if (grant === 'password') {
      const username = form.get('username');
      const password = form.get('password');
      if (!username || password === undefined)
        return oauthError(400, 'invalid_request', 'Missing username or password');
      const user = all.find((u) => u.username === username);
      if (user === undefined || user.password !== password)
        return oauthError(400, 'invalid_grant', 'Bad credentials');
      const tenantId = form.get('tenant_id') ?? user.tenantId;
      if (!dir.canUseTenant(user, tenantId))
        return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
      return issue(client, { clientId: client.clientId, userId: user.id, tenantId, scopes }, grant, nonce);
    }
    if (grant === 'client_credentials') {
      return issue(client, { clientId: client.clientId, tenantId: MSX_ROOT_TENANT, scopes }, grant);
    }
    if (grant === 'refresh_token') {
      const rt = form.get('refresh_token');
      if (!rt) return oauthError(400, 'invalid_request', 'Missing refresh_token');
      const found = dir.refresh.lookup(rt, ctx.now());
      if (found.state !== 'valid' || found.entry.clientId !== client.clientId) {
        return oauthError(
          400,
          'invalid_grant',
          `Invalid refresh token${found.state === 'expired' ? ' (expired)' : ''}`,
        );
      }
      // Spring's default: the refresh token is reused, not rotated.
      return issue(client, found.entry, grant, undefined, rt);
    }
    const current = currentSession(client, form);
    if (!('clientId' in current)) return current;
    const actor = all.find((u) => u.id === current.userId);
    if (actor === undefined) return oauthError(400, 'invalid_grant', 'The access token has no user');
    if (grant === MSX_SWITCH_TENANT) {
      const tenantId = form.get('tenant_id');
      if (!tenantId) return oauthError(400, 'invalid_request', 'Missing tenant_id');
      if (!dir.canUseTenant(actor, tenantId))
        return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
      return issue(client, { ...current, tenantId, scopes }, grant, nonce);
    }
    // switch-user
    if (!dir.isSuper(actor)) return oauthError(403, 'access_denied', 'Access is denied');
    const byName = form.get('switch_username');
    const byId = form.get('switch_user_id');
    if (!byName && !byId)
      return oauthError(400, 'invalid_request', 'Missing switch_username or switch_user_id');
    const target = all.find((u) => (byName ? u.username === byName : u.id === byId));
    if (target === undefined) return oauthError(400, 'invalid_grant', 'User not found');
    const tenantId = form.get('tenant_id') ?? target.tenantId;
    if (!dir.canUseTenant(target, tenantId))
      return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
    return issue(client, { clientId: client.clientId, userId: target.id, tenantId, scopes }, grant, nonce);
  }

  return {
    routes: [
      { method: 'POST', path: '/idm/v2/token', kind: 'token', handle: token },
      ...msxApiRoutes(ctx, dir),
    ],
    reset: () => dir.reset(),
  };
}
