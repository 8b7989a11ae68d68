/**
 * memory_per_episode — peak RSS growth per concurrent episode, 16 episodes in flight, each with its own 1M-token sniah
 * context (distinct seeds: nothing shared), through the real rollout path (runRollouts → HTTP → server → sandbox
 * workers). The policy is the scripted sniah solver with a barrier: every episode's turn-2 request waits until all 16
 * episodes have run their first cell (the context is in all 16 isolates), so the peak really has 16 live episodes.
 *
 * Growth = Σ over the bench process and the sandbox workers of (VmHWM after − VmRSS before), read from /proc; the
 * simultaneous peak (all processes sampled together every 10 ms) is reported as an extra. Per episode = growth / 16,
 * compared with the context's bytes. Runs in its own process (bench/index.ts), so the parent's VmHWM is this run's.
 */
import { RunWriter } from '../datasets/index.ts';
import type { Message } from '../env/index.ts';
import { SandboxPool } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { OpenAIPolicyClient, REFERENCE_MODEL_ID, runRollouts, startReferenceServer, type SamplingParams } from '../rollouts/index.ts';
import { scriptedPolicy } from '../test/helpers/servers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contextBytes, gc, log, makeResult, MB, procMem, RssSampler, sleep, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const CONCURRENCY = 16;
const CONTEXT_TOKENS = 1_000_000;
const SAMPLING: Omit<SamplingParams, 'seed'> = { temperature: 0, top_p: 1, max_tokens: 1024, stop: null, top_k: null, logprobs: false, extra_body: null };
/** Raised from 8 so 8+ opens in flight per worker cannot hit the cache-eviction race (see harness-turn.ts). */
const CONTEXT_CACHE_ENTRIES = 32;

export async function benchMemoryPerEpisode(ctx: BenchContext): Promise<BenchResult[]> {
  void ctx;
  let waiting: (() => void)[] = [];
  let arrived = 0;
  let barrierOpen = false;
  let atBarrier: { total: number; perProcess: Record<string, number> } | null = null;
  let pids: number[] = [];
  const respond = async (messages: Message[]): Promise<string> => {
    const isRootTurn2 = messages[0]?.role === 'system' && messages.filter((m) => m.role === 'assistant').length === 1;
    if (isRootTurn2 && !barrierOpen) {
      arrived++;
      if (arrived >= CONCURRENCY) {
        await sleep(50); // let the last session settle
        const per: Record<string, number> = { parent: procMem('self')?.rss ?? 0 };
        for (const pid of pids) per[`worker ${pid}`] = procMem(pid)?.rss ?? 0;
        atBarrier = { total: Object.values(per).reduce((a, b) => a + b, 0), perProcess: per };
        barrierOpen = true;
        for (const w of waiting) w();
        waiting = [];
      } else {
        // Released by the 16th arrival; a timeout (never expected) keeps a broken run from hanging.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 120_000);
          waiting.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
    return scriptedPolicy(messages);
  };
  const server = await startReferenceServer({ respond });
  const client = new OpenAIPolicyClient({ endpoint: server.url, model: REFERENCE_MODEL_ID });
  const pool = new SandboxPool({ contextCacheEntries: CONTEXT_CACHE_ENTRIES });
  const dir = mkdtempSync(join(tmpdir(), 'rlm-bench-mem-'));
  try {
    await pool.warmup();
    pids = pool.workerPids();
    // Warm-up: one small episode (JIT of every layer, one isolate per worker), and the generator at this size.
    const probe = generateTask('sniah', { seed: 424242, contextTokens: CONTEXT_TOKENS });
    const bytes = contextBytes(probe.context);
    const warmWriter = await RunWriter.open(join(dir, 'warm'), { runId: 'warm', flushEvery: 16 });
    barrierOpen = true;
    await runRollouts({ runId: 'warm', families: ['sniah'], n: 2, seed: 5, taskOptions: { contextTokens: 1000 }, policies: [client], sampling: SAMPLING, concurrency: 2, pool, onEpisode: (e) => warmWriter.add(e) });
    await warmWriter.close();
    barrierOpen = false;
    gc();
    await sleep(200);
    gc();

    const before: Record<number | 'self', number> = { self: procMem('self')?.rss ?? 0 };
    for (const pid of pids) before[pid] = procMem(pid)?.rss ?? 0;
    const baseTotal = Object.values(before).reduce((a, b) => a + b, 0);
    const sampler = new RssSampler(() => pids, 10).start();
    const writer = await RunWriter.open(join(dir, 'run'), { runId: 'mem', flushEvery: 16 });
    let correct = 0;
    const t0 = performance.now();
    await runRollouts({
      runId: 'mem',
      families: ['sniah'],
      n: CONCURRENCY,
      seed: 1000,
      taskOptions: { contextTokens: CONTEXT_TOKENS },
      policies: [client],
      sampling: SAMPLING,
      concurrency: CONCURRENCY,
      pool,
      onEpisode: async (e) => {
        if (e.correct) correct++;
        await writer.add(e);
      },
    });
    const wallMs = performance.now() - t0;
    await writer.close();
    const simultaneousPeak = sampler.stop();
    if (pool.workerPids().join() !== pids.join()) throw new Error('memory_per_episode: a sandbox worker was replaced during the run');
    const growth: Record<string, number> = { parent: Math.max(0, (procMem('self')?.hwm ?? 0) - before.self) };
    for (const pid of pids) growth[`worker ${pid}`] = Math.max(0, (procMem(pid)?.hwm ?? 0) - (before[pid] ?? 0));
    const totalGrowth = Object.values(growth).reduce((a, b) => a + b, 0);
    const perEpisode = totalGrowth / CONCURRENCY;
    const limit = 1.3 * bytes + 30 * MB;
    log(`memory_per_episode: ${toMB(perEpisode)} MB/episode (context ${toMB(bytes)} MB, limit ${toMB(limit)} MB); growth ${JSON.stringify(Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, toMB(v)])))}`);
    if (!atBarrier) log('memory_per_episode: the barrier never filled (episodes did not overlap fully)');
    return [
      makeResult({
        name: 'memory_per_episode',
        value: perEpisode / MB,
        unit: 'MB peak RSS growth per concurrent episode',
        baseline: `context bytes of one ${CONTEXT_TOKENS / 1e6}M-token sniah task`,
        baseline_value: bytes / MB,
        goal: `≤ 1.3 × context bytes + 30 MB (= ${toMB(limit)} MB)`,
        goal_met: perEpisode <= limit,
        concurrency: CONCURRENCY,
        episodes_correct: correct,
        growth_mb_by_process: Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, toMB(v)])),
        simultaneous_peak_growth_mb_per_episode: toMB((simultaneousPeak - baseTotal) / CONCURRENCY),
        rss_mb_at_barrier: atBarrier ? toMB((atBarrier as { total: number }).total) : null,
        rss_mb_before: toMB(baseTotal),
        all_16_live_at_once: atBarrier !== null,
        sandbox_workers: pids.length,
        context_cache_entries: CONTEXT_CACHE_ENTRIES,
        wall_ms: Math.round(wallMs),
      }),
    ];
  } finally {
    await pool.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const memoryPerEpisode: Benchmark = {
  id: 'memory_per_episode',
  run: benchMemoryPerEpisode,
};
