/**
 * Acronis Cyber Platform (seed 003).
 *
 * `POST /api/2/idp/token` and the older `POST /bc/idp/token`: form body `grant_type=client_credentials`
 * with HTTP Basic client authentication (the older path also takes `grant_type` in the query string, as
 * one public connector sends it). The answer: `access_token` (an RS256 JWT), `token_type: "bearer"`,
 * `expires_on` (absolute epoch seconds, integer), `id_token` — and no `expires_in`. Token-endpoint
 * errors are `{error, error_description}`: 401 `invalid_client`, 400 `invalid_request`,
 * 400 `unsupported_grant_type`.
 *
 * `GET /api/2/clients/{client_id}` answers the API client's record with a valid Bearer token; an
 * expired, unknown or missing token gets 401 and other API errors `{"error": {code, message, …}}`.
 * @module
 */

import {
  basicMatches,
  bearer,
  json,
  oauthError,
  parseBasic,
  parseForm,
  type Reply,
  type SandboxRequest,
} from '../core/http.js';
import { signJwt, TokenBook } from '../core/tokens.js';
import type { Route, VendorContext, VendorModule } from '../core/vendor.js';

function apiError(status: number, code: string, message: string): Reply {
  return json(status, { error: { domain: 'PlatformAccountServer', code, message, context: {}, debug: {} } });
}

/** Creates the Acronis emulator. */
export function createAcronis(ctx: VendorContext<'acronis'>): VendorModule {
  const access = new TokenBook<{ clientId: string }>();
  let lastAccess: string | null = null;

  function tokenRoute(legacy: boolean) {
    return async (req: SandboxRequest): Promise<Reply> => {
      const creds = parseBasic(req.headers);
      const c = ctx.credentials();
      if (creds === undefined || !basicMatches(creds, c.clientId, c.clientSecret)) {
        return oauthError(401, 'invalid_client', 'Client authentication failed', {
          'www-authenticate': 'Basic realm="idp"',
        });
      }
      // The older path also takes grant_type in the query string, with an empty body.
      const queryOnly = legacy && req.body.length === 0 && req.url.searchParams.has('grant_type');
      const parsed = queryOnly ? { ok: true as const, value: new Map<string, string>() } : parseForm(req);
      if (!parsed.ok) return oauthError(400, 'invalid_request', parsed.detail);
      let grant = parsed.value.get('grant_type');
      if (grant === undefined && legacy) grant = req.url.searchParams.get('grant_type') ?? undefined;
      if (grant === undefined || grant === '')
        return oauthError(400, 'invalid_request', 'grant_type is required');
      if (grant !== 'client_credentials') {
        return oauthError(
          400,
          'unsupported_grant_type',
          `The grant type ${grant} is not supported for API clients`,
        );
      }
      const now = ctx.now();
      const lifetime = ctx.settings().tokenLifetimeSeconds;
      const iss = ctx.origin();
      const claims = { iss, sub: c.clientId, aud: iss, sub_type: 'api_client', tenant_id: c.tenantId };
      const accessToken = await signJwt(
        ctx.key,
        { ...claims, scope: [{ tenant_id: c.tenantId, role: 'admin' }] },
        now,
        lifetime,
      );
      const idToken = await signJwt(ctx.key, { ...claims, aud: c.clientId }, now, lifetime);
      access.add(accessToken, { clientId: c.clientId }, now + lifetime * 1000, now);
      return {
        ...json(200, {
          access_token: accessToken,
          expires_on: Math.floor(now / 1000) + lifetime,
          id_token: idToken,
          token_type: 'bearer',
        }),
        grant: 'client_credentials',
      };
    };
  }

  function client(req: SandboxRequest): Reply {
    const t = bearer(req.headers);
    if (t === undefined) return apiError(401, 'Unauthorized', 'Authorization header is missing');
    const now = ctx.now();
    const found = access.lookup(t, now);
    if (found.state === 'expired') return apiError(401, 'Unauthorized', 'Access token is expired');
    if (found.state !== 'valid') return apiError(401, 'Unauthorized', 'Access token is invalid');
    const c = ctx.credentials();
    if (req.params[0] !== c.clientId) return apiError(404, 'NotFound', 'Client not found');
    lastAccess = new Date(now).toISOString();
    return json(200, {
      client_id: c.clientId,
      type: 'api_client',
      tenant_id: c.tenantId,
      token_endpoint_auth_method: 'client_secret_basic',
      status: 'enabled',
      data: { client_name: 'tokenward sandbox' },
      redirect_uris: [],
      created_at: '2024-01-01T00:00:00+00:00',
      last_access: lastAccess,
    });
  }

  const routes: Route[] = [
    { method: 'POST', path: '/api/2/idp/token', kind: 'token', handle: tokenRoute(false) },
    { method: 'POST', path: '/bc/idp/token', kind: 'token', handle: tokenRoute(true) },
    { method: 'GET', path: /^\/api\/2\/clients\/([^/]+)$/, kind: 'api', handle: client },
  ];
  return {
    routes,
    reset() {
      access.clear();
      lastAccess = null;
    },
  };
}
