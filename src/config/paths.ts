/**
 * Where the config file is: `--config FILE`, else `TOKENWARD_CONFIG`, else `config.toml` in the platform's
 * config directory (`$XDG_CONFIG_HOME/tokenward` or `~/.config/tokenward` on Linux,
 * `~/Library/Preferences/tokenward` on macOS, `%APPDATA%\tokenward\Config` on Windows).
 * @module
 */

import { resolve } from 'node:path';
import envPaths from 'env-paths';

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
