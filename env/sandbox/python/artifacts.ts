/**
 * What a Python sandbox process needs on disk, made once per machine and cached in the temp directory:
 * - the child's JavaScript (./child.ts bundled with esbuild: the sandbox process runs under Node's permission model,
 *   which cannot grant the TypeScript loader its cache writes, so it gets plain JavaScript);
 * - a Pyodide memory snapshot with the prelude and the common standard-library modules imported (a restore costs
 *   ~0.3 s instead of ~3 s for a full start).
 * Both come from files shipped in the repository and the pinned `pyodide` npm package: nothing is downloaded.
 * The cache key hashes the bundle, the prelude, the Pyodide version and the Node version; files are written to a temp
 * name and renamed, so concurrent builders (parallel test files) never see a torn file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FRAME_BYTES, FrameDecoder, encodeJson, type ChildToParent } from './frames.ts';
import { SandboxWorkerError } from '../errors.ts';
import { isolationPrefix, sandboxNodeArgs } from './isolation.ts';

export interface PythonArtifacts {
  dir: string;
  childPath: string;
  snapshotPath: string;
  pyodideDir: string;
  pyodideVersion: string;
  /** ms spent building now (0 when everything came from the cache). */
  buildMs: number;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PRELUDE_PATH = path.join(HERE, 'prelude.py');
const CHILD_ENTRY = path.join(HERE, 'child.ts');
const SNAPSHOT_BUILD_TIMEOUT_MS = 180_000;

let pending: Promise<PythonArtifacts> | null = null;

export function pyodideLocation(): { dir: string; version: string } {
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve('pyodide/package.json');
  const version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
  return { dir: path.dirname(pkgPath) + path.sep, version };
}

/** Builds (or finds) the bundle and the snapshot. One build per process; concurrent callers share it. */
export function pythonArtifacts(): Promise<PythonArtifacts> {
  pending ??= buildArtifacts().catch((e) => {
    pending = null;
    throw e;
  });
  return pending;
}

async function buildArtifacts(): Promise<PythonArtifacts> {
  const t0 = performance.now();
  const { dir: pyodideDir, version } = pyodideLocation();
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [CHILD_ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].text;
  const prelude = readFileSync(PRELUDE_PATH, 'utf8');
  const key = createHash('sha256').update(code).update('\0').update(prelude).update('\0').update(version).update('\0').update(process.version).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `rlm-gym-python-${key}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const childPath = path.join(dir, 'child.mjs');
  const snapshotPath = path.join(dir, 'snapshot.bin');
  if (!existsSync(childPath)) atomicWrite(childPath, code);
  if (!existsSync(snapshotPath)) {
    // One builder per machine: others (parallel test files, concurrent runs) wait for its file.
    const lock = path.join(dir, 'building.lock');
    if (await acquireBuildLock(lock, snapshotPath)) {
      try {
        if (!existsSync(snapshotPath)) atomicWrite(snapshotPath, await buildSnapshot(childPath, dir, pyodideDir, prelude));
      } finally {
        try {
          rmdirSync(lock);
        } catch {
          /* gone */
        }
      }
    }
  }
  return { dir, childPath, snapshotPath, pyodideDir, pyodideVersion: version, buildMs: performance.now() - t0 };
}

/** true = this process builds; false = the snapshot appeared meanwhile. A lock older than the build timeout is stale. */
async function acquireBuildLock(lock: string, snapshotPath: string): Promise<boolean> {
  for (;;) {
    try {
      mkdirSync(lock);
      return true;
    } catch {
      if (existsSync(snapshotPath)) return false;
      try {
        if (Date.now() - statSync(lock).mtimeMs > SNAPSHOT_BUILD_TIMEOUT_MS) rmdirSync(lock);
      } catch {
        /* released meanwhile */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function atomicWrite(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Runs the child in build mode (same flags as a sandbox) and returns the snapshot it sends. */
function buildSnapshot(childPath: string, dir: string, pyodideDir: string, prelude: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = isolationPrefix();
    const child = spawn(cmd, [...pre, ...sandboxNodeArgs(pyodideDir, dir), childPath, JSON.stringify({ mode: 'build', pyodideDir })], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      env: { TZ: 'UTC' },
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const decoder = new FrameDecoder();
    let snapshot: Uint8Array | null = null;
    let expectBytes = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), SNAPSHOT_BUILD_TIMEOUT_MS);
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) =>
      decoder.push(chunk, (kind, payload) => {
        if (kind === FRAME_BYTES && expectBytes) {
          snapshot = new Uint8Array(payload);
          expectBytes = false;
          return;
        }
        const m = JSON.parse(payload.toString('utf8')) as ChildToParent;
        if (m.t === 'snapshot') expectBytes = true;
        if (m.t === 'fatal') stderr += `\n${m.error}`;
      }),
    );
    child.on('error', (e) => reject(new SandboxWorkerError(`the Python sandbox could not be started: ${e.message}`)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (snapshot) resolve(snapshot);
      else reject(new SandboxWorkerError(`building the Pyodide snapshot failed (${signal ?? `exit ${code}`}): ${lastLines(stderr)}`));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.write(encodeJson({ t: 'build', prelude }));
  });
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' | ').slice(0, 600);
}
