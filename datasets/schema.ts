/**
 * THE module that defines every Arrow schema rlm-gym writes: the run tables (`episodes`, `steps`) and the export tables
 * (`verl`, `trl`, `sft`, `tokens`). Each column carries a one-line description; {@link schemaMarkdown} renders the README
 * tables from here, so the docs cannot drift from the files.
 *
 * Type choices: token/char counts and seeds are int64 (DuckDB BIGINT), turn/index/count-of-calls int32, times in
 * milliseconds float64, JSON blobs (task options, sampling params, score details) utf8 JSON text, token ids int32,
 * loss masks int8, reward components map<utf8, float64> (DuckDB MAP(VARCHAR, DOUBLE): `reward_components['cost']`).
 */
import * as arrow from 'apache-arrow';
import { createHash } from 'node:crypto';
import type { Message, StepRecord } from '../env/types.ts';
import type { SubCallRecord } from '../env/sandbox/types.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';

// ---------------------------------------------------------------------------------------------------------------------
// Column DSL
// ---------------------------------------------------------------------------------------------------------------------

export interface ColumnDef {
  name: string;
  type: arrow.DataType;
  nullable: boolean;
  description: string;
}

const str = () => new arrow.Utf8();
const i8 = () => new arrow.Int8();
const i32 = () => new arrow.Int32();
const i64 = () => new arrow.Int64();
const f64 = () => new arrow.Float64();
const bool = () => new arrow.Bool();
const listOf = (t: arrow.DataType, nullableItems = false) => new arrow.List(new arrow.Field('item', t, nullableItems));
const field = (name: string, type: arrow.DataType, nullable = false) => new arrow.Field(name, type, nullable);
const structOf = (fields: arrow.Field[]) => new arrow.Struct(fields);
const mapOf = (key: arrow.DataType, value: arrow.DataType): arrow.Map_ =>
  new arrow.Map_(
    new arrow.Field('entries', new arrow.Struct([field('key', key), field('value', value, true)]), false) as unknown as arrow.Field<never>,
    false,
  );

const col = (name: string, type: arrow.DataType, description: string, nullable = false): ColumnDef => ({
  name,
  type,
  nullable,
  description,
});

/** struct{role: utf8, content: utf8} — one chat message. */
export const MESSAGE_TYPE = (): arrow.Struct => structOf([field('role', str()), field('content', str())]);
/** list<struct{role, content}> — a chat transcript. */
export const MESSAGES_TYPE = (): arrow.List => listOf(MESSAGE_TYPE());

/** struct of one sub-model call (see SubCallRecord). */
export const SUB_CALL_TYPE = (): arrow.Struct =>
  structOf([
    field('prompt', str()),
    field('response', str()),
    field('model', str()),
    field('prompt_tokens', i64()),
    field('completion_tokens', i64()),
    field('latency_ms', f64()),
    field('error', str(), true),
    field('finish_reason', str(), true),
    field('refused', bool()),
    field('prompt_chars', i64()),
    field('prompt_sha256', str()),
    field('response_chars', i64()),
    field('response_sha256', str()),
  ]);

export function toArrowSchema(cols: readonly ColumnDef[], metadata?: Record<string, string>): arrow.Schema {
  return new arrow.Schema(
    cols.map((c) => new arrow.Field(c.name, c.type, c.nullable)),
    metadata ? new Map(Object.entries(metadata)) : undefined,
  );
}

/** Version of the run table layout; bumped on any incompatible column change. Stored in each file's schema metadata. */
export const SCHEMA_VERSION = '1';

// ---------------------------------------------------------------------------------------------------------------------
// Run tables
// ---------------------------------------------------------------------------------------------------------------------

export const EPISODE_COLUMNS: readonly ColumnDef[] = [
  col('run_id', str(), 'run identifier (the run directory name by default)'),
  col('episode_id', str(), 'stable id within the run: zero-padded episode index, e.g. "000042"'),
  col('episode_index', i32(), 'episode index within the run (0-based; shards partition these)'),
  col('group_id', str(), 'GRPO group: episodes sharing the same task (advantage baseline)'),
  col('task_family', str(), 'sniah | oolong | oolong-pairs | browsecomp | …'),
  col('task_id', str(), 'content hash of the generated task (replay verifies it)'),
  col('seed', i64(), 'task seed'),
  col('task_options', str(), 'generator options, JSON (defaults filled in)'),
  col('question', str(), 'the question shown to the model'),
  col('gold_answer', str(), 'gold answer as the scorer expects it'),
  col('final_answer', str(), "the model's submitted answer; null when it never submitted", true),
  col('score', f64(), "task scorer's score in [0, 1]"),
  col('correct', bool(), 'task scorer judged the answer correct'),
  col('reward', f64(), 'weighted total of the reward components'),
  col('reward_components', mapOf(str(), f64()), 'unweighted value of every reward component, by name'),
  col('reward_error', str(), 'message naming each broken reward component (recorded as 0); null when none', true),
  col('turns', i32(), 'root-model turns taken'),
  col('terminated', bool(), 'the model submitted an answer'),
  col('truncated', bool(), 'a budget ran out (turns, tokens, sub-calls, wall time, cost)'),
  col('stop_reason', str(), 'final | max_turns | max_root_tokens | max_sub_calls | max_wall_time | max_cost | sandbox_dead | error | interrupted'),
  col('error', str(), 'harness/policy/sandbox error of the episode; null when none', true),
  col('root_prompt_tokens', i64(), 'root-model prompt tokens, summed over turns'),
  col('root_completion_tokens', i64(), 'root-model completion tokens, summed over turns'),
  col('sub_calls', i32(), 'number of sub-model calls'),
  col('sub_prompt_tokens', i64(), 'sub-call prompt tokens, summed'),
  col('sub_completion_tokens', i64(), 'sub-call completion tokens, summed'),
  col('cost_usd', f64(), 'cost in USD (0 when no price table was configured)'),
  col('wall_ms', f64(), 'episode wall time in milliseconds'),
  col('context_chars', i64(), 'size of the hidden context in characters'),
  col('context_tokens', i64(), 'size of the hidden context in tokens (o200k)'),
  col('root_model', str(), 'served id of the root model'),
  col('sub_model', str(), 'served id of the sub model'),
  col('sampling_params', str(), 'root sampling parameters sent, JSON (SamplingParams)'),
  col('score_details', str(), "scorer's details, JSON"),
  col('messages', MESSAGES_TYPE(), 'the whole root conversation: system, user, then assistant / user (REPL output) turns'),
  col('completion_truncated', bool(), 'some root turn ended with finish_reason "length" (cut at max_tokens or the window): mask or drop it'),
  col('env_config', str(), 'this episode\'s sandbox seed and budgets, JSON {sandbox_seed, env}, when they differ per episode (env server sessions); null = the manifest\'s', true),
  col('root_episode_id', str(), 'root of this episode\'s rlm_query tree (the episode itself for a root episode)'),
  col('parent_episode_id', str(), 'episode whose rlm_query started this one; null for a root episode', true),
  col('depth', i32(), 'depth in the rlm_query tree: 0 = root episode, 1 = its rlm_query child, …'),
  col('sub_calls_refused', i32(), 'sub-call prompts refused before sending (too large, over a chars cap); not in sub_calls'),
];

export const STEP_COLUMNS: readonly ColumnDef[] = [
  col('run_id', str(), 'run identifier'),
  col('episode_id', str(), 'episode this turn belongs to (join key with episodes)'),
  col('turn', i32(), 'turn number within the episode'),
  col('reply', str(), "the root model's whole reply (the action)"),
  col('code_cells', listOf(str()), 'code blocks executed from the reply, in order'),
  col('observation', str(), 'REPL output shown to the model after this turn'),
  col('cell_errors', listOf(str()), 'uncaught errors of the code cells'),
  col('duration_ms', f64(), 'time spent executing the cells, milliseconds'),
  col('sub_calls', listOf(SUB_CALL_TYPE()), 'sub-model calls made by the code: {prompt, response, model, prompt_tokens, completion_tokens, latency_ms, error}'),
  col('prompt_tokens', i64(), 'root prompt tokens of this turn'),
  col('completion_tokens', i64(), 'root completion tokens of this turn'),
  col('prompt_token_ids', listOf(i32()), 'prompt token ids as sent (only with --logprobs)', true),
  col('completion_token_ids', listOf(i32()), 'sampled completion token ids (only with --logprobs)', true),
  col('completion_logprobs', listOf(f64()), 'logprob of each sampled completion token (only with --logprobs)', true),
  col('loss_mask', listOf(i8()), 'as recorded by the env: 1 = model token, 0 = environment token (only with --logprobs)', true),
  col('reasoning', str(), "the reply's reasoning (server reasoning field and/or inline <think>…</think>); never run, never a final answer; null when none", true),
  col('finish_reason', str(), 'finish_reason of the root request: stop | length | abort | …; null when the server gave none', true),
  col('max_tokens', i64(), 'max_tokens the root request was sent with (clamped to the context window); null when unknown', true),
  col('dropped_turns', i32(), 'earlier turns left out of this request to fit the window (--context-policy drop-oldest); 0 otherwise'),
  col('replay_ms', f64(), 'time spent re-running the REPL journal this turn (rollback of a failed cell, restore on a new worker), ms'),
  col('rollbacks', i32(), 'cells of this turn rolled back (CPU timeout, wall deadline, memory limit, sandbox crash)'),
];

export const EPISODES_SCHEMA: arrow.Schema = toArrowSchema(EPISODE_COLUMNS, { 'rlm_gym.table': 'episodes', 'rlm_gym.schema_version': SCHEMA_VERSION });
export const STEPS_SCHEMA: arrow.Schema = toArrowSchema(STEP_COLUMNS, { 'rlm_gym.table': 'steps', 'rlm_gym.schema_version': SCHEMA_VERSION });

/** An `episodes` row as returned by readRun: an EpisodeRecord without `steps` (plain JS values). */
export type EpisodeRow = Omit<EpisodeRecord, 'steps' | 'children'>;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
/** A `steps` row as returned by readRun. */
export type StepRow = StepRecord & { run_id: string; episode_id: string };

// ---------------------------------------------------------------------------------------------------------------------
// Export tables
// ---------------------------------------------------------------------------------------------------------------------

export const VERL_COLUMNS: readonly ColumnDef[] = [
  col('data_source', str(), 'task family (verl picks the reward function by it)'),
  col('prompt', MESSAGES_TYPE(), 'the initial system + user messages (the context is not in the prompt: it lives in the REPL)'),
  col('ability', str(), 'constant "long-context"'),
  col('reward_model', structOf([field('style', str()), field('ground_truth', str())]), '{style: "rule", ground_truth: gold answer}'),
  col(
    'extra_info',
    structOf([
      field('split', str()),
      field('index', i64()),
      field('task_options', str()),
      field('episode_id', str()),
      field('task_id', str()),
      field('seed', i64()),
      field('group_id', str()),
      field('question', str()),
    ]),
    '{split, index, task_options (JSON), episode_id, task_id, seed, group_id, question}: enough to regenerate the task',
  ),
];

/** Fixed columns of the trl export; one `reward_<component>` float64 column per reward component is added after them. */
export const TRL_BASE_COLUMNS: readonly ColumnDef[] = [
  col('prompt', MESSAGES_TYPE(), 'conversational prompt: the initial system + user messages'),
  col('completion', MESSAGES_TYPE(), 'the rest of the conversation: assistant replies and the REPL-output user turns'),
  col('reward', f64(), 'weighted total reward'),
  col('episode_id', str(), 'episode id in the run'),
  col('group_id', str(), 'GRPO group'),
  col('task_family', str(), 'task family'),
  col('score', f64(), 'task score in [0, 1]'),
  col('correct', bool(), 'task scorer judged the answer correct'),
];

/** Column name of a reward component in the trl export: `reward_` + name with non [A-Za-z0-9_] characters as `_`. */
export function trlComponentColumn(component: string): string {
  return 'reward_' + component.replace(/[^A-Za-z0-9_]/g, '_');
}

export function trlColumns(componentNames: readonly string[]): ColumnDef[] {
  return [
    ...TRL_BASE_COLUMNS,
    ...componentNames.map((n) => col(trlComponentColumn(n), f64(), `unweighted reward component "${n}" (0 when absent)`)),
  ];
}

export const SFT_COLUMNS: readonly ColumnDef[] = [
  col('messages', MESSAGES_TYPE(), 'the whole conversation (system, user, assistant, REPL-output user turns …)'),
  col('reward', f64(), 'weighted total reward of the episode'),
  col('correct', bool(), 'task scorer judged the answer correct'),
  col('episode_id', str(), 'episode id in the run'),
  col('task_family', str(), 'task family'),
];

export const TOKENS_COLUMNS: readonly ColumnDef[] = [
  col('episode_id', str(), 'episode id in the run'),
  col('group_id', str(), 'GRPO group (advantage baseline)'),
  col('env_name', str(), 'task family'),
  col('token_ids', listOf(i32()), 'first prompt + each completion + the new prompt tokens of each following turn'),
  col('loss_mask', listOf(i8()), '1 = sampled by the model (train on it), 0 = prompt / environment tokens'),
  col('logprobs', listOf(f64()), 'sampling logprob per token (0 for mask-0 tokens)'),
  col('reward', f64(), 'weighted total reward'),
  col('advantage', f64(), 'reward − mean reward of the episodes of the same group_id in the run'),
  col('num_turns', i32(), 'turns whose tokens are in the sequence'),
  col('prompt_len', i32(), 'length of the first prompt (the leading mask-0 span)'),
  col('token_prefix_ok', bool(), 'every turn prompt extended the previous prompt + completion token-for-token (append-only chat template)'),
  col('row_kind', str(), 'episode = one row for the whole episode (prefixes held); turn = one row per root turn (its prompt ids → its completion ids), when they did not'),
  col('turn', i32(), 'the root turn of a turn row; null on episode rows', true),
  col('completion_truncated', bool(), 'a completion in this row ended with finish_reason "length" (mask it, or export with --drop-truncated)'),
];

export const SFT_TURNS_COLUMNS: readonly ColumnDef[] = [
  col('messages', MESSAGES_TYPE(), 'the whole history before the turn, then that turn\'s assistant reply (train on the last message)'),
  col('prompt', MESSAGES_TYPE(), 'the history the turn saw: system, user, earlier assistant / REPL-output turns'),
  col('completion', MESSAGES_TYPE(), "that turn's reply: one assistant message"),
  col('episode_id', str(), 'episode id in the run'),
  col('turn', i32(), 'root turn number within the episode'),
  col('task_family', str(), 'task family'),
  col('reward', f64(), 'weighted total reward of the episode'),
  col('correct', bool(), 'task scorer judged the episode answer correct'),
  col('finish_reason', str(), 'finish_reason of the turn; null when unknown', true),
];

export const VERL_SCHEMA: arrow.Schema = toArrowSchema(VERL_COLUMNS);
export const SFT_SCHEMA: arrow.Schema = toArrowSchema(SFT_COLUMNS);
export const TOKENS_SCHEMA: arrow.Schema = toArrowSchema(TOKENS_COLUMNS);
export const SFT_TURNS_SCHEMA: arrow.Schema = toArrowSchema(SFT_TURNS_COLUMNS);
export function trlSchema(componentNames: readonly string[]): arrow.Schema {
  return toArrowSchema(trlColumns(componentNames));
}

// ---------------------------------------------------------------------------------------------------------------------
// Docs
// ---------------------------------------------------------------------------------------------------------------------

/** Human type name, DuckDB-flavoured Arrow: utf8, int64, list<int32>, list<struct{role: utf8, content: utf8}>, map<utf8, float64>. */
export function typeName(t: arrow.DataType): string {
  if (t instanceof arrow.Utf8) return 'utf8';
  if (t instanceof arrow.Bool) return 'bool';
  if (t instanceof arrow.Float64) return 'float64';
  if (t instanceof arrow.Int) return `int${t.bitWidth}`;
  if (t instanceof arrow.Map_) return `map<${typeName(t.keyType)}, ${typeName(t.valueType)}>`;
  if (t instanceof arrow.List) return `list<${typeName(t.valueType)}>`;
  if (t instanceof arrow.Struct) return `struct{${t.children.map((c) => `${c.name}: ${typeName(c.type)}`).join(', ')}}`;
  return String(t);
}

/** Markdown table (column | Arrow type | meaning) for the README. */
export function schemaMarkdown(cols: readonly ColumnDef[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| column | Arrow type | meaning |', '|---|---|---|'];
  for (const c of cols) lines.push(`| \`${c.name}\` | \`${esc(typeName(c.type))}${c.nullable ? '` (nullable)' : '`'} | ${esc(c.description)} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------------
// Row validation + conversion (record → row)
// ---------------------------------------------------------------------------------------------------------------------

/** A record does not fit the schema (missing field, wrong type). The message names the table, the record and the field. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

type Problem = [path: string, message: string];

const isNumericLeaf = (t: arrow.DataType) => t instanceof arrow.Int || t instanceof arrow.Float64;

type Check = (v: unknown) => Problem | null;

function badType(what: string, v: unknown): Problem {
  return ['', `must be ${what}, got ${Array.isArray(v) ? 'an array' : typeof v}`];
}

/**
 * A checker for values of `t`: null when `v` fits; else [relative path, message]. Compiled once per column (the writer
 * validates every value of every record, so this avoids re-dispatching on the Arrow type per value); paths are only
 * built on failure.
 */
function compileCheck(t: arrow.DataType, nullable: boolean): Check {
  const inner = compileInner(t);
  const expected = `${typeName(t)}${nullable ? ' or null' : ''}`;
  return (v) => {
    if (v === null || v === undefined) {
      if (nullable && v === null) return null;
      return ['', `is ${v === null ? 'null' : 'missing'} (expected ${expected})`];
    }
    return inner(v);
  };
}

function compileInner(t: arrow.DataType): Check {
  if (t instanceof arrow.Utf8) return (v) => (typeof v === 'string' ? null : badType('a string', v));
  if (t instanceof arrow.Bool) return (v) => (typeof v === 'boolean' ? null : badType('a boolean', v));
  if (t instanceof arrow.Float64) return (v) => (typeof v === 'number' ? null : badType('a number', v));
  if (t instanceof arrow.Int) {
    return (v) => {
      if (typeof v === 'bigint') return null;
      if (typeof v !== 'number') return badType('an integer', v);
      return Number.isFinite(v) ? null : ['', `must be a finite integer, got ${v}`];
    };
  }
  if (t instanceof arrow.Map_) {
    const value = compileCheck(t.valueType, true);
    return (v) => {
      if (typeof v !== 'object' || Array.isArray(v)) return badType('an object', v);
      for (const [k, x] of v instanceof Map ? v.entries() : Object.entries(v as object)) {
        const p = value(x);
        if (p) return [`[${JSON.stringify(k)}]${p[0]}`, p[1]];
      }
      return null;
    };
  }
  if (t instanceof arrow.List) {
    const child = t.children[0]!;
    const numericLeaf = isNumericLeaf(t.valueType);
    if (isNumericLeaf(child.type) && !child.nullable) {
      const int = child.type instanceof arrow.Int;
      const what = int ? 'finite integer' : 'number';
      return (v) => {
        if (ArrayBuffer.isView(v)) return numericLeaf ? null : badType('an array', v);
        if (!Array.isArray(v)) return badType('an array', v);
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          if (typeof x !== 'number' || (int && !Number.isFinite(x))) {
            return [`[${i}]`, `must be a ${what}, got ${x === null ? 'null' : typeof x === 'number' ? x : typeof x}`];
          }
        }
        return null;
      };
    }
    const item = compileCheck(child.type, child.nullable);
    return (v) => {
      if (ArrayBuffer.isView(v)) return numericLeaf ? null : badType('an array', v);
      if (!Array.isArray(v)) return badType('an array', v);
      for (let i = 0; i < v.length; i++) {
        const p = item(v[i]);
        if (p) return [`[${i}]${p[0]}`, p[1]];
      }
      return null;
    };
  }
  if (t instanceof arrow.Struct) {
    const fields = t.children.map((f) => ({ name: f.name, check: compileCheck(f.type, f.nullable) }));
    return (v) => {
      if (typeof v !== 'object' || Array.isArray(v)) return badType('an object', v);
      const o = v as Record<string, unknown>;
      for (let i = 0; i < fields.length; i++) {
        const p = fields[i]!.check(o[fields[i]!.name]);
        if (p) return [`.${fields[i]!.name}${p[0]}`, p[1]];
      }
      return null;
    };
  }
  return () => null;
}

const compiled = new WeakMap<readonly ColumnDef[], { name: string; check: Check }[]>();

/** Check one row against columns; throws {@link SchemaError} naming `label` and the field. */
export function validateRow(cols: readonly ColumnDef[], row: Record<string, unknown>, label: string): void {
  let checks = compiled.get(cols);
  if (!checks) compiled.set(cols, (checks = cols.map((c) => ({ name: c.name, check: compileCheck(c.type, c.nullable) }))));
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i]!;
    const p = c.check(row[c.name]);
    if (p) throw new SchemaError(`${label}: field "${c.name}"${p[0]} ${p[1]}`);
  }
}

/** The `episodes` row of a record (everything but `steps` and `children`); fills the tree defaults; validates it. */
export function episodeRow(ep: EpisodeRecord): EpisodeRow {
  const { steps: _steps, children: _children, ...rest } = ep;
  // Columns added later default here, so every producer of records (child episodes, synthetic data) stays valid.
  const row: EpisodeRow = {
    ...rest,
    completion_truncated: rest.completion_truncated ?? (Array.isArray(ep.steps) && ep.steps.some((s) => s.finish_reason === 'length')),
    env_config: rest.env_config ?? null,
    root_episode_id: rest.root_episode_id ?? rest.episode_id,
    parent_episode_id: rest.parent_episode_id ?? null,
    depth: rest.depth ?? 0,
    sub_calls_refused: rest.sub_calls_refused ?? 0,
  };
  validateRow(EPISODE_COLUMNS, row as unknown as Record<string, unknown>, `episode ${JSON.stringify(ep?.episode_id)}`);
  return row;
}

/** A sub-call as stored: the hash/length fields filled in when the producer left them out (texts kept as given). */
export function subCallRow(c: SubCallRecord): SubCallRecord {
  if (!c || typeof c !== 'object') return c;
  // Records from env/record.ts are already complete: no copy (the writer adds thousands per part).
  if (
    c.finish_reason !== undefined &&
    c.refused != null &&
    c.prompt_chars != null &&
    c.prompt_sha256 != null &&
    c.response_chars != null &&
    c.response_sha256 != null
  ) {
    return c;
  }
  const p = typeof c.prompt === 'string' ? c.prompt : '';
  const r = typeof c.response === 'string' ? c.response : '';
  return {
    ...c,
    finish_reason: c.finish_reason === undefined ? null : c.finish_reason,
    refused: c.refused ?? false,
    prompt_chars: c.prompt_chars ?? p.length,
    prompt_sha256: c.prompt_sha256 ?? sha256Hex(p),
    response_chars: c.response_chars ?? r.length,
    response_sha256: c.response_sha256 ?? sha256Hex(r),
  };
}

/** The `steps` rows of a record; validates them. */
export function stepRows(ep: EpisodeRecord): StepRow[] {
  if (!Array.isArray(ep.steps)) throw new SchemaError(`episode ${JSON.stringify(ep.episode_id)}: field "steps" must be an array`);
  return ep.steps.map((s, i) => {
    const row: StepRow = {
      ...s,
      sub_calls: Array.isArray(s?.sub_calls) ? s.sub_calls.map(subCallRow) : s?.sub_calls,
      reasoning: s.reasoning ?? null,
      finish_reason: s.finish_reason ?? null,
      max_tokens: s.max_tokens ?? null,
      dropped_turns: s.dropped_turns ?? 0,
      replay_ms: s?.replay_ms ?? 0,
      rollbacks: s?.rollbacks ?? 0,
      run_id: ep.run_id,
      episode_id: ep.episode_id,
    };
    validateRow(STEP_COLUMNS, row as unknown as Record<string, unknown>, `episode ${JSON.stringify(ep.episode_id)} step ${i}`);
    return row;
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// JS ⇄ Arrow
// ---------------------------------------------------------------------------------------------------------------------

function validity(values: readonly unknown[]): { nullCount: number; nullBitmap?: Uint8Array } {
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nullCount++;
  if (nullCount === 0) return { nullCount };
  const nullBitmap = new Uint8Array(((values.length + 63) & ~63) >> 3);
  for (let i = 0; i < values.length; i++) if (values[i] !== null && values[i] !== undefined) nullBitmap[i >> 3] |= 1 << (i & 7);
  return { nullCount, nullBitmap };
}

type NumArray = Int8Array | Int32Array | Float64Array | BigInt64Array;

function numericArray(t: arrow.DataType, n: number): NumArray {
  if (t instanceof arrow.Float64) return new Float64Array(n);
  if (t instanceof arrow.Int && t.bitWidth === 64) return new BigInt64Array(n);
  if (t instanceof arrow.Int && t.bitWidth === 8) return new Int8Array(n);
  if (t instanceof arrow.Int && t.bitWidth === 32) return new Int32Array(n);
  throw new SchemaError(`unsupported numeric type ${String(t)}`);
}

function setNum(arr: NumArray, i: number, x: unknown): void {
  if (x === null || x === undefined) return;
  if (arr instanceof BigInt64Array) arr[i] = typeof x === 'bigint' ? x : BigInt(Math.round(x as number));
  else if (arr instanceof Float64Array) arr[i] = x as number;
  else arr[i] = Math.round(x as number);
}

/**
 * Columnar Arrow Data straight from JS values (much faster than apache-arrow's generic builders for long numeric lists).
 * Supports the types the schemas use: utf8, bool, int8/32/64, float64, list, struct, map.
 */
function buildData(values: readonly unknown[], t: arrow.DataType): arrow.Data {
  const n = values.length;
  const { nullCount, nullBitmap } = validity(values);
  if (t instanceof arrow.Utf8) {
    const valueOffsets = new Int32Array(n + 1);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'string') bytes += Buffer.byteLength(v, 'utf8');
      if (bytes > 0x7fffffff) throw new SchemaError('a utf8 column exceeds 2 GiB in one batch; flush more often');
      valueOffsets[i + 1] = bytes;
    }
    const buf = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'string') buf.write(v, valueOffsets[i], 'utf8');
    }
    const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    return arrow.makeData({ type: t, length: n, nullCount, nullBitmap, valueOffsets, data });
  }
  if (t instanceof arrow.Bool) {
    const data = new Uint8Array(((n + 63) & ~63) >> 3);
    for (let i = 0; i < n; i++) if (values[i] === true) data[i >> 3] |= 1 << (i & 7);
    return arrow.makeData({ type: t, length: n, nullCount, nullBitmap, data });
  }
  if (t instanceof arrow.Int || t instanceof arrow.Float64) {
    const data = numericArray(t, n);
    for (let i = 0; i < n; i++) setNum(data, i, values[i]);
    return arrow.makeData({ type: t as arrow.Int, length: n, nullCount, nullBitmap, data: data as Int32Array });
  }
  if (t instanceof arrow.Map_) {
    const valueOffsets = new Int32Array(n + 1);
    const keys: unknown[] = [];
    const vals: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) {
        for (const [k, x] of v instanceof Map ? v.entries() : Object.entries(v as object)) {
          keys.push(k);
          vals.push(x);
        }
      }
      valueOffsets[i + 1] = keys.length;
    }
    const entryType = t.children[0].type as arrow.Struct;
    const child = arrow.makeData({
      type: entryType,
      length: keys.length,
      nullCount: 0,
      children: [buildData(keys, entryType.children[0].type), buildData(vals, entryType.children[1].type)],
    });
    return arrow.makeData({ type: t, length: n, nullCount, nullBitmap, valueOffsets, child });
  }
  if (t instanceof arrow.List) {
    const valueOffsets = new Int32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i] as ArrayLike<unknown> | null | undefined;
      if (v !== null && v !== undefined) total += v.length;
      valueOffsets[i + 1] = total;
    }
    const ct = t.valueType as arrow.DataType;
    let child: arrow.Data;
    if ((ct instanceof arrow.Int || ct instanceof arrow.Float64) && !t.children[0].nullable) {
      const data = numericArray(ct, total);
      for (let i = 0; i < n; i++) {
        const v = values[i] as ArrayLike<unknown> | null | undefined;
        if (v === null || v === undefined) continue;
        const off = valueOffsets[i];
        if (ArrayBuffer.isView(v) && v.constructor === data.constructor) (data as Int32Array).set(v as unknown as Int32Array, off);
        else for (let k = 0; k < v.length; k++) setNum(data, off + k, v[k]);
      }
      child = arrow.makeData({ type: ct as arrow.Int, length: total, nullCount: 0, data: data as Int32Array });
    } else {
      const flat: unknown[] = new Array(total);
      for (let i = 0; i < n; i++) {
        const v = values[i] as ArrayLike<unknown> | null | undefined;
        if (v === null || v === undefined) continue;
        const off = valueOffsets[i];
        for (let k = 0; k < v.length; k++) flat[off + k] = v[k];
      }
      child = buildData(flat, ct);
    }
    return arrow.makeData({ type: t, length: n, nullCount, nullBitmap, valueOffsets, child });
  }
  if (t instanceof arrow.Struct) {
    const children = t.children.map((f) =>
      buildData(
        values.map((v) => (v === null || v === undefined ? null : (v as Record<string, unknown>)[f.name])),
        f.type,
      ),
    );
    return arrow.makeData({ type: t, length: n, nullCount, nullBitmap, children });
  }
  throw new SchemaError(`unsupported Arrow type ${String(t)}`);
}

/** Build an Arrow table with exactly `schema` from plain JS rows (int64 from numbers; typed arrays accepted for lists). */
export function tableFromRows(schema: arrow.Schema, rows: readonly Record<string, unknown>[]): arrow.Table {
  const children = schema.fields.map((f) => buildData(rows.map((r) => r[f.name]), f.type as arrow.DataType));
  // One record batch whose struct children are the columns, so the schema (metadata, nullability) is kept exactly.
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}

function fromArrowValue(v: unknown, t: arrow.DataType): unknown {
  if (v === null || v === undefined) return null;
  if (t instanceof arrow.Int) return typeof v === 'bigint' ? Number(v) : v;
  if (t instanceof arrow.Map_) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v as Iterable<[string, unknown]>) out[k] = fromArrowValue(x, t.valueType);
    return out;
  }
  if (t instanceof arrow.List) {
    const child = t.valueType;
    const vec = v as arrow.Vector;
    if (child instanceof arrow.Int && child.bitWidth === 64) return Array.from(vec as Iterable<bigint>, (x) => (x === null ? null : Number(x)));
    if (child instanceof arrow.Int || child instanceof arrow.Float64 || child instanceof arrow.Utf8 || child instanceof arrow.Bool) {
      return vec.nullCount === 0 && !(child instanceof arrow.Utf8) && !(child instanceof arrow.Bool) ? Array.from(vec.toArray() as ArrayLike<unknown>) : Array.from(vec as Iterable<unknown>);
    }
    return Array.from(vec as Iterable<unknown>, (x) => fromArrowValue(x, child));
  }
  if (t instanceof arrow.Struct) {
    const row = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of t.children) out[f.name] = fromArrowValue(row[f.name], f.type);
    return out;
  }
  return v;
}

/** Plain JS rows of an Arrow table: numbers (not BigInt), arrays (not Vectors), objects (not StructRows/MapRows). */
export function rowsFromTable<T = Record<string, unknown>>(table: arrow.Table): T[] {
  const n = table.numRows;
  const rows: Record<string, unknown>[] = Array.from({ length: n }, () => ({}));
  for (const f of table.schema.fields) {
    const vec = table.getChild(f.name)!;
    const t = f.type as arrow.DataType;
    const simple = t instanceof arrow.Utf8 || t instanceof arrow.Bool || t instanceof arrow.Float64 || (t instanceof arrow.Int && t.bitWidth !== 64);
    let i = 0;
    for (const v of vec as Iterable<unknown>) {
      rows[i][f.name] = simple ? v : fromArrowValue(v, t);
      i++;
    }
  }
  return rows as T[];
}
