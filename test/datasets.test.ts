import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  EPISODE_COLUMNS,
  RunWriter,
  STEP_COLUMNS,
  SchemaError,
  finishedEpisodeIds,
  isSecretKey,
  joinSteps,
  readManifest,
  readRun,
  schemaMarkdown,
  syntheticEpisodes,
} from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';

let db: DuckDBInstance;
let con: DuckDBConnection;
const dirs: string[] = [];

function tmp(prefix = 'rlm-ds-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

async function q(sql: string): Promise<Record<string, unknown>[]> {
  const r = await con.runAndReadAll(sql);
  return r.getRowObjectsJson() as Record<string, unknown>[];
}

async function describeTypes(from: string): Promise<Record<string, string>> {
  const rows = await q(`describe select * from ${from}`);
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

async function writeRun(dir: string, eps: EpisodeRecord[], flushEvery: number, extra: Parameters<typeof RunWriter.open>[1] = {}) {
  const w = await RunWriter.open(dir, { runId: eps[0].run_id, flushEvery, ...extra });
  for (const e of eps) await w.add(e);
  return w.close({ summary: { note: 'test' } });
}

/** The documented DuckDB types of the run tables. */
const EPISODE_TYPES: Record<string, string> = {
  run_id: 'VARCHAR',
  episode_id: 'VARCHAR',
  episode_index: 'INTEGER',
  group_id: 'VARCHAR',
  task_family: 'VARCHAR',
  task_id: 'VARCHAR',
  seed: 'BIGINT',
  task_options: 'VARCHAR',
  question: 'VARCHAR',
  gold_answer: 'VARCHAR',
  final_answer: 'VARCHAR',
  score: 'DOUBLE',
  correct: 'BOOLEAN',
  reward: 'DOUBLE',
  reward_components: 'MAP(VARCHAR, DOUBLE)',
  reward_error: 'VARCHAR',
  turns: 'INTEGER',
  terminated: 'BOOLEAN',
  truncated: 'BOOLEAN',
  stop_reason: 'VARCHAR',
  error: 'VARCHAR',
  root_prompt_tokens: 'BIGINT',
  root_completion_tokens: 'BIGINT',
  sub_calls: 'INTEGER',
  sub_prompt_tokens: 'BIGINT',
  sub_completion_tokens: 'BIGINT',
  cost_usd: 'DOUBLE',
  wall_ms: 'DOUBLE',
  context_chars: 'BIGINT',
  context_tokens: 'BIGINT',
  root_model: 'VARCHAR',
  sub_model: 'VARCHAR',
  sampling_params: 'VARCHAR',
  score_details: 'VARCHAR',
  messages: 'STRUCT("role" VARCHAR, "content" VARCHAR)[]',
  completion_truncated: 'BOOLEAN',
};
const STEP_TYPES: Record<string, string> = {
  run_id: 'VARCHAR',
  episode_id: 'VARCHAR',
  turn: 'INTEGER',
  reply: 'VARCHAR',
  code_cells: 'VARCHAR[]',
  observation: 'VARCHAR',
  cell_errors: 'VARCHAR[]',
  duration_ms: 'DOUBLE',
  sub_calls:
    'STRUCT(prompt VARCHAR, response VARCHAR, model VARCHAR, prompt_tokens BIGINT, completion_tokens BIGINT, latency_ms DOUBLE, "error" VARCHAR, finish_reason VARCHAR)[]',
  prompt_tokens: 'BIGINT',
  completion_tokens: 'BIGINT',
  prompt_token_ids: 'INTEGER[]',
  completion_token_ids: 'INTEGER[]',
  completion_logprobs: 'DOUBLE[]',
  loss_mask: 'TINYINT[]',
  reasoning: 'VARCHAR',
  finish_reason: 'VARCHAR',
  max_tokens: 'BIGINT',
  dropped_turns: 'INTEGER',
};

beforeAll(async () => {
  db = await DuckDBInstance.create();
  con = await db.connect();
});
afterAll(() => {
  con?.closeSync();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('RunWriter + DuckDB', () => {
  const N = 22;
  const eps = syntheticEpisodes({ n: N, runId: 'run-a', tokens: 'some', groupSize: 3, maxSubCalls: 4 });
  // make some nullable / edge values explicit
  eps[1] = { ...eps[1], final_answer: null, error: 'PolicyError: 500', stop_reason: 'error', terminated: false, truncated: false, correct: false };
  eps[2] = { ...eps[2], reward_error: 'reward "x" returned NaN (must be a finite number)', reward_components: { accuracy: 0, x: 0 } };
  eps[3] = { ...eps[3], steps: [], messages: eps[3].messages.slice(0, 2), turns: 0 };
  const totalSteps = eps.reduce((a, e) => a + e.steps.length, 0);
  let dir: string;

  beforeAll(async () => {
    dir = tmp();
    await writeRun(dir, eps, 4);
  });

  it('writes part pairs with the same numbering', () => {
    const e = readdirSync(join(dir, 'episodes')).sort();
    const s = readdirSync(join(dir, 'steps')).sort();
    expect(e).toEqual(['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet', 'part-00003.parquet', 'part-00004.parquet', 'part-00005.parquet']);
    expect(s).toEqual(e);
    expect(readdirSync(dir).sort()).toEqual(['episodes', 'manifest.json', 'steps']); // no lock or temp files left
  });

  it('episodes: documented column types and row count in DuckDB', async () => {
    expect(await describeTypes(`read_parquet('${dir}/episodes/*.parquet')`)).toEqual(EPISODE_TYPES);
    expect(Object.keys(EPISODE_TYPES)).toEqual(EPISODE_COLUMNS.map((c) => c.name));
    const [c] = await q(`select count(*)::int as n, count(distinct episode_id)::int as d from read_parquet('${dir}/episodes/*.parquet')`);
    expect(c).toEqual({ n: N, d: N });
  });

  it('steps: documented column types (nested list<struct>) and row count in DuckDB', async () => {
    expect(await describeTypes(`read_parquet('${dir}/steps/*.parquet')`)).toEqual(STEP_TYPES);
    expect(Object.keys(STEP_TYPES)).toEqual(STEP_COLUMNS.map((c) => c.name));
    const [c] = await q(`select count(*)::int as n from read_parquet('${dir}/steps/*.parquet')`);
    expect(c.n).toBe(totalSteps);
  });

  it('nested values read back in DuckDB', async () => {
    const e0 = eps[0];
    const [row] = await q(
      `select messages[1].role as r, len(messages)::int as nm, reward_components['accuracy'] as acc, seed::int as seed
       from read_parquet('${dir}/episodes/*.parquet') where episode_id = '${e0.episode_id}'`,
    );
    expect(row).toEqual({ r: 'system', nm: e0.messages.length, acc: e0.reward_components.accuracy, seed: e0.seed });
    const withSub = eps.flatMap((e) => e.steps.map((s) => ({ e, s }))).find(({ s }) => s.sub_calls.length > 0 && s.prompt_token_ids)!;
    const [st] = await q(
      `select sub_calls[1].prompt as p, sub_calls[1].prompt_tokens::int as pt, sub_calls[1].error as err, len(sub_calls)::int as n,
              prompt_token_ids[1] as t0, len(completion_token_ids)::int as nc, completion_logprobs[1] as lp, loss_mask[1]::int as m
       from read_parquet('${dir}/steps/*.parquet') where episode_id = '${withSub.e.episode_id}' and turn = ${withSub.s.turn}`,
    );
    const sc = withSub.s.sub_calls[0];
    expect(st).toEqual({
      p: sc.prompt,
      pt: sc.prompt_tokens,
      err: sc.error,
      n: withSub.s.sub_calls.length,
      t0: withSub.s.prompt_token_ids![0],
      nc: withSub.s.completion_token_ids!.length,
      lp: withSub.s.completion_logprobs![0],
      m: 1,
    });
    const [nulls] = await q(`select count(*)::int as n from read_parquet('${dir}/steps/*.parquet') where prompt_token_ids is null`);
    expect(nulls.n).toBeGreaterThan(0);
    const [ep1] = await q(`select final_answer, error, stop_reason from read_parquet('${dir}/episodes/*.parquet') where episode_id = '${eps[1].episode_id}'`);
    expect(ep1).toEqual({ final_answer: null, error: 'PolicyError: 500', stop_reason: 'error' });
  });

  it('readRun round-trips exactly (plain JS values)', async () => {
    const run = await readRun(dir, { verify: true });
    expect(run.episodes.length).toBe(N);
    expect(run.steps.length).toBe(totalSteps);
    expect(typeof run.episodes[0].seed).toBe('number');
    expect(Array.isArray(run.steps[0].code_cells)).toBe(true);
    expect(joinSteps(run)).toEqual(eps);
    expect(run.steps.every((s) => s.run_id === 'run-a')).toBe(true);
  });

  it('manifest: parts with sha256 + row counts, counts, versions, status', async () => {
    const m = await readManifest(dir);
    expect(m.status).toBe('completed');
    expect(m.run_id).toBe('run-a');
    expect(m.parts.map((p) => p.name)).toEqual(['part-00000', 'part-00001', 'part-00002', 'part-00003', 'part-00004', 'part-00005']);
    for (const p of m.parts) {
      for (const f of [p.episodes, p.steps]) {
        const bytes = readFileSync(join(dir, f.file));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
        expect(statSync(join(dir, f.file)).size).toBe(f.bytes);
        const [c] = await q(`select count(*)::int as n from read_parquet('${join(dir, f.file)}')`);
        expect(c.n).toBe(f.rows);
      }
    }
    expect(m.counts.episodes).toBe(N);
    expect(m.counts.steps).toBe(totalSteps);
    expect(m.counts.correct).toBe(eps.filter((e) => e.correct).length);
    expect(m.counts.by_stop_reason.error).toBe(1);
    expect(m.counts.errors).toBe(1);
    expect(m.counts.reward_errors).toBe(1);
    expect(m.versions.node).toBe(process.version);
    expect(m.versions.dependencies['apache-arrow']).toBe('21.1.0');
    expect(m.versions.dependencies['parquet-wasm']).toBe('0.7.1');
    expect(m.versions.dependencies['isolated-vm']).toBe('5.0.4');
    expect(m.versions.dependencies).toHaveProperty('openai');
    expect(m.git_commit === null || /^[0-9a-f]{40}$/.test(m.git_commit)).toBe(true);
    expect(m.started_at <= (m.ended_at ?? '')).toBe(true);
    expect(m.summary).toEqual({ note: 'test' });
    expect(m.sessions).toHaveLength(1);
    expect(m.sessions[0].status).toBe('completed');
  });

  it('finishedEpisodeIds lists the committed episodes', async () => {
    expect(await finishedEpisodeIds(dir)).toEqual(new Set(eps.map((e) => e.episode_id)));
    expect(await finishedEpisodeIds(join(dir, 'nope'))).toEqual(new Set());
  });
});

describe('resume', () => {
  it('continues numbering, keeps previous parts, adopts unlisted parts, removes temp files and orphans', async () => {
    const dir = tmp();
    const all = syntheticEpisodes({ n: 20, runId: 'run-r' });
    await writeRun(dir, all.slice(0, 8), 3); // parts 0,1,2 (3+3+2)

    // Simulate crash leftovers: a temp file, an orphan steps part (its episodes part never renamed),
    // and a committed part the manifest does not list (crash between rename and manifest write).
    writeFileSync(join(dir, 'episodes', '.part-00009.parquet.123.abcd.tmp'), 'half-written');
    writeFileSync(join(dir, '.manifest.json.123.abcd.tmp'), '{');
    copyFileSync(join(dir, 'steps', 'part-00002.parquet'), join(dir, 'steps', 'part-00007.parquet'));
    const m0 = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const dropped = m0.parts.pop();
    m0.status = 'running';
    m0.sessions[0].status = 'running';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m0));

    const done = await finishedEpisodeIds(dir);
    expect(done.size).toBe(8);
    const w = await RunWriter.open(dir, { flushEvery: 5 });
    expect(w.runId).toBe('run-r');
    expect(w.resumed).toBe(true);
    expect(w.written).toBe(8);
    expect(existsSync(join(dir, 'episodes', '.part-00009.parquet.123.abcd.tmp'))).toBe(false);
    expect(existsSync(join(dir, '.manifest.json.123.abcd.tmp'))).toBe(false);
    expect(existsSync(join(dir, 'steps', 'part-00007.parquet'))).toBe(false);
    await expect(w.add(all[0])).rejects.toMatchObject({ code: 'duplicate_episode' });
    for (const e of all) if (!done.has(e.episode_id)) await w.add(e);
    const m = await w.close();
    expect(m.parts.map((p) => p.name)).toEqual(['part-00000', 'part-00001', 'part-00002', 'part-00003', 'part-00004', 'part-00005']);
    expect(m.parts[2].episodes.sha256).toBe(dropped.episodes.sha256); // adopted with the same hash
    expect(m.counts.episodes).toBe(20);
    expect(m.sessions.map((s) => s.status)).toEqual(['crashed', 'completed']);
    expect(m.notes.join('\n')).toMatch(/adopted part-00002/);
    expect(m.notes.join('\n')).toMatch(/orphan steps\/part-00007/);
    const run = await readRun(dir, { verify: true });
    expect(run.episodes.map((e) => e.episode_id)).toEqual(all.map((e) => e.episode_id));
    expect(joinSteps(run)).toEqual(all);
  });

  it('refuses a different run id, a second writer, a record that does not fit the schema', async () => {
    const dir = tmp();
    const [e0, e1] = syntheticEpisodes({ n: 2, runId: 'run-x' });
    const w = await RunWriter.open(dir, { runId: 'run-x', flushEvery: 10 });
    await expect(RunWriter.open(dir, { runId: 'run-x' })).rejects.toMatchObject({ code: 'locked' });
    await expect(w.add({ ...e0, run_id: 'other' })).rejects.toMatchObject({ code: 'run_id_mismatch' });
    const bad = { ...e0, score: undefined } as unknown as EpisodeRecord;
    await expect(w.add(bad)).rejects.toThrow(SchemaError);
    await expect(w.add(bad)).rejects.toThrow(/episode "000000": field "score" is missing/);
    const badStep = { ...e1, steps: [{ ...e1.steps[0], code_cells: [1] }] } as unknown as EpisodeRecord;
    await expect(w.add(badStep)).rejects.toThrow(/step 0: field "code_cells"\[0\] must be a string/);
    await w.add(e0);
    await w.close({ status: 'interrupted', interrupted_episodes: ['000001'] });
    const m = await readManifest(dir);
    expect(m.status).toBe('interrupted');
    expect(m.extra).toEqual({ interrupted_episodes: ['000001'] });
    await expect(RunWriter.open(dir, { runId: 'other' })).rejects.toMatchObject({ code: 'run_id_mismatch' });
  });

  it('a lock held by another live node process refuses a second writer', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'episodes'), { recursive: true });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, '.writer.lock'), String(other.pid));
      await expect(RunWriter.open(dir, { runId: 'l' })).rejects.toThrow(/being written by process \d+.*delete that file/);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a reader names an unreadable part file', async () => {
    const dir = tmp();
    await writeRun(dir, syntheticEpisodes({ n: 3, runId: 'run-c' }), 10);
    writeFileSync(join(dir, 'episodes', 'part-00000.parquet'), 'PAR1 garbage');
    await expect(readRun(dir)).rejects.toThrow(DatasetError);
    await expect(readRun(dir)).rejects.toThrow(/part-00000\.parquet/);
    await expect(finishedEpisodeIds(dir)).rejects.toThrow(/part-00000\.parquet/);
    await expect(readRun(join(dir, 'episodes'))).rejects.toMatchObject({ code: 'not_a_run' });
  });
});

describe('secrets', () => {
  it('a secret in config, argv, endpoint URLs or env never reaches any file of the run dir', async () => {
    const dir = tmp();
    const prevEnv = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'envsecret-XYZZY-4242';
    try {
      await writeRun(dir, syntheticEpisodes({ n: 5, runId: 'run-s' }), 2, {
        manifest: {
          command: ['npm', 'run', 'rollout', '--', '--api-key', 'sk-SECRET123', '--token=sk-SECRET123', '--max-tokens', '512'],
          config: {
            apiKey: 'sk-SECRET123',
            api_key: 'sk-SECRET123',
            nested: { Authorization: 'Bearer sk-SECRET123', headers: { 'x-api-key': 'sk-SECRET123' }, note: 'key is sk-SECRET123' },
            hfToken: 'hf_SECRET123abcdef',
            passthrough: 'envsecret-XYZZY-4242',
            apiKeyEnv: 'OPENAI_API_KEY',
            maxTokens: 512,
            contextTokens: 100000,
            tokenizer: 'o200k',
          },
          endpoints: [{ role: 'root', url: 'https://user:sk-SECRET123@vllm.example:8000/v1?api_key=sk-SECRET123&x=1', served_models: ['Qwen/Qwen3-8B'] }],
          seed: 7,
        },
      });
    } finally {
      if (prevEnv === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = prevEnv;
    }
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dir);
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const text = readFileSync(f).toString('latin1');
      expect(text, f).not.toContain('SECRET123');
      expect(text, f).not.toContain('XYZZY');
    }
    const m = await readManifest(dir);
    expect(m.config.maxTokens).toBe(512);
    expect(m.config.contextTokens).toBe(100000);
    expect(m.config.tokenizer).toBe('o200k');
    expect(m.config.apiKeyEnv).toBe('OPENAI_API_KEY'); // the NAME of the variable is kept
    expect(m.endpoints[0].url).toContain('vllm.example:8000/v1');
    expect(m.endpoints[0].served_models).toEqual(['Qwen/Qwen3-8B']);
    expect(m.command).toContain('--max-tokens 512');
  });

  it('isSecretKey keeps counts', () => {
    for (const k of ['apiKey', 'api_key', 'OPENAI_API_KEY', 'hfToken', 'token', 'Authorization', 'client_secret', 'password', 'x-api-key'])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['maxTokens', 'max_tokens', 'contextTokens', 'tokenizer', 'prompt_tokens', 'apiKeyEnv', 'seed', 'keyword'])
      expect(isSecretKey(k), k).toBe(false);
  });
});

describe('schema docs', () => {
  it('renders a markdown table per table', () => {
    const md = schemaMarkdown(STEP_COLUMNS);
    expect(md).toContain('| `sub_calls` | `list<struct{prompt: utf8, response: utf8, model: utf8, prompt_tokens: int64, completion_tokens: int64, latency_ms: float64, error: utf8, finish_reason: utf8}>` |');
    expect(md).toContain('| `loss_mask` | `list<int8>` (nullable) |');
  });
});
