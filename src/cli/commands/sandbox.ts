/**
 * `tokenward sandbox [--port N]`: runs the seed-vendor emulators on 127.0.0.1 in the foreground. Once
 * listening it prints a ready-to-use config (profiles cylance, msx, acronis, rdp) on stdout and keeps
 * serving until SIGINT/SIGTERM; its URL and other messages go to stderr.
 * @module
 */

import { parseCommand, withGlobals } from '../args.js';
import { EXIT, UsageError } from '../exit.js';
import { type Io, paint, say } from '../output.js';

/** Runs `tokenward sandbox`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, { port: { type: 'string', short: 'p' } } as const);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['sandbox']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new UsageError('sandbox takes no arguments');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port takes a port number from 0 to 65535, got "${values.port}"`);
  }
  const { startSandbox, sandboxProfiles } = await (await import('../lazy.js')).loadSandbox();
  const { stringify } = await import('smol-toml');
  const sandbox = await startSandbox({ port });
  const profiles: Record<string, Record<string, unknown>> = {};
  for (const [name, p] of Object.entries(sandboxProfiles(sandbox))) {
    const { name: _n, ...rest } = p;
    profiles[name] = rest;
  }
  const toml = `# tokenward sandbox at ${sandbox.url} — test credentials only; valid while it runs\n${stringify({ profiles })}`;
  io.stdout.write(toml.endsWith('\n') ? toml : `${toml}\n`);
  say(io, `${paint(io.color, 'green', 'tokenward sandbox')} listening on ${sandbox.url} (Ctrl-C to stop)`);
  say(
    io,
    `profiles: ${Object.keys(profiles).join(', ')} — e.g. tokenward sandbox > sandbox.toml & tokenward token rdp --config sandbox.toml`,
  );

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      say(io, `tokenward sandbox: ${sig}, stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await sandbox.close();
  return EXIT.OK;
}
