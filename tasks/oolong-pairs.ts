/**
 * oolong-pairs — all pairs of users whose (inferred) labels satisfy a condition (the paper's OOLONG-Pairs: quadratic
 * work). Same records as `oolong` (records.ts). Each user has a label *profile* (2–4 of the six labels), so which users
 * have which labels does not saturate as the context grows: at 10M tokens a user still lacks some labels.
 *
 * Condition kinds (A, B labels; every condition is symmetric in the two users):
 *   both(A)            both users have ≥1 A instance
 *   bothAll(A,B)       both users have ≥1 A and ≥1 B
 *   bothOneHas(A,B)    both have ≥1 A, and at least one of them has ≥1 B
 *   cross(A,B)         one user has ≥1 A and the other has ≥1 B
 *   bothNot(A,B)       both have ≥1 A and neither has any B
 *   atLeast(A,m)       both have ≥m A instances (m = 2 or 3)
 *   exactlyOne(A,B)    both have ≥1 B and exactly one of them has ≥1 A
 * The generator evaluates every candidate condition by brute force over all user pairs and picks one whose answer has
 * between 1 (preferably 3) and `maxPairs` pairs. Answer: one "(a, b)" per line, a < b, sorted. Score: F1 over pairs.
 * A program answers by labelling every line, building per-user label counts, and testing all pairs.
 */
import { z } from 'zod';
import { TaskOptionError } from './errors.ts';
import { taskHash } from './hash.ts';
import { parsePairs, predictionText, setF1 } from './normalize.ts';
import { MAX_CONTEXT_TOKENS, parseOptions, seedSchema } from './options.ts';
import { OOLONG_LABELS, type OolongLabel, type RecordColumns, drawUserIds, labelCounts, oolongPreamble, userLabelCounts } from './records.ts';
import { RECORD_CHARS_PER_TOKEN, discardChunkedContext, recordsContext } from './records-context.ts';
import { Rng, cumulative } from './rng.ts';
import { MAX_HOST_CONTEXT_TOKENS, abandonPlacement, placementFields, resolvePlacement, reuseHostTask, saveHostTask } from './storage.ts';
import type { GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

export const PAIR_CONDITION_KINDS = ['both', 'bothAll', 'bothOneHas', 'cross', 'bothNot', 'atLeast', 'exactlyOne'] as const;
export type PairConditionKind = (typeof PAIR_CONDITION_KINDS)[number];

export interface PairCondition {
  kind: PairConditionKind;
  a: OolongLabel;
  /** Second label (unused by `both` and `atLeast`). */
  b: OolongLabel | null;
  /** Threshold of `atLeast`. */
  m: number | null;
}

/** ~8K tokens ≈ 330 records over ~35 users: a few hundred candidate pairs, answers of 1–60 pairs. */
export const OOLONG_PAIRS_DEFAULTS = {
  contextTokens: 8_192,
  /** null: about one user per 9 records (6 … 40). */
  users: null as number | null,
  /** Upper bound on the number of pairs in the answer. */
  maxPairs: 60,
};

const schema = z
  .object({
    seed: seedSchema,
    // Above MAX_CONTEXT_TOKENS only host storage (chunk files) is accepted; checked after placement is resolved.
    contextTokens: z.number().int().min(1_000).max(MAX_HOST_CONTEXT_TOKENS).default(OOLONG_PAIRS_DEFAULTS.contextTokens),
    users: z.number().int().min(4).max(150).nullable().default(OOLONG_PAIRS_DEFAULTS.users),
    maxPairs: z.number().int().min(1).max(5_000).default(OOLONG_PAIRS_DEFAULTS.maxPairs),
    ...placementFields,
  })
  .strict();

const AVG_LINE_TOKENS = 24;

/** A compiled pair test over label bitmasks (hx, hy) and the users' label counts (six entries from ox / oy). */
export type PairTest = (hx: number, hy: number, counts: ArrayLike<number>, ox: number, oy: number) => boolean;

/**
 * The condition as a test (label indexes and bits resolved once: the generator runs every candidate condition over
 * every pair of users). Bit l of a mask is set when the user has ≥1 instance of label l.
 */
export function compilePairTest(c: PairCondition): PairTest {
  const a = 1 << OOLONG_LABELS.indexOf(c.a);
  const b = c.b === null ? 0 : 1 << OOLONG_LABELS.indexOf(c.b);
  const ab = a | b;
  switch (c.kind) {
    case 'both':
      return (hx, hy) => (hx & a) !== 0 && (hy & a) !== 0;
    case 'bothAll':
      return (hx, hy) => (hx & ab) === ab && (hy & ab) === ab;
    case 'bothOneHas':
      return (hx, hy) => (hx & a) !== 0 && (hy & a) !== 0 && ((hx | hy) & b) !== 0;
    case 'cross':
      return (hx, hy) => ((hx & a) !== 0 && (hy & b) !== 0) || ((hx & b) !== 0 && (hy & a) !== 0);
    case 'bothNot':
      return (hx, hy) => (hx & a) !== 0 && (hy & a) !== 0 && ((hx | hy) & b) === 0;
    case 'atLeast': {
      const li = OOLONG_LABELS.indexOf(c.a);
      const m = c.m ?? 1;
      return (_hx, _hy, counts, ox, oy) => counts[ox + li] >= m && counts[oy + li] >= m;
    }
    case 'exactlyOne':
      return (hx, hy) => (hx & b) !== 0 && (hy & b) !== 0 && ((hx & a) !== 0) !== ((hy & a) !== 0);
  }
}

/**
 * Does the pair satisfy the condition? `hx`/`hy` are label bitmasks (bit l set when the user has ≥1 instance of label
 * l) and `cx`/`cy` the users' label counts (six entries from offset `ox`/`oy`).
 */
export function pairSatisfies(
  c: PairCondition,
  hx: number,
  hy: number,
  counts: ArrayLike<number>,
  ox: number,
  oy: number,
): boolean {
  return compilePairTest(c)(hx, hy, counts, ox, oy);
}

export function describeCondition(c: PairCondition): string {
  const q = (l: OolongLabel | null): string => `'${l ?? ''}'`;
  switch (c.kind) {
    case 'both':
      return `both users have at least one instance in the category ${q(c.a)}`;
    case 'bothAll':
      return `both users have at least one ${q(c.a)} instance and at least one ${q(c.b)} instance`;
    case 'bothOneHas':
      return `both users have at least one ${q(c.a)} instance, and at least one of the two users has a ${q(c.b)} instance`;
    case 'cross':
      return `one of the two users has at least one ${q(c.a)} instance and the other user has at least one ${q(c.b)} instance`;
    case 'bothNot':
      return `both users have at least one ${q(c.a)} instance and neither user has any ${q(c.b)} instance`;
    case 'atLeast':
      return `both users have at least ${c.m} instances in the category ${q(c.a)}`;
    case 'exactlyOne':
      return `both users have at least one ${q(c.b)} instance, and exactly one of the two users has a ${q(c.a)} instance`;
  }
}

function candidateConditions(): PairCondition[] {
  const out: PairCondition[] = [];
  for (const a of OOLONG_LABELS) {
    out.push({ kind: 'both', a, b: null, m: null });
    for (const m of [2, 3]) out.push({ kind: 'atLeast', a, b: null, m });
    for (const b of OOLONG_LABELS) {
      if (a === b) continue;
      if (a < b) {
        out.push({ kind: 'bothAll', a, b, m: null });
        out.push({ kind: 'cross', a, b, m: null });
      }
      out.push({ kind: 'bothOneHas', a, b, m: null });
      out.push({ kind: 'bothNot', a, b, m: null });
      out.push({ kind: 'exactlyOne', a, b, m: null });
    }
  }
  return out;
}

/** Per-user label counts of the users that appear in the records (users with no record never count). */
export interface UserProfiles {
  /** 5-digit ids of the present users. */
  ids: number[];
  /** counts[i * 6 + label] for present user i. */
  counts: Int32Array;
  /** Bit l of masks[i] is set when present user i has at least one instance of label l. */
  masks: number[];
}

export function userProfiles(records: RecordColumns): UserProfiles {
  const all = userLabelCounts(records);
  const L = OOLONG_LABELS.length;
  const ids: number[] = [];
  const rows: number[] = [];
  for (let u = 0; u < records.userIds.length; u++) {
    let n = 0;
    for (let l = 0; l < L; l++) n += all[u * L + l];
    if (n > 0) {
      ids.push(records.userIds[u]);
      for (let l = 0; l < L; l++) rows.push(all[u * L + l]);
    }
  }
  const counts = Int32Array.from(rows);
  const masks = ids.map((_, i) => {
    let m = 0;
    for (let l = 0; l < L; l++) if (counts[i * L + l] > 0) m |= 1 << l;
    return m;
  });
  return { ids, counts, masks };
}

/** All qualifying pairs of user ids, as [low, high], sorted. Brute force over every pair of present users. */
export function qualifyingPairs(profiles: UserProfiles, condition: PairCondition): [number, number][] {
  const L = OOLONG_LABELS.length;
  const { ids, counts, masks } = profiles;
  const test = compilePairTest(condition);
  const pairs: [number, number][] = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      if (test(masks[i], masks[j], counts, i * L, j * L)) {
        pairs.push(ids[i] < ids[j] ? [ids[i], ids[j]] : [ids[j], ids[i]]);
      }
    }
  }
  return pairs.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}

/** How many pairs of present users satisfy the condition (qualifyingPairs(...).length, without building the list). */
export function countPairs(profiles: UserProfiles, condition: PairCondition): number {
  const L = OOLONG_LABELS.length;
  const { ids, counts, masks } = profiles;
  const test = compilePairTest(condition);
  let n = 0;
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) if (test(masks[i], masks[j], counts, i * L, j * L)) n++;
  return n;
}

export function formatPairs(pairs: readonly (readonly [number, number])[]): string {
  return pairs.map(([a, b]) => `(${a}, ${b})`).join('\n');
}

export function generateOolongPairs(raw: GenerateOptions): Task {
  const { contextStorage, hostContextThreshold, contextDir, ...opts } = parseOptions('oolong-pairs', schema, raw);
  const placement = resolvePlacement(
    'oolong-pairs',
    opts.seed,
    opts,
    { contextStorage, hostContextThreshold, contextDir },
    opts.contextTokens * RECORD_CHARS_PER_TOKEN,
  );
  if (!placement.host && opts.contextTokens > MAX_CONTEXT_TOKENS) {
    throw new TaskOptionError(
      'oolong-pairs',
      'contextTokens',
      `option 'contextTokens' ${opts.contextTokens} is above ${MAX_CONTEXT_TOKENS} for an in-memory context; use contextStorage 'host' or 'auto' (--context-storage) to store it on disk`,
    );
  }
  const options: Record<string, unknown> = { ...opts, ...placement.recorded };
  if (placement.host && !placement.temporary) {
    const again = reuseHostTask(placement.dir as string, options);
    if (again) return again;
  }
  try {
    const root = Rng.forTask('oolong-pairs', opts.seed);
    const setup = root.fork('setup');
    const estimatedRecords = Math.max(1, Math.round(opts.contextTokens / AVG_LINE_TOKENS));
    const userCount = opts.users ?? Math.min(40, Math.max(6, Math.round(estimatedRecords / 9)));
    const userIds = drawUserIds(setup, userCount);
    const candidates = candidateConditions();

    for (let attempt = 0; attempt < 40; attempt++) {
      const draw = root.fork(`records#${attempt}`);
      // Profiles: each user asks 2–4 kinds of question with their own weights, and is more or less active.
      const userMix = userIds.map(() => {
        const labels = draw.sample([0, 1, 2, 3, 4, 5], draw.range(2, 4));
        const weights = [0, 0, 0, 0, 0, 0];
        for (const l of labels) weights[l] = 0.5 + draw.next();
        return weights;
      });
      const activity = cumulative(userIds.map(() => 0.5 + 1.5 * draw.next()));
      const mixes = userMix.map(cumulative);
      // The answer needs only the records' columns: streamed to disk, the context is never held in memory.
      const { records, context } = recordsContext(
        draw.fork('lines'),
        {
          budgetTokens: opts.contextTokens,
          userIds,
          drawUser: (r) => r.weightedCumulative(activity),
          drawLabel: (r, u) => r.weightedCumulative(mixes[u]),
        },
        placement.host ? (placement.dir as string) : null,
      );
      const profiles = userProfiles(records);
      // Count first (no pair lists): only the chosen condition's pairs are listed and sorted.
      const scored = candidates.map((c) => ({ c, n: countPairs(profiles, c) }));
      const preferred = scored.filter((s) => s.n >= Math.min(3, opts.maxPairs) && s.n <= opts.maxPairs);
      const acceptable = preferred.length > 0 ? preferred : scored.filter((s) => s.n >= 1 && s.n <= opts.maxPairs);
      if (acceptable.length === 0) {
        if (typeof context !== 'string') discardChunkedContext(context);
        continue;
      }
      const picked = root.fork(`query#${attempt}`).pick(acceptable);
      const choice = { c: picked.c, pairs: qualifyingPairs(profiles, picked.c) };
      const condition = choice.c;
      const answer = formatPairs(choice.pairs);
      const question =
        `${oolongPreamble()}\n` +
        `List every pair of distinct user IDs such that ${describeCondition(condition)}. ` +
        'A user "has" an instance when one of their own records holds it; only users that appear in the context count, and ' +
        'each unordered pair is listed once. Write one pair per line as (smaller id, larger id), for example ' +
        '"(10234, 57311)", sorted ascending by the first id and then by the second; write nothing else.';
      const present = profiles.ids.length;
      const meta: Record<string, unknown> = {
        contextTokens: records.tokens,
        contextChars: records.chars,
        targetTokens: opts.contextTokens,
        records: records.count,
        users: present,
        candidatePairs: (present * (present - 1)) / 2,
        labelCounts: labelCounts(records),
        condition,
        pairCount: choice.pairs.length,
        attempt,
      };
      if (placement.host) meta.contextStorage = { mode: 'host', dir: placement.dir, temporary: placement.temporary };
      const head = { family: 'oolong-pairs', seed: opts.seed, options, question, answer };
      const id = taskHash({ ...head, context });
      const task: Task = { id, family: 'oolong-pairs', seed: opts.seed, options, question, context, answer, answerType: 'pairs', meta };
      if (placement.host) saveHostTask(task);
      return task;
    }
    throw new Error(
      `oolong-pairs: no condition gives 1…${opts.maxPairs} pairs for seed ${opts.seed} (contextTokens ${opts.contextTokens}, users ${userCount}); try more users or a larger maxPairs`,
    );
  } catch (e) {
    abandonPlacement(placement);
    throw e;
  }
}

export function scoreOolongPairs(task: Task, prediction: string): ScoreResult {
  const gold = parsePairs(task.answer);
  const predicted = parsePairs(predictionText(prediction));
  const f1 = setF1(gold, predicted);
  return {
    score: f1.f1,
    correct: f1.f1 === 1,
    details: {
      metric: 'pair_f1',
      precision: f1.precision,
      recall: f1.recall,
      truePositives: f1.truePositives,
      predictedPairs: f1.predicted,
      goldPairs: f1.gold,
    },
  };
}

export const oolongPairsFamily: TaskFamilyDef = {
  name: 'oolong-pairs',
  description: 'List all pairs of users whose inferred labels satisfy a condition (OOLONG-Pairs); scored by F1.',
  defaults: { ...OOLONG_PAIRS_DEFAULTS },
  generate: generateOolongPairs,
  score: scoreOolongPairs,
  // Placement options (contextStorage, hostContextThreshold, contextDir): contexts of any size, on disk when large.
  hostContext: true,
  contextCharsPerToken: RECORD_CHARS_PER_TOKEN,
};

oolongPairsFamily.optionDocs = {
  seed: 'integer ≥ 0; same seed + options ⇒ identical task',
  contextTokens: `context size in o200k tokens, 1,000 … 20,000,000 in memory, up to 2,000,000,000 stored on disk (default ${OOLONG_PAIRS_DEFAULTS.contextTokens})`,
  users: 'number of distinct user ids, 4 … 150; default: about one per 9 records (6 … 40)',
  maxPairs: `largest number of pairs an answer may have (default ${OOLONG_PAIRS_DEFAULTS.maxPairs})`,
  contextStorage: "'auto' (default: on disk above hostContextThreshold) | 'memory' | 'host' — where the context lives (see README, Giant contexts)",
  hostContextThreshold: 'chars above which auto stores the context on disk (default 67,108,864 ≈ 20M tokens of records)',
  contextDir: 'directory for host-backed chunk files (default: a temp dir per task, deleted by its owner)',
};
