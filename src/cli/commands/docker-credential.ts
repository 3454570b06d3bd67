/**
 * `docker-credential-tokenward get|list|store|erase` (also `tokenward docker-credential …`): a docker
 * credential helper. docker runs it with the operation as its one argument:
 *
 * - `get`: the registry (host, or a URL) on stdin; answers `{"ServerURL","Username","Secret"}` with the
 *   token of the profile whose `docker_registries` lists that host. A host no profile lists is docker's
 *   "not found" (`credentials not found in native keychain` on stdout, exit 1), so docker goes on
 *   without credentials, as it does for any helper that has none.
 * - `list`: `{"<registry>": "<username>"}` for every mapped registry; nothing is fetched.
 * - `store`, `erase`: refused (exit 2): the token comes from the profile, `docker login` cannot set it.
 * @module
 */

import type { Profile } from '../../profile.js';
import { parseCommand, withGlobals } from '../args.js';
import { openManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { readHelperInput } from '../helper-input.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, warn } from '../output.js';

/** The username given to docker when the profile sets no `docker_username`. */
export const DEFAULT_DOCKER_USERNAME = 'oauth2accesstoken';

/** What the docker credential-helper protocol prints, on stdout, for a registry without credentials. */
export const NOT_FOUND = 'credentials not found in native keychain';

/**
 * The registry host (`host[:port]`, lower case) of what docker or the config names: a host, a
 * `host:port`, or a URL (`https://index.docker.io/v1/`).
 */
export function registryHost(value: string): string {
  const v = value.trim();
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return new URL(v).host.toLowerCase();
  } catch {
    // not a URL: taken as a host below
  }
  return (v.split('/')[0] ?? '').toLowerCase();
}

/** Every profile of the config file with `docker_registries`, and each registry host it maps. */
async function mappedProfiles(io: Io, configPath: string | undefined): Promise<Map<string, Profile[]>> {
  const { readConfig, profileFromConfig } = await import('../../config/load.js');
  const opts: Parameters<typeof readConfig>[0] = { env: io.env };
  if (configPath !== undefined) opts.path = configPath;
  const config = await readConfig(opts);
  if (!config.exists) warn(io, `${config.path} does not exist: no registry is mapped to a profile`);
  const byHost = new Map<string, Profile[]>();
  for (const name of config.profileNames) {
    const profile = profileFromConfig(config, name, { onWarning: (w) => warn(io, w.message) });
    for (const r of profile.docker_registries ?? []) {
      const host = registryHost(r);
      const list = byHost.get(host) ?? [];
      if (!list.includes(profile)) list.push(profile);
      byHost.set(host, list);
    }
  }
  return byHost;
}

/** Runs `docker-credential-tokenward` (`tokenward docker-credential`). */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS['docker-credential']);
  const io = withGlobals(baseIo, values);
  const operation = positionals[0];
  if (positionals.length !== 1 || operation === undefined) {
    throw new UsageError('docker-credential takes one operation: get, list, store or erase');
  }
  if (operation === 'store' || operation === 'erase') {
    throw new UsageError(
      `docker-credential-tokenward does not ${operation} credentials: the token comes from the tokenward profile mapped to the registry (docker_registries); remove the registry from credHelpers to use docker login for it`,
    );
  }
  if (operation === 'list') {
    const byHost = await mappedProfiles(io, values.config);
    const out: Record<string, string> = {};
    for (const [host, profiles] of byHost) {
      out[host] = profiles[0]?.docker_username ?? DEFAULT_DOCKER_USERNAME;
    }
    io.stdout.write(`${JSON.stringify(out)}\n`);
    return EXIT.OK;
  }
  if (operation !== 'get') {
    throw new UsageError(
      `unknown operation "${operation}": docker-credential takes get, list, store or erase`,
    );
  }
  const serverUrl = (await readHelperInput(io)).trim();
  if (serverUrl === '') throw new UsageError('docker-credential get: no registry on standard input');
  const host = registryHost(serverUrl);
  const profiles = (await mappedProfiles(io, values.config)).get(host) ?? [];
  if (profiles.length > 1) {
    throw new UsageError(
      `registry ${host} is in docker_registries of several profiles (${profiles.map((p) => p.name ?? '').join(', ')}); list it in one`,
    );
  }
  const profile = profiles[0];
  if (profile === undefined) {
    io.stdout.write(`${NOT_FOUND}\n`);
    return EXIT.FAILURE;
  }
  const manager = await openManager(io, profile);
  try {
    const token = await manager.getToken();
    const answer = {
      ServerURL: serverUrl,
      Username: profile.docker_username ?? DEFAULT_DOCKER_USERNAME,
      Secret: token.accessToken,
    };
    io.stdout.write(`${JSON.stringify(answer)}\n`);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
