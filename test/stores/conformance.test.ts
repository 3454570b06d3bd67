/** Runs the TokenStore conformance suite against memory, file, PostgreSQL and Redis. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { dropPrefix, dropTable, requireService, uniqueName, withPg, withRedis } from '../helpers/services.js';
import { conformance } from './conformance.js';

conformance('memory', async () => ({ store: new MemoryStore(), warnings: [], cleanup: async () => {} }));

conformance('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tw-conf-'));
  const warnings: string[] = [];
  const key = randomBytes(32);
  const store = new FileStore({ dir: join(dir, 'tokens'), key, onWarning: (m) => warnings.push(m) });
  return {
    store,
    warnings,
    cleanup: () => rm(dir, { recursive: true, force: true }),
    reopen: async () => new FileStore({ dir: join(dir, 'tokens'), key, onWarning: () => {} }),
    stealLock: (k) => unlink(join(store.dir, `${k}.lock`)),
  };
});

conformance('postgres', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return undefined;
  const table = uniqueName();
  const warnings: string[] = [];
  const key = randomBytes(32);
  const store = new PostgresStore({ url, table, key, onWarning: (m) => warnings.push(m) });
  return {
    store,
    warnings,
    cleanup: () => dropTable(url, table),
    reopen: async () => new PostgresStore({ url, table, key, onWarning: () => {} }),
    // Ends the session holding this very advisory lock (a bigint lock shows as classid = high 32
    // bits, objid = low 32 bits, objsubid = 1), as an administrator or a server restart would.
    stealLock: async (k) => {
      const h = createHash('sha256').update(`${table}\0${k}`).digest();
      await withPg(url, (c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
          [String(h.readUInt32BE(0)), String(h.readUInt32BE(4))],
        ),
      );
    },
  };
});

conformance('redis', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return undefined;
  const prefix = `${uniqueName()}:`;
  const warnings: string[] = [];
  const key = randomBytes(32);
  const store = new RedisStore({ url, prefix, key, onWarning: (m) => warnings.push(m) });
  return {
    store,
    warnings,
    cleanup: () => dropPrefix(url, prefix),
    reopen: async () => new RedisStore({ url, prefix, key, onWarning: () => {} }),
    stealLock: async (k) => {
      await withRedis(url, (r) => r.del(`${prefix}lock:${k}`));
    },
  };
});
