/**
 * scale_10m_<family> — one full reference-policy episode on a 10M-token task (sniah: ≈ 52 MB string; oolong: ≈ 32 MB of
 * records), through the real path: connect({ model: 'reference' }) starts the embedded OpenAI-compatible server with the
 * reference policy, runRollouts plays the episode (root turns and every llm_query over HTTP), RunWriter records it.
 * Reports wall time, peak RSS (bench process VmHWM + Σ sandbox worker VmHWM; each family runs in a fresh process) and
 * success (the task's score).
 *
 * Baseline: the time to generate the same task alone (generateTask, same family/seed/size) — the episode's wall time is
 * expressed as a multiple of that (the runner generates the task too, so the ratio is ≥ 1 by construction).
 * --quick plays 1M-token tasks instead (results named scale_1m_<family>).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { generateTask } from '../tasks/index.ts';
import { connect, runRollouts, type EpisodeRecord, type SamplingParams } from '../rollouts/index.ts';
import { RunWriter } from '../datasets/index.ts';
import { contextBytes, gc, log, makeResult, median, procMem, sig, sleep, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

export const SCALE_FAMILIES = ['sniah', 'oolong'] as const;
/** The CLI's defaults (scripts/rollout.ts). */
const SAMPLING: Omit<SamplingParams, 'seed'> = { temperature: 0.7, top_p: 0.95, max_tokens: 4096, stop: null, top_k: null, logprobs: false, extra_body: null };
const SEED = 1;

/** The default pool, timing each open() (context transfer + isolate + prelude) for the breakdown. */
class TimedPool extends SandboxPool {
  readonly openMs: number[] = [];
  override async open(...args: Parameters<SandboxPool['open']>): ReturnType<SandboxPool['open']> {
    const t0 = performance.now();
    const s = await super.open(...args);
    this.openMs.push(performance.now() - t0);
    return s;
  }
}

/** The reference policy is written by a colleague; wait for it to land (poll every 60 s, up to ~30 min). */
export async function waitForReferencePolicy(maxPolls = 30): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      const mod = (await import('../rollouts/reference/policy.ts')) as { referenceRespond?: unknown };
      if (typeof mod.referenceRespond === 'function') return;
    } catch (e) {
      if (i >= maxPolls) throw new Error(`the reference policy (rollouts/reference/policy.ts) is not available: ${(e as Error).message}`);
    }
    if (i >= maxPolls) throw new Error('the reference policy (rollouts/reference/policy.ts) does not export referenceRespond');
    log('scale_10m: waiting for rollouts/reference/policy.ts (polling every 60 s)');
    await sleep(60_000);
  }
}

async function scaleOne(family: string, tokens: number): Promise<BenchResult> {
  const label = tokens >= 1_000_000 ? `${tokens / 1_000_000}m` : `${tokens / 1000}k`;
  // Baseline first, in a clean process (warm-up at a smaller size): generating the same task alone. The episode generates
  // the identical task again, so this does not raise the peak RSS measured below once the garbage is collected.
  generateTask(family, { seed: SEED + 1, contextTokens: Math.min(tokens, 200_000) });
  const genSamples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    gc(); // each repetition starts from a collected heap, like the episode's own generation; keeps the HWM clean too
    const g0 = performance.now();
    const task = generateTask(family, { seed: SEED, contextTokens: tokens });
    genSamples.push(performance.now() - g0);
    bytes = contextBytes(task.context);
  }
  const genMs = median(genSamples);
  gc();
  await sleep(100);
  const conn = await connect({ model: 'reference' });
  const pool = new TimedPool();
  const dir = mkdtempSync(join(tmpdir(), 'rlm-bench-scale-'));
  try {
    await pool.warmup();
    const pids = pool.workerPids();
    const rssBefore = (procMem('self')?.rss ?? 0) + pids.reduce((a, p) => a + (procMem(p)?.rss ?? 0), 0);
    const writer = await RunWriter.open(dir, { runId: `scale-${family}`, flushEvery: 16 });
    let rec: EpisodeRecord | null = null;
    log(`scale: ${family} ${label}: playing one reference episode`);
    const t0 = performance.now();
    const r = await runRollouts({
      runId: `scale-${family}`,
      families: [family],
      n: 1,
      seed: SEED,
      taskOptions: { contextTokens: tokens },
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
    if (!rec || r.completed !== 1) throw new Error(`scale ${family}: the episode was not completed`);
    const ep = rec as EpisodeRecord;

    log(`scale: ${family} ${label}: ${sig(wallMs / 1000, 3)} s, score ${ep.score}, ${ep.turns} turns, ${ep.sub_calls} sub-calls, peak RSS ${toMB(peak)} MB (generation alone ${sig(genMs, 3)} ms)`);
    return makeResult({
      name: `scale_${label}_${family}`,
      value: wallMs / 1000,
      unit: 's per episode (wall)',
      baseline: 'generating the same task alone (generateTask)',
      baseline_value: genMs / 1000,
      goal: 'completes and succeeds (score 1) with the reference policy',
      goal_met: ep.score >= 1 && !ep.error,
      score: ep.score,
      correct: ep.correct,
      stop_reason: ep.stop_reason,
      error: ep.error,
      turns: ep.turns,
      sub_calls: ep.sub_calls,
      http_requests: conn.reference?.requests ?? null,
      sandbox_open_ms: pool.openMs.map((m) => Math.round(m)),
      context_tokens: tokens,
      context_mb: toMB(bytes),
      peak_rss_mb: toMB(peak),
      peak_rss_mb_bench_process: toMB(parentHwm),
      peak_rss_mb_workers: workerHwm.map((b) => toMB(b)),
      // Growth over the processes' resident size just before the episode (node + tsx + loaded modules ≈ 250 MB here,
      // each idle sandbox worker ≈ 85 MB).
      rss_before_mb: toMB(rssBefore),
      peak_rss_growth_mb: toMB(peak - rssBefore),
      peak_rss_growth_over_context: sig((peak - rssBefore) / bytes, 3),
    });
  } finally {
    await pool.close();
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchScale10m(ctx: BenchContext): Promise<BenchResult[]> {
  await waitForReferencePolicy();
  const families = ctx.select ? SCALE_FAMILIES.filter((f) => ctx.select!.includes(f)) : [...SCALE_FAMILIES];
  const tokens = ctx.quick ? 1_000_000 : 10_000_000;
  const out: BenchResult[] = [];
  for (const f of families) out.push(await scaleOne(f, tokens));
  return out;
}

export const scale10m: Benchmark = {
  id: 'scale_10m',
  run: benchScale10m,
};
