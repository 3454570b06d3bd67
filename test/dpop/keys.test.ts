/**
 * The DPoP key pair in the stores: made once under the lock (two store instances over one file directory,
 * one PostgreSQL table or one Redis prefix stand for two processes), encrypted at rest (the private part
 * never in the stored bytes), kept with a TTL well beyond the tokens; algorithms and nonces.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { dpopAlgorithm } from '../../src/dpop/algorithms.js';
import { dpopKeyStoreKey, loadOrCreateDpopKey } from '../../src/dpop/keys.js';
import { DpopNonces } from '../../src/dpop/nonces.js';
import { htuOf } from '../../src/dpop/proof.js';
import { DpopSigner } from '../../src/dpop/signer.js';
import { ConfigError } from '../../src/errors.js';
import { DPOP_KEY_RETENTION_MS } from '../../src/stores/envelope.js';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { storeKey } from '../../src/stores/store-key.js';
import type { TokenStore } from '../../src/stores/types.js';
import { dropPrefix, dropTable, requireService, uniqueName, withPg, withRedis } from '../helpers/services.js';

const TOKEN_KEY = storeKey('bound', { provider: 'oauth2', client_id: 'c' });

/** Makes keys with `n` signers over `n` store instances at once; returns the thumbprints and the private `d`. */
async function race(stores: TokenStore[]): Promise<{ thumbprints: string[]; d: string }> {
  const signers = stores.map(
    (store) => new DpopSigner({ alg: 'ES256', store, tokenKey: TOKEN_KEY, profile: 'bound' }),
  );
  const thumbprints = await Promise.all(signers.map((s) => s.thumbprint()));
  const entry = await stores[0]!.get(dpopKeyStoreKey(TOKEN_KEY, 'ES256'));
  return { thumbprints, d: String(entry?.dpopKey?.jwk['d']) };
}

function assertOneKey(r: { thumbprints: string[] }): void {
  assert.equal(new Set(r.thumbprints).size, 1, 'two keys were made');
}

describe('the key pair in the stores', () => {
  test('file: one key for two stores over one directory; the private part is not in the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-dpop-keys-'));
    try {
      const key = randomBytes(32);
      const r = await race([
        new FileStore({ dir, key }),
        new FileStore({ dir, key }),
        new FileStore({ dir, key }),
      ]);
      assertOneKey(r);
      const files = (await readdir(dir)).filter((f) => !f.endsWith('.lock'));
      assert.equal(files.length, 1);
      const bytes = await readFile(join(dir, files[0]!));
      assert.ok(!bytes.includes(Buffer.from(r.d)), 'the private key is stored in clear');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('postgres: one key, encrypted, kept about a year', async (t: TestContext) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return;
    const table = uniqueName();
    const key = randomBytes(32);
    const stores = [new PostgresStore({ url, table, key }), new PostgresStore({ url, table, key })];
    try {
      const before = Date.now();
      const r = await race(stores);
      assertOneKey(r);
      const rows = await withPg(url, (c) => c.query(`SELECT value, expires_at FROM ${table}`));
      assert.equal(rows.rows.length, 1);
      const row = rows.rows[0] as { value: Buffer; expires_at: Date };
      assert.ok(!row.value.includes(Buffer.from(r.d)));
      assert.ok(row.expires_at.getTime() >= before + DPOP_KEY_RETENTION_MS - 60_000);
    } finally {
      for (const s of stores) await s.close();
      await dropTable(url, table);
    }
  });

  test('redis: one key, encrypted, with a TTL of about a year', async (t: TestContext) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const prefix = `${uniqueName()}:`;
    const key = randomBytes(32);
    const stores = [new RedisStore({ url, prefix, key }), new RedisStore({ url, prefix, key })];
    try {
      const r = await race(stores);
      assertOneKey(r);
      const k = `${prefix}tok:${dpopKeyStoreKey(TOKEN_KEY, 'ES256')}`;
      const [raw, ttl] = await withRedis(url, async (c) => [await c.getBuffer(k), await c.pttl(k)] as const);
      assert.ok(raw !== null && !raw.includes(Buffer.from(r.d)));
      assert.ok(ttl > DPOP_KEY_RETENTION_MS - 60_000, `ttl ${ttl}`);
    } finally {
      for (const s of stores) await s.close();
      await dropPrefix(url, prefix);
    }
  });

  test('another algorithm is another key; a damaged stored key is a ConfigError naming dpop', async () => {
    const store = new MemoryStore();
    const now = () => 1_000;
    const es = await loadOrCreateDpopKey({ store, tokenKey: TOKEN_KEY, alg: 'ES256', now });
    const ps = await loadOrCreateDpopKey({ store, tokenKey: TOKEN_KEY, alg: 'PS256', now });
    assert.equal(es.alg, 'ES256');
    assert.equal(ps.alg, 'PS256');
    assert.equal(ps.publicJwk.kty, 'RSA');
    assert.equal((ps.publicJwk as Record<string, unknown>)['d'], undefined);
    const k = dpopKeyStoreKey(TOKEN_KEY, 'ES256');
    await store.set({
      v: 1,
      key: k,
      updatedAt: 1,
      dpopKey: { alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' }, createdAt: 1 },
    });
    await assert.rejects(
      loadOrCreateDpopKey({ store, tokenKey: TOKEN_KEY, alg: 'ES256', now }),
      (e: unknown) => e instanceof ConfigError && e.key === 'dpop',
    );
  });
});

describe('algorithms, htu, nonces', () => {
  test('dpop values', () => {
    assert.equal(dpopAlgorithm(true), 'ES256');
    assert.equal(dpopAlgorithm(false), undefined);
    assert.equal(dpopAlgorithm(undefined), undefined);
    assert.equal(dpopAlgorithm('EdDSA'), 'EdDSA');
    for (const bad of ['HS256', 'none', 'es256', ''])
      assert.throws(
        () => dpopAlgorithm(bad),
        (e: unknown) => e instanceof ConfigError && e.key === 'dpop',
      );
  });

  test('htu has no query and no fragment', () => {
    assert.equal(htuOf('https://API.example.com:443/a/b?x=1#f'), 'https://api.example.com/a/b');
    assert.equal(htuOf(new URL('http://127.0.0.1:8080/?q')), 'http://127.0.0.1:8080/');
  });

  test('nonces: per origin, bounded, only valid values', () => {
    const n = new DpopNonces(2);
    assert.equal(n.set('https://a.example/x', 'n1'), true);
    assert.equal(n.set('https://a.example/y?z', 'n1'), false); // same origin, same nonce
    assert.equal(n.get('https://a.example/other'), 'n1');
    assert.equal(n.set('https://b.example', 'n2'), true);
    assert.equal(n.set('https://c.example', 'n3'), true);
    assert.equal(n.size, 2);
    assert.equal(n.get('https://a.example'), undefined); // the oldest went
    for (const bad of ['', ' ', 'a b', 'quo"te', 'back\\slash', 'x'.repeat(513), 'caf\u00e9'])
      assert.equal(n.set('https://d.example', bad), false, JSON.stringify(bad));
    assert.equal(n.set('not a url', 'n4'), false);
    assert.equal(n.get('https://d.example'), undefined);
  });
});
