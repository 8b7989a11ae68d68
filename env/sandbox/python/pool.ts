/**
 * PythonPool: the Pyodide backend of the sandbox. One sandbox = one locked-down process (./proc.ts, ./child.ts,
 * ./isolation.ts) restored from a memory snapshot; a few are kept warm so open() rarely waits for a start-up. Its
 * sessions (./session.ts) implement the same SandboxSession as the JavaScript backend, with the same SubCallBroker,
 * journal and rollback on this side. A process serves exactly one sandbox and is killed when it is left: nothing of one
 * episode can reach the next.
 */
import type { Doc } from '../../../tasks/types.ts';
import type { SessionOptions, SubCallHandler } from '../types.ts';
import { resolveLimits } from '../limits.ts';
import { SandboxClosedError, SandboxConfigError, SandboxWorkerError } from '../errors.ts';
import { pythonArtifacts, type PythonArtifacts } from './artifacts.ts';
import { isolationLayers, type IsolationLayers } from './isolation.ts';
import { PyProc } from './proc.ts';
import { PythonSession, type PythonSessionHost } from './session.ts';
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
  /** Sessions that died for good (could not be restored, or their pool closed under them). */
  deaths: number;
  /** Start-up time of the last sandbox (snapshot restore), ms. */
  lastStartMs: number | null;
  isolation: IsolationLayers | null;
}

/** Interpreter memory on top of the model's share (`memoryMB`): the snapshot's heap is ~31 MB. */
const HEAP_BASE_MB = 64;
/** Resident memory of the process beyond its WebAssembly heap (Node + Pyodide's JavaScript). */
const PROCESS_OVERHEAD_MB = 512;

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
  private readonly host: PythonSessionHost;
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
    const pool = this;
    this.host = {
      acquire: () => this.acquireProc(),
      detach: (s, died) => this.detach(s, died),
      get closed() {
        return pool.closed;
      },
    };
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
    await this.acquireSlot();
    const session = new PythonSession(
      { text: ctx.text, docs: ctx.docs, seed: seed32(options.seed), limits, initialUsed: used, heapMB, rssCapMB },
      onSubCall,
      this.host,
      options.subCallBudget,
    );
    this.sessions.add(session);
    const placed = await session.start();
    if (placed.ok) {
      if (this.closed) {
        await session.close();
        throw new SandboxClosedError('open(): the pool was closed');
      }
      return session;
    }
    this.sessions.delete(session);
    session.closed = true;
    this.wake();
    if (this.closed) throw new SandboxClosedError('open(): the pool was closed');
    if (placed.config) throw new SandboxConfigError(`open(): the Python sandbox could not be created: ${placed.message}`);
    throw new SandboxWorkerError(`open(): ${placed.message}`);
  }

  /** A started process for a session (a warm spare when there is one); start-up failures are retried twice. */
  private async acquireProc(): Promise<{ ok: true; proc: PyProc } | { ok: false; message: string }> {
    let last = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.closed) return { ok: false, message: 'the sandbox pool was closed' };
      await this.ensureArtifacts();
      const proc = this.takeSpare();
      this.topUp();
      if (await proc.readyP) {
        if (proc.startMs !== null) this.lastStartMs = proc.startMs;
        return { ok: true, proc };
      }
      this.all.delete(proc);
      last = `the Python sandbox process did not start${proc.stderrTail ? `: ${lastLine(proc.stderrTail)}` : ''}`;
    }
    return { ok: false, message: last };
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
