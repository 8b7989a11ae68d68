import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * o200k token counts of model/environment text, in linear time.
 *
 * The BPE is quadratic in the length of one pretoken: a run of 160,000 'a' (or '=', spaces, newlines) is one pretoken
 * and took ~17 s to count in one go, freezing the event loop. So text is counted in segments: cut before a space that
 * follows a non-space (a pretoken boundary of o200k: " word" always starts a pretoken), and a run longer than
 * MAX_RUN chars with no such boundary is cut every MAX_RUN chars. Counts are exact except inside such long runs (each
 * piece is counted alone: merges across a cut are lost, so the count there can be a little higher).
 *
 * Special-token strings such as "<|endoftext|>" are counted as plain text: gpt-tokenizer throws on them by default,
 * and a model may well write one.
 */
const OPTS = { disallowedSpecial: new Set<string>() };
/** Longest stretch without a pretoken boundary counted in one piece (cost per piece grows with its square). */
const MAX_RUN = 256;
/** Segments are cut at a boundary once this long (bounds the BPE's working set). */
const SEGMENT = 4_096;
/** The async counter yields to the event loop after about this many chars (~10–20 ms of BPE on a busy core). */
const SLICE = 32_768;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xa0;
}

/** End of the segment that starts at `start` (see above). Each call scans only its segment (plus < MAX_RUN): linear. */
function segmentEnd(text: string, start: number): number {
  const n = text.length;
  let lastCut = -1;
  for (let i = start + 1; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 && !isSpace(text.charCodeAt(i - 1))) lastCut = i;
    if (i - start >= SEGMENT && lastCut > start) return lastCut;
    if (i - (lastCut > start ? lastCut : start) >= MAX_RUN) {
      if (lastCut > start) return lastCut;
      return c >= 0xdc00 && c <= 0xdfff ? i + 1 : i; // never split a surrogate pair
    }
  }
  return n;
}

/** o200k token count of model/environment text (linear time; see above). */
export function countTextTokens(text: string): number {
  if (text.length <= MAX_RUN) return text.length === 0 ? 0 : countTokens(text, OPTS);
  let total = 0;
  for (let a = 0; a < text.length; ) {
    const b = segmentEnd(text, a);
    total += countTokens(text.slice(a, b), OPTS);
    a = b;
  }
  return total;
}

/** The same count, yielding to the event loop every ~32K chars: no input blocks other episodes. */
export async function countTextTokensAsync(text: string): Promise<number> {
  if (text.length <= SLICE) return countTextTokens(text);
  let total = 0;
  let since = 0;
  for (let a = 0; a < text.length; ) {
    const b = segmentEnd(text, a);
    total += countTokens(text.slice(a, b), OPTS);
    since += b - a;
    a = b;
    if (since >= SLICE) {
      since = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return total;
}
