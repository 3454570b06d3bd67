/**
 * What every bench file shares: the result shape `bench/run.mjs` collects, statistics, and a tinybench
 * runner that measures several tasks in interleaved rounds so each ratio is taken within one run.
 */
import { Bench } from 'tinybench';

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
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(results)}\n`);
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A duration in ms, in a readable unit. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
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
  /** One operation. */
  fn: () => Promise<unknown>;
  /** Operations per sample, to measure sub-microsecond operations above the timer's overhead. Default 1. */
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
  /** Rounds; in each, every task runs once (order rotated per round). Default 3. */
  rounds?: number;
  /** Time per task per round, ms. Default 400. */
  timeMs?: number;
  /** Least samples per task per round. Default 20. */
  iterations?: number;
  /** Warm-up time per task per round, ms. Default 100. */
  warmupMs?: number;
}

/**
 * Measures tasks in interleaved rounds (order rotated each round) with tinybench and returns each task's
 * median latency per operation. Ratios computed from the same round share the machine's state.
 */
export async function compare(
  tasks: readonly CompareTask[],
  options: CompareOptions = {},
): Promise<CompareResult[]> {
  const rounds = options.rounds ?? 3;
  const out = new Map<string, CompareResult>(
    tasks.map((t) => [t.name, { name: t.name, perRound: [], medianMs: Number.NaN, samples: 0 }]),
  );
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: options.timeMs ?? 400,
      iterations: options.iterations ?? 20,
      warmupTime: options.warmupMs ?? 100,
      warmupIterations: 5,
      throws: true,
    });
    const order = tasks.map((_, i) => tasks[(i + round) % tasks.length]!);
    for (const t of order) {
      const batch = t.batch ?? 1;
      const fn = t.fn;
      bench.add(
        t.name,
        batch === 1
          ? fn
          : async () => {
              for (let i = 0; i < batch; i++) await fn();
            },
      );
    }
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

/** The median over rounds of `a / b` (each ratio from one round). */
export function roundRatio(a: CompareResult, b: CompareResult): number {
  return median(a.perRound.map((x, i) => x / b.perRound[i]!));
}

/** Starts a timer; returns elapsed ms when called. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}
