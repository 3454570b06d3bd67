/**
 * What commands share: loading a profile from the config file and opening its token manager with the
 * CLI's warning and `--verbose` hooks. Everything is imported lazily, so each command loads only what
 * it uses.
 * @module
 */

import type { TokenManager } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';
import { loadTokenward, type TokenwardModule } from './lazy.js';
import { type Io, printExchange, warn } from './output.js';

/** Loads one profile (validated, with `[defaults]` merged). Config warnings go to stderr. */
export async function loadProfile(
  io: Io,
  name: string | undefined,
  configPath: string | undefined,
): Promise<Profile> {
  const { getProfile } = await import('../config/load.js');
  const options: Parameters<typeof getProfile>[1] = { env: io.env, onWarning: (m) => warn(io, m) };
  if (configPath !== undefined) options.path = configPath;
  return getProfile(name, options);
}

/** Opens the token manager of a profile (secrets resolved, store opened). Close it when done. */
export async function openManager(
  io: Io,
  profile: Profile,
  tokenward: Promise<TokenwardModule> = loadTokenward(),
): Promise<TokenManager> {
  const { createTokenManager } = await tokenward;
  return createTokenManager(profile, {
    env: io.env,
    onWarning: (w) => warn(io, w.message),
    http: io.verbose ? { onExchange: (x) => printExchange(io, x) } : {},
  });
}

/**
 * Loads a profile and opens its token manager. The library modules are imported while the config file
 * is read, so the two overlap (a warm `tokenward token` spends most of its time loading modules).
 */
export async function openProfile(
  io: Io,
  name: string | undefined,
  configPath: string | undefined,
): Promise<{ profile: Profile; manager: TokenManager }> {
  const tokenward = loadTokenward();
  // Handled below; this only keeps an import failure from being reported as unhandled meanwhile.
  tokenward.catch(() => {});
  // Every provider (the presets and oidc) builds on the generic one: its module graph (client
  // authentication, grants, the HTTP layer) is needed whatever the profile says, so it loads now too,
  // instead of after the config file has been read. A failure shows up again where it is imported.
  import('../providers/oauth2.js').catch(() => {});
  const profile = await loadProfile(io, name, configPath);
  return { profile, manager: await openManager(io, profile, tokenward) };
}
