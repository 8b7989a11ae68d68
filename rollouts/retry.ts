/**
 * Bounded retries with exponential backoff + full jitter, honouring Retry-After. Retryable: 408, 429, 5xx,
 * timeouts, connection resets/refusals, malformed response bodies. Everything else fails at once.
 */
import { APIError, APIConnectionError, APIUserAbortError } from 'openai';
import { PolicyRequestError } from './errors.ts';

export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  maxRetries?: number;
  /** First backoff; doubles each attempt. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap of one backoff (and of a Retry-After the server asks for). Default 30 s. */
  maxDelayMs?: number;
  /** Injected for tests. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A response that parsed but is not a chat completion (garbage JSON, missing choices). Retryable. */
export class MalformedResponseError extends Error {
  override name = 'MalformedResponseError';
}

export interface ErrorClass {
  retryable: boolean;
  status: number | null;
  retryAfterMs: number | null;
  message: string;
}

export function classifyError(e: unknown): ErrorClass {
  if (e instanceof APIUserAbortError) return { retryable: false, status: null, retryAfterMs: null, message: 'request aborted' };
  if (e instanceof APIConnectionError) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { retryable: true, status: null, retryAfterMs: null, message: `${e.message}${cause?.code ? ` (${cause.code})` : ''}` };
  }
  if (e instanceof APIError) {
    const status = e.status ?? null;
    const retryable = status === null || status === 408 || status === 409 || status === 429 || status >= 500;
    return { retryable, status, retryAfterMs: parseRetryAfter(e.headers?.get?.('retry-after') ?? null), message: e.message };
  }
  if (e instanceof MalformedResponseError || e instanceof SyntaxError) {
    return { retryable: true, status: null, retryAfterMs: null, message: `malformed response: ${(e as Error).message}` };
  }
  // @huggingface/inference and fetch errors: look for an HTTP status or a network error code.
  const err = e as { httpResponse?: { status?: number; headers?: Record<string, string> }; status?: number; cause?: { code?: string }; message?: string; name?: string };
  const status = err?.httpResponse?.status ?? (typeof err?.status === 'number' ? err.status : null);
  if (status !== null) {
    const retryable = status === 408 || status === 429 || status >= 500;
    return { retryable, status, retryAfterMs: parseRetryAfter(err.httpResponse?.headers?.['retry-after'] ?? null), message: err.message ?? String(e) };
  }
  const code = err?.cause?.code ?? '';
  const network = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR|ENOTFOUND|EAI_AGAIN/.test(code) || err?.name === 'TimeoutError' || /fetch failed|socket|timed? ?out/i.test(err?.message ?? '');
  return { retryable: network, status: null, retryAfterMs: null, message: `${err?.message ?? String(e)}${code ? ` (${code})` : ''}` };
}

export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Runs `fn` until it succeeds, fails non-retryably, or retries run out; returns the value and the attempts made. */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}, signal?: AbortSignal): Promise<{ value: T; attempts: number }> {
  const maxRetries = options.maxRetries ?? 4;
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(attempt), attempts: attempt };
    } catch (e) {
      const c = classifyError(e);
      if (!c.retryable || attempt > maxRetries || signal?.aborted) {
        const why = c.retryable ? `gave up after ${attempt} attempts` : 'not retryable';
        throw new PolicyRequestError(`${c.status ? `HTTP ${c.status}: ` : ''}${c.message} (${why})`, c.status, attempt, c.retryable);
      }
      const backoff = random() * Math.min(cap, base * 2 ** (attempt - 1));
      await sleep(c.retryAfterMs !== null ? Math.min(cap, c.retryAfterMs) : backoff, signal);
    }
  }
}
