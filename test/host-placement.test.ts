// willBeHostBacked: the placement decision without generating, using each family's own chars-per-token estimate
// (sniah ≈ 5.25, oolong ≈ 3.3) — checked against what the generators actually do.
import { describe, expect, it } from 'vitest';
import { generateTask, isChunkedContext, removeTaskContext, willBeHostBacked } from '../tasks/index.ts';

describe('willBeHostBacked', () => {
  it('agrees with the generators where a flat 4 chars/token estimate would not', () => {
    // 2000 tokens: sniah ≈ 10,500 chars, oolong ≈ 6,600 chars; a threshold of 8,001 lies between them and above 4 × 2000.
    const o = { contextTokens: 2000, hostContextThreshold: 8001 };
    expect(willBeHostBacked('sniah', o)).toBe(true);
    expect(willBeHostBacked('oolong', o)).toBe(false);
    const s = generateTask('sniah', { ...o, seed: 1 });
    try {
      expect(isChunkedContext(s.context)).toBe(true);
    } finally {
      removeTaskContext(s);
    }
    expect(typeof generateTask('oolong', { ...o, seed: 1 }).context).toBe('string');
  });

  it('explicit storage, the default size and families without host support', () => {
    expect(willBeHostBacked('sniah', { contextTokens: 2000, contextStorage: 'host' })).toBe(true);
    expect(willBeHostBacked('sniah', { contextTokens: 1e9, contextStorage: 'memory' })).toBe(false);
    expect(willBeHostBacked('sniah', { contextTokens: 13_000_000 })).toBe(true); // 68M chars > 64 Mi
    expect(willBeHostBacked('oolong', { contextTokens: 17_000_000 })).toBe(false); // 56M chars
    expect(willBeHostBacked('sniah', {})).toBe(false);
    expect(willBeHostBacked('browsecomp', { contextStorage: 'host' })).toBe(false);
  });
});
