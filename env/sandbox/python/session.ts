/**
 * One Python REPL session (SandboxSession) over a sequence of sandbox processes: the same journal and rollback as the
 * JavaScript sessions (../session.ts, ../journal.ts). A cell that hits the CPU limit, the wall deadline or the memory cap,
 * or kills its process, has no effect: the session moves to a fresh process restored from the journal (accepted cells
 * re-run with every sub-call answered from the journal, no new model calls) and the cell gets one clear error line. A
 * process killed while the session is idle is replaced at the next run, unseen. A process serves one sandbox only, so
 * a death during a cell is always that cell's own.
 */
import type { CellResult, SubCallBudget, SubCallHandler } from '../types.ts';
import type { CellLimits } from '../protocol.ts';
import { deadResult, type StopReason } from '../results.ts';
import { fmtInt, truncationMarker, type ResolvedLimits } from '../limits.ts';
import { SubCallBroker } from '../subcalls.ts';
import { SessionJournal, resultHash, sha256, type JournalSubCall } from '../journal.ts';
import { rollbackMessage } from '../session.ts';
import { SandboxClosedError, SandboxError } from '../errors.ts';
import type { ChildToParent, PythonCellResult } from './frames.ts';
import type { PyProc } from './proc.ts';

/** What the pool does for a session. */
export interface PythonSessionHost {
  /** A started sandbox process (a warm spare when there is one), or an error message. */
  acquire(): Promise<{ ok: true; proc: PyProc } | { ok: false; message: string }>;
  /** The session is dead or closed: free its slot. */
  detach(s: PythonSession, died: boolean): void;
  readonly closed: boolean;
}

/** Everything a fresh sandbox of this session is opened with (every restore opens the same way, so replays match). */
export interface PythonSpec {
  text: string;
  docs: boolean;
  seed: number;
  limits: ResolvedLimits;
  initialUsed: number;
  heapMB: number;
  rssCapMB: number;
}

type Exec = { kind: 'result'; r: PythonCellResult & { output: string } } | { kind: 'death'; reason: StopReason; detail: string };
type Placed = { ok: true } | { ok: false; message: string; config?: boolean };

const OPEN_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
/** CPU time past the cell's limit after which the parent kills a process that did not stop itself (C loops). */
const CPU_BACKSTOP_MS = 3_000;
const EXIT_CPU = 86;
const MAX_PLACEMENTS = 3;
const FATAL = (msg: string) => JSON.stringify({ remaining: 0, budget: null, fatal: msg, results: [], texts: [] });

export class PythonSession {
  readonly broker: SubCallBroker;
  readonly journal: SessionJournal;
  deaths = 0;
  closed = false;
  private proc: PyProc | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private cellSeq = 0;
  private current: { cell: number; streamed: string; resolve: (e: Exec) => void } | null = null;
  private needsRestore = false;
  private replay: { subs: readonly JournalSubCall[]; i: number; diverged: boolean } | null = null;
  private log: { requestHash: string; reply: Promise<string> }[] | null = null;
  private _dead = false;
  private _stopReason: StopReason | undefined;
  private deathDetail: string | undefined;

  constructor(
    readonly spec: PythonSpec,
    handler: SubCallHandler,
    private readonly host: PythonSessionHost,
    budget?: SubCallBudget,
  ) {
    this.broker = new SubCallBroker(handler, spec.limits, spec.initialUsed, budget);
    this.journal = new SessionJournal({ maxChars: spec.limits.maxJournalChars, maxReplayMs: spec.limits.maxJournalReplayMs });
  }

  get limits(): ResolvedLimits {
    return this.spec.limits;
  }
  get subCallsUsed(): number {
    return this.broker.used;
  }
  get subCallsRefused(): number {
    return this.broker.refused;
  }
  get journalCells(): number {
    return this.journal.size;
  }
  get dead(): boolean {
    return this._dead;
  }
  get stopReason(): StopReason | undefined {
    return this._stopReason;
  }
  get workerPid(): number | undefined {
    return this._dead || this.closed || this.needsRestore ? undefined : this.proc?.pid;
  }

  /** Opens the first sandbox. */
  start(): Promise<Placed> {
    return this.place();
  }

  run(code: string, cellLimits?: CellLimits): Promise<CellResult> {
    if (this.closed) return Promise.reject(new SandboxClosedError('run(): the session is closed'));
    if (typeof code !== 'string') return Promise.reject(new SandboxError('run(code): code must be a string'));
    const p = this.chain.then(() => this.runNow(code, cellLimits));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async runNow(code: string, cellLimits: CellLimits | undefined): Promise<CellResult> {
    const t0 = performance.now();
    if (this.closed) throw new SandboxClosedError('run(): the session is closed');
    const acc = { replayMs: 0, reset: undefined as string | undefined };
    if (!this._dead && (this.needsRestore || !this.proc?.alive)) await this.restore(acc);
    if (this._dead) return this.deadCell(t0, acc);
    if (code.length > this.limits.maxCodeChars) {
      return {
        output: '',
        error: `SyntaxError: the code is ${fmtInt(code.length)} chars; the limit is ${fmtInt(this.limits.maxCodeChars)} chars per cell`,
        subCalls: [],
        durationMs: performance.now() - t0,
      };
    }
    this.broker.beginCell();
    const log: { requestHash: string; reply: Promise<string> }[] = [];
    this.log = log;
    let out: Exec;
    try {
      out = await this.exec(code, cellLimits);
    } finally {
      this.log = null;
    }
    if (this.closed) return { output: '', error: 'Error: the session was closed while the cell ran', dead: true, stopReason: 'worker_crash', subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
    if (out.kind === 'result' && !out.r.dead && out.r.stopReason !== 'cpu_timeout') {
      const r = out.r;
      const subCalls = await Promise.all(log.map(async (l) => ({ requestHash: l.requestHash, reply: await l.reply })));
      this.journal.add({ code, subCalls, resultHash: resultHash(r), cpuMs: r.cpuMs ?? 0 });
      const result: CellResult = { output: r.output, subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0, cpuMs: r.cpuMs ?? 0 };
      if (r.error !== undefined) result.error = r.error;
      if (r.final !== undefined) result.final = r.final;
      if (r.stopReason !== undefined) result.stopReason = r.stopReason;
      if (acc.replayMs > 0) result.replayMs = acc.replayMs;
      if (acc.reset !== undefined) result.reset = acc.reset;
      return result;
    }
    const reason: StopReason = out.kind === 'death' ? out.reason : out.r.stopReason === 'cpu_timeout' ? 'cpu_timeout' : 'worker_crash';
    return this.rollback(reason, cellLimits, t0, acc);
  }

  /** The cell failed in a way that leaves no trustworthy state: a fresh sandbox rebuilt from the journal. */
  private async rollback(reason: StopReason, cellLimits: CellLimits | undefined, t0: number, acc: { replayMs: number; reset?: string }): Promise<CellResult> {
    this.broker.abortInFlight('the cell was rolled back');
    if (reason !== 'cpu_timeout') this.deaths++;
    const hadCells = this.journal.size > 0 || this.journal.overflow !== null;
    await this.restore(acc);
    const result: CellResult = {
      output: '',
      error: rollbackMessage(reason, this.limits, cellLimits, acc.reset, hadCells),
      subCalls: this.broker.takeRecords(),
      durationMs: performance.now() - t0,
      stopReason: reason,
      rolledBack: true,
    };
    if (acc.replayMs > 0) result.replayMs = acc.replayMs;
    if (acc.reset !== undefined) result.reset = acc.reset;
    if (this._dead) {
      result.dead = true;
      result.error += ` The sandbox could not be restarted (${this.deathDetail ?? 'no sandbox process'}).`;
    }
    return result;
  }

  private deadCell(t0: number, acc: { replayMs: number }): CellResult {
    const r: CellResult = { ...deadResult(this._stopReason ?? 'worker_crash', '', this.limits, this.deathDetail), subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
    if (acc.replayMs > 0) r.replayMs = acc.replayMs;
    return r;
  }

  /** A fresh sandbox holding the journal's state; an overflowed journal or a diverging replay gives an empty REPL. */
  private async restore(acc: { replayMs: number; reset?: string }): Promise<void> {
    const t0 = performance.now();
    try {
      for (let placement = 0; placement < MAX_PLACEMENTS; placement++) {
        this.leaveProc();
        if (this.closed) return;
        if (this.journal.overflow !== null) {
          acc.reset = `the REPL was reset because ${this.journal.overflow}`;
          this.journal.clear();
        }
        const placed = await this.place();
        if (!placed.ok) {
          this.markDead('worker_crash', placed.message);
          return;
        }
        const replayed = await this.replayJournal();
        if (replayed === 'ok') return;
        if (replayed === 'diverged') {
          acc.reset = 'the REPL was reset because re-running its earlier cells did not reproduce them';
          this.journal.clear();
          this.leaveProc();
          const fresh = await this.place();
          if (!fresh.ok) this.markDead('worker_crash', fresh.message);
          return;
        }
      }
      this.markDead('worker_crash', 'sandbox processes kept dying while the session was being restored');
    } finally {
      acc.replayMs += performance.now() - t0;
    }
  }

  private async replayJournal(): Promise<'ok' | 'diverged' | 'died'> {
    try {
      for (const e of this.journal.entries) {
        this.replay = { subs: e.subCalls, i: 0, diverged: false };
        const out = await this.exec(e.code, undefined);
        if (out.kind === 'death' || out.r.dead) return 'died';
        const r = out.r;
        if (r.stopReason === 'cpu_timeout' || this.replay.diverged || this.replay.i !== e.subCalls.length || resultHash(r) !== e.resultHash) return 'diverged';
      }
      return 'ok';
    } finally {
      this.replay = null;
    }
  }

  /** Takes a process from the pool and opens this session's sandbox in it. */
  private async place(): Promise<Placed> {
    if (this.host.closed) return { ok: false, message: 'the sandbox pool was closed' };
    const got = await this.host.acquire();
    if (!got.ok) return got;
    const proc = got.proc;
    this.proc = proc;
    this.needsRestore = false;
    proc.ref();
    const s = this.spec;
    const opened = await new Promise<Extract<ChildToParent, { t: 'opened' }> | null>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill();
        resolve(null);
      }, OPEN_TIMEOUT_MS);
      proc.onMessage = (m) => {
        if (m.t === 'opened') {
          clearTimeout(timer);
          resolve(m);
        }
      };
      void proc.exited.then(() => {
        clearTimeout(timer);
        resolve(null);
      });
      proc.send({ t: 'open', text: s.text, docs: s.docs, seed: s.seed, limits: s.limits, subCallsUsed: s.initialUsed, heapMB: s.heapMB });
    });
    proc.unref();
    if (!opened || opened.error !== null) {
      proc.kill();
      if (this.proc === proc) this.proc = null;
      if (opened) {
        const msg = /MemoryError/.test(opened.error ?? '') ? `the context does not fit the memory limit of ${s.limits.memoryMB} MB` : opened.error!;
        return { ok: false, message: msg, config: true };
      }
      return { ok: false, message: `the Python sandbox process died while opening the session${proc.stderrTail ? `: ${lastLine(proc.stderrTail)}` : ''}` };
    }
    proc.onMessage = (m) => this.onMessage(proc, m);
    void proc.exited.then(({ code }) => this.onExit(proc, code));
    return { ok: true };
  }

  /** Runs one cell in the current process; resolves with its result or the process's death. */
  private exec(code: string, cellLimits: CellLimits | undefined): Promise<Exec> {
    const proc = this.proc;
    if (!proc || !proc.alive) return Promise.resolve({ kind: 'death', reason: 'worker_crash', detail: 'the sandbox process is gone' });
    const cell = ++this.cellSeq;
    const cpuLimit = Math.min(this.limits.cellCpuTimeoutMs, cellLimits?.cpuMs ?? Infinity);
    const wallLimit = Math.min(this.limits.cellWallTimeoutMs, cellLimits?.wallMs ?? Infinity);
    proc.ref();
    return new Promise<Exec>((resolve) => {
      const cpu0 = proc.usage()?.cpuMs ?? null;
      const wall = setTimeout(() => proc.kill('wall_timeout'), wallLimit);
      const poll = setInterval(() => {
        const u = proc.usage();
        if (!u) return;
        if (u.rssMB > this.spec.rssCapMB) proc.kill('memory_limit');
        // Time blocked on sub-calls costs no CPU, so the process's CPU time is the cell's own.
        if (cpu0 !== null && u.cpuMs - cpu0 > cpuLimit + CPU_BACKSTOP_MS) proc.kill('cpu_timeout');
      }, POLL_MS);
      this.current = {
        cell,
        streamed: '',
        resolve: (e) => {
          clearTimeout(wall);
          clearInterval(poll);
          proc.unref();
          this.current = null;
          resolve(e);
        },
      };
      proc.send({ t: 'run', cell, code, cpuMs: cpuLimit });
    });
  }

  private onMessage(proc: PyProc, m: ChildToParent): void {
    if (proc !== this.proc) return;
    const cur = this.current;
    switch (m.t) {
      case 'out':
        if (cur && typeof m.chunk === 'string' && cur.streamed.length < this.limits.maxOutputChars) {
          cur.streamed += m.chunk.slice(0, this.limits.maxOutputChars - cur.streamed.length);
        }
        break;
      case 'sub':
        void this.answer(m.payload).then((reply) => proc.send({ t: 'subres', reply }));
        break;
      case 'result':
        if (cur && cur.cell === m.cell) cur.resolve({ kind: 'result', r: this.compose(cur.streamed, m.result) });
        break;
      case 'fatal':
        this.deathDetail = m.error;
        break;
    }
  }

  /** A sub-call request of the current sandbox: from the journal while replaying, else through the broker (logged). */
  private answer(payload: string): Promise<string> {
    if (this._dead || this.closed) return Promise.resolve(FATAL('the session is closed'));
    const rp = this.replay;
    if (rp) {
      const e = rp.subs[rp.i++];
      if (!e || e.requestHash !== sha256(payload)) {
        rp.diverged = true;
        return Promise.resolve(FATAL('the replayed cell asked something else than when it first ran'));
      }
      return Promise.resolve(e.reply);
    }
    const reply = this.broker.handle(payload).catch(() => FATAL('internal error'));
    this.log?.push({ requestHash: sha256(payload), reply });
    return reply;
  }

  /** The cell's visible output: what streamed during it, then the rest, capped with the truncation marker. */
  private compose(streamed: string, r: PythonCellResult): PythonCellResult & { output: string } {
    let output = streamed + r.output;
    let dropped = r.dropped;
    if (output.length > this.limits.maxOutputChars) {
      dropped += output.length - this.limits.maxOutputChars;
      output = output.slice(0, this.limits.maxOutputChars);
    }
    if (dropped > 0) output += truncationMarker(dropped);
    return { ...r, output };
  }

  private onExit(proc: PyProc, code: number | null): void {
    if (proc !== this.proc) return;
    this.proc = null;
    const cur = this.current;
    if (!cur) {
      if (!this.closed && !this._dead) this.needsRestore = true; // killed while idle: restored at the next run, unseen
      return;
    }
    let reason: StopReason = proc.killedFor ?? (code === EXIT_CPU ? 'cpu_timeout' : 'worker_crash');
    if (reason === 'worker_crash' && /MemoryError|out of memory|Aborted\(OOM\)/i.test(proc.stderrTail)) reason = 'memory_limit';
    cur.resolve({ kind: 'death', reason, detail: `process exited with ${code ?? 'a signal'}` });
  }

  private leaveProc(): void {
    const p = this.proc;
    this.proc = null;
    if (p) p.kill();
  }

  private markDead(reason: StopReason, detail?: string): void {
    if (this._dead) return;
    this._dead = true;
    this._stopReason = reason;
    this.deathDetail ??= detail;
    this.broker.abandon(`the sandbox died (${reason})`);
    this.leaveProc();
    this.host.detach(this, true);
  }

  /** Ends the session: its process serves it alone, so it is simply killed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broker.abandon('the session was closed');
    this.current?.resolve({ kind: 'death', reason: 'worker_crash', detail: 'the session was closed' });
    this.leaveProc();
    if (!this._dead) this.host.detach(this, false);
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
