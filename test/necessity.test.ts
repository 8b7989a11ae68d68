/**
 * Sub-calls are necessary, by measurement (issue: "Tasks that demand what RLMs learn"). At default sizes over 30 seeds
 * per family, through RLMEnv and the real sandbox:
 *   - the code-only baseline (`--model baseline-code`: the best wording heuristic from the category definitions, never a
 *     sub-call) scores ≤ 0.35 mean on oolong and ≤ 0.35 mean F1 on oolong-pairs;
 *   - the reference policy with the simulated sub-model scores ≥ 0.95 on both;
 *   - browsecomp: the code-only keyword/regex reader (rollouts/baseline/browse.ts) scores ≤ 0.5, the reference policy,
 *     whose sub-models read the candidate documents, ≥ 0.95;
 *   - a less accurate sub-model (90%) costs the reference policy score: the sub-model's reading is what carries it.
 * The full curve (100/95/90/80%) is bench `sub_call_necessity`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool } from '../env/index.ts';
import { baselineProgram } from '../rollouts/baseline/policy.ts';
import { heuristicLabel } from '../rollouts/baseline/classifier.ts';
import { measureNecessity, playScripted, type NecessityRow } from '../rollouts/necessity.ts';
import { parseQuestion } from '../rollouts/reference/questions.ts';
import { readRun } from '../datasets/index.ts';
import { generateTask, oolongBankLabel, OOLONG_LABELS } from '../tasks/index.ts';

let pool: SandboxPool;
beforeAll(() => {
  pool = new SandboxPool({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
});

const SEEDS = Array.from({ length: 30 }, (_, i) => i);

describe('sub-call necessity at default sizes, 30 seeds per family', () => {
  let rows: NecessityRow[] = [];
  beforeAll(async () => {
    rows = (await measureNecessity({ families: ['oolong', 'oolong-pairs', 'browsecomp'], seeds: SEEDS, accuracies: [1, 0.9], pool, concurrency: 4 })).rows;
  }, 420_000);

  for (const family of ['oolong', 'oolong-pairs']) {
    it(`${family}: code-only ≤ 0.35, reference ≥ 0.95, a 90%-accurate sub-model scores lower`, () => {
      const row = rows.find((r) => r.family === family)!;
      expect(row.seeds).toBe(30);
      expect(row.baselineSubCalls).toBe(0);
      expect(row.baseline).toBeLessThanOrEqual(0.35);
      expect(row.reference['1']).toBeGreaterThanOrEqual(0.95);
      expect(row.referenceSubCalls).toBeGreaterThan(0);
      expect(row.reference['0.9']).toBeLessThan(row.reference['1']);
    });
  }

  it('browsecomp: code-only ≤ 0.5 (yet far above chance), reference ≥ 0.95 reading documents via sub-calls, a 90%-accurate reader scores lower', () => {
    const row = rows.find((r) => r.family === 'browsecomp')!;
    expect(row.seeds).toBe(30);
    expect(row.baselineSubCalls).toBe(0);
    expect(row.baseline).toBeLessThanOrEqual(0.5);
    // Chance is one person in ~500: the keyword heuristic is a real solver, it just cannot read.
    expect(row.baseline).toBeGreaterThan(0.1);
    expect(row.reference['1']).toBeGreaterThanOrEqual(0.95);
    expect(row.referenceSubCalls).toBeGreaterThan(3);
    expect(row.reference['0.9']).toBeLessThan(row.reference['1']);
  });
});

describe('the code-only baseline', () => {
  it('never writes a sub-call, for any family', () => {
    for (const family of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp']) {
      for (let seed = 0; seed < 4; seed++) {
        const task = generateTask(family, { seed, ...(family === 'browsecomp' ? { numDocs: 100, contextTokens: 20_000 } : {}) });
        const code = baselineProgram(parseQuestion(task.question));
        expect(code).toContain('FINAL(');
        expect(code).not.toMatch(/llm_query|rlm_query/);
      }
    }
  });

  it('solves what code can solve: sniah by regex (no sub-calls)', async () => {
    for (const [family, taskOptions] of [['sniah', {}]] as const) {
      for (const seed of [0, 1]) {
        const e = await playScripted({ family, seed, policy: 'baseline-code', pool, taskOptions });
        expect(e.score, `${family} seed ${seed}`).toBe(1);
        expect(e.subCalls).toBe(0);
      }
    }
  }, 120_000);

  it('its heuristic is a real classifier: well above chance, far from the bank', () => {
    let right = 0;
    let n = 0;
    for (let seed = 0; seed < 5; seed++) {
      for (const line of (generateTask('oolong', { seed }).context as string).split('\n')) {
        const text = line.split(' || Instance: ')[1];
        if (!text) continue;
        n++;
        if (OOLONG_LABELS[heuristicLabel(text) - 1] === oolongBankLabel(text)) right++;
      }
    }
    // Chance is 1/6; a wording rule gets under half of the labels right.
    expect(right / n).toBeGreaterThan(0.3);
    expect(right / n).toBeLessThan(0.6);
  });

  it('plays through `npm run rollout -- --model baseline-code` with zero sub-calls recorded', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-baseline-'));
    try {
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(
          process.execPath,
          ['--no-node-snapshot', '--import', 'tsx', 'scripts/rollout.ts', '--model', 'baseline-code', '--task', 'oolong,sniah', '--n', '2', '--quiet', '--out', path.join(out, 'run')],
          { cwd: path.resolve(import.meta.dirname, '..'), env: { ...process.env, OPENAI_BASE_URL: '' } },
        );
        let stderr = '';
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (code) => resolve({ code, stderr }));
      });
      expect(run.code, run.stderr).toBe(0);
      const r = await readRun(path.join(out, 'run'));
      expect(r.manifest.models?.root).toBe('rlm-gym/baseline-code');
      expect(r.episodes).toHaveLength(4);
      for (const e of r.episodes) expect(Number(e.sub_calls ?? 0)).toBe(0);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
