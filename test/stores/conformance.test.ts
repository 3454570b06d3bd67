/** Runs the TokenStore conformance suite against memory, file, PostgreSQL and Redis. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { dropPrefix, dropTable, requireService, uniqueName } from '../helpers/services.js';
import { conformance } from './conformance.js';

conformance('memory', async () => ({ store: new MemoryStore(), warnings: [], cleanup: async () => {} }));

conformance('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tw-conf-'));
  const warnings: string[] = [];
  const store = new FileStore({
    dir: join(dir, 'tokens'),
    key: randomBytes(32),
    onWarning: (m) => warnings.push(m),
  });
  return {
    store,
    warnings,
    cleanup: () => rm(dir, { recursive: true, force: true }),
    holderElsewhere: async (key) => {
      const path = join(store.dir, `${key}.lock`);
      const info = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
      await writeFile(path, JSON.stringify({ ...info, host: `elsewhere-${String(info['host'])}` }));
    },
  };
});

conformance('postgres', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return undefined;
  const table = uniqueName();
  const warnings: string[] = [];
  const store = new PostgresStore({ url, table, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  return { store, warnings, cleanup: () => dropTable(url, table) };
});

conformance('redis', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return undefined;
  const prefix = `${uniqueName()}:`;
  const warnings: string[] = [];
  const store = new RedisStore({ url, prefix, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  return { store, warnings, cleanup: () => dropPrefix(url, prefix) };
});
