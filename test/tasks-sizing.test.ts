/**
 * Context sizes: meta.contextTokens is the true o200k count (checked against a full tokenization of the whole
 * context) and lands within ±5% of the requested contextTokens, from 1K to 1M tokens; plus one 10M-token sniah.
 */
import { describe, expect, it } from 'vitest';
import { countTokens, generateTask, type Doc, type Task } from '../tasks/index.ts';

function measure(task: Task): { tokens: number; chars: number } {
  if (typeof task.context === 'string') return { tokens: countTokens(task.context), chars: task.context.length };
  let tokens = 0;
  let chars = 0;
  for (const d of task.context as Doc[]) {
    tokens += countTokens(d.title) + countTokens(d.text);
    chars += d.title.length + d.text.length;
  }
  return { tokens, chars };
}

/** browsecomp needs enough tokens per document for its facts (~55): fewer documents at small sizes. */
const numDocsFor = (tokens: number): number => (tokens <= 1_000 ? 16 : tokens <= 50_000 ? 200 : 1_000);

const CASES: [string, number][] = [];
for (const family of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp']) {
  for (const tokens of [1_000, 50_000, 1_000_000]) CASES.push([family, tokens]);
}

describe('context size', () => {
  it.each(CASES)('%s at %i tokens: exact o200k count, within 5 percent', (family, target) => {
    const options = { seed: 7, contextTokens: target, ...(family === 'browsecomp' ? { numDocs: numDocsFor(target) } : {}) };
    const task = generateTask(family, options);
    const real = measure(task);
    expect(task.meta.contextTokens).toBe(real.tokens);
    expect(task.meta.contextChars).toBe(real.chars);
    expect(Math.abs(real.tokens - target) / target).toBeLessThanOrEqual(0.05);
  });

  it('more seeds at small sizes stay within ±5% (short contexts are the hardest to land)', () => {
    for (const family of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp']) {
      for (let seed = 0; seed < 10; seed++) {
        const target = 1_000 + seed * 137;
        const task = generateTask(family, { seed, contextTokens: target, ...(family === 'browsecomp' ? { numDocs: 16 } : {}) });
        const real = measure(task);
        expect(task.meta.contextTokens, `${family} seed ${seed}`).toBe(real.tokens);
        expect(Math.abs(real.tokens - target) / target, `${family} seed ${seed}`).toBeLessThanOrEqual(0.05);
      }
    }
  });

  it('sniah at 10M tokens: generated in seconds; sampled slices tokenize at the reported density', () => {
    const t0 = performance.now();
    const task = generateTask('sniah', { seed: 1, contextTokens: 10_000_000, distractors: 3 });
    const seconds = (performance.now() - t0) / 1000;
    const ctx = task.context as string;
    const tokens = Number(task.meta.contextTokens);
    expect(Math.abs(tokens - 10_000_000) / 10_000_000).toBeLessThanOrEqual(0.05);
    expect(task.meta.contextChars).toBe(ctx.length);
    // Generous bound for a loaded 2-core CI machine; typical is well under one second.
    expect(seconds).toBeLessThan(10);
    // A full tokenization of 10M tokens would dominate the test run: tokenize five 200 KB slices cut at paragraph
    // boundaries instead and compare their tokens-per-char with the reported totals.
    const density = tokens / ctx.length;
    for (const at of [0.05, 0.3, 0.5, 0.7, 0.95]) {
      const start = ctx.indexOf('\n\n', Math.floor(ctx.length * at)) + 2;
      const end = ctx.indexOf('\n\n', start + 200_000);
      const slice = ctx.slice(start, end);
      expect(Math.abs(countTokens(slice) / slice.length / density - 1)).toBeLessThan(0.02);
    }
    expect(ctx.includes(String(task.meta.needle))).toBe(true);
  });
});
