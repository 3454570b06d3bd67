/**
 * The file store's promises beyond the shared contract: private modes (directory 0700, files 0600, the
 * key file too), atomic writes that leave nothing behind, no plaintext token anywhere in the directory,
 * unusable files reported and set aside (never overwritten with less), a changed key, and where the
 * directory is.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TokenManager } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { ENVELOPE_MAGIC } from '../../src/stores/envelope.js';
import { defaultCacheDir, FileStore } from '../../src/stores/file.js';
import { createStore } from '../../src/stores/index.js';
import { KEY_FILE_NAME } from '../../src/stores/keys.js';
import { storeKey } from '../../src/stores/store-key.js';
import type { StoredEntry } from '../../src/stores/types.js';
import { profileFor, startTokenServer } from '../helpers/token-server.js';
import { sampleEntry, sampleToken } from './conformance.js';

const POSIX = process.platform !== 'win32';
const roots: string[] = [];
after(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-file-'));
  roots.push(d);
  return d;
}

/** A file store in a fresh directory with its own random key, collecting warnings. */
async function freshStore(key: Buffer = randomBytes(32)): Promise<{
  store: FileStore;
  dir: string;
  key: Buffer;
  warnings: string[];
}> {
  const dir = join(await tempRoot(), 'tokens');
  const warnings: string[] = [];
  const store = new FileStore({ dir, key, onWarning: (m) => warnings.push(m) });
  return { store, dir, key, warnings };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** Every file under `dir`, recursively, with its bytes. */
async function allFiles(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push({ path: p, bytes: await readFile(p) });
  }
  return out;
}

describe('file store: permissions', { skip: !POSIX && 'POSIX modes only' }, () => {
  test('directory 0700, token and lock files 0600, and the key file 0600 created on first use — whatever the umask', async () => {
    const root = await tempRoot();
    const env: NodeJS.ProcessEnv = {
      TOKENWARD_CONFIG_DIR: join(root, 'config', 'tokenward'),
      TOKENWARD_CACHE_DIR: join(root, 'cache', 'tokenward', 'tokens'),
    };
    const old = process.umask(0);
    try {
      const warnings: string[] = [];
      const store = await createStore({ store: 'file' }, { env, onWarning: (m) => warnings.push(m) });
      assert.ok(store instanceof FileStore);
      const key = storeKey('perm', { token_url: 'http://127.0.0.1/t' });
      await store.set(sampleEntry(key));
      const lock = await store.lock(key, { ttlMs: 30_000, timeoutMs: 1_000 });
      try {
        assert.equal(await mode(env['TOKENWARD_CACHE_DIR'] as string), 0o700, 'cache directory');
        assert.equal(await mode(store.pathOf(key)), 0o600, 'token file');
        assert.equal(await mode(join(store.dir, `${key}.lock`)), 0o600, 'lock file');
      } finally {
        await lock.release();
      }
      const keyFile = join(env['TOKENWARD_CONFIG_DIR'] as string, KEY_FILE_NAME);
      assert.equal(await mode(keyFile), 0o600, 'key file');
      assert.equal(await mode(env['TOKENWARD_CONFIG_DIR'] as string), 0o700, 'config directory');
      const keyText = (await readFile(keyFile, 'utf8')).trim();
      assert.equal(Buffer.from(keyText, 'base64').length, 32, 'the key file holds 32 bytes in base64');
      assert.deepEqual(warnings, []);
    } finally {
      process.umask(old);
    }
  });

  test('a cache directory open to other users is made private, with a warning', async () => {
    const root = await tempRoot();
    const dir = join(root, 'tokens');
    await mkdir(dir);
    await chmod(dir, 0o755);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
    await store.set(sampleEntry('k-open'));
    assert.equal(await mode(dir), 0o700);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /accessible to other users \(mode 755\); changed it to 700/);
  });
});

describe('file store: atomic writes', () => {
  test('many writes (sequential and racing, with locks) leave only the token files: no temp, lock or stale file', async () => {
    const { store, dir, warnings } = await freshStore();
    const keys = Array.from({ length: 4 }, (_, i) => storeKey('atomic', { i: String(i) }));
    const last = new Map<string, StoredEntry>();
    // 4 lanes x 50 sequential writes, one lock/release every 10th write.
    await Promise.all(
      keys.map(async (k) => {
        for (let i = 0; i < 50; i++) {
          const lock = i % 10 === 0 ? await store.lock(k, { ttlMs: 30_000, timeoutMs: 5_000 }) : undefined;
          const e = sampleEntry(k, { updatedAt: i });
          await store.set(e);
          last.set(k, e);
          await lock?.release();
        }
      }),
    );
    // 20 writers racing on one key: the file ends as one of them, whole.
    const raced = Array.from({ length: 20 }, (_, i) =>
      sampleEntry(keys[0] as string, { updatedAt: 1000 + i }),
    );
    await Promise.all(raced.map((e) => store.set(e)));

    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, keys.map((k) => `${k}.tok`).sort(), 'only token files remain');
    for (const k of keys.slice(1)) assert.deepEqual(await store.get(k), last.get(k));
    const final = await store.get(keys[0] as string);
    assert.ok(
      raced.some((e) => JSON.stringify(e) === JSON.stringify(final)),
      'the raced key holds one complete write',
    );
    assert.deepEqual(warnings, []);
  });
});

describe('file store: confidentiality', () => {
  test('no access, refresh or ID token appears in any byte of the cache directory, in any common encoding', async () => {
    const { store, dir } = await freshStore();
    const secrets: string[] = [];
    const keys = [storeKey('conf', { n: '1' }), storeKey('conf', { n: '2' })];
    for (const k of keys) {
      const token = sampleToken({ idToken: `id-${randomBytes(12).toString('hex')}` });
      secrets.push(token.accessToken, token.refreshToken as string, token.idToken as string);
      await store.set(sampleEntry(k, { token }));
    }
    // An entry that also records a last error, and a lock held while we look.
    const errKey = storeKey('conf', { n: '3' });
    const t3 = sampleToken();
    secrets.push(t3.accessToken, t3.refreshToken as string);
    await store.set(
      sampleEntry(errKey, { token: t3, lastError: { code: 'ERR_NETWORK', message: 'x', at: 1 } }),
    );
    const lock = await store.lock(errKey, { ttlMs: 30_000, timeoutMs: 1_000 });
    try {
      const files = await allFiles(dir);
      assert.deepEqual(
        files.map((f) => f.path.slice(dir.length + 1).replace(/^[^.]+/, 'K')).sort(),
        ['K.lock', 'K.tok', 'K.tok', 'K.tok'],
        'the three token files and the lock file were scanned',
      );
      for (const { path, bytes } of files) {
        if (path.endsWith('.tok')) {
          assert.ok(bytes.subarray(0, 4).equals(ENVELOPE_MAGIC), `${path} is an envelope`);
        }
        for (const s of secrets) {
          for (const enc of [
            Buffer.from(s, 'utf8'),
            Buffer.from(s, 'utf16le'),
            Buffer.from(Buffer.from(s).toString('base64')),
            Buffer.from(Buffer.from(s).toString('base64url')),
            Buffer.from(Buffer.from(s).toString('hex')),
          ]) {
            assert.equal(bytes.indexOf(enc), -1, `a token appears in ${path}`);
          }
        }
      }
    } finally {
      await lock.release();
    }
    // And the entries still read back.
    for (const k of keys) assert.ok((await store.get(k))?.token !== undefined);
  });
});

describe('file store: unusable files', () => {
  const key = storeKey('bad', { token_url: 'http://127.0.0.1/t' });

  async function validBytes(k: Buffer): Promise<Buffer> {
    const { store, dir } = await freshStore(k);
    await store.set(sampleEntry(key));
    return readFile(join(dir, `${key}.tok`));
  }

  const cases: Array<{ name: string; reason: RegExp; make: (k: Buffer) => Promise<Buffer> }> = [
    { name: 'empty', reason: /empty/, make: async () => Buffer.alloc(0) },
    { name: 'garbage', reason: /not a tokenward envelope/, make: async () => Buffer.from('{"not": "ours"') },
    {
      name: 'plaintext JSON of an entry (not an envelope)',
      reason: /not a tokenward envelope/,
      make: async () => Buffer.from(JSON.stringify(sampleEntry(key))),
    },
    {
      name: 'truncated inside the header',
      reason: /truncated/,
      make: async (k) => (await validBytes(k)).subarray(0, 10),
    },
    {
      name: 'truncated inside the ciphertext',
      reason: /failed authentication/,
      make: async (k) => {
        const b = await validBytes(k);
        return b.subarray(0, Math.floor(b.length / 2));
      },
    },
    {
      name: 'one bit flipped',
      reason: /failed authentication/,
      make: async (k) => {
        const b = Buffer.from(await validBytes(k));
        const i = b.length - 5;
        b[i] = (b[i] as number) ^ 1;
        return b;
      },
    },
    {
      name: 'an entry of another key copied under this name',
      reason: /failed authentication/,
      make: async (k) => {
        const { store, dir } = await freshStore(k);
        const other = storeKey('bad', { token_url: 'http://127.0.0.1/other' });
        await store.set(sampleEntry(other));
        return readFile(join(dir, `${other}.tok`));
      },
    },
  ];

  for (const c of cases) {
    test(`${c.name}: reported, a miss, kept as is by reads, set aside (byte for byte) by the next write`, async () => {
      const { store, dir, key: k, warnings } = await freshStore();
      await store.open();
      const bad = await c.make(k);
      await writeFile(store.pathOf(key), bad, { mode: 0o600 });

      assert.equal(await store.get(key), undefined);
      assert.equal(await store.get(key), undefined);
      assert.equal(warnings.length, 2, 'each read reports it');
      assert.match(warnings[0] ?? '', c.reason);
      assert.ok(warnings[0]?.includes(store.pathOf(key)), 'the warning names the file');
      assert.deepEqual(await readFile(store.pathOf(key)), bad, 'reading did not touch it');
      assert.deepEqual(await store.list(), [], 'list skips it');
      assert.equal(warnings.length, 3, 'and reports it');

      const fresh = sampleEntry(key);
      await store.set(fresh);
      assert.deepEqual(await store.get(key), fresh);
      const aside = (await readdir(dir)).filter((n) => n.startsWith(`${key}.tok.bad-`));
      assert.equal(aside.length, 1, 'the unusable file was moved aside');
      assert.deepEqual(await readFile(join(dir, aside[0] as string)), bad, 'byte for byte');
      assert.equal(warnings.length, 4);
      assert.match(warnings[3] ?? '', /was kept as .*\.bad-/);

      // A second write over a good file sets nothing aside.
      await store.set(sampleEntry(key));
      assert.equal((await readdir(dir)).filter((n) => n.includes('.bad-')).length, 1);
      assert.equal(warnings.length, 4);
    });
  }

  test('an unreadable path (a directory where the file should be) is reported and a miss; the write sets it aside', async () => {
    const { store, dir, warnings } = await freshStore();
    await mkdir(store.dir, { recursive: true, mode: 0o700 });
    await mkdir(store.pathOf(key));
    await writeFile(join(store.pathOf(key), 'inside'), 'x');
    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /the cached token .* is not a regular file; treated as a miss/);
    const fresh = sampleEntry(key);
    await store.set(fresh);
    assert.deepEqual(await store.get(key), fresh);
    const aside = (await readdir(dir)).filter((n) => n.startsWith(`${key}.tok.bad-`));
    assert.equal(aside.length, 1);
    assert.equal(await readFile(join(dir, aside[0] as string, 'inside'), 'utf8'), 'x');
  });

  test('set-aside copies are capped at three per key, each removal reported', async () => {
    const { store, dir, warnings } = await freshStore();
    await store.open();
    for (let i = 0; i < 5; i++) {
      await writeFile(store.pathOf(key), `garbage ${i}`);
      await store.set(sampleEntry(key));
    }
    const aside = (await readdir(dir)).filter((n) => n.startsWith(`${key}.tok.bad-`));
    assert.equal(aside.length, 3);
    const kept = await Promise.all(aside.map((n) => readFile(join(dir, n), 'utf8')));
    assert.deepEqual(kept.sort(), ['garbage 2', 'garbage 3', 'garbage 4']);
    assert.equal(warnings.filter((w) => /removed the oldest set-aside file/.test(w)).length, 2);
  });

  test('the manager over a corrupt file: getToken() succeeds from the server, the warning reaches the hook, the old bytes survive', async () => {
    const server = await startTokenServer({ lifetime: 3600, latencyMs: 0 });
    try {
      const { store, dir, warnings } = await freshStore();
      await store.open();
      const client = await createTokenClient(profileFor(server));
      const k = storeKey('mgr', client.identity);
      await writeFile(store.pathOf(k), 'corrupt!');
      const manager = new TokenManager({ client, key: k, store });
      const t = await manager.getToken();
      assert.match(t.accessToken, /^at-1-/);
      assert.equal(server.counts.total, 1);
      // The manager reads the entry, then again under the lock (each read warns), then writes over it.
      assert.deepEqual(
        warnings.map((w) =>
          / is unusable: /.test(w) ? 'unusable' : / was kept as .*\.bad-/.test(w) ? 'kept' : w,
        ),
        ['unusable', 'unusable', 'kept'],
      );
      assert.equal((await store.get(k))?.token?.accessToken, t.accessToken);
      const aside = (await readdir(dir)).filter((n) => n.includes('.bad-'));
      assert.equal(aside.length, 1);
      assert.equal(await readFile(join(dir, aside[0] as string), 'utf8'), 'corrupt!');
    } finally {
      await server.close();
    }
  });
});

describe('file store: a changed key', () => {
  test('TOKENWARD_CACHE_KEY changed: a clear warning and a miss, no crash; the entry survives and the old key reads it back', async () => {
    const dir = join(await tempRoot(), 'tokens');
    const key1 = randomBytes(32);
    const key2 = randomBytes(32);
    const key = storeKey('rekey', { token_url: 'http://127.0.0.1/t' });
    const profile = { store: 'file' as const, cache_dir: dir };
    const w1: string[] = [];
    const s1 = await createStore(profile, {
      env: { TOKENWARD_CACHE_KEY: key1.toString('hex') },
      onWarning: (m) => w1.push(m),
    });
    const original = sampleEntry(key);
    await s1.set(original);
    const before = await readFile(join(dir, `${key}.tok`));

    const w2: string[] = [];
    const s2 = await createStore(profile, {
      env: { TOKENWARD_CACHE_KEY: key2.toString('base64') },
      onWarning: (m) => w2.push(m),
    });
    assert.equal(await s2.get(key), undefined);
    assert.equal(w2.length, 1);
    assert.match(w2[0] ?? '', /encrypted with another key \(key id [0-9a-f]{8}, ours [0-9a-f]{8}\)/);
    assert.match(w2[0] ?? '', /TOKENWARD_CACHE_KEY/);
    assert.deepEqual(await readFile(join(dir, `${key}.tok`)), before, 'a read leaves it alone');
    assert.deepEqual(await s2.list(), []);

    // The process with the new key writes its own token: the old entry is set aside, not destroyed.
    const replacement = sampleEntry(key);
    await s2.set(replacement);
    assert.deepEqual(await s2.get(key), replacement);
    const aside = (await readdir(dir)).filter((n) => n.startsWith(`${key}.tok.bad-`));
    assert.equal(aside.length, 1);
    assert.deepEqual(await readFile(join(dir, aside[0] as string)), before);

    // Recovery: put it back and the old key reads the original entry.
    await rename(join(dir, aside[0] as string), join(dir, `${key}.tok`));
    assert.deepEqual(await s1.get(key), original);
    assert.deepEqual(w1, []);
  });
});

describe('file store: location', () => {
  test('cache_dir beats TOKENWARD_CACHE_DIR, which beats the platform cache dir (XDG_CACHE_HOME on Linux)', async () => {
    const root = await tempRoot();
    const key = Buffer.alloc(32, 7);
    const fromProfile = join(root, 'from-profile');
    const fromEnv = join(root, 'from-env');
    const env = { TOKENWARD_CACHE_DIR: fromEnv };

    const a = await createStore({ store: 'file', cache_dir: fromProfile }, { env, key });
    const b = await createStore({ store: 'file' }, { env, key });
    const c = await createStore({}, { env, key }); // `file` is the default store
    assert.ok(a instanceof FileStore && b instanceof FileStore && c instanceof FileStore);
    assert.equal(a.dir, fromProfile);
    assert.equal(b.dir, fromEnv);
    assert.equal(c.dir, fromEnv);

    // The files really go there.
    const k = storeKey('where', {});
    await a.set(sampleEntry(k));
    assert.deepEqual(await readdir(fromProfile), [`${k}.tok`]);
    await assert.rejects(readdir(fromEnv), { code: 'ENOENT' });

    if (process.platform === 'linux') {
      const saved = process.env['XDG_CACHE_HOME'];
      process.env['XDG_CACHE_HOME'] = join(root, 'xdg-cache');
      try {
        const expected = join(root, 'xdg-cache', 'tokenward', 'tokens');
        assert.equal(defaultCacheDir({}), expected);
        assert.equal(defaultCacheDir({ TOKENWARD_CACHE_DIR: '' }), expected, 'empty means unset');
        const d = await createStore({ store: 'file' }, { env: {}, key });
        assert.ok(d instanceof FileStore);
        assert.equal(d.dir, expected);
      } finally {
        if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
        else process.env['XDG_CACHE_HOME'] = saved;
      }
    }
  });
});
