/**
 * One REPL = one isolated-vm isolate, host side. Independent of IPC: the worker process wraps it, and benchmarks can use
 * it in-process. `run()` never throws for anything the model's code does.
 */
import ivm from 'isolated-vm';
import { PRELUDE_SOURCE } from './prelude.ts';
import { rewriteCell } from './rewrite.ts';
import { hostContextApiSource, type HostCallBudget, type HostContext } from './host-context.ts';
import { fmtInt, truncationMarker, type ResolvedLimits } from './limits.ts';
import { deadResult, SANDBOX_CLOCK_START_MS, type IsolateCellResult, type StopReason } from './results.ts';

export { deadResult, SANDBOX_CLOCK_START_MS, type IsolateCellResult, type StopReason };

export interface IsolateSessionInit {
  /** The context as one string (a Doc[] is concatenated: see `docLayout`). Not released: callers may cache it. */
  context: ivm.ExternalCopy<string>;
  /** For Doc[] contexts: [idLength, titleLength, textLength] per document, in order; null for a string context. */
  docLayout: number[] | null;
  seed: number;
  limits: ResolvedLimits;
  /** Sub-calls used before this isolate (0 for a new episode). */
  subCallsUsed?: number;
  /** Carries one sub-call request (JSON from the isolate) to whoever runs it; resolves with the reply JSON. May reject. */
  subCall: (payload: string) => Promise<string>;
  onCatastrophicError?: (message: string) => void;
  /**
   * Called when the isolate's thread is stuck for good (a disposed or aborted isolate whose task never ends: see the
   * sentinel note in prelude.ts). The thread keeps spinning; the process holding it should be retired (killed) soon.
   */
  onStuck?: () => void;
  /** A spare to build on (used if its memory limit matches, else disposed). */
  spare?: SpareIsolate;
  /** A host-backed context: `context` in the isolate is a read API answered by this (then `context` above is ''). */
  host?: HostContext | null;
}

/**
 * An isolate and an empty context made ahead of time (while the worker is idle), so opening a session skips the
 * costliest part of its setup. Nothing of a session is in it: the prelude runs at open, with the session's seed,
 * limits and context, exactly as in a fresh isolate.
 */
export interface SpareIsolate {
  memoryMB: number;
  isolate: ivm.Isolate;
  /** null for a recycled isolate whose fresh context is not made yet. */
  context: ivm.Context | null;
  /** Sessions this isolate has served before (0 for a new one). */
  uses: number;
  dispose(): void;
}

function spareOf(isolate: ivm.Isolate, memoryMB: number, context: ivm.Context | null, uses: number): SpareIsolate {
  return {
    memoryMB,
    isolate,
    context,
    uses,
    dispose: () => {
      if (!isolate.isDisposed) isolate.dispose();
    },
  };
}

function newIsolate(memoryMB: number, onCatastrophicError?: (message: string) => void): ivm.Isolate {
  return new ivm.Isolate({
    memoryLimit: memoryMB,
    onCatastrophicError: onCatastrophicError ?? ((message: string) => {
      process.stderr.write(`isolated-vm catastrophic error: ${message}\n`);
      process.abort();
    }),
  });
}

export async function createSpare(memoryMB: number): Promise<SpareIsolate> {
  const isolate = newIsolate(memoryMB);
  try {
    return spareOf(isolate, memoryMB, await isolate.createContext(), 0);
  } catch (e) {
    if (!isolate.isDisposed) isolate.dispose();
    throw e;
  }
}

/** The prelude as a function of its four arguments (what evalClosure built from it: $0 … $3). */
const PRELUDE_FUNCTION = `(function ($0, $1, $2, $3) {${PRELUDE_SOURCE}\n})`;
/** V8's code cache of the prelude: made by this process's first isolate, used by every later one (−0.5 ms an open). */
let preludeCache: ivm.ExternalCopy<ArrayBuffer> | null = null;

/**
 * Runs the prelude in `context` and returns its frozen API object. Synchronous: the prelude is our code (no model code
 * has run in the context yet) and takes well under a millisecond; the timeout is a backstop.
 */
function runPrelude(isolate: ivm.Isolate, context: ivm.Context, args: ivm.Transferable[]): ivm.Reference<Record<string, unknown>> {
  const script = isolate.compileScriptSync(PRELUDE_FUNCTION, preludeCache ? { cachedData: preludeCache } : { produceCachedData: true });
  const produced = (script as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer> }).cachedData;
  if (preludeCache === null && produced) preludeCache = produced;
  try {
    const fn = script.runSync(context, { reference: true, timeout: 10_000 }) as unknown as ivm.Reference<(...a: unknown[]) => unknown>;
    try {
      return fn.applySync(undefined, args, { result: { reference: true }, timeout: 10_000 }) as unknown as ivm.Reference<Record<string, unknown>>;
    } finally {
      fn.release();
    }
  } finally {
    script.release();
  }
}

/** Folds a numeric seed (any finite number) into 32 bits, mixing the high part in. */
export function seed32(seed: number): number {
  const t = Math.trunc(seed);
  const lo = t % 4294967296;
  const hi = Math.trunc(t / 4294967296);
  return ((lo >>> 0) ^ Math.imul(hi | 0, 0x9e3779b1)) >>> 0;
}

/** The primitive every model-running task rejects first (see prelude.ts): seeing it means "the task completed". */
export const TASK_SENTINEL = 'RLM_SANDBOX_TASK_END';
/** finish() completes with an error whose message is this marker + the cell's result JSON (see prelude.ts). */
export const RESULT_MARK = 'RLM_SANDBOX_RESULT:';
/** A task that has not settled this long after its isolate was disposed / its abort started is stuck. */
const STUCK_AFTER_MS = 1_000;
/** quick() only formats strings already capped; the bound is a backstop. */
const QUICK_TIMEOUT_MS = 1_000;

type Outcome = { kind: 'ok'; value: unknown } | { kind: 'err'; error: unknown } | { kind: 'killed' };

/** A task's rejection: the run marker or finish's result (both mean "completed"), else a real error. */
function completion(error: unknown): Outcome {
  if (error === TASK_SENTINEL) return { kind: 'ok', value: undefined };
  if (error instanceof Error && typeof error.message === 'string' && error.message.startsWith(RESULT_MARK)) {
    return { kind: 'ok', value: error.message.slice(RESULT_MARK.length) };
  }
  return { kind: 'err', error };
}

const INTERNAL_FATAL = JSON.stringify({ remaining: 0, budget: null, fatal: 'internal error (the sub-call host failed)', results: [], texts: [] });

export class IsolateSession {
  readonly limits: ResolvedLimits;
  private readonly isolate: ivm.Isolate;
  private context: ivm.Context | null = null;
  /** Sessions the isolate served before this one. */
  private uses = 0;
  /** The isolate was handed on (recycle()): it is no longer this session's to dispose. */
  private recycled = false;
  private runRef!: ivm.Reference<(src: string, isAsync: boolean) => string>;
  private quickRef!: ivm.Reference<() => string | null>;
  private finishRef!: ivm.Reference<() => string>;
  private killReason: StopReason | null = null;
  private onKilled: () => void = () => {};
  private readonly killed: Promise<Outcome>;
  private readonly onStuck: () => void;
  private stuckReported = false;
  private emitted = '';
  private running = false;
  private host: HostContext | null = null;
  /** The running cell's budgets, for host-context calls: wall end, CPU budget, isolate CPU at start, host ms used. */
  private cell = { wallEnd: 0, cpuMs: 0, cpu0: 0, hostMs: 0 };

  private constructor(isolate: ivm.Isolate, limits: ResolvedLimits, onStuck: () => void) {
    this.isolate = isolate;
    this.limits = limits;
    this.onStuck = onStuck;
    this.killed = new Promise<Outcome>((resolve) => (this.onKilled = () => resolve({ kind: 'killed' })));
  }

  static async create(init: IsolateSessionInit): Promise<IsolateSession> {
    const limits = init.limits;
    const spare = init.spare && init.spare.memoryMB === limits.memoryMB && !init.spare.isolate.isDisposed ? init.spare : null;
    if (init.spare && !spare) init.spare.dispose();
    const isolate = spare?.isolate ?? newIsolate(limits.memoryMB, init.onCatastrophicError);
    const s = new IsolateSession(isolate, limits, init.onStuck ?? (() => {}));
    s.uses = spare?.uses ?? 0;
    try {
      const context = spare?.context ?? (await isolate.createContext());
      s.context = context;
      const emit = new ivm.Callback((chunk: unknown) => {
        if (typeof chunk === 'string') s.onEmit(chunk);
      });
      const sub = new ivm.Reference(async (payload: unknown): Promise<string> => {
        if (typeof payload !== 'string') return INTERNAL_FATAL;
        try {
          const reply = await init.subCall(payload);
          return typeof reply === 'string' ? reply : INTERNAL_FATAL;
        } catch {
          return INTERNAL_FATAL;
        }
      });
      if (init.host) {
        const host = init.host;
        s.host = host;
        const ref = new ivm.Reference(async (payload: unknown): Promise<string> => {
          if (typeof payload !== 'string') return JSON.stringify({ e: 'internal error (bad request)', n: 'Error' });
          const r = await host.call(payload, s.hostBudget());
          s.cell.hostMs += r.cpuMs;
          return r.reply;
        });
        await context.evalClosure(hostContextApiSource(), [ref, host.config()], { timeout: 10_000 });
      }
      const cfg = JSON.stringify({
        hostContext: init.host ? true : false,
        seed: seed32(init.seed),
        clockStartMs: SANDBOX_CLOCK_START_MS,
        maxOutputChars: limits.maxOutputChars,
        maxSubCalls: limits.maxSubCalls,
        remaining: Math.max(0, limits.maxSubCalls - (init.subCallsUsed ?? 0)),
        maxSubPromptChars: limits.maxSubPromptChars,
        maxSubContextChars: limits.maxSubContextChars,
        maxFinalChars: limits.maxFinalChars,
        maxSubCallCharsPerCell: limits.maxSubCallCharsPerCell,
        rlmRecursive: limits.rlmRecursive,
        maxErrorChars: limits.maxErrorChars,
        docLayout: init.docLayout,
        sentinel: TASK_SENTINEL,
        resultMark: RESULT_MARK,
      });
      const api = runPrelude(isolate, context, [sub, emit, init.context.copyInto(), cfg]);
      s.runRef = api.getSync('run', { reference: true }) as unknown as typeof s.runRef;
      s.quickRef = api.getSync('quick', { reference: true }) as unknown as typeof s.quickRef;
      s.finishRef = api.getSync('finish', { reference: true }) as unknown as typeof s.finishRef;
      api.release();
      return s;
    } catch (e) {
      if (!isolate.isDisposed) isolate.dispose();
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(/memory limit/i.test(msg) ? `the context does not fit the memory limit of ${limits.memoryMB} MB` : msg);
    }
  }

  get dead(): boolean {
    return this.killReason !== null || this.isolate.isDisposed;
  }

  private onEmit(chunk: string): void {
    // The isolate caps output itself; this is a second, host-side guard.
    const room = this.limits.maxOutputChars - this.emitted.length;
    if (room > 0) this.emitted += chunk.length > room ? chunk.slice(0, room) : chunk;
  }

  /** Deadline of a host-context call: the cell's wall end, or what is left of its CPU budget (host time counts). */
  private hostBudget(): HostCallBudget {
    const cpuLeft = this.cell.cpuMs - (this.cpuTime() - this.cell.cpu0) - this.cell.hostMs;
    return { deadline: this.cell.wallEnd, cpuMs: Math.max(0, cpuLeft), cellCpuMs: this.cell.cpuMs };
  }

  /** Disposes the isolate; a running cell ends (at once) with dead + `reason`. */
  kill(reason: StopReason): void {
    if (this.killReason === null) this.killReason = reason;
    this.host?.cancel();
    if (!this.recycled && !this.isolate.isDisposed) {
      try {
        this.isolate.dispose();
      } catch {
        /* already gone */
      }
    }
    this.onKilled();
  }

  dispose(): void {
    this.kill('worker_crash');
  }

  /**
   * Ends this session and hands its isolate on for another session, with this session's context released (a new
   * session gets a fresh context: its own globals and built-ins, nothing of this one reachable). Only an isolate that
   * ended cleanly is reused — never after a kill, a timeout or a stuck task, while a cell runs, past `maxUses`
   * sessions or with a big heap (that memory is given back instead); otherwise it is disposed and null returned.
   */
  recycle(maxUses: number, maxHeapBytes: number): SpareIsolate | null {
    if (this.killReason !== null || this.running || this.stuckReported || this.isolate.isDisposed || this.uses + 1 >= maxUses || this.context === null) {
      this.dispose();
      return null;
    }
    let heap = Infinity;
    try {
      heap = this.isolate.getHeapStatisticsSync().total_heap_size;
    } catch {
      /* unknown: do not reuse */
    }
    if (heap > maxHeapBytes) {
      this.dispose();
      return null;
    }
    for (const r of [this.runRef, this.quickRef, this.finishRef]) {
      try {
        r.release();
      } catch {
        /* already released */
      }
    }
    try {
      this.context.release();
    } catch {
      /* gone */
    }
    this.context = null;
    this.recycled = true;
    this.killReason = 'worker_crash'; // this session is over: a later run() finds it dead
    this.onKilled();
    return spareOf(this.isolate, this.limits.memoryMB, null, this.uses + 1);
  }

  private reportStuck(): void {
    if (this.stuckReported) return;
    this.stuckReported = true;
    this.onStuck();
  }

  /**
   * Runs one task of the isolate. A rejection with the sentinel counts as completion. Resolves as soon as the session is
   * killed, even if the isolate's thread never comes back (then, after STUCK_AFTER_MS, the thread is reported stuck).
   */
  private async task(start: () => Promise<unknown>): Promise<Outcome> {
    if (this.killReason !== null || this.isolate.isDisposed) return { kind: 'killed' };
    let settledFlag = false;
    const settled: Promise<Outcome> = start().then(
      (value) => ((settledFlag = true), { kind: 'ok', value }),
      (error) => ((settledFlag = true), completion(error)),
    );
    const out = await Promise.race([settled, this.killed]);
    if (out.kind === 'killed' && !settledFlag) {
      const t = setTimeout(() => this.reportStuck(), STUCK_AFTER_MS);
      t.unref();
      void settled.then(() => clearTimeout(t));
    }
    return out;
  }

  async run(code: string, over: { cpuMs?: number; wallMs?: number } = {}): Promise<IsolateCellResult> {
    const t0 = performance.now();
    const cpu0 = this.cpuTime();
    const done = (r: Omit<IsolateCellResult, 'durationMs'>): IsolateCellResult => ({ ...r, durationMs: performance.now() - t0, cpuMs: Math.max(0, this.cpuTime() - cpu0) });
    if (this.dead) return done(deadResult(this.killReason ?? 'worker_crash', '', this.limits));
    if (this.running) return done({ output: '', error: 'Error: another cell is still running in this sandbox' });
    if (code.length > this.limits.maxCodeChars) {
      return done({ output: '', error: `SyntaxError: the code is ${fmtInt(code.length)} chars; the limit is ${fmtInt(this.limits.maxCodeChars)} chars per cell` });
    }
    const rw = rewriteCell(code);
    if (!rw.ok) return done({ output: '', error: rw.error });

    this.running = true;
    this.emitted = '';
    const cpuMs = Math.max(1, Math.min(this.limits.cellCpuTimeoutMs, over.cpuMs ?? Infinity));
    const wallMs = Math.max(1, Math.min(this.limits.cellWallTimeoutMs, over.wallMs ?? Infinity));
    this.cell = { wallEnd: performance.now() + wallMs, cpuMs, cpu0: this.cpuTime(), hostMs: 0 };
    const wall = setTimeout(() => this.kill('wall_timeout'), wallMs);
    try {
      return done(await this.runPhases(rw.code, rw.isAsync, cpuMs));
    } finally {
      clearTimeout(wall);
      this.running = false;
    }
  }

  /**
   * run (the model's code, async: it may block on sub-calls), then the outcome: quick() synchronously when reading it
   * needs no model code (the common case: one isolate round trip per cell), else finish() under what is left of the
   * cell's CPU time. A CPU timeout disposes the isolate: the session rolls the cell back from its journal either way.
   */
  private async runPhases(code: string, isAsync: boolean, cpuMs: number): Promise<Omit<IsolateCellResult, 'durationMs'>> {
    const cpu0 = this.cpuTime();
    let out = await this.task(() => this.runRef.apply(undefined, [code, isAsync], { timeout: cpuMs, result: { copy: true } }));
    if (out.kind === 'ok') {
      out = this.quick();
      if (out.kind === 'ok' && typeof out.value === 'string') return this.parse(out.value);
    }
    if (out.kind === 'ok') {
      const left = Math.max(1, Math.ceil(cpuMs - (this.cpuTime() - cpu0)));
      out = await this.task(() => this.finishRef.apply(undefined, [], { timeout: left, result: { copy: true } }));
      if (out.kind === 'ok') {
        return typeof out.value === 'string' ? this.parse(out.value) : { output: this.emitted, error: 'InternalError: the cell result could not be read' };
      }
    }
    if (out.kind === 'killed') return deadResult(this.killReason ?? 'worker_crash', this.emitted, this.limits);

    const msg = out.error instanceof Error ? out.error.message : String(out.error);
    if (this.isolate.isDisposed || this.killReason !== null) {
      const reason: StopReason = this.killReason ?? (/memory limit/i.test(msg) ? 'memory_limit' : 'worker_crash');
      if (this.killReason === null) this.killReason = reason;
      return deadResult(reason, this.emitted, this.limits);
    }
    if (/timed out/i.test(msg)) {
      // The timed-out task skipped isolated-vm's epilogue (promises the model rejected are still queued): nothing of
      // this isolate is trustworthy any more.
      this.kill('cpu_timeout');
      return deadResult('cpu_timeout', this.emitted, this.limits);
    }
    return { output: this.emitted, error: `InternalError: ${msg}` };
  }

  /** quick(): synchronous (it runs no model code); `ok` with null when finish() must run. */
  private quick(): Outcome {
    if (this.dead) return { kind: 'killed' };
    try {
      return { kind: 'ok', value: this.quickRef.applySync(undefined, [], { timeout: QUICK_TIMEOUT_MS, result: { copy: true } }) };
    } catch (error) {
      return { kind: 'err', error };
    }
  }

  private cpuTime(): number {
    try {
      return Number(this.isolate.cpuTime) / 1e6;
    } catch {
      return 0;
    }
  }

  private parse(json: string): Omit<IsolateCellResult, 'durationMs'> {
    let j: { o?: unknown; d?: unknown; e?: unknown; s?: unknown; fv?: unknown; fs?: unknown };
    try {
      j = JSON.parse(json);
    } catch {
      return { output: this.emitted, error: 'InternalError: unreadable cell result' };
    }
    let output = this.emitted + (typeof j.o === 'string' ? j.o : '');
    let dropped = typeof j.d === 'number' && j.d > 0 ? j.d : 0;
    if (output.length > this.limits.maxOutputChars) {
      dropped += output.length - this.limits.maxOutputChars;
      output = output.slice(0, this.limits.maxOutputChars);
    }
    if (dropped > 0) output += truncationMarker(dropped);
    const r: Omit<IsolateCellResult, 'durationMs'> = { output };
    if (typeof j.e === 'string') r.error = j.e;
    if (j.s === 'sub_call_budget') r.stopReason = 'sub_call_budget';
    if (typeof j.fv === 'string' && (j.fs === 'FINAL' || j.fs === 'FINAL_VAR' || j.fs === 'answer')) {
      r.final = { value: j.fv, source: j.fs };
    }
    return r;
  }
}
