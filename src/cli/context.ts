/**
 * What commands share: loading a profile from the config file and opening its token manager with the
 * CLI's warning and `--verbose` hooks. Everything is imported lazily, so each command loads only what
 * it uses.
 * @module
 */

import type { TokenManager } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';
import type { StoredEntry, TokenStore } from '../stores/types.js';
import { loadTokenward, type TokenwardModule } from './lazy.js';
import { type Io, printExchange, warn } from './output.js';

/** Loads one profile (validated, with `[defaults]` merged). Config warnings go to stderr. */
export async function loadProfile(
  io: Io,
  name: string | undefined,
  configPath: string | undefined,
): Promise<Profile> {
  const { getProfile } = await import('../config/load.js');
  const options: Parameters<typeof getProfile>[1] = { env: io.env, onWarning: (w) => warn(io, w.message) };
  if (configPath !== undefined) options.path = configPath;
  return getProfile(name, options);
}

/**
 * Opens the token manager of a profile (store opened; its secrets are resolved and its token client
 * built on the first token request, so a warm call runs no `cmd:` and loads no grant code). Close it
 * when done.
 *
 * Renewal before expiry runs in the foreground (`refreshMode: 'foreground'`): a command lives for one
 * call, and a renewal still in flight when the process exits could use up a rotating refresh token
 * without storing its successor. So `getToken()` renews a token past its eager-refresh point before it
 * returns; other processes share the renewal through the store's lock.
 */
export async function openManager(
  io: Io,
  profile: Profile,
  tokenward: Promise<TokenwardModule> = loadTokenward(),
): Promise<TokenManager> {
  const { createTokenManager } = await tokenward;
  return createTokenManager(profile, {
    env: io.env,
    refreshMode: 'foreground',
    onWarning: (w) => warn(io, w.message),
    http: io.verbose ? { onExchange: (x) => printExchange(io, x) } : {},
  });
}

/**
 * Opens the store a profile names for reading the cache without obtaining tokens (`status`, `inspect`):
 * only `store_url` is resolved, no secret of the profile is (no `cmd:` or `keyring:` lookup runs).
 * Close it when done.
 */
export async function openProfileStore(io: Io, profile: Profile): Promise<TokenStore> {
  const [{ resolveSecretReference }, { createStore }] = await Promise.all([
    import('../config/secrets.js'),
    import('../stores/index.js'),
  ]);
  const p: Profile = { ...profile };
  if (p.store_url !== undefined) {
    p.store_url = await resolveSecretReference(
      p.store_url,
      { key: `profiles.${profile.name ?? ''}.store_url` },
      { env: io.env },
    );
  }
  return createStore(p, { env: io.env, onWarning: (m: string) => warn(io, m) });
}

/** A profile's entries in a store's list, newest first (a profile whose settings changed has several). */
export function entriesOf(entries: readonly StoredEntry[], profileName: string): StoredEntry[] {
  // A DPoP key pair is kept in an entry of its own (no token): not the profile's token entry.
  return entries
    .filter((e) => e.profile === profileName && e.dpopKey === undefined)
    .sort((a, b) => b.updatedAt - a.updatedAt);
}

/**
 * Loads a profile and opens its token manager. The library modules are imported while the config file
 * is read, so the two overlap (a warm `tokenward token` spends most of its time loading modules).
 */
export async function openProfileManager(
  io: Io,
  name: string | undefined,
  configPath: string | undefined,
): Promise<{ profile: Profile; manager: TokenManager }> {
  const tokenward = loadTokenward();
  // Handled below; this only keeps an import failure from being reported as unhandled meanwhile.
  tokenward.catch(() => {});
  const profile = await loadProfile(io, name, configPath);
  return { profile, manager: await openManager(io, profile, tokenward) };
}
