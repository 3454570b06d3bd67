/**
 * Cache keys: a stable hash of what identifies a token, so that two profiles (or two scopes, tenants,
 * subjects…) never share a token by accident, and the same identity always finds its token again.
 * @module
 */

import { createHash } from 'node:crypto';
import type { TokenIdentity } from '../token-client.js';

/** The version prefix of keys made by {@link storeKey}. Bumped if the derivation ever changes. */
export const CACHE_KEY_VERSION = 'v1';

/** What a valid cache key looks like: the version prefix and 64 lowercase hex digits. */
export const CACHE_KEY_PATTERN = /^v1-[0-9a-f]{64}$/;

/**
 * The store key for a token: `v1-` followed by the hex SHA-256 of the canonical JSON of
 * `{ profile, identity }`, where `identity`'s keys are sorted and `undefined` values are dropped.
 *
 * The result contains only `[a-z0-9-]`, so it is safe as a file name, a Redis key and a SQL value.
 * Identity values are hashed, never shown in the key; they must not be secret anyway (`status` shows
 * them).
 *
 * @param profileName - The profile's name, or `undefined` for an unnamed (library-built) profile.
 * @param identity - The token client's identity: endpoint, client id, subject, scopes, tenant…
 */
export function storeKey(profileName: string | undefined, identity: TokenIdentity): string {
  const id: Record<string, string> = {};
  for (const k of Object.keys(identity).sort()) {
    const v = identity[k];
    if (v !== undefined) id[k] = v;
  }
  const canonical = JSON.stringify(
    profileName === undefined ? { identity: id } : { identity: id, profile: profileName },
  );
  return `${CACHE_KEY_VERSION}-${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

/** True when `key` has the shape of a key made by {@link storeKey} (safe as a file name). */
export function isStoreKey(key: string): boolean {
  return CACHE_KEY_PATTERN.test(key);
}
