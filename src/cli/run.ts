/**
 * The `tokenward` dispatcher. It finds the command name and imports only that
 * command's module, so `tokenward token` loads the config reader and the token manager and nothing else.
 * @module
 */

import { baseIo } from './args.js';
import { EXIT, exitCodeFor, UsageError } from './exit.js';
import { error, type Io, say } from './output.js';

/** A command module. */
export interface Command {
  /** Runs the command with its arguments (after the command name); resolves to the exit code. */
  run(argv: string[], io: Io): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  token: () => import('./commands/token.js'),
  inspect: () => import('./commands/inspect.js'),
  request: () => import('./commands/request.js'),
  exec: () => import('./commands/exec.js'),
  status: () => import('./commands/status.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  introspect: () => import('./commands/introspect.js'),
  profiles: () => import('./commands/profiles.js'),
  secret: () => import('./commands/secret.js'),
  sandbox: () => import('./commands/sandbox.js'),
  demo: () => import('./commands/demo.js'),
  completion: () => import('./commands/completion.js'),
  'kubectl-credential': () => import('./commands/kubectl-credential.js'),
  'git-credential': () => import('./commands/git-credential.js'),
  'docker-credential': () => import('./commands/docker-credential.js'),
};

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Index of the command name in argv: the first argument that is not a global option (or its value). */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') return -1;
    if (a === '--config') {
      i++;
      continue;
    }
    if (a.startsWith('-') && a !== '-') continue;
    return i;
  }
  return -1;
}

/** Runs the CLI with the given arguments (without `node` and the script). Resolves to the exit code. */
export async function main(argv: string[], io: Io = baseIo(process.env, argv)): Promise<number> {
  try {
    const i = commandIndex(argv);
    const name = i === -1 ? undefined : argv[i];
    if (name === undefined) {
      if (argv.includes('--version') || argv.includes('-V')) {
        io.stdout.write(`${await version()}\n`);
        return EXIT.OK;
      }
      const { OVERVIEW } = await import('./help.js');
      if (argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(`${OVERVIEW}\n`);
        return EXIT.OK;
      }
      say(io, OVERVIEW);
      return EXIT.USAGE;
    }
    const rest = [...argv.slice(0, i), ...argv.slice(i + 1)];
    if (name === 'help') {
      const { HELP, OVERVIEW } = await import('./help.js');
      const topic = rest.find((a) => !a.startsWith('-'));
      io.stdout.write(`${(topic !== undefined ? HELP[topic] : undefined) ?? OVERVIEW}\n`);
      return EXIT.OK;
    }
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    const beforeDashDash = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (load !== undefined && (beforeDashDash.includes('--help') || beforeDashDash.includes('-h'))) {
      const { HELP } = await import('./help.js');
      io.stdout.write(`${HELP[name] ?? ''}\n`);
      return EXIT.OK;
    }
    if (load !== undefined && (beforeDashDash.includes('--version') || beforeDashDash.includes('-V'))) {
      io.stdout.write(`${await version()}\n`);
      return EXIT.OK;
    }
    if (load === undefined) {
      const { suggest } = await import('../config/schema.js');
      const hint = suggest(name, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command "${name}"${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; see tokenward --help`,
      );
    }
    return await (await load()).run(rest, io);
  } catch (err) {
    reportError(io, err);
    return exitCodeFor(err);
  }
}

/** Prints an error (message only; its cause chain with -v). */
export function reportError(io: Io, err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  error(io, msg);
  if (err instanceof UsageError) say(io, 'see --help for usage');
  if (io.verbose && err instanceof Error) {
    let cause: unknown = err.cause;
    while (cause !== undefined) {
      say(io, `  caused by: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') say(io, `  code: ${code}`);
  }
}
