import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getProfile, loadConfig, readConfig } from '../../src/config/load.js';
import { originOf } from '../../src/config/origin.js';
import { resolveConfigPath } from '../../src/config/paths.js';
import { suggest, validateProfile } from '../../src/config/schema.js';
import { resolveProfileSecrets } from '../../src/config/secrets.js';
import { keyLines, lazyKeyLines, tableRanges } from '../../src/config/toml-lines.js';
import { addProfile, removeProfile } from '../../src/config/write.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokenward-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function cfg(text: string, mode = 0o600): Promise<string> {
  const p = join(dir, `c${n++}.toml`);
  await writeFile(p, text);
  await chmod(p, mode);
  return p;
}

const SAMPLE = `# my profiles
default_profile = "rdp"

[defaults]
timeout = 5

[profiles.rdp]
provider  = "rdp"
base_url  = "https://api.example.test"
client_id = "env:RDP_APP_KEY"
username  = "env:RDP_USER"
password  = "env:RDP_PASSWORD"
scope     = "trapi"

[profiles.rdp.params]
extra = "1"

# the Cylance tenant
[profiles.cylance]
provider   = "cylance"
region     = "us"
app_id     = "env:CY_APP_ID"
app_secret = "env:CY_APP_SECRET"
tenant_id  = "env:CY_TENANT"
scopes     = ["policy:list"]
`;

describe('config paths', () => {
  it('--config wins, then TOKENWARD_CONFIG, then the XDG config dir', () => {
    assert.equal(
      resolveConfigPath({ path: '/x/a.toml', env: { TOKENWARD_CONFIG: '/y/b.toml' } }).path,
      '/x/a.toml',
    );
    assert.deepEqual(resolveConfigPath({ env: { TOKENWARD_CONFIG: '/y/b.toml' } }), {
      path: '/y/b.toml',
      source: 'env',
    });
    assert.equal(resolveConfigPath({ env: {} }).source, 'default');
    assert.match(resolveConfigPath({ env: {} }).path, /tokenward[/\\]config\.toml$/);
  });
});

describe('TOML key lines', () => {
  it('finds headers, keys, dotted and quoted keys, and skips multi-line strings', () => {
    const lines = keyLines('[profiles."a.b"]\nx = 1\ny = """\nz = 2\n"""\n[profiles]\nc.token_url = "u"\n');
    assert.equal(lines.get('profiles.a.b'), 1);
    assert.equal(lines.get('profiles.a.b.x'), 2);
    assert.equal(lines.get('profiles.a.b.z'), undefined);
    assert.equal(lines.get('profiles.c.token_url'), 7);
  });
  it('a quoted key may hold `]`, `#` and `=` (a header is not cut at them)', () => {
    // Found by the TOML property test (test/config/properties.test.ts, seed 317912743): the header
    // `[defaults."]# "]` was read as `[defaults."]` and a comment, so its key had no line.
    const lines = keyLines('[defaults."]# "]\n[profiles."a]b"] # c\n"x=#]" = 1\n[[profiles.\'l]\']]\n');
    assert.equal(lines.get('defaults.]# '), 1);
    assert.equal(lines.get('profiles.a]b'), 2);
    assert.equal(lines.get('profiles.a]b.x=#]'), 3);
    assert.equal(lines.get('profiles.l]'), 4);
  });
  it('lazyKeyLines is the same map, found on first use', () => {
    const text = '[profiles.a]\nx = 1\n[defaults]\ny = "z"\n';
    const want = keyLines(text);
    assert.deepEqual([...lazyKeyLines(text)], [...want]);
    assert.equal(lazyKeyLines(text).size, want.size);
    assert.equal(lazyKeyLines(text).get('defaults.y'), 4);
    assert.equal(lazyKeyLines(text).has('profiles.a.x'), true);
    assert.deepEqual([...lazyKeyLines(text).keys()], [...want.keys()]);
    const seen: string[] = [];
    lazyKeyLines(text).forEach((_v, k) => {
      seen.push(k);
    });
    assert.deepEqual(seen, [...want.keys()]);
    // A key set before the first read stays; the file's lines are there too.
    const m = lazyKeyLines(text).set('extra', 9);
    assert.deepEqual([m.get('extra'), m.get('profiles.a')], [9, 1]);
  });
  it('finds the ranges of a table and its sub-tables', () => {
    assert.deepEqual(tableRanges(SAMPLE, ['profiles', 'rdp']), [[6, 17]]);
  });
});

describe('loading', () => {
  it('loads profiles with defaults merged and origins recorded', async () => {
    const path = await cfg(SAMPLE);
    const config = await loadConfig({ path });
    assert.deepEqual(config.profileNames, ['rdp', 'cylance']);
    const rdp = config.profiles['rdp'];
    assert.equal(rdp?.name, 'rdp');
    assert.equal(rdp?.timeout, 5);
    assert.deepEqual(rdp?.params, { extra: '1' });
    assert.equal(originOf(rdp ?? {})?.lines['client_id'], 10);
    assert.equal(originOf(rdp ?? {})?.lines['timeout'], 5);
  });

  it('getProfile picks the default profile and reports missing names with suggestions', async () => {
    const path = await cfg(SAMPLE);
    assert.equal((await getProfile(undefined, { path, env: {} })).name, 'rdp');
    assert.equal(
      (await getProfile(undefined, { path, env: { TOKENWARD_PROFILE: 'cylance' } })).name,
      'cylance',
    );
    await assert.rejects(getProfile('rpd', { path }), /no profile "rpd" \(did you mean "rdp"\?\)/);
  });

  it('an unknown key is an error with file, line, key and a suggestion', async () => {
    const path = await cfg('[profiles.a]\ntoken_url = "https://x.test/t"\nclient_secrte = "env:X"\n');
    await assert.rejects(getProfile('a', { path }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, path);
      assert.equal(e.line, 3);
      assert.equal(e.key, 'profiles.a.client_secrte');
      assert.match(e.message, /did you mean "client_secret"/);
      return true;
    });
  });

  it('wrong types and values point at the key', async () => {
    const path = await cfg('[profiles.a]\nprovider = "rdpx"\n');
    await assert.rejects(getProfile('a', { path }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 2);
      assert.match(e.message, /expected one of .*"rdp"/);
      return true;
    });
    const p2 = await cfg('[profiles.a]\ntoken_url = "https://x.test/t"\ntimeout = "10"\n');
    await assert.rejects(getProfile('a', { path: p2 }), /:3: profiles\.a\.timeout: expected a number/);
    const p3 = await cfg('[profiles.a]\nstore = "redis"\n');
    await assert.rejects(getProfile('a', { path: p3 }), /profiles\.a\.store: store "redis" needs store_url/);
  });

  it('a TOML syntax error names the file and line, without quoting the text', async () => {
    const path = await cfg('[profiles.a]\nclient_secret = "literal-secret-123\n');
    await assert.rejects(readConfig({ path }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 2);
      assert.doesNotMatch(e.message, /literal-secret-123/);
      return true;
    });
  });

  it('unknown top-level keys are errors', async () => {
    const path = await cfg('[profile.a]\nx = 1\n');
    await assert.rejects(
      readConfig({ path }),
      /unknown top-level key "profile" \(did you mean "profiles"\?\)/,
    );
  });

  it('warns about a literal secret in a world-readable file, not about references', async () => {
    const warnings: string[] = [];
    const text =
      '[profiles.a]\ntoken_url = "https://x.test/t"\nclient_id = "c"\nclient_secret = "literal-value-9"\n';
    const path = await cfg(text, 0o644);
    await getProfile('a', { path, onWarning: (w) => warnings.push(`${w.code} ${w.message}`) });
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /^CONFIG_LITERAL_SECRET .*:4: profiles\.a\.client_secret holds a literal secret/,
    );
    assert.doesNotMatch(warnings[0] ?? '', /literal-value-9/);
    const quiet: string[] = [];
    await getProfile('a', { path: await cfg(text, 0o600), onWarning: (w) => quiet.push(w.message) });
    await getProfile('rdp', { path: await cfg(SAMPLE, 0o644), onWarning: (w) => quiet.push(w.message) });
    assert.equal(quiet.length, 0);
  });

  it('the warning names the table a literal params secret came from, and its line (inline params too)', async () => {
    const warnings: string[] = [];
    const text = [
      '[defaults]',
      'params = { client_key = "from-defaults-1" }',
      '[profiles.a]',
      'token_url = "https://x.test/t"',
      'client_id = "c"',
      'params = { api_key = "inline-literal-2" }',
      '',
    ].join('\n');
    const path = await cfg(text, 0o644);
    await getProfile('a', { path, onWarning: (w) => warnings.push(w.message) });
    assert.equal(warnings.length, 2);
    const own = warnings.find((w) => w.includes('api_key')) ?? '';
    const inherited = warnings.find((w) => w.includes('client_key')) ?? '';
    assert.match(own, /:6: profiles\.a\.params\.api_key holds a literal secret/);
    assert.match(inherited, /:2: defaults\.params\.client_key holds a literal secret/);
    assert.doesNotMatch(warnings.join('\n'), /inline-literal-2|from-defaults-1/);
  });

  it('errors while resolving secrets point at the file and line of the key', async () => {
    const path = await cfg(SAMPLE);
    const rdp = await getProfile('rdp', { path });
    await assert.rejects(resolveProfileSecrets(rdp, { env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, path);
      assert.ok(e.line === 10 || e.line === 11 || e.line === 12);
      return true;
    });
  });

  it('a missing file has no profiles', async () => {
    const c = await loadConfig({ path: join(dir, 'nope.toml') });
    assert.equal(c.exists, false);
    assert.deepEqual(c.profiles, {});
  });
});

describe('schema', () => {
  it('accepts library profiles and rejects unknown keys', () => {
    assert.equal(
      validateProfile({ token_url: 'https://a.test/t', scope: ['a', 'b'] }).token_url,
      'https://a.test/t',
    );
    assert.throws(() => validateProfile({ tokenurl: 'x' }), /did you mean "token_url"/);
    assert.throws(() => validateProfile({ token_url: 'ftp://x' }), /expected an http\(s\) URL/);
    assert.equal(validateProfile({ token_url: 'env:TOKEN_URL' }).token_url, 'env:TOKEN_URL');
    assert.equal(suggest('zzzzzz', ['client_id']), undefined);
  });
});

describe('writing', () => {
  it('adds and removes profiles, keeping comments, with mode 0600', async () => {
    const path = await cfg(SAMPLE, 0o644);
    await addProfile(
      'acronis',
      { provider: 'acronis', datacenter_url: 'https://dc.test', client_id: 'env:A', client_secret: 'env:B' },
      { path },
    );
    const st = await stat(path);
    assert.equal(st.mode & 0o777, 0o600);
    let c = await loadConfig({ path });
    assert.deepEqual(c.profileNames, ['rdp', 'cylance', 'acronis']);
    await assert.rejects(addProfile('acronis', { provider: 'acronis' }, { path }), /already exists/);
    await addProfile(
      'acronis',
      { provider: 'acronis', datacenter_url: 'https://dc2.test' },
      { path, replace: true },
    );
    c = await loadConfig({ path });
    assert.equal(c.profiles['acronis']?.datacenter_url, 'https://dc2.test');

    await removeProfile('rdp', { path });
    const text = await readFile(path, 'utf8');
    assert.match(text, /# my profiles/);
    assert.match(text, /# the Cylance tenant/);
    assert.doesNotMatch(text, /profiles\.rdp/);
    assert.doesNotMatch(text, /default_profile/);
    c = await loadConfig({ path });
    assert.deepEqual(c.profileNames, ['cylance', 'acronis']);
    await assert.rejects(removeProfile('rdp', { path }), /no profile "rdp"/);
  });

  it('refuses invalid profiles and names', async () => {
    const path = join(dir, 'new', 'config.toml');
    await assert.rejects(addProfile('bad name', {}, { path }), /profile name/);
    await assert.rejects(addProfile('x', { provider: 'nope' as 'rdp' }, { path }), /expected one of/);
    await addProfile('x', { token_url: 'https://x.test/t', client_id: 'c' }, { path });
    assert.deepEqual((await loadConfig({ path })).profileNames, ['x']);
  });
});
