import type { Doc } from '../../tasks/types.ts';

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
  /** Aborted when the session dies or closes while the call is in flight (added; handlers may ignore it). */
  signal?: AbortSignal;
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
}

/** The REPL's language: 'js' (isolated-vm, the default) or 'python' (Pyodide in a locked process). */
export type ReplLanguage = 'js' | 'python';

export interface SessionOptions extends SandboxLimits {
  context: string | Doc[];
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
  /** The sandbox state is gone (worker died, memory limit, wall deadline); the session cannot run more cells. */
  dead?: boolean;
  /** Why the cell stopped abnormally. */
  stopReason?: 'cpu_timeout' | 'wall_timeout' | 'memory_limit' | 'worker_crash' | 'sub_call_budget';
}
