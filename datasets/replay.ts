/**
 * Replay: re-create each recorded task from its seed and options (verifying its id), re-execute the recorded replies in
 * fresh sandboxes with the recorded sub-call responses, and check every observation, the final answer, the score and
 * the reward. Proves a run is reproducible from its files alone — and catches a tampered one.
 */
import { RLMEnv, SandboxPool, type SubCallHandler, type StepRecord } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { deriveSeed } from '../rollouts/plan.ts';
import type { EnvLimits } from '../rollouts/runner.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';
import { buildReward, computeReward } from '../rewards/index.ts';
import { readRun, joinSteps } from './reader.ts';

export interface ReplayMismatch {
  episode_id: string;
  /** null = episode-level (task, final answer, score, reward). */
  turn: number | null;
  field: string;
  expected: string;
  actual: string;
}

export interface ReplayEpisodeResult {
  episode_id: string;
  status: 'ok' | 'mismatch' | 'skipped';
  reason?: string;
  mismatches: ReplayMismatch[];
}

export interface ReplayResult {
  episodes: number;
  ok: number;
  skipped: number;
  mismatches: ReplayMismatch[];
  results: ReplayEpisodeResult[];
}

export interface ReplayOptions {
  /** Only these episode ids. */
  episodes?: string[];
  pool?: SandboxPool;
  onEpisode?: (r: ReplayEpisodeResult) => void;
}

export async function replayRun(dir: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  const run = await readRun(dir);
  const manifest = run.manifest as unknown as {
    seed?: number | null;
    cwd?: string;
    config?: { reward?: string } | null;
    reward_spec?: string | null;
    extra?: { env?: EnvLimits } | null;
  };
  if (typeof manifest.seed !== 'number') throw new Error(`${dir}: manifest.json has no run seed; cannot derive the sandbox seeds`);
  const envLimits: EnvLimits = manifest.extra?.env ?? {};
  // The spec as the user wrote it (module paths relative to the run's cwd); reward_spec is the resolved, display form.
  const reward = await buildReward(manifest.config?.reward ?? 'accuracy', { cwd: manifest.cwd ?? process.cwd() });
  const wanted = options.episodes ? new Set(options.episodes) : null;
  const episodes = joinSteps(run).filter((e) => !wanted || wanted.has(e.episode_id));
  const ownsPool = !options.pool;
  const pool = options.pool ?? new SandboxPool();
  const results: ReplayEpisodeResult[] = [];
  try {
    for (const ep of episodes) {
      const r = await replayEpisode(ep, manifest.seed, envLimits, pool, reward);
      results.push(r);
      options.onEpisode?.(r);
    }
  } finally {
    if (ownsPool) await pool.close();
  }
  const mismatches = results.flatMap((r) => r.mismatches);
  return {
    episodes: results.length,
    ok: results.filter((r) => r.status === 'ok').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
    mismatches,
    results,
  };
}

async function replayEpisode(
  ep: EpisodeRecord,
  runSeed: number,
  envLimits: EnvLimits,
  pool: SandboxPool,
  reward: Awaited<ReturnType<typeof buildReward>>,
): Promise<ReplayEpisodeResult> {
  const mismatches: ReplayMismatch[] = [];
  const check = (turn: number | null, field: string, expected: unknown, actual: unknown) => {
    const e = typeof expected === 'string' ? expected : JSON.stringify(expected);
    const a = typeof actual === 'string' ? actual : JSON.stringify(actual);
    if (e !== a) mismatches.push({ episode_id: ep.episode_id, turn, field, expected: e, actual: a });
  };
  // Wall-clock budgets are not reproducible by construction.
  if (ep.stop_reason === 'max_wall_time') return { episode_id: ep.episode_id, status: 'skipped', reason: 'ended by the wall-time budget', mismatches };

  let task;
  try {
    task = generateTask(ep.task_family, JSON.parse(ep.task_options) as { seed: number });
  } catch (e) {
    check(null, 'task', `regenerable task ${ep.task_family}`, `error: ${(e as Error).message}`);
    return { episode_id: ep.episode_id, status: 'mismatch', mismatches };
  }
  check(null, 'task_id', ep.task_id, task.id);
  check(null, 'question', ep.question, task.question);
  check(null, 'gold_answer', ep.gold_answer, task.answer);

  let recorded: StepRecord | null = null;
  const queues = new Map<string, StepRecord['sub_calls']>();
  const subModel: SubCallHandler = async (req) => {
    // rlm_query without recursion reaches the sub-model as prompt + "\n\n" + subContext; it was recorded as prompt.
    let q = queues.get(req.prompt);
    if (!q?.length) for (const [k, v] of queues) if (v.length && req.prompt.startsWith(`${k}\n\n`)) q = v;
    const call = q?.shift();
    if (!call) throw new Error(`replay: turn ${recorded?.turn} made a sub-call that is not in the recording`);
    if (call.error !== null) throw new Error(call.error);
    return { text: call.response, model: call.model, promptTokens: call.prompt_tokens, completionTokens: call.completion_tokens };
  };
  // rlm_query child episodes are recorded as their final answers: replay serves those like any sub-call.
  const { rlmDepth: _depth, ...limits } = envLimits;
  const env = new RLMEnv({ ...limits, task, pool, subModel });
  try {
    const reset = await env.reset({ seed: deriveSeed(runSeed, ep.episode_index, 0) });
    check(0, 'observation', ep.messages.slice(0, 2), reset.observation);
    let last;
    for (const step of ep.steps) {
      recorded = step;
      queues.clear();
      for (const c of step.sub_calls) {
        const q = queues.get(c.prompt) ?? [];
        q.push(c);
        queues.set(c.prompt, q);
      }
      const tokens = step.prompt_token_ids && step.completion_token_ids
        ? { prompt_token_ids: step.prompt_token_ids, completion_token_ids: step.completion_token_ids, completion_logprobs: step.completion_logprobs ?? [] }
        : undefined;
      last = await env.step(step.reply, { promptTokens: step.prompt_tokens, completionTokens: step.completion_tokens, tokens, reasoning: step.reasoning ?? null, finishReason: step.finish_reason ?? null });
      const got = last.info.step!;
      check(step.turn, 'code_cells', step.code_cells, got.code_cells);
      check(step.turn, 'observation', step.observation, got.observation);
      check(step.turn, 'cell_errors', step.cell_errors, got.cell_errors);
      check(step.turn, 'sub_calls', step.sub_calls.map((c) => c.prompt), got.sub_calls.map((c) => c.prompt));
      if (last.terminated || last.truncated) break;
    }
    // An episode the runner ended from outside (the next request could not fit the window) ends the same way here.
    let end = last?.info;
    if (ep.stop_reason === 'context_window' && !(last?.terminated || last?.truncated)) end = await env.abort('context_window');
    if (ep.error === null && ep.stop_reason !== 'interrupted') {
      check(null, 'final_answer', ep.final_answer, end?.finalAnswer ?? null);
      check(null, 'stop_reason', ep.stop_reason, end?.stopReason ?? null);
      const score = end?.score ?? { score: 0, correct: false, details: {} };
      check(null, 'score', ep.score, score.score);
      check(null, 'correct', ep.correct, score.correct);
      const replayed = { ...ep, final_answer: end?.finalAnswer ?? null, score: score.score, correct: score.correct };
      const r = await computeReward(reward, replayed);
      check(null, 'reward', ep.reward, r.reward);
      check(null, 'reward_components', sortKeys(ep.reward_components), sortKeys(r.components));
    }
  } catch (e) {
    check(recorded?.turn ?? null, 'replay', 'no error', `error: ${(e as Error).message}`);
  } finally {
    await env.close();
  }
  return { episode_id: ep.episode_id, status: mismatches.length ? 'mismatch' : 'ok', mismatches };
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
