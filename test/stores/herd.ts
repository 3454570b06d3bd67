/**
 * The herd scenario, shared by the file, PostgreSQL and Redis herd tests: 16 separate OS processes with
 * the same profile and store, each round each with a new manager built through the front door
 * (`createTokenManager`: the real `oauth2` provider with client_secret_basic, the password grant, the
 * refresh grant and the HTTP layer, and a newly opened store), ask for a token at the same moment:
 *
 * 1. on a cold cache → exactly one password grant;
 * 2. after expiry → exactly one refresh, which rotates the refresh token (the server revokes the old one);
 * 3. after expiry, the server answering without a refresh token → exactly one refresh, and the refresh
 *    token in use is kept;
 * 4. after expiry → exactly one refresh with that kept refresh token (no fallback to the password).
 *
 * No process may ever present a revoked refresh token (no invalid_grant). Nothing depends on the
 * machine's speed: tokens live a day on the server, and the test expires the stored token itself
 * between phases (rewriting the entry through the store API with an `expiresAt` in the past).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createTokenManager } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { profileFor, startTokenServer, TEST_CLIENT, TEST_USER } from '../helpers/token-server.js';
import { prepareWorker, run, type Worker } from './fixtures/workers.js';

export const HERD_SIZE = 16;
/**
 * The herd tests' own time limit: starting 16 Node processes takes minutes when other work saturates
 * the CPUs (seen: 90 s at a load average of 57 on two cores). The scenario does not depend on speed;
 * this bound only ends a test that hangs. (scripts/test.mjs bounds every test file at 10 minutes.)
 */
export const HERD_TEST_OPTIONS = { timeout: 9 * 60_000 } as const;
/**
 * The store URL with generous connect and command bounds (`connect_timeout_ms`, `command_timeout_ms`):
 * on two saturated cores, sixteen processes connecting at once have waited longer than the stores' 5 s
 * default for a connection. The herd tests single flight, not outage handling (test/stores/ has those).
 */
export function patientStoreUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set('connect_timeout_ms', '60000');
  u.searchParams.set('command_timeout_ms', '60000');
  return u.toString();
}

/** A day: no token expires on the wall clock during the test, however slow the machine. */
const LIFETIME_S = 86_400;
/**
 * The lock's lease in the herd (the default is 10 s). A holder that cannot renew its lease within one
 * lease loses the lock by design (a frozen process is not told apart from a dead one), and then a
 * waiter takes over and renews too. At a load average of 40 on two cores, a Redis herd's holder went
 * that long without its renewal answered, and two processes refreshed (seen once: "expiry 2 … every
 * process got the same token", 2 tokens). The herd tests single flight, not lease loss (the conformance
 * and outage tests have that): a lease no scheduler delay reaches.
 */
const HERD_TUNING = { lockLeaseMs: 120_000 } as const;

interface ChildResult {
  ok: boolean;
  error?: string;
  accessToken?: string;
  refreshToken?: string;
  expiresAt?: number;
  counts?: { grants: number; refreshes: number; storeHits: number };
  warnings: string[];
}

/** The herd: {@link HERD_SIZE} worker processes, started once, that obtain a token together each round. */
interface Herd {
  /** Runs round `n` (1, 2, …): every process builds a new manager, then all call getToken() at once. */
  round(n: number): Promise<ChildResult[]>;
  /** Ends the processes (killing any that do not exit). */
  stop(): Promise<void>;
}

function startHerd(worker: Worker, config: unknown, env: NodeJS.ProcessEnv): Herd {
  const children = Array.from({ length: HERD_SIZE }, () => run(worker, [JSON.stringify(config)], env));
  return {
    async round(n) {
      await Promise.all(children.map((c) => c.waitFor((l) => l === `ready ${n}`)));
      for (const c of children) c.child.stdin?.write(`go ${n}\n`);
      const prefix = `result ${n} `;
      const lines = await Promise.all(children.map((c) => c.waitFor((l) => l.startsWith(prefix))));
      return lines.map((l) => JSON.parse(l.slice(prefix.length)) as ChildResult);
    },
    async stop() {
      for (const c of children) c.child.stdin?.end('exit\n');
      const killer = setTimeout(() => {
        for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
      }, 30_000);
      try {
        await Promise.all(children.map((c) => c.exited));
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/**
 * Expires the stored token as the wall clock would have: the same entry, written back through the
 * store API with `expiresAt` a minute in the past. Returns the refresh token it holds.
 */
async function expireStoredToken(
  profile: Profile,
  env: NodeJS.ProcessEnv,
  key: Buffer | undefined,
): Promise<string | undefined> {
  const warnings: string[] = [];
  const m = await createTokenManager(profile, {
    env,
    ...(key === undefined ? {} : { encryptionKey: key }),
    onWarning: (w) => warnings.push(`${w.code}: ${w.message}`),
  });
  try {
    const entry = await m.store.get(m.key);
    const token = entry?.token;
    assert.ok(entry !== undefined && token !== undefined, 'a token is stored');
    const expiresAt = Date.now() - 60_000;
    await m.store.set({
      ...entry,
      token: { ...token, expiresAt, obtainedAt: expiresAt - LIFETIME_S * 1000 },
      updatedAt: Date.now(),
    });
    assert.deepEqual(warnings, [], 'expiring the stored token: no warnings');
    return token.refreshToken;
  } finally {
    await m.close();
  }
}

/** Runs the herd scenario for one profile (its store settings). `withKey` passes a key; else the key file races. */
export async function herdScenario(
  t: TestContext,
  storeProfile: Profile,
  options: { env?: NodeJS.ProcessEnv; withKey: boolean },
): Promise<void> {
  const server = await startTokenServer({
    lifetime: LIFETIME_S,
    latencyMs: 50,
    rotate: true,
    clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret },
    users: { [TEST_USER.username]: TEST_USER.password },
  });
  const worker = await prepareWorker('herd-child');
  const key = options.withKey ? randomBytes(32) : undefined;
  const env = options.env ?? process.env;
  const profile: Profile = {
    ...storeProfile,
    ...profileFor(server, { username: TEST_USER.username, password: TEST_USER.password }),
    eager_refresh: 1,
  };
  const config = {
    profile,
    tuning: HERD_TUNING,
    ...(key === undefined ? {} : { keyHex: key.toString('hex') }),
  };
  const herd = startHerd(worker, config, env);
  try {
    /** Checks one phase: everyone succeeded with the same token, and exactly one process did the work. */
    const check = (results: ChildResult[], label: string): ChildResult => {
      for (const r of results) assert.ok(r.ok, `${label}: a child failed: ${r.error}`);
      // On a failure, what each process got (token by its index among the distinct ones), did and heard.
      const tokens = [...new Set(results.map((r) => r.accessToken))];
      const detail = () =>
        results
          .map(
            (r, i) =>
              `\n  process ${i}: token #${tokens.indexOf(r.accessToken)}, ${JSON.stringify(r.counts)}, warnings ${JSON.stringify(r.warnings)}`,
          )
          .join('');
      assert.equal(tokens.length, 1, `${label}: every process got the same token${detail()}`);
      const work = results.map((r) => (r.counts?.grants ?? 0) + (r.counts?.refreshes ?? 0));
      assert.equal(
        work.reduce((a, b) => a + b, 0),
        1,
        `${label}: one process obtained the token, the others read it from the store${detail()}`,
      );
      for (const r of results) {
        assert.deepEqual(
          r.warnings.filter((w) => !/^STORE: broke a stale lock/.test(w)),
          [],
          `${label}: no warnings`,
        );
      }
      assert.equal(server.rejectedRefreshes, 0, `${label}: no invalid_grant`);
      assert.equal(server.rejectedClients, 0, `${label}: the client authenticated`);
      return results[0] as ChildResult;
    };
    const phaseRequests = (from: number) => server.requests.slice(from).map((r) => [r.grant, r.refreshToken]);

    // 1. Cold cache: one password grant for sixteen processes.
    let seen = check(await herd.round(1), 'cold');
    assert.deepEqual(server.counts.byGrant, { password: 1 }, 'cold cache: exactly one token request');

    // 2-4. After each expiry: exactly one refresh, never a revoked refresh token, no password fallback.
    const rounds: Array<{ label: string; rotate: boolean }> = [
      { label: 'expiry 1 (rotating)', rotate: true },
      { label: 'expiry 2 (no new refresh token)', rotate: false },
      { label: 'expiry 3 (rotating, with the kept refresh token)', rotate: true },
    ];
    for (const [i, round] of rounds.entries()) {
      const stored = await expireStoredToken(profile, env, key);
      assert.equal(stored, seen.refreshToken, `${round.label}: the store holds the last refresh token`);
      assert.ok(
        stored !== undefined && server.liveRefreshTokens.has(stored),
        `${round.label}: and it is live`,
      );
      server.rotate = round.rotate;
      const before = server.requests.length;
      const next = check(await herd.round(i + 2), round.label);
      assert.notEqual(next.accessToken, seen.accessToken, `${round.label}: a new access token`);
      assert.deepEqual(
        phaseRequests(before),
        [['refresh_token', stored]],
        `${round.label}: exactly one refresh`,
      );
      assert.deepEqual(server.counts.byGrant, { password: 1, refresh_token: i + 1 });
      if (round.rotate)
        assert.notEqual(next.refreshToken, stored, `${round.label}: the refresh token rotated`);
      else assert.equal(next.refreshToken, stored, `${round.label}: the refresh token in use was kept`);
      seen = next;
    }

    // The store holds the live (not revoked) refresh token.
    const m = await createTokenManager(profile, {
      env,
      ...(key === undefined ? {} : { encryptionKey: key }),
    });
    try {
      const rt = (await m.store.get(m.key))?.token?.refreshToken;
      assert.ok(
        rt !== undefined && server.liveRefreshTokens.has(rt),
        'the stored refresh token is the live one',
      );
      assert.equal(rt, seen.refreshToken);
    } finally {
      await m.close();
    }
    t.diagnostic(`${HERD_SIZE} processes x 4 phases: ${JSON.stringify(server.counts.byGrant)}`);
  } finally {
    await herd.stop();
    await worker.dispose();
    await server.close();
  }
}
