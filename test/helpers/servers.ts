/** Test fixtures: a tiny scripted policy (independent of the reference policy) and a fault-injecting proxy. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from '../../env/types.ts';

/**
 * Solves sniah in two turns (look, then regex + FINAL), answers any sub-call prompt with "sub:" + its length, and for
 * other families answers "unknown" — enough to drive the harness without the reference policy.
 */
export function scriptedPolicy(messages: Message[]): string {
  if (messages[0]?.role !== 'system') return `sub:${messages[messages.length - 1].content.length}`;
  const question = messages[1].content;
  const turn = messages.filter((m) => m.role === 'assistant').length + 1;
  const key = /magic \w+ for ([\w-]+)\?/.exec(question)?.[1];
  if (turn === 1) return 'Let me look.\n```repl\nprint(typeof context, context.length)\nconst s = llm_query("summarize: " + String(context).slice(0, 50))\nprint(s)\n```';
  if (!key) return '```repl\nFINAL("unknown")\n```';
  return '```repl\nconst m = context.match(/The special magic \\w+ for ' + key + ' is ([^\\s.]+)\\./);\nFINAL(m ? m[1] : "none")\n```';
}

export interface FaultProxy {
  url: string;
  /** Requests seen per path, faults injected by kind. */
  stats: { requests: number; chat: number; faults: Record<string, number> };
  close(): Promise<void>;
}

export type FaultKind = '500' | '429' | 'timeout' | 'garbage' | 'close';

/**
 * Forwards to `target` but, for chat completions, injects a fault on a deterministic fraction of requests
 * (request n is faulted when (n * 7919) % 100 < rate * 100), cycling through `kinds`.
 */
export async function startFaultProxy(target: string, rate: number, kinds: FaultKind[]): Promise<FaultProxy> {
  const stats = { requests: 0, chat: 0, faults: {} as Record<string, number> };
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer(async (req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const isChat = req.url?.includes('/chat/completions') ?? false;
    if (isChat) {
      const n = stats.chat++;
      if ((n * 7919) % 100 < rate * 100) {
        const injected = Object.values(stats.faults).reduce((a, b) => a + b, 0);
        const kind = kinds[injected % kinds.length];
        stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
        if (kind === '500') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"injected"}}');
        if (kind === '429') return void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":{"message":"slow down"}}');
        if (kind === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [tru');
        if (kind === 'close') return void req.socket.destroy();
        hanging.add(res); // timeout: never answer
        return;
      }
    }
    const upstream = await fetch(target.replace(/\/v1$/, '') + req.url, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? body : undefined });
    const text = await upstream.text();
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
