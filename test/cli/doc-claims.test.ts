/** Claims of docs/cli.md that had been false: `-V` on every command, the effective provider in `profiles list --long`. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTokenServer } from '../helpers/token-server.js';
import { ROOT, type TempHome, tempHome, tw } from './helpers.js';

let home: TempHome;
before(() => {
  home = tempHome();
});
after(() => home.cleanup());

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('documented CLI behaviour', () => {
  it('-V and --version are accepted by every command', async () => {
    for (const args of [['token', '-V'], ['request', '--version'], ['status', '-V'], ['-V']]) {
      const r = await tw(args, { env: home.env });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, `${pkg.version}\n`, args.join(' '));
    }
  });

  it('profiles list --long shows the provider in effect (oidc for an issuer-only profile)', async () => {
    mkdirSync(dirname(home.config), { recursive: true });
    writeFileSync(
      home.config,
      [
        '[profiles.idp]',
        'issuer = "https://idp.example.com"',
        'client_id = "c"',
        'client_secret = "env:IDP_SECRET"',
        '[profiles.plain]',
        'token_url = "https://idp.example.com/token"',
        'client_id = "c"',
        'client_secret = "env:IDP_SECRET"',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = await tw(['profiles', 'list', '--long', '--config', home.config], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^idp\s+oidc\s+file/m);
    assert.match(r.stdout, /^plain\s+oauth2\s+file/m);
    const j = await tw(['profiles', 'list', '--json', '--config', home.config], { env: home.env });
    const rows = JSON.parse(j.stdout) as Array<{ name: string; provider: string }>;
    assert.deepEqual(
      rows.map((x) => [x.name, x.provider]),
      [
        ['idp', 'oidc'],
        ['plain', 'oauth2'],
      ],
    );
  });

  it("inspect PROFILE reads the cache without resolving the profile's secrets (a cmd: secret does not run)", async () => {
    const server = await startTokenServer({ latencyMs: 0 });
    try {
      const runs = join(home.dir, 'secret-runs');
      const config = join(home.dir, 'inspect.toml');
      writeFileSync(
        config,
        [
          '[profiles.p]',
          `token_url = "${server.tokenUrl}"`,
          'client_id = "c"',
          `client_secret = "cmd:echo run >> ${runs}; echo the-secret-value"`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const t = await tw(['token', 'p', '--config', config], { env: home.env });
      assert.equal(t.code, 0, t.stderr);
      assert.equal(readFileSync(runs, 'utf8'), 'run\n', 'the grant ran the command once');
      const r = await tw(['inspect', 'p', '--config', config], { env: home.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /refresh +(yes|no)/);
      assert.equal(readFileSync(runs, 'utf8'), 'run\n', 'inspect ran no secret command');
      assert.equal(server.counts.total, 1, 'inspect fetched nothing');
      assert.ok(existsSync(runs));
    } finally {
      await server.close();
    }
  });
});
