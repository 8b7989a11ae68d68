/**
 * Measured necessity of sub-calls: plays the built-in scripted policies through RLMEnv (the real sandbox, the real
 * budgets) and reports mean scores per family — the code-only baseline (never sub-calls), the reference policy with a
 * perfect simulated sub-model, and the reference policy with sub-models that are right only part of the time.
 * Used by the test (thresholds) and by bench `sub_call_necessity` (the table and the curve).
 */
import { RLMEnv, SandboxPool, type Message, type SubCallHandler } from '../env/index.ts';
import { baselineRespond } from './baseline/policy.ts';
import { answerSubPrompt, referenceRespond } from './reference/policy.ts';

export type ScriptedPolicy = 'baseline-code' | 'reference';

export interface ScriptedEpisode {
  family: string;
  seed: number;
  policy: ScriptedPolicy;
  /** Sub-model accuracy (1 = perfect); irrelevant for the baseline. */
  accuracy: number;
  score: number;
  subCalls: number;
  turns: number;
  wallMs: number;
}

export interface PlayScriptedOptions {
  family: string;
  seed: number;
  policy: ScriptedPolicy;
  accuracy?: number;
  taskOptions?: Record<string, unknown>;
  pool?: SandboxPool;
  maxTurns?: number;
}

/** One episode of a scripted policy; the simulated sub-model answers llm_query with the given accuracy. */
export async function playScripted(o: PlayScriptedOptions): Promise<ScriptedEpisode> {
  const accuracy = o.accuracy ?? 1;
  const subModel: SubCallHandler = async (req) => ({
    text: answerSubPrompt(req.prompt, { accuracy, salt: `${o.family}:${o.seed}` }),
    model: 'reference-sub',
    promptTokens: Math.ceil(req.prompt.length / 4),
    completionTokens: 0,
  });
  const respond = o.policy === 'reference' ? referenceRespond : baselineRespond;
  const env = new RLMEnv({ task: o.family, taskOptions: o.taskOptions, subModel, pool: o.pool, maxTurns: o.maxTurns ?? 30 });
  const t0 = performance.now();
  try {
    const { observation } = await env.reset({ seed: o.seed });
    const msgs: Message[] = [...observation];
    for (let turn = 0; turn < 60; turn++) {
      const reply = respond(msgs);
      const r = await env.step(reply);
      msgs.push({ role: 'assistant', content: reply }, ...r.observation);
      if (r.terminated || r.truncated) {
        return { family: o.family, seed: o.seed, policy: o.policy, accuracy, score: r.info.score?.score ?? 0, subCalls: r.info.subCalls, turns: r.info.turn, wallMs: performance.now() - t0 };
      }
    }
    throw new Error(`${o.policy} on ${o.family} seed ${o.seed}: the episode did not end`);
  } finally {
    await env.close();
  }
}

export interface NecessityRow {
  family: string;
  seeds: number;
  baseline: number;
  baselineSubCalls: number;
  /** Reference mean score by sub-model accuracy (1, 0.95, …). */
  reference: Record<string, number>;
  referenceSubCalls: number;
}

export interface NecessityOptions {
  families: string[];
  seeds: number[];
  /** Sub-model accuracies for the reference curve; 1 first. */
  accuracies?: number[];
  pool?: SandboxPool;
  concurrency?: number;
}

/** Plays every (family, seed) with the baseline and with the reference at each accuracy. */
export async function measureNecessity(o: NecessityOptions): Promise<{ rows: NecessityRow[]; episodes: ScriptedEpisode[] }> {
  const accuracies = o.accuracies ?? [1];
  const pool = o.pool ?? new SandboxPool({ workers: 2 });
  const jobs: PlayScriptedOptions[] = [];
  for (const family of o.families) {
    for (const seed of o.seeds) {
      jobs.push({ family, seed, policy: 'baseline-code', pool });
      for (const accuracy of accuracies) jobs.push({ family, seed, policy: 'reference', accuracy, pool });
    }
  }
  const episodes: ScriptedEpisode[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      episodes[i] = await playScripted(jobs[i]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  } finally {
    if (!o.pool) await pool.close();
  }
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const rows = o.families.map((family) => {
    const of = episodes.filter((e) => e.family === family);
    const base = of.filter((e) => e.policy === 'baseline-code');
    const reference: Record<string, number> = {};
    for (const a of accuracies) reference[String(a)] = mean(of.filter((e) => e.policy === 'reference' && e.accuracy === a).map((e) => e.score));
    const perfect = of.filter((e) => e.policy === 'reference' && e.accuracy === accuracies[0]);
    return {
      family,
      seeds: o.seeds.length,
      baseline: mean(base.map((e) => e.score)),
      baselineSubCalls: base.reduce((n, e) => n + e.subCalls, 0),
      reference,
      referenceSubCalls: mean(perfect.map((e) => e.subCalls)),
    };
  });
  return { rows, episodes };
}
