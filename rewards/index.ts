/**
 * rewards/ — reward functions of a finished episode, composition with weights, and user modules.
 *
 *     const reward = await buildReward('accuracy,cost:-0.1,turns:-0.01');   // or './my-reward.ts:0.5'
 *     const { reward: total, components, error } = await computeReward(reward, episode);
 */
export type { NamedReward, RewardFn, RewardInput } from './types.ts';
export { REWARDS, BUILTIN_REWARD_NAMES, COST_TOKENS_UNIT, costReward, formatReward } from './builtins.ts';
export type { BuiltinReward } from './builtins.ts';
export {
  RewardSpecError,
  DEFAULT_REWARD_SPEC,
  REWARD_MODULE_EXTENSIONS,
  parseRewardSpec,
  loadRewardModule,
  buildReward,
  composeRewards,
  computeReward,
  applyReward,
} from './compose.ts';
export type {
  RewardSpecErrorCode,
  RewardSpecItem,
  RewardComponent,
  CompositeReward,
  RewardResult,
  ComputeRewardOptions,
} from './compose.ts';
