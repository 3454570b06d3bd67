/**
 * `tokenward/config`: the config file and profiles as data — for a program that reads, checks or edits
 * tokenward's configuration rather than getting tokens (that is the main entry: `getToken`,
 * `openProfile`, `createTokenManager`, `getProfile`).
 *
 * - the file: {@link resolveConfigPath} (`--config`, `TOKENWARD_CONFIG`, the platform directory),
 *   {@link loadConfig} / {@link readConfig}, {@link addProfile} / {@link removeProfile} (atomic, 0600);
 * - profiles: {@link getProfile}, {@link validateProfile} (the same key-level messages as the file),
 *   {@link PROFILE_KEYS}, {@link publicProfile} / {@link getPublicProfile} (secrets left out);
 * - secret references (`env:`, `file:`, `cmd:`, `keyring:`): {@link parseSecretReference},
 *   {@link resolveSecretReference}, {@link resolveProfileSecrets}, and the one catalogue of what is
 *   secret ({@link SECRET_PROFILE_KEYS}, {@link SECRET_FIELD_NAMES}, {@link isSecretField}).
 *
 * @example
 * ```ts
 * import { loadConfig, validateProfile } from 'tokenward/config';
 *
 * const { path, profiles } = await loadConfig(); // a bad key: ConfigError naming file, line and key
 * console.log(path, Object.keys(profiles));
 * const profile = validateProfile(JSON.parse(text)); // the same rules for a profile from elsewhere
 * ```
 * @module
 */

export {
  type ConfigFile,
  getProfile,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  readConfig,
} from '../config/load.js';
export {
  CONFIG_FILE_NAME,
  type ConfigPathOptions,
  type ConfigPathSource,
  defaultConfigDir,
  resolveConfigPath,
} from '../config/paths.js';
export { getPublicProfile, publicProfile } from '../config/public.js';
export { PROFILE_KEYS, type ValidationContext, validateProfile } from '../config/schema.js';
export {
  isSecretReference,
  parseSecretReference,
  type ResolveSecretsOptions,
  registerProfileSecrets,
  resolveProfileSecrets,
  resolveSecretReference,
  type SecretReference,
  type SecretReferenceKind,
} from '../config/secrets.js';
export { type AddProfileOptions, addProfile, removeProfile } from '../config/write.js';
export type * from '../profile.js';
export {
  isSecretField,
  isSecretProfileKey,
  SECRET_FIELD_NAMES,
  SECRET_PROFILE_KEYS,
  type SecretProfileKey,
} from '../secret-fields.js';
