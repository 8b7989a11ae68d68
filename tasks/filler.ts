/**
 * Seeded filler prose: the haystack of `sniah` and the padding of `browsecomp` documents.
 *
 * Sentences are composed from small phrase tables ([opener,] subject verb object [adjunct] [, and subject verb object]).
 * About ten million distinct sentences are possible, so a long haystack does not look like one paragraph repeated,
 * yet every phrase is a pretoken-aligned piece whose o200k token count is computed once (see tokens.ts): writing a
 * sentence costs a few random draws and array pushes, which is what makes 10M-token contexts take seconds.
 *
 * The vocabulary deliberately contains no digits, no proper names and none of the fact phrases the generators rely on
 * ("special magic", "born in", "founded", "chair", "studied", "award", "organised", "took part", "based in", …), so
 * filler can never be mistaken for a needle or a fact — tests search the rendered text with exactly such patterns.
 */
import type { Rng } from './rng.ts';
import type { TextSink } from './text.ts';
import { pieceTokens } from './tokens.ts';

const OPENERS = [
  'Over time,', 'In most years,', 'By all accounts,', 'For a while,', 'Even so,', 'In the meantime,', 'As a rule,',
  'Later on,', 'At first,', 'In the end,', 'Every so often,', 'Without much fuss,', 'On quieter days,', 'Before long,',
  'More often than not,', 'To some extent,', 'For the most part,', 'Now and then,', 'In practice,', 'On balance,',
  'According to local accounts,', 'Looking back,', 'Oddly enough,', 'Year after year,',
];

const SUBJECTS = [
  'the old harbour', 'the village council', 'a small group of farmers', 'the northern road', 'the weekly market',
  'the river crossing', 'most of the orchards', 'the local school', 'a travelling merchant', 'the stone bridge',
  'the eastern district', 'the lighthouse keeper', 'the parish records', 'a line of poplars', 'the winter fair',
  'the grain store', 'the workshop on the hill', 'a pair of carpenters', 'the coastal path', 'the reading room',
  'the market square', 'a handful of traders', 'the old mill', 'the ferry service', 'the cooperative', 'the town band',
  'the hillside vineyards', 'the fishing fleet', 'the regional archive', 'the public garden', 'the night watch',
  'the glassworks', 'the weaving shed', 'the tea house', 'the postal route', 'the upper valley', 'a group of students',
  'the cathedral choir', 'the tram line', 'the covered arcade', 'the salt flats', 'the apprentices',
];

const VERBS = [
  'slowly changed', 'attracted', 'depended on', 'gave way to', 'shaped', 'outlasted', 'quietly replaced', 'kept',
  'welcomed', 'survived', 'supported', 'absorbed', 'rarely mentioned', 'made room for', 'relied on', 'drew',
  'looked after', 'brought back', 'held on to', 'spread across', 'softened', 'inherited', 'put up with', 'reshaped',
  'set aside', 'borrowed', 'traded away', 'recorded',
];

const OBJECTS = [
  'a steady stream of visitors', 'the habits of the previous generation', 'several new workshops',
  'the rhythm of the seasons', 'most of the surrounding fields', 'a modest amount of trade',
  'the attention of passing travellers', 'the older customs', 'a number of small repairs', 'the patience of its neighbours',
  'a quieter way of life', 'the long evenings', 'the needs of the growing town', 'an unusual kind of loyalty',
  'the memory of earlier floods', 'a loose network of suppliers', 'the taste for imported cloth',
  'a reputation for careful work', 'the old timber frames', 'the daily routine', 'the shape of the shoreline',
  'a surprising variety of crafts', 'the interest of younger families', 'the weight of tradition',
  'several rival proposals', 'the sound of the bells', 'a handful of letters', 'the original plans', 'most of the debt',
  'the last of the harvest', 'the smell of fresh bread', 'a few stubborn disputes',
];

const ADJUNCTS = [
  'during the dry season', 'across the valley', 'for several decades', 'without much public debate',
  'along the main road', 'in the years that followed', 'despite frequent setbacks', 'through the long winters',
  'near the edge of town', 'after the spring rains', 'with little fanfare', 'under changing leadership',
  'by the end of the summer', 'beyond the old walls', 'from one generation to the next', 'at a gradual pace',
  'in spite of the weather', 'on most market days', 'between the two rivers', 'as the town expanded',
  'for reasons no one wrote down', 'until the roads improved',
];

/** Short complete sentences used to land within a few tokens of a budget. */
const SHORT = [
  'Little else changed.', 'Few people noticed.', 'The work continued.', 'Nobody complained.', 'It rained often.',
  'The bells rang.', 'Life went on.', 'Winters were hard.', 'Trade was slow.', 'Opinions differed.', 'It was quiet.',
];

/** A phrase in the forms a sentence position needs, each with its o200k token count. */
interface Phrase {
  /** Sentence-initial, capitalized, no leading space (paragraph start). */
  bare: string;
  bareTokens: number;
  /** Capitalized with a leading space (sentence start inside a paragraph). */
  capSpaced: string;
  capSpacedTokens: number;
  /** Lowercase with a leading space (inside a sentence). */
  spaced: string;
  spacedTokens: number;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function phrase(text: string): Phrase {
  const bare = capitalize(text);
  const capSpaced = ` ${bare}`;
  const spaced = ` ${text}`;
  return {
    bare,
    bareTokens: pieceTokens(bare),
    capSpaced,
    capSpacedTokens: pieceTokens(capSpaced),
    spaced,
    spacedTokens: pieceTokens(spaced),
  };
}

interface Tables {
  openers: Phrase[];
  subjects: Phrase[];
  verbs: Phrase[];
  objects: Phrase[];
  adjuncts: Phrase[];
  short: Phrase[];
  periodTokens: number;
  commaAndTokens: number;
  /** Tokens that "\n\n" adds after a sentence-final "." (the tokenizer glues ".\n\n" into one pretoken). */
  paragraphBreakDelta: number;
  /** Upper bound on the tokens of one full sentence (period and paragraph break included). */
  maxFullTokens: number;
}

let tables: Tables | null = null;

/** Built on first use (a few hundred tokenizations, ~10 ms) and shared by every writer in the process. */
function getTables(): Tables {
  if (tables) return tables;
  const openers = OPENERS.map(phrase);
  const subjects = SUBJECTS.map(phrase);
  const verbs = VERBS.map(phrase);
  const objects = OBJECTS.map(phrase);
  const adjuncts = ADJUNCTS.map(phrase);
  const most = (ps: Phrase[]): number => Math.max(...ps.map((p) => Math.max(p.bareTokens, p.capSpacedTokens, p.spacedTokens)));
  const periodTokens = pieceTokens('.');
  const commaAndTokens = pieceTokens(', and');
  const paragraphBreakDelta = pieceTokens('.\n\n') - pieceTokens('.');
  tables = {
    openers, subjects, verbs, objects, adjuncts,
    short: SHORT.map(phrase),
    periodTokens,
    commaAndTokens,
    paragraphBreakDelta,
    maxFullTokens:
      most(openers) + 2 * (most(subjects) + most(verbs) + most(objects)) + most(adjuncts) + commaAndTokens + periodTokens +
      Math.max(0, paragraphBreakDelta),
  };
  return tables;
}

/** The token cost of a paragraph break placed after a sentence ending in "." (exported for other layouts). */
export function paragraphBreakDelta(): number {
  return getTables().paragraphBreakDelta;
}

export const PARAGRAPH_BREAK = '\n\n';

/**
 * A stream of filler paragraphs written into a caller-owned TextSink (TextBuilder or ByteTextBuilder).
 * The writer tracks paragraph state so that callers can interleave their own sentences (needles, facts) with filler
 * at sentence boundaries and still get exact token counts.
 */
export class FillerWriter {
  private readonly rng: Rng;
  private readonly t: Tables;
  private atParagraphStart = true;
  private lastShort = -1;
  private sentencesLeft: number;
  private readonly minSentences: number;
  private readonly maxSentences: number;
  /** Reusable index buffer for the sentence being composed (no allocation per sentence). */
  private readonly picks: Phrase[] = [];

  constructor(rng: Rng, paragraphSentences: [number, number] = [3, 8]) {
    this.rng = rng;
    this.t = getTables();
    this.minSentences = paragraphSentences[0];
    this.maxSentences = paragraphSentences[1];
    this.sentencesLeft = this.rng.range(this.minSentences, this.maxSentences);
  }

  get isAtParagraphStart(): boolean {
    return this.atParagraphStart;
  }

  /**
   * Appends one filler sentence of at most `maxTokens` tokens (paragraph break included when it ends a paragraph).
   * Returns the tokens added, or 0 when nothing fits (then nothing was written).
   */
  writeSentence(out: TextSink, maxTokens = Number.POSITIVE_INFINITY): number {
    const t = this.t;
    // Bulk path: far from the budget, compose and write in one pass (no look-ahead bookkeeping).
    if (maxTokens >= t.maxFullTokens) return this.emitDirect(out);
    const endsParagraph = this.sentencesLeft <= 1;
    const tail = t.periodTokens + (endsParagraph ? t.paragraphBreakDelta : 0);
    // Up to four tries at a full sentence, then short sentences: lands within a few tokens of any budget.
    for (let attempt = 0; attempt < 4; attempt++) {
      const cost = this.composeFull() + tail;
      if (cost <= maxTokens) {
        this.emit(out);
        return cost;
      }
    }
    const startIdx = this.rng.int(t.short.length);
    for (let k = 0; k < t.short.length; k++) {
      const idx = (startIdx + k) % t.short.length;
      // Never the same short sentence twice in a row ("Life went on. Life went on." reads like a glitch).
      if (idx === this.lastShort) continue;
      const p = t.short[idx];
      // Short sentences carry their own period; only the paragraph break delta is extra.
      const cost = (this.atParagraphStart ? p.bareTokens : p.capSpacedTokens) + (endsParagraph ? t.paragraphBreakDelta : 0);
      if (cost <= maxTokens) {
        out.push(this.atParagraphStart ? p.bare : p.capSpaced);
        this.lastShort = idx;
        this.afterSentence(out, false);
        return cost;
      }
    }
    return 0;
  }

  /** Writes filler sentences until `budget` tokens are used (within a few tokens). Returns tokens added. */
  fill(out: TextSink, budget: number): number {
    let used = 0;
    while (used < budget) {
      const n = this.writeSentence(out, budget - used);
      if (n === 0) break;
      used += n;
    }
    return used;
  }

  /**
   * Writes whole sentences until at least `target` tokens are added (overshooting by part of a sentence), never more
   * than `hardMax`. For positions inside a text (where a needle or fact goes), where landing exactly on a token count
   * does not matter and short top-up sentences would only read oddly. Returns tokens added.
   */
  fillPast(out: TextSink, target: number, hardMax: number): number {
    let used = 0;
    while (used < target) {
      const n = this.writeSentence(out, hardMax - used);
      if (n === 0) break;
      used += n;
    }
    return used;
  }

  /**
   * Appends a caller's sentence (`body` must end with "." and start with a capital letter or digit, no leading space)
   * at the current position, as part of the current paragraph. Returns the tokens added.
   */
  insertSentence(out: TextSink, body: string): number {
    const text = this.atParagraphStart ? body : ` ${body}`;
    const endsParagraph = this.sentencesLeft <= 1;
    out.push(text);
    this.afterSentence(out, false);
    return pieceTokens(text) + (endsParagraph ? this.t.paragraphBreakDelta : 0);
  }

  /**
   * Like insertSentence, for a sentence given as pretoken-aligned pieces (`pieces[0]` without a leading space, the
   * others with theirs), so that its token count is a sum of cached piece counts instead of a fresh tokenization.
   */
  insertPieces(out: TextSink, pieces: readonly string[], restTokens?: number): number {
    const first = this.atParagraphStart ? pieces[0] : ` ${pieces[0]}`;
    const endsParagraph = this.sentencesLeft <= 1;
    let tokens = pieceTokens(first);
    out.push(first);
    for (let i = 1; i < pieces.length; i++) out.push(pieces[i]);
    // Callers that already counted pieces[1…] (to plan a budget) pass that sum instead of recounting.
    if (restTokens !== undefined) tokens += restTokens;
    else for (let i = 1; i < pieces.length; i++) tokens += pieceTokens(pieces[i]);
    this.afterSentence(out, false);
    return tokens + (endsParagraph ? this.t.paragraphBreakDelta : 0);
  }

  /** Ends the current paragraph now (no-op at a paragraph start). Returns the tokens added. */
  breakParagraph(out: TextSink): number {
    if (this.atParagraphStart) return 0;
    out.push(PARAGRAPH_BREAK);
    this.atParagraphStart = true;
    this.sentencesLeft = this.rng.range(this.minSentences, this.maxSentences);
    return this.t.paragraphBreakDelta;
  }

  /** Removes a trailing paragraph break so the text ends with its last sentence. Returns the (negative) token delta. */
  finish(out: TextSink): number {
    return out.popPiece(PARAGRAPH_BREAK) ? -this.t.paragraphBreakDelta : 0;
  }

  /** Chooses the phrases of a full sentence into `picks`; returns their tokens (without the final period). */
  private composeFull(): number {
    const t = this.t;
    const rng = this.rng;
    const picks = this.picks;
    picks.length = 0;
    let cost = 0;
    const start = this.atParagraphStart;
    if (rng.next() < 0.3) {
      const o = t.openers[rng.int(t.openers.length)];
      picks.push(o);
      cost += start ? o.bareTokens : o.capSpacedTokens;
      const s = t.subjects[rng.int(t.subjects.length)];
      picks.push(s);
      cost += s.spacedTokens;
    } else {
      const s = t.subjects[rng.int(t.subjects.length)];
      picks.push(s);
      cost += start ? s.bareTokens : s.capSpacedTokens;
    }
    const v = t.verbs[rng.int(t.verbs.length)];
    const o = t.objects[rng.int(t.objects.length)];
    picks.push(v, o);
    cost += v.spacedTokens + o.spacedTokens;
    if (rng.next() < 0.55) {
      const a = t.adjuncts[rng.int(t.adjuncts.length)];
      picks.push(a);
      cost += a.spacedTokens;
    }
    if (rng.next() < 0.2) {
      // ", and <subject> <verb> <object>": the comma piece is ", and" so every piece still starts on a boundary.
      const s2 = t.subjects[rng.int(t.subjects.length)];
      const v2 = t.verbs[rng.int(t.verbs.length)];
      const o2 = t.objects[rng.int(t.objects.length)];
      picks.push(COMMA_AND, s2, v2, o2);
      cost += t.commaAndTokens + s2.spacedTokens + v2.spacedTokens + o2.spacedTokens;
    }
    return cost;
  }

  /** Draws and writes a full sentence directly; same distribution as composeFull + emit. Returns its tokens. */
  private emitDirect(out: TextSink): number {
    const t = this.t;
    const rng = this.rng;
    const start = this.atParagraphStart;
    let cost = t.periodTokens + (this.sentencesLeft <= 1 ? t.paragraphBreakDelta : 0);
    if (rng.next() < 0.3) {
      const o = t.openers[rng.int(t.openers.length)];
      out.push(start ? o.bare : o.capSpaced);
      cost += start ? o.bareTokens : o.capSpacedTokens;
      const s = t.subjects[rng.int(t.subjects.length)];
      out.push(s.spaced);
      cost += s.spacedTokens;
    } else {
      const s = t.subjects[rng.int(t.subjects.length)];
      out.push(start ? s.bare : s.capSpaced);
      cost += start ? s.bareTokens : s.capSpacedTokens;
    }
    const v = t.verbs[rng.int(t.verbs.length)];
    const o = t.objects[rng.int(t.objects.length)];
    out.push(v.spaced);
    out.push(o.spaced);
    cost += v.spacedTokens + o.spacedTokens;
    if (rng.next() < 0.55) {
      const a = t.adjuncts[rng.int(t.adjuncts.length)];
      out.push(a.spaced);
      cost += a.spacedTokens;
    }
    if (rng.next() < 0.2) {
      const s2 = t.subjects[rng.int(t.subjects.length)];
      const v2 = t.verbs[rng.int(t.verbs.length)];
      const o2 = t.objects[rng.int(t.objects.length)];
      out.push(', and');
      out.push(s2.spaced);
      out.push(v2.spaced);
      out.push(o2.spaced);
      cost += t.commaAndTokens + s2.spacedTokens + v2.spacedTokens + o2.spacedTokens;
    }
    this.afterSentence(out, true);
    return cost;
  }

  private emit(out: TextSink): void {
    const picks = this.picks;
    for (let i = 0; i < picks.length; i++) {
      const p = picks[i];
      if (p === COMMA_AND) out.push(', and');
      else if (i === 0) out.push(this.atParagraphStart ? p.bare : p.capSpaced);
      else out.push(p.spaced);
    }
    this.afterSentence(out, true);
  }

  private afterSentence(out: TextSink, pushPeriod: boolean): void {
    if (pushPeriod) out.push('.');
    this.atParagraphStart = false;
    this.sentencesLeft--;
    if (this.sentencesLeft <= 0) {
      out.push(PARAGRAPH_BREAK);
      this.atParagraphStart = true;
      this.sentencesLeft = this.rng.range(this.minSentences, this.maxSentences);
    }
  }
}

/** Marker phrase for the ", and" joint of compound sentences (identity-compared in `emit`). */
const COMMA_AND: Phrase = {
  bare: ', and',
  bareTokens: 0,
  capSpaced: ', and',
  capSpacedTokens: 0,
  spaced: ', and',
  spacedTokens: 0,
};
