/**
 * Reasoning is not action. A thinking model's reply has two parts: its reasoning (vLLM's reasoning field, or inline
 * `<think>…</think>` when the server runs no reasoning parser) and the answer after it. Only the answer is parsed for
 * code blocks and text-level FINAL(...); the reasoning is recorded apart (steps.reasoning) and by default not sent back.
 *
 * Forms handled (vLLM's qwen3 parser, vllm/reasoning/qwen3_reasoning_parser.py, and its older versions):
 * - reasoning in the message's field, content = the answer (any parser version, `</think>` present);
 * - no field, `<think>R</think>C` inline in content (no parser, or a template that leaves the tags in the text);
 * - an unterminated `<think>R` (cut at max_tokens): older parsers (≤ ~0.12) return it as content — it is all reasoning;
 *   newer ones return it in the field with content null — also all reasoning. Either way nothing runs.
 * - a lone `</think>` without an opening tag (newer Qwen templates put `<think>` in the prompt): before it = reasoning.
 */

export interface SplitReply {
  /** The reasoning (field + inline, joined by a blank line), or null when there is none. */
  reasoning: string | null;
  /** The answer after the reasoning: what is parsed for code and FINAL. */
  action: string;
  /** The reply as the model generated it (reasoning re-wrapped in <think> tags): sent back with keepReasoning. */
  full: string;
}

const OPEN = '<think>';
const CLOSE = '</think>';

/** Splits a reply into reasoning and action. `field` is the server's reasoning field (`reasoning` / `reasoning_content`). */
export function splitReasoning(content: string, field?: string | null): SplitReply {
  const parts: string[] = [];
  if (typeof field === 'string' && field !== '') parts.push(field);
  let rest = content;
  let inlineSeen = false;
  // A lone </think> first (the opening tag was in the prompt): everything before it is reasoning.
  const firstClose = rest.indexOf(CLOSE);
  const firstOpen = rest.indexOf(OPEN);
  if (firstClose >= 0 && (firstOpen < 0 || firstClose < firstOpen)) {
    parts.push(rest.slice(0, firstClose));
    rest = rest.slice(firstClose + CLOSE.length);
    inlineSeen = true;
  }
  // Then every <think>…</think> block; an unterminated one runs to the end of the reply.
  let out = '';
  for (;;) {
    const o = rest.indexOf(OPEN);
    if (o < 0) {
      out += rest;
      break;
    }
    out += rest.slice(0, o);
    const c = rest.indexOf(CLOSE, o + OPEN.length);
    inlineSeen = true;
    if (c < 0) {
      parts.push(rest.slice(o + OPEN.length));
      break;
    }
    parts.push(rest.slice(o + OPEN.length, c));
    rest = rest.slice(c + CLOSE.length);
  }
  const cleaned = parts.map((p) => p.replace(/^\n+|\n+$/g, '')).filter((p) => p.trim() !== '');
  const reasoning = cleaned.length ? cleaned.join('\n\n') : null;
  const action = inlineSeen || parts.length ? out.replace(/^\s*\n/, '') : content;
  // The generated text: vLLM's parser splits `<think>R</think>C` into R and C exactly, so re-wrapping restores it.
  const full = typeof field === 'string' && field !== '' ? `${OPEN}${field}${CLOSE}${content}` : content;
  return { reasoning, action, full };
}
