/** Rollouts: policy clients, the embedded reference policy and its server, the batch runner. */
export { runRollouts, summarize } from './runner.ts';
export type { RolloutOptions, RolloutResult, RolloutProgress, FamilySummary, EnvLimits, RewardOutcome } from './runner.ts';
export { OpenAIPolicyClient, HFPolicyClient, createPolicyClient } from './client.ts';
export type { PolicyClient, ChatResult, ClientOptions } from './client.ts';
export { connect, defaultEndpoints, DEFAULT_ENDPOINT } from './connect.ts';
export type { Connection, ConnectOptions } from './connect.ts';
export { MODEL_ALIASES, resolveModel } from './models.ts';
export { planEpisodes, deriveSeed, parseShard } from './plan.ts';
export type { PlannedEpisode } from './plan.ts';
export { parseContextSizes, recordedSizes, ContextSizesError } from './sizes.ts';
export { withRetries, classifyError, MalformedResponseError } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { EndpointUnreachableError, ModelNotServedError, PolicyRequestError, RolloutConfigError, displayUrl } from './errors.ts';
export { startReferenceServer, REFERENCE_MODEL_ID } from './reference/server.ts';
export type { ReferenceServer, ReferenceServerOptions } from './reference/server.ts';
export { createProgressReporter, formatSummaryTable } from './progress.ts';
export type { EpisodeRecord, SamplingParams } from './types.ts';
