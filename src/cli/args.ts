/**
 * Argument parsing for one command: node:util `parseArgs` with the global options merged in (plain
 * arguments without it, see {@link parsePlain}), errors turned into {@link UsageError}s (exit code 2),
 * and the {@link Io} built from the global switches.
 * @module
 */

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './exit.js';
import { colorAllowed, type Io, writeStdout } from './output.js';

/** What `parseArgs` takes as `options`. */
export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** The parsed values of an options config (every option may be absent). */
export type OptionValues<O extends OptionsConfig> = {
  [K in keyof O]?: O[K] extends { multiple: true }
    ? O[K]['type'] extends 'string'
      ? string[]
      : boolean[]
    : O[K]['type'] extends 'string'
      ? string
      : boolean;
};

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

/**
 * The result of `parseArgs` (strict, positionals allowed) for the common arguments of a warm call, without
 * calling it: every argument is a positional (one that does not start with `-`, or `-` itself) or a
 * boolean long option of the command given as `--name`, and no option has a default. Anything else (`--`,
 * a short option, `--name=value`, an option with a value, a `multiple` one, an unknown one) returns
 * undefined and goes to `parseArgs`, which knows its errors. Node loads `parseArgs` on first use (two
 * modules, some 4 M instructions): a warm `tokenward token <profile>` does not need it.
 * test/cli/args.test.ts holds this to `parseArgs` over the options of every command.
 */
export function parsePlain(
  argv: readonly string[],
  options: OptionsConfig,
): { values: Record<string, boolean>; positionals: string[] } | undefined {
  const values: Record<string, boolean> = Object.create(null);
  const positionals: string[] = [];
  for (const a of argv) {
    if (a === '-' || !a.startsWith('-')) {
      positionals.push(a);
      continue;
    }
    if (!a.startsWith('--') || a === '--' || a.includes('=')) return undefined;
    const name = a.slice(2);
    const o = Object.hasOwn(options, name) ? options[name] : undefined;
    if (o === undefined || o.type !== 'boolean' || o.multiple === true || o.default !== undefined)
      return undefined;
    values[name] = true;
  }
  for (const name in options) if (options[name]?.default !== undefined) return undefined;
  return { values, positionals };
}

/** Parses a command's arguments (everything after the command name). */
export function parseCommand<O extends OptionsConfig>(
  argv: string[],
  options: O,
): { values: OptionValues<typeof GLOBAL_OPTIONS & O>; positionals: string[] } {
  const all = { ...GLOBAL_OPTIONS, ...options };
  const plain = parsePlain(argv, all);
  if (plain !== undefined)
    return {
      values: plain.values as OptionValues<typeof GLOBAL_OPTIONS & O>,
      positionals: plain.positionals,
    };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: all,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as OptionValues<typeof GLOBAL_OPTIONS & O>, positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(msg.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/**
 * The base streams, before the command's switches are known. `stdin`, `stdout` and `stderr` are
 * getters, and so are `color` and `colorOut` (they ask the streams whether they are terminals): Node
 * builds `process.stdin`, `process.stdout` and `process.stderr` (a TTY, pipe or file stream, with the
 * stream modules behind it) on first access, and a warm `tokenward token` needs none of them — it
 * prints through `writeOut` (see `writeStdout`).
 */
export function baseIo(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Io {
  const noColor = argv.includes('--no-color');
  let color: boolean | undefined;
  let colorOut: boolean | undefined;
  return {
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    get stdin() {
      return process.stdin;
    },
    env,
    verbose: argv.includes('-v') || argv.includes('--verbose'),
    get color() {
      color ??= colorAllowed(process.stderr, env, noColor);
      return color;
    },
    get colorOut() {
      colorOut ??= colorAllowed(process.stdout, env, noColor);
      return colorOut;
    },
    writeOut: writeStdout,
  };
}

/** The Io with the parsed global switches applied (a getter such as `stdin` or `color` stays a getter). */
export function withGlobals(io: Io, values: { verbose?: boolean; 'no-color'?: boolean }): Io {
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(io)) as Io;
  out.verbose = values.verbose === true;
  if (values['no-color'] === true) {
    Object.defineProperty(out, 'color', { value: false, enumerable: true, writable: true });
    Object.defineProperty(out, 'colorOut', { value: false, enumerable: true, writable: true });
  }
  return out;
}

/** Splits argv at the first `--`: the part before is parsed, the part after is passed on untouched. */
export function splitAtDashDash(argv: readonly string[]): { before: string[]; after: string[] | undefined } {
  const i = argv.indexOf('--');
  if (i === -1) return { before: [...argv], after: undefined };
  return { before: argv.slice(0, i), after: argv.slice(i + 1) };
}
