/**
 * Entry point of ONE Python sandbox process (bundled by ./bundle.ts and started by ./pool.ts under Node's permission
 * model). It loads Pyodide from the memory snapshot, hides the JavaScript world from Python, then serves one session
 * synchronously over fd 0 (frames in) and fd 3 (frames out) and exits when the session closes.
 *
 * Why synchronous: once Pyodide is ready this process never returns to its event loop, so no promise, timer, socket
 * or import() that Python might start through some JavaScript object can ever run, and a sub-call simply blocks Python
 * until the parent's answer frame arrives.
 *
 * Modes (argv[2], JSON): { mode: 'build', pyodideDir } writes a memory snapshot of a Pyodide with the prelude imported;
 * { mode: 'serve', pyodideDir, snapshot } serves a session from that snapshot.
 */
import fs, { constants as fsConstants } from 'node:fs';
import nodeCrypto from 'node:crypto';
import nodeOs from 'node:os';
import { pathToFileURL } from 'node:url';
import { FRAME_BYTES, FRAME_JSON, type ChildToParent, type ParentToChild, type PythonCellResult } from './frames.ts';
import { SANDBOX_CLOCK_START_MS } from '../results.ts';
import { fmtInt, type ResolvedLimits } from '../limits.ts';

// ----- captured before the JavaScript globals are removed -----
const readSync = fs.readSync;
const writeSync = fs.writeSync;
const cpuUsage = process.cpuUsage.bind(process);
const exitNow = process.exit.bind(process);
const PID = process.pid;
const Buf = Buffer;
const realNow = performance.now.bind(performance);
const napCell = new Int32Array(new SharedArrayBuffer(4));
const atomicsWait = Atomics.wait;
const JSONparse = JSON.parse;
const JSONstringify = JSON.stringify;
const FD_IN = 0;
const FD_OUT = 3;
/** Exit codes the parent reads as a reason. */
export const EXIT_CPU = 86;
export const EXIT_FATAL = 87;

const args = JSONparse(process.argv[2] ?? '{}') as { mode: 'build' | 'serve'; pyodideDir: string; snapshot?: string };

// ----- frames, synchronously -----
const inBuf = { data: Buf.alloc(0), pos: 0 };

function nap(ms: number): void {
  atomicsWait(napCell, 0, 0, ms);
}

function fill(): void {
  const chunk = Buf.allocUnsafe(1 << 16);
  let idle = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(FD_IN, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        // The pipe is non-blocking: back off from 50 µs to 2 ms while nothing arrives.
        nap(idle);
        idle = Math.min(2, idle === 0 ? 0.05 : idle * 2);
        continue;
      }
      throw e;
    }
    if (n === 0) exitNow(0); // the parent is gone
    const rest = inBuf.data.subarray(inBuf.pos);
    inBuf.data = rest.length ? Buf.concat([rest, chunk.subarray(0, n)]) : Buf.from(chunk.subarray(0, n));
    inBuf.pos = 0;
    return;
  }
}

function readExact(n: number): Buffer {
  while (inBuf.data.length - inBuf.pos < n) fill();
  const out = inBuf.data.subarray(inBuf.pos, inBuf.pos + n);
  inBuf.pos += n;
  return out;
}

function readMessage(): ParentToChild {
  const head = readExact(5);
  const len = head.readUInt32LE(0);
  const kind = head.readUInt8(4);
  const payload = readExact(len);
  if (kind !== FRAME_JSON) throw new Error('unexpected binary frame from the parent');
  return JSONparse(payload.toString('utf8')) as ParentToChild;
}

function writeAll(buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(FD_OUT, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') nap(1);
      else exitNow(EXIT_FATAL);
    }
  }
}

function writeFrame(kind: number, payload: Uint8Array): void {
  const head = Buf.allocUnsafe(5);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt8(kind, 4);
  writeAll(head);
  writeAll(payload);
}

function send(m: ChildToParent): void {
  writeFrame(FRAME_JSON, Buf.from(JSONstringify(m), 'utf8'));
}

// ----- determinism: seeded entropy (C-level getentropy → node:crypto.randomFillSync), fixed clock -----
let rng = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 0x85a308d3];
function seedEntropy(seed: number): void {
  let x = seed >>> 0;
  const next = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  rng = [next(), next(), next(), next()];
}
function nextU32(): number {
  // xoshiro128**
  const s = rng;
  const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
  const t = (s[1] << 9) >>> 0;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
  return r;
}
function seededFill<T extends NodeJS.ArrayBufferView>(view: T): T {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    const v = nextU32();
    for (let k = 0; k < 4 && i + k < bytes.length; k++) bytes[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return view;
}
(nodeCrypto as unknown as { randomFillSync: unknown }).randomFillSync = seededFill;

let ticks = 0;
/** The sandbox clock: starts at SANDBOX_CLOCK_START_MS and advances 1 ms per reading (as the JS REPL's Date does). */
function installClock(): void {
  Date.now = () => SANDBOX_CLOCK_START_MS + ticks++;
  performance.now = () => ticks++;
}

// NODEFS's static init reads process.binding('constants'), which the permission model refuses.
(process as unknown as { binding: unknown }).binding = (name: string) => {
  if (name === 'constants') return { fs: fsConstants, os: nodeOs.constants };
  throw new Error(`process.binding('${name}') is not available`);
};

// ----- the CPU limit: Pyodide polls this "interrupt buffer" between bytecodes; 2 = SIGINT → KeyboardInterrupt -----
let cpuDeadline = Infinity;
let killAt = Infinity;
let interruptFired = false;
let polls = 0;
const cpuMs = (): number => {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
};
const interruptBuffer = {
  get 0(): number {
    if (cpuDeadline === Infinity || (++polls & 15) !== 0) return 0;
    const now = cpuMs();
    if (now > killAt) {
      // The code kept running after KeyboardInterrupt (it caught it): nothing more to ask politely. Output the prelude
      // still buffers (under 4 KB: it streams in chunks) is lost with the process, as for a JS sandbox that is killed.
      exitNow(EXIT_CPU);
    }
    if (now > cpuDeadline) {
      interruptFired = true;
      return 2;
    }
    return 0;
  },
  set 0(_v: number) {
    /* Pyodide resets the flag after reading it; the deadline decides */
  },
};

// ----- the WebAssembly heap cap: a growth past it fails → MemoryError in Python (the state is kept) -----
let heapCapBytes = 4 * 1024 ** 3;

type PyProxyFn = ((...a: unknown[]) => unknown) & { destroy?: () => void };
interface PyodideLike {
  pyimport(name: string): Record<string, PyProxyFn> & { destroy(): void };
  runPython(code: string): unknown;
  globals: { set(k: string, v: unknown): void; delete(k: string): void };
  setInterruptBuffer(b: unknown): void;
  makeMemorySnapshot(): Uint8Array;
  FS: { filesystems: Record<string, unknown> };
}

async function loadPy(extra: Record<string, unknown>): Promise<PyodideLike> {
  const dir = args.pyodideDir.endsWith('/') ? args.pyodideDir : `${args.pyodideDir}/`;
  const mod = (await import(pathToFileURL(`${dir}pyodide.mjs`).href)) as { loadPyodide: (o: Record<string, unknown>) => Promise<PyodideLike> };
  const asm = (await import(pathToFileURL(`${dir}pyodide.asm.mjs`).href)) as { default: (s: Record<string, unknown>) => Promise<unknown> };
  const sink = (s: string) => {
    if (args.mode === 'serve' && typeof s === 'string') hostEmit(s + '\n');
  };
  return mod.loadPyodide({
    indexURL: dir,
    // The `js` module is this empty object, not globalThis.
    jsglobals: Object.freeze(Object.create(null)),
    env: { HOME: '/home/pyodide', PYTHONHASHSEED: '0', TZ: 'UTC' },
    stdout: sink,
    stderr: sink,
    checkAPIVersion: true,
    createPyodideModule: (settings: Record<string, unknown>) => {
      const instantiate = settings.instantiateWasm as (imports: { env: Record<string, unknown> }, cb: unknown) => unknown;
      settings.instantiateWasm = (imports: { env: Record<string, unknown> }, cb: unknown) => {
        const resize = imports.env.emscripten_resize_heap as (n: number) => boolean;
        imports.env.emscripten_resize_heap = (n: number) => ((n >>> 0) > heapCapBytes ? false : resize(n));
        return instantiate(imports, cb);
      };
      return asm.default(settings);
    },
    ...extra,
  });
}

// ----- host functions handed to the prelude -----
let session: { limits: ResolvedLimits } | null = null;

function hostEmit(chunk: unknown): void {
  if (typeof chunk !== 'string' || chunk.length === 0) return;
  send({ t: 'out', chunk });
}
function hostSub(payload: unknown): string {
  if (typeof payload !== 'string') return JSONstringify({ remaining: 0, budget: null, fatal: 'internal error (bad request)', results: [], texts: [] });
  send({ t: 'sub', payload });
  for (;;) {
    const m = readMessage();
    if (m.t === 'subres') return m.reply;
    if (m.t === 'close') exitNow(0);
  }
}
function hostSleep(ms: unknown): void {
  if (typeof ms === 'number' && ms > 0 && ms < 1e12) ticks += Math.ceil(ms);
}
function hostLeave(): void {
  cpuDeadline = Infinity;
  killAt = Infinity;
}

/** Everything on globalThis that is not ECMAScript goes (process, require, fetch, WebSocket, crypto, Buffer, timers, …). */
const KEEP_GLOBALS = new Set([
  'Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN', 'undefined', 'Boolean', 'String',
  'Symbol', 'Date', 'Promise', 'RegExp', 'Error', 'AggregateError', 'EvalError', 'RangeError', 'ReferenceError',
  'SyntaxError', 'TypeError', 'URIError', 'globalThis', 'JSON', 'Math', 'Intl', 'ArrayBuffer', 'Uint8Array', 'Int8Array',
  'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'Uint8ClampedArray',
  'BigUint64Array', 'BigInt64Array', 'DataView', 'Map', 'BigInt', 'Set', 'WeakMap', 'WeakSet', 'Proxy', 'Reflect',
  'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'isFinite', 'isNaN',
  'TextDecoder', 'TextEncoder', 'performance',
]);

function lockDownJs(py: PyodideLike): void {
  // Host-reaching members of the Pyodide API object (Python could hold a proxy of it through some module).
  for (const k of ['mountNodeFS', 'useNodeSockFS', 'setInterruptBuffer', 'loadPackage', 'loadPackagesFromImports', 'registerJsModule', 'unregisterJsModule', 'setStdin', 'setStdout', 'setStderr', 'unpackArchive', 'makeMemorySnapshot', 'runPythonAsync', '_module', '_api', 'FS', 'PATH', 'canvas']) {
    try {
      Object.defineProperty(py, k, { value: undefined, writable: false, configurable: false });
    } catch {
      /* not configurable: the process layers still hold */
    }
  }
  try {
    for (const k of Object.keys(py.FS?.filesystems ?? {})) if (k !== 'MEMFS') delete py.FS.filesystems[k];
  } catch {
    /* ignore */
  }
  const g = globalThis as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(g)) {
    if (KEEP_GLOBALS.has(name)) continue;
    try {
      delete g[name];
    } catch {
      /* ignore */
    }
    if (name in g) {
      try {
        Object.defineProperty(g, name, { value: undefined, writable: false, configurable: false });
      } catch {
        /* ignore */
      }
    }
  }
  // Pyodide reports fatal errors through console.error: a console that writes nowhere (fd 1 is not ours to write).
  const quiet = () => undefined;
  g.console = Object.freeze({ log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet, trace: quiet });
}

// ---------------------------------------------------------------------------------------------------------------------

async function build(): Promise<void> {
  const t0 = realNow();
  const py = await loadPy({ _makeSnapshot: true });
  const m = readMessage();
  if (m.t !== 'build') throw new Error('expected a build message');
  py.globals.set('__rlm_src', m.prelude);
  py.runPython(
    [
      'import sys, types',
      "_m = types.ModuleType('_rlm_prelude')",
      "exec(compile(__rlm_src, '<rlm prelude>', 'exec'), _m.__dict__)",
      "sys.modules['_rlm_prelude'] = _m",
      'del _m',
      // What model code imports most: loaded once here, so no cell pays for it.
      'import re, json, math, random, collections, itertools, functools, datetime, time, string, textwrap, statistics',
      'import heapq, bisect, uuid, secrets, hashlib, difflib, unicodedata, fractions, decimal, typing, dataclasses',
      'import operator, copy, pprint, base64, csv, io, os, enum, abc, numbers, struct, zlib',
      'del re, json, math, random, collections, itertools, functools, datetime, time, string, textwrap, statistics',
      'del heapq, bisect, uuid, secrets, hashlib, difflib, unicodedata, fractions, decimal, typing, dataclasses',
      'del operator, copy, pprint, base64, csv, io, os, enum, abc, numbers, struct, zlib, sys, types',
    ].join('\n'),
  );
  py.globals.delete('__rlm_src');
  const snap = py.makeMemorySnapshot();
  send({ t: 'snapshot' });
  writeFrame(FRAME_BYTES, snap);
  send({ t: 'ready', pid: PID, ms: realNow() - t0 });
  exitNow(0);
}

async function serve(): Promise<void> {
  const t0 = realNow();
  if (!args.snapshot) throw new Error('serve mode needs a snapshot');
  const py = await loadPy({ _loadSnapshot: fs.readFileSync(args.snapshot) });
  const prelude = py.pyimport('_rlm_prelude');
  const openSession = prelude.open_session;
  const runCell = prelude.run_cell;
  const restoreAfterStop = prelude.restore_after_stop;
  py.setInterruptBuffer(interruptBuffer);
  lockDownJs(py);
  send({ t: 'ready', pid: PID, ms: realNow() - t0 });

  // Never returns to the event loop from here on.
  for (;;) {
    const m = readMessage();
    if (m.t === 'close') exitNow(0);
    if (m.t === 'open') {
      const o0 = realNow();
      try {
        if (session) throw new Error('the sandbox is already open');
        heapCapBytes = Math.floor(m.heapMB * 1024 * 1024);
        seedEntropy(m.seed);
        installClock();
        const l = m.limits;
        const cfg = {
          seed: m.seed,
          remaining: Math.max(0, l.maxSubCalls - m.subCallsUsed),
          maxSubCalls: l.maxSubCalls,
          maxSubPromptChars: l.maxSubPromptChars,
          maxSubContextChars: l.maxSubContextChars,
          maxFinalChars: l.maxFinalChars,
          maxOutputChars: l.maxOutputChars,
          maxErrorChars: l.maxErrorChars,
          cellCpuTimeoutMs: l.cellCpuTimeoutMs,
          rlmRecursive: l.rlmRecursive,
          recursionLimit: 1000,
          maxRecursionLimit: 20_000,
        };
        openSession(m.text, m.docs, JSONstringify(cfg), hostSub, hostEmit, hostSleep, hostLeave);
        session = { limits: l };
        send({ t: 'opened', error: null, ms: realNow() - o0 });
      } catch (e) {
        send({ t: 'opened', error: describeJsError(e), ms: realNow() - o0 });
        exitNow(0);
      }
      continue;
    }
    if (m.t === 'run') {
      if (!session) {
        send({ t: 'result', cell: m.cell, result: { output: '', dropped: 0, error: 'InternalError: the sandbox is not open', dead: true } });
        exitNow(EXIT_FATAL);
        continue;
      }
      const c0 = cpuMs();
      const result = runOne(m.code, session.limits, m.cpuMs, runCell, restoreAfterStop);
      result.cpuMs = Math.round((cpuMs() - c0) * 1000) / 1000;
      send({ t: 'result', cell: m.cell, result });
      if (result.dead) exitNow(EXIT_FATAL);
    }
  }
}

function runOne(code: string, limits: ResolvedLimits, cellCpuMs: number | undefined, runCell: PyProxyFn, restoreAfterStop: PyProxyFn): PythonCellResult {
  interruptFired = false;
  polls = 0;
  const cpuLimit = Math.min(limits.cellCpuTimeoutMs, typeof cellCpuMs === 'number' && cellCpuMs > 0 ? cellCpuMs : Infinity);
  cpuDeadline = cpuMs() + cpuLimit;
  killAt = cpuDeadline + Math.min(2_000, Math.max(500, cpuLimit / 2));
  let raw: unknown;
  let stoppedOutside = false;
  try {
    raw = runCell(code);
  } catch (e) {
    if (!isPythonError(e)) {
      hostLeave();
      return { output: '', dropped: 0, error: `InternalError: the Python interpreter failed (${describeJsError(e)}); its variables are lost`, dead: true };
    }
    // Interrupted inside the runner itself (after the cell): restore the reserved names, keep the variables.
    stoppedOutside = true;
    try {
      raw = restoreAfterStop();
    } catch {
      hostLeave();
      return { output: '', dropped: 0, error: 'InternalError: the sandbox could not be restored after the cell was stopped; its variables are lost', dead: true };
    }
  }
  hostLeave();
  let j: { o?: unknown; d?: unknown; e?: unknown; s?: unknown; fv?: unknown; fs?: unknown };
  try {
    j = JSONparse(String(raw));
  } catch {
    return { output: '', dropped: 0, error: 'InternalError: unreadable cell result' };
  }
  const r: PythonCellResult = { output: typeof j.o === 'string' ? j.o : '', dropped: typeof j.d === 'number' ? j.d : 0 };
  if (typeof j.e === 'string') r.error = j.e;
  if (j.s === 'sub_call_budget') r.stopReason = 'sub_call_budget';
  if (typeof j.fv === 'string' && (j.fs === 'FINAL' || j.fs === 'FINAL_VAR' || j.fs === 'answer')) r.final = { value: j.fv, source: j.fs };
  if (interruptFired || stoppedOutside) {
    r.error = `TimeoutError: the cell exceeded its CPU time limit of ${fmtInt(cpuLimit)} ms`;
    r.stopReason = 'cpu_timeout';
    delete r.final;
  }
  return r;
}

function isPythonError(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as { constructor?: { name?: string } }).constructor?.name === 'PythonError';
}

function describeJsError(e: unknown): string {
  try {
    const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return s.length > 500 ? s.slice(0, 500) + '…' : s;
  } catch {
    return 'unknown error';
  }
}

const main = args.mode === 'build' ? build : serve;
main().catch((e) => {
  try {
    writeSync(2, `python sandbox: ${e instanceof Error ? e.stack : String(e)}\n`);
  } catch {
    /* the globals may be gone already */
  }
  try {
    send({ t: 'fatal', error: describeJsError(e) });
  } catch {
    /* ignore */
  }
  exitNow(EXIT_FATAL);
});
