/**
 * An OpenAI-compatible HTTP server for the embedded reference policy, on 127.0.0.1. It speaks the subset of vLLM's
 * API the harness uses — GET /v1/models, POST /v1/chat/completions with usage, and vLLM's `logprobs` +
 * `return_token_ids` (token ids from the o200k BPE, deterministic logprobs) — so the reference run exercises exactly
 * the client path a vLLM run does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { Message } from '../../env/types.ts';

export const REFERENCE_MODEL_ID = 'rlm-gym/reference';

export interface ReferenceServer {
  /** Base URL including /v1, e.g. http://127.0.0.1:41234/v1 */
  url: string;
  port: number;
  /** Requests served so far (chat completions). */
  readonly requests: number;
  close(): Promise<void>;
}

export interface ReferenceServerOptions {
  port?: number;
  host?: string;
  /** Replaces the reference policy (tests use this for fault injection and scripted replies). */
  respond?: (messages: Message[], body: Record<string, unknown>) => string | Promise<string>;
  /** Model ids GET /v1/models lists (default: the reference id). Any requested model is answered. */
  models?: string[];
  /** Called with every request body (tests assert on what reached the server). */
  onRequest?: (body: Record<string, unknown>, headers: http.IncomingHttpHeaders) => void;
}

export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  // Loaded only when needed: servers with a custom `respond` (tests, fault injection) skip the policy's tables.
  const respond = options.respond ?? (await import('./policy.ts')).referenceRespond;
  let requests = 0;
  const server = http.createServer(async (req, res) => {
    try {
      const url = (req.url ?? '/').split('?')[0].replace(/\/+$/, '');
      if (req.method === 'GET' && (url === '/v1/models' || url === '/models')) {
        const ids = options.models ?? [REFERENCE_MODEL_ID];
        return send(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'rlm-gym' })) });
      }
      if (req.method === 'GET' && url === '/health') return send(res, 200, { status: 'ok' });
      if (req.method === 'POST' && (url === '/v1/chat/completions' || url === '/chat/completions')) {
        const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
        options.onRequest?.(body, req.headers);
        const messages = body.messages as Message[];
        if (!Array.isArray(messages) || messages.length === 0) return send(res, 400, { error: { message: 'messages must be a non-empty array', type: 'invalid_request_error' } });
        requests++;
        const text = await respond(messages, body);
        return send(res, 200, completion(body, messages, text, typeof body.model === 'string' ? body.model : REFERENCE_MODEL_ID));
      }
      send(res, 404, { error: { message: `no route ${req.method} ${url}`, type: 'not_found' } });
    } catch (e) {
      send(res, 400, { error: { message: (e as Error).message, type: 'invalid_request_error' } });
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/v1`,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The chat template the reference "model" pretends to use: enough to give stable prompt token ids. */
export function renderChatTemplate(messages: Message[]): string {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';
}

function completion(body: Record<string, unknown>, messages: Message[], text: string, model: string) {
  const withIds = body.return_token_ids === true;
  const withLogprobs = body.logprobs === true;
  const promptIds = withIds || withLogprobs ? encode(renderChatTemplate(messages), { disallowedSpecial: new Set() }) : null;
  const completionIds = encode(text, { disallowedSpecial: new Set() });
  const promptTokens = promptIds?.length ?? Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);
  return {
    id: `chatcmpl-ref-${completionIds.length}-${promptTokens}`,
    object: 'chat.completion',
    created: 0,
    model,
    ...(withIds ? { prompt_token_ids: promptIds } : {}),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text },
        finish_reason: 'stop',
        logprobs: withLogprobs ? { content: completionIds.map((id, i) => ({ token: `token_id:${id}`, logprob: fakeLogprob(id, i), bytes: null, top_logprobs: [] })) } : null,
        ...(withIds ? { token_ids: completionIds } : {}),
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionIds.length, total_tokens: promptTokens + completionIds.length },
  };
}

/** Deterministic, in (-2, 0]: a function of the token and its position only. */
function fakeLogprob(id: number, position: number): number {
  return -(((id * 2654435761 + position * 40503) >>> 0) % 2000) / 1000;
}

function send(res: http.ServerResponse, status: number, json: unknown): void {
  const data = JSON.stringify(json);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
