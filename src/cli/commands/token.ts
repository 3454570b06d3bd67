/**
 * `tokenward token [profile]`: prints the access token (or `--json`, `--header`). The warm path reads
 * the token from the store and does no network I/O.
 * @module
 */

import { authorizationValue } from '../../token-state.js';
import { parseCommand, withGlobals } from '../args.js';
import { openProfileManager } from '../context.js';
import { parseDuration } from '../duration.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import type { Io } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.token;

/** Runs `tokenward token`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['token']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 1)
    throw new UsageError(`token takes one profile, got ${positionals.length} arguments`);
  if (values.json === true && values.header === true)
    throw new UsageError('--json and --header exclude each other');
  if (values['show-refresh'] === true && values.json !== true)
    throw new UsageError('--show-refresh goes with --json');
  let minTtlMs: number | undefined;
  if (values['min-ttl'] !== undefined) {
    minTtlMs = parseDuration(values['min-ttl']);
    if (minTtlMs === undefined) {
      throw new UsageError(`--min-ttl takes a duration such as 60s, 5m or 1h, got "${values['min-ttl']}"`);
    }
  }

  const { profile, manager } = await openProfileManager(io, positionals[0], values.config);
  try {
    const opts: { minTtlMs?: number; force?: boolean } = {};
    if (minTtlMs !== undefined) opts.minTtlMs = minTtlMs;
    if (values.force === true) opts.force = true;
    const token = await manager
      .getToken(opts)
      .catch(async (err: unknown) => (await import('./login.js')).signInIfAllowed(io, profile, manager, err));
    let out: string;
    if (values.json === true) {
      const now = Date.now();
      const obj: Record<string, unknown> = {
        access_token: token.accessToken,
        token_type: token.tokenType,
        expires_at: new Date(token.expiresAt).toISOString(),
        expires_in: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
      };
      if (token.scope !== undefined) obj['scope'] = token.scope;
      if (values['show-refresh'] === true && token.refreshToken !== undefined)
        obj['refresh_token'] = token.refreshToken;
      out = `${JSON.stringify(obj, null, 2)}\n`;
    } else if (values.header === true) {
      out = `Authorization: ${authorizationValue(token)}\n`;
    } else {
      out = `${token.accessToken}\n`;
    }
    io.stdout.write(out);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
