/**
 * Profiles that depend on other profiles: a `subject_profile` (token exchange, JWT bearer: another
 * profile's access token is the subject) and an msx `parent_profile` (switch-tenant / switch-user: the
 * parent's session is switched, with the parent's endpoint and client). The chain is read from the
 * config file before any manager is opened, so a cycle is a {@link ConfigError} naming every profile in
 * it rather than a deadlock, and a switch profile inherits what it does not set from its parent.
 * @module
 */

import { type ConfigFile, profileFromConfig, readConfig } from '../config/load.js';
import { originOf, setOrigin } from '../config/origin.js';
import { ConfigError, type WarningHandler } from '../errors.js';
import type { Profile } from '../profile.js';
import { linkedProfiles } from './index.js';

/** The keys a switch profile takes from its parent when it does not set them. */
export const INHERITED_KEYS = [
  'provider',
  'base_url',
  'token_url',
  'client_id',
  'client_secret',
  'scope',
  'api_base_url',
  'allowed_origins',
  'ca_file',
  'insecure_skip_tls_verify',
  'proxy',
  'timeout',
  'retries',
  'store',
  'store_url',
  'store_prefix',
  'cache_dir',
  'store_fallback_memory',
  'skew_seconds',
  'eager_refresh',
  'default_lifetime',
  'max_lifetime',
] as const satisfies readonly (keyof Profile)[];

/** Options of {@link resolveProfileLinks}. */
export interface ProfileLinkOptions {
  /** The config file (default: where the profile came from, else `TOKENWARD_CONFIG` / the default path). */
  config?: string | undefined;
  env?: NodeJS.ProcessEnv;
  onWarning?: WarningHandler;
}

/** Where a key of a profile is, for messages: `profiles.NAME.key`, the config file and the line. */
export function keyWhere(profile: Profile, key: string): { file?: string; line?: number; key: string } {
  const origin = originOf(profile);
  const w: { file?: string; line?: number; key: string } = {
    key: profile.name !== undefined ? `profiles.${profile.name}.${key}` : key,
  };
  if (origin !== undefined) {
    w.file = origin.file;
    const line = origin.lines[key];
    if (line !== undefined) w.line = line;
  }
  return w;
}

/**
 * Checks a profile's chain of linked profiles in the config file — each named profile exists, and no
 * profile is reached twice — and returns the profile with what a switch profile inherits from its
 * parent filled in (the input itself when it has no `parent_profile`).
 * @throws ConfigError naming the key for a missing profile or a cycle (`a → b → a`).
 */
export async function resolveProfileLinks(
  profile: Profile,
  options: ProfileLinkOptions = {},
): Promise<{ profile: Profile; parent?: Profile }> {
  const readOpts: Parameters<typeof readConfig>[0] = {};
  const path = originOf(profile)?.file ?? options.config;
  if (path !== undefined) readOpts.path = path;
  if (options.env !== undefined) readOpts.env = options.env;
  const config = await readConfig(readOpts);
  const load = (from: Profile, key: string, name: string): Profile => {
    if (!config.profileNames.includes(name)) {
      throw new ConfigError(
        `names profile "${name}", which is not in ${config.path}${config.profileNames.length > 0 ? ` (profiles: ${config.profileNames.join(', ')})` : ''}`,
        keyWhere(from, key),
      );
    }
    return profileFromConfig(config, name, options.onWarning ? { onWarning: options.onWarning } : {});
  };
  walk(profile, [], config, load);
  if (profile.parent_profile === undefined) return { profile };
  const parent = load(profile, 'parent_profile', profile.parent_profile);
  return { profile: inherit(profile, parent), parent };
}

function walk(
  profile: Profile,
  path: string[],
  config: ConfigFile,
  load: (from: Profile, key: string, name: string) => Profile,
): void {
  const here = [...path, profile.name ?? '(this profile)'];
  for (const { key, name } of linkedProfiles(profile)) {
    const at = here.indexOf(name);
    if (at >= 0) {
      const cycle = [...here.slice(at), name].join(' → ');
      throw new ConfigError(
        `the profiles form a cycle: ${cycle}; a chain must end in a profile with a grant of its own`,
        keyWhere(profile, key),
      );
    }
    if (here.length > 16) {
      throw new ConfigError(
        `the chain of profiles is longer than 16: ${here.join(' → ')}`,
        keyWhere(profile, key),
      );
    }
    walk(load(profile, key, name), here, config, load);
  }
}

/** A switch profile with its parent's endpoint, client and settings where it sets none. */
function inherit(child: Profile, parent: Profile): Profile {
  const out: Record<string, unknown> = { ...child };
  for (const k of INHERITED_KEYS) {
    if (out[k] === undefined && parent[k] !== undefined) out[k] = parent[k];
  }
  const merged = out as Profile;
  if ((merged.provider ?? 'oauth2') !== 'msx') {
    throw new ConfigError(
      `names profile "${parent.name ?? ''}" of provider "${parent.provider ?? 'oauth2'}": switch profiles are for provider "msx" (other providers take another profile's token with grant = "token_exchange" and subject_profile)`,
      keyWhere(child, 'parent_profile'),
    );
  }
  const origin = originOf(child);
  const parentOrigin = originOf(parent);
  if (origin !== undefined) {
    // An inherited key's errors point at the parent's line (the same file).
    const lines = { ...origin.lines };
    for (const k of INHERITED_KEYS) {
      const l = parentOrigin?.lines[k];
      if (child[k] === undefined && l !== undefined) lines[k] = l;
    }
    setOrigin(merged, { ...origin, lines });
  }
  return merged;
}
