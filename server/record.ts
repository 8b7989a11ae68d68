/**
 * A finished server session as an episode record (the `episodes` + `steps` rows of a run directory), in the same shape
 * the rollout runner writes, plus `env_config`: the session's own sandbox seed and budgets, so replay can rebuild each
 * episode's env exactly although sessions differ.
 */
import { contextChars, type Message, type StepInfo, type StepRecord } from '../env/index.ts';
import type { Task } from '../tasks/index.ts';
import type { EnvLimits, SamplingParams } from '../rollouts/index.ts';
import type { RewardInput } from '../rewards/index.ts';

export interface SessionEpisode {
  runId: string;
  /** Finishing order (0-based): episode_index, and episode_id zero-padded. */
  index: number;
  task: Task;
  sandboxSeed: number;
  /** Whether the session passed its own task options (then the group id names them, see groupId). */
  customOptions: boolean;
  info: StepInfo;
  terminated: boolean;
  truncated: boolean;
  messages: readonly Message[];
  steps: readonly StepRecord[];
  rootModel: string;
  subModel: string;
  subSampling: Omit<SamplingParams, 'seed'> | null;
  env: EnvLimits;
  wallMs: number;
  sessionId: string;
}

export function episodeRecord(s: SessionEpisode): RewardInput {
  const score = s.info.score ?? { score: 0, correct: false, details: {} };
  return {
    run_id: s.runId,
    episode_id: String(s.index).padStart(6, '0'),
    episode_index: s.index,
    // Episodes of the same task form a GRPO group: `<family>-<seed>` like the runner, plus the task hash when the
    // session chose its own generator options (same family + seed, other options = another task).
    group_id: s.customOptions ? `${s.task.family}-${s.task.seed}-${s.task.id.slice(0, 8)}` : `${s.task.family}-${s.task.seed}`,
    task_family: s.task.family,
    task_id: s.task.id,
    seed: s.task.seed,
    task_options: JSON.stringify(s.task.options),
    question: s.task.question,
    gold_answer: s.task.answer,
    final_answer: s.info.finalAnswer,
    score: score.score,
    correct: score.correct,
    turns: s.steps.length,
    terminated: s.terminated,
    truncated: s.truncated,
    stop_reason: s.info.stopReason ?? 'error',
    error: null,
    root_prompt_tokens: s.info.rootPromptTokens,
    root_completion_tokens: s.info.rootCompletionTokens,
    sub_calls: s.info.subCalls,
    sub_prompt_tokens: s.info.subPromptTokens,
    sub_completion_tokens: s.info.subCompletionTokens,
    cost_usd: s.info.costUsd,
    wall_ms: Math.round(s.wallMs),
    context_chars: contextChars(s.task.context),
    context_tokens: Number(s.task.meta.contextTokens ?? 0),
    root_model: s.rootModel,
    sub_model: s.subModel,
    // The root model was sampled by the client (the trainer); the server only knows the sub-call sampling.
    sampling_params: JSON.stringify({ root: 'sampled by the client (env server session)', session_id: s.sessionId, sub: s.subSampling }),
    score_details: JSON.stringify(score.details),
    messages: [...s.messages],
    steps: [...s.steps],
    env_config: JSON.stringify({ sandbox_seed: s.sandboxSeed, env: s.env }),
  };
}
