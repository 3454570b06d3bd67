/**
 * Rollback protection: the envelope (format tw2) carries a version bound into the AES-GCM additional
 * data, strictly above every version the writing process has seen for that key; a process refuses
 * (warning, miss) an envelope older than one it has already read or written in that store — an older
 * copy put back in place of a newer one. Version 1 envelopes already on disk are still read and are
 * rewritten as version 2 at the next write. File, Redis and PostgreSQL stores.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  decodeEntry,
  ENVELOPE_MAGIC,
  ENVELOPE_MAGIC_V1,
  envelopeVersion,
  ROLLBACK_TOLERANCE_MS,
} from '../../src/stores/envelope.js';
import { FileStore } from '../../src/stores/file.js';
import { createStore } from '../../src/stores/index.js';
import { keyFromBytes } from '../../src/stores/keys.js';
import { storeKey } from '../../src/stores/store-key.js';
import type { StoredEntry, TokenStore } from '../../src/stores/types.js';
import { dropPrefix, dropTable, requireService, uniqueName } from '../helpers/services.js';
import { sampleEntry } from './conformance.js';

const roots: string[] = [];
after(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-rollback-'));
  roots.push(d);
  return join(d, 'tokens');
}

/** A version 1 envelope, as tokenward wrote it before format 2 (tw1: | key id | IV | tag | ct). */
function encodeV1(entry: StoredEntry, raw: Buffer): Buffer {
  const k = keyFromBytes(raw);
  const header = Buffer.concat([ENVELOPE_MAGIC_V1, Buffer.from(k.id, 'hex')]);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', raw, iv, { authTagLength: 16 });
  c.setAAD(Buffer.concat([header, Buffer.from(entry.key, 'utf8')]));
  const ct = Buffer.concat([c.update(JSON.stringify(entry), 'utf8'), c.final()]);
  return Buffer.concat([header, iv, c.getAuthTag(), ct]);
}

const HOUR = 3_600_000;

describe('file store rollback', () => {
  test('an older copy put back over a newer entry is refused (warning, miss) by the process that saw the newer one', async () => {
    const dir = await tempDir();
    const raw = randomBytes(32);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: raw, onWarning: (m) => warnings.push(m) });
    const key = storeKey('rollback', { n: '1' });
    const t0 = Date.now();
    const older = sampleEntry(key, { updatedAt: t0 });
    await store.set(older);
    const saved = join(dir, '..', 'older.tok');
    await copyFile(store.pathOf(key), saved);
    const newer = sampleEntry(key, { updatedAt: t0 + HOUR });
    await store.set(newer);
    assert.deepEqual(await store.get(key), newer);

    await copyFile(saved, store.pathOf(key)); // the rollback
    assert.equal(await store.get(key), undefined);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /older than one this process already read or wrote there .*\(a rollback\); treated as a miss/,
    );
    // Another store instance in the same process shares what was seen.
    const again = new FileStore({ dir, key: raw, onWarning: (m) => warnings.push(m) });
    assert.equal(await again.get(key), undefined);
    assert.deepEqual(await again.list(), []);
    assert.ok(!warnings.join('\n').includes(older.token?.accessToken as string), 'no token in a warning');

    // The next write replaces it, with a version above the newest seen, and is read back.
    const next = sampleEntry(key, { updatedAt: t0 + 1 });
    await store.set(next);
    assert.deepEqual(await store.get(key), next);
    const v = envelopeVersion(await readFile(store.pathOf(key)));
    assert.ok(v !== undefined && v > t0 + HOUR, `version ${v} is above the newest seen`);
  });

  test('a writer whose clock is behind still writes a newer version (never refused by itself); copies within the tolerance are accepted', async () => {
    const dir = await tempDir();
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
    const key = storeKey('rollback', { n: '2' });
    const t0 = Date.now();
    await store.set(sampleEntry(key, { updatedAt: t0 + HOUR }));
    const behind = sampleEntry(key, { updatedAt: t0 });
    await store.set(behind);
    assert.deepEqual(await store.get(key), behind, 'the entry keeps the updatedAt it was given');
    assert.equal(envelopeVersion(await readFile(store.pathOf(key))), t0 + HOUR + 1);

    const a = sampleEntry(key, { updatedAt: t0 + HOUR + 10 });
    await store.set(a);
    const copy = await readFile(store.pathOf(key));
    await store.set(sampleEntry(key, { updatedAt: t0 + HOUR + 10 + ROLLBACK_TOLERANCE_MS / 2 }));
    await writeFile(store.pathOf(key), copy, { mode: 0o600 });
    assert.deepEqual(await store.get(key), a, 'within the tolerance: accepted');
    assert.deepEqual(warnings, []);
  });

  test('a version 1 envelope on disk is read; the next write turns it into version 2', async () => {
    const dir = await tempDir();
    const raw = randomBytes(32);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: raw, onWarning: (m) => warnings.push(m) });
    await store.open();
    const key = storeKey('rollback', { n: 'v1' });
    const old = sampleEntry(key);
    const v1 = encodeV1(old, raw);
    assert.ok(decodeEntry(v1, key, keyFromBytes(raw)).ok);
    await writeFile(store.pathOf(key), v1, { mode: 0o600 });
    assert.deepEqual(await store.get(key), old);
    const r = decodeEntry(v1, key, keyFromBytes(raw));
    assert.ok(r.ok && r.format === 1 && r.version === Math.floor(old.updatedAt));
    const renewed = sampleEntry(key);
    await store.set(renewed);
    const bytes = await readFile(store.pathOf(key));
    assert.ok(bytes.subarray(0, 4).equals(ENVELOPE_MAGIC), 'rewritten as tw2');
    assert.deepEqual(await store.get(key), renewed);
    // A v1 copy of an older entry is a rollback like any other.
    await writeFile(store.pathOf(key), encodeV1(sampleEntry(key, { updatedAt: old.updatedAt - HOUR }), raw));
    assert.equal(await store.get(key), undefined);
    assert.match(warnings.join('\n'), /a rollback/);
    assert.equal(warnings.length, 1);
  });
});

/** Put-back test shared by the server stores: `put(raw)` replaces the stored bytes directly. */
async function serverRollback(
  store: TokenStore,
  warnings: string[],
  key: string,
  getRaw: () => Promise<Buffer>,
  putRaw: (b: Buffer) => Promise<void>,
): Promise<void> {
  const t0 = Date.now();
  await store.set(sampleEntry(key, { updatedAt: t0 }));
  const older = await getRaw();
  const newer = sampleEntry(key, { updatedAt: t0 + HOUR });
  await store.set(newer);
  assert.deepEqual(await store.get(key), newer);
  await putRaw(older);
  assert.equal(await store.get(key), undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /\(a rollback\); treated as a miss/);
}

describe('server stores rollback', () => {
  test('redis: an older envelope put back under the key is refused', async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const prefix = `${uniqueName()}:`;
    const warnings: string[] = [];
    const store = await createStore(
      { store: 'redis', store_url: url, store_prefix: prefix },
      { key: randomBytes(32), onWarning: (m) => warnings.push(m) },
    );
    const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      const key = storeKey('rollback', { store: 'redis' });
      const k = `${prefix}tok:${key}`;
      await serverRollback(
        store,
        warnings,
        key,
        async () => (await r.getBuffer(k)) as Buffer,
        async (b) => {
          await r.set(k, b, 'PX', HOUR);
        },
      );
    } finally {
      r.disconnect();
      await store.close();
      await dropPrefix(url, prefix);
    }
  });

  test('postgres: an older envelope put back in the row is refused', async (t) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return;
    const table = uniqueName();
    const warnings: string[] = [];
    const store = await createStore(
      { store: 'postgres', store_url: url, store_prefix: table },
      { key: randomBytes(32), onWarning: (m) => warnings.push(m) },
    );
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    c.on('error', () => {});
    try {
      await c.connect();
      const key = storeKey('rollback', { store: 'postgres' });
      await serverRollback(
        store,
        warnings,
        key,
        async () =>
          (await c.query<{ value: Buffer }>(`SELECT value FROM "${table}" WHERE key = $1`, [key])).rows[0]
            ?.value as Buffer,
        async (b) => {
          await c.query(`UPDATE "${table}" SET value = $2 WHERE key = $1`, [key, b]);
        },
      );
    } finally {
      await c.end().catch(() => {});
      await store.close();
      await dropTable(url, table);
    }
  });
});
