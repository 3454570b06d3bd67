/**
 * Failure behaviour of the shared stores, with no server needed: an unreachable PostgreSQL or Redis is a
 * StoreError that names the server (host:port, never the password) and the reason, within a bounded
 * connect timeout, and leaves nothing running that would keep the process alive;
 * `store_fallback_memory = true` turns it into a warning and a memory store.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { ConfigError, StoreError } from '../../src/errors.js';
import { createStore } from '../../src/stores/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { prepareWorker, run } from './fixtures/workers.js';

const key = Buffer.alloc(32, 3);
const PASSWORD = 'Sup3r-S3cret-pw';

/** Everything an error exposes: message, JSON, stack, cause (inspected deeply). */
function everything(err: unknown): string {
  const e = err as Error & { toJSON?: () => unknown };
  return [e.message, JSON.stringify(e.toJSON?.()), e.stack, inspect(err, { depth: 6 })].join('\n');
}

function assertNamesServer(err: unknown, store: 'postgres' | 'redis', where: string, why: RegExp): void {
  assert.ok(err instanceof StoreError, `a StoreError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_STORE');
  assert.equal(err.store, store);
  assert.ok(err.message.includes(where), `the message names ${where}: ${err.message}`);
  assert.match(err.message, why);
  assert.ok(!everything(err).includes(PASSWORD), 'the password appears nowhere in the error');
  assert.ok(
    !err.message.includes('[REDACTED]'),
    'the message is built without the password, not scrubbed after',
  );
  assert.ok(err.target !== undefined && !err.target.includes(PASSWORD));
}

describe('unreachable servers', () => {
  test('PostgreSQL refused: StoreError naming user@127.0.0.1:1/db and "connection refused", no password', async () => {
    await assert.rejects(
      createStore({ store: 'postgres', store_url: `postgres://alice:${PASSWORD}@127.0.0.1:1/test` }, { key }),
      (err) => {
        assertNamesServer(err, 'postgres', 'alice@127.0.0.1:1/test', /cannot connect: connection refused/);
        return true;
      },
    );
  });

  test('Redis refused: StoreError naming redis://127.0.0.1:1/0 and "connection refused", no password (with or without a user)', async () => {
    for (const url of [`redis://:${PASSWORD}@127.0.0.1:1`, `redis://bob:${PASSWORD}@127.0.0.1:1/2`]) {
      await assert.rejects(createStore({ store: 'redis', store_url: url }, { key }), (err) => {
        assertNamesServer(err, 'redis', '127.0.0.1:1/', /cannot connect: connection refused/);
        return true;
      });
    }
  });

  describe('a server that accepts connections but never answers', () => {
    let server: Server;
    let port = 0;
    const sockets: Socket[] = [];
    before(async () => {
      server = createServer((s) => {
        sockets.push(s);
        s.on('error', () => {});
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => {
      server.close();
      for (const s of sockets) s.destroy();
    });

    test('PostgreSQL: the connect timeout bounds the wait and the error says so', async () => {
      const store = new PostgresStore({
        url: `postgres://alice:${PASSWORD}@127.0.0.1:${port}/test`,
        key,
        connectTimeoutMs: 300,
      });
      try {
        await assert.rejects(store.connect(), (err) => {
          assertNamesServer(err, 'postgres', `127.0.0.1:${port}`, /no answer within 300 ms/);
          return true;
        });
      } finally {
        await store.close();
      }
    });

    test('Redis: the connect timeout bounds the wait (including the ready check) and the error says so', async () => {
      const store = new RedisStore({
        url: `redis://:${PASSWORD}@127.0.0.1:${port}`,
        key,
        connectTimeoutMs: 300,
      });
      try {
        await assert.rejects(store.connect(), (err) => {
          assertNamesServer(err, 'redis', `127.0.0.1:${port}`, /no answer within 300 ms/);
          return true;
        });
      } finally {
        await store.close();
      }
    });
  });

  test('after such failures nothing keeps the process alive: it exits by itself (no reconnect loop, no stray timer)', async () => {
    const worker = await prepareWorker('unreachable');
    try {
      const w = run(worker, []);
      await w.waitFor((l) => l === 'done');
      const exited = await Promise.race([
        w.exited,
        new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000).unref()),
      ]);
      if (exited === 'still running') w.child.kill('SIGKILL');
      assert.notEqual(exited, 'still running', 'the worker did not exit by itself');
      assert.deepEqual(exited, { code: 0, signal: null });
      assert.equal(w.stderr.join(''), '', 'no unhandled error');
      const results = w.lines
        .filter((l) => l.startsWith('{"label"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const open = w.lines.find((l) => l.startsWith('{"open"'));
      assert.equal(open, '{"open":[]}', 'no socket, server or lookup left open after the failures');
      assert.equal(
        w.lines.find((l) => l.startsWith('{"pendingAfterRefused"')),
        '{"pendingAfterRefused":[]}',
        'refused connections leave no socket and no timer behind',
      );
      assert.deepEqual(
        results.map((r) => [r['label'], r['ok'], r['isStoreError'] ?? r['kind']]),
        [
          ['postgres-refused', false, true],
          ['redis-refused', false, true],
          ['redis-fallback', true, 'memory'],
          ['postgres-silent', false, true],
          ['redis-silent', false, true],
        ],
      );
      for (const r of results) assert.ok(!JSON.stringify(r).includes('Pw-in-url'), 'no password in output');
    } finally {
      await worker.dispose();
    }
  });
});

describe('store_fallback_memory', () => {
  for (const [kind, url, where] of [
    ['postgres', `postgres://alice:${PASSWORD}@127.0.0.1:1/test`, 'alice@127.0.0.1:1/test'],
    ['redis', `redis://:${PASSWORD}@127.0.0.1:1`, 'redis://127.0.0.1:1/0'],
  ] as const) {
    test(`${kind}: unreachable -> a memory store and one warning that names the server and the fallback, no password`, async () => {
      const warnings: string[] = [];
      const store = await createStore(
        { store: kind, store_url: url, store_fallback_memory: true },
        { key, onWarning: (m) => warnings.push(m) },
      );
      assert.ok(store instanceof MemoryStore);
      assert.equal(store.shared, false);
      assert.equal(warnings.length, 1);
      assert.ok(warnings[0]?.includes(where), warnings[0]);
      assert.match(warnings[0] ?? '', /connection refused.*store_fallback_memory/);
      assert.ok(!warnings[0]?.includes(PASSWORD));
      await store.close();
    });
  }

  test('without it (the default, or false) the StoreError is thrown', async () => {
    for (const fallback of [undefined, false]) {
      await assert.rejects(
        createStore(
          {
            store: 'redis',
            store_url: 'redis://127.0.0.1:1',
            ...(fallback === undefined ? {} : { store_fallback_memory: fallback }),
          },
          { key },
        ),
        { code: 'ERR_STORE' },
      );
    }
  });

  test('configuration mistakes are not hidden by the fallback: a missing store_url, a bad table name, an unknown store', async () => {
    await assert.rejects(
      createStore({ name: 'p', store: 'postgres', store_fallback_memory: true }, { key }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.key === 'profiles.p.store' &&
        /store = "postgres" needs store_url/.test(err.message),
    );
    await assert.rejects(
      createStore(
        {
          store: 'postgres',
          store_url: 'postgres://127.0.0.1:1/x',
          store_prefix: 'bad-name; drop',
          store_fallback_memory: true,
        },
        { key },
      ),
      (err: unknown) => err instanceof StoreError && /invalid table name/.test(err.message),
    );
    await assert.rejects(
      createStore({ store: 'nosql' as 'file', store_fallback_memory: true }, { key }),
      (err: unknown) => err instanceof ConfigError && /unknown store "nosql"/.test(err.message),
    );
  });
});
