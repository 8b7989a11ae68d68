/**
 * Built-in rewards. Each is a plain function of the finished episode returning a finite number.
 *
 * Conventions (so a spec like `accuracy,cost:-0.1,turns:-0.01` reads naturally):
 * - `accuracy` and `correct` are "goodness" values in [0, 1]: use a positive weight.
 * - `cost`, `turns`, `subcalls`, `format` and `timeout` are non-negative *magnitudes* (more = worse): the weight carries the
 *   sign, e.g. `cost:-0.1`. Their unweighted values are recorded as components, so a trainer can re-weight later.
 */
import type { RewardFn, RewardInput } from './types.ts';

export interface BuiltinReward {
  name: string;
  /** One line for `--help` and the README. */
  description: string;
  fn: RewardFn;
}

/** Tokens are normalized per this many tokens for the `cost` reward when no USD cost was recorded. */
export const COST_TOKENS_UNIT = 1_000_000;

/**
 * `cost`: the episode's price.
 * - When the runner recorded a USD cost (`cost_usd > 0`, i.e. a price table was configured): the value is `cost_usd` in USD.
 * - Otherwise: total tokens (root prompt + root completion + sub-call prompt + sub-call completion) per 1M tokens,
 *   e.g. 250k tokens ⇒ 0.25.
 */
export function costReward(ep: RewardInput): number {
  if (Number.isFinite(ep.cost_usd) && ep.cost_usd > 0) return ep.cost_usd;
  const tokens = ep.root_prompt_tokens + ep.root_completion_tokens + ep.sub_prompt_tokens + ep.sub_completion_tokens;
  return tokens / COST_TOKENS_UNIT;
}

/**
 * `format`: the fraction of turns whose reply was malformed: no runnable code block, except the one turn that ended the
 * episode with a text-level `FINAL(...)` (a reply without code whose final was accepted). A reply with a text `FINAL(` that
 * was not accepted (malformed, or hallucinated) has no code cells and is counted. 0 when there are no steps.
 */
export function formatReward(ep: RewardInput): number {
  const steps = ep.steps ?? [];
  if (steps.length === 0) return 0;
  const last = steps.reduce((a, s) => Math.max(a, s.turn), -Infinity);
  let bad = 0;
  for (const s of steps) {
    if (s.code_cells.length > 0) continue;
    const acceptedTextFinal = s.turn === last && ep.terminated && ep.final_answer !== null;
    if (!acceptedTextFinal) bad++;
  }
  return bad / steps.length;
}

const list: BuiltinReward[] = [
  { name: 'accuracy', description: "the task's own score in [0, 1] (partial credit: numeric closeness, F1)", fn: (ep) => ep.score },
  { name: 'correct', description: '1 when the task scorer judged the answer correct, else 0', fn: (ep) => (ep.correct ? 1 : 0) },
  {
    name: 'cost',
    description: 'cost magnitude: USD when cost_usd > 0, else total tokens (root + sub-calls) per 1M; use a negative weight',
    fn: costReward,
  },
  { name: 'turns', description: 'number of root turns; use a negative weight', fn: (ep) => ep.turns },
  { name: 'subcalls', description: 'number of sub-model calls (llm_query, batched prompts, rlm_query); use a negative weight', fn: (ep) => ep.sub_calls },
  {
    name: 'format',
    description: 'fraction of turns whose reply had no code block and no accepted final (malformed); use a negative weight',
    fn: formatReward,
  },
  { name: 'timeout', description: '1 when the episode was truncated by a budget (turns, tokens, sub-calls, wall time, cost), else 0', fn: (ep) => (ep.truncated ? 1 : 0) },
];

/** The built-in reward registry, by name. */
export const REWARDS: Readonly<Record<string, BuiltinReward>> = Object.freeze(Object.fromEntries(list.map((r) => [r.name, r])));

export const BUILTIN_REWARD_NAMES: readonly string[] = Object.freeze(list.map((r) => r.name));
