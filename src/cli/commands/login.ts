/**
 * `tokenward login <profile> [--device] [--no-browser]`: a person signs in with the profile's
 * interactive grant; the tokens go to the profile's store (under its lock). Also the CLI's
 * `interactive = "auto"` rule for `token`, `request` and `exec` ({@link signInIfAllowed}).
 * @module
 */

import type { TokenManager } from '../../manager/token-manager.js';
import type { Profile } from '../../profile.js';
import { signedInUser } from '../../signin/claims.js';
import type { SignInOptions } from '../../signin/types.js';
import type { Token } from '../../token-state.js';
import { parseCommand, withGlobals } from '../args.js';
import { openProfileManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint, say } from '../output.js';

/**
 * The CLI's way of showing a sign-in: everything on stderr; a countdown and the device flow's QR code
 * only when stderr is a terminal.
 */
export function cliSignInOptions(io: Io, flags: { device?: boolean; noBrowser?: boolean }): SignInOptions {
  const tty = io.stderr.isTTY === true && io.env['TERM'] !== 'dumb';
  let counting = false;
  const opts: SignInOptions = {
    onAuthorizationUrl(url) {
      say(io, `Open this URL in a browser to sign in:\n\n  ${url}\n`);
    },
    async onDeviceCode(info) {
      const lines = [
        `To sign in, open ${info.verificationUri}`,
        `and enter the code: ${paint(io.color, 'bold', info.userCode)}`,
      ];
      const complete = info.verificationUriComplete;
      if (complete !== undefined) {
        lines.push(`(or open ${complete}, which has the code filled in${tty ? ', or scan this' : ''})`);
        // The QR code goes where the code is shown (stderr), and only when that is a terminal: stdout
        // is often captured (`$(tokenward token …)` with interactive = "auto") and is no one's screen.
        const qr = tty ? await qrFor(io, complete) : undefined;
        if (qr !== undefined) lines.push('', qr);
      }
      lines.push(`The code expires in ${Math.round(info.expiresIn / 60)} min.`);
      say(io, lines.join('\n'));
    },
    async openBrowser(url) {
      const { openInBrowser } = await import('../../signin/browser.js');
      if (!(await openInBrowser(url, { env: io.env })))
        say(io, 'tokenward: could not start a browser; open the URL above yourself');
    },
  };
  if (tty) {
    opts.onDevicePoll = (left) => {
      counting = true;
      const m = Math.floor(left / 60);
      const s = String(left % 60).padStart(2, '0');
      io.stderr.write(`\r\x1b[2Kwaiting for approval… ${m}:${s} left`);
    };
  }
  if (flags.device === true) opts.device = true;
  if (flags.noBrowser === true) opts.openBrowser = false;
  const finish = () => {
    if (counting) io.stderr.write('\r\x1b[2K');
  };
  return Object.assign(opts, { finish });
}

/** The QR code of `url` sized for stderr's terminal, loaded on first use. */
async function qrFor(io: Io, url: string): Promise<string | undefined> {
  const { terminalQr } = await import('../qr.js');
  const columns = (io.stderr as { columns?: unknown }).columns;
  return terminalQr(url, typeof columns === 'number' ? columns : undefined);
}

/** "as NAME <email>" from the token's ID token, or ''. */
export function whoText(token: Token): string {
  const u = signedInUser(token.idToken);
  if (u === undefined) return '';
  const who = u.name ?? u.email ?? u.sub;
  if (who === undefined) return '';
  return ` as ${who}${u.email !== undefined && u.email !== who ? ` <${u.email}>` : ''}`;
}

/**
 * The `interactive = "auto"` rule: when `err` is a `LoginRequiredError`, the profile says
 * `interactive = "auto"` and stdin and stderr are terminals, signs in (reusing a token another process
 * stored meanwhile) and returns the token; otherwise rethrows `err`.
 */
export async function signInIfAllowed(
  io: Io,
  profile: Profile,
  manager: TokenManager,
  err: unknown,
): Promise<Token> {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (
    code !== 'ERR_LOGIN_REQUIRED' ||
    profile.interactive !== 'auto' ||
    io.stdin.isTTY !== true ||
    io.stderr.isTTY !== true
  )
    throw err;
  say(io, `tokenward: ${profile.name ?? 'this profile'} needs a sign-in (interactive = "auto")`);
  const opts = cliSignInOptions(io, {});
  try {
    return await manager.signIn({ ...opts, reuse: true });
  } finally {
    (opts as { finish?: () => void }).finish?.();
  }
}

/** Runs `tokenward login`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.login);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['login']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError('login takes one profile');
  const { profile, manager } = await openProfileManager(io, positionals[0], values.config);
  const opts = cliSignInOptions(io, {
    device: values.device === true,
    noBrowser: values['no-browser'] === true,
  });
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const token = await manager.signIn({ ...opts, signal: abort.signal });
    (opts as { finish?: () => void }).finish?.();
    const name = profile.name ?? '';
    const until =
      token.refreshToken === undefined
        ? `; no refresh token: sign in again after ${new Date(token.expiresAt).toISOString()}`
        : token.refreshExpiresAt !== undefined
          ? `; the session lasts until ${new Date(token.refreshExpiresAt).toISOString()}`
          : '';
    say(io, `tokenward: signed in to ${name}${whoText(token)}${until}`);
    return EXIT.OK;
  } finally {
    (opts as { finish?: () => void }).finish?.();
    process.removeListener('SIGINT', onSigint);
    await manager.close();
  }
}
