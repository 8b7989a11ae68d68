/**
 * PythonPool: the Pyodide backend of the sandbox. One sandbox = one locked-down process (see ./child.ts and
 * ./isolation.ts), restored from a memory snapshot; a few are kept warm so open() rarely waits for a start-up. A session
 * here implements the same SandboxSession as the JavaScript backend, with the same SubCallBroker on this side (budget,
 * concurrency and size bounds, records). A process serves exactly one session and exits when it closes: nothing of one
 * episode can reach the next.
 *
 * Limits enforced from this side: the wall deadline per cell (the process is killed), a CPU backstop for code that
 * does not poll the interrupt (C loops: the process's CPU time is read from /proc), and the process's resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Doc } from '../../../tasks/types.ts';
import type { CellResult, SessionOptions, SubCallBudget, SubCallHandler } from '../types.ts';
import { deadResult, type StopReason } from '../results.ts';
import { fmtInt, resolveLimits, truncationMarker, type ResolvedLimits } from '../limits.ts';
import { SubCallBroker } from '../subcalls.ts';
import { SandboxClosedError, SandboxConfigError, SandboxError, SandboxWorkerError } from '../errors.ts';
import { FrameDecoder, encodeJson, FRAME_JSON, type ChildToParent, type ParentToChild, type PythonCellResult } from './frames.ts';
import { pythonArtifacts, type PythonArtifacts } from './artifacts.ts';
import { isolationLayers, isolationPrefix, sandboxNodeArgs, type IsolationLayers } from './isolation.ts';
import type { SandboxSession } from '../pool.ts';

export interface PythonPoolOptions {
  /** Python sandboxes (processes) alive at once, sessions and warm spares together. Default 16. */
  maxSandboxes?: number;
  /** Started sandboxes kept waiting for the next open(). Default 2. */
  spares?: number;
  /** Resident-memory cap of one sandbox process in MB. Default: its heap cap + 512 MB + 4 bytes per context char. */
  rssCapMB?: number;
}

export interface PythonPoolStats {
  /** Sandbox processes alive (sessions + spares). */
  processes: number;
  sessions: number;
  /** Sandboxes that died with a session in them (killed by a limit or crashed). */
  deaths: number;
  /** Start-up time of the last sandbox (snapshot restore), ms. */
  lastStartMs: number | null;
  isolation: IsolationLayers | null;
}

/** Interpreter memory on top of the model's share (`memoryMB`): the snapshot's heap is ~31 MB. */
const HEAP_BASE_MB = 64;
/** Resident memory of the process beyond its WebAssembly heap (Node + Pyodide's JavaScript). */
const PROCESS_OVERHEAD_MB = 512;
const START_TIMEOUT_MS = 60_000;
const OPEN_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
/** CPU time past the cell's limit after which the parent kills a process that did not stop itself. */
const CPU_BACKSTOP_MS = 3_000;
const EXIT_CPU = 86;

class PyProc {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  ready = false;
  alive = true;
  startMs: number | null = null;
  stderrTail = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly readyP: Promise<boolean>;
  onMessage: (m: ChildToParent) => void = () => {};
  killedFor: StopReason | null = null;

  constructor(a: PythonArtifacts) {
    const [cmd, ...pre] = isolationPrefix();
    this.child = spawn(cmd, [...pre, ...sandboxNodeArgs(a.pyodideDir, a.dir), a.childPath, JSON.stringify({ mode: 'serve', pyodideDir: a.pyodideDir, snapshot: a.snapshotPath })], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      env: { TZ: 'UTC' },
    });
    this.pid = this.child.pid;
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => (this.stderrTail = (this.stderrTail + d).slice(-4096)));
    this.child.stdin?.on('error', () => undefined);
    let resolveReady!: (ok: boolean) => void;
    this.readyP = new Promise((r) => (resolveReady = r));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.alive = false;
        resolveReady(false);
        resolve({ code, signal });
      });
      this.child.on('error', () => {
        this.kill();
        if (this.child.pid === undefined) {
          this.alive = false;
          resolveReady(false);
          resolve({ code: null, signal: null });
        }
      });
    });
    const decoder = new FrameDecoder();
    (this.child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (kind, payload) => {
        if (kind !== FRAME_JSON) return;
        let m: ChildToParent;
        try {
          m = JSON.parse(payload.toString('utf8')) as ChildToParent;
        } catch {
          this.kill();
          return;
        }
        if (m.t === 'ready') {
          this.ready = true;
          this.startMs = m.ms;
          resolveReady(true);
          return;
        }
        this.onMessage(m);
      }),
    );
    const t = setTimeout(() => {
      if (!this.ready) this.kill();
    }, START_TIMEOUT_MS);
    t.unref();
    this.ref(); // until ready (or dead)
    void this.readyP.then(() => this.unref());
  }

  send(m: ParentToChild): void {
    if (!this.alive) return;
    try {
      this.child.stdin?.write(encodeJson(m));
    } catch {
      this.kill();
    }
  }

  kill(reason?: StopReason): void {
    if (reason && this.killedFor === null) this.killedFor = reason;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** CPU ms (user + system) and resident MB of the process, from /proc (null where that is not available). */
  usage(): { cpuMs: number; rssMB: number } | null {
    if (this.pid === undefined || process.platform !== 'linux') return null;
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const rssPages = Number(fields[21]);
      return { cpuMs: (ticks * 1000) / 100, rssMB: (rssPages * 4096) / (1024 * 1024) };
    } catch {
      return null;
    }
  }

  private holds = 0;

  /** Keeps the parent's event loop alive while this process has work (an idle spare does not prevent exit). */
  ref(): void {
    if (this.holds++ === 0) this.setRef(true);
  }

  unref(): void {
    if (this.holds > 0 && --this.holds === 0) this.setRef(false);
  }

  private setRef(on: boolean): void {
    for (const t of [this.child, this.child.stdin, this.child.stderr, this.child.stdio[3]] as ({ ref?: () => void; unref?: () => void } | null)[]) {
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

class PythonSession implements SandboxSession {
  readonly broker: SubCallBroker;
  private chain: Promise<unknown> = Promise.resolve();
  private cellSeq = 0;
  private current: { cell: number; resolve: (r: PythonCellResult & { durationMs?: number }) => void; streamed: string } | null = null;
  private _dead = false;
  private _stopReason: StopReason | undefined;
  private deathDetail: string | undefined;
  closed = false;

  constructor(
    readonly limits: ResolvedLimits,
    handler: SubCallHandler,
    private proc: PyProc,
    private readonly rssCapMB: number,
    private readonly pool: PythonPool,
    subCallsUsed: number,
    budget?: SubCallBudget,
  ) {
    this.broker = new SubCallBroker(handler, limits, subCallsUsed, budget);
    proc.onMessage = (m) => this.onMessage(m);
    void proc.exited.then(({ code, signal }) => this.onExit(code, signal));
  }

  get subCallsUsed(): number {
    return this.broker.used;
  }
  get subCallsRefused(): number {
    return this.broker.refused;
  }
  /** No journal in this backend yet: a failed cell kills the session (dead), and RLMEnv opens a fresh one. */
  get journalCells(): number {
    return 0;
  }
  get deaths(): number {
    return 0;
  }
  get dead(): boolean {
    return this._dead;
  }
  get stopReason(): StopReason | undefined {
    return this._stopReason;
  }
  get workerPid(): number | undefined {
    return this._dead || this.closed ? undefined : this.proc.pid;
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
    if (this._dead || !this.proc.alive) {
      return { ...deadResult(this._stopReason ?? 'worker_crash', '', this.limits, this.deathDetail), subCalls: [], durationMs: 0 };
    }
    if (code.length > this.limits.maxCodeChars) {
      return {
        output: '',
        error: `SyntaxError: the code is ${fmtInt(code.length)} chars; the limit is ${fmtInt(this.limits.maxCodeChars)} chars per cell`,
        subCalls: [],
        durationMs: 0,
      };
    }
    const cell = ++this.cellSeq;
    this.broker.beginCell();
    this.proc.ref();
    const proc = this.proc;
    let cpu0 = proc.usage()?.cpuMs ?? null;
    const r = await new Promise<PythonCellResult>((resolve) => {
      this.current = { cell, resolve, streamed: '' };
      const wall = setTimeout(() => proc.kill('wall_timeout'), this.limits.cellWallTimeoutMs);
      const poll = setInterval(() => {
        const u = proc.usage();
        if (!u) return;
        if (u.rssMB > this.rssCapMB) proc.kill('memory_limit');
        // Time blocked on sub-calls costs no CPU, so the process's CPU time is the cell's own.
        if (cpu0 !== null && u.cpuMs - cpu0 > this.limits.cellCpuTimeoutMs + CPU_BACKSTOP_MS) proc.kill('cpu_timeout');
      }, POLL_MS);
      const done = this.current.resolve;
      this.current.resolve = (x) => {
        clearTimeout(wall);
        clearInterval(poll);
        done(x);
      };
      proc.send({ t: 'run', cell, code });
    });
    cpu0 = null;
    this.proc.unref();
    if (r.dead) this.markDead('worker_crash');
    let output = r.output;
    let dropped = r.dropped;
    if (output.length > this.limits.maxOutputChars) {
      dropped += output.length - this.limits.maxOutputChars;
      output = output.slice(0, this.limits.maxOutputChars);
    }
    if (dropped > 0) output += truncationMarker(dropped);
    const result: CellResult = { output, subCalls: this.broker.takeRecords(), durationMs: performance.now() - t0 };
    if (r.error !== undefined) result.error = r.error;
    if (r.final !== undefined) result.final = r.final;
    if (r.dead) {
      result.dead = true;
      result.stopReason = this._stopReason ?? 'worker_crash';
    } else if (r.stopReason !== undefined) result.stopReason = r.stopReason;
    return result;
  }

  private onMessage(m: ChildToParent): void {
    const cur = this.current;
    switch (m.t) {
      case 'out':
        if (cur && typeof m.chunk === 'string' && cur.streamed.length < this.limits.maxOutputChars) {
          cur.streamed += m.chunk.slice(0, this.limits.maxOutputChars - cur.streamed.length);
        }
        break;
      case 'sub':
        void this.broker
          .handle(m.payload)
          .catch(() => JSON.stringify({ remaining: 0, budget: null, fatal: 'internal error', results: [], texts: [] }))
          .then((reply) => this.proc.send({ t: 'subres', reply }));
        break;
      case 'result':
        if (cur && cur.cell === m.cell) {
          this.current = null;
          cur.resolve({ ...m.result, output: cur.streamed + m.result.output });
        }
        break;
      case 'fatal':
        this.deathDetail = m.error;
        break;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closed && !this.current) return;
    let reason: StopReason = this.proc.killedFor ?? (code === EXIT_CPU ? 'cpu_timeout' : 'worker_crash');
    if (reason === 'worker_crash' && /MemoryError|out of memory|Aborted\(OOM\)/i.test(this.proc.stderrTail)) reason = 'memory_limit';
    const detail = this.closed ? 'the session was closed' : signal ? `process killed by ${signal}` : `process exited with code ${code}`;
    const cur = this.current;
    this.markDead(reason, detail);
    if (cur) {
      this.current = null;
      const d = deadResult(reason, '', this.limits, detail);
      cur.resolve({ output: cur.streamed, dropped: 0, error: d.error, dead: true });
    }
  }

  private markDead(reason: StopReason, detail?: string): void {
    if (this._dead) return;
    this._dead = true;
    this._stopReason = reason;
    this.deathDetail ??= detail;
    this.broker.abandon(`the sandbox died (${reason})`);
    this.pool.detach(this, !this.closed);
  }

  /** Ends the sandbox: its process serves one session only, so it is simply killed (nothing in it needs saving). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broker.abandon('the session was closed');
    if (!this._dead) this.pool.detach(this, false);
    this.proc.kill();
  }
}

// ---------------------------------------------------------------------------------------------------------------------

export class PythonPool {
  private readonly max: number;
  private readonly spareTarget: number;
  private readonly rssCapMB: number | null;
  private readonly spares: PyProc[] = [];
  private readonly sessions = new Set<PythonSession>();
  private readonly all = new Set<PyProc>();
  private readonly waiters: (() => void)[] = [];
  private artifacts: PythonArtifacts | null = null;
  private deaths = 0;
  private lastStartMs: number | null = null;
  private closed = false;
  private closePromise: Promise<void> | null = null;

  constructor(options: PythonPoolOptions = {}) {
    const int = (v: unknown, name: string, min: number, max: number, dflt: number): number => {
      if (v === undefined) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new SandboxConfigError(`PythonPool option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
      }
      return v;
    };
    this.max = int(options.maxSandboxes, 'maxSandboxes', 1, 1024, 16);
    this.spareTarget = int(options.spares, 'spares', 0, 64, 2);
    this.rssCapMB = options.rssCapMB === undefined ? null : int(options.rssCapMB, 'rssCapMB', 16, 1_048_576, 0);
  }

  get stats(): PythonPoolStats {
    let processes = 0;
    for (const p of this.all) if (p.alive) processes++;
    return { processes, sessions: this.sessions.size, deaths: this.deaths, lastStartMs: this.lastStartMs, isolation: this.artifacts ? isolationLayers() : null };
  }

  /** Builds the artifacts (bundle + snapshot, cached on disk) and starts the warm spares. */
  async warmup(): Promise<void> {
    this.assertOpen();
    await this.ensureArtifacts();
    this.topUp();
    await Promise.all(this.spares.map((p) => p.readyP));
  }

  async open(options: SessionOptions, onSubCall: SubCallHandler): Promise<SandboxSession> {
    this.assertOpen();
    if (!options || typeof options !== 'object') throw new SandboxConfigError('open(options): options must be an object');
    if (typeof onSubCall !== 'function') throw new SandboxConfigError('open(options, onSubCall): onSubCall must be a function');
    if (typeof options.seed !== 'number' || !Number.isFinite(options.seed)) {
      throw new SandboxConfigError(`open(options): seed must be a finite number, got ${String(options.seed)}`);
    }
    const used = options.subCallsUsed ?? 0;
    if (typeof used !== 'number' || !Number.isSafeInteger(used) || used < 0) {
      throw new SandboxConfigError(`open(options): subCallsUsed must be a non-negative integer, got ${String(used)}`);
    }
    const ctx = flattenContext(options.context);
    const limits = resolveLimits(options, ctx.bytes);
    const heapMB = limits.memoryMB + HEAP_BASE_MB;
    const rssCapMB = this.rssCapMB ?? heapMB + PROCESS_OVERHEAD_MB + Math.ceil((ctx.text.length * 4) / (1024 * 1024));
    await this.ensureArtifacts();

    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.acquireSlot();
      const proc = this.takeSpare();
      this.topUp();
      const ok = await proc.readyP;
      if (!ok) {
        this.all.delete(proc);
        this.wake();
        lastError = `the Python sandbox process did not start${proc.stderrTail ? `: ${lastLine(proc.stderrTail)}` : ''}`;
        if (this.closed) throw new SandboxClosedError('open(): the pool was closed');
        continue;
      }
      if (proc.startMs !== null) this.lastStartMs = proc.startMs;
      const session = new PythonSession(limits, onSubCall, proc, rssCapMB, this, used, options.subCallBudget);
      this.sessions.add(session);
      proc.ref();
      const opened = await new Promise<Extract<ChildToParent, { t: 'opened' }> | null>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill();
          resolve(null);
        }, OPEN_TIMEOUT_MS);
        const prev = proc.onMessage;
        proc.onMessage = (m) => {
          if (m.t === 'opened') {
            clearTimeout(timer);
            proc.onMessage = prev;
            resolve(m);
          } else prev(m);
        };
        void proc.exited.then(() => {
          clearTimeout(timer);
          resolve(null);
        });
        proc.send({ t: 'open', text: ctx.text, docs: ctx.docs, seed: seed32(options.seed), limits, subCallsUsed: used, heapMB });
      });
      proc.unref();
      if (opened && opened.error === null) {
        if (this.closed) {
          await session.close();
          throw new SandboxClosedError('open(): the pool was closed');
        }
        return session;
      }
      this.sessions.delete(session);
      session.closed = true;
      proc.kill();
      this.all.delete(proc);
      this.wake();
      if (opened) {
        const msg = /MemoryError/.test(opened.error ?? '') ? `the context does not fit the memory limit of ${limits.memoryMB} MB` : opened.error;
        throw new SandboxConfigError(`open(): the Python sandbox could not be created: ${msg}`);
      }
      lastError = `the Python sandbox process died while opening the session${proc.stderrTail ? `: ${lastLine(proc.stderrTail)}` : ''}`;
      if (this.closed) throw new SandboxClosedError('open(): the pool was closed');
    }
    throw new SandboxWorkerError(`open(): ${lastError}`);
  }

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closed = true;
    while (this.waiters.length) this.waiters.shift()!();
    const exits: Promise<unknown>[] = [];
    for (const p of this.all) {
      p.ref();
      exits.push(p.exited);
      p.kill();
    }
    this.closePromise = Promise.all(exits).then(() => undefined);
    return this.closePromise;
  }

  /** A session ended (closed or dead): its process is gone or going; free the slot. */
  detach(s: PythonSession, died: boolean): void {
    if (!this.sessions.delete(s)) return;
    if (died) this.deaths++;
    this.wake();
    if (!this.closed) this.topUp();
  }

  private assertOpen(): void {
    if (this.closed) throw new SandboxClosedError('the sandbox pool is closed');
  }

  private async ensureArtifacts(): Promise<void> {
    if (!this.artifacts) this.artifacts = await pythonArtifacts();
  }

  private live(): number {
    let n = 0;
    for (const p of this.all) if (p.alive) n++;
    return n;
  }

  private spawn(): PyProc {
    const p = new PyProc(this.artifacts!);
    this.all.add(p);
    void p.exited.then(() => {
      this.all.delete(p);
      const i = this.spares.indexOf(p);
      if (i >= 0) this.spares.splice(i, 1);
      this.wake();
    });
    return p;
  }

  /** Keeps `spares` started sandboxes waiting, within the process cap. */
  private topUp(): void {
    if (this.closed || !this.artifacts) return;
    while (this.spares.length < this.spareTarget && this.live() < this.max) this.spares.push(this.spawn());
  }

  private takeSpare(): PyProc {
    // A ready spare first, else the oldest starting one, else a new process.
    const i = this.spares.findIndex((p) => p.ready && p.alive);
    if (i >= 0) return this.spares.splice(i, 1)[0];
    const j = this.spares.findIndex((p) => p.alive);
    if (j >= 0) return this.spares.splice(j, 1)[0];
    return this.spawn();
  }

  private async acquireSlot(): Promise<void> {
    for (;;) {
      this.assertOpen();
      // A spare can be taken (it already counts) or there is room for one more process.
      if (this.sessions.size < this.max && (this.spares.length > 0 || this.live() < this.max)) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}

// ---------------------------------------------------------------------------------------------------------------------

/** Folds a numeric seed into 32 bits (as the JS backend does). */
function seed32(seed: number): number {
  const t = Math.trunc(seed);
  const lo = t % 4294967296;
  const hi = Math.trunc(t / 4294967296);
  return ((lo >>> 0) ^ Math.imul(hi | 0, 0x9e3779b1)) >>> 0;
}

/** A string context goes as it is; documents as one JSON array of [id, title, text] (Python decodes it in one call). */
function flattenContext(c: unknown): { text: string; docs: boolean; bytes: number } {
  if (typeof c === 'string') {
    const ascii = Buffer.byteLength(c, 'utf8') === c.length;
    return { text: c, docs: false, bytes: ascii ? c.length : c.length * 2 };
  }
  if (!Array.isArray(c)) throw new SandboxConfigError('open(options): context must be a string or an array of {id, title, text} documents');
  const rows: [string, string, string][] = [];
  let chars = 0;
  c.forEach((d: unknown, i) => {
    const doc = d as Partial<Doc> | null;
    if (!doc || typeof doc.id !== 'string' || typeof doc.title !== 'string' || typeof doc.text !== 'string') {
      throw new SandboxConfigError(`open(options): context[${i}] must be a document {id: string, title: string, text: string}`);
    }
    rows.push([doc.id, doc.title, doc.text]);
    chars += doc.id.length + doc.title.length + doc.text.length;
  });
  return { text: JSON.stringify(rows), docs: true, bytes: chars * 2 + c.length * 256 };
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
