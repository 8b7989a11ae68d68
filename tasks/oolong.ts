/**
 * oolong — aggregation over records whose label must be inferred (the paper's OOLONG trec_coarse: linear work).
 *
 * Context: records.ts lines. Query kinds (option `query`, drawn from the seed when null):
 *   count           how many instances have label L                         → integer
 *   most_frequent   which label is the most frequent (unique by construction) → label
 *   least_frequent  which label is the least frequent (unique by construction)→ label
 *   compare         is label A more common, less common or the same as B      → more | less | same
 *   count_users     how many instances of label L come from a set of users    → integer
 *   count_dates     how many instances of label L fall in a date range        → integer
 * A program answers every kind by labelling each line (the rule or a sub-model per instance), filtering by the user
 * or date fields, and counting. Integers score 0.75^|gold − predicted| (first number in the prediction); labels and
 * comparisons score by normalized exact match (meta.aliases lists accepted variants such as "more common").
 */
import { z } from 'zod';
import { TaskOptionError } from './errors.ts';
import { taskHash } from './hash.ts';
import { matchesAny, normalizeAnswer, numericScore, parseFirstNumber, predictionText } from './normalize.ts';
import { MAX_CONTEXT_TOKENS, parseOptions, seedSchema } from './options.ts';
import { DATE_DAYS, OOLONG_LABELS, type OolongLabel, type RecordColumns, drawUserIds, formatDay, labelCounts, lineOf, oolongPreamble } from './records.ts';
import { RECORD_CHARS_PER_TOKEN, discardChunkedContext, recordsContext } from './records-context.ts';
import { Rng, cumulative } from './rng.ts';
import { MAX_HOST_CONTEXT_TOKENS, abandonPlacement, placementFields, resolvePlacement, reuseHostTask, saveHostTask } from './storage.ts';
import type { GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

export const OOLONG_QUERY_KINDS = ['count', 'most_frequent', 'least_frequent', 'compare', 'count_users', 'count_dates'] as const;
export type OolongQueryKind = (typeof OOLONG_QUERY_KINDS)[number];

/** ~16K tokens ≈ 650 records: enough for every query kind to be non-trivial, quick for a default rollout. */
export const OOLONG_DEFAULTS = {
  contextTokens: 16_384,
  /** null: drawn from the seed. */
  query: null as OolongQueryKind | null,
  /** null: about one user per 12 records (5 … 1000). */
  users: null as number | null,
};

const schema = z
  .object({
    seed: seedSchema,
    // Above MAX_CONTEXT_TOKENS only host storage (chunk files) is accepted; checked after placement is resolved.
    contextTokens: z.number().int().min(512).max(MAX_HOST_CONTEXT_TOKENS).default(OOLONG_DEFAULTS.contextTokens),
    query: z.enum(OOLONG_QUERY_KINDS).nullable().default(OOLONG_DEFAULTS.query),
    users: z.number().int().min(2).max(20_000).nullable().default(OOLONG_DEFAULTS.users),
    ...placementFields,
  })
  .strict();

/** Average o200k tokens per record line (measured over the templates); only used to size the user pool. */
const AVG_LINE_TOKENS = 24;
/** Evidence line lists are capped so meta stays small at 10M tokens; meta.evidenceLineCount has the full count. */
const MAX_EVIDENCE_LINES = 200;


const COMPARE_ALIASES: Record<string, string[]> = {
  more: ['more common', 'more frequent', 'more often', 'greater', 'more common than'],
  less: ['less common', 'less frequent', 'fewer', 'less often', 'less common than'],
  same: ['same frequency', 'the same', 'equal', 'equally common', 'same frequency as'],
};

interface Query {
  kind: OolongQueryKind;
  text: string;
  answer: string;
  answerType: 'numeric' | 'label';
  aliases: string[];
  params: Record<string, unknown>;
  evidence: number[] | null;
}

function quoted(l: OolongLabel): string {
  return `'${l}'`;
}

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Indexes (into records.userIds) of the users that have at least one record, ascending. */
function presentUsers(records: RecordColumns): number[] {
  const seen = new Uint8Array(records.userIds.length);
  for (let i = 0; i < records.count; i++) seen[records.user[i]] = 1;
  const out: number[] = [];
  seen.forEach((v, u) => {
    if (v) out.push(u);
  });
  return out;
}

/** Builds the query of `kind` over the records, or null when this draw cannot give an unambiguous answer. */
function buildQuery(kind: OolongQueryKind, rng: Rng, records: RecordColumns, counts: Record<OolongLabel, number>): Query | null {
  const integerFormat = 'Answer with a single integer only.';
  if (kind === 'count') {
    const label = rng.pick(OOLONG_LABELS);
    const li = OOLONG_LABELS.indexOf(label);
    const evidence: number[] = [];
    for (let i = 0; i < records.count; i++) if (records.label[i] === li) evidence.push(lineOf(i));
    return {
      kind,
      text: `How many records in the context have an instance in the category ${quoted(label)}? ${integerFormat}`,
      answer: String(counts[label]),
      answerType: 'numeric',
      aliases: [],
      params: { label },
      evidence,
    };
  }
  if (kind === 'most_frequent' || kind === 'least_frequent') {
    const sorted = [...OOLONG_LABELS].sort((a, b) => counts[b] - counts[a]);
    const pickIdx = kind === 'most_frequent' ? 0 : sorted.length - 1;
    const neighbour = kind === 'most_frequent' ? 1 : sorted.length - 2;
    // Ties make the answer ambiguous: reject this draw (the caller resamples the records).
    if (counts[sorted[pickIdx]] === counts[sorted[neighbour]]) return null;
    const word = kind === 'most_frequent' ? 'most' : 'least';
    return {
      kind,
      text: `Counting every record of the context, which category has the ${word} instances? Answer with the category name only (one of: ${OOLONG_LABELS.join(', ')}).`,
      answer: sorted[pickIdx],
      answerType: 'label',
      aliases: [],
      params: { margin: Math.abs(counts[sorted[pickIdx]] - counts[sorted[neighbour]]) },
      evidence: null,
    };
  }
  if (kind === 'compare') {
    // Labels of similar frequency (within 25%), so the comparison rests on counting every record right, not on a
    // rough impression; when no pair is that close, the closest pair.
    const pairs: [OolongLabel, OolongLabel][] = [];
    for (let i = 0; i < OOLONG_LABELS.length; i++) for (let j = i + 1; j < OOLONG_LABELS.length; j++) pairs.push([OOLONG_LABELS[i], OOLONG_LABELS[j]]);
    const gap = ([x, y]: [OolongLabel, OolongLabel]): number => Math.abs(counts[x] - counts[y]) / Math.max(1, counts[x], counts[y]);
    const close = pairs.filter((p) => gap(p) <= 0.25);
    const chosen = close.length > 0 ? rng.pick(close) : pairs.reduce((best, p) => (gap(p) < gap(best) ? p : best));
    const [a, b] = rng.chance(0.5) ? chosen : [chosen[1], chosen[0]];
    const answer = counts[a] > counts[b] ? 'more' : counts[a] < counts[b] ? 'less' : 'same';
    return {
      kind,
      text:
        `Counting every record of the context, is the category ${quoted(a)} more common, less common, or the same ` +
        `frequency as the category ${quoted(b)}? Answer with exactly one word: more, less, or same.`,
      answer,
      answerType: 'label',
      aliases: COMPARE_ALIASES[answer],
      params: { labels: [a, b], counts: [counts[a], counts[b]] },
      evidence: null,
    };
  }
  if (kind === 'count_users') {
    const candidates = presentUsers(records);
    if (candidates.length < 2) return null;
    const chosen = rng.sample(candidates, Math.min(candidates.length, rng.range(6, 14)));
    const chosenSet = new Set(chosen);
    const label = rng.pick(OOLONG_LABELS);
    const li = OOLONG_LABELS.indexOf(label);
    const evidence: number[] = [];
    for (let i = 0; i < records.count; i++) if (chosenSet.has(records.user[i]) && records.label[i] === li) evidence.push(lineOf(i));
    const ids = chosen.map((u) => records.userIds[u]).sort((x, y) => x - y);
    return {
      kind,
      text: `How many records of the users ${joinList(ids.map(String))} (taken together) have an instance in the category ${quoted(label)}? ${integerFormat}`,
      answer: String(evidence.length),
      answerType: 'numeric',
      aliases: [],
      params: { label, userIds: ids },
      evidence,
    };
  }
  // count_dates: a window of 180–540 days inside the data's date span.
  const span = rng.range(180, 540);
  const from = rng.int(DATE_DAYS - span);
  const to = from + span - 1;
  const label = rng.pick(OOLONG_LABELS);
  const li = OOLONG_LABELS.indexOf(label);
  const evidence: number[] = [];
  for (let i = 0; i < records.count; i++) {
    const d = records.day[i];
    if (d >= from && d <= to && records.label[i] === li) evidence.push(lineOf(i));
  }
  return {
    kind,
    text: `How many records dated from ${formatDay(from)} to ${formatDay(to)} (both dates inclusive) have an instance in the category ${quoted(label)}? ${integerFormat}`,
    answer: String(evidence.length),
    answerType: 'numeric',
    aliases: [],
    params: { label, dateFrom: formatDay(from), dateTo: formatDay(to) },
    evidence,
  };
}

export function generateOolong(raw: GenerateOptions): Task {
  const { contextStorage, hostContextThreshold, contextDir, ...opts } = parseOptions('oolong', schema, raw);
  const placement = resolvePlacement(
    'oolong',
    opts.seed,
    opts,
    { contextStorage, hostContextThreshold, contextDir },
    opts.contextTokens * RECORD_CHARS_PER_TOKEN,
  );
  if (!placement.host && opts.contextTokens > MAX_CONTEXT_TOKENS) {
    throw new TaskOptionError(
      'oolong',
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
    const root = Rng.forTask('oolong', opts.seed);
    const setup = root.fork('setup');
    const kind: OolongQueryKind = opts.query ?? setup.pick(OOLONG_QUERY_KINDS);
    const estimatedRecords = Math.max(1, Math.round(opts.contextTokens / AVG_LINE_TOKENS));
    const userCount = opts.users ?? Math.min(1000, Math.max(5, Math.round(estimatedRecords / 12)));
    const userIds = drawUserIds(setup, userCount);

    // Resampling loop: a draw whose query would be ambiguous (tied most/least frequent labels) is redrawn with the
    // next attempt's streams. Ties only happen at small sizes; 40 attempts make failure practically impossible.
    for (let attempt = 0; attempt < 40; attempt++) {
      const draw = root.fork(`records#${attempt}`);
      // Label mix: weights in [0.7, 1.6], so labels differ in frequency without one standing out at a glance. For
      // most/least queries the extreme label gets a weight at least 8% clear of the runner-up, so the answer is not a
      // coin flip for a reader who labels every record right; exact ties (possible in small contexts) are still rejected
      // below and redrawn.
      const raw = OOLONG_LABELS.map(() => 0.7 + 0.9 * draw.next());
      const order = raw.map((_, i) => i).sort((a, b) => raw[b] - raw[a]);
      if (kind === 'most_frequent') raw[order[0]] = Math.max(raw[order[0]], raw[order[1]] * 1.08);
      if (kind === 'least_frequent') raw[order[5]] = Math.min(raw[order[5]], raw[order[4]] / 1.08);
      const weights = cumulative(raw);
      // The gold answer needs only the records' columns (day, user, label), never the text: streamed to disk, the
      // context is not held in memory at any point.
      const { records, context } = recordsContext(
        draw.fork('lines'),
        {
          budgetTokens: opts.contextTokens,
          userIds,
          drawUser: (r) => r.int(userIds.length),
          drawLabel: (r) => r.weightedCumulative(weights),
        },
        placement.host ? (placement.dir as string) : null,
      );
      const counts = labelCounts(records);
      const query = buildQuery(kind, root.fork(`query#${attempt}`), records, counts);
      if (!query) {
        if (typeof context !== 'string') discardChunkedContext(context);
        continue;
      }
      const question = `${oolongPreamble()}\n${query.text}`;
      const evidence = query.evidence;
      const meta: Record<string, unknown> = {
        contextTokens: records.tokens,
        contextChars: records.chars,
        targetTokens: opts.contextTokens,
        records: records.count,
        users: presentUsers(records).length,
        labelCounts: counts,
        queryKind: query.kind,
        query: query.params,
        aliases: query.aliases,
        attempt,
        ...(evidence
          ? {
              evidenceLines: evidence.slice(0, MAX_EVIDENCE_LINES),
              evidenceLineCount: evidence.length,
              evidenceLinesTruncated: evidence.length > MAX_EVIDENCE_LINES,
            }
          : {}),
      };
      if (placement.host) meta.contextStorage = { mode: 'host', dir: placement.dir, temporary: placement.temporary };
      const head = { family: 'oolong', seed: opts.seed, options, question, answer: query.answer };
      const id = taskHash({ ...head, context });
      const task: Task = {
        id,
        family: 'oolong',
        seed: opts.seed,
        options,
        question,
        context,
        answer: query.answer,
        answerType: query.answerType,
        meta,
      };
      if (placement.host) saveHostTask(task);
      return task;
    }
    throw new Error(`oolong: could not draw an unambiguous '${kind}' query for seed ${opts.seed} (contextTokens ${opts.contextTokens})`);
  } catch (e) {
    abandonPlacement(placement);
    throw e;
  }
}

export function scoreOolong(task: Task, prediction: string): ScoreResult {
  const text = predictionText(prediction);
  if (task.answerType === 'numeric') {
    const gold = Number(task.answer);
    const predicted = parseFirstNumber(text);
    const score = numericScore(gold, predicted);
    return { score, correct: score === 1, details: { metric: '0.75^|gold-predicted|', gold, predicted } };
  }
  const aliases = Array.isArray(task.meta.aliases) ? (task.meta.aliases as unknown[]).map(String) : [];
  const correct = matchesAny(text, task.answer, aliases);
  return {
    score: correct ? 1 : 0,
    correct,
    details: { metric: 'normalized_exact_match', normalizedPrediction: normalizeAnswer(text), gold: task.answer },
  };
}

export const oolongFamily: TaskFamilyDef = {
  name: 'oolong',
  description: 'Aggregate inferred labels over many records (OOLONG trec_coarse): counts, most/least frequent, comparisons, user/date slices.',
  defaults: { ...OOLONG_DEFAULTS },
  generate: generateOolong,
  score: scoreOolong,
  // Placement options (contextStorage, hostContextThreshold, contextDir): contexts of any size, on disk when large.
  hostContext: true,
  contextCharsPerToken: RECORD_CHARS_PER_TOKEN,
};

oolongFamily.optionDocs = {
  seed: 'integer ≥ 0; same seed + options ⇒ identical task',
  contextTokens: `context size in o200k tokens, 512 … 20,000,000 in memory, up to 2,000,000,000 stored on disk (default ${OOLONG_DEFAULTS.contextTokens})`,
  query: `query kind: ${OOLONG_QUERY_KINDS.join(' | ')}; default: drawn from the seed`,
  users: 'number of distinct user ids; default: about one per 12 records (5 … 1000)',
  contextStorage: "'auto' (default: on disk above hostContextThreshold) | 'memory' | 'host' — where the context lives (see README, Giant contexts)",
  hostContextThreshold: 'chars above which auto stores the context on disk (default 67,108,864 ≈ 20M tokens of records)',
  contextDir: 'directory for host-backed chunk files (default: a temp dir per task, deleted by its owner)',
};
