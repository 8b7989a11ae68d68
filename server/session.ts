/**
 * One client session: an RLMEnv episode at a time over the shared sandbox pool. Steps are serialized (a second call
 * while one runs is a 409, never queued behind it); the terminal step scores, rewards and hands the episode to the
 * recorder; close() aborts in-flight sub-calls, waits for the running cell to end and frees the sandbox.
 */
import { randomInt } from 'node:crypto';
import { RLMEnv, RLMEnvConfigError, type Message, type SandboxPool, type StepInfo, type SubCallHandler } from '../env/index.ts';
import { generateTask, getTaskFamily, removeTaskContext, type Task } from '../tasks/index.ts';
import { deriveSeed, subCallHandler, subModelEnv, type EnvLimits, type EpisodeRecord, type SamplingParams, type SubModelRouter } from '../rollouts/index.ts';
import { computeReward, type CompositeReward } from '../rewards/index.ts';
import { ApiError } from './errors.ts';
import { budgetsView, envLimits, sessionLimits, type ServerLimits } from './limits.ts';
import { usageFromWire, wireInfo, type Action, type ResetRequest, type WireInfo } from './protocol.ts';
import { episodeRecord } from './record.ts';

/** Generator options a client may not send (placement: where the server writes chunk files). */
export const CLIENT_REFUSED_OPTIONS = ['contextDir', 'contextStorage', 'hostContextThreshold'] as const;

export interface SessionDeps {
  pool: SandboxPool;
  limits: ServerLimits;
  /** Families a session may ask for. */
  families: readonly string[];
  defaultTask: string;
  /** Server-wide generator options (e.g. contextTokens from --context-tokens); a session's options override them. */
  taskOptions: Record<string, unknown>;
  /** The server's --sub-model(s) (named ones routed by llm_query's second argument); null = sub-calls fail. */
  sub: { router: SubModelRouter; sampling: Omit<SamplingParams, 'seed'> } | null;
  reward: CompositeReward;
  runId: string;
  /** Called once per finished episode (terminated or truncated) with its record; returns its finishing index. */
  onFinished: (build: (index: number) => Promise<EpisodeRecord>) => Promise<EpisodeRecord>;
  /** REPL language of a session that does not choose one (reset `repl`). */
  repl: 'js' | 'python';
}

export type SessionStatus = 'new' | 'active' | 'finished';

export interface ResetOutcome {
  observation: Message[];
  info: WireInfo;
}

export interface StepOutcome {
  observation: Message[];
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: WireInfo;
}

export class Session {
  readonly createdAt = Date.now();
  lastActivity = Date.now();
  status: SessionStatus = 'new';
  stepCount = 0;
  /** The OpenEnv reset's episode_id (echoed in state). */
  externalEpisodeId: string | null = null;

  private env: RLMEnv | null = null;
  private task: Task | null = null;
  private seed: number | null = null;
  private limits: ServerLimits;
  private customOptions = false;
  private repl: 'js' | 'python' = 'js';
  /** The env settings of the current episode (recorded as env_config). */
  private env_: Omit<EnvLimits, 'rlmDepth'> = {};
  private model = 'external';
  private startedAt = 0;
  private abort = new AbortController();
  private running: Promise<unknown> | null = null;
  private closed = false;
  private lastInfo: WireInfo | null = null;
  private messages: Message[] = [];

  constructor(
    readonly id: string,
    readonly transport: 'http' | 'ws',
    private readonly deps: SessionDeps,
  ) {
    this.limits = deps.limits;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Holds a sandbox (an episode is running). */
  get holdsSandbox(): boolean {
    return this.status === 'active';
  }

  get taskFamily(): string | null {
    return this.task?.family ?? null;
  }

  /** Starts an episode (WebSocket: again and again; an unfinished one is dropped, not recorded). */
  reset(req: ResetRequest): Promise<ResetOutcome> {
    return this.exclusive(() => this.doReset(req));
  }

  step(action: Action): Promise<StepOutcome> {
    return this.exclusive(() => this.doStep(action));
  }

  /** The session as GET /v1/sessions/{id} and the WebSocket `state` show it. */
  view(): Record<string, unknown> {
    return {
      session_id: this.id,
      status: this.status,
      task: this.task?.family ?? null,
      seed: this.seed,
      step_count: this.stepCount,
      created_at: new Date(this.createdAt).toISOString(),
      last_activity_at: new Date(this.lastActivity).toISOString(),
      budgets: budgetsView(this.limits),
      repl: this.repl,
      messages: this.messages,
      info: this.lastInfo,
    };
  }

  /** Ends the session: aborts in-flight sub-calls, waits for a running cell, frees the sandbox. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error('the session was closed'));
    if (this.running) await this.running.catch(() => undefined);
    await this.dropEpisode();
  }

  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ApiError('not_found', `session ${this.id} is closed`);
    if (this.running) throw new ApiError('step_in_flight', `session ${this.id} already has a step in flight; wait for its response`);
    this.lastActivity = Date.now();
    const p = f();
    this.running = p;
    try {
      return await p;
    } finally {
      this.running = null;
      this.lastActivity = Date.now();
    }
  }

  private async doReset(req: ResetRequest): Promise<ResetOutcome> {
    const family = req.task ?? this.deps.defaultTask;
    if (!this.deps.families.includes(family)) {
      throw new ApiError('bad_request', `task: '${family}' is not served here; valid: ${this.deps.families.join(', ')}`);
    }
    const limits = sessionLimits(this.deps.limits, req.budgets);
    // Where a context is stored is the operator's choice (--task-options), never a client's: a client's contextDir
    // would make the server write chunk files anywhere it may write.
    for (const key of CLIENT_REFUSED_OPTIONS) {
      if (req.options && key in req.options) {
        throw new ApiError('bad_request', `options.${key}: context placement (${CLIENT_REFUSED_OPTIONS.join(', ')}) is set by the server operator, not by a session`);
      }
    }
    const options = { ...this.deps.taskOptions, ...(req.options ?? {}) };
    if ('seed' in options) throw new ApiError('bad_request', "options.seed: pass the seed as the reset's own 'seed'");
    const ct = options.contextTokens;
    if (ct !== undefined && (typeof ct !== 'number' || ct > limits.maxContextTokens)) {
      throw new ApiError('bad_request', `options.contextTokens: ${String(ct)} is above the server's limit ${limits.maxContextTokens} (--max-context-tokens)`);
    }
    const seed = req.seed ?? randomInt(0, 2 ** 31 - 1);
    let task: Task;
    try {
      getTaskFamily(family);
      task = generateTask(family, { ...options, seed });
    } catch (e) {
      throw new ApiError('bad_request', `cannot generate a ${family} task: ${(e as Error).message}`);
    }
    const tokens = Number(task.meta.contextTokens ?? 0);
    if (tokens > limits.maxContextTokens * 1.05) {
      removeTaskContext(task);
      throw new ApiError('bad_request', `options: the ${family} task has ${tokens} context tokens, above the server's limit ${limits.maxContextTokens} (--max-context-tokens)`);
    }

    await this.dropEpisode();
    this.abort = new AbortController();
    const abort = this.abort;
    const sub = this.deps.sub;
    // Keyed by the prompt (parallel batches finish in any order), as in the rollout runner.
    const subModel: SubCallHandler | undefined = sub
      ? subCallHandler({ router: sub.router, sampling: sub.sampling, seedOf: (prompt) => deriveSeed(seed, 0, 0, `sub:${prompt}`), signal: abort.signal })
      : undefined;
    const repl = req.repl ?? this.deps.repl;
    const { rlmDepth: _depth, ...base } = envLimits(limits, repl);
    // The sub-models' windows shape the system prompt and the per-prompt limit: part of the recorded env (replay).
    const env: Omit<EnvLimits, 'rlmDepth'> = sub ? { ...base, ...subModelEnv(sub.router.subs, sub.sampling.max_tokens, base.sandbox) } : base;
    // rlm_query has no root policy here (the client is the policy): it is a plain sub-call on prompt + subContext.
    const rlm = new RLMEnv({ ...env, task, pool: this.deps.pool, subModel });
    let r;
    try {
      r = await rlm.reset({ seed });
    } catch (e) {
      await rlm.close();
      removeTaskContext(task);
      if (e instanceof RLMEnvConfigError) throw new ApiError('bad_request', e.message);
      throw e;
    }
    this.env = rlm;
    this.task = task;
    this.seed = seed;
    this.limits = limits;
    this.repl = repl;
    this.env_ = env;
    this.customOptions = req.options !== undefined && Object.keys(req.options).length > 0;
    this.model = req.model ?? 'external';
    this.externalEpisodeId = req.episode_id ?? null;
    this.status = 'active';
    this.stepCount = 0;
    this.startedAt = performance.now();
    this.messages = [...r.observation];
    const info = { ...wireInfo(this.id, seed, r.info), budgets: budgetsView(limits), repl };
    this.lastInfo = info;
    return { observation: r.observation, info };
  }

  private async doStep(action: Action): Promise<StepOutcome> {
    if (this.status === 'new') throw new ApiError('no_episode', 'step before reset: send a reset first');
    if (this.status === 'finished') {
      throw new ApiError('session_finished', `session ${this.id}: the episode has ended (${this.lastInfo?.stop_reason ?? 'finished'}); start a new session${this.transport === 'ws' ? ' or reset' : ''}`);
    }
    const usage = usageFromWire(action.usage);
    const env = this.env!;
    const r = await env.step(action.reply, usage);
    this.stepCount++;
    this.messages = [...env.messages];
    let reward = r.reward;
    let info = wireInfo(this.id, this.seed!, r.info);
    if (r.terminated || r.truncated) {
      this.status = 'finished';
      const rec = await this.deps.onFinished(async (index) => this.finishedRecord(index, r.info, r.terminated, r.truncated));
      reward = rec.reward;
      info = { ...info, reward_components: rec.reward_components, reward_error: rec.reward_error };
      await env.close();
      this.env = null;
      // The record is built: a host-backed task's temp chunk files are no longer needed.
      removeTaskContext(this.task!);
    }
    this.lastInfo = info;
    return { observation: r.observation, reward, terminated: r.terminated, truncated: r.truncated, info };
  }

  private async finishedRecord(index: number, info: StepInfo, terminated: boolean, truncated: boolean): Promise<EpisodeRecord> {
    const env = this.env!;
    const base = episodeRecord({
      runId: this.deps.runId,
      index,
      task: this.task!,
      sandboxSeed: this.seed!,
      customOptions: this.customOptions,
      info,
      terminated,
      truncated,
      messages: env.messages,
      steps: env.steps,
      rootModel: this.model,
      subModel: this.deps.sub?.router.fallback.client.model ?? 'none',
      subSampling: this.deps.sub?.sampling ?? null,
      env: { ...this.env_, rlmDepth: 0 },
      wallMs: performance.now() - this.startedAt,
      sessionId: this.id,
    });
    const outcome = await computeReward(this.deps.reward, base);
    return { ...base, reward: outcome.reward, reward_components: outcome.components, reward_error: outcome.error };
  }

  /**
   * An unfinished episode ends without a record (only finished episodes are recorded); the sandbox is freed and a
   * host-backed task's temp chunk files are deleted (a server-side contextDir is left alone, see removeTaskContext).
   */
  private async dropEpisode(): Promise<void> {
    const env = this.env;
    this.env = null;
    if (env) {
      await env.abort('interrupted').catch(() => undefined);
      await env.close().catch(() => undefined);
    }
    if (this.task) removeTaskContext(this.task);
  }
}
