/** The gym: RLMEnv (reset/step), the system prompt, reply parsing, and the sandboxed REPL underneath. */
export { RLMEnv, contextChars } from './rlm-env.ts';
export type { RLMEnvConfig, StepResult, ResetResult, StepInfo, Prices, RootPolicy, SubModelInfo } from './rlm-env.ts';
export { RLMEnvConfigError, RLMEnvStateError } from './errors.ts';
export { DEFAULT_SYSTEM_PROMPT, renderSystemPrompt, renderTaskMessage, type PromptInfo } from './prompt.ts';
export { extractCodeBlocks, extractTextFinal } from './parse.ts';
export { splitReasoning, type SplitReply } from './reasoning.ts';
export type { Message, Role, ReplyUsage, StepRecord, StopReason, TurnTokens } from './types.ts';
export { SandboxPool, SandboxError } from './sandbox/index.ts';
export type { SandboxSession } from './sandbox/index.ts';
export type {
  CellResult,
  SandboxLimits,
  SessionOptions,
  SubCallHandler,
  SubCallRecord,
  SubCallRequest,
  SubCallResponse,
} from './sandbox/types.ts';
