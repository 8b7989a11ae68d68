/**
 * One forked sandbox worker process as the parent sees it: its IPC channel (messages queued until it is ready), the
 * sessions placed on it, and ref-counting so an idle pool never keeps the parent alive.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ParentToWorker, WorkerConfig, WorkerToParent } from './protocol.ts';
import type { SessionImpl } from './session.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
const TSX_IMPORT = (() => {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
})();
const STARTUP_TIMEOUT_MS = 30_000;

/**
 * The worker's whole environment. Nothing is inherited: isolates would not see it anyway, but a sandbox escape or a
 * crash dump must not find the harness's keys. TZ and the locale are pinned (Date parsing, toString() and
 * toLocaleString() would otherwise differ between machines and break same seed ⇒ same observations); PATH lets node
 * start its helpers.
 */
export function workerEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', TZ: 'UTC', LANG: 'en_US.UTF-8', LC_ALL: 'en_US.UTF-8' };
}

export class WorkerHandle {
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
      // A minimal environment: no API keys or other secrets of the harness reach the process that runs model code.
      env: workerEnv(),
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
    // 'close' (not 'exit'): stderr is drained by then, so an out-of-memory report is always seen (deterministic reasons).
    this.child.on('close', (code, signal) => exit(code, signal));
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

