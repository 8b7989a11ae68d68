/**
 * The few statistics the report shows, defined as DuckDB defines them so the tests can hold the numbers to DuckDB:
 * `avg`, `stddev_samp` (null for fewer than two values) and `quantile_cont` (linear interpolation between order
 * statistics, position q·(n−1)).
 */

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1); null for fewer than two values, like DuckDB's stddev_samp. */
export function sampleSd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** quantile_cont of ascending-sorted values; null when empty. */
export function quantileSorted(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The quantiles a distribution plot draws: box (p25, p50, p75), whisker to p95 and the tail beyond (p99, max). */
export interface Quantiles {
  n: number;
  min: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export const QUANTILE_POINTS = { p25: 0.25, p50: 0.5, p75: 0.75, p90: 0.9, p95: 0.95, p99: 0.99 } as const;

export function quantiles(xs: readonly number[]): Quantiles | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => quantileSorted(s, p)!;
  return {
    n: s.length,
    min: s[0],
    p25: q(0.25),
    p50: q(0.5),
    p75: q(0.75),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    max: s[s.length - 1],
    mean: mean(s)!,
  };
}

/**
 * Histogram bins for non-negative integer counts: width 1 up to 40 distinct values, else a width that makes at most
 * 40 bins. Bin i covers [lo_i, lo_i + width).
 */
export function integerBinWidth(max: number, maxBins = 40): number {
  if (max < maxBins) return 1;
  const raw = Math.ceil((max + 1) / maxBins);
  // Round to 1, 2, 5 × 10^k so the bin edges read well.
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
