/**
 * The CLI's handling of secrets: config errors about secret keys keep their words, `profiles show`
 * redacts credentials in every URL-valued key, and `exec` keeps the profile's secrets (and
 * TOKENWARD_CACHE_KEY) out of the child's environment and refuses `--env` names that would break it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { type TempHome, tempHome, tw } from './helpers.js';

const SECRET = "exec-cs-7d1e! '()*";
const API_KEY = 'exec-ak-55e0b2c4';
const URL_PW = 'url-pw-9c3b1f0a';
const TOKEN_PW = 'tok-in-url-2a7f';

let home: TempHome;
let ts: TokenServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  home = tempHome();
  ts = await startTokenServer({ latencyMs: 0 });
  env = {
    ...home.env,
    TW_EXEC_SECRET: SECRET,
    TW_EXEC_API_KEY: API_KEY,
    TW_UNRELATED: 'kept',
    TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
  };
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    `[profiles.x]
token_url = "${ts.tokenUrl}"
client_id = "exec-client"
client_secret = "env:TW_EXEC_SECRET"
params = { api_key = "env:TW_EXEC_API_KEY", audience_hint = "env:TW_UNRELATED" }

[profiles.missing]
token_url = "${ts.tokenUrl}"
client_id = "m"
client_secret = "env:TW_NOT_SET_ANYWHERE"

[profiles.urls]
token_url = "https://idp-user:${URL_PW}@idp.example.com/token"
client_id = "u"
client_secret = "env:TW_EXEC_SECRET"
api_base_url = "https://${TOKEN_PW}@api.example.com"
allowed_origins = ["https://o-user:${URL_PW}@other.example.com"]
store = "redis"
store_url = "redis://default:${URL_PW}@127.0.0.1:6379"
params = { callback = "https://cb:${URL_PW}@cb.example.com/x", plain = "https://cb.example.com/@me" }
`,
    { mode: 0o600 },
  );
});
after(async () => {
  await ts.close();
  home.cleanup();
});

describe('config errors about secret keys', () => {
  it('keep their words: only values are redacted, not the message after "client_secret:"', async () => {
    const r = await tw(['token', 'missing'], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /profiles\.missing\.client_secret: environment variable TW_NOT_SET_ANYWHERE is not set \(referenced as env:TW_NOT_SET_ANYWHERE\)/,
    );
    assert.ok(!r.stderr.includes('[REDACTED]'), r.stderr);
  });
});

describe('profiles show', () => {
  it('redacts the credentials of every URL-valued key, in TOML and JSON', async () => {
    const [toml, json] = await Promise.all([
      tw(['profiles', 'show', 'urls'], { env }),
      tw(['profiles', 'show', 'urls', '--json'], { env }),
    ]);
    assert.equal(toml.code, 0, toml.stderr);
    assert.equal(json.code, 0, json.stderr);
    for (const out of [toml.stdout, json.stdout, toml.stderr, json.stderr]) {
      assert.ok(!out.includes(URL_PW), out);
      assert.ok(!out.includes(TOKEN_PW), out);
    }
    const shown = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(shown['token_url'], 'https://idp-user:[REDACTED]@idp.example.com/token');
    assert.equal(shown['api_base_url'], 'https://[REDACTED]@api.example.com');
    assert.deepEqual(shown['allowed_origins'], ['https://o-user:[REDACTED]@other.example.com']);
    assert.equal(shown['store_url'], 'redis://default:[REDACTED]@127.0.0.1:6379');
    assert.deepEqual(shown['params'], {
      callback: 'https://cb:[REDACTED]@cb.example.com/x',
      plain: 'https://cb.example.com/@me',
    });
    assert.equal(shown['client_secret'], 'env:TW_EXEC_SECRET', 'references are shown');
  });
});

describe('exec', () => {
  const script =
    'const e = process.env; process.stdout.write(JSON.stringify({ token: e.ACCESS_TOKEN ?? null, secret: e.TW_EXEC_SECRET ?? null, key: e.TW_EXEC_API_KEY ?? null, cacheKey: e.TOKENWARD_CACHE_KEY ?? null, unrelated: e.TW_UNRELATED ?? null, path: e.PATH ?? null }))';

  it("removes the variables of the profile's secrets and TOKENWARD_CACHE_KEY from the child", async () => {
    const r = await tw(['exec', 'x', '--', process.execPath, '-e', script], { env });
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as Record<string, string | null>;
    assert.match(seen['token'] ?? '', /^at-/);
    assert.equal(seen['secret'], null);
    assert.equal(seen['key'], null);
    assert.equal(seen['cacheKey'], null);
    assert.equal(seen['unrelated'], 'kept', 'a reference in a non-secret param is not scrubbed');
    assert.equal(seen['path'], env['PATH'] ?? null);
  });

  it('--keep-secret-env passes them on', async () => {
    const r = await tw(['exec', 'x', '--keep-secret-env', '--', process.execPath, '-e', script], { env });
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as Record<string, string | null>;
    assert.equal(seen['secret'], SECRET);
    assert.equal(seen['key'], API_KEY);
    assert.equal(seen['cacheKey'], env['TOKENWARD_CACHE_KEY']);
  });

  it('refuses --env names the child needs, before any token is fetched', async () => {
    const before = ts.counts.total;
    const names = [
      'PATH',
      'HOME',
      'LD_PRELOAD',
      'NODE_OPTIONS',
      'DYLD_INSERT_LIBRARIES',
      'TOKENWARD_CACHE_KEY',
      'path',
    ];
    const results = await Promise.all(
      names.map((n) => tw(['exec', 'x', '--env', n, '--', process.execPath, '-e', '0'], { env })),
    );
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${names[i]}: ${r.stderr}`);
      assert.match(r.stderr, /would replace a variable the command needs/, names[i]);
    });
    assert.equal(ts.counts.total, before, 'no token was fetched');
  });
});
