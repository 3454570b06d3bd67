/**
 * Cylance Protect API v2 (seeds 000, 001).
 *
 * `POST /auth/v2/token` takes `{"auth_token": "<JWT>"}` as `application/json` (charset, if given, UTF-8).
 * The auth token must be HS256-signed with the application secret and carry integer `exp` and `iat`,
 * `iss` = `http://cylance.com`, `sub` = application id, `tid` = tenant id, a UUID `jti` never seen
 * before, and optionally `scp` as a list or one comma-separated string. The answer is
 * `{"access_token": "…"}` only; the access token is a JWT whose `exp` gives its lifetime.
 *
 * Status codes: 400 for a malformed request or claim set (missing/non-integer `exp`/`iat`, `exp` more
 * than 1800 s after `iat`, missing/non-UUID `jti`, bad `scp`), 401 with an empty body for a token that
 * does not authenticate (signature, algorithm, unknown `sub`, wrong `iss`/`tid`, `iat` in the future,
 * expired, replayed `jti`), 403 for a scope the application was not granted, 415 for another content
 * type. The reason is in the `x-sandbox-reason` header (the real service gives none).
 *
 * `GET /devices/v2?page=1&page_size=10` lists demo devices in Cylance's page shape; it needs a valid
 * access token (401, empty body, otherwise) and, for a scope-restricted token, `device:list` (403).
 * @module
 */

import { randomUUID } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { bearer, isUuid, json, parseJsonObject, type Reply, type SandboxRequest } from '../core/http.js';
import { signJwt, TokenBook } from '../core/tokens.js';
import type { Route, VendorContext, VendorModule } from '../core/vendor.js';

/** `iat` may be this far in the future (the two clocks are never exactly equal), seconds. */
export const CYLANCE_IAT_LEEWAY_SECONDS = 60;
/** Longest accepted auth-token lifetime (`exp` − `iat`), seconds. */
export const CYLANCE_MAX_AUTH_TOKEN_SECONDS = 1800;
/** The scopes the demo application is granted. */
export const CYLANCE_APP_SCOPES: readonly string[] = [
  'device:list',
  'device:read',
  'device:update',
  'policy:create',
  'policy:list',
  'policy:read',
  'policy:update',
  'user:list',
  'user:read',
  'threat:list',
  'threat:read',
];

interface AccessEntry {
  scopes?: readonly string[];
}

function reject(status: 400 | 401 | 403 | 415, reason: string): Reply {
  // 401 comes with an empty body, like the real service; 400/403/415 with a short message.
  const body = status === 401 ? undefined : { message: reason };
  return { status, body, headers: { 'x-sandbox-reason': reason } };
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** The `scp` claim as a list, or a reason it is malformed. */
function readScopes(scp: unknown): string[] | string {
  if (typeof scp === 'string') {
    const list = scp.split(',').map((s) => s.trim());
    return list.some((s) => s === '') ? 'scp has an empty entry' : list;
  }
  if (Array.isArray(scp) && scp.length > 0 && scp.every((s) => typeof s === 'string' && s.trim() !== '')) {
    return scp as string[];
  }
  return 'scp must be a list of scopes or one comma-separated string';
}

const DEVICES = Array.from({ length: 23 }, (_, i) => {
  const n = String(i + 1).padStart(2, '0');
  return {
    id: `d0c5a1e0-0000-4000-8000-0000000000${n}`,
    name: `SANDBOX-HOST-${n}`,
    state: i % 5 === 4 ? 'Offline' : 'Online',
    agent_version: '3.1.1001',
    policy: { id: '8f3b2c1d-0000-4000-8000-000000000001', name: 'Default' },
    date_first_registered: `2024-01-${n.padStart(2, '0')}T09:00:00`,
    ip_addresses: [`10.0.0.${i + 1}`],
    mac_addresses: [`02-00-00-00-00-${n}`],
  };
});

/** Creates the Cylance emulator. */
export function createCylance(ctx: VendorContext<'cylance'>): VendorModule {
  const seenJti = new TokenBook<true>();
  const access = new TokenBook<AccessEntry>();

  async function token(req: SandboxRequest): Promise<Reply> {
    const parsed = parseJsonObject(req);
    if (!parsed.ok) return reject(parsed.problem === 'content-type' ? 415 : 400, parsed.detail);
    const authToken = parsed.value['auth_token'];
    if (typeof authToken !== 'string' || authToken === '') return reject(400, 'auth_token is required');

    let claims: Record<string, unknown>;
    try {
      if (decodeProtectedHeader(authToken).alg !== 'HS256')
        return reject(401, 'auth token must be signed HS256');
      claims = decodeJwt(authToken);
    } catch {
      return reject(400, 'auth_token is not a JWT');
    }
    const creds = ctx.credentials();
    if (claims['sub'] !== creds.appId) return reject(401, 'unknown application (sub)');
    try {
      await compactVerify(authToken, new TextEncoder().encode(creds.appSecret), { algorithms: ['HS256'] });
    } catch {
      return reject(401, 'auth token signature does not verify with the application secret');
    }

    const { exp, iat, jti } = claims;
    if (!isInt(exp)) return reject(400, 'exp is required (integer seconds)');
    if (!isInt(iat)) return reject(400, 'iat is required (integer seconds)');
    if (exp <= iat) return reject(400, 'exp must be after iat');
    if (exp - iat > CYLANCE_MAX_AUTH_TOKEN_SECONDS)
      return reject(400, 'exp is more than 30 minutes after iat');
    if (!isUuid(jti)) return reject(400, 'jti must be a UUID');
    let scopes: string[] | undefined;
    if (claims['scp'] !== undefined) {
      const s = readScopes(claims['scp']);
      if (typeof s === 'string') return reject(400, s);
      scopes = s;
    }

    const now = ctx.now();
    const nowS = Math.floor(now / 1000);
    if (claims['iss'] !== 'http://cylance.com') return reject(401, 'iss must be http://cylance.com');
    if (claims['tid'] !== creds.tenantId) return reject(401, 'tid does not match the application tenant');
    if (iat > nowS + CYLANCE_IAT_LEEWAY_SECONDS) return reject(401, 'iat is in the future (clock drift)');
    if (exp <= nowS) return reject(401, 'auth token expired');
    if (seenJti.has(jti)) return reject(401, 'jti was already used');
    seenJti.add(jti, true, exp * 1000, now);
    if (scopes !== undefined) {
      const missing = scopes.filter((s) => !CYLANCE_APP_SCOPES.includes(s));
      if (missing.length > 0) return reject(403, `scope not granted: ${missing.join(',')}`);
    }

    const lifetime = ctx.settings().tokenLifetimeSeconds;
    const accessToken = await signJwt(
      ctx.key,
      {
        iss: 'http://cylance.com',
        sub: creds.appId,
        tid: creds.tenantId,
        jti: randomUUID(),
        ...(scopes === undefined ? {} : { scp: scopes }),
      },
      now,
      lifetime,
    );
    access.add(accessToken, scopes === undefined ? {} : { scopes }, now + lifetime * 1000, now);
    return { ...json(200, { access_token: accessToken }), grant: 'jwt' };
  }

  function authorize(req: SandboxRequest, scope: string): Reply | undefined {
    const t = bearer(req.headers);
    if (t === undefined) return reject(401, 'no access token in the Authorization header');
    const found = access.lookup(t, ctx.now());
    if (found.state !== 'valid') return reject(401, `access token ${found.state}`);
    if (found.entry.scopes !== undefined && !found.entry.scopes.includes(scope)) {
      return reject(403, `the token lacks scope ${scope}`);
    }
    return undefined;
  }

  function positiveInt(v: string | null, dflt: number): number | undefined {
    if (v === null) return dflt;
    return /^[1-9][0-9]{0,6}$/.test(v) ? Number(v) : undefined;
  }

  function devices(req: SandboxRequest): Reply {
    const denied = authorize(req, 'device:list');
    if (denied !== undefined) return denied;
    const page = positiveInt(req.url.searchParams.get('page'), 1);
    const size = positiveInt(req.url.searchParams.get('page_size'), 10);
    if (page === undefined || size === undefined || size > 200) {
      return reject(400, 'page and page_size must be positive integers (page_size at most 200)');
    }
    const items = DEVICES.slice((page - 1) * size, page * size);
    return json(200, {
      page_number: page,
      page_size: size,
      total_pages: Math.ceil(DEVICES.length / size),
      total_number_of_items: DEVICES.length,
      page_items: items,
    });
  }

  function device(req: SandboxRequest): Reply {
    const denied = authorize(req, 'device:read');
    if (denied !== undefined) return denied;
    const d = DEVICES.find((x) => x.id === req.params[0]);
    return d === undefined ? { status: 404, body: { message: 'device not found' } } : json(200, d);
  }

  const routes: Route[] = [
    { method: 'POST', path: '/auth/v2/token', kind: 'token', handle: token },
    { method: 'GET', path: '/devices/v2', kind: 'api', handle: devices },
    { method: 'GET', path: /^\/devices\/v2\/([^/]+)$/, kind: 'api', handle: device },
  ];
  return {
    routes,
    reset() {
      seenJti.clear();
      access.clear();
    },
  };
}
