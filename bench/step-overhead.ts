/**
 * step_overhead — env.step() on a one-line cell (parse the reply, IPC to the worker process, rewrite, run in the isolate,
 * collect, format the observation) vs the floor: a raw in-process isolated-vm `context.eval` of the same cell. Also vs a
 * persistent python3 subprocess that exec()s the same one-liner and returns its output (what a local Python REPL costs).
 * The three are measured interleaved in rounds so background load hits them alike.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import ivm from 'isolated-vm';
import { RLMEnv, SandboxPool } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { measureCellRoundTrip, measureInProcessSession } from './sandbox-costs.ts';
import { log, makeResult, summarize, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

export const JS_CELL = 'const n = context.length; print(n + 1)';
export const PY_CELL = 'n = len(context); print(n + 1)';
/** Issue 15: no slower than a persistent python3 subprocess round trip. */
const GOAL_MS = 0.15;

const PY_REPL = `
import sys, json, io, contextlib
g = {'context': sys.argv[1]}
for line in sys.stdin:
    code = json.loads(line)
    buf = io.StringIO()
    err = None
    with contextlib.redirect_stdout(buf):
        try:
            exec(code, g)
        except Exception as e:
            err = repr(e)
    sys.stdout.write(json.dumps({'o': buf.getvalue(), 'e': err}) + '\\n')
    sys.stdout.flush()
`;

/** A persistent `python3` process: run(code) sends one JSON line and resolves with the reply line. */
export class PythonRepl {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private constructor(context: string) {
    this.proc = spawn('python3', ['-u', '-c', PY_REPL, context], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      this.buf += d;
      const i = this.buf.indexOf('\n');
      if (i >= 0 && this.waiting) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting;
        this.waiting = null;
        w(line);
      }
    });
  }
  static async start(context: string): Promise<PythonRepl | null> {
    const r = new PythonRepl(context);
    const ok = await Promise.race([
      r.run('print(1)').then((l) => l.includes('"o"')),
      new Promise<boolean>((res) => r.proc.once('error', () => res(false))),
      new Promise<boolean>((res) => setTimeout(() => res(false), 10_000).unref()),
    ]);
    if (!ok) {
      r.close();
      return null;
    }
    return r;
  }
  run(code: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.proc.stdin.write(JSON.stringify(code) + '\n');
    });
  }
  close(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}

async function rawEvalRunner(context: string): Promise<{ run: () => Promise<unknown>; dispose: () => void }> {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const ctx = await isolate.createContext();
  await ctx.global.set('context', context);
  await ctx.eval('globalThis.__out = []; globalThis.print = (...a) => { __out.push(a.join(" ")) }');
  const src = JS_CELL.replace(/^const /, 'var '); // a raw eval cannot re-declare a const; the REPL rewrite does this for us
  return { run: () => ctx.eval(src, { timeout: 1000 }), dispose: () => isolate.dispose() };
}

export async function benchStepOverhead(ctx: BenchContext): Promise<BenchResult[]> {
  const rounds = ctx.quick ? 5 : 10;
  const perRound = ctx.quick ? 60 : 150;
  const task = generateTask('sniah', { seed: 1, contextTokens: 256 });
  const context = task.context as string;
  const pool = new SandboxPool({ workers: 1 });
  const env = new RLMEnv({ task, pool, maxTurns: 10_000 });
  const reply = '```repl\n' + JS_CELL + '\n```';
  const usage = { promptTokens: 100, completionTokens: 20 };
  const raw = await rawEvalRunner(context);
  const py = await PythonRepl.start(context);
  if (!py) log('step_overhead: python3 is not available; the Python baseline is skipped');
  const samples = { step: [] as number[], raw: [] as number[], py: [] as number[] };
  try {
    await pool.warmup();
    await env.reset({ seed: 1 });
    const check = await env.step(reply, usage);
    if (!check.observation[0]?.content.includes(String(context.length + 1))) throw new Error(`step_overhead: unexpected observation ${JSON.stringify(check.observation)}`);
    for (let i = 0; i < 50; i++) {
      await env.step(reply, usage);
      await raw.run();
      await py?.run(PY_CELL);
    }
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await env.step(reply, usage);
        samples.step.push(performance.now() - t0);
      }
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await raw.run();
        samples.raw.push(performance.now() - t0);
      }
      if (py) {
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await py.run(PY_CELL);
          samples.py.push(performance.now() - t0);
        }
      }
    }
    // Where the step time goes: session.run through the worker alone, and the same REPL session in-process (no IPC).
    const sessionRun = await measureCellRoundTrip(pool, rounds * perRound, JS_CELL);
    const inProcess = await measureInProcessSession(rounds * perRound, JS_CELL);
    const step = summarize(samples.step);
    const rawS = summarize(samples.raw);
    const pyS = py ? summarize(samples.py) : null;
    log(`step_overhead: env.step p50 ${step.p50} ms, raw eval ${rawS.p50} ms, python ${pyS?.p50 ?? 'n/a'} ms`);
    const breakdown = {
      env_step_p50_ms: step.p50,
      session_run_via_worker_p50_ms: sessionRun.median,
      repl_session_in_process_p50_ms: inProcess.median,
      raw_eval_p50_ms: rawS.p50,
    };
    const results = [
      makeResult({
        name: 'step_overhead',
        value: step.p50,
        unit: 'ms/step (p50)',
        baseline: 'raw in-process isolated-vm context.eval of the same cell',
        baseline_value: rawS.p50,
        goal: `≤ ${GOAL_MS} ms p50`,
        goal_met: step.p50 <= GOAL_MS,
        p90_ms: step.p90,
        baseline_p90_ms: rawS.p90,
        samples: step.n,
        cell: JS_CELL,
        breakdown,
      }),
    ];
    if (pyS) {
      results.push(
        makeResult({
          name: 'step_vs_python_repl',
          value: step.p50,
          unit: 'ms/step (p50)',
          baseline: 'persistent python3 subprocess: exec() of the same one-liner, JSON line round trip',
          baseline_value: pyS.p50,
          goal: 'informational (a local Python REPL); lower ratio = faster than it',
          goal_met: null,
          p90_ms: step.p90,
          baseline_p90_ms: pyS.p90,
          python_cell: PY_CELL,
        }),
      );
    }
    return results;
  } finally {
    py?.close();
    raw.dispose();
    await env.close();
    await pool.close();
  }
}

export const stepOverhead: Benchmark = {
  id: 'step_overhead',
  run: benchStepOverhead,
};
