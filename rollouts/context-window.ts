/**
 * Context windows: what a request may hold, counted as exactly as the server allows.
 *
 * - The window is `max_model_len` from GET /v1/models (vLLM ModelCard, vllm/entrypoints/openai/engine/protocol.py;
 *   older: vllm/entrypoints/openai/protocol.py), unless --max-model-len / --sub-max-model-len say otherwise.
 * - A prompt is counted with the server's own tokenizer and chat template (vLLM POST /tokenize, chat form with
 *   `messages`, `add_generation_prompt: true`, the request's `chat_template_kwargs`; TokenizeChatRequest /
 *   TokenizeResponse{count, max_model_len, tokens} in vllm/entrypoints/serve/tokenize/protocol.py). Without /tokenize
 *   (another server, or /tokenize refusing an over-long text as some vLLM versions do) the count is a conservative
 *   estimate: o200k tokens × 1.25 + 8 per message + 8 — it over-counts every common tokenizer on prose and code.
 * - `max_tokens` is clamped to what is left; when fewer than MIN_COMPLETION_TOKENS would be left the request is not
 *   sent and the episode ends `context_window` (or, with `drop-oldest`, the oldest turns are left out of the request).
 * - The server's own length error (HTTP 400) is recognised in every wording vLLM has used (see OVERFLOW_PATTERN).
 */
import type { Message } from '../env/types.ts';
import { countTextTokens } from '../env/tokens.ts';
import { ContextWindowExceededError } from './errors.ts';

/** Fewer completion tokens than this left in the window ⇒ the request is not worth sending. */
export const MIN_COMPLETION_TOKENS = 16;
/** Characters per token assumed when a window is stated in characters (conservative: real tokenizers do ~4 on prose). */
export const CHARS_PER_TOKEN = 3;

export type ContextPolicy = 'truncate' | 'drop-oldest';
export const CONTEXT_POLICIES: readonly ContextPolicy[] = ['truncate', 'drop-oldest'];

/**
 * vLLM's too-long-prompt messages across versions (formats notes; vllm/entrypoints/openai/serving_engine.py ≤ 0.10,
 * vllm/renderers/ and vllm/v1/engine/input_processor.py since): "This model's maximum context length is N tokens.
 * However, you requested M tokens (…)", "… However, your request has N input tokens …", "You passed N input tokens and
 * requested K output tokens. However, the model's context length is only L tokens …", the char pre-check "You passed N
 * input characters …", and "… too long to fit into the model" / "longer than the maximum model length".
 */
export const OVERFLOW_PATTERN = /maximum context length|context length is only|too long to fit into the model|longer than the maximum model length|input characters/i;
/** `max_tokens` alone above the window is a configuration error, not an overflow of the conversation. */
const MAX_TOKENS_ALONE = /cannot be greater than max_model_len/i;

export function isContextOverflowMessage(message: string): boolean {
  return OVERFLOW_PATTERN.test(message) && !MAX_TOKENS_ALONE.test(message);
}

/** The window and the input tokens a vLLM overflow message states, when it states them. */
export function parseOverflow(message: string): { maxModelLen: number | null; inputTokens: number | null } {
  const num = (re: RegExp) => {
    const m = re.exec(message);
    return m ? Number(m[1].replace(/,/g, '')) : null;
  };
  const maxModelLen = num(/maximum context length is ([\d,]+)/i) ?? num(/context length is only ([\d,]+)/i);
  const inputTokens = num(/request has ([\d,]+) input tokens/i) ?? num(/You passed ([\d,]+) input tokens/i) ?? num(/([\d,]+) in the messages/i);
  return { maxModelLen, inputTokens };
}

/** Throws ContextWindowExceededError when `e` is the server's length error; returns otherwise. */
export function rethrowOverflow(e: unknown): void {
  const status = (e as { status?: number | null })?.status;
  const message = e instanceof Error ? e.message : String(e);
  if ((status === 400 || status === 413 || status === undefined || status === null) && isContextOverflowMessage(message)) {
    const p = parseOverflow(message);
    throw new ContextWindowExceededError(message, p.maxModelLen, p.inputTokens);
  }
}

const estimates = new WeakMap<Message, number>();

/** Conservative prompt-token estimate of chat messages (no tokenizer of the served model at hand). */
export function estimatePromptTokens(messages: readonly Message[]): number {
  let n = 8;
  for (const m of messages) {
    let t = estimates.get(m);
    if (t === undefined) {
      t = Math.ceil(countTextTokens(m.content) * 1.25) + 8;
      if (typeof m === 'object') estimates.set(m, t);
    }
    n += t;
  }
  return n;
}

/** POST {base}/tokenize with chat messages. null = the server has no /tokenize (or refused this text). */
export async function tokenizeChat(
  endpoint: string,
  body: { model: string; messages: readonly Message[]; chat_template_kwargs?: unknown },
  apiKey?: string,
  signal?: AbortSignal,
): Promise<{ count: number; maxModelLen: number | null } | null> {
  const base = endpoint.replace(/\/+$/, '').replace(/\/v1$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({
        model: body.model,
        messages: body.messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: true,
        add_special_tokens: false,
        ...(body.chat_template_kwargs ? { chat_template_kwargs: body.chat_template_kwargs } : {}),
      }),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(60_000)]) : AbortSignal.timeout(60_000),
    });
  } catch {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  const json = (await res.json().catch(() => null)) as { count?: unknown; tokens?: unknown; max_model_len?: unknown } | null;
  const count = typeof json?.count === 'number' ? json.count : Array.isArray(json?.tokens) ? json.tokens.length : null;
  if (count === null) return null;
  return { count, maxModelLen: typeof json?.max_model_len === 'number' ? json.max_model_len : null };
}

/** What a client offers for fitting requests into its window. */
export interface WindowedClient {
  readonly endpoint: string;
  model: string;
  /** Tokens of prompt + completion the served model takes; null = unknown (nothing is clamped). */
  maxModelLen: number | null;
  /** Whether /tokenize answered when probed (exact counts) — false ⇒ estimates. */
  exactCounts: boolean;
  countPromptTokens(messages: readonly Message[], chatTemplateKwargs?: unknown, signal?: AbortSignal): Promise<number | null>;
}

export interface RequestPlan {
  /** The messages to send (all of them, or system + task + the last turns with drop-oldest). */
  messages: Message[];
  maxTokens: number;
  promptTokens: number | null;
  /** 'server' = /tokenize counted it; 'estimate' = conservative estimate; null = no window known. */
  counted: 'server' | 'estimate' | null;
  droppedTurns: number;
}

export const DROPPED_TURNS_NOTE = (n: number) =>
  `[Context window: the oldest ${n} turn${n === 1 ? ' was' : 's were'} left out of this conversation to fit the model's window. Every REPL variable you defined is still there — re-inspect with SHOW_VARS() or print().]`;

/**
 * Fits the next request of an episode into the client's window. Returns null when it cannot fit (the episode ends
 * `context_window`). `maxTokens` is the configured completion budget; the plan's is clamped to what is left.
 */
export async function planRequest(
  client: WindowedClient,
  messages: readonly Message[],
  maxTokens: number,
  policy: ContextPolicy,
  chatTemplateKwargs?: unknown,
  signal?: AbortSignal,
): Promise<RequestPlan | null> {
  const window = client.maxModelLen;
  if (window === null) return { messages: [...messages], maxTokens, promptTokens: null, counted: null, droppedTurns: 0 };
  const count = async (ms: readonly Message[]) => {
    const exact = client.exactCounts ? await client.countPromptTokens(ms, chatTemplateKwargs, signal) : null;
    return exact !== null ? { n: exact, counted: 'server' as const } : { n: estimatePromptTokens(ms), counted: 'estimate' as const };
  };
  const fits = (n: number) => window - n >= MIN_COMPLETION_TOKENS;
  const full = await count(messages);
  if (fits(full.n)) return { messages: [...messages], maxTokens: Math.min(maxTokens, window - full.n), promptTokens: full.n, counted: full.counted, droppedTurns: 0 };
  if (policy !== 'drop-oldest') return null;

  // system + task message, then (assistant, user) pairs; the request must keep the last observation.
  const head = messages.slice(0, 2);
  const pairs: Message[][] = [];
  for (let i = 2; i < messages.length; i += 2) pairs.push(messages.slice(i, i + 2) as Message[]);
  const build = (drop: number): Message[] => {
    const kept = pairs.slice(drop).flat();
    if (kept.length === 0) return [...head];
    const last = kept[kept.length - 1];
    kept[kept.length - 1] = { role: last.role, content: `${DROPPED_TURNS_NOTE(drop)}\n${last.content}` };
    return [...head, ...kept];
  };
  // Pick the drop count by the estimate scaled to the exact count, then confirm (and drop more) with real counts.
  const ratio = full.n / estimatePromptTokens(messages);
  let drop = 1;
  while (drop < pairs.length && !fits(Math.ceil(estimatePromptTokens(build(drop)) * ratio))) drop++;
  for (; drop <= pairs.length - 1; drop++) {
    const ms = build(drop);
    const c = await count(ms);
    if (fits(c.n)) return { messages: ms, maxTokens: Math.min(maxTokens, window - c.n), promptTokens: c.n, counted: c.counted, droppedTurns: drop };
  }
  return null; // even system + task + the last turn does not fit
}
