/** Test helpers for the env server: JSON over real sockets, a gated sub-model, a WebSocket speaking OpenEnv's messages. */
import http from 'node:http';
import { WebSocket } from 'ws';
import type { ChatResult, PolicyClient } from '../../rollouts/index.ts';

export interface JsonResponse {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

export function request(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, agent?: http.Agent): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(`${base}${path}`, { method, agent, headers: { 'content-type': 'application/json', ...(data ? { 'content-length': Buffer.byteLength(data) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** A sub-model whose answers wait until `release()` (to hold a step in flight), counting calls and aborts. */
export function gatedSubModel(): { client: PolicyClient; release: () => void; calls: number; aborted: number; waiting: Promise<void> } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let signalWaiting!: () => void;
  const state = {
    calls: 0,
    aborted: 0,
    waiting: new Promise<void>((r) => (signalWaiting = r)),
    release: () => open(),
    client: null as unknown as PolicyClient,
  };
  state.client = {
    provider: 'openai',
    endpoint: 'gated://test',
    model: 'gated-sub',
    servedModels: null,
    maxModelLen: null,
    exactCounts: false,
    async countPromptTokens() {
      return null;
    },
    async listModels() {
      return null;
    },
    async chat(messages, _sampling, signal): Promise<ChatResult> {
      state.calls++;
      signalWaiting();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          state.aborted++;
          reject(new Error('aborted'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void gate.then(() => resolve());
      });
      const text = `sub:${messages[messages.length - 1].content.length}`;
      return { text, model: 'gated-sub', promptTokens: 5, completionTokens: 2, latencyMs: 1, attempts: 1, finishReason: 'stop', reasoning: null };
    },
  };
  return state;
}

/** A WebSocket client with a queue of received JSON messages. */
export async function openSocket(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next: () => Promise<any>; send: (m: unknown) => void; closed: Promise<number> }> {
  const ws = new WebSocket(url, { headers });
  const inbox: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    send: (m) => ws.send(JSON.stringify(m)),
    next: () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiters.push(r))),
    closed,
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
