/**
 * `tokenward sandbox [--port N]`: runs the seed-vendor emulators and the OpenID Connect server for people
 * on 127.0.0.1 in the foreground. Once listening it prints a ready-to-use config (profiles cylance, msx,
 * acronis, rdp, and the sign-in profiles oidc and oidc-device with the test user in a comment) on stdout
 * and keeps serving until SIGINT/SIGTERM; its URL and other messages go to stderr.
 * @module
 */

import { parseCommand, withGlobals } from '../args.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint, say } from '../output.js';

/** Runs `tokenward sandbox`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.sandbox);
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
  // Signals are handled from the start, so one that arrives while the server starts still stops it cleanly.
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { startSandbox, sandboxConfigToml, sandboxIssuer, sandboxLoginProfiles, VENDORS } = await (
      await import('../lazy.js')
    ).loadSandbox();
    // A port in use is a ConfigError naming it (exit 2).
    const sandbox = await startSandbox({ port });
    try {
      // The config goes out first and whole, so `tokenward sandbox > sandbox.toml &` is ready to use as
      // soon as the "listening" line appears on stderr.
      await new Promise<void>((resolve) =>
        io.stdout.write(sandboxConfigToml(sandbox, { login: true }), () => resolve()),
      );
      say(
        io,
        `${paint(io.color, 'green', 'tokenward sandbox')} listening on ${sandbox.url} (Ctrl-C to stop)`,
      );
      say(io, `profiles: ${VENDORS.join(', ')} (test credentials); stats: GET ${sandbox.url}/_sandbox/stats`);
      const person = sandbox.credentials.oidc;
      say(
        io,
        `sign-in profiles: ${Object.keys(sandboxLoginProfiles(sandbox)).join(', ')} (issuer ${sandboxIssuer(sandbox)}); test user ${person.username}, password ${person.password}`,
      );
      say(
        io,
        'e.g. tokenward sandbox --port 0 > sandbox.toml & then: tokenward token rdp --config sandbox.toml',
      );
      const sig = await stopped;
      say(io, `tokenward sandbox: ${sig}, stopping`);
    } finally {
      await sandbox.close();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.OK;
}
