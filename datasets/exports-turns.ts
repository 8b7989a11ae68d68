/**
 * Turn-level exports and the truncation filter:
 * - `tokens` rows by kind: one row per episode when every turn's prompt ids extend the previous prompt + completion ids
 *   (row_kind "episode"), else one row per root turn — that turn's prompt ids (mask 0) then its completion ids (mask 1,
 *   its logprobs) exactly as the server returned them (row_kind "turn"). A chat template that rewrites history (Qwen3
 *   drops earlier turns' <think>) gives turn rows; nothing is re-tokenized to paper over it.
 * - `sft-turns`: one row per root turn (input = the whole history before it, output = its reply), the recipe used for
 *   RLM-Qwen3-8B; the same episode filter as `sft`, plus `maxTurnChars` (a turn whose input + output is longer is left out).
 * - `dropTruncated`: leaves out episodes with completion_truncated (a root turn ended with finish_reason "length").
 */
import type { Message } from '../env/types.ts';
import type { EpisodeRow, StepRow } from './schema.ts';
import { tokenSequence, type TokenSequence } from './exports.ts';

type TokenStep = Pick<StepRow, 'turn' | 'prompt_token_ids' | 'completion_token_ids' | 'completion_logprobs'> & { finish_reason?: string | null };

export interface TokenRowCore extends TokenSequence {
  row_kind: 'episode' | 'turn';
  turn: number | null;
  completion_truncated: boolean;
}

/** The token rows of one episode (see the module comment); [] when no turn has token ids. */
export function tokenRowsOf(steps: readonly TokenStep[]): TokenRowCore[] {
  const turns = steps.filter((s) => Array.isArray(s.prompt_token_ids) && Array.isArray(s.completion_token_ids)).slice().sort((a, b) => a.turn - b.turn);
  const seq = tokenSequence(turns);
  if (!seq) return [];
  if (seq.token_prefix_ok) {
    return [{ ...seq, row_kind: 'episode', turn: null, completion_truncated: turns.some((s) => s.finish_reason === 'length') }];
  }
  return turns.map((s) => {
    const prompt = s.prompt_token_ids!;
    const completion = s.completion_token_ids!;
    const lp = s.completion_logprobs ?? [];
    return {
      token_ids: [...prompt, ...completion],
      loss_mask: [...prompt.map(() => 0), ...completion.map(() => 1)],
      logprobs: [...prompt.map(() => 0), ...completion.map((_, k) => (typeof lp[k] === 'number' && Number.isFinite(lp[k]) ? lp[k] : 0))],
      num_turns: 1,
      prompt_len: prompt.length,
      token_prefix_ok: false,
      row_kind: 'turn' as const,
      turn: s.turn,
      completion_truncated: s.finish_reason === 'length',
    };
  });
}

/** completion_truncated of an episode row (older runs without the column: from its steps' finish reasons). */
export function episodeTruncated(e: Pick<EpisodeRow, 'completion_truncated'>, steps: readonly { finish_reason?: string | null }[] = []): boolean {
  return typeof e.completion_truncated === 'boolean' ? e.completion_truncated : steps.some((s) => s.finish_reason === 'length');
}

/** Rows of `sft-turns` for the episodes already selected. */
export function sftTurnRows(
  episodes: readonly EpisodeRow[],
  stepsOf: (episodeId: string) => readonly StepRow[],
  maxTurnChars: number | undefined,
): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const e of episodes) {
    const msgs = e.messages.map((m) => ({ role: m.role, content: m.content }));
    const steps = new Map(stepsOf(e.episode_id).map((s) => [s.turn, s]));
    let turn = 0;
    msgs.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      turn++;
      const prompt: Message[] = msgs.slice(0, i);
      const chars = prompt.reduce((n, p) => n + p.content.length, 0) + m.content.length;
      if (maxTurnChars !== undefined && chars > maxTurnChars) return;
      rows.push({
        messages: [...prompt, m],
        prompt,
        completion: [m],
        episode_id: e.episode_id,
        turn,
        task_family: e.task_family,
        reward: e.reward,
        correct: e.correct,
        finish_reason: steps.get(turn)?.finish_reason ?? null,
      });
    });
  }
  return rows;
}
