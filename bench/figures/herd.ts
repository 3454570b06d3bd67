/**
 * Figure 3 — a herd on a cold cache: N callers want a token at the same moment. tokenward (one request,
 * everyone served) against the naive client of seed 004 (every caller that finds no token requests one):
 * 1,000 callers in one process; 16 processes on the file store, on Redis and on PostgreSQL; 64 processes
 * on Redis and on PostgreSQL. The waiters' lag behind the lock holder is measured with lock wake-ups and
 * polling only (file, Redis) in the same run, and the store locks each herd takes are counted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closeAll, getToken } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { withPg } from '../../test/helpers/services.js';
import { startPostgresServer } from '../../test/helpers/throwaway.js';
import { startTokenServer, type TokenServer } from '../../test/helpers/token-server.js';
import type { HerdConfig } from '../children/herd.js';
import {
  type FigureResult,
  fmtMs,
  fmtRatio,
  median,
  percentile,
  progress,
  range,
  runFigure,
  stopwatch,
} from '../lib/harness.js';
import { naiveFile, naiveGetToken } from '../lib/naive.js';
import { startWorker } from '../lib/proc.js';
import { type ChartSpec, servedChart } from '../lib/svg.js';

const ID = '3-herd';
const TITLE = 'Herd on a cold cache';
const N_IN_PROCESS = 1_000;
const N_PROCESSES = 16;
/** The larger herd (Redis and PostgreSQL): does the request count stay 1 as the fleet grows? */
const N_LARGE = 64;
/**
 * A partial run, for a machine too busy for the whole figure within its time limit (at a load average of
 * 60 on 2 cores it needs more than 30 minutes): `TOKENWARD_BENCH_HERD` = the scenarios to run, comma
 * separated, among `in-process`, `file`, `redis`, `redis64`, `postgres`, `postgres64` (default: all);
 * `TOKENWARD_BENCH_HERD_REPS` = repetitions of each 16-process herd (default 3);
 * `TOKENWARD_BENCH_HERD_NAIVE=0` leaves the naive clients out. A partial run says so in its notes.
 */
const ONLY = process.env['TOKENWARD_BENCH_HERD']
  ?.split(',')
  .map((x) => x.trim())
  .filter((x) => x !== '');
const selected = (id: string): boolean => ONLY === undefined || ONLY.includes(id);
const REPS = Math.max(1, Number(process.env['TOKENWARD_BENCH_HERD_REPS'] ?? 3) || 3);
const WITH_NAIVE = process.env['TOKENWARD_BENCH_HERD_NAIVE'] !== '0';
const REPS_LARGE = 1;
/** Server latency per token request: loopback alone would be unrealistically fast. */
const LATENCY_MS = 25;
const REDIS_URL = process.env['TOKENWARD_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/**
 * Longest wait for a herd step (all ready, all served, all exited): 60 s, plus 5 s per process (on two
 * cores shared with other work, 16 processes have needed more than 78 s to start and open their store:
 * at a load average of 40, 16 PostgreSQL workers did not all get ready within 30 + 3 × 16 s).
 */
const stepTimeoutMs = (n: number) => 60_000 + 5_000 * n;
const CLIENT = { clientId: 'herd-client', clientSecret: 'herd-secret-value' };

interface Rep {
  requests: number;
  ms: number;
  distinct: number;
  failures: number;
  /** Process herds: median time from `go` to served, for processes that made a request / that did not. */
  requesterMs?: number;
  waiterMs?: number;
  /**
   * Each waiter's lag, ms: from the later of the requesting process being served and the waiter's own
   * arrival (asking for the lock, or, served by its first read, reading `go`) to itself being served.
   */
  lags: number[];
  /** The same by the earlier definition: from the requesting process being served, whenever the waiter arrived. */
  lagsFromHolder: number[];
  /** Waiters that arrived after the requesting process had been served. */
  late: number;
  /** The workers' warnings (distinct), kept when the herd made more than one token request. */
  warnings: string[];
  /** Every caller's time from `go` to served, ms, ascending. */
  served: number[];
  /** tokenward process herds: how many times a process took the store's lock, summed over the herd. */
  locks?: number;
}

interface Line {
  scenario: string;
  client: string;
  kind: 'tokenward' | 'naive';
  /** tokenward on the file or Redis store: lock wake-ups on (true) or polling only (false). */
  wakeups?: boolean;
  reps: Rep[];
}

/** One client of a process-herd scenario. */
interface Variant {
  client: string;
  kind: 'tokenward' | 'naive';
  wakeups?: boolean;
  cfg: (rep: number) => HerdConfig;
}

/** A herd line's time-to-served of each caller in its median repetition (for the chart). */
type Curve = { scenario: string; client: string; servedMs: number[] };

/** The store URL with generous connect and command bounds: many processes connect at once on 2 cores. */
function patient(url: string): string {
  const u = new URL(url);
  u.searchParams.set('connect_timeout_ms', '60000');
  u.searchParams.set('command_timeout_ms', '60000');
  return u.toString();
}

/** The repetition whose time to all served is the median one. */
function medianRep(l: Line): Rep | undefined {
  const sorted = [...l.reps].sort((a, b) => a.ms - b.ms);
  return sorted[(sorted.length - 1) >> 1];
}

/** Runs `reps` repetitions of each variant, rotating which goes first. */
async function runScenario(
  server: TokenServer,
  env: NodeJS.ProcessEnv,
  n: number,
  reps: number,
  scenario: string,
  variants: Variant[],
): Promise<Line[]> {
  const out: Line[] = variants.map((v) => ({
    scenario,
    client: v.client,
    kind: v.kind,
    ...(v.wakeups === undefined ? {} : { wakeups: v.wakeups }),
    reps: [],
  }));
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + rep) % variants.length;
      out[i]!.reps.push(await processHerd(server, n, variants[i]!.cfg(rep), env));
    }
  }
  return out;
}

/** Charts of the herd figure: time to served per caller, one chart per process scenario. */
function herdCharts(curves: Curve[]): ChartSpec[] {
  const scenarios = [...new Set(curves.map((c) => c.scenario))].filter((s) => !s.includes('1 process'));
  return scenarios.map((scenario) =>
    servedChart({
      id: `herd-${scenario
        .replace(/[^A-Za-z0-9]+/g, '-')
        .replace(/-+$/, '')
        .toLowerCase()}`,
      title: `Herd, ${scenario}: time from the start signal to each caller served (median repetition)`,
      series: curves
        .filter((c) => c.scenario === scenario)
        .map((c) => ({ label: c.client.split(' (')[0]!, values: c.servedMs })),
    }),
  );
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
            `${stuck.length} of ${n} ${cfg.mode} workers gave no ${what} line within ${stepTimeoutMs(n) / 1000} s; ` +
              `stderr: ${stuck[0]?.stderr.join('').slice(0, 500) ?? ''}`,
          ),
        );
      }, stepTimeoutMs(n));
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
          arrivedAt?: number;
          requested?: number;
          locks?: number;
          warnings?: string[];
        },
    );
    const latency = (made: boolean) =>
      results
        .filter((r) => r.ok && r.servedAt !== undefined && (r.requested ?? 0) > 0 === made)
        .map((r) => r.servedAt! - goAt);
    const requesters = latency(true);
    const waiters = latency(false);
    const holders = results.filter((r) => r.ok && r.servedAt !== undefined && (r.requested ?? 0) > 0);
    const holderAt = holders.length === 1 ? holders[0]!.servedAt! : undefined;
    const others = results.filter((r) => r.ok && r.servedAt !== undefined && (r.requested ?? 0) === 0);
    const lagsFromHolder = holderAt === undefined ? [] : others.map((r) => r.servedAt! - holderAt);
    const lags =
      holderAt === undefined
        ? []
        : others.map((r) => r.servedAt! - Math.max(holderAt, r.arrivedAt ?? Number.NEGATIVE_INFINITY));
    const late =
      holderAt === undefined
        ? 0
        : others.filter((r) => (r.arrivedAt ?? Number.NEGATIVE_INFINITY) > holderAt).length;
    const served = results
      .filter((r) => r.ok && r.servedAt !== undefined)
      .map((r) => r.servedAt! - goAt)
      .sort((a, b) => a - b);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0)
      process.stderr.write(`herd ${cfg.mode}: ${failed.length} failed: ${failed[0]?.error}\n`);
    process.stderr.write(`  ${n} × ${cfg.mode}: ${requests} request(s), ${fmtMs(ms)}\n`);
    // More than one request: what the workers were told is the first clue to why.
    const warnings = requests > 1 ? [...new Set(results.flatMap((r) => r.warnings ?? []))] : [];
    for (const w of warnings) process.stderr.write(`    worker warning: ${w}\n`);
    return {
      requests,
      ms,
      distinct: new Set(results.filter((r) => r.ok).map((r) => r.accessToken)).size,
      failures: failed.length,
      ...(requesters.length > 0 ? { requesterMs: median(requesters) } : {}),
      ...(waiters.length > 0 ? { waiterMs: median(waiters) } : {}),
      lags: cfg.mode === 'tokenward' ? lags : [],
      lagsFromHolder: cfg.mode === 'tokenward' ? lagsFromHolder : [],
      late: cfg.mode === 'tokenward' ? late : 0,
      warnings,
      served,
      ...(cfg.mode === 'tokenward' ? { locks: results.reduce((a, r) => a + (r.locks ?? 0), 0) } : {}),
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

/** The figure's table, notes and charts from the herds measured so far. */
function build(lines: Line[], notes: string[]): FigureResult[] {
  const int = (x: number) => x.toFixed(0);
  const lagOf = (l: Line) => l.reps.flatMap((r) => r.lags);
  const lagFromHolderOf = (l: Line) => l.reps.flatMap((r) => r.lagsFromHolder);
  const lagCell = (xs: number[]) =>
    xs.length === 0 ? '—' : `${fmtMs(median(xs))} (${fmtMs(percentile(xs, 0.95))})`;
  const rows = lines.map((l) => {
    const req = l.reps.map((r) => r.requests);
    const ms = l.reps.map((r) => r.ms);
    const failures = l.reps.reduce((a, r) => a + r.failures, 0);
    const lags = lagOf(l);
    const locks = l.reps.flatMap((r) => (r.locks === undefined ? [] : [r.locks]));
    return [
      l.scenario,
      l.client,
      `${int(median(req))} (${range(req, int)})`,
      `${fmtMs(median(ms))} (${range(ms, fmtMs)})`,
      `${int(median(l.reps.map((r) => r.distinct)))}`,
      String(failures),
      locks.length === 0 ? '—' : `${int(median(locks))} (${range(locks, int)})`,
      lagCell(lags),
      lagCell(lagFromHolderOf(l)),
    ];
  });
  const pairs: string[] = [];
  const headline: string[] = [];
  for (const scenario of [...new Set(lines.map((l) => l.scenario))]) {
    const of = lines.filter((l) => l.scenario === scenario);
    const tw = of.find((l) => l.kind === 'tokenward');
    const nv = of.find((l) => l.kind === 'naive');
    if (tw === undefined) continue;
    const twReq = median(tw.reps.map((r) => r.requests));
    if (nv === undefined) {
      const all = tw.reps.map((r) => r.requests);
      pairs.push(
        `${scenario}: tokenward made ${range(all, int)} token request${twReq === 1 ? '' : 's'} per herd (${tw.reps.length} herd${tw.reps.length === 1 ? '' : 's'}), ` +
          `all ${scenario.split(' ')[0]} processes served in ${fmtMs(median(tw.reps.map((r) => r.ms)))} (median).`,
      );
      headline.push(
        `Herd, ${scenario}: ${range(all, int)} token request${twReq === 1 ? '' : 's'} (${tw.reps.length} herd${tw.reps.length === 1 ? '' : 's'}).`,
      );
      continue;
    }
    const nvReq = median(nv.reps.map((r) => r.requests));
    const timeRatio = median(tw.reps.map((r, k) => r.ms / nv.reps[k]!.ms));
    pairs.push(
      `${scenario}: tokenward made ${twReq} request${twReq === 1 ? '' : 's'} where the naive client made ${nvReq} ` +
        `(${fmtRatio(nvReq / Math.max(1, twReq))} fewer); time to all served ${fmtRatio(timeRatio)} the naive client's.`,
    );
    headline.push(
      `Herd, ${scenario}: ${twReq} token request${twReq === 1 ? '' : 's'} vs ${nvReq} for the naive client; ` +
        `all served in ${fmtRatio(timeRatio)} the naive time.`,
    );
  }
  const lagNotes: string[] = [];
  for (const scenario of [...new Set(lines.map((l) => l.scenario))]) {
    const woken = lines.find((l) => l.scenario === scenario && l.kind === 'tokenward' && l.wakeups === true);
    const polled = lines.find(
      (l) => l.scenario === scenario && l.kind === 'tokenward' && l.wakeups === false,
    );
    if (woken === undefined || lagOf(woken).length === 0) continue;
    const w = lagOf(woken);
    const late = woken.reps.reduce((a, r) => a + r.late, 0);
    const old = lagFromHolderOf(woken);
    const text =
      `${scenario}: the ${w.length} waiters (all herds) were served a median ${fmtMs(median(w))} after the ` +
      `process that requested the token or their own arrival, whichever was later (p95 ${fmtMs(percentile(w, 0.95))}; ` +
      `${late} of them arrived after it had been served; by the earlier definition, from the holder alone: ` +
      `${fmtMs(median(old))}, p95 ${fmtMs(percentile(old, 0.95))})`;
    if (polled !== undefined && lagOf(polled).length > 0) {
      const p = lagOf(polled);
      lagNotes.push(
        `${text} with wake-ups, against ${fmtMs(median(p))} (p95 ${fmtMs(percentile(p, 0.95))}) polling only ` +
          `(${fmtRatio(median(w) / median(p))}).`,
      );
      headline.push(
        `Waiters' lag behind the lock holder, ${scenario}: median ${fmtMs(median(w))} with wake-ups vs ` +
          `${fmtMs(median(p))} polling only (p95 ${fmtMs(percentile(w, 0.95))} vs ${fmtMs(percentile(p, 0.95))}).`,
      );
    } else {
      lagNotes.push(`${text}.`);
      if (scenario.startsWith(String(N_PROCESSES)))
        headline.push(
          `Waiters' lag behind the lock holder, ${scenario}: median ${fmtMs(median(w))} (p95 ${fmtMs(percentile(w, 0.95))}).`,
        );
    }
  }
  const split: string[] = [];
  for (const l of lines) {
    const req = l.reps.flatMap((r) => (r.requesterMs === undefined ? [] : [r.requesterMs]));
    const wait = l.reps.flatMap((r) => (r.waiterMs === undefined ? [] : [r.waiterMs]));
    if (req.length === 0 || l.kind === 'naive') continue;
    if (wait.length > 0) {
      split.push(
        `${l.scenario}, ${l.client.split(' (')[0]}: the process that requested had its token after ` +
          `${fmtMs(median(req))}, the waiters after ${fmtMs(median(wait))} (medians from the start signal).`,
      );
    }
  }
  const warned = lines.flatMap((l) =>
    l.reps.some((r) => r.warnings.length > 0)
      ? [
          `${l.scenario}, ${l.client.split(' (')[0]}: a herd made more than one token request; its workers' warnings: ` +
            [...new Set(l.reps.flatMap((r) => r.warnings))].map((w) => `\`${w.slice(0, 300)}\``).join('; '),
        ]
      : [],
  );
  const servedCurves: Curve[] = [];
  for (const l of lines) {
    const rep = medianRep(l);
    if (rep !== undefined)
      servedCurves.push({ scenario: l.scenario, client: l.client, servedMs: rep.served });
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
        `${N_PROCESSES} (and ${N_LARGE}) Node processes (esbuild bundles, started and ready before the clock starts), released together ` +
        `by a line on stdin; the time runs until the last one has printed its token. The naive client is seed 004's ` +
        `flow (bench/lib/naive.ts): read the JSON file (Redis key, PostgreSQL row), use it if \`expiry_tm\` is ahead, else request and write it. ` +
        `Redis is the server on 127.0.0.1:6379; PostgreSQL a throwaway server the bench starts on loopback (\`fsync=off\`, \`max_connections=400\`). ` +
        `${REPS} repetitions of each ${N_PROCESSES}-process herd and ${REPS_LARGE} of each ${N_LARGE}-process herd, rotating which client goes first; median (min–max). ` +
        "Waiters' lag: for each process that did not request, the time from the requesting process having its token — or, when " +
        'this process arrived later, from its own arrival (when it asked for the lock; served by its first read, when it read `go`) — ' +
        "to this one having it (both clocks are the same machine's), median (p95) over the waiters of all repetitions. Until 2026-12-01 " +
        'the lag was counted from the requesting process alone, whenever the waiter arrived: a process that had not yet reached the ' +
        'store when the holder finished (still starting, still connecting) added its own start-up to the lag; that earlier ' +
        "definition is the last column. tokenward's file and Redis stores are measured " +
        'with lock wake-ups (the default) and with `lockWakeups: false` (polling only) in the same run. ' +
        "Store locks taken per herd: how many times the herd's processes took the store's lock (each process counts the " +
        '`tokenward:lock:wait` diagnostics events with `acquired: true`), median (min–max) over the repetitions — a count ' +
        "that the machine's load does not blur, unlike the times.",
      columns: [
        'herd',
        'client',
        'token requests',
        'time to all served',
        'distinct tokens',
        'failures',
        'store locks taken per herd',
        "waiters' lag, median (p95)",
        "waiters' lag from the holder alone (earlier definition), median (p95)",
      ],
      rows,
      notes: [
        ...pairs,
        ...lagNotes,
        ...split,
        ...warned,
        'Why waiters lag the lock holder at all: a waiter learns that the holder is done — Redis: the holder publishes ' +
          'the entry it stores on `<prefix>unlock:<key>` in the same script as its write (and again at its release); ' +
          'file: its next poll (5 ms doubling to 50 ms), or the watch on the cache directory with `lockWakeups: true`; ' +
          "PostgreSQL: the server lets every waiter through its shared-lock barrier on the key's wake lock the moment " +
          "the holder lets go of it, in its write's round trip after the commit — then checks the entry *without* the " +
          "lock (`LockOptions.satisfied`: the entry handed over, or one read, and a decryption), finds the holder's " +
          'token and is served, often before the holder (a negative lag: its release has still to return): every waiter at once, not one after another through ' +
          'the lock (the "store locks taken per herd" column: 1 is the holder alone). Until this change the manager ' +
          'trusted only what it read under the lock, so each waiter took the lock in turn and the last of a herd was ' +
          'served after as many hand-offs as there were waiters (16 processes: a median lag of 307 ms on the file store, ' +
          '750 ms on Redis and 637 ms on PostgreSQL at a load of 40, bench run of 2026-11-30). What is left is the ' +
          'wake-up, one store round trip and, with 16 or 64 processes on 2 cores, the wait for a core: processes woken ' +
          'together still run two at a time.',
        "Where a PostgreSQL waiter's time went (16 processes, one herd each, timestamps added to the store and the " +
          'workers for the purpose and removed again, 2026-12-01, load average 24–41 on 2 cores): a served waiter also ' +
          'waited for its lock connection to close — a median 455 ms of its 870 ms lag. The store now keeps that ' +
          'connection as its spare for the next lock, and a served waiter returns in under 1 ms after its re-read; at a ' +
          "load of 41 the rest then grew: the barrier passed a median 219 ms after the holder's unlock, the re-read took " +
          '230 ms and its decryption and check 400 ms more — waiting for a core. Every waiter had reached the lock ' +
          'before the holder was served, so the two definitions of the lag agree on these herds; on Redis the ' +
          "waiters' re-reads found the token before the holder's release had returned (a negative lag). " +
          '64 processes, one herd each, at a load of 82–90 the same day: 1 token request and 1 lock per herd on Redis ' +
          'and on PostgreSQL (all served in 18.1 s and 16.5 s; median lag 1.30 s and 3.76 s).',
        "Where a PostgreSQL waiter's time went once the entry was read in the barrier's round trip (2026-12-02, " +
          'the same kind of timestamps, 5 herds, load average 7–15): not the server — it ran the unlock a median 1.3 ms ' +
          "after it was sent and the waiters' reads 3–7 ms after that — but the waiters' processes, which received " +
          'the results one after another, 3.5–8 ms apart, and then waited for a core to decrypt and check the entry: ' +
          "15 processes woken at once on 2 cores. So the waiters now start at the holder's write instead of after its " +
          "write and release round trips (the wake lock, above), and their turn at the cores overlaps the holder's " +
          'last steps: median lag −42.4 to 17.2 ms in ten runs at a load of 5–31 (median −11.5 ms), against 3.7 ' +
          'to 65.4 ms (median 43.2 ms) for the code before, in runs alternated with them (docs/architecture.md).',
        'Against a real IdP the naive herd is the one that gets rate-limited (429) or, with rotating refresh ' +
          'tokens, logs itself out; tokenward makes one request however many callers there are.',
        'The naive file writes race (truncate, then write): a reader that lands between the two sees an empty ' +
          'or half-written file, which reads as "no token" and triggers yet another request.',
        ...notes,
      ],
      headline,
      charts: herdCharts(servedCurves),
    },
  ];
}

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const server = await startTokenServer({ lifetime: 3600, latencyMs: LATENCY_MS, issueRefreshTokens: false });
  const dir = await mkdtemp(join(tmpdir(), 'tw-bench-herd-'));
  const lines: Line[] = [];
  const notes: string[] = [];
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    if (selected('in-process')) {
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
          lags: [],
          lagsFromHolder: [],
          late: 0,
          warnings: [],
          served: [],
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
          lags: [],
          lagsFromHolder: [],
          late: 0,
          warnings: [],
          served: [],
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
      lines.push({
        scenario: inScenario,
        client: "tokenward `getToken('herd')` (memory store)",
        kind: 'tokenward',
        reps: inTw,
      });
      lines.push({
        scenario: inScenario,
        client: 'naive (seed 004), one JSON file',
        kind: 'naive',
        reps: inNaive,
      });
    }

    // 2. Processes: file, Redis and PostgreSQL herds of N_PROCESSES, then larger herds on the shared stores.
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
    // A scenario that fails (a server that would not start, workers that never got ready) becomes a note;
    // the others are still reported.
    const run = (n: number, reps: number, scenario: string, all: Variant[]) => {
      const id = `${scenario.includes('file') ? 'file' : scenario.includes('Redis') ? 'redis' : 'postgres'}${n === N_LARGE ? '64' : ''}`;
      const variants = all.filter((v) => WITH_NAIVE || v.kind !== 'naive');
      if (!selected(id)) return Promise.resolve([] as Line[]);
      return runScenario(server, env, n, reps, scenario, variants).then(
        (done) => {
          // What is measured so far, in case the figure runs out of time before the end.
          progress(build([...lines, ...done], notes));
          return done;
        },
        (err: unknown) => {
          const why = err instanceof Error ? err.message : String(err);
          process.stderr.write(`herd ${scenario} failed: ${why}\n`);
          notes.push(`**${scenario}: not measured** — ${why.slice(0, 300)}`);
          return [] as Line[];
        },
      );
    };
    if (ONLY !== undefined || REPS !== 3 || !WITH_NAIVE) {
      notes.push(
        `**A partial run** (\`TOKENWARD_BENCH_HERD=${ONLY?.join(',') ?? '(all)'}\`, ` +
          `\`TOKENWARD_BENCH_HERD_REPS=${REPS}\`${WITH_NAIVE ? '' : ', `TOKENWARD_BENCH_HERD_NAIVE=0`: no naive client'}).`,
      );
    }

    process.stderr.write(`${N_PROCESSES} processes, file store...\n`);
    lines.push(
      ...(await run(N_PROCESSES, REPS, `${N_PROCESSES} processes, file`, [
        {
          client: 'tokenward, file store, waiters woken by a directory watch (`lockWakeups: true`)',
          kind: 'tokenward',
          wakeups: true,
          cfg: (rep) => ({
            mode: 'tokenward',
            lockWakeups: true,
            profile: { ...base, store: 'file', cache_dir: join(dir, `file-store-w${rep}`) },
          }),
        },
        {
          client: 'tokenward, file store (encrypted, lock file), polling only: the default',
          kind: 'tokenward',
          wakeups: false,
          cfg: (rep) => ({
            mode: 'tokenward',
            lockWakeups: false,
            profile: { ...base, store: 'file', cache_dir: join(dir, `file-store-p${rep}`) },
          }),
        },
        {
          client: 'naive (seed 004), one JSON file',
          kind: 'naive',
          cfg: (rep) => ({ mode: 'naive-file', ...naive, file: join(dir, `naive-${rep}.json`) }),
        },
      ])),
    );

    const redisProblem = await redisReachable();
    if (redisProblem !== undefined) {
      notes.push(`**Redis herds skipped**: ${redisProblem}. Start Redis on 127.0.0.1:6379 to measure them.`);
    } else {
      const prefix = `tw-bench-${tag}-`;
      const redisProfile = (p: string): Profile => ({
        ...base,
        store: 'redis',
        store_url: patient(REDIS_URL),
        store_prefix: `${prefix}${p}:`,
      });
      try {
        process.stderr.write(`${N_PROCESSES} processes, Redis...\n`);
        lines.push(
          ...(await run(N_PROCESSES, REPS, `${N_PROCESSES} processes, Redis`, [
            {
              client: 'tokenward, Redis store (SET NX PX lock; waiters woken by pub/sub)',
              kind: 'tokenward',
              wakeups: true,
              cfg: (rep) => ({ mode: 'tokenward', profile: redisProfile(`w${rep}`) }),
            },
            {
              client: 'tokenward, Redis store, polling only (`lockWakeups: false`)',
              kind: 'tokenward',
              wakeups: false,
              cfg: (rep) => ({ mode: 'tokenward', lockWakeups: false, profile: redisProfile(`p${rep}`) }),
            },
            {
              client: 'naive, one Redis key (GET / SET)',
              kind: 'naive',
              cfg: (rep) => ({
                mode: 'naive-redis',
                ...naive,
                redisUrl: REDIS_URL,
                redisKey: `${prefix}naive${rep}`,
              }),
            },
          ])),
        );
        process.stderr.write(`${N_LARGE} processes, Redis...\n`);
        lines.push(
          ...(await run(N_LARGE, REPS_LARGE, `${N_LARGE} processes, Redis`, [
            {
              client: 'tokenward, Redis store (waiters woken by pub/sub)',
              kind: 'tokenward',
              wakeups: true,
              cfg: (rep) => ({ mode: 'tokenward', profile: redisProfile(`l${rep}`) }),
            },
          ])),
        );
      } finally {
        await dropRedisPrefix(prefix);
      }
    }

    // PostgreSQL: a throwaway server of the bench's own (loopback), with room for the large herd's
    // connections (each process: its pool and the lock's own connection).
    const pgServer = await startPostgresServer({ settings: { max_connections: 400 } }).catch(
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    if (typeof pgServer === 'string') {
      notes.push(`**PostgreSQL herds skipped**: ${pgServer}.`);
    } else {
      try {
        const table = `tw_bench_naive`;
        await withPg(pgServer.url, (c) =>
          c.query(`CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, value text NOT NULL)`),
        );
        const pgProfile = (t: string): Profile => ({
          ...base,
          store: 'postgres',
          store_url: patient(pgServer.url),
          store_prefix: `tw_bench_${t}`,
        });
        process.stderr.write(`${N_PROCESSES} processes, PostgreSQL...\n`);
        lines.push(
          ...(await run(N_PROCESSES, REPS, `${N_PROCESSES} processes, PostgreSQL`, [
            {
              client:
                'tokenward, PostgreSQL store (advisory lock; waiters woken together at a shared-lock barrier)',
              kind: 'tokenward',
              wakeups: true,
              cfg: (rep) => ({ mode: 'tokenward', profile: pgProfile(`w${rep}`) }),
            },
            {
              client: 'naive, one PostgreSQL row (SELECT / upsert)',
              kind: 'naive',
              cfg: (rep) => ({
                mode: 'naive-postgres',
                ...naive,
                pgUrl: pgServer.url,
                pgTable: table,
                pgKey: `naive${rep}`,
              }),
            },
          ])),
        );
        process.stderr.write(`${N_LARGE} processes, PostgreSQL...\n`);
        lines.push(
          ...(await run(N_LARGE, REPS_LARGE, `${N_LARGE} processes, PostgreSQL`, [
            {
              client: 'tokenward, PostgreSQL store (advisory lock)',
              kind: 'tokenward',
              wakeups: true,
              cfg: (rep) => ({ mode: 'tokenward', profile: pgProfile(`l${rep}`) }),
            },
          ])),
        );
      } finally {
        await pgServer.stop();
      }
    }

    return build(lines, notes);
  } finally {
    await closeAll();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
