/**
 * sub_call_necessity — does a family need sub-calls? Per family at default sizes over ≥ 30 seeds, through RLMEnv and
 * the real sandbox: the code-only baseline (`--model baseline-code`, never a sub-call) vs the reference policy with the
 * simulated sub-model, and the reference's curve with sub-models right 100/95/90/80% of the time.
 *
 * value = code-only mean score, baseline_value = reference mean score (perfect sub-model); ratio = code-only/reference.
 * Goal (issue 11): code-only ≤ 0.35 and reference ≥ 0.95 for oolong (score) and oolong-pairs (F1); browsecomp:
 * code-only ≤ 0.5 (a keyword/regex reader) and reference ≥ 0.95 (sub-models read the candidate documents). Also reported: the work's shape — oolong classifies every record (linear in
 * the context), oolong-pairs then tests every pair of users (quadratic) — measured at 1× and 4× the default size.
 */
import { measureNecessity } from '../rollouts/necessity.ts';
import { generateTask, getTaskFamily } from '../tasks/index.ts';
import { log, makeResult, round, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const ACCURACIES = [1, 0.95, 0.9, 0.8];
const GOAL_CODE_ONLY = 0.35;
const GOAL_REFERENCE = 0.95;
/** browsecomp: the code-only reader should be clearly weaker (issue 11 item 3; the helper brief's target). */
const GOAL_BROWSECOMP_CODE_ONLY = 0.5;

export async function benchSubCallNecessity(ctx: BenchContext): Promise<BenchResult[]> {
  const all = ['oolong', 'oolong-pairs', 'browsecomp', 'sniah'];
  const families = (ctx.select ?? all).filter((f) => all.includes(f));
  const seeds = Array.from({ length: ctx.quick ? 30 : 50 }, (_, i) => i);
  const out: BenchResult[] = [];
  for (const family of families) {
    log(`sub_call_necessity: ${family}, ${seeds.length} seeds × (baseline + reference at ${ACCURACIES.join('/')})`);
    const t0 = performance.now();
    const accuracies = family === 'sniah' ? [1] : ACCURACIES;
    const { rows } = await measureNecessity({ families: [family], seeds, accuracies, concurrency: 4 });
    const row = rows[0]!;
    const ref = row.reference['1'] ?? 0;
    // oolong / oolong-pairs carry the thresholds; browsecomp should show a clear gap; sniah is reported only
    // (a regex finds its needle: it is the family that does NOT need sub-calls).
    const gated = family === 'oolong' || family === 'oolong-pairs';
    const defaults = getTaskFamily(family).defaults as { contextTokens: number };
    const work = (k: number) => {
      const t = generateTask(family, { seed: 0, contextTokens: defaults.contextTokens * k });
      return family === 'oolong-pairs'
        ? { records: t.meta.records, candidate_pairs: t.meta.candidatePairs }
        : { records: t.meta.records ?? null, documents: t.meta.numDocs ?? null };
    };
    log(`sub_call_necessity: ${family} code-only ${round(row.baseline)} vs reference ${round(ref)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    out.push(
      makeResult({
        name: `sub_call_necessity_${family}`,
        value: round(row.baseline),
        unit: family === 'oolong-pairs' ? 'mean F1, code-only baseline' : 'mean score, code-only baseline',
        baseline: 'reference policy with sub-calls (perfect simulated sub-model)',
        baseline_value: round(ref),
        goal: gated ? `code-only ≤ ${GOAL_CODE_ONLY}, reference ≥ ${GOAL_REFERENCE}` : family === 'browsecomp' ? `code-only ≤ ${GOAL_BROWSECOMP_CODE_ONLY}, reference ≥ ${GOAL_REFERENCE}` : 'none (reported: needs no sub-calls)',
        goal_met: gated ? row.baseline <= GOAL_CODE_ONLY && ref >= GOAL_REFERENCE : family === 'browsecomp' ? row.baseline <= GOAL_BROWSECOMP_CODE_ONLY && ref >= GOAL_REFERENCE : null,
        seeds: seeds.length,
        context_tokens: defaults.contextTokens,
        reference_by_sub_model_accuracy: Object.fromEntries(Object.entries(row.reference).map(([k, v]) => [k, round(v)])),
        reference_sub_calls_mean: round(row.referenceSubCalls, 2),
        baseline_sub_calls_total: row.baselineSubCalls,
        work_shape: family === 'oolong' ? 'linear: one label per record' : family === 'oolong-pairs' ? 'quadratic: one label per record, then every pair of users' : family === 'sniah' ? 'constant: one needle' : 'linear: every entity document read, then the candidate people',
        work_1x: work(1),
        work_4x: work(4),
      }),
    );
  }
  return out;
}

export const subCallNecessity: Benchmark = {
  id: 'sub_call_necessity',
  run: benchSubCallNecessity,
};
