/**
 * Throwaway Redis and PostgreSQL servers for outage tests: started by the test on a free loopback port,
 * frozen (SIGSTOP), thawed (SIGCONT) or killed (SIGKILL) by pid, and stopped (and their files removed)
 * afterwards. The shared servers on 6379/5432 are never touched.
 *
 * - Redis: `redis-server --port <p> --bind 127.0.0.1 --save '' --appendonly no`.
 * - PostgreSQL: `initdb` into a temporary directory, then `pg_ctl start` with `-p <p> -k <dir>
 *   -c listen_addresses=127.0.0.1`. PostgreSQL refuses to run as root: as root, both run as the
 *   `postgres` user (`runuser -u postgres`), with a directory that user owns.
 *
 * When a program is missing, {@link startRedisServer} / {@link startPostgresServer} return the reason
 * (a string); {@link requireThrowaway} then skips the test with it — or, under CI=true, fails it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { withPg, withRedis } from './services.js';

const run = promisify(execFile);

/** A server started by the test. */
export interface Throwaway {
  readonly kind: 'redis' | 'postgres';
  /** Connection URL (no password). */
  readonly url: string;
  readonly port: number;
  /** The server's main pid (postmaster for PostgreSQL). */
  readonly pid: number;
  /** The main pid and every descendant (PostgreSQL backends), now. */
  pids(): number[];
  /** SIGSTOP every process of the server: it keeps its sockets open but answers nothing. */
  freeze(): void;
  /** SIGCONT every process of the server. */
  thaw(): void;
  /** Stops the server (thawing it first) and removes its files. Idempotent. */
  stop(): Promise<void>;
}

/** Finds an executable on PATH (or in `extraDirs`). */
export function findProgram(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), ...extraDirs]) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function postgresBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort()
      .reverse()
      .map((v) => join('/usr/lib/postgresql', v, 'bin'));
  } catch {
    return [];
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; the server is started right after). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Every descendant of `pid` (Linux /proc; elsewhere none). */
function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone
    }
  }
}

async function waitUntil(what: string, ms: number, probe: () => Promise<unknown>): Promise<void> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not come up within ${ms} ms: ${String(last)}`);
}

function unavailable(reason: string): string {
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: it is required)`);
  return reason;
}

function makeControls(
  kind: 'redis' | 'postgres',
  pid: number,
  port: number,
  url: string,
  shutdown: () => Promise<void>,
): Throwaway {
  let stopped = false;
  const pids = () => [pid, ...descendants(pid)];
  return {
    kind,
    url,
    port,
    pid,
    pids,
    freeze: () => {
      // The parent first, so that it forks nothing new while its children are being stopped.
      signal([pid], 'SIGSTOP');
      signal(descendants(pid), 'SIGSTOP');
    },
    thaw: () => signal(pids(), 'SIGCONT'),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      signal(pids(), 'SIGCONT');
      await shutdown();
    },
  };
}

/**
 * Starts a throwaway `redis-server` on a free loopback port. Returns the reason instead when
 * `redis-server` is missing (throws under CI=true).
 */
export async function startRedisServer(): Promise<Throwaway | string> {
  const bin = findProgram('redis-server');
  if (bin === undefined) return unavailable('redis-server is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'tw-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `redis://127.0.0.1:${port}`;
  const shutdown = async () => {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('redis-server', 20_000, () => withRedis(url, (r) => r.ping()));
  } catch (err) {
    await shutdown();
    throw err;
  }
  return makeControls('redis', child.pid as number, port, url, shutdown);
}

/**
 * Starts a throwaway PostgreSQL (initdb + pg_ctl) on a free loopback port, trust authentication, user
 * `postgres`, database `postgres`, with any extra server `settings` (`-c name=value`, e.g.
 * `max_connections` for a bench's large herds). Returns the reason instead when initdb/pg_ctl are
 * missing, or when running as root without a `postgres` user (throws under CI=true).
 */
export async function startPostgresServer(
  options: { settings?: Readonly<Record<string, string | number>> } = {},
): Promise<Throwaway | string> {
  const extra = postgresBinDirs();
  const initdb = findProgram('initdb', extra);
  const pgCtl = findProgram('pg_ctl', extra);
  if (initdb === undefined || pgCtl === undefined) {
    return unavailable('PostgreSQL server programs (initdb, pg_ctl) are not installed');
  }
  const root = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (root) {
    try {
      const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
      const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
      owner = { uid, gid };
    } catch {
      return unavailable('running as root and there is no postgres user to run PostgreSQL as');
    }
  }
  const as = (cmd: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
  const dir = await mkdtemp(join(tmpdir(), 'tw-pg-'));
  if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let pid = 0;
  const shutdown = async () => {
    await as(pgCtl, ['-D', data, '-m', 'immediate', '-t', '20', 'stop']).catch(() => {});
    if (pid > 0) signal([pid, ...descendants(pid)], 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await as(initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    await as(pgCtl, [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${Object.entries(options.settings ?? {})
        .map(([k, v]) => ` -c ${k}=${v}`)
        .join('')}`,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    pid = Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    await waitUntil('PostgreSQL', 20_000, () => withPg(url, (c) => c.query('SELECT 1')));
  } catch (err) {
    await shutdown();
    throw err;
  }
  return makeControls('postgres', pid, port, url, shutdown);
}

/**
 * Narrows a started server for a test: a reason string skips the test with it (it was already turned
 * into an error under CI=true by the start function).
 */
export function requireThrowaway(
  t: TestContext,
  server: Throwaway | string | undefined,
): server is Throwaway {
  if (server === undefined || typeof server === 'string') {
    t.skip(`${server ?? 'the server was not started'} — install it to run this test`);
    return false;
  }
  return true;
}
