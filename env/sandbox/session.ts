/**
 * The parent side of one REPL session (SandboxSession): runs cells on whichever worker currently holds its sandbox, keeps
 * the journal of accepted cells, and makes a failed cell have no effect.
 *
 * - A cell that hits the CPU timeout, the wall deadline or the memory limit, or kills its worker, is rolled back: the
 *   sandbox is rebuilt from the journal (cells re-run in a fresh isolate, every sub-call answered from the journal) and
 *   the cell gets one clear error line. State is a pure function of seed + accepted cells.
 * - When a worker dies, sessions that were idle on it are restored on another worker at their next run, unseen; a
 *   session that was running a cell when it died is the culprit if it was the only one running; if several were, each
 *   re-runs its cell alone on a fresh quarantine worker (one at a time): the one that kills it again is the culprit, the
 *   others get their result as if nothing happened. Sub-calls a retried cell already made are answered from its log.
 */
import type { ChunkedContext, Doc } from '../../tasks/types.ts';
import type { CellResult, SubCallHandler, SubCallBudget } from './types.ts';
import type { CellLimits } from './protocol.ts';
import { deadResult, type IsolateCellResult, type StopReason } from './results.ts';
import { fmtInt, type ResolvedLimits } from './limits.ts';
import { SubCallBroker } from './subcalls.ts';
import { SessionJournal, resultHash, sha256, type JournalSubCall } from './journal.ts';
import { SandboxClosedError, SandboxError } from './errors.ts';
import type { WorkerHandle } from './worker-handle.ts';

/** What a session was doing when its worker died, as the pool judged it. */
export type DeathRole = 'idle' | 'culprit' | 'innocent' | 'suspect';

type ExecOutcome =
  | { kind: 'result'; r: IsolateCellResult }
  | { kind: 'death'; role: DeathRole; reason: StopReason; detail: string };

interface LoggedSubCall {
  requestHash: string;
  reply: Promise<string>;
}

/** What the pool does for a session (placement, quarantine, bookkeeping). */
export interface SessionHost {
  /** Opens a fresh sandbox for `s` on `worker` (or the best worker); resolves false when the pool cannot (closed, broken). */
  place(s: SessionImpl, worker?: WorkerHandle): Promise<{ ok: true } | { ok: false; message: string }>;
  /** Runs `fn` with a fresh worker no other session uses, one quarantine at a time; the worker is killed afterwards. */
  quarantine<T>(fn: (w: WorkerHandle) => Promise<T>): Promise<T>;
  /** The session is dead or closed, or left its worker: free its slot. */
  detach(s: SessionImpl): void;
  readonly graceMs: number;
  readonly closed: boolean;
}

export interface SessionSpec {
  context: string | Doc[] | ChunkedContext;
  key: string | null;
  chars: number;
  seed: number;
  /** Sub-calls counted as used when the first sandbox opened (every restore opens the same way, so replays match). */
  initialUsed: number;
}

const FATAL = (msg: string) => JSON.stringify({ remaining: 0, budget: null, fatal: msg, results: [], texts: [] });
/** A worker death while restoring or retrying is retried on another worker this many times before the session gives up. */
const MAX_PLACEMENTS = 3;

export class SessionImpl {
  worker: WorkerHandle | null = null;
  /** Id of the current sandbox on its worker (a new one per restore). */
  wsid = 0;
  readonly broker: SubCallBroker;
  readonly journal: SessionJournal;
  /** Cells rolled back because they killed a sandbox (memory, wall deadline, crash) — CPU timeouts excluded. */
  deaths = 0;
  closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private cellSeq = 0;
  private current: { cell: number; resolve: (o: ExecOutcome) => void } | null = null;
  private needsRestore = false;
  private replay: { subs: readonly JournalSubCall[]; i: number; diverged: boolean } | null = null;
  private log: LoggedSubCall[] | null = null;
  private prefill: { subs: LoggedSubCall[]; i: number } | null = null;
  private _dead = false;
  private _stopReason: StopReason | undefined;
  private deathDetail: string | undefined;
  private closing: Promise<void> | null = null;

  constructor(
    readonly limits: ResolvedLimits,
    handler: SubCallHandler,
    private readonly host: SessionHost,
    readonly spec: SessionSpec,
    subCallsUsed: number,
    budget?: SubCallBudget,
  ) {
    this.broker = new SubCallBroker(handler, limits, subCallsUsed, budget);
    this.journal = new SessionJournal({ maxChars: limits.maxJournalChars, maxReplayMs: limits.maxJournalReplayMs });
  }

  get subCallsUsed(): number {
    return this.broker.used;
  }
  get subCallsRefused(): number {
    return this.broker.refused;
  }
  get dead(): boolean {
    return this._dead;
  }
  get stopReason(): StopReason | undefined {
    return this._stopReason;
  }
  get workerPid(): number | undefined {
    return this._dead || this.closed || this.needsRestore ? undefined : this.worker?.pid;
  }
  get journalCells(): number {
    return this.journal.size;
  }
  /** Running a new cell (not a replay): what the pool asks when a worker dies. */
  get runningCell(): boolean {
    return this.current !== null && this.replay === null;
  }
  get running(): boolean {
    return this.current !== null;
  }

  /** The pool opened a sandbox for this session on `worker` under `wsid`. */
  attach(worker: WorkerHandle, wsid: number): void {
    this.worker = worker;
    this.wsid = wsid;
    this.needsRestore = false;
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
    if (!this._dead && (this.needsRestore || !this.worker?.alive)) await this.restore(acc);
    if (this._dead) return this.deadCell(t0, acc);
    this.broker.beginCell();
    let prefill: LoggedSubCall[] = [];
    for (let attempt = 1; ; attempt++) {
      const { out, log } = await this.execLogged(code, cellLimits, prefill);
      if (this.closed) return this.closedCell(t0);
      if (out.kind === 'result') {
        const r = out.r;
        if (!r.dead && r.stopReason !== 'cpu_timeout') return this.accept(code, r, log, t0, acc);
        return this.rollback(r.stopReason ?? 'worker_crash', cellLimits, t0, acc);
      }
      if (this.host.closed) {
        this.markDead('worker_crash', out.detail);
        return this.deadCell(t0, acc);
      }
      if (out.role === 'culprit' || attempt >= MAX_PLACEMENTS) return this.rollback(out.reason, cellLimits, t0, acc);
      if (out.role === 'suspect') {
        // Several cells were running when the worker died: find out alone, on a worker of its own.
        const q = await this.host.quarantine(async (w) => {
          await this.restore(acc, w);
          if (this._dead) return null;
          return this.execLogged(code, cellLimits, log);
        });
        if (this._dead || q === null) return this.deadCell(t0, acc);
        this.needsRestore = true; // leave the quarantine worker (it is killed): restore on a regular one next time
        if (q.out.kind === 'result') {
          const r = q.out.r;
          if (!r.dead && r.stopReason !== 'cpu_timeout') return this.accept(code, r, q.log, t0, acc);
          return this.rollback(r.stopReason ?? 'worker_crash', cellLimits, t0, acc);
        }
        return this.rollback(q.out.reason, cellLimits, t0, acc);
      }
      // Innocent: its worker was killed by a neighbour (or from outside). Restore elsewhere and retry the cell.
      prefill = log;
      await this.restore(acc);
      if (this._dead) return this.deadCell(t0, acc);
    }
  }

  /** The cell completed: journal it and hand its result on. */
  private async accept(code: string, r: IsolateCellResult, log: LoggedSubCall[], t0: number, acc: { replayMs: number; reset?: string }): Promise<CellResult> {
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

  /** The cell failed in a way that leaves no trustworthy state: rebuild the sandbox from the journal. */
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
      result.error += ` The sandbox could not be restarted (${this.deathDetail ?? 'no worker'}).`;
    }
    return result;
  }

  /** The session was closed while the cell ran. */
  private closedCell(t0: number): CellResult {
    return { output: '', error: 'Error: the session was closed while the cell ran', dead: true, stopReason: 'worker_crash', subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
  }

  private deadCell(t0: number, acc: { replayMs: number }): CellResult {
    const r: CellResult = { ...deadResult(this._stopReason ?? 'worker_crash', '', this.limits, this.deathDetail), subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
    if (acc.replayMs > 0) r.replayMs = acc.replayMs;
    return r;
  }

  /**
   * A fresh sandbox holding the journal's state (on `worker`, else the pool's choice). A journal past its bound, or a
   * replay that does not reproduce a cell, gives an empty REPL instead (`acc.reset` says why). Never throws.
   */
  private async restore(acc: { replayMs: number; reset?: string }, worker?: WorkerHandle): Promise<void> {
    const t0 = performance.now();
    try {
      for (let placement = 0; placement < MAX_PLACEMENTS; placement++) {
        this.leaveWorker();
        if (this.closed) return;
        if (this.journal.overflow !== null) {
          acc.reset = `the REPL was reset because ${this.journal.overflow}`;
          this.journal.clear();
        }
        const placed = await this.host.place(this, placement === 0 ? worker : undefined);
        if (!placed.ok) {
          this.markDead('worker_crash', placed.message);
          return;
        }
        const replayed = await this.replayJournal();
        if (replayed === 'ok') return;
        if (replayed === 'diverged') {
          acc.reset = `the REPL was reset because re-running its earlier cells did not reproduce them`;
          this.journal.clear();
          this.leaveWorker();
          const fresh = await this.host.place(this);
          if (!fresh.ok) this.markDead('worker_crash', fresh.message);
          return;
        }
        // 'died': the new worker died under us; try another one.
      }
      this.markDead('worker_crash', 'sandbox workers kept dying while the session was being restored');
    } finally {
      acc.replayMs += performance.now() - t0;
    }
  }

  private async replayJournal(): Promise<'ok' | 'diverged' | 'died'> {
    try {
      for (const e of this.journal.entries) {
        this.replay = { subs: e.subCalls, i: 0, diverged: false };
        const out = await this.exec(e.code, undefined);
        if (out.kind === 'death') return 'died';
        const r = out.r;
        if (r.dead && !this.worker?.alive) return 'died';
        if (r.dead || r.stopReason === 'cpu_timeout' || this.replay.diverged || this.replay.i !== e.subCalls.length || resultHash(r) !== e.resultHash) return 'diverged';
      }
      return 'ok';
    } finally {
      this.replay = null;
    }
  }

  /** Runs one cell, logging the sub-calls it makes (answering the first ones from `prefill` when they match). */
  private async execLogged(code: string, cellLimits: CellLimits | undefined, prefill: LoggedSubCall[]): Promise<{ out: ExecOutcome; log: LoggedSubCall[] }> {
    const log: LoggedSubCall[] = [];
    this.log = log;
    this.prefill = prefill.length ? { subs: prefill, i: 0 } : null;
    try {
      return { out: await this.exec(code, cellLimits), log };
    } finally {
      this.log = null;
      this.prefill = null;
    }
  }

  /** Sends one cell to the current sandbox and waits for its result or its worker's death. */
  private exec(code: string, cellLimits: CellLimits | undefined): Promise<ExecOutcome> {
    const worker = this.worker;
    if (!worker || !worker.alive) return Promise.resolve({ kind: 'death', role: 'innocent', reason: 'worker_crash', detail: 'the worker is gone' });
    const cell = ++this.cellSeq;
    const wall = Math.min(this.limits.cellWallTimeoutMs, cellLimits?.wallMs ?? Infinity);
    worker.hold();
    return new Promise<ExecOutcome>((resolve) => {
      const watchdog = setTimeout(() => {
        // The worker did not answer well after the wall deadline: it is stuck (e.g. in a native call). Kill it.
        worker.watchdogVictim = this;
        worker.kill();
      }, wall + this.host.graceMs);
      this.current = {
        cell,
        resolve: (o) => {
          clearTimeout(watchdog);
          worker.release();
          this.current = null;
          resolve(o);
        },
      };
      worker.send({ t: 'run', sid: this.wsid, cell, code, ...(cellLimits ? { limits: cellLimits } : {}) });
    });
  }

  /** A sub-call request from the current sandbox. Resolves with the reply JSON; never rejects. */
  onSub(wsid: number, payload: string): Promise<string> {
    if (wsid !== this.wsid || this._dead || this.closed) return Promise.resolve(FATAL('the session is closed'));
    const rp = this.replay;
    if (rp) {
      const e = rp.subs[rp.i++];
      if (!e || e.requestHash !== sha256(payload)) {
        rp.diverged = true;
        return Promise.resolve(FATAL('the replayed cell asked something else than when it first ran'));
      }
      return Promise.resolve(e.reply);
    }
    const hash = sha256(payload);
    const pf = this.prefill;
    if (pf && pf.i < pf.subs.length) {
      const p = pf.subs[pf.i];
      if (p.requestHash === hash) {
        pf.i++;
        this.log?.push(p);
        return p.reply;
      }
      this.prefill = null; // diverged from the first attempt: go live from here
    }
    const reply = this.broker.handle(payload).catch(() => FATAL('internal error'));
    this.log?.push({ requestHash: hash, reply });
    return reply;
  }

  /** A 'result' message from the worker. */
  onResult(wsid: number, cell: number, r: IsolateCellResult): void {
    const cur = this.current;
    if (wsid !== this.wsid || !cur || cur.cell !== cell) return;
    cur.resolve({ kind: 'result', r });
  }

  /** The worker holding this session's sandbox died; the pool says what this session was doing. */
  onWorkerDeath(role: DeathRole, reason: StopReason, detail: string): void {
    this.worker = null;
    const cur = this.current;
    if (cur) cur.resolve({ kind: 'death', role, reason, detail });
    else this.needsRestore = true;
  }

  /** Gives up the current sandbox (closing it if its worker lives); the session is then placed again. */
  private leaveWorker(): void {
    const w = this.worker;
    if (w) {
      if (w.alive) w.send({ t: 'close', sid: this.wsid });
      this.host.detach(this);
    }
    this.worker = null;
  }

  private markDead(reason: StopReason, detail?: string): void {
    if (this._dead) return;
    this._dead = true;
    this._stopReason = reason;
    this.deathDetail = detail;
    this.broker.abandon(`the sandbox died (${reason})`);
    this.leaveWorker();
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.broker.abandon('the session was closed');
    const worker = this.worker;
    const wsid = this.wsid;
    this.host.detach(this);
    this.worker = null;
    // A cell in flight ends now (its result, if the worker still sends one, has nowhere to go).
    this.current?.resolve({ kind: 'death', role: 'innocent', reason: 'worker_crash', detail: 'the session was closed' });
    if (this._dead || !worker || !worker.alive) {
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.closing = new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.closes.delete(wsid);
        worker.release();
        resolve();
      };
      worker.hold();
      const timer = setTimeout(done, CLOSE_TIMEOUT_MS);
      worker.closes.set(wsid, done);
      worker.send({ t: 'close', sid: wsid });
      void worker.exited.then(done);
    });
    return this.closing;
  }
}

const CLOSE_TIMEOUT_MS = 5_000;

function seconds(ms: number): string {
  return ms < 1000 ? `${fmtInt(ms)} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** The one line the model sees for a cell that had no effect. */
export function rollbackMessage(reason: StopReason, limits: ResolvedLimits, cellLimits: CellLimits | undefined, reset: string | undefined, hadCells: boolean): string {
  const cpu = Math.min(limits.cellCpuTimeoutMs, cellLimits?.cpuMs ?? Infinity);
  const wall = Math.min(limits.cellWallTimeoutMs, cellLimits?.wallMs ?? Infinity);
  const turnCut = (limit: number, own: number) => (limit < own ? " (what was left of this turn's budget)" : '');
  let what: string;
  switch (reason) {
    case 'cpu_timeout':
      what = `TimeoutError: the cell timed out after ${seconds(cpu)} CPU${turnCut(cpu, limits.cellCpuTimeoutMs)}`;
      break;
    case 'wall_timeout':
      what = `TimeoutError: the cell exceeded its wall-clock limit of ${seconds(wall)}${turnCut(wall, limits.cellWallTimeoutMs)} (time blocked on sub-calls counts)`;
      break;
    case 'memory_limit':
      what = `RangeError: the cell ran out of memory (limit ${fmtInt(limits.memoryMB)} MB)`;
      break;
    default:
      what = 'Error: the cell crashed its sandbox process';
  }
  if (reset !== undefined) return `${what}; ${reset}: all variables are lost.`;
  return `${what} and was rolled back; your variables are as before it${hadCells ? '' : ' (none were defined yet)'}.`;
}
