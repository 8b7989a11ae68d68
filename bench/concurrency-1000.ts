/**
 * concurrency_1000 — a GRPO-sized batch held live at once: 64 sniah tasks × groups of 16 = 1,024 concurrent episodes of
 * 100k-token contexts through the real rollout path (runRollouts → HTTP → reference server → sandbox workers →
 * RunWriter). The policy is scripted and answers after 3 turns: turn 1 reads `context.length`, turn 2 runs the
 * needle regex and keeps the match in a variable, turn 3 submits it. Every episode's turn-3 request waits at a barrier
 * until all 1,024 have played two turns, so at the barrier every episode has a live isolate holding its context and
 * state: the peak is that of 1,024 simultaneous episodes, not of a pipeline.
 *
 * Memory = summed RSS of this process (harness: runner, HTTP client and server, writer) and every sandbox worker, read
 * from /proc at the barrier and sampled every 25 ms for the peak. "Beyond context bytes" subtracts ONE copy of each
 * distinct context (64 × its bytes): a design that copied a context into each of its group's 16 isolates pays the 15
 * extra copies as overhead. Goals (issue 15): peak ≤ 8 GB, no episode lost, ≤ 3 MB per episode beyond context bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunWriter } from '../datasets/index.ts';
import { SandboxPool, type Message } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { OpenAIPolicyClient, REFERENCE_MODEL_ID, runRollouts, startReferenceServer, type SamplingParams } from '../rollouts/index.ts';
import { contextBytes, gc, log, makeResult, MB, procMem, RssSampler, sig, sleep, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const GROUP = 16;
const CONTEXT_TOKENS = 100_000;
const BUDGET_BYTES = 8 * 1024 * MB;
const GOAL_PER_EPISODE_MB = 3;
const BARRIER_TIMEOUT_MS = 600_000;
const SAMPLING: Omit<SamplingParams, 'seed'> = { temperature: 0, top_p: 1, max_tokens: 1024, stop: null, top_k: null, logprobs: false, extra_body: null };

/** The 3-turn sniah solver (turn = assistant messages so far + 1). Sub-model requests never reach it (none are made). */
export function threeTurnPolicy(messages: Message[]): string {
  const turn = messages.filter((m) => m.role === 'assistant').length + 1;
  const key = /magic \w+ for ([\w-]+)\?/.exec(messages[1]?.content ?? '')?.[1];
  if (turn === 1) return 'First the size.\n```repl\nconst n = context.length\nprint(n)\n```';
  if (turn === 2) {
    if (!key) return '```repl\nconst m = null\nprint("no key")\n```';
    return '```repl\nconst m = context.match(/The special magic \\w+ for ' + key + ' is ([^\\s.]+)\\./)\nprint(m ? "found" : "missing")\n```';
  }
  return '```repl\nFINAL(m ? m[1] : "none")\n```';
}

export async function benchConcurrency1000(ctx: BenchContext): Promise<BenchResult[]> {
  const tasks = ctx.quick ? 8 : 64;
  const episodes = tasks * GROUP;
  let waiting: (() => void)[] = [];
  let arrived = 0;
  let barrierOpen = false;
  let atBarrier: { total: number; perProcess: Record<string, number>; atMs: number } | null = null;
  let pids: number[] = [];
  let t0 = 0;
  const respond = async (messages: Message[]): Promise<string> => {
    const isTurn3 = messages[0]?.role === 'system' && messages.filter((m) => m.role === 'assistant').length === 2;
    if (isTurn3 && !barrierOpen) {
      if (++arrived >= episodes) {
        await sleep(100); // let the last cell's result settle in every process
        const per: Record<string, number> = { harness: procMem('self')?.rss ?? 0 };
        for (const pid of pids) per[`worker ${pid}`] = procMem(pid)?.rss ?? 0;
        atBarrier = { total: Object.values(per).reduce((a, b) => a + b, 0), perProcess: per, atMs: performance.now() - t0 };
        barrierOpen = true;
        for (const w of waiting) w();
        waiting = [];
      } else {
        // Released by the last arrival; the timeout (never expected) keeps a broken run from hanging.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, BARRIER_TIMEOUT_MS);
          waiting.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
    return threeTurnPolicy(messages);
  };
  const server = await startReferenceServer({ respond });
  const client = new OpenAIPolicyClient({ endpoint: server.url, model: REFERENCE_MODEL_ID, timeoutMs: BARRIER_TIMEOUT_MS + 60_000 });
  // Every session of the batch open at once: room for all of them on the default number of workers, and a context
  // cache that holds every task of the batch (a group's 16 isolates then share one copy of its context).
  const pool = new SandboxPool({ maxSessionsPerWorker: episodes, contextCacheEntries: tasks + 8, contextCacheMB: 4096 });
  const dir = mkdtempSync(join(tmpdir(), 'rlm-bench-c1000-'));
  try {
    await pool.warmup();
    pids = pool.workerPids();
    const probe = generateTask('sniah', { seed: 777, contextTokens: CONTEXT_TOKENS });
    const bytes = contextBytes(probe.context);
    // Warm-up (JIT of every layer, one isolate per worker), outside the measurement.
    barrierOpen = true;
    const warm = await RunWriter.open(join(dir, 'warm'), { runId: 'warm', flushEvery: 16 });
    await runRollouts({ runId: 'warm', families: ['sniah'], n: 2, seed: 5, taskOptions: { contextTokens: 1000 }, policies: [client], sampling: SAMPLING, concurrency: 2, pool, onEpisode: (e) => warm.add(e) });
    await warm.close();
    barrierOpen = false;
    gc();
    await sleep(200);
    gc();

    const before: Record<string, number> = { harness: procMem('self')?.rss ?? 0 };
    for (const pid of pids) before[`worker ${pid}`] = procMem(pid)?.rss ?? 0;
    const baseTotal = Object.values(before).reduce((a, b) => a + b, 0);
    const sampler = new RssSampler(() => pids, 25).start();
    const writer = await RunWriter.open(join(dir, 'run'), { runId: 'c1000', flushEvery: 16 });
    let correct = 0;
    let recorded = 0;
    const errors: string[] = [];
    t0 = performance.now();
    const r = await runRollouts({
      runId: 'c1000',
      families: ['sniah'],
      n: tasks,
      groupSize: GROUP,
      seed: 1000,
      taskOptions: { contextTokens: CONTEXT_TOKENS },
      policies: [client],
      sampling: SAMPLING,
      concurrency: episodes,
      pool,
      onEpisode: async (e) => {
        recorded++;
        if (e.correct) correct++;
        if (e.error) errors.push(e.error);
        await writer.add(e);
      },
    });
    const wallMs = performance.now() - t0;
    await writer.close();
    const peak = sampler.stop();
    const replaced = pool.workerPids().join() !== pids.join();
    const lost = episodes - recorded;
    const barrier = atBarrier as { total: number; perProcess: Record<string, number>; atMs: number } | null;
    const atPeak = Math.max(peak, barrier?.total ?? 0);
    const distinctContextBytes = tasks * bytes;
    const beyondPerEpisode = (atPeak - baseTotal - distinctContextBytes) / episodes;
    const grossPerEpisode = (atPeak - baseTotal) / episodes;
    log(
      `concurrency_1000: ${episodes} episodes (${tasks} × ${GROUP}), ${recorded} recorded, ${correct} correct, ${lost} lost; ` +
        `peak RSS ${toMB(atPeak)} MB (before ${toMB(baseTotal)} MB), ${sig(beyondPerEpisode / MB, 3)} MB/episode beyond context bytes; ` +
        `at barrier ${barrier ? JSON.stringify(Object.fromEntries(Object.entries(barrier.perProcess).map(([k, v]) => [k, toMB(v)]))) : 'never reached'}`,
    );
    const common = {
      episodes,
      tasks,
      group_size: GROUP,
      context_tokens: CONTEXT_TOKENS,
      context_mb: toMB(bytes, 3),
      completed: r.completed,
      recorded,
      correct,
      lost,
      errors: errors.slice(0, 5),
      all_live_at_once: barrier !== null,
      barrier_reached_after_s: barrier ? sig(barrier.atMs / 1000, 3) : null,
      rss_mb_before: toMB(baseTotal),
      rss_mb_at_barrier_by_process: barrier ? Object.fromEntries(Object.entries(barrier.perProcess).map(([k, v]) => [k, toMB(v)])) : null,
      sandbox_workers: pids.length,
      worker_replaced: replaced,
      wall_s: sig(wallMs / 1000, 3),
      episodes_per_s: sig((episodes / wallMs) * 1000, 3),
    };
    return [
      makeResult({
        name: 'concurrency_1000',
        value: atPeak / MB,
        unit: `MB peak RSS, harness + ${pids.length} sandbox workers`,
        baseline: 'the 8 GB budget',
        baseline_value: BUDGET_BYTES / MB,
        goal: `≤ 8 GB with ${episodes} live episodes, none lost`,
        goal_met: atPeak <= BUDGET_BYTES && lost === 0 && r.completed === episodes && barrier !== null,
        ...common,
      }),
      makeResult({
        name: 'concurrency_1000_rss_per_episode',
        value: beyondPerEpisode / MB,
        unit: 'MB RSS per live episode beyond context bytes',
        baseline: `context bytes of one ${CONTEXT_TOKENS / 1000}k-token sniah task`,
        baseline_value: bytes / MB,
        goal: `≤ ${GOAL_PER_EPISODE_MB} MB per episode (one copy of each distinct context subtracted)`,
        goal_met: beyondPerEpisode <= GOAL_PER_EPISODE_MB * MB && barrier !== null,
        gross_mb_per_episode: sig(grossPerEpisode / MB, 3),
        distinct_context_mb: toMB(distinctContextBytes),
        episodes,
      }),
    ];
  } finally {
    await pool.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const concurrency1000: Benchmark = {
  id: 'concurrency_1000',
  run: benchConcurrency1000,
};
