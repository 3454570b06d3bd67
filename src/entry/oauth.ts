/**
 * `tokenward/oauth`: the OAuth 2.0 building blocks under the presets, for a token flow that no profile
 * key describes. Put a {@link TokenClient} of your own together from them and hand it to a
 * `TokenManager` (main entry), which adds the cache, single flight and refresh.
 *
 * - grants: {@link clientCredentials}, {@link passwordGrant}, {@link refreshTokenGrant},
 *   {@link customGrant} (any form-based grant), {@link signedJwtExchange} (a signed JWT exchanged for a
 *   token, as Cylance does), {@link authorizationCodeGrant} (PKCE, loopback redirect) and
 *   {@link deviceCodeGrant} (RFC 8628) with {@link validateIdToken} (OpenID Connect ID tokens) — the
 *   interactive grants under `login()`; {@link tokenExchange} (RFC 8693) and {@link jwtBearer} (RFC 7523);
 * - client authentication: {@link createClientAuth} (from profile keys) or one method directly
 *   ({@link clientSecretBasic}, {@link clientSecretPost}, {@link clientSecretJwt}, {@link privateKeyJwt},
 *   {@link noneAuth});
 * - mutual TLS (RFC 8705): {@link tlsClientAuth}, {@link selfSignedTlsClientAuth}, and the client
 *   certificate the HTTP layer presents ({@link loadClientCertificate}, `HttpOptions.clientCert`);
 * - discovery ({@link discover}), revocation ({@link revoke}, RFC 7009), introspection
 *   ({@link introspect}, RFC 7662), token-response parsing
 *   ({@link parseTokenResponse}) and the token-endpoint request itself ({@link requestToken}: time-
 *   and size-bounded, retried, typed errors, secrets redacted);
 * - {@link createTokenClient}: the token client a profile describes, as the front door builds it.
 *
 * @example
 * ```ts
 * import { TokenManager } from 'tokenward';
 * import { clientCredentials, clientSecretPost, type TokenClient } from 'tokenward/oauth';
 * import { MemoryStore } from 'tokenward/stores';
 *
 * const grant = {
 *   tokenUrl: 'https://idp.example.com/oauth2/token',
 *   clientAuth: clientSecretPost({ clientId: 'reports', clientSecret: process.env['REPORTS_SECRET'] ?? '' }),
 *   http: { timeoutMs: 5_000 },
 * };
 * const client: TokenClient = {
 *   identity: { tokenUrl: grant.tokenUrl, clientId: 'reports' },
 *   fetchToken: (ctx) => clientCredentials(grant, { scope: 'reports:read' }, ctx.signal ? { signal: ctx.signal } : {}),
 * };
 * const manager = new TokenManager({ client, key: 'reports', store: new MemoryStore() });
 * ```
 * @module
 */

export type { ClientSecretBasicOptions } from '../auth/basic.js';
export type { ClientSecretJwtOptions } from '../auth/client-secret-jwt.js';
export {
  type BasicEncoding,
  type ClientAuth,
  type ClientAuthContext,
  type ClientAuthProfile,
  type ClientAuthRequest,
  clientSecretBasic,
  clientSecretJwt,
  clientSecretPost,
  createClientAuth,
  encodeBasicCredentials,
  JWT_BEARER_ASSERTION_TYPE,
  noneAuth,
  privateKeyJwt,
  type SelfSignedTlsClientAuthOptions,
  selfSignedTlsClientAuth,
  type TlsClientAuthOptions,
  tlsClientAuth,
} from '../auth/index.js';
export type { NoneAuthOptions } from '../auth/none.js';
export type { ClientSecretPostOptions } from '../auth/post.js';
export type { PrivateKeyJwtOptions } from '../auth/private-key-jwt.js';
export { type DiscoverOptions, type DiscoveryDocument, discover, endpointOf } from '../discovery.js';
// --- interactive sign-in: the grants and ID token validation under `login()` ---
export {
  type AuthorizationCodeParams,
  authorizationCodeGrant,
  pkceChallenge,
} from '../grants/authorization-code.js';
export { DEVICE_CODE_GRANT_TYPE, type DeviceCodeParams, deviceCodeGrant } from '../grants/device-code.js';
export {
  type ClientCredentialsParams,
  clientCredentials,
  customGrant,
  type GrantContext,
  type GrantParseOptions,
  type GrantRequestExtras,
  grantRequest,
  JWT_BEARER_GRANT,
  type JwtBearerParams,
  jwtBearer,
  type PasswordParams,
  passwordGrant,
  type RefreshTokenParams,
  type ResourceInput,
  refreshTokenGrant,
  refreshWithToken,
  resourceParam,
  type ScopeInput,
  type SignedJwtExchangeContext,
  type SignedJwtExchangeParams,
  type SignedJwtParams,
  scopeParam,
  signExchangeJwt,
  signedJwtExchange,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPES,
  type TokenExchangeParams,
  tokenExchange,
} from '../grants/index.js';
export {
  type ClientCertificate,
  type ClientCertificateInput,
  certificateThumbprint,
  loadClientCertificate,
} from '../http/client-cert.js';
export { requestToken } from '../http/token-endpoint.js';
export type {
  FormValue,
  HttpExchange,
  HttpOptions,
  JsonResponse,
  TokenEndpointRequest,
  TokenRequestAnswer,
  TokenRequestHook,
} from '../http/types.js';
export {
  type Confirmation,
  type IntrospectionContext,
  type IntrospectionResult,
  introspect,
} from '../introspection.js';
export { createTokenClient } from '../providers/index.js';
export { type RevocationContext, revoke, revokeToken, type TokenTypeHint } from '../revocation.js';
export {
  clearJwksCache,
  type IdTokenClaims,
  type IdTokenExpectations,
  validateIdToken,
} from '../signin/id-token.js';
export { type ParseTokenOptions, parseTokenResponse, type Token } from '../token.js';
export type { TokenClient, TokenIdentity, TokenRequestContext } from '../token-client.js';
export { httpBudgetMs } from '../token-client.js';
