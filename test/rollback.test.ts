/**
 * Issue 9, part 1: a cell that fails has no effect (journal rollback), and no innocent victims (sessions of a dying
 * worker are restored elsewhere from their journal). Each test here failed on the code before the journal existed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool, type SubCallHandler } from '../env/sandbox/index.ts';
import { RLMEnv } from '../env/index.ts';
import type { Task } from '../tasks/types.ts';

const LIMITS = { cellCpuTimeoutMs: 300, cellWallTimeoutMs: 20_000, memoryMB: 64 } as const;
/** A cell that takes its whole worker process down (a native out-of-memory of the worker, not just of the isolate). */
const WORKER_KILLER = 'new Array(1e9).fill(0)';

const echo: SubCallHandler = async (req) => ({ text: `echo:${req.prompt}`, model: 'm', promptTokens: 1, completionTokens: 1 });
const repl = (code: string) => '```repl\n' + code + '\n```';

const TASK: Task = {
  id: 'rollback-1',
  family: 'tiny',
  seed: 0,
  options: {},
  question: 'What is the magic number?',
  context: 'filler\n'.repeat(50) + 'The magic number is 4242.\n',
  answer: '4242',
  answerType: 'exact',
  meta: {},
};
const score = (t: Task, p: string) => ({ score: p === t.answer ? 1 : 0, correct: p === t.answer, details: {} });

let pool: SandboxPool;
beforeAll(async () => {
  pool = new SandboxPool({ workers: 1 });
  await pool.warmup();
});
afterAll(async () => {
  await pool.close();
});

describe('a cell that fails has no effect', () => {
  it('a loop until the CPU timeout leaves no partial state: the next cell prints the same thing every run', async () => {
    const outs: string[] = [];
    for (const p of [pool, new SandboxPool({ workers: 1 })]) {
      const s = await p.open({ context: 'x', seed: 1, ...LIMITS }, echo);
      await s.run('let before = 7');
      const t = await s.run('let i = 0; while (true) i++');
      expect(t).toMatchObject({ rolledBack: true, stopReason: 'cpu_timeout', output: '' });
      const r = await s.run('print(typeof i, before)');
      outs.push(r.output + (r.error ?? ''));
      await s.close();
      if (p !== pool) await p.close();
    }
    expect(outs).toEqual(['undefined 7\n', 'undefined 7\n']);
  });

  it('replays sub-calls from the journal: restoring makes no new model calls', async () => {
    let calls = 0;
    const counting: SubCallHandler = async (req) => ({ text: `n${++calls}:${req.prompt}`, model: 'm', promptTokens: 1, completionTokens: 1 });
    const s = await pool.open({ context: 'x', seed: 1, ...LIMITS }, counting);
    await s.run('const a = llm_query("first"); const b = llm_query_batched(["x", "y"])');
    expect(calls).toBe(3);
    const t = await s.run('while (true) {}');
    expect(t.rolledBack).toBe(true);
    expect(calls).toBe(3); // the journal answered the replayed calls
    expect((await s.run('print(a, b.join(","))')).output).toBe('n1:first n2:x,n3:y\n');
    expect(s.subCallsUsed).toBe(3);
    await s.close();
  });

  it('past the journal bound, the REPL is reset and the model is told so plainly', async () => {
    const s = await pool.open({ context: 'x', seed: 1, ...LIMITS, maxJournalChars: 50 }, echo);
    await s.run('const small = 1');
    await s.run('const big = "' + 'a'.repeat(100) + '"');
    const t = await s.run('while (true) {}');
    expect(t.rolledBack).toBe(true);
    expect(t.reset).toMatch(/journal would exceed 50 chars/);
    expect(t.error).toMatch(/^TimeoutError: the cell timed out after 300 ms CPU; the REPL was reset because its journal would exceed 50 chars: all variables are lost\.$/);
    expect((await s.run('print(typeof small)')).output).toBe('undefined\n');
    await s.close();
  });

  it('same replies with a timing-out cell, a memory-exhausting cell and a worker-killing cell ⇒ identical observations, answer and reward in two pools', async () => {
    const replies = [
      repl('const line = context.split("\\n").find((l) => l.includes("magic")); let n = 0; print(line)'),
      repl('n = 1; while (true) n++'),
      repl('print("n is", n); const bomb = []; while (true) bomb.push(new Array(1e6).fill(1))'),
      repl(`print("bomb is", typeof bomb); ${WORKER_KILLER}`),
      repl('print(n, typeof bomb, Math.random()); FINAL(line.match(/\\d+/)[0])'),
    ];
    const play = async (p: SandboxPool) => {
      // CPU limit well above what the memory bomb needs to hit 64 MB (which limit a cell hits first must not be a race).
      const env = new RLMEnv({ task: TASK, score, pool: p, subModel: echo, sandbox: { cellCpuTimeoutMs: 1_500, memoryMB: 64, cellWallTimeoutMs: 30_000 } });
      await env.reset({ seed: 5 });
      const obs: string[] = [];
      let last;
      for (const reply of replies) {
        last = await env.step(reply);
        obs.push(last.observation[0]?.content ?? '');
        if (last.terminated || last.truncated) break;
      }
      const rollbacks = env.steps.map((s) => s.rollbacks);
      await env.close();
      return { obs, final: last!.info.finalAnswer, reward: last!.reward, terminated: last!.terminated, rollbacks };
    };
    const other = new SandboxPool({ workers: 1 });
    try {
      const a = await play(pool);
      const b = await play(other);
      expect(a).toEqual(b);
      expect(a.terminated).toBe(true);
      expect(a.final).toBe('4242');
      expect(a.reward).toBe(1);
      expect(a.rollbacks).toEqual([0, 1, 1, 1, 0]);
      expect(a.obs[1]).toContain('TimeoutError: the cell timed out after 1.5 s CPU and was rolled back; your variables are as before it.');
      expect(a.obs[2]).toContain('RangeError: the cell ran out of memory (limit 64 MB) and was rolled back');
      expect(a.obs[2]).not.toContain('n is'); // no partial output
      expect(a.obs[3]).toMatch(/and was rolled back; your variables are as before it\./);
    } finally {
      await other.close();
    }
  });
});

describe('no innocent victims', () => {
  it('two episodes on one worker, one kills it: the other keeps its variables and sees no error', async () => {
    const mk = () => new RLMEnv({ task: TASK, score, pool, subModel: echo, sandbox: { cellCpuTimeoutMs: 5_000, memoryMB: 64, cellWallTimeoutMs: 20_000 } });
    const victim = mk();
    const bystander = mk();
    await bystander.reset({ seed: 1 });
    await victim.reset({ seed: 2 });
    const pidBefore = pool.workerPids()[0];
    await bystander.step(repl('const mine = [1, 2, 3]; let note = llm_query("hello")'));
    const v = await victim.step(repl(WORKER_KILLER));
    expect(v.info.step!.rollbacks).toBe(1);
    expect(pool.workerPids()[0]).not.toBe(pidBefore); // the worker really died
    const b = await bystander.step(repl('print(mine.length, note)'));
    expect(b.observation[0].content).toContain('[output]\n3 echo:hello');
    expect(b.observation[0].content).not.toMatch(/Error|rolled back|reset/);
    expect(b.info.errors).toEqual([]);
    expect(b.info.step!.replay_ms).toBeGreaterThan(0); // it was restored on the new worker
    expect(b.info.subCalls).toBe(1); // from the journal, not a new call
    await victim.close();
    await bystander.close();
  });

  it('a neighbour that was mid-cell when the worker died gets its cell retried transparently (suspects re-run alone)', async () => {
    let releaseSlow!: () => void;
    let slowCalls = 0;
    const slow: SubCallHandler = async (req) => {
      slowCalls++;
      if (slowCalls === 1) await new Promise<void>((r) => (releaseSlow = r));
      return { text: `slow:${req.prompt}`, model: 'm', promptTokens: 1, completionTokens: 1 };
    };
    const bystander = await pool.open({ context: 'x', seed: 1, ...LIMITS, cellCpuTimeoutMs: 5_000 }, slow);
    const victim = await pool.open({ context: 'x', seed: 2, ...LIMITS, cellCpuTimeoutMs: 5_000 }, echo);
    expect(bystander.workerPid).toBe(victim.workerPid);
    await bystander.run('const kept = "k"');
    const inFlight = bystander.run('const got = llm_query("q"); print(kept, got)');
    await new Promise((r) => setTimeout(r, 100));
    const respawns = pool.stats.respawns;
    const killed = victim.run(WORKER_KILLER);
    // The slow model answers only once the worker has died with both cells running (both are suspects).
    while (pool.stats.respawns === respawns) await new Promise((r) => setTimeout(r, 20));
    releaseSlow();
    const [v, b] = await Promise.all([killed, inFlight]);
    expect(v).toMatchObject({ rolledBack: true });
    expect(['memory_limit', 'worker_crash']).toContain(v.stopReason);
    expect(b.error).toBeUndefined();
    expect(b.rolledBack).toBeUndefined();
    expect(b.output).toBe('k slow:q\n');
    expect(slowCalls).toBe(1); // the retry was answered from the first attempt's call
    expect(b.subCalls).toHaveLength(1);
    expect(victim.deaths).toBe(1);
    expect(bystander.deaths).toBe(0);
    expect((await bystander.run('print(got)')).output).toBe('slow:q\n');
    await victim.close();
    await bystander.close();
  });
});
