import { describe, expect, it } from 'vitest';
import { resolveModel } from '../rollouts/models.ts';
import { ModelNotServedError } from '../rollouts/errors.ts';
import { planEpisodes, parseShard, deriveSeed } from '../rollouts/plan.ts';
import { withRetries, parseRetryAfter, MalformedResponseError } from '../rollouts/retry.ts';
import { PolicyRequestError } from '../rollouts/errors.ts';
import { APIError } from 'openai';

describe('resolveModel', () => {
  const served = ['Qwen/Qwen3-Coder-30B-A3B-Instruct', 'Qwen/Qwen3-8B', 'meta-llama/Llama-3.1-8B-Instruct'];
  it('maps aliases to the served id containing them', () => {
    expect(resolveModel('qwen3', served)).toBe('Qwen/Qwen3-8B');
    expect(resolveModel('qwen3-coder', served)).toBe('Qwen/Qwen3-Coder-30B-A3B-Instruct');
    expect(resolveModel('llama3', served)).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(resolveModel('Qwen/Qwen3-8B', served)).toBe('Qwen/Qwen3-8B');
  });
  it('uses the default id when the endpoint lists nothing, and lists served ids when nothing matches', () => {
    expect(resolveModel('qwen3', null)).toBe('Qwen/Qwen3-8B');
    expect(resolveModel('my-org/custom', null)).toBe('my-org/custom');
    expect(() => resolveModel('gemma3', served, 'http://x/v1')).toThrow(ModelNotServedError);
    expect(() => resolveModel('gemma3', served, 'http://x/v1')).toThrow(/served models: Qwen\/Qwen3-Coder-30B-A3B-Instruct, Qwen\/Qwen3-8B/);
  });
});

describe('planEpisodes', () => {
  const base = { families: ['sniah', 'oolong'], n: 5, seed: 3, groupSize: 3 };
  it('numbers episodes family-major with GRPO groups sharing a task', () => {
    const plan = planEpisodes(base);
    expect(plan).toHaveLength(30);
    expect(plan.map((p) => p.index)).toEqual([...Array(30).keys()]);
    expect(new Set(plan.map((p) => p.episodeId)).size).toBe(30);
    const g = plan.filter((p) => p.groupId === 'oolong-4');
    expect(g).toHaveLength(3);
    expect(new Set(g.map((p) => p.taskSeed))).toEqual(new Set([4]));
    expect(new Set(g.map((p) => p.sandboxSeed)).size).toBe(3);
  });
  it('shards partition the episodes exactly and never split a group', () => {
    const all = planEpisodes(base).map((p) => p.episodeId);
    const shards = [0, 1, 2, 3].map((i) => planEpisodes({ ...base, shard: { index: i, count: 4 } }));
    const union = shards.flat().map((p) => p.episodeId);
    expect(union.sort()).toEqual([...all].sort());
    expect(new Set(union).size).toBe(union.length);
    for (const s of shards) for (const p of s) expect(shards.filter((t) => t.some((q) => q.groupId === p.groupId))).toHaveLength(1);
  });
  it('parses shard specs and rejects bad ones', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(() => parseShard('4/4')).toThrow(/0 <= i < N/);
    expect(() => parseShard('a/b')).toThrow(/i\/N/);
  });
  it('derives stable, distinct request seeds', () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 2, 4));
    expect(deriveSeed(1, 2, 3)).toBeLessThan(2 ** 31);
  });
});

describe('withRetries', () => {
  const noSleep = { sleep: async () => undefined, random: () => 0.5 };
  it('retries 5xx and malformed bodies, then succeeds', async () => {
    let n = 0;
    const r = await withRetries(async () => {
      n++;
      if (n === 1) throw APIError.generate(503, { message: 'busy' }, 'busy', new Headers());
      if (n === 2) throw new MalformedResponseError('garbage');
      return 'ok';
    }, noSleep);
    expect(r).toEqual({ value: 'ok', attempts: 3 });
  });
  it('does not retry 400 and bounds retries', async () => {
    let n = 0;
    await expect(withRetries(async () => { n++; throw APIError.generate(400, { message: 'bad' }, 'bad', new Headers()); }, noSleep)).rejects.toThrow(/not retryable/);
    expect(n).toBe(1);
    n = 0;
    const err = await withRetries(async () => { n++; throw APIError.generate(500, {}, 'boom', new Headers()); }, { ...noSleep, maxRetries: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyRequestError);
    expect(err.attempts).toBe(3);
    expect(n).toBe(3);
  });
  it('honours Retry-After (capped)', async () => {
    const waits: number[] = [];
    let n = 0;
    await withRetries(async () => {
      if (n++ === 0) throw APIError.generate(429, {}, 'slow down', new Headers({ 'retry-after': '2' }));
      return 1;
    }, { sleep: async (ms) => void waits.push(ms), maxDelayMs: 30_000 });
    expect(waits).toEqual([2000]);
    expect(parseRetryAfter('1.5')).toBe(1500);
    expect(parseRetryAfter(null)).toBeNull();
  });
});
