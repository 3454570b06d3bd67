/**
 * The standard grants and the generic one.
 * @module
 */

export { type ClientCredentialsParams, clientCredentials } from './client-credentials.js';
export { customGrant } from './custom.js';
export { type PasswordParams, passwordGrant } from './password.js';
export { type RefreshTokenParams, refreshTokenGrant } from './refresh-token.js';
export { type GrantRequestExtras, grantRequest } from './request.js';
export { type GrantContext, type GrantParseOptions, type ScopeInput, scopeParam } from './types.js';
