import type { SubCallRecord } from './sandbox/types.ts';

export type Role = 'system' | 'user' | 'assistant';
export interface Message {
  role: Role;
  content: string;
}

/** Token-level data of one root-model turn, when the policy returned it (vLLM `logprobs` + `return_token_ids`). */
export interface TurnTokens {
  prompt_token_ids: number[];
  completion_token_ids: number[];
  completion_logprobs: number[];
}

/** Usage the policy reports with a reply; missing ⇒ the env estimates with the o200k tokenizer. */
export interface ReplyUsage {
  promptTokens?: number;
  completionTokens?: number;
  tokens?: TurnTokens;
  /** The server's reasoning field (vLLM `reasoning` / `reasoning_content`); inline <think> in the reply is split off too. */
  reasoning?: string | null;
  /** The server's finish_reason for this reply ("stop", "length", …). */
  finishReason?: string | null;
  /** max_tokens the request was sent with (after clamping to the context window). */
  maxTokens?: number | null;
  /** Earlier turns left out of the request to fit the window (--context-policy drop-oldest). */
  droppedTurns?: number;
}

/** One turn as recorded in the `steps` table (snake_case = column names). */
export interface StepRecord {
  turn: number;
  reply: string;
  code_cells: string[];
  observation: string;
  cell_errors: string[];
  duration_ms: number;
  sub_calls: SubCallRecord[];
  prompt_tokens: number;
  completion_tokens: number;
  prompt_token_ids: number[] | null;
  completion_token_ids: number[] | null;
  completion_logprobs: number[] | null;
  /** 1 for each completion token (model), 0 for prompt (environment) tokens; null unless token ids were recorded. */
  loss_mask: number[] | null;
  /** The reply's reasoning (server field and/or inline <think>), never parsed for code; null when there was none. */
  reasoning?: string | null;
  /** finish_reason of the request that produced this reply; null when unknown. */
  finish_reason?: string | null;
  /** max_tokens the request was sent with (clamped to the window); null when unknown. */
  max_tokens?: number | null;
  /** Earlier turns left out of this turn's request (--context-policy drop-oldest); 0 normally. */
  dropped_turns?: number;
}

export type StopReason =
  | 'final'
  | 'max_turns'
  | 'max_root_tokens'
  | 'max_sub_calls'
  | 'max_wall_time'
  | 'max_cost'
  | 'sandbox_dead'
  | 'error'
  | 'interrupted'
  | 'context_window';
