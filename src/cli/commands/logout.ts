/**
 * `tokenward logout <profile>`: revokes where the server supports it, deletes from the store.
 * @module
 */

import { parseCommand, withGlobals } from '../args.js';
import { openProfileManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, say } from '../output.js';

/** Runs `tokenward logout`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.logout);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['logout']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError('logout takes one profile');
  const { profile, manager } = await openProfileManager(io, positionals[0], values.config);
  try {
    const result = await manager.logout();
    const name = profile.name ?? '';
    const parts = [
      result.revoked
        ? 'revoked at the server'
        : 'not revoked (the server has no revocation endpoint, or it failed)',
      result.deleted === false ? 'nothing was cached' : 'deleted from the store',
    ];
    say(io, `tokenward: logged out of ${name}: ${parts.join('; ')}`);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
