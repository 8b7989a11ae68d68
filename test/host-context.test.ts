// Host-backed giant contexts: the REPL's `context` object over chunk files (env/sandbox/host-context*.ts), its bounds
// and errors, a catastrophic regex cut off, cancellation by the cell's deadlines, a 200M-char sniah episode through
// RLMEnv, and replay refusing a tampered chunk file.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RLMEnv, SandboxPool, type SandboxSession } from '../env/index.ts';
import { HostContext, closeSearchThreads } from '../env/sandbox/host-context.ts';
import { createChunkWriter, type ChunkedContext } from '../tasks/chunked.ts';
import { generateTask, isChunkedContext } from '../tasks/index.ts';
import { connect, runRollouts, type SamplingParams } from '../rollouts/index.ts';
import { RunWriter, replayRun } from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/types.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'rlm-host-ctx-test-'));
let pool: SandboxPool;
beforeAll(() => {
  pool = new SandboxPool({ workers: 1 });
});
afterAll(async () => {
  await pool.close();
  closeSearchThreads();
  rmSync(root, { recursive: true, force: true });
});

const noSub = async () => ({ text: 'x', model: 'm', promptTokens: 0, completionTokens: 0 });
let nDir = 0;
const newDir = () => path.join(root, `ctx${nDir++}`);

/** Line i: "row <i> the special magic number for k<i> is <1000+i>." — 50k lines ≈ 2.6M chars, over 4 chunk files. */
function rowsContext(rows = 50_000): { ctx: ChunkedContext; text: string } {
  const parts: string[] = [];
  for (let i = 0; i < rows; i++) parts.push(`row ${i} the special magic number for k${i} is ${1000 + i}.`);
  const text = parts.join('\n');
  const w = createChunkWriter(newDir(), { chunkChars: 700_000 });
  for (let i = 0; i < text.length; i += 65_537) w.write(text.slice(i, i + 65_537));
  return { ctx: w.close(), text };
}

async function open(ctx: ChunkedContext, limits: Record<string, number> = {}): Promise<SandboxSession> {
  return pool.open({ context: ctx, seed: 1, ...limits }, noSub);
}
const out = async (s: SandboxSession, code: string) => {
  const r = await s.run(code);
  return { text: r.output.trim(), error: r.error ?? null, r };
};

describe('the host-backed context API', () => {
  let s: SandboxSession;
  let text: string;
  beforeAll(async () => {
    const made = rowsContext();
    text = made.text;
    s = await open(made.ctx);
  });
  afterAll(async () => s.close());

  it('length, lineCount, kind, toString', async () => {
    const r = await out(s, 'print(context.kind, context.length, context.lineCount, typeof context.slice); print(String(context))');
    expect(r.error).toBeNull();
    expect(r.text.split('\n')[0]).toBe(`host ${text.length} 50000 function`);
    expect(r.text).toContain('host-backed context');
  });

  it('slice: String.prototype.slice semantics, across chunk files', async () => {
    const r = await out(s, 'print(JSON.stringify([context.slice(0, 20), context.slice(699_990, 700_010), context.slice(-12), context.slice(5, 2), context.slice(1_399_000, 1_401_000).length]))');
    expect(JSON.parse(r.text)).toEqual([text.slice(0, 20), text.slice(699_990, 700_010), text.slice(-12), '', 2000]);
  });

  it('lines(i, j): lines i … j-1, numbered from 0', async () => {
    const r = await out(s, 'print(JSON.stringify([context.lines(0, 2), context.lines(49_999, 60_000), context.lines(7), context.lines(50_000, 50_001)]))');
    expect(JSON.parse(r.text)).toEqual([text.split('\n').slice(0, 2), [text.split('\n')[49_999]], [text.split('\n')[7]], []]);
  });

  it('search: offsets, line, groups, surrounding text; limit, from/to, string patterns', async () => {
    const r = await out(s, `
const a = context.search(/magic number for k(4\\d{4}) is (\\d+)/, { limit: 3, window: 10 });
const b = context.search('k12345 is', { limit: 5 });
const c = context.search(/row 4999\\d/i, { from: context.lines(49_995)[0].length, to: 3_000_000, limit: 100 });
print(JSON.stringify({ a, bLen: b.length, b0: b[0].index, c: c.map((m) => m.line) }));`);
    expect(r.error).toBeNull();
    const j = JSON.parse(r.text);
    const at = text.indexOf('magic number for k40000 is');
    expect(j.a).toHaveLength(3);
    expect(j.a[0]).toMatchObject({ index: at, end: at + 'magic number for k40000 is 41000'.length, line: 40_000, match: 'magic number for k40000 is 41000', groups: ['40000', '41000'] });
    expect(j.a[0].before).toBe(text.slice(at - 10, at));
    expect(j.a[0].after).toBe(text.slice(j.a[0].end, j.a[0].end + 10));
    expect(j.bLen).toBe(1);
    expect(j.b0).toBe(text.indexOf('k12345 is'));
    // The text a search returns is bounded (4 Mi chars): 10,000 matches with 2,000-char windows stop early.
    const many = await out(s, 'print(context.search(/row/, { limit: 10000, window: 2000 }).length)');
    expect(Number(many.text)).toBeGreaterThan(500);
    expect(Number(many.text)).toBeLessThan(1100);
    expect(j.c).toEqual([49_990, 49_991, 49_992, 49_993, 49_994, 49_995, 49_996, 49_997, 49_998, 49_999].filter((l) => text.indexOf(`row ${l}`) >= text.split('\n')[49_995].length));
  });

  it('chunks(size, { overlap }) gives ranges usable with slice', async () => {
    const r = await out(s, `
const cs = context.chunks(1_000_000, { overlap: 100 });
print(JSON.stringify({ n: cs.length, first: cs[0], last: cs[cs.length - 1], joined: cs.map((c, i) => context.slice(c.start + (i ? 100 : 0), c.end)).join('').length }));`);
    const j = JSON.parse(r.text);
    expect(j.first).toEqual({ index: 0, start: 0, end: 1_000_000 });
    expect(j.last.end).toBe(text.length);
    expect(j.joined).toBe(text.length);
    expect(j.n).toBe(Math.ceil((text.length - 100) / 999_900));
  });

  it('bad arguments and sizes are clear errors, and the session keeps working', async () => {
    const cases: [string, RegExp][] = [
      ['context.slice(0.5, 3)', /TypeError: context\.slice\(start, end\): start must be an integer/],
      ["context.slice('0', 3)", /start must be an integer \(got string\)/],
      ['context.lines(-1, 3)', /RangeError: context\.lines\(start, end\): need 0 <= start <= end/],
      ['context.search(42)', /TypeError: .*regex must be a RegExp or a pattern string/],
      ["context.search('(unclosed')", /SyntaxError: context\.search: Invalid regular expression/],
      ['context.search(/a/, { limit: 0 })', /RangeError: .*limit must be 1 … 10,000/],
      ['context.search(/a/, { window: 5000 })', /window must be 0 … 2,000/],
      ['context.chunks(0)', /RangeError: context\.chunks\(size, \{ overlap \}\): size must be 1 … 4,194,304/],
      ['context.chunks(100, { overlap: 100 })', /overlap must be 0 … size - 1/],
      ['context.chunks(10)', /chunks of 10 chars; at most 100,000 — use a larger size/],
      ["context.split('\\n')", /TypeError: context\.split is not available: this context is host-backed/],
      ['context.doc(0)', /TypeError: context\.doc is not a function/],
    ];
    for (const [code, re] of cases) expect((await out(s, code)).error, code).toMatch(re);
    expect((await out(s, 'print(context.slice(0, 3))')).text).toBe('row');
  });

  it('the context object cannot be replaced or extended', async () => {
    const r = await out(s, "context = 'x'; context.slice = () => 'hacked'; context.extra = 1; delete context.search; print(typeof context, context.slice(0, 3), context.extra, typeof context.search)");
    expect(r.error).toBeNull();
    expect(r.text).toBe('object row undefined function');
  });
});

describe('bounds, a catastrophic regex, deadlines', () => {
  let big: ChunkedContext;
  beforeAll(() => {
    // 6M chars of 'a' (no match for /(a+)+b/: exponential backtracking on every start position).
    const w = createChunkWriter(newDir(), { chunkChars: 4_000_000 });
    const block = 'a'.repeat(1 << 20);
    for (let i = 0; i < 6; i++) w.write(block);
    big = w.close();
  });

  it('slice above 4,194,304 chars is refused with a message saying what to do; lines too', async () => {
    const s = await open(big);
    try {
      const r = await out(s, 'context.slice(0, 5_000_000)');
      expect(r.error).toMatch(/RangeError: context\.slice\(start, end\) returns at most 4,194,304 chars; \[0, 5,000,000\) is 5,000,000\. Read it in pieces \(context\.chunks\(size\)/);
      expect((await out(s, 'context.lines(0, 1)')).error).toMatch(/RangeError: context\.lines: lines 0 … 0 are 6,291,456 chars; at most 4,194,304 per call/);
      expect((await out(s, 'print(context.slice(-4_194_304).length)')).text).toBe('4194304');
    } finally {
      await s.close();
    }
  });

  it('a catastrophic regex is cut off at the cell CPU limit; the REPL keeps its state', async () => {
    const s = await open(big, { cellCpuTimeoutMs: 1_500 });
    try {
      await out(s, 'var kept = 41;');
      const t0 = performance.now();
      const r = await out(s, 'context.search(/(a+)+b/)');
      const ms = performance.now() - t0;
      expect(r.error).toMatch(/TimeoutError: context\.search was cut off: it reached the cell's CPU time limit of 1,500 ms/);
      expect(ms).toBeLessThan(30_000); // anti-hang bound (the cut itself is at 1.5 s of the thread's CPU time)
      expect((await out(s, 'print(kept + 1, context.search(/a{3}/, { limit: 2 }).length)')).text).toBe('42 2');
    } finally {
      await s.close();
    }
  });

  it('the cell wall deadline cancels a search in flight (the cell is rolled back, the session lives on)', async () => {
    const s = await open(big, { cellCpuTimeoutMs: 600_000, cellWallTimeoutMs: 1_500 });
    try {
      await out(s, 'var kept = 7;');
      const t0 = performance.now();
      const r = await s.run('context.search(/(a+)+b/)');
      expect(performance.now() - t0).toBeLessThan(30_000);
      expect(r.stopReason).toBe('wall_timeout');
      expect((await out(s, 'print(kept)')).text).toBe('7');
    } finally {
      await s.close();
    }
  });

  it('rollout --repl python with a host-sized context fails at once, before generating anything', async () => {
    const out = path.join(root, 'py-run');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'scripts/rollout.ts', '--task', 'sniah', '--context-tokens', '1000000000', '--repl', 'python', '--out', out], { timeout: 60_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--repl python does not support host-backed contexts .*use --repl js/);
    expect(existsSync(out)).toBe(false);
  }, 90_000);

  it('the Python REPL refuses a host-backed context with a clear error', async () => {
    await expect(pool.open({ context: big, seed: 1, repl: 'python' }, noSub)).rejects.toThrow(/Python REPL does not support host-backed contexts/);
  });
});

describe('a 200M-char sniah episode through RLMEnv', () => {
  it('auto storage puts it on disk; the model finds the needle with context.search; the files are removed after', async () => {
    const contextDir = undefined;
    const env = new RLMEnv({ task: 'sniah', taskOptions: { contextTokens: 38_500_000, depth: 0.8 }, pool, maxTurns: 3, contextDir, sandbox: { cellCpuTimeoutMs: 60_000 } });
    try {
      const t0 = performance.now();
      const { observation } = await env.reset({ seed: 11 });
      const task = env.currentTask!;
      expect(isChunkedContext(task.context)).toBe(true);
      const ctx = task.context as ChunkedContext;
      expect(ctx.length).toBeGreaterThan(200_000_000);
      expect(Math.abs(Number(task.meta.contextTokens) - 38_500_000) / 38_500_000).toBeLessThan(0.05);
      expect(observation[0].content).toContain('context.search(regex');
      expect(observation[1].content).toMatch(/`context` is a host-backed text of 2\d\d,\d{3},\d{3} characters/);
      const key = String(task.meta.key);
      const r = await env.step('```repl\nconst h = context.search(new RegExp("The special magic number for " + ' + JSON.stringify(key) + ' + " is (\\\\d+)\\\\."), { limit: 1 })[0];\nprint(h.index, h.line);\nFINAL(h.groups[0]);\n```');
      expect(r.terminated).toBe(true);
      expect(r.reward).toBe(1);
      expect(env.steps[0].observation).toContain(String(task.meta.needleCharOffset));
      expect(performance.now() - t0).toBeLessThan(120_000); // anti-hang bound
      await env.reset({ seed: 12, task: { ...task, context: 'small' } });
      expect(() => readdirSync(ctx.dir)).toThrow(); // the temp dir of the first task is gone
    } finally {
      await env.close();
    }
  }, 180_000);
});

describe('replay verifies the chunk hashes', () => {
  it('a run on host-backed contexts replays; a changed chunk file is refused, naming the file', async () => {
    const dir = mkdtempSync(path.join(root, 'run-'));
    const contextDir = path.join(root, 'contexts');
    const conn = await connect({ model: 'reference' });
    const sampling: Omit<SamplingParams, 'seed'> = { temperature: 0, top_p: 1, max_tokens: 1024, stop: null, top_k: null, logprobs: false, extra_body: null };
    const writer = await RunWriter.open(dir, { runId: 'host', manifest: { seed: 4, config: { reward: 'accuracy' }, extra: { env: {} } } });
    const got: EpisodeRecord[] = [];
    await runRollouts({
      runId: 'host', families: ['sniah'], n: 1, seed: 4, taskOptions: { contextTokens: 300_000 }, placement: { contextStorage: 'host', contextDir },
      policies: conn.clients, sampling, pool, onEpisode: async (e) => { got.push(e); await writer.add(e); },
    });
    await writer.close();
    await conn.close();
    expect(got[0].score).toBe(1);
    expect(JSON.parse(got[0].task_options)).toMatchObject({ contextStorage: 'host', contextDir });
    const ok = await replayRun(dir, { pool });
    expect(ok.mismatches).toEqual([]);
    expect(ok.ok).toBe(1);
    // Tamper with one byte of the first chunk file.
    const [taskDir] = readdirSync(contextDir);
    const file = path.join(contextDir, taskDir, 'chunk-000000.txt');
    const bytes = readFileSync(file);
    bytes[1000] = bytes[1000] === 0x61 ? 0x62 : 0x61;
    writeFileSync(file, bytes);
    const bad = await replayRun(dir, { pool });
    expect(bad.ok).toBe(0);
    expect(bad.mismatches[0].field).toBe('task');
    expect(bad.mismatches[0].actual).toMatch(/context file .*chunk-000000\.txt changed since the task was generated/);
    // Regenerating the same task into the same dir refuses too (nothing is silently overwritten).
    expect(() => generateTask('sniah', JSON.parse(got[0].task_options))).toThrow(/chunk-000000\.txt changed/);
    // The recorded dir gone (another machine): replay regenerates into a temp dir and does not recreate the recorded path.
    rmSync(contextDir, { recursive: true, force: true });
    const moved = await replayRun(dir, { pool });
    expect(moved.mismatches).toEqual([]);
    expect(existsSync(contextDir)).toBe(false);
    // --context-dir: regenerated (and kept) there.
    const other = path.join(root, 'contexts-other');
    expect((await replayRun(dir, { pool, contextDir: other })).ok).toBe(1);
    expect(readdirSync(other)).toHaveLength(1);
  }, 120_000);

  it('a run on temp dirs replays by regenerating the identical files, and leaves no files behind', async () => {
    const tempDirs = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith('rlm-gym-context-sniah-')).sort();
    const before = tempDirs();
    const dir = mkdtempSync(path.join(root, 'run-'));
    const conn = await connect({ model: 'reference' });
    const sampling: Omit<SamplingParams, 'seed'> = { temperature: 0, top_p: 1, max_tokens: 1024, stop: null, top_k: null, logprobs: false, extra_body: null };
    const writer = await RunWriter.open(dir, { runId: 'tmp', manifest: { seed: 5, config: { reward: 'accuracy' }, extra: { env: {} } } });
    await runRollouts({
      runId: 'tmp', families: ['sniah'], n: 2, seed: 5, taskOptions: { contextTokens: 20_000 }, placement: { contextStorage: 'host' },
      policies: conn.clients, sampling, pool, onEpisode: async (e) => void (await writer.add(e)),
    });
    await writer.close();
    await conn.close();
    expect(tempDirs()).toEqual(before);
    const r = await replayRun(dir, { pool });
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(2);
    expect(tempDirs()).toEqual(before);
  }, 120_000);
});

describe('document corpora', () => {
  it('context.docs.length and context.doc(i) read documents from disk', async () => {
    const w = createChunkWriter(newDir(), { chunkChars: 1000 });
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, title: `Title ${i}`, text: `Document ${i} says ${'x'.repeat(i * 10)} and ends.` }));
    for (const d of docs) w.writeDoc(d);
    const ctx = w.close();
    const s = await open(ctx);
    try {
      const r = await out(s, 'const d = context.doc(42); print(context.docs.length, d.id, d.title, d.text === context.slice(d.start, d.end), JSON.stringify(d.text.slice(0, 15)))');
      expect(r.error).toBeNull();
      expect(r.text).toBe('50 d42 Title 42 true "Document 42 say"');
      expect((await out(s, 'context.doc(50)')).error).toMatch(/RangeError: context\.doc\(i\): i must be 0 … 49 \(got 50\)/);
      expect((await out(s, "context.doc('1')")).error).toMatch(/TypeError: context\.doc\(i\): i must be an integer/);
      expect((await out(s, 'print(context.search(/Document 4\\d says/, { limit: 3 }).map((m) => m.match).join("|"))')).text).toBe('Document 40 says|Document 41 says|Document 42 says');
    } finally {
      await s.close();
    }
  });
});

describe('the host trusts nothing from the isolate (review of the host-backed API)', () => {
  let made: { ctx: ChunkedContext; text: string };
  let s: SandboxSession;
  beforeAll(async () => {
    made = rowsContext();
    s = await open(made.ctx);
  });
  afterAll(async () => s.close());
  const budget = () => ({ deadline: performance.now() + 30_000, cpuMs: 30_000, cellCpuMs: 30_000 });

  it('a toJSON on Object.prototype / Array.prototype in the cell does not change what the host receives', async () => {
    const r = await out(s, `
Object.prototype.toJSON = function () { return { op: 'slice', args: [0, 50] }; };
Array.prototype.toJSON = function () { return ['slice', 0, 50]; };
const sl = context.slice(100, 110);
const hits = context.search('k777 is', { limit: 2 });
const ln = context.lines(3, 4);
delete Object.prototype.toJSON; delete Array.prototype.toJSON;
print(JSON.stringify({ sl, n: hits.length, at: hits[0].index, m: hits[0].match, ln }));`);
    expect(r.error).toBeNull();
    const j = JSON.parse(r.text);
    expect(j.sl).toBe(made.text.slice(100, 110));
    expect(j.n).toBe(1);
    expect(j.at).toBe(made.text.indexOf('k777 is'));
    expect(j.m).toBe('k777 is');
    expect(j.ln).toEqual([made.text.split('\n')[3]]);
  });

  it('the host re-checks every argument: an over-long pattern, bad flags, out-of-range offsets, extra args, unknown ops', async () => {
    const h = new HostContext(made.ctx);
    try {
      const ask = async (payload: unknown) => JSON.parse((await h.call(JSON.stringify(payload), budget())).reply) as { v?: unknown; e?: string; n?: string };
      const long = await ask({ op: 'search', args: ['a'.repeat(10_001), '', 0, 10, 1, 0] });
      expect(long.n).toBe('RangeError');
      expect(long.e).toMatch(/the pattern is 10,001 chars; at most 10,000/);
      expect((await ask({ op: 'search', args: ['a', 'gx', 0, 10, 1, 0] })).n).toBe('SyntaxError');
      expect((await ask({ op: 'search', args: ['a', '', 0, made.ctx.length + 1, 1, 0] })).e).toMatch(/argument 4 must be/);
      expect((await ask({ op: 'search', args: ['a', '', 0, 10, 10_001, 0] })).e).toMatch(/argument 5 must be 1 … 10,000/);
      expect((await ask({ op: 'slice', args: [-5, 10] })).e).toMatch(/argument 1 must be 0 …/);
      expect((await ask({ op: 'slice', args: [10, 5] })).e).toMatch(/argument 2 must be 10 …/);
      expect((await ask({ op: 'slice', args: [0, 5, 7] })).e).toMatch(/expected 2 arguments/);
      expect((await ask({ op: 'slice', args: { 0: 1, 1: 2, length: 2 } })).e).toMatch(/expected 2 arguments/);
      expect((await ask({ op: 'constructor', args: [] })).e).toMatch(/unknown operation 'constructor'/);
      expect((await ask({ op: 'slice', args: [0, 5] })).v).toBe(made.text.slice(0, 5));
      // The search's reply: matches and whether it stopped early.
      expect((await ask({ op: 'search', args: ['k77 is', '', 0, made.ctx.length, 5, 0] })).v).toEqual({ matches: [expect.objectContaining({ match: 'k77 is' })], limited: false });
    } finally {
      h.close();
    }
  });

  it('search reports limited: at the limit, and when the 4 Mi-char reply cap ends it early (never over the cap)', async () => {
    const r = await out(s, `
const a = context.search(/row \\d+/, { limit: 10000, window: 2000 });
let chars = 0;
for (const m of a) chars += m.match.length + m.before.length + m.after.length;
const b = context.search(/row \\d+/, { limit: 3 });
const c = context.search('k12345 is');
print(JSON.stringify({ n: a.length, limited: a.limited, chars, bn: b.length, bl: b.limited, cn: c.length, cl: c.limited, keys: Object.keys(c) }));`);
    expect(r.error).toBeNull();
    const j = JSON.parse(r.text);
    expect(j.limited).toBe(true);
    expect(j.n).toBeGreaterThan(500);
    expect(j.n).toBeLessThan(10_000); // the reply cap, not the limit, ended it
    expect(j.chars).toBeLessThanOrEqual(1 << 22);
    expect([j.bn, j.bl]).toEqual([3, true]);
    expect([j.cn, j.cl]).toEqual([1, false]);
    expect(j.keys).toEqual(['0']); // printing the array is unchanged: limited is not enumerable
  });
});

describe('search threads hold no files', () => {
  it('after searches and session close, the worker process has no chunk file open', async () => {
    const { ctx } = rowsContext(5_000);
    const s = await open(ctx);
    const r = await out(s, 'print(context.search(/row \\d+/, { limit: 3 }).length, context.search("k42 is").length, context.slice(0, 3))');
    expect(r.text).toBe('3 1 row');
    const openIn = (pid: number) => {
      try {
        return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
          try {
            return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
          } catch {
            return [];
          }
        });
      } catch {
        return [];
      }
    };
    const pids = pool.workerPids();
    expect(pids.length).toBeGreaterThan(0);
    await s.close();
    // The session's descriptors are closed with it (the search threads only borrowed them).
    let held: string[] = [];
    for (let i = 0; i < 50; i++) {
      held = pids.flatMap(openIn).filter((f) => f.startsWith(ctx.dir));
      if (held.length === 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(held).toEqual([]);
  });
});

describe('RLMEnv and temp contexts', () => {
  it('a reopened session (after a sandbox death) still reads the owned temp context; close removes it', async () => {
    const env = new RLMEnv({ task: 'sniah', taskOptions: { contextTokens: 5_000, contextStorage: 'host' }, pool, maxTurns: 4 });
    let dir = '';
    try {
      await env.reset({ seed: 3 });
      const task = env.currentTask!;
      expect(isChunkedContext(task.context)).toBe(true);
      dir = (task.context as ChunkedContext).dir;
      expect(await (env as unknown as { reopenSession(): Promise<boolean> }).reopenSession()).toBe(true);
      expect(readdirSync(dir).length).toBeGreaterThan(0);
      const key = String(task.meta.key);
      const r = await env.step('```repl\nconst h = context.search(' + JSON.stringify(`for ${key} is `) + ')[0];\nFINAL(context.slice(h.end, h.end + 40).split(".")[0]);\n```');
      expect(r.terminated).toBe(true);
      expect(r.reward).toBe(1);
    } finally {
      await env.close();
    }
    expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it('a generator error after the chunk writer opened leaves no temp dir (and no open file)', () => {
    const tmp = mkdtempSync(path.join(root, 'tmpdir-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      expect(os.tmpdir()).toBe(tmp);
      // 100 distractor needles do not fit in 300 tokens: sniah throws after writing the text.
      expect(() => generateTask('sniah', { seed: 1, contextTokens: 300, distractors: 100, contextStorage: 'host' })).toThrow(/too small/);
      expect(readdirSync(tmp)).toEqual([]);
      if (existsSync('/proc/self/fd')) {
        const open = readdirSync('/proc/self/fd').flatMap((fd) => {
          try {
            return [readlinkSync(`/proc/self/fd/${fd}`)];
          } catch {
            return [];
          }
        });
        expect(open.filter((f) => f.startsWith(tmp))).toEqual([]);
      }
      // Into a user's contextDir: the files it wrote are removed, what was there before is kept.
      const userDir = path.join(tmp, 'mine');
      generateTask('sniah', { seed: 2, contextTokens: 2_000, contextStorage: 'host', contextDir: userDir });
      const before = readdirSync(userDir).sort();
      expect(() => generateTask('sniah', { seed: 1, contextTokens: 300, distractors: 100, contextStorage: 'host', contextDir: userDir })).toThrow(/too small/);
      expect(readdirSync(userDir).sort()).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
