/**
 * Herd worker (figure 3): prepares a client, prints `ready`, waits for `go` on stdin, gets one token and
 * prints `{"ok":true,...}` (or `{"ok":false,"error":...}`), then exits.
 *
 * argv[2]: JSON {@link HerdConfig}. Modes:
 * - `tokenward`: the front door's `createTokenManager(profile)` with the profile's store (file, Redis or
 *   PostgreSQL); with `lockWakeups` set, the same store built with lock wake-ups on or off;
 * - `naive-file`: what seed 004 does — read a JSON file, check `expiry_tm`, request if stale, write the file;
 * - `naive-redis`: the same with a Redis key instead of the file (GET, check, request, SET);
 * - `naive-postgres`: the same with one row of a PostgreSQL table (SELECT, check, request, upsert).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';
import { createTokenManager } from '../../src/front-door.js';
import { loadUndici } from '../../src/http/agent.js';
import type { Profile } from '../../src/profile.js';
import { FileStore } from '../../src/stores/file.js';
import { RedisStore } from '../../src/stores/redis.js';
import type { TokenStore } from '../../src/stores/types.js';
import { type NaiveStorage, naiveFile, naiveGetToken, naivePostgres, naiveRedis } from '../lib/naive.js';

/** What the parent passes. */
export interface HerdConfig {
  mode: 'tokenward' | 'naive-file' | 'naive-redis' | 'naive-postgres';
  /** tokenward: the profile (its store settings included). */
  profile?: Profile;
  /** tokenward, file or Redis store: `false` builds the store with lock wake-ups off (waiters poll only). */
  lockWakeups?: boolean;
  /** naive: the token endpoint and client credentials. */
  tokenUrl?: string;
  clientId?: string;
  clientSecret?: string;
  /** naive-file: the JSON file. */
  file?: string;
  /** naive-redis: server URL and key. */
  redisUrl?: string;
  redisKey?: string;
  /** naive-postgres: server URL, table (created by the parent) and row key. */
  pgUrl?: string;
  pgTable?: string;
  pgKey?: string;
}

/** The store of a run that sets `lockWakeups`: the profile's file or Redis store, with wake-ups on or off. */
function storeWith(profile: Profile, lockWakeups: boolean): TokenStore {
  if (profile.store === 'redis') {
    return new RedisStore({
      url: profile.store_url!,
      ...(profile.store_prefix === undefined ? {} : { prefix: profile.store_prefix }),
      lockWakeups,
    });
  }
  if (profile.store === 'file' || profile.store === undefined) {
    return new FileStore({
      ...(profile.cache_dir === undefined ? {} : { dir: profile.cache_dir }),
      lockWakeups,
    });
  }
  throw new Error(`lockWakeups is for the file and Redis stores, not ${profile.store}`);
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as HerdConfig;
const warnings: string[] = [];
/** How many times this process took the store's lock (the manager's `tokenward:lock:wait` events with `acquired`). */
let locks = 0;
/** When this process first asked for the store's lock (epoch ms), if it did. */
let lockAskedAt: number | undefined;
diagnosticsChannel.subscribe('tokenward:lock:wait', (m) => {
  const { acquired, durationMs } = m as { acquired?: unknown; durationMs?: unknown };
  if (acquired === true) locks++;
  if (lockAskedAt === undefined && typeof durationMs === 'number')
    lockAskedAt = performance.timeOrigin + performance.now() - durationMs;
});
let get: () => Promise<string>;
/** How many token requests this process made (for the lock holder / waiter split). */
let requested: () => number;
let close: () => Promise<void>;

if (cfg.mode === 'tokenward') {
  const store = cfg.lockWakeups === undefined ? undefined : storeWith(cfg.profile!, cfg.lockWakeups);
  const manager = await createTokenManager(cfg.profile!, {
    onWarning: (w) => warnings.push(`${w.code}: ${w.message}`),
    ...(store === undefined ? {} : { store }),
  });
  get = async () => (await manager.getToken()).accessToken;
  requested = () => manager.counts.grants + manager.counts.refreshes;
  close = async () => {
    await manager.close();
    await store?.close();
  };
  await loadUndici(); // loaded before `ready`, like the naive client's fetch below: startup is figure 4's business
} else {
  const storage: NaiveStorage =
    cfg.mode === 'naive-file'
      ? naiveFile(cfg.file!)
      : cfg.mode === 'naive-redis'
        ? await naiveRedis(cfg.redisUrl!, cfg.redisKey!)
        : await naivePostgres(cfg.pgUrl!, cfg.pgTable!, cfg.pgKey!);
  const client = { tokenUrl: cfg.tokenUrl!, clientId: cfg.clientId!, clientSecret: cfg.clientSecret! };
  let made = 0;
  get = () => naiveGetToken(client, storage, () => made++);
  requested = () => made;
  close = () => storage.close();
  void globalThis.Response; // loads Node's bundled undici (fetch's implementation) before `ready`
}

process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
let released = false;
// The parent went away without saying `go`: do not linger (a Redis connection would keep us alive).
rl.once('close', () => {
  if (!released) process.exit(1);
});
rl.once('line', async () => {
  const goAt = performance.timeOrigin + performance.now();
  released = true;
  rl.close();
  try {
    const accessToken = await get();
    // Epoch ms with sub-ms resolution, comparable with the parent's clock on the same machine.
    const servedAt = performance.timeOrigin + performance.now();
    process.stdout.write(
      `${JSON.stringify({
        ok: true,
        accessToken,
        servedAt,
        // Where this process joined the herd: when it asked for the lock, else when it read `go`.
        arrivedAt: lockAskedAt ?? goAt,
        requested: requested(),
        locks,
        warnings,
      })}\n`,
    );
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(err), warnings })}\n`);
  } finally {
    await close().catch(() => {});
    process.stdin.destroy();
    process.exit(0);
  }
});
