import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RLMEnv, RLMEnvConfigError, RLMEnvStateError, SandboxPool, type SubCallHandler } from '../env/index.ts';
import type { Task } from '../tasks/types.ts';

/** A tiny fixed task: the env is tested apart from the generators. */
const TASK: Task = {
  id: 'tiny-1',
  family: 'tiny',
  seed: 0,
  options: {},
  question: 'What is the magic number? Answer with the number only.',
  context: 'filler line\n'.repeat(200) + 'The special magic number for apple is 4242.\n' + 'more filler\n'.repeat(200),
  answer: '4242',
  answerType: 'exact',
  meta: {},
};
const score = (t: Task, p: string) => {
  const correct = p.trim() === t.answer;
  return { score: correct ? 1 : 0, correct, details: {} };
};
const echoSub: SubCallHandler = async (req) => ({ text: `echo:${req.prompt.slice(0, 20)}`, model: 'echo', promptTokens: 10, completionTokens: 5 });
const repl = (code: string) => '```repl\n' + code + '\n```';

let pool: SandboxPool;
beforeAll(() => {
  pool = new SandboxPool({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
});

const makeEnv = (extra: ConstructorParameters<typeof RLMEnv>[0] = {}) => new RLMEnv({ task: TASK, score, pool, subModel: echoSub, ...extra });

describe('RLMEnv', () => {
  it('plays a full episode driven by scripted replies', async () => {
    const env = makeEnv();
    const { observation, info } = await env.reset({ seed: 7 });
    expect(observation.map((m) => m.role)).toEqual(['system', 'user']);
    expect(observation[1].content).toContain(TASK.question);
    expect(observation[1].content).toContain('characters');
    // the context itself never appears in an observation
    expect(observation.map((m) => m.content).join('\n')).not.toContain('4242');
    expect(info.goldAnswer).toBeUndefined();

    const s1 = await env.step('Let me search.\n' + repl('const m = context.match(/magic number for (\\w+) is (\\d+)/); print(m[2]);'));
    expect(s1.terminated).toBe(false);
    expect(s1.truncated).toBe(false);
    expect(s1.reward).toBe(0);
    expect(s1.observation).toHaveLength(1);
    expect(s1.observation[0].role).toBe('user');
    expect(s1.observation[0].content).toContain('4242');
    expect(s1.observation[0].content).toMatch(/turn 1\/30/);

    const s2 = await env.step(repl('const sub = llm_query("hi there"); print(sub);') + '\n' + repl('FINAL(m[2])'));
    expect(s2.terminated).toBe(true);
    expect(s2.truncated).toBe(false);
    expect(s2.reward).toBe(1);
    expect(s2.observation).toEqual([]);
    expect(s2.info.finalAnswer).toBe('4242');
    expect(s2.info.goldAnswer).toBe('4242');
    expect(s2.info.stopReason).toBe('final');
    expect(s2.info.subCalls).toBe(1);
    expect(s2.info.step?.sub_calls[0]).toMatchObject({ prompt: 'hi there', response: 'echo:hi there', model: 'echo', error: null });
    expect(env.steps).toHaveLength(2);
    await expect(env.step('more')).rejects.toBeInstanceOf(RLMEnvStateError);
    await env.close();
  });

  it('counts a text-level FINAL only when the reply has no code block', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    const s1 = await env.step(repl('print("looking")') + '\nOutput: 4242\nFINAL(4242)');
    expect(s1.terminated).toBe(false);
    const s2 = await env.step('The answer is FINAL(4242)');
    expect(s2.terminated).toBe(true);
    expect(s2.reward).toBe(1);
    await env.close();
  });

  it('supports FINAL_VAR in text and the answer dict in code', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    await env.step(repl('const result = "4242";'));
    const s = await env.step('Done: FINAL_VAR(result)');
    expect(s.terminated).toBe(true);
    expect(s.info.finalAnswer).toBe('4242');
    await env.reset({ seed: 2 });
    const t = await env.step(repl('answer.content = "4243"; answer.ready = true;'));
    expect(t.terminated).toBe(true);
    expect(t.reward).toBe(0);
    await env.close();
  });

  it('a reply without code gets a hint, and the last turn says to answer now', async () => {
    const env = makeEnv({ maxTurns: 3 });
    await env.reset({ seed: 1 });
    const s1 = await env.step('I think about it.');
    expect(s1.observation[0].content).toMatch(/no ```repl code block/);
    const s2 = await env.step('```python\nprint(1)\n```');
    expect(s2.observation[0].content).toMatch(/not Python/);
    expect(s2.observation[0].content).toMatch(/LAST turn/);
    const s3 = await env.step(repl('print(1)'));
    expect(s3.truncated).toBe(true);
    expect(s3.terminated).toBe(false);
    expect(s3.info.stopReason).toBe('max_turns');
    expect(s3.reward).toBe(0);
    await env.close();
  });

  it('truncates on each budget with its stop_reason', async () => {
    const cases: [ConstructorParameters<typeof RLMEnv>[0], string, string][] = [
      [{ maxRootTokens: 50 }, repl('print(1)'), 'max_root_tokens'],
      [{ maxSubCalls: 2 }, repl('llm_query_batched(["a","b","c"])'), 'max_sub_calls'],
      [{ maxSubCalls: 2 }, repl('llm_query("a"); llm_query("b")'), 'max_sub_calls'],
      [{ prices: { inputPerM: 1e6, outputPerM: 1e6 }, maxCostUsd: 1 }, repl('print(1)'), 'max_cost'],
      [{ maxWallMs: 1 }, repl('let x = 0; for (let i = 0; i < 1e6; i++) x += i;'), 'max_wall_time'],
    ];
    for (const [cfg, reply, reason] of cases) {
      const env = makeEnv(cfg);
      await env.reset({ seed: 1 });
      const r = await env.step(reply, { promptTokens: 40, completionTokens: 20 });
      expect(r.truncated, reason).toBe(true);
      expect(r.terminated).toBe(false);
      expect(r.info.stopReason).toBe(reason);
      await env.close();
    }
  });

  it('records usage given by the policy, token ids and the loss mask', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    const r = await env.step(repl('FINAL("4242")'), {
      promptTokens: 100,
      completionTokens: 3,
      tokens: { prompt_token_ids: [1, 2], completion_token_ids: [3, 4, 5], completion_logprobs: [-0.1, -0.2, -0.3] },
    });
    expect(r.info.rootPromptTokens).toBe(100);
    expect(r.info.step?.loss_mask).toEqual([0, 0, 1, 1, 1]);
    expect(r.info.step?.completion_logprobs).toEqual([-0.1, -0.2, -0.3]);
    await env.close();
  });

  it('is deterministic: same seed + same replies give byte-identical observations', async () => {
    const replies = [
      repl('print(Math.random(), Date.now(), new Date().toISOString())'),
      repl('const xs = []; for (let i = 0; i < 5; i++) xs.push(Math.floor(Math.random() * 100)); print(xs); print(llm_query("q"))'),
      repl('FINAL(xs.join(","))'),
    ];
    const play = async () => {
      const env = makeEnv();
      const out: string[] = [];
      const r = await env.reset({ seed: 99 });
      out.push(JSON.stringify(r.observation));
      for (const reply of replies) out.push(JSON.stringify((await env.step(reply)).observation));
      await env.close();
      return out.join('\n');
    };
    const a = await play();
    const b = await play();
    expect(a).toBe(b);
    const env = makeEnv();
    await env.reset({ seed: 100 });
    const other = (await env.step(replies[0])).observation[0].content;
    await env.close();
    expect(a).not.toContain(other.split('\n')[2]);
  });

  it('rolls back a cell that kills its sandbox, keeping the variables, and truncates after repeated deaths', async () => {
    const env = makeEnv({ sandbox: { memoryMB: 64, cellCpuTimeoutMs: 5000 } });
    await env.reset({ seed: 1 });
    await env.step(repl('const keep = "kept"'));
    const bomb = repl('const a = []; while (true) a.push(new Array(1e6).fill(1));');
    const r1 = await env.step(bomb);
    expect(r1.truncated).toBe(false);
    expect(r1.observation[0].content).toContain('[output]\nRangeError: the cell ran out of memory (limit 64 MB) and was rolled back; your variables are as before it.');
    expect(r1.info.step?.replay_ms).toBeGreaterThan(0);
    const r2 = await env.step(repl('print(typeof context, context.length > 0, keep)'));
    expect(r2.observation[0].content).toContain('string true kept');
    await env.step(bomb);
    const r4 = await env.step(bomb);
    expect(r4.truncated).toBe(true);
    expect(r4.info.stopReason).toBe('sandbox_dead');
    await env.close();
  });

  it('the pool survives hostile episodes and serves the next one', async () => {
    const env = makeEnv({ sandbox: { cellCpuTimeoutMs: 200 } });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('while (true) {}'));
    expect(r.observation[0].content).toMatch(/Error:/);
    const r2 = await env.step(repl('FINAL(String(4242))'));
    expect(r2.terminated).toBe(true);
    await env.close();
  });

  it('rejects bad config with a typed error naming the option', () => {
    expect(() => new RLMEnv({ maxTurns: 0 })).toThrow(RLMEnvConfigError);
    expect(() => new RLMEnv({ maxTurns: 0 })).toThrow(/maxTurns/);
    expect(() => new RLMEnv({ maxCostUsd: 1 })).toThrow(/prices/);
    expect(() => new RLMEnv({ sandbox: { memoryMB: -1 } })).toThrow(/sandbox.memoryMB/);
    expect(() => new RLMEnv({ bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => new RLMEnv({ task: 'nope' })).toThrow(/task: unknown task family 'nope'; valid families: sniah/);
  });

  it('rejects use before reset and after close', async () => {
    const env = makeEnv();
    await expect(env.step('x')).rejects.toThrow(/before reset/);
    await env.close();
    await expect(env.reset()).rejects.toBeInstanceOf(RLMEnvStateError);
  });

  it('counts tokens of replies that contain special-token strings instead of crashing', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    const r = await env.step('<|endoftext|><|im_start|>system\n' + repl('print("<|endoftext|>")'));
    expect(r.info.rootCompletionTokens).toBeGreaterThan(0);
    expect(r.observation[0].content).toContain('<|endoftext|>');
    await env.close();
  });

  it('rlm_query runs a recursive sub-episode with its own REPL when recursion is configured', async () => {
    const seen: string[] = [];
    const policy = async (messages: { role: string; content: string }[]) => {
      seen.push(messages[1].content);
      return { text: repl('FINAL(String(context.length) + ":" + context.slice(0, 3))') };
    };
    const env = makeEnv({ recursion: { policy, maxDepth: 1 } });
    const { observation } = await env.reset({ seed: 1 });
    expect(observation[0].content).toContain('sub-agent');
    const r = await env.step(repl('print(rlm_query("How long is it?", "abcdef"))'));
    expect(r.observation[0].content).toContain('6:abc');
    expect(seen[0]).toContain('How long is it?');
    expect(r.info.subCalls).toBe(1);
    await env.close();
    // without recursion, rlm_query is a plain sub-model call on prompt + subContext
    const plain = makeEnv();
    await plain.reset({ seed: 1 });
    const p = await plain.step(repl('print(rlm_query("Q", "ctx"))'));
    expect(p.info.step?.sub_calls[0].response).toBe('echo:Q\n\nctx');
    await plain.close();
  });

  it('pins the sandbox time zone and locale whatever the host uses', async () => {
    const saved = { TZ: process.env.TZ, LANG: process.env.LANG, LC_ALL: process.env.LC_ALL };
    Object.assign(process.env, { TZ: 'America/Los_Angeles', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' });
    const own = new SandboxPool({ workers: 1 });
    try {
      const env = new RLMEnv({ task: TASK, score, pool: own });
      await env.reset({ seed: 1 });
      const r = await env.step(repl('print(new Date("Feb 10, 2024").toISOString(), new Date(0).getTimezoneOffset(), (1234.5).toLocaleString(), Intl.DateTimeFormat().resolvedOptions().timeZone)'));
      expect(r.observation[0].content).toContain('2024-02-10T00:00:00.000Z 0 1,234.5 UTC');
      await env.close();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      await own.close();
    }
  });

  it('caps the observation of a turn made of many flooding cells', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    const reply = Array.from({ length: 40 }, () => repl('print("x".repeat(1e6))')).join('\n');
    const r = await env.step(reply);
    expect(r.observation[0].content.length).toBeLessThan(51_000);
    expect(r.observation[0].content).toMatch(/turn output truncated: [\d,]+ more chars/);
    await env.close();
  });

  it('refuses overlapping step() calls and names the misuse', async () => {
    const env = makeEnv();
    await env.reset({ seed: 1 });
    const a = env.step(repl('print(1)'));
    await expect(env.step(repl('print(2)'))).rejects.toThrow(/while another step/);
    await a;
    await env.step(repl('FINAL("4242")'));
    await expect(env.step('x')).rejects.toThrow(/after the episode ended/);
    await env.close();
  });

  it('uses a replacement system prompt', async () => {
    const env = makeEnv({ systemPrompt: 'Custom prompt with {maxTurns} turns.' , maxTurns: 7 });
    const { observation } = await env.reset({ seed: 1 });
    expect(observation[0].content).toBe('Custom prompt with 7 turns.');
    await env.close();
  });

  it('reports sub-call errors to the code without ending the episode', async () => {
    const failing: SubCallHandler = async () => {
      throw new Error('HTTP 503 upstream');
    };
    const env = makeEnv({ subModel: failing });
    await env.reset({ seed: 1 });
    const r = await env.step(repl('try { llm_query("x") } catch (e) { print("caught", e.message) }'));
    expect(r.observation[0].content).toContain('caught');
    expect(r.observation[0].content).toContain('HTTP 503 upstream');
    expect(r.info.step?.sub_calls[0].error).toContain('HTTP 503');
    await env.close();
  });
});
