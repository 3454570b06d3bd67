/** `tokenward profiles add|remove`: no secret from argv (params, store_url), and no collateral removals. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { type TempHome, tempHome, tw } from './helpers.js';

let home: TempHome;
before(() => {
  home = tempHome();
  mkdirSync(dirname(home.config), { recursive: true });
});
after(() => home.cleanup());

const BASE = ['profiles', 'add', 'p', 'token_url=https://idp.example.test/token', 'client_id=c'];
const fileText = () => (existsSync(home.config) ? readFileSync(home.config, 'utf8') : '');

describe('profiles add takes no secret on the command line', () => {
  for (const [pair, key] of [
    ['params.client_assertion=SUPERSECRET-assert', 'params.client_assertion'],
    ['params.api_key=SUPERSECRET-key', 'params.api_key'],
    ['store_url=redis://:SUPERSECRET-pw@127.0.0.1:6379', 'store_url'],
    ['store_url=postgres://u:SUPERSECRET-pw@127.0.0.1/db', 'store_url'],
  ] as const) {
    it(`rejects ${key} holding a literal, without echoing it`, async () => {
      const extra = key === 'store_url' ? ['store=redis'] : [];
      const r = await tw([...BASE, ...extra, pair], { env: home.env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${key.replace('.', '\\.')} .*--secret-stdin ${key}`));
      assert.doesNotMatch(r.stderr + r.stdout, /SUPERSECRET/);
      assert.doesNotMatch(fileText(), /SUPERSECRET/);
    });
  }

  it('accepts references, non-secret params and a store_url without a password', async () => {
    const r = await tw(
      [
        ...BASE,
        'params.client_assertion=env:ASSERTION',
        'params.tenant=t1',
        'store=redis',
        'store_url=redis://127.0.0.1:6379',
      ],
      { env: home.env },
    );
    assert.equal(r.code, 0, r.stderr);
    const p = (parse(fileText()) as { profiles: Record<string, Record<string, unknown>> }).profiles['p'];
    assert.deepEqual({ ...(p?.['params'] as object) }, { client_assertion: 'env:ASSERTION', tenant: 't1' });
    assert.equal(p?.['store_url'], 'redis://127.0.0.1:6379');
  });

  it('takes params.NAME and store_url from stdin with --secret-stdin', async () => {
    let r = await tw([...BASE, '--force', '--secret-stdin', 'params.client_assertion'], {
      env: home.env,
      input: 'STDIN-assertion\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /STDIN-assertion/);
    let p = (parse(fileText()) as { profiles: Record<string, Record<string, unknown>> }).profiles['p'];
    assert.equal(
      (p?.['params'] as Record<string, string> | undefined)?.['client_assertion'],
      'STDIN-assertion',
    );

    r = await tw([...BASE, '--force', 'store=redis', '--secret-stdin', 'store_url'], {
      env: home.env,
      input: 'redis://:STDIN-pw@127.0.0.1:6379\n',
    });
    assert.equal(r.code, 0, r.stderr);
    p = (parse(fileText()) as { profiles: Record<string, Record<string, unknown>> }).profiles['p'];
    assert.equal(p?.['store_url'], 'redis://:STDIN-pw@127.0.0.1:6379');

    r = await tw([...BASE, '--force', '--secret-stdin', 'params.tenant'], { env: home.env, input: 'x\n' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--secret-stdin takes a secret key/);
  });
});

describe('profiles remove and add --force touch only the named profile', () => {
  const TEXT = `[profiles.a]
token_url = "https://a.example.test/t"
client_id = "a"

[profiles."a.b"]
token_url = "https://ab.example.test/t"
client_id = "ab"

[profiles."a c"]
token_url = "https://ac.example.test/t"
client_id = "ac"
`;

  it('remove a keeps "a.b" and "a c"', async () => {
    writeFileSync(home.config, TEXT, { mode: 0o600 });
    const r = await tw(['profiles', 'remove', 'a'], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    const list = await tw(['profiles', 'list'], { env: home.env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.split('\n'), ['a.b', 'a c', '']);
    assert.match(fileText(), /client_id = "ab"/);
  });

  it('add --force a keeps "a.b" and "a c"', async () => {
    writeFileSync(home.config, TEXT, { mode: 0o600 });
    const r = await tw(
      ['profiles', 'add', 'a', '--force', 'token_url=https://new.example.test/t', 'client_id=new'],
      { env: home.env },
    );
    assert.equal(r.code, 0, r.stderr);
    const data = parse(fileText()) as { profiles: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(data.profiles).sort(), ['a', 'a c', 'a.b']);
    assert.equal(data.profiles['a']?.['client_id'], 'new');
    assert.equal(data.profiles['a.b']?.['client_id'], 'ab');
    assert.equal(data.profiles['a c']?.['client_id'], 'ac');
  });
});
