/**
 * Parent side of the sub-calls of ONE session (episode): the authority for the budget, the concurrency bound and the
 * prompt-size bound, and the recorder of every SubCallRecord. It receives the isolate's request (JSON built inside the
 * isolate, treated as untrusted input) and answers with the reply JSON the isolate expects. It never rejects.
 */
import type { SubCallHandler, SubCallRecord, SubCallRequest } from './types.ts';
import { fmtInt, type ResolvedLimits } from './limits.ts';

interface Item {
  kind: 'llm' | 'rlm';
  prompt?: string;
  tooLarge?: number;
  head?: string;
  model?: string;
  subContext?: string;
}

type ItemResult = { ok: true; text: string } | { ok: false; error: string; tooLarge?: true };

const FNS = new Set(['llm_query', 'llm_query_batched', 'rlm_query']);
const MAX_ERROR_CHARS = 2_000;

export class SubCallBroker {
  /** Sub-calls counted against the budget so far (every prompt sent to the handler). */
  used = 0;
  /** Highest number of handler calls in flight at once (for tests and stats). */
  maxInFlight = 0;
  private records: SubCallRecord[] = [];
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly controllers = new Set<AbortController>();
  /** In-flight records → when their handler call started (for the latency of abandoned calls). */
  private readonly pending = new Map<SubCallRecord, number>();
  private abandoned: string | null = null;

  constructor(
    private readonly handler: SubCallHandler,
    private readonly limits: ResolvedLimits,
    alreadyUsed = 0,
  ) {
    this.used = alreadyUsed;
  }

  get remaining(): number {
    return Math.max(0, this.limits.maxSubCalls - this.used);
  }

  /** Starts collecting the records of a new cell. */
  beginCell(): void {
    this.records = [];
  }

  /** The records of the current cell, in call order. */
  takeRecords(): SubCallRecord[] {
    const r = this.records;
    this.records = [];
    return r;
  }

  /** The session died or closed: abort in-flight calls (their records get an error) and refuse new ones. */
  abandon(reason: string): void {
    if (this.abandoned !== null) return;
    this.abandoned = reason;
    for (const c of this.controllers) c.abort(new Error(reason));
    const now = performance.now();
    for (const [rec, t0] of this.pending) {
      if (rec.error === null) rec.error = `abandoned: ${reason}`;
      if (t0 > 0) rec.latency_ms = Math.round((now - t0) * 1000) / 1000;
    }
    this.pending.clear();
    while (this.waiters.length) this.waiters.shift()!();
  }

  async handle(payload: string): Promise<string> {
    const reply = (o: { budget?: string | null; fatal?: string | null; results?: ItemResult[] }) =>
      JSON.stringify({
        remaining: this.remaining,
        budget: o.budget ?? null,
        fatal: o.fatal ?? null,
        results: o.results ?? [],
        texts: (o.results ?? []).map((r) => (r.ok ? r.text : `Error: ${r.error}`)),
      });
    if (this.abandoned !== null) return reply({ fatal: `the sandbox is shutting down (${this.abandoned})` });
    const parsed = parseRequest(payload);
    if (parsed === null) return reply({ fatal: 'internal error (malformed sub-call request)' });
    const { fn, items } = parsed;
    const countable = items.filter((i) => i.prompt !== undefined).length;
    if (countable > this.remaining) {
      const budget =
        fn === 'llm_query_batched' && this.remaining > 0
          ? `llm_query_batched: ${fmtInt(countable)} prompts but only ${fmtInt(this.remaining)} of the ${fmtInt(this.limits.maxSubCalls)} sub-calls of this episode are left; send fewer prompts (e.g. bigger chunks)`
          : `${fn}: the sub-call budget is exhausted: all ${fmtInt(this.limits.maxSubCalls)} sub-calls of this episode are used (every llm_query, every prompt of llm_query_batched and every rlm_query counts). Answer with what you have.`;
      return reply({ budget });
    }
    this.used += countable;
    const results = await Promise.all(items.map((it, i) => this.one(fn, it, i, items.length)));
    return reply({ results });
  }

  private async one(fn: string, it: Item, index: number, n: number): Promise<ItemResult> {
    const rec: SubCallRecord = {
      prompt: it.prompt ?? '',
      response: '',
      model: it.model ?? '',
      prompt_tokens: 0,
      completion_tokens: 0,
      latency_ms: 0,
      error: null,
      finish_reason: null,
    };
    this.records.push(rec);
    const which = n > 1 ? `prompt #${index}` : 'the prompt';
    if (it.prompt === undefined) {
      const size = it.tooLarge ?? 0;
      const error = `${fn}: ${which} is ${fmtInt(size)} chars; the limit is ${fmtInt(this.limits.maxSubPromptChars)} chars per sub-call prompt (nothing was sent). Split the text into smaller chunks.`;
      rec.prompt = `${it.head ?? ''}… [prompt not sent: ${fmtInt(size)} chars]`;
      rec.error = error;
      return { ok: false, error, tooLarge: true };
    }
    this.pending.set(rec, 0);
    await this.acquire();
    if (this.abandoned !== null) {
      this.release();
      return { ok: false, error: rec.error ?? `abandoned: ${this.abandoned}` };
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    const req: SubCallRequest = { kind: it.kind, prompt: it.prompt, signal: controller.signal };
    if (it.model !== undefined) req.model = it.model;
    if (it.subContext !== undefined) req.subContext = it.subContext;
    const t0 = performance.now();
    if (this.pending.has(rec)) this.pending.set(rec, t0);
    try {
      const res = await this.handler(req);
      // Abandoned meanwhile: the record was already handed out with its error; leave it alone.
      if (!this.pending.has(rec)) return { ok: false, error: rec.error ?? 'abandoned' };
      if (!res || typeof res.text !== 'string') throw new Error('the sub-call handler returned no text');
      rec.response = res.text;
      rec.model = typeof res.model === 'string' ? res.model : rec.model;
      rec.prompt_tokens = finiteOr0(res.promptTokens);
      rec.completion_tokens = finiteOr0(res.completionTokens);
      rec.finish_reason = typeof res.finishReason === 'string' ? res.finishReason : null;
      return { ok: true, text: res.text };
    } catch (e) {
      let msg: string;
      try {
        msg = e instanceof Error ? e.message : String(e);
      } catch {
        msg = 'unknown error';
      }
      if (!msg) msg = 'unknown error';
      if (msg.length > MAX_ERROR_CHARS) msg = msg.slice(0, MAX_ERROR_CHARS) + '…';
      if (!this.pending.has(rec)) return { ok: false, error: rec.error ?? msg };
      rec.error = msg;
      return { ok: false, error: msg };
    } finally {
      if (this.pending.has(rec) || this.abandoned === null) rec.latency_ms = Math.round((performance.now() - t0) * 1000) / 1000;
      this.pending.delete(rec);
      this.controllers.delete(controller);
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.abandoned !== null) return Promise.resolve();
    if (this.inFlight < this.limits.maxSubConcurrency) {
      this.inFlight++;
      if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiters.push(() => {
        this.inFlight++;
        if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
        resolve();
      }),
    );
  }

  private release(): void {
    this.inFlight--;
    const next = this.waiters.shift();
    if (next) next();
  }
}

function finiteOr0(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function parseRequest(payload: string): { fn: string; items: Item[] } | null {
  let req: unknown;
  try {
    req = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!req || typeof req !== 'object') return null;
  const { fn, items } = req as { fn?: unknown; items?: unknown };
  if (typeof fn !== 'string' || !FNS.has(fn) || !Array.isArray(items) || items.length === 0) return null;
  const out: Item[] = [];
  for (const raw of items) {
    if (!raw || typeof raw !== 'object') return null;
    const r = raw as Record<string, unknown>;
    if (r.kind !== 'llm' && r.kind !== 'rlm') return null;
    const it: Item = { kind: r.kind };
    if (typeof r.prompt === 'string') it.prompt = r.prompt;
    else if (typeof r.tooLarge === 'number' && typeof r.head === 'string') {
      it.tooLarge = r.tooLarge;
      it.head = r.head;
    } else return null;
    if (typeof r.model === 'string') it.model = r.model;
    if (typeof r.subContext === 'string') it.subContext = r.subContext;
    out.push(it);
  }
  return { fn, items: out };
}
