/**
 * SandboxPool: a small pool of forked worker processes holding isolates (see worker.ts), and the SandboxSession handed to
 * RLMEnv. The parent runs the sub-model calls (SubCallBroker), enforces a watchdog slightly after each cell's wall
 * deadline (kills a worker that cannot recover), replaces dead workers, and never rejects a run for anything the model's
 * code does. Sessions journal their accepted cells (session.ts): a failed cell is rolled back, and the sessions of a
 * dead worker are restored on another one without noticing.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isChunkedContext, type ChunkedContext } from '../../tasks/chunked.ts';
import type { Doc } from '../../tasks/types.ts';
import { HOST_CONTEXT_MEMORY_BYTES } from './host-context.ts';
import type { CellResult, SessionOptions, SubCallHandler } from './types.ts';
import type { CellLimits, ContextTransfer, WorkerConfig, WorkerToParent } from './protocol.ts';
import type { StopReason } from './results.ts';
import { resolveLimits, type ResolvedLimits } from './limits.ts';
import { SessionImpl, type DeathRole, type SessionHost } from './session.ts';
import { WorkerHandle } from './worker-handle.ts';
import { SandboxClosedError, SandboxConfigError, SandboxError, SandboxWorkerError } from './errors.ts';
import { PythonPool, type PythonPoolOptions, type PythonPoolStats } from './python/pool.ts';

export interface SandboxPoolOptions {
  /** Worker processes. Default: min(os.availableParallelism(), 4). */
  workers?: number;
  /** Sessions (isolates) per worker; when every worker is full, open() waits for a slot. Default 64. */
  maxSessionsPerWorker?: number;
  /** Contexts each worker keeps cached (by contextKey). Default 8 entries / 1024 MB. */
  contextCacheEntries?: number;
  contextCacheMB?: number;
  /** Extra time after a cell's wall deadline before the parent kills a worker that did not answer. Default 2000 ms. */
  watchdogGraceMs?: number;
  /**
   * Isolates each worker makes ahead of time, while it is idle, for the memory limit of its latest open: an open then
   * skips creating the isolate and its context (~60% of its setup). The isolate of a session closed cleanly is reused
   * the same way (a fresh context each time, at most 32 sessions per isolate, never after a kill or timeout). Default 2;
   * 0 = none (every session gets a new isolate, disposed at close).
   */
  spareIsolates?: number;
  /** The Python backend (sessions opened with `repl: 'python'`): process cap and warm spares. */
  python?: PythonPoolOptions;
}

export interface SandboxPoolStats {
  /** Worker processes alive now. */
  workers: number;
  /** Workers started to replace one that died. */
  respawns: number;
  /** Sessions open now (not closed, not dead). */
  sessions: number;
  /** Sessions restored on another worker after theirs died under them (not their fault). */
  restores: number;
  /** Sandboxes opened on a spare isolate (made ahead while the worker was idle, or reused: see recycledOpens). */
  spareOpens: number;
  /** Of those, sandboxes opened on the isolate of a closed session (a fresh context in it). */
  recycledOpens: number;
}

/**
 * One REPL session. The one interface every backend's session implements (the isolated-vm JS REPL today): cells are
 * code strings, results are CellResults, sub-calls go through the SubCallHandler given to open().
 */
export interface SandboxSession {
  /**
   * Runs one cell. Never rejects for anything the model's code does. A cell that times out, runs out of memory or kills
   * its sandbox is rolled back (`rolledBack: true`); `dead: true` only when the session cannot go on. Calls are serialized.
   * `cellLimits` lowers the CPU/wall limit of this one cell (e.g. to what is left of a turn's budget).
   */
  run(code: string, cellLimits?: CellLimits): Promise<CellResult>;
  /** Sub-calls this session sent so far (refused prompts excluded). */
  readonly subCallsUsed: number;
  /** Prompts refused before sending (too large, over a chars cap). */
  readonly subCallsRefused: number;
  readonly dead: boolean;
  /** Why the sandbox died (set together with `dead`). */
  readonly stopReason: CellResult['stopReason'] | undefined;
  /** PID of the worker process that holds this session's isolate (undefined once dead or closed, or while it must be restored). */
  readonly workerPid: number | undefined;
  /** Accepted cells in the journal (what a restore re-runs). */
  readonly journalCells: number;
  /** Cells of this session that killed their sandbox (memory, wall deadline, crash) and were rolled back. */
  readonly deaths: number;
  /** The limits in force (defaults filled in). */
  readonly limits: Readonly<ResolvedLimits>;
  /** Disposes the isolate. Idempotent; never rejects. */
  close(): Promise<void>;
}

/** Contexts up to this many chars go inline over IPC; larger ones through a temp file written once. */
const INLINE_MAX_CHARS = 1 << 20;
const OPEN_TIMEOUT_MS = 60_000;
/** A retired worker is killed at the latest this long after retirement, even if sessions remain. */
const RETIRE_MAX_MS = 120_000;
const OOM_STDERR = /out[- ]of[- ]memory|is_heap_oom|Last few GCs|memory limit/i;

// ---------------------------------------------------------------------------------------------------------------------

interface PreparedContext {
  text: string | null; // null when served from the parent's cache (file already written)
  chars: number;
  bytes: number;
  ascii: boolean;
  layout: number[] | null;
  /** A host-backed context: nothing is copied, the worker reads the chunk files. */
  host?: ChunkedContext;
}

interface FileEntry {
  path: string;
  chars: number;
  bytes: number;
  layout: number[] | null;
  ascii: boolean;
  inUse: number;
}

// ---------------------------------------------------------------------------------------------------------------------

type Placement = { ok: true } | { ok: false; kind: 'config' | 'transfer' | 'worker' | 'closed'; message: string };

export class SandboxPool implements SessionHost {
  private readonly size: number;
  private readonly maxPerWorker: number;
  private readonly workerConfig: WorkerConfig;
  readonly graceMs: number;
  private readonly slots: (WorkerHandle | null)[];
  private readonly retired = new Set<WorkerHandle>();
  /** Sandboxes by their worker-side id (a session gets a new one each time it is restored). */
  private readonly sessions = new Map<number, SessionImpl>();
  /** Sessions open now. */
  private readonly live = new Set<SessionImpl>();
  private readonly preparedHints = new WeakMap<SessionImpl, PreparedContext | null>();
  private quarantineChain: Promise<unknown> = Promise.resolve();
  private restores = 0;
  private spareOpens = 0;
  private recycledOpens = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private nextSid = 1;
  private respawns = 0;
  private startupFailures = 0;
  private broken: string | null = null;
  closed = false;
  private closePromise: Promise<void> | null = null;
  private tmpDir: string | null = null;
  private readonly files = new Map<string, FileEntry>();
  private readonly exitCleanup = () => this.removeTmpDir();
  private readonly pythonOptions: PythonPoolOptions;
  private pythonPool: PythonPool | null = null;

  constructor(options: SandboxPoolOptions = {}) {
    const int = (v: unknown, name: string, min: number, max: number, dflt: number): number => {
      if (v === undefined) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new SandboxConfigError(`SandboxPool option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
      }
      return v;
    };
    this.size = int(options.workers, 'workers', 1, 256, Math.max(1, Math.min(os.availableParallelism(), 4)));
    this.maxPerWorker = int(options.maxSessionsPerWorker, 'maxSessionsPerWorker', 1, 100_000, 64);
    this.workerConfig = {
      cacheEntries: int(options.contextCacheEntries, 'contextCacheEntries', 1, 10_000, 8),
      cacheMB: int(options.contextCacheMB, 'contextCacheMB', 1, 1_000_000, 1024),
      spares: int(options.spareIsolates, 'spareIsolates', 0, 64, 2),
    };
    this.graceMs = int(options.watchdogGraceMs, 'watchdogGraceMs', 0, 600_000, 2_000);
    this.slots = new Array<WorkerHandle | null>(this.size).fill(null);
    this.pythonOptions = options.python ?? {};
    if (options.python) new PythonPool(options.python); // validates the options now
  }

  /** The Pyodide backend, started on the first `repl: 'python'` session. */
  private python(): PythonPool {
    this.pythonPool ??= new PythonPool(this.pythonOptions);
    return this.pythonPool;
  }

  /** The Python backend's processes, sessions, deaths and isolation layers (null until a Python session was opened). */
  get pythonStats(): PythonPoolStats | null {
    return this.pythonPool?.stats ?? null;
  }

  /** Builds the Python artifacts (bundle + Pyodide snapshot, cached on disk) and starts the warm Python sandboxes. */
  async warmupPython(): Promise<void> {
    this.assertOpen();
    await this.python().warmup();
  }

  get stats(): SandboxPoolStats {
    let workers = 0;
    for (const w of this.slots) if (w?.alive) workers++;
    let sessions = 0;
    for (const s of this.live) if (!s.dead && !s.closed) sessions++;
    return { workers, respawns: this.respawns, sessions, restores: this.restores, spareOpens: this.spareOpens, recycledOpens: this.recycledOpens };
  }

  /** PIDs of the live worker processes (diagnostics, tests). */
  workerPids(): number[] {
    return this.slots.filter((w): w is WorkerHandle => !!w?.alive && w.pid !== undefined).map((w) => w.pid!);
  }

  /** Starts every worker now and waits until they are ready (otherwise they start on the first open()). */
  async warmup(): Promise<void> {
    this.assertOpen();
    this.ensureWorkers();
    await Promise.all(
      this.slots.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.ready || !w.alive) return resolve();
            const check = (m: WorkerToParent) => {
              if (m?.t === 'ready') resolve();
            };
            w.child.once('message', check);
            void w.exited.then(() => resolve());
          }),
      ),
    );
  }

  async open(options: SessionOptions, onSubCall: SubCallHandler): Promise<SandboxSession> {
    this.assertOpen();
    if (!options || typeof options !== 'object') throw new SandboxConfigError('open(options): options must be an object');
    if (typeof onSubCall !== 'function') throw new SandboxConfigError('open(options, onSubCall): onSubCall must be a function');
    if (options.repl !== undefined && options.repl !== 'js' && options.repl !== 'python') {
      throw new SandboxConfigError(`open(options): repl must be 'js' or 'python', got ${JSON.stringify(options.repl)}`);
    }
    if (isChunkedContext(options.context) && options.repl === 'python') {
      throw new SandboxConfigError(
        "open(options): the Python REPL does not support host-backed contexts (chunk files on disk); use the JavaScript REPL (--repl js), or a context small enough for memory (--context-storage memory)",
      );
    }
    if (options.repl === 'python') return this.python().open(options, onSubCall);
    if (typeof options.seed !== 'number' || !Number.isFinite(options.seed)) {
      throw new SandboxConfigError(`open(options): seed must be a finite number, got ${String(options.seed)}`);
    }
    if (options.contextKey !== undefined && (typeof options.contextKey !== 'string' || options.contextKey.length === 0)) {
      throw new SandboxConfigError('open(options): contextKey must be a non-empty string');
    }
    const used = options.subCallsUsed ?? 0;
    if (typeof used !== 'number' || !Number.isSafeInteger(used) || used < 0) {
      throw new SandboxConfigError(`open(options): subCallsUsed must be a non-negative integer, got ${String(used)}`);
    }
    const budget = options.subCallBudget;
    if (budget !== undefined && (typeof budget !== 'object' || budget === null || typeof budget.tryTake !== 'function')) {
      throw new SandboxConfigError('open(options): subCallBudget must be a SubCallBudget ({ max, used, tryTake(n) })');
    }
    // Host-backed contexts are never cached: only their description crosses to the worker.
    const key = isChunkedContext(options.context) ? null : (options.contextKey ?? null);
    const cachedFile = key !== null ? this.files.get(key) : undefined;
    const context = options.context;
    const prepared = cachedFile && cachedFile.chars === contextChars(context) ? null : prepareContext(context);
    const bytes = prepared ? prepared.bytes : cachedFile!.bytes;
    const limits = resolveLimits(options, bytes);
    // The isolate starts with what is left of the budget (shared or own); a restore starts it the same way again.
    const initialUsed = budget ? Math.max(0, limits.maxSubCalls - Math.max(0, budget.max - budget.used)) : used;
    const session = new SessionImpl(
      limits,
      onSubCall,
      this,
      { context, key, chars: prepared ? prepared.chars : cachedFile!.chars, seed: options.seed, initialUsed },
      used,
      budget,
    );
    this.preparedHints.set(session, prepared);
    this.live.add(session);
    const placed = await this.placeNew(session);
    this.preparedHints.delete(session);
    if (!placed.ok) {
      this.live.delete(session);
      if (placed.kind === 'config') throw new SandboxConfigError(`open(): the sandbox could not be created: ${placed.message}`);
      if (placed.kind === 'transfer') throw new SandboxError(`open(): the context could not be handed to the worker: ${placed.message}`);
      if (placed.kind === 'closed') throw new SandboxClosedError('open(): the pool was closed');
      throw new SandboxWorkerError(`open(): ${placed.message}`);
    }
    if (this.closed) {
      await session.close();
      throw new SandboxClosedError('open(): the pool was closed');
    }
    return session;
  }

  // ----- SessionHost: what sessions ask of the pool -----

  /** Opens a fresh sandbox for a session that had one before (restore). */
  async place(s: SessionImpl, worker?: WorkerHandle): Promise<{ ok: true } | { ok: false; message: string }> {
    this.restores++;
    return this.placeNew(s, worker);
  }

  private async placeNew(s: SessionImpl, worker?: WorkerHandle): Promise<Placement> {
    let last: Placement = { ok: false, kind: 'worker', message: 'no worker could take the session' };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.closed) return { ok: false, kind: 'closed', message: 'the sandbox pool was closed' };
      let w: WorkerHandle;
      if (worker && attempt === 0 && worker.alive) {
        w = worker;
        w.pendingOpens++;
      } else {
        try {
          w = await this.acquireWorker(s.spec.key);
        } catch (e) {
          return { ok: false, kind: e instanceof SandboxClosedError ? 'closed' : 'worker', message: e instanceof Error ? e.message : String(e) };
        }
      }
      last = await this.openOn(s, w);
      if (last.ok || last.kind === 'config' || last.kind === 'transfer') return last;
    }
    return last;
  }

  /** One open handshake of `s` on `worker` (whose pendingOpens was reserved by the caller). */
  private async openOn(s: SessionImpl, worker: WorkerHandle): Promise<Placement> {
    const key = s.spec.key;
    let transfer: ContextTransfer;
    let cleanup: () => void;
    try {
      const cachedFile = key !== null ? this.files.get(key) : undefined;
      const useCached = cachedFile !== undefined && cachedFile.chars === s.spec.chars;
      const hint = this.preparedHints.get(s);
      const prepared = useCached ? null : (hint ?? prepareContext(s.spec.context));
      ({ transfer, cleanup } = this.transferFor(key, prepared, useCached ? cachedFile : undefined));
    } catch (e) {
      return { ok: false, kind: 'transfer', message: e instanceof Error ? e.message : String(e) };
    } finally {
      worker.pendingOpens--;
    }
    const wsid = this.nextSid++;
    s.attach(worker, wsid);
    worker.sessions.add(s);
    this.sessions.set(wsid, s);
    worker.hold();
    const handshake = (ctx: ContextTransfer) =>
      new Promise<Extract<WorkerToParent, { t: 'opened' }> | null>((resolve) => {
        const timer = setTimeout(() => {
          worker.opens.delete(wsid);
          worker.kill();
          resolve(null);
        }, OPEN_TIMEOUT_MS);
        worker.opens.set(wsid, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        worker.send({ t: 'open', sid: wsid, ctx, seed: s.spec.seed, limits: s.limits, subCallsUsed: s.spec.initialUsed });
      });
    // A worker that loaded this context recently most likely still caches it: send the key alone (a GRPO group's
    // siblings then cost no copy of the text at all); on a miss the worker says so and the text follows.
    // The worker handles messages in order and caches a context as soon as an open carrying it arrives, so the key is
    // noted when the text is sent: siblings opened right after it go by key too.
    let opened: Extract<WorkerToParent, { t: 'opened' }> | null;
    if (key !== null && transfer.source.kind === 'inline' && worker.keys.has(key)) {
      opened = await handshake({ ...transfer, source: { kind: 'cached' } });
      if (opened?.miss) opened = await handshake(transfer);
    } else {
      if (key !== null) worker.noteKey(key);
      opened = await handshake(transfer);
    }
    worker.release();
    cleanup();
    if (opened && opened.error === null) {
      if (key !== null) worker.noteKey(key);
      if (opened.spare) this.spareOpens++;
      if (opened.reused) this.recycledOpens++;
      return { ok: true };
    }
    worker.sessions.delete(s);
    this.sessions.delete(wsid);
    if (s.worker === worker) s.worker = null;
    this.wakeSlotWaiter();
    // An error answer is a property of this context/limits, not of the worker.
    if (opened) return { ok: false, kind: 'config', message: opened.error ?? 'unknown error' };
    return { ok: false, kind: 'worker', message: `the worker process died while opening the session${worker.stderrTail ? `: ${lastLine(worker.stderrTail)}` : ''}` };
  }

  /** Runs `fn` with a worker of its own (not in the pool's slots), one at a time; the worker is killed afterwards. */
  quarantine<T>(fn: (w: WorkerHandle) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const w = this.spawnDetached();
      try {
        return await fn(w);
      } finally {
        w.hold(); // observe the exit
        w.kill();
      }
    };
    const p = this.quarantineChain.then(run, run);
    this.quarantineChain = p.catch(() => undefined);
    return p;
  }

  /** Kills every worker and removes temp files. Idempotent; afterwards the process can exit. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closed = true;
    while (this.slotWaiters.length) this.slotWaiters.shift()!();
    const exits: Promise<void>[] = [];
    if (this.pythonPool) exits.push(this.pythonPool.close());
    for (const w of [...this.slots, ...this.retired]) {
      if (!w) continue;
      exits.push(w.exited);
      w.hold(); // keep the event loop alive until the exit is observed
      w.kill();
    }
    this.closePromise = Promise.all(exits).then(() => {
      this.removeTmpDir();
      process.removeListener('exit', this.exitCleanup);
    });
    return this.closePromise;
  }

  /** The session is dead or closed, or leaves its worker (restore): free its slot. */
  detach(s: SessionImpl): void {
    const w = s.worker;
    if (w?.sessions.delete(s)) {
      this.wakeSlotWaiter();
      if (w.retiring) this.killIfEmpty(w);
    }
    this.sessions.delete(s.wsid);
    if (s.closed || s.dead) this.live.delete(s);
  }

  private spawnDetached(): WorkerHandle {
    const h = new WorkerHandle(
      -1,
      this.workerConfig,
      (w, m) => this.onMessage(w, m),
      (w, code, signal) => this.onExit(w, code, signal),
    );
    this.retired.add(h); // killed by close(); never in a slot, never respawned
    return h;
  }

  /** A worker reported a stuck isolate thread: replace it now, let its other sessions finish, then kill it. */
  private retire(h: WorkerHandle): void {
    if (h.retiring || !h.alive) return;
    h.retiring = true;
    this.retired.add(h);
    if (this.slots[h.slot] === h) {
      this.slots[h.slot] = null;
      if (!this.closed) {
        this.respawns++;
        this.spawn(h.slot);
        this.wakeSlotWaiter();
      }
    }
    const t = setTimeout(() => h.kill(), RETIRE_MAX_MS);
    t.unref();
    void h.exited.then(() => clearTimeout(t));
    this.killIfEmpty(h);
  }

  private killIfEmpty(h: WorkerHandle): void {
    if (h.sessions.size === 0 && h.pendingOpens === 0 && h.opens.size === 0) {
      h.hold(); // observe the exit
      h.kill();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SandboxClosedError('the sandbox pool is closed');
    if (this.broken !== null) throw new SandboxWorkerError(`sandbox workers cannot start: ${this.broken}`);
  }

  private ensureWorkers(): void {
    for (let i = 0; i < this.size; i++) if (!this.slots[i]) this.spawn(i);
  }

  private spawn(slot: number): void {
    this.slots[slot] = new WorkerHandle(
      slot,
      this.workerConfig,
      (h, m) => this.onMessage(h, m),
      (h, code, signal) => this.onExit(h, code, signal),
    );
  }

  private async acquireWorker(key: string | null): Promise<WorkerHandle> {
    for (;;) {
      this.assertOpen();
      this.ensureWorkers();
      // Least-loaded worker; on a tie prefer one that already holds this context, then a ready one, then the lowest slot.
      let best: WorkerHandle | null = null;
      let bestScore = Infinity;
      for (const w of this.slots) {
        if (!w || !w.alive) continue;
        const load = w.sessions.size + w.pendingOpens;
        if (load >= this.maxPerWorker) continue;
        const score = load + (key !== null && w.keys.has(key) ? 0 : 0.5) + (w.ready ? 0 : 0.25);
        if (score < bestScore) {
          best = w;
          bestScore = score;
        }
      }
      if (best) {
        best.pendingOpens++; // reserve now, synchronously: concurrent open() calls see the load
        return best;
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  private wakeSlotWaiter(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
  }

  private onMessage(h: WorkerHandle, m: WorkerToParent): void {
    switch (m?.t) {
      case 'ready':
        this.startupFailures = 0;
        break;
      case 'opened': {
        const cb = h.opens.get(m.sid);
        if (cb) {
          h.opens.delete(m.sid);
          cb(m);
        } else if (m.error === null) {
          h.send({ t: 'close', sid: m.sid }); // nobody is waiting any more
        }
        break;
      }
      case 'sub': {
        const s = this.sessions.get(m.sid);
        if (!s || s.dead || s.closed) {
          h.send({ t: 'subres', sid: m.sid, id: m.id, reply: JSON.stringify({ remaining: 0, budget: null, fatal: 'the session is closed', results: [], texts: [] }) });
          break;
        }
        void s.onSub(m.sid, m.payload).then((reply) => h.send({ t: 'subres', sid: m.sid, id: m.id, reply }));
        break;
      }
      case 'result':
        this.sessions.get(m.sid)?.onResult(m.sid, m.cell, m.result);
        break;
      case 'closed': {
        const cb = h.closes.get(m.sid);
        if (cb) cb();
        break;
      }
      case 'tainted':
        this.retire(h);
        break;
    }
  }

  private onExit(h: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const current = this.slots[h.slot] === h;
    if (current) this.slots[h.slot] = null;
    this.retired.delete(h);
    const detail = this.closed ? 'the sandbox pool was closed' : signal ? `worker killed by ${signal}` : `worker exited with code ${code}`;
    const oom = OOM_STDERR.test(h.stderrTail);
    // Who caused it: the watchdog's victim; else the one session running a cell; several running ⇒ all suspects
    // (each re-runs its cell alone in quarantine). Sessions that were idle, or replaying their journal, are innocent.
    const victim = h.watchdogVictim;
    const runningCells = [...h.sessions].filter((s) => s.runningCell).length;
    for (const s of [...h.sessions]) {
      let role: DeathRole = 'idle';
      let reason: StopReason = 'worker_crash';
      if (s.running) {
        if (victim) role = s === victim ? 'culprit' : 'innocent';
        else if (!s.runningCell) role = 'innocent';
        else role = runningCells === 1 ? 'culprit' : 'suspect';
        if (role === 'culprit') reason = victim === s ? 'wall_timeout' : oom ? 'memory_limit' : 'worker_crash';
      }
      this.sessions.delete(s.wsid);
      s.onWorkerDeath(role, reason, detail);
    }
    h.sessions.clear();
    for (const cb of h.opens.values()) cb(null);
    h.opens.clear();
    for (const cb of [...h.closes.values()]) cb();
    if (this.closed || !current) return;
    if (!h.startedOk) {
      this.startupFailures++;
      if (this.startupFailures >= 3) {
        this.broken = lastLine(h.stderrTail) || `worker exited with ${signal ?? code}`;
        while (this.slotWaiters.length) this.slotWaiters.shift()!();
        return;
      }
    }
    this.respawns++;
    this.spawn(h.slot);
    this.wakeSlotWaiter();
  }

  /** Chooses inline vs temp file for the context (and the parent-side file cache by contextKey). */
  private transferFor(
    key: string | null,
    prepared: PreparedContext | null,
    cached: FileEntry | undefined,
  ): { transfer: ContextTransfer; cleanup: () => void } {
    const workerKey = (chars: number) => (key === null ? null : `${key}\u0000${chars}`);
    if (cached) {
      cached.inUse++;
      return {
        transfer: { key: workerKey(cached.chars), chars: cached.chars, layout: cached.layout, source: { kind: 'file', path: cached.path, encoding: cached.ascii ? 'latin1' : 'utf16le' } },
        cleanup: () => void cached.inUse--,
      };
    }
    const p = prepared!;
    if (p.host) return { transfer: { key: null, chars: 0, layout: null, source: { kind: 'host', context: p.host } }, cleanup: () => {} };
    const text = p.text!;
    if (p.chars <= INLINE_MAX_CHARS) {
      return { transfer: { key: workerKey(p.chars), chars: p.chars, layout: p.layout, source: { kind: 'inline', text } }, cleanup: () => {} };
    }
    const dir = this.ensureTmpDir();
    const encoding = p.ascii ? 'latin1' : 'utf16le';
    const file = path.join(dir, `ctx-${this.nextSid}-${Math.random().toString(36).slice(2)}.txt`);
    writeFileSync(file, text, encoding);
    const transfer: ContextTransfer = { key: workerKey(p.chars), chars: p.chars, layout: p.layout, source: { kind: 'file', path: file, encoding } };
    if (key === null) {
      return { transfer, cleanup: () => safeUnlink(file) };
    }
    const old = this.files.get(key);
    if (old && old.inUse === 0) safeUnlink(old.path);
    const entry: FileEntry = { path: file, chars: p.chars, bytes: p.bytes, layout: p.layout, ascii: p.ascii, inUse: 1 };
    this.files.set(key, entry);
    this.evictFiles();
    return { transfer, cleanup: () => void entry.inUse-- };
  }

  private evictFiles(): void {
    const MAX_FILES = 16;
    if (this.files.size <= MAX_FILES) return;
    for (const [k, f] of this.files) {
      if (this.files.size <= MAX_FILES) break;
      if (f.inUse > 0) continue;
      this.files.delete(k);
      safeUnlink(f.path);
    }
  }

  private ensureTmpDir(): string {
    if (!this.tmpDir) {
      this.tmpDir = mkdtempSync(path.join(os.tmpdir(), 'rlm-gym-sandbox-'));
      process.once('exit', this.exitCleanup);
    }
    return this.tmpDir;
  }

  private removeTmpDir(): void {
    if (!this.tmpDir) return;
    try {
      rmSync(this.tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    this.tmpDir = null;
    this.files.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------------

function safeUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone */
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

function isDocArray(c: unknown): c is Doc[] {
  return Array.isArray(c);
}

function contextChars(c: string | Doc[] | ChunkedContext): number {
  if (typeof c === 'string') return c.length;
  if (isChunkedContext(c)) return 0;
  if (!isDocArray(c)) return -1;
  let n = 0;
  for (const d of c) n += (d?.id?.length ?? 0) + (d?.title?.length ?? 0) + (d?.text?.length ?? 0);
  return n;
}

function prepareContext(c: unknown): PreparedContext {
  if (isChunkedContext(c)) return { text: '', chars: 0, bytes: HOST_CONTEXT_MEMORY_BYTES, ascii: true, layout: null, host: c };
  if (typeof c === 'string') {
    const ascii = Buffer.byteLength(c, 'utf8') === c.length;
    return { text: c, chars: c.length, bytes: ascii ? c.length : c.length * 2, ascii, layout: null };
  }
  if (!Array.isArray(c)) throw new SandboxConfigError('open(options): context must be a string or an array of {id, title, text} documents');
  const layout: number[] = [];
  const parts: string[] = [];
  c.forEach((d: unknown, i) => {
    const doc = d as Partial<Doc> | null;
    if (!doc || typeof doc.id !== 'string' || typeof doc.title !== 'string' || typeof doc.text !== 'string') {
      throw new SandboxConfigError(`open(options): context[${i}] must be a document {id: string, title: string, text: string}`);
    }
    layout.push(doc.id.length, doc.title.length, doc.text.length);
    parts.push(doc.id, doc.title, doc.text);
  });
  const text = parts.join('');
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  return { text, chars: text.length, bytes: (ascii ? text.length : text.length * 2) + c.length * 128, ascii, layout };
}
