/**
 * A vLLM-faithful test server: the response shapes of vLLM's OpenAI-compatible server serving a Qwen3-style thinking
 * model, with a scripted "model" (`generate`) in place of weights. Shapes follow vLLM's own source:
 *
 * - GET /v1/models → ModelList{object:"list", data:[ModelCard{id, object:"model", created, owned_by:"vllm", root, parent,
 *   max_model_len, permission}]} — vllm/entrypoints/openai/engine/protocol.py (older: vllm/entrypoints/openai/protocol.py).
 * - POST /tokenize (no /v1) → TokenizeResponse{count, max_model_len, tokens, token_strs}; chat form TokenizeChatRequest
 *   {messages, add_generation_prompt (default true), add_special_tokens, chat_template_kwargs} —
 *   vllm/entrypoints/serve/tokenize/protocol.py. Optionally refuses over-long texts, as some versions do.
 * - POST /v1/chat/completions → ChatCompletionResponse{id, object:"chat.completion", created, model, choices, usage,
 *   prompt_token_ids} with ChatCompletionResponseChoice{index, message{role, content, reasoning, reasoning_content},
 *   logprobs{content:[{token, logprob, bytes, top_logprobs}]}, finish_reason, stop_reason, token_ids} —
 *   vllm/entrypoints/openai/chat_completion/protocol.py. `return_token_ids` adds prompt_token_ids / token_ids (≥ ~0.10.2).
 *   The reasoning field: `reasoning_content` (≤ ~0.11.0), both (~0.11.2 on; the protocol copies reasoning into the
 *   deprecated reasoning_content), `reasoning` only (~0.16).
 * - Reasoning parser "qwen3" = vllm/reasoning/qwen3_reasoning_parser.py extract_reasoning(): strip a generated <think>,
 *   split at </think> (content null when empty); no </think> ⇒ everything is reasoning (thinking on) or content
 *   (enable_thinking false). "qwen3-legacy" = the ≤ ~0.12 behaviour: no </think> ⇒ everything stays in content.
 *   No parser ⇒ <think>…</think> stays inline in content. <think>/</think> are added tokens of their own.
 * - finish_reason "length" when max_tokens cut the completion (the ids then lack the end-of-turn token), else "stop".
 * - A prompt over the window: HTTP 400 with vLLM's body — nested ErrorResponse{error:{message, type:"BadRequestError",
 *   param, code:400}} (≥ 0.10.1) or the older flat {object:"error", message, type, param, code} — and one of the message
 *   texts vLLM has used (serving_engine.py _validate_input ≤ 0.10; the renderer / input processor since).
 * - Chat templates: "qwen3" renders assistant turns before the last user message without their reasoning (it keeps
 *   what follows </think>, as Qwen3's template does), so multi-turn prompts are not prefix-preserving; "append-only"
 *   renders every message as sent. Both: <|im_start|>role\ncontent<|im_end|>\n, generation prompt
 *   <|im_start|>assistant\n (+ an empty <think>\n\n</think>\n\n with enable_thinking false).
 * Tokens are o200k pieces (segment by segment, so re-rendering a reply gives back its ids) plus four special ids.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decode, encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { Message } from '../../env/types.ts';

export type OverflowWording = 'legacy' | 'v0.6' | 'current' | 'chars';

export interface VllmServerOptions {
  /** Served id (--served-model-name). Default 'Qwen/Qwen3-8B'. */
  model?: string;
  /** The window the server enforces. Default 40960. */
  maxModelLen?: number;
  /** Other served ids (sub-models), each with its window. */
  extraModels?: { id: string; maxModelLen: number }[];
  /** false = the card says max_model_len null (a LoRA card): the client cannot learn the window. Default true. */
  advertiseMaxModelLen?: boolean;
  /** The "model": raw generated text (may contain <think>…</think>) for the messages and the request body. */
  generate: (messages: Message[], body: Record<string, unknown>) => string;
  reasoningParser?: 'qwen3' | 'qwen3-legacy' | null;
  reasoningField?: 'reasoning' | 'reasoning_content' | 'both';
  chatTemplate?: 'qwen3' | 'append-only';
  /** Serve POST /tokenize. Default true. */
  tokenize?: boolean;
  /** /tokenize answers 400 when the text is longer than the window (some versions). Default false. */
  tokenizeRefusesOverLong?: boolean;
  overflowWording?: OverflowWording;
  errorShape?: 'nested' | 'flat';
}

export interface RecordedChat {
  body: Record<string, unknown>;
  status: number;
  /** The response JSON (chat completion or error). */
  response: Record<string, unknown>;
}

export interface VllmServer {
  url: string;
  chats: RecordedChat[];
  tokenizeCalls: number;
  close(): Promise<void>;
}

export const SPECIAL = { '<|im_start|>': 300_001, '<|im_end|>': 300_002, '<think>': 300_003, '</think>': 300_004 } as const;
const SPECIAL_BY_ID = new Map<number, string>(Object.entries(SPECIAL).map(([k, v]) => [v as number, k]));
const SPECIAL_RE = /(<\|im_start\|>|<\|im_end\|>|<think>|<\/think>)/;

/** Text → ids: the four special strings are single tokens; the rest is o200k. */
export function encodeText(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(SPECIAL_RE)) {
    if (part === '') continue;
    const sp = (SPECIAL as Record<string, number>)[part];
    if (sp !== undefined) out.push(sp);
    else out.push(...encode(part, { disallowedSpecial: new Set() }));
  }
  return out;
}

export function decodeIds(ids: readonly number[]): string {
  let s = '';
  let run: number[] = [];
  const flush = () => {
    if (run.length) s += decode(run);
    run = [];
  };
  for (const id of ids) {
    const sp = SPECIAL_BY_ID.get(id);
    if (sp !== undefined) {
      flush();
      s += sp;
    } else run.push(id);
  }
  flush();
  return s;
}

/** Qwen3's template: assistant content before the last user message keeps only what follows </think>. */
function renderContent(m: Message, i: number, lastUser: number, template: 'qwen3' | 'append-only'): string {
  if (template === 'qwen3' && m.role === 'assistant' && i < lastUser && m.content.includes('</think>')) {
    return m.content.split('</think>').pop()!.replace(/^\n+/, '');
  }
  return m.content;
}

export function renderPromptIds(messages: readonly Message[], template: 'qwen3' | 'append-only', thinking: boolean, addGenerationPrompt = true): number[] {
  let lastUser = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i;
  });
  const ids: number[] = [];
  messages.forEach((m, i) => {
    ids.push(SPECIAL['<|im_start|>'], ...encodeText(m.role), ...encodeText('\n'), ...encodeText(renderContent(m, i, lastUser, template)), SPECIAL['<|im_end|>'], ...encodeText('\n'));
  });
  if (addGenerationPrompt) {
    ids.push(SPECIAL['<|im_start|>'], ...encodeText('assistant'), ...encodeText('\n'));
    if (!thinking) ids.push(SPECIAL['<think>'], ...encodeText('\n\n'), SPECIAL['</think>'], ...encodeText('\n\n'));
  }
  return ids;
}

/** vllm/reasoning/qwen3_reasoning_parser.py extract_reasoning (and the older behaviour). */
function extractReasoning(text: string, parser: 'qwen3' | 'qwen3-legacy', thinking: boolean): { reasoning: string | null; content: string | null } {
  if (parser === 'qwen3-legacy') {
    if (!text.includes('</think>')) return { reasoning: null, content: text };
    const after = text.includes('<think>') ? text.slice(text.indexOf('<think>') + '<think>'.length) : text;
    const [r, ...rest] = after.split('</think>');
    const c = rest.join('</think>');
    return { reasoning: r, content: c || null };
  }
  const i = text.indexOf('<think>');
  const out = i >= 0 ? text.slice(i + '<think>'.length) : text;
  const j = out.indexOf('</think>');
  if (j >= 0) return { reasoning: out.slice(0, j), content: out.slice(j + '</think>'.length) || null };
  if (!thinking) return { reasoning: null, content: out };
  return { reasoning: out, content: null };
}

function logprobOf(id: number, position: number): number {
  return -(((id * 2654435761 + position * 40503) >>> 0) % 3000) / 1000;
}

function overflowMessage(w: OverflowWording, window: number, promptTokens: number, maxTokens: number, chars: number, inputTooLong: boolean): { message: string; param: string | null } {
  switch (w) {
    case 'legacy':
      return { message: `This model's maximum context length is ${window} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`, param: null };
    case 'v0.6':
      return inputTooLong
        ? { message: `This model's maximum context length is ${window} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`, param: null }
        : { message: `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${window} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${window} - ${promptTokens}).`, param: null };
    case 'chars':
      return { message: `You passed ${chars} input characters and requested ${maxTokens} output tokens. However, the model's context length is only ${window} tokens, resulting in a maximum input length of ${Math.max(0, window - maxTokens)} tokens. Please reduce the length of the input prompt. (parameter=input_text, value=${chars})`, param: 'input_text' };
    default:
      return { message: `You passed ${promptTokens} input tokens and requested ${maxTokens} output tokens. However, the model's context length is only ${window} tokens, resulting in a maximum input length of ${Math.max(0, window - maxTokens)} tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value=${promptTokens})`, param: 'input_tokens' };
  }
}

export async function startVllmServer(o: VllmServerOptions): Promise<VllmServer> {
  const model = o.model ?? 'Qwen/Qwen3-8B';
  const windows = new Map<string, number>([[model, o.maxModelLen ?? 40960], ...(o.extraModels ?? []).map((m) => [m.id, m.maxModelLen] as [string, number])]);
  const template = o.chatTemplate ?? 'qwen3';
  const field = o.reasoningField ?? 'both';
  const chats: RecordedChat[] = [];
  let tokenizeCalls = 0;
  const errorBody = (message: string, param: string | null) =>
    o.errorShape === 'flat'
      ? { object: 'error', message, type: 'BadRequestError', param, code: 400 }
      : { error: { message, type: 'BadRequestError', param, code: 400 } };

  const server = http.createServer(async (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, json: unknown) => {
      const data = JSON.stringify(json);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }).end(data);
    };
    try {
      if (req.method === 'GET' && url === '/v1/models') {
        return send(200, {
          object: 'list',
          data: [...windows].map(([id, len]) => ({
            id,
            object: 'model',
            created: 1_764_000_000,
            owned_by: 'vllm',
            root: id,
            parent: null,
            max_model_len: o.advertiseMaxModelLen === false ? null : len,
            permission: [{ id: `modelperm-${id.length}`, object: 'model_permission', created: 1_764_000_000, allow_create_engine: false, allow_sampling: true, allow_logprobs: true, allow_search_indices: false, allow_view: true, allow_fine_tuning: false, organization: '*', group: null, is_blocking: false }],
          })),
        });
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      const id = typeof body.model === 'string' ? body.model : model;
      const window = windows.get(id);
      if (req.method === 'POST' && (url === '/v1/chat/completions' || url === '/tokenize') && window === undefined) {
        return send(404, { error: { message: `The model \`${id}\` does not exist.`, type: 'NotFoundError', param: 'model', code: 404 } });
      }
      const kwargs = (body.chat_template_kwargs ?? {}) as { enable_thinking?: boolean };
      const thinking = kwargs.enable_thinking !== false;
      if (req.method === 'POST' && url === '/tokenize' && o.tokenize !== false) {
        tokenizeCalls++;
        const ids = Array.isArray(body.messages)
          ? renderPromptIds(body.messages as Message[], template, thinking, body.add_generation_prompt !== false)
          : encodeText(String(body.prompt ?? ''));
        if (o.tokenizeRefusesOverLong && ids.length > window!) {
          return send(400, errorBody(`This model's maximum context length is ${window} tokens. However, your request has ${ids.length} input tokens. Please reduce the length of the input messages.`, null));
        }
        return send(200, { count: ids.length, max_model_len: window, tokens: ids, token_strs: null });
      }
      if (req.method === 'POST' && url === '/v1/chat/completions') {
        const messages = body.messages as Message[];
        const promptIds = renderPromptIds(messages, template, thinking);
        const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : window! - promptIds.length;
        const chars = messages.reduce((n, m) => n + m.content.length, 0);
        if (promptIds.length >= window! || promptIds.length + maxTokens > window!) {
          const e = overflowMessage(o.overflowWording ?? 'current', window!, promptIds.length, maxTokens, chars, promptIds.length >= window!);
          const response = errorBody(e.message, e.param);
          chats.push({ body, status: 400, response });
          return send(400, response);
        }
        const text = o.generate(messages, body);
        let ids = [...encodeText(text), SPECIAL['<|im_end|>']];
        let finish = 'stop';
        if (ids.length > maxTokens) {
          ids = ids.slice(0, maxTokens);
          finish = 'length';
        }
        const generated = decodeIds(ids.filter((t) => t !== SPECIAL['<|im_end|>']));
        let reasoning: string | null = null;
        let content: string | null = generated;
        if (o.reasoningParser) ({ reasoning, content } = extractReasoning(generated, o.reasoningParser, thinking));
        const message: Record<string, unknown> = { role: 'assistant', content, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [] };
        if (o.reasoningParser) {
          if (field !== 'reasoning_content') message.reasoning = reasoning;
          if (field !== 'reasoning') message.reasoning_content = reasoning;
        }
        const withIds = body.return_token_ids === true;
        const response: Record<string, unknown> = {
          id: `chatcmpl-${chats.length}`,
          object: 'chat.completion',
          created: 1_764_000_000,
          model: id,
          choices: [
            {
              index: 0,
              message,
              logprobs: body.logprobs === true
                ? { content: ids.map((t, k) => ({ token: decodeIds([t]), logprob: logprobOf(t, k), bytes: [...Buffer.from(decodeIds([t]))], top_logprobs: [] })) }
                : null,
              finish_reason: finish,
              stop_reason: null,
              ...(withIds ? { token_ids: ids } : {}),
            },
          ],
          service_tier: null,
          system_fingerprint: null,
          usage: { prompt_tokens: promptIds.length, total_tokens: promptIds.length + ids.length, completion_tokens: ids.length, prompt_tokens_details: null },
          prompt_logprobs: null,
          ...(withIds ? { prompt_token_ids: promptIds } : {}),
          kv_transfer_params: null,
        };
        chats.push({ body, status: 200, response });
        return send(200, response);
      }
      send(404, { detail: 'Not Found' });
    } catch (e) {
      send(500, { error: { message: (e as Error).message, type: 'InternalServerError', param: null, code: 500 } });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chats,
    get tokenizeCalls() {
      return tokenizeCalls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
