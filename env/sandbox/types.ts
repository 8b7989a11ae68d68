import type { ChunkedContext, Doc } from '../../tasks/types.ts';

/** One call the model's code made to a sub-model, as recorded in the `steps` table. */
export interface SubCallRecord {
  prompt: string;
  response: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  /** null when the call succeeded. */
  error: string | null;
  /** The sub-model's finish_reason ("stop", "length", …); null when unknown or the call failed. (added) */
  finish_reason?: string | null;
  /** The prompt was refused before sending (too large, over a per-cell/episode cap): not a sub-call, not counted. */
  refused?: boolean;
  /** Full length of the prompt / response (the recorded text may be cut, with a marker). */
  prompt_chars?: number;
  response_chars?: number;
  /** sha256 (hex) of the full prompt / response. */
  prompt_sha256?: string;
  response_sha256?: string;
}

/** What the parent-side sub-model client returns for one prompt. Throwing = the call failed (error visible to the code). */
export interface SubCallResponse {
  text: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** The server's finish_reason, when known. (added) */
  finishReason?: string | null;
}

/** A request from the sandbox: `llm` = plain sub-model call; `rlm` = recursive sub-episode (env decides how). */
export interface SubCallRequest {
  kind: 'llm' | 'rlm';
  prompt: string;
  /** rlm_query(prompt, subContext): the context for the child episode. */
  subContext?: string;
  /** llm_query(prompt, model): optional model override. */
  model?: string;
  /** Aborted when the session dies or closes, or the cell is rolled back, while the call is in flight: pass it to the HTTP client. */
  signal?: AbortSignal;
  /** Set by RLMEnv: which episode of the rlm_query tree made the call ('' = the root, "1.2" = a grandchild). */
  episodePath?: string;
}

/**
 * A sub-call budget shared by several sessions: the episodes of one rlm_query tree count against the root's budget.
 * Parent side only (never crosses to a worker).
 */
export interface SubCallBudget {
  /** Calls allowed in all. */
  readonly max: number;
  /** Calls made so far, anywhere in the tree. */
  readonly used: number;
  /** Takes n calls; false (nothing taken) when fewer than n are left. */
  tryTake(n: number): boolean;
}

/** Runs on the parent side. Must be safe to call concurrently (bounded by `maxSubConcurrency`). */
export type SubCallHandler = (req: SubCallRequest) => Promise<SubCallResponse>;

export interface SandboxLimits {
  /** Isolate heap limit in MB. Default: sized from the context (context bytes × 2 + 128 MB headroom). */
  memoryMB?: number;
  /** CPU time per cell (isolated-vm timeout). Default 10_000. */
  cellCpuTimeoutMs?: number;
  /** Wall-clock deadline per cell, including time blocked on sub-calls. Default 120_000. */
  cellWallTimeoutMs?: number;
  /** Output shown to the model per cell. Default 20_000 chars, with a marker saying how much was cut. */
  maxOutputChars?: number;
  /** Sub-calls per episode (llm_query + each prompt of llm_query_batched + rlm_query). Default 500. */
  maxSubCalls?: number;
  /** Concurrent sub-calls in flight per episode. Default 16. */
  maxSubConcurrency?: number;
  /** Max chars of one sub-call prompt; larger ⇒ a clear error returned to the code, the model is not called. Default 400_000. */
  maxSubPromptChars?: number;
  /** Max chars of the `subContext` of one rlm_query call. Default 50_000_000. (added) */
  maxSubContextChars?: number;
  /** Max chars of a submitted answer (FINAL / FINAL_VAR / answer.content); larger ⇒ an error to the code. Default 100_000. (added) */
  maxFinalChars?: number;
  /** Max chars of one cell's source; larger ⇒ an error observation, the code is not run. Default 1_000_000. (added) */
  maxCodeChars?: number;
  /** Chars (code + sub-call replies) the session's journal of accepted cells may hold. Default 64,000,000. */
  maxJournalChars?: number;
  /** CPU time (ms) a replay of the journal may take (sum of the accepted cells' CPU time). Default 30,000. */
  maxJournalReplayMs?: number;
  /** Chars one cell may send through sub-calls (prompts + subContexts); more ⇒ a clear error, nothing sent. Default 100,000,000. */
  maxSubCallCharsPerCell?: number;
  /** Chars one session may send through sub-calls in all. Default 500,000,000. */
  maxSubCallCharsPerEpisode?: number;
  /**
   * Whether rlm_query starts a recursive episode (the env runs it). When false (default), rlm_query(prompt, subContext)
   * sends prompt + "\n\n" + subContext as one plain prompt: the prompt cap applies to the whole and the record shows it.
   */
  rlmRecursive?: boolean;
}

/** The REPL's language: 'js' (isolated-vm, the default) or 'python' (Pyodide in a locked process). */
export type ReplLanguage = 'js' | 'python';

export interface SessionOptions extends SandboxLimits {
  /** A string, documents, or a host-backed ChunkedContext (the REPL's `context` is then a read API over the files). */
  context: string | Doc[] | ChunkedContext;
  /** Which backend runs the cells. Default 'js'. (added) */
  repl?: ReplLanguage;
  /** Seeds Math.random inside the isolate. */
  seed: number;
  /** Optional cache key for the context (e.g. the task id) so a worker can reuse a transferred context. */
  contextKey?: string;
  /**
   * Sub-calls of this episode already used (e.g. by a previous sandbox that died): they count against `maxSubCalls`
   * from the start, so budget messages keep naming the episode's real budget. Default 0. (added)
   */
  subCallsUsed?: number;
  /** A budget shared with other sessions (an rlm_query tree); without one the session has its own `maxSubCalls`. */
  subCallBudget?: SubCallBudget;
}

export type FinalSource = 'FINAL' | 'FINAL_VAR' | 'answer';

export interface CellResult {
  /** print/console.log output, capped (marker included when cut). */
  output: string;
  /** Description of an uncaught error, e.g. "TypeError: x is not a function"; undefined when the cell succeeded. */
  error?: string;
  /** Set once the code submitted an answer (FINAL(x), FINAL_VAR('name') or answer.ready = true). Always a string. */
  final?: { value: string; source: FinalSource };
  subCalls: SubCallRecord[];
  durationMs: number;
  /** The session cannot run more cells (it could not be restored, or the pool closed). */
  dead?: boolean;
  /**
   * The cell hit the CPU timeout, the wall deadline or the memory limit, or killed its sandbox, and had no effect: the REPL
   * was restored to its state before the cell (from the journal). `output` is empty; `error` says what happened.
   */
  rolledBack?: boolean;
  /** Set when the REPL could not be restored and is now empty (journal past its bound, or a replay that diverged): why. */
  reset?: string;
  /** Time spent re-running the journal during this run (rollback, or a transparent restore on a new worker), ms. */
  replayMs?: number;
  /** CPU time the cell took in the sandbox, ms (0 when unknown). */
  cpuMs?: number;
  /** Why the cell stopped abnormally. */
  stopReason?: 'cpu_timeout' | 'wall_timeout' | 'memory_limit' | 'worker_crash' | 'sub_call_budget';
}
