/**
 * `tokenward introspect <profile> [TOKEN|-]`: asks the profile's authorization server about a token
 * (RFC 7662), the profile's client authenticating with its configured method. Default: the profile's
 * access token (the cached one, or a new one).
 * @module
 */

import type { IntrospectionResult } from '../../introspection.js';
import { parseCommand, withGlobals } from '../args.js';
import { openProfileManager } from '../context.js';
import { localTime, relative } from '../duration.js';
import { EXIT, UsageError } from '../exit.js';
import { readHelperInput } from '../helper-input.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint } from '../output.js';

/** The human lines of an answer: active, then sub, scope, exp, client_id, cnf when present. */
export function introspectionLines(info: IntrospectionResult, io: Io, now = Date.now()): string[] {
  const lines = [
    `active:     ${info.active ? paint(io.colorOut, 'green', 'true') : paint(io.colorOut, 'red', 'false')}`,
  ];
  if (info.sub !== undefined) lines.push(`sub:        ${info.sub}`);
  if (info.scope !== undefined) lines.push(`scope:      ${info.scope}`);
  if (info.exp !== undefined) {
    const ms = info.exp * 1000;
    lines.push(`exp:        ${localTime(ms)} (${relative(ms, now)})`);
  }
  if (info.client_id !== undefined) lines.push(`client_id:  ${info.client_id}`);
  if (info.cnf !== undefined) {
    const parts = Object.entries(info.cnf).map(
      ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
    );
    lines.push(`cnf:        ${parts.join(' ')}`);
  }
  return lines;
}

/** Runs `tokenward introspect`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.introspect);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['introspect']}\n`);
    return EXIT.OK;
  }
  if (positionals.length === 0 || positionals.length > 2) {
    throw new UsageError('introspect takes a profile and an optional token (or "-" for stdin)');
  }
  let token: string | undefined = positionals[1];
  if (token === '-') {
    token = (await readHelperInput(io)).trim();
    if (token === '') throw new UsageError('no token on stdin');
  }
  if (token !== undefined && /[\s\0]/.test(token)) throw new UsageError('the token must be one word');
  const { manager } = await openProfileManager(io, positionals[0], values.config);
  try {
    const info = await manager.introspect(token);
    if (values.json === true) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    else io.stdout.write(`${introspectionLines(info, io).join('\n')}\n`);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
