/**
 * Replay: re-create each recorded task from its seed and options (verifying its id; a host-backed task in a kept
 * contextDir is re-read after checking every chunk file's size and sha256 — a changed file fails the episode), re-execute the recorded replies in
 * fresh sandboxes with the recorded sub-call responses, and check every observation, the final answer, the score and
 * the reward. Proves a run is reproducible from its files alone — and catches a tampered one.
 */
import { RLMEnv, SandboxPool, sha256, type SubCallHandler, type StepRecord, type PolicyCallMeta, type SubCallRecord } from '../env/index.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TaskFileError, generateTask, getTaskFamily, loadTaskFile, loadTaskPlugin, removeTaskContext } from '../tasks/index.ts';
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
  /**
   * Where host-backed tasks are regenerated (`replay --context-dir`). Default: the recorded contextDir when it exists
   * here (its chunk files are reused after verifying every sha256; a changed one fails the episode), else a temp dir
   * deleted after the episode — never a recorded path that does not exist on this machine.
   */
  contextDir?: string;
}

/** The recorded task options with contextDir chosen as ReplayOptions.contextDir says. */
export function replayTaskOptions(family: string, recorded: Record<string, unknown>, contextDir: string | undefined, cwd: string): Record<string, unknown> {
  if (contextDir !== undefined) {
    // Only families that take placement options accept contextDir (the others' strict schemas refuse the key).
    return 'contextDir' in recorded || getTaskFamily(family).hostContext ? { ...recorded, contextDir: path.resolve(contextDir) } : recorded;
  }
  if (typeof recorded.contextDir !== 'string') return recorded;
  // Runs recorded before contextDir was stored absolute hold it relative to the run's cwd.
  const dir = path.resolve(cwd, recorded.contextDir);
  if (existsSync(dir)) return { ...recorded, contextDir: dir };
  const { contextDir: _absent, ...rest } = recorded;
  return rest;
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
  const envLimits: EnvLimits = manifest.extra?.env ?? {};
  // Task files the run read must be unchanged (same sha256): replaying other rows would verify nothing.
  for (const f of (manifest.extra as { task_files?: { path: string; sha256: string }[] } | null)?.task_files ?? []) {
    const now = loadTaskFile(f.path);
    if (now.sha256 !== f.sha256) {
      throw new TaskFileError(f.path, `the file changed since the run was recorded (sha256 was ${f.sha256.slice(0, 16)}…, is now ${now.sha256.slice(0, 16)}…); replay needs the original file`, { code: 'changed' });
    }
  }
  // Task plugins the run used are loaded again (from the recorded paths) so their tasks can be regenerated and scored.
  for (const p of (manifest.extra as { task_plugins?: { path: string; spec: string }[] } | null)?.task_plugins ?? []) {
    await loadTaskPlugin(p.path);
  }
  // The spec as the user wrote it (module paths relative to the run's cwd); reward_spec is the resolved, display form.
  const reward = await buildReward(manifest.config?.reward ?? 'accuracy', { cwd: manifest.cwd ?? process.cwd() });
  const wanted = options.episodes ? new Set(options.episodes) : null;
  const all = joinSteps(run);
  // rlm_query child episodes are replayed inside their root's replay.
  const childrenOf = new Map<string, EpisodeRecord[]>();
  for (const e of all) {
    if ((e.depth ?? 0) === 0) continue;
    const root = e.root_episode_id ?? e.episode_id;
    const list = childrenOf.get(root) ?? [];
    list.push(e);
    childrenOf.set(root, list);
  }
  const episodes = all.filter((e) => (e.depth ?? 0) === 0 && (!wanted || wanted.has(e.episode_id)));
  // Episodes carrying their own env_config (env server sessions) do not need the run seed.
  if (typeof manifest.seed !== 'number' && episodes.some((e) => !e.env_config)) {
    throw new Error(`${dir}: manifest.json has no run seed; cannot derive the sandbox seeds`);
  }
  const ownsPool = !options.pool;
  const pool = options.pool ?? new SandboxPool();
  const results: ReplayEpisodeResult[] = [];
  try {
    for (const ep of episodes) {
      const own = ep.env_config ? (JSON.parse(ep.env_config) as { sandbox_seed: number; env: EnvLimits }) : null;
      const sandboxSeed = own ? own.sandbox_seed : deriveSeed(manifest.seed!, ep.episode_index, 0);
      const taskOptions = (recorded: Record<string, unknown>) => replayTaskOptions(ep.task_family, recorded, options.contextDir, manifest.cwd ?? process.cwd());
      const r = await replayEpisode(ep, childrenOf.get(ep.episode_id) ?? [], sandboxSeed, own ? own.env : envLimits, pool, reward, taskOptions);
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
  children: EpisodeRecord[],
  sandboxSeed: number,
  envLimits: EnvLimits,
  pool: SandboxPool,
  reward: Awaited<ReturnType<typeof buildReward>>,
  taskOptions: (recorded: Record<string, unknown>) => Record<string, unknown>,
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
    task = generateTask(ep.task_family, taskOptions(JSON.parse(ep.task_options) as Record<string, unknown>) as { seed: number });
  } catch (e) {
    check(null, 'task', `regenerable task ${ep.task_family}`, `error: ${(e as Error).message}`);
    return { episode_id: ep.episode_id, status: 'mismatch', mismatches };
  }
  check(null, 'task_id', ep.task_id, task.id);
  check(null, 'question', ep.question, task.question);
  check(null, 'gold_answer', ep.gold_answer, task.answer);

  let recorded: StepRecord | null = null;
  // Recorded sub-calls of the step each episode of the tree is playing, by episode path and prompt sha256.
  const queues = new Map<string, Map<string, SubCallRecord[]>>();
  const load = (path: string, step: StepRecord) => {
    const q = new Map<string, SubCallRecord[]>();
    for (const c of step.sub_calls) {
      if (c.refused) continue; // never reached the handler
      const key = c.prompt_sha256 ?? sha256(c.prompt);
      const list = q.get(key) ?? [];
      list.push(c);
      q.set(key, list);
    }
    queues.set(path, q);
  };
  const subModel: SubCallHandler = async (req) => {
    const path = req.episodePath ?? '';
    const call = queues.get(path)?.get(sha256(req.prompt))?.shift();
    if (!call) throw new Error(`replay: ${path ? `child episode ${path}` : `turn ${recorded?.turn}`} made a sub-call that is not in the recording`);
    if (call.error !== null) throw new Error(call.error);
    if (call.response_chars !== undefined && call.response_chars !== call.response.length) {
      throw new Error(`replay: a sub-call response was recorded cut to ${call.response.length} of ${call.response_chars} chars (raise maxRecordedSubCallChars to replay it)`);
    }
    return { text: call.response, model: call.model, promptTokens: call.prompt_tokens, completionTokens: call.completion_tokens };
  };
  const tokensOf = (step: StepRecord) =>
    step.prompt_token_ids && step.completion_token_ids
      ? { prompt_token_ids: step.prompt_token_ids, completion_token_ids: step.completion_token_ids, completion_logprobs: step.completion_logprobs ?? [] }
      : undefined;
  // rlm_query child episodes: the recorded child (by its path) plays its recorded replies, its sub-calls from its steps.
  const childByPath = new Map(children.map((c) => [c.episode_id.slice(ep.episode_id.length + 1), c]));
  const { rlmDepth = 0, ...limits } = envLimits;
  const recursion =
    rlmDepth > 0
      ? {
          maxDepth: rlmDepth,
          policy: async (_messages: unknown, meta: PolicyCallMeta) => {
            const child = childByPath.get(meta.path);
            const step = child?.steps[meta.turn - 1];
            if (!child || !step) throw new Error(`replay: child episode ${meta.path} turn ${meta.turn} is not in the recording`);
            load(meta.path, step);
            return { text: step.reply, usage: { promptTokens: step.prompt_tokens, completionTokens: step.completion_tokens, tokens: tokensOf(step), reasoning: step.reasoning ?? null, finishReason: step.finish_reason ?? null } };
          },
        }
      : null;
  const env = new RLMEnv({ ...limits, task, pool, subModel, recursion });
  try {
    const reset = await env.reset({ seed: sandboxSeed });
    check(0, 'observation', ep.messages.slice(0, 2), reset.observation);
    let last;
    for (const step of ep.steps) {
      recorded = step;
      load('', step);
      last = await env.step(step.reply, { promptTokens: step.prompt_tokens, completionTokens: step.completion_tokens, tokens: tokensOf(step), reasoning: step.reasoning ?? null, finishReason: step.finish_reason ?? null });
      const got = last.info.step!;
      checkStep(check, step.turn, step, got);
      if (last.terminated || last.truncated) break;
    }
    // Every child episode played again, step for step, and none more or fewer than recorded.
    const played = new Map(env.children.map((c) => [c.path, c]));
    for (const [path, rec] of childByPath) {
      const c = played.get(path);
      if (!c) {
        check(null, `child ${rec.episode_id}`, 'played', 'not played');
        continue;
      }
      rec.steps.forEach((st, i) => {
        const g = c.steps[i];
        if (!g) check(st.turn, `child ${rec.episode_id} step`, 'played', 'missing');
        else checkStep((t, f, e, a) => check(t, `child ${rec.episode_id} ${f}`, e, a), st.turn, st, g);
      });
      check(null, `child ${rec.episode_id} final_answer`, rec.final_answer, c.info.finalAnswer);
    }
    for (const path of played.keys()) if (!childByPath.has(path)) check(null, `child ${path}`, 'not recorded', 'played');
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
    // A host-backed task regenerated into a temp dir for this replay: its chunk files go with it (a kept contextDir stays).
    removeTaskContext(task);
  }
  return { episode_id: ep.episode_id, status: mismatches.length ? 'mismatch' : 'ok', mismatches };
}

type Check = (turn: number | null, field: string, expected: unknown, actual: unknown) => void;

function checkStep(check: Check, turn: number, step: StepRecord, got: StepRecord): void {
  check(turn, 'code_cells', step.code_cells, got.code_cells);
  check(turn, 'observation', step.observation, got.observation);
  check(turn, 'cell_errors', step.cell_errors, got.cell_errors);
  const id = (c: SubCallRecord) => c.prompt_sha256 ?? sha256(c.prompt);
  check(turn, 'sub_calls', step.sub_calls.map(id), got.sub_calls.map(id));
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
