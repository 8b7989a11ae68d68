/**
 * SandboxPool: a small pool of forked worker processes holding isolates (see worker.ts), and the SandboxSession handed to
 * RLMEnv. The parent runs the sub-model calls (SubCallBroker), enforces a watchdog slightly after each cell's wall
 * deadline (kills a worker that cannot recover), replaces dead workers, and never rejects a run for anything the model's
 * code does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Doc } from '../../tasks/types.ts';
import type { CellResult, SessionOptions, SubCallHandler } from './types.ts';
import type { ContextTransfer, ParentToWorker, WorkerConfig, WorkerToParent } from './protocol.ts';
import { deadResult, type IsolateCellResult, type StopReason } from './results.ts';
import { resolveLimits, type ResolvedLimits } from './limits.ts';
import { SubCallBroker } from './subcalls.ts';
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
}

export interface SandboxSession {
  /** Runs one cell. Never rejects for anything the model's code does; a dead sandbox yields `dead: true`. Calls are serialized. */
  run(code: string): Promise<CellResult>;
  /** Sub-calls counted against the episode's budget so far. */
  readonly subCallsUsed: number;
  readonly dead: boolean;
  /** Why the sandbox died (set together with `dead`). */
  readonly stopReason: CellResult['stopReason'] | undefined;
  /** PID of the worker process that holds this session's isolate (undefined once dead or closed). */
  readonly workerPid: number | undefined;
  /** The limits in force (defaults filled in). */
  readonly limits: Readonly<ResolvedLimits>;
  /** Disposes the isolate. Idempotent; never rejects. */
  close(): Promise<void>;
}

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
const TSX_IMPORT = (() => {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
})();
/** Contexts up to this many chars go inline over IPC; larger ones through a temp file written once. */
const INLINE_MAX_CHARS = 1 << 20;
const STARTUP_TIMEOUT_MS = 30_000;
const OPEN_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** A retired worker is killed at the latest this long after retirement, even if sessions remain. */
const RETIRE_MAX_MS = 120_000;
const OOM_STDERR = /is_heap_oom|heap out of memory|Last few GCs|memory limit/i;

// ---------------------------------------------------------------------------------------------------------------------

interface PreparedContext {
  text: string | null; // null when served from the parent's cache (file already written)
  chars: number;
  bytes: number;
  ascii: boolean;
  layout: number[] | null;
}

interface FileEntry {
  path: string;
  chars: number;
  bytes: number;
  layout: number[] | null;
  ascii: boolean;
  inUse: number;
}

class WorkerHandle {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  ready = false;
  alive = true;
  startedOk = false;
  stderrTail = '';
  readonly sessions = new Set<SessionImpl>();
  readonly opens = new Map<number, (m: Extract<WorkerToParent, { t: 'opened' }> | null) => void>();
  /** Sessions being opened on this worker (counted in its load from the moment it is chosen). */
  pendingOpens = 0;
  readonly closes = new Map<number, () => void>();
  private queue: ParentToWorker[] = [];
  private holds = 0;
  readonly exited: Promise<void>;
  /** contextKeys this worker has loaded recently (a hint for placing sessions; the worker's LRU is the truth). */
  readonly keys = new Set<string>();
  /** Retired (an isolate thread is stuck): no new sessions; killed once its sessions are gone. */
  retiring = false;
  /** Session whose wall watchdog killed this worker. */
  watchdogVictim: SessionImpl | null = null;

  constructor(
    readonly slot: number,
    config: WorkerConfig,
    onMessage: (h: WorkerHandle, m: WorkerToParent) => void,
    onExit: (h: WorkerHandle, code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    const execArgv = WORKER_PATH.endsWith('.ts') ? ['--no-node-snapshot', '--import', TSX_IMPORT] : ['--no-node-snapshot'];
    this.child = fork(WORKER_PATH, [JSON.stringify(config)], {
      execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
      // Isolates inherit the process's time zone and ICU locale: pin them, or Date parsing, toString() and
      // toLocaleString() would differ between machines and break same seed ⇒ same observations.
      env: { ...process.env, TZ: 'UTC', LANG: 'en_US.UTF-8', LC_ALL: 'en_US.UTF-8' },
    });
    this.pid = this.child.pid;
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4096);
    });
    let resolveExit!: () => void;
    this.exited = new Promise((r) => (resolveExit = r));
    let exitedOnce = false;
    const exit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exitedOnce) return;
      exitedOnce = true;
      this.alive = false;
      this.ready = false;
      onExit(this, code, signal);
      resolveExit();
    };
    this.child.on('message', (m: WorkerToParent) => {
      if (m?.t === 'ready') {
        this.ready = true;
        this.startedOk = true;
        clearTimeout(startup);
        const q = this.queue;
        this.queue = [];
        for (const msg of q) this.send(msg);
      }
      onMessage(this, m);
    });
    this.child.on('exit', (code, signal) => exit(code, signal));
    this.child.on('error', () => {
      // spawn or IPC failure: make sure the process is gone; 'exit' follows (or never comes if it never started).
      this.kill();
      if (this.child.pid === undefined) exit(null, null);
    });
    const startup = setTimeout(() => {
      if (!this.ready) this.kill();
    }, STARTUP_TIMEOUT_MS);
    startup.unref();
    this.hold(); // until ready
    this.exited.then(() => clearTimeout(startup));
    this.child.once('message', () => this.release());
  }

  noteKey(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > 64) this.keys.delete(this.keys.values().next().value!);
  }

  send(m: ParentToWorker): void {
    if (!this.alive) return;
    if (!this.ready) {
      this.queue.push(m);
      return;
    }
    try {
      this.child.send(m, (err) => {
        if (err) this.kill();
      });
    } catch {
      this.kill();
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Keeps the parent's event loop alive while the worker has work; an idle pool does not prevent exit. */
  hold(): void {
    if (this.holds++ === 0) this.setRef(true);
  }

  release(): void {
    if (this.holds > 0 && --this.holds === 0) this.setRef(false);
  }

  private setRef(on: boolean): void {
    type Refable = { ref?: () => void; unref?: () => void } | null | undefined;
    const targets: Refable[] = [this.child, this.child.channel as unknown as Refable, this.child.stderr as unknown as Refable];
    for (const t of targets) {
      try {
        if (on) t?.ref?.();
        else t?.unref?.();
      } catch {
        /* ignore */
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------

class SessionImpl implements SandboxSession {
  worker: WorkerHandle | null;
  readonly broker: SubCallBroker;
  private chain: Promise<unknown> = Promise.resolve();
  private cellSeq = 0;
  private current: { cell: number; resolve: (r: IsolateCellResult) => void; watchdog: NodeJS.Timeout } | null = null;
  private _dead = false;
  private _stopReason: StopReason | undefined;
  private deathDetail: string | undefined;
  closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    readonly sid: number,
    readonly limits: ResolvedLimits,
    handler: SubCallHandler,
    worker: WorkerHandle,
    private readonly pool: SandboxPool,
    private readonly graceMs: number,
    subCallsUsed: number,
  ) {
    this.worker = worker;
    this.broker = new SubCallBroker(handler, limits, subCallsUsed);
  }

  get subCallsUsed(): number {
    return this.broker.used;
  }
  get dead(): boolean {
    return this._dead;
  }
  get stopReason(): StopReason | undefined {
    return this._stopReason;
  }
  get workerPid(): number | undefined {
    return this._dead || this.closed ? undefined : this.worker?.pid;
  }

  run(code: string): Promise<CellResult> {
    if (this.closed) return Promise.reject(new SandboxClosedError('run(): the session is closed'));
    if (typeof code !== 'string') return Promise.reject(new SandboxError('run(code): code must be a string'));
    const p = this.chain.then(() => this.runNow(code));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async runNow(code: string): Promise<CellResult> {
    const t0 = performance.now();
    if (this.closed) throw new SandboxClosedError('run(): the session is closed');
    if (this._dead || !this.worker || !this.worker.alive) {
      return { ...deadResult(this._stopReason ?? 'worker_crash', '', this.limits, this.deathDetail), subCalls: [], durationMs: 0 };
    }
    const worker = this.worker;
    const cell = ++this.cellSeq;
    this.broker.beginCell();
    worker.hold();
    const r = await new Promise<IsolateCellResult>((resolve) => {
      const watchdog = setTimeout(() => {
        // The worker did not answer well after the wall deadline: it is stuck (e.g. in a native call). Kill it.
        worker.watchdogVictim = this;
        worker.kill();
      }, this.limits.cellWallTimeoutMs + this.graceMs);
      this.current = { cell, resolve, watchdog };
      worker.send({ t: 'run', sid: this.sid, cell, code });
    });
    worker.release();
    if (r.dead) this.markDead(r.stopReason ?? 'worker_crash');
    const result: CellResult = { output: r.output, subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
    if (r.error !== undefined) result.error = r.error;
    if (r.final !== undefined) result.final = r.final;
    if (r.dead) result.dead = true;
    if (r.stopReason !== undefined) result.stopReason = r.stopReason;
    return result;
  }

  /** A 'result' message from the worker. */
  onResult(cell: number, r: IsolateCellResult): void {
    const cur = this.current;
    if (!cur || cur.cell !== cell) return;
    clearTimeout(cur.watchdog);
    this.current = null;
    cur.resolve(r);
  }

  /** The worker process died: this sandbox is gone. */
  onWorkerDeath(reason: StopReason, detail: string): void {
    const cur = this.current;
    const r = deadResult(reason, '', this.limits, detail);
    this.markDead(reason, detail);
    if (cur) {
      clearTimeout(cur.watchdog);
      this.current = null;
      cur.resolve({ ...r, durationMs: 0 });
    }
  }

  get running(): boolean {
    return this.current !== null;
  }

  private markDead(reason: StopReason, detail?: string): void {
    if (this._dead) return;
    this._dead = true;
    this._stopReason = reason;
    this.deathDetail = detail;
    this.broker.abandon(`the sandbox died (${reason})`);
    this.pool.detach(this);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.broker.abandon('the session was closed');
    const worker = this.worker;
    const wasDead = this._dead;
    this.pool.detach(this);
    if (wasDead || !worker || !worker.alive) {
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.closing = new Promise<void>((resolve) => {
      const sid = this.sid;
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.closes.delete(sid);
        worker.release();
        resolve();
      };
      worker.hold();
      const timer = setTimeout(done, CLOSE_TIMEOUT_MS);
      worker.closes.set(sid, done);
      worker.send({ t: 'close', sid });
      void worker.exited.then(done);
    });
    return this.closing;
  }
}

// ---------------------------------------------------------------------------------------------------------------------

export class SandboxPool {
  private readonly size: number;
  private readonly maxPerWorker: number;
  private readonly workerConfig: WorkerConfig;
  private readonly graceMs: number;
  private readonly slots: (WorkerHandle | null)[];
  private readonly retired = new Set<WorkerHandle>();
  private readonly sessions = new Map<number, SessionImpl>();
  private readonly slotWaiters: (() => void)[] = [];
  private nextSid = 1;
  private respawns = 0;
  private startupFailures = 0;
  private broken: string | null = null;
  private closed = false;
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
    for (const s of this.sessions.values()) if (!s.dead && !s.closed) sessions++;
    return { workers, respawns: this.respawns, sessions };
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
    const key = options.contextKey ?? null;
    const cachedFile = key !== null ? this.files.get(key) : undefined;
    const prepared = cachedFile && cachedFile.chars === contextChars(options.context) ? null : prepareContext(options.context);
    const bytes = prepared ? prepared.bytes : cachedFile!.bytes;
    const limits = resolveLimits(options, bytes);

    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const worker = await this.acquireWorker(key);
      const sid = this.nextSid++;
      let transfer: ContextTransfer;
      let cleanup: () => void;
      try {
        ({ transfer, cleanup } = this.transferFor(key, prepared, cachedFile && !prepared ? cachedFile : undefined));
      } catch (e) {
        throw new SandboxError(`open(): the context could not be handed to the worker: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      } finally {
        worker.pendingOpens--;
      }
      const session = new SessionImpl(sid, limits, onSubCall, worker, this, this.graceMs, used);
      worker.sessions.add(session);
      this.sessions.set(sid, session);
      worker.hold();
      const opened = await new Promise<Extract<WorkerToParent, { t: 'opened' }> | null>((resolve) => {
        const timer = setTimeout(() => {
          worker.opens.delete(sid);
          worker.kill();
          resolve(null);
        }, OPEN_TIMEOUT_MS);
        worker.opens.set(sid, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        worker.send({ t: 'open', sid, ctx: transfer, seed: options.seed, limits, subCallsUsed: used });
      });
      worker.release();
      cleanup();
      if (opened && opened.error === null) {
        if (key !== null) worker.noteKey(key);
        if (this.closed) {
          await session.close();
          throw new SandboxClosedError('open(): the pool was closed');
        }
        return session;
      }
      worker.sessions.delete(session);
      this.sessions.delete(sid);
      this.wakeSlotWaiter();
      if (opened) {
        // The worker answered with an error: a property of this context/limits, not of the worker.
        throw new SandboxConfigError(`open(): the sandbox could not be created: ${opened.error}`);
      }
      lastError = `the worker process died while opening the session${worker.stderrTail ? `: ${lastLine(worker.stderrTail)}` : ''}`;
      if (this.closed) throw new SandboxClosedError('open(): the pool was closed');
    }
    throw new SandboxWorkerError(`open(): ${lastError}`);
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

  // ----- internals used by SessionImpl -----

  /** The session is dead or closed: free its slot. */
  detach(s: SessionImpl): void {
    const w = s.worker;
    if (w?.sessions.delete(s)) {
      this.wakeSlotWaiter();
      if (w.retiring) this.killIfEmpty(w);
    }
    if (s.closed || s.dead) this.sessions.delete(s.sid);
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
        s.broker
          .handle(m.payload)
          .catch(() => JSON.stringify({ remaining: 0, budget: null, fatal: 'internal error', results: [], texts: [] }))
          .then((reply) => h.send({ t: 'subres', sid: m.sid, id: m.id, reply }));
        break;
      }
      case 'result':
        this.sessions.get(m.sid)?.onResult(m.cell, m.result);
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
    for (const s of [...h.sessions]) {
      let reason: StopReason = 'worker_crash';
      if (h.watchdogVictim === s) reason = 'wall_timeout';
      else if (oom && s.running) reason = 'memory_limit';
      s.onWorkerDeath(reason, detail);
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

function contextChars(c: string | Doc[]): number {
  if (typeof c === 'string') return c.length;
  if (!isDocArray(c)) return -1;
  let n = 0;
  for (const d of c) n += (d?.id?.length ?? 0) + (d?.title?.length ?? 0) + (d?.text?.length ?? 0);
  return n;
}

function prepareContext(c: unknown): PreparedContext {
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
