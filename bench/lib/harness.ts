/**
 * What every bench file shares: the result shape `bench/run.mjs` collects, statistics, and a tinybench
 * runner that measures several tasks in interleaved rounds so each ratio is taken within one run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import type { ChartSpec } from './svg.js';

/**
 * The repository root. `bench/run.mjs` runs everything with the root as the working directory and
 * passes it in `TOKENWARD_BENCH_ROOT`.
 */
export const ROOT = process.env['TOKENWARD_BENCH_ROOT'] ?? process.cwd();

/**
 * The snapshot of the built `dist/` the bench runs against: `bench/run.mjs` copies `dist/` here first, so
 * a rebuild by someone else during the run cannot leave the bench with half-written modules.
 */
export const DIST = join(ROOT, 'bench', '.work', 'dist');

/** The file URL of a built module, `<DIST>/<rel>`. */
export function distUrl(rel: string): string {
  return pathToFileURL(join(DIST, rel)).href;
}

/**
 * Imports `dist/<rel>` if it was built; `undefined` when the file does not exist (a module another
 * engineer has not landed yet). Any other failure (a module that exists but throws) is rethrown.
 */
export async function importOptional<T>(rel: string): Promise<T | undefined> {
  if (!existsSync(join(DIST, rel))) return undefined;
  return (await import(distUrl(rel))) as T;
}

/** One figure of RESULTS.md, as a bench file reports it. */
export interface FigureResult {
  /** Stable id, e.g. `1-cached-token`. */
  id: string;
  /** Section title. */
  title: string;
  /** What was measured and how, one paragraph. */
  method: string;
  /** Table header. */
  columns: string[];
  /** Table rows (already formatted). */
  rows: string[][];
  /** Findings and explanations, one bullet each. */
  notes: string[];
  /** One-line headline ratios for the summary. */
  headline: string[];
  /** Set when the figure could not be measured: why. */
  skipped?: string;
  /** Charts drawn as SVG next to RESULTS.md (see bench/lib/svg.ts). */
  charts?: ChartSpec[];
}

/** The prefix of the one stdout line that carries a bench file's results. */
export const RESULT_PREFIX = '@@bench ';

/** Prints the results for `bench/run.mjs` (one line) and a readable copy on stderr. */
export function emit(results: FigureResult[]): void {
  for (const r of results) {
    process.stderr.write(`\n## ${r.title}\n`);
    if (r.skipped !== undefined) process.stderr.write(`skipped: ${r.skipped}\n`);
    for (const row of r.rows) process.stderr.write(`  ${row.join(' | ')}\n`);
    for (const h of r.headline) process.stderr.write(`  => ${h}\n`);
  }
  progress(results);
}

/**
 * Prints the results measured so far for `bench/run.mjs`, which keeps the last ones it got: a figure
 * stopped at its time limit is reported with what it had measured by then.
 */
export function progress(results: FigureResult[]): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(results)}\n`);
}

/**
 * Runs one figure file: calls `measure`, prints its results for `bench/run.mjs`, and turns a crash into a
 * figure marked as failed (so the rest of the run still completes). Exits the process when done, so
 * keep-alive sockets and servers the figure forgot cannot hold it open.
 */
export async function runFigure(
  id: string,
  title: string,
  measure: () => Promise<FigureResult[]>,
): Promise<void> {
  let results: FigureResult[];
  try {
    results = await measure();
  } catch (err) {
    const why = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`${id} failed: ${why}\n`);
    results = [
      {
        id,
        title,
        method: '',
        columns: [],
        rows: [],
        notes: [],
        headline: [],
        skipped: `the figure failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`,
      },
    ];
  }
  emit(results);
  process.exit(0);
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The `p` quantile (0–1) of a non-empty list, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** A duration in ms, in a readable unit. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  // A negative time (a waiter served before the lock holder printed its own token): signed, not "-8e7 ns".
  if (ms < 0) return `−${fmtMs(-ms)}`;
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Operations per second, rounded to three significant digits. */
export function fmtOps(opsPerSec: number): string {
  if (!Number.isFinite(opsPerSec)) return 'n/a';
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toPrecision(3)} M/s`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toPrecision(3)} k/s`;
  return `${opsPerSec.toPrecision(3)} /s`;
}

/** A ratio like `1.23×`. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

/** Bytes in a readable unit. */
export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return 'n/a';
  if (Math.abs(b) < 1024) return `${b.toFixed(0)} B`;
  if (Math.abs(b) < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

/** One task of {@link compare}. */
export interface CompareTask {
  name: string;
  /** One sample: performs `batch` operations (loop inside `fn`, so no wrapper call is added per operation). */
  fn: () => Promise<unknown>;
  /** Operations one call of `fn` performs, to measure sub-microsecond operations above the timer. Default 1. */
  batch?: number;
}

/** Per-task results of {@link compare}: the median latency of each round, ms per operation. */
export interface CompareResult {
  name: string;
  /** Median latency per operation in each round, ms. */
  perRound: number[];
  /** Median over rounds, ms. */
  medianMs: number;
  /** Samples taken over all rounds. */
  samples: number;
}

/** Options of {@link compare}. */
export interface CompareOptions {
  /** Rounds; in each, every task runs once (order rotated per round). Default 20. */
  rounds?: number;
  /** Time per task per round, ms. Default 50: short rounds keep the tasks of a round close in time. */
  timeMs?: number;
  /** Least samples per task per round. Default 5. */
  iterations?: number;
  /** Warm-up time per task, once before the first round, ms. Default 200. */
  warmupMs?: number;
}

/**
 * Measures tasks with tinybench in many short interleaved rounds (order rotated each round) and returns
 * each task's median latency per operation. A ratio taken within one round compares tasks measured
 * within a few hundred milliseconds of each other, so a machine whose load changes (other jobs, CPU
 * frequency) moves both sides of it; the median over rounds then drops the rounds a burst disturbed.
 */
export async function compare(
  tasks: readonly CompareTask[],
  options: CompareOptions = {},
): Promise<CompareResult[]> {
  const rounds = options.rounds ?? 20;
  const out = new Map<string, CompareResult>(
    tasks.map((t) => [t.name, { name: t.name, perRound: [], medianMs: Number.NaN, samples: 0 }]),
  );
  const warm = new Bench({
    time: options.warmupMs ?? 200,
    iterations: 2,
    warmup: false,
    throws: true,
  });
  for (const t of tasks) warm.add(t.name, t.fn);
  await warm.run();
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: options.timeMs ?? 50,
      iterations: options.iterations ?? 5,
      warmup: false,
      throws: true,
    });
    const order = tasks.map((_, i) => tasks[(i + round) % tasks.length]!);
    for (const t of order) bench.add(t.name, t.fn);
    await bench.run();
    for (const t of order) {
      const task = bench.getTask(t.name);
      const result = task?.result;
      if (result === undefined || !('latency' in result)) {
        throw new Error(`bench task ${t.name} did not complete (${result?.state ?? 'no result'})`);
      }
      const r = out.get(t.name)!;
      r.perRound.push(result.latency.p50 / (t.batch ?? 1));
      r.samples += result.latency.samplesCount;
    }
  }
  for (const r of out.values()) r.medianMs = median(r.perRound);
  return [...out.values()];
}

/** One sentence saying how {@link compare} measured, for a figure's method paragraph. */
export function describeCompare(options: CompareOptions, batch?: number): string {
  const per =
    batch === undefined
      ? 'each sample is one call'
      : `each sample is ${batch.toLocaleString('en')} sequential calls`;
  return (
    `tinybench, ${options.rounds ?? 20} interleaved rounds of ${options.timeMs ?? 50} ms per task (task order rotated ` +
    `each round) after a ${options.warmupMs ?? 200} ms warm-up; ${per}; "median" is the median over rounds of each ` +
    "round's median, and each ratio is the median of the per-round ratios (both sides measured within the same round)."
  );
}

/** The median over rounds of `a / b` (each ratio from one round). */
export function roundRatio(a: CompareResult, b: CompareResult): number {
  return median(a.perRound.map((x, i) => x / b.perRound[i]!));
}

/** The smallest and largest of a list, as `min–max` with a formatter. */
export function range(xs: readonly number[], fmt: (x: number) => string): string {
  if (xs.length === 0) return 'n/a';
  return `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts a timer; returns elapsed ms when called. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}
