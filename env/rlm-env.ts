import { z } from 'zod';
import { countTextTokens, countTextTokensAsync } from './tokens.ts';
import { TreeBudget } from './tree-budget.ts';
import { recordSubCall } from './record.ts';
import { fmtInt } from './sandbox/limits.ts';
import { generateTask, getTaskFamily, isTaskFamilyDef, isTemporaryContext, registerTaskFamily, removeTaskContext, scoreTask, type Task, type ScoreResult, type TaskPlugin } from '../tasks/index.ts';
import { SandboxPool, type SandboxSession } from './sandbox/index.ts';
import type { CellResult, SandboxLimits, SessionOptions, SubCallHandler, SubCallRecord, SubCallRequest, SubCallResponse } from './sandbox/types.ts';
import { RLMEnvConfigError, RLMEnvStateError } from './errors.ts';
import { extractCodeBlocks, extractTextFinal, hasForeignCodeBlock } from './parse.ts';
import { splitReasoning } from './reasoning.ts';
import {
  DEFAULT_SYSTEM_PROMPT,
  LAST_TURN_NOTICE,
  NO_CODE_NOTICE,
  PYTHON_NO_CODE_NOTICE,
  PYTHON_SYSTEM_PROMPT,
  renderBudgetLine,
  renderSystemPrompt,
  renderTaskMessage,
  type PromptInfo,
} from './prompt.ts';
import type { Message, ReplyUsage, StepRecord, StopReason } from './types.ts';

/** USD per 1M tokens. Sub-call prices default to the root prices. */
export interface Prices {
  inputPerM: number;
  outputPerM: number;
  subInputPerM?: number;
  subOutputPerM?: number;
}

/** Which child episode a recursion policy is asked to play, and its turn. */
export interface PolicyCallMeta {
  /** Path of the child episode in the rlm_query tree: "1" = the root's first rlm_query child, "1.2" = that child's second. */
  path: string;
  /** 1 for a child of the root. */
  depth: number;
  /** 1-based turn of the child episode. */
  turn: number;
  /** Aborted when the episode (or the rlm_query call) is aborted: pass it to the HTTP client. */
  signal?: AbortSignal;
}

/** Drives a child episode for `rlm_query` (recursion): given the messages so far, return the next reply. */
export type RootPolicy = (messages: Message[], meta: PolicyCallMeta) => Promise<{ text: string; usage?: ReplyUsage }>;

/** One rlm_query child episode as played (recorded as its own episodes/steps rows). */
export interface ChildEpisode {
  /** See PolicyCallMeta.path. */
  path: string;
  /** Path of the parent ('' = the root episode). */
  parentPath: string;
  depth: number;
  question: string;
  contextChars: number;
  info: StepInfo;
  terminated: boolean;
  truncated: boolean;
  messages: Message[];
  steps: StepRecord[];
}

export interface RLMEnvConfig {
  /**
   * Task family name (generated from the reset seed) — a built-in, a registered plugin or `file:/path` — a family
   * object `{ name, generate, score }` (validated and registered), a fixed Task, or a factory of the seed. Default 'sniah'.
   */
  task?: string | Task | TaskPlugin | ((seed: number) => Task);
  /** Options for the generator when `task` is a family name (seed comes from reset). */
  taskOptions?: Record<string, unknown>;
  /**
   * Where generated contexts live (families that support it, e.g. sniah): 'auto' (default) = on disk as chunk files
   * when larger than `hostContextThreshold` chars (default 64 Mi), 'memory' = always a string, 'host' = always on disk.
   * A host-backed context appears in the REPL as an object with a read API (see README, Giant contexts).
   */
  contextStorage?: 'auto' | 'memory' | 'host';
  hostContextThreshold?: number;
  /** Directory for host-backed chunk files (kept). Default: a temp dir per task, deleted when the episode's task is done. */
  contextDir?: string;
  /** Answers llm_query / llm_query_batched (and rlm_query when recursion is off). Without one, sub-calls fail with a clear error. */
  subModel?: SubCallHandler;
  /** Turns before the episode is truncated. Default 30. */
  maxTurns?: number;
  /** Root-model tokens (prompt + completion, summed over turns) before truncation. Default: no limit. */
  maxRootTokens?: number | null;
  /** Sub-calls per episode. Default 500. */
  maxSubCalls?: number;
  /** Wall time of an episode in ms (from reset). Default: no limit. */
  maxWallMs?: number | null;
  /** USD per episode; needs `prices`. Default: no limit. */
  maxCostUsd?: number | null;
  prices?: Prices | null;
  /** Replaces the system prompt: a template with {placeholders} (see env/prompt.ts) or a function of the budgets. */
  systemPrompt?: string | ((info: PromptInfo) => string);
  /** Cap of one observation (all cells of a turn together); the per-cell cap is sandbox.maxOutputChars. Default 50,000. */
  maxObservationChars?: number;
  /** Sandbox limits (memory, CPU/wall per cell, output cap, sub-call concurrency and prompt size). */
  sandbox?: Omit<SandboxLimits, 'maxSubCalls'>;
  /** A shared worker pool. Without one the env starts its own and closes it in close(). */
  pool?: SandboxPool;
  /** The REPL's language: 'js' (isolated-vm, default) or 'python' (Pyodide; ```repl/```python/```py fences, Python system prompt). */
  repl?: 'js' | 'python';
  /** Scores the final answer; default: the task family's scorer. */
  score?: (task: Task, prediction: string) => ScoreResult;
  /** Terminal reward from the score; default: the score itself. */
  reward?: (score: ScoreResult, task: Task) => number;
  /** Recursion for rlm_query: a policy for child episodes and how deep they may nest. Without it rlm_query = llm_query(prompt + subContext). */
  recursion?: { policy: RootPolicy; maxDepth?: number; maxTurns?: number } | null;
  /** Replies longer than this many chars are not run (an error observation instead). Default 200,000. */
  maxReplyChars?: number;
  /** Code blocks run per reply; later ones are skipped with a note. Default 20. */
  maxCellsPerReply?: number;
  /** CPU time all cells of one turn may use together (ms); a cell gets at most what is left. Default 60,000. */
  maxTurnCpuMs?: number;
  /** Wall time all cells of one turn may use together (ms). Default 600,000. */
  maxTurnWallMs?: number;
  /** Chars of each sub-call prompt/response kept in a step record (marker + full length + sha256 beyond). Default 10,000. */
  maxRecordedSubCallChars?: number;
  /** Internal: depth of this env in an rlm_query tree (0 = root). */
  depth?: number;
  /** Send earlier turns' reasoning back in `messages` (as <think>…</think> + reply). Default false (the Qwen3 convention). */
  keepReasoning?: boolean;
  /** What the system prompt says about the sub-models: their names (llm_query(prompt, name)) and windows. */
  subModels?: SubModelInfo[] | null;
  /** Internal: the rlm_query tree's budgets (a child env shares its root's). */
  tree?: TreeBudget;
  /** Internal: this env's path in the rlm_query tree ('' = root). */
  path?: string;
}

/** A sub-model as the system prompt describes it. `name` null = the default sub-model. */
export interface SubModelInfo {
  name: string | null;
  model: string;
  /** Context window in tokens (prompt + answer), when known. */
  maxModelLen: number | null;
  /** About how many characters of prompt fit (window minus the answer's max_tokens, at a conservative chars/token). */
  maxPromptChars: number | null;
}

const PositiveInt = z.number().int().positive();
const Nullable = (t: z.ZodTypeAny) => t.nullable().optional();
const ConfigSchema = z
  .object({
    task: z.any().optional(),
    taskOptions: z.record(z.string(), z.unknown()).optional(),
    contextStorage: z.enum(['auto', 'memory', 'host']).optional(),
    hostContextThreshold: PositiveInt.optional(),
    contextDir: z.string().min(1).optional(),
    subModel: z.any().optional(),
    maxTurns: PositiveInt.max(10_000).optional(),
    maxRootTokens: Nullable(PositiveInt),
    maxSubCalls: z.number().int().nonnegative().optional(),
    maxWallMs: Nullable(PositiveInt),
    maxCostUsd: Nullable(z.number().positive()),
    maxObservationChars: PositiveInt.optional(),
    maxReplyChars: PositiveInt.optional(),
    maxCellsPerReply: PositiveInt.max(10_000).optional(),
    maxTurnCpuMs: PositiveInt.optional(),
    maxTurnWallMs: PositiveInt.optional(),
    maxRecordedSubCallChars: z.number().int().min(100).optional(),
    prices: z
      .object({
        inputPerM: z.number().nonnegative(),
        outputPerM: z.number().nonnegative(),
        subInputPerM: z.number().nonnegative().optional(),
        subOutputPerM: z.number().nonnegative().optional(),
      })
      .strict()
      .nullable()
      .optional(),
    systemPrompt: z.union([z.string().min(1), z.any().refine((f) => typeof f === 'function')]).optional(),
    sandbox: z
      .object({
        memoryMB: PositiveInt.optional(),
        cellCpuTimeoutMs: PositiveInt.optional(),
        cellWallTimeoutMs: PositiveInt.optional(),
        maxOutputChars: PositiveInt.optional(),
        maxSubConcurrency: PositiveInt.optional(),
        maxSubPromptChars: PositiveInt.optional(),
        maxSubContextChars: z.number().int().nonnegative().optional(),
        maxSubCallCharsPerCell: z.number().int().nonnegative().optional(),
        maxSubCallCharsPerEpisode: z.number().int().nonnegative().optional(),
        maxJournalChars: z.number().int().nonnegative().optional(),
        maxJournalReplayMs: z.number().nonnegative().optional(),
        maxFinalChars: PositiveInt.optional(),
        maxCodeChars: PositiveInt.optional(),
      })
      .strict()
      .optional(),
    pool: z.any().optional(),
    repl: z.enum(['js', 'python']).optional(),
    score: z.any().optional(),
    reward: z.any().optional(),
    recursion: z.any().optional(),
    depth: z.number().int().nonnegative().optional(),
    keepReasoning: z.boolean().optional(),
    subModels: z.array(z.any()).nullable().optional(),
    tree: z.any().optional(),
    path: z.string().optional(),
  })
  .strict();

/** Cells that killed their sandbox (memory limit, wall deadline, crash) an episode may have rolled back before it is truncated. */
const MAX_SANDBOX_RESTARTS = 2;

const DEFAULTS = {
  maxTurns: 30,
  maxSubCalls: 500,
  cellCpuTimeoutMs: 10_000,
  cellWallTimeoutMs: 120_000,
  maxOutputChars: 20_000,
  maxSubConcurrency: 16,
  maxSubPromptChars: 400_000,
  maxObservationChars: 50_000,
  maxReplyChars: 200_000,
  maxCellsPerReply: 20,
  maxTurnCpuMs: 60_000,
  maxTurnWallMs: 600_000,
  maxRecordedSubCallChars: 10_000,
} as const;

/** `info` of reset() and step(). Terminal-only fields are undefined before the episode ends. */
export interface StepInfo {
  turn: number;
  taskId: string;
  taskFamily: string;
  /** The submitted answer (terminal, when the model answered). */
  finalAnswer: string | null;
  /** Gold answer — only on the terminal step, so a policy cannot read it mid-episode. */
  goldAnswer?: string;
  score?: ScoreResult;
  stopReason?: StopReason;
  /** Sub-calls sent by this episode and its rlm_query children (refused prompts excluded). */
  subCalls: number;
  /** Prompts refused before sending (too large, over a chars cap): not sub-calls. */
  subCallsRefused: number;
  /** Sub-call tokens of this episode plus every token of its rlm_query children. */
  subPromptTokens: number;
  subCompletionTokens: number;
  rootPromptTokens: number;
  rootCompletionTokens: number;
  costUsd: number;
  /** Errors of this turn's cells (or of the sandbox). */
  errors: string[];
  wallMs: number;
  /** The recorded turn (present after step). */
  step?: StepRecord;
}

export interface ResetResult {
  observation: Message[];
  info: StepInfo;
}

export interface StepResult {
  /** Messages to append to the conversation: one user message with the REPL output (empty on the terminal step). */
  observation: Message[];
  /** 0 except on the terminal step of an answered episode (then the task's reward). Truncated episodes score their last answer as none: 0. */
  reward: number;
  /** The model submitted an answer. */
  terminated: boolean;
  /** A budget ran out (turns, tokens, sub-calls, wall time, cost) or the sandbox died. */
  truncated: boolean;
  info: StepInfo;
}

/**
 * One RLM episode at a time: reset() loads a task's context into a fresh sandbox, step(reply) runs the reply's code.
 * Same seed + same replies ⇒ byte-identical observations.
 */
export class RLMEnv {
  private readonly cfg: RLMEnvConfig & { [K in keyof typeof DEFAULTS]: number };
  /** The config as given (child episodes of rlm_query start from it). */
  private readonly config: RLMEnvConfig;
  private readonly ownsPool: boolean;
  private pool: SandboxPool | null;
  /** A host-backed task this env generated into a temp dir: its files are deleted when the env moves on. */
  private ownedContext: Task | null = null;
  private closed = false;

  private task: Task | null = null;
  private session: SandboxSession | null = null;
  private done = true;
  private turn = 0;
  private startedAt = 0;
  private finalAnswer: string | null = null;
  private rootPromptTokens = 0;
  private rootCompletionTokens = 0;
  /** Own sub-calls (this episode's code) and the totals of its rlm_query subtree (own + descendants). */
  private subPromptTokens = 0;
  private subCompletionTokens = 0;
  private subCallCount = 0;
  private subCallsRefused = 0;
  private treeRootPrompt = 0;
  private treeRootCompletion = 0;
  private tree: TreeBudget | null = null;
  private _children: ChildEpisode[] = [];
  private pendingChildren = 0;
  private sandboxRestarts = 0;
  private _messages: Message[] = [];
  private _steps: StepRecord[] = [];
  private lastScore: ScoreResult | undefined;
  private stepping = false;
  private sessionOptions: SessionOptions | null = null;
  private promptTokenCache = { messages: 0, tokens: 0 };
  private stopReason: StopReason | undefined;

  constructor(config: RLMEnvConfig = {}) {
    const parsed = ConfigSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue.path.length ? issue.path.join('.') : 'config';
      throw new RLMEnvConfigError(`invalid RLMEnv config: ${where}: ${issue.message}`);
    }
    if (config.maxCostUsd != null && !config.prices) {
      throw new RLMEnvConfigError('invalid RLMEnv config: maxCostUsd needs prices ({ inputPerM, outputPerM } in USD per 1M tokens)');
    }
    if (config.task !== undefined && !['string', 'object', 'function'].includes(typeof config.task)) {
      throw new RLMEnvConfigError('invalid RLMEnv config: task must be a family name, a Task or a function (seed) => Task');
    }
    if (isTaskFamilyDef(config.task)) {
      // A family object (a plugin's definition): validated and registered, then used by name like a built-in.
      try {
        config = { ...config, task: registerTaskFamily(config.task, 'RLMEnv task').name };
      } catch (e) {
        throw new RLMEnvConfigError(`invalid RLMEnv config: task: ${(e as Error).message}`);
      }
    }
    if (typeof config.task === 'string') {
      try {
        getTaskFamily(config.task);
      } catch (e) {
        throw new RLMEnvConfigError(`invalid RLMEnv config: task: ${(e as Error).message}`);
      }
    }
    const sb = config.sandbox ?? {};
    this.config = config;
    this.cfg = {
      ...DEFAULTS,
      ...config,
      maxTurns: config.maxTurns ?? DEFAULTS.maxTurns,
      maxSubCalls: config.maxSubCalls ?? DEFAULTS.maxSubCalls,
      cellCpuTimeoutMs: sb.cellCpuTimeoutMs ?? DEFAULTS.cellCpuTimeoutMs,
      cellWallTimeoutMs: sb.cellWallTimeoutMs ?? DEFAULTS.cellWallTimeoutMs,
      maxOutputChars: sb.maxOutputChars ?? DEFAULTS.maxOutputChars,
      maxSubConcurrency: sb.maxSubConcurrency ?? DEFAULTS.maxSubConcurrency,
      maxSubPromptChars: sb.maxSubPromptChars ?? DEFAULTS.maxSubPromptChars,
      maxObservationChars: config.maxObservationChars ?? DEFAULTS.maxObservationChars,
      maxReplyChars: config.maxReplyChars ?? DEFAULTS.maxReplyChars,
      maxCellsPerReply: config.maxCellsPerReply ?? DEFAULTS.maxCellsPerReply,
      maxTurnCpuMs: config.maxTurnCpuMs ?? DEFAULTS.maxTurnCpuMs,
      maxTurnWallMs: config.maxTurnWallMs ?? DEFAULTS.maxTurnWallMs,
      maxRecordedSubCallChars: config.maxRecordedSubCallChars ?? DEFAULTS.maxRecordedSubCallChars,
    };
    this.ownsPool = !config.pool;
    this.pool = config.pool ?? null;
  }

  /** The REPL's language of this env. */
  get repl(): 'js' | 'python' {
    return this.config.repl ?? 'js';
  }

  /** The whole conversation so far (system, user, then assistant/user pairs). */
  get messages(): readonly Message[] {
    return this._messages;
  }

  /** The recorded turns of the current episode. */
  get steps(): readonly StepRecord[] {
    return this._steps;
  }

  /** The current task (after reset). */
  get currentTask(): Task | null {
    return this.task;
  }

  /**
   * Starts an episode. `seed` picks the task (for a family name) and seeds the sandbox's Math.random;
   * `task` overrides the configured task for this episode.
   */
  async reset(options: { seed?: number; task?: Task | string } = {}): Promise<ResetResult> {
    this.assertOpen();
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new RLMEnvConfigError(`reset: seed must be an integer, got ${seed}`);
    await this.endSession();
    const task = this.makeTask(options.task ?? this.cfg.task ?? 'sniah', seed);
    this.task = task;
    this.turn = 0;
    this.done = false;
    this.finalAnswer = null;
    this.rootPromptTokens = this.rootCompletionTokens = 0;
    this.subPromptTokens = this.subCompletionTokens = this.subCallCount = this.subCallsRefused = 0;
    this.treeRootPrompt = this.treeRootCompletion = 0;
    this._children = [];
    this.sandboxRestarts = 0;
    // A root episode owns the tree's budgets; a child counts against its root's.
    this.tree = this.cfg.tree ?? new TreeBudget(this.cfg.maxSubCalls, this.cfg.maxWallMs ?? null);
    this._steps = [];
    this.lastScore = undefined;
    this.stopReason = undefined;
    this.startedAt = performance.now();

    this.promptTokenCache = { messages: 0, tokens: 0 };
    this.pool ??= new SandboxPool();
    this.sessionOptions = {
        repl: this.repl,
        context: task.context,
        seed,
        contextKey: task.id,
        maxSubCalls: this.cfg.maxSubCalls,
        ...this.cfg.sandbox,
        cellCpuTimeoutMs: this.cfg.cellCpuTimeoutMs,
        cellWallTimeoutMs: this.cfg.cellWallTimeoutMs,
        maxOutputChars: this.cfg.maxOutputChars,
        maxSubConcurrency: this.cfg.maxSubConcurrency,
        maxSubPromptChars: this.cfg.maxSubPromptChars,
        subCallBudget: this.tree,
        rlmRecursive: this.recursionAvailable(),
    };
    this.session = await this.pool.open(this.sessionOptions, (req) => this.handleSubCall(req));

    const info: PromptInfo = {
      maxTurns: this.cfg.maxTurns,
      maxSubCalls: this.cfg.maxSubCalls,
      maxSubPromptChars: this.cfg.maxSubPromptChars,
      maxOutputChars: this.cfg.maxOutputChars,
      maxSubConcurrency: this.cfg.maxSubConcurrency,
      cellCpuTimeoutMs: this.cfg.cellCpuTimeoutMs,
      contextType: typeof task.context === 'string' ? 'string' : Array.isArray(task.context) ? 'documents' : 'host',
      contextChars: contextChars(task.context),
      recursive: this.recursionAvailable(),
      subModels: this.cfg.subModels ?? null,
      repl: this.repl,
    };
    const sp = this.cfg.systemPrompt;
    const defaultPrompt = this.repl === 'python' ? PYTHON_SYSTEM_PROMPT : DEFAULT_SYSTEM_PROMPT;
    const system = typeof sp === 'function' ? sp(info) : renderSystemPrompt(sp ?? defaultPrompt, info);
    this._messages = [
      { role: 'system', content: system },
      { role: 'user', content: renderTaskMessage(task.question, task.context, undefined, this.repl) },
    ];
    return { observation: [...this._messages], info: this.info([]) };
  }

  /**
   * Plays one model reply. `usage` is what the policy reported for the call that produced it (tokens, token ids);
   * without it, tokens are counted with the o200k tokenizer.
   */
  async step(reply: string, usage: ReplyUsage = {}): Promise<StepResult> {
    this.assertOpen();
    if (!this.task) throw new RLMEnvStateError('step() called before reset()');
    if (this.done) throw new RLMEnvStateError('step() called after the episode ended; call reset() to start another');
    if (this.stepping || !this.session) throw new RLMEnvStateError('step() called while another step() or reset() of this env is running; await it first');
    this.stepping = true;
    try {
      return await this.playStep(reply, usage);
    } finally {
      this.stepping = false;
    }
  }

  private async playStep(reply: string, usage: ReplyUsage): Promise<StepResult> {
    if (typeof reply !== 'string') throw new RLMEnvStateError(`step() expects the reply text (a string), got ${typeof reply}`);
    const started = performance.now();
    this.turn++;

    // Counted without blocking the event loop (a reply or observation may be megabytes long).
    const promptTokens = usage.promptTokens ?? usage.tokens?.prompt_token_ids.length ?? (await this.countPromptTokens());
    const completionTokens = usage.completionTokens ?? usage.tokens?.completion_token_ids.length ?? (await countTextTokensAsync(reply));
    this.rootPromptTokens += promptTokens;
    this.rootCompletionTokens += completionTokens;
    this.treeRootPrompt += promptTokens;
    this.treeRootCompletion += completionTokens;
    this.tree!.rootPromptTokens += promptTokens;
    this.tree!.rootCompletionTokens += completionTokens;
    // Reasoning is not action: only the text after it is parsed; it is recorded apart and sent back only if asked.
    const split = splitReasoning(reply, usage.reasoning);
    const action = split.action;
    this._messages.push({ role: 'assistant', content: this.cfg.keepReasoning ? split.full : action });

    const tooLong = reply.length > this.cfg.maxReplyChars;
    const allCells = tooLong ? [] : extractCodeBlocks(action, this.repl);
    const cells = allCells.slice(0, this.cfg.maxCellsPerReply);
    const parts: string[] = [];
    const cellErrors: string[] = [];
    const subCalls: SubCallRecord[] = [];
    let final: string | null = null;
    let sandboxDead = false;
    let budgetHit: StopReason | null = null;
    let replayMs = 0;
    let rollbacks = 0;
    const keep = (r: CellResult) => {
      for (const c of r.subCalls) subCalls.push(recordSubCall(c, this.cfg.maxRecordedSubCallChars));
      replayMs += r.replayMs ?? 0;
      if (r.rolledBack) rollbacks++;
    };

    if (tooLong) {
      const msg = `Error: your reply is ${fmt(reply.length)} chars; replies longer than ${fmt(this.cfg.maxReplyChars)} chars are not run, so nothing ran. Keep data in the REPL, not in the reply.`;
      parts.push(msg);
      cellErrors.push(msg);
    } else if (cells.length === 0) {
      const textFinal = extractTextFinal(action);
      if (textFinal?.kind === 'FINAL') final = textFinal.value;
      else if (textFinal?.kind === 'FINAL_VAR') {
        const r = await this.session!.run(`FINAL_VAR(${JSON.stringify(textFinal.name)})`);
        keep(r);
        if (r.final) final = r.final.value;
        else parts.push(`FINAL_VAR(${JSON.stringify(textFinal.name)}) failed: ${r.error ?? 'no such variable'}`);
        if (r.error) cellErrors.push(r.error);
      } else {
        const notice = this.repl === 'python' ? PYTHON_NO_CODE_NOTICE : NO_CODE_NOTICE;
        const foreign = this.repl === 'python' ? ' (Only Python runs here, not JavaScript.)' : ' (Only JavaScript runs here, not Python.)';
        const why = split.reasoning !== null && action.trim() === '' ? ' (Your reply was all reasoning — it was cut off or had no answer after </think> — and reasoning never runs.)' : '';
        parts.push(hasForeignCodeBlock(action, this.repl) ? `${notice}${foreign}` : notice + why);
      }
    }

    let turnCpu = 0;
    let skipped: string | null = null;
    for (let i = 0; i < cells.length && final === null; i++) {
      if (!this.session || this.done) break; // aborted meanwhile
      // Each cell gets at most what is left of the turn's CPU and wall budgets (and of the episode tree's wall time).
      const cpuLeft = this.cfg.maxTurnCpuMs - turnCpu;
      let wallLeft = this.cfg.maxTurnWallMs - (performance.now() - started);
      const treeWall = this.tree!.wallLeft();
      if (treeWall !== null) wallLeft = Math.min(wallLeft, treeWall);
      if (cpuLeft < 1 || wallLeft < 1) {
        skipped = cpuLeft < 1 ? `this turn used its ${fmt(this.cfg.maxTurnCpuMs)} ms of CPU` : 'this turn (or episode) used its wall time';
        parts.push(`[cells ${i + 1}–${cells.length} of ${cells.length} skipped: ${skipped}]`);
        break;
      }
      const r: CellResult = await this.session!.run(cells[i], { cpuMs: cpuLeft, wallMs: wallLeft });
      turnCpu += r.cpuMs ?? 0;
      if (r.rolledBack && r.stopReason === 'cpu_timeout') turnCpu += Math.min(this.cfg.cellCpuTimeoutMs, cpuLeft);
      keep(r);
      parts.push(formatCell(i + 1, cells.length, r));
      if (r.error) cellErrors.push(r.error);
      if (r.final) final = r.final.value;
      if (r.dead) {
        // A backend without a journal (Python) loses the REPL: a fresh one lets the model recover, up to a limit.
        // (The JS REPL is only dead when it could not be restored at all.)
        sandboxDead = this.sandboxRestarts >= MAX_SANDBOX_RESTARTS || !(await this.reopenSession());
        break;
      }
      if (r.rolledBack && (this.session?.deaths ?? 0) > MAX_SANDBOX_RESTARTS) {
        sandboxDead = true; // cells that keep killing their sandbox end the episode
        break;
      }
      if (r.stopReason === 'sub_call_budget') budgetHit = 'max_sub_calls';
      if (treeWall !== null && this.tree!.wallLeft()! <= 0) break;
    }
    if (allCells.length > cells.length && !skipped && final === null) {
      parts.push(`[only the first ${cells.length} of ${allCells.length} code blocks ran: at most ${this.cfg.maxCellsPerReply} per reply]`);
    }
    for (const c of subCalls) {
      if (c.refused) {
        this.subCallsRefused++;
        this.tree!.refused++;
        continue;
      }
      this.subCallCount++;
      this.subPromptTokens += c.prompt_tokens;
      this.subCompletionTokens += c.completion_tokens;
      this.tree!.subPromptTokens += c.prompt_tokens;
      this.tree!.subCompletionTokens += c.completion_tokens;
    }

    let terminated = false;
    let truncated = false;
    if (this.done) {
      truncated = true; // abort() ended the episode while this step ran: its reason stands
    } else if (final !== null) {
      terminated = true;
      this.finalAnswer = final;
      this.stopReason = 'final';
    } else {
      const reason = sandboxDead ? 'sandbox_dead' : budgetHit ?? this.budgetExceeded();
      if (reason) {
        truncated = true;
        this.stopReason = reason;
      }
    }

    let reward = 0;
    if (terminated || truncated) {
      this.done = true;
      const score = (this.cfg.score ?? scoreTask)(this.task!, this.finalAnswer ?? '');
      this.lastScore = terminated ? score : { score: 0, correct: false, details: { ...score.details, reason: `no answer (${this.stopReason})` } };
      reward = terminated ? (this.cfg.reward ? this.cfg.reward(score, this.task!) : score.score) : 0;
      await this.endSession();
    }

    let observationText = parts.join('\n\n');
    // Many cells each under the per-cell cap can still flood the next prompt: cap the turn as a whole.
    if (observationText.length > this.cfg.maxObservationChars) {
      const cut = observationText.length - this.cfg.maxObservationChars;
      observationText = `${observationText.slice(0, this.cfg.maxObservationChars)}\n… [turn output truncated: ${fmt(cut)} more chars]`;
    }
    if (!this.done) {
      const header = renderBudgetLine(this.turn, this.cfg.maxTurns, this.tree!.remaining);
      observationText = `${header}\n${observationText}`;
      if (this.turn === this.cfg.maxTurns - 1) observationText += `\n\n${LAST_TURN_NOTICE}`;
    }
    const step: StepRecord = {
      turn: this.turn,
      reply: action,
      code_cells: cells,
      observation: observationText,
      cell_errors: cellErrors,
      duration_ms: Math.round(performance.now() - started),
      sub_calls: subCalls,
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      prompt_token_ids: usage.tokens?.prompt_token_ids ?? null,
      completion_token_ids: usage.tokens?.completion_token_ids ?? null,
      completion_logprobs: usage.tokens?.completion_logprobs ?? null,
      loss_mask: usage.tokens
        ? [...usage.tokens.prompt_token_ids.map(() => 0), ...usage.tokens.completion_token_ids.map(() => 1)]
        : null,
      reasoning: split.reasoning,
      finish_reason: usage.finishReason ?? null,
      max_tokens: usage.maxTokens ?? null,
      dropped_turns: usage.droppedTurns ?? 0,
      replay_ms: Math.round(replayMs * 1000) / 1000,
      rollbacks,
    };
    this._steps.push(step);
    const observation: Message[] = this.done ? [] : [{ role: 'user', content: observationText }];
    this._messages.push(...observation);
    const info = this.info(cellErrors);
    info.step = step;
    return { observation, reward, terminated, truncated, info };
  }

  /**
   * Ends the current episode from outside (e.g. the policy's endpoint failed or the run was interrupted):
   * truncated with the given reason; the sandbox is released.
   */
  async abort(reason: StopReason = 'error'): Promise<StepInfo> {
    if (this.task && !this.done) {
      this.done = true;
      this.stopReason = reason;
      this.lastScore = { score: 0, correct: false, details: { reason: `no answer (${reason})` } };
    }
    await this.endSession();
    return this.info([]);
  }

  /** Releases the sandbox (and the pool, if the env started it). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.endSession();
    if (this.ownsPool && this.pool) await this.pool.close();
    this.pool = null;
  }

  private makeTask(given: NonNullable<RLMEnvConfig['task']>, seed: number): Task {
    const spec = isTaskFamilyDef(given) ? given.name : given;
    if (typeof spec === 'function') return spec(seed);
    if (typeof spec === 'object' && spec !== null) return spec;
    try {
      const placement = { contextStorage: this.cfg.contextStorage, hostContextThreshold: this.cfg.hostContextThreshold, contextDir: this.cfg.contextDir };
      const task = generateTask(spec, { ...(this.cfg.taskOptions ?? {}), seed }, placement);
      // A temp dir of chunk files made for this episode alone is deleted when the env moves on (reset, close).
      if (isTemporaryContext(task)) this.ownedContext = task;
      return task;
    } catch (e) {
      throw new RLMEnvConfigError(`cannot generate task '${spec}': ${(e as Error).message}`);
    }
  }

  private recursionAvailable(): boolean {
    const r = this.cfg.recursion;
    return !!r && (this.cfg.depth ?? 0) < (r.maxDepth ?? 1);
  }

  private async handleSubCall(req: SubCallRequest): Promise<SubCallResponse> {
    if (req.kind === 'rlm' && this.recursionAvailable()) return this.runChildEpisode(req);
    if (!this.cfg.subModel) throw new Error('no sub-model is configured for this environment');
    // Without recursion the sandbox already joined prompt + subContext (so the prompt cap applied to what is sent).
    const prompt = req.kind === 'rlm' && req.subContext ? `${req.prompt}\n\n${req.subContext}` : req.prompt;
    return this.cfg.subModel({ kind: 'llm', prompt, model: req.model, signal: req.signal, episodePath: this.cfg.path ?? '' });
  }

  /** The rlm_query child episodes played so far (all depths, each after its parent). */
  get children(): readonly ChildEpisode[] {
    return this._children;
  }

  /**
   * rlm_query with recursion on: a child env whose context is subContext, driven by the configured policy. It shares
   * this tree's budgets (sub-calls, tokens, cost, wall time); its own turns and sub-calls are recorded as its episode.
   */
  private async runChildEpisode(req: SubCallRequest): Promise<SubCallResponse> {
    const rec = this.cfg.recursion!;
    const depth = (this.cfg.depth ?? 0) + 1;
    const myPath = this.cfg.path ?? '';
    const index = this._children.filter((c) => c.parentPath === myPath).length + this.pendingChildren++ + 1;
    const path = myPath === '' ? String(index) : `${myPath}.${index}`;
    const child = new RLMEnv({
      ...this.config,
      pool: this.pool ?? undefined,
      task: {
        id: `${this.task?.id ?? 'task'}-rlm`,
        family: 'rlm_query',
        seed: 0,
        options: {},
        question: req.prompt,
        context: req.subContext ?? '',
        answer: '',
        answerType: 'exact',
        meta: {},
      },
      maxTurns: rec.maxTurns ?? Math.min(10, this.cfg.maxTurns),
      maxSubCalls: this.tree!.remaining,
      score: () => ({ score: 0, correct: false, details: {} }),
      depth,
      tree: this.tree!,
      path,
    });
    const onAbort = () => void child.abort('interrupted');
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let result: StepResult | null = null;
    try {
      await child.reset({ seed: 0 });
      for (let turn = 1; ; turn++) {
        if (req.signal?.aborted) throw new Error('rlm_query was aborted');
        const reply = await rec.policy([...child.messages], { path, depth, turn, signal: req.signal });
        result = await child.step(reply.text, reply.usage);
        if (result.terminated) return { text: result.info.finalAnswer ?? '', model: 'rlm_query', promptTokens: 0, completionTokens: 0 };
        if (result.truncated) throw new Error(`rlm_query sub-episode ended without an answer (${result.info.stopReason})`);
      }
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      this.pendingChildren--;
      const info = result?.info ?? child.info([]);
      // The child's subtree totals join this episode's (the tree budget counted them as it played).
      this.subCallCount += child.subCallCount;
      this.subCallsRefused += child.subCallsRefused;
      this.subPromptTokens += child.subPromptTokens;
      this.subCompletionTokens += child.subCompletionTokens;
      this.treeRootPrompt += child.treeRootPrompt;
      this.treeRootCompletion += child.treeRootCompletion;
      this._children.push(
        {
          path,
          parentPath: myPath,
          depth,
          question: req.prompt,
          contextChars: (req.subContext ?? '').length,
          info,
          terminated: result?.terminated ?? false,
          truncated: result ? result.truncated : true,
          messages: [...child.messages],
          steps: [...child.steps],
        },
        ...child.children,
      );
      await child.close();
    }
  }

  /** Replaces a dead session with a fresh one (same context and seed); the sub-call budget carries over (shared tree). */
  private async reopenSession(): Promise<boolean> {
    this.sandboxRestarts++;
    // Keep the owned context's files: the new session reads the same chunk files (they go at episode end / reset / close).
    await this.endSession(true);
    try {
      this.session = await this.pool!.open(this.sessionOptions!, (req) => this.handleSubCall(req));
      return true;
    } catch {
      return false;
    }
  }

  /** Prompt tokens of the conversation, counted incrementally (messages are append-only within an episode). */
  private async countPromptTokens(): Promise<number> {
    const c = this.promptTokenCache;
    for (; c.messages < this._messages.length; c.messages++) c.tokens += (await countTextTokensAsync(this._messages[c.messages].content)) + 4;
    return c.tokens;
  }

  /** Budgets are the root's, counted over the whole rlm_query tree (a child truncates when the tree runs out). */
  private budgetExceeded(): StopReason | null {
    const c = this.cfg;
    const t = this.tree!;
    if (c.maxRootTokens != null && t.rootPromptTokens + t.rootCompletionTokens >= c.maxRootTokens) return 'max_root_tokens';
    if (t.used >= t.max && t.max > 0) return 'max_sub_calls';
    if (c.maxCostUsd != null && this.cost(t.rootPromptTokens, t.rootCompletionTokens, t.subPromptTokens, t.subCompletionTokens) >= c.maxCostUsd) return 'max_cost';
    const wall = t.wallLeft();
    if (wall !== null && wall <= 0) return 'max_wall_time';
    if (this.turn >= c.maxTurns) return 'max_turns';
    return null;
  }

  /** USD of the given token counts: root-policy turns at root prices, sub-model calls at sub prices. */
  private cost(rootP: number, rootC: number, subP: number, subC: number): number {
    const p = this.cfg.prices;
    if (!p) return 0;
    return (rootP * p.inputPerM + rootC * p.outputPerM + subP * (p.subInputPerM ?? p.inputPerM) + subC * (p.subOutputPerM ?? p.outputPerM)) / 1e6;
  }

  private info(errors: string[]): StepInfo {
    const task = this.task!;
    return {
      turn: this.turn,
      taskId: task.id,
      taskFamily: task.family,
      finalAnswer: this.finalAnswer,
      goldAnswer: this.done ? task.answer : undefined,
      score: this.done ? this.lastScore : undefined,
      stopReason: this.done ? this.stopReason : undefined,
      subCalls: this.subCallCount,
      subCallsRefused: this.subCallsRefused,
      // Everything of the subtree that is not this episode's own turns: its sub-calls, and all tokens of its children.
      subPromptTokens: this.subPromptTokens + (this.treeRootPrompt - this.rootPromptTokens),
      subCompletionTokens: this.subCompletionTokens + (this.treeRootCompletion - this.rootCompletionTokens),
      rootPromptTokens: this.rootPromptTokens,
      rootCompletionTokens: this.rootCompletionTokens,
      costUsd: this.cost(this.treeRootPrompt, this.treeRootCompletion, this.subPromptTokens, this.subCompletionTokens),
      errors,
      wallMs: Math.round(performance.now() - this.startedAt),
    };
  }

  private async endSession(keepContext = false): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await s.close().catch(() => undefined);
    if (keepContext) return;
    const owned = this.ownedContext;
    this.ownedContext = null;
    if (owned) removeTaskContext(owned);
  }

  private assertOpen(): void {
    if (this.closed) throw new RLMEnvStateError('this RLMEnv is closed');
  }
}

function formatCell(index: number, total: number, r: CellResult): string {
  const label = total > 1 ? `[cell ${index}/${total}]` : '[output]';
  // A rolled-back cell had no effect: one clear line, no partial output.
  if (r.rolledBack) return `${label}\n${r.error}`;
  const lines = [`${label}`, r.output === '' ? '(no output)' : r.output];
  if (r.error) lines.push(/^\w*(Error|Exception)\b|^Uncaught\b/.test(r.error) ? r.error : `Error: ${r.error}`);
  if (r.reset) lines.push(`Note: ${r.reset}; all variables are lost.`);
  if (r.dead) lines.push(`The REPL is gone: ${describeStop(r.stopReason)} and it could not be restarted.`);
  return lines.join('\n');
}

function describeStop(reason: CellResult['stopReason']): string {
  switch (reason) {
    case 'wall_timeout':
      return 'the cell exceeded its wall-clock deadline';
    case 'memory_limit':
      return 'the cell exceeded the memory limit';
    case 'cpu_timeout':
      return 'the cell exceeded its CPU time limit';
    default:
      return 'the sandbox process crashed';
  }
}

function fmt(n: number): string {
  return fmtInt(n);
}

/** Characters of a context (documents: titles + texts). */
export function contextChars(context: Task['context']): number {
  if (typeof context === 'string') return context.length;
  if (!Array.isArray(context)) return context.docs ? context.docs.chars : context.length;
  return context.reduce((n, d) => n + d.title.length + d.text.length, 0);
}
