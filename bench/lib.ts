/**
 * Shared pieces of the benchmarks: the result record, sample statistics, timing loops, /proc memory readers, logging.
 * Everything a benchmark prints goes to stderr; stdout belongs to bench/index.ts (the JSON object or the table).
 */
import { readFileSync } from 'node:fs';

/** One row of `npm run bench -- --json` → results[]. ratio = value / baseline_value. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with, in words. */
  baseline: string;
  baseline_value: number;
  ratio: number;
  /** The target, in words. */
  goal: string;
  /** null when the benchmark has no pass/fail goal (or could not be judged). */
  goal_met: boolean | null;
  [extra: string]: unknown;
}

export interface BenchContext {
  quick: boolean;
  /** Sub-selection inside a benchmark (e.g. taskgen families), from --only; null = all. */
  select: string[] | null;
}

/** A benchmark module's export; its --help line, sub-selections and aliases live in the registry (bench/index.ts). */
export interface Benchmark {
  id: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Rounds to `sig` significant digits (for table values spanning µs to MB). */
export function sig(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

export interface Summary {
  p50: number;
  p90: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(samples: readonly number[], digits = 4): Summary {
  return {
    p50: sig(quantile(samples, 0.5), digits),
    p90: sig(quantile(samples, 0.9), digits),
    min: sig(Math.min(...samples), digits),
    max: sig(Math.max(...samples), digits),
    n: samples.length,
  };
}

/** Runs `fn` `warmup` times untimed, then `reps` times timed (ms per call). */
export async function timeIt(fn: () => unknown | Promise<unknown>, reps: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Like timeIt, but `setup` runs untimed before each call and its value is passed on. */
export async function timeWithSetup<T>(setup: (i: number) => T | Promise<T>, fn: (x: T, i: number) => unknown | Promise<unknown>, reps: number, warmup = 1): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const x = await setup(i);
    const t0 = performance.now();
    await fn(x, i);
    const ms = performance.now() - t0;
    if (i >= warmup) out.push(ms);
  }
  return out;
}

export interface ResultInput {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  goal: string;
  goal_met: boolean | null;
  /** Default value / baseline_value. */
  ratio?: number;
  [extra: string]: unknown;
}

/** Builds a result row: rounds value/baseline to 4 significant digits, computes ratio = value / baseline_value. */
export function makeResult(r: ResultInput): BenchResult {
  const { name, value, unit, baseline, baseline_value, goal, goal_met, ratio, ...extra } = r;
  const rt = ratio ?? (baseline_value === 0 ? NaN : value / baseline_value);
  return { name, value: sig(value), unit, baseline, baseline_value: sig(baseline_value), ratio: sig(rt, 3), goal, goal_met, ...extra };
}

// ----- memory -----------------------------------------------------------------------------------------------------

export interface ProcMem {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  hwm: number;
}

/** VmRSS / VmHWM of a process from /proc (Linux); null when the process is gone or /proc is unavailable. */
export function procMem(pid: number | 'self' = 'self'): ProcMem | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return Number.isFinite(rss) ? { rss, hwm: Number.isFinite(hwm) ? hwm : rss } : null;
  } catch {
    return null;
  }
}

/** Samples the summed RSS of `pids()` (and this process) every `everyMs`, keeping the maximum. */
export class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly pids: () => number[],
    private readonly everyMs = 10,
  ) {}
  sample(): number {
    let total = procMem('self')?.rss ?? 0;
    for (const pid of this.pids()) total += procMem(pid)?.rss ?? 0;
    if (total > this.peak) this.peak = total;
    return total;
  }
  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peak;
  }
}

/** CPU time (user + system) a process has used so far, ms, from /proc/<pid>/stat (clock ticks of 10 ms); null if gone. */
export function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/** CPU time of this process so far, ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const MB = 1024 * 1024;
export const toMB = (bytes: number, digits = 1) => round(bytes / MB, digits);

/** Bytes of a task context as UTF-8 (documents: id + title + text). */
export function contextBytes(context: string | { id: string; title: string; text: string }[] | { kind: 'chunked'; bytes: number }): number {
  if (typeof context === 'string') return Buffer.byteLength(context, 'utf8');
  if (!Array.isArray(context)) return context.bytes;
  let n = 0;
  for (const d of context) n += Buffer.byteLength(d.id, 'utf8') + Buffer.byteLength(d.title, 'utf8') + Buffer.byteLength(d.text, 'utf8');
  return n;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Lets the GC run between phases when node was started with --expose-gc (bench/index.ts starts children with it). */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
