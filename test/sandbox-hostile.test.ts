/**
 * Hostile code (the classes of notes/sandbox.md). Every cell must end as an error observation (a cell that times out or
 * kills its sandbox is rolled back, and the session goes on); the test
 * process survives; nothing of the host (`process`, `require`, isolated-vm references) is reachable afterwards; and a NEW
 * session in the same pool works afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool, type CellResult, type SandboxSession, type SessionOptions, type SubCallHandler } from '../env/sandbox/index.ts';

const BASE = { cellCpuTimeoutMs: 200, cellWallTimeoutMs: 3_000, memoryMB: 64, maxOutputChars: 2_000, maxSubCalls: 50 } as const;
const CONTEXT = 'Public context. The secret is 42.';

let pool: SandboxPool;
let handlerCalls = 0;
beforeAll(async () => {
  pool = new SandboxPool({ workers: 2, watchdogGraceMs: 1_500 });
  await pool.warmup();
});
afterAll(async () => {
  await pool.close();
});

const echo: SubCallHandler = async (req) => {
  handlerCalls++;
  return { text: `echo:${req.prompt.slice(0, 50)}`, model: 'm', promptTokens: 1, completionTokens: 1 };
};

/** typeof of host things, plus a Function-constructor escape attempt: all must be undefined / ReferenceError. */
const PROBE =
  'print(typeof process, typeof require, typeof module, typeof Buffer, typeof fetch, typeof setTimeout, ' +
  '(function () { try { return typeof Function("return process")() } catch (e) { return e instanceof ReferenceError ? "ReferenceError" : "other" } })())';
const PROBE_OK = 'undefined undefined undefined undefined undefined undefined ReferenceError\n';

interface Hostile {
  name: string;
  code: string;
  opts?: Partial<SessionOptions>;
  handler?: SubCallHandler;
  /** Extra checks on the hostile cell's result. */
  check?: (r: CellResult) => void;
  /** A follow-up cell in the same session (when it is alive) and its expected output. */
  after?: [code: string, output: string];
}

const loops = 'TimeoutError: the cell timed out after 200 ms CPU and was rolled back';
const cpu = (r: CellResult) => {
  expect(r.stopReason).toBe('cpu_timeout');
  expect(r.error).toMatch(new RegExp(`^${loops}`));
};
const hang = { get: () => 'function () { while (true) {} }' }.get();

const HOSTILE: Hostile[] = [
  // ---- infinite loops
  { name: 'sync infinite loop', code: 'while (true) {}', check: cpu, after: ['print("alive")', 'alive\n'] },
  { name: 'infinite loop in an awaited async function', code: 'async function spin() { while (true) {} }\nawait spin()', check: cpu },
  { name: 'microtask loop (async)', code: '(async () => { while (true) await null })()', check: cpu },
  { name: 'microtask loop (then chain)', code: 'Promise.resolve().then(function loop() { return Promise.resolve().then(loop) })', check: cpu },
  { name: 'catastrophic regex backtracking', code: "/(a+)+$/.test('a'.repeat(40) + 'b')", check: cpu },
  // ---- memory bombs
  {
    name: 'array memory bomb',
    code: 'const a = []; while (true) a.push(new Array(1e5).fill(1.5))',
    opts: { cellWallTimeoutMs: 60_000, cellCpuTimeoutMs: 10_000 }, // a loaded machine must not turn this into a timeout
    check: (r) => expect(r).toMatchObject({ rolledBack: true, stopReason: 'memory_limit', output: '' }),
  },
  {
    name: 'huge single allocation (native OOM of the whole worker)',
    code: 'new Array(1e9).fill(0)',
    opts: { cellWallTimeoutMs: 60_000, cellCpuTimeoutMs: 10_000 },
    check: (r) => {
      expect(r.rolledBack).toBe(true);
      expect(r.dead).toBeUndefined();
      expect(['memory_limit', 'worker_crash']).toContain(r.stopReason);
    },
  },
  { name: 'string doubling bomb', code: "let s = 'ab'; while (true) s += s", check: (r) => expect(r.error).toMatch(/^RangeError: Invalid string length/) },
  {
    name: 'ArrayBuffer bomb',
    code: 'const bufs = []; while (true) bufs.push(new ArrayBuffer(1 << 24))',
    check: (r) => expect(r.error).toMatch(/RangeError|memory/),
  },
  // ---- output floods
  {
    name: 'print flood until the CPU timeout',
    code: "while (true) print('flood '.repeat(100))",
    check: (r) => {
      cpu(r);
      expect(r.output).toBe(''); // rolled back: the partial output is not shown
    },
  },
  {
    name: 'one 30M-char print, then a throw',
    code: "print('y'.repeat(30_000_000)); throw new Error('after flood')",
    check: (r) => {
      expect(r.output).toBe('y'.repeat(2_000) + '\n… [output truncated: 29,998,001 more chars]');
      expect(r.error).toBe('Error: after flood (line 1)');
    },
  },
  // ---- sub-call fan-out
  {
    name: 'llm_query_batched of 100k prompts',
    code: "llm_query_batched(Array.from({ length: 100_000 }, (_, i) => 'p' + i))",
    check: (r) => {
      expect(r.error).toMatch(/^SubCallBudgetError: llm_query_batched: 100,000 prompts but only 50 of the 50 sub-calls/);
      expect(r.stopReason).toBe('sub_call_budget');
      expect(r.subCalls).toHaveLength(0);
    },
  },
  {
    name: 'rlm_query recursion',
    code: "function rec(n) { return rlm_query('depth ' + n, context) + rec(n + 1) }\nrec(0)",
    check: (r) => {
      expect(r.stopReason).toBe('sub_call_budget');
      expect(r.subCalls).toHaveLength(50);
    },
  },
  {
    name: 'a 10M-char prompt',
    code: "llm_query('x'.repeat(10_000_000))",
    check: (r) => {
      expect(r.error).toMatch(/^RangeError: llm_query: the prompt is 10,000,000 chars; the limit is 400,000/);
      expect(r.subCalls[0]!.prompt.length).toBeLessThan(300);
    },
  },
  // ---- escapes through constructors and prototypes
  { name: 'constructor.constructor("return process")()', code: "constructor.constructor('return process')()", check: (r) => expect(r.error).toMatch(/^ReferenceError: process is not defined/) },
  { name: 'llm_query.constructor escape', code: "llm_query.constructor('return this')().process.mainModule.require('fs')", check: (r) => expect(r.error).toMatch(/^TypeError/) },
  { name: '__proto__ write on Object.prototype', code: 'Object.prototype.__proto__ = { polluted: true }', check: (r) => expect(r.error).toMatch(/^TypeError: Immutable prototype object/) },
  {
    name: 'polluted Object.prototype keys the host reply uses',
    code: "for (const k of ['fatal', 'budget', 'remaining', 'tooLarge', 'ok', 'texts']) Object.defineProperty(Object.prototype, k, { get() { return 'pwned' } })\nprint(llm_query('x'), llm_query_batched(['y']))\nundefinedFunction()",
    check: (r) => {
      expect(r.output).toBe('echo:x ["echo:y"]\n');
      expect(r.error).toMatch(/^ReferenceError: undefinedFunction/);
    },
  },
  {
    name: 'Array.prototype index setter trap',
    code: "Object.defineProperty(Array.prototype, '0', { set() { throw new Error('trap') }, get() { return 'x' } })\nprint(llm_query_batched(['a', 'b']))\nthrow new Error('done')",
    check: (r) => expect(r.output).toBe('["echo:a","echo:b"]\n'),
  },
  // ---- traps on values the host reads
  { name: 'Object.prototype.toJSON loop on FINAL', code: 'Object.prototype.toJSON = function () { while (true) {} }; FINAL({ a: 1 })', check: cpu },
  { name: 'getter loop on a FINAL value', code: 'FINAL({ get x() { while (true) {} } })', check: cpu },
  { name: 'toJSON loop on a prompt', code: 'llm_query({ toJSON() { while (true) {} } })', check: cpu },
  {
    name: 'toString/valueOf/Symbol.toPrimitive traps',
    code: 'const evil = { [Symbol.toPrimitive]() { while (true) {} }, valueOf() { while (true) {} }, toString() { while (true) {} } }\nprint(evil)\nFINAL_VAR(evil)',
    check: (r) => {
      expect(r.output).toBe('{"valueOf":"[Function: valueOf]","toString":"[Function: toString]"}\n'); // no trap ran
      expect(r.error).toMatch(/^TypeError: FINAL_VAR\(name\) takes the NAME/);
    },
  },
  { name: 'answer with a looping getter', code: "answer = { content: 'x', get ready() { while (true) {} } }", check: cpu, after: ['answer = { content: "fine", ready: false }; print("ok")', 'ok\n'] },
  { name: 'answer as a throwing Proxy', code: "answer = new Proxy({}, { get() { throw new Error('proxy trap') } })", check: (r) => expect(r.error).toBe('Error: proxy trap (line 1)') },
  // the REPL's own answer object, tampered with in place (the host reads it without running model code only when untouched)
  { name: 'looping getter defined on the own answer object', code: "Object.defineProperty(answer, 'ready', { get() { while (true) {} } })", check: cpu },
  { name: 'own answer object: ready deleted, a Proxy prototype', code: "delete answer.ready; Object.setPrototypeOf(answer, new Proxy({}, { get() { throw new Error('proto trap') } }))", check: (r) => expect(r.error).toBe('Error: proto trap (line 1)') },
  { name: 'own answer object: content with a looping toJSON', code: 'answer.content = { toJSON() { while (true) {} } }; answer.ready = true', check: cpu },
  { name: 'own answer object: content getter that throws', code: "Object.defineProperty(answer, 'content', { get() { throw new Error('content trap') } }); answer.ready = true", check: (r) => expect(r.error).toBe('Error: content trap (line 1)') },
  // ---- throwing strange things
  { name: 'throw a number', code: 'throw 42', check: (r) => expect(r.error).toBe('Uncaught 42') },
  { name: 'throw null', code: 'throw null', check: (r) => expect(r.error).toBe('Uncaught null') },
  { name: 'throw a symbol', code: "throw Symbol('s')", check: (r) => expect(r.error).toBe('Uncaught Symbol(s)') },
  { name: 'throw a plain object', code: 'throw { code: 1 }', check: (r) => expect(r.error).toBe('Uncaught {"code":1}') },
  { name: 'throw a Proxy', code: `throw new Proxy({}, { get: ${hang} })`, check: cpu },
  { name: 'throw an object whose message getter loops', code: 'throw { get message() { while (true) {} } }', check: cpu },
  { name: 'throw an Error whose name getter loops', code: 'throw new (class extends Error { get name() { while (true) {} } })()', check: cpu },
  { name: 'Error.stack getter loop', code: "const e = new Error('x'); Object.defineProperty(e, 'stack', { get() { while (true) {} } }); throw e", check: cpu },
  {
    name: 'Error.prepareStackTrace loop',
    code: 'Error.prepareStackTrace = () => { while (true) {} }\nnull.x',
    check: (r) => expect(r.error).toBe("TypeError: Cannot read properties of null (reading 'x') (line 2)"),
  },
  { name: 'unhandled rejection with a Proxy (reported)', code: `Promise.reject(new Proxy({}, { get: ${hang} }))`, check: cpu },
  {
    name: 'unhandled rejection with a Proxy (not reported) + throw',
    code: `const p = Promise.reject(new Proxy({}, { get: ${hang} })); const q = (async () => { throw { get message() { while (true) {} } } })(); throw new Error('x')`,
    check: (r) => expect(r.error).toBe('Error: x (line 1)'),
  },
  {
    name: 'unreported Proxy rejection, then a CPU timeout (stale rejection read by the next task)',
    code: `const p2 = Promise.reject(new Proxy({}, { get: ${hang} }));\nwhile (true) {}`,
    check: cpu,
    after: ['print("recovered")', 'recovered\n'],
  },
  {
    name: 'huge error message',
    code: "throw new Error('z'.repeat(20_000_000))",
    check: (r) => expect(r.error).toBe(`Error: ${'z'.repeat(1_993)}… [error truncated: 19,998,007 more chars] (line 1)`),
  },
  { name: 'stack overflow', code: 'function f() { f() } f()', check: (r) => expect(r.error).toBe('RangeError: Maximum call stack size exceeded (line 1)') },
  // ---- FINAL values
  { name: 'cyclic FINAL', code: 'const o = {}; o.self = o; FINAL(o)', check: (r) => expect(r.error).toMatch(/^TypeError: FINAL: the answer could not be serialized to JSON \(TypeError: Converting circular structure/) },
  { name: 'huge FINAL', code: "FINAL('x'.repeat(5_000_000))", check: (r) => expect(r.error).toBe('RangeError: FINAL: the answer is 5,000,000 chars; the limit is 100,000 chars (line 1)') },
  { name: 'BigInt inside a FINAL value', code: 'FINAL({ n: 1n })', check: (r) => expect(r.error).toMatch(/^TypeError: FINAL: the answer could not be serialized/) },
  // ---- overwriting the REPL's globals and built-ins
  {
    name: 'overwrite llm_query/FINAL/print/console/Math.random/Date/JSON.stringify/Array.prototype.join/String.prototype.slice',
    code: [
      "llm_query = () => 'fake'; FINAL = null; print = null; console.log = null; SHOW_VARS = 1",
      'Math.random = () => 0.5; Date = function () { return 0 }; Date.now = () => 0',
      "JSON.stringify = () => { while (true) {} }; Array.prototype.join = () => { throw new Error('join') }; String.prototype.slice = null",
      'Reflect.apply = null; Function.prototype.call = null; Object.defineProperty = null',
      "throw new Error('overwrites attempted')",
    ].join('\n'),
    check: (r) => expect(r.error).toBe('Error: overwrites attempted (line 5)'),
    after: [
      "print(llm_query('real'), Math.random() !== 0.5, Date.now() > 1e12, typeof console.log, [1, 2]); FINAL('ok')",
      'echo:real true true function [1,2]\n',
    ],
  },
  { name: 'strict-mode write to a locked global', code: "(function () { 'use strict'; FINAL = () => {} })()", check: (r) => expect(r.error).toMatch(/^TypeError: Cannot assign to read only property 'FINAL'/) },
  {
    name: 'redefine / delete / replace context',
    code: "context = 'replaced'; delete globalThis.context; Object.defineProperty(globalThis, 'context', { value: 'x' })",
    check: (r) => expect(r.error).toMatch(/^TypeError: Cannot redefine property: context/),
    after: ['print(context)', `${CONTEXT}\n`],
  },
  { name: 'redeclare a reserved name', code: 'const llm_query = () => "mine"', check: (r) => expect(r.error).toMatch(/^TypeError: 'llm_query' is a built-in of this REPL/) },
  { name: 'Object.freeze(globalThis)', code: 'Object.freeze(globalThis); const y = 2; print(y)', check: (r) => expect(r.error).toBe('ReferenceError: y is not defined (line 1)') },
  // ---- shared memory, WebAssembly, timers
  { name: 'Atomics.wait', code: 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)', check: (r) => expect(r.error).toMatch(/^ReferenceError: (Atomics|SharedArrayBuffer) is not defined/) },
  { name: 'WebAssembly', code: 'WebAssembly.compile(new Uint8Array([0, 97, 115, 109]))', check: (r) => expect(r.error).toMatch(/^ReferenceError: WebAssembly is not defined/) },
  { name: 'awaiting a promise that can never settle', code: 'await new Promise(() => {})', check: (r) => expect(r.error).toMatch(/^Error: the cell awaited something that can never settle/) },
  // ---- eval / Function tricks
  { name: 'indirect eval of this.process', code: "(0, eval)('this').process.exit(1)", check: (r) => expect(r.error).toMatch(/^TypeError: Cannot read properties of undefined/) },
  { name: 'Function-made dynamic import', code: "new Function('return import(\"fs\")')()", check: (r) => expect(r.error).toMatch(/^Uncaught \(in promise\) /) },
  { name: 'eval of setTimeout', code: "eval('setTimeout(() => {}, 1)')", check: (r) => expect(r.error).toMatch(/^ReferenceError: setTimeout is not defined/) },
  // ---- very long code
  {
    name: 'very long single line',
    code: `const s = '${'a'.repeat(500_000)}'; throw new Error(s)`,
    check: (r) => expect(r.error).toMatch(/^Error: a{1993}… \[error truncated: 498,007 more chars\] \(line 1\)$/),
  },
  { name: 'code over the size limit', code: `//${'x'.repeat(1_000_000)}`, check: (r) => expect(r.error).toBe('SyntaxError: the code is 1,000,002 chars; the limit is 1,000,000 chars per cell') },
  { name: 'very deep nesting', code: '['.repeat(100_000) + ']'.repeat(100_000), check: (r) => expect(r.error).toMatch(/^(SyntaxError|RangeError)/) },
  // ---- clock leaks
  {
    name: 'Intl clock leak (no-argument format)',
    code: "throw new Error(new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' }).format() + ' | ' + Intl.DateTimeFormat().formatToParts().find(p => p.type === 'year').value)",
    check: (r) => expect(r.error).toBe('Error: Wednesday, January 1, 2025 at 12:00:00 AM UTC | 2025 (line 1)'),
  },
  {
    name: 'real Date reached through the prototype',
    code: "throw new Error(String(new (Object.getPrototypeOf(new Date()).constructor)().getFullYear()) + ' ' + String(new Date().constructor === Date))",
    check: (r) => expect(r.error).toBe('Error: 2025 true (line 1)'),
  },
  // ---- a sub-call that never answers
  {
    name: 'a sub-call that never returns (wall deadline)',
    code: "print('waiting'); llm_query('hang forever')",
    opts: { cellWallTimeoutMs: 400 },
    handler: () => new Promise(() => {}),
    check: (r) => expect(r).toMatchObject({ rolledBack: true, stopReason: 'wall_timeout', output: '' }),
  },
];

async function fresh(): Promise<SandboxSession> {
  return pool.open({ context: CONTEXT, seed: 3, ...BASE }, echo);
}

describe(`hostile cells (${HOSTILE.length})`, () => {
  it('has at least 30 distinct cells', () => {
    expect(new Set(HOSTILE.map((h) => h.code)).size).toBe(HOSTILE.length);
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  });

  for (const h of HOSTILE) {
    it(h.name, async () => {
      const s = await pool.open({ context: CONTEXT, seed: 3, ...BASE, ...h.opts }, h.handler ?? echo);
      const r = await s.run(h.code);
      // an error observation or a dead session — never a silent success, never a rejected promise
      expect(r.error !== undefined || r.dead === true).toBe(true);
      expect(typeof r.output).toBe('string');
      h.check?.(r);
      if (!s.dead) {
        if (h.after) expect((await s.run(h.after[0])).output).toBe(h.after[1]);
        const probe = await s.run(PROBE);
        expect(probe.output).toBe(PROBE_OK);
      }
      await s.close();
      // the pool still serves new sessions
      const f = await fresh();
      const ok = await f.run('const n = context.length; print(n, llm_query("hi"))');
      expect(ok.output).toBe(`${CONTEXT.length} echo:hi\n`);
      expect(ok.error).toBeUndefined();
      await f.close();
    });
  }
});

describe('worker processes', () => {
  it('a worker killed mid-cell: that cell is rolled back (worker_crash), the session goes on elsewhere; the pool respawns', async () => {
    let release!: () => void;
    const slow: SubCallHandler = () => new Promise((resolve) => (release = () => resolve({ text: 'late', model: 'm', promptTokens: 0, completionTokens: 0 })));
    const victim = await pool.open({ context: CONTEXT, seed: 1, ...BASE }, slow);
    const before = pool.stats.respawns;
    await victim.run('let x = 1');
    const pending = victim.run("print('started'); x = 2; llm_query('wait')");
    await new Promise((r) => setTimeout(r, 150));
    const pid = victim.workerPid!;
    process.kill(pid, 'SIGKILL');
    const r = await pending;
    release();
    expect(r).toMatchObject({ rolledBack: true, stopReason: 'worker_crash', output: '' });
    expect(r.dead).toBeUndefined();
    expect(r.error).toBe('Error: the cell crashed its sandbox process and was rolled back; your variables are as before it.');
    expect(victim.dead).toBe(false);
    expect(victim.deaths).toBe(1);
    expect((await victim.run('print(x)')).output).toBe('1\n');
    expect(victim.workerPid).not.toBe(pid);
    await victim.close();
    // replaced, and serving
    for (let i = 0; i < 20 && pool.stats.workers < 2; i++) await new Promise((r2) => setTimeout(r2, 50));
    expect(pool.stats.respawns).toBe(before + 1);
    expect(pool.stats.workers).toBe(2);
    const f = await fresh();
    expect((await f.run('print("after kill")')).output).toBe('after kill\n');
    expect(f.workerPid).not.toBe(pid);
    await f.close();
  });

  it('a retired (tainted) worker takes no new sessions, finishes its own, and is then killed and replaced', async () => {
    const a = await fresh();
    const internals = pool as unknown as { slots: ({ pid: number; exited: Promise<void> } | null)[]; retire(h: unknown): void };
    const handle = internals.slots.find((w) => w?.pid === a.workerPid)!;
    const before = pool.stats.respawns;
    internals.retire(handle);
    expect(pool.stats.respawns).toBe(before + 1);
    // the old worker keeps serving its session
    expect((await a.run('print("still here")')).output).toBe('still here\n');
    // new sessions go elsewhere
    const others = await Promise.all([fresh(), fresh(), fresh()]);
    for (const o of others) expect(o.workerPid).not.toBe(a.workerPid);
    await Promise.all(others.map((o) => o.close()));
    // once its last session closes, it is killed
    await a.close();
    await handle.exited;
    const f = await fresh();
    expect((await f.run('print(1)')).output).toBe('1\n');
    await f.close();
  });

  it('the handler was never called by cells that were refused before sending', () => {
    expect(handlerCalls).toBeGreaterThan(0);
  });
});
