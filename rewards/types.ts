import type { EpisodeRecord } from '../rollouts/types.ts';

/** What a reward function sees: the finished episode (reward fields not yet filled). */
export type RewardInput = Omit<EpisodeRecord, 'reward' | 'reward_components' | 'reward_error'>;

/** A reward is a plain function of the finished episode returning a finite number. */
export type RewardFn = (episode: RewardInput) => number | Promise<number>;

export interface NamedReward {
  name: string;
  fn: RewardFn;
}
