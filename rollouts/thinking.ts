/**
 * `--thinking on|off` for Qwen3-style chat templates: `chat_template_kwargs.enable_thinking` in the request body (and
 * in /tokenize counts, so the pre-filled empty `<think></think>` of thinking-off is counted). An explicit
 * `--extra-body '{"chat_template_kwargs":{"enable_thinking":…}}'` wins over the flag.
 */
export function withThinking(extraBody: Record<string, unknown> | null | undefined, thinking: boolean | undefined): Record<string, unknown> | null {
  if (thinking === undefined) return extraBody ?? null;
  const kwargs = (extraBody?.chat_template_kwargs ?? {}) as Record<string, unknown>;
  return { ...(extraBody ?? {}), chat_template_kwargs: { enable_thinking: thinking, ...kwargs } };
}
