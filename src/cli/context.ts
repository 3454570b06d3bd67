/**
 * What commands share: loading a profile from the config file and opening its token manager with the
 * CLI's warning and `--verbose` hooks. Everything is imported lazily, so each command loads only what
 * it uses.
 * @module
 */

import { originOf, setOrigin } from '../config/origin.js';
import type { GetTokenOptions, TokenManager } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';
import type { StoredEntry, TokenStore } from '../stores/types.js';
import { DEFAULT_FRESHNESS, isPastEagerPoint, type Token } from '../token.js';
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

/**
 * Opens the token manager of a profile (secrets resolved, store opened). Close it when done.
 *
 * Background (eager) refresh is off: a command lives for one call, and a refresh still in flight when
 * the process exits can use up a rotating refresh token without storing its successor. The commands
 * renew in the foreground instead, with {@link freshToken}.
 */
export async function openManager(
  io: Io,
  profile: Profile,
  tokenward: Promise<TokenwardModule> = loadTokenward(),
): Promise<TokenManager> {
  const { createTokenManager } = await tokenward;
  const oneShot: Profile = { ...profile, eager_refresh: 1 };
  const origin = originOf(profile); // so that errors still point at the config file, line and key
  if (origin !== undefined) setOrigin(oneShot, origin);
  return createTokenManager(oneShot, {
    env: io.env,
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
  return entries.filter((e) => e.profile === profileName).sort((a, b) => b.updatedAt - a.updatedAt);
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

/**
 * The manager's token, renewed first when it is past the profile's eager-refresh point (default: 80 % of
 * its lifetime) — what the library would do in the background, done before the command uses the token.
 * Other processes share the renewal through the store's lock and re-read. If renewing fails while the
 * token is still valid, the manager serves it with a warning.
 */
export async function freshToken(
  manager: TokenManager,
  profile: Profile,
  options: GetTokenOptions = {},
): Promise<Token> {
  const token = await manager.getToken(options);
  if (options.force === true) return token;
  const now = Date.now();
  const fraction = profile.eager_refresh ?? DEFAULT_FRESHNESS.eagerRefreshFraction;
  if (!isPastEagerPoint(token, now, fraction)) return token;
  const skewMs = profile.skew_seconds === undefined ? DEFAULT_FRESHNESS.skewMs : profile.skew_seconds * 1000;
  // Just more life than this token has left: it no longer qualifies, a renewed one does.
  const minTtlMs = Math.max(options.minTtlMs ?? 0, token.expiresAt - now - skewMs + 1);
  return manager.getToken({ ...options, minTtlMs });
}
