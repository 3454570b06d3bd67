/**
 * The cache encryption key: the accepted TOKENWARD_CACHE_KEY formats, a clear ConfigError for anything
 * else, the precedence of its sources, and the key file (created 0600 on first use, one key when many
 * processes race to create it, a broken one reported without crashing reads).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, StoreError } from '../../src/errors.js';
import { FileStore } from '../../src/stores/file.js';
import { createStore } from '../../src/stores/index.js';
import { clearKeyCache, KEY_FILE_NAME, keyId, resolveCacheKey } from '../../src/stores/keys.js';
import { sampleEntry } from './conformance.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

const roots: string[] = [];
let resolver: Worker;
before(async () => {
  resolver = await prepareWorker('key-resolver');
});
after(async () => {
  await resolver.dispose();
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-keys-'));
  roots.push(d);
  return d;
}

describe('TOKENWARD_CACHE_KEY formats', () => {
  test('64 hex digits, base64 and base64url of 32 bytes are the key itself (white space around is ignored)', async () => {
    const raw = randomBytes(32);
    const forms = [
      raw.toString('hex'),
      raw.toString('hex').toUpperCase(),
      raw.toString('base64'),
      raw.toString('base64url'),
      `  ${raw.toString('base64')}\n`,
    ];
    for (const v of forms) {
      const k = await resolveCacheKey({ env: { TOKENWARD_CACHE_KEY: v } });
      assert.equal(k.source, 'env');
      assert.deepEqual(k.key, raw, JSON.stringify(v.slice(0, 3)));
      assert.equal(k.id, keyId(raw));
    }
  });

  test('"passphrase:" and at least 16 characters is stretched with scrypt: the same passphrase gives the same key in every process', async () => {
    const a = await resolveCacheKey({
      env: { TOKENWARD_CACHE_KEY: 'passphrase:correct horse battery staple' },
    });
    clearKeyCache();
    const again = await resolveCacheKey({
      env: { TOKENWARD_CACHE_KEY: 'passphrase:correct horse battery staple' },
    });
    const other = await resolveCacheKey({
      env: { TOKENWARD_CACHE_KEY: 'passphrase:correct horse battery stapler' },
    });
    assert.equal(a.source, 'env-passphrase');
    assert.equal(a.key.length, 32);
    assert.equal(again.id, a.id);
    assert.notEqual(other.id, a.id);
  });

  const bad: Array<{ value: string; hint: RegExp }> = [
    { value: 'a'.repeat(63), hint: /63 hex digits, not 64/ },
    { value: 'ab'.repeat(40), hint: /80 hex digits, not 64/ },
    { value: randomBytes(16).toString('base64'), hint: /base64 of 16 bytes, not 32/ },
    { value: randomBytes(33).toString('base64url'), hint: /base64 of 33 bytes, not 32/ },
    { value: 'hunter2 is my password', hint: /22 characters/ },
    { value: 'passphrase:tooShort', hint: /passphrase is too short \(8 characters\)/ },
    { value: 'passphrase:', hint: /passphrase is too short \(0 characters\)/ },
  ];
  for (const { value, hint } of bad) {
    test(`a bad value (${hint.source.replace(/\\/g, '')}) is a ConfigError that says what is expected, without the value`, async () => {
      const env = { TOKENWARD_CACHE_KEY: value };
      const check = (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.code, 'ERR_CONFIG');
        assert.equal(err.key, 'TOKENWARD_CACHE_KEY');
        assert.match(err.message, /^TOKENWARD_CACHE_KEY: /);
        assert.match(err.message, hint);
        assert.match(err.message, /expected 64 hex digits or the base64\/base64url of 32 bytes/);
        assert.match(err.message, /"passphrase:" followed by at least 16 characters/);
        const secretPart = value.replace(/^passphrase:/, '');
        if (secretPart.length >= 4) assert.ok(!err.message.includes(secretPart), 'the value is not shown');
        return true;
      };
      await assert.rejects(resolveCacheKey({ env }), check);
      // Stores fail when they are created, not on first use, and never fall back to memory for it.
      assert.throws(() => new FileStore({ dir: join(tmpdir(), 'never-created'), env }), check);
      await assert.rejects(createStore({ store: 'file' }, { env }), check);
      await assert.rejects(
        createStore(
          { store: 'postgres', store_url: 'postgres://127.0.0.1:1/x', store_fallback_memory: true },
          { env },
        ),
        check,
      );
      await assert.rejects(
        createStore(
          { store: 'redis', store_url: 'redis://127.0.0.1:1', store_fallback_memory: true },
          { env },
        ),
        check,
      );
    });
  }

  test('precedence: the key option, then TOKENWARD_CACHE_KEY, then the key file; an empty variable is unset', async () => {
    const root = await tempRoot();
    const dir = join(root, 'tokens');
    const configDir = join(root, 'config');
    const optionKey = randomBytes(32);
    const envKey = randomBytes(32);
    const k = 'k-precedence';

    // The option wins even over a malformed variable.
    const viaOption = await createStore(
      { store: 'file', cache_dir: dir },
      { key: optionKey, env: { TOKENWARD_CACHE_KEY: 'nonsense', TOKENWARD_CONFIG_DIR: configDir } },
    );
    await viaOption.set(sampleEntry(k));
    const withOption = new FileStore({ dir, key: optionKey });
    assert.ok((await withOption.get(k)) !== undefined);

    // The variable beats the key file.
    const viaEnv = await resolveCacheKey({
      env: { TOKENWARD_CACHE_KEY: envKey.toString('hex'), TOKENWARD_CONFIG_DIR: configDir },
    });
    assert.equal(viaEnv.source, 'env');
    await assert.rejects(stat(join(configDir, KEY_FILE_NAME)), { code: 'ENOENT' }, 'no key file was made');

    // Empty or blank: the key file.
    for (const blank of ['', '  ']) {
      const viaFile = await resolveCacheKey({
        env: { TOKENWARD_CACHE_KEY: blank, TOKENWARD_CONFIG_DIR: configDir },
      });
      assert.equal(viaFile.source, 'file');
      assert.equal(viaFile.path, join(configDir, KEY_FILE_NAME));
    }
  });
});

describe('the key file', () => {
  test('a key file that holds no key: reads warn and miss (no crash), writes fail with a StoreError saying what is expected', async () => {
    const root = await tempRoot();
    const configDir = join(root, 'config');
    await mkdir(configDir, { mode: 0o700 });
    await writeFile(join(configDir, KEY_FILE_NAME), 'not a key\n', { mode: 0o600 });
    const warnings: string[] = [];
    const store = new FileStore({
      dir: join(root, 'tokens'),
      env: { TOKENWARD_CONFIG_DIR: configDir },
      onWarning: (m) => warnings.push(m),
    });
    const key = 'k-keyfile';
    // Something cached before the key file broke.
    await mkdir(join(root, 'tokens'), { mode: 0o700 });
    await writeFile(store.pathOf(key), 'an old entry');

    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /does not hold a 32-byte key \(base64 or hex\)/);
    assert.match(warnings[0] ?? '', /treated as a miss/);
    await assert.rejects(store.set(sampleEntry(key)), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.target, join(configDir, KEY_FILE_NAME));
      assert.match(err.message, /does not hold a 32-byte key \(base64 or hex\); restore it, or delete it/);
      return true;
    });
    assert.deepEqual(await readdir(join(root, 'tokens')), [`${key}.tok`], 'nothing was written');
  });

  test('a key file readable by other users is refused (StoreError saying to chmod 600 or start afresh), not used', {
    skip: process.platform === 'win32' && 'POSIX modes only',
  }, async () => {
    const root = await tempRoot();
    const raw = randomBytes(32);
    await writeFile(join(root, KEY_FILE_NAME), `${raw.toString('base64')}\n`);
    await chmod(join(root, KEY_FILE_NAME), 0o644);
    const warnings: string[] = [];
    await assert.rejects(
      resolveCacheKey({ env: {}, configDir: root, onWarning: (m) => warnings.push(m) }),
      (err: unknown) =>
        err instanceof StoreError &&
        /key file .* is open to other users \(mode 644\).*chmod 600/.test(err.message) &&
        !err.message.includes(raw.toString('base64')),
    );
    assert.deepEqual(warnings, []);
  });

  test('8 processes creating the key file at once all end up with the same key; one 0600 file, no temporary file left', async () => {
    const root = await tempRoot();
    const configDir = join(root, 'config');
    const env: NodeJS.ProcessEnv = { ...process.env, TOKENWARD_CONFIG_DIR: configDir };
    delete env['TOKENWARD_CACHE_KEY'];
    const procs = Array.from({ length: 8 }, () => run(resolver, [], env));
    try {
      await Promise.all(procs.map((p) => p.waitFor((l) => l === 'ready')));
      for (const p of procs) p.child.stdin?.write('go\n');
      const lines = await Promise.all(procs.map((p) => p.waitFor((l) => l.startsWith('{'))));
      const results = lines.map((l) => JSON.parse(l) as { id: string; source: string });
      assert.deepEqual(new Set(results.map((r) => r.source)), new Set(['file']));
      assert.equal(new Set(results.map((r) => r.id)).size, 1, 'one key for everyone');
      assert.deepEqual(await readdir(configDir), [KEY_FILE_NAME]);
      if (process.platform !== 'win32') {
        assert.equal((await stat(join(configDir, KEY_FILE_NAME))).mode & 0o777, 0o600);
      }
      const mine = await resolveCacheKey({ env: { TOKENWARD_CONFIG_DIR: configDir } });
      assert.equal(mine.id, results[0]?.id);
    } finally {
      for (const p of procs) {
        p.child.stdin?.end();
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      }
    }
  });
});
