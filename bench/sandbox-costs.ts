/**
 * Costs of the sandbox (env/sandbox): session open (small context, 40 MB context first and cached), one small cell round
 * trip through a worker process, and the same cell as a raw in-process isolated-vm eval.
 *
 *   node --no-node-snapshot --import tsx bench/sandbox-costs.ts [--json]
 *
 * The functions are exported for the benchmark harness (bench/index.ts).
 */
import ivm from 'isolated-vm';
import { pathToFileURL } from 'node:url';
import { SandboxPool, type SubCallHandler } from '../env/sandbox/index.ts';
import { IsolateSession } from '../env/sandbox/isolate-session.ts';
import { resolveLimits } from '../env/sandbox/limits.ts';

export interface Stat {
  median: number;
  p90: number;
  min: number;
  n: number;
}

export function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { median: r(at(0.5)), p90: r(at(0.9)), min: r(s[0]!), n: s.length };
}

const echo: SubCallHandler = async (req) => ({ text: req.prompt, model: 'bench', promptTokens: 0, completionTokens: 0 });

/** The cell used for round trips: small, prints once, touches the context. */
export const SMALL_CELL = 'const n = context.length; print(n + 1)';

/** A 40 MB (40M chars, Latin-1) string context. */
export function bigContext(chars = 40_000_000): string {
  const unit = 'The quick brown fox jumps over the lazy dog. 0123456789\n';
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

/** Median time of `pool.open` (ms) for a context; sessions are closed between samples (not timed). */
export async function measureOpen(pool: SandboxPool, context: string, n: number, contextKey?: (i: number) => string | undefined): Promise<Stat> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = contextKey?.(i);
    const t0 = performance.now();
    const s = await pool.open({ context, seed: i, ...(key ? { contextKey: key } : {}) }, echo);
    samples.push(performance.now() - t0);
    await s.close();
  }
  return stat(samples);
}

/** One small cell through the worker (IPC + rewrite + isolate phases), ms. */
export async function measureCellRoundTrip(pool: SandboxPool, n: number, code = SMALL_CELL): Promise<Stat> {
  const s = await pool.open({ context: 'small context', seed: 1 }, echo);
  for (let i = 0; i < 20; i++) await s.run(code); // warm up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await s.run(code);
    samples.push(performance.now() - t0);
  }
  await s.close();
  return stat(samples);
}

/** The same cell run by IsolateSession in this process (no IPC): rewrite + sentinel phases + result. */
export async function measureInProcessSession(n: number, code = SMALL_CELL): Promise<Stat> {
  const limits = resolveLimits({}, 100);
  const s = await IsolateSession.create({
    context: new ivm.ExternalCopy('small context'),
    docLayout: null,
    seed: 1,
    limits,
    subCall: async () => '{}',
  });
  for (let i = 0; i < 20; i++) await s.run(code);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await s.run(code);
    samples.push(performance.now() - t0);
  }
  s.dispose();
  return stat(samples);
}

/** A raw in-process isolated-vm `context.eval` of the same cell (no rewrite, no safety phases), ms. */
export async function measureRawEval(n: number, code = SMALL_CELL): Promise<Stat> {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  await context.global.set('context', 'small context');
  await context.eval('globalThis.__out = []; globalThis.print = (...a) => { __out.push(a.join(" ")) }');
  const src = code.replace(/^const /, 'var ');
  for (let i = 0; i < 20; i++) await context.eval(src, { timeout: 1000 });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await context.eval(src, { timeout: 1000 });
    samples.push(performance.now() - t0);
  }
  isolate.dispose();
  return stat(samples);
}

export interface SandboxCosts {
  openSmallMs: Stat;
  open40MBFirstMs: Stat;
  open40MBCachedMs: Stat;
  cellRoundTripMs: Stat;
  cellInProcessMs: Stat;
  rawEvalMs: Stat;
  workerStartMs: number;
  node: string;
  cpus: number;
}

export async function runSandboxCosts(opts: { rounds?: number } = {}): Promise<SandboxCosts> {
  const rounds = opts.rounds ?? 200;
  const pool = new SandboxPool({ workers: 1 });
  try {
    const t0 = performance.now();
    await pool.warmup();
    const workerStartMs = Math.round(performance.now() - t0);
    await measureOpen(pool, 'warm up', 5);
    const openSmallMs = await measureOpen(pool, 'a small context of a few words', 30);
    const big = bigContext();
    const open40MBFirstMs = await measureOpen(pool, big, 3, (i) => `bench-40mb-first-${i}-${Date.now()}`);
    const open40MBCachedMs = await measureOpen(pool, big, 15, () => 'bench-40mb-cached');
    const cellRoundTripMs = await measureCellRoundTrip(pool, rounds);
    const cellInProcessMs = await measureInProcessSession(rounds);
    const rawEvalMs = await measureRawEval(rounds);
    return {
      openSmallMs,
      open40MBFirstMs,
      open40MBCachedMs,
      cellRoundTripMs,
      cellInProcessMs,
      rawEvalMs,
      workerStartMs,
      node: process.version,
      cpus: (await import('node:os')).availableParallelism(),
    };
  } finally {
    await pool.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const costs = await runSandboxCosts();
  console.log(JSON.stringify(costs, null, 2));
}
