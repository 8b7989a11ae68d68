/**
 * Progress of a run: a live bar on a TTY (cli-progress), plain periodic lines otherwise (logs, CI, kubectl logs),
 * and the summary table printed at the end.
 */
import cliProgress from 'cli-progress';
import type { FamilySummary, RolloutProgress } from './runner.ts';

export interface ProgressReporter {
  update(p: RolloutProgress): void;
  stop(): void;
}

export function createProgressReporter(total: number, stream: NodeJS.WriteStream = process.stderr, intervalMs = 10_000): ProgressReporter {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: ' {bar} {value}/{total} episodes | acc {acc} | {tokens} tok | {rate} ep/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { acc: '-', tokens: '0', rate: '0.00' });
    return {
      update: (p) => bar.update(p.done, fields(p)),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < intervalMs && p.done !== total) return;
      last = now;
      const f = fields(p);
      stream.write(`[rollout] ${p.done}/${total} episodes · acc ${f.acc} · ${f.tokens} tokens · ${f.rate} ep/s · errors ${p.errors}\n`);
    },
    stop() {},
  };
}

function fields(p: RolloutProgress) {
  const secs = Math.max(1e-3, (Date.now() - p.startedAt) / 1000);
  return {
    acc: p.done ? `${((100 * p.correct) / p.done).toFixed(1)}%` : '-',
    tokens: compact(p.tokens),
    rate: (p.done / secs).toFixed(2),
  };
}

export function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** The end-of-run table: one row per family (+ "all"). Cost only when prices were configured. */
export function formatSummaryTable(rows: FamilySummary[], withCost: boolean): string {
  const head = ['task', 'n', 'accuracy', 'mean score', 'mean reward', 'mean turns', 'sub-calls', 'tokens', ...(withCost ? ['cost $'] : []), 'errors', 's/episode'];
  const body = rows.map((r) => [
    r.family,
    String(r.n),
    `${(100 * r.accuracy).toFixed(1)}%`,
    r.meanScore.toFixed(3),
    r.meanReward.toFixed(3),
    r.meanTurns.toFixed(1),
    String(r.subCalls),
    compact(r.tokens),
    ...(withCost ? [r.costUsd.toFixed(4)] : []),
    String(r.errors),
    (r.wallMs / r.n / 1000).toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
