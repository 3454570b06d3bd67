/**
 * tokenward: get, keep and use access tokens for REST APIs.
 * @packageDocumentation
 */

export type * from './client.js';
export { httpBudgetMs } from './client.js';
// --- foundation ---
export * from './errors.js';
export type * from './http/types.js';
export type * from './profile.js';
export {
  MAX_RECENT_TOKENS,
  maskToken,
  REDACTED,
  redactText,
  registerBasicCredentials,
  registerSecret,
  registerToken,
  secretEncodings,
} from './redact.js';
export {
  isSecretField,
  isSecretProfileKey,
  SECRET_FIELD_NAMES,
  SECRET_PROFILE_KEYS,
  type SecretProfileKey,
} from './secret-fields.js';
export { MemoryStore } from './stores/memory.js';
export type * from './stores/types.js';
export * from './token.js';

// --- manager (lead) ---
export { TokenManager } from './manager/token-manager.js';
export type {
  GetTokenOptions,
  TokenManagerOptions,
  TokenManagerParameters,
  TokenwardWarning,
} from './manager/token-manager.js';

// --- front door ---
export {
  type CreateTokenManagerOptions,
  closeAll,
  createTokenManager,
  getToken,
  type OpenProfileOptions,
  openProfile,
  type TokenManagerTuning,
} from './tokenward.js';
export { createTokenClient, PROVIDERS, type ProviderModule, providerOf } from './providers/index.js';

// --- http, client auth, grants, discovery (core) ---
export {
  assertSecureUrl,
  isLoopbackHost,
  safeUrl,
} from './http/url.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  type GetJsonOptions,
  getJson,
  requestToken,
} from './http/token-endpoint.js';
export { closeAgents } from './http/agent.js';
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
  formUrlEncode,
  JWT_BEARER_ASSERTION_TYPE,
  noneAuth,
  privateKeyJwt,
} from './auth/index.js';
export {
  type ClientCredentialsParams,
  clientCredentials,
  customGrant,
  type GrantContext,
  type GrantParseOptions,
  type GrantRequestExtras,
  grantRequest,
  type PasswordParams,
  passwordGrant,
  type RefreshTokenParams,
  refreshTokenGrant,
  refreshWithToken,
  type ScopeInput,
  type SignedJwtExchangeContext,
  type SignedJwtExchangeParams,
  type SignedJwtParams,
  scopeParam,
  signExchangeJwt,
  signedJwtExchange,
} from './grants/index.js';

// --- vendor presets (the sandbox is its own entry point: tokenward/sandbox) ---
// Each preset's apiBaseUrl is its descriptor's: api_base_url, else the first of its API origins.
export { apiBaseUrl as acronisApiBaseUrl } from './providers/acronis.descriptor.js';
export { apiBaseUrl as cylanceApiBaseUrl } from './providers/cylance.descriptor.js';
export { apiBaseUrl as msxApiBaseUrl } from './providers/msx.descriptor.js';
export { apiBaseUrl as rdpApiBaseUrl } from './providers/rdp.descriptor.js';
export {
  CYLANCE_REGIONS,
  cylanceClaims,
  cylanceTokenUrl,
} from './providers/cylance.js';
export {
  MSX_SWITCH_TENANT_GRANT,
  MSX_SWITCH_USER_GRANT,
  type MsxSwitchOptions,
  type MsxSwitchUserTarget,
  type MsxTokenClient,
  switchTenant,
  switchUser,
} from './providers/msx.js';
export {
  applyRefreshChainRule,
  changePassword,
  checkNewPassword,
  type RdpChangePasswordOptions,
  type RdpTokenClient,
} from './providers/rdp.js';

// --- stores ---
export { cacheKey, isCacheKey } from './stores/cache-key.js';
export { decodeEntry, encodeEntry } from './stores/envelope.js';
export { defaultCacheDir, FileStore, type FileStoreOptions } from './stores/file.js';
export { type CreateStoreOptions, createStore } from './stores/index.js';
export { type CacheEncryptionKey, defaultKeyDir, resolveCacheKey } from './stores/keys.js';
// pg and ioredis load only when used: createStore() imports them lazily; these are types only (the classes
// and postgresMigrationSql are at the subpaths tokenward/stores/postgres and tokenward/stores/redis).
export type { PostgresStore, PostgresStoreOptions } from './stores/postgres.js';
export type { RedisStore, RedisStoreOptions } from './stores/redis.js';
export type { StoreTimeouts } from './stores/util.js';

// --- config ---
export {
  addProfile,
  type AddProfileOptions,
  CONFIG_FILE_NAME,
  type ConfigFile,
  type ConfigPathOptions,
  type ConfigPathSource,
  defaultConfigDir,
  getProfile,
  getPublicProfile,
  isSecretReference,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  PROFILE_KEYS,
  parseSecretReference,
  publicProfile,
  type ResolveSecretsOptions,
  readConfig,
  registerProfileSecrets,
  removeProfile,
  resolveConfigPath,
  resolveProfileSecrets,
  resolveSecretReference,
  SECRET_KEYS,
  type SecretKey,
  type SecretReference,
  type SecretReferenceKind,
  validateProfile,
} from './config/index.js';

// --- authenticated requests: fetch, undici, axios ---
export * from './fetch/index.js';
