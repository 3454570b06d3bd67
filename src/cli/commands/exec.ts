/**
 * `tokenward exec <profile> [--env NAME] [--keep-secret-env] -- command args...`: runs a command with the
 * token in an environment variable (never in argv) and passes its exit code through.
 *
 * The child gets the token, not the secrets behind it: the variables the profile's secrets were read
 * from (`client_secret = "env:NAME"`, secret `params`, `store_url`) and `TOKENWARD_CACHE_KEY` are removed
 * from its environment unless `--keep-secret-env` is given. `--env` refuses names whose replacement would
 * break the child or what it starts ({@link RESERVED_ENV_NAMES}, {@link RESERVED_ENV_PREFIXES}).
 * @module
 */

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Profile } from '../../profile.js';
import { parseCommand, splitAtDashDash, withGlobals } from '../args.js';
import { openProfileManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { error, type Io } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.exec;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables `--env` refuses (compared case-insensitively): replacing them with a token would break the
 * child or change what it runs — the search path and home, the shell's start-up and parsing, the
 * locale and time zone, the temporary directory, and the start-up options of common runtimes.
 */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'OLDPWD',
  'TERM',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'IFS',
  'ENV',
  'BASH_ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'CDPATH',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PERL5LIB',
  'PERL5OPT',
  'RUBYOPT',
  'RUBYLIB',
  'JAVA_TOOL_OPTIONS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'SYSTEMROOT',
  'COMSPEC',
  'PATHEXT',
]);

/** Prefixes `--env` refuses: the dynamic loader (`LD_`, `DYLD_`), the locale (`LC_`), exported shell functions, tokenward's own settings. */
export const RESERVED_ENV_PREFIXES: readonly string[] = [
  'LD_',
  'DYLD_',
  'LC_',
  'BASH_FUNC_',
  'TOKENWARD_',
  'XDG_',
];

/** True when `--env` must refuse this name. */
export function isReservedEnvName(name: string): boolean {
  const n = name.toUpperCase();
  return RESERVED_ENV_NAMES.has(n) || RESERVED_ENV_PREFIXES.some((p) => n.startsWith(p));
}

/**
 * The variables to remove from the child's environment: every variable a secret of the profile is read
 * from (`env:NAME` in a secret key, a secret `params` entry, `store_url` or `proxy`), and `TOKENWARD_CACHE_KEY`.
 */
export async function secretEnvNames(profile: Profile): Promise<string[]> {
  const { isSecretKey, parseSecretReference } = await import('../../config/secrets.js');
  const { isUrlSecretProfileKey } = await import('../../secret-fields.js');
  const { CACHE_KEY_ENV } = await import('../../stores/keys.js');
  const names = new Set<string>([CACHE_KEY_ENV]);
  const add = (value: unknown) => {
    if (typeof value !== 'string') return;
    const ref = parseSecretReference(value);
    if (ref?.kind === 'env' && ref.target !== '') names.add(ref.target);
  };
  for (const [k, v] of Object.entries(profile)) {
    if (isSecretKey(k) || isUrlSecretProfileKey(k)) add(v);
  }
  for (const [k, v] of Object.entries(profile.params ?? {})) if (isSecretKey(k, true)) add(v);
  return [...names];
}

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
  if (isReservedEnvName(envName)) {
    throw new UsageError(
      `--env ${envName} would replace a variable the command needs (PATH, HOME, LD_*, NODE_OPTIONS, …); choose another name such as ACCESS_TOKEN`,
    );
  }

  const { profile, manager } = await openProfileManager(io, profileName, values.config);
  let token: string;
  try {
    token = (
      await manager
        .getToken()
        .catch(async (err: unknown) =>
          (await import('./login.js')).signInIfAllowed(io, profile, manager, err),
        )
    ).accessToken;
  } finally {
    await manager.close();
  }

  const env: NodeJS.ProcessEnv = { ...io.env };
  if (values['keep-secret-env'] !== true) {
    const names = await secretEnvNames(profile);
    for (const n of names) delete env[n];
    if (process.platform === 'win32') {
      // Windows names are case-insensitive: remove every spelling.
      const upper = new Set(names.map((n) => n.toUpperCase()));
      for (const k of Object.keys(env)) if (upper.has(k.toUpperCase())) delete env[k];
    }
  }
  env[envName] = token;

  const [cmd, ...args] = command;
  return new Promise<number>((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
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
