import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MissingTokensError,
  RunWriter,
  buildExport,
  exportRun,
  groupAdvantages,
  readRun,
  syntheticEpisodes,
  tokenSequence,
} from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';

const ROOT = resolve(import.meta.dirname, '..');
let db: DuckDBInstance;
let con: DuckDBConnection;
let work: string;
let runDir: string;
let noTokDir: string;
let eps: EpisodeRecord[];

async function q(sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}
async function types(file: string): Promise<Record<string, string>> {
  const rows = await q(`describe select * from '${file}'`);
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}
async function write(dir: string, records: EpisodeRecord[]) {
  const w = await RunWriter.open(dir, { runId: records[0].run_id, flushEvery: 5 });
  for (const e of records) await w.add(e);
  await w.close();
}

const MSG = 'STRUCT("role" VARCHAR, "content" VARCHAR)[]';

beforeAll(async () => {
  db = await DuckDBInstance.create();
  con = await db.connect();
  work = mkdtempSync(join(tmpdir(), 'rlm-export-'));
  runDir = join(work, 'run');
  noTokDir = join(work, 'run-notok');
  eps = syntheticEpisodes({ n: 24, runId: 'exp', tokens: 'some', groupSize: 4 });
  // distinct rewards inside groups so advantages are non-trivial
  eps = eps.map((e, i) => ({ ...e, reward: (i % 4) * 0.25 + (e.correct ? 1 : 0), reward_components: { accuracy: e.score, 'cost/usd': i / 100 } }));
  await write(runDir, eps);
  await write(noTokDir, syntheticEpisodes({ n: 6, runId: 'notok', tokens: false }));
});
afterAll(() => {
  con?.closeSync();
  rmSync(work, { recursive: true, force: true });
});

describe('exports read by DuckDB', () => {
  it('verl: one row per task with the verl columns', async () => {
    const out = join(work, 'verl.parquet');
    const r = await exportRun(runDir, { format: 'verl', out });
    const tasks = new Set(eps.map((e) => e.task_id));
    expect(r.rows).toBe(tasks.size);
    expect(await types(out)).toEqual({
      data_source: 'VARCHAR',
      prompt: MSG,
      ability: 'VARCHAR',
      reward_model: 'STRUCT(style VARCHAR, ground_truth VARCHAR)',
      extra_info:
        'STRUCT(split VARCHAR, "index" BIGINT, task_options VARCHAR, episode_id VARCHAR, task_id VARCHAR, seed BIGINT, group_id VARCHAR, question VARCHAR)',
    });
    const rows = await q(
      `select data_source, len(prompt)::int as np, prompt[1].role as r1, prompt[2].role as r2, reward_model.style as style,
              reward_model.ground_truth as gt, extra_info.split as split, extra_info.index::int as idx, extra_info.task_options as opts
       from '${out}' order by extra_info.index`,
    );
    expect(rows).toHaveLength(tasks.size);
    const first = eps[0];
    expect(rows[0]).toEqual({ data_source: first.task_family, np: 2, r1: 'system', r2: 'user', style: 'rule', gt: first.gold_answer, split: 'train', idx: 0, opts: first.task_options });
  });

  it('trl: prompt / completion messages, reward and one column per component', async () => {
    const out = join(work, 'trl.parquet');
    const r = await exportRun(runDir, { format: 'trl', out });
    expect(r.rows).toBe(eps.length);
    expect(await types(out)).toEqual({
      prompt: MSG,
      completion: MSG,
      reward: 'DOUBLE',
      episode_id: 'VARCHAR',
      group_id: 'VARCHAR',
      task_family: 'VARCHAR',
      score: 'DOUBLE',
      correct: 'BOOLEAN',
      reward_accuracy: 'DOUBLE',
      reward_cost_usd: 'DOUBLE',
    });
    const [row] = await q(`select len(prompt)::int as np, len(completion)::int as nc, completion[1].role as c1, reward, reward_cost_usd from '${out}' where episode_id = '${eps[5].episode_id}'`);
    expect(row).toEqual({ np: 2, nc: eps[5].messages.length - 2, c1: 'assistant', reward: eps[5].reward, reward_cost_usd: 0.05 });
  });

  it('sft: correct episodes by default, --min-reward otherwise', async () => {
    const out = join(work, 'sft.parquet');
    const r = await exportRun(runDir, { format: 'sft', out });
    expect(r.rows).toBe(eps.filter((e) => e.correct).length);
    expect(await types(out)).toEqual({ messages: MSG, reward: 'DOUBLE', correct: 'BOOLEAN', episode_id: 'VARCHAR', task_family: 'VARCHAR' });
    const [c] = await q(`select count(*)::int as n, bool_and(correct) as all_correct from '${out}'`);
    expect(c).toEqual({ n: r.rows, all_correct: true });
    const r2 = await exportRun(runDir, { format: 'sft', out: join(work, 'sft2.parquet'), minReward: 0.5 });
    expect(r2.rows).toBe(eps.filter((e) => e.reward >= 0.5).length);
  });

  it('tokens: sequences, masks, logprobs and advantage = reward − group mean', async () => {
    const out = join(work, 'tokens.parquet');
    const r = await exportRun(runDir, { format: 'tokens', out });
    const withTokens = eps.filter((e) => e.steps.some((s) => s.prompt_token_ids));
    expect(r.rows).toBe(withTokens.length);
    expect(await types(out)).toEqual({
      episode_id: 'VARCHAR',
      group_id: 'VARCHAR',
      env_name: 'VARCHAR',
      token_ids: 'INTEGER[]',
      loss_mask: 'TINYINT[]',
      logprobs: 'DOUBLE[]',
      reward: 'DOUBLE',
      advantage: 'DOUBLE',
      num_turns: 'INTEGER',
      prompt_len: 'INTEGER',
      token_prefix_ok: 'BOOLEAN',
      row_kind: 'VARCHAR',
      turn: 'INTEGER',
      completion_truncated: 'BOOLEAN',
    });
    // advantage checked independently in SQL against the episodes table
    const bad = await q(
      `with e as (select episode_id, reward - avg(reward) over (partition by group_id) as adv from read_parquet('${runDir}/episodes/*.parquet'))
       select t.episode_id from '${out}' t join e using (episode_id) where abs(t.advantage - e.adv) > 1e-12`,
    );
    expect(bad).toEqual([]);
    const [lens] = await q(`select bool_and(len(token_ids) = len(loss_mask) and len(token_ids) = len(logprobs)) as ok, bool_and(token_prefix_ok) as prefix from '${out}'`);
    expect(lens).toEqual({ ok: true, prefix: true });
    // The synthetic template is append-only: the sequence = last prompt + last completion; mask 1 = all completions.
    const e = withTokens[3];
    const last = e.steps[e.steps.length - 1];
    const [row] = await q(`select token_ids, loss_mask, logprobs, prompt_len, num_turns from '${out}' where episode_id = '${e.episode_id}'`);
    expect(row.token_ids).toEqual([...last.prompt_token_ids!, ...last.completion_token_ids!]);
    const mask = row.loss_mask as number[];
    expect(mask.filter((m) => m === 1).length).toBe(e.steps.reduce((a, s) => a + s.completion_token_ids!.length, 0));
    expect(mask.slice(0, e.steps[0].prompt_token_ids!.length).every((m) => m === 0)).toBe(true);
    expect(row.prompt_len).toBe(e.steps[0].prompt_token_ids!.length);
    expect(row.num_turns).toBe(e.steps.length);
    const lps = row.logprobs as number[];
    expect(lps.filter((_, i) => mask[i] === 1)).toEqual(e.steps.flatMap((s) => s.completion_logprobs!));
    expect(lps.filter((_, i) => mask[i] === 0).every((x) => x === 0)).toBe(true);
  });

  it('sft-turns: one row per root turn of the sft episodes, documented DuckDB types; --drop-truncated', async () => {
    const out = join(work, 'sft-turns.parquet');
    const r = await exportRun(runDir, { format: 'sft-turns', out });
    const correct = eps.filter((e) => e.correct);
    expect(r.rows).toBe(correct.reduce((n, e) => n + e.messages.filter((m) => m.role === 'assistant').length, 0));
    expect(await types(out)).toEqual({
      messages: MSG,
      prompt: MSG,
      completion: MSG,
      episode_id: 'VARCHAR',
      turn: 'INTEGER',
      task_family: 'VARCHAR',
      reward: 'DOUBLE',
      correct: 'BOOLEAN',
      finish_reason: 'VARCHAR',
    });
    const [c] = await q(`select bool_and(len(messages) = len(prompt) + 1) as shape, bool_and(completion[1].role = 'assistant') as last, min(turn)::int as t from '${out}'`);
    expect(c).toEqual({ shape: true, last: true, t: 1 });
    const kept = correct.filter((e) => !e.completion_truncated);
    const d = await exportRun(runDir, { format: 'sft-turns', out: join(work, 'sft-turns-d.parquet'), dropTruncated: true });
    expect(d.rows).toBe(kept.reduce((n, e) => n + e.messages.filter((m) => m.role === 'assistant').length, 0));
    expect(d.rows).toBeLessThan(r.rows); // the synthetic run has length-cut turns among its correct episodes
    const tok = await exportRun(runDir, { format: 'tokens', out: join(work, 'tokens-d.parquet'), dropTruncated: true });
    const [t] = await q(`select count(*)::int as n, bool_or(completion_truncated) as any_cut from '${join(work, 'tokens-d.parquet')}'`);
    expect(t).toEqual({ n: tok.rows, any_cut: false });
  });

  it('tokens on a run without token ids → typed error', async () => {
    const run = await readRun(noTokDir);
    expect(() => buildExport(run, { format: 'tokens' })).toThrow(MissingTokensError);
    await expect(exportRun(noTokDir, { format: 'tokens', out: join(work, 'x.parquet') })).rejects.toThrow(
      'run was recorded without --logprobs; re-run with --logprobs',
    );
    expect(existsSync(join(work, 'x.parquet'))).toBe(false);
  });

  it('.jsonl output is JSON Lines (readable by DuckDB too)', async () => {
    const out = join(work, 'trl.jsonl');
    const r = await exportRun(runDir, { format: 'trl', out });
    expect(r.kind).toBe('jsonl');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(eps.length);
    expect(JSON.parse(lines[0]).prompt[0].role).toBe('system');
    const [c] = await q(`select count(*)::int as n from read_json_auto('${out}')`);
    expect(c.n).toBe(eps.length);
  });
});

describe('token helpers', () => {
  it('group advantages', () => {
    const adv = groupAdvantages([
      { episode_id: 'a', group_id: 'g1', reward: 1 },
      { episode_id: 'b', group_id: 'g1', reward: 0 },
      { episode_id: 'c', group_id: 'g1', reward: 0.5 },
      { episode_id: 'd', group_id: 'g2', reward: 2 },
    ]);
    expect(Object.fromEntries(adv)).toEqual({ a: 0.5, b: -0.5, c: 0, d: 0 });
  });

  it('sequence: first prompt, completion, new prompt tokens of the next turn; prefix check', () => {
    const seq = tokenSequence([
      { turn: 2, prompt_token_ids: [1, 2, 10, 11, 7, 8], completion_token_ids: [20], completion_logprobs: [-0.2] },
      { turn: 1, prompt_token_ids: [1, 2], completion_token_ids: [10, 11], completion_logprobs: [-0.1, -0.3] },
    ])!;
    expect(seq.token_ids).toEqual([1, 2, 10, 11, 7, 8, 20]);
    expect(seq.loss_mask).toEqual([0, 0, 1, 1, 0, 0, 1]);
    expect(seq.logprobs).toEqual([0, 0, -0.1, -0.3, 0, 0, -0.2]);
    expect(seq.token_prefix_ok).toBe(true);
    const rewritten = tokenSequence([
      { turn: 1, prompt_token_ids: [1, 2], completion_token_ids: [10, 11], completion_logprobs: null },
      { turn: 2, prompt_token_ids: [1, 2, 99, 11, 7], completion_token_ids: [20], completion_logprobs: [-0.2] },
    ])!;
    expect(rewritten.token_prefix_ok).toBe(false);
    expect(rewritten.logprobs).toEqual([0, 0, 0, 0, 0, -0.2]);
    expect(tokenSequence([{ turn: 1, prompt_token_ids: null, completion_token_ids: null, completion_logprobs: null }])).toBeNull();
  });
});

describe('npm run export (CLI)', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', join(ROOT, 'scripts', 'export.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });

  it('--help, success, bad format (exit 2), missing dir (exit 1), no token ids (exit 1)', () => {
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--format');
    expect(help.stdout).toContain('--min-reward');

    const out = join(work, 'cli.verl.parquet');
    const ok = cli(runDir, '--format', 'verl', '--out', out);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^verl: \d+ row\(s\) → /);
    expect(existsSync(out)).toBe(true);

    const bad = cli(runDir, '--format', 'csv', '--out', out);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['export: unknown --format "csv"; use one of: verl, trl, sft, sft-turns, tokens']);

    const missing = cli(join(work, 'nope'), '--format', 'verl', '--out', out);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual([`export: run directory not found: ${join(work, 'nope')}`]);

    const notok = cli(noTokDir, '--format', 'tokens', '--out', join(work, 'cli.tokens.parquet'));
    expect(notok.status).toBe(1);
    expect(notok.stderr.trim()).toBe('export: run was recorded without --logprobs; re-run with --logprobs');
  });
});
