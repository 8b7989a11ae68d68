/**
 * parquet_write: how fast RunWriter (native TypeScript encoder + ZSTD, or the parquet-wasm fallback; temp+fsync+rename per part, manifest rewrite)
 * writes N synthetic episodes + their steps, against
 *   - JSON Lines of the same records (episodes.jsonl + steps.jsonl, no compression) — what the peers write;
 *   - DuckDB writing the same rows to ZSTD Parquet. Two timings: `duckdb` = COPY of the rows already loaded in a DuckDB
 *     table (the pure Parquet write, the strict baseline), and `duckdb_from_jsonl` = read_json_auto of the JSONL files →
 *     COPY (includes parsing the JSON).
 * Rows = episode rows + step rows. The episodes are generated once; each writer runs `reps` times, interleaved; medians.
 * Run alone: `node --no-node-snapshot --import tsx bench/parquet-write.ts [--n 2000] [--reps 3] [--flush-every 64]`.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunWriter, syntheticEpisodes } from '../datasets/index.ts';
import { parquetEngine } from '../datasets/parquet.ts';
import { ZSTD_LEVEL } from '../datasets/parquet-js.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';
import { log, makeResult, median, sig, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

export interface ParquetWriteOptions {
  /** Episodes to write. Default 2000. */
  episodes?: number;
  /** RunWriter flushEvery. Default 64. */
  flushEvery?: number;
  /** Approximate chars per text field. Default 600. */
  textChars?: number;
  /** Record token ids (as with --logprobs). Default true. */
  tokens?: boolean;
  /** Repetitions of each writer (medians reported). Default 1. */
  reps?: number;
}

export interface WriterResult {
  ms: number;
  rows_per_s: number;
  episodes_per_s: number;
  bytes: number;
}

export interface ParquetWriteResult {
  name: 'parquet_write';
  episodes: number;
  steps: number;
  rows: number;
  flush_every: number;
  reps: number;
  runwriter: WriterResult & { parts: number };
  jsonl: WriterResult;
  /** COPY of rows already in a DuckDB table to ZSTD Parquet (pure write). */
  duckdb: WriterResult;
  /** read_json_auto(JSONL) → COPY to ZSTD Parquet (includes JSON parsing). */
  duckdb_from_jsonl: WriterResult;
  /** RunWriter rows/s ÷ DuckDB (pure write) rows/s (>1 = RunWriter faster). */
  runwriter_vs_duckdb_speed: number;
  /** RunWriter bytes ÷ JSONL bytes (compression ratio vs plain JSON). */
  runwriter_vs_jsonl_bytes: number;
  /** RunWriter bytes ÷ DuckDB bytes. */
  runwriter_vs_duckdb_bytes: number;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const s = statSync(join(dir, f));
    if (s.isFile()) n += s.size;
  }
  return n;
}

function result(ms: number, rows: number, episodes: number, bytes: number): WriterResult {
  return { ms: Math.round(ms * 10) / 10, rows_per_s: Math.round((rows / ms) * 1000), episodes_per_s: Math.round((episodes / ms) * 1000), bytes };
}

async function writeRunWriter(eps: EpisodeRecord[], dir: string, flushEvery: number): Promise<{ ms: number; bytes: number; parts: number }> {
  const t = performance.now();
  const w = await RunWriter.open(dir, { runId: 'bench', flushEvery, manifest: { config: { bench: true } } });
  for (const e of eps) await w.add(e);
  const m = await w.close();
  const ms = performance.now() - t;
  return { ms, bytes: m.parts.reduce((a, p) => a + p.episodes.bytes + p.steps.bytes, 0), parts: m.parts.length };
}

async function writeJsonl(eps: EpisodeRecord[], dir: string): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  const epLines: string[] = [];
  const stLines: string[] = [];
  for (const e of eps) {
    const { steps: s, ...row } = e;
    epLines.push(JSON.stringify(row));
    for (const st of s) stLines.push(JSON.stringify({ run_id: e.run_id, episode_id: e.episode_id, ...st }));
  }
  mkdirSync(dir, { recursive: true });
  await writeFile(join(dir, 'episodes.jsonl'), epLines.join('\n') + '\n');
  await writeFile(join(dir, 'steps.jsonl'), stLines.join('\n') + '\n');
  return { ms: performance.now() - t, bytes: dirBytes(dir) };
}

export async function benchParquetWrite(opts: ParquetWriteOptions = {}): Promise<ParquetWriteResult> {
  const n = opts.episodes ?? 2000;
  const flushEvery = opts.flushEvery ?? 64;
  const reps = opts.reps ?? 1;
  const eps = syntheticEpisodes({ n, runId: 'bench', tokens: opts.tokens ?? true, textChars: opts.textChars ?? 600, turns: [2, 6], maxSubCalls: 4 });
  const steps = eps.reduce((a, e) => a + e.steps.length, 0);
  const rows = n + steps;
  const work = mkdtempSync(join(tmpdir(), 'rlm-bench-pq-'));
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create();
  const con = await db.connect();
  try {
    // Warm-up: a small run of each (wasm instantiation, JIT, DuckDB's JSON extension).
    const warm = eps.slice(0, Math.min(64, n));
    await writeRunWriter(warm, join(work, 'warm-run'), flushEvery);
    await writeJsonl(warm, join(work, 'warm-jsonl'));
    for (const table of ['episodes', 'steps']) {
      await con.run(`COPY (SELECT * FROM read_json_auto('${join(work, 'warm-jsonl', table + '.jsonl')}', maximum_object_size=1073741824)) TO '${join(work, `warm-${table}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
    }

    const t = { rw: [] as number[], jsonl: [] as number[], duck: [] as number[], duckJson: [] as number[] };
    let rwBytes = 0;
    let rwParts = 0;
    let jBytes = 0;
    let dBytes = 0;
    let dJBytes = 0;
    for (let r = 0; r < reps; r++) {
      const rw = await writeRunWriter(eps, join(work, `run-${r}`), flushEvery);
      t.rw.push(rw.ms);
      rwBytes = rw.bytes;
      rwParts = rw.parts;

      const jdir = join(work, `jsonl-${r}`);
      const j = await writeJsonl(eps, jdir);
      t.jsonl.push(j.ms);
      jBytes = j.bytes;

      // DuckDB from JSONL (parse + write).
      const djdir = join(work, `duckdb-json-${r}`);
      mkdirSync(djdir);
      let t0 = performance.now();
      for (const table of ['episodes', 'steps']) {
        await con.run(`COPY (SELECT * FROM read_json_auto('${join(jdir, table + '.jsonl')}', maximum_object_size=1073741824)) TO '${join(djdir, table + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
      }
      t.duckJson.push(performance.now() - t0);
      dJBytes = dirBytes(djdir);

      // DuckDB pure write: the rows are loaded into tables first (untimed), then COPY … TO parquet.
      for (const table of ['episodes', 'steps']) {
        await con.run(`CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_json_auto('${join(jdir, table + '.jsonl')}', maximum_object_size=1073741824)`);
      }
      const ddir = join(work, `duckdb-${r}`);
      mkdirSync(ddir);
      t0 = performance.now();
      for (const table of ['episodes', 'steps']) {
        await con.run(`COPY ${table} TO '${join(ddir, table + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
      }
      t.duck.push(performance.now() - t0);
      dBytes = dirBytes(ddir);
      rmSync(join(work, `run-${r}`), { recursive: true, force: true });
    }
    const runwriter = { ...result(median(t.rw), rows, n, rwBytes), parts: rwParts };
    const duckdb = result(median(t.duck), rows, n, dBytes);
    return {
      name: 'parquet_write',
      episodes: n,
      steps,
      rows,
      flush_every: flushEvery,
      reps,
      runwriter,
      jsonl: result(median(t.jsonl), rows, n, jBytes),
      duckdb,
      duckdb_from_jsonl: result(median(t.duckJson), rows, n, dJBytes),
      runwriter_vs_duckdb_speed: Math.round((runwriter.rows_per_s / duckdb.rows_per_s) * 100) / 100,
      runwriter_vs_jsonl_bytes: Math.round((rwBytes / jBytes) * 1000) / 1000,
      runwriter_vs_duckdb_bytes: Math.round((rwBytes / dBytes) * 1000) / 1000,
    };
  } finally {
    con.closeSync();
    db.closeSync();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The harness entry: three rows (speed vs JSONL, size vs JSONL, time vs DuckDB). */
export async function benchParquetRows(ctx: BenchContext): Promise<BenchResult[]> {
  const r = await benchParquetWrite({ episodes: ctx.quick ? 500 : 2000, reps: ctx.quick ? 2 : 3, flushEvery: 64 });
  log(
    `parquet_write: RunWriter ${r.runwriter.ms} ms / ${sig(r.runwriter.bytes / 1e6, 3)} MB, JSONL ${r.jsonl.ms} ms / ${sig(r.jsonl.bytes / 1e6, 3)} MB, ` +
      `DuckDB ${r.duckdb.ms} ms (from JSONL ${r.duckdb_from_jsonl.ms} ms) / ${sig(r.duckdb.bytes / 1e6, 3)} MB`,
  );
  const engine = parquetEngine();
  const common = { episodes: r.episodes, steps: r.steps, rows: r.rows, flush_every: r.flush_every, parts: r.runwriter.parts, reps: r.reps, engine, zstd_level: engine === 'native' ? ZSTD_LEVEL : 'parquet-wasm default' };
  return [
    makeResult({
      name: 'parquet_write',
      value: r.runwriter.rows_per_s,
      unit: 'rows/s (episodes + steps)',
      baseline: 'JSON Lines of the same records (JSON.stringify + writeFile)',
      baseline_value: r.jsonl.rows_per_s,
      goal: 'faster than JSON Lines (ratio ≥ 1)',
      goal_met: r.runwriter.rows_per_s >= r.jsonl.rows_per_s,
      runwriter_ms: r.runwriter.ms,
      jsonl_ms: r.jsonl.ms,
      ...common,
    }),
    makeResult({
      name: 'parquet_size',
      value: r.runwriter.bytes / 1e6,
      unit: 'MB on disk',
      baseline: 'JSON Lines of the same records',
      baseline_value: r.jsonl.bytes / 1e6,
      goal: '≤ 1/4 of JSON Lines (ratio ≤ 0.25)',
      goal_met: r.runwriter.bytes <= r.jsonl.bytes / 4,
      duckdb_mb: sig(r.duckdb.bytes / 1e6, 4),
      ratio_vs_duckdb: sig(r.runwriter.bytes / r.duckdb.bytes, 3),
      ...common,
    }),
    makeResult({
      name: 'parquet_vs_duckdb',
      value: r.runwriter.ms,
      unit: 'ms to write the run',
      baseline: 'DuckDB COPY of the same rows (already in a table) to ZSTD Parquet',
      baseline_value: r.duckdb.ms,
      goal: 'within 1.5× of DuckDB (ratio ≤ 1.5, issue 15)',
      goal_met: r.runwriter.ms <= 1.5 * r.duckdb.ms,
      duckdb_from_jsonl_ms: r.duckdb_from_jsonl.ms,
      ratio_vs_duckdb_from_jsonl: sig(r.runwriter.ms / r.duckdb_from_jsonl.ms, 3),
      ...common,
    }),
  ];
}

export const parquetWrite: Benchmark = {
  id: 'parquet_write',
  run: benchParquetRows,
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = await benchParquetWrite({ episodes: arg('--n'), flushEvery: arg('--flush-every'), reps: arg('--reps') });
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}
