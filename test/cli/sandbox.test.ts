/**
 * `tokenward sandbox` as a child process: its TOML on stdout is a working config
 * (`tokenward sandbox --port 0 > sandbox.toml &` then `tokenward token rdp --config sandbox.toml`), the
 * file store serves a second call (the sandbox's own counters prove it), SIGTERM stops it, and
 * `tokenward demo` runs every seed flow and exits 0.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { type TempHome, tempHome, tw, twSpawn } from './helpers.js';

interface Stats {
  token: Record<string, Record<string, number>>;
  api: Record<string, number>;
}

let home: TempHome;
let child: ChildProcess;
let stderr = '';
let url = '';
let toml = '';
let config = '';
let exited: Promise<[number | null, NodeJS.Signals | null]>;

async function stats(): Promise<Stats> {
  const res = await fetch(`${url}/_sandbox/stats`);
  assert.equal(res.status, 200);
  return (await res.json()) as Stats;
}

before(async () => {
  home = tempHome();
  child = twSpawn(['sandbox', '--port', '0'], { env: home.env });
  exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (toml += c));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sandbox did not start: ${stderr}`)), 30_000);
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        url = m[1];
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`the sandbox exited: ${stderr}`)));
  });
  config = join(home.dir, 'sandbox.toml');
  // As a shell redirect with the usual umask writes it: readable by others. Its profiles point at
  // loopback, so their literal test credentials must not be warned about.
  writeFileSync(config, toml, { mode: 0o644 });
});

after(async () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  home?.cleanup();
});

describe('tokenward sandbox', () => {
  it('prints a TOML config with the four vendor profiles on stdout, messages on stderr', () => {
    for (const p of ['cylance', 'msx', 'acronis', 'rdp'])
      assert.match(toml, new RegExp(`^\\[profiles\\.${p}\\]$`, 'm'));
    assert.ok(toml.includes(url));
    assert.doesNotMatch(toml, /^store\s*=/m, 'the default (file) store is used');
    assert.doesNotMatch(toml, /listening/);
  });

  it('prints the sign-in profiles oidc and oidc-device, with the test user in a comment and on stderr', () => {
    for (const [p, grant] of [
      ['oidc', 'authorization_code'],
      ['oidc-device', 'device_code'],
    ] as const) {
      const section = toml.split(/^\[/m).find((s) => s.startsWith(`profiles.${p}]`));
      assert.ok(section !== undefined, p);
      assert.match(section, /^provider = "oidc"$/m);
      assert.ok(section.includes(`issuer = "${url}/oidc"`), section);
      assert.match(section, /^client_id = "tokenward-sandbox-cli"$/m);
      assert.ok(section.includes(`grant = "${grant}"`), section);
      assert.match(section, /^scope = "openid profile email offline_access"$/m);
    }
    assert.match(toml, /^# Test user: person {2}password: tokenward-sandbox /m);
  });

  it('names the sign-in profiles, the issuer and the test user on stderr', async () => {
    // The lines after "listening" may still be on their way: wait for them (no timer).
    const re =
      /sign-in profiles: oidc, oidc-device \(issuer (http:\/\/[^)]+)\); test user person, password tokenward-sandbox/;
    if (!re.test(stderr)) {
      await new Promise<void>((resolve) => {
        const onData = () => {
          if (re.test(stderr)) {
            child.stderr?.off('data', onData);
            resolve();
          }
        };
        child.stderr?.on('data', onData);
      });
    }
    assert.equal(re.exec(stderr)?.[1], `${url}/oidc`);
  });

  it('token rdp --config sandbox.toml: exactly the token on stdout; a second call comes from the file store', async () => {
    const r = await tw(['token', 'rdp', '--config', config], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no warning for loopback test credentials');
    assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(decodeJwt(r.stdout.trim()).sub, 'sandbox.user@example.com');
    assert.deepEqual((await stats()).token['rdp'], { password: 1 });

    const again = await tw(['token', 'rdp', '--config', config], { env: home.env });
    assert.equal(again.stdout, r.stdout);
    assert.deepEqual((await stats()).token['rdp'], { password: 1 });
  });

  it('tokens for cylance, msx and acronis; status shows all four in the file store', async () => {
    const runs = await Promise.all(
      ['cylance', 'msx', 'acronis'].map((p) => tw(['token', p, '--config', config], { env: home.env })),
    );
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
    }
    const s = await stats();
    assert.deepEqual(s.token['cylance'], { jwt: 1 });
    assert.deepEqual(s.token['msx'], { password: 1 });
    assert.deepEqual(s.token['acronis'], { client_credentials: 1 });

    const st = await tw(['status', '--json', '--config', config], { env: home.env });
    const rows = JSON.parse(st.stdout) as Array<{ profile: string; store: string; valid: boolean }>;
    assert.deepEqual(
      rows.filter((row) => !row.profile.startsWith('oidc')).map((row) => [row.profile, row.store, row.valid]),
      [
        ['cylance', 'file', true],
        ['msx', 'file', true],
        ['acronis', 'file', true],
        ['rdp', 'file', true],
      ],
    );
    // The sign-in profiles: nobody has signed in.
    assert.deepEqual(
      rows.filter((row) => row.profile.startsWith('oidc')).map((row) => [row.profile, row.valid]),
      [
        ['oidc', false],
        ['oidc-device', false],
      ],
    );
  });

  it('request and inspect against the sandbox', async () => {
    const clientId = /\[profiles\.acronis\][^[]*client_id = "([^"]+)"/.exec(toml)?.[1] ?? '';
    const [req, insp] = await Promise.all([
      tw(['request', 'acronis', `${url}/api/2/clients/${clientId}`, '--config', config], { env: home.env }),
      tw(['inspect', 'msx', '--config', config], { env: home.env }),
    ]);
    assert.equal(req.code, 0, req.stderr);
    assert.ok(JSON.stringify(JSON.parse(req.stdout)).includes(clientId));
    assert.equal(insp.code, 0, insp.stderr);
    assert.match(insp.stdout, /"sub": "superuser"/);
    assert.match(insp.stdout, /expires +.*\(expires in 2h\d+m\)/);
    assert.match(insp.stdout, /NOT verified/);
    assert.doesNotMatch(insp.stdout, /[\w-]{20,}\.[\w-]{20,}\.[\w-]{20,}/, 'the token itself is not printed');
    assert.equal((await stats()).api['acronis'], 1);
  });

  it('a port in use is a usage error (exit 2)', async () => {
    const busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await tw(['sandbox', '--port', String(port)], { env: home.env });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /in use/);
    } finally {
      busy.close();
    }
  });

  it('SIGTERM stops it with exit code 0', async () => {
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(stderr, /SIGTERM, stopping/);
  });
});

describe('tokenward demo', () => {
  it('runs every seed flow against an in-process sandbox and exits 0', async () => {
    const r = await tw(['demo'], { env: home.env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /all flows worked/);
    assert.doesNotMatch(r.stdout, /✗/);
    for (const v of ['cylance', 'msx', 'acronis', 'rdp']) assert.match(r.stdout, new RegExp(`✓ ${v}: token`));
    assert.match(r.stdout, /✓ rdp: the API rejects the token \(401\)/);
    // Both sign-in flows, the person's part done by the demo over HTTP.
    assert.match(r.stdout, /✓ oidc: a person signs in \(authorization code \+ PKCE/);
    assert.match(r.stdout, /✓ oidc-device: a person signs in with a device code/);
    assert.match(r.stdout, /signed in after 1 device-code grant/);
  });
});
