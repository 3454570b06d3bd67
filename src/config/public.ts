/**
 * A profile's public values: what a program may read to build its API URLs (`client_id`,
 * `datacenter_url`, `tenant_id`…), with their references resolved and every secret left out.
 * @module
 */

import type { Profile } from '../profile.js';
import { getProfile, type LoadConfigOptions } from './load.js';
import { originOf, setOrigin } from './origin.js';
import { isSecretKey, type ResolveSecretsOptions, resolveProfileSecrets } from './secrets.js';

/**
 * Returns a copy of a profile without its secrets — no secret key, no secret `params` entry, no
 * password in `store_url` — and with the references of the remaining values (`env:`, `file:`, `cmd:`,
 * `keyring:`) resolved. Secret references are never resolved, so no secret command runs.
 *
 * @throws ConfigError when a public value's reference cannot be resolved (naming the key).
 */
export async function publicProfile(profile: Profile, options: ResolveSecretsOptions = {}): Promise<Profile> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(profile)) {
    if (isSecretKey(key)) continue;
    if (key === 'params' && value !== undefined) {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, string>).filter(([k]) => !isSecretKey(k, true)),
      );
      continue;
    }
    out[key] = value;
  }
  const origin = originOf(profile);
  if (origin !== undefined) setOrigin(out as Profile, origin);
  const resolved = await resolveProfileSecrets(out as Profile, options);
  // After resolution: `store_url = "env:REDIS_URL"` may resolve to a URL with a password.
  if (typeof resolved.store_url === 'string') resolved.store_url = withoutPassword(resolved.store_url);
  if (typeof resolved.proxy === 'string') resolved.proxy = withoutPassword(resolved.proxy); // the same for a proxy
  return resolved;
}

/**
 * Loads a profile of the config file (as {@link getProfile} does) and returns its public values (as
 * {@link publicProfile} does).
 *
 * @example
 * ```ts
 * const acronis = await getPublicProfile('acronis');
 * const url = `${acronis.datacenter_url}/api/2/clients/${acronis.client_id}`; // client_id resolved
 * ```
 */
export async function getPublicProfile(
  name?: string,
  options: LoadConfigOptions & Pick<ResolveSecretsOptions, 'commandTimeoutMs'> = {},
): Promise<Profile> {
  const resolveOpts: ResolveSecretsOptions = {};
  if (options.env !== undefined) resolveOpts.env = options.env;
  if (options.commandTimeoutMs !== undefined) resolveOpts.commandTimeoutMs = options.commandTimeoutMs;
  return publicProfile(await getProfile(name, options), resolveOpts);
}

function withoutPassword(value: string): string {
  try {
    const u = new URL(value);
    if (u.password === '') return value;
    u.password = '';
    return u.toString();
  } catch {
    return value.replace(/\/\/[^/@]*@/, '//');
  }
}
