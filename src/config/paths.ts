/**
 * Where the config file is: `--config FILE`, else `TOKENWARD_CONFIG`, else `config.toml` in the platform's
 * config directory (`$XDG_CONFIG_HOME/tokenward` or `~/.config/tokenward` on Linux,
 * `~/Library/Preferences/tokenward` on macOS, `%APPDATA%\tokenward\Config` on Windows).
 * @module
 */

import { resolve } from 'node:path';
import envPaths from 'env-paths';
import { ConfigError } from '../errors.js';
import { securePrivateDir } from '../stores/trust.js';

/** How the config file was chosen. */
export type ConfigPathSource = 'option' | 'env' | 'default';

/** Options of {@link resolveConfigPath}. */
export interface ConfigPathOptions {
  /** An explicit path (`--config FILE`). Wins over everything. */
  path?: string;
  /** Environment to read `TOKENWARD_CONFIG` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The config file's name inside the config directory. */
export const CONFIG_FILE_NAME = 'config.toml';

/** The platform's config directory for tokenward. */
export function defaultConfigDir(): string {
  return envPaths('tokenward', { suffix: '' }).config;
}

/** Resolves the config file path and says where the choice came from. The file need not exist. */
export function resolveConfigPath(options: ConfigPathOptions = {}): {
  path: string;
  source: ConfigPathSource;
} {
  if (options.path !== undefined && options.path !== '')
    return { path: resolve(options.path), source: 'option' };
  const fromEnv = (options.env ?? process.env)['TOKENWARD_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(fromEnv), source: 'env' };
  return { path: resolve(defaultConfigDir(), CONFIG_FILE_NAME), source: 'default' };
}

/**
 * True when `dir` is tokenward's own config directory: the platform's ({@link defaultConfigDir}) or
 * `TOKENWARD_CONFIG_DIR` (where the cache key file lives).
 */
export function isTokenwardConfigDir(dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const d = resolve(dir);
  const fromEnv = env['TOKENWARD_CONFIG_DIR'];
  return (
    d === resolve(defaultConfigDir()) || (fromEnv !== undefined && fromEnv !== '' && d === resolve(fromEnv))
  );
}

/**
 * Creates tokenward's config directory (mode 0700) or checks an existing one, as the cache key's
 * directory is checked (see `stores/trust.ts`): an own directory open to group/others is changed to
 * 0700 (reported through `onWarning`); one owned by another user, or reached through a link or an
 * enclosing directory another user can change, is refused.
 * @throws {ConfigError} naming the directory and what to fix.
 */
export async function ensureConfigDir(dir: string, onWarning?: (message: string) => void): Promise<void> {
  await securePrivateDir(dir, {
    what: 'the config directory',
    create: true,
    tighten: true,
    ...(onWarning === undefined ? {} : { onWarning }),
    fail: (message, _target, cause) => new ConfigError(message, {}, cause === undefined ? {} : { cause }),
  });
}
