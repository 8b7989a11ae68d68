/**
 * rlm-gym — the public API.
 *
 *     import { RLMEnv, generateTask, runRollouts, rewards, writeRun, readRun } from 'rlm-gym';
 *
 * Data flows one way: tasks → env → rollouts → rewards → datasets.
 */
export * from './tasks/index.ts';
export * from './env/index.ts';
export * from './rollouts/index.ts';
export * as rewards from './rewards/index.ts';
export { buildReward, computeReward, parseRewardSpec, REWARDS, RewardSpecError } from './rewards/index.ts';
export type { RewardFn, RewardInput, NamedReward, CompositeReward, RewardResult } from './rewards/index.ts';
export * from './datasets/index.ts';
export { writeReport, buildReport, buildReportData, ReportInputError } from './report/index.ts';
export type { ReportOptions, WrittenReport, BuiltReport, ReportData } from './report/index.ts';
export { startEnvServer } from './server/index.ts';
export type { EnvServer, EnvServerOptions } from './server/index.ts';
