/**
 * The file store does not trust what it does not own: a cache directory, key directory or key file
 * owned by another user (root included: as root, a uid other than 0 is refused too), reached through a
 * link another user planted (say in sticky /tmp) or through an enclosing directory others can write, is
 * refused with a StoreError saying what to fix; an own directory open to others is made private; token
 * files are read without following links and only when they are the user's own.
 *
 * Ownership cases need root (to chown to `nobody`); they are skipped otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  lchown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ensureConfigDir } from '../../src/config/paths.js';
import { ConfigError, StoreError } from '../../src/errors.js';
import { FileStore } from '../../src/stores/file.js';
import { clearKeyCache, KEY_FILE_NAME, resolveCacheKey } from '../../src/stores/keys.js';
import { storeKey } from '../../src/stores/store-key.js';
import { sampleEntry } from './conformance.js';

const POSIX = process.platform !== 'win32';
const ROOT = POSIX && process.getuid?.() === 0;
const NOBODY = 65534;
const needRoot = !ROOT && 'needs root (chown to nobody)';
const needPosix = !POSIX && 'POSIX ownership and modes only';

const roots: string[] = [];
after(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-trust-'));
  roots.push(d);
  return d;
}

const mode = async (p: string) => (await stat(p)).mode & 0o7777;
const key = storeKey('trust', { token_url: 'http://127.0.0.1/t' });

function storeIn(dir: string, warnings: string[] = []): FileStore {
  return new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
}

/** Asserts that every operation of a store over `dir` is refused with a StoreError matching `why`. */
async function assertRefused(dir: string, why: RegExp): Promise<void> {
  const warnings: string[] = [];
  const store = storeIn(dir, warnings);
  const isRefusal = (err: unknown) =>
    err instanceof StoreError && err.code === 'ERR_STORE' && why.test(err.message);
  await assert.rejects(store.set(sampleEntry(key)), isRefusal, 'set');
  await assert.rejects(store.get(key), isRefusal, 'get');
  await assert.rejects(store.list(), isRefusal, 'list');
  await assert.rejects(store.lock(key, { ttlMs: 10_000, timeoutMs: 1_000 }), isRefusal, 'lock');
  await assert.rejects(store.open(), isRefusal, 'open');
  assert.deepEqual(warnings, []);
}

describe('file store: the cache directory must be the user’s own', () => {
  test('a cache directory owned by another user is refused (StoreError naming the owner and the fix); nothing is written in it', {
    skip: needRoot,
  }, async () => {
    const dir = join(await tempRoot(), 'tokens');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, NOBODY, NOBODY);
    await assertRefused(
      dir,
      /the cache directory .*tokens is owned by another user \(uid 65534\).*use a directory of your own/,
    );
    assert.deepEqual(await readdir(dir), []);
    assert.equal(await mode(dir), 0o700, 'not touched');
  });

  test('a link planted in a sticky shared directory (like /tmp) to a directory of another user is refused', {
    skip: needRoot,
  }, async () => {
    const root = await tempRoot();
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const theirs = join(shared, 'theirs');
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, NOBODY, NOBODY);
    const planted = join(shared, 'tokenward-cache');
    await symlink(theirs, planted);
    await lchown(planted, NOBODY, NOBODY);
    await assertRefused(planted, /is a symbolic link owned by another user \(uid 65534\)/);
    // Even a link of one's own is no use when the directory it leads to is another user's.
    const mine = join(shared, 'my-link');
    await symlink(theirs, mine);
    await assertRefused(mine, /is owned by another user \(uid 65534\)/);
    assert.deepEqual(await readdir(theirs), []);
  });

  test('a link owned by another user is refused even when it leads to a private directory of the user (it could be re-pointed)', {
    skip: needRoot,
  }, async () => {
    const root = await tempRoot();
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const real = join(root, 'real');
    await mkdir(real, { mode: 0o700 });
    const planted = join(shared, 'cache');
    await symlink(real, planted);
    await lchown(planted, NOBODY, NOBODY);
    await assertRefused(planted, /symbolic link owned by another user/);
  });

  test('an own link in a sticky directory to an own private directory works (the file lands in the target)', {
    skip: needPosix,
  }, async () => {
    const root = await tempRoot();
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const real = join(root, 'real');
    await mkdir(real, { mode: 0o700 });
    const link = join(shared, 'cache');
    await symlink(real, link);
    const warnings: string[] = [];
    const store = storeIn(link, warnings);
    const e = sampleEntry(key);
    await store.set(e);
    assert.deepEqual(await store.get(key), e);
    assert.deepEqual(await readdir(real), [`${key}.tok`]);
    assert.deepEqual(warnings, []);
  });

  test('an enclosing directory writable by others without the sticky bit is refused; with it (like /tmp) it is fine', {
    skip: needPosix,
  }, async () => {
    const root = await tempRoot();
    const open = join(root, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await assertRefused(
      join(open, 'tokens'),
      /enclosing directory .*open is writable by all users \(mode 777\) without the sticky bit/,
    );
    const group = join(root, 'group');
    await mkdir(group);
    await chmod(group, 0o770);
    await assertRefused(
      join(group, 'tokens'),
      /enclosing directory .*group is writable by its group \(mode 770\)/,
    );
    await chmod(open, 0o1777);
    const store = storeIn(join(open, 'tokens'));
    await store.set(sampleEntry(key));
    assert.equal(await mode(join(open, 'tokens')), 0o700);
  });

  test('an enclosing directory owned by another user is refused (its owner could swap the cache directory)', {
    skip: needRoot,
  }, async () => {
    const root = await tempRoot();
    const theirs = join(root, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    const dir = join(theirs, 'tokens');
    await mkdir(dir, { mode: 0o700 });
    await chown(theirs, NOBODY, NOBODY);
    await assertRefused(dir, /enclosing directory .*theirs is owned by another user \(uid 65534\)/);
  });

  test('an own cache directory open to the group is made private (0700), with a warning; then used', {
    skip: needPosix,
  }, async () => {
    const dir = join(await tempRoot(), 'tokens');
    await mkdir(dir);
    await chmod(dir, 0o770);
    const warnings: string[] = [];
    const store = storeIn(dir, warnings);
    assert.equal(await store.get(key), undefined, 'a read checks (and fixes) the directory too');
    assert.equal(await mode(dir), 0o700);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /the cache directory .* was accessible to other users \(mode 770\); changed it to 700/,
    );
    await store.set(sampleEntry(key));
    assert.equal(warnings.length, 1);
  });

  test('a read of a cache directory that does not exist is a miss and creates nothing', async () => {
    const dir = join(await tempRoot(), 'missing', 'tokens');
    const store = storeIn(dir);
    assert.equal(await store.get(key), undefined);
    assert.deepEqual(await store.list(), []);
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  test('a cache path that is a file is refused', async () => {
    const file = join(await tempRoot(), 'tokens');
    await writeFile(file, 'x');
    await assert.rejects(storeIn(file).set(sampleEntry(key)), StoreError);
  });
});

describe('file store: token files', () => {
  test('a token file owned by another user is reported and a miss, never served; the next write sets it aside', {
    skip: needRoot,
  }, async () => {
    const dir = join(await tempRoot(), 'tokens');
    const k = randomBytes(32);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: k, onWarning: (m) => warnings.push(m) });
    const planted = sampleEntry(key);
    await store.set(planted);
    await chown(store.pathOf(key), NOBODY, NOBODY);
    const fresh = new FileStore({ dir, key: k, onWarning: (m) => warnings.push(m) });
    assert.equal(await fresh.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /the cached token .* is owned by another user \(uid 65534\).*treated as a miss/,
    );
    const mine = sampleEntry(key);
    await fresh.set(mine);
    assert.deepEqual(await fresh.get(key), mine);
    assert.equal((await stat(fresh.pathOf(key))).uid, 0);
    assert.equal((await readdir(dir)).filter((n) => n.includes('.bad-')).length, 1);
  });

  test('a token file that is a symbolic link is not followed: a warning and a miss', {
    skip: needPosix,
  }, async () => {
    const root = await tempRoot();
    const dir = join(root, 'tokens');
    const k = randomBytes(32);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: k, onWarning: (m) => warnings.push(m) });
    const other = storeKey('trust-other', {});
    await store.set(sampleEntry(other));
    await symlink(store.pathOf(other), store.pathOf(key));
    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /cannot (open|read) the cached token .*\(ELOOP\)/);
  });

  test('a FIFO in place of a token file does not hang a read', { skip: needPosix }, async () => {
    const dir = join(await tempRoot(), 'tokens');
    const warnings: string[] = [];
    const store = storeIn(dir, warnings);
    await store.open();
    execFileSync('mkfifo', [store.pathOf(key)]);
    assert.equal(await store.get(key), undefined);
    assert.match(warnings[0] ?? '', /is not a regular file/);
  });
});

describe('key directory and key file', () => {
  const load = (configDir: string, warnings: string[] = []) => {
    clearKeyCache();
    return resolveCacheKey({ env: {}, configDir, onWarning: (m) => warnings.push(m) });
  };

  test('a key file owned by another user is refused (a planted key would let its owner forge entries); the store reads miss, writes fail', {
    skip: needRoot,
  }, async () => {
    const root = await tempRoot();
    const configDir = join(root, 'config');
    await mkdir(configDir, { mode: 0o700 });
    const raw = randomBytes(32);
    const keyFile = join(configDir, KEY_FILE_NAME);
    await writeFile(keyFile, `${raw.toString('base64')}\n`, { mode: 0o600 });
    await chown(keyFile, NOBODY, NOBODY);
    await assert.rejects(
      load(configDir),
      (err: unknown) =>
        err instanceof StoreError &&
        /the key file .* is owned by another user \(uid 65534\).*remove it/.test(err.message) &&
        !err.message.includes(raw.toString('base64')),
    );
    // An entry forged with the planted key is never served.
    const dir = join(root, 'tokens');
    await new FileStore({ dir, key: raw }).set(sampleEntry(key));
    clearKeyCache();
    const warnings: string[] = [];
    const store = new FileStore({
      dir,
      env: { TOKENWARD_CONFIG_DIR: configDir },
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /owned by another user.*treated as a miss/);
    await assert.rejects(store.set(sampleEntry(key)), StoreError);
  });

  test('a key directory owned by another user is refused, even with no key file in it yet (nothing is created there)', {
    skip: needRoot,
  }, async () => {
    const configDir = join(await tempRoot(), 'config');
    await mkdir(configDir, { mode: 0o700 });
    await chown(configDir, NOBODY, NOBODY);
    await assert.rejects(load(configDir), /the key directory .* is owned by another user \(uid 65534\)/);
    assert.deepEqual(await readdir(configDir), []);
  });

  test('an own key directory open to others is made private (0700): silently when it held no key yet, with a warning when it did', {
    skip: needPosix,
  }, async () => {
    const configDir = join(await tempRoot(), 'config');
    await mkdir(configDir);
    await chmod(configDir, 0o755);
    const warnings: string[] = [];
    const k = await load(configDir, warnings);
    assert.equal(k.source, 'file');
    assert.equal(await mode(configDir), 0o700);
    assert.equal(await mode(join(configDir, KEY_FILE_NAME)), 0o600);
    assert.deepEqual(warnings, [], 'nothing was exposed: the key file did not exist yet');
    await chmod(configDir, 0o711);
    const again = await load(configDir, warnings);
    assert.deepEqual(again.key, k.key);
    assert.equal(await mode(configDir), 0o700);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /the key directory .* was accessible to other users \(mode 711\); changed it to 700/,
    );
  });

  test('a key file that is a link owned by another user, or a FIFO, is refused (no hang)', {
    skip: needPosix,
  }, async () => {
    const root = await tempRoot();
    const configDir = join(root, 'config');
    await mkdir(configDir, { mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', join(configDir, KEY_FILE_NAME)]);
    await assert.rejects(load(configDir), /the key file .* is not a regular file/);
    if (!ROOT) return;
    await rm(join(configDir, KEY_FILE_NAME));
    const elsewhere = join(root, 'elsewhere.key');
    await writeFile(elsewhere, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await symlink(elsewhere, join(configDir, KEY_FILE_NAME));
    await lchown(join(configDir, KEY_FILE_NAME), NOBODY, NOBODY);
    await assert.rejects(load(configDir), /symbolic link owned by another user/);
  });

  test('an own key file reached through an own link is used', { skip: needPosix }, async () => {
    const root = await tempRoot();
    const configDir = join(root, 'config');
    await mkdir(configDir, { mode: 0o700 });
    const raw = randomBytes(32);
    const real = join(root, 'real.key');
    await writeFile(real, `${raw.toString('hex')}\n`, { mode: 0o600 });
    await symlink(real, join(configDir, KEY_FILE_NAME));
    const k = await load(configDir);
    assert.deepEqual(k.key, raw);
  });
});

describe('config directory', () => {
  test('the config directory is created 0700; an own one open to others is made private', {
    skip: needPosix,
  }, async () => {
    const root = await tempRoot();
    const dir = join(root, 'config', 'tokenward');
    await ensureConfigDir(dir);
    assert.equal(await mode(dir), 0o700);
    await chmod(dir, 0o775);
    await ensureConfigDir(dir);
    assert.equal(await mode(dir), 0o700);
  });

  test('a config directory owned by another user is refused with a ConfigError', {
    skip: needRoot,
  }, async () => {
    const dir = join(await tempRoot(), 'tokenward');
    await mkdir(dir, { mode: 0o755 });
    await chown(dir, NOBODY, NOBODY);
    await assert.rejects(
      ensureConfigDir(dir),
      (err: unknown) => err instanceof ConfigError && /owned by another user/.test(err.message),
    );
    assert.equal(await mode(dir), 0o755);
  });

  test('profiles add writes into a config directory it made private', { skip: needPosix }, async () => {
    const { addProfile } = await import('../../src/config/write.js');
    const root = await tempRoot();
    const dir = join(root, 'cfg');
    await mkdir(dir);
    await chmod(dir, 0o755);
    const path = join(dir, 'config.toml');
    const saved = process.env['TOKENWARD_CONFIG_DIR'];
    process.env['TOKENWARD_CONFIG_DIR'] = dir;
    try {
      await addProfile('p', { token_url: 'https://idp.example/token', client_id: 'c' }, { path });
    } finally {
      if (saved === undefined) delete process.env['TOKENWARD_CONFIG_DIR'];
      else process.env['TOKENWARD_CONFIG_DIR'] = saved;
    }
    assert.match(await readFile(path, 'utf8'), /\[profiles\.p\]/);
    assert.equal(await mode(dir), 0o700);
    // Any other directory (--config somewhere/else.toml) keeps its mode.
    const other = join(root, 'project');
    await mkdir(other);
    await chmod(other, 0o755);
    await addProfile(
      'q',
      { token_url: 'https://idp.example/token', client_id: 'c' },
      { path: join(other, 'tw.toml') },
    );
    assert.equal(await mode(other), 0o755);
  });
});

describe('bounded reads', () => {
  test('a token file larger than 1 MiB is not read: a warning and a miss', async () => {
    const dir = join(await tempRoot(), 'tokens');
    const warnings: string[] = [];
    const store = storeIn(dir, warnings);
    await store.open();
    await writeFile(store.pathOf(key), Buffer.alloc(1024 * 1024 + 1, 0x41), { mode: 0o600 });
    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /the cached token .* is too large \(1048577 bytes, at most 1048576\)/);
  });

  test('a key file larger than 1 KiB is refused', async () => {
    const configDir = join(await tempRoot(), 'config');
    await mkdir(configDir, { mode: 0o700 });
    await writeFile(join(configDir, KEY_FILE_NAME), 'A'.repeat(2000), { mode: 0o600 });
    clearKeyCache();
    await assert.rejects(
      resolveCacheKey({ env: {}, configDir }),
      (err: unknown) => err instanceof StoreError && /the key file .* is too large/.test(err.message),
    );
  });
});
