/**
 * Costs of making failed cells have no effect (env/sandbox/session.ts, journal.ts):
 * - rollback_replay_per_cell: journal replay time per accepted cell when a cell times out and is rolled back, vs the
 *   first run of the same cells;
 * - restore_new_worker: restoring an idle session on a new worker after its worker was killed (open + journal replay),
 *   vs opening a fresh session;
 * - journal_overhead: what journaling adds to every accepted cell (hashing the result + keeping the entry), vs the
 *   cell's round trip through the worker;
 * - event_loop_stall: the longest event-loop stall while a step plays a 5,000,000-char reply, a 200,000 '=' reply and a
 *   1,000,000-char single-line print, vs a step of a one-line cell. Goal ≤ 50 ms.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RLMEnv, SandboxPool, type SubCallHandler } from '../env/index.ts';
import { SessionJournal, resultHash } from '../env/sandbox/journal.ts';
import type { Task } from '../tasks/types.ts';
import { log, makeResult, median, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const echo: SubCallHandler = async (req) => ({ text: `echo:${req.prompt}`, model: 'bench', promptTokens: 1, completionTokens: 1 });
/** A typical accepted cell: some computation, one sub-call, a print. */
const cellN = (i: number) => `const v${i} = context.slice(${i}, ${i + 50}).split(' ').length; const a${i} = llm_query('q${i}'); print(v${i}, a${i}.length)`;

export const rollback: Benchmark = {
  id: 'rollback',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const cells = ctx.quick ? 20 : 100;
    const reps = ctx.quick ? 3 : 7;
    const pool = new SandboxPool({ workers: 2 });
    await pool.warmup();
    const context = 'The quick brown fox jumps over the lazy dog. '.repeat(2_000);
    const out: BenchResult[] = [];
    try {
      // ---- rollback: replay per journal cell
      const perCell: number[] = [];
      const firstRun: number[] = [];
      for (let r = 0; r < reps; r++) {
        const s = await pool.open({ context, seed: r, cellCpuTimeoutMs: 100 }, echo);
        let first = 0;
        for (let i = 0; i < cells; i++) {
          const t0 = performance.now();
          await s.run(cellN(i));
          first += performance.now() - t0;
        }
        const t = await s.run('while (true) {}');
        if (!t.rolledBack || t.replayMs === undefined) throw new Error('the timed-out cell was not rolled back');
        perCell.push(t.replayMs / cells);
        firstRun.push(first / cells);
        await s.close();
      }
      log(`rollback: ${median(perCell).toFixed(3)} ms per journal cell (${cells} cells), first run ${median(firstRun).toFixed(3)} ms`);
      out.push(
        makeResult({
          name: 'rollback_replay_per_cell',
          value: median(perCell),
          unit: 'ms per journal cell',
          baseline: 'first run of the same cell (with its sub-call)',
          baseline_value: median(firstRun),
          goal: 'replaying a cell costs no more than running it (≤ 1×)',
          goal_met: median(perCell) <= median(firstRun),
          journal_cells: cells,
        }),
      );

      // ---- restore of an idle session on a new worker
      const restore: number[] = [];
      const opens: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const s = await pool.open({ context, seed: r }, echo);
        opens.push(performance.now() - t0);
        for (let i = 0; i < cells; i++) await s.run(cellN(i));
        const pid = s.workerPid!;
        process.kill(pid, 'SIGKILL');
        while (pool.workerPids().includes(pid)) await new Promise((res) => setTimeout(res, 5));
        const after = await s.run('print(v0)');
        if (after.error || after.replayMs === undefined) throw new Error(`restore failed: ${after.error}`);
        restore.push(after.replayMs);
        await s.close();
      }
      log(`restore on a new worker: ${median(restore).toFixed(1)} ms (${cells} cells), fresh open ${median(opens).toFixed(1)} ms`);
      out.push(
        makeResult({
          name: 'restore_new_worker',
          value: median(restore),
          unit: `ms (session with ${cells} journal cells)`,
          baseline: 'opening a fresh session',
          baseline_value: median(opens),
          goal: '(informational)',
          goal_met: null,
          journal_cells: cells,
        }),
      );

      // ---- journaling overhead on the hot path
      const s = await pool.open({ context, seed: 1 }, echo);
      for (let i = 0; i < 20; i++) await s.run('print(1)');
      const trips: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        await s.run('print(1)');
        trips.push(performance.now() - t0);
      }
      await s.close();
      const j = new SessionJournal({ maxChars: 1e12, maxReplayMs: 1e12 });
      const r = { output: '1\n'.repeat(100) };
      const n = 20_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) j.add({ code: 'print(1)', subCalls: [], resultHash: resultHash(r), cpuMs: 0.01 });
      const per = (performance.now() - t0) / n;
      log(`journal bookkeeping: ${(per * 1000).toFixed(1)} µs per cell; cell round trip ${median(trips).toFixed(3)} ms`);
      out.push(
        makeResult({
          name: 'journal_overhead',
          value: per,
          unit: 'ms per accepted cell',
          baseline: 'one small cell round trip through the worker',
          baseline_value: median(trips),
          goal: '≤ 5% of a cell round trip',
          goal_met: per <= 0.05 * median(trips),
        }),
      );

      // ---- event-loop stall on huge inputs
      const task: Task = { id: 'stall', family: 'tiny', seed: 0, options: {}, question: 'q', context, answer: 'a', answerType: 'exact', meta: {} };
      const stall = async (reply: string) => {
        const env = new RLMEnv({ task, pool, subModel: echo, score: () => ({ score: 0, correct: false, details: {} }) });
        await env.reset({ seed: 1 });
        const h = monitorEventLoopDelay({ resolution: 5 });
        h.enable();
        await env.step(reply);
        h.disable();
        await env.close();
        return h.max / 1e6;
      };
      const normal = median([await stall('```repl\nprint(1)\n```'), await stall('```repl\nprint(1)\n```'), await stall('```repl\nprint(1)\n```')]);
      const big = Math.max(
        await stall('x'.repeat(5_000_000)),
        await stall('='.repeat(200_000)),
        await stall('```repl\nprint("y".repeat(1_000_000))\n```'),
      );
      log(`event-loop stall: ${big.toFixed(1)} ms on huge inputs, ${normal.toFixed(1)} ms on a one-line cell`);
      out.push(
        makeResult({
          name: 'event_loop_stall',
          value: big,
          unit: 'ms (longest stall)',
          baseline: 'a step of a one-line cell',
          baseline_value: normal,
          goal: '≤ 50 ms',
          goal_met: big <= 50,
        }),
      );
    } finally {
      await pool.close();
    }
    return out;
  },
};
