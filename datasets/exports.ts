/**
 * Trainer exports of a run directory: verl, trl, sft, tokens. Parquet (ZSTD) by default; JSON Lines when the output path
 * ends in `.jsonl`. Schemas are in schema.ts.
 *
 * - verl:   one row per distinct task (first episode of each task_id, in episode order): the task as a verl RL prompt.
 * - trl:    one row per episode: conversational prompt/completion + reward + one `reward_<component>` column each.
 * - sft:    one row per episode with reward ≥ minReward — by default (no minReward) the *correct* episodes only.
 * - tokens: per episode that has token ids: one row (row_kind "episode") when its turns' prompt ids extend each other,
 *           else one row per root turn (row_kind "turn"); token ids, loss mask, logprobs, reward and GRPO advantage.
 * - sft-turns: one row per root turn of the sft episodes (exports-turns.ts).
 *
 * `minReward` also filters trl and tokens rows when given (advantages are computed before filtering); verl ignores it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as arrow from 'apache-arrow';
import type { Message } from '../env/types.ts';
import { encodeRows, encodeRowsFast, writeFileAtomic } from './parquet.ts';
import { type RunData, readRun } from './reader.ts';
import { type EpisodeRow, SFT_SCHEMA, SFT_TURNS_SCHEMA, type StepRow, TOKENS_SCHEMA, VERL_SCHEMA, trlComponentColumn, trlSchema } from './schema.ts';
import { episodeTruncated, sftTurnRows, tokenRowsOf } from './exports-turns.ts';

export const EXPORT_FORMATS = ['verl', 'trl', 'sft', 'sft-turns', 'tokens'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export class ExportError extends Error {
  override name = 'ExportError';
  constructor(
    message: string,
    readonly code: 'unknown_format' | 'no_token_ids' | 'bad_option' = 'unknown_format',
  ) {
    super(message);
  }
}

/** The run has no token ids at all (it was recorded without --logprobs). */
export class MissingTokensError extends ExportError {
  override name = 'MissingTokensError';
  constructor() {
    super('run was recorded without --logprobs; re-run with --logprobs', 'no_token_ids');
  }
}

export interface ExportOptions {
  format: ExportFormat;
  /** sft: keep episodes with reward ≥ this (default: correct episodes only). trl/tokens: optional row filter. */
  minReward?: number;
  /** verl extra_info.split. Default 'train'. */
  split?: string;
  /** tokens / trl / sft / sft-turns: leave out episodes with completion_truncated (a root turn ended on "length"). */
  dropTruncated?: boolean;
  /** sft-turns: leave out turns whose input + output is longer than this many characters. */
  maxTurnChars?: number;
  /** Also export rlm_query child episodes (depth > 0) as rows of their own. Default false: root episodes only. */
  includeChildren?: boolean;
}

export interface ExportTable {
  format: ExportFormat;
  schema: arrow.Schema;
  rows: Record<string, unknown>[];
}

export function isExportFormat(f: string): f is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(f);
}

/** The leading messages before the first assistant message: the initial system + user prompt. */
export function initialPrompt(messages: readonly Message[]): Message[] {
  const i = messages.findIndex((m) => m.role === 'assistant');
  return (i < 0 ? messages : messages.slice(0, i)).map((m) => ({ role: m.role, content: m.content }));
}

function completionOf(messages: readonly Message[]): Message[] {
  const i = messages.findIndex((m) => m.role === 'assistant');
  return i < 0 ? [] : messages.slice(i).map((m) => ({ role: m.role, content: m.content }));
}

function verlRows(run: RunData, split: string): Record<string, unknown>[] {
  const seen = new Set<string>();
  const rows: Record<string, unknown>[] = [];
  for (const e of run.episodes) {
    if (seen.has(e.task_id)) continue;
    seen.add(e.task_id);
    rows.push({
      data_source: e.task_family,
      prompt: initialPrompt(e.messages),
      ability: 'long-context',
      reward_model: { style: 'rule', ground_truth: e.gold_answer },
      extra_info: {
        split,
        index: rows.length,
        task_options: e.task_options,
        episode_id: e.episode_id,
        task_id: e.task_id,
        seed: e.seed,
        group_id: e.group_id,
        question: e.question,
      },
    });
  }
  return rows;
}

function componentNames(episodes: readonly EpisodeRow[]): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  const cols = new Set<string>();
  for (const e of episodes) {
    for (const k of Object.keys(e.reward_components ?? {})) {
      if (seen.has(k)) continue;
      seen.add(k);
      const c = trlComponentColumn(k);
      if (cols.has(c)) throw new ExportError(`two reward components map to the trl column "${c}"`, 'bad_option');
      cols.add(c);
      names.push(k);
    }
  }
  return names;
}

function trlTable(run: RunData, minReward: number | undefined): ExportTable {
  const names = componentNames(run.episodes);
  const rows = run.episodes
    .filter((e) => minReward === undefined || e.reward >= minReward)
    .map((e) => {
      const row: Record<string, unknown> = {
        prompt: initialPrompt(e.messages),
        completion: completionOf(e.messages),
        reward: e.reward,
        episode_id: e.episode_id,
        group_id: e.group_id,
        task_family: e.task_family,
        score: e.score,
        correct: e.correct,
      };
      for (const n of names) row[trlComponentColumn(n)] = e.reward_components?.[n] ?? 0;
      return row;
    });
  return { format: 'trl', schema: trlSchema(names), rows };
}

function sftRows(run: RunData, minReward: number | undefined): Record<string, unknown>[] {
  return run.episodes
    .filter((e) => (minReward === undefined ? e.correct : e.reward >= minReward))
    .map((e) => ({
      messages: e.messages.map((m) => ({ role: m.role, content: m.content })),
      reward: e.reward,
      correct: e.correct,
      episode_id: e.episode_id,
      task_family: e.task_family,
    }));
}

/** reward − mean reward of the group, per episode id (groups by group_id over all episodes of the run). */
export function groupAdvantages(episodes: readonly Pick<EpisodeRow, 'episode_id' | 'group_id' | 'reward'>[]): Map<string, number> {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const e of episodes) {
    const s = sums.get(e.group_id) ?? { sum: 0, n: 0 };
    s.sum += e.reward;
    s.n++;
    sums.set(e.group_id, s);
  }
  const out = new Map<string, number>();
  for (const e of episodes) {
    const s = sums.get(e.group_id)!;
    out.set(e.episode_id, e.reward - s.sum / s.n);
  }
  return out;
}

export interface TokenSequence {
  token_ids: number[];
  loss_mask: number[];
  logprobs: number[];
  num_turns: number;
  prompt_len: number;
  token_prefix_ok: boolean;
}

/**
 * One token sequence from an episode's turns (sorted by turn; turns without token ids are skipped):
 * the first recorded turn contributes its prompt_token_ids (mask 0, logprob 0) and its completion_token_ids (mask 1,
 * its logprobs); each later turn contributes the tokens its prompt adds beyond the previous prompt + completion
 * (mask 0, logprob 0 — the environment's REPL output and chat-template glue), then its completion (mask 1).
 * The slice is by length; `token_prefix_ok` is false when a later prompt does not start with the previous prompt +
 * completion token-for-token (e.g. a chat template that rewrites history, like Qwen3 dropping earlier <think> blocks) —
 * filter those rows out if your trainer needs exact prefixes. Missing logprobs are filled with 0.
 * Returns null when no turn has token ids.
 */
export function tokenSequence(steps: readonly Pick<StepRow, 'turn' | 'prompt_token_ids' | 'completion_token_ids' | 'completion_logprobs'>[]): TokenSequence | null {
  const turns = steps
    .filter((s) => Array.isArray(s.prompt_token_ids) && Array.isArray(s.completion_token_ids))
    .slice()
    .sort((a, b) => a.turn - b.turn);
  if (turns.length === 0) return null;
  const ids: number[] = [];
  const mask: number[] = [];
  const lps: number[] = [];
  let ok = true;
  let prevLen = 0; // length of previous prompt + completion
  let prevSeq: number[] = [];
  turns.forEach((s, i) => {
    const prompt = s.prompt_token_ids!;
    const completion = s.completion_token_ids!;
    const fresh = i === 0 ? prompt : prompt.slice(prevLen);
    if (i > 0) {
      if (prompt.length < prevLen) ok = false;
      else for (let k = 0; k < prevLen && ok; k++) if (prompt[k] !== prevSeq[k]) ok = false;
    }
    for (const t of fresh) {
      ids.push(t);
      mask.push(0);
      lps.push(0);
    }
    const lp = s.completion_logprobs ?? [];
    completion.forEach((t, k) => {
      ids.push(t);
      mask.push(1);
      lps.push(typeof lp[k] === 'number' && Number.isFinite(lp[k]) ? lp[k] : 0);
    });
    prevSeq = [...prompt, ...completion];
    prevLen = prevSeq.length;
  });
  const first = turns[0].prompt_token_ids!.length;
  return { token_ids: ids, loss_mask: mask, logprobs: lps, num_turns: turns.length, prompt_len: first, token_prefix_ok: ok };
}

function stepsByEpisode(run: RunData): (id: string) => StepRow[] {
  const byEp = new Map<string, StepRow[]>();
  for (const s of run.steps) {
    const l = byEp.get(s.episode_id);
    if (l) l.push(s);
    else byEp.set(s.episode_id, [s]);
  }
  return (id) => byEp.get(id) ?? [];
}

function tokensRows(run: RunData, minReward: number | undefined, keep: (e: EpisodeRow) => boolean): Record<string, unknown>[] {
  const stepsOf = stepsByEpisode(run);
  const adv = groupAdvantages(run.episodes);
  const rows: Record<string, unknown>[] = [];
  let any = false;
  for (const e of run.episodes) {
    const kinds = tokenRowsOf(stepsOf(e.episode_id));
    if (kinds.length === 0) continue; // episodes without token ids (e.g. a policy error before the first reply) are skipped
    any = true;
    if (minReward !== undefined && e.reward < minReward) continue;
    if (!keep(e)) continue;
    for (const k of kinds) {
      const { row_kind, turn, completion_truncated, ...seq } = k;
      rows.push({
        episode_id: e.episode_id,
        group_id: e.group_id,
        env_name: e.task_family,
        ...seq,
        reward: e.reward,
        advantage: adv.get(e.episode_id) ?? 0,
        row_kind,
        turn,
        completion_truncated,
      });
    }
  }
  if (!any) throw new MissingTokensError();
  return rows;
}

/** Build the rows of one export format from a run already read. Throws ExportError / MissingTokensError. */
export function buildExport(all: RunData, opts: ExportOptions): ExportTable {
  const { format, minReward } = opts;
  // rlm_query children are trajectories of their own, but only on request (they carry their root's reward).
  const run: RunData = opts.includeChildren
    ? all
    : (() => {
        const roots = all.episodes.filter((e) => (e.depth ?? 0) === 0);
        const ids = new Set(roots.map((e) => e.episode_id));
        return { ...all, episodes: roots, steps: all.steps.filter((s) => ids.has(s.episode_id)) };
      })();
  if (minReward !== undefined && !Number.isFinite(minReward)) throw new ExportError(`--min-reward must be a number`, 'bad_option');
  if (opts.maxTurnChars !== undefined && !(Number.isSafeInteger(opts.maxTurnChars) && opts.maxTurnChars > 0)) throw new ExportError('--max-turn-chars must be a positive integer', 'bad_option');
  if (opts.maxTurnChars !== undefined && format !== 'sft-turns') throw new ExportError('--max-turn-chars applies to --format sft-turns only', 'bad_option');
  if (opts.dropTruncated && format === 'verl') throw new ExportError('--drop-truncated applies to tokens, trl, sft and sft-turns (verl rows are prompts, not completions)', 'bad_option');
  const stepsOf = stepsByEpisode(run);
  const keep = (e: EpisodeRow) => !opts.dropTruncated || !episodeTruncated(e, stepsOf(e.episode_id));
  const kept: RunData = opts.dropTruncated ? { ...run, episodes: run.episodes.filter(keep) } : run;
  switch (format) {
    case 'verl':
      return { format, schema: VERL_SCHEMA, rows: verlRows(run, opts.split ?? 'train') };
    case 'trl':
      return trlTable(kept, minReward);
    case 'sft':
      return { format, schema: SFT_SCHEMA, rows: sftRows(kept, minReward) };
    case 'sft-turns': {
      const selected = kept.episodes.filter((e) => (minReward === undefined ? e.correct : e.reward >= minReward));
      return { format, schema: SFT_TURNS_SCHEMA, rows: sftTurnRows(selected, stepsOf, opts.maxTurnChars) };
    }
    case 'tokens':
      // Advantages over all episodes of the run (as before), then the filter.
      return { format, schema: TOKENS_SCHEMA, rows: tokensRows(run, minReward, keep) };
    default:
      throw new ExportError(`unknown export format "${String(format)}"; formats: ${EXPORT_FORMATS.join(', ')}`, 'unknown_format');
  }
}

export interface ExportResult {
  format: ExportFormat;
  /** Absolute output path. */
  out: string;
  /** 'parquet' (ZSTD) or 'jsonl' (when out ends with .jsonl). */
  kind: 'parquet' | 'jsonl';
  rows: number;
  bytes: number;
}

/** Serialize an export table: Parquet ZSTD bytes, or JSON Lines text. */
export function serializeExport(table: ExportTable, kind: 'parquet' | 'jsonl'): Uint8Array | string {
  if (kind === 'jsonl') return table.rows.map((r) => JSON.stringify(r)).join('\n') + (table.rows.length ? '\n' : '');
  return encodeRows(table.schema, table.rows);
}

/** Read a run directory and write one export file (written to a temp name and renamed). */
export async function exportRun(dir: string, opts: ExportOptions & { out: string }): Promise<ExportResult> {
  if (!isExportFormat(opts.format)) {
    throw new ExportError(`unknown export format "${String(opts.format)}"; formats: ${EXPORT_FORMATS.join(', ')}`, 'unknown_format');
  }
  const run = await readRun(dir);
  const table = buildExport(run, opts);
  const out = resolve(opts.out);
  const kind = out.toLowerCase().endsWith('.jsonl') ? 'jsonl' : 'parquet';
  const data = kind === 'parquet' ? await encodeRowsFast(table.schema, table.rows) : serializeExport(table, kind);
  await mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(out, data);
  return { format: opts.format, out, kind, rows: table.rows.length, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.length };
}
