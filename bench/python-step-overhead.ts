/**
 * python_step_overhead — the Python REPL (Pyodide in a locked process) against what the unsandboxed peers pay and
 * against the JS REPL, measured interleaved in rounds so background load hits all alike:
 *   - a small cell's round trip through a Python sandbox session vs a persistent `python3` subprocess exec() of the
 *     same cell (JSON line round trip) and vs the JS REPL's session.run of its equivalent;
 *   - sandbox start/reset: a GRPO group of 16 RLMEnv.reset() of ONE context (each reset = a fresh sandbox), Python vs JS,
 *     plus the snapshot restore time of one Python sandbox.
 */
import { RLMEnv, SandboxPool } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { JS_CELL, PY_CELL, PythonRepl } from './step-overhead.ts';
import { log, makeResult, summarize, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const SUB = async () => ({ text: 'ok', model: 'm', promptTokens: 1, completionTokens: 1 });

export async function benchPythonStepOverhead(ctx: BenchContext): Promise<BenchResult[]> {
  const rounds = ctx.quick ? 3 : 8;
  const perRound = ctx.quick ? 30 : 100;
  const group = 16;
  const task = generateTask('sniah', { seed: 1, contextTokens: 256 });
  const context = task.context as string;
  const pool = new SandboxPool({ workers: 1, python: { spares: 2 } });
  const t0 = performance.now();
  await pool.warmupPython();
  const warmupMs = performance.now() - t0;
  await pool.warmup();
  const py = await PythonRepl.start(context);
  if (!py) log('python_step_overhead: python3 is not available; that baseline is skipped');
  const pySession = await pool.open({ repl: 'python', context, seed: 1 }, SUB);
  const jsSession = await pool.open({ context, seed: 1 }, SUB);
  const samples = { sandbox: [] as number[], python3: [] as number[], js: [] as number[] };
  try {
    const check = await pySession.run(PY_CELL);
    if (check.output.trim() !== String(context.length + 1)) throw new Error(`python_step_overhead: unexpected output ${JSON.stringify(check)}`);
    for (let i = 0; i < 30; i++) {
      await pySession.run(PY_CELL);
      await jsSession.run(JS_CELL);
      await py?.run(PY_CELL);
    }
    for (let r = 0; r < rounds; r++) {
      for (const [key, run] of [
        ['sandbox', () => pySession.run(PY_CELL)],
        ['js', () => jsSession.run(JS_CELL)],
        ['python3', () => (py ? py.run(PY_CELL) : Promise.resolve(''))],
      ] as const) {
        if (key === 'python3' && !py) continue;
        for (let i = 0; i < perRound; i++) {
          const s = performance.now();
          await run();
          samples[key].push(performance.now() - s);
        }
      }
    }
  } finally {
    py?.close();
    await pySession.close();
    await jsSession.close();
  }

  // A GRPO group: 16 resets of one context, each a fresh sandbox (the previous episode's is closed first).
  const resets = async (repl: 'js' | 'python'): Promise<number[]> => {
    const gtask = generateTask('sniah', { seed: 2, contextTokens: 100_000 });
    const env = new RLMEnv({ task: gtask, pool, repl, subModel: SUB });
    const out: number[] = [];
    try {
      await env.reset({ seed: 0 }); // warm: the context file / worker cache
      for (let i = 0; i < group; i++) {
        const s = performance.now();
        await env.reset({ seed: i + 1 });
        out.push(performance.now() - s);
      }
    } finally {
      await env.close();
    }
    return out;
  };
  const resetPy = await resets('python');
  const resetJs = await resets('js');
  const restoreMs = pool.pythonStats?.lastStartMs ?? NaN;
  const isolation = pool.pythonStats?.isolation ?? null;
  await pool.close();

  const sb = summarize(samples.sandbox);
  const js = summarize(samples.js);
  const p3 = py ? summarize(samples.python3) : null;
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  log(`python_step_overhead: sandbox p50 ${sb.p50} ms, python3 ${p3?.p50 ?? 'n/a'} ms, js ${js.p50} ms; 16 resets python ${Math.round(sum(resetPy))} ms, js ${Math.round(sum(resetJs))} ms`);
  const results: BenchResult[] = [];
  if (p3) {
    results.push(
      makeResult({
        name: 'python_step_overhead',
        value: sb.p50,
        unit: 'ms/cell (p50)',
        baseline: 'persistent python3 subprocess exec() of the same cell, JSON line round trip (unsandboxed peers)',
        baseline_value: p3.p50,
        goal: 'informational: the price of the sandbox per cell',
        goal_met: null,
        p90_ms: sb.p90,
        baseline_p90_ms: p3.p90,
        samples: sb.n,
        cell: PY_CELL,
        isolation,
      }),
    );
  }
  results.push(
    makeResult({
      name: 'python_step_vs_js',
      value: sb.p50,
      unit: 'ms/cell (p50)',
      baseline: 'the JS REPL (isolated-vm worker) session.run of the same cell in JavaScript',
      baseline_value: js.p50,
      goal: 'informational',
      goal_met: null,
      p90_ms: sb.p90,
      baseline_p90_ms: js.p90,
      js_cell: JS_CELL,
    }),
    makeResult({
      name: 'python_reset_grpo16',
      value: Math.round(sum(resetPy)),
      unit: `ms for ${group} resets of one 100K-token context`,
      baseline: `the same ${group} resets with the JS REPL`,
      baseline_value: Math.round(sum(resetJs)),
      goal: 'informational: each Python reset is a fresh locked process restored from the Pyodide snapshot (warm spares hide part of it)',
      goal_met: null,
      python_reset_p50_ms: summarize(resetPy).p50,
      js_reset_p50_ms: summarize(resetJs).p50,
      snapshot_restore_ms: Math.round(restoreMs),
      first_warmup_ms: Math.round(warmupMs),
    }),
  );
  return results;
}

export const pythonStepOverhead: Benchmark = {
  id: 'python_step_overhead',
  run: benchPythonStepOverhead,
};
