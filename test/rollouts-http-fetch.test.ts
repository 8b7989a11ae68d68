import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepAliveFetch } from '../rollouts/http-fetch.ts';

let server: http.Server;
let base = '';
const sockets = new Set<unknown>();
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/echo') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-seen-length': req.headers['content-length'] ?? '' });
        return res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
      }
      if (req.url === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        return res.end(zlib.gzipSync(JSON.stringify({ zipped: true })));
      }
      if (req.url === '/redirect') {
        res.writeHead(307, { location: '/echo' });
        return res.end();
      }
      if (req.url === '/error') {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        return res.end('{"error":{"message":"busy"}}');
      }
      if (req.url === '/hang') return; // never answers: for the abort test
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"partial":');
        return void setTimeout(() => res.socket?.destroy(), 20);
      }
      res.writeHead(404).end();
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('keepAliveFetch (the openai client transport)', () => {
  it('POSTs a string body with its headers and answers a complete Response; sockets are reused', async () => {
    const before = connections;
    for (let i = 0; i < 5; i++) {
      const res = await keepAliveFetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: `{"i":${i},"t":"ü"}` });
      expect(res.status).toBe(200);
      expect(res.ok).toBe(true);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('x-seen-length')).toBe(String(Buffer.byteLength(`{"i":${i},"t":"ü"}`)));
      expect(await res.json()).toEqual({ method: 'POST', body: `{"i":${i},"t":"ü"}`, auth: 'Bearer k' });
    }
    expect(connections - before).toBe(1); // one keep-alive socket for five sequential requests
  });

  it('passes error statuses through with their body and headers', async () => {
    const res = await keepAliveFetch(`${base}/error`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('0');
    expect(await res.text()).toBe('{"error":{"message":"busy"}}');
  });

  it('decodes a gzip body and follows a redirect (through the global fetch)', async () => {
    const z = await keepAliveFetch(`${base}/gzip`);
    expect(z.headers.get('content-encoding')).toBeNull();
    expect(await z.json()).toEqual({ zipped: true });
    const r = await keepAliveFetch(`${base}/redirect`, { method: 'POST', body: 'again' });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { body: string }).body).toBe('again');
  });

  it('rejects like undici: TypeError "fetch failed" with the network error as cause; an abort with the signal reason', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const refused = await keepAliveFetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as TypeError).message).toBe('fetch failed');
    expect(((refused as TypeError).cause as { code?: string }).code).toBe('ECONNREFUSED');

    const ac = new AbortController();
    const pending = keepAliveFetch(`${base}/hang`, { method: 'POST', body: '{}', signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    const aborted = await pending.catch((e: unknown) => e);
    expect((aborted as DOMException).name).toBe('AbortError');
    const already = await keepAliveFetch(`${base}/echo`, { signal: AbortSignal.abort(new Error('stop')) }).catch((e: unknown) => e);
    expect((already as Error).message).toBe('stop');

    const cut = await keepAliveFetch(`${base}/cut`).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(TypeError);
    expect((cut as TypeError).message).toBe('fetch failed');
  });
});
