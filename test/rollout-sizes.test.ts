/** Context-length sweeps: the --context-tokens spec and the plan it makes (sizes × families × tasks, shards, ids). */
import { describe, expect, it } from 'vitest';
import { ContextSizesError, parseContextSizes, planEpisodes, recordedSizes } from '../rollouts/index.ts';

describe('parseContextSizes', () => {
  it.each([
    ['8192', [8192]],
    ['2^13', [8192]],
    ['2^13..2^18', [8192, 16384, 32768, 65536, 131072, 262144]],
    ['8192,16384,32768', [8192, 16384, 32768]],
    ['8192..65536', [8192, 16384, 32768, 65536]],
    ['32768, 2^13 ,8192,100000', [8192, 32768, 100000]],
    ['1000..5000', [1000, 2000, 4000]],
    ['2^13..2^14,2^20', [8192, 16384, 1048576]],
  ])('%s', (spec, sizes) => expect(parseContextSizes(spec)).toEqual(sizes));

  it.each([
    ['', /empty item/],
    ['8192,,16384', /empty item/],
    ['big', /'big' is not a size; use a size \(8192 or 2\^13\), a list \(8192,16384\) or a doubling range \(2\^13\.\.2\^18\)/],
    ['2^14..2^13', /runs downwards/],
    ['50', /50 is below the minimum of 100 tokens/],
    ['8k', /'8k' is not a size/],
    ['-5', /not a size/],
    ['2^99', /not a size/],
  ])('%j is refused', (spec, message) => {
    expect(() => parseContextSizes(spec)).toThrow(ContextSizesError);
    expect(() => parseContextSizes(spec)).toThrow(message);
  });

  it('sizes recorded by older runs (one number) still read', () => {
    expect(recordedSizes(4000)).toEqual([4000]);
    expect(recordedSizes([8192, 16384])).toEqual([8192, 16384]);
    expect(recordedSizes(undefined)).toBeUndefined();
  });
});

describe('planEpisodes with sizes', () => {
  const base = { families: ['sniah', 'oolong'], n: 3, seed: 10, groupSize: 2 };

  it('plays --n tasks per family per size, with the same task seeds at every size', () => {
    const sizes = [8192, 16384, 32768];
    const plan = planEpisodes({ ...base, sizes });
    expect(plan).toHaveLength(2 * 3 * 3 * 2);
    for (const fam of base.families) {
      for (const size of sizes) {
        const eps = plan.filter((p) => p.family === fam && p.contextTokens === size);
        expect(eps).toHaveLength(6);
        expect([...new Set(eps.map((p) => p.taskSeed))]).toEqual([10, 11, 12]);
        expect(new Set(eps.map((p) => p.groupId))).toEqual(new Set([10, 11, 12].map((s) => `${fam}-${size}-${s}`)));
      }
    }
    expect(new Set(plan.map((p) => p.episodeId)).size).toBe(plan.length);
    expect(plan.map((p) => p.index)).toEqual(plan.map((_, i) => i));
  });

  it('one size plans exactly what a run without a sweep plans (ids, groups, seeds), with the size attached', () => {
    const plain = planEpisodes(base);
    const one = planEpisodes({ ...base, sizes: [4000] });
    expect(one.map(({ contextTokens: _c, ...p }) => p)).toEqual(plain.map(({ contextTokens: _c, ...p }) => p));
    expect(new Set(one.map((p) => p.contextTokens))).toEqual(new Set([4000]));
    expect(new Set(plain.map((p) => p.contextTokens))).toEqual(new Set([null]));
  });

  it('shards partition a sweep and never split a group', () => {
    const sizes = [8192, 16384];
    const all = planEpisodes({ ...base, sizes });
    const shards = [0, 1, 2].map((i) => planEpisodes({ ...base, sizes, shard: { index: i, count: 3 } }));
    const ids = shards.flatMap((s) => s.map((p) => p.episodeId));
    expect(ids.sort()).toEqual(all.map((p) => p.episodeId).sort());
    for (const s of shards) for (const p of s) expect(s.filter((x) => x.groupId === p.groupId)).toHaveLength(2);
  });
});
