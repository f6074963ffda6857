/** Timing helpers shared by the benchmarks: warm-up, then the median of timed runs. */
import { performance } from 'node:perf_hooks';

export interface Timing {
  /** Median wall-clock milliseconds per run. */
  medianMs: number;
  /** Median CPU milliseconds per run (user + system of this process). */
  medianCpuMs: number;
  /** Number of timed runs behind the median. */
  runs: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs `fn` once to warm up, then at least `minRuns` times and until `budgetMs` is spent
 * (at most `maxRuns`), and returns the median. A warm-up slower than `tooSlowMs` returns
 * that single time with `runs: 1`, so a very slow peer does not stall the benchmark.
 */
export function time(fn: () => void, opts: { minRuns?: number; maxRuns?: number; budgetMs?: number; tooSlowMs?: number } = {}): Timing {
  const { minRuns = 5, maxRuns = 50, budgetMs = 1000, tooSlowMs = Infinity } = opts;
  let t0 = performance.now();
  fn();
  const warm = performance.now() - t0;
  if (warm > tooSlowMs) return { medianMs: warm, medianCpuMs: warm, runs: 1 };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && performance.now() - start < budgetMs)) {
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
  }
  return { medianMs: median(times), medianCpuMs: median(cpuTimes), runs: times.length };
}

/** The median CPU time (user + system of this process, ms) of `n` calls of `fn`, one call timed at a time. */
export function medianCpuMs(fn: () => void, n: number): number {
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  return median(times);
}
