/**
 * Where a profile came from: the config file and the line of each key, so that errors found later
 * (an unset `env:` variable, an unreadable `file:`) can point at the file, line and key.
 * Kept in a WeakMap, so profiles stay plain objects.
 * @module
 */

import type { Profile } from '../profile.js';

/** The file and key lines of a profile loaded from a config file. */
export interface ProfileOrigin {
  /** Absolute path of the config file. */
  file: string;
  /** Line of the profile's table header (`[profiles.NAME]`), 1-based. */
  line?: number | undefined;
  /** Line of each key (`params.x` for keys of nested tables), 1-based. */
  lines: Record<string, number>;
}

const origins = new WeakMap<object, ProfileOrigin>();

/** Records where a profile was loaded from. */
export function setOrigin(profile: Profile, origin: ProfileOrigin): void {
  origins.set(profile, origin);
}

/** Where a profile was loaded from, if it came from a config file. */
export function originOf(profile: Profile): ProfileOrigin | undefined {
  return origins.get(profile);
}
