/**
 * Host side of a host-backed context (tasks/chunked.ts), in the sandbox worker process: answers the calls of the
 * isolate's `context` object (host-context-api.ts) from the chunk files.
 *   slice / lines / doc   positional reads of a few MB at most, answered at once
 *   search                a regex scan in a worker thread (host-search.ts), cut off at the call's deadline (the cell's
 *                         remaining CPU budget or wall time, whichever comes first): terminating the thread interrupts
 *                         even catastrophic backtracking, and the worker process's event loop never blocks on it
 * Time spent here counts against the cell's CPU budget (IsolateSession passes the deadline), so a cell cannot run
 * unbounded host work by calling context methods in a loop. Replies are JSON `{ v }` or `{ e, n }` (never a rejection).
 */
import { buildSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { checkChunkedFiles, type ChunkedContext } from '../../tasks/chunked.ts';
import { ChunkedReader } from '../../tasks/chunked-reader.ts';
import type { HostContextConfig } from './host-context-api.ts';
import type { SearchRequest, SearchResult } from './host-search.ts';

/** Largest `context.slice` / `lines` / `doc` reply (chars): ~1M tokens, far above a sub-call prompt. */
export const HOST_MAX_SLICE_CHARS = 1 << 22;
export const HOST_MAX_CHUNKS = 100_000;
export const HOST_MAX_SEARCH_LIMIT = 10_000;
export const HOST_MAX_SEARCH_WINDOW = 2_000;
const MAX_MATCH_CHARS = 1_000;
/** Longest regex source `context.search` accepts (the isolate-side script checks it too). */
export const HOST_MAX_PATTERN_CHARS = 10_000;
/** All text one search returns (what crosses into the isolate): 4 Mi chars, like a slice. */
const MAX_SEARCH_REPLY_CHARS = HOST_MAX_SLICE_CHARS;
/** Memory the isolate needs for a host-backed context (slices it holds), fed to the default memory limit. */
export const HOST_CONTEXT_MEMORY_BYTES = 32 * 1024 * 1024;

export interface HostCallBudget {
  /** performance.now() time by which the call must be answered (the cell's wall deadline). */
  deadline: number;
  /** CPU time (ms) the call may use: what is left of the cell's CPU budget. */
  cpuMs: number;
  /** The cell's CPU limit, for messages. */
  cellCpuMs: number;
}

/** One call's answer and the CPU time it cost on the host (counted against the cell's CPU budget). */
export interface HostCallResult {
  reply: string;
  cpuMs: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');

// ---------- the isolate-side script and the search thread, bundled once per process ----------
let apiSource: string | null = null;
let searchSource: string | null = null;
const here = (f: string) => join(fileURLToPath(new URL('.', import.meta.url)), f);

function bundle(entry: string, format: 'iife' | 'cjs', platform: 'neutral' | 'node'): string {
  const r = buildSync({ entryPoints: [entry], bundle: true, write: false, format, platform, target: 'es2022', globalName: format === 'iife' ? '__rlmHostContext' : undefined, logLevel: 'silent' });
  return r.outputFiles[0].text;
}

/** The script evaluated in the isolate (as an evalClosure body; $0 = host reference, $1 = config JSON). */
export function hostContextApiSource(): string {
  apiSource ??= `${bundle(here('host-context-api.ts'), 'iife', 'neutral')}\n__rlmHostContext.installHostContext(globalThis, $0, $1);`;
  return apiSource;
}

function searchThreadSource(): string {
  searchSource ??= bundle(here('host-search.ts'), 'cjs', 'node');
  return searchSource;
}

// ---------- search threads: a few idle ones are kept; a thread cut off at a deadline is terminated ----------
const idle: Worker[] = [];
const MAX_IDLE = 2;
let nextSearchId = 0;

class SearchCutOff extends Error {
  constructor(readonly by: 'cpu' | 'wall' | 'cancel') {
    super(`search cut off (${by})`);
  }
}

/** Linux tid of each search thread (from its hello message), to read its CPU time; -1 = unknown (wall time counts). */
const tids = new WeakMap<Worker, Promise<number>>();
const POLL_MS = 20;

function newSearchThread(): Worker {
  const w = new Worker(searchThreadSource(), { eval: true, workerData: { rlmHostSearch: true }, resourceLimits: { maxOldGenerationSizeMb: 512 } });
  tids.set(w, new Promise<number>((resolve) => {
    const onHello = (m: { hello?: boolean; tid?: number }) => {
      if (m?.hello !== true) return;
      w.off('message', onHello);
      resolve(typeof m.tid === 'number' && m.tid > 0 ? m.tid : -1);
    };
    w.on('message', onHello);
    w.once('exit', () => resolve(-1));
  }));
  return w;
}

/** CPU time (ms) of a thread of this process, from /proc; null when unreadable. */
function threadCpuMs(tid: number): number | null {
  if (tid <= 0) return null;
  try {
    const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // utime, stime in clock ticks (USER_HZ = 100 on Linux).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

async function runSearch(ctx: ChunkedContext, fds: number[], req: SearchRequest, budget: HostCallBudget, onCancel: (cancel: () => void) => () => void): Promise<{ result: SearchResult; cpuMs: number }> {
  const w = idle.pop() ?? newSearchThread();
  w.ref();
  const tid = await (tids.get(w) ?? Promise.resolve(-1));
  const id = ++nextSearchId;
  const t0 = performance.now();
  const cpu0 = threadCpuMs(tid);
  const used = (): number => {
    const now = cpu0 === null ? null : threadCpuMs(tid);
    return now === null || cpu0 === null ? performance.now() - t0 : now - cpu0;
  };
  return new Promise<{ result: SearchResult; cpuMs: number }>((resolve, reject) => {
    let done = false;
    const finish = (keep: boolean) => {
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      unregister();
      if (keep && idle.length < MAX_IDLE) {
        w.unref(); // an idle search thread never keeps a process alive
        idle.push(w);
      } else void w.terminate();
    };
    const onMessage = (m: { id: number; ok: boolean; result?: SearchResult; name?: string; message?: string }) => {
      if (m.id !== id || done) return;
      const cpuMs = used();
      finish(true);
      if (m.ok) resolve({ result: m.result!, cpuMs });
      else reject(Object.assign(new Error(m.message), { name: m.name ?? 'Error' }));
    };
    const onError = (e: Error) => {
      if (done) return;
      finish(false);
      reject(new Error(`the search thread failed: ${e.message}`));
    };
    const onExit = () => {
      if (done) return;
      finish(false);
      reject(new Error('the search thread exited'));
    };
    const cut = (by: 'cpu' | 'wall' | 'cancel') => {
      if (done) return;
      finish(false);
      reject(new SearchCutOff(by));
    };
    // Wall: the cell's deadline. CPU: the thread's own CPU time (under load a scan takes longer in wall time than it
    // costs), polled; the first tick past the budget terminates the thread, mid-regex if need be.
    const timer = setTimeout(() => cut('wall'), Math.max(0, budget.deadline - performance.now()));
    const poll = setInterval(() => {
      if (used() > budget.cpuMs) cut('cpu');
    }, POLL_MS);
    const unregister = onCancel(() => cut('cancel'));
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.postMessage({ id, ctx, req, fds });
  });
}

/** Terminates the idle search threads (tests; the worker process ends them anyway when it exits). */
export function closeSearchThreads(): void {
  for (const w of idle.splice(0)) void w.terminate();
}

// ---------- one host-backed context of one session ----------
interface DocEntry {
  id: string;
  title: string;
  start: number;
  end: number;
}

export class HostContext {
  readonly ctx: ChunkedContext;
  private readonly reader: ChunkedReader;
  private docIndex: DocEntry[] | null = null;
  private readonly cancels = new Set<() => void>();

  constructor(ctx: ChunkedContext) {
    checkChunkedFiles(ctx);
    this.ctx = ctx;
    this.reader = new ChunkedReader(ctx);
  }

  config(): string {
    const cfg: HostContextConfig = {
      length: this.ctx.length,
      lines: this.reader.newlines + 1,
      docs: this.ctx.docs ? this.ctx.docs.count : null,
      maxSliceChars: HOST_MAX_SLICE_CHARS,
      maxChunks: HOST_MAX_CHUNKS,
      maxSearchLimit: HOST_MAX_SEARCH_LIMIT,
      maxSearchWindow: HOST_MAX_SEARCH_WINDOW,
    };
    return JSON.stringify(cfg);
  }

  /** Ends every call in flight (the session died or closed): searches are terminated. */
  cancel(): void {
    for (const c of [...this.cancels]) c();
  }

  close(): void {
    this.cancel();
    this.reader.close();
  }

  /** Answers one call of the isolate, with the CPU time it cost. Never rejects. */
  async call(payload: string, budget: HostCallBudget): Promise<HostCallResult> {
    let op = '?';
    const t0 = performance.now();
    const cost = { searchCpuMs: null as number | null };
    const done = (r: { v?: unknown; e?: string; n?: string }): HostCallResult => ({ reply: JSON.stringify(r), cpuMs: cost.searchCpuMs ?? performance.now() - t0 });
    try {
      const req = JSON.parse(payload) as { op?: unknown; args?: unknown } | null;
      if (req === null || typeof req !== 'object' || typeof req.op !== 'string') throw new TypeError('malformed request');
      op = req.op.slice(0, 40);
      if (performance.now() >= budget.deadline) return done({ e: `context.${op}: the cell has reached its wall-clock time limit`, n: 'TimeoutError' });
      if (budget.cpuMs <= 0) return done({ e: `context.${op}: the cell has used its CPU time limit of ${fmt(budget.cellCpuMs)} ms (time in context methods counts)`, n: 'TimeoutError' });
      return done({ v: await this.dispatch(op, req.args, budget, cost) });
    } catch (e) {
      if (e instanceof SearchCutOff) {
        if (e.by === 'cpu') cost.searchCpuMs = budget.cpuMs;
        const what = e.by === 'cpu' ? `CPU time limit of ${fmt(budget.cellCpuMs)} ms (time in context methods counts)` : e.by === 'wall' ? 'wall-clock time limit' : 'end (the sandbox was stopped)';
        return done({ e: `context.search was cut off: it reached the cell's ${what} — a regex that backtracks catastrophically, or a scan too large for the time left (narrow it with { from, to } or a simpler pattern)`, n: 'TimeoutError' });
      }
      const err = e as Error;
      return done({ e: `context.${op}: ${err?.message ?? String(e)}`, n: err?.name === 'SyntaxError' || err?.name === 'RangeError' || err?.name === 'TypeError' ? err.name : 'Error' });
    }
  }

  /**
   * Everything is checked again here, whatever the isolate-side script checked: the payload crosses from code the
   * model can influence, so the host trusts only its shape — the op, the argument count, and each argument's type and range.
   */
  private async dispatch(op: string, args: unknown, budget: HostCallBudget, cost: { searchCpuMs: number | null }): Promise<unknown> {
    const arity: Record<string, number> = { slice: 2, lines: 2, doc: 1, search: 6 };
    if (!Object.hasOwn(arity, op)) throw new TypeError(`unknown operation '${op}'`);
    if (!Array.isArray(args) || args.length !== arity[op]) throw new TypeError(`expected ${arity[op]} arguments`);
    const N = this.ctx.length;
    const num = (i: number, min: number, max: number): number => {
      const v = args[i];
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`argument ${i + 1} must be an integer`);
      if (v < min || v > max) throw new RangeError(`argument ${i + 1} must be ${fmt(min)} … ${fmt(max)} (got ${fmt(v)})`);
      return v;
    };
    switch (op) {
      case 'slice': {
        const a = num(0, 0, N);
        const b = num(1, a, N);
        if (b - a > HOST_MAX_SLICE_CHARS) throw new RangeError(`at most ${fmt(HOST_MAX_SLICE_CHARS)} chars per call`);
        return this.reader.slice(a, b);
      }
      case 'lines': {
        const i = num(0, 0, Number.MAX_SAFE_INTEGER);
        return this.lines(i, num(1, i, Number.MAX_SAFE_INTEGER));
      }
      case 'doc':
        return this.doc(num(0, 0, Math.max(0, (this.ctx.docs?.count ?? 1) - 1)));
      case 'search': {
        const [source, flags] = args as [unknown, unknown];
        if (typeof source !== 'string' || source.length === 0) throw new TypeError('the pattern must be a non-empty string');
        if (source.length > HOST_MAX_PATTERN_CHARS) throw new RangeError(`the pattern is ${fmt(source.length)} chars; at most ${fmt(HOST_MAX_PATTERN_CHARS)}`);
        if (typeof flags !== 'string' || !/^[dgimsuvy]{0,8}$/.test(flags)) throw new SyntaxError(`invalid regular expression flags '${String(flags).slice(0, 20)}'`);
        // Compile here first: a syntax error answers at once, without a thread.
        new RegExp(source, flags.replace(/[gy]/g, ''));
        const from = num(2, 0, N);
        const to = num(3, from, N);
        const limit = num(4, 1, HOST_MAX_SEARCH_LIMIT);
        const window = num(5, 0, HOST_MAX_SEARCH_WINDOW);
        const req: SearchRequest = { source, flags, from, to, limit, window, maxMatchChars: MAX_MATCH_CHARS, maxReplyChars: MAX_SEARCH_REPLY_CHARS };
        // The thread reads through this session's descriptors (closed with the session: HostContext.close).
        const r = await runSearch(this.ctx, this.reader.openAll(), req, budget, (cancel) => {
          this.cancels.add(cancel);
          return () => this.cancels.delete(cancel);
        });
        cost.searchCpuMs = r.cpuMs;
        // `limited`: the search stopped early (limit, or the reply-size cap); the isolate puts it on the returned array.
        return { matches: r.result.matches, limited: r.result.limited };
      }
      default:
        throw new TypeError(`unknown operation '${op}'`);
    }
  }

  private lines(i: number, j: number): string[] {
    const last = this.reader.newlines; // index of the last line
    if (i < 0 || j < i) throw new RangeError(`need 0 <= start <= end (got ${i}, ${j})`);
    if (i > last) return [];
    const start = this.reader.lineStart(i);
    const wantEnd = Math.min(j, last + 1);
    // End of line j-1: the start of line j minus its newline, or the end of the context.
    const end = wantEnd > last ? this.ctx.length : this.reader.lineStart(wantEnd) - 1;
    if (end - start > HOST_MAX_SLICE_CHARS) {
      throw new RangeError(`lines ${fmt(i)} … ${fmt(wantEnd - 1)} are ${fmt(end - start)} chars; at most ${fmt(HOST_MAX_SLICE_CHARS)} per call — ask for fewer lines`);
    }
    return this.reader.slice(start, end).split('\n');
  }

  private doc(i: number): { id: string; title: string; text: string; start: number; end: number } {
    const docs = this.ctx.docs;
    if (!docs) throw new TypeError('this context is not a document corpus');
    if (!this.docIndex) {
      const raw = readFileSync(join(this.ctx.dir, docs.file), 'utf8');
      const idx: DocEntry[] = [];
      for (const line of raw.split('\n')) {
        if (!line) continue;
        const [id, title, start, end] = JSON.parse(line) as [string, string, number, number];
        idx.push({ id, title, start, end });
      }
      if (idx.length !== docs.count) throw new Error(`the document index has ${idx.length} entries, the context says ${docs.count}`);
      this.docIndex = idx;
    }
    const d = this.docIndex[i];
    if (!d) throw new RangeError(`no document ${i} (there are ${docs.count})`);
    if (d.end - d.start > HOST_MAX_SLICE_CHARS) {
      throw new RangeError(`document ${i} has ${fmt(d.end - d.start)} chars; at most ${fmt(HOST_MAX_SLICE_CHARS)} per call — read it with context.slice(${d.start}, …) in pieces`);
    }
    return { id: d.id, title: d.title, text: this.reader.slice(d.start, d.end), start: d.start, end: d.end };
  }
}

