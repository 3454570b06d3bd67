/**
 * tokenward: get, keep and use access tokens for REST APIs.
 *
 * This is the front door: a token for a profile ({@link getToken}, {@link openProfile},
 * {@link createTokenManager}), the {@link TokenManager} itself, the typed errors, the request
 * integrations (fetch, undici, axios) and the vendor operations (MSX switch-tenant / switch-user, RDP
 * password change). The building blocks live behind subpaths, so that this entry stays small:
 *
 * | entry point | holds |
 * | --- | --- |
 * | `tokenward/oauth` | grants, client authentication, discovery, revocation, token-response parsing, the token-client contract |
 * | `tokenward/stores` | the store contract, the memory and file stores, store and encryption keys |
 * | `tokenward/stores/postgres`, `tokenward/stores/redis` | the shared stores (their drivers load only with them) |
 * | `tokenward/config` | the config file, profile validation, secret references, what is secret |
 * | `tokenward/sandbox` | local emulators of the vendors' token endpoints and APIs |
 *
 * @example
 * ```ts
 * import { createAuthFetch, getToken, openProfile } from 'tokenward';
 *
 * const { accessToken } = await getToken('rdp');
 * const api = createAuthFetch(await openProfile('acronis'), { origins: ['https://eu2-cloud.acronis.com'] });
 * ```
 * @packageDocumentation
 */

// --- the front door ---
export { getProfile } from './config/load.js';
export { getPublicProfile } from './config/public.js';
export {
  type GetTokenOptions,
  type LazyTokenClient,
  type Rekey,
  type RefreshMode,
  TokenManager,
  type TokenManagerOptions,
  type TokenManagerParameters,
  type TokenwardWarning,
} from './manager/token-manager.js';
export {
  type CreateTokenManagerOptions,
  closeAll,
  createTokenManager,
  getToken,
  type OpenProfileOptions,
  openProfile,
  type TokenManagerTuning,
} from './front-door.js';

// --- people: interactive sign-in ---
export { type LoginOptions, login } from './login.js';
export type { DeviceCodeInfo, SignInOptions, SleepFunction } from './signin/types.js';

// --- what the front door takes and gives ---
export type { TokenClient, TokenIdentity, TokenRequestContext } from './token-client.js';
export type { HttpExchange, HttpOptions } from './http/types.js';
export type { Confirmation, IntrospectionResult } from './introspection.js';
export type * from './profile.js';
export type { TokenStore } from './stores/types.js';
export { authorizationValue, type ExpirySource, type Token, usableUntil } from './token.js';

// --- errors ---
export {
  AuthorizationError,
  ClientSetupError,
  ConfigError,
  IdTokenError,
  InsecureEndpointError,
  InvalidTokenResponseError,
  LockTimeoutError,
  LoginRequiredError,
  LoginTimeoutError,
  NetworkError,
  ProxyError,
  StoreError,
  TokenEndpointError,
  TokenwardError,
  type TokenwardErrorCode,
  type TokenwardErrorOptions,
  type TokenwardWarningCode,
  UnsupportedError,
  UpstreamUnavailableError,
  type WarningHandler,
} from './errors.js';

// --- secrets in your own output ---
export { maskToken, redactText, registerSecret } from './redact.js';

// --- authenticated requests: fetch, undici, axios ---
export { type AuthFetch, type AuthFetchOptions, createAuthFetch } from './fetch/auth-fetch.js';
export { type AttachAxiosOptions, type AxiosAttachment, attachAxios } from './fetch/axios.js';
export { originsFromProfile, profileOrigins } from './fetch/origins.js';
export type { AuthRequestOptions, ForeignOriginPolicy, TokenSource } from './fetch/shared.js';
// DPoP (a profile's `dpop`): the signer a manager carries (`manager.dpop`), see docs/fetch.md#dpop.
export type { DpopAlgorithm } from './dpop/algorithms.js';
export type { DpopKeyPair } from './dpop/keys.js';
export type { DpopNonces } from './dpop/nonces.js';
export type { ProofTarget } from './dpop/proof.js';
export type { DpopSigner, DpopSignerOptions } from './dpop/signer.js';
export { type TokenwardInterceptorOptions, tokenwardInterceptor } from './fetch/undici.js';
// Proxies (HTTPS_PROXY / NO_PROXY, a profile's `proxy`) for your own requests: see docs/fetch.md.
export { proxyDispatcher } from './http/agent.js';
export type { ProxySettings } from './http/proxy.js';
export { type ProxiedFetchOptions, proxiedFetch } from './fetch/proxied-fetch.js';

// --- vendor presets: API origins and the vendors' own operations ---
// Each preset's apiBaseUrl is its descriptor's: api_base_url, else the first of its API origins.
export { apiBaseUrl as acronisApiBaseUrl } from './providers/acronis.descriptor.js';
export { apiBaseUrl as cylanceApiBaseUrl } from './providers/cylance.descriptor.js';
export { apiBaseUrl as msxApiBaseUrl } from './providers/msx.descriptor.js';
export { apiBaseUrl as rdpApiBaseUrl } from './providers/rdp.descriptor.js';
export {
  type MsxSwitchOptions,
  type MsxSwitchUserTarget,
  type MsxTokenClient,
  switchTenant,
  switchUser,
} from './providers/msx.js';
export {
  changePassword,
  checkNewPassword,
  type RdpChangePasswordOptions,
  type RdpTokenClient,
} from './providers/rdp.js';
