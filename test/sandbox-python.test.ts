/**
 * The Python REPL (Pyodide in a locked process): persistence, reserved names, every global, sub-calls, determinism,
 * limits, worker death. One pool for the file; every sandbox is restored from the cached Pyodide snapshot.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool, type CellResult, type SandboxSession, type SessionOptions, type SubCallHandler, type SubCallRequest } from '../env/sandbox/index.ts';

const BASE = { repl: 'python', cellCpuTimeoutMs: 2_000, cellWallTimeoutMs: 20_000, memoryMB: 96 } as const;

let pool: SandboxPool;
beforeAll(async () => {
  pool = new SandboxPool({ workers: 1, python: { spares: 2 } });
  await pool.warmupPython();
}, 240_000);
afterAll(async () => {
  await pool.close();
});

function fakeModel(opts: { delayMs?: number; neverMs?: boolean } = {}) {
  const calls: SubCallRequest[] = [];
  const handler: SubCallHandler = async (req) => {
    calls.push(req);
    if (opts.neverMs) await new Promise(() => undefined);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (req.prompt.includes('FAIL')) throw new Error('HTTP 503 from the sub-model');
    return { text: `echo:${req.prompt}`, model: req.model ?? 'sub-model', promptTokens: req.prompt.length, completionTokens: 5 };
  };
  return { handler, calls };
}

async function open(opts: Partial<SessionOptions> = {}, handler: SubCallHandler = fakeModel().handler): Promise<SandboxSession> {
  return pool.open({ context: 'The quick brown fox. Secret: 42.', seed: 7, ...BASE, ...opts } as SessionOptions, handler);
}

async function runAll(s: SandboxSession, cells: string[]): Promise<CellResult[]> {
  const out: CellResult[] = [];
  for (const c of cells) out.push(await s.run(c));
  return out;
}

describe('Python REPL basics', () => {
  it('keeps variables, functions, classes and imports across cells; does not echo the last expression', async () => {
    const s = await open();
    const r = await runAll(s, [
      'import re\nx = 40\ndef inc(v):\n    return v + 1\nclass P:\n    k = 2',
      'x = inc(x) + P.k\nprint(x, re.sub("a", "b", "aa"))',
      'x * 2',
    ]);
    expect(r[0].error).toBeUndefined();
    expect(r[1].output).toBe('43 bb\n');
    expect(r[2].output).toBe('');
    await s.close();
  });

  it('gives the context as a str, or as a list of {"id","title","text"} dicts', async () => {
    const s = await open();
    expect((await s.run('print(type(context).__name__, len(context), context[-3:])')).output).toBe('str 32 42.\n');
    await s.close();
    const docs = [
      { id: 'd1', title: 'Alpha', text: 'first ünïcode 😀 text' },
      { id: 'd2', title: 'Beta', text: 'second' },
    ];
    const d = await open({ context: docs });
    const r = await d.run('print(type(context).__name__, len(context), sorted(context[0]), context[0]["text"], context[1]["title"])');
    expect(r.output).toBe("list 2 ['id', 'text', 'title'] first ünïcode 😀 text Beta\n");
    await d.close();
  });

  it('restores reserved names after each cell and reports syntax errors with a line', async () => {
    const s = await open();
    const r = await runAll(s, [
      'llm_query = 1\nFINAL = None\nprint = 3\ncontext = "gone"\nanswer = 5\nSHOW_VARS = 0',
      'print(type(llm_query).__name__, type(FINAL).__name__, context[:9], answer)',
      'x = (1,\ny = 2',
    ]);
    expect(r[1].output).toBe("function function The quick {'content': '', 'ready': False}\n");
    expect(r[2].error).toMatch(/^SyntaxError: .* \(line \d\)$/);
    await s.close();
  });

  it('describes uncaught errors with their type and line', async () => {
    const s = await open();
    const r = await s.run('a = 1\nb = {}\nb["missing"]');
    expect(r.error).toBe("KeyError: 'missing' (line 3)");
    expect((await s.run('print(a)')).output).toBe('1\n');
    await s.close();
  });

  it('SHOW_VARS lists the variables defined so far', async () => {
    const s = await open();
    expect((await s.run('SHOW_VARS()')).output).toBe('(no variables defined yet)\n');
    const r = await s.run('name = "abc"\nitems = [1, 2, 3]\ndef f(): pass\nSHOW_VARS()');
    expect(r.output).toBe('name: str (3 chars)\nitems: list (3 items)\nf: function\n');
    await s.close();
  });

  it('caps the output of a cell with a marker saying how much was cut', async () => {
    const s = await open({ maxOutputChars: 1_000 });
    const r = await s.run('for i in range(1000):\n    print("x" * 99)');
    expect(r.output.startsWith('x'.repeat(99) + '\n')).toBe(true);
    expect(r.output).toContain('[output truncated: 99,000 more chars]');
    expect(r.output.length).toBeLessThan(1_100);
    await s.close();
  });
});

describe('Python answers', () => {
  it('FINAL submits a str as it is, numbers with str(), lists and dicts as JSON; None is refused', async () => {
    const s = await open();
    expect((await s.run('FINAL("42")')).final).toEqual({ value: '42', source: 'FINAL' });
    expect((await s.run('FINAL(7)')).final).toEqual({ value: '7', source: 'FINAL' });
    expect((await s.run('FINAL([1, "a"])')).final).toEqual({ value: '[1, "a"]', source: 'FINAL' });
    const none = await s.run('FINAL(None)');
    expect(none.final).toBeUndefined();
    expect(none.error).toMatch(/^TypeError: FINAL: the answer is None/);
    await s.close();
  });

  it('FINAL_VAR submits a variable by name; a missing one is a clear error', async () => {
    const s = await open();
    expect((await s.run('result = "blue"\nFINAL_VAR("result")')).final).toEqual({ value: 'blue', source: 'FINAL_VAR' });
    expect((await s.run('FINAL_VAR("nope")')).error).toMatch(/^NameError: FINAL_VAR: there is no variable named 'nope'/);
    expect((await s.run('FINAL_VAR(42)')).error).toMatch(/^TypeError: FINAL_VAR\(name\) takes the NAME/);
    await s.close();
  });

  it('the answer dict: content then ready = True submits; a rebound answer is restored', async () => {
    const s = await open();
    expect((await s.run('answer["content"] = "draft"')).final).toBeUndefined();
    expect((await s.run('answer["ready"] = True')).final).toEqual({ value: 'draft', source: 'answer' });
    await s.close();
    const t = await open();
    await t.run('answer = "not a dict"');
    expect((await t.run('print(answer)')).output).toBe("{'content': '', 'ready': False}\n");
    await t.close();
  });

  it('refuses an answer over maxFinalChars', async () => {
    const s = await open({ maxFinalChars: 100 });
    const r = await s.run('FINAL("x" * 101)');
    expect(r.final).toBeUndefined();
    expect(r.error).toBe('ValueError: FINAL: the answer is 101 chars; the limit is 100 chars (line 1)');
    await s.close();
  });
});

describe('Python sub-calls', () => {
  it('llm_query returns the reply synchronously and records the call; model= is passed on', async () => {
    const m = fakeModel({ delayMs: 20 });
    const s = await open({}, m.handler);
    const r = await s.run('a = llm_query("hello")\nb = llm_query("again", model="small")\nprint(a, b)');
    expect(r.output).toBe('echo:hello echo:again\n');
    expect(r.subCalls.map((c) => [c.prompt, c.response, c.model, c.error])).toEqual([
      ['hello', 'echo:hello', 'sub-model', null],
      ['again', 'echo:again', 'small', null],
    ]);
    expect(m.calls[1].model).toBe('small');
    expect(s.subCallsUsed).toBe(2);
    await s.close();
  });

  it('llm_query_batched keeps order and puts "Error: …" in the slot of a failed prompt', async () => {
    const s = await open();
    const r = await s.run('rs = llm_query_batched(["one", "FAIL two", "three"])\nprint(rs)');
    expect(r.output).toBe("['echo:one', 'Error: HTTP 503 from the sub-model', 'echo:three']\n");
    expect(r.subCalls.map((c) => c.error)).toEqual([null, 'HTTP 503 from the sub-model', null]);
    await s.close();
  });

  it('a failed llm_query raises a catchable RuntimeError', async () => {
    const s = await open();
    const r = await s.run('try:\n    llm_query("FAIL")\nexcept RuntimeError as e:\n    print("caught", e)');
    expect(r.output).toBe('caught llm_query failed: HTTP 503 from the sub-model\n');
    await s.close();
  });

  it('an oversize prompt raises ValueError without calling the model (recorded with the error)', async () => {
    const m = fakeModel();
    const s = await open({ maxSubPromptChars: 100 }, m.handler);
    const r = await s.run('try:\n    llm_query("y" * 500)\nexcept ValueError as e:\n    print(str(e)[:60])');
    expect(r.output).toBe('llm_query: the prompt is 500 chars; the limit is 100 chars p\n');
    expect(m.calls).toHaveLength(0);
    expect(r.subCalls[0].error).toMatch(/500 chars; the limit is 100/);
    const b = await s.run('print(llm_query_batched(["ok", "z" * 200]))');
    expect(b.output).toMatch(/^\['echo:ok', 'Error: llm_query_batched: prompt #1 is 200 chars/);
    await s.close();
  });

  it('rlm_query without recursion sends prompt + sub_context as one prompt; with recursion, sub_context apart', async () => {
    const m = fakeModel();
    const s = await open({}, m.handler);
    await s.run('print(rlm_query("q?", sub_context="sub text"))');
    expect(m.calls[0]).toMatchObject({ kind: 'rlm', prompt: 'q?\n\nsub text' });
    expect(m.calls[0].subContext).toBeUndefined();
    await s.close();
    const r = await open({ rlmRecursive: true }, m.handler);
    await r.run('rlm_query("q2?", sub_context="child context")');
    expect(m.calls[1]).toMatchObject({ kind: 'rlm', prompt: 'q2?', subContext: 'child context' });
    await r.close();
  });

  it('the sub-call budget holds: an exhausted budget raises SubCallBudgetError and stops with sub_call_budget', async () => {
    const s = await open({ maxSubCalls: 3 });
    const r1 = await s.run('print(len(llm_query_batched(["a", "b"])))');
    expect(r1.output).toBe('2\n');
    const r2 = await s.run('llm_query_batched(["c", "d"])');
    expect(r2.error).toMatch(/^SubCallBudgetError: llm_query_batched: 2 prompts but only 1 of the 3 sub-calls/);
    expect(r2.stopReason).toBe('sub_call_budget');
    await s.run('llm_query("e")');
    const r3 = await s.run('llm_query("f")');
    expect(r3.error).toMatch(/^SubCallBudgetError: llm_query: the sub-call budget is exhausted: all 3 sub-calls/);
    expect(s.subCallsUsed).toBe(3);
    await s.close();
  });
});

describe('Python determinism', () => {
  const PROBE = [
    'import random, time, datetime, uuid, os, secrets',
    'print(random.random(), random.randint(1, 10**9), random.Random().random())',
    'print(time.time(), time.monotonic() >= 0, datetime.datetime.now().isoformat())',
    'print(uuid.uuid4(), os.urandom(8).hex(), secrets.token_hex(8))',
    'print(list({"apple", "pear", "plum", "fig", "kiwi"}), hash("abc"))',
    'time.sleep(1.5)',
    'print(time.time())',
  ].join('\n');

  it('same seed ⇒ byte-identical output in two sandboxes; another seed differs', async () => {
    const a = await open({ seed: 11 });
    const b = await open({ seed: 11 });
    const c = await open({ seed: 12 });
    const [ra, rb, rc] = await Promise.all([a.run(PROBE), b.run(PROBE), c.run(PROBE)]);
    expect(ra.error).toBeUndefined();
    expect(ra.output).toBe(rb.output);
    expect(ra.output).not.toBe(rc.output);
    // The clock is fixed (2025-01-01) and time.sleep advances it instantly.
    const lines = ra.output.trim().split('\n');
    expect(lines[1]).toMatch(/^1735689600\.\d+ True 2025-01-01T00:00:00/);
    expect(Number(lines[4]) - Number(lines[1].split(' ')[0])).toBeGreaterThanOrEqual(1.5);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});

describe('Python limits and rollback', () => {
  it('the CPU limit stops a loop; the cell is rolled back: the variables are as before it', async () => {
    const s = await open({ cellCpuTimeoutMs: 300 });
    await s.run('before = 1');
    const r = await s.run('during = 5\nwhile True:\n    pass');
    expect(r.rolledBack).toBe(true);
    expect(r.stopReason).toBe('cpu_timeout');
    expect(r.error).toBe('TimeoutError: the cell timed out after 300 ms CPU and was rolled back; your variables are as before it.');
    expect(r.dead).toBeUndefined();
    expect((await s.run('print(before)')).output).toBe('1\n');
    expect((await s.run('print(during)')).error).toMatch(/^NameError: name 'during' is not defined/);
    expect(s.deaths).toBe(0);
    await s.close();
  });

  it('code that swallows KeyboardInterrupt is killed, then rolled back into a fresh process', async () => {
    const s = await open({ cellCpuTimeoutMs: 300 });
    await s.run('kept = "yes"');
    const pid = s.workerPid;
    const r = await s.run('while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass');
    expect(r.rolledBack).toBe(true);
    expect(r.stopReason).toBe('cpu_timeout');
    expect(s.dead).toBe(false);
    expect(s.workerPid).not.toBe(pid);
    expect((await s.run('print(kept)')).output).toBe('yes\n');
    await s.close();
  });

  it('rollback re-runs the journal with the recorded sub-call answers: no new model calls, same state', async () => {
    const m = fakeModel();
    const s = await open({ cellCpuTimeoutMs: 300 }, m.handler);
    const first = await s.run('import random\na = llm_query("first")\nr1 = random.random()\nprint(r1)');
    await s.run('b = llm_query_batched(["x", "y"])');
    expect(m.calls).toHaveLength(3);
    expect(s.journalCells).toBe(2);
    const r = await s.run('a = "clobbered"\nwhile True:\n    pass');
    expect(r.rolledBack).toBe(true);
    expect(m.calls).toHaveLength(3);
    const after = await s.run('print(a, b)\nprint(r1)');
    expect(after.output).toBe(`echo:first ['echo:x', 'echo:y']\n${first.output}`);
    expect(s.subCallsUsed).toBe(3);
    await s.close();
  });

  it('same seed + same cells ⇒ the same observations in two sandboxes, with a rolled-back cell in between', async () => {
    const cells = ['import random, uuid\nv = [random.random(), str(uuid.uuid4()), llm_query("q")]', 'v.append(random.random())\nwhile True:\n    pass', 'v.append(random.random())\nprint(v)'];
    const play = async () => {
      const s = await open({ seed: 21, cellCpuTimeoutMs: 300 });
      const out: string[] = [];
      for (const c of cells) {
        const r = await s.run(c);
        out.push(`${r.output}|${r.error ?? ''}|${r.rolledBack ?? false}`);
      }
      await s.close();
      return out;
    };
    const [a, b] = await Promise.all([play(), play()]);
    expect(a).toEqual(b);
    expect(a[1]).toMatch(/rolled back.*\|true$/);
  });

  it('the wall deadline covers time blocked on a sub-call: the process is killed and the cell rolled back', async () => {
    const s = await open({ cellWallTimeoutMs: 1_000 }, fakeModel({ neverMs: true }).handler);
    await s.run('x = 2');
    const t0 = performance.now();
    const r = await s.run('print("before", flush=True)\nllm_query("never answered")');
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(r.rolledBack).toBe(true);
    expect(r.stopReason).toBe('wall_timeout');
    expect(r.error).toMatch(/^TimeoutError: the cell exceeded its wall-clock limit of 1 s \(time blocked on sub-calls counts\) and was rolled back/);
    expect(s.deaths).toBe(1);
    expect((await s.run('print(x)')).output).toBe('2\n');
    await s.close();
  });

  it('a memory bomb gets MemoryError from the heap cap and the sandbox lives on', async () => {
    const s = await open({ memoryMB: 64 });
    const r = await s.run('keep = 1\nbig = bytearray(400 * 1024 * 1024)');
    expect(r.error).toMatch(/^MemoryError/);
    expect(r.dead).toBeUndefined();
    expect((await s.run('print(keep)')).output).toBe('1\n');
    await s.close();
  });

  it('a process killed from outside while idle is replaced at the next run, unseen (the journal restores it)', async () => {
    const m = fakeModel();
    const s = await open({}, m.handler);
    await s.run('x = llm_query("once")');
    const pid = s.workerPid!;
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const r = await s.run('print(x)');
    expect(r.output).toBe('echo:once\n');
    expect(r.rolledBack).toBeUndefined();
    expect(r.replayMs).toBeGreaterThan(0);
    expect(m.calls).toHaveLength(1);
    expect(s.workerPid).not.toBe(pid);
    await s.close();
  });

  it('a process killed during a cell: the cell is rolled back, the session goes on', async () => {
    const s = await open({ cellWallTimeoutMs: 30_000 }, fakeModel({ delayMs: 3_000 }).handler);
    await s.run('y = 3');
    const running = s.run('llm_query("slow")');
    await new Promise((r) => setTimeout(r, 500));
    process.kill(s.workerPid!, 'SIGKILL');
    const r = await running;
    expect(r.rolledBack).toBe(true);
    expect(r.stopReason).toBe('worker_crash');
    expect((await s.run('print(y)')).output).toBe('3\n');
    await s.close();
  });

  it('C code that never polls the interrupt is killed by the CPU backstop (and rolled back)', async () => {
    const s = await open({ cellCpuTimeoutMs: 200, cellWallTimeoutMs: 60_000 });
    const r = await s.run('sum(range(10**13))');
    expect(r.rolledBack).toBe(true);
    expect(r.stopReason).toBe('cpu_timeout');
    await s.close();
  }, 90_000);

  it('a process over its resident-memory cap is killed with memory_limit', async () => {
    const small = new SandboxPool({ workers: 1, python: { spares: 0, rssCapMB: 64 } });
    try {
      const s = await small.open({ repl: 'python', context: 'x', seed: 1 } as SessionOptions, fakeModel().handler);
      const r = await s.run('n = 0\nwhile True:\n    n += 1');
      expect(r.rolledBack).toBe(true);
      expect(r.stopReason).toBe('memory_limit');
      expect(r.error).toMatch(/^RangeError: the cell ran out of memory/);
    } finally {
      await small.close();
    }
  }, 90_000);

  it('the sandbox process runs with the permission model, no code generation, a scrubbed environment and (when available) its own network namespace', async () => {
    process.env.RLM_GYM_TEST_SECRET = 'do-not-leak';
    const s = await open();
    try {
      const pid = s.workerPid!;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain('--experimental-permission');
      expect(cmdline).toContain('--disallow-code-generation-from-strings');
      expect(cmdline.filter((a) => a.startsWith('--allow-fs-read='))).toHaveLength(2);
      expect(cmdline.some((a) => /^--allow-(child-process|worker|fs-write)/.test(a))).toBe(false);
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(environ).toEqual(['TZ=UTC']);
      const iso = pool.pythonStats!.isolation!;
      expect(iso).toMatchObject({ permissionModel: true, codeGenerationFromStrings: false, scrubbedEnvironment: true });
      if (iso.networkNamespace) expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
    } finally {
      delete process.env.RLM_GYM_TEST_SECRET;
      await s.close();
    }
  });
});
