/** Rollouts: policy clients, the embedded reference policy and its server, the batch runner. */
export { runRollouts, summarize } from './runner.ts';
export type { RolloutOptions, RolloutResult, RolloutProgress, FamilySummary, EnvLimits, RewardOutcome } from './runner.ts';
export { OpenAIPolicyClient, HFPolicyClient, createPolicyClient } from './client.ts';
export type { PolicyClient, ChatResult, ClientOptions, ServedModel } from './client.ts';
export {
  planRequest,
  estimatePromptTokens,
  tokenizeChat,
  isContextOverflowMessage,
  parseOverflow,
  MIN_COMPLETION_TOKENS,
  CHARS_PER_TOKEN,
  CONTEXT_POLICIES,
} from './context-window.ts';
export type { ContextPolicy, RequestPlan, WindowedClient } from './context-window.ts';
export { SubModelRouter, subCallHandler, subModelEnv, parseSubModelSpec, checkSubModelSpecs, promptCharsFor } from './sub-models.ts';
export type { SubModel, SubModelSpec } from './sub-models.ts';
export { connect, defaultEndpoints, DEFAULT_ENDPOINT } from './connect.ts';
export type { Connection, ConnectOptions } from './connect.ts';
export { MODEL_ALIASES, resolveModel } from './models.ts';
export { planEpisodes, deriveSeed, parseShard } from './plan.ts';
export type { PlannedEpisode } from './plan.ts';
export { parseContextSizes, recordedSizes, ContextSizesError } from './sizes.ts';
export { withRetries, classifyError, MalformedResponseError } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { EndpointUnreachableError, ModelNotServedError, PolicyRequestError, RolloutConfigError, ContextWindowExceededError, UnknownSubModelError, displayUrl } from './errors.ts';
export { startReferenceServer, REFERENCE_MODEL_ID } from './reference/server.ts';
export type { ReferenceServer, ReferenceServerOptions } from './reference/server.ts';
export { createProgressReporter, formatSummaryTable } from './progress.ts';
export type { EpisodeRecord, SamplingParams } from './types.ts';
export { withThinking } from './thinking.ts';
