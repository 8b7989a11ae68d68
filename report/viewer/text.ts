/** How a reply is shown: reasoning split out, executed code fences pointing at the highlighted cells. No DOM here. */

/**
 * Inline reasoning in a reply, split out when there is no reasoning field: `<think>…</think>`, an unterminated
 * `<think>` (cut at max_tokens), or a reply that only closes it (Qwen3 templates open `<think>` in the prompt).
 */
export function splitThink(reply: string): { reasoning: string | null; rest: string } {
  const m = /<think>([\s\S]*?)(<\/think>|$)/.exec(reply);
  if (!m) {
    const close = reply.indexOf('</think>');
    return close < 0 ? { reasoning: null, rest: reply } : { reasoning: reply.slice(0, close).trim(), rest: reply.slice(close + 8).trim() };
  }
  return { reasoning: m[1].trim(), rest: (reply.slice(0, m.index) + reply.slice(m.index + m[0].length)).trim() };
}

/** The reply with its executed code fences replaced by a pointer to the highlighted cell below (when they line up). */
export function replyProse(reply: string, cells: number): string {
  let n = 0;
  const out = reply.replace(/```(?:repl|js|javascript|python|py)[^\n]*\n[\s\S]*?```/g, () => `⟨code cell ${++n} below⟩`);
  return n === cells && n > 0 ? out : reply;
}

