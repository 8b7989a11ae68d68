/**
 * Issue 9: each "what is broken today" item as a test (each failed on the code before this issue), plus budgets over
 * the rlm_query tree, bounded inputs, recursion recorded as trajectories (and replayed), the worker environment and
 * abort propagation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { RLMEnv, SandboxPool, countTextTokens, sha256, type SubCallHandler, type SubCallRequest } from '../env/index.ts';
import { connect, runRollouts, startReferenceServer, type SamplingParams } from '../rollouts/index.ts';
import { RunWriter, buildExport, readRun, replayRun } from '../datasets/index.ts';
import type { Task } from '../tasks/types.ts';
import type { Message } from '../env/types.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';

const repl = (code: string) => '```repl\n' + code + '\n```';
const TASK: Task = {
  id: 'hard-1',
  family: 'tiny',
  seed: 0,
  options: {},
  question: 'What is the magic number?',
  context: 'filler\n'.repeat(100) + 'The magic number is 4242.\n',
  answer: '4242',
  answerType: 'exact',
  meta: {},
};
const score = (t: Task, p: string) => ({ score: p === t.answer ? 1 : 0, correct: p === t.answer, details: {} });
const echo: SubCallHandler = async (req) => ({ text: `echo:${req.prompt.slice(0, 40)}`, model: 'echo', promptTokens: 3, completionTokens: 2 });

let pool: SandboxPool;
const dirs: string[] = [];
beforeAll(async () => {
  pool = new SandboxPool({ workers: 2 });
  await pool.warmup();
});
afterAll(async () => {
  await pool.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const mkEnv = (extra: ConstructorParameters<typeof RLMEnv>[0] = {}) => new RLMEnv({ task: TASK, score, pool, subModel: echo, ...extra });

describe('1. no input can stall the harness', () => {
  it('token counting is linear: 160,000 identical chars count in well under 2 s; normal text counts exactly', () => {
    const t0 = performance.now();
    expect(countTextTokens('a'.repeat(160_000))).toBeGreaterThan(0);
    expect(countTextTokens('='.repeat(200_000))).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(2_000); // it took ~17 s for the first alone
    const text = 'The quick brown fox, 1234567 jumps.\n  Over ünïcødé 😀 and <|endoftext|> tokens;\n\n'.repeat(2_000);
    expect(countTextTokens(text)).toBe(countTokens(text, { disallowedSpecial: new Set() }));
  });

  it('a 5M-char reply, a reply of 200,000 "=" and a 1M-char single-line observation each finish a step while another episode keeps stepping', async () => {
    const busy = mkEnv();
    const other = mkEnv({ maxTurns: 10_000 });
    await busy.reset({ seed: 1 });
    await other.reset({ seed: 2 });
    let otherSteps = 0;
    let stop = false;
    const ticker = (async () => {
      while (!stop) {
        await other.step(repl('print(1)'));
        otherSteps++;
      }
    })();
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const t0 = performance.now();
    const big = await busy.step('x'.repeat(5_000_000));
    expect(big.observation[0].content).toContain('Error: your reply is 5,000,000 chars; replies longer than 200,000 chars are not run, so nothing ran.');
    const eq = await busy.step('='.repeat(200_000));
    expect(eq.info.rootCompletionTokens).toBeGreaterThan(0);
    const line = await busy.step(repl('print("y".repeat(1_000_000))'));
    expect(line.observation[0].content).toMatch(/\[output truncated: 980,00\d more chars\]/);
    const elapsed = performance.now() - t0;
    h.disable();
    stop = true;
    await ticker;
    expect(otherSteps).toBeGreaterThan(0);
    // A generous anti-hang bound (the old code took minutes); the real stall figure is in the bench.
    expect(h.max / 1e6).toBeLessThan(2_000);
    expect(elapsed).toBeLessThan(60_000);
    await busy.close();
    await other.close();
  });

  it('a turn is bounded: 500 looping cells stop at the per-reply and per-turn CPU limits', async () => {
    const env = mkEnv({ sandbox: { cellCpuTimeoutMs: 200 }, maxTurnCpuMs: 700 });
    await env.reset({ seed: 1 });
    const t0 = performance.now();
    const r = await env.step(Array.from({ length: 500 }, (_, i) => repl(`let v${i} = 0; while (true) v${i}++`)).join('\n'));
    expect(performance.now() - t0).toBeLessThan(30_000); // 500 × 10 s = 83 minutes before
    const obs = r.observation[0].content;
    expect(r.info.step!.code_cells).toHaveLength(20); // at most 20 cells per reply
    expect(obs).toContain('[cell 1/20]\nTimeoutError: the cell timed out after 200 ms CPU and was rolled back');
    expect(obs).toMatch(/\[cells \d+–20 of 20 skipped: this turn used its 700 ms of CPU\]/);
    expect(r.info.step!.rollbacks).toBeLessThanOrEqual(5);
    await env.close();
    // without a turn limit hit, the cap on cells is said plainly
    const env2 = mkEnv();
    await env2.reset({ seed: 1 });
    const r2 = await env2.step(Array.from({ length: 25 }, (_, i) => repl(`print(${i})`)).join('\n'));
    expect(r2.observation[0].content).toContain('[only the first 20 of 25 code blocks ran: at most 20 per reply]');
    await env2.close();
  });
});

describe('4–5. budgets and bounded memory outside the isolate', () => {
  it('rlm_query without recursion applies the prompt cap to prompt + subContext and records what was sent', async () => {
    const seen: SubCallRequest[] = [];
    const env = mkEnv({ subModel: async (req) => (seen.push(req), echo(req)), sandbox: { maxSubPromptChars: 1_000 } });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('try { rlm_query("Q", "c".repeat(3_000)) } catch (e) { print(e.message) }\nprint(rlm_query("Q", "abc"))'));
    expect(r.observation[0].content).toContain('rlm_query: the prompt is 3,003 chars; the limit is 1,000 chars per sub-call prompt (nothing was sent)');
    expect(seen.map((q) => q.prompt)).toEqual(['Q\n\nabc']);
    const calls = r.info.step!.sub_calls;
    expect(calls.map((c) => [c.refused, c.prompt_chars])).toEqual([[true, 3_003], [false, 6]]);
    expect(calls[1].prompt).toBe('Q\n\nabc');
    // a refused prompt is not a sub-call
    expect(r.info.subCalls).toBe(1);
    expect(r.info.subCallsRefused).toBe(1);
    await env.close();
  });

  it('prompts refused for their size never count against max_sub_calls', async () => {
    const env = mkEnv({ maxSubCalls: 2, sandbox: { maxSubPromptChars: 100 } });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('for (let i = 0; i < 5; i++) { try { llm_query("x".repeat(500)) } catch {} }\nprint(llm_query("ok"))'));
    expect(r.truncated).toBe(false);
    expect(r.info.subCalls).toBe(1);
    expect(r.info.subCallsRefused).toBe(5);
    expect(r.observation[0].content).toContain('1 sub-calls left');
    await env.close();
  });

  it('sub-call chars are capped per cell and per episode, with a clear error and nothing sent', async () => {
    let calls = 0;
    const env = mkEnv({ subModel: async (req) => (calls++, echo(req)), sandbox: { maxSubCallCharsPerCell: 10_000, maxSubCallCharsPerEpisode: 15_000 } });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('try { llm_query_batched(["a".repeat(6_000), "b".repeat(6_000)]) } catch (e) { print(e.message) }'));
    expect(r.observation[0].content).toContain('llm_query_batched: this cell would send 12,000 chars through sub-calls; the limit is 10,000 chars per cell (nothing was sent)');
    expect(calls).toBe(0);
    await env.step(repl('llm_query("c".repeat(9_000))'));
    const r3 = await env.step(repl('try { llm_query("d".repeat(9_000)) } catch (e) { print(e.message) }'));
    expect(r3.observation[0].content).toContain('this episode would send 18,000 chars through sub-calls; the limit is 15,000 chars per episode (nothing was sent)');
    expect(calls).toBe(1);
    await env.close();
  });

  it('a step row keeps at most N chars per sub-call prompt/response, with a marker, the full length and a sha256', async () => {
    const env = mkEnv({ maxRecordedSubCallChars: 500, subModel: async (req) => ({ text: 'r'.repeat(2_000), model: 'm', promptTokens: 1, completionTokens: 1 }) });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('llm_query("p".repeat(100_000))'));
    const [c] = r.info.step!.sub_calls;
    expect(c.prompt).toBe('p'.repeat(500) + '… [recorded 500 of 100,000 chars]');
    expect(c.prompt_chars).toBe(100_000);
    expect(c.prompt_sha256).toBe(sha256('p'.repeat(100_000)));
    expect(c.response.length).toBeLessThan(600);
    expect(c.response_chars).toBe(2_000);
    expect(c.response_sha256).toBe(sha256('r'.repeat(2_000)));
    await env.close();
  });
});

/** A root policy for rlm_query trees: the root asks two MID children, each MID asks two LEAF children, each LEAF batches 3 prompts. */
function treePolicy(messages: Message[]): string {
  if (messages[0]?.role !== 'system') return `sub:${messages[messages.length - 1].content.slice(0, 12)}`;
  const q = /Question: ([\s\S]*?)\n\nStart by writing code/.exec(messages[1].content)?.[1] ?? '';
  const turn = messages.filter((m) => m.role === 'assistant').length + 1;
  if (q.startsWith('LEAF')) return repl('let r = []; try { r = llm_query_batched(["a", "b", "c"]) } catch (e) { r = [e.name] }\nFINAL(r.join("|"))');
  if (q.startsWith('MID')) {
    return repl('const out = [];\nfor (const c of ["l1", "l2"]) { try { out.push(rlm_query("LEAF " + c, c)) } catch (e) { out.push("err") } }\nFINAL(out.join("/"))');
  }
  if (turn === 1) return repl('const got = [];\nfor (const c of ["m1", "m2"]) { try { got.push(rlm_query("MID " + c, c)) } catch (e) { got.push("err:" + e.name) } }\nprint(got.join(" ; "))');
  return repl('FINAL("done")');
}

const sampling: Omit<SamplingParams, 'seed'> = { temperature: 0, top_p: 1, max_tokens: 256, stop: null, top_k: null, logprobs: true, extra_body: null };

describe('4, 7. the rlm_query tree: one budget, recorded as trajectories, replayable', () => {
  it('maxSubCalls 10 at depth 2 ⇒ at most 10 sub-calls in all; info, child rows and Parquet agree; replay passes', async () => {
    const server = await startReferenceServer({ respond: treePolicy });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [server.url] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rlm-tree-'));
    dirs.push(dir);
    const env = { maxSubCalls: 10, maxTurns: 4, rlmDepth: 2 };
    const writer = await RunWriter.open(dir, { runId: 'tree', manifest: { seed: 3, config: { reward: 'accuracy' }, extra: { env } } });
    const got: EpisodeRecord[] = [];
    await runRollouts({
      runId: 'tree', families: ['sniah'], n: 1, seed: 3, taskOptions: { contextTokens: 1000 }, policies: conn.clients, sampling, pool, env,
      onEpisode: async (e) => {
        got.push(e);
        await writer.add(e);
      },
    });
    await writer.close();
    await conn.close();
    await server.close();
    const [root] = got;
    expect(root.sub_calls).toBeLessThanOrEqual(10);
    const children = root.children ?? [];
    expect(children.length).toBeGreaterThanOrEqual(2);
    expect(children.map((c) => c.depth)).toContain(2);
    const run = await readRun(dir);
    const rows = run.episodes;
    expect(rows[0].episode_id).toBe(root.episode_id); // children after their parent
    for (const r of rows.slice(1)) {
      expect(r.root_episode_id).toBe(root.episode_id);
      expect(rows.findIndex((p) => p.episode_id === r.parent_episode_id)).toBeLessThan(rows.indexOf(r));
    }
    const sent = run.steps.reduce((n, s) => n + s.sub_calls.filter((c) => !c.refused).length, 0);
    expect(sent).toBe(rows[0].sub_calls); // the Parquet counts agree with info
    expect(sent).toBeLessThanOrEqual(10);
    // child turns carry token ids / logprobs when --logprobs is on
    const childSteps = run.steps.filter((s) => s.episode_id !== root.episode_id);
    expect(childSteps.length).toBeGreaterThan(0);
    const replay = await replayRun(dir, { pool });
    expect(replay.mismatches).toEqual([]);
    expect(replay.ok).toBe(1);
    // exports: root episodes only, unless children are asked for
    expect(buildExport(run, { format: 'sft', minReward: -1 }).rows).toHaveLength(1);
    expect(buildExport(run, { format: 'sft', minReward: -1, includeChildren: true }).rows).toHaveLength(rows.length);
  });

  it('replay notices a tampered child episode', async () => {
    const server = await startReferenceServer({ respond: treePolicy });
    const conn = await connect({ model: 'rlm-gym/reference', endpoints: [server.url] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rlm-tree-'));
    dirs.push(dir);
    const env = { maxSubCalls: 50, maxTurns: 4, rlmDepth: 1 };
    const writer = await RunWriter.open(dir, { runId: 't2', manifest: { seed: 4, config: { reward: 'accuracy' }, extra: { env } } });
    await runRollouts({
      runId: 't2', families: ['sniah'], n: 1, seed: 4, taskOptions: { contextTokens: 1000 }, policies: conn.clients, sampling, pool, env,
      onEpisode: async (e) => {
        const c = e.children![0];
        c.steps[0] = { ...c.steps[0], observation: c.steps[0].observation + ' tampered' };
        await writer.add(e);
      },
    });
    await writer.close();
    await conn.close();
    await server.close();
    const replay = await replayRun(dir, { pool });
    expect(replay.mismatches.some((m) => /^child \d+\.1 observation$/.test(m.field))).toBe(true);
  });
});

describe('8. worker environment, abort, CLI', () => {
  it('sandbox workers start with a minimal environment: no secret of the harness reaches them', async () => {
    process.env.RLM_GYM_CANARY_SECRET = 'canary-7f3a';
    const p = new SandboxPool({ workers: 1 });
    try {
      const s = await p.open({ context: 'x', seed: 1 }, echo);
      const environ = readFileSync(`/proc/${s.workerPid}/environ`, 'utf8');
      expect(environ).not.toContain('canary-7f3a');
      expect(environ).not.toContain('RLM_GYM_CANARY_SECRET');
      expect(environ).toContain('TZ=UTC');
      await s.close();
    } finally {
      delete process.env.RLM_GYM_CANARY_SECRET;
      await p.close();
    }
  });

  it('aborting an episode aborts its in-flight sub-calls (the signal reaches the handler)', async () => {
    let signal: AbortSignal | undefined;
    const hang: SubCallHandler = (req) => {
      signal = req.signal;
      return new Promise((_, reject) => req.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    };
    const env = mkEnv({ subModel: hang });
    await env.reset({ seed: 1 });
    const stepping = env.step(repl('llm_query("wait")'));
    while (!signal) await new Promise((r) => setTimeout(r, 10));
    expect(signal.aborted).toBe(false);
    await env.abort('interrupted');
    expect(signal.aborted).toBe(true);
    await stepping.catch(() => undefined);
    await env.close();
  });

  it('--model reference --endpoint URL uses that served reference instead of silently ignoring it', async () => {
    const bodies: unknown[] = [];
    const server = await startReferenceServer({ onRequest: (b) => bodies.push(b) });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rlm-ref-ep-'));
    dirs.push(dir);
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--no-node-snapshot', '--import', 'tsx', 'scripts/rollout.ts', '--model', 'reference', '--endpoint', server.url, '--task', 'sniah', '--n', '1', '--context-tokens', '1000', '--out', path.join(dir, 'run'), '--quiet'],
        { cwd: process.cwd(), timeout: 120_000 },
      );
      expect(stdout).toContain('1 episode(s)');
      expect(bodies.length).toBeGreaterThan(0); // the episode was played by the served reference
      const manifest = JSON.parse(readFileSync(path.join(dir, 'run', 'manifest.json'), 'utf8'));
      expect(JSON.stringify(manifest.endpoints)).toContain(server.url.replace(/\/v1$/, ''));
    } finally {
      await server.close();
    }
  }, 150_000);
});
