/**
 * Turning a model reply into actions: the fenced code blocks to run, and a text-level FINAL when there is no code.
 */

const FENCE = /```[ \t]*(repl|js|javascript|jsx|ts|typescript)?[ \t]*\r?\n([\s\S]*?)```/g;
const RUNNABLE = new Set(['repl', 'js', 'javascript']);

/** The ```repl / ```js / ```javascript blocks of a reply, in order. Other fences (python, bare ```) are not run. */
export function extractCodeBlocks(reply: string): string[] {
  const blocks: string[] = [];
  for (const m of reply.matchAll(FENCE)) {
    const lang = (m[1] ?? '').toLowerCase();
    if (RUNNABLE.has(lang) && m[2].trim() !== '') blocks.push(m[2]);
  }
  return blocks;
}

/** True when the reply has fenced blocks in some other language (e.g. ```python) — worth a hint to the model. */
export function hasForeignCodeBlock(reply: string): boolean {
  for (const m of reply.matchAll(FENCE)) if (!RUNNABLE.has((m[1] ?? '').toLowerCase())) return true;
  return /```(python|py|bash|sh)\b/.test(reply);
}

export type TextFinal = { kind: 'FINAL'; value: string } | { kind: 'FINAL_VAR'; name: string };

/**
 * A FINAL(...) / FINAL_VAR(name) written as plain text. Only consulted when the reply has no code block, because models
 * hallucinate REPL output and then "finalize" on it. The argument runs to the matching close paren (nesting and quotes
 * respected), so `FINAL(f(x) = 3)` keeps its inner parens; surrounding quotes are stripped.
 */
export function extractTextFinal(reply: string): TextFinal | null {
  const re = /\bFINAL(_VAR)?\s*\(/g;
  let found: TextFinal | null = null;
  for (const m of reply.matchAll(re)) {
    const start = m.index! + m[0].length;
    const end = matchingParen(reply, start);
    if (end < 0) continue;
    const arg = stripQuotes(reply.slice(start, end).trim());
    found = m[1] ? { kind: 'FINAL_VAR', name: arg } : { kind: 'FINAL', value: arg };
  }
  return found; // the last one wins: models restate their answer at the end
}

function matchingParen(s: string, from: number): number {
  let depth = 1;
  let quote: string | null = null;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function stripQuotes(s: string): string {
  const q = s[0];
  if (s.length >= 2 && (q === '"' || q === "'" || q === '`') && s[s.length - 1] === q) return s.slice(1, -1);
  return s;
}
