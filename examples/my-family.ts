/**
 * An example task plugin: `npm run rollout -- --task ./examples/my-family.ts` (or `new RLMEnv({ task: family })`).
 *
 * "word-tally": the context is a long list of inventory lines ("crate 0412: 3 lanterns"); the question asks for the
 * total number of one item across all lines. Work is linear in the context; a program can solve it with a regex, which
 * makes it a small, honest example of the contract rather than a task that needs sub-calls.
 *
 * The contract (the same as the built-in families):
 *   export default { name, generate({ seed, contextTokens, ...options }) → Task, score(task, prediction) → ScoreResult }
 * generate must be deterministic (same options ⇒ the same task) and task.family must equal name; the plugin is
 * validated when loaded (a trial task at seed 0 whose gold answer must score 1).
 */
import { numericScore, parseFirstNumber, taskHash, type GenerateOptions, type ScoreResult, type Task, type TaskFamilyDef } from '../tasks/index.ts';

const ITEMS = ['lanterns', 'ropes', 'barrels', 'sails', 'oars', 'anchors', 'nets', 'buckets'];

/** mulberry32: a tiny seeded PRNG, enough for a plugin (built-ins use tasks/rng.ts). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(o: GenerateOptions): Task {
  const seed = o.seed;
  const contextTokens = typeof o.contextTokens === 'number' ? o.contextTokens : 4_000;
  for (const k of Object.keys(o)) if (!['seed', 'contextTokens'].includes(k)) throw new Error(`word-tally: unknown option '${k}' (valid: seed, contextTokens)`);
  const r = rng(seed * 2654435761 + 17);
  const target = ITEMS[Math.floor(r() * ITEMS.length)];
  // About 9 tokens per line.
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; i < Math.max(4, Math.round(contextTokens / 9)); i++) {
    const item = ITEMS[Math.floor(r() * ITEMS.length)];
    const count = 1 + Math.floor(r() * 9);
    if (item === target) total += count;
    lines.push(`crate ${String(i).padStart(4, '0')}: ${count} ${item}`);
  }
  const context = lines.join('\n');
  const question = `Each line of the context lists one crate and what it holds. How many ${target} are there in all crates together? Answer with a single integer only.`;
  const options = { seed, contextTokens };
  const answer = String(total);
  return {
    id: taskHash({ family: 'word-tally', seed, options, question, answer, context }),
    family: 'word-tally',
    seed,
    options,
    question,
    context,
    answer,
    answerType: 'numeric',
    meta: { item: target, lines: lines.length },
  };
}

function score(task: Task, prediction: string): ScoreResult {
  const predicted = parseFirstNumber(prediction);
  const s = numericScore(Number(task.answer), predicted);
  return { score: s, correct: s === 1, details: { metric: '0.75^|gold-predicted|', gold: Number(task.answer), predicted } };
}

const family: TaskFamilyDef = {
  name: 'word-tally',
  description: 'Sum one item over many inventory lines (an example plugin).',
  defaults: { contextTokens: 4_000 },
  generate,
  score,
};

export default family;
