// The trainers' own readers take every table and export unchanged: pyarrow.parquet and Hugging Face datasets
// (load_dataset("parquet", …)) in the project's pinned Python test environment (.venv, clients/python/requirements-test.txt).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SandboxPool, type Message } from '../env/index.ts';
import { connect, runRollouts } from '../rollouts/index.ts';
import { RunWriter, exportRun, EXPORT_FORMATS } from '../datasets/index.ts';
import { scriptedPolicy } from './helpers/servers.ts';
import { venvPython, repoRoot } from './helpers/python.ts';
import { startVllmServer, type VllmServer } from './helpers/vllm-server.ts';

const { python, reason } = venvPython();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-readers-'));
let server: VllmServer;
let pool: SandboxPool;

if (!python) console.warn(`[trainer-readers] SKIPPED: ${reason}`);

beforeAll(async () => {
  server = await startVllmServer({
    reasoningParser: 'qwen3',
    chatTemplate: 'qwen3',
    generate: (m: Message[]) => `<think>\nPlan: FINAL("guess")\n</think>\n\n${scriptedPolicy(m)}`,
  });
  pool = new SandboxPool({ workers: 1 });
});
afterAll(async () => {
  await server.close();
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!python)('trainer readers (pyarrow + datasets)', () => {
  it('read every run table and every export with the columns and types a trainer reads', async () => {
    const run = path.join(tmp, 'run');
    const conn = await connect({ model: 'qwen3', endpoints: [server.url] });
    const w = await RunWriter.open(run, { runId: 'readers', flushEvery: 2, manifest: { seed: 1 } });
    await runRollouts({
      runId: 'readers', families: ['sniah'], n: 3, seed: 1, taskOptions: { contextTokens: 2000 }, policies: conn.clients, pool,
      sampling: { temperature: 0.6, top_p: 0.95, max_tokens: 512, stop: null, top_k: 20, logprobs: true, extra_body: null },
      onEpisode: (e) => w.add(e),
    });
    await w.close();
    const exports = path.join(tmp, 'exports');
    for (const format of EXPORT_FORMATS) await exportRun(run, { format, out: path.join(exports, `${format}.parquet`), ...(format === 'sft' || format === 'sft-turns' ? { minReward: 0 } : {}) });
    const r = spawnSync(python!, [path.join(repoRoot, 'test/python/trainer_readers.py'), run, exports], { encoding: 'utf8', env: { ...process.env, HF_DATASETS_OFFLINE: '1', HF_HUB_OFFLINE: '1', HF_HOME: path.join(tmp, 'hf') } });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(r.stderr.includes('Traceback') ? r.stderr : '').toBe('');
    const out = JSON.parse(line) as { problems: string[]; seen: Record<string, { pyarrow_rows: number; datasets_rows: number; row_kinds?: string[]; finish_reasons?: string[]; reasoning_present?: number; datasets_left_out?: string[] }> };
    expect(out.problems).toEqual([]);
    expect(r.status).toBe(0);
    for (const [name, s] of Object.entries(out.seen)) {
      expect(s.pyarrow_rows, name).toBeGreaterThan(0);
      expect(s.datasets_rows, name).toBe(s.pyarrow_rows);
    }
    expect(out.seen.episodes.pyarrow_rows).toBe(3);
    expect(out.seen.tokens.row_kinds).toEqual(['turn']); // the Qwen3 template drops earlier <think>
    expect(out.seen.steps.finish_reasons).toEqual(['stop']);
    expect(out.seen.steps.reasoning_present).toBe(out.seen.steps.pyarrow_rows);
    // datasets has no map type: only episodes.reward_components is left out of its load (pyarrow reads it).
    expect(out.seen.episodes.datasets_left_out).toEqual(['reward_components']);
    expect(out.seen.steps.datasets_left_out).toEqual([]);
  });
});
