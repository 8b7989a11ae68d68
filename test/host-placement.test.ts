// willBeHostBacked: the placement decision without generating, using each family's own chars-per-token estimate
// (sniah ≈ 5.25, oolong ≈ 3.3) — checked against what the generators actually do.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTaskOptions } from '../datasets/replay.ts';
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

describe('contextDir on record and on replay', () => {
  it('a relative contextDir is recorded absolute', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rlm-gym-placement-'));
    try {
      const rel = path.relative(process.cwd(), path.join(root, 'ctx'));
      const t = generateTask('sniah', { seed: 1, contextTokens: 2000, contextStorage: 'host', contextDir: rel });
      expect(t.options.contextDir).toBe(path.join(root, 'ctx'));
      expect(existsSync(path.join((t.context as { dir: string }).dir, 'task.json'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('replayTaskOptions: the override, an existing recorded dir, a missing one (temp dir), families without host support', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rlm-gym-placement-'));
    try {
      const rec = { seed: 1, contextTokens: 2000, contextStorage: 'host', contextDir: 'ctx' };
      expect(replayTaskOptions('sniah', rec, 'elsewhere', root).contextDir).toBe(path.resolve('elsewhere'));
      expect(replayTaskOptions('sniah', rec, undefined, root)).not.toHaveProperty('contextDir');
      mkdirSync(path.join(root, 'ctx'));
      expect(replayTaskOptions('sniah', rec, undefined, root).contextDir).toBe(path.join(root, 'ctx'));
      expect(replayTaskOptions('sniah', { seed: 1 }, undefined, root)).toEqual({ seed: 1 });
      expect(replayTaskOptions('browsecomp', { seed: 1 }, 'elsewhere', root)).toEqual({ seed: 1 });
      expect(replayTaskOptions('sniah', { seed: 1 }, 'elsewhere', root).contextDir).toBe(path.resolve('elsewhere'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
