/**
 * The PostgreSQL store's lock connections against a real server: a lock connection that holds nothing
 * (a waiter served by `satisfied`, a holder after its unlock) is kept as the store's spare, so the next
 * lock opens no connection; `close()` ends it; a spare whose session the server ended is replaced by a
 * new connection. Connections are counted in `pg_stat_activity` by an `application_name` of the test's own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PostgresStore } from '../../src/stores/postgres.js';
import { dropTable, requireService, uniqueName, withPg } from '../helpers/services.js';
import { until } from '../helpers/wait.js';

const LONG = { ttlMs: 30_000, timeoutMs: 60_000 };

/** The URL with an application_name of its own, and a count of the server's sessions that carry it. */
function tagged(url: string): {
  url: string;
  sessions: () => Promise<number>;
  waiting: () => Promise<number>;
} {
  const app = `tw_${randomBytes(6).toString('hex')}`;
  const u = new URL(url);
  u.searchParams.set('application_name', app);
  const count = (sql: string) =>
    withPg(url, async (c) => Number((await c.query<{ n: string }>(sql, [app])).rows[0]?.n ?? 0));
  return {
    url: u.toString(),
    sessions: () => count('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1'),
    waiting: () =>
      count(
        `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = $1 AND l.locktype = 'advisory' AND NOT l.granted`,
      ),
  };
}

test('a lock connection that holds nothing is kept for the next lock: no new connection; close() ends it', async (t) => {
  const base = await requireService(t, 'postgres');
  if (base === undefined) return;
  const table = uniqueName();
  const { url, sessions, waiting } = tagged(base);
  const key = randomBytes(32);
  const warnings: string[] = [];
  const a = new PostgresStore({ url, table, key, onWarning: (w) => warnings.push(w) });
  const b = new PostgresStore({ url, table, key, onWarning: (w) => warnings.push(w) });
  try {
    await a.connect();
    await b.connect();
    assert.equal(await sessions(), 2, "each store's pool: one connection");
    const held = await a.lock('k', LONG);
    assert.equal(await sessions(), 3, "the holder's lock connection");
    const served = b.lock('k', { ...LONG, satisfied: async () => true });
    await until(async () => (await waiting()) === 1, 'a waiter at the barrier');
    assert.equal(await sessions(), 4, "and the waiter's");
    await held.release();
    assert.equal(await served, undefined, 'served by satisfied, without the lock');
    assert.equal(await sessions(), 4, 'neither lock connection was ended: each is its store’s spare');
    for (const s of [b, a, b, a]) {
      const again = await s.lock('k', LONG);
      await again.release();
    }
    assert.equal(await sessions(), 4, 'four more locks, no new connection');
    await a.close();
    await b.close();
    await until(async () => (await sessions()) === 0, 'no session left after close()');
    assert.deepEqual(warnings, []);
  } finally {
    await a.close();
    await b.close();
    await dropTable(base, table);
  }
});

test('a spare whose session the server ended: the next lock opens a new connection and takes the lock', async (t) => {
  const base = await requireService(t, 'postgres');
  if (base === undefined) return;
  const table = uniqueName();
  const { url, sessions } = tagged(base);
  const warnings: string[] = [];
  const store = new PostgresStore({ url, table, key: randomBytes(32), onWarning: (w) => warnings.push(w) });
  try {
    await (await store.lock('k', LONG)).release();
    assert.equal(await sessions(), 2, 'the pool connection and the spare');
    const app = new URL(url).searchParams.get('application_name');
    await withPg(base, (c) =>
      c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]),
    );
    await until(async () => (await sessions()) === 0, 'no session left after pg_terminate_backend');
    const lock = await store.lock('k', LONG);
    assert.equal(lock.lost, false);
    await lock.release();
    // Only the pool's idle connection may be reported lost; the spare goes quietly.
    assert.ok(
      warnings.every((w) => /PostgreSQL connection to .* lost/.test(w)),
      warnings.join('\n'),
    );
  } finally {
    await store.close();
    await dropTable(base, table);
  }
});
