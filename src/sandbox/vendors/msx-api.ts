/**
 * The MSX APIs the seed calls, Bearer-protected: tenants (`POST /idm/api/v8/tenants` → 201,
 * `GET /idm/api/v8/tenants?page=0&pageSize=100`, `GET`/`DELETE /idm/api/v8/tenants/{id}`) and
 * security-client registration (`POST /idm/api/v2/clientsecurity`, the seed's first step).
 *
 * A missing token is 401 `unauthorized`, an unknown or expired one 401 `invalid_token`; other errors are
 * `{code, message}`. Only super users create or delete tenants and register clients (403 otherwise); a
 * tenant user sees only its own tenant.
 * @module
 */

import { randomUUID } from 'node:crypto';
import { bearer, json, oauthError, parseJsonObject, type Reply, type SandboxRequest } from '../core/http.js';
import type { Route, VendorContext } from '../core/vendor.js';
import {
  MSX_GRANTS,
  MSX_ROOT_TENANT,
  MSX_UNAUTHORIZED,
  type MsxDirectory,
  type SecurityClient,
  type Session,
  type Tenant,
  type User,
} from './msx-directory.js';

function apiError(status: number, code: string, message: string): Reply {
  return json(status, { code, message });
}

const TENANT_FIELDS = ['parentId', 'externalId', 'description', 'url', 'image', 'email'] as const;

/** The routes of the MSX APIs. */
export function msxApiRoutes(ctx: VendorContext<'msx'>, dir: MsxDirectory): Route[] {
  /** The caller behind the request's Bearer token, or the 401 to answer. */
  function authenticate(req: SandboxRequest): { user?: User; session: Session } | Reply {
    const t = bearer(req.headers);
    if (t === undefined) {
      return oauthError(401, 'unauthorized', MSX_UNAUTHORIZED, {
        'www-authenticate': 'Bearer realm="oauth2-resource"',
      });
    }
    const found = dir.access.lookup(t, ctx.now());
    if (found.state !== 'valid') {
      const desc = found.state === 'expired' ? 'Access token expired' : 'Invalid access token';
      return oauthError(401, 'invalid_token', desc, {
        'www-authenticate': `Bearer realm="oauth2-resource", error="invalid_token", error_description="${desc}"`,
      });
    }
    const user = dir.user(found.entry.userId);
    return user === undefined ? { session: found.entry } : { user, session: found.entry };
  }

  /** Like {@link authenticate}, and a super user is required (403 otherwise). */
  function superUser(req: SandboxRequest): Reply | undefined {
    const who = authenticate(req);
    if ('status' in who) return who;
    return dir.isSuper(who.user) ? undefined : apiError(403, 'FORBIDDEN', 'Access is denied');
  }

  const visibleTo = (who: { user?: User; session: Session }, t: Tenant) =>
    dir.isSuper(who.user) || t.id === who.session.tenantId;

  const view = (t: Tenant) => ({
    ...t,
    numberOfChildren: [...dir.tenants.values()].filter((c) => c.parentId === t.id).length,
  });

  function jsonBody(req: SandboxRequest): { body: Record<string, unknown> } | { reply: Reply } {
    const parsed = parseJsonObject(req);
    if (parsed.ok) return { body: parsed.value };
    return {
      reply:
        parsed.problem === 'content-type'
          ? apiError(415, 'UNSUPPORTED_MEDIA_TYPE', parsed.detail)
          : apiError(400, 'INVALID_REQUEST', parsed.detail),
    };
  }

  function createTenant(req: SandboxRequest): Reply {
    const denied = superUser(req);
    if (denied !== undefined) return denied;
    const parsed = jsonBody(req);
    if ('reply' in parsed) return parsed.reply;
    const b = parsed.body;
    const name = b['name'];
    if (typeof name !== 'string' || name.trim() === '')
      return apiError(400, 'INVALID_REQUEST', 'name is required');
    const fields: Partial<Record<(typeof TENANT_FIELDS)[number], string>> = {};
    for (const key of TENANT_FIELDS) {
      const v = b[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') return apiError(400, 'INVALID_REQUEST', `${key} must be a string`);
      fields[key] = v;
    }
    const parentId = fields.parentId ?? MSX_ROOT_TENANT;
    if (!dir.tenants.has(parentId))
      return apiError(400, 'INVALID_REQUEST', 'parentId does not name a tenant');
    const lower = name.toLowerCase();
    if ([...dir.tenants.values()].some((t) => t.name.toLowerCase() === lower)) {
      return apiError(409, 'CONFLICT', 'A tenant with this name already exists');
    }
    const at = new Date(ctx.now()).toISOString();
    const tenant: Tenant = {
      id: randomUUID(),
      name,
      parentId,
      externalId: fields.externalId ?? null,
      description: fields.description ?? null,
      url: fields.url ?? null,
      image: fields.image ?? null,
      email: fields.email ?? null,
      suspended: false,
      createdOn: at,
      modifiedOn: at,
    };
    dir.tenants.set(tenant.id, tenant);
    return json(201, view(tenant));
  }

  function listTenants(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    const page = req.url.searchParams.get('page');
    const size = req.url.searchParams.get('pageSize');
    if (page === null || !/^[0-9]{1,9}$/.test(page)) {
      return apiError(400, 'INVALID_REQUEST', 'page must be an integer >= 0');
    }
    if (size === null || !/^[0-9]{1,4}$/.test(size) || Number(size) < 1 || Number(size) > 1000) {
      return apiError(400, 'INVALID_REQUEST', 'pageSize must be an integer from 1 to 1000');
    }
    const p = Number(page);
    const n = Number(size);
    const visible = [...dir.tenants.values()].filter((t) => visibleTo(who, t));
    return json(200, {
      page: p,
      pageSize: n,
      totalItems: visible.length,
      hasNext: (p + 1) * n < visible.length,
      hasPrevious: p > 0,
      sortBy: 'createdOn',
      sortOrder: 'asc',
      contents: visible.slice(p * n, (p + 1) * n).map(view),
    });
  }

  function getTenant(req: SandboxRequest): Reply {
    const who = authenticate(req);
    if ('status' in who) return who;
    const t = dir.tenants.get(req.params[0] ?? '');
    if (t === undefined || !visibleTo(who, t)) return apiError(404, 'NOT_FOUND', 'Tenant not found');
    return json(200, view(t));
  }

  function deleteTenant(req: SandboxRequest): Reply {
    const denied = superUser(req);
    if (denied !== undefined) return denied;
    const id = req.params[0] ?? '';
    if (!dir.tenants.has(id)) return apiError(404, 'NOT_FOUND', 'Tenant not found');
    if ([...dir.tenants.values()].some((t) => t.parentId === id)) {
      return apiError(409, 'CONFLICT', 'The tenant has child tenants');
    }
    dir.tenants.delete(id);
    return { status: 204 };
  }

  function registerClient(req: SandboxRequest): Reply {
    const denied = superUser(req);
    if (denied !== undefined) return denied;
    const parsed = jsonBody(req);
    if ('reply' in parsed) return parsed.reply;
    const b = parsed.body;
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
    const posInt = (v: unknown) =>
      v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0);
    const { clientId, clientSecret, grantTypes, scopes } = b;
    const access = b['accessTokenValiditySeconds'];
    const refresh = b['refreshTokenValiditySeconds'];
    if (typeof clientId !== 'string' || clientId === '')
      return apiError(400, 'INVALID_REQUEST', 'clientId is required');
    if (typeof clientSecret !== 'string' || clientSecret === '') {
      return apiError(400, 'INVALID_REQUEST', 'clientSecret is required');
    }
    if (!strings(grantTypes) || grantTypes.some((g) => !MSX_GRANTS.includes(g))) {
      return apiError(400, 'INVALID_REQUEST', `grantTypes must be a list of: ${MSX_GRANTS.join(', ')}`);
    }
    if (!strings(scopes)) return apiError(400, 'INVALID_REQUEST', 'scopes must be a list of strings');
    if (!posInt(access) || !posInt(refresh)) {
      return apiError(400, 'INVALID_REQUEST', 'token validity seconds must be positive integers');
    }
    if (dir.client(clientId) !== undefined) return apiError(409, 'CONFLICT', 'The client already exists');
    const client: SecurityClient = {
      clientId,
      clientSecret,
      grantTypes,
      scopes,
      refreshTokenValiditySeconds: (refresh as number | undefined) ?? 18000,
    };
    if (access !== undefined) client.accessTokenValiditySeconds = access as number;
    dir.addClient(client);
    const { clientSecret: _secret, ...shown } = client;
    return json(201, shown);
  }

  const TENANT = /^\/idm\/api\/v8\/tenants\/([^/]+)$/;
  return [
    { method: 'POST', path: '/idm/api/v8/tenants', kind: 'api', handle: createTenant },
    { method: 'GET', path: '/idm/api/v8/tenants', kind: 'api', handle: listTenants },
    { method: 'GET', path: TENANT, kind: 'api', handle: getTenant },
    { method: 'DELETE', path: TENANT, kind: 'api', handle: deleteTenant },
    { method: 'POST', path: '/idm/api/v2/clientsecurity', kind: 'api', handle: registerClient },
  ];
}
