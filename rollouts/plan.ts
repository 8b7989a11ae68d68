/**
 * The episode plan of a run: which task (family, seed) each episode index plays, its GRPO group, and the shard slice.
 * Pure and deterministic, so `--shard i/N` slices and `--resume` agree with the original run.
 */
import { createHash } from 'node:crypto';
import { isFileTaskName } from '../tasks/index.ts';

export interface PlannedEpisode {
  index: number;
  episodeId: string;
  groupId: string;
  groupIndex: number;
  family: string;
  taskSeed: number;
  /** Context size of this episode's task (a --context-tokens sweep); null = the family's default. */
  contextTokens: number | null;
  /** Seeds the sandbox's Math.random; differs inside a group so GRPO samples are not clones. */
  sandboxSeed: number;
}

export interface PlanOptions {
  families: string[];
  /** Tasks per family. */
  n: number;
  seed: number;
  groupSize: number;
  shard?: { index: number; count: number };
  /** Context sizes to sweep: --n tasks per family per size. Absent or empty = one pass at the family default. */
  sizes?: readonly number[];
}

/**
 * Episodes are numbered family-major, then size, then task: family f, size s, task t (seed = run seed + t, the same
 * seeds at every size; for `file:` families, row t), group member g. Sharding is by group (group index mod N) so a GRPO group is never split across
 * shards; the shards partition the episodes exactly. With one size (or none) the plan is exactly the plan of a run
 * without a sweep; with several, group ids carry the size: `sniah-16384-1`.
 */
export function planEpisodes(o: PlanOptions): PlannedEpisode[] {
  const all: PlannedEpisode[] = [];
  const sizes: (number | null)[] = o.sizes?.length ? [...o.sizes] : [null];
  const width = String(o.families.length * sizes.length * o.n * o.groupSize).length;
  let index = 0;
  let groupIndex = 0;
  for (const family of o.families) {
    for (const size of sizes) {
      for (let t = 0; t < o.n; t++, groupIndex++) {
        // A task file's "seed" is its row index: rows 0 … n−1 whatever the run seed (generated families: seed + t).
        const taskSeed = isFileTaskName(family) ? t : o.seed + t;
        for (let g = 0; g < o.groupSize; g++, index++) {
          if (o.shard && groupIndex % o.shard.count !== o.shard.index) continue;
          all.push({
            index,
            episodeId: String(index).padStart(Math.max(6, width), '0'),
            groupId: sizes.length > 1 ? `${family}-${size}-${taskSeed}` : `${family}-${taskSeed}`,
            groupIndex,
            family,
            taskSeed,
            contextTokens: size,
            sandboxSeed: deriveSeed(o.seed, index, 0),
          });
        }
      }
    }
  }
  return all;
}

/** A 31-bit seed from (run seed, episode, turn) — used for the per-request sampling seed and the sandbox seed. */
export function deriveSeed(runSeed: number, episode: number, turn: number, salt = ''): number {
  const h = createHash('sha256').update(`${runSeed}:${episode}:${turn}:${salt}`).digest();
  return h.readUInt32BE(0) & 0x7fffffff;
}

/** Parses `i/N` (0-based i). */
export function parseShard(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`--shard must look like i/N (e.g. 0/4), got '${spec}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new Error(`--shard ${spec}: need 0 <= i < N`);
  return { index, count };
}
