/**
 * Token sizing with the o200k_base BPE (gpt-tokenizer) — the tokenizer of GPT-4o / GPT-5 class models.
 *
 * How sizes are measured (exact, not a chars/token estimate):
 * A BPE never merges across *pretoken* boundaries: the text is first split by a regex (words with their leading space,
 * runs of 1–3 digits, punctuation with trailing newlines, whitespace), and each pretoken is encoded independently.
 * So if a context is assembled from pieces that each start and end on a pretoken boundary, its token count is exactly
 * the sum of the pieces' counts. Generators build contexts from such pieces:
 *   - every piece after the first in a run starts with a space followed by a letter/digit, or with punctuation that
 *     cannot join the previous piece (a piece never ends in a space; letters never touch letters across pieces);
 *   - a newline always belongs to the piece holding the punctuation before it ("?\n", ".\n\n"), because the
 *     tokenizer glues trailing newlines onto punctuation.
 * Each distinct piece is tokenized once and cached, so a 10M-token context costs only cache look-ups, yet
 * `meta.contextTokens` is the true o200k count. Tests check the sum against a full tokenization of whole contexts.
 */
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base';

/** Full o200k_base token count of a string (no special tokens are expected in generated text). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  return countO200k(text);
}

const pieceCache = new Map<string, number>();
/** Bounded so that long-running processes generating many tasks with unique names do not grow without limit. */
const PIECE_CACHE_LIMIT = 500_000;

/**
 * Token count of a pretoken-aligned piece, cached.
 *
 * A piece of one line is counted word by word: in o200k's pretokenizer a single space always *starts* a pretoken
 * (" word", " (", or a lone " " before digits) and never ends one, so splitting at spaces never splits a pretoken.
 * Words recur far more than sentences (names, years, template words), so a unique sentence such as
 * "In 1987, she became chair of the Amber Coast Trust." costs a few cache hits instead of a BPE run.
 */
export function pieceTokens(piece: string): number {
  let n = pieceCache.get(piece);
  if (n === undefined) {
    n = piece.indexOf(' ', 1) !== -1 && piece.indexOf('\n') === -1 ? wordwiseTokens(piece) : countTokens(piece);
    remember(piece, n);
  }
  return n;
}

function remember(piece: string, n: number): void {
  if (pieceCache.size >= PIECE_CACHE_LIMIT) pieceCache.clear();
  pieceCache.set(piece, n);
}

function wordwiseTokens(piece: string): number {
  let total = 0;
  let start = 0;
  while (start < piece.length) {
    const next = piece.indexOf(' ', start + 1);
    const end = next === -1 ? piece.length : next;
    const word = piece.slice(start, end);
    let n = pieceCache.get(word);
    if (n === undefined) {
      n = countTokens(word);
      remember(word, n);
    }
    total += n;
    start = end;
  }
  return total;
}

/** A piece with its precomputed token count, for hot loops that must not even hash a string. */
export interface CountedPiece {
  text: string;
  tokens: number;
}

export function counted(text: string): CountedPiece {
  return { text, tokens: pieceTokens(text) };
}

/** Total characters of a list of strings, without joining them. */
export function totalChars(parts: readonly string[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
