import type { Message, StepRecord, StopReason } from '../env/types.ts';

/** Sampling parameters sent with every root request (and recorded as JSON). */
export interface SamplingParams {
  temperature: number;
  top_p: number;
  max_tokens: number;
  stop: string[] | null;
  top_k: number | null;
  seed: number | null;
  logprobs: boolean;
  extra_body: Record<string, unknown> | null;
}

/**
 * One finished episode, as recorded in the `episodes` table (snake_case = column names).
 * Produced by the runner; rewards fill `reward` / `reward_components` / `reward_error`; datasets write it.
 */
export interface EpisodeRecord {
  run_id: string;
  /** Stable within a run: `${episode_index}` zero-padded, e.g. "000042". */
  episode_id: string;
  episode_index: number;
  /** GRPO group: episodes sharing the task. */
  group_id: string;
  task_family: string;
  task_id: string;
  seed: number;
  task_options: string; // JSON
  question: string;
  gold_answer: string;
  final_answer: string | null;
  score: number;
  correct: boolean;
  reward: number;
  reward_components: Record<string, number>;
  reward_error: string | null;
  turns: number;
  terminated: boolean;
  truncated: boolean;
  stop_reason: StopReason | string;
  error: string | null;
  root_prompt_tokens: number;
  root_completion_tokens: number;
  sub_calls: number;
  sub_prompt_tokens: number;
  sub_completion_tokens: number;
  cost_usd: number;
  wall_ms: number;
  context_chars: number;
  context_tokens: number;
  root_model: string;
  sub_model: string;
  sampling_params: string; // JSON of SamplingParams
  score_details: string; // JSON
  messages: Message[];
  steps: StepRecord[];
  /** Some root turn ended on finish_reason "length" (cut at max_tokens or the window): mask or filter it. */
  completion_truncated?: boolean;
}
