/**
 * Answer normalization and the scoring primitives shared by the families. Every function here accepts any input
 * (a policy may produce `undefined`, a number, an object) and never throws: malformed predictions simply score 0.
 */

/** Coerces whatever the policy produced into a string ('' for null/undefined, JSON for objects). */
export function predictionText(prediction: unknown): string {
  if (prediction === null || prediction === undefined) return '';
  if (typeof prediction === 'string') return prediction;
  if (typeof prediction === 'number' || typeof prediction === 'boolean' || typeof prediction === 'bigint') {
    return String(prediction);
  }
  try {
    return JSON.stringify(prediction) ?? '';
  } catch {
    return '';
  }
}

const LEAD_IN = /^(?:final answer|the answer is|answer|label|result)\s*[:：-]\s*/i;
const WRAPPERS = /^[\s"'`*_([{<“‘«]+|[\s"'`*_)\]}>”’».,;:!?]+$/g;

/**
 * Canonical form for exact-match comparison: Unicode NFKC, lowercase, a leading "Answer:"/"Label:"-style lead-in
 * removed, surrounding quotes/brackets/markdown emphasis and trailing punctuation stripped, inner whitespace collapsed.
 * Inner punctuation is kept (UUID hyphens, initials) because it is part of many values.
 */
export function normalizeAnswer(value: unknown): string {
  let s = predictionText(value).normalize('NFKC').trim();
  for (let i = 0; i < 3; i++) {
    const before = s;
    s = s.replace(LEAD_IN, '').replace(WRAPPERS, '').trim();
    if (s === before) break;
  }
  return s.replace(/\s+/g, ' ').toLowerCase();
}

/** Normalized exact match against the gold answer or any alias. */
export function matchesAny(prediction: unknown, gold: string, aliases: readonly string[] = []): boolean {
  const p = normalizeAnswer(prediction);
  if (p.length === 0) return false;
  if (p === normalizeAnswer(gold)) return true;
  return aliases.some((a) => p === normalizeAnswer(a));
}

/**
 * The first number in the text, or null. Accepts thousands separators ("1,234"), a sign and decimals; a number glued
 * to letters on its left (an id like "u42") is not taken as the answer.
 */
export function parseFirstNumber(value: unknown): number | null {
  const s = predictionText(value);
  const m = /(?<![\p{L}\d])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?/u.exec(s);
  if (!m) return null;
  const n = Number(m[0].replace(/,/g, ''));
  return Number.isFinite(n) ? n : null;
}

/** OOLONG's numeric score: 0.75^|gold − predicted|; 0 when no number can be read. */
export function numericScore(gold: number, predicted: number | null): number {
  if (predicted === null) return 0;
  return Math.pow(0.75, Math.abs(gold - predicted));
}

/**
 * Every `a, b` pair of integers in the text, order inside a pair ignored, duplicates removed. Tolerates `(a, b)` lines,
 * `[a,b]` JSON arrays, extra whitespace and surrounding prose. Returned as canonical keys "min,max".
 */
export function parsePairs(value: unknown): Set<string> {
  const s = predictionText(value);
  const out = new Set<string>();
  const re = /(\d+)\s*,\s*(\d+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    out.add(pairKey(Number(m[1]), Number(m[2])));
  }
  return out;
}

export function pairKey(a: number, b: number): string {
  return a <= b ? `${a},${b}` : `${b},${a}`;
}

export interface F1Result {
  f1: number;
  precision: number;
  recall: number;
  truePositives: number;
  predicted: number;
  gold: number;
}

/** Set F1; both sets empty counts as a perfect answer (there was nothing to find and nothing was claimed). */
export function setF1(gold: ReadonlySet<string>, predicted: ReadonlySet<string>): F1Result {
  let tp = 0;
  for (const p of predicted) if (gold.has(p)) tp++;
  if (gold.size === 0 && predicted.size === 0) {
    return { f1: 1, precision: 1, recall: 1, truePositives: 0, predicted: 0, gold: 0 };
  }
  const precision = predicted.size === 0 ? 0 : tp / predicted.size;
  const recall = gold.size === 0 ? 0 : tp / gold.size;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { f1, precision, recall, truePositives: tp, predicted: predicted.size, gold: gold.size };
}
