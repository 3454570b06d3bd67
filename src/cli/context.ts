/**
 * What commands share: loading a profile from the config file and opening its token manager with the
 * CLI's warning and `--verbose` hooks. Everything is imported lazily, so each command loads only what
 * it uses.
 * @module
 */

import type { TokenManager } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';
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
export async function openManager(io: Io, profile: Profile): Promise<TokenManager> {
  const { createTokenManager } = await (await import('./lazy.js')).loadTokenward();
  return createTokenManager(profile, {
    env: io.env,
    onWarning: (w) => warn(io, w.message),
    http: io.verbose ? { onExchange: (x) => printExchange(io, x) } : {},
  });
}
