/**
 * Runs the `tokenward` CLI as a user does: a child process with a temporary HOME, XDG dirs and cache
 * dir. Uses the installed executable, dist/cli/tokenward.cjs (the CLI bundle with its code cache), when it
 * is at least as new as every file in src/ (as after `npm test`'s build), else the TypeScript source
 * through tsx.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Ran, type RunProcessOptions, runProcess } from '../helpers/process.js';
import { TEST_CLIENT } from '../helpers/token-server.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = join(ROOT, 'dist', 'cli', 'tokenward.cjs');
const SRC = join(ROOT, 'src', 'cli', 'main.ts');

function newest(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

function cliArgs(): string[] {
  const forced = process.env['TOKENWARD_TEST_CLI'];
  if (forced === 'src') return ['--import', 'tsx', SRC];
  if (forced === 'dist') return [DIST];
  try {
    if (statSync(DIST).mtimeMs >= newest(join(ROOT, 'src'))) return [DIST];
  } catch {
    // no build
  }
  return ['--import', 'tsx', SRC];
}

/** How the CLI is started in these tests (for the report). */
export const CLI = cliArgs();

/** A temporary home for one test file. */
export interface TempHome {
  dir: string;
  env: NodeJS.ProcessEnv;
  config: string;
  cleanup(): void;
}

/** Makes a temporary HOME with XDG dirs and TOKENWARD_CACHE_DIR inside, and a config path. */
export function tempHome(): TempHome {
  const dir = mkdtempSync(join(tmpdir(), 'tokenward-cli-'));
  for (const d of ['config', 'cache', 'data', 'state']) mkdirSync(join(dir, d), { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'SystemRoot', 'TEMP', 'TMP', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, {
    HOME: dir,
    USERPROFILE: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_STATE_HOME: join(dir, 'state'),
    TOKENWARD_CACHE_DIR: join(dir, 'cache', 'tokenward'),
  });
  return {
    dir,
    env,
    config: join(dir, 'config', 'tokenward', 'config.toml'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The result of one CLI run. */
export type RunResult = Ran;

/** Options of {@link tw}. */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Options for node itself, before the CLI (e.g. `--import` of a loader hook). */
  nodeArgs?: string[];
}

/** Runs `tokenward ...args` to completion. */
export function tw(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const run: RunProcessOptions = {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    timeoutMs: options.timeoutMs ?? 60_000,
  };
  if (options.input !== undefined) run.input = options.input;
  return runProcess(process.execPath, [...(options.nodeArgs ?? []), ...CLI, ...args], run);
}

/** Starts `tokenward ...args` and leaves it running (for `sandbox`). */
export function twSpawn(args: string[], options: RunOptions = {}): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], {
    env: options.env ?? process.env,
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Writes `home.config` (mode 0600) with one profile `p`: the {@link TEST_CLIENT} at `tokenUrl`, its
 * secret as `env:TW_SECRET`, `api_base_url = apiBase`, plus the `extra` lines.
 */
export function writeClientConfig(
  home: TempHome,
  tokenUrl: string,
  apiBase: string,
  extra: string[] = [],
): void {
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    [
      '[profiles.p]',
      `token_url = "${tokenUrl}"`,
      `client_id = "${TEST_CLIENT.id}"`,
      'client_secret = "env:TW_SECRET"',
      `api_base_url = "${apiBase}"`,
      ...extra,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

/** True when `script` (util-linux) can run a command under a pseudo-terminal here. */
export function hasScript(): boolean {
  const r = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** `s` as one POSIX shell word (for the command line `script -c` runs). */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
