/**
 * sniah — RULER-style single needle in a haystack (the paper's S-NIAH: constant work in the input length).
 *
 * Context: paragraphs of seeded filler prose (filler.ts) with one needle sentence
 *   "The special magic {number|uuid|word} for {key} is {value}."
 * placed at relative token depth `depth` (0 = first sentence, 1 = last), plus `distractors` needles of the same form
 * for other keys (half of them share a word with the real key, so a sloppy search picks the wrong one).
 * A program answers with one regex: /The special magic \w+ for KEY is (\S+)\./.
 */
import { z } from 'zod';
import { createChunkWriter, type ChunkedContext, type ChunkWriter } from './chunked.ts';
import { TaskOptionError } from './errors.ts';
import { FillerWriter } from './filler.ts';
import { taskHash } from './hash.ts';
import { matchesAny, normalizeAnswer, predictionText } from './normalize.ts';
import { MAX_CONTEXT_TOKENS, parseOptions, seedSchema } from './options.ts';
import { Rng } from './rng.ts';
import { MAX_HOST_CONTEXT_TOKENS, abandonPlacement, placementFields, resolvePlacement, reuseHostTask, saveHostTask } from './storage.ts';
import { ByteTextBuilder, TextBuilder } from './text.ts';
import { pieceTokens } from './tokens.ts';
import type { GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

export const SNIAH_VALUE_TYPES = ['number', 'uuid', 'word'] as const;
export type SniahValueType = (typeof SNIAH_VALUE_TYPES)[number];

/** 16K tokens (2^14): the low end of the paper's 2^13–2^18 range and fast for a default rollout. */
export const SNIAH_DEFAULTS = {
  contextTokens: 16_384,
  valueType: 'number' as SniahValueType,
  /** null: drawn uniformly in [0, 1] from the seed (reported in meta.depth). */
  depth: null as number | null,
  distractors: 0,
};

const schema = z
  .object({
    seed: seedSchema,
    // Up to 20M tokens in memory; beyond that (up to 2B) only host-backed (checked after placement).
    contextTokens: z.number().int().min(256).max(MAX_HOST_CONTEXT_TOKENS).default(SNIAH_DEFAULTS.contextTokens),
    valueType: z.enum(SNIAH_VALUE_TYPES).default(SNIAH_DEFAULTS.valueType),
    depth: z.number().min(0).max(1).nullable().default(SNIAH_DEFAULTS.depth),
    distractors: z.number().int().min(0).max(100).default(SNIAH_DEFAULTS.distractors),
    ...placementFields,
  })
  .strict();

export type SniahOptions = z.output<typeof schema>;

const KEY_ADJECTIVES = [
  'quiet', 'amber', 'brisk', 'crooked', 'distant', 'eager', 'faded', 'gentle', 'hollow', 'idle', 'jagged', 'lucky',
  'mellow', 'narrow', 'olive', 'patient', 'rapid', 'silent', 'tender', 'vivid', 'wistful', 'young', 'zealous', 'bright',
  'calm', 'dusty', 'early', 'frozen', 'golden', 'humble', 'ivory', 'kind', 'lively', 'misty', 'noble', 'plain', 'rustic',
  'scarlet', 'tidy', 'upper', 'velvet', 'wild', 'copper', 'giant', 'hidden', 'lonely', 'proud', 'sudden',
];

const KEY_NOUNS = [
  'harbor', 'ferry', 'lantern', 'meadow', 'orchard', 'pillar', 'quarry', 'ribbon', 'saddle', 'thimble', 'valley',
  'window', 'anchor', 'barrel', 'candle', 'dragon', 'engine', 'falcon', 'garden', 'hammer', 'island', 'jacket', 'kettle',
  'ladder', 'mirror', 'needle', 'otter', 'pepper', 'rabbit', 'spindle', 'tunnel', 'violin', 'walnut', 'bucket', 'compass',
  'feather', 'glacier', 'helmet', 'magnet', 'parcel', 'raven', 'sparrow', 'trumpet', 'wagon', 'beacon', 'cellar',
];

const VALUE_WORDS = [
  'abacus', 'biscuit', 'cobalt', 'dandelion', 'ember', 'fjord', 'gondola', 'hazelnut', 'igloo', 'juniper', 'kiwi',
  'lagoon', 'marmalade', 'nutmeg', 'oregano', 'paprika', 'quince', 'rhubarb', 'saffron', 'tangerine', 'umbrella',
  'vanilla', 'waffle', 'xylophone', 'yogurt', 'zucchini', 'alpaca', 'bamboo', 'cactus', 'dolphin', 'eucalyptus',
  'flamingo', 'gazelle', 'hibiscus', 'iguana', 'jasmine', 'koala', 'lemur', 'mongoose', 'narwhal', 'octopus', 'pelican',
  'quokka', 'raccoon', 'salamander', 'toucan', 'urchin', 'vulture', 'walrus', 'yak', 'zebra', 'avocado', 'blueberry',
  'cinnamon', 'daffodil', 'espresso', 'fennel', 'ginger', 'honeycomb', 'indigo', 'kumquat', 'licorice', 'mango',
  'nectarine', 'olive', 'pistachio', 'radish', 'sesame', 'tulip', 'velour', 'wasabi', 'almond', 'buttercup', 'chestnut',
  'driftwood', 'emerald', 'fig', 'granite', 'horizon', 'icicle', 'jigsaw', 'kaleidoscope', 'labyrinth', 'mosaic',
  'nebula', 'origami', 'porcelain', 'quartz', 'rosemary', 'sapphire', 'tapestry', 'vortex', 'whirlpool', 'zephyr',
];

const VALUE_FORMAT: Record<SniahValueType, string> = {
  number: 'the 7-digit number',
  uuid: 'the UUID (8-4-4-4-12 hexadecimal groups)',
  word: 'the single word',
};

function drawValue(rng: Rng, type: SniahValueType): string {
  if (type === 'number') return String(rng.range(1_000_000, 9_999_999));
  if (type === 'uuid') return rng.uuid();
  return rng.pick(VALUE_WORDS);
}

export function needleSentence(valueType: SniahValueType, key: string, value: string): string {
  return `The special magic ${valueType} for ${key} is ${value}.`;
}

interface Insertion {
  /** Position in filler tokens (before this many filler tokens have been written). */
  at: number;
  key: string;
  value: string;
  isNeedle: boolean;
}

/** Chars per o200k token of sniah text (measured: 5.22), to decide placement before generating. */
const CHARS_PER_TOKEN = 5.25;
/** Bytes handed to the chunk writer at a time when streaming. */
const STREAM_BYTES = 1 << 20;

export function generateSniah(raw: GenerateOptions): Task {
  const parsed = parseOptions('sniah', schema, raw);
  const { contextStorage, hostContextThreshold, contextDir, ...opts } = parsed;
  const placement = resolvePlacement('sniah', opts.seed, opts, { contextStorage, hostContextThreshold, contextDir }, opts.contextTokens * CHARS_PER_TOKEN);
  if (!placement.host && opts.contextTokens > MAX_CONTEXT_TOKENS) {
    throw new TaskOptionError(
      'sniah',
      'contextTokens',
      `option 'contextTokens' ${opts.contextTokens} is above ${MAX_CONTEXT_TOKENS} for an in-memory context; use contextStorage 'host' or 'auto' (--context-storage) to store it on disk`,
    );
  }
  const options: Record<string, unknown> = { ...opts, ...placement.recorded };
  if (placement.host && !placement.temporary) {
    const again = reuseHostTask(placement.dir!, options);
    if (again) return again;
  }
  // The chunk writer, once open: aborted on an error (its fd closed, its files removed) before the placement is undone.
  let chunks: ChunkWriter | null = null;
  try {
    const root = Rng.forTask('sniah', opts.seed);
    const pick = root.fork('needle');

    // Keys: the real key, then distractor keys; some distractors share the adjective or the noun with the real key.
    const keyAdj = pick.pick(KEY_ADJECTIVES);
    const keyNoun = pick.pick(KEY_NOUNS);
    const key = `${keyAdj}-${keyNoun}`;
    const value = drawValue(pick, opts.valueType);
    const usedKeys = new Set([key]);
    const usedValues = new Set([value]);
    const distractors: { key: string; value: string }[] = [];
    const maxKeys = KEY_ADJECTIVES.length * KEY_NOUNS.length;
    while (distractors.length < opts.distractors && usedKeys.size < maxKeys) {
      const shareMode = pick.int(3); // 0: same adjective, 1: same noun, 2: unrelated
      const adj = shareMode === 0 ? keyAdj : pick.pick(KEY_ADJECTIVES);
      const noun = shareMode === 1 ? keyNoun : pick.pick(KEY_NOUNS);
      const k = `${adj}-${noun}`;
      if (usedKeys.has(k)) continue;
      let v = drawValue(pick, opts.valueType);
      // Word values come from a finite list: allow repeats across distractors, but never the gold value.
      for (let tries = 0; usedValues.has(v) && tries < 50; tries++) v = drawValue(pick, opts.valueType);
      if (v === value) continue;
      usedKeys.add(k);
      usedValues.add(v);
      distractors.push({ key: k, value: v });
    }

    const needle = needleSentence(opts.valueType, key, value);
    const depth = opts.depth ?? Math.round(pick.next() * 1e4) / 1e4;
    const needleCost = (s: string): number => pieceTokens(` ${s}`);
    let insertedCost = needleCost(needle);
    for (const d of distractors) insertedCost += needleCost(needleSentence(opts.valueType, d.key, d.value));
    // Filler tokens to write; insertion points live on the filler-token axis, then snap to the next sentence boundary.
    const fillerBudget = Math.max(0, opts.contextTokens - insertedCost);

    const place = root.fork('placement');
    const insertions: Insertion[] = [{ at: Math.round(depth * fillerBudget), key, value, isNeedle: true }];
    for (const d of distractors) insertions.push({ at: place.int(fillerBudget + 1), key: d.key, value: d.value, isNeedle: false });
    // Stable order: by position, the real needle first on ties, then by key (keys are unique).
    insertions.sort((a, b) => a.at - b.at || Number(b.isNeedle) - Number(a.isNeedle) || (a.key < b.key ? -1 : 1));

    chunks = placement.host ? createChunkWriter(placement.dir!) : null;
    const into = chunks;
    // In memory: pieces joined into the string (measured fastest: V8 joins one-byte strings with memcpy). Host-backed:
    // bytes straight into the chunk files' blocks (no string, no re-encoding; ~20% less CPU per MB than joining + encoding).
    const out = into
      ? new ByteTextBuilder({ initialBytes: STREAM_BYTES, onFlush: (b, ascii) => (ascii ? into.writeAscii(b) : into.write(b.toString('utf8'))) })
      : new TextBuilder();
    const writer = new FillerWriter(root.fork('filler'));
    let tokens = 0;
    let fillerWritten = 0;
    let needleCharOffset = -1;
    let needleTokenOffset = -1;
    const distractorOffsets: { key: string; value: string; charOffset: number }[] = [];
    for (const ins of insertions) {
      if (ins.at > fillerWritten) {
        const n = writer.fillPast(out, ins.at - fillerWritten, fillerBudget - fillerWritten);
        fillerWritten += n;
        tokens += n;
      }
      const offset = out.length + (writer.isAtParagraphStart ? 0 : 1);
      const tokenOffset = tokens;
      tokens += writer.insertSentence(out, needleSentence(opts.valueType, ins.key, ins.value));
      if (ins.isNeedle) {
        needleCharOffset = offset;
        needleTokenOffset = tokenOffset;
      } else {
        distractorOffsets.push({ key: ins.key, value: ins.value, charOffset: offset });
      }
    }
    tokens += writer.fill(out, opts.contextTokens - tokens);
    tokens += writer.finish(out);
    // The needles alone can outgrow a small target (e.g. 100 distractors in 256 tokens): refuse rather than miss ±5%.
    if (tokens > opts.contextTokens * 1.05) {
      throw new TaskOptionError(
        'sniah',
        'contextTokens',
        `option 'contextTokens' ${opts.contextTokens} is too small for ${opts.distractors} distractor needle(s): the needles alone take about ${tokens} tokens`,
      );
    }
    let context: string | ChunkedContext;
    if (out instanceof ByteTextBuilder) {
      out.flush();
      context = (into as ChunkWriter).close();
    } else {
      context = out.toString();
    }

    const noun = opts.valueType;
    const question =
      `Somewhere in the text there is a sentence of the form "The special magic ${noun} for <key> is <value>." ` +
      `What is the special magic ${noun} for ${key}? Answer with the value only: ${VALUE_FORMAT[opts.valueType]}, ` +
      `with no other words or punctuation.`;
    const answer = value;
    const meta: Record<string, unknown> = {
      contextTokens: tokens,
      contextChars: context.length,
      targetTokens: opts.contextTokens,
      key,
      valueType: opts.valueType,
      needle,
      depth: tokens > 0 ? Math.round((needleTokenOffset / tokens) * 1e4) / 1e4 : 0,
      requestedDepth: depth,
      needleCharOffset,
      needleTokenOffset,
      distractorCount: distractorOffsets.length,
      distractors: distractorOffsets.sort((a, b) => a.charOffset - b.charOffset),
      evidence: { charOffset: needleCharOffset, length: needle.length },
    };
    if (placement.host) meta.contextStorage = { mode: 'host', dir: placement.dir, temporary: placement.temporary };
    const id =
      typeof context === 'string'
        ? taskHash({ family: 'sniah', seed: opts.seed, options, question, answer, context })
        : taskHash({ family: 'sniah', seed: opts.seed, options, question, answer, context });
    const task: Task = { id, family: 'sniah', seed: opts.seed, options, question, context, answer, answerType: 'exact', meta };
    if (placement.host) saveHostTask(task);
    return task;
  } catch (e) {
    chunks?.abort();
    abandonPlacement(placement);
    throw e;
  }
}

export function scoreSniah(task: Task, prediction: string): ScoreResult {
  const text = predictionText(prediction);
  const correct = matchesAny(text, task.answer);
  return {
    score: correct ? 1 : 0,
    correct,
    details: { metric: 'normalized_exact_match', normalizedPrediction: normalizeAnswer(text), normalizedGold: normalizeAnswer(task.answer) },
  };
}

export const sniahFamily: TaskFamilyDef = {
  name: 'sniah',
  description: 'Single needle in a haystack (RULER S-NIAH): find the special magic value for a key in filler prose.',
  defaults: { ...SNIAH_DEFAULTS },
  generate: generateSniah,
  score: scoreSniah,
  hostContext: true,
  contextCharsPerToken: CHARS_PER_TOKEN,
};

sniahFamily.optionDocs = {
  seed: 'integer ≥ 0; same seed + options ⇒ identical task',
  contextTokens: `context size in o200k tokens, 256 … 20,000,000 in memory, up to 2,000,000,000 host-backed (default ${SNIAH_DEFAULTS.contextTokens})`,
  contextStorage: "'auto' (default: on disk above hostContextThreshold) | 'memory' | 'host' — where the context lives (see README, Giant contexts)",
  hostContextThreshold: 'chars above which auto stores the context on disk (default 67,108,864)',
  contextDir: 'directory for host-backed chunk files (default: a temp dir per task, deleted by its owner)',
  valueType: `needle value: ${SNIAH_VALUE_TYPES.join(' | ')} (default ${SNIAH_DEFAULTS.valueType})`,
  depth: 'relative position of the needle, 0 (start) … 1 (end); default: drawn from the seed',
  distractors: `number of needles for other keys, 0 … 100 (default ${SNIAH_DEFAULTS.distractors})`,
};
