/**
 * Cisco MSX identity and tenants (seed 002), in the style of its Spring Security OAuth2 server.
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
 *
 * Bearer-protected: `POST /idm/api/v8/tenants` (201), `GET /idm/api/v8/tenants?page=0&pageSize=100`,
 * `GET` and `DELETE /idm/api/v8/tenants/{id}` (204; 404 unknown; 409 with children), and
 * `POST /idm/api/v2/clientsecurity` to register another security client (the seed's first step).
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  basicMatches,
  bearer,
  json,
  oauthError,
  parseBasic,
  parseForm,
  parseJsonObject,
  type Reply,
  type SandboxRequest,
} from '../core/http.js';
import { opaqueToken, signJwt, TokenBook } from '../core/tokens.js';
import type { Route, VendorContext, VendorModule } from '../core/vendor.js';

/** Grant type URNs of MSX. */
export const MSX_SWITCH_TENANT = 'urn:cisco:nfv:oauth:grant-type:switch-tenant';
/** Grant type URN of the switch-user grant. */
export const MSX_SWITCH_USER = 'urn:cisco:nfv:oauth:grant-type:switch-user';

const SUPPORTED_GRANTS = [
  'password',
  'refresh_token',
  'client_credentials',
  MSX_SWITCH_TENANT,
  MSX_SWITCH_USER,
];
const SEED_SCOPES = [
  'address',
  'read',
  'phone',
  'openid',
  'profile',
  'write',
  'email',
  'tenant_hierarchy',
  'token_details',
];

interface SecurityClient {
  clientId: string;
  clientSecret: string;
  grantTypes: string[];
  scopes: string[];
  /** Undefined: the vendor setting `tokenLifetimeSeconds`. */
  accessTokenValiditySeconds?: number;
  refreshTokenValiditySeconds: number;
}

interface User {
  id: string;
  username: string;
  password: string;
  firstName: string;
  lastName: string;
  email: string;
  roles: string[];
  tenantId: string;
}

interface Tenant {
  id: string;
  name: string;
  parentId: string | null;
  externalId: string | null;
  description: string | null;
  url: string | null;
  image: string | null;
  email: string | null;
  suspended: boolean;
  createdOn: string;
  modifiedOn: string;
}

interface Session {
  clientId: string;
  /** Undefined for client_credentials. */
  userId?: string;
  tenantId: string;
  scopes: string[];
}

const ROOT_TENANT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const SEED_TENANTS: Array<[string, string]> = [
  ['1817ec68-e182-4865-8d83-fc13035b4811', 'Dandelion and Burdock'],
  ['133815cb-2335-474d-8c10-3e635aba94fd', 'Coke'],
  ['8b06bda7-61a0-41cf-9aaa-61af86aeaec5', 'Sprite'],
  ['838a148f-1175-4a11-8ac2-4e4ee0a8e048', 'Pepsi'],
];

/** The second demo user (a tenant user of "Coke"), for switch-user and permission checks. */
export const MSX_OPERATOR = {
  id: 'b4e2d3f5-6c7e-4f8a-9b0c-1d2e3f4a5b6c',
  username: 'operator',
  password: 'Operator-sandbox-password-1!',
} as const;

function seedTenants(): Map<string, Tenant> {
  const at = '2024-01-01T00:00:00.000Z';
  const t = (id: string, name: string, parentId: string | null): Tenant => ({
    id,
    name,
    parentId,
    externalId: null,
    description: null,
    url: null,
    image: null,
    email: null,
    suspended: false,
    createdOn: at,
    modifiedOn: at,
  });
  const out = new Map<string, Tenant>([[ROOT_TENANT, t(ROOT_TENANT, 'Cisco Systems', null)]]);
  for (const [id, name] of SEED_TENANTS) out.set(id, t(id, name, ROOT_TENANT));
  return out;
}

const UNAUTHORIZED = 'Full authentication is required to access this resource';

function apiError(status: number, code: string, message: string): Reply {
  return json(status, { code, message });
}

/** Creates the MSX emulator. */
export function createMsx(ctx: VendorContext<'msx'>): VendorModule {
  const access = new TokenBook<Session>();
  const refresh = new TokenBook<Session>();
  let clients = new Map<string, SecurityClient>();
  let tenants = seedTenants();

  function users(): User[] {
    const c = ctx.credentials();
    return [
      {
        id: 'a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
        username: c.username,
        password: c.password,
        firstName: 'Super',
        lastName: 'User',
        email: 'superuser@example.com',
        roles: ['ROLE_SUPER_USER'],
        tenantId: ROOT_TENANT,
      },
      {
        id: MSX_OPERATOR.id,
        username: MSX_OPERATOR.username,
        password: MSX_OPERATOR.password,
        firstName: 'Tenant',
        lastName: 'Operator',
        email: 'operator@example.com',
        roles: ['ROLE_TENANT_ADMIN'],
        tenantId: SEED_TENANTS[1]![0],
      },
    ];
  }

  function builtinClient(): SecurityClient {
    const c = ctx.credentials();
    return {
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      grantTypes: ['password', MSX_SWITCH_TENANT, MSX_SWITCH_USER],
      scopes: SEED_SCOPES,
      refreshTokenValiditySeconds: 18000,
    };
  }

  function findClient(id: string): SecurityClient | undefined {
    const b = builtinClient();
    return id === b.clientId ? b : clients.get(id);
  }

  const isSuper = (u: User | undefined) => u?.roles.includes('ROLE_SUPER_USER') === true;
  const canUseTenant = (u: User, tenantId: string) =>
    tenants.has(tenantId) && (isSuper(u) || u.tenantId === tenantId);

  async function issue(
    client: SecurityClient,
    s: Session,
    grant: string,
    nonce?: string,
    reuseRefresh?: string,
  ): Promise<Reply> {
    const now = ctx.now();
    const lifetime = client.accessTokenValiditySeconds ?? ctx.settings().tokenLifetimeSeconds;
    const user = s.userId === undefined ? undefined : users().find((u) => u.id === s.userId);
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
    access.add(accessToken, s, now + lifetime * 1000, now);
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
      refresh.add(rt, s, now + client.refreshTokenValiditySeconds * 1000, now);
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
    const found = access.lookup(t, ctx.now());
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
      return oauthError(401, 'unauthorized', UNAUTHORIZED, {
        'www-authenticate': 'Basic realm="oauth2/client"',
      });
    }
    const client = findClient(creds.id);
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
    if (!SUPPORTED_GRANTS.includes(grant))
      return oauthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
    if (!client.grantTypes.includes(grant))
      return oauthError(400, 'invalid_client', `Unauthorized grant type: ${grant}`);
    const scopes = requestedScopes(client, form);
    if (!Array.isArray(scopes)) return scopes;
    const all = users();
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
      if (!canUseTenant(user, tenantId)) return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
      return issue(client, { clientId: client.clientId, userId: user.id, tenantId, scopes }, grant, nonce);
    }
    if (grant === 'client_credentials') {
      return issue(client, { clientId: client.clientId, tenantId: ROOT_TENANT, scopes }, grant);
    }
    if (grant === 'refresh_token') {
      const rt = form.get('refresh_token');
      if (!rt) return oauthError(400, 'invalid_request', 'Missing refresh_token');
      const found = refresh.lookup(rt, ctx.now());
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
      if (!canUseTenant(actor, tenantId)) return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
      return issue(client, { ...current, tenantId, scopes }, grant, nonce);
    }
    // switch-user
    if (!isSuper(actor)) return oauthError(403, 'access_denied', 'Access is denied');
    const byName = form.get('switch_username');
    const byId = form.get('switch_user_id');
    if (!byName && !byId)
      return oauthError(400, 'invalid_request', 'Missing switch_username or switch_user_id');
    const target = all.find((u) => (byName ? u.username === byName : u.id === byId));
    if (target === undefined) return oauthError(400, 'invalid_grant', 'User not found');
    const tenantId = form.get('tenant_id') ?? target.tenantId;
    if (!canUseTenant(target, tenantId)) return oauthError(400, 'invalid_grant', 'Tenant is not accessible');
    return issue(client, { clientId: client.clientId, userId: target.id, tenantId, scopes }, grant, nonce);
  }

  /** The user behind the request's Bearer token, or the 401 to answer. */
  function authenticate(req: SandboxRequest): { user?: User; session: Session } | Reply {
    const t = bearer(req.headers);
    if (t === undefined) {
      return oauthError(401, 'unauthorized', UNAUTHORIZED, {
        'www-authenticate': 'Bearer realm="oauth2-resource"',
      });
    }
    const found = access.lookup(t, ctx.now());
    if (found.state !== 'valid') {
      const desc = found.state === 'expired' ? 'Access token expired' : 'Invalid access token';
      return oauthError(401, 'invalid_token', desc, {
        'www-authenticate': `Bearer realm="oauth2-resource", error="invalid_token", error_description="${desc}"`,
      });
    }
    const user = users().find((u) => u.id === found.entry.userId);
    return user === undefined ? { session: found.entry } : { user, session: found.entry };
  }

  const view = (t: Tenant) => ({
    ...t,
    numberOfChildren: [...tenants.values()].filter((c) => c.parentId === t.id).length,
  });

  function optionalString(body: Record<string, unknown>, key: string): string | null | Reply {
    const v = body[key];
    if (v === undefined || v === null) return null;
    return typeof v === 'string' ? v : apiError(400, 'INVALID_REQUEST', `${key} must be a string`);
  }

  function createTenant(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    if (!isSuper(who.user)) return apiError(403, 'FORBIDDEN', 'Access is denied');
    const parsed = parseJsonObject(req);
    if (!parsed.ok) {
      return parsed.problem === 'content-type'
        ? apiError(415, 'UNSUPPORTED_MEDIA_TYPE', parsed.detail)
        : apiError(400, 'INVALID_REQUEST', parsed.detail);
    }
    const b = parsed.value;
    const name = b['name'];
    if (typeof name !== 'string' || name.trim() === '')
      return apiError(400, 'INVALID_REQUEST', 'name is required');
    const fields: Record<string, string | null> = {};
    for (const key of ['parentId', 'externalId', 'description', 'url', 'image', 'email']) {
      const v = optionalString(b, key);
      if (v !== null && typeof v !== 'string') return v;
      fields[key] = v;
    }
    const parentId = fields['parentId'] ?? ROOT_TENANT;
    if (!tenants.has(parentId)) return apiError(400, 'INVALID_REQUEST', 'parentId does not name a tenant');
    const lower = name.toLowerCase();
    if ([...tenants.values()].some((t) => t.name.toLowerCase() === lower)) {
      return apiError(409, 'CONFLICT', 'A tenant with this name already exists');
    }
    const at = new Date(ctx.now()).toISOString();
    const tenant: Tenant = {
      id: randomUUID(),
      name,
      parentId,
      externalId: fields['externalId'] ?? null,
      description: fields['description'] ?? null,
      url: fields['url'] ?? null,
      image: fields['image'] ?? null,
      email: fields['email'] ?? null,
      suspended: false,
      createdOn: at,
      modifiedOn: at,
    };
    tenants.set(tenant.id, tenant);
    return json(201, view(tenant));
  }

  function listTenants(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    const q = req.url.searchParams;
    const page = q.get('page');
    const size = q.get('pageSize');
    if (page === null || !/^[0-9]{1,9}$/.test(page))
      return apiError(400, 'INVALID_REQUEST', 'page must be an integer >= 0');
    if (size === null || !/^[0-9]{1,4}$/.test(size) || Number(size) < 1 || Number(size) > 1000) {
      return apiError(400, 'INVALID_REQUEST', 'pageSize must be an integer from 1 to 1000');
    }
    const p = Number(page);
    const n = Number(size);
    const visible = [...tenants.values()].filter((t) => isSuper(who.user) || t.id === who.session.tenantId);
    const contents = visible.slice(p * n, (p + 1) * n).map(view);
    return json(200, {
      page: p,
      pageSize: n,
      totalItems: visible.length,
      hasNext: (p + 1) * n < visible.length,
      hasPrevious: p > 0,
      sortBy: 'createdOn',
      sortOrder: 'asc',
      contents,
    });
  }

  function getTenant(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    const t = tenants.get(req.params[0] ?? '');
    if (t === undefined || !(isSuper(who.user) || t.id === who.session.tenantId)) {
      return apiError(404, 'NOT_FOUND', 'Tenant not found');
    }
    return json(200, view(t));
  }

  function deleteTenant(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    if (!isSuper(who.user)) return apiError(403, 'FORBIDDEN', 'Access is denied');
    const id = req.params[0] ?? '';
    if (!tenants.has(id)) return apiError(404, 'NOT_FOUND', 'Tenant not found');
    if ([...tenants.values()].some((t) => t.parentId === id)) {
      return apiError(409, 'CONFLICT', 'The tenant has child tenants');
    }
    tenants.delete(id);
    return { status: 204 };
  }

  function registerClient(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    if (!isSuper(who.user)) return apiError(403, 'FORBIDDEN', 'Access is denied');
    const parsed = parseJsonObject(req);
    if (!parsed.ok)
      return apiError(parsed.problem === 'content-type' ? 415 : 400, 'INVALID_REQUEST', parsed.detail);
    const b = parsed.value;
    const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
    const posInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
    if (typeof b['clientId'] !== 'string' || b['clientId'] === '')
      return apiError(400, 'INVALID_REQUEST', 'clientId is required');
    if (typeof b['clientSecret'] !== 'string' || b['clientSecret'] === '') {
      return apiError(400, 'INVALID_REQUEST', 'clientSecret is required');
    }
    if (
      !strings(b['grantTypes']) ||
      (b['grantTypes'] as string[]).some((g) => !SUPPORTED_GRANTS.includes(g))
    ) {
      return apiError(400, 'INVALID_REQUEST', `grantTypes must be a list of: ${SUPPORTED_GRANTS.join(', ')}`);
    }
    if (!strings(b['scopes'])) return apiError(400, 'INVALID_REQUEST', 'scopes must be a list of strings');
    for (const k of ['accessTokenValiditySeconds', 'refreshTokenValiditySeconds']) {
      if (b[k] !== undefined && !posInt(b[k]))
        return apiError(400, 'INVALID_REQUEST', `${k} must be a positive integer`);
    }
    if (findClient(b['clientId']) !== undefined)
      return apiError(409, 'CONFLICT', 'The client already exists');
    const client: SecurityClient = {
      clientId: b['clientId'],
      clientSecret: b['clientSecret'],
      grantTypes: b['grantTypes'] as string[],
      scopes: b['scopes'] as string[],
      refreshTokenValiditySeconds: (b['refreshTokenValiditySeconds'] as number | undefined) ?? 18000,
    };
    if (b['accessTokenValiditySeconds'] !== undefined)
      client.accessTokenValiditySeconds = b['accessTokenValiditySeconds'] as number;
    clients.set(client.clientId, client);
    const { clientSecret: _secret, ...shown } = client;
    return json(201, shown);
  }

  const TENANT = /^\/idm\/api\/v8\/tenants\/([^/]+)$/;
  const routes: Route[] = [
    { method: 'POST', path: '/idm/v2/token', kind: 'token', handle: token },
    { method: 'POST', path: '/idm/api/v8/tenants', kind: 'api', handle: createTenant },
    { method: 'GET', path: '/idm/api/v8/tenants', kind: 'api', handle: listTenants },
    { method: 'GET', path: TENANT, kind: 'api', handle: getTenant },
    { method: 'DELETE', path: TENANT, kind: 'api', handle: deleteTenant },
    { method: 'POST', path: '/idm/api/v2/clientsecurity', kind: 'api', handle: registerClient },
  ];
  return {
    routes,
    reset() {
      access.clear();
      refresh.clear();
      clients = new Map();
      tenants = seedTenants();
    },
  };
}
