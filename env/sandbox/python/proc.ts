/**
 * One Python sandbox process as the parent sees it: started under the isolation layers (./isolation.ts), restored from the
 * snapshot, talking frames over its stdin and fd 3 (./frames.ts). It serves one session and is killed when that ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { StopReason } from '../results.ts';
import { FrameDecoder, encodeJson, FRAME_JSON, type ChildToParent, type ParentToChild } from './frames.ts';
import type { PythonArtifacts } from './artifacts.ts';
import { isolationPrefix, sandboxNodeArgs } from './isolation.ts';

const START_TIMEOUT_MS = 60_000;

export class PyProc {
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

