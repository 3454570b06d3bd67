/**
 * Figure 3 — a herd on a cold cache: N callers want a token at the same moment. tokenward (one request,
 * everyone served) against the naive client of seed 004 (every caller that finds no token requests one):
 * 1,000 callers in one process; 16 processes on the file store; 16 processes on Redis.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Profile } from '../../src/profile.js';
import { closeAll, getToken } from '../../src/tokenward.js';
import { startTokenServer, type TokenServer } from '../../test/helpers/token-server.js';
import type { HerdConfig } from '../children/herd.js';
import { type FigureResult, fmtMs, fmtRatio, median, range, runFigure, stopwatch } from '../lib/harness.js';
import { naiveFile, naiveGetToken } from '../lib/naive.js';
import { startWorker } from '../lib/proc.js';

const ID = '3-herd';
const TITLE = 'Herd on a cold cache';
const N_IN_PROCESS = 1_000;
const N_PROCESSES = 16;
const REPS = 3;
/** Server latency per token request: loopback alone would be unrealistically fast. */
const LATENCY_MS = 25;
const REDIS_URL = process.env['TOKENWARD_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** Longest wait for a herd step (all ready, all served, all exited). */
const STEP_TIMEOUT_MS = 30_000;
const CLIENT = { clientId: 'herd-client', clientSecret: 'herd-secret-value' };

interface Rep {
  requests: number;
  ms: number;
  distinct: number;
  failures: number;
  /** Process herds: median time from `go` to served, for processes that made a request / that did not. */
  requesterMs?: number;
  waiterMs?: number;
}

interface Line {
  scenario: string;
  client: string;
  reps: Rep[];
}

/** Starts `n` herd workers, releases them together and times until the last one is served. */
async function processHerd(
  server: TokenServer,
  n: number,
  cfg: HerdConfig,
  env: NodeJS.ProcessEnv,
): Promise<Rep> {
  const workers = Array.from({ length: n }, () => startWorker('children/herd', [JSON.stringify(cfg)], env));
  const within = <T>(what: string, p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, rej) => {
      timer = setTimeout(() => {
        const stuck = workers.filter(
          (w) => !w.lines.some((l) => (what === 'ready' ? l === 'ready' : l.startsWith('{'))),
        );
        rej(
          new Error(
            `${stuck.length} of ${n} ${cfg.mode} workers gave no ${what} line within ${STEP_TIMEOUT_MS / 1000} s; ` +
              `stderr: ${stuck[0]?.stderr.join('').slice(0, 500) ?? ''}`,
          ),
        );
      }, STEP_TIMEOUT_MS);
    });
    return Promise.race([p, limit]).finally(() => clearTimeout(timer));
  };
  try {
    await within('ready', Promise.all(workers.map((w) => w.waitFor((l) => l === 'ready'))));
    const before = server.counts.total;
    const elapsed = stopwatch();
    const goAt = performance.timeOrigin + performance.now();
    for (const w of workers) w.child.stdin?.write('go\n');
    const lines = await within(
      'result',
      Promise.all(workers.map((w) => w.waitFor((l) => l.startsWith('{')))),
    );
    const ms = elapsed();
    const requests = server.counts.total - before;
    await within('exit', Promise.all(workers.map((w) => w.exited)));
    const results = lines.map(
      (l) =>
        JSON.parse(l) as {
          ok: boolean;
          accessToken?: string;
          error?: string;
          servedAt?: number;
          requested?: number;
        },
    );
    const latency = (made: boolean) =>
      results
        .filter((r) => r.ok && r.servedAt !== undefined && (r.requested ?? 0) > 0 === made)
        .map((r) => r.servedAt! - goAt);
    const requesters = latency(true);
    const waiters = latency(false);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0)
      process.stderr.write(`herd ${cfg.mode}: ${failed.length} failed: ${failed[0]?.error}\n`);
    process.stderr.write(`  ${n} × ${cfg.mode}: ${requests} request(s), ${fmtMs(ms)}\n`);
    return {
      requests,
      ms,
      distinct: new Set(results.filter((r) => r.ok).map((r) => r.accessToken)).size,
      failures: failed.length,
      ...(requesters.length > 0 ? { requesterMs: median(requesters) } : {}),
      ...(waiters.length > 0 ? { waiterMs: median(waiters) } : {}),
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}

async function redisReachable(): Promise<string | undefined> {
  const r = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (err) {
    const u = new URL(REDIS_URL);
    return `Redis not reachable at ${u.hostname}:${u.port || 6379} (${err instanceof Error ? err.message : String(err)})`;
  } finally {
    r.disconnect();
  }
}

async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, retryStrategy: () => null });
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

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const server = await startTokenServer({ lifetime: 3600, latencyMs: LATENCY_MS, issueRefreshTokens: false });
  const dir = await mkdtemp(join(tmpdir(), 'tw-bench-herd-'));
  const lines: Line[] = [];
  const notes: string[] = [];
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    // 1. In one process: N concurrent callers of the front door (one shared manager, memory store)
    //    against N concurrent naive callers sharing one JSON file.
    process.stderr.write(`in-process herd of ${N_IN_PROCESS}...\n`);
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      [
        '[profiles.herd]',
        `token_url = ${JSON.stringify(server.tokenUrl)}`,
        `client_id = ${JSON.stringify(CLIENT.clientId)}`,
        `client_secret = ${JSON.stringify(CLIENT.clientSecret)}`,
        'store = "memory"',
        '',
      ].join('\n'),
    );
    const naiveClient = { tokenUrl: server.tokenUrl, ...CLIENT };
    const naiveStore = naiveFile(join(dir, 'naive-in-process.json'));
    const twRep = async (): Promise<Rep> => {
      await closeAll(); // a cold cache: the next getToken opens a new manager
      const before = server.counts.total;
      const elapsed = stopwatch();
      const settled = await Promise.allSettled(
        Array.from({ length: N_IN_PROCESS }, () => getToken('herd', { config, onWarning: () => {} })),
      );
      const ms = elapsed();
      process.stderr.write(
        `  ${N_IN_PROCESS} × tokenward: ${server.counts.total - before} request(s), ${fmtMs(ms)}\n`,
      );
      const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.accessToken] : []));
      return {
        requests: server.counts.total - before,
        ms,
        distinct: new Set(ok).size,
        failures: N_IN_PROCESS - ok.length,
      };
    };
    const naiveRep = async (): Promise<Rep> => {
      await naiveStore.clear();
      const before = server.counts.total;
      const elapsed = stopwatch();
      const settled = await Promise.allSettled(
        Array.from({ length: N_IN_PROCESS }, () => naiveGetToken(naiveClient, naiveStore)),
      );
      const ms = elapsed();
      process.stderr.write(
        `  ${N_IN_PROCESS} × naive: ${server.counts.total - before} request(s), ${fmtMs(ms)}\n`,
      );
      const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      return {
        requests: server.counts.total - before,
        ms,
        distinct: new Set(ok).size,
        failures: N_IN_PROCESS - ok.length,
      };
    };
    await twRep(); // warm-up: loads undici and the config reader once, as a running service has
    await naiveRep();
    const inTw: Rep[] = [];
    const inNaive: Rep[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      if (rep % 2 === 0) {
        inTw.push(await twRep());
        inNaive.push(await naiveRep());
      } else {
        inNaive.push(await naiveRep());
        inTw.push(await twRep());
      }
    }
    await closeAll();
    const inScenario = `${N_IN_PROCESS.toLocaleString('en')} callers, 1 process`;
    lines.push({ scenario: inScenario, client: "tokenward `getToken('herd')` (memory store)", reps: inTw });
    lines.push({ scenario: inScenario, client: 'naive (seed 004), one JSON file', reps: inNaive });

    // 2. Processes: the file store (and the naive JSON file), then Redis.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
      TOKENWARD_CONFIG_DIR: join(dir, 'config-dir'),
    };
    const base: Profile = {
      name: 'herd',
      token_url: server.tokenUrl,
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
    };
    const naive = { tokenUrl: server.tokenUrl, ...CLIENT };
    const fileTw: Rep[] = [];
    const fileNaive: Rep[] = [];
    process.stderr.write(`${N_PROCESSES} processes, file store...\n`);
    for (let rep = 0; rep < REPS; rep++) {
      const tw = () =>
        processHerd(
          server,
          N_PROCESSES,
          {
            mode: 'tokenward',
            profile: { ...base, store: 'file', cache_dir: join(dir, `file-store-${rep}`) },
          },
          env,
        );
      const nv = () =>
        processHerd(
          server,
          N_PROCESSES,
          { mode: 'naive-file', ...naive, file: join(dir, `naive-${rep}.json`) },
          env,
        );
      if (rep % 2 === 0) {
        fileTw.push(await tw());
        fileNaive.push(await nv());
      } else {
        fileNaive.push(await nv());
        fileTw.push(await tw());
      }
    }
    const fileScenario = `${N_PROCESSES} processes, file`;
    lines.push({
      scenario: fileScenario,
      client: 'tokenward, file store (encrypted, lock file)',
      reps: fileTw,
    });
    lines.push({ scenario: fileScenario, client: 'naive (seed 004), one JSON file', reps: fileNaive });

    const redisProblem = await redisReachable();
    if (redisProblem !== undefined) {
      notes.push(`**Redis herd skipped**: ${redisProblem}. Start Redis on 127.0.0.1:6379 to measure it.`);
    } else {
      process.stderr.write(`${N_PROCESSES} processes, Redis...\n`);
      const redisTw: Rep[] = [];
      const redisNaive: Rep[] = [];
      const prefix = `tw-bench-${tag}-`;
      try {
        for (let rep = 0; rep < REPS; rep++) {
          const tw = () =>
            processHerd(
              server,
              N_PROCESSES,
              {
                mode: 'tokenward',
                profile: {
                  ...base,
                  store: 'redis',
                  store_url: REDIS_URL,
                  store_prefix: `${prefix}tw${rep}:`,
                },
              },
              env,
            );
          const nv = () =>
            processHerd(
              server,
              N_PROCESSES,
              { mode: 'naive-redis', ...naive, redisUrl: REDIS_URL, redisKey: `${prefix}naive${rep}` },
              env,
            );
          if (rep % 2 === 0) {
            redisTw.push(await tw());
            redisNaive.push(await nv());
          } else {
            redisNaive.push(await nv());
            redisTw.push(await tw());
          }
        }
      } finally {
        await dropRedisPrefix(prefix);
      }
      const redisScenario = `${N_PROCESSES} processes, Redis`;
      lines.push({
        scenario: redisScenario,
        client: 'tokenward, Redis store (SET NX PX lock)',
        reps: redisTw,
      });
      lines.push({ scenario: redisScenario, client: 'naive, one Redis key (GET / SET)', reps: redisNaive });
    }

    const int = (x: number) => x.toFixed(0);
    const rows = lines.map((l) => {
      const req = l.reps.map((r) => r.requests);
      const ms = l.reps.map((r) => r.ms);
      const failures = l.reps.reduce((a, r) => a + r.failures, 0);
      return [
        l.scenario,
        l.client,
        `${int(median(req))} (${range(req, int)})`,
        `${fmtMs(median(ms))} (${range(ms, fmtMs)})`,
        `${int(median(l.reps.map((r) => r.distinct)))}`,
        String(failures),
      ];
    });
    const pairs: string[] = [];
    const headline: string[] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const tw = lines[i]!;
      const nv = lines[i + 1]!;
      const twReq = median(tw.reps.map((r) => r.requests));
      const nvReq = median(nv.reps.map((r) => r.requests));
      const timeRatio = median(tw.reps.map((r, k) => r.ms / nv.reps[k]!.ms));
      pairs.push(
        `${tw.scenario}: tokenward made ${twReq} request${twReq === 1 ? '' : 's'} where the naive client made ${nvReq} ` +
          `(${fmtRatio(nvReq / Math.max(1, twReq))} fewer); time to all served ${fmtRatio(timeRatio)} the naive client's.`,
      );
      headline.push(
        `Herd, ${tw.scenario}: ${twReq} token request${twReq === 1 ? '' : 's'} vs ${nvReq} for the naive client; ` +
          `all served in ${fmtRatio(timeRatio)} the naive time.`,
      );
    }
    const split: string[] = [];
    for (const l of lines) {
      const req = l.reps.flatMap((r) => (r.requesterMs === undefined ? [] : [r.requesterMs]));
      const wait = l.reps.flatMap((r) => (r.waiterMs === undefined ? [] : [r.waiterMs]));
      if (req.length === 0) continue;
      split.push(
        wait.length === 0
          ? `${l.scenario}, ${l.client.split(',')[0]}: every process requested; median time to its token ${fmtMs(median(req))}.`
          : `${l.scenario}, ${l.client.split(',')[0]}: the process that requested had its token after ` +
              `${fmtMs(median(req))}, the ${N_PROCESSES - 1} that waited on the lock after ${fmtMs(median(wait))} ` +
              `(medians; +${fmtMs(median(wait) - median(req))} to see the lock released and read the store).`,
      );
    }
    return [
      {
        id: ID,
        title: TITLE,
        method:
          `Every caller wants a token at the same moment and none is cached. Token endpoint: the minimal loopback ` +
          `server of test/helpers/token-server.ts with ${LATENCY_MS} ms latency per request (a real IdP is slower ` +
          `than loopback; the latency is what lets a herd pile up). In-process: ${N_IN_PROCESS.toLocaleString('en')} ` +
          `concurrent \`getToken('herd')\` (front door, memory store; a warm-up round first, so undici and the config ` +
          `reader are loaded as in a running service) against ${N_IN_PROCESS.toLocaleString('en')} concurrent naive calls. Processes: ` +
          `${N_PROCESSES} Node processes (esbuild bundles, started and ready before the clock starts), released together ` +
          `by a line on stdin; the time runs until the last one has printed its token. The naive client is seed 004's ` +
          `flow (bench/lib/naive.ts): read the JSON file, use it if \`expiry_tm\` is ahead, else request and write it. ` +
          `${REPS} repetitions each, alternating which client goes first; median (min–max).`,
        columns: ['herd', 'client', 'token requests', 'time to all served', 'distinct tokens', 'failures'],
        rows,
        notes: [
          ...pairs,
          ...split,
          'Why the waiters lag the lock holder: they poll the lock with exponential backoff and jitter ' +
            '(src/stores/util.ts `backoffDelay`: 5 ms doubling to a 50 ms cap), so a waiter sees the released ' +
            'lock up to one interval late, then re-reads and decrypts the store. Lowering the cap from 200 ms to ' +
            '50 ms barely moved the lag (~110 ms before, ~100 ms after), so most of it is 15 processes on 2 ' +
            'cores waking, re-reading and decrypting at once, not the poll interval; waking waiters on release ' +
            '(Redis pub/sub, `fs.watch`) would not remove that, and is not done. The naive herd has no such wait; its ' +
            "time is its own request's, which grows with the number of requests in flight at once (here on " +
            'loopback; against a real IdP with rate limits, much more).',
          'Against a real IdP the naive herd is the one that gets rate-limited (429) or, with rotating refresh ' +
            'tokens, logs itself out; tokenward makes one request however many callers there are.',
          'The naive file writes race (truncate, then write): a reader that lands between the two sees an empty ' +
            'or half-written file, which reads as "no token" and triggers yet another request.',
          ...notes,
        ],
        headline,
      },
    ];
  } finally {
    await closeAll();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
