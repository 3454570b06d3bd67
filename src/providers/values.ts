/**
 * Reading a preset's profile values: typed, validated, with a {@link ConfigError} that names the key.
 * Shared by the provider modules.
 * @module
 */

import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';

/** A string value, or `undefined` when absent. */
export function optionalString(profile: Profile, key: keyof Profile): string | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new ConfigError('must be a non-empty string', { key });
  return v;
}

/**
 * A string value the provider needs.
 * @param hint - Added to the message in parentheses, e.g. `or set token_url`.
 */
export function requiredString(
  profile: Profile,
  key: keyof Profile,
  provider: string,
  hint?: string,
): string {
  const v = optionalString(profile, key);
  if (v === undefined) {
    throw new ConfigError(`is required for provider "${provider}"${hint === undefined ? '' : ` (${hint})`}`, {
      key,
    });
  }
  return v;
}

/** A boolean value, or `undefined` when absent. */
export function optionalBoolean(profile: Profile, key: keyof Profile): boolean | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError('must be true or false', { key });
  return v;
}

/** Joins a base URL and an absolute path, keeping any path prefix of the base; drops query and fragment. */
export function urlUnder(base: string, path: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  u.search = '';
  u.hash = '';
  return u.href;
}
