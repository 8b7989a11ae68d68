/**
 * parquet_write: how fast RunWriter (apache-arrow + parquet-wasm, ZSTD, temp+fsync+rename per part, manifest rewrite)
 * writes N synthetic episodes + their steps, against
 *   - JSON Lines of the same records (episodes.jsonl + steps.jsonl, no compression) — the naive baseline;
 *   - DuckDB writing the same rows to ZSTD Parquet (read_json_auto of those JSONL files → COPY … (FORMAT parquet,
 *     COMPRESSION zstd)); its time includes parsing the JSONL, not writing it.
 * Rows = episode rows + step rows. Run alone: `node --no-node-snapshot --import tsx bench/parquet-write.ts [--n 2000]`.
 */
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunWriter, syntheticEpisodes } from '../datasets/index.ts';

export interface ParquetWriteOptions {
  /** Episodes to write. Default 2000. */
  episodes?: number;
  /** RunWriter flushEvery. Default 64. */
  flushEvery?: number;
  /** Approximate chars per text field. Default 600. */
  textChars?: number;
  /** Record token ids (as with --logprobs). Default true. */
  tokens?: boolean;
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
  runwriter: WriterResult & { parts: number };
  jsonl: WriterResult;
  duckdb: WriterResult;
  /** RunWriter rows/s ÷ DuckDB rows/s (>1 = RunWriter faster). */
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

export async function benchParquetWrite(opts: ParquetWriteOptions = {}): Promise<ParquetWriteResult> {
  const n = opts.episodes ?? 2000;
  const flushEvery = opts.flushEvery ?? 64;
  const eps = syntheticEpisodes({ n, runId: 'bench', tokens: opts.tokens ?? true, textChars: opts.textChars ?? 600, turns: [2, 6], maxSubCalls: 4 });
  const steps = eps.reduce((a, e) => a + e.steps.length, 0);
  const rows = n + steps;
  const work = mkdtempSync(join(tmpdir(), 'rlm-bench-pq-'));
  try {
    // RunWriter
    const runDir = join(work, 'run');
    let t = performance.now();
    const w = await RunWriter.open(runDir, { runId: 'bench', flushEvery, manifest: { config: { bench: true } } });
    for (const e of eps) await w.add(e);
    const m = await w.close();
    const rwMs = performance.now() - t;
    const rwBytes = m.parts.reduce((a, p) => a + p.episodes.bytes + p.steps.bytes, 0);

    // JSON Lines of the same records
    const jdir = join(work, 'jsonl');
    t = performance.now();
    const epLines: string[] = [];
    const stLines: string[] = [];
    for (const e of eps) {
      const { steps: s, ...row } = e;
      epLines.push(JSON.stringify(row));
      for (const st of s) stLines.push(JSON.stringify({ run_id: e.run_id, episode_id: e.episode_id, ...st }));
    }
    const { mkdir } = await import('node:fs/promises');
    await mkdir(jdir);
    await writeFile(join(jdir, 'episodes.jsonl'), epLines.join('\n') + '\n');
    await writeFile(join(jdir, 'steps.jsonl'), stLines.join('\n') + '\n');
    const jMs = performance.now() - t;
    const jBytes = dirBytes(jdir);

    // DuckDB: same rows → ZSTD Parquet
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create();
    const con = await db.connect();
    const ddir = join(work, 'duckdb');
    await mkdir(ddir);
    t = performance.now();
    for (const table of ['episodes', 'steps']) {
      await con.run(
        `COPY (SELECT * FROM read_json_auto('${join(jdir, table + '.jsonl')}', maximum_object_size=1073741824)) TO '${join(ddir, table + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)`,
      );
    }
    const dMs = performance.now() - t;
    con.closeSync();
    const dBytes = dirBytes(ddir);

    const runwriter = { ...result(rwMs, rows, n, rwBytes), parts: m.parts.length };
    const duckdb = result(dMs, rows, n, dBytes);
    return {
      name: 'parquet_write',
      episodes: n,
      steps,
      rows,
      flush_every: flushEvery,
      runwriter,
      jsonl: result(jMs, rows, n, jBytes),
      duckdb,
      runwriter_vs_duckdb_speed: Math.round((runwriter.rows_per_s / duckdb.rows_per_s) * 100) / 100,
      runwriter_vs_jsonl_bytes: Math.round((rwBytes / jBytes) * 1000) / 1000,
      runwriter_vs_duckdb_bytes: Math.round((rwBytes / dBytes) * 1000) / 1000,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--n');
  const episodes = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const j = process.argv.indexOf('--flush-every');
  const flushEvery = j > 0 ? Number(process.argv[j + 1]) : undefined;
  const r = await benchParquetWrite({ episodes, flushEvery });
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}
