/**
 * `tokenward git-credential <profile> get|store|erase`: a git credential helper
 * (gitcredentials(7), git-credential(1)). git writes `key=value` lines on stdin; for `get` tokenward
 * answers the profile's username (`git_username`, default `x-access-token`), the token as password and
 * `password_expiry_utc`. `store` does nothing (tokenward keeps its own cache); `erase` — git's word
 * that the server refused the credential — renews the token, once: only when the token git names is
 * still the cached one (nothing cached: nothing to do).
 *
 * The token goes only to the profile's API origins: a `protocol://host` outside them (a redirect, a
 * submodule on another host, a helper configured for every host) gets nothing, with a note on stderr.
 * @module
 */

import type { Profile } from '../../profile.js';
import { parseCommand, withGlobals } from '../args.js';
import { loadProfile, openManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { helperExpiry, readHelperInput } from '../helper-input.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, warn } from '../output.js';

/** The username given to git when the profile sets no `git_username` (GitHub's for app tokens). */
export const DEFAULT_GIT_USERNAME = 'x-access-token';

/**
 * Parses git's request: `key=value` lines up to a blank line or the end. A key seen twice keeps its
 * last value (git's rule for single-valued keys; the `[]` keys are not used here).
 */
export function parseGitRequest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l === '') break;
    const i = l.indexOf('=');
    if (i > 0) out.set(l.slice(0, i), l.slice(i + 1));
  }
  return out;
}

/** The origin git asks about (`protocol://host`), or undefined when git named none. */
function requestOrigin(request: Map<string, string>): string | undefined {
  const protocol = request.get('protocol');
  const host = request.get('host');
  if (protocol === undefined || host === undefined || host === '') return undefined;
  return `${protocol}://${host}`;
}

/**
 * True when the profile's token may go to the origin git asks about. A profile that names no API
 * origin is a configuration error: git-credential never guesses where a token may go.
 */
async function allowed(io: Io, profile: Profile, origin: string | undefined): Promise<boolean> {
  const { OriginScope, originsFromProfile } = await import('../../fetch/origins.js');
  const scope = new OriginScope(originsFromProfile(profile));
  if (origin !== undefined && scope.allowsUrl(origin)) return true;
  warn(
    io,
    `git-credential: ${origin ?? 'a request without protocol and host'} is not among the origins of profile "${profile.name ?? ''}" (${scope.origins.join(', ')}); no credential given`,
  );
  return false;
}

/** One `key=value` line; a value with a line break or NUL would change the protocol's meaning. */
function line(key: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new UsageError(`git-credential: the ${key} holds a line break or NUL`);
  return `${key}=${value}\n`;
}

/** Runs `tokenward git-credential`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS['git-credential']);
  const io = withGlobals(baseIo, values);
  if (positionals.length !== 2) {
    throw new UsageError('git-credential takes a profile and an operation: git-credential <profile> get');
  }
  const [name, operation] = positionals as [string, string];
  const request = parseGitRequest(await readHelperInput(io));
  // store: tokenward keeps its own cache. Any other operation: git says to ignore what is not known.
  if (operation !== 'get' && operation !== 'erase') return EXIT.OK;
  const profile = await loadProfile(io, name, values.config);
  if (!(await allowed(io, profile, requestOrigin(request)))) return EXIT.OK;
  const manager = await openManager(io, profile);
  try {
    if (operation === 'erase') {
      // Read from the store only: with nothing cached there is nothing to renew (and no request to make).
      const cached = (await manager.store.get(manager.key))?.token?.accessToken;
      const rejected = request.get('password');
      if (cached !== undefined && (rejected === undefined || cached === rejected)) {
        await manager.getToken({ force: true });
      }
      return EXIT.OK;
    }
    const token = await manager.getToken();
    const expiry = Math.floor(helperExpiry(token, profile) / 1000);
    io.stdout.write(
      line('username', profile.git_username ?? DEFAULT_GIT_USERNAME) +
        line('password', token.accessToken) +
        line('password_expiry_utc', String(expiry)),
    );
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
