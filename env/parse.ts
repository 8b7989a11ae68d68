/**
 * Turning a model reply into actions: the fenced code blocks to run, and a text-level FINAL when there is no code.
 * Reasoning is not action: inline <think>…</think> (or an unterminated <think>) is removed first (env/reasoning.ts).
 */
import { splitReasoning } from './reasoning.ts';

/** Fence languages that run, per REPL language (```repl always does). */
const RUNNABLE: Record<'js' | 'python', Set<string>> = {
  js: new Set(['repl', 'js', 'javascript']),
  python: new Set(['repl', 'python', 'py']),
};
const OPEN = /^\s*```[ \t]*([\w.+-]*)[^\n`]*$/;
const CLOSE = /^(.*?)```\s*$/;

interface Fence {
  lang: string;
  body: string;
}

/**
 * Fenced blocks, scanned line by line: a fence opens on a line starting with ``` (optional language) and closes at the
 * next line ending with ``` (text before it on that line belongs to the block). An unclosed fence runs to the end.
 */
function fences(reply: string): Fence[] {
  const out: Fence[] = [];
  let open: { lang: string; lines: string[] } | null = null;
  for (const line of reply.split('\n')) {
    if (!open) {
      const m = OPEN.exec(line);
      if (m) open = { lang: m[1].toLowerCase(), lines: [] };
      continue;
    }
    const c = CLOSE.exec(line);
    if (c) {
      if (c[1].trim() !== '') open.lines.push(c[1]);
      out.push({ lang: open.lang, body: open.lines.length ? open.lines.join('\n') + '\n' : '' });
      open = null;
    } else {
      open.lines.push(line);
    }
  }
  if (open) out.push({ lang: open.lang, body: open.lines.join('\n') });
  return out;
}

/**
 * The blocks of a reply that run, in order: ```repl / ```js / ```javascript for the JavaScript REPL, ```repl / ```python /
 * ```py for the Python one. Other fences (the other language, bare ```) are not run.
 */
export function extractCodeBlocks(reply: string, repl: 'js' | 'python' = 'js'): string[] {
  const runnable = RUNNABLE[repl];
  return fences(splitReasoning(reply).action)
    .filter((f) => runnable.has(f.lang) && f.body.trim() !== '')
    .map((f) => f.body);
}

/** True when the reply has fenced blocks in some other language (e.g. ```python for the JS REPL) — worth a hint to the model. */
export function hasForeignCodeBlock(reply: string, repl: 'js' | 'python' = 'js'): boolean {
  const runnable = RUNNABLE[repl];
  return fences(splitReasoning(reply).action).some((f) => f.lang !== '' && !runnable.has(f.lang));
}

export type TextFinal = { kind: 'FINAL'; value: string } | { kind: 'FINAL_VAR'; name: string };

/**
 * A FINAL(...) / FINAL_VAR(name) written as plain text. Only consulted when the reply has no code block, because models
 * hallucinate REPL output and then "finalize" on it. The argument runs to the matching close paren (nesting and quotes
 * respected), so `FINAL(f(x) = 3)` keeps its inner parens; surrounding quotes are stripped.
 */
export function extractTextFinal(text: string): TextFinal | null {
  const reply = splitReasoning(text).action;
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
