/**
 * The report's numbers against DuckDB: every figure of the results table, the score-vs-size curves, the cost
 * quantiles, the histograms, the reward components and the stop reasons are recomputed with SQL over the same Parquet
 * files (a sharded run, priced, with missing reward components and errors). Plus input resolution and the viewer data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as arrow from 'apache-arrow';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EPISODE_COLUMNS, STEP_COLUMNS, RunWriter, encodeRows, episodeRow, stepRows, syntheticEpisodes, toArrowSchema, type ColumnDef } from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/index.ts';
import {
  ReportInputError,
  aggregateRun,
  buildReport,
  buildReportData,
  buildTrajectories,
  integerBinWidth,
  loadRun,
  pickEmbedded,
  resolveInputs,
  runHeader,
  type EpisodeDetail,
  type LoadedRun,
} from '../report/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-report-agg-'));
const sharded = path.join(tmp, 'sweep');
const SIZES = [8192, 16384, 32768];
let db: DuckDBInstance;
let con: DuckDBConnection;
let run: LoadedRun;

async function q(sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}
const num = (v: unknown) => (v === null ? null : Number(v));
const EPS = `read_parquet('${sharded}/*/episodes/*.parquet')`;

/** Synthetic episodes made to look like a priced sweep with a few errors, budget stops and a component some lack. */
function fixture(): EpisodeRecord[] {
  return syntheticEpisodes({ runId: 'sweep', n: 150, groupSize: 2, seed: 11, maxSubCalls: 9, turns: [1, 9] }).map((e, i) => {
    const group = Math.floor(i / 2);
    const size = SIZES[group % SIZES.length];
    const opts = { ...JSON.parse(e.task_options), contextTokens: size };
    const tokens = e.root_prompt_tokens + e.root_completion_tokens + e.sub_prompt_tokens + e.sub_completion_tokens;
    const comps: Record<string, number> = { ...e.reward_components, ...(i % 3 === 0 ? { turns: e.turns } : {}) };
    return {
      ...e,
      task_options: JSON.stringify(opts),
      context_tokens: size + (i % 5) - 2,
      cost_usd: tokens * 0.5e-6 + (i % 7) * 1e-3,
      reward_components: comps,
      error: i % 17 === 0 ? 'policy request failed on turn 1: HTTP 400' : null,
      stop_reason: i % 17 === 0 ? 'error' : i % 13 === 0 ? 'max_sub_calls' : e.stop_reason,
    };
  });
}

async function writeShards(parent: string, eps: EpisodeRecord[], count: number): Promise<void> {
  for (let s = 0; s < count; s++) {
    const dir = path.join(parent, `shard-${s}-of-${count}`);
    const w = await RunWriter.open(dir, {
      runId: path.basename(dir),
      flushEvery: 16,
      manifest: { seed: 11, shard: { index: s, count }, config: { priceIn: 0.5, priceOut: 0.5, contextTokens: SIZES }, models: { root: 'Qwen/Qwen3-8B', sub: 'Qwen/Qwen3-8B' }, endpoints: [{ role: 'root', url: 'http://user:sk-secret-123456@gpu1:8000/v1?api_key=abc' }] },
    });
    for (const e of eps) if (Math.floor(e.episode_index / 2) % count === s) await w.add({ ...e, run_id: path.basename(dir) });
    await w.close();
  }
}

beforeAll(async () => {
  await writeShards(sharded, fixture(), 2);
  db = await DuckDBInstance.create();
  con = await db.connect();
  const { groups } = resolveInputs([sharded]);
  run = await loadRun(groups[0]);
});
afterAll(() => {
  con?.closeSync();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('report aggregates equal DuckDB over the same run', () => {
  it('the results table: per family n, score, % correct, cost mean ± sd (USD), root/sub tokens, turns, sub-calls', async () => {
    const agg = aggregateRun(run, { distUnit: 'usd' });
    const rows = await q(`
      select task_family f, count(*) n, avg(score) score, 100 * avg(correct::int) pct, avg(cost_usd) cost_mean, stddev_samp(cost_usd) sd,
             avg(root_prompt_tokens + root_completion_tokens) root, avg(sub_prompt_tokens + sub_completion_tokens) sub,
             avg(turns) turns, avg(sub_calls) calls, count(error) errors
      from ${EPS} group by all
      union all
      select 'all', count(*), avg(score), 100 * avg(correct::int), avg(cost_usd), stddev_samp(cost_usd),
             avg(root_prompt_tokens + root_completion_tokens), avg(sub_prompt_tokens + sub_completion_tokens), avg(turns), avg(sub_calls), count(error)
      from ${EPS}`);
    expect(agg.families.map((f) => f.family).sort()).toEqual(rows.map((r) => String(r.f)).sort());
    expect(rows.length).toBe(5); // four families + all
    for (const r of rows) {
      const f = agg.families.find((x) => x.family === r.f)!;
      expect(f.costUnit).toBe('usd');
      expect(f.n).toBe(num(r.n));
      expect(f.scoreMean).toBeCloseTo(num(r.score)!, 12);
      expect(f.correctPct).toBeCloseTo(num(r.pct)!, 10);
      expect(f.costMean).toBeCloseTo(num(r.cost_mean)!, 12);
      expect(f.costSd).toBeCloseTo(num(r.sd)!, 12);
      expect(f.rootTokensMean).toBeCloseTo(num(r.root)!, 9);
      expect(f.subTokensMean).toBeCloseTo(num(r.sub)!, 9);
      expect(f.turnsMean).toBeCloseTo(num(r.turns)!, 12);
      expect(f.subCallsMean).toBeCloseTo(num(r.calls)!, 12);
      expect(f.errors).toBe(num(r.errors));
    }
  });

  it('score vs context length: per family and requested size (task_options.contextTokens)', async () => {
    const agg = aggregateRun(run, { distUnit: 'usd' });
    const rows = await q(`
      select task_family f, cast(json_extract(task_options, '$.contextTokens') as bigint) size, count(*) n, avg(score) score, 100 * avg(correct::int) pct
      from ${EPS} group by all order by f, size`);
    const mine = Object.entries(agg.curves).flatMap(([f, pts]) => pts.map((p) => ({ f, ...p }))).sort((a, b) => a.f.localeCompare(b.f) || a.size - b.size);
    expect(mine.map((p) => [p.f, p.size, p.n])).toEqual(rows.map((r) => [r.f, num(r.size), num(r.n)]));
    mine.forEach((p, i) => {
      expect(p.scoreMean).toBeCloseTo(num(rows[i].score)!, 12);
      expect(p.correctPct).toBeCloseTo(num(rows[i].pct)!, 10);
    });
    expect(new Set(mine.map((p) => p.size))).toEqual(new Set(SIZES));
  });

  it('cost distribution: quantile_cont p25/p50/p75/p90/p95/p99, min, max, mean — in USD and in tokens', async () => {
    for (const unit of ['usd', 'tokens'] as const) {
      const agg = aggregateRun(run, { distUnit: unit });
      const expr = unit === 'usd' ? 'cost_usd' : '(root_prompt_tokens + root_completion_tokens + sub_prompt_tokens + sub_completion_tokens)';
      const rows = await q(`select task_family f, quantile_cont(${expr}, [0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) qs, min(${expr}) lo, max(${expr}) hi, avg(${expr}) m, count(*) n from ${EPS} group by all`);
      for (const r of rows) {
        const d = agg.costDist[String(r.f)];
        const qs = (r.qs as unknown[]).map(num) as number[];
        expect([d.p25, d.p50, d.p75, d.p90, d.p95, d.p99].map((x, i) => x - qs[i]).every((x) => Math.abs(x) < 1e-9 * Math.max(1, qs[5]))).toBe(true);
        expect(d.min).toBeCloseTo(num(r.lo)!, 9);
        expect(d.max).toBeCloseTo(num(r.hi)!, 9);
        expect(d.mean).toBeCloseTo(num(r.m)!, 9);
        expect(d.n).toBe(num(r.n));
      }
    }
  });

  it('histograms of turns and sub-calls per episode (shared bin widths)', async () => {
    const agg = aggregateRun(run, { distUnit: 'usd', turnsBin: 1, subCallsBin: 5 });
    const turns = await q(`select turns lo, count(*) n from ${EPS} group by all order by lo`);
    expect(agg.turns.binWidth).toBe(1);
    expect(agg.turns.bins).toEqual(turns.map((r) => [num(r.lo), num(r.n)]));
    const calls = await q(`select floor(sub_calls / 5) * 5 lo, count(*) n from ${EPS} group by all order by lo`);
    expect(agg.subCalls.bins).toEqual(calls.map((r) => [num(r.lo), num(r.n)]));
    expect(agg.subCalls.bins.reduce((s, [, n]) => s + n, 0)).toBe(150);
    expect(integerBinWidth(39)).toBe(1);
    expect(integerBinWidth(500)).toBe(20);
  });

  it('reward components: mean over the episodes that have each (avg(reward_components[name])) and the weighted total', async () => {
    const agg = aggregateRun(run, { distUnit: 'usd' });
    const rows = await q(`
      select 'accuracy' as comp, count(reward_components['accuracy']) n, avg(reward_components['accuracy']) m from ${EPS}
      union all select 'cost', count(reward_components['cost']), avg(reward_components['cost']) from ${EPS}
      union all select 'turns', count(reward_components['turns']), avg(reward_components['turns']) from ${EPS}
      union all select 'reward (weighted total)', count(*), avg(reward) from ${EPS}`);
    expect(agg.components.map((c) => c.name)).toEqual(['accuracy', 'cost', 'turns', 'reward (weighted total)']);
    for (const r of rows) {
      const c = agg.components.find((x) => x.name === r.comp)!;
      expect(c.n).toBe(num(r.n));
      expect(c.mean).toBeCloseTo(num(r.m)!, 12);
    }
    expect(agg.components.find((c) => c.name === 'turns')!.n).toBe(50); // only every third episode has it
  });

  it('stop reasons and the run header counts', async () => {
    const agg = aggregateRun(run, { distUnit: 'usd' });
    const rows = await q(`select stop_reason s, count(*) n from ${EPS} group by all`);
    expect(agg.stopReasons).toEqual(Object.fromEntries(rows.map((r) => [r.s, num(r.n)])));
    const [c] = await q(`select count(*) n, count(*) filter (correct) ok, count(*) filter (terminated) term, count(*) filter (truncated) trunc, count(error) err from ${EPS}`);
    const [s] = await q(`select count(*) n from read_parquet('${sharded}/*/steps/*.parquet')`);
    const h = runHeader(run);
    expect([h.episodes, h.correct, h.terminated, h.truncated, h.errors, h.steps]).toEqual([c.n, c.ok, c.term, c.trunc, c.err, s.n].map(num));
    expect(h.byStopReason).toEqual(agg.stopReasons);
    expect(h.shards).toEqual({ count: 2, present: [0, 1], missing: [] });
    expect(h.priced).toBe(true);
    expect(h.sizes).toEqual(SIZES);
    expect(h.seed).toEqual([11]);
    expect(h.models.root).toEqual(['Qwen/Qwen3-8B']);
    expect(JSON.stringify(h)).not.toContain('sk-secret');
    expect(JSON.stringify(h)).not.toContain('abc');
  });
});

describe('report inputs', () => {
  it('a directory of shards, its shards listed one by one, and a glob with a stray file are all one run', () => {
    const shards = fs.readdirSync(sharded).map((f) => path.join(sharded, f));
    fs.writeFileSync(path.join(sharded, 'report.html'), '<html></html>');
    try {
      const a = resolveInputs([sharded]);
      const b = resolveInputs([...shards, path.join(sharded, 'report.html')]);
      expect(a.groups).toEqual([{ label: 'sweep', dirs: shards.sort(), sharded: true }]);
      expect(b.groups).toEqual(a.groups);
      expect(b.skipped).toEqual([`${path.join(sharded, 'report.html')}: not a directory`]);
    } finally {
      fs.rmSync(path.join(sharded, 'report.html'));
    }
  });

  it('a missing path or a directory without runs is an error naming it; a missing shard is noted in the header', async () => {
    expect(() => resolveInputs([path.join(tmp, 'nope')])).toThrow(ReportInputError);
    expect(() => resolveInputs([path.join(tmp, 'nope')])).toThrow(/nope: no such file or directory/);
    fs.mkdirSync(path.join(tmp, 'empty'), { recursive: true });
    expect(() => resolveInputs([path.join(tmp, 'empty')])).toThrow(/not a run directory/);
    const one = await loadRun({ label: 'half', dirs: [path.join(sharded, 'shard-1-of-2')], sharded: true });
    const h = runHeader(one);
    expect(h.shards).toEqual({ count: 2, present: [1], missing: [0] });
    expect(h.notes.join('\n')).toMatch(/shard\(s\) 0 of 2 are missing/);
  });
});

describe('runs in every state', () => {
  it('a run with no episodes (interrupted before the first part) still makes a page, saying so', async () => {
    const dir = path.join(tmp, 'empty-run');
    const w = await RunWriter.open(dir, { runId: 'empty-run', manifest: { seed: 2 } });
    await w.close({ status: 'interrupted' });
    const r = await buildReport([dir]);
    expect(r.data.episodes).toEqual([]);
    expect(r.data.runs[0].episodes).toBe(0);
    expect(r.data.runs[0].notes.join('\n')).toContain('status interrupted');
    expect(r.data.aggregates[0].families).toEqual([]);
    expect(r.html).toContain('<script type="application/json" id="report-data">');
  });
});

describe('trajectory data', () => {
  it('every episode is listed; the embedded ones inflate to their recorded turns and sub-calls', async () => {
    const t = buildTrajectories([run]);
    expect(t.index).toHaveLength(150);
    expect(t.embedded).toBe(150);
    const details = t.chunks.flatMap((c) => JSON.parse(gunzipSync(Buffer.from(c, 'base64')).toString('utf8')) as EpisodeDetail[]);
    expect(details).toHaveLength(150);
    const [steps] = await q(`select count(*) n, sum(len(sub_calls)) calls, sum(len(code_cells)) cells from read_parquet('${sharded}/*/steps/*.parquet')`);
    expect(details.reduce((s, d) => s + d.steps.length, 0)).toBe(num(steps.n));
    expect(details.reduce((s, d) => s + d.steps.reduce((x, st) => x + st.sub.length, 0), 0)).toBe(num(steps.calls));
    expect(details.reduce((s, d) => s + d.steps.reduce((x, st) => x + st.code.length, 0), 0)).toBe(num(steps.cells));
    const e = run.episodes[7];
    const d = details.find((x) => x.id === e.episode_id)!;
    const firstStep = run.steps.find((s) => s.episode_id === e.episode_id && s.turn === 1)!;
    expect(d.steps[0].reply).toBe(firstStep.reply);
    expect(d.steps[0].obs).toBe(firstStep.observation);
    expect(d.components).toEqual(e.reward_components);
  });

  it('--max-episodes keeps every family and size represented; long texts are cut with a marker', () => {
    const picked = pickEmbedded([{ r: 0, eps: run.episodes }], 24);
    expect(picked.size).toBe(24);
    const chosen = run.episodes.filter((e) => picked.has(`0\u0000${e.episode_id}`));
    const strata = new Set(run.episodes.map((e) => `${e.task_family}@${JSON.parse(e.task_options).contextTokens}`));
    expect(new Set(chosen.map((e) => `${e.task_family}@${JSON.parse(e.task_options).contextTokens}`))).toEqual(strata);
    const t = buildTrajectories([run], { maxEpisodes: 24, maxTextChars: 100 });
    expect(t.embedded).toBe(24);
    expect(t.index.filter((e) => e.chunk >= 0)).toHaveLength(24);
    const details = t.chunks.flatMap((c) => JSON.parse(gunzipSync(Buffer.from(c, 'base64')).toString('utf8')) as EpisodeDetail[]);
    const long = details.flatMap((d) => d.steps).find((s) => s.reply.includes('more chars not shown'))!;
    expect(long.reply).toMatch(/^[\s\S]{100}\n… \[\d[\d,]* more chars not shown in the report/);
  });
});

describe('optional columns of newer schemas (reasoning, finish_reason, completion_truncated, rlm_query children)', () => {
  const dir = path.join(tmp, 'children');
  const c = (name: string, type: arrow.DataType, nullable = true): ColumnDef => ({ name, type, nullable, description: '' });

  beforeAll(async () => {
    const eps = syntheticEpisodes({ runId: 'children', n: 3, seed: 3 });
    // Episode 000001 is a child of 000000 (depth 1); 000002 a grandchild (depth 2).
    const w = await RunWriter.open(dir, { runId: 'children', manifest: { seed: 3 } });
    for (const e of eps) await w.add(e);
    await w.close();
    const extraEp = [c('completion_truncated', new arrow.Bool()), c('root_episode_id', new arrow.Utf8()), c('parent_episode_id', new arrow.Utf8()), c('depth', new arrow.Int32())];
    const extraSt = [c('reasoning', new arrow.Utf8()), c('finish_reason', new arrow.Utf8())];
    const epRows = eps.map((e, i) => ({ ...episodeRow(e), completion_truncated: i === 0, root_episode_id: i ? '000000' : null, parent_episode_id: i ? eps[i - 1].episode_id : null, depth: i }));
    const stRows = eps.flatMap((e) => stepRows(e).map((s, k) => ({ ...s, reasoning: k === 0 ? `thinking about ${e.episode_id}` : null, finish_reason: k === 0 ? 'length' : 'stop' })));
    fs.writeFileSync(path.join(dir, 'episodes', 'part-00000.parquet'), encodeRows(toArrowSchema([...EPISODE_COLUMNS, ...extraEp]), epRows));
    fs.writeFileSync(path.join(dir, 'steps', 'part-00000.parquet'), encodeRows(toArrowSchema([...STEP_COLUMNS, ...extraSt]), stRows));
  });

  it('children are left out of the table and nested in the viewer; reasoning and finish reasons reach the page data', async () => {
    const { data, chunks } = await buildReportData([dir]);
    expect(data.runs[0].episodes).toBe(1);
    expect(data.runs[0].childEpisodes).toBe(2);
    expect(data.runs[0].completionTruncated).toBe(1);
    expect(data.aggregates[0].families.reduce((s, f) => s + (f.family === 'all' ? 0 : f.n), 0)).toBe(1);
    expect(data.episodes.map((e) => [e.id, e.depth, e.parent, e.root])).toEqual([
      ['000000', 0, null, null],
      ['000001', 1, '000000', '000000'],
      ['000002', 2, '000001', '000000'],
    ]);
    const details = chunks.flatMap((ch) => JSON.parse(gunzipSync(Buffer.from(ch, 'base64')).toString('utf8')) as EpisodeDetail[]);
    expect(details.map((d) => d.id)).toEqual(['000000', '000001', '000002']);
    expect(details[2].steps[0].reasoning).toBe('thinking about 000002');
    expect(details[2].steps[0].finish).toBe('length');
  });
});
