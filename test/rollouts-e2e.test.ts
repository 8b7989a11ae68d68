import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { connect, runRollouts, startReferenceServer, type ReferenceServer, type SamplingParams } from '../rollouts/index.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';
import { RunWriter, readRun, finishedEpisodeIds } from '../datasets/index.ts';
import { scriptedPolicy, startFaultProxy } from './helpers/servers.ts';

const sampling: Omit<SamplingParams, 'seed'> = { temperature: 0.5, top_p: 0.9, max_tokens: 256, stop: null, top_k: null, logprobs: false, extra_body: null };
const taskOptions = { contextTokens: 2000 };
let pool: SandboxPool;
let server: ReferenceServer;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-e2e-'));

beforeAll(async () => {
  pool = new SandboxPool({ workers: 2 });
  server = await startReferenceServer({ respond: scriptedPolicy });
});
afterAll(async () => {
  await server.close();
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('runRollouts through real HTTP', () => {
  it('plays every episode once, with GRPO groups, usage and per-turn request seeds', async () => {
    const bodies: Record<string, unknown>[] = [];
    const s = await startReferenceServer({ respond: scriptedPolicy, onRequest: (b) => bodies.push(b) });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [s.url] });
    const got: EpisodeRecord[] = [];
    const result = await runRollouts({
      runId: 'r1', families: ['sniah'], n: 3, seed: 5, groupSize: 2, taskOptions, policies: conn.clients, sampling, pool,
      onEpisode: (e) => void got.push(e),
    });
    await s.close();
    expect(result.completed).toBe(6);
    expect(got.map((e) => e.episode_id).sort()).toEqual(['000000', '000001', '000002', '000003', '000004', '000005']);
    expect(got.every((e) => e.correct && e.terminated && e.turns === 2)).toBe(true);
    expect(new Set(got.map((e) => e.group_id)).size).toBe(3);
    for (const g of new Set(got.map((e) => e.group_id))) expect(new Set(got.filter((e) => e.group_id === g).map((e) => e.task_id)).size).toBe(1);
    expect(got[0].root_prompt_tokens).toBeGreaterThan(0);
    expect(got[0].sub_calls).toBe(1);
    expect(got[0].steps[0].sub_calls[0].response).toMatch(/^sub:\d+$/);
    const rootBodies = bodies.filter((b) => (b.messages as { role: string }[])[0].role === 'system');
    const seeds = rootBodies.map((b) => b.seed);
    expect(new Set(seeds).size).toBe(seeds.length); // one seed per (episode, turn)
    expect(result.byFamily[0]).toMatchObject({ family: 'sniah', n: 6, accuracy: 1 });
  });

  it('sends sampling params and the extra body unchanged', async () => {
    const bodies: Record<string, unknown>[] = [];
    const s = await startReferenceServer({ respond: scriptedPolicy, onRequest: (b) => bodies.push(b) });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [s.url] });
    const extra = { chat_template_kwargs: { enable_thinking: false }, repetition_penalty: 1.05 };
    await runRollouts({
      runId: 'r2', families: ['sniah'], n: 1, seed: 1, taskOptions, policies: conn.clients, pool,
      sampling: { temperature: 0.3, top_p: 0.8, max_tokens: 123, stop: ['</done>'], top_k: 20, logprobs: true, extra_body: extra },
    });
    await s.close();
    const root = bodies.find((b) => (b.messages as { role: string }[])[0].role === 'system')!;
    expect(root).toMatchObject({ temperature: 0.3, top_p: 0.8, max_tokens: 123, stop: ['</done>'], top_k: 20, logprobs: true, return_token_ids: true, ...extra });
    expect(typeof root.seed).toBe('number');
  });

  it('records token ids, logprobs and the loss mask with --logprobs', async () => {
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [server.url] });
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'r3', families: ['sniah'], n: 1, seed: 2, taskOptions, policies: conn.clients, pool, sampling: { ...sampling, logprobs: true }, onEpisode: (e) => void got.push(e) });
    const step = got[0].steps[0];
    expect(step.completion_token_ids!.length).toBeGreaterThan(5);
    expect(step.completion_logprobs).toHaveLength(step.completion_token_ids!.length);
    expect(step.loss_mask).toEqual([...step.prompt_token_ids!.map(() => 0), ...step.completion_token_ids!.map(() => 1)]);
    expect(step.completion_logprobs!.every((x) => x <= 0)).toBe(true);
  });

  it('survives an endpoint injecting 500/429/timeouts/garbage/closed sockets: none missing, none duplicated, retries bounded', async () => {
    const proxy = await startFaultProxy(server.url, 0.3, ['500', '429', 'garbage', 'close', 'timeout']);
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [proxy.url], timeoutMs: 1500, retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20 } });
    const got: EpisodeRecord[] = [];
    const result = await runRollouts({ runId: 'r4', families: ['sniah'], n: 12, seed: 9, taskOptions, policies: conn.clients, pool, sampling, concurrency: 6, onEpisode: (e) => void got.push(e) });
    await proxy.close();
    expect(got).toHaveLength(12);
    expect(new Set(got.map((e) => e.episode_id)).size).toBe(12);
    expect(result.completed).toBe(12);
    for (const e of got) expect(e.correct || e.error !== null).toBe(true);
    expect(Object.keys(proxy.stats.faults).sort()).toEqual(['429', '500', 'close', 'garbage', 'timeout']);
    // 12 episodes × 2 root turns + 12 sub-calls, each attempted at most 4 times
    expect(proxy.stats.chat).toBeLessThanOrEqual(36 * 4);
    expect(got.filter((e) => e.correct).length).toBeGreaterThan(6);
  });

  it('a non-retryable error ends that episode with its error recorded; the run goes on', async () => {
    let n = 0;
    const s = await startReferenceServer({
      respond: (m, b) => {
        if (m[0].role === 'system' && n++ === 0) throw new Error('context length exceeded');
        return scriptedPolicy(m);
      },
    });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [s.url], retry: { maxRetries: 2, baseDelayMs: 1 } });
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'r5', families: ['sniah'], n: 3, seed: 1, taskOptions, policies: conn.clients, pool, sampling, concurrency: 1, onEpisode: (e) => void got.push(e) });
    await s.close();
    expect(got).toHaveLength(3);
    const failed = got.filter((e) => e.error);
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toMatch(/HTTP 400.*context length exceeded.*not retryable/);
    expect(failed[0]).toMatchObject({ stop_reason: 'error', truncated: true, score: 0 });
  });

  it('an abort stops new episodes; resume plays exactly the rest', async () => {
    const dir = path.join(tmp, 'resume');
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [server.url] });
    const abort = new AbortController();
    const base = { families: ['sniah'], n: 10, seed: 4, taskOptions, policies: conn.clients, pool, sampling, concurrency: 2 };
    let w = await RunWriter.open(dir, { runId: 'resume', flushEvery: 2, manifest: { seed: 4 } });
    let seen = 0;
    const first = await runRollouts({
      ...base, runId: 'resume', signal: abort.signal,
      onEpisode: async (e) => {
        await w.add(e);
        if (++seen === 3) abort.abort();
      },
    });
    await w.close({ status: 'interrupted' });
    expect(first.completed).toBeGreaterThanOrEqual(3);
    expect(first.completed + first.interrupted.length).toBe(10);
    const done = await finishedEpisodeIds(dir);
    expect(done.size).toBe(first.completed);

    w = await RunWriter.open(dir, { runId: 'resume', flushEvery: 2, manifest: { seed: 4 } });
    const second = await runRollouts({ ...base, runId: 'resume', skip: done, onEpisode: (e) => w.add(e) });
    await w.close({ status: 'completed' });
    expect(second.skipped).toBe(first.completed);
    const run = await readRun(dir);
    expect(run.episodes.map((e) => e.episode_id).sort()).toEqual([...Array(10).keys()].map((i) => String(i).padStart(6, '0')));
  });

  it('the @huggingface/inference client plays the same episodes (--provider hf)', async () => {
    const bodies: Record<string, unknown>[] = [];
    const s = await startReferenceServer({ respond: scriptedPolicy, onRequest: (b) => bodies.push(b) });
    const conn = await connect({ provider: 'hf', model: 'rlm-gym/reference', endpoints: [s.url] });
    expect(conn.clients[0].provider).toBe('hf');
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'hf', families: ['sniah'], n: 2, seed: 3, taskOptions, policies: conn.clients, pool, sampling: { ...sampling, top_k: 7, extra_body: { min_p: 0.1 } }, onEpisode: (e) => void got.push(e) });
    await s.close();
    expect(got.every((e) => e.correct)).toBe(true);
    expect(got[0].root_prompt_tokens).toBeGreaterThan(0);
    expect(bodies[0]).toMatchObject({ temperature: 0.5, top_p: 0.9, top_k: 7, min_p: 0.1, model: 'rlm-gym/reference' });
  });

  it('an API key a server echoes in its errors never reaches a record or an observation', async () => {
    const key = 'sk-ECHO-0123456789';
    let lastAuth = '';
    let rootCalls = 0;
    const s = await startReferenceServer({
      onRequest: (_b, h) => void (lastAuth = String(h.authorization ?? '').replace('Bearer ', '')),
      respond: (m) => {
        if (m[0].role !== 'system') throw new Error(`Incorrect API key provided: ${lastAuth}`); // every sub-call
        if (++rootCalls === 3) throw new Error(`Incorrect API key provided: ${lastAuth}`); // one root call
        return scriptedPolicy(m);
      },
    });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [s.url], apiKey: key, retry: { maxRetries: 0 } });
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'echo', families: ['sniah'], n: 2, seed: 1, taskOptions, policies: conn.clients, pool, sampling, concurrency: 1, onEpisode: (e) => void got.push(e) });
    await s.close();
    expect(lastAuth).toBe(key);
    const text = JSON.stringify(got);
    expect(text).not.toContain(key);
    expect(text).toContain('Incorrect API key provided: [redacted]');
    expect(got.some((e) => e.error?.includes('[redacted]'))).toBe(true);
    expect(got.some((e) => e.steps.some((st) => st.sub_calls.some((c) => c.error?.includes('[redacted]'))))).toBe(true);
  });

  it('several endpoints share the load', async () => {
    const a: unknown[] = [];
    const b: unknown[] = [];
    const sa = await startReferenceServer({ respond: scriptedPolicy, onRequest: (x) => a.push(x) });
    const sb = await startReferenceServer({ respond: scriptedPolicy, onRequest: (x) => b.push(x) });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [sa.url, sb.url] });
    await runRollouts({ runId: 'r6', families: ['sniah'], n: 4, seed: 1, taskOptions, policies: conn.clients, pool, sampling });
    await sa.close();
    await sb.close();
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
  });
});
