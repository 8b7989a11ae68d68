/**
 * An example user reward module: `npm run rollout -- --reward accuracy,./examples/my-reward.ts:0.5`.
 *
 * Signature: `(episode: RewardInput) => number | Promise<number>`, where `RewardInput` is the finished episode as recorded
 * in the `episodes` table (snake_case fields: task_family, question, gold_answer, final_answer, score, correct, turns,
 * terminated, truncated, stop_reason, error, root/sub token counts, sub_calls, cost_usd, wall_ms, messages, steps, …)
 * without the reward fields. Return a finite number; throwing or returning NaN/non-numbers is recorded as an error on the
 * episode (that component counts as 0) and the run continues.
 *
 * Accepted export shapes (first match wins):
 *   export default function (episode) { … }         → one component named after the file ("my-reward")
 *   export default [{ name, fn }, …]                → one component per entry   ← this file
 *   export const rewards = [{ name, fn }, …]
 *   export function reward(episode) { … }           → one component named after the file
 * All components of a module share the weight written in the spec (`./my-reward.ts:0.5` ⇒ 0.5 each).
 */
import type { NamedReward, RewardInput } from '../rewards/types.ts';

/** Rewards short answers: 1 for an answer of ≤ 20 chars, decaying to 0 at 200 chars; 0 without an answer. */
export function brevity(episode: RewardInput): number {
  if (episode.final_answer === null) return 0;
  const n = episode.final_answer.length;
  if (n <= 20) return 1;
  return Math.max(0, 1 - (n - 20) / 180);
}

/** Correct answers that used few sub-calls: correct × 1/(1 + sub_calls/50). */
export function efficientCorrect(episode: RewardInput): number {
  return episode.correct ? 1 / (1 + episode.sub_calls / 50) : 0;
}

const rewards: NamedReward[] = [
  { name: 'brevity', fn: brevity },
  { name: 'efficient_correct', fn: efficientCorrect },
];
export default rewards;
