/**
 * `tokenward status --json` and `--watch` as a user runs them: a flow of CLI calls against the loopback
 * token server (a grant, a store hit, a failed forced renewal), then `status --json` checked field by
 * field against the entry the file store holds; `--watch` on a pseudo-terminal (`script`) for two
 * refreshes, ended with Ctrl-C typed on that terminal; `--watch --json` on a pipe (JSON Lines) ended
 * with SIGINT.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileStore } from '../../src/stores/file.js';
import { missing } from '../helpers/services.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { until } from '../helpers/wait.js';
import { CLI, ROOT, type TempHome, tempHome, tw, twSpawn } from './helpers.js';

let home: TempHome;
let ts: TokenServer;

before(async () => {
  home = tempHome();
  ts = await startTokenServer({ latencyMs: 0, lifetime: 3600 });
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    `[profiles.w]
token_url = "${ts.tokenUrl}"
client_id = "watch-client"
client_secret = "env:W_SECRET"
retries = 0
`,
  );
  home.env['W_SECRET'] = 'w-secret-5e6f7a8b';
  // The key file's directory, named so that this process (which reads the store below) finds the same
  // key as the CLI: without it, each derives the default from its own XDG variables.
  home.env['TOKENWARD_CONFIG_DIR'] = join(home.dir, 'keys');
});
after(() => {
  ts.close();
  home.cleanup();
});

const ESC_CLEAR = '\x1b[H\x1b[2J';

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('status --json after a flow', () => {
  it('shows expiry, last renewal, last error and the counts the store entry holds', async () => {
    const first = await tw(['token', 'w'], { env: home.env });
    assert.equal(first.code, 0, first.stderr);
    const second = await tw(['token', 'w'], { env: home.env });
    assert.equal(second.stdout, first.stdout, 'the second call is served from the store');
    ts.fault = { status: 500, body: '{"error":"server_error"}' };
    const failed = await tw(['token', 'w', '--force'], { env: home.env });
    ts.fault = undefined;
    assert.notEqual(failed.code, 0);
    assert.equal(ts.counts.total, 2);

    const r = await tw(['status', '--json'], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1);
    const row = rows[0] ?? {};

    const store = new FileStore({ env: home.env });
    const entries = await store.list();
    await store.close();
    assert.equal(entries.length, 1);
    const entry = entries[0];
    const token = entry?.token;
    assert.ok(entry !== undefined && token !== undefined);
    assert.equal(row['profile'], 'w');
    assert.equal(row['cached'], true);
    assert.equal(row['valid'], true);
    assert.equal(row['expires_at'], new Date(token.expiresAt).toISOString());
    assert.equal(row['last_renewal'], new Date(token.obtainedAt).toISOString());
    assert.equal(row['updated_at'], new Date(entry.updatedAt).toISOString());
    assert.deepEqual(row['counts'], { renewals: 1, failures: 1 });
    assert.deepEqual(entry.counts, { renewals: 1, failures: 1 });
    const lastError = row['last_error'] as Record<string, unknown>;
    assert.equal(lastError['code'], 'ERR_TOKEN_ENDPOINT');
    assert.equal(lastError['status'], 500);
    assert.equal(lastError['at'], new Date(entry.lastError?.at ?? 0).toISOString());
    assert.ok(!r.stdout.includes(token.accessToken), 'status printed the token');
  });

  it('--interval without --watch, or out of bounds, is a usage error (exit 2)', async () => {
    for (const args of [
      ['--interval', '1s'],
      ['--watch', '--interval', '10ms'],
      ['--watch', '-n', '2h'],
    ]) {
      const r = await tw(['status', ...args], { env: home.env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--interval/);
      assert.equal(r.stdout, '');
    }
  });
});

describe('status --watch', () => {
  it('on a terminal: the table is redrawn in place every interval; Ctrl-C ends it with exit 0', async (t) => {
    const probe = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' });
    if (probe.error !== undefined || probe.status !== 0) {
      return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    }
    const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
    // `exec`: the CLI replaces the shell, so the terminal's Ctrl-C reaches it alone.
    const cmd = `exec ${[process.execPath, ...CLI, 'status', '--watch', '--interval', '200ms'].map(quote).join(' ')}`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT,
      env: { ...home.env, TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The first table and two refreshes.
      await until(() => count(out, ESC_CLEAR) >= 3, 'the first table and two refreshes');
      child.stdin.write('\x03'); // Ctrl-C on the terminal: SIGINT to the foreground process
      const code = await exited;
      assert.equal(code, 0, out);
    } finally {
      child.kill('SIGKILL');
    }
    assert.ok(count(out, ESC_CLEAR) >= 3, JSON.stringify(out));
    assert.match(out, /tokenward status, every 0\.2s: /);
    assert.match(out, /PROFILE +PROVIDER +STORE +TOKEN +EXPIRES +REFRESH +RENEWED +LAST ERROR/);
    assert.ok(out.includes('\x1b[32mvalid\x1b[0m'), 'the state is coloured on a terminal');
    const plain = ['\x1b[32m', '\x1b[1m', '\x1b[0m'].reduce((text, code) => text.replaceAll(code, ''), out);
    assert.match(
      plain,
      /\nw +oauth2 +file +valid +expires in \S+ +yes +\S+ ago \(1×, 1 failed\) +ERR_TOKEN_ENDPOINT/,
    );
  });

  it('on a pipe with --json: one JSON array per refresh; SIGINT ends it with exit 0', async () => {
    const child = twSpawn(['status', '--watch', '--json', '-n', '100ms'], { env: home.env });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => count(out, '\n') >= 3, 'three JSON lines');
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
    } finally {
      child.kill('SIGKILL');
    }
    const lines = out.trimEnd().split('\n');
    assert.ok(lines.length >= 3);
    for (const line of lines) {
      const rows = JSON.parse(line) as Array<Record<string, unknown>>;
      assert.deepEqual(
        rows.map((r) => [r['profile'], r['valid'], r['counts']]),
        [['w', true, { renewals: 1, failures: 1 }]],
      );
    }
    assert.ok(!out.includes('\x1b['), 'no terminal codes on a pipe');
    assert.equal(ts.counts.total, 2, 'watching fetched nothing');
  });
});
