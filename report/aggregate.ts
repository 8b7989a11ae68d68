/**
 * What the report's table and plots show, computed from a loaded run. Only root episodes count (child rlm_query
 * episodes are part of their parent's trajectory). Every number here is tested against a DuckDB query over the same
 * Parquet files (test/report-aggregate.test.ts).
 */
import { redactUrl } from '../datasets/index.ts';
import { isChild, type LoadedRun, type ReportEpisode } from './load.ts';
import type { ComponentStats, CostUnit, FamilyStats, Histogram, RunAggregates, RunHeader, SizePoint } from './payload.ts';
import { integerBinWidth, mean, quantiles, sampleSd } from './stats.ts';

/** The context size an episode was asked for (task_options.contextTokens), else the size it got (context_tokens). */
export function requestedSize(e: Pick<ReportEpisode, 'task_options' | 'context_tokens'>): number {
  try {
    const v = (JSON.parse(e.task_options) as { contextTokens?: unknown }).contextTokens;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  } catch {
    // task_options is written by rlm-gym as JSON; a hand-made row without it falls back to the measured size
  }
  return e.context_tokens;
}

export const rootTokens = (e: ReportEpisode) => e.root_prompt_tokens + e.root_completion_tokens;
export const subTokens = (e: ReportEpisode) => e.sub_prompt_tokens + e.sub_completion_tokens;
export const totalTokens = (e: ReportEpisode) => rootTokens(e) + subTokens(e);

/** Was the run priced (--price-in)? Then cost is in USD; else the report shows tokens. */
export function isPriced(run: Pick<LoadedRun, 'manifests'>): boolean {
  return run.manifests.length > 0 && run.manifests.every((m) => {
    const cfg = (m.config ?? {}) as { priceIn?: unknown };
    const env = ((m.extra ?? {}) as { env?: { prices?: unknown } }).env;
    return (cfg.priceIn !== undefined && cfg.priceIn !== null) || (env?.prices !== undefined && env?.prices !== null);
  });
}

export function costOf(e: ReportEpisode, unit: CostUnit): number {
  return unit === 'usd' ? e.cost_usd : totalTokens(e);
}

export function rootEpisodes(run: Pick<LoadedRun, 'episodes'>): ReportEpisode[] {
  return run.episodes.filter((e) => !isChild(e));
}

/** Families in first-seen order of the run's plan (episode order). */
export function familiesOf(eps: readonly ReportEpisode[]): string[] {
  return [...new Set(eps.map((e) => e.task_family))];
}

export function familyStats(family: string, eps: readonly ReportEpisode[], unit: CostUnit): FamilyStats {
  const cost = eps.map((e) => costOf(e, unit));
  return {
    family,
    n: eps.length,
    scoreMean: mean(eps.map((e) => e.score)) ?? 0,
    correctPct: 100 * (mean(eps.map((e) => (e.correct ? 1 : 0))) ?? 0),
    costUnit: unit,
    costMean: mean(cost) ?? 0,
    costSd: sampleSd(cost),
    rootTokensMean: mean(eps.map(rootTokens)) ?? 0,
    subTokensMean: mean(eps.map(subTokens)) ?? 0,
    turnsMean: mean(eps.map((e) => e.turns)) ?? 0,
    subCallsMean: mean(eps.map((e) => e.sub_calls)) ?? 0,
    errors: eps.filter((e) => e.error !== null).length,
  };
}

export function sizeCurve(eps: readonly ReportEpisode[]): SizePoint[] {
  const by = new Map<number, ReportEpisode[]>();
  for (const e of eps) {
    const s = requestedSize(e);
    const list = by.get(s);
    if (list) list.push(e);
    else by.set(s, [e]);
  }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([size, list]) => ({
      size,
      n: list.length,
      scoreMean: mean(list.map((e) => e.score))!,
      correctPct: 100 * mean(list.map((e) => (e.correct ? 1 : 0)))!,
    }));
}

/** Histogram of a non-negative integer per episode; binWidth chosen from the max (see integerBinWidth). */
export function histogram(values: readonly number[], binWidth = integerBinWidth(Math.max(0, ...values))): Histogram {
  const bins = new Map<number, number>();
  for (const v of values) {
    const lo = Math.floor(v / binWidth) * binWidth;
    bins.set(lo, (bins.get(lo) ?? 0) + 1);
  }
  return { binWidth, bins: [...bins.entries()].sort((a, b) => a[0] - b[0]) };
}

/** Mean of each reward component over the episodes that have it (DuckDB: avg(reward_components['name'])). */
export function componentStats(eps: readonly ReportEpisode[]): ComponentStats[] {
  const acc = new Map<string, number[]>();
  for (const e of eps) {
    for (const [k, v] of Object.entries(e.reward_components ?? {})) {
      if (typeof v !== 'number' || Number.isNaN(v)) continue;
      const list = acc.get(k);
      if (list) list.push(v);
      else acc.set(k, [v]);
    }
  }
  const out: ComponentStats[] = [...acc.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, xs]) => ({ name, n: xs.length, mean: mean(xs)! }));
  if (eps.length) out.push({ name: 'reward (weighted total)', n: eps.length, mean: mean(eps.map((e) => e.reward))! });
  return out;
}

export function stopReasons(eps: readonly ReportEpisode[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of eps) out[e.stop_reason] = (out[e.stop_reason] ?? 0) + 1;
  return out;
}

/**
 * The aggregates of one run. `unit` is the cost unit of the distribution plot (USD only when every run of the report is
 * priced, so the runs share an axis); the table uses the run's own unit. Histogram bin widths are passed in so that
 * the runs of one report share bins.
 */
export function aggregateRun(run: LoadedRun, opts: { distUnit: CostUnit; turnsBin?: number; subCallsBin?: number }): RunAggregates {
  const eps = rootEpisodes(run);
  const unit: CostUnit = isPriced(run) ? 'usd' : 'tokens';
  const fams = familiesOf(eps);
  const byFam = new Map(fams.map((f) => [f, eps.filter((e) => e.task_family === f)]));
  const families = fams.map((f) => familyStats(f, byFam.get(f)!, unit));
  if (fams.length > 1) families.push(familyStats('all', eps, unit));
  const curves: Record<string, SizePoint[]> = {};
  const costDist: RunAggregates['costDist'] = {};
  for (const f of fams) {
    curves[f] = sizeCurve(byFam.get(f)!);
    const q = quantiles(byFam.get(f)!.map((e) => costOf(e, opts.distUnit)));
    if (q) costDist[f] = q;
  }
  return {
    families,
    curves,
    costDist,
    turns: histogram(eps.map((e) => e.turns), opts.turnsBin),
    subCalls: histogram(eps.map((e) => e.sub_calls), opts.subCallsBin),
    components: componentStats(eps),
    stopReasons: stopReasons(eps),
  };
}

const uniq = <T>(xs: readonly T[]) => [...new Set(xs)];

/** The header of one run: what made it, with what, and what it holds. Endpoints are redacted again here. */
export function runHeader(run: LoadedRun): RunHeader {
  const ms = run.manifests;
  const eps = rootEpisodes(run);
  const models: Record<string, string[]> = {};
  for (const m of ms) for (const [role, id] of Object.entries(m.models ?? {})) models[role] = uniq([...(models[role] ?? []), id]);
  const endpoints = new Map<string, RunHeader['endpoints'][number]>();
  for (const m of ms) {
    for (const e of m.endpoints ?? []) {
      const url = redactUrl(e.url);
      const key = `${e.role ?? ''} ${url}`;
      const prev = endpoints.get(key);
      endpoints.set(key, { role: e.role ?? '', url, served: uniq([...(prev?.served ?? []), ...(e.served_models ?? [])]) });
    }
  }
  const starts = ms.flatMap((m) => (m.sessions ?? []).map((s) => s.started_at).concat(m.started_at ? [m.started_at] : []));
  const ends = ms.flatMap((m) => (m.sessions ?? []).map((s) => s.ended_at).concat(m.ended_at ? [m.ended_at] : [])).filter((x): x is string => !!x);
  const startedAt = starts.length ? starts.reduce((a, b) => (a < b ? a : b)) : null;
  const endedAt = ends.length ? ends.reduce((a, b) => (a > b ? a : b)) : null;
  const shards = ms.some((m) => m.shard)
    ? (() => {
        const count = ms.find((m) => m.shard)!.shard!.count;
        const present = uniq(ms.map((m) => m.shard?.index).filter((i): i is number => typeof i === 'number')).sort((a, b) => a - b);
        return { count, present, missing: Array.from({ length: count }, (_, i) => i).filter((i) => !present.includes(i)) };
      })()
    : null;
  const hasCt = run.episodes.some((e) => e.completion_truncated !== undefined);
  const notes = [...run.notes];
  if (shards?.missing.length) notes.push(`shard(s) ${shards.missing.join(', ')} of ${shards.count} are missing: the numbers cover ${shards.present.length} of ${shards.count} shards`);
  for (const m of ms) if (m.status !== 'completed') notes.push(`${m.run_id}: status ${m.status}${m.status === 'running' ? ' (still running, or it crashed)' : ''}`);
  return {
    label: run.label,
    dirs: run.dirs,
    runIds: uniq(ms.map((m) => m.run_id)),
    status: uniq(ms.map((m) => m.status)),
    models,
    endpoints: [...endpoints.values()],
    seed: uniq(ms.map((m) => m.seed ?? null)),
    shards,
    episodes: eps.length,
    childEpisodes: run.episodes.length - eps.length,
    steps: run.steps.length,
    correct: eps.filter((e) => e.correct).length,
    terminated: eps.filter((e) => e.terminated).length,
    truncated: eps.filter((e) => e.truncated).length,
    errors: eps.filter((e) => e.error !== null).length,
    rewardErrors: eps.filter((e) => e.reward_error !== null).length,
    completionTruncated: hasCt ? eps.filter((e) => e.completion_truncated === true).length : null,
    byStopReason: stopReasons(eps),
    startedAt,
    endedAt,
    wallSeconds: startedAt && endedAt ? Math.max(0, (Date.parse(endedAt) - Date.parse(startedAt)) / 1000) : null,
    episodeSeconds: eps.reduce((s, e) => s + e.wall_ms, 0) / 1000,
    versions: uniq(ms.map((m) => m.versions?.package?.version ?? 'unknown')),
    gitCommits: uniq(ms.map((m) => m.git_commit).filter((c): c is string => !!c)),
    command: ms[0]?.command ?? '',
    rewardSpec: ms[0]?.reward_spec ?? null,
    priced: isPriced(run),
    sizes: uniq(eps.map(requestedSize)).sort((a, b) => a - b),
    families: familiesOf(eps),
    notes,
  };
}
