/**
 * env/sandbox — the REPL the model's code runs in: isolated-vm isolates inside a pool of forked worker processes.
 *
 *   const pool = new SandboxPool();
 *   const session = await pool.open({ context, seed: 7, contextKey: task.id }, subCallHandler);
 *   const cell = await session.run('const n = context.length; print(n)');   // CellResult, never rejects for model code
 *   await session.close(); await pool.close();
 */
export { SandboxPool } from './pool.ts';
export { PythonPool } from './python/pool.ts';
export type { PythonPoolOptions, PythonPoolStats } from './python/pool.ts';
export { isolationLayers, type IsolationLayers } from './python/isolation.ts';
export type { SandboxPoolOptions, SandboxPoolStats, SandboxSession } from './pool.ts';
export { SandboxError, SandboxConfigError, SandboxClosedError, SandboxWorkerError } from './errors.ts';
export { LIMIT_DEFAULTS, MEMORY_HEADROOM_MB, defaultMemoryMB, resolveLimits, truncationMarker } from './limits.ts';
export type { ResolvedLimits } from './limits.ts';
export { RESERVED_NAMES, rewriteCell } from './rewrite.ts';
export type { RewriteResult } from './rewrite.ts';
export { SANDBOX_CLOCK_START_MS } from './results.ts';
export { SessionJournal } from './journal.ts';
export type { JournalEntry, JournalLimits } from './journal.ts';
export type { CellLimits } from './protocol.ts';
export type {
  CellResult,
  FinalSource,
  ReplLanguage,
  SandboxLimits,
  SessionOptions,
  SubCallBudget,
  SubCallHandler,
  SubCallRecord,
  SubCallRequest,
  SubCallResponse,
} from './types.ts';
