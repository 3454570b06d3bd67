/**
 * A standards OpenID Connect authorization server for people, issuer `<sandbox origin>/oidc`, so that
 * `tokenward login` can be tried with no account.
 *
 * - `GET /oidc/.well-known/openid-configuration` (also `GET /.well-known/oauth-authorization-server/oidc`,
 *   RFC 8414): the metadata. `GET /oidc/jwks`: the RS256 public key the tokens are signed with.
 * - `GET /oidc/authorize`: the code flow (RFC 6749 §4.1) with PKCE S256 required (RFC 7636); a plain
 *   HTML sign-in page (`POST /oidc/login`), then consent (`POST /oidc/consent`, Allow / Deny). The
 *   redirect URIs are exact (`http://127.0.0.1/callback`, `[::1]`, `localhost`, and `/` on each), any
 *   port on loopback (RFC 8252 §7.3); the answer carries `code`, `state` and `iss` (RFC 9207).
 * - `POST /oidc/device/auth` (RFC 8628) and the verification page `GET|POST /oidc/device`: user code,
 *   username, password, then consent.
 * - `POST /oidc/token`: `authorization_code` (single use; a replay revokes what the code issued),
 *   `urn:ietf:params:oauth:grant-type:device_code` (`authorization_pending`, `slow_down` when polled
 *   faster than the interval, which then grows by 5 s, `expired_token`, `access_denied`) and
 *   `refresh_token` (rotated: a used one is refused). A refresh token comes with `offline_access`; an ID
 *   token (iss, sub, aud, azp, exp, iat, auth_time, nonce, and email/name by scope) with `openid`.
 * - `GET|POST /oidc/userinfo` (Bearer) and `POST /oidc/revoke` (RFC 7009).
 *
 * Clients: a public one (`token_endpoint_auth_method: none`) and a confidential one (Basic or
 * form secret); see `DEMO_CREDENTIALS.oidc`.
 * @module
 */

import { json, type Reply } from '../../core/http.js';
import type { Route, VendorContext, VendorModule } from '../../core/vendor.js';
import { frontChannel } from './flows.js';
import { DEVICE_GRANT, ISSUER_PATH, OidcStore, SCOPES } from './model.js';
import { backChannel, issuerOf } from './token.js';

/** The server's metadata (OpenID Connect Discovery 1.0 / RFC 8414). */
export function metadata(ctx: VendorContext<'oidc'>): Record<string, unknown> {
  const iss = issuerOf(ctx);
  const authMethods = ['none', 'client_secret_basic', 'client_secret_post'];
  return {
    issuer: iss,
    authorization_endpoint: `${iss}/authorize`,
    token_endpoint: `${iss}/token`,
    device_authorization_endpoint: `${iss}/device/auth`,
    jwks_uri: `${iss}/jwks`,
    userinfo_endpoint: `${iss}/userinfo`,
    revocation_endpoint: `${iss}/revoke`,
    scopes_supported: Object.keys(SCOPES),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', DEVICE_GRANT, 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    code_challenge_methods_supported: ['S256'],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'azp',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'name',
      'preferred_username',
      'email',
      'email_verified',
    ],
    prompt_values_supported: ['none', 'login', 'consent'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}

/** Creates the OpenID Connect server. */
export function createOidc(ctx: VendorContext<'oidc'>): VendorModule {
  const store = new OidcStore();
  const back = backChannel(ctx, store);
  const front = frontChannel(ctx, store);
  const discovery = (): Reply => json(200, metadata(ctx), { 'cache-control': 'max-age=300' });
  const p = (path: string) => `${ISSUER_PATH}${path}`;
  const routes: Route[] = [
    { method: 'GET', path: p('/.well-known/openid-configuration'), kind: 'api', handle: discovery },
    {
      method: 'GET',
      path: `/.well-known/oauth-authorization-server${ISSUER_PATH}`,
      kind: 'api',
      handle: discovery,
    },
    { method: 'GET', path: p('/jwks'), kind: 'api', handle: () => json(200, { keys: [ctx.key.publicJwk] }) },
    { method: 'GET', path: p('/authorize'), kind: 'page', handle: front.authorize },
    { method: 'POST', path: p('/login'), kind: 'page', handle: front.login },
    { method: 'POST', path: p('/consent'), kind: 'page', handle: front.consent },
    { method: 'GET', path: p('/device'), kind: 'page', handle: front.deviceForm },
    { method: 'POST', path: p('/device'), kind: 'page', handle: front.deviceSubmit },
    { method: 'POST', path: p('/device/auth'), kind: 'api', handle: back.deviceAuthorization },
    { method: 'POST', path: p('/token'), kind: 'token', handle: back.token },
    { method: 'GET', path: p('/userinfo'), kind: 'api', handle: back.userinfo },
    { method: 'POST', path: p('/userinfo'), kind: 'api', handle: back.userinfo },
    { method: 'POST', path: p('/revoke'), kind: 'api', handle: back.revoke },
  ];
  return { routes, reset: () => store.clear() };
}
