/**
 * The batch runner: plays planned episodes in RLMEnv against policy clients, `concurrency` at a time, and hands each
 * finished episode (scored, rewarded) to `onEpisode`. An episode whose policy request fails for good ends with its
 * `error` recorded; the run goes on. An abort signal stops new episodes; running ones end at their next turn boundary
 * as `interrupted` and are NOT handed on (so `--resume` plays them again: every episode lands exactly once).
 */
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import {
  RLMEnv,
  SandboxPool,
  contextChars,
  type ChildEpisode,
  type PolicyCallMeta,
  type StepInfo,
  type Prices,
  type SandboxLimits,
  type SubCallHandler,
  type Message,
  type StepRecord,
} from '../env/index.ts';
import { generateTask, isTemporaryContext, removeTaskContext, type PlacementOptions, type Task } from '../tasks/index.ts';
import type { PolicyClient, ChatResult } from './client.ts';
import { ContextWindowExceededError, RolloutConfigError } from './errors.ts';
import { MIN_COMPLETION_TOKENS, planRequest, type ContextPolicy, type RequestPlan } from './context-window.ts';
import { SubModelRouter, subCallHandler, subModelEnv, type SubModel } from './sub-models.ts';
import type { SubModelInfo } from '../env/rlm-env.ts';
import { deriveSeed, planEpisodes, type PlannedEpisode } from './plan.ts';
import type { EpisodeRecord, SamplingParams } from './types.ts';
import type { RewardInput } from '../rewards/types.ts';

export interface RewardOutcome {
  reward: number;
  components: Record<string, number>;
  error: string | null;
}

export interface EnvLimits {
  maxTurns?: number;
  maxSubCalls?: number;
  maxRootTokens?: number | null;
  maxWallMs?: number | null;
  maxCostUsd?: number | null;
  prices?: Prices | null;
  systemPrompt?: string;
  sandbox?: Omit<SandboxLimits, 'maxSubCalls'>;
  /** rlm_query depth: 0 = rlm_query is a plain sub-call; n > 0 = child episodes played by the root policy, n levels deep. */
  rlmDepth?: number;
  /** Send earlier turns' reasoning back to the model (default false: the Qwen3 convention). */
  keepReasoning?: boolean;
  /** What the system prompt says about the sub-models (default: from the sub-model clients; see subModelEnv). */
  subModels?: SubModelInfo[] | null;
  maxReplyChars?: number;
  maxCellsPerReply?: number;
  maxTurnCpuMs?: number;
  maxTurnWallMs?: number;
  maxRecordedSubCallChars?: number;
  /** REPL language: 'js' (default) or 'python'. Recorded in the manifest, so replay uses the same one. */
  repl?: 'js' | 'python';
}

export interface RolloutOptions {
  runId: string;
  families: string[];
  /** Tasks per family. */
  n: number;
  seed: number;
  groupSize?: number;
  /** Options for every generator (e.g. { numDocs }). */
  taskOptions?: Record<string, unknown>;
  /** Where generated contexts live (families that support host-backed contexts; see tasks/storage.ts). */
  placement?: PlacementOptions;
  /** Context sizes: --n tasks per family per size (a sweep); absent = the generators' default (or taskOptions.contextTokens). */
  contextTokens?: readonly number[];
  shard?: { index: number; count: number };
  /** Episode ids already recorded (resume): skipped. */
  skip?: Set<string>;
  /** Root policy clients; episode i uses clients[i % length] (several endpoints share the load). */
  policies: PolicyClient[];
  /** Answers llm_query; default: the first root client with `subSampling`. */
  sub?: PolicyClient;
  /** Named sub-models (llm_query(prompt, name)); when given, replaces `sub`. The unnamed one (or the first) is the default. */
  subModels?: SubModel[];
  /** When the next root request does not fit the window: end the episode (`truncate`, default) or leave out the oldest turns. */
  contextPolicy?: ContextPolicy;
  sampling: Omit<SamplingParams, 'seed'>;
  /** Sampling of sub-calls; default: root sampling without logprobs, max_tokens 2048. */
  subSampling?: Omit<SamplingParams, 'seed'>;
  env?: EnvLimits;
  /** Episodes in flight. Default 8. */
  concurrency?: number;
  pool?: SandboxPool;
  reward?: (episode: RewardInput) => Promise<RewardOutcome> | RewardOutcome;
  onEpisode?: (episode: EpisodeRecord) => Promise<void> | void;
  onProgress?: (progress: RolloutProgress) => void;
  /** Called once the task options are known to be valid, just before the first episode starts. */
  onStart?: (info: { planned: number; todo: number }) => void;
  signal?: AbortSignal;
}

export interface RolloutProgress {
  total: number;
  done: number;
  correct: number;
  scoreSum: number;
  errors: number;
  tokens: number;
  interrupted: number;
  startedAt: number;
  last?: EpisodeRecord;
}

export interface FamilySummary {
  family: string;
  n: number;
  accuracy: number;
  meanScore: number;
  meanReward: number;
  meanTurns: number;
  subCalls: number;
  tokens: number;
  costUsd: number;
  errors: number;
  wallMs: number;
}

export interface RolloutResult {
  planned: number;
  skipped: number;
  completed: number;
  interrupted: string[];
  byFamily: FamilySummary[];
  wallMs: number;
  /** Episodes that ended with an error, and the first such error (e.g. the endpoint rejects every request). */
  failed: number;
  firstError: string | null;
}

export async function runRollouts(o: RolloutOptions): Promise<RolloutResult> {
  if (o.policies.length === 0) throw new Error('runRollouts: at least one policy client is needed');
  const started = performance.now();
  // Every in-flight request listens on the run's abort signal; dozens at once is expected, not a leak.
  if (o.signal) setMaxListeners(0, o.signal);
  const plan = planEpisodes({ families: o.families, n: o.n, seed: o.seed, groupSize: o.groupSize ?? 1, shard: o.shard, sizes: o.contextTokens });
  const todo = plan.filter((p) => !o.skip?.has(p.episodeId));
  const ownsPool = !o.pool;
  const pool = o.pool ?? new SandboxPool();
  const queue = new PQueue({ concurrency: o.concurrency ?? 8 });
  const tasks = new TaskCache(o.taskOptions ?? {}, o.placement);
  const progress: RolloutProgress = { total: todo.length, done: 0, correct: 0, scoreSum: 0, errors: 0, tokens: 0, interrupted: 0, startedAt: Date.now() };
  const records: EpisodeRecord[] = [];
  const interrupted: string[] = [];
  let sinkError: unknown = null;
  let failed = 0;
  let firstError: string | null = null;

  // Bad task options fail here, before any episode starts, with the generator's message (each family at each size).
  const firsts = new Map<string, PlannedEpisode>();
  for (const p of todo) if (!firsts.has(`${p.family}@${p.contextTokens}`)) firsts.set(`${p.family}@${p.contextTokens}`, p);
  for (const first of firsts.values()) {
    try {
      tasks.prime(first);
    } catch (e) {
      if (ownsPool) await pool.close();
      tasks.cleanup();
      const at = first.contextTokens !== null && (o.contextTokens?.length ?? 0) > 1 ? ` at ${first.contextTokens} tokens` : '';
      throw new RolloutConfigError(`cannot generate ${first.family} tasks${at}: ${(e as Error).message}`);
    }
  }
  o.onStart?.({ planned: plan.length, todo: todo.length });
  try {
    for (const ep of todo) {
      void queue.add(async () => {
        if (o.signal?.aborted || sinkError) {
          interrupted.push(ep.episodeId);
          return;
        }
        let rec: EpisodeRecord | null;
        try {
          rec = await playEpisode(o, ep, tasks, pool);
        } catch (e) {
          sinkError ??= e; // only harness bugs get here (playEpisode records policy/sandbox failures itself)
          return;
        }
        if (rec === null) {
          interrupted.push(ep.episodeId);
          progress.interrupted++;
          return;
        }
        try {
          await o.onEpisode?.(rec);
        } catch (e) {
          sinkError ??= e; // a sink that cannot write ends the run: nothing may be silently dropped
          return;
        }
        records.push(summaryOnly(rec));
        if (rec.error) {
          failed++;
          firstError ??= rec.error;
        }
        progress.done++;
        progress.correct += rec.correct ? 1 : 0;
        progress.scoreSum += rec.score;
        progress.errors += rec.error ? 1 : 0;
        progress.tokens += rec.root_prompt_tokens + rec.root_completion_tokens + rec.sub_prompt_tokens + rec.sub_completion_tokens;
        progress.last = rec;
        o.onProgress?.(progress);
      });
    }
    await queue.onIdle();
  } finally {
    if (ownsPool) await pool.close();
    tasks.cleanup();
  }
  if (sinkError) throw sinkError;
  return {
    planned: plan.length,
    skipped: plan.length - todo.length,
    completed: records.length,
    interrupted: interrupted.sort(),
    byFamily: summarize(records, o.families),
    wallMs: Math.round(performance.now() - started),
    failed,
    firstError,
  };
}

/** Tasks are generated once per group and dropped when the group's last episode starts (memory stays bounded). */
class TaskCache {
  private readonly cache = new Map<string, { task: Task; uses: number }>();
  /** Host-backed tasks in temp dirs, with the episodes still playing them: the files go when the last one ends. */
  private readonly temporary = new Map<Task, { active: number; cached: boolean }>();
  constructor(
    private readonly options: Record<string, unknown>,
    private readonly placement?: PlacementOptions,
  ) {}
  prime(ep: PlannedEpisode): void {
    this.entry(ep);
  }
  take(ep: PlannedEpisode, groupSize: number): Task {
    const entry = this.entry(ep);
    const t = this.temporary.get(entry.task);
    if (t) t.active++;
    if (++entry.uses >= groupSize) {
      this.cache.delete(ep.groupId);
      if (t) t.cached = false;
    }
    return entry.task;
  }
  /** An episode of `task` ended. */
  release(task: Task): void {
    const t = this.temporary.get(task);
    if (!t) return;
    t.active--;
    if (t.active <= 0 && !t.cached) {
      this.temporary.delete(task);
      removeTaskContext(task);
    }
  }
  /** The run ended: temp files of tasks primed but never (fully) played go too. */
  cleanup(): void {
    for (const task of this.temporary.keys()) removeTaskContext(task);
    this.temporary.clear();
  }
  private entry(ep: PlannedEpisode): { task: Task; uses: number } {
    let entry = this.cache.get(ep.groupId);
    if (!entry) {
      const size = ep.contextTokens === null ? {} : { contextTokens: ep.contextTokens };
      entry = { task: generateTask(ep.family, { ...this.options, ...size, seed: ep.taskSeed }, this.placement), uses: 0 };
      if (isTemporaryContext(entry.task)) this.temporary.set(entry.task, { active: 0, cached: true });
      this.cache.set(ep.groupId, entry);
    }
    return entry;
  }
}

/** Plays one episode to its end. Returns null when it was interrupted (not recorded). */
async function playEpisode(o: RolloutOptions, ep: PlannedEpisode, tasks: TaskCache, pool: SandboxPool): Promise<EpisodeRecord | null> {
  const started = performance.now();
  const policy = o.policies[ep.index % o.policies.length];
  const sub = o.sub ?? o.policies[0];
  const subSampling = o.subSampling ?? { ...o.sampling, logprobs: false, max_tokens: Math.min(o.sampling.max_tokens, 2048) };
  const router = new SubModelRouter(o.subModels?.length ? o.subModels : [{ name: null, client: sub }]);
  let subModelId = router.fallback.client.model;
  // Keyed by the prompt, not the call order: parallel batches finish in any order, seeds must not depend on it.
  const subModel: SubCallHandler = subCallHandler({
    router,
    sampling: subSampling,
    seedOf: (prompt) => deriveSeed(o.seed, ep.index, 0, `sub:${prompt}`),
    signal: o.signal,
    onAnswer: (model) => void (subModelId = model),
  });

  let task: Task;
  let error: string | null = null;
  try {
    task = tasks.take(ep, o.groupSize ?? 1);
  } catch (e) {
    throw new Error(`cannot generate task ${ep.family} seed ${ep.taskSeed}: ${(e as Error).message}`);
  }
  const { rlmDepth = 0, ...limits } = o.env ?? {};
  const recursion = rlmDepth > 0
    ? {
        maxDepth: rlmDepth,
        // Child turns are sampled like root turns (token ids + logprobs with --logprobs): they are trajectories too.
        policy: async (messages: Message[], meta: PolicyCallMeta) => {
          const seed = deriveSeed(o.seed, ep.index, meta.turn, `rlm:${meta.path}`);
          const r = await policy.chat(messages, { ...o.sampling, seed }, anySignal(o.signal, meta.signal));
          return { text: r.text, usage: { promptTokens: r.promptTokens, completionTokens: r.completionTokens, tokens: r.tokens, reasoning: r.reasoning, finishReason: r.finishReason } };
        },
      }
    : null;
  // The system prompt states the sub-models' windows; a known window bounds the sandbox's prompt size (subModelEnv).
  const derived = limits.subModels !== undefined ? { subModels: limits.subModels, sandbox: limits.sandbox } : subModelEnv(router.subs, subSampling.max_tokens, limits.sandbox);
  const env = new RLMEnv({ ...limits, sandbox: derived.sandbox, task, pool, subModel, recursion, subModels: derived.subModels });
  let rootModel = policy.model;
  let stopReason: string | undefined;
  let terminated = false;
  let truncated = false;
  let info: StepInfo | undefined;
  try {
    const reset = await env.reset({ seed: ep.sandboxSeed });
    info = reset.info;
    for (let turn = 1; ; turn++) {
      if (o.signal?.aborted) {
        await env.abort('interrupted');
        return null;
      }
      let turnResult: Awaited<ReturnType<typeof rootTurn>>;
      try {
        turnResult = await rootTurn(o, policy, env.messages, deriveSeed(o.seed, ep.index, turn));
      } catch (e) {
        if (o.signal?.aborted) {
          await env.abort('interrupted');
          return null;
        }
        error = `policy request failed on turn ${turn}: ${(e as Error).message}`;
        info = await env.abort('error');
        stopReason = 'error';
        truncated = true;
        break;
      }
      if (turnResult === null) {
        // The next request cannot fit the window (by our count or the server's): truncated, not an error.
        info = await env.abort('context_window');
        stopReason = 'context_window';
        truncated = true;
        break;
      }
      const { reply, plan } = turnResult;
      rootModel = reply.model;
      const r = await env.step(reply.text, {
        promptTokens: reply.promptTokens,
        completionTokens: reply.completionTokens,
        tokens: reply.tokens,
        reasoning: reply.reasoning,
        finishReason: reply.finishReason,
        maxTokens: plan.maxTokens,
        droppedTurns: plan.droppedTurns,
      });
      info = r.info;
      if (r.terminated || r.truncated) {
        terminated = r.terminated;
        truncated = r.truncated;
        stopReason = r.info.stopReason;
        break;
      }
    }
  } catch (e) {
    error = `episode failed: ${(e as Error).message}`;
    info = await env.abort('error').catch(() => info);
    stopReason = 'error';
    truncated = true;
  } finally {
    await env.close();
    tasks.release(task);
  }

  const score = info?.score ?? { score: 0, correct: false, details: {} };
  const steps: StepRecord[] = [...env.steps];
  const base: RewardInput = {
    run_id: o.runId,
    episode_id: ep.episodeId,
    episode_index: ep.index,
    group_id: ep.groupId,
    task_family: task.family,
    task_id: task.id,
    seed: ep.taskSeed,
    task_options: JSON.stringify(task.options),
    question: task.question,
    gold_answer: task.answer,
    final_answer: info?.finalAnswer ?? null,
    score: score.score,
    correct: score.correct,
    turns: steps.length,
    terminated,
    truncated,
    stop_reason: stopReason ?? 'error',
    error,
    root_prompt_tokens: info?.rootPromptTokens ?? 0,
    root_completion_tokens: info?.rootCompletionTokens ?? 0,
    sub_calls: info?.subCalls ?? 0,
    sub_prompt_tokens: info?.subPromptTokens ?? 0,
    sub_completion_tokens: info?.subCompletionTokens ?? 0,
    cost_usd: info?.costUsd ?? 0,
    wall_ms: Math.round(performance.now() - started),
    context_chars: contextChars(task.context),
    context_tokens: Number(task.meta.contextTokens ?? 0),
    root_model: rootModel,
    sub_model: subModelId,
    // The request seed differs per turn: seed = deriveSeed(run seed, episode_index, turn) (rollouts/plan.ts).
    sampling_params: JSON.stringify({ ...o.sampling, seed: null, seed_per_request: 'deriveSeed(run_seed, episode_index, turn)', run_seed: o.seed, sub: o.subSampling ?? null }),
    score_details: JSON.stringify(score.details),
    messages: [...env.messages],
    steps,
    completion_truncated: steps.some((s) => s.finish_reason === 'length'),
  };
  const outcome: RewardOutcome = o.reward ? await o.reward(base) : { reward: score.score, components: { accuracy: score.score }, error: null };
  const root: EpisodeRecord = {
    ...base,
    reward: outcome.reward,
    reward_components: outcome.components,
    reward_error: outcome.error,
    root_episode_id: ep.episodeId,
    parent_episode_id: null,
    depth: 0,
    sub_calls_refused: info?.subCallsRefused ?? 0,
  };
  if (env.children.length) root.children = env.children.map((c) => childRecord(root, c, rootModel, subModelId));
  return root;
}

/** Episode id of an rlm_query child: the root's id, then its path ("000003.1.2"). */
export function childEpisodeId(rootId: string, path: string): string {
  return path === '' ? rootId : `${rootId}.${path}`;
}

/**
 * An rlm_query child episode as its own record: the same task fields as the root (it is part of the root's attempt),
 * its own question (the rlm_query prompt), turns, steps and counts; score 0; reward = the root's (credit assignment is
 * the trainer's choice: the root's reward is what the tree earned).
 */
function childRecord(root: EpisodeRecord, c: ChildEpisode, rootModel: string, subModel: string): EpisodeRecord {
  return {
    ...root,
    children: undefined,
    episode_id: childEpisodeId(root.episode_id, c.path),
    question: c.question,
    gold_answer: '',
    final_answer: c.info.finalAnswer,
    score: 0,
    correct: false,
    turns: c.steps.length,
    terminated: c.terminated,
    truncated: c.truncated,
    stop_reason: c.info.stopReason ?? 'error',
    error: null,
    root_prompt_tokens: c.info.rootPromptTokens,
    root_completion_tokens: c.info.rootCompletionTokens,
    sub_calls: c.info.subCalls,
    sub_calls_refused: c.info.subCallsRefused,
    sub_prompt_tokens: c.info.subPromptTokens,
    sub_completion_tokens: c.info.subCompletionTokens,
    cost_usd: c.info.costUsd,
    wall_ms: c.info.wallMs,
    context_chars: c.contextChars,
    context_tokens: 0,
    root_model: rootModel,
    sub_model: subModel,
    score_details: JSON.stringify({ rlm_query_child: true }),
    messages: c.messages,
    steps: c.steps,
    root_episode_id: root.episode_id,
    parent_episode_id: childEpisodeId(root.episode_id, c.parentPath),
    depth: c.depth,
  };
}

/** Aborted when either signal is (AbortSignal.any, Node ≥ 20.3). */
function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}

/**
 * One root request fitted into the window: plan (count, clamp, maybe drop oldest turns), send; when the server still
 * answers its length error, retry once with the max_tokens its message allows. null = cannot fit (context_window).
 */
async function rootTurn(o: RolloutOptions, policy: PolicyClient, messages: readonly Message[], seed: number): Promise<{ reply: ChatResult; plan: RequestPlan } | null> {
  const kwargs = (o.sampling.extra_body as { chat_template_kwargs?: unknown } | null)?.chat_template_kwargs;
  const plan = await planRequest(policy, messages, o.sampling.max_tokens, o.contextPolicy ?? 'truncate', kwargs, o.signal);
  if (plan === null) return null;
  try {
    return { reply: await policy.chat(plan.messages, { ...o.sampling, max_tokens: plan.maxTokens, seed }, o.signal), plan };
  } catch (e) {
    if (!(e instanceof ContextWindowExceededError)) throw e;
    const left = e.maxModelLen !== null && e.inputTokens !== null ? e.maxModelLen - e.inputTokens : null;
    if (left === null || left < MIN_COMPLETION_TOKENS || left >= plan.maxTokens) return null;
    const retry = { ...plan, maxTokens: left };
    try {
      return { reply: await policy.chat(plan.messages, { ...o.sampling, max_tokens: left, seed }, o.signal), plan: retry };
    } catch (e2) {
      if (e2 instanceof ContextWindowExceededError) return null;
      throw e2;
    }
  }
}

/** Keeps what the summary needs, so a long run does not hold every transcript in memory. */
function summaryOnly(r: EpisodeRecord): EpisodeRecord {
  return { ...r, messages: [], steps: [], question: '', gold_answer: '' };
}

export function summarize(records: EpisodeRecord[], families: string[]): FamilySummary[] {
  const out: FamilySummary[] = [];
  for (const family of [...families, 'all']) {
    const rs = family === 'all' ? records : records.filter((r) => r.task_family === family);
    if (rs.length === 0 || (family === 'all' && families.length < 2)) continue;
    const mean = (f: (r: EpisodeRecord) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    out.push({
      family,
      n: rs.length,
      accuracy: mean((r) => (r.correct ? 1 : 0)),
      meanScore: mean((r) => r.score),
      meanReward: mean((r) => r.reward),
      meanTurns: mean((r) => r.turns),
      subCalls: rs.reduce((s, r) => s + r.sub_calls, 0),
      tokens: rs.reduce((s, r) => s + r.root_prompt_tokens + r.root_completion_tokens + r.sub_prompt_tokens + r.sub_completion_tokens, 0),
      costUsd: rs.reduce((s, r) => s + r.cost_usd, 0),
      errors: rs.filter((r) => r.error).length,
      wallMs: rs.reduce((s, r) => s + r.wall_ms, 0),
    });
  }
  return out;
}
