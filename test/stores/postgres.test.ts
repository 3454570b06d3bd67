/**
 * The PostgreSQL store against a real server: the table is created when missing (also by many stores at
 * once), writes are upserts (one row per key), rows hold the encrypted envelope only, `prune` removes
 * rows past their usefulness, and a row under another key is reported, not served or deleted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { StoreError } from '../../src/errors.js';
import { ENVELOPE_MAGIC } from '../../src/stores/envelope.js';
import { createStore } from '../../src/stores/index.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { dropTable, requireService, uniqueName } from '../helpers/services.js';
import { sampleEntry, sampleToken } from './conformance.js';

const DAY = 24 * 3600_000;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

const tableExists = (url: string, table: string) =>
  withClient(url, async (c) => (await c.query('SELECT to_regclass($1) AS t', [table])).rows[0]?.t !== null);

test('a fresh table name: the table is created on connect, with the documented columns', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  try {
    assert.equal(await tableExists(url, table), false);
    const store = await createStore(
      { store: 'postgres', store_url: url, store_prefix: table },
      { key: randomBytes(32) },
    );
    try {
      assert.ok(store instanceof PostgresStore);
      assert.equal(store.table, table);
      assert.equal(await tableExists(url, table), true, 'created by createStore, before any write');
      const cols = await withClient(url, async (c) =>
        (
          await c.query<{ column_name: string; data_type: string }>(
            'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
            [table],
          )
        ).rows.map((r) => `${r.column_name} ${r.data_type}`),
      );
      assert.deepEqual(cols, [
        'key text',
        'value bytea',
        'expires_at timestamp with time zone',
        'updated_at timestamp with time zone',
      ]);
    } finally {
      await store.close();
    }
  } finally {
    await dropTable(url, table);
  }
});

test('six stores creating the same missing table at once all succeed', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  const key = randomBytes(32);
  const stores = Array.from({ length: 6 }, () => new PostgresStore({ url, table, key }));
  try {
    await Promise.all(stores.map((s) => s.connect()));
    await Promise.all(stores.map((s, i) => s.set(sampleEntry(`k-${i}`))));
    assert.equal((await stores[0]?.list())?.length, 6);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await dropTable(url, table);
  }
});

test('createTable: false on a missing table is a StoreError naming the table and the server', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  const store = new PostgresStore({ url, table, key: randomBytes(32), createTable: false });
  try {
    await assert.rejects(store.connect(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.store, 'postgres');
      assert.match(err.message, new RegExp(`cannot use table ${table}`));
      assert.ok(err.message.includes(store.target));
      return true;
    });
    assert.equal(await tableExists(url, table), false);
  } finally {
    await store.close();
  }
});

test('set twice is one row (upsert); the row holds the envelope only, no plaintext token; expires_at follows the entry', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  const store = new PostgresStore({ url, table, key: randomBytes(32) });
  try {
    const first = sampleEntry('k-up');
    await store.set(first);
    const token = sampleToken({ idToken: `id-${randomBytes(8).toString('hex')}` });
    const second = sampleEntry('k-up', { token, updatedAt: first.updatedAt + 1 });
    await store.set(second);
    assert.deepEqual(await store.get('k-up'), second);

    const rows = await withClient(url, (c) =>
      c.query<{ key: string; value: Buffer; expires_at: Date; whole: string }>(
        `SELECT key, value, expires_at, row_to_json(t)::text AS whole FROM "${table}" t`,
      ),
    );
    assert.equal(rows.rowCount, 1, 'one row per key');
    const row = rows.rows[0];
    assert.ok(row !== undefined);
    assert.equal(row.key, 'k-up');
    assert.ok(row.value.subarray(0, 4).equals(ENVELOPE_MAGIC), 'the value is a tw1 envelope');
    for (const s of [token.accessToken, token.refreshToken as string, token.idToken as string]) {
      for (const hay of [row.value, Buffer.from(row.whole)]) {
        assert.equal(hay.indexOf(s), -1, 'no plaintext token in the row');
        assert.equal(hay.indexOf(Buffer.from(s).toString('base64')), -1, 'nor its base64');
      }
    }
    // A refresh token with no known expiry: kept 7 days past the access token's expiry.
    assert.equal(row.expires_at.getTime(), token.expiresAt + 7 * DAY);
  } finally {
    await store.close();
    await dropTable(url, table);
  }
});

test('prune deletes rows past their usefulness and keeps the others', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  const store = new PostgresStore({ url, table, key: randomBytes(32) });
  try {
    const now = Date.now();
    const { refreshToken: _drop, ...dead } = sampleToken({ expiresAt: now - DAY, obtainedAt: now - 2 * DAY });
    await store.set(sampleEntry('k-dead', { token: dead }));
    await store.set(sampleEntry('k-live'));
    assert.equal(await store.prune(), 1);
    assert.equal(await store.get('k-dead'), undefined);
    assert.notEqual(await store.get('k-live'), undefined);
  } finally {
    await store.close();
    await dropTable(url, table);
  }
});

test('a row written with another key: a warning naming it and a miss; the row is not deleted by reading', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const table = uniqueName();
  const a = new PostgresStore({ url, table, key: randomBytes(32) });
  const warnings: string[] = [];
  const b = new PostgresStore({ url, table, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  try {
    const e = sampleEntry('k-wrong');
    await a.set(e);
    assert.equal(await b.get('k-wrong'), undefined);
    assert.deepEqual(await b.list(), []);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? '', new RegExp(`k-wrong in .*127\\.0\\.0\\.1.* table ${table}`));
    assert.match(warnings[0] ?? '', /encrypted with another key.*TOKENWARD_CACHE_KEY/);
    assert.deepEqual(await a.get('k-wrong'), e);
  } finally {
    await a.close();
    await b.close();
    await dropTable(url, table);
  }
});
