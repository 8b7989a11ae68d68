/**
 * scale_100m_oolong — one full reference-policy episode on a 100M-token oolong task (≈ 330 MB of records, ≈ 3.4M
 * lines): far past what a sandbox holds as a string, so the context is generated streaming into chunk files and the
 * REPL reads it through the host-backed `context` API; the reference program scans it in cells and has sub-models
 * (the simulated LLM, over HTTP) classify the distinct instance texts (rollouts/reference/programs-host.ts). The query
 * is a 'count' over the whole context, so every record needs its label.
 *
 * Reports: wall time of the episode, generation speed to disk (MB/s of chunk files, generateTask alone, best of two),
 * peak RSS (VmHWM of the bench process — generation and episode — plus Σ sandbox worker VmHWM), score, disk bytes.
 * Every chunk file is removed at the end. --quick plays a 20M-token task stored on disk instead (scale_20m_oolong).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { generateTask, isChunkedContext } from '../tasks/index.ts';
import { connect, runRollouts, type EpisodeRecord, type SamplingParams } from '../rollouts/index.ts';
import { RunWriter } from '../datasets/index.ts';
import { gc, log, makeResult, procMem, sig, sleep, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const SAMPLING: Omit<SamplingParams, 'seed'> = { temperature: 0.7, top_p: 0.95, max_tokens: 4096, stop: null, top_k: null, logprobs: false, extra_body: null };
const SEED = 1;
const GOAL_GEN_MBPS = 100;
const GOAL_PEAK_BYTES = 2 * 1024 ** 3;

export async function benchScale100mOolong(ctx: BenchContext): Promise<BenchResult[]> {
  const tokens = ctx.quick ? 20_000_000 : 100_000_000;
  const label = `${tokens / 1_000_000}m`;
  const root = mkdtempSync(join(tmpdir(), 'rlm-bench-scale-oolong-'));
  const load = Math.round(loadavg()[0] * 100) / 100;
  try {
    // Generation alone, to disk (warm-up at 1M tokens first): the same task the episode generates (same seed, options).
    // query 'count': every record must be labelled (the heaviest kind; count_users/count_dates select a share).
    const taskOptions = { contextTokens: tokens, query: 'count', contextStorage: 'host', contextDir: join(root, 'contexts') } as const;
    generateTask('oolong', { seed: SEED + 1, contextTokens: 1_000_000, contextStorage: 'host', contextDir: join(root, 'warm') });
    rmSync(join(root, 'warm'), { recursive: true, force: true });
    const genMs: number[] = [];
    let diskBytes = 0;
    let chunks = 0;
    for (let i = 0; i < 2; i++) {
      gc();
      const dir = join(root, `gen-${i}`);
      const t0 = performance.now();
      const task = generateTask('oolong', { seed: SEED, ...taskOptions, contextDir: dir });
      genMs.push(performance.now() - t0);
      if (!isChunkedContext(task.context)) throw new Error('scale_100m_oolong: the task was not stored on disk');
      diskBytes = task.context.bytes;
      chunks = task.context.chunks.length;
      rmSync(dir, { recursive: true, force: true });
    }
    const bestGen = Math.min(...genMs);
    const genMbps = diskBytes / 1e6 / (bestGen / 1000);
    const genHwm = procMem('self')?.hwm ?? 0;
    log(`scale_${label}_oolong: generation ${sig(genMbps, 3)} MB/s to disk (${sig(bestGen, 4)} ms for ${sig(diskBytes / 1e6, 4)} MB in ${chunks} chunk files; load ${load})`);
    gc();
    await sleep(100);

    const conn = await connect({ model: 'reference' });
    const pool = new SandboxPool();
    try {
      await pool.warmup();
      const pids = pool.workerPids();
      const writer = await RunWriter.open(join(root, 'run'), { runId: `scale-${label}-oolong`, flushEvery: 16 });
      let rec: EpisodeRecord | null = null;
      log(`scale_${label}_oolong: playing one reference episode`);
      const t0 = performance.now();
      const r = await runRollouts({
        runId: `scale-${label}-oolong`,
        families: ['oolong'],
        n: 1,
        seed: SEED,
        taskOptions,
        policies: conn.clients,
        sampling: SAMPLING,
        subSampling: { ...SAMPLING, max_tokens: 2048 },
        concurrency: 1,
        pool,
        onEpisode: async (e) => {
          rec = e;
          await writer.add(e);
        },
      });
      const wallMs = performance.now() - t0;
      await writer.close();
      const parentHwm = procMem('self')?.hwm ?? 0;
      const workerHwm = pids.map((p) => procMem(p)?.hwm ?? 0);
      const peak = parentHwm + workerHwm.reduce((a, b) => a + b, 0);
      if (!rec || r.completed !== 1) throw new Error(`scale_${label}_oolong: the episode was not completed`);
      const ep = rec as EpisodeRecord;
      log(`scale_${label}_oolong: ${sig(wallMs / 1000, 3)} s, score ${ep.score}, ${ep.turns} turns, ${ep.sub_calls} sub-calls, peak RSS ${toMB(peak)} MB`);
      return [
        makeResult({
          name: `scale_${label}_oolong`,
          value: wallMs / 1000,
          unit: 's per episode (wall)',
          baseline: 'generating the same task alone, to disk (generateTask, best of 2)',
          baseline_value: bestGen / 1000,
          goal: `score 1, peak RSS < 2 GB, generation ≥ ${GOAL_GEN_MBPS} MB/s to disk`,
          goal_met: ep.score >= 1 && !ep.error && peak < GOAL_PEAK_BYTES && genMbps >= GOAL_GEN_MBPS,
          score: ep.score,
          correct: ep.correct,
          stop_reason: ep.stop_reason,
          error: ep.error,
          turns: ep.turns,
          sub_calls: ep.sub_calls,
          context_tokens: tokens,
          query: 'count',
          disk_bytes: diskBytes,
          chunk_files: chunks,
          generate_mbps: sig(genMbps, 4),
          generate_ms: genMs.map((m) => Math.round(m)),
          peak_rss_mb: toMB(peak),
          peak_rss_mb_bench_process: toMB(parentHwm),
          peak_rss_mb_generation: toMB(genHwm),
          peak_rss_mb_workers: workerHwm.map((b) => toMB(b)),
        }),
      ];
    } finally {
      await pool.close();
      await conn.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const scale100mOolong: Benchmark = {
  id: 'scale_100m_oolong',
  run: benchScale100mOolong,
};
