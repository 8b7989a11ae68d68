/**
 * The wire shapes of the env server, shared by the HTTP API and the OpenEnv WebSocket: what a client sends to start an
 * episode (reset data), the action (the model's whole reply), and the snake_case `info` sent back. Validated with zod;
 * the same schemas render GET /schema.
 */
import { z } from 'zod';
import type { StepInfo } from '../env/index.ts';
import type { Message, ReplyUsage } from '../env/index.ts';
import { ApiError } from './errors.ts';

const PosInt = z.number().int().positive();
const NonNegInt = z.number().int().nonnegative();

/** Per-session budgets: each may only lower the server's limit (see limits.ts). */
export const BudgetsSchema = z
  .object({
    max_turns: PosInt.max(10_000).optional().describe('root-model turns before truncation'),
    max_sub_calls: NonNegInt.optional().describe('sub-calls (llm_query, each prompt of llm_query_batched, rlm_query) per episode'),
    max_root_tokens: PosInt.optional().describe('root tokens (prompt + completion, summed over turns) before truncation'),
    max_episode_seconds: z.number().positive().optional().describe('wall time of the episode from reset'),
    max_cost_usd: z.number().positive().optional().describe('USD per episode (the server needs prices)'),
    cell_timeout_s: z.number().positive().optional().describe('CPU seconds per REPL cell'),
    cell_wall_timeout_s: z.number().positive().optional().describe('wall seconds per REPL cell, including blocked sub-calls'),
    max_sub_concurrency: PosInt.optional().describe('concurrent sub-calls per episode'),
    max_output_chars: PosInt.optional().describe('REPL output shown to the model per cell'),
  })
  .strict();
export type Budgets = z.infer<typeof BudgetsSchema>;

export const ResetSchema = z
  .object({
    task: z.string().min(1).optional().describe("task family (sniah, oolong, oolong-pairs, browsecomp); default: the server's --task"),
    seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().optional().describe('task seed (also seeds the sandbox); omitted = a random seed, returned in info.seed'),
    options: z.record(z.string(), z.unknown()).optional().describe('task generator options, e.g. {"contextTokens": 20000}'),
    budgets: BudgetsSchema.optional(),
    model: z.string().min(1).max(200).optional().describe('name of the policy model, recorded as root_model'),
    repl: z.enum(['js', 'python']).optional().describe("REPL language: js (isolated-vm) or python (Pyodide); default: the server's --repl"),
    episode_id: z.string().max(255).nullable().optional().describe("OpenEnv's ResetRequest field: an id of the caller's, echoed in state"),
  })
  .strict();
export type ResetRequest = z.infer<typeof ResetSchema>;

export const UsageSchema = z
  .object({
    prompt_tokens: NonNegInt.optional(),
    completion_tokens: NonNegInt.optional(),
    prompt_token_ids: z.array(NonNegInt).optional().describe('token ids of the prompt as sampled (vLLM return_token_ids)'),
    completion_token_ids: z.array(NonNegInt).optional(),
    completion_logprobs: z.array(z.number()).optional(),
  })
  .strict();

export const ActionSchema = z
  .object({
    reply: z.string().describe("the model's whole reply text: its ```repl code blocks run in the session's REPL"),
    usage: UsageSchema.optional().describe('what the policy reported for this reply; without it tokens are counted with o200k'),
    // OpenEnv's Action base model carries `metadata` (a typed Action's model_dump() includes it): accepted, unused.
    metadata: z.record(z.string(), z.unknown()).optional().describe("OpenEnv's Action.metadata; accepted and not used"),
  })
  .strict();
export type Action = z.infer<typeof ActionSchema>;

const MessageSchema = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

export const InfoSchema = z
  .object({
    session_id: z.string(),
    turn: z.number().int(),
    task_id: z.string(),
    task_family: z.string(),
    seed: z.number().int(),
    final_answer: z.string().nullable(),
    gold_answer: z.string().optional().describe('terminal step only'),
    score: z.number().optional().describe('terminal step only'),
    correct: z.boolean().optional().describe('terminal step only'),
    score_details: z.record(z.string(), z.unknown()).optional(),
    reward_components: z.record(z.string(), z.number()).optional(),
    reward_error: z.string().nullable().optional(),
    stop_reason: z.string().optional().describe('terminal step only: final | max_turns | max_sub_calls | …'),
    sub_calls: z.number().int(),
    sub_prompt_tokens: z.number().int(),
    sub_completion_tokens: z.number().int(),
    root_prompt_tokens: z.number().int(),
    root_completion_tokens: z.number().int(),
    cost_usd: z.number(),
    errors: z.array(z.string()),
    wall_ms: z.number(),
    code_cells: z.array(z.string()).optional().describe('code blocks run from the reply (after a step)'),
    step_ms: z.number().optional(),
    budgets: z.record(z.string(), z.unknown()).optional().describe('the budgets in force (reset only)'),
    repl: z.enum(['js', 'python']).optional().describe('the REPL language of the episode (reset only)'),
  })
  .strict();
export type WireInfo = z.infer<typeof InfoSchema>;

/** The OpenEnv observation (the `observation` of a WebSocket `observation` message). */
export const ObservationSchema = z
  .object({
    messages: z.array(MessageSchema).describe('chat messages to append: reset = system + user; step = one user message with the REPL output (none on the terminal step)'),
    terminated: z.boolean().describe('the model submitted an answer'),
    truncated: z.boolean().describe('a budget ran out'),
    info: InfoSchema,
  })
  .strict();

export const StateSchema = z
  .object({
    episode_id: z.string().nullable().describe("OpenEnv State.episode_id: the reset's episode_id, else the session id"),
    step_count: z.number().int().nonnegative(),
    session_id: z.string(),
    status: z.enum(['new', 'active', 'finished']),
    task: z.string().nullable(),
    seed: z.number().int().nullable(),
    messages: z.array(MessageSchema).describe('the whole conversation so far'),
    info: InfoSchema.nullable(),
  })
  .strict();

/** Parses a JSON value against a schema; the first issue becomes a 400 naming the field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue.path.length ? `${what}.${issue.path.join('.')}` : what;
  const unknown = issue.code === 'unrecognized_keys' ? ` (${(issue as { keys?: string[] }).keys?.join(', ')})` : '';
  throw new ApiError('bad_request', `${where}: ${issue.message}${unknown}`);
}

export function usageFromWire(u: Action['usage']): ReplyUsage {
  if (!u) return {};
  const hasIds = u.prompt_token_ids !== undefined || u.completion_token_ids !== undefined;
  if (hasIds && (u.prompt_token_ids === undefined || u.completion_token_ids === undefined)) {
    throw new ApiError('bad_request', 'action.usage: prompt_token_ids and completion_token_ids go together');
  }
  if (u.completion_logprobs !== undefined && u.completion_logprobs.length !== (u.completion_token_ids?.length ?? -1)) {
    throw new ApiError('bad_request', 'action.usage.completion_logprobs: needs completion_token_ids of the same length');
  }
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: u.completion_tokens,
    tokens: hasIds
      ? { prompt_token_ids: u.prompt_token_ids!, completion_token_ids: u.completion_token_ids!, completion_logprobs: u.completion_logprobs ?? [] }
      : undefined,
  };
}

/** StepInfo (camelCase, library) → the snake_case info of the wire. */
export function wireInfo(sessionId: string, seed: number, info: StepInfo): WireInfo {
  const out: WireInfo = {
    session_id: sessionId,
    turn: info.turn,
    task_id: info.taskId,
    task_family: info.taskFamily,
    seed,
    final_answer: info.finalAnswer,
    sub_calls: info.subCalls,
    sub_prompt_tokens: info.subPromptTokens,
    sub_completion_tokens: info.subCompletionTokens,
    root_prompt_tokens: info.rootPromptTokens,
    root_completion_tokens: info.rootCompletionTokens,
    cost_usd: info.costUsd,
    errors: info.errors,
    wall_ms: info.wallMs,
  };
  if (info.goldAnswer !== undefined) out.gold_answer = info.goldAnswer;
  if (info.score) {
    out.score = info.score.score;
    out.correct = info.score.correct;
    out.score_details = info.score.details;
  }
  if (info.stopReason) out.stop_reason = info.stopReason;
  if (info.step) {
    out.code_cells = info.step.code_cells;
    out.step_ms = info.step.duration_ms;
  }
  return out;
}

export type { Message };

/** JSON Schemas of action, observation and state (GET /schema, OpenEnv's SchemaResponse shape). */
export function schemas(): { action: unknown; observation: unknown; state: unknown } {
  return {
    action: { title: 'RLMGymAction', ...z.toJSONSchema(ActionSchema) },
    observation: { title: 'RLMGymObservation', ...z.toJSONSchema(ObservationSchema) },
    state: { title: 'RLMGymState', ...z.toJSONSchema(StateSchema) },
  };
}
