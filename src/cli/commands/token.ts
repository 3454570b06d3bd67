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
import { type Io, warn } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.token;

/**
 * The request of `--dpop-for METHOD URL`: the method is the option's value and the URL the last
 * positional argument (or both in the value, `"GET https://…"`). Removes the URL from `positionals`.
 * @throws UsageError for a missing or bad method or URL, or without `--header`.
 */
function dpopTarget(
  value: string | undefined,
  positionals: string[],
  header: boolean,
): { method: string; url: string } | undefined {
  if (value === undefined) return undefined;
  if (!header) throw new UsageError('--dpop-for goes with --header');
  const parts = value.trim().split(/\s+/);
  let url: string | undefined;
  if (parts.length === 2) url = parts[1];
  else if (parts.length === 1) url = positionals.pop();
  else throw new UsageError('--dpop-for takes a method and a URL: --dpop-for GET https://api.example.com/x');
  const method = parts[0] ?? '';
  if (!/^[A-Za-z]+$/.test(method))
    throw new UsageError(`--dpop-for takes an HTTP method first (GET, POST…), got "${method}"`);
  let u: URL;
  try {
    u = new URL(url ?? '');
  } catch {
    throw new UsageError(
      '--dpop-for takes a method and an absolute URL: --dpop-for GET https://api.example.com/x',
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new UsageError(`--dpop-for takes an http:// or https:// URL, got ${u.protocol}`);
  return { method: method.toUpperCase(), url: u.href };
}

/** Runs `tokenward token`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['token']}\n`);
    return EXIT.OK;
  }
  const proofFor = dpopTarget(values['dpop-for'], positionals, values.header === true);
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
      const dpop = manager.dpop;
      if (proofFor !== undefined) {
        if (dpop === undefined || token.tokenType.toLowerCase() !== 'dpop')
          throw new UsageError(
            '--dpop-for needs a profile with dpop (the tokens of this profile are not bound to a key)',
          );
        out += `DPoP: ${await dpop.proof(proofFor, token.accessToken)}\n`;
      } else if (dpop !== undefined) {
        warn(
          io,
          'the token is bound to the profile key (dpop): a request needs a proof too; add --dpop-for METHOD URL',
        );
      }
    } else {
      out = `${token.accessToken}\n`;
    }
    io.writeOut(out);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
