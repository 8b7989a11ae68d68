import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SandboxClosedError,
  SandboxConfigError,
  SandboxPool,
  type CellResult,
  type SandboxSession,
  type SessionOptions,
  type SubCallHandler,
  type SubCallRequest,
} from '../env/sandbox/index.ts';

const BASE = { cellCpuTimeoutMs: 500, cellWallTimeoutMs: 5_000, memoryMB: 64 } as const;

let pool: SandboxPool;
beforeAll(async () => {
  pool = new SandboxPool({ workers: 2 });
  await pool.warmup();
});
afterAll(async () => {
  await pool.close();
});

/** A scripted sub-model: echoes, fails on prompts containing FAIL, records every request. */
function fakeModel(opts: { delayMs?: number } = {}) {
  const calls: SubCallRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const handler: SubCallHandler = async (req) => {
    calls.push(req);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (req.prompt.includes('FAIL')) throw new Error('HTTP 503 from the sub-model');
      return { text: `echo:${req.prompt}`, model: req.model ?? 'sub-model', promptTokens: req.prompt.length, completionTokens: 5 };
    } finally {
      inFlight--;
    }
  };
  return { handler, calls, get maxInFlight() { return maxInFlight; } };
}

async function open(opts: Partial<SessionOptions> = {}, handler: SubCallHandler = fakeModel().handler): Promise<SandboxSession> {
  return pool.open({ context: 'The quick brown fox. Secret: 42.', seed: 7, ...BASE, ...opts }, handler);
}

async function runAll(s: SandboxSession, cells: string[]): Promise<CellResult[]> {
  const out: CellResult[] = [];
  for (const c of cells) out.push(await s.run(c));
  return out;
}

describe('REPL basics', () => {
  it('keeps variables, functions and classes across cells', async () => {
    const s = await open();
    const [a, b] = await runAll(s, [
      'const a = 1; let b = [1, 2]; var c = "v"; function f(x) { return x * 2 } class C { v() { return 7 } }',
      'print(a, b.length, c, f(3), new C().v(), context.length)',
    ]);
    expect(a!.error).toBeUndefined();
    expect(b!.output).toBe('1 2 v 6 7 32\n');
    await s.close();
  });

  it('lets top-level const/let/class be re-declared in later cells', async () => {
    const s = await open();
    const r = await runAll(s, ['const x = 1; let y = 1; class K {}', 'const x = 2; let y = 2; class K { m() { return "new" } }', 'let y = 3; print(x, y, new K().m())']);
    expect(r.map((c) => c.error)).toEqual([undefined, undefined, undefined]);
    expect(r[2]!.output).toBe('2 3 new\n');
    await s.close();
  });

  it('supports top-level await while keeping declarations global', async () => {
    const s = await open();
    const r = await runAll(s, [
      'const v = await Promise.resolve(41) + 1; async function g() { return 5 } const w = await g(); var z = 9; print(v, w)',
      'print(v, w, typeof g, z, await g())',
      'for await (const q of [Promise.resolve("a")]) print(q)',
      'const h = await llm_query("tla"); print(h)',
    ]);
    expect(r.map((c) => c.error)).toEqual([undefined, undefined, undefined, undefined]);
    expect(r.map((c) => c.output)).toEqual(['42 5\n', '42 5 function 9 5\n', 'a\n', 'echo:tla\n']);
    await s.close();
  });

  it('does not poison a name whose initializer threw', async () => {
    const s = await open();
    const r = await runAll(s, ['let p = (() => { throw new Error("boom") })()', 'let p = 5; print(p)', 'const q = notDefined', 'const q = 1; print(q)']);
    expect(r[0]!.error).toBe('Error: boom (line 1)');
    expect(r[1]!.output).toBe('5\n');
    expect(r[2]!.error).toBe('ReferenceError: notDefined is not defined (line 1)');
    expect(r[3]!.output).toBe('1\n');
    await s.close();
  });

  it('reports syntax errors with a line and runtime errors with the line of the model code', async () => {
    const s = await open();
    const r = await runAll(s, ['print(1)\nconst = 2', 'const a = 1\n\nnull.x', 'function deep() { return llm_query(["a"]) }\n\ndeep()']);
    expect(r[0]!.error).toMatch(/^SyntaxError: .+ \(line 2\)$/);
    expect(r[0]!.output).toBe(''); // nothing ran
    expect(r[1]!.error).toBe("TypeError: Cannot read properties of null (reading 'x') (line 3)");
    expect(r[2]!.error).toMatch(/^TypeError: llm_query\(prompt\) takes one string.* \(line 1\)$/);
    await s.close();
  });

  it('does not auto-print the last expression; print/console format values', async () => {
    const s = await open();
    const r = await runAll(s, [
      '1 + 1',
      'print(1, "a", [1, "b"], { k: 1 }, null, undefined, 10n, new Map([[1, 2]]), new Set([3]), new Error("e"), function foo() {})',
      'console.log("log"); console.error("err"); console.warn("warn"); console.info("info")',
    ]);
    expect(r[0]!.output).toBe('');
    expect(r[1]!.output).toBe('1 a [1,"b"] {"k":1} null undefined 10n [[1,2]] [3] Error: e [Function: foo]\n');
    expect(r[2]!.output).toBe('log\nerr\nwarn\ninfo\n');
    await s.close();
  });

  it('caps output with a marker saying how much was cut', async () => {
    const s = await open({ maxOutputChars: 100 });
    const r = await s.run('for (let i = 0; i < 50; i++) print("0123456789")');
    expect(r.output).toBe('0123456789\n'.repeat(10).slice(0, 100) + '\n… [output truncated: 450 more chars]');
    await s.close();
    const d = await open(); // default 20,000
    const r2 = await d.run('print("x".repeat(30000))');
    expect(r2.output).toBe('x'.repeat(20_000) + '\n… [output truncated: 10,001 more chars]');
    await d.close();
  });

  it('reports an error of an async function called without await', async () => {
    const s = await open();
    const r = await s.run('async function main() {\n  const r = await llm_query("x")\n  print(r)\n  throw new Error("late")\n}\nmain()');
    expect(r.output).toBe('echo:x\n');
    expect(r.error).toBe('Uncaught (in promise) Error: late (line 4)');
    await s.close();
  });

  it('has no timers, I/O, WebAssembly, shared memory or host objects', async () => {
    const s = await open();
    const r = await s.run(
      'print(["setTimeout","setInterval","setImmediate","fetch","require","process","module","Buffer","WebAssembly","SharedArrayBuffer","Atomics","WeakRef","FinalizationRegistry","performance"].map(n => typeof globalThis[n]).join(","))',
    );
    expect(r.output).toBe(`${new Array(14).fill('undefined').join(',')}\n`);
    const scan = await s.run(`
      const found = [];
      for (const n of Object.getOwnPropertyNames(globalThis)) {
        let v; try { v = globalThis[n] } catch { continue }
        if (v && (typeof v === 'object' || typeof v === 'function') && ('applySyncPromise' in v || 'derefInto' in v || 'copyInto' in v)) found.push(n)
      }
      print(found.length, typeof $0, typeof subRef, typeof emitFn)`);
    expect(scan.output).toBe('0 undefined undefined undefined\n');
    await s.close();
  });

  it('SHOW_VARS lists the user variables with their types', async () => {
    const s = await open();
    const r = await runAll(s, ['SHOW_VARS()', 'const chunks = ["a", "b"]; const n = 3; let s = "hello"; function f() {}; const m = new Map(); SHOW_VARS()']);
    expect(r[0]!.output).toBe('(no variables defined yet)\n');
    expect(r[1]!.output).toBe('f: function\nchunks: Array(2)\nn: number\ns: string (5 chars)\nm: Map(0)\n'); // declarations hoist
    await s.close();
  });

  it('rolls a CPU-timed-out cell back: earlier state kept, the cell had no effect', async () => {
    const s = await open({ cellCpuTimeoutMs: 200 });
    const r = await runAll(s, ['let kept = "yes"', 'print("before"); kept = "changed"; while (true) {}', 'print(kept)']);
    expect(r[1]!.stopReason).toBe('cpu_timeout');
    expect(r[1]!.rolledBack).toBe(true);
    expect(r[1]!.dead).toBeUndefined();
    expect(r[1]!.error).toBe('TimeoutError: the cell timed out after 200 ms CPU and was rolled back; your variables are as before it.');
    expect(r[1]!.output).toBe('');
    expect(r[1]!.replayMs).toBeGreaterThan(0);
    expect(r[2]!.output).toBe('yes\n');
    expect(s.dead).toBe(false);
    await s.close();
  });

  it('serializes concurrent run() calls on one session', async () => {
    const s = await open();
    const [a, b] = await Promise.all([s.run('let order = []; order.push(1)'), s.run('order.push(2); print(order.join(","))')]);
    expect(a.error).toBeUndefined();
    expect(b.output).toBe('1,2\n');
    await s.close();
  });
});

describe('answers', () => {
  it('FINAL submits strings as-is and other values as JSON', async () => {
    const s = await open();
    const r = await runAll(s, ['FINAL("42")', 'FINAL({ a: [1, 2] })', 'FINAL(7)', 'FINAL(undefined)', 'FINAL("a"); FINAL("b")']);
    expect(r[0]!.final).toEqual({ value: '42', source: 'FINAL' });
    expect(r[1]!.final).toEqual({ value: '{"a":[1,2]}', source: 'FINAL' });
    expect(r[2]!.final).toEqual({ value: '7', source: 'FINAL' });
    expect(r[3]!.final).toBeUndefined();
    expect(r[3]!.error).toMatch(/^TypeError: FINAL: the answer is undefined/);
    expect(r[4]!.final).toEqual({ value: 'b', source: 'FINAL' });
    await s.close();
  });

  it('FINAL_VAR looks up a variable by name, including rewritten and TLA declarations', async () => {
    const s = await open();
    const r = await runAll(s, [
      'const result = "abc"',
      'FINAL_VAR("result")',
      'const r2 = await Promise.resolve({ n: 1 }); FINAL_VAR(" r2 ")',
      'FINAL_VAR("nope")',
      'FINAL_VAR(42)',
    ]);
    expect(r[1]!.final).toEqual({ value: 'abc', source: 'FINAL_VAR' });
    expect(r[2]!.final).toEqual({ value: '{"n":1}', source: 'FINAL_VAR' });
    expect(r[3]!.error).toMatch(/^ReferenceError: FINAL_VAR: there is no variable named 'nope'/);
    expect(r[4]!.error).toMatch(/^TypeError: FINAL_VAR\(name\) takes the NAME of a variable/);
    expect(r[3]!.final).toBeUndefined();
    await s.close();
  });

  it('answer = { content, ready }: a cell ending with ready === true submits content', async () => {
    const s = await open();
    const r = await runAll(s, ['answer.content = "draft"', 'print(answer.ready)', 'answer.ready = true']);
    expect(r[0]!.final).toBeUndefined();
    expect(r[1]!.output).toBe('false\n');
    expect(r[2]!.final).toEqual({ value: 'draft', source: 'answer' });
    await s.close();
    const t = await open();
    const r2 = await runAll(t, ['answer = 3', 'print(typeof answer, answer.ready, answer.content === "")', 'answer = { content: 5, ready: true }']);
    expect(r2[0]!.final).toBeUndefined();
    expect(r2[1]!.output).toBe('object false true\n'); // the shape is restored after each cell
    expect(r2[2]!.final).toEqual({ value: '5', source: 'answer' });
    await t.close();
  });
});

describe('sub-calls', () => {
  it('llm_query returns the text synchronously and records the call', async () => {
    const m = fakeModel();
    const s = await open({}, m.handler);
    const r = await s.run('const r = llm_query("hi", "big-model"); const r2 = await llm_query("again"); print(r, r2)');
    expect(r.output).toBe('echo:hi echo:again\n');
    expect(m.calls.map((c) => [c.kind, c.prompt, c.model])).toEqual([['llm', 'hi', 'big-model'], ['llm', 'again', undefined]]);
    expect(r.subCalls).toHaveLength(2);
    expect(r.subCalls[0]).toMatchObject({ prompt: 'hi', response: 'echo:hi', model: 'big-model', prompt_tokens: 2, completion_tokens: 5, error: null });
    expect(r.subCalls[0]!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(s.subCallsUsed).toBe(2);
    await s.close();
  });

  it('a failing sub-call is a catchable error with the message, and is recorded', async () => {
    const s = await open();
    const r = await runAll(s, ['try { llm_query("please FAIL") } catch (e) { print("caught:", e.message) }', 'llm_query("FAIL again")']);
    expect(r[0]!.output).toBe('caught: llm_query failed: HTTP 503 from the sub-model\n');
    expect(r[0]!.subCalls[0]).toMatchObject({ prompt: 'please FAIL', response: '', error: 'HTTP 503 from the sub-model' });
    expect(r[1]!.error).toBe('Error: llm_query failed: HTTP 503 from the sub-model (line 1)');
    await s.close();
  });

  it('an oversize prompt is refused with the limit and the size; the handler is not called', async () => {
    const m = fakeModel();
    const s = await open({ maxSubPromptChars: 1_000 }, m.handler);
    const r = await runAll(s, ['llm_query("x".repeat(1001))', 'print(llm_query_batched(["ok", "y".repeat(5000)]))']);
    expect(r[0]!.error).toBe(
      'RangeError: llm_query: the prompt is 1,001 chars; the limit is 1,000 chars per sub-call prompt (nothing was sent). Split the text into smaller chunks. (line 1)',
    );
    expect(r[0]!.subCalls[0]!.error).toMatch(/1,001 chars/);
    expect(r[1]!.output).toBe('["echo:ok","Error: llm_query_batched: prompt #1 is 5,000 chars; the limit is 1,000 chars per sub-call prompt (nothing was sent). Split the text into smaller chunks."]\n');
    expect(m.calls.map((c) => c.prompt)).toEqual(['ok']);
    expect(s.subCallsUsed).toBe(1);
    await s.close();
  });

  it('stops at the sub-call budget with a clear error and stopReason sub_call_budget', async () => {
    const m = fakeModel();
    const s = await open({ maxSubCalls: 3 }, m.handler);
    const r = await runAll(s, [
      'for (let i = 0; i < 5; i++) print(llm_query("p" + i))',
      'try { llm_query("x") } catch (e) { print(e.name) }',
      'llm_query_batched(["a", "b"])',
    ]);
    expect(r[0]!.output).toBe('echo:p0\necho:p1\necho:p2\n');
    expect(r[0]!.error).toMatch(/^SubCallBudgetError: llm_query: the sub-call budget is exhausted: all 3 sub-calls of this episode are used/);
    expect(r[0]!.stopReason).toBe('sub_call_budget');
    expect(r[0]!.subCalls).toHaveLength(3);
    expect(r[1]!.output).toBe('SubCallBudgetError\n');
    expect(r[1]!.stopReason).toBeUndefined();
    expect(r[2]!.stopReason).toBe('sub_call_budget');
    expect(m.calls).toHaveLength(3);
    expect(s.subCallsUsed).toBe(3);
    await s.close();

    const u = await open({ maxSubCalls: 10, subCallsUsed: 9 }, m.handler);
    const ru = await u.run('print(llm_query("last")); llm_query("one too many")');
    expect(ru.output).toBe('echo:last\n');
    expect(ru.error).toMatch(/all 10 sub-calls of this episode are used/);
    expect(u.subCallsUsed).toBe(10);
    await u.close();

    const t = await open({ maxSubCalls: 4 }, m.handler);
    const b = await t.run('llm_query("one"); llm_query_batched(["a", "b", "c", "d"])');
    expect(b.error).toMatch(/^SubCallBudgetError: llm_query_batched: 4 prompts but only 3 of the 4 sub-calls of this episode are left/);
    await t.close();
  });

  it('llm_query_batched: one failed prompt yields "Error: …" for that element, order is kept', async () => {
    const s = await open();
    const r = await s.run('const rs = llm_query_batched(["a", "FAIL", "c"]); print(JSON.stringify(rs), Array.isArray(rs))');
    expect(r.output).toBe('["echo:a","Error: HTTP 503 from the sub-model","echo:c"] true\n');
    expect(r.subCalls.map((c) => [c.prompt, c.error])).toEqual([['a', null], ['FAIL', 'HTTP 503 from the sub-model'], ['c', null]]);
    await s.close();
  });

  it('respects maxSubConcurrency', async () => {
    const m = fakeModel({ delayMs: 30 });
    const s = await open({ maxSubConcurrency: 3 }, m.handler);
    const r = await s.run('const out = llm_query_batched(Array.from({ length: 12 }, (_, i) => "p" + i)); print(out[0], out[11], out.length)');
    expect(r.output).toBe('echo:p0 echo:p11 12\n');
    expect(m.maxInFlight).toBe(3);
    await s.close();
  });

  it('rlm_query sends kind rlm with the sub-context when recursive, else one joined prompt', async () => {
    const m = fakeModel();
    const s = await open({ rlmRecursive: true }, m.handler);
    const r = await s.run('print(rlm_query("sub question", context.slice(0, 9)), rlm_query("no ctx"))');
    expect(r.output).toBe('echo:sub question echo:no ctx\n');
    expect(m.calls.map((c) => [c.kind, c.prompt, c.subContext])).toEqual([['rlm', 'sub question', 'The quick'], ['rlm', 'no ctx', undefined]]);
    await s.close();
    const plain = fakeModel();
    const p = await open({}, plain.handler);
    await p.run('rlm_query("sub question", context.slice(0, 9))');
    expect(plain.calls.map((c) => [c.kind, c.prompt, c.subContext])).toEqual([['rlm', 'sub question\n\nThe quick', undefined]]);
    await p.close();
  });

  it('a wall deadline covers a blocked sub-call: rolled back + wall_timeout, the call is aborted and recorded', async () => {
    let signal: AbortSignal | undefined;
    const hang: SubCallHandler = (req) => {
      signal = req.signal;
      return new Promise(() => {});
    };
    const s = await open({ cellWallTimeoutMs: 300 }, hang);
    const t0 = Date.now();
    await s.run('const before = 1');
    const r = await s.run('print("before"); llm_query("hang")');
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(r).toMatchObject({ rolledBack: true, stopReason: 'wall_timeout', output: '' });
    expect(r.dead).toBeUndefined();
    expect(r.error).toMatch(/^TimeoutError: the cell exceeded its wall-clock limit of 300 ms \(time blocked on sub-calls counts\) and was rolled back/);
    expect(r.subCalls[0]!.error).toMatch(/^aborted: the cell was rolled back/);
    expect(signal?.aborted).toBe(true);
    expect(s.dead).toBe(false);
    const again = await s.run('print(before)');
    expect(again.output).toBe('1\n');
    await s.close();
  });
});

describe('contexts', () => {
  it('a Doc[] context becomes an array of frozen {id, title, text}; context cannot be replaced', async () => {
    const docs = [
      { id: 'd1', title: 'One', text: 'first text' },
      { id: 'd2', title: 'Two', text: 'second — ünïcödé' },
    ];
    const s = await open({ context: docs });
    const r = await runAll(s, [
      'print(context.length, context[1].id, context[1].title, context[1].text, Object.isFrozen(context), Object.isFrozen(context[0]))',
      'context = "replaced"; context[0].text = "changed"; print(typeof context, context[0].text)',
    ]);
    expect(r[0]!.output).toBe('2 d2 Two second — ünïcödé true true\n');
    expect(r[1]!.output).toBe('object first text\n');
    await s.close();
  });

  it('big contexts go through a temp file once and are cached by contextKey', async () => {
    const big = 'abcdefghij'.repeat(200_000) + 'NEEDLE'; // 2 MB
    const s1 = await open({ context: big, contextKey: 'big-2mb' });
    const s2 = await open({ context: big, contextKey: 'big-2mb' });
    const r1 = await s1.run('print(context.length, context.indexOf("NEEDLE"))');
    const r2 = await s2.run('print(context.length, context.endsWith("NEEDLE"))');
    expect(r1.output).toBe('2000006 2000000\n');
    expect(r2.output).toBe('2000006 true\n');
    await Promise.all([s1.close(), s2.close()]);
    const uni = 'ü€'.repeat(600_000);
    const s3 = await open({ context: uni });
    expect((await s3.run('print(context.length, context.slice(0, 4))')).output).toBe('1200000 ü€ü€\n');
    await s3.close();
  });

  it('the memory limit defaults to context bytes × 2 + 128 MB', async () => {
    const s = await pool.open({ context: 'x'.repeat(3 * 1024 * 1024), seed: 1 }, fakeModel().handler);
    expect(s.limits.memoryMB).toBe(6 + 128);
    expect(s.limits).toMatchObject({ cellCpuTimeoutMs: 10_000, cellWallTimeoutMs: 120_000, maxOutputChars: 20_000, maxSubCalls: 500, maxSubConcurrency: 16, maxSubPromptChars: 400_000 });
    await s.close();
  });
});

describe('determinism', () => {
  const script = [
    'const xs = Array.from({ length: 5 }, () => Math.random()); print(xs.join(","))',
    'print(Date.now(), new Date().toISOString(), Date(), new Date(0).toISOString())',
    'print(new Intl.DateTimeFormat("en-US", { dateStyle: "full", timeStyle: "long", timeZone: "UTC" }).format(), JSON.stringify(new Intl.DateTimeFormat("en-US").formatToParts().length))',
    'print(new (new Date().constructor)().getTime(), [3, 1, 2].sort().join(""), Math.random())',
  ];

  it('same seed + same code ⇒ byte-identical outputs across two sessions and two pools', async () => {
    const other = new SandboxPool({ workers: 1 });
    try {
      const a = await open({ seed: 123 });
      const b = await open({ seed: 123 });
      const c = await other.open({ context: 'The quick brown fox. Secret: 42.', seed: 123, ...BASE }, fakeModel().handler);
      const ra = (await runAll(a, script)).map((r) => r.output + (r.error ?? ''));
      const rb = (await runAll(b, script)).map((r) => r.output + (r.error ?? ''));
      const rc = (await runAll(c, script)).map((r) => r.output + (r.error ?? ''));
      expect(rb).toEqual(ra);
      expect(rc).toEqual(ra);
      expect(ra[1]).toMatch(/^1735689600000 2025-01-01T00:00:00.001Z /); // fixed clock, +1 ms per reading
      expect(ra[2]).toMatch(/^Wednesday, January 1, 2025 at 12:00:00 AM UTC/);
      const d = await open({ seed: 124 });
      const rd = (await runAll(d, script.slice(0, 1))).map((r) => r.output);
      expect(rd[0]).not.toEqual(ra[0]);
      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    } finally {
      await other.close();
    }
  });
});

describe('pool and misuse', () => {
  it('rejects bad options with typed errors', async () => {
    const h = fakeModel().handler;
    await expect(pool.open({ context: 'x', seed: Number.NaN }, h)).rejects.toBeInstanceOf(SandboxConfigError);
    await expect(pool.open({ context: 'x', seed: 1, memoryMB: 1 }, h)).rejects.toThrow(/memoryMB must be a number in \[8, 16384\], got 1/);
    await expect(pool.open({ context: 'x', seed: 1, maxSubCalls: 1.5 }, h)).rejects.toThrow(/maxSubCalls must be an integer/);
    await expect(pool.open({ context: 42 as unknown as string, seed: 1 }, h)).rejects.toThrow(/context must be a string or an array/);
    await expect(pool.open({ context: [{ id: 1 }] as unknown as string, seed: 1 }, h)).rejects.toThrow(/context\[0\] must be a document/);
    await expect(pool.open({ context: 'x', seed: 1 }, undefined as unknown as SubCallHandler)).rejects.toThrow(/onSubCall must be a function/);
    expect(() => new SandboxPool({ workers: 0 })).toThrow(SandboxConfigError);
  });

  it('a closed session rejects run(); close() is idempotent; a closed pool refuses open()', async () => {
    const p = new SandboxPool({ workers: 1 });
    const s = await p.open({ context: 'x', seed: 1 }, fakeModel().handler);
    expect(p.stats).toEqual({ workers: 1, respawns: 0, sessions: 1, restores: 0, spareOpens: 0, recycledOpens: 0 });
    await s.close();
    await s.close();
    expect(p.stats.sessions).toBe(0);
    await expect(s.run('1')).rejects.toBeInstanceOf(SandboxClosedError);
    await p.close();
    await p.close();
    expect(p.stats.workers).toBe(0);
    await expect(p.open({ context: 'x', seed: 1 }, fakeModel().handler)).rejects.toBeInstanceOf(SandboxClosedError);
  });

  it('a process can exit by itself after close(), and even with a forgotten idle pool (workers die with it)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rlm-sandbox-exit-'));
    const entry = fileURLToPath(new URL('../env/sandbox/index.ts', import.meta.url));
    const script = path.join(dir, 'exit.mts');
    writeFileSync(
      script,
      `import { SandboxPool } from ${JSON.stringify(entry)};
       const h = async () => ({ text: 'x', model: 'm', promptTokens: 0, completionTokens: 0 });
       const closed = new SandboxPool({ workers: 1 });
       const s = await closed.open({ context: 'c'.repeat(2_000_000), seed: 1 }, h);
       await s.run('llm_query("a")');
       await closed.close();
       const forgotten = new SandboxPool({ workers: 1 });
       const t = await forgotten.open({ context: 'c', seed: 1 }, h);
       const r = await t.run('print(1)');
       console.log(JSON.stringify({ out: r.output, pids: forgotten.workerPids() }));`,
    );
    try {
      const t0 = Date.now();
      const res = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000, cwd: process.cwd() });
      expect(res.status, res.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const { out, pids } = JSON.parse(res.stdout.trim().split('\n').pop()!) as { out: string; pids: number[] };
      expect(out).toBe('1\n');
      // the orphaned worker notices the closed IPC channel and exits
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 5_000;
      while (pids.some(alive) && Date.now() < deadline) spawnSync('sleep', ['0.1']);
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() waits for a free slot when every worker is full (maxSessionsPerWorker)', async () => {
    const p = new SandboxPool({ workers: 1, maxSessionsPerWorker: 1 });
    try {
      const a = await p.open({ context: 'a', seed: 1 }, fakeModel().handler);
      let bOpened = false;
      const bP = p.open({ context: 'b', seed: 1 }, fakeModel().handler).then((b) => ((bOpened = true), b));
      await new Promise((r) => setTimeout(r, 100));
      expect(bOpened).toBe(false);
      await a.close();
      const b = await bP;
      expect((await b.run('print(context)')).output).toBe('b\n');
      const cP = p.open({ context: 'c', seed: 1 }, fakeModel().handler).catch((e: unknown) => e);
      await p.close();
      expect(await cP).toBeInstanceOf(SandboxClosedError);
    } finally {
      await p.close();
    }
  });

  it('spreads sessions over the workers (least loaded)', async () => {
    const ss = await Promise.all([open(), open(), open(), open()]);
    const pids = new Set(ss.map((s) => s.workerPid));
    expect(pids.size).toBe(2);
    await Promise.all(ss.map((s) => s.close()));
  });
});

describe('context cache under concurrent opens', () => {
  it('evicting a cached context never breaks a session that is still loading it', async () => {
    const { SandboxPool } = await import('../env/sandbox/index.ts');
    const pool = new SandboxPool({ workers: 1, contextCacheEntries: 2 });
    try {
      const outputs = await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const s = await pool.open({ context: `ctx-${i}-`.repeat(50_000), seed: i, contextKey: `key-${i}` }, async () => ({ text: '', model: '', promptTokens: 0, completionTokens: 0 }));
          const r = await s.run('print(context.length, context.slice(0, 8))');
          await s.close();
          return r.output;
        }),
      );
      outputs.forEach((o, i) => expect(o.trim()).toBe(`${`ctx-${i}-`.length * 50_000} ${`ctx-${i}-`.repeat(2).slice(0, 8)}`));
    } finally {
      await pool.close();
    }
  });
});

describe('a GRPO group shares one copy of its context', () => {
  const noSub: SubCallHandler = async () => ({ text: '', model: '', promptTokens: 0, completionTokens: 0 });
  // A checksum computed inside the isolate with built-ins captured before the model's cells can replace them.
  const CHECK = 'print(context.length, (() => { let h = 0; for (let i = 0; i < context.length; i++) h = (h * 31 + context.charCodeAt(i)) | 0; return h })())';
  const expected = (s: string) => {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return `${s.length} ${h}\n`;
  };

  it('one episode changing its `context` (and the built-ins it reads it with) leaves every sibling view unchanged', async () => {
    const group = new SandboxPool({ workers: 2, contextCacheEntries: 4 });
    try {
      const text = 'The special magic number for alpha is 12345. '.repeat(2_000); // 90 KB: an external string, shared
      const openOne = (seed: number) => group.open({ context: text, contextKey: 'grpo-task-1', seed, ...BASE }, noSub);
      const siblings = await Promise.all(Array.from({ length: 16 }, (_, i) => openOne(i)));
      const mutator = siblings[0]!;
      const tries = await runAll(mutator, [
        'context = "gone"; globalThis.context = "gone too"',
        "Object.defineProperty(globalThis, 'context', { value: 'redefined' })",
        'String.prototype.charCodeAt = () => 0; String.prototype.slice = () => "hacked"; Object.defineProperty(String.prototype, "length", { get() { return 1 } })',
        'print(typeof context, context.length, context.slice(0, 5))',
      ]);
      expect(tries[1]!.error).toMatch(/^TypeError: Cannot redefine property: context/);
      expect(tries[3]!.output).toBe(`string ${text.length} hacked\n`); // its own realm's String.prototype, its own business
      for (const s of siblings.slice(1)) expect((await s.run(CHECK)).output).toBe(expected(text));
      // Siblings opened after the mutation get the cached copy: unchanged as well.
      const late = await Promise.all([openOne(100), openOne(101)]);
      for (const s of late) expect((await s.run(CHECK)).output).toBe(expected(text));
      await Promise.all([...siblings, ...late].map((s) => s.close()));
    } finally {
      await group.close();
    }
  });

  it('documents of a shared Doc[] context stay frozen and unchanged for siblings', async () => {
    const group = new SandboxPool({ workers: 1 });
    try {
      const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, title: `Title ${i}`, text: `Body of document ${i}. `.repeat(40) }));
      const a = await group.open({ context: docs, contextKey: 'grpo-docs', seed: 1, ...BASE }, noSub);
      const b = await group.open({ context: docs, contextKey: 'grpo-docs', seed: 2, ...BASE }, noSub);
      const r = await a.run('try { context[0].text = "x" } catch {} try { context.push({}) } catch (e) { print(e.name) } Array.prototype.map = () => []; print(context[0].text.slice(0, 16), context.length)');
      expect(r.output).toBe('TypeError\nBody of document 50\n');
      const seen = await b.run('print(context.length, context.map((d) => d.id + ":" + d.text.length).join(","))');
      expect(seen.output).toBe(`50 ${docs.map((d) => `${d.id}:${d.text.length}`).join(',')}\n`);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await group.close();
    }
  });

  it('a context the worker no longer caches is sent again (open by key falls back to the text)', async () => {
    const one = new SandboxPool({ workers: 1, contextCacheEntries: 1 });
    try {
      const A = 'context A. '.repeat(10_000);
      const B = 'context B. '.repeat(10_000);
      const a1 = await one.open({ context: A, contextKey: 'A', seed: 1, ...BASE }, noSub);
      const b1 = await one.open({ context: B, contextKey: 'B', seed: 1, ...BASE }, noSub); // evicts A in the worker
      const a2 = await one.open({ context: A, contextKey: 'A', seed: 2, ...BASE }, noSub); // parent's hint says cached: a miss, then the text
      expect((await a2.run(CHECK)).output).toBe(expected(A));
      expect((await b1.run(CHECK)).output).toBe(expected(B));
      expect((await a1.run(CHECK)).output).toBe(expected(A));
      await Promise.all([a1.close(), b1.close(), a2.close()]);
    } finally {
      await one.close();
    }
  });
});

describe('spare isolates', () => {
  it('an idle worker makes spares; a session opened on one behaves exactly like one on a fresh isolate', async () => {
    const noSub: SubCallHandler = async () => ({ text: '', model: '', promptTokens: 0, completionTokens: 0 });
    const cells = ['const r = [Math.random(), Math.random()]; print(r.join(","), new Date().toISOString())', 'var g = 1; print(typeof globalThis.g, Object.keys(globalThis).length, SHOW_VARS === undefined)'];
    const withSpares = new SandboxPool({ workers: 1, spareIsolates: 2 });
    const without = new SandboxPool({ workers: 1, spareIsolates: 0 });
    try {
      const outputs = async (p: SandboxPool) => {
        const s = await p.open({ context: 'ctx', seed: 11, ...BASE }, noSub);
        const r = (await runAll(s, cells)).map((c) => c.output + (c.error ?? ''));
        await s.close();
        return r;
      };
      const first = await outputs(withSpares); // the worker learns the memory limit sessions use, then idles
      for (let i = 0; i < 100 && withSpares.stats.spareOpens === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        expect(await outputs(withSpares)).toEqual(first);
      }
      expect(withSpares.stats.spareOpens).toBeGreaterThan(0);
      expect(await outputs(without)).toEqual(first);
      expect(without.stats.spareOpens).toBe(0);
      // A session with another memory limit does not take a spare of the wrong size.
      const big = await withSpares.open({ context: 'ctx', seed: 11, ...BASE, memoryMB: 96 }, noSub);
      expect((await big.run('print(1)')).output).toBe('1\n');
      expect(big.limits.memoryMB).toBe(96);
      await big.close();
    } finally {
      await Promise.all([withSpares.close(), without.close()]);
    }
  });

  it('a closed session\'s isolate is reused with a fresh context: nothing of the previous episode is visible', async () => {
    const noSub: SubCallHandler = async () => ({ text: '', model: '', promptTokens: 0, completionTokens: 0 });
    const p = new SandboxPool({ workers: 1, spareIsolates: 1 });
    const fresh = new SandboxPool({ workers: 1, spareIsolates: 0 });
    const probe = [
      'print(typeof leak, typeof poisoned, [].x, "abc".slice(1), JSON.stringify({ a: 1 }), Object.keys(globalThis).join(","))',
      'SHOW_VARS(); print(Math.random(), new Date().toISOString(), answer.ready, context.length)',
    ];
    try {
      const expected = await (async () => {
        const s = await fresh.open({ context: 'the context', seed: 5, ...BASE }, noSub);
        const r = (await runAll(s, probe)).map((c) => c.output + (c.error ?? ''));
        await s.close();
        return r;
      })();
      for (let round = 0; round < 30 && p.stats.recycledOpens < 2; round++) {
        const s = await p.open({ context: 'the context', seed: 5, ...BASE }, noSub);
        expect((await runAll(s, probe)).map((c) => c.output + (c.error ?? ''))).toEqual(expected);
        // The episode leaves as much behind as it can.
        await runAll(s, [
          'var leak = "secret"; globalThis.poisoned = 1; Array.prototype.x = 7; String.prototype.slice = () => "hacked"; JSON.stringify = () => "{}"',
          'answer.ready = false; answer.content = "left over"; Object.prototype.polluted = true',
        ]);
        await s.close();
        await new Promise((r) => setTimeout(r, 30)); // idle: the worker makes the reused isolate's fresh context
      }
      expect(p.stats.recycledOpens).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all([p.close(), fresh.close()]);
    }
  });

  it('rejects a bad spareIsolates option', () => {
    expect(() => new SandboxPool({ spareIsolates: -1 })).toThrow(SandboxConfigError);
    expect(() => new SandboxPool({ spareIsolates: 1.5 })).toThrow(SandboxConfigError);
  });
});
