/**
 * report/ — the HTML report and trajectory viewer (`npm run report`). Reads run directories through datasets/.
 *
 *     const r = await writeReport(['runs/qwen3', 'runs/llama'], { out: 'report.html' });
 *     // r.bytes, r.episodes, r.embedded …
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { collectVersions } from '../datasets/index.ts';
import { aggregateRun, familiesOf, rootEpisodes, runHeader, isPriced } from './aggregate.ts';
import { viewerAssets } from './bundle.ts';
import { renderHtml } from './html.ts';
import { loadRun, resolveInputs, type LoadedRun } from './load.ts';
import type { CostUnit, ReportData } from './payload.ts';
import { integerBinWidth } from './stats.ts';
import { DEFAULT_MAX_TEXT_CHARS, buildTrajectories } from './trajectories.ts';

export { ReportInputError } from './errors.ts';
export { resolveInputs, loadRun, isChild } from './load.ts';
export type { LoadedRun, ReportEpisode, ReportStep, ResolvedInputs } from './load.ts';
export { aggregateRun, runHeader, familyStats, sizeCurve, histogram, componentStats, stopReasons, requestedSize, isPriced, costOf, rootEpisodes } from './aggregate.ts';
export { mean, sampleSd, quantiles, quantileSorted, integerBinWidth } from './stats.ts';
export type { Quantiles } from './stats.ts';
export { buildTrajectories, pickEmbedded, DEFAULT_MAX_TEXT_CHARS } from './trajectories.ts';
export { inlineJson, renderHtml } from './html.ts';
export type * from './payload.ts';

export interface ReportOptions {
  /** Embed the turns of at most N root episodes (the list, table and plots always cover every episode). */
  maxEpisodes?: number | null;
  /** Cut each text field of a turn at this many chars (default 20,000). */
  maxTextChars?: number;
  title?: string;
  /** Timestamp shown in the page (tests pin it). Default now. */
  now?: Date;
}

export interface BuiltReport {
  html: string;
  data: ReportData;
  runs: LoadedRun[];
  chunks: number;
  /** Inputs that were skipped (not directories, empty directories), with the reason. */
  skipped: string[];
}

/** Load the runs and compute the report's data (no HTML yet). */
export async function buildReportData(inputs: readonly string[], opts: ReportOptions = {}): Promise<{ data: ReportData; chunks: string[]; runs: LoadedRun[]; skipped: string[] }> {
  const { groups, skipped } = resolveInputs(inputs);
  const runs: LoadedRun[] = [];
  for (const g of groups) runs.push(await loadRun(g));
  const distUnit: CostUnit = runs.every(isPriced) ? 'usd' : 'tokens';
  const roots = runs.map(rootEpisodes);
  const turnsBin = integerBinWidth(Math.max(0, ...roots.flatMap((eps) => eps.map((e) => e.turns))));
  const subCallsBin = integerBinWidth(Math.max(0, ...roots.flatMap((eps) => eps.map((e) => e.sub_calls))));
  const aggregates = runs.map((r) => aggregateRun(r, { distUnit, turnsBin, subCallsBin }));
  const families = [...new Set(roots.flatMap((eps) => familiesOf(eps)))];
  const maxTextChars = opts.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  const traj = buildTrajectories(runs, { maxEpisodes: opts.maxEpisodes ?? null, maxTextChars });
  const v = collectVersions();
  const data: ReportData = {
    title: opts.title ?? `rlm-gym report — ${runs.map((r) => r.label).join(' vs ')}`,
    generatedAt: (opts.now ?? new Date()).toISOString(),
    generator: `${v.package.name} ${v.package.version}`,
    runs: runs.map(runHeader),
    aggregates,
    families,
    costUnit: distUnit,
    episodes: traj.index,
    chunkCount: traj.chunks.length,
    embedded: traj.embedded,
    maxEpisodes: opts.maxEpisodes ?? null,
    maxTextChars,
  };
  return { data, chunks: traj.chunks, runs, skipped };
}

export async function buildReport(inputs: readonly string[], opts: ReportOptions = {}): Promise<BuiltReport> {
  const { data, chunks, runs, skipped } = await buildReportData(inputs, opts);
  const html = renderHtml(data, chunks, await viewerAssets());
  return { html, data, runs, chunks: chunks.length, skipped };
}

export interface WrittenReport {
  out: string;
  bytes: number;
  runs: string[];
  episodes: number;
  embedded: number;
  skipped: string[];
}

/** Build the report of `inputs` and write it to `opts.out`. */
export async function writeReport(inputs: readonly string[], opts: ReportOptions & { out: string }): Promise<WrittenReport> {
  const r = await buildReport(inputs, opts);
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, r.html);
  return {
    out,
    bytes: Buffer.byteLength(r.html),
    runs: r.data.runs.map((x) => x.label),
    episodes: r.data.episodes.filter((e) => e.depth === 0).length,
    embedded: r.data.embedded,
    skipped: r.skipped,
  };
}
