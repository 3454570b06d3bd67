/**
 * `tokenward secret set|get|rm|list`: secrets for `secret:NAME` references, kept in the OS keyring when
 * one answers, else in the local encrypted secret store (see `src/secrets/index.ts`). A value is read
 * from a prompt that does not echo (stdin a terminal) or from standard input — never from the command
 * line.
 * @module
 */

import { parseCommand, withGlobals } from '../args.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { debug, error, type Io, say, warn } from '../output.js';

type SecretsModule = typeof import('../../secrets/index.js');
type Outcome = import('../../secrets/index.js').SecretOutcome;

const ACTIONS = ['set', 'get', 'rm', 'list'] as const;

/** How the backends used are named in messages. */
function where(o: Outcome): string {
  const names = o.backends.map((b) =>
    b === 'keyring' ? 'the OS keyring' : `the local secret store (${o.localDir ?? 'config directory'})`,
  );
  return names.length === 0 ? 'nowhere' : names.join(' and ');
}

/** Says why `auto` did not use the keyring (with -v, or when it matters: a write). */
function noteSkipped(io: Io, o: Outcome, always: boolean): void {
  if (o.keyringSkipped !== undefined && (always || io.verbose)) {
    say(io, `tokenward: the OS keyring did not answer (${o.keyringSkipped}); using the local secret store`);
  }
}

/** The largest value read from standard input, bytes. */
const MAX_INPUT = 64 * 1024;

/** Reads the value: a prompt without echo on a terminal, else standard input (one trailing newline trimmed). */
async function readValue(io: Io, name: string): Promise<string> {
  const stdin = io.stdin as NodeJS.ReadableStream & {
    isTTY?: boolean;
    setRawMode?: (on: boolean) => unknown;
  };
  let text: string;
  if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    text = await promptHidden(io, stdin as typeof stdin & { setRawMode: (on: boolean) => unknown }, name);
  } else {
    const { LOCAL_FILE_LIMITS, LocalReadError, formatBytes, readBoundedStream } = await import(
      '../../config/local-file.js'
    );
    let buf: Buffer;
    try {
      buf = await readBoundedStream(stdin, {
        maxBytes: MAX_INPUT + 2,
        idleMs: LOCAL_FILE_LIMITS.stdinIdleMs,
      });
    } catch (err) {
      // The bound allows a trailing CR LF; the limit said is the value's.
      const reason = !(err instanceof LocalReadError)
        ? 'could not be read'
        : err.code === 'ETOOBIG'
          ? `is larger than ${formatBytes(MAX_INPUT)}`
          : err.reason;
      throw new UsageError(`secret set: standard input ${reason}`);
    }
    text = buf.toString('utf8').replace(/\r?\n$/, '');
    buf.fill(0);
  }
  if (text === '') throw new UsageError(`secret set: the value for "${name}" is empty; nothing was stored`);
  if (Buffer.byteLength(text, 'utf8') > MAX_INPUT) {
    throw new UsageError(`secret set: the value is larger than ${MAX_INPUT} bytes; nothing was stored`);
  }
  return text;
}

/**
 * Prompts on stderr and reads one line from the terminal in raw mode, echoing nothing. Backspace
 * deletes, Enter ends, Ctrl-C / Ctrl-D (on an empty line) abort.
 */
function promptHidden(
  io: Io,
  stdin: NodeJS.ReadableStream & { setRawMode: (on: boolean) => unknown },
  name: string,
): Promise<string> {
  // Echo off before the prompt appears, so nothing typed after it is ever echoed.
  stdin.setRawMode(true);
  io.stderr.write(`Value for secret "${name}" (not shown): `);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err: Error | undefined) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err !== undefined) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(undefined);
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          return done(new UsageError('secret set: cancelled; nothing was stored'));
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ' || ch === '\t') value += ch;
        if (value.length > MAX_INPUT)
          return done(new UsageError(`secret set: the value is larger than ${MAX_INPUT} bytes`));
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** Runs `tokenward secret`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.secret);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['secret']}\n`);
    return EXIT.OK;
  }
  const [action, name, ...extra] = positionals;
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`secret takes one of: ${ACTIONS.join(', ')}`);
  }
  if (action === 'list' ? name !== undefined : name === undefined) {
    throw new UsageError(action === 'list' ? 'secret list takes no name' : `secret ${action} takes a NAME`);
  }
  if (extra.length > 0) {
    // Never echo what was given: it may be the value, typed where it does not belong.
    throw new UsageError(
      action === 'set'
        ? 'secret set takes only NAME: the value is read from a prompt or standard input, never from the command line'
        : `secret ${action} takes one NAME`,
    );
  }
  const secrets: SecretsModule = await import('../../secrets/index.js');
  const opts = {
    env: io.env,
    backend: secrets.secretBackendChoice(values.backend, io.env),
    onWarning: (m: string) => warn(io, m),
  };
  switch (action) {
    case 'set': {
      const n = name as string;
      // Check the name before asking for a value.
      const { assertSecretName } = await import('../../secrets/local.js');
      assertSecretName(n);
      const value = await readValue(io, n);
      const o = await secrets.setSecret(n, value, opts);
      noteSkipped(io, o, true);
      say(io, `tokenward: stored secret "${n}" in ${where(o)}`);
      return EXIT.OK;
    }
    case 'get': {
      const n = name as string;
      const o = await secrets.getSecret(n, opts);
      noteSkipped(io, o, false);
      if (o.value === undefined) {
        error(io, `no secret "${n}" in ${where(o)}`);
        return EXIT.FAILURE;
      }
      if (io.stdout.isTTY === true && values.show !== true) {
        say(
          io,
          `tokenward: secret "${n}" is in ${where(o)}; not printed to a terminal (add --show, or pipe it: tokenward secret get ${n} | …)`,
        );
        return EXIT.OK;
      }
      io.stdout.write(o.value);
      if (io.stdout.isTTY === true) io.stdout.write('\n');
      debug(io, `tokenward: read secret "${n}" from ${where(o)}`);
      return EXIT.OK;
    }
    case 'rm': {
      const n = name as string;
      const o = await secrets.deleteSecret(n, opts);
      noteSkipped(io, o, false);
      if (o.backends.length === 0) {
        error(io, `no secret "${n}" to delete`);
        return EXIT.FAILURE;
      }
      say(io, `tokenward: deleted secret "${n}" from ${where(o)}`);
      return EXIT.OK;
    }
    default: {
      const o = await secrets.listSecrets(opts);
      noteSkipped(io, o, false);
      for (const n of o.names) io.stdout.write(`${n}\n`);
      if (io.verbose) say(io, `tokenward: listed ${where(o)}`);
      return EXIT.OK;
    }
  }
}
