/**
 * Stores never hang, and a dead or frozen lock holder costs one lease. Against throwaway Redis and
 * PostgreSQL servers started by this file on free loopback ports (never the shared 6379/5432), frozen
 * with SIGSTOP and thawed with SIGCONT by pid:
 * - every store operation, the token manager's forced renewal and the callers joining it, and close()
 *   end while the server is frozen: with a typed StoreError naming host:port, or the still-valid token;
 * - a lock holder whose server froze learns that its lease is lost;
 * - a lock holder process that is frozen (SIGSTOP) or killed (SIGKILL) lets the next caller in after
 *   one lease (file, PostgreSQL, Redis), and the frozen one, once continued, knows it lost the lock;
 * - a file lock naming a live foreign pid (1) costs one lease, not the lease it claims.
 * Counts and error types are asserted, never durations: the generous waits only bound a hang.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StoreError } from '../../src/errors.js';
import { TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { FileStore } from '../../src/stores/file.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { storeKey as makeStoreKey } from '../../src/stores/store-key.js';
import type { StoredEntry, TokenStore } from '../../src/stores/types.js';
import { uniqueName } from '../helpers/services.js';
import {
  requireThrowaway,
  startPostgresServer,
  startRedisServer,
  type Throwaway,
} from '../helpers/throwaway.js';
import { profileFor, startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

type Kind = 'redis' | 'postgres';
const servers: Partial<Record<Kind, Throwaway | string>> = {};
let holder: Worker;
let tokenServer: TokenServer;
const dirs: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encKey = randomBytes(32);
/** Short bounds, so that the tests are quick; the defaults are 5 s / 5 s / 2 s. */
const BOUNDS = { connect: 1_500, command: 1_500, close: 1_000 };
/** Bounds a hang: far above every bound the stores are given. */
const HANG = { timeout: 120_000 };

before(async () => {
  const [r, p] = await Promise.all([startRedisServer(), startPostgresServer()]);
  servers.redis = r;
  servers.postgres = p;
  holder = await prepareWorker('lease-holder');
  tokenServer = await startTokenServer({ lifetime: 3600, latencyMs: 0 });
});

after(async () => {
  for (const s of Object.values(servers)) if (typeof s === 'object') await s.stop();
  await holder?.dispose();
  await tokenServer?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A store on the throwaway server: Redis gets its bounds from URL parameters, PostgreSQL as options. */
function openStore(kind: Kind, server: Throwaway, warnings: string[] = [], name = uniqueName()): TokenStore {
  const onWarning = (m: string) => warnings.push(m);
  if (kind === 'redis') {
    const url = `${server.url}/0?connect_timeout_ms=${BOUNDS.connect}&command_timeout_ms=${BOUNDS.command}&close_timeout_ms=${BOUNDS.close}`;
    return new RedisStore({ url, prefix: `${name}:`, key: encKey, onWarning });
  }
  return new PostgresStore({
    url: server.url,
    table: name,
    key: encKey,
    onWarning,
    connectTimeoutMs: BOUNDS.connect,
    commandTimeoutMs: BOUNDS.command,
    closeTimeoutMs: BOUNDS.close,
  });
}

function entry(key: string): StoredEntry {
  const now = Date.now();
  return {
    v: 1,
    key,
    updatedAt: now,
    token: {
      accessToken: `at-${randomBytes(8).toString('hex')}`,
      tokenType: 'Bearer',
      expiresAt: now + 3_600_000,
      obtainedAt: now,
      expirySource: 'expires_in',
      raw: {},
    },
  };
}

function assertStoreError(err: unknown, kind: Kind, server: Throwaway, label: string): void {
  assert.ok(err instanceof StoreError, `${label}: a StoreError, got ${String(err)}`);
  assert.equal(err.store, kind, label);
  assert.ok(err.message.includes(`127.0.0.1:${server.port}`), `${label}: names host:port: ${err.message}`);
}

for (const kind of ['redis', 'postgres'] as const) {
  describe(`${kind}: a frozen server (SIGSTOP)`, () => {
    test(
      'every operation ends with a StoreError naming host:port; a held lock is reported lost; close() ends',
      HANG,
      async (t) => {
        const server = servers[kind];
        if (!requireThrowaway(t, server)) return;
        const warnings: string[] = [];
        const store = openStore(kind, server, warnings);
        await store.set(entry('k-frozen'));
        const held = await store.lock('k-held', { ttlMs: 1_500, timeoutMs: 5_000 });
        server.freeze();
        try {
          const results = await Promise.allSettled([
            store.get('k-frozen'),
            store.set(entry('k-frozen')),
            store.delete('k-frozen'),
            store.list(),
            store.lock('k-other', { ttlMs: 1_500, timeoutMs: 2_000 }),
          ]);
          const labels = ['get', 'set', 'delete', 'list', 'lock'];
          results.forEach((r, i) => {
            assert.equal(r.status, 'rejected', `${labels[i]} did not fail`);
            if (r.status === 'rejected') assertStoreError(r.reason, kind, server, labels[i] ?? '');
          });
          // The holder cannot renew its lease: it learns that it may have lost the lock.
          for (let i = 0; i < 600 && held.lost !== true; i++) await sleep(50);
          assert.equal(held.lost, true, 'a lease that could not be renewed is reported lost');
          assert.equal(warnings.filter((w) => /lost the .*lock/.test(w)).length, 1, warnings.join('\n'));
          await held.release(); // ends (bounded), whatever the server does
          // close() while a read still waits for the frozen server: both end, the read with a StoreError.
          const pending = store.get('k-frozen');
          await store.close();
          await assert.rejects(pending, (err) => {
            assertStoreError(err, kind, server, 'read pending at close');
            return true;
          });
        } finally {
          server.thaw();
        }
        // Thawed, a new store works again.
        const again = openStore(kind, server);
        try {
          await again.set(entry('k-after'));
          assert.ok((await again.get('k-after'))?.token !== undefined);
        } finally {
          await again.close();
        }
      },
    );

    test(
      'the token manager: a forced renewal and the callers joining it end with a StoreError, a still-valid token is served, close() ends',
      HANG,
      async (t) => {
        const server = servers[kind];
        if (!requireThrowaway(t, server)) return;
        const store = openStore(kind, server);
        const warnings: TokenwardWarning[] = [];
        let now = Date.now();
        const manager = new TokenManager({
          client: await createTokenClient(profileFor(tokenServer, { retries: 0 })),
          key: makeStoreKey('outage', { kind, n: uniqueName() }),
          store,
          clock: () => now,
          ownsStore: true,
          lockLeaseMs: 1_500,
          lockTimeoutMs: 5_000,
          onWarning: (w) => warnings.push(w),
        });
        const first = await manager.getToken();
        const requestsBefore = tokenServer.counts.total;
        server.freeze();
        try {
          const forced = await Promise.allSettled([
            manager.getToken({ force: true }),
            manager.getToken({ force: true }),
            manager.getToken({ force: true }),
          ]);
          assert.deepEqual(
            forced.map((r) => r.status),
            ['rejected', 'rejected', 'rejected'],
          );
          for (const r of forced)
            if (r.status === 'rejected') assertStoreError(r.reason, kind, server, 'forced');
          // A caller that would renew early (it asks for 30 min; 10 min are left) gets the valid token.
          now += 50 * 60_000;
          const served = await manager.getToken({ minTtlMs: 30 * 60_000 });
          assert.equal(served.accessToken, first.accessToken);
          assert.ok(warnings.some((w) => w.code === 'SERVED_STALE_MARGIN'));
          assert.equal(tokenServer.counts.total, requestsBefore, 'no token request while the store was down');
          await manager.close(); // closes the store too (ownsStore)
        } finally {
          server.thaw();
        }
      },
    );
  });
}

type HolderKind = 'file' | Kind;

async function holderTarget(t: Parameters<typeof requireThrowaway>[0], kind: HolderKind) {
  if (kind === 'file') {
    const d = await mkdtemp(join(tmpdir(), 'tw-lease-'));
    dirs.push(d);
    const dir = join(d, 'tokens');
    const warnings: string[] = [];
    return {
      target: dir,
      prefix: '',
      warnings,
      store: new FileStore({ dir, key: encKey, onWarning: (m) => warnings.push(m) }) as TokenStore,
    };
  }
  const server = servers[kind];
  if (!requireThrowaway(t, server)) return undefined;
  const name = uniqueName();
  const warnings: string[] = [];
  const store = openStore(kind, server, warnings, name);
  return { target: server.url, prefix: kind === 'redis' ? `${name}:` : name, warnings, store };
}

for (const kind of ['file', 'postgres', 'redis'] as const) {
  test(
    `${kind}: a lock holder frozen with SIGSTOP lets the next caller in after one lease, and knows it lost the lock once continued; a SIGKILLed one too`,
    HANG,
    async (t) => {
      const h = await holderTarget(t, kind);
      if (h === undefined) return;
      const { store, target, prefix } = h;
      const LEASE = 1_500;
      const storeKey = makeStoreKey('lease', { kind });
      const args = [kind, target, prefix, encKey.toString('hex'), storeKey, String(LEASE)];
      try {
        // Frozen holder.
        const frozen = run(holder, args);
        await frozen.waitFor((l) => l === 'locked');
        await assert.rejects(store.lock(storeKey, { ttlMs: LEASE, timeoutMs: 200 }), {
          code: 'ERR_LOCK_TIMEOUT',
        });
        frozen.child.kill('SIGSTOP');
        const taken = await store.lock(storeKey, { ttlMs: LEASE, timeoutMs: 60_000 });
        frozen.child.kill('SIGCONT');
        await frozen.waitFor((l) => l === 'lost');
        assert.equal(
          frozen.lines.filter((l) => l.startsWith('warning lost the')).length,
          1,
          frozen.lines.join('\n'),
        );
        frozen.child.kill('SIGKILL');
        await frozen.exited;
        assert.equal(taken.lost, false);
        await taken.release();

        // Killed holder.
        const killed = run(holder, args);
        await killed.waitFor((l) => l === 'locked');
        killed.child.kill('SIGKILL');
        await killed.exited;
        const next = await store.lock(storeKey, { ttlMs: LEASE, timeoutMs: 60_000 });
        await next.release();
        if (kind === 'file') {
          assert.equal(h.warnings.length, 2, h.warnings.join('\n'));
          assert.match(
            h.warnings[0] ?? '',
            /broke a stale lock .*: held by pid \d+ on this host, not renewed for \d+ ms \(its lease is 1500 ms\)/,
          );
          assert.match(
            h.warnings[1] ?? '',
            /broke a stale lock .*: its holder, pid \d+ on this host, is gone/,
          );
        } else {
          assert.deepEqual(h.warnings, []);
        }
      } finally {
        await store.close();
      }
    },
  );
}

test(
  'file: a lock naming a live foreign pid (1) and claiming a 60 s lease costs one lease (at least 6 s), not 60 s',
  HANG,
  async () => {
    const d = await mkdtemp(join(tmpdir(), 'tw-lease-'));
    dirs.push(d);
    const dir = join(d, 'tokens');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(
      join(dir, 'k-pid1.lock'),
      JSON.stringify({ pid: 1, host: hostname(), createdAt: Date.now(), ttlMs: 60_000, nonce: 'planted' }),
      { mode: 0o600 },
    );
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: encKey, onWarning: (m) => warnings.push(m) });
    // A wait shorter than the claimed lease: it succeeds only because the claim is not honoured.
    const lock = await store.lock('k-pid1', { ttlMs: 2_000, timeoutMs: 40_000 });
    await lock.release();
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /held by pid 1 on this host, not renewed for \d+ ms \(its lease is 6000 ms\)/,
    );
  },
);
