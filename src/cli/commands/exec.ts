/**
 * `tokenward exec <profile> [--env NAME] -- command args...`: runs a command with the token in an
 * environment variable (never in argv) and passes its exit code through.
 * @module
 */

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseCommand, splitAtDashDash, withGlobals } from '../args.js';
import { freshToken, openProfile } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { error, type Io } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.exec;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Runs `tokenward exec`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { before, after } = splitAtDashDash(argv);
  const { values, positionals } = parseCommand(before, OPTIONS);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['exec']}\n`);
    return EXIT.OK;
  }
  // Without `--`, everything after the profile is the command.
  let profileName: string | undefined;
  let command: string[];
  if (after !== undefined) {
    if (positionals.length > 1)
      throw new UsageError('put the command after "--": tokenward exec PROFILE -- CMD ...');
    profileName = positionals[0];
    command = after;
  } else {
    [profileName, ...command] = positionals;
  }
  if (command.length === 0 || command[0] === undefined) {
    throw new UsageError('no command given: tokenward exec PROFILE -- CMD [ARGS...]');
  }
  const envName = values.env ?? 'ACCESS_TOKEN';
  if (!ENV_NAME.test(envName)) throw new UsageError(`--env "${envName}" is not a valid variable name`);

  const { profile, manager } = await openProfile(io, profileName, values.config);
  let token: string;
  try {
    token = (await freshToken(manager, profile)).accessToken;
  } finally {
    await manager.close();
  }

  const [cmd, ...args] = command;
  return new Promise<number>((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...io.env, [envName]: token } });
    // Ctrl-C reaches the child from the terminal (same process group): just outlive it. A SIGTERM or
    // SIGHUP sent to tokenward alone is passed on.
    const handlers: Array<[NodeJS.Signals, () => void]> = [
      ['SIGINT', () => {}],
      ['SIGTERM', () => child.kill('SIGTERM')],
      ['SIGHUP', () => child.kill('SIGHUP')],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    const done = (code: number) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code);
    };
    child.on('error', (err) => {
      const code = (err as { code?: string }).code;
      error(io, `cannot run ${cmd}: ${code === 'ENOENT' ? 'command not found' : (code ?? err.message)}`);
      done(code === 'EACCES' ? EXIT.EXEC_NOT_EXECUTABLE : EXIT.EXEC_NOT_FOUND);
    });
    child.on('exit', (code, signal) => {
      if (signal !== null) done(128 + (constants.signals[signal] ?? 0));
      else done(code ?? EXIT.FAILURE);
    });
  });
}
