/**
 * The herd scenario, shared by the file, PostgreSQL and Redis herd tests: 16 separate OS processes with
 * the same profile and store start together on a cold cache -> exactly one token request; after expiry
 * -> exactly one refresh; again -> one more refresh. The token server rotates refresh tokens and revokes
 * the old one on use: no process may ever present a revoked one (no invalid_grant, no password fallback).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Profile } from '../../src/profile.js';
import { cacheKey } from '../../src/stores/cache-key.js';
import { createStore } from '../../src/stores/index.js';
import { simpleClient } from '../helpers/simple-client.js';
import { startTokenServer } from '../helpers/token-server.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

export const HERD_SIZE = 16;
const LIFETIME_S = 4;

interface ChildResult {
  ok: boolean;
  error?: string;
  accessToken?: string;
  refreshToken?: string;
  expiresAt?: number;
  counts?: { grants: number; refreshes: number; storeHits: number };
  warnings: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function phase(worker: Worker, config: unknown, env: NodeJS.ProcessEnv): Promise<ChildResult[]> {
  const children = Array.from({ length: HERD_SIZE }, () => run(worker, [JSON.stringify(config)], env));
  try {
    await Promise.all(children.map((c) => c.waitFor((l) => l === 'ready')));
    for (const c of children) c.child.stdin?.write('go\n');
    const lines = await Promise.all(children.map((c) => c.waitFor((l) => l.startsWith('{'))));
    await Promise.all(children.map((c) => c.exited));
    return lines.map((l) => JSON.parse(l) as ChildResult);
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
}

/** Runs the herd scenario for one profile (its store settings). `withKey` passes a key; else the key file races. */
export async function herdScenario(
  t: TestContext,
  profile: Profile,
  options: { env?: NodeJS.ProcessEnv; withKey: boolean },
): Promise<void> {
  const server = await startTokenServer({ lifetime: LIFETIME_S, latencyMs: 50, rotate: true });
  const worker = await prepareWorker('herd-child');
  const key = options.withKey ? randomBytes(32) : undefined;
  const env = options.env ?? process.env;
  const config = {
    profile,
    tokenUrl: server.tokenUrl,
    ...(key === undefined ? {} : { keyHex: key.toString('hex') }),
  };
  try {
    const check = (results: ChildResult[], label: string) => {
      for (const r of results) assert.ok(r.ok, `${label}: a child failed: ${r.error}`);
      const tokens = new Set(results.map((r) => r.accessToken));
      assert.equal(tokens.size, 1, `${label}: every process got the same token`);
      for (const r of results) {
        assert.deepEqual(
          r.warnings.filter((w) => w !== 'store: ' && !w.startsWith('store: broke a stale lock')),
          [],
          `${label}: no warnings`,
        );
      }
      return Math.max(...results.map((r) => r.expiresAt ?? 0));
    };

    // 1. Cold cache: one password grant for sixteen processes.
    let expiresAt = check(await phase(worker, config, env), 'cold');
    assert.equal(server.counts.total, 1, 'cold cache: exactly one token request');
    assert.equal(server.counts.byGrant['password'], 1);

    // 2 and 3. After expiry: one refresh each time, with rotation, never a revoked refresh token.
    for (const round of [1, 2]) {
      await sleep(Math.max(0, expiresAt - Date.now()) + 100);
      expiresAt = check(await phase(worker, config, env), `expiry ${round}`);
      assert.equal(server.counts.byGrant['refresh_token'], round, `expiry ${round}: exactly one refresh`);
      assert.equal(
        server.counts.byGrant['password'],
        1,
        `expiry ${round}: no fallback to the password grant`,
      );
      assert.equal(server.counts.total, 1 + round);
      assert.equal(server.rejectedRefreshes, 0, `expiry ${round}: no invalid_grant`);
    }

    // The store holds the live (not revoked) refresh token.
    const store = await createStore(profile, { env, ...(key === undefined ? {} : { key }) });
    try {
      const client = simpleClient(server.tokenUrl, 'password');
      const entry = await store.get(cacheKey(profile.name, client.identity));
      const rt = entry?.token?.refreshToken;
      assert.ok(
        rt !== undefined && server.liveRefreshTokens.has(rt),
        'the stored refresh token is the live one',
      );
    } finally {
      await store.close();
    }
    t.diagnostic(`${HERD_SIZE} processes x 3 rounds: ${JSON.stringify(server.counts.byGrant)}`);
  } finally {
    await worker.dispose();
    await server.close();
  }
}
