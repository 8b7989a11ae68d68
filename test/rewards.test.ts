import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_REWARD_NAMES,
  REWARDS,
  RewardSpecError,
  applyReward,
  buildReward,
  composeRewards,
  computeReward,
  loadRewardModule,
  parseRewardSpec,
} from '../rewards/index.ts';
import { syntheticEpisode } from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';
import type { StepRecord } from '../env/types.ts';

const ROOT = resolve(import.meta.dirname, '..');
const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function episode(over: Partial<EpisodeRecord> = {}): EpisodeRecord {
  return { ...syntheticEpisode(0, { n: 1, runId: 'r' }), ...over };
}

function step(turn: number, code: string[]): StepRecord {
  return {
    turn,
    reply: code.length ? '```repl\n' + code.join('\n') + '\n```' : 'just text',
    code_cells: code,
    observation: '',
    cell_errors: [],
    duration_ms: 1,
    sub_calls: [],
    prompt_tokens: 1,
    completion_tokens: 1,
    prompt_token_ids: null,
    completion_token_ids: null,
    completion_logprobs: null,
    loss_mask: null,
  };
}

describe('parseRewardSpec', () => {
  it('parses names and weights (default 1)', () => {
    expect(parseRewardSpec('accuracy,cost:-0.1,turns:-0.01')).toEqual([
      { name: 'accuracy', weight: 1 },
      { name: 'cost', weight: -0.1 },
      { name: 'turns', weight: -0.01 },
    ]);
    expect(parseRewardSpec(' correct : 2 , timeout:-1e-1 ')).toEqual([
      { name: 'correct', weight: 2 },
      { name: 'timeout', weight: -0.1 },
    ]);
  });

  it('unknown name → typed error listing the built-ins', () => {
    let err: unknown;
    try {
      parseRewardSpec('accuracy,bogus:0.5');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RewardSpecError);
    expect((err as RewardSpecError).code).toBe('unknown_reward');
    expect((err as Error).message).toContain('"bogus"');
    for (const n of BUILTIN_REWARD_NAMES) expect((err as Error).message).toContain(n);
  });

  it('rejects bad weights, duplicates and empty specs', () => {
    expect(() => parseRewardSpec('cost:abc')).toThrow(/weight "abc" is not a number/);
    expect(() => parseRewardSpec('accuracy,accuracy:2')).toThrow(/twice/);
    expect(() => parseRewardSpec(' , ')).toThrow(RewardSpecError);
  });

  it('items ending in .ts/.js/.mjs are module paths, with optional weight', () => {
    expect(parseRewardSpec('accuracy,./examples/my-reward.ts:0.5,/abs/r.mjs')).toEqual([
      { name: 'accuracy', weight: 1 },
      { name: './examples/my-reward.ts', weight: 0.5, module: './examples/my-reward.ts' },
      { name: '/abs/r.mjs', weight: 1, module: '/abs/r.mjs' },
    ]);
  });
});

describe('built-in rewards', () => {
  it('registry has the documented names', () => {
    expect(Object.keys(REWARDS).sort()).toEqual(['accuracy', 'correct', 'cost', 'format', 'subcalls', 'timeout', 'turns']);
  });

  it('values', async () => {
    const ep = episode({
      score: 0.75,
      correct: false,
      turns: 3,
      sub_calls: 7,
      truncated: true,
      terminated: false,
      root_prompt_tokens: 100_000,
      root_completion_tokens: 50_000,
      sub_prompt_tokens: 300_000,
      sub_completion_tokens: 50_000,
      cost_usd: 0,
    });
    const v = async (n: string, e: EpisodeRecord = ep) => REWARDS[n].fn(e);
    expect(await v('accuracy')).toBe(0.75);
    expect(await v('correct')).toBe(0);
    expect(await v('correct', { ...ep, correct: true })).toBe(1);
    expect(await v('cost')).toBeCloseTo(0.5); // 500k tokens per 1M
    expect(await v('cost', { ...ep, cost_usd: 0.0123 })).toBe(0.0123); // USD when recorded
    expect(await v('turns')).toBe(3);
    expect(await v('subcalls')).toBe(7);
    expect(await v('timeout')).toBe(1);
    expect(await v('timeout', { ...ep, truncated: false })).toBe(0);
  });

  it('format = fraction of turns without code, except an accepted text-level final', async () => {
    const steps = [step(1, ['print(1)']), step(2, []), step(3, ['print(2)']), step(4, [])];
    // last turn has no code but ended the episode with an accepted text FINAL ⇒ only turn 2 is malformed
    expect(await REWARDS.format.fn(episode({ steps, terminated: true, final_answer: '42' }))).toBe(0.25);
    // never finished ⇒ turns 2 and 4 malformed
    expect(await REWARDS.format.fn(episode({ steps, terminated: false, truncated: true, final_answer: null }))).toBe(0.5);
    expect(await REWARDS.format.fn(episode({ steps: [] }))).toBe(0);
  });
});

describe('computeReward', () => {
  it('weights compose; every component is recorded unweighted', async () => {
    const ep = episode({ score: 0.8, turns: 4, root_prompt_tokens: 200_000, root_completion_tokens: 0, sub_prompt_tokens: 0, sub_completion_tokens: 0, cost_usd: 0 });
    const r = await computeReward(await buildReward('accuracy,cost:-0.1,turns:-0.01'), ep);
    expect(r.error).toBeNull();
    expect(r.components).toEqual({ accuracy: 0.8, cost: 0.2, turns: 4 });
    expect(r.reward).toBeCloseTo(0.8 - 0.1 * 0.2 - 0.01 * 4, 12);
    const filled = await applyReward(await buildReward('correct:2'), { ...ep, correct: true });
    expect(filled.reward).toBe(2);
    expect(filled.reward_components).toEqual({ correct: 1 });
    expect(filled.reward_error).toBeNull();
  });

  it('broken rewards: throws / NaN / string / Infinity / timeout → error names each, component 0, total finite', async () => {
    const composite = composeRewards([
      { name: 'accuracy', fn: REWARDS.accuracy.fn },
      { name: 'thrower', fn: () => { throw new Error('boom'); } },
      { name: 'nanny', fn: () => NaN, weight: 3 },
      { name: 'stringy', fn: () => 'abc' as unknown as number },
      { name: 'infinite', fn: async () => Infinity },
      { name: 'hang', fn: () => new Promise<number>(() => {}) },
    ]);
    const r = await computeReward(composite, episode({ score: 0.5 }), { timeoutMs: 50 });
    expect(r.reward).toBe(0.5);
    expect(Number.isFinite(r.reward)).toBe(true);
    expect(r.components).toEqual({ accuracy: 0.5, thrower: 0, nanny: 0, stringy: 0, infinite: 0, hang: 0 });
    expect(r.error).toContain('reward "thrower" threw: Error: boom');
    expect(r.error).toContain('reward "nanny" returned NaN');
    expect(r.error).toContain('reward "stringy" returned a string ("abc")');
    expect(r.error).toContain('reward "infinite" returned Infinity');
    expect(r.error).toContain('reward "hang"');
    expect(r.error).toMatch(/timed out/);
  });

  it('user functions cannot mutate the episode', async () => {
    const ep = episode({ score: 1 });
    const composite = composeRewards([
      { name: 'mutator', fn: (e) => { (e as { score: number }).score = 0; return 1; }, source: '/x.ts' },
    ]);
    await computeReward(composite, ep);
    expect(ep.score).toBe(1);
  });
});

describe('user reward modules', () => {
  it('loads examples/my-reward.ts (a { name, fn } list) through a spec', async () => {
    const composite = await buildReward('accuracy,./examples/my-reward.ts:0.5', { cwd: ROOT });
    expect(composite.components.map((c) => [c.name, c.weight])).toEqual([
      ['accuracy', 1],
      ['brevity', 0.5],
      ['efficient_correct', 0.5],
    ]);
    const ep = episode({ score: 1, correct: true, final_answer: 'short', sub_calls: 50 });
    const r = await computeReward(composite, ep);
    expect(r.error).toBeNull();
    expect(r.components).toEqual({ accuracy: 1, brevity: 1, efficient_correct: 0.5 });
    expect(r.reward).toBeCloseTo(1 + 0.5 * 1 + 0.5 * 0.5, 12);
  });

  it('accepts a default function, a named reward, a rewards list; rejects other shapes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlm-rewards-'));
    tmpDirs.push(dir);
    writeFileSync(join(dir, 'half.mjs'), 'export default function (ep) { return ep.score / 2; }\n');
    writeFileSync(join(dir, 'named.mjs'), 'export function reward(ep) { return ep.turns; }\n');
    writeFileSync(join(dir, 'list.mjs'), 'export const rewards = [{ name: "a", fn: () => 1 }, { name: "b", fn: async () => 2 }];\n');
    writeFileSync(join(dir, 'single.mjs'), 'export default { name: "solo", fn: () => 3 };\n');
    writeFileSync(join(dir, 'typed.ts'), 'const f = (ep: { correct: boolean }): number => (ep.correct ? 10 : -10);\nexport default f;\n');
    writeFileSync(join(dir, 'bad.mjs'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'broken.mjs'), 'export default function () { throw new TypeError("nope"); }\n');

    expect((await loadRewardModule(join(dir, 'half.mjs'))).map((r) => r.name)).toEqual(['half']);
    expect((await loadRewardModule('named.mjs', { cwd: dir })).map((r) => r.name)).toEqual(['named']);
    expect((await loadRewardModule(join(dir, 'list.mjs'))).map((r) => r.name)).toEqual(['a', 'b']);
    expect((await loadRewardModule(join(dir, 'single.mjs'))).map((r) => r.name)).toEqual(['solo']);
    await expect(loadRewardModule(join(dir, 'bad.mjs'))).rejects.toMatchObject({ code: 'bad_module' });
    await expect(loadRewardModule(join(dir, 'missing.ts'))).rejects.toMatchObject({ code: 'module_not_found' });

    const composite = await buildReward(`${join(dir, 'half.mjs')},${join(dir, 'list.mjs')}:-1,${join(dir, 'typed.ts')},${join(dir, 'broken.mjs')}`);
    const r = await computeReward(composite, episode({ score: 0.5, correct: true }));
    expect(r.components).toEqual({ half: 0.25, a: 1, b: 2, typed: 10, broken: 0 });
    expect(r.reward).toBeCloseTo(0.25 - 3 + 10, 12);
    expect(r.error).toBe('reward "broken" threw: TypeError: nope');

    // a module component may not clash with another component name
    writeFileSync(join(dir, 'accuracy.mjs'), 'export default () => 1;\n');
    await expect(buildReward(`accuracy,${join(dir, 'accuracy.mjs')}`)).rejects.toMatchObject({ code: 'duplicate' });
  });
});
