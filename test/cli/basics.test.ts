/** The CLI without a token server: help, version, usage and config errors, profiles, completion, inspect. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { missing } from '../helpers/services.js';
import { CLI, ROOT, type TempHome, tempHome, tw } from './helpers.js';

let home: TempHome;
before(() => {
  home = tempHome();
});
after(() => home.cleanup());

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('help and version', () => {
  it('--version prints the version on stdout', async () => {
    const r = await tw(['--version'], { env: home.env });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  it('--help lists every command and the exit codes; every command has --help with examples', async () => {
    const r = await tw(['--help'], { env: home.env });
    assert.equal(r.code, 0);
    for (const c of [
      'token',
      'inspect',
      'request',
      'exec',
      'status',
      'logout',
      'profiles',
      'sandbox',
      'demo',
      'completion',
    ]) {
      assert.match(r.stdout, new RegExp(`\\n  ${c}\\b`));
      const h = await tw([c, '--help'], { env: home.env });
      assert.equal(h.code, 0, `${c} --help`);
      assert.match(h.stdout, /Usage: tokenward/);
      assert.match(h.stdout, /Examples:/);
      assert.equal(h.stderr, '');
    }
    assert.match(r.stdout, /Exit codes:/);
  });

  it('no command: usage on stderr, exit 2; unknown command suggests', async () => {
    const r = await tw([], { env: home.env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const u = await tw(['tokn'], { env: home.env });
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command "tokn" \(did you mean "token"\?\)/);
  });

  it('an unknown option is a usage error (exit 2), nothing on stdout', async () => {
    const r = await tw(['token', 'x', '--bogus'], { env: home.env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bogus/);
  });

  it('no colours when NO_COLOR is set or stderr is not a terminal', async () => {
    const r = await tw(['tokn'], { env: { ...home.env, NO_COLOR: '1' } });
    assert.ok(!r.stderr.includes('\u001b['));
    const r2 = await tw(['tokn'], { env: home.env });
    assert.ok(!r2.stderr.includes('\u001b['));
  });
});

describe('config errors', () => {
  it('a missing profile exits 2 and names the config file', async () => {
    const r = await tw(['token', 'nope'], { env: home.env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no profile "nope"/);
    assert.ok(r.stderr.includes(home.config));
  });

  it('an unknown key points at file, line and key', async () => {
    const path = join(home.dir, 'bad.toml');
    writeFileSync(path, '[profiles.a]\ntoken_url = "http://127.0.0.1:1/t"\nclient_secert = "env:X"\n', {
      mode: 0o600,
    });
    const r = await tw(['token', 'a', '--config', path], { env: home.env });
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`${path}:3: profiles.a.client_secert: unknown key`), r.stderr);
    assert.match(r.stderr, /did you mean "client_secret"/);
  });

  it('TOKENWARD_CONFIG selects the file', async () => {
    const path = join(home.dir, 'env.toml');
    writeFileSync(path, '[profiles.z]\ntoken_url = "http://127.0.0.1:1/t"\n', { mode: 0o600 });
    const r = await tw(['profiles', 'list'], { env: { ...home.env, TOKENWARD_CONFIG: path } });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'z\n');
  });
});

describe('profiles', () => {
  it('add, list, show (redacted), remove', async () => {
    let r = await tw(
      [
        'profiles',
        'add',
        'acme',
        'token_url=https://idp.example.test/token',
        'client_id=acme',
        'client_secret=env:ACME_SECRET',
        'scope=read',
        'timeout=5',
      ],
      { env: home.env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(statSync(home.config).mode & 0o777, 0o600);

    r = await tw(
      ['profiles', 'add', 'lit', 'token_url=https://idp.example.test/token', 'client_secret=hunter2-literal'],
      {
        env: home.env,
      },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /client_secret must be a reference/);
    assert.doesNotMatch(readFileSync(home.config, 'utf8'), /hunter2/);

    r = await tw(
      [
        'profiles',
        'add',
        'lit',
        'token_url=https://idp.example.test/token',
        'client_id=c',
        '--secret-stdin',
        'client_secret',
      ],
      { env: home.env, input: 'stdin-secret-value-1\n' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /stdin-secret-value-1/);

    r = await tw(['profiles', 'list'], { env: home.env });
    assert.equal(r.stdout, 'acme\nlit\n');

    r = await tw(['profiles', 'show', 'lit'], { env: home.env });
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /stdin-secret-value-1/);
    assert.match(r.stdout, /client_secret = "\[REDACTED\]"/);
    r = await tw(['profiles', 'show', 'acme', '--json'], { env: home.env });
    assert.equal(JSON.parse(r.stdout).client_secret, 'env:ACME_SECRET');

    r = await tw(['profiles', 'add', 'acme', 'token_url=https://x.test/t'], { env: home.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists/);

    r = await tw(['profiles', 'remove', 'lit'], { env: home.env });
    assert.equal(r.code, 0);
    r = await tw(['profiles', 'list'], { env: home.env });
    assert.equal(r.stdout, 'acme\n');
  });

  it('a literal secret in a world-readable config file gets a warning on stderr, and is never printed', async () => {
    const path = join(home.dir, 'world.toml');
    writeFileSync(
      path,
      '[profiles.w]\ntoken_url = "https://idp.example.test/t"\nclient_id = "c"\nclient_secret = "world-readable-secret"\n',
      {
        mode: 0o644,
      },
    );
    const r = await tw(['profiles', 'show', 'w', '--config', path], { env: home.env });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /warning: .*world\.toml:4: profiles\.w\.client_secret holds a literal secret/);
    assert.doesNotMatch(r.stderr + r.stdout, /world-readable-secret/);
  });
});

describe('completion', () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    it(`prints a ${shell} script`, async () => {
      const r = await tw(['completion', shell], { env: home.env });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /tokenward/);
      assert.match(r.stdout, /profiles list/);
    });
  }
  it('rejects other shells', async () => {
    assert.equal((await tw(['completion', 'tcsh'], { env: home.env })).code, 2);
  });

  it('the bash script completes commands, options and profile names in a real bash', async (t) => {
    const bash = spawnSync('bash', ['-c', 'exit 0']);
    if (bash.error !== undefined) return missing(t, 'bash', 'apt-get install bash');
    const r = await tw(['completion', 'bash'], { env: home.env });
    const script = join(home.dir, 'tokenward.bash');
    writeFileSync(script, r.stdout);
    // A `tokenward` on PATH, for the profile names the script asks for.
    const bin = join(home.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const quoted = [process.execPath, ...CLI].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    writeFileSync(join(bin, 'tokenward'), `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
    const config = join(home.dir, 'completion.toml');
    writeFileSync(
      config,
      '[profiles.alpha]\ntoken_url = "http://127.0.0.1:1/t"\n[profiles.beta]\ntoken_url = "http://127.0.0.1:1/t"\n',
      {
        mode: 0o600,
      },
    );
    const complete = (words: string[]) =>
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tokenward; echo "\${COMPREPLY[*]}"`;
    const out = spawnSync(
      'bash',
      [
        '-c',
        [
          `source '${script}'`,
          complete(['tokenward', 'to']),
          complete(['tokenward', 'token', '--j']),
          complete(['tokenward', 'exec', '']),
          complete(['tokenward', 'completion', '']),
        ].join('\n'),
      ],
      {
        encoding: 'utf8',
        env: { ...home.env, PATH: `${bin}:${home.env['PATH'] ?? ''}`, TOKENWARD_CONFIG: config },
        cwd: ROOT,
      },
    );
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(out.stdout.split('\n'), ['token', '--json', 'alpha beta', 'bash zsh fish', '']);
  });
});

describe('inspect', () => {
  it('decodes a JWT from argv or stdin and says the signature was not verified', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ sub: 'user-1', scope: 'a b' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuedAt(now - 60)
      .setExpirationTime(now + 252)
      .sign(new TextEncoder().encode('k'.repeat(32)));
    const r = await tw(['inspect', jwt], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"sub": "user-1"/);
    assert.match(r.stdout, /"kid":"k1"/);
    assert.match(r.stdout, /expires in [0-4]m\d+s/); // 4m12s less however long the CLI took to start
    assert.match(r.stdout, /NOT verified/);
    assert.ok(!r.stdout.includes(jwt));

    const s = await tw(['inspect', '--json'], { env: home.env, input: `${jwt}\n` });
    assert.equal(s.code, 0, s.stderr);
    const j = JSON.parse(s.stdout);
    assert.equal(j.verified, false);
    assert.equal(j.claims.sub, 'user-1');
    assert.ok(j.expires_in > 0 && j.expires_in <= 252);
    assert.equal(j.expires_at, new Date((now + 252) * 1000).toISOString());
  });

  it('an opaque token is a usage error', async () => {
    const r = await tw(['inspect', '-'], { env: home.env, input: 'opaque-token-value\n' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a JWT/);
    assert.doesNotMatch(r.stderr, /opaque-token-value/);
  });
});
