/**
 * Real PostgreSQL and Redis for tests. `requireService(t, kind)` checks once per process that the server
 * answers. Unreachable: under CI (see `isCI`) the test fails; elsewhere it is skipped with a clear message.
 * `missing(t, …)` applies the same rule to a program a test needs (openssl, bash, script, redis-server…).
 *
 * URLs: TOKENWARD_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test, trust auth) and
 * TOKENWARD_TEST_REDIS_URL (default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';

export type ServiceKind = 'postgres' | 'redis';

export const SERVICE_URLS: Record<ServiceKind, string> = {
  postgres: process.env['TOKENWARD_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
  redis: process.env['TOKENWARD_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
};

const NAMES: Record<ServiceKind, string> = { postgres: 'PostgreSQL', redis: 'Redis' };
const probes = new Map<ServiceKind, Promise<string | undefined>>();

async function probe(kind: ServiceKind): Promise<string | undefined> {
  const url = SERVICE_URLS[kind];
  try {
    if (kind === 'postgres') await withPg(url, (c) => c.query('SELECT 1'));
    else await withRedis(url, (r) => r.ping());
    return undefined;
  } catch (err) {
    const u = new URL(url);
    return `${NAMES[kind]} not reachable at ${u.hostname}:${u.port || (kind === 'postgres' ? 5432 : 6379)}: ${
      err instanceof Error ? err.message : String(err)
    }`;
  }
}

/**
 * True when the tests run under CI: the `CI` variable is set to anything but an empty string or one of
 * `false`, `0`, `no`, `off` (any case). CI services set `CI=true` (GitHub, GitLab, …) or `CI=1`; `.ci/run`
 * sets `CI=true` itself. Under CI a test never skips for a missing service or program: it fails.
 */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['CI']?.trim().toLowerCase();
  return v !== undefined && v !== '' && !['false', '0', 'no', 'off'].includes(v);
}

/**
 * Something the test needs is missing: outside CI the test is skipped (reported as skipped, with how to
 * install it); under CI this throws, failing the test. Call it as `return missing(t, …)`.
 * @param what - what is missing, e.g. "openssl".
 * @param install - how to get it, e.g. "apt-get install openssl".
 */
export function missing(t: TestContext, what: string, install: string): void {
  const message = `${what} is not available (install it: ${install})`;
  if (isCI()) throw new Error(`${message} — CI=${process.env['CI']}: required, not skipped`);
  t.skip(message);
}

/**
 * Returns the service's URL, or `undefined` after skipping the test when the service is unreachable
 * (outside CI). Under CI (`isCI()`) an unreachable service throws, failing the test.
 */
export async function requireService(t: TestContext, kind: ServiceKind): Promise<string | undefined> {
  let p = probes.get(kind);
  if (p === undefined) {
    p = probe(kind);
    probes.set(kind, p);
  }
  const problem = await p;
  if (problem === undefined) return SERVICE_URLS[kind];
  if (isCI()) throw new Error(`${problem} (CI=${process.env['CI']}: the service is required)`);
  t.skip(`${problem} — start it to run this test`);
  return undefined;
}

/** A name unique to this test run, for Postgres tables (`tw_test_…`) and Redis prefixes. */
export function uniqueName(base = 'tw_test'): string {
  return `${base}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Drops a test table. */
export async function dropTable(url: string, table: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query(`DROP TABLE IF EXISTS "${table}"`);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Deletes every Redis key under a prefix. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Runs `fn` with a fresh PostgreSQL client (3 s connect timeout), ended afterwards. */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Runs `fn` with a fresh Redis connection (3 s connect and command timeouts, no retry), dropped afterwards. */
export async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    commandTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}
