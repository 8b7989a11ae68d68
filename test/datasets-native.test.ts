/**
 * The TypeScript Parquet encoder with native ZSTD (datasets/parquet-js.ts) against parquet-wasm, the fallback: the same
 * rows read back identically (parquet-wasm and DuckDB as independent readers), with the same DuckDB column types, for
 * every table rlm-gym writes; page cuts, nulls, empty lists and maps, int64 extremes; the writer's engine switch; and a
 * pipelined flush that fails is reported and retried, never dropped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EPISODES_SCHEMA,
  RunWriter,
  SFT_SCHEMA,
  STEPS_SCHEMA,
  TOKENS_SCHEMA,
  VERL_SCHEMA,
  decodeParquet,
  encodeRows,
  episodeRow,
  readRun,
  rowsFromTable,
  stepRows,
  syntheticEpisodes,
} from '../datasets/index.ts';
import { encodeRowsNative, nativeZstdAvailable, nativeZstdError } from '../datasets/parquet-js.ts';
import { parquetEngine } from '../datasets/parquet.ts';

const ROOT = resolve(import.meta.dirname, '..');
let db: DuckDBInstance;
let con: DuckDBConnection;
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rlm-native-'));
  dirs.push(d);
  return d;
}
beforeAll(async () => {
  db = await DuckDBInstance.create();
  con = await db.connect();
});
afterAll(() => {
  con?.closeSync();
  db?.closeSync();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function q(sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/** Encode with both engines; both files must decode to the same rows and DuckDB must see the same types and values. */
async function sameBothWays(schema: arrow.Schema, rows: Record<string, unknown>[], label: string): Promise<Record<string, unknown>[]> {
  const native = await encodeRowsNative(schema, rows);
  const wasm = encodeRows(schema, rows);
  const fromNative = rowsFromTable(decodeParquet(native, `${label} (native)`));
  const fromWasm = rowsFromTable(decodeParquet(wasm, `${label} (wasm)`));
  expect(fromNative).toEqual(fromWasm);
  expect(decodeParquet(native, label).schema.metadata).toEqual(schema.metadata);
  const dir = tmp();
  writeFileSync(join(dir, 'n.parquet'), native);
  writeFileSync(join(dir, 'w.parquet'), wasm);
  const types = async (f: string) => (await q(`describe select * from '${join(dir, f)}'`)).map((r) => `${r.column_name}:${r.column_type}`);
  expect(await types('n.parquet')).toEqual(await types('w.parquet'));
  const digest = async (f: string) => (await q(`select count(*)::int n, md5(string_agg(x::varchar, '|')) h from (select * from '${join(dir, f)}') x`))[0];
  expect(await digest('n.parquet')).toEqual(await digest('w.parquet'));
  const codecs = await q(`select distinct compression from parquet_metadata('${join(dir, 'n.parquet')}')`);
  if (rows.length > 0) expect(codecs).toEqual([{ compression: 'ZSTD' }]);
  return fromNative;
}

describe('native Parquet encoder', () => {
  it('is available here (the binding ships for linux-x64)', () => {
    expect(nativeZstdError()).toBe('');
    expect(nativeZstdAvailable()).toBe(true);
    expect(parquetEngine()).toBe('native');
  });

  it('writes the run tables exactly as parquet-wasm does (rows, types, metadata)', async () => {
    const eps = syntheticEpisodes({ n: 24, runId: 'nat', tokens: 'some', textChars: 300, turns: [1, 5], maxSubCalls: 4 });
    // Edge cases: null maps' values, empty maps, empty lists, nulls in nullable nested fields, int64 beyond 2^32, negatives.
    eps[0]!.reward_components = {};
    eps[1]!.reward_components = { a: 1.5, b: -0.25 };
    eps[2]!.seed = -7;
    eps[3]!.context_chars = 2 ** 40 + 3;
    eps[4]!.final_answer = null;
    eps[5]!.steps[0]!.code_cells = [];
    eps[5]!.steps[0]!.sub_calls = [];
    eps[6]!.steps[0]!.prompt_token_ids = new Int32Array([1, -2, 2 ** 31 - 1]) as unknown as number[];
    eps[6]!.steps[0]!.completion_logprobs = new Float64Array([-0.5, 0]) as unknown as number[];
    eps[7]!.steps[0]!.prompt_token_ids = [];
    const er = eps.map(episodeRow) as unknown as Record<string, unknown>[];
    const sr = eps.flatMap(stepRows) as unknown as Record<string, unknown>[];
    const back = await sameBothWays(EPISODES_SCHEMA, er, 'episodes');
    expect(back[1]!.reward_components).toEqual({ a: 1.5, b: -0.25 });
    expect(back[3]!.context_chars).toBe(2 ** 40 + 3);
    const steps = await sameBothWays(STEPS_SCHEMA, sr, 'steps');
    expect(steps.find((s) => s.episode_id === eps[6]!.episode_id)!.prompt_token_ids).toEqual([1, -2, 2 ** 31 - 1]);
  });

  it('writes the export tables (structs, int8 lists, nullable ints) and zero rows', async () => {
    const msgs = [
      { role: 'system', content: 'sys é' },
      { role: 'user', content: '数据 🙂' },
    ];
    await sameBothWays(SFT_SCHEMA, [{ messages: msgs, reward: 1, correct: true, episode_id: 'e1', task_family: 'sniah' }, { messages: [], reward: 0, correct: false, episode_id: 'e2', task_family: 'oolong' }], 'sft');
    const verl = {
      data_source: 'sniah',
      prompt: msgs,
      ability: 'long-context',
      reward_model: { style: 'rule', ground_truth: '42' },
      extra_info: { split: 'train', index: 3, task_options: '{}', episode_id: 'e', task_id: 't', seed: 2 ** 53 - 1, group_id: 'g', question: 'q?' },
    };
    await sameBothWays(VERL_SCHEMA, [verl, { ...verl, extra_info: { ...verl.extra_info, seed: -(2 ** 40) } }], 'verl');
    const tok = {
      episode_id: 'e', group_id: 'g', env_name: 'sniah', token_ids: [5, 6, 7], loss_mask: [0, 1, 1], logprobs: [0, -0.1, -0.2],
      reward: 1, advantage: 0.5, num_turns: 1, prompt_len: 1, token_prefix_ok: true, row_kind: 'episode', turn: null, completion_truncated: false,
    };
    // Non-integers round and out-of-range values wrap exactly as the Arrow path stores them.
    await sameBothWays(TOKENS_SCHEMA, [tok, { ...tok, turn: 3, loss_mask: [-128, 127, 0] }, { ...tok, token_ids: [1.4, 2.6, 2 ** 31 + 5], loss_mask: [300, -129, 1.5] }], 'tokens');
    const empty = await encodeRowsNative(SFT_SCHEMA, []);
    expect(decodeParquet(empty, 'empty').numRows).toBe(0);
    const dir = tmp();
    writeFileSync(join(dir, 'e.parquet'), empty);
    expect(await q(`select count(*)::int n from '${join(dir, 'e.parquet')}'`)).toEqual([{ n: 0 }]);
  });

  it('cuts pages at row boundaries past 1 MiB and keeps every row', async () => {
    const big = 'x'.repeat(300_000) + 'é';
    const rows = Array.from({ length: 12 }, (_, i) => ({ messages: [{ role: 'user', content: big + i }, { role: 'assistant', content: String(i) }], reward: i, correct: i % 2 === 0, episode_id: `e${i}`, task_family: 'f' }));
    const dir = tmp();
    writeFileSync(join(dir, 'big.parquet'), await encodeRowsNative(SFT_SCHEMA, rows));
    const pages = await q(`select path_in_schema::varchar p, count(*)::int n from parquet_metadata('${join(dir, 'big.parquet')}') group by 1`);
    expect(pages.length).toBeGreaterThan(0);
    const back = await q(`select episode_id, length(messages[1].content)::int len, messages[2].content c from '${join(dir, 'big.parquet')}' order by reward`);
    expect(back).toEqual(rows.map((r, i) => ({ episode_id: r.episode_id, len: big.length + String(i).length, c: String(i) })));
    await sameBothWays(SFT_SCHEMA, rows, 'big');
  });

  it('RLM_GYM_PARQUET_ENGINE=wasm makes the writer use parquet-wasm, with the same rows', () => {
    const dir = tmp();
    const script = join(dir, 'w.mts');
    const datasets = JSON.stringify(join(ROOT, 'datasets', 'index.ts'));
    writeFileSync(
      script,
      `import { writeRun, syntheticEpisodes } from ${datasets};
await writeRun(process.argv[2], syntheticEpisodes({ n: 6, runId: 'eng', tokens: true }), { runId: 'eng', flushEvery: 4 });`,
    );
    for (const engine of ['wasm', 'native']) {
      const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, join(dir, engine)], {
        cwd: ROOT,
        env: { ...process.env, RLM_GYM_PARQUET_ENGINE: engine },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
    }
    return (async () => {
      const created = async (engine: string) => (await q(`select distinct created_by from parquet_file_metadata('${join(dir, engine, 'episodes', '*.parquet')}')`)).map((r) => r.created_by);
      expect(await created('wasm')).toEqual(['rlm-gym (parquet-wasm)']);
      expect(await created('native')).toEqual(['rlm-gym (parquet-js + zstd)']);
      const a = await readRun(join(dir, 'wasm'), { verify: true });
      const b = await readRun(join(dir, 'native'), { verify: true });
      expect(b.episodes).toEqual(a.episodes);
      expect(b.steps).toEqual(a.steps);
    })();
  });
});

describe('pipelined flushes', () => {
  it('a failed flush is reported by the next add that flushes, its episodes retried and written exactly once', async () => {
    const dir = join(tmp(), 'run');
    const eps = syntheticEpisodes({ n: 6, runId: 'pipe' });
    const w = await RunWriter.open(dir, { runId: 'pipe', flushEvery: 2 });
    // Make the steps directory unusable: a file in its place (root ignores permissions, not ENOTDIR).
    renameSync(join(dir, 'steps'), join(dir, 'steps.away'));
    writeFileSync(join(dir, 'steps'), 'not a directory');
    await w.add(eps[0]!);
    await w.add(eps[1]!); // starts flush 1, which fails in the background
    await w.add(eps[2]!);
    await expect(w.add(eps[3]!)).rejects.toThrow(/ENOTDIR|not a directory/); // starts flush 2, reports flush 1's error
    await expect(w.flush()).rejects.toThrow(/ENOTDIR|not a directory/); // waits for every flush; still broken
    expect(w.written).toBe(0);
    expect(w.pending).toBe(4); // nothing dropped: the failed batches are buffered again
    rmSync(join(dir, 'steps'));
    renameSync(join(dir, 'steps.away'), join(dir, 'steps'));
    await w.add(eps[4]!);
    await w.add(eps[5]!);
    const m = await w.close();
    expect(m.status).toBe('completed');
    expect(m.counts.episodes).toBe(6);
    const run = await readRun(dir, { verify: true });
    expect(run.episodes.map((e) => e.episode_id).sort()).toEqual(eps.map((e) => e.episode_id).sort());
  });

  it('close() waits for the part in flight and reports its failure', async () => {
    const dir = join(tmp(), 'run');
    const eps = syntheticEpisodes({ n: 2, runId: 'pipe2' });
    const w = await RunWriter.open(dir, { runId: 'pipe2', flushEvery: 2 });
    rmSync(join(dir, 'episodes'), { recursive: true });
    writeFileSync(join(dir, 'episodes'), 'x');
    await w.add(eps[0]!);
    await w.add(eps[1]!);
    await expect(w.close()).rejects.toThrow(/ENOTDIR|not a directory/);
  });
});
