/**
 * Configuration: the TOML config file, profiles and secret references.
 * @module
 */

export {
  type ConfigFile,
  chooseDefaultProfile,
  getProfile,
  type LoadConfigOptions,
  type LoadedConfig,
  literalSecrets,
  loadConfig,
  profileFromConfig,
  readConfig,
} from './load.js';
export { originOf, type ProfileOrigin } from './origin.js';
export {
  CONFIG_FILE_NAME,
  type ConfigPathOptions,
  type ConfigPathSource,
  defaultConfigDir,
  resolveConfigPath,
} from './paths.js';
export { getPublicProfile, publicProfile } from './public.js';
export { PROFILE_KEYS, ProfileSchema, validateProfile } from './schema.js';
export {
  isSecretReference,
  parseSecretReference,
  type ResolveSecretsOptions,
  registerProfileSecrets,
  resolveProfileSecrets,
  resolveSecretReference,
  SECRET_KEYS,
  type SecretKey,
  type SecretReference,
  type SecretReferenceKind,
} from './secrets.js';
export { type AddProfileOptions, addProfile, PROFILE_NAME, removeProfile } from './write.js';
