/**
 * Policy clients: one small interface the runner uses, implemented over the `openai` SDK (vLLM, SGLang, llama.cpp,
 * OpenAI) and `@huggingface/inference`. Both record usage per call; the OpenAI one also keeps vLLM's token ids and
 * logprobs when asked. Retries live here (SDK retries are off) so every attempt is bounded and counted.
 */
import OpenAI from 'openai';
import { InferenceClient } from '@huggingface/inference';
import type { Message, TurnTokens } from '../env/types.ts';
import type { SamplingParams } from './types.ts';
import { EndpointUnreachableError } from './errors.ts';
import { MalformedResponseError, classifyError, withRetries, type RetryOptions } from './retry.ts';
import { rethrowOverflow, tokenizeChat } from './context-window.ts';
import { keepAliveFetch } from './http-fetch.ts';

export interface ChatResult {
  text: string;
  /** The model id the server says answered. */
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** Present when sampling.logprobs was set and the server returned token ids (vLLM `return_token_ids`). */
  tokens?: TurnTokens;
  latencyMs: number;
  attempts: number;
  finishReason: string | null;
  /** The message's reasoning field (vLLM `reasoning`, older `reasoning_content`); null when absent. */
  reasoning: string | null;
}

/** A served model as GET /v1/models lists it. */
export interface ServedModel {
  id: string;
  /** vLLM's `max_model_len` (null on LoRA cards and on servers that do not say). */
  maxModelLen: number | null;
}

export interface PolicyClient {
  readonly provider: 'openai' | 'hf';
  readonly endpoint: string;
  /** The id sent in requests (after alias resolution). */
  model: string;
  chat(messages: readonly Message[], sampling: SamplingParams, signal?: AbortSignal): Promise<ChatResult>;
  /** Served model ids (GET /v1/models), or null when the endpoint does not list them. Throws EndpointUnreachableError. */
  listModels(): Promise<string[] | null>;
  /** The model cards of the last listModels() (with max_model_len), or null. */
  readonly servedModels: ServedModel[] | null;
  /** Context window (prompt + completion tokens) of `model`; null = unknown. Set by connect() or by the caller. */
  maxModelLen: number | null;
  /** True once /tokenize answered a probe: prompt counts are exact. */
  exactCounts: boolean;
  /** Prompt tokens of `messages` by the server's tokenizer + chat template (vLLM POST /tokenize); null when unavailable. */
  countPromptTokens(messages: readonly Message[], chatTemplateKwargs?: unknown, signal?: AbortSignal): Promise<number | null>;
}

export interface ClientOptions {
  endpoint: string;
  model: string;
  /** The key itself (read from the environment by the caller) — never logged or stored. */
  apiKey?: string;
  /** Per-request timeout. Default 600 s (long generations of thinking models). */
  timeoutMs?: number;
  retry?: RetryOptions;
}

/** vLLM accepts these beyond the OpenAI schema. */
type VllmChatParams = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming & {
  top_k?: number;
  return_token_ids?: boolean;
  [extra: string]: unknown;
};

type VllmChoice = OpenAI.Chat.ChatCompletion.Choice & {
  token_ids?: number[];
  message: OpenAI.Chat.ChatCompletionMessage & { reasoning?: string | null; reasoning_content?: string | null };
};
type VllmCompletion = OpenAI.Chat.ChatCompletion & { prompt_token_ids?: number[] };

/** What both clients keep from their options. */
abstract class ClientBase {
  readonly endpoint: string;
  model: string;
  protected readonly retry: RetryOptions;
  protected readonly apiKey: string | undefined;
  servedModels: ServedModel[] | null = null;
  maxModelLen: number | null = null;
  exactCounts = false;

  constructor(options: ClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.model = options.model;
    this.retry = options.retry ?? {};
    this.apiKey = options.apiKey;
  }

  async countPromptTokens(messages: readonly Message[], chatTemplateKwargs?: unknown, signal?: AbortSignal): Promise<number | null> {
    if (this.endpoint.startsWith('hf:')) return null;
    const r = await tokenizeChat(this.endpoint, { model: this.model, messages, chat_template_kwargs: chatTemplateKwargs }, this.apiKey, signal);
    return r?.count ?? null;
  }
}

/** The reasoning of a vLLM message: `reasoning` (≥ ~0.11.2, only it from ~0.16), else `reasoning_content` (older). */
function reasoningOf(message: { reasoning?: unknown; reasoning_content?: unknown } | undefined): string | null {
  if (typeof message?.reasoning === 'string') return message.reasoning;
  if (typeof message?.reasoning_content === 'string') return message.reasoning_content;
  return null;
}

function cardsOf(data: unknown): ServedModel[] | null {
  if (!Array.isArray(data)) return null;
  return data
    .filter((m): m is { id: string; max_model_len?: unknown } => !!m && typeof (m as { id?: unknown }).id === 'string')
    .map((m) => ({ id: m.id, maxModelLen: typeof m.max_model_len === 'number' && m.max_model_len > 0 ? m.max_model_len : null }));
}

export class OpenAIPolicyClient extends ClientBase implements PolicyClient {
  readonly provider = 'openai' as const;
  private readonly client: OpenAI;

  constructor(options: ClientOptions) {
    super(options);
    this.client = new OpenAI({
      baseURL: this.endpoint,
      apiKey: options.apiKey || 'EMPTY', // vLLM without --api-key accepts anything
      timeout: options.timeoutMs ?? 600_000,
      maxRetries: 0,
      fetch: nestFlatErrors,
    });
  }

  async listModels(): Promise<string[] | null> {
    try {
      const page = await this.client.models.list({ timeout: 10_000 });
      this.servedModels = cardsOf(page.data);
      return page.data.map((m) => m.id);
    } catch (e) {
      const c = classifyError(e);
      if (c.status === null) throw new EndpointUnreachableError(this.endpoint, c.message);
      if (c.status === 404 || c.status === 405) return null; // server without a model list
      if (c.status === 401 || c.status === 403) throw new EndpointUnreachableError(this.endpoint, `HTTP ${c.status}: check the API key (--api-key-env)`);
      return null;
    }
  }

  async chat(messages: readonly Message[], sampling: SamplingParams, signal?: AbortSignal): Promise<ChatResult> {
    const body: VllmChatParams = {
      ...samplingFields(sampling),
      model: this.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })) as OpenAI.Chat.ChatCompletionMessageParam[],
      ...(sampling.logprobs ? { logprobs: true, return_token_ids: true } : {}),
    };
    const started = performance.now();
    const { value, attempts } = await scrubbed(this.apiKey, () =>
      overflowAware(() => withRetries(
        async () => {
          const r = (await this.client.chat.completions.create(body, { signal })) as VllmCompletion;
          if (!r || typeof r !== 'object' || !Array.isArray(r.choices) || r.choices.length === 0) {
            throw new MalformedResponseError(`expected a chat completion with choices, got ${preview(r)}`);
          }
          return r;
        },
        this.retry,
        signal,
      )),
    );
    const choice = value.choices[0] as VllmChoice;
    const text = typeof choice.message?.content === 'string' ? choice.message.content : '';
    let tokens: TurnTokens | undefined;
    if (sampling.logprobs && Array.isArray(value.prompt_token_ids) && Array.isArray(choice.token_ids)) {
      const lp = choice.logprobs?.content ?? [];
      tokens = {
        prompt_token_ids: value.prompt_token_ids,
        completion_token_ids: choice.token_ids,
        completion_logprobs: choice.token_ids.map((_, i) => lp[i]?.logprob ?? 0),
      };
    }
    return {
      text,
      model: value.model ?? this.model,
      promptTokens: value.usage?.prompt_tokens ?? tokens?.prompt_token_ids.length ?? 0,
      completionTokens: value.usage?.completion_tokens ?? tokens?.completion_token_ids.length ?? 0,
      tokens,
      latencyMs: Math.round(performance.now() - started),
      attempts,
      finishReason: choice.finish_reason ?? null,
      reasoning: reasoningOf(choice.message),
    };
  }
}

/**
 * @huggingface/inference: `endpoint` is an Inference Endpoint / TGI / vLLM URL, or `hf:<provider>` to route through
 * Hugging Face Inference Providers (e.g. `hf:together`, `hf:auto`). Token ids are not available on this path.
 */
export class HFPolicyClient extends ClientBase implements PolicyClient {
  readonly provider = 'hf' as const;
  private readonly client: InferenceClient;
  private readonly providerName: string | null;

  constructor(options: ClientOptions) {
    super(options);
    this.providerName = this.endpoint.startsWith('hf:') ? this.endpoint.slice(3) || 'auto' : null;
    // The client appends /v1/chat/completions to an endpoint URL itself.
    const endpointUrl = this.providerName ? undefined : this.endpoint.replace(/\/v1$/, '');
    this.client = new InferenceClient(options.apiKey || undefined, endpointUrl ? { endpointUrl } : {});
  }

  async listModels(): Promise<string[] | null> {
    if (this.providerName) return null;
    const url = `${this.endpoint.replace(/\/v1$/, '')}/v1/models`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) return null;
      const json = (await res.json()) as { data?: { id: string }[] };
      this.servedModels = cardsOf(json.data);
      return Array.isArray(json.data) ? json.data.map((m) => m.id) : null;
    } catch (e) {
      throw new EndpointUnreachableError(this.endpoint, classifyError(e).message);
    }
  }

  async chat(messages: readonly Message[], sampling: SamplingParams, signal?: AbortSignal): Promise<ChatResult> {
    const args = {
      ...samplingFields(sampling),
      model: this.model,
      ...(this.providerName ? { provider: this.providerName as 'auto' } : {}),
      messages: [...messages],
    };
    const started = performance.now();
    const { value, attempts } = await scrubbed(this.apiKey, () =>
      overflowAware(() => withRetries(
        async () => {
          const r = await this.client.chatCompletion(args as Parameters<InferenceClient['chatCompletion']>[0], { signal, retry_on_error: false });
          if (!r || !Array.isArray(r.choices) || r.choices.length === 0) throw new MalformedResponseError(`expected choices, got ${preview(r)}`);
          return r;
        },
        this.retry,
        signal,
      )),
    );
    const choice = value.choices[0];
    return {
      text: choice.message?.content ?? '',
      model: value.model ?? this.model,
      promptTokens: value.usage?.prompt_tokens ?? 0,
      completionTokens: value.usage?.completion_tokens ?? 0,
      latencyMs: Math.round(performance.now() - started),
      attempts,
      finishReason: choice.finish_reason ?? null,
      reasoning: reasoningOf(choice.message as { reasoning?: unknown; reasoning_content?: unknown }),
    };
  }
}

/**
 * vLLM before ~0.10.1 answered errors flat ({"object":"error","message",…}); the openai SDK reads only body.error and
 * would report "400 status code (no body)". Such bodies are nested here so the message (e.g. the length error) survives.
 */
const nestFlatErrors: typeof fetch = async (input, init) => {
  const res = await keepAliveFetch(input, init);
  if (res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return res;
  const text = await res.text();
  let body = text;
  try {
    const j = JSON.parse(text) as Record<string, unknown> | null;
    if (j && typeof j === 'object' && !('error' in j) && typeof j.message === 'string') body = JSON.stringify({ error: j });
  } catch {
    // not JSON after all: pass the text on unchanged
  }
  const headers = new Headers(res.headers);
  headers.delete('content-length');
  headers.delete('content-encoding');
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
};

/** The server's length error (HTTP 400 "maximum context length …") becomes a ContextWindowExceededError. */
async function overflowAware<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    rethrowOverflow(e);
    throw e;
  }
}

export function createPolicyClient(provider: 'openai' | 'hf', options: ClientOptions): PolicyClient {
  return provider === 'hf' ? new HFPolicyClient(options) : new OpenAIPolicyClient(options);
}

/**
 * Servers and proxies echo the key in errors ("Incorrect API key provided: sk-…"); error messages end up in Parquet
 * rows and in observations, so the key's value is cut out of them here, where it is known.
 */
async function scrubbed<T>(apiKey: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (apiKey && apiKey.length >= 4 && e instanceof Error && e.message.includes(apiKey)) e.message = e.message.split(apiKey).join('[redacted]');
    throw e;
  }
}

/** The sampling parameters every request carries explicitly (the extra body first, so explicit flags win). */
function samplingFields(sampling: SamplingParams) {
  return {
    ...(sampling.extra_body ?? {}),
    temperature: sampling.temperature,
    top_p: sampling.top_p,
    max_tokens: sampling.max_tokens,
    ...(sampling.stop ? { stop: sampling.stop } : {}),
    ...(sampling.seed !== null ? { seed: sampling.seed } : {}),
    ...(sampling.top_k !== null ? { top_k: sampling.top_k } : {}),
  };
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
