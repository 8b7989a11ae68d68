// Thinking models and context windows, through real HTTP against the vLLM-faithful test server (test/helpers/vllm-server.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SandboxPool, type Message } from '../env/index.ts';
import { connect, runRollouts, subModelEnv, type SamplingParams, type EpisodeRecord, type RolloutOptions } from '../rollouts/index.ts';
import { RunWriter, buildExport, readRun, replayRun } from '../datasets/index.ts';
import { scriptedPolicy } from './helpers/servers.ts';
import { startVllmServer, type VllmServer, type VllmServerOptions, type OverflowWording } from './helpers/vllm-server.ts';

const sampling: Omit<SamplingParams, 'seed'> = { temperature: 0.6, top_p: 0.95, max_tokens: 1024, stop: null, top_k: 20, logprobs: true, extra_body: null };
const taskOptions = { contextTokens: 2000 };
const DRAFT = 'Draft, not to run:\n```repl\nFINAL("guess")\n```\nso FINAL("guess") maybe.';
let pool: SandboxPool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-think-'));
const servers: VllmServer[] = [];

beforeAll(() => {
  pool = new SandboxPool({ workers: 2 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const isRoot = (m: Message[]) => m[0]?.role === 'system';
const turnOf = (m: Message[]) => m.filter((x) => x.role === 'assistant').length + 1;

/** A reply of a thinking model that thought briefly (Qwen3 always opens with <think>, even when it has little to say). */
const think = (text: string) => `<think>\nOkay.\n</think>\n\n${text}`;

/** A Qwen3-style thinking model: reasons first (drafting a FINAL that must never run), then acts like scriptedPolicy. */
function thinker(m: Message[]): string {
  if (!isRoot(m)) return `<think>\nA sub-question; answer briefly.\n</think>\n\n${scriptedPolicy(m)}`;
  return `<think>\nTurn ${turnOf(m)}. ${DRAFT}\n</think>\n\n${scriptedPolicy(m)}`;
}

async function server(o: Partial<VllmServerOptions> & Pick<VllmServerOptions, 'generate'>): Promise<VllmServer> {
  const s = await startVllmServer({ reasoningParser: 'qwen3', ...o });
  servers.push(s);
  return s;
}

async function run(s: VllmServer, extra: Partial<RolloutOptions> = {}, maxModelLen?: number): Promise<EpisodeRecord[]> {
  const conn = await connect({ model: 'qwen3', endpoints: [s.url], maxModelLen, retry: { maxRetries: 0 } });
  const got: EpisodeRecord[] = [];
  await runRollouts({ runId: 't', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: conn.clients, pool, sampling, ...extra, onEpisode: (e) => void got.push(e) });
  return got;
}

const rootChats = (s: VllmServer) => s.chats.filter((c) => isRoot(c.body.messages as Message[]));

describe('reasoning is not action', () => {
  for (const form of [
    { name: 'reasoning field (vLLM ≥ 0.16: `reasoning`)', opts: { reasoningParser: 'qwen3', reasoningField: 'reasoning' } },
    { name: 'reasoning_content field (vLLM ≤ 0.11)', opts: { reasoningParser: 'qwen3', reasoningField: 'reasoning_content' } },
    { name: 'inline <think> (no reasoning parser)', opts: { reasoningParser: null } },
  ] as const) {
    it(`${form.name}: the drafted FINAL never runs; reasoning recorded apart and not sent back`, async () => {
      const s = await server({ generate: thinker, ...form.opts });
      const [ep] = await run(s);
      expect(ep).toMatchObject({ terminated: true, correct: true, stop_reason: 'final', error: null, completion_truncated: false });
      expect(ep.final_answer).not.toBe('guess');
      for (const st of ep.steps) {
        expect(st.reasoning).toContain('FINAL("guess")');
        expect(st.reply).not.toContain('guess');
        expect(st.reply).not.toContain('<think>');
        expect(st.code_cells.join('\n')).not.toContain('guess');
        expect(st.finish_reason).toBe('stop');
      }
      // The Qwen3 convention: earlier turns' reasoning is not sent back.
      const second = rootChats(s)[1].body.messages as Message[];
      expect(second.find((m) => m.role === 'assistant')!.content).not.toMatch(/guess|<think>/);
      expect(ep.messages.filter((m) => m.role === 'assistant').every((m) => !m.content.includes('guess'))).toBe(true);
      // Sub-calls to the thinking sub-model get the answer, not its reasoning.
      expect(ep.steps[0].sub_calls[0]).toMatchObject({ response: expect.stringMatching(/^sub:\d+$/), finish_reason: 'stop', error: null });
    });
  }

  for (const parser of ['qwen3', 'qwen3-legacy', null] as const) {
    it(`an unterminated <think> cut at max_tokens is all reasoning; nothing runs (parser ${parser ?? 'none'})`, async () => {
      const long = 'I keep thinking about where the needle could be. '.repeat(30);
      const s = await server({
        reasoningParser: parser,
        generate: (m) => (isRoot(m) && turnOf(m) === 1 ? `<think>\n${DRAFT}\n${long}\n</think>\n\nok` : thinker(m)),
      });
      const [ep] = await run(s, { sampling: { ...sampling, max_tokens: 80 } });
      const first = ep.steps[0];
      expect(first.finish_reason).toBe('length');
      expect(first.code_cells).toEqual([]);
      expect(first.reply.trim()).toBe('');
      expect(first.reasoning).toContain('FINAL("guess")');
      expect(first.observation).toMatch(/no ```repl code block.*all reasoning/s);
      expect(first.completion_token_ids).toHaveLength(80);
      expect(first.max_tokens).toBe(80);
      expect(ep.completion_truncated).toBe(true);
      expect(ep.final_answer).not.toBe('guess');
    });
  }

  it('--keep-reasoning sends the reply as generated (<think>…</think> + answer)', async () => {
    const s = await server({ generate: thinker, chatTemplate: 'append-only' });
    await run(s, { env: { keepReasoning: true } });
    const second = rootChats(s)[1].body.messages as Message[];
    const sent = second.find((m) => m.role === 'assistant')!.content;
    const firstResponse = rootChats(s)[0].response as { choices: { message: { reasoning: string; content: string } }[] };
    expect(sent).toBe(`<think>${firstResponse.choices[0].message.reasoning}</think>${firstResponse.choices[0].message.content}`);
  });
});

/** A model that never finishes: prints a large slice of the context every turn. */
const flooder = (m: Message[]) => think(isRoot(m) ? `Looking.\n\`\`\`repl\nprint(context.slice(${turnOf(m) * 10}, ${turnOf(m) * 10 + 3000}))\n\`\`\`` : 'ok');

describe('context windows', () => {
  it('learns the window from /v1/models, counts with /tokenize, clamps max_tokens, ends context_window (own count)', async () => {
    // /tokenize refuses over-long texts here (as some vLLM versions do): the harness falls back to its estimate then.
    const s = await server({ generate: flooder, maxModelLen: 4000, tokenizeRefusesOverLong: true });
    const conn = await connect({ model: 'qwen3', endpoints: [s.url] });
    expect(conn).toMatchObject({ maxModelLen: 4000, maxModelLenSource: 'server', exactCounts: true });
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'w', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: conn.clients, pool, sampling, env: { maxTurns: 30 }, onEpisode: (e) => void got.push(e) });
    const [ep] = got;
    expect(ep).toMatchObject({ stop_reason: 'context_window', truncated: true, terminated: false, error: null, score: 0 });
    expect(ep.turns).toBeGreaterThan(1);
    expect(ep.turns).toBeLessThan(30);
    // Never a 400: every request fit; max_tokens was clamped once the window got tight.
    const chats = rootChats(s);
    expect(chats.every((c) => c.status === 200)).toBe(true);
    for (const c of chats) {
      const r = c.response as { usage: { prompt_tokens: number } };
      expect(r.usage.prompt_tokens + (c.body.max_tokens as number)).toBeLessThanOrEqual(4000);
    }
    expect(chats.some((c) => (c.body.max_tokens as number) < sampling.max_tokens)).toBe(true);
    expect(ep.steps.map((x) => x.max_tokens)).toEqual(chats.map((c) => c.body.max_tokens));
    expect(s.tokenizeCalls).toBeGreaterThanOrEqual(chats.length);
  });

  it('a context_window run replays exactly (observations, stop reason, reward)', async () => {
    const s = await server({ generate: flooder, maxModelLen: 4000 });
    const conn = await connect({ model: 'qwen3', endpoints: [s.url] });
    const dir = path.join(tmp, 'replay-cw');
    // As the CLI does: record what the sub-model windows put in the system prompt, so replay rebuilds it.
    const env = { maxTurns: 30, keepReasoning: false, ...subModelEnv([{ name: null, client: conn.clients[0] }], 1024, undefined) };
    const w = await RunWriter.open(dir, { runId: 'cw', flushEvery: 4, manifest: { seed: 3, extra: { env } } });
    await runRollouts({ runId: 'cw', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: conn.clients, pool, sampling, env, onEpisode: (e) => w.add(e) });
    await w.close();
    const r = await replayRun(dir, { pool });
    expect((await readRun(dir)).episodes[0].stop_reason).toBe('context_window');
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(1);
  });

  it('--max-model-len overrides the card; without /tokenize the count is a conservative estimate', async () => {
    const s = await server({ generate: flooder, maxModelLen: 40_000, tokenize: false });
    const conn = await connect({ model: 'qwen3', endpoints: [s.url], maxModelLen: 4000 });
    expect(conn).toMatchObject({ maxModelLen: 4000, maxModelLenSource: 'flag', exactCounts: false });
    const got: EpisodeRecord[] = [];
    await runRollouts({ runId: 'w', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: conn.clients, pool, sampling, onEpisode: (e) => void got.push(e) });
    expect(got[0]).toMatchObject({ stop_reason: 'context_window', truncated: true, error: null });
    for (const c of rootChats(s)) expect((c.response as { usage: { prompt_tokens: number } }).usage.prompt_tokens + (c.body.max_tokens as number)).toBeLessThanOrEqual(4000);
  });

  for (const [wording, shape] of [['current', 'nested'], ['v0.6', 'nested'], ['legacy', 'flat'], ['chars', 'nested']] as [OverflowWording, 'nested' | 'flat'][]) {
    it(`the server's own HTTP 400 (${wording} wording, ${shape} body) ends the episode context_window, not error`, async () => {
      // The card hides the window (max_model_len null, as on a LoRA card): only the server knows it.
      const s = await server({ generate: flooder, maxModelLen: 4000, advertiseMaxModelLen: false, overflowWording: wording, errorShape: shape });
      const [ep] = await run(s, { sampling: { ...sampling, max_tokens: wording === 'chars' ? 256 : 3000 } });
      expect(ep).toMatchObject({ stop_reason: 'context_window', truncated: true, error: null });
      const chats = rootChats(s);
      expect(chats.at(-1)!.status).toBe(400);
      expect(JSON.stringify(chats.at(-1)!.response)).toMatch(shape === 'flat' ? /^\{"object":"error"/ : /^\{"error":\{"message"/);
      if (wording === 'current' || wording === 'v0.6') {
        // The message states the window and the input tokens: the request was re-sent with max_tokens that fit.
        const retried = chats.findIndex((c, i) => c.status === 200 && i > 0 && chats[i - 1].status === 400);
        expect(retried).toBeGreaterThan(0);
        expect(ep.turns).toBeGreaterThan(1);
      }
    });
  }

  it('drop-oldest keeps system + task + the last turns and says so in the observation sent', async () => {
    const s = await server({ generate: flooder, maxModelLen: 4000 });
    const [ep] = await run(s, { contextPolicy: 'drop-oldest', env: { maxTurns: 12 } }, undefined);
    expect(ep.stop_reason).toBe('max_turns');
    const dropped = ep.steps.filter((x) => (x.dropped_turns ?? 0) > 0);
    expect(dropped.length).toBeGreaterThan(0);
    const chat = rootChats(s).find((c) => (c.body.messages as Message[]).some((m) => m.content.includes('left out of this conversation')))!;
    const sent = chat.body.messages as Message[];
    expect(sent[0].role).toBe('system');
    expect(sent[1].content).toContain('Question:');
    expect(sent.at(-1)!.content).toMatch(/^\[Context window: the oldest \d+ turns? (was|were) left out/);
    for (const c of rootChats(s)) expect(c.status).toBe(200);
  });
});

describe('sub-models: windows and names', () => {
  it('a sub-call prompt over the sub window is a clear error to the model; the system prompt states the window in chars', async () => {
    const sub = await server({ model: 'Qwen/Qwen3-0.6B', maxModelLen: 600, generate: () => think('short answer') });
    const root = await server({
      generate: (m) => think(turnOf(m) === 1 ? '```repl\nconst r = llm_query(context.slice(0, 6000));\nprint(r)\n```' : '```repl\nprint(llm_query(context.slice(0, 200)))\nFINAL("x")\n```'),
    });
    const rootConn = await connect({ model: 'qwen3', endpoints: [root.url] });
    const subConn = await connect({ model: 'Qwen/Qwen3-0.6B', endpoints: [sub.url] });
    const got: EpisodeRecord[] = [];
    await runRollouts({
      runId: 's', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: rootConn.clients, pool, sampling,
      subModels: [{ name: null, client: subConn.clients[0] }], subSampling: { ...sampling, logprobs: false, max_tokens: 200 },
      onEpisode: (e) => void got.push(e),
    });
    const [ep] = got;
    expect(ep.messages[0].content).toMatch(/Qwen\/Qwen3-0\.6B\) has a 600-token context window: a prompt of at most about 1,200 characters fits/);
    expect(ep.messages[0].content).toContain('A prompt may have at most 1,200 characters'); // the sandbox limit follows the window
    expect(ep.steps[0].observation).toMatch(/split the text into smaller chunks/i);
    expect(sub.chats.every((c) => c.status === 200)).toBe(true); // nothing over the window was ever sent
    expect(ep.steps[1].sub_calls[0]).toMatchObject({ response: 'short answer', model: 'Qwen/Qwen3-0.6B', error: null });
    expect((sub.chats[0].body.max_tokens as number)).toBeLessThanOrEqual(200);
  });

  it('past the sandbox limit, the window check and the server\'s own 400 both reach the model as a clear error', async () => {
    const sub = await server({ model: 'Qwen/Qwen3-0.6B', maxModelLen: 600, generate: () => think('short answer') });
    const hidden = await server({ model: 'Qwen/Qwen3-1.7B', maxModelLen: 600, advertiseMaxModelLen: false, generate: () => think('short answer') });
    const root = await server({ generate: () => think('```repl\nprint(llm_query(context.slice(0, 4000)))\n```') });
    const rootConn = await connect({ model: 'qwen3', endpoints: [root.url] });
    for (const [s, id, pattern] of [
      [sub, 'Qwen/Qwen3-0.6B', /the prompt is (about )?[\d,]+ tokens \(4,000 chars\) but the sub-model Qwen\/Qwen3-0\.6B has a 600-token context window.*split the text into smaller chunks/s],
      [hidden, 'Qwen/Qwen3-1.7B', /the sub-model Qwen\/Qwen3-1\.7B refused the prompt \(4,000 chars\) as longer than its context window of 600 tokens.*split the text into smaller chunks/s],
    ] as const) {
      const subConn = await connect({ model: id, endpoints: [s.url], retry: { maxRetries: 0 } });
      const got: EpisodeRecord[] = [];
      await runRollouts({
        runId: 'x', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: rootConn.clients, pool, sampling, env: { maxTurns: 1, sandbox: { maxSubPromptChars: 400_000 } },
        subModels: [{ name: null, client: subConn.clients[0] }], onEpisode: (e) => void got.push(e),
      });
      expect(got[0].steps[0].observation).toMatch(pattern);
      expect(got[0].steps[0].sub_calls[0].error).toMatch(pattern);
    }
    expect(sub.chats).toHaveLength(0); // refused before sending
    expect(hidden.chats.map((c) => c.status)).toEqual([400]);
  });

  it('named sub-models route llm_query(prompt, name) and llm_query_batched(prompts, name); an unknown name errors', async () => {
    const fast = await server({ model: 'Qwen/Qwen3-0.6B', maxModelLen: 8000, generate: () => think('from-fast') });
    const big = await server({ model: 'Qwen/Qwen3-32B', maxModelLen: 32000, generate: () => think('from-big') });
    const root = await server({
      generate: () => think('```repl\nprint(llm_query("a", "fast"))\nprint(llm_query_batched(["b", "c"], "big").join(","))\nprint(llm_query("d"))\nprint(llm_query("e", "nope"))\n```'),
    });
    const rootConn = await connect({ model: 'qwen3', endpoints: [root.url] });
    const f = await connect({ model: 'Qwen/Qwen3-0.6B', endpoints: [fast.url] });
    const b = await connect({ model: 'Qwen/Qwen3-32B', endpoints: [big.url] });
    const got: EpisodeRecord[] = [];
    await runRollouts({
      runId: 'n', families: ['sniah'], n: 1, seed: 3, taskOptions, policies: rootConn.clients, pool, sampling, env: { maxTurns: 1 },
      subModels: [{ name: 'fast', client: f.clients[0] }, { name: 'big', client: b.clients[0] }],
      onEpisode: (e) => void got.push(e),
    });
    const [ep] = got;
    const obs = ep.steps[0].observation;
    expect(obs).toContain('from-fast\nfrom-big,from-big\nfrom-fast'); // no name → the first named one (the default)
    expect(obs).toMatch(/unknown sub-model "nope"; available: "fast", "big"/);
    expect(ep.steps[0].sub_calls.map((c) => c.model)).toEqual(['Qwen/Qwen3-0.6B', 'Qwen/Qwen3-32B', 'Qwen/Qwen3-32B', 'Qwen/Qwen3-0.6B', 'nope']);
    expect(ep.steps[0].sub_calls[4].error).toMatch(/unknown sub-model "nope"/);
    expect(fast.chats.map((c) => (c.body.messages as Message[])[0].content)).toEqual(['a', 'd']);
    expect(big.chats.map((c) => (c.body.messages as Message[])[0].content).sort()).toEqual(['b', 'c']);
    expect(ep.messages[0].content).toContain('`"fast"` — Qwen/Qwen3-0.6B');
    expect(ep.messages[0].content).toContain('`"big"` — Qwen/Qwen3-32B');
  });
});

describe('exact tokens and turn exports', () => {
  async function recorded(opts: Partial<VllmServerOptions>, extra: Partial<RolloutOptions>, name: string) {
    const s = await server({ generate: thinker, ...opts });
    const dir = path.join(tmp, name);
    const w = await RunWriter.open(dir, { runId: name, flushEvery: 4, manifest: { seed: 3 } });
    const conn = await connect({ model: 'qwen3', endpoints: [s.url] });
    await runRollouts({ runId: name, families: ['sniah'], n: 2, seed: 3, taskOptions, policies: conn.clients, pool, sampling, ...extra, onEpisode: (e) => w.add(e) });
    await w.close();
    return { s, run: await readRun(dir) };
  }
  type Resp = { prompt_token_ids: number[]; choices: { token_ids: number[]; logprobs: { content: { logprob: number }[] } }[] };

  it('a template that drops earlier <think> (Qwen3) gives turn rows: each an exact slice of what the server returned', async () => {
    const { s, run } = await recorded({ chatTemplate: 'qwen3' }, {}, 'qwen3-template');
    const t = buildExport(run, { format: 'tokens' });
    expect(t.rows.length).toBe(run.steps.length);
    expect(t.rows.every((r) => r.row_kind === 'turn' && r.token_prefix_ok === false && r.num_turns === 1)).toBe(true);
    const responses = rootChats(s).map((c) => c.response as Resp);
    const all = responses.map((r) => JSON.stringify([...r.prompt_token_ids, ...r.choices[0].token_ids]));
    for (const r of t.rows) {
      const i = all.indexOf(JSON.stringify(r.token_ids));
      expect(i).toBeGreaterThanOrEqual(0);
      const resp = responses[i];
      expect(r.prompt_len).toBe(resp.prompt_token_ids.length);
      expect(r.loss_mask).toEqual([...resp.prompt_token_ids.map(() => 0), ...resp.choices[0].token_ids.map(() => 1)]);
      expect((r.logprobs as number[]).slice(resp.prompt_token_ids.length)).toEqual(resp.choices[0].logprobs.content.map((x) => x.logprob));
    }
  });

  it('an append-only template with --keep-reasoning gives one episode row equal to the last prompt + last completion', async () => {
    const { s, run } = await recorded({ chatTemplate: 'append-only' }, { env: { keepReasoning: true } }, 'append-template');
    const t = buildExport(run, { format: 'tokens' });
    expect(t.rows).toHaveLength(2);
    for (const r of t.rows) {
      expect(r).toMatchObject({ row_kind: 'episode', token_prefix_ok: true, turn: null, completion_truncated: false });
      const steps = run.steps.filter((x) => x.episode_id === r.episode_id).sort((a, b) => a.turn - b.turn);
      const last = steps.at(-1)!;
      expect(r.token_ids).toEqual([...last.prompt_token_ids!, ...last.completion_token_ids!]);
      const ones = (r.loss_mask as number[]).reduce((a, b) => a + b, 0);
      expect(ones).toBe(steps.reduce((n, x) => n + x.completion_token_ids!.length, 0));
    }
    // The recorded ids are the server's, unchanged.
    const served = rootChats(s).map((c) => JSON.stringify((c.response as Resp).choices[0].token_ids));
    for (const st of run.steps) expect(served).toContain(JSON.stringify(st.completion_token_ids));
  });

  it('finish reasons drive completion_truncated and --drop-truncated; sft-turns has one row per root turn', async () => {
    const long = 'Still thinking. '.repeat(60);
    const { run } = await recorded(
      { chatTemplate: 'qwen3', generate: (m) => (isRoot(m) && turnOf(m) === 1 && (m[1].content.length % 2 === 0 || true) ? `<think>${long}</think>\n\nok` : thinker(m)) },
      { sampling: { ...sampling, max_tokens: 120 } },
      'truncated',
    );
    expect(run.episodes.every((e) => e.completion_truncated)).toBe(true);
    expect(run.steps.filter((x) => x.turn === 1).every((x) => x.finish_reason === 'length')).toBe(true);
    const t = buildExport(run, { format: 'tokens' });
    expect(t.rows.filter((r) => r.turn === 1).every((r) => r.completion_truncated === true)).toBe(true);
    expect(t.rows.filter((r) => r.turn !== 1).every((r) => r.completion_truncated === false)).toBe(true);
    expect(buildExport(run, { format: 'tokens', dropTruncated: true }).rows).toHaveLength(0);
    expect(buildExport(run, { format: 'trl', dropTruncated: true }).rows).toHaveLength(0);
    expect(buildExport(run, { format: 'sft', minReward: 0, dropTruncated: true }).rows).toHaveLength(0);

    const turns = buildExport(run, { format: 'sft-turns', minReward: 0 });
    expect(turns.rows).toHaveLength(run.steps.length);
    for (const r of turns.rows) {
      const ep = run.episodes.find((e) => e.episode_id === r.episode_id)!;
      const assistants = ep.messages.map((m, i) => [m, i] as const).filter(([m]) => m.role === 'assistant');
      const [msg, at] = assistants[(r.turn as number) - 1];
      expect(r.prompt).toEqual(ep.messages.slice(0, at));
      expect(r.completion).toEqual([msg]);
      expect(r.messages).toEqual(ep.messages.slice(0, at + 1));
    }
    const small = buildExport(run, { format: 'sft-turns', minReward: 0, maxTurnChars: 1 });
    expect(small.rows).toHaveLength(0);
    expect(buildExport(run, { format: 'sft-turns', minReward: 0, dropTruncated: true }).rows).toHaveLength(0);
  });
});
