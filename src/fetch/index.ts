/**
 * Authenticated requests: {@link createAuthFetch} (a `fetch`), {@link tokenwardInterceptor} (undici)
 * and {@link attachAxios} (axios). All three attach the token only to allowed origins, keep an
 * Authorization header the caller set, and on a 401 invalidate the token and retry exactly once.
 *
 * @example
 * ```ts
 * import { createTokenManager, createAuthFetch, originsFromProfile } from 'tokenward';
 *
 * const manager = await createTokenManager(profile);
 * const authFetch = createAuthFetch(manager, { origins: originsFromProfile(profile) });
 * const res = await authFetch('https://api.example.com/v1/items');
 * ```
 * @module
 */

export { proxyDispatcher } from '../http/agent.js';
export type { ProxySettings } from '../http/proxy.js';
export { type AuthFetch, type AuthFetchOptions, createAuthFetch } from './auth-fetch.js';
export { type AttachAxiosOptions, type AxiosAttachment, attachAxios } from './axios.js';
export { foreignOriginError, OriginScope, originsFromProfile, profileOrigins } from './origins.js';
export { type ProxiedFetchOptions, proxiedFetch } from './proxied-fetch.js';
export {
  AuthorizationValue,
  type AuthRequestOptions,
  type ForeignOriginPolicy,
  isReplayableBody,
  isTokenRejected,
  type TokenSource,
} from './shared.js';
export { type TokenwardInterceptorOptions, tokenwardInterceptor } from './undici.js';
