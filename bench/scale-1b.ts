/**
 * scale_1b — a 1B-token sniah episode end to end, host-backed (README "Giant contexts"): the context is generated
 * streaming into chunk files (it never exists as one string), then one reference-policy episode plays it through the real
 * path (embedded OpenAI-compatible server, runRollouts, the sandbox's `context.search` on the host, RunWriter).
 * Reports: generation MB/s to disk (vs a plain sequential write of the same number of bytes from a repeated buffer — the
 * disk's floor on this machine), the episode's wall time, its score, peak RSS of the bench process + every sandbox worker
 * (sampled every 50 ms, search threads included), and the bytes on disk. The episode reuses the generated directory
 * (--context-dir semantics: every chunk's sha256 is verified first, which is part of its wall time). All files are
 * deleted at the end. --quick: 100M tokens (scale_100m).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { generateTask, isChunkedContext, type ChunkedContext } from '../tasks/index.ts';
import { connect, runRollouts, type EpisodeRecord, type SamplingParams } from '../rollouts/index.ts';
import { RunWriter } from '../datasets/index.ts';
import { log, makeResult, RssSampler, sig, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const SAMPLING: Omit<SamplingParams, 'seed'> = { temperature: 0.7, top_p: 0.95, max_tokens: 4096, stop: null, top_k: null, logprobs: false, extra_body: null };
const SEED = 1;
const TEMPLATE = 'The quick brown fox jumps over the lazy dog near the old mill, and record 0123456789 says nothing new.\n';

/** MB/s of writing `bytes` bytes sequentially (8 MiB writes of a repeated template), then deleting the file. */
function diskWriteMBps(dir: string, bytes: number): number {
  const buf = Buffer.alloc(8 << 20, TEMPLATE);
  const file = join(dir, 'baseline.bin');
  const t0 = performance.now();
  const fd = openSync(file, 'w');
  for (let n = 0; n < bytes; n += buf.length) writeSync(fd, buf, 0, Math.min(buf.length, bytes - n));
  closeSync(fd);
  const ms = performance.now() - t0;
  rmSync(file, { force: true });
  return bytes / 1e6 / (ms / 1000);
}

export async function benchScale1b(ctx: BenchContext): Promise<BenchResult[]> {
  const tokens = ctx.quick ? 100_000_000 : 1_000_000_000;
  const label = tokens >= 1e9 ? `${tokens / 1e9}b` : `${tokens / 1e6}m`;
  const root = mkdtempSync(join(tmpdir(), 'rlm-bench-scale1b-'));
  const contextDir = join(root, 'contexts');
  const conn = await connect({ model: 'reference' });
  const pool = new SandboxPool();
  const rss = new RssSampler(() => pool.workerPids(), 50);
  try {
    await pool.warmup();
    rss.start();
    log(`scale_${label}: generating a ${tokens.toLocaleString('en-US')}-token sniah context to disk`);
    const g0 = performance.now();
    const task = generateTask('sniah', { seed: SEED, contextTokens: tokens }, { contextStorage: 'host', contextDir });
    const genMs = performance.now() - g0;
    if (!isChunkedContext(task.context)) throw new Error('scale_1b: the context is not host-backed');
    const c = task.context as ChunkedContext;
    const genRss = rss.sample();
    const genMBps = c.bytes / 1e6 / (genMs / 1000);
    log(`scale_${label}: ${toMB(c.bytes)} MB in ${c.chunks.length} files in ${sig(genMs / 1000, 3)} s (${sig(genMBps, 3)} MB/s)`);

    const runDir = join(root, 'run');
    const writer = await RunWriter.open(runDir, { runId: `scale-${label}`, flushEvery: 16 });
    let rec: EpisodeRecord | null = null;
    log(`scale_${label}: playing one reference episode (reusing the generated files after verifying their sha256)`);
    const t0 = performance.now();
    const r = await runRollouts({
      runId: `scale-${label}`, families: ['sniah'], n: 1, seed: SEED, taskOptions: { contextTokens: tokens },
      placement: { contextStorage: 'host', contextDir }, policies: conn.clients, sampling: SAMPLING,
      subSampling: { ...SAMPLING, max_tokens: 2048 }, concurrency: 1, pool,
      onEpisode: async (e) => {
        rec = e;
        await writer.add(e);
      },
    });
    const wallMs = performance.now() - t0;
    await writer.close();
    const peak = rss.stop();
    if (!rec || r.completed !== 1) throw new Error(`scale_${label}: the episode was not completed`);
    const ep = rec as EpisodeRecord;
    rmSync(contextDir, { recursive: true, force: true });
    log(`scale_${label}: measuring the disk's sequential write speed on ${toMB(c.bytes)} MB`);
    const diskMBps = diskWriteMBps(root, c.bytes);
    log(`scale_${label}: episode ${sig(wallMs / 1000, 3)} s, score ${ep.score}, peak RSS ${toMB(peak)} MB; disk ${sig(diskMBps, 3)} MB/s`);
    return [
      makeResult({
        name: `scale_${label}`,
        value: genMBps,
        unit: 'MB/s generated to disk',
        baseline: 'sequential write of the same bytes from a repeated 8 MiB buffer (the disk floor)',
        baseline_value: diskMBps,
        goal: 'generation ≥ 100 MB/s; the reference episode scores 1; peak RSS < 2 GB',
        goal_met: genMBps >= 100 && ep.score >= 1 && !ep.error && peak < 2 * 1024 ** 3,
        generation_s: sig(genMs / 1000, 3),
        generation_mbps: sig(genMBps, 3),
        episode_wall_s: sig(wallMs / 1000, 3),
        score: ep.score,
        stop_reason: ep.stop_reason,
        error: ep.error,
        turns: ep.turns,
        sub_calls: ep.sub_calls,
        context_tokens: Number(task.meta.contextTokens),
        context_chars: c.length,
        disk_bytes: c.bytes,
        chunk_files: c.chunks.length,
        needle_depth: task.meta.depth,
        peak_rss_mb: toMB(peak),
        rss_after_generation_mb: toMB(genRss),
      }),
    ];
  } finally {
    rss.stop();
    await pool.close();
    await conn.close();
    rmSync(root, { recursive: true, force: true });
  }
}

export const scale1b: Benchmark = {
  id: 'scale_1b',
  run: benchScale1b,
};
