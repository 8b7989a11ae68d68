/**
 * The budgets of one rlm_query tree: the root episode's limits, counted over the root and every child episode it
 * starts (recursively). A child never gets more than what is left: its sub-calls come out of the same counter, its
 * tokens and cost add to the same totals, and its wall clock is the root's.
 */
import type { SubCallBudget } from './sandbox/types.ts';

export class TreeBudget implements SubCallBudget {
  used = 0;
  /** Prompts refused before sending, anywhere in the tree (not sub-calls). */
  refused = 0;
  rootPromptTokens = 0;
  rootCompletionTokens = 0;
  subPromptTokens = 0;
  subCompletionTokens = 0;
  readonly startedAt = performance.now();

  constructor(
    readonly max: number,
    readonly maxWallMs: number | null,
  ) {}

  tryTake(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  get remaining(): number {
    return Math.max(0, this.max - this.used);
  }

  /** ms left of the tree's wall budget (null: none). */
  wallLeft(): number | null {
    return this.maxWallMs === null ? null : this.maxWallMs - (performance.now() - this.startedAt);
  }
}
