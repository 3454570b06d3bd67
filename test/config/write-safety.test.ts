import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { getProfile, loadConfig } from '../../src/config/load.js';
import { isKeyPathPrefix, tableRanges } from '../../src/config/toml-lines.js';
import { addProfile, removeProfile, writeFileAtomic } from '../../src/config/write.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokenward-write-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function cfg(text: string): Promise<string> {
  const p = join(dir, `c${n++}.toml`);
  await writeFile(p, text, { mode: 0o600 });
  return p;
}
function profilesOf(text: string): Record<string, unknown> {
  return ((parse(text) as Record<string, unknown>)['profiles'] ?? {}) as Record<string, unknown>;
}

describe('table ranges compare key paths part by part', () => {
  it('a is not a prefix of "a.b"', () => {
    assert.equal(isKeyPathPrefix(['profiles', 'a'], ['profiles', 'a.b']), false);
    assert.equal(isKeyPathPrefix(['profiles', 'a'], ['profiles', 'a', 'params']), true);
    assert.equal(isKeyPathPrefix(['profiles', 'a'], ['profiles']), false);
    const text = '[profiles.a]\nclient_id = "1"\n\n[profiles."a.b"]\nclient_id = "2"\n';
    assert.deepEqual(tableRanges(text, ['profiles', 'a']), [[0, 3]]);
    assert.deepEqual(tableRanges(text, ['profiles', 'a.b']), [[3, 6]]);
  });
});

describe('removing or replacing a profile leaves every other profile as it was', () => {
  const names = ['a.b', 'a b', 'a"b', "a'b", 'a.b.c'];
  const text = `# keep me
default_profile = "a"

[profiles.a]
token_url = "https://a.test/t"
client_id = "a"

[profiles.a.params]
x = "1"

[profiles."a.b"]
token_url = "https://ab.test/t"
client_id = "dot"

[profiles."a b"]
token_url = "https://space.test/t"
client_id = "space"

[profiles."a\\"b"]
token_url = "https://quote.test/t"
client_id = "dquote"

[profiles."a'b"]
token_url = "https://squote.test/t"
client_id = "squote"

[profiles.'a.b.c']
token_url = "https://abc.test/t"
client_id = "dots"
`;

  it('removing "a" keeps "a.b", "a b", quoted names and "a.b.c"', async () => {
    const path = await cfg(text);
    const before = profilesOf(text);
    assert.deepEqual(Object.keys(before), ['a', ...names]);
    await removeProfile('a', { path });
    const out = await readFile(path, 'utf8');
    const afterP = profilesOf(out);
    assert.deepEqual(Object.keys(afterP), names);
    for (const name of names) assert.deepEqual(afterP[name], before[name], name);
    assert.match(out, /# keep me/);
    assert.doesNotMatch(out, /default_profile/);
  });

  it('removing a profile whose name has a dot, a space or a quote removes only that one', async () => {
    for (const gone of names) {
      const path = await cfg(text);
      const before = profilesOf(text);
      await removeProfile(gone, { path });
      const afterP = profilesOf(await readFile(path, 'utf8'));
      const want = Object.keys(before).filter((k) => k !== gone);
      assert.deepEqual(Object.keys(afterP), want, gone);
      for (const k of want) assert.deepEqual(afterP[k], before[k], `${gone}: ${k}`);
    }
  });

  it('add --force of "a" replaces only "a", and keeps default_profile', async () => {
    const path = await cfg(text);
    const before = profilesOf(text);
    await addProfile('a', { token_url: 'https://new.test/t', client_id: 'new' }, { path, replace: true });
    const c = await loadConfig({ path });
    assert.deepEqual([...c.profileNames].sort(), ['a', ...names].sort());
    assert.equal(c.defaultProfile, 'a');
    assert.equal(c.profiles['a']?.client_id, 'new');
    assert.equal(c.profiles['a']?.params, undefined);
    const afterP = profilesOf(c.text);
    for (const name of names) assert.deepEqual(afterP[name], before[name], name);
  });

  it('an edit that would alter another profile falls back to a full rewrite', async () => {
    // Removing lines collapses runs of blank lines: inside b's multi-line string that would change b.
    const multi = `[profiles.a]
client_id = "a"
token_url = "https://a.test/t"

[profiles.b]
client_id = "b"
token_url = "https://b.test/t"
audience = """
one



two"""
`;
    const path = await cfg(multi);
    const before = profilesOf(multi);
    await removeProfile('a', { path });
    const afterP = profilesOf(await readFile(path, 'utf8'));
    assert.deepEqual(Object.keys(afterP), ['b']);
    assert.deepEqual(afterP['b'], before['b']);
  });

  it('a profile defined inline is removed by a rewrite that keeps the others', async () => {
    const inline = `[profiles]
a = { client_id = "a", token_url = "https://a.test/t" }
"a.b" = { client_id = "ab", token_url = "https://ab.test/t" }
`;
    const path = await cfg(inline);
    await removeProfile('a', { path });
    const afterP = profilesOf(await readFile(path, 'utf8'));
    assert.deepEqual(JSON.parse(JSON.stringify(afterP)), {
      'a.b': { client_id: 'ab', token_url: 'https://ab.test/t' },
    });
  });
});

describe('[defaults] and the profile are checked together', () => {
  it('store in [defaults], store_url in the profile', async () => {
    const path = await cfg(`[defaults]
store = "redis"

[profiles.x]
token_url = "https://x.test/t"
client_id = "x"
store_url = "env:REDIS_URL"
`);
    const p = await getProfile('x', { path });
    assert.equal(p.store, 'redis');
    assert.equal(p.store_url, 'env:REDIS_URL');
  });

  it('store_url in [defaults], store in the profile', async () => {
    const path = await cfg(`[defaults]
store_url = "env:PG_URL"

[profiles.x]
token_url = "https://x.test/t"
client_id = "x"
store = "postgres"
`);
    const p = await getProfile('x', { path });
    assert.equal(p.store, 'postgres');
    assert.equal(p.store_url, 'env:PG_URL');
  });

  it('a broken merge still points at the file, line and key it came from', async () => {
    const path = await cfg(`[defaults]
store = "redis"

[profiles.x]
token_url = "https://x.test/t"
client_id = "x"
`);
    await assert.rejects(getProfile('x', { path }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /store "redis" needs store_url/);
      assert.equal(err.file, path);
      assert.equal(err.line, 2);
      assert.equal(err.key, 'defaults.store');
      return true;
    });
    const path2 = await cfg(`[profiles.x]
token_url = "https://x.test/t"
store_url = "env:R"
`);
    await assert.rejects(getProfile('x', { path: path2 }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /store_url is set but store is not/);
      assert.equal(err.line, 3);
      assert.equal(err.key, 'profiles.x.store_url');
      return true;
    });
  });

  it('profiles add accepts store_url when store comes from [defaults]', async () => {
    const path = await cfg('[defaults]\nstore = "redis"\n');
    await addProfile('x', { token_url: 'https://x.test/t', store_url: 'env:REDIS_URL' }, { path });
    assert.equal((await getProfile('x', { path })).store, 'redis');
  });
});

describe('writeFileAtomic', () => {
  it('a symlinked config file stays a symlink; its target is replaced', async () => {
    const real = await cfg('[profiles.a]\nclient_id = "a"\ntoken_url = "https://a.test/t"\n');
    const link = join(dir, 'link.toml');
    await symlink(real, link);
    await addProfile('b', { token_url: 'https://b.test/t', client_id: 'b' }, { path: link });
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await realpath(link), await realpath(real));
    assert.deepEqual((await loadConfig({ path: real })).profileNames, ['a', 'b']);
    await removeProfile('a', { path: link });
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.deepEqual((await loadConfig({ path: real })).profileNames, ['b']);
  });

  it('a failed write or rename leaves no temp file behind', async () => {
    const sub = join(dir, 'fail');
    const target = join(sub, 'config.toml');
    await writeFileAtomic(target, 'x = 1\n');
    // The write itself fails (after the temp file was created): data that is not a string.
    await assert.rejects(writeFileAtomic(target, Symbol('not text') as unknown as string));
    assert.equal(await readFile(target, 'utf8'), 'x = 1\n');
    // The rename fails: the target is a directory.
    const blocker = join(sub, 'blocked.toml');
    await writeFileAtomic(join(blocker, 'inner'), 'y = 1\n');
    await assert.rejects(writeFileAtomic(blocker, 'secret = "s3cret"\n'));
    const left = (await readdir(sub)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(left, []);
    assert.deepEqual((await readdir(sub)).sort(), ['blocked.toml', 'config.toml']);
  });
});
