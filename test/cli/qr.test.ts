/**
 * The device flow on a real terminal (a pseudo-terminal from `script`, util-linux) against the
 * sandbox's OpenID Connect server, approved over HTTP as the demo does: `login --device` draws the
 * `verification_uri_complete` QR code on a terminal and not on a pipe; and `interactive = "auto"` makes
 * `token`, `exec` and `request` sign in on a terminal instead of exiting 8 (and still exit 8 on a pipe).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QR_MAX_CHARS, terminalQr } from '../../src/cli/qr.js';
import { approveSandboxDevice, type Sandbox, sandboxIssuer, startSandbox } from '../../src/sandbox/index.js';
import { missing } from '../helpers/services.js';
import { CLI, hasScript, ROOT, shellQuote, type TempHome, tempHome, tw } from './helpers.js';

/** The sandbox OIDC server's tokens issued so far, by grant. */
function tokensIssued(stats: ReturnType<Sandbox['stats']>): Record<string, number> {
  return { ...stats.token.oidc };
}

/** A QR code's row as `uqr` draws it: half and full blocks (one at least) and spaces, 21+ cells wide. */
const QR_ROW = /^[ ▀▄]*█[ █▀▄]{20,}\r?$/mu;

/**
 * Runs `tokenward ...args` (under `script` when `terminal`), approves the device code it shows on the
 * sandbox's verification page, and resolves with the exit code, everything it wrote, and how many
 * codes were approved. A process that shows no code is left to exit by itself (or killed after 120 s,
 * a safety net only).
 */
async function runApproving(
  home: TempHome,
  args: string[],
  terminal: boolean,
): Promise<{ code: number | null; out: string; stdout: string; approved: number }> {
  const argv = [process.execPath, ...CLI, ...args];
  const child = terminal
    ? spawn('script', ['-qec', argv.map(shellQuote).join(' '), '/dev/null'], {
        cwd: ROOT,
        env: { ...home.env, TERM: 'xterm-256color', COLUMNS: '120', LINES: '50' },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(argv[0] as string, argv.slice(1), {
        cwd: ROOT,
        env: home.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
  let out = '';
  let stdout = '';
  let approved = 0;
  let approval: Promise<void> | undefined;
  const onData = (c: Buffer, isStdout: boolean) => {
    const s = c.toString('utf8');
    out += s;
    if (isStdout) stdout += s;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the bold user code on a terminal
    const m = /open (\S+)\s+and enter the code: (?:\x1b\[[0-9;]*m)?([A-Z]{4}-[A-Z]{4})/.exec(out);
    if (m?.[1] !== undefined && m[2] !== undefined && approval === undefined) {
      approved++;
      approval = approveSandboxDevice(m[1], m[2]);
    }
  };
  child.stdout.on('data', (c: Buffer) => onData(c, true));
  child.stderr.on('data', (c: Buffer) => onData(c, false));
  child.stdin.on('error', () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  child.stdin.end();
  await approval;
  return { code, out, stdout, approved };
}

describe('the device flow on a terminal', () => {
  let sb: Sandbox;
  let home: TempHome;
  before(async () => {
    sb = await startSandbox();
    home = tempHome();
    mkdirSync(dirname(home.config), { recursive: true });
    const common = [
      'provider = "oidc"',
      `issuer = "${sandboxIssuer(sb)}"`,
      `client_id = "${sb.credentials.oidc.clientId}"`,
      'scope = "openid profile email offline_access"',
      'grant = "device_code"',
    ];
    writeFileSync(
      home.config,
      [
        '[profiles.dev]',
        ...common,
        '',
        '[profiles.auto]',
        'interactive = "auto"',
        ...common,
        '',
        '[profiles.autopipe]',
        'interactive = "auto"',
        ...common,
        '',
        '[profiles.autoexec]',
        'interactive = "auto"',
        ...common,
        '',
        '[profiles.autoreq]',
        'interactive = "auto"',
        ...common,
        '',
        '[profiles.autoreqpipe]',
        'interactive = "auto"',
        ...common,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  });
  after(async () => {
    await sb.close();
    home.cleanup();
  });

  it('login --device on a terminal draws the QR code of verification_uri_complete', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await runApproving(home, ['login', 'dev', '--device', '--config', home.config], true);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.approved, 1, r.out);
    assert.match(r.out, /which has the code filled in, or scan this/);
    assert.match(r.out, QR_ROW, `a QR block in ${JSON.stringify(r.out)}`);
    // The countdown, redrawn in place on the terminal.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequence that clears the line
    assert.match(r.out, /\r\x1b\[2Kwaiting for approval… \d+:\d\d left/);
    assert.match(r.out, /tokenward: signed in to dev/);
  });

  it('login --device with stderr on a pipe prints the URLs and no QR code', async () => {
    const r = await runApproving(home, ['login', 'dev', '--device', '--config', home.config], false);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.approved, 1, r.out);
    assert.match(r.out, /which has the code filled in\)/);
    assert.doesNotMatch(r.out, /[█▀▄]/u);
    assert.doesNotMatch(r.out, /scan this/);
    // Nothing decorative on a pipe: no countdown, no carriage returns, no escape sequences.
    assert.doesNotMatch(r.out, /waiting for approval/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape sequences
    assert.doesNotMatch(r.out, /[\r\x1b]/);
  });

  it('interactive = "auto": token on a terminal with no session signs in (device flow) and prints the token', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await runApproving(home, ['token', 'auto', '--config', home.config], true);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.approved, 1, r.out);
    assert.match(r.out, /auto needs a sign-in \(interactive = "auto"\)/);
    assert.match(r.out, QR_ROW);
    // The session is stored: the next call (on a pipe, where no sign-in may start) is served from it.
    const again = await tw(['token', 'auto', '--config', home.config], { env: home.env });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stdout.trim().length > 0);
    assert.ok(r.out.includes(again.stdout.trim()), 'the token printed on the terminal is the stored one');
  });

  it('interactive = "auto": exec on a terminal signs in too, and the command gets the token', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const probe = 'console.log("token of " + (process.env.ACCESS_TOKEN ?? "").length + " characters")';
    const r = await runApproving(
      home,
      ['exec', 'autoexec', '--config', home.config, '--', process.execPath, '-e', probe],
      true,
    );
    assert.equal(r.code, 0, r.out);
    assert.equal(r.approved, 1, r.out);
    assert.match(r.out, /autoexec needs a sign-in \(interactive = "auto"\)/);
    assert.match(r.out, /token of [1-9]\d* characters/);
  });

  it('interactive = "auto": request on a terminal signs in, then calls the API with the new token', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const userinfo = `${sandboxIssuer(sb)}/userinfo`;
    const before = sb.stats();
    const r = await runApproving(home, ['request', 'autoreq', userinfo, '--config', home.config], true);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.approved, 1, r.out);
    assert.match(r.out, /autoreq needs a sign-in \(interactive = "auto"\)/);
    // The sandbox's userinfo answered the token of that sign-in: the person's claims are the body.
    // (Indented on a terminal; the terminal ends its lines with \r\n.)
    const body = /\{\s*"sub":[^}]*\}/.exec(r.stdout)?.[0];
    assert.ok(body !== undefined, `no userinfo body in ${JSON.stringify(r.stdout)}`);
    const claims = JSON.parse(body) as Record<string, unknown>;
    assert.equal(claims['preferred_username'], sb.credentials.oidc.username);
    // One token: the device code redeemed once; the API call did not need another.
    const after = sb.stats();
    assert.deepEqual(tokensIssued(after), {
      ...tokensIssued(before),
      device_code: (before.token.oidc['device_code'] ?? 0) + 1,
    });
    assert.equal(after.rejected.oidc, before.rejected.oidc, 'the API did not refuse the token');
  });

  it('interactive = "auto" on a pipe: request exits 8, shows no code, gets no token', async () => {
    const userinfo = `${sandboxIssuer(sb)}/userinfo`;
    const before = sb.stats();
    const r = await runApproving(home, ['request', 'autoreqpipe', userinfo, '--config', home.config], false);
    assert.equal(r.code, 8, r.out);
    assert.equal(r.approved, 0, r.out);
    assert.match(r.out, /tokenward login autoreqpipe/);
    assert.equal(r.stdout, '', 'no API answer printed');
    const after = sb.stats();
    assert.deepEqual(tokensIssued(after), tokensIssued(before));
    assert.equal(after.rejected.oidc, before.rejected.oidc, 'no API call without a token');
  });

  it('interactive = "auto" on a pipe: token exits 8 (login required) and shows no code', async () => {
    const r = await runApproving(home, ['token', 'autopipe', '--config', home.config], false);
    assert.equal(r.code, 8, r.out);
    assert.equal(r.approved, 0, r.out);
    assert.match(r.out, /tokenward login autopipe/);
  });
});

describe('terminalQr', () => {
  const url = 'http://127.0.0.1:41234/oidc/device?user_code=BCDF-GHJK';

  it('draws a square code: every row as wide as the code is tall (two modules a row)', async () => {
    const qr = await terminalQr(url);
    assert.ok(qr !== undefined);
    const rows = qr.split('\n');
    const width = [...(rows[0] ?? '')].length;
    for (const row of rows) {
      assert.equal([...row].length, width, JSON.stringify(row));
      assert.match(row, /^[ █▀▄]+$/u);
    }
    // A version-n code is 17 + 4n modules plus the 2-module border each side; rows hold two modules.
    assert.equal((width - 4 - 17) % 4, 0, `width ${width}`);
    assert.equal(rows.length, Math.ceil(width / 2));
  });

  it('the same URL draws the same code', async () => {
    assert.equal(await terminalQr(url), await terminalQr(url));
    assert.notEqual(await terminalQr(url), await terminalQr(`${url}X`));
  });

  it('nothing for an empty or over-long URL, or a terminal narrower than the code', async () => {
    assert.equal(await terminalQr(''), undefined);
    assert.equal(await terminalQr(`http://127.0.0.1/${'a'.repeat(QR_MAX_CHARS)}`), undefined);
    const qr = await terminalQr(url);
    const width = [...(qr?.split('\n')[0] ?? '')].length;
    assert.equal(await terminalQr(url, width - 1), undefined);
    assert.equal(await terminalQr(url, width), qr);
    assert.equal(await terminalQr(url, 0), qr, 'columns 0 (unknown) does not limit');
  });
});
