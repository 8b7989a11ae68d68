/** Number formatting for the page. */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtNum(n: number | null, digits = 2): string {
  if (n === null || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** 1234 → 1.2K, 2_500_000 → 2.5M. */
export function fmtCompact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}K`;
  return fmtInt(n);
}

export function fmtUsd(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  return `$${n < 0.01 && n !== 0 ? n.toPrecision(2) : n.toFixed(n < 10 ? 3 : 2)}`;
}

export function fmtMs(ms: number): string {
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function fmtSeconds(s: number | null): string {
  if (s === null) return '—';
  if (s >= 3600) return `${(s / 3600).toFixed(2)} h`;
  if (s >= 60) return `${(s / 60).toFixed(1)} min`;
  return `${s.toFixed(1)} s`;
}

/** 8192 → 8K, 262144 → 256K, 1048576 → 1M, 100000 → 100,000 (sizes in the paper's 2^k style when they are powers). */
export function fmtSize(n: number): string {
  if (n >= 1024 && Number.isInteger(Math.log2(n))) return n >= 1048576 ? `${n / 1048576}M` : `${n / 1024}K`;
  return fmtInt(n);
}
