/**
 * The bench orchestrator (bundled to bench/.work/main.mjs by bench/run.mjs): runs each figure in its own
 * Node process, collects the results each prints, and writes bench/RESULTS.md — or, when figures are
 * named on the command line, prints just those (bench/RESULTS.md is only rewritten by a full run).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type FigureResult, fmtBytes, RESULT_PREFIX, ROOT, stopwatch } from './lib/harness.js';
import { workerFile } from './lib/proc.js';
import { type ChartSpec, tableRatioChart } from './lib/svg.js';

interface FigureSpec {
  n: number;
  name: string;
  title: string;
  /** Hard limit for the figure's process. */
  timeoutMs: number;
  nodeArgs?: string[];
}

const FIGURES: FigureSpec[] = [
  { n: 1, name: 'cached', title: 'Warm-cache getToken()', timeoutMs: 90_000 },
  { n: 2, name: 'roundtrip', title: 'Token round trip (client_credentials)', timeoutMs: 120_000 },
  { n: 3, name: 'herd', title: 'Herd on a cold cache', timeoutMs: 1_800_000 },
  { n: 4, name: 'cli', title: 'CLI: warm `tokenward token`', timeoutMs: 300_000 },
  { n: 5, name: 'fetch', title: '`authFetch` on a warm cache', timeoutMs: 60_000 },
  { n: 6, name: 'memory', title: 'Memory: 100,000 cached tokens', timeoutMs: 600_000 },
];

function pick(args: string[]): FigureSpec[] {
  if (args.length === 0) return FIGURES;
  return args.map((a) => {
    const f = FIGURES.find((x) => x.name === a || String(x.n) === a);
    if (f === undefined) {
      process.stderr.write(
        `bench: unknown figure "${a}"; use ${FIGURES.map((x) => x.name).join(', ')} or 1–6\n`,
      );
      process.exit(2);
    }
    return f;
  });
}

interface FigureRun {
  spec: FigureSpec;
  results: FigureResult[];
  ms: number;
}

/** Runs one figure's process; a crash, a timeout or missing output becomes a figure marked as failed. */
/** Kills the running figure's process group, if any. */
let current: (() => void) | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    current?.();
    process.exit(130);
  });
}

function runOne(spec: FigureSpec): Promise<FigureRun> {
  const elapsed = stopwatch();
  process.stderr.write(`\n=== ${spec.n}. ${spec.title} ===\n`);
  return new Promise((resolve) => {
    // Its own process group, so a timeout (or Ctrl-C) also ends the workers the figure started.
    const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), workerFile(`figures/${spec.name}`)], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    current = killGroup;
    let results: FigureResult[] | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX))
        results = JSON.parse(line.slice(RESULT_PREFIX.length)) as FigureResult[];
      else process.stderr.write(`${line}\n`);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, spec.timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const ms = elapsed();
      if (results === undefined) {
        const why = timedOut
          ? `timed out after ${spec.timeoutMs / 1000} s`
          : `its process exited (${code ?? signal}) without results`;
        results = [failed(spec, why)];
      } else if (timedOut || code !== 0) {
        // A figure that reports as it goes (see harness `progress`): keep what it had measured.
        const note = timedOut
          ? `**The figure hit its time limit (${spec.timeoutMs / 1000} s)**: these are the results it had measured by then.`
          : `**The figure's process exited (${code ?? signal}) before the end**: these are the results it had measured by then.`;
        results = results.map((r) => ({ ...r, notes: [...r.notes, note] }));
      }
      resolve({ spec, results, ms });
    });
  });
}

function failed(spec: FigureSpec, why: string): FigureResult {
  return {
    id: `${spec.n}-${spec.name}`,
    title: spec.title,
    method: '',
    columns: [],
    rows: [],
    notes: [],
    headline: [],
    skipped: `the figure failed: ${why}`,
  };
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(columns: string[], rows: string[][]): string {
  const out = [`| ${columns.map(cell).join(' | ')} |`, `|${columns.map(() => ' --- ').join('|')}|`];
  for (const r of rows) out.push(`| ${r.map(cell).join(' | ')} |`);
  return out.join('\n');
}

/**
 * The charts of a figure: the ratio chart of its table (when it has a "×" column), then its own charts
 * (the herd's time-to-served curves).
 */
function chartsOf(n: number, r: FigureResult): ChartSpec[] {
  const out: ChartSpec[] = [];
  const ratios = tableRatioChart(
    `${n}-${r.id.replace(/^\d+-/, '')}-ratios`,
    `${n}. ${r.title}`,
    r.columns,
    r.rows,
  );
  if (ratios !== undefined) out.push(ratios);
  for (const c of r.charts ?? []) out.push({ ...c, id: `${n}-${c.id}` });
  return out;
}

/** Writes every chart as `<dir>/<id>.svg` (the directory emptied first). */
function writeCharts(runs: FigureRun[], dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const run of runs)
    for (const r of run.results)
      for (const c of chartsOf(run.spec.n, r)) writeFileSync(join(dir, `${c.id}.svg`), c.svg);
}

function render(runs: FigureRun[], meta: Record<string, string>, chartDir: string): string {
  const parts: string[] = [];
  parts.push('# tokenward benchmarks');
  parts.push(
    'Generated by the command below; do not edit by hand — the explanations live in the figure sources ' +
      '(`bench/figures/*.ts`) and `bench/README.md` says how to run one figure alone. Every figure is a ' +
      '**ratio of medians measured in the same run** (tasks interleaved in rounds, the ratio taken per ' +
      'round, then the median over rounds), so it holds on a noisy machine where the absolute times do not. ' +
      'A ratio divides like by like (time by time, bytes by bytes): below 1× is faster or smaller than the ' +
      'reference, above 1× slower or larger. ' +
      'tokenward is imported from the built `dist/` (copied to `bench/.work/dist/` when the run starts; the ' +
      'bench sources are TypeScript, bundled by esbuild with every `src/` import redirected to that copy). ' +
      'All servers are loopback servers the bench starts.',
  );
  parts.push(table(['', ''], Object.entries(meta)));
  parts.push('## Headlines');
  const heads: string[] = [];
  for (const run of runs) {
    for (const r of run.results) {
      if (r.skipped !== undefined) heads.push(`- **${r.title}**: ${r.skipped}`);
      for (const h of r.headline) heads.push(`- ${h}`);
    }
  }
  parts.push(heads.join('\n'));
  for (const run of runs) {
    for (const r of run.results) {
      parts.push(`## ${run.spec.n}. ${r.title}`);
      if (r.skipped !== undefined) parts.push(`**Not measured** — ${r.skipped}`);
      if (r.method !== '') parts.push(r.method);
      if (r.rows.length > 0) parts.push(table(r.columns, r.rows));
      const charts = chartsOf(run.spec.n, r);
      if (charts.length > 0)
        parts.push(
          charts.map((c) => `![${c.title.replace(/[[\]]/g, '')}](${chartDir}/${c.id}.svg)`).join('\n'),
        );
      if (r.notes.length > 0) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
    }
    parts.push(`<sub>figure ${run.spec.n} took ${(run.ms / 1000).toFixed(1)} s</sub>`);
  }
  return `${parts.join('\n\n')}\n`;
}

const args = process.argv.slice(2);
const chosen = pick(args);
const load = loadavg();
const started = new Date();
const total = stopwatch();
const runs: FigureRun[] = [];
for (const spec of chosen) runs.push(await runOne(spec));
const ms = total();

const cpuList = cpus();
const commit = git(['rev-parse', '--short', 'HEAD']) ?? 'unknown';
const dirty = git(['status', '--porcelain', '--', 'src']);
const dirtyCount = dirty === undefined || dirty === '' ? 0 : dirty.split('\n').length;
const command =
  process.env['npm_lifecycle_event'] === 'bench'
    ? '`npm run bench` (= `npm run build && node bench/run.mjs`)'
    : `\`node bench/run.mjs${args.length > 0 ? ` ${args.join(' ')}` : ''}\``;
const meta: Record<string, string> = {
  command,
  date: started.toISOString(),
  node: `${process.version} (V8 ${process.versions.v8})`,
  CPU: `${cpuList[0]?.model.trim() ?? 'unknown'} × ${cpuList.length} logical CPUs`,
  memory: fmtBytes(totalmem()),
  OS: `${process.platform} ${release()} ${process.arch}`,
  'load average at start (1/5/15 min)': load.map((x) => x.toFixed(2)).join(' / '),
  tokenward: `commit ${commit}; dist/ as built from the working tree${dirtyCount > 0 ? ` (${dirtyCount} uncommitted path(s) under src/ at the end of the run)` : ''}`,
  duration: `${(ms / 1000).toFixed(1)} s for the figures (the build before them not included)`,
};
if (args.length === 0) {
  writeCharts(runs, join(ROOT, 'bench', 'charts'));
  const md = render(runs, meta, 'charts');
  writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
  process.stderr.write(`\nbench: wrote bench/RESULTS.md (${(ms / 1000).toFixed(1)} s)\n`);
} else {
  writeCharts(runs, join(ROOT, 'bench', '.work', 'charts'));
  const md = render(runs, meta, 'charts');
  const partial = join(ROOT, 'bench', '.work', 'RESULTS.partial.md');
  writeFileSync(partial, md);
  process.stdout.write(md);
  process.stderr.write(
    `\nbench: figures ${args.join(' ')} only; bench/RESULTS.md untouched (copy in ${partial})\n`,
  );
}
