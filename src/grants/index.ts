/**
 * The standard grants, the delegated ones (token exchange, JWT bearer), the generic one, and the
 * signed-JWT exchange (Cylance-style).
 * @module
 */

export { type ClientCredentialsParams, clientCredentials } from './client-credentials.js';
export { customGrant } from './custom.js';
export { JWT_BEARER_GRANT, type JwtBearerParams, jwtBearer } from './jwt-bearer.js';
export { type PasswordParams, passwordGrant } from './password.js';
export { type RefreshTokenParams, refreshTokenGrant, refreshWithToken } from './refresh-token.js';
export { type GrantRequestExtras, grantRequest } from './request.js';
export {
  type SignedJwtExchangeContext,
  type SignedJwtExchangeParams,
  type SignedJwtParams,
  signExchangeJwt,
  signedJwtExchange,
} from './signed-jwt-exchange.js';
export {
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPES,
  type TokenExchangeParams,
  tokenExchange,
} from './token-exchange.js';
export {
  type GrantContext,
  type GrantParseOptions,
  type ResourceInput,
  resourceParam,
  type ScopeInput,
  scopeParam,
} from './types.js';
