/**
 * A lean `fetch` for the openai SDK's requests: node:http(s) over keep-alive agents instead of undici's WHATWG fetch.
 * A chat call through the SDK cost ~0.3 ms more CPU with the global fetch (web streams, body mixins) than with a plain
 * keep-alive `http.request` against the same server (bench/harness-turn.ts; README "Performance"), paid three times per
 * small episode on the harness's one event loop.
 *
 * It implements what the SDK sends — a string URL, a method, a header record, a string body, an AbortSignal — and
 * answers a complete `Response`. Anything else (streams, redirects, other schemes) goes to the global fetch unchanged.
 * Failures look like undici's: a network error rejects with TypeError('fetch failed', { cause }), an abort with the
 * signal's reason, so the SDK classifies them exactly as before (APIConnectionError / timeout / user abort).
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';

/**
 * Idle sockets are dropped after 4 s, before the usual 5 s server keep-alive (uvicorn, Node) closes them, so a request
 * is not sent on a socket the server is closing (undici's default too); a server's `Keep-Alive: timeout` hint is
 * honoured by Node's agent. Active requests are not affected (the agent only destroys free sockets on this timeout).
 */
const AGENT_OPTIONS = { keepAlive: true, timeout: 4_000, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(AGENT_OPTIONS);
const httpsAgent = new https.Agent(AGENT_OPTIONS);

type FetchArgs = Parameters<typeof fetch>;

function plainHeaders(h: unknown): Record<string, string> | null {
  if (h === undefined || h === null) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return null;
  if (typeof h === 'object') {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      out[k] = String(v);
    }
    return out;
  }
  return null;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function decode(body: Buffer, encoding: string | undefined): Buffer | null {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    default:
      return null;
  }
}

export const keepAliveFetch: typeof fetch = (input: FetchArgs[0], init?: FetchArgs[1]): Promise<Response> => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : null;
  const headers = plainHeaders(init?.headers);
  const body = init?.body;
  const lean =
    url !== null &&
    (url.startsWith('http://') || url.startsWith('https://')) &&
    headers !== null &&
    (body === undefined || body === null || typeof body === 'string') &&
    (init?.redirect === undefined || init.redirect === 'follow');
  if (!lean) return fetch(input, init);
  const signal = init?.signal ?? null;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : null;
  const hdrs = headers!;
  if (payload && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-length')) hdrs['content-length'] = String(payload.length);
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    };
    const onAbort = () => {
      req.destroy();
      fail(abortReason(signal!));
    };
    const req = (isHttps ? https : http).request(
      target,
      { method: init?.method ?? 'GET', headers: hdrs, agent: isHttps ? httpsAgent : httpAgent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(new TypeError('fetch failed', { cause: e })));
        res.on('aborted', () => fail(new TypeError('fetch failed', { cause: new Error('the response was cut off (socket closed)') })));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          // Redirects and exotic encodings: let the global fetch do it all over (the body is a replayable string).
          let raw: Buffer | null = null;
          try {
            raw = status >= 300 && status < 400 ? null : decode(Buffer.concat(chunks), res.headers['content-encoding'] as string | undefined);
          } catch (e) {
            return fail(new TypeError('fetch failed', { cause: e }));
          }
          if (raw === null) {
            settled = true;
            signal?.removeEventListener('abort', onAbort);
            fetch(input, init).then(resolve, reject);
            return;
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue;
            if (k === 'content-encoding' || k === 'content-length') continue; // the body is decoded and complete
            if (Array.isArray(v)) for (const one of v) h.append(k, one);
            else h.set(k, v);
          }
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          // 1xx/204/304 cannot carry a body in a Response.
          const bodyless = status === 204 || status === 205 || status === 304 || status < 200;
          resolve(new Response(bodyless ? null : raw, { status, statusText: res.statusMessage ?? '', headers: h }));
        });
      },
    );
    req.on('error', (e) => fail(new TypeError('fetch failed', { cause: e })));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(payload ?? undefined);
  });
};
