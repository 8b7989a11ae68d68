/**
 * oolong / oolong-pairs at any size: the byte-level record writer produces exactly the tasks it produced before (pinned
 * ids from the string-building generator), the Alea stream is seedrandom's, and host storage (chunk files, streamed)
 * gives the same text as memory, byte-identical per seed, with a gold answer an independent solver recovers from the
 * chunk files and the instance bank alone.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { RLMEnv, SandboxPool, type Message, type SubCallHandler } from '../env/index.ts';
import { parseQuestion, referenceRespond } from '../rollouts/reference/policy.ts';
import { programCells } from '../rollouts/reference/programs.ts';
import { scanCellCount } from '../rollouts/reference/programs-host.ts';
import {
  TaskOptionError,
  countTokens,
  generateTask,
  isChunkedContext,
  oolongBankLabel,
  scoreTask,
  verifyChunkedContext,
  verifyTaskId,
  type ChunkedContext,
  type Task,
} from '../tasks/index.ts';
import { recordsContext } from '../tasks/records-context.ts';
import { drawUserIds, userPieceTokens } from '../tasks/records.ts';
import { Rng } from '../tasks/rng.ts';
import { removeTaskContext } from '../tasks/storage.ts';

const scratch = mkdtempSync(join(tmpdir(), 'rlm-oolong-host-test-'));
let pool: SandboxPool | null = null;
afterAll(async () => {
  await pool?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const chunkText = (ctx: ChunkedContext): string => ctx.chunks.map((c) => readFileSync(join(ctx.dir, c.file), 'utf8')).join('');

describe('record generator: unchanged output', () => {
  it('gives the ids the string-building generator gave (context, question and answer hashed)', () => {
    // Recorded before the byte-level writer replaced string building (same seeds, options, sizes).
    const pinned: [string, number, number, string][] = [
      ['oolong', 16_384, 1, '5ae6557af6f06c46'],
      ['oolong', 16_384, 8, '32d55886fe82455d'],
      ['oolong', 16_384, 15, '99ea07dd33fe1d33'],
      ['oolong', 1_000_000, 0, '964f02970e98c0d4'],
      ['oolong-pairs', 8_192, 1, 'e3d605445ca07e2a'],
      ['oolong-pairs', 8_192, 8, '771f9ba473926834'],
      ['oolong-pairs', 8_192, 15, 'd0bbcf11c94eb50c'],
      ['oolong-pairs', 1_000_000, 0, '14433020d251ecc4'],
    ];
    for (const [family, contextTokens, seed, id] of pinned) {
      const task = generateTask(family, { seed, contextTokens });
      expect(task.id, `${family} ${contextTokens} seed ${seed}`).toBe(id);
      expect(verifyTaskId(task)).toBe(true);
      expect(task.meta.contextChars).toBe((task.context as string).length);
    }
  });

  it('charges every 5-digit user id the same o200k count (checked for all 90,000)', () => {
    const n = userPieceTokens();
    const off: number[] = [];
    for (let id = 10_000; id <= 99_999; id++) if (countTokens(` || User: ${id}`) !== n) off.push(id);
    expect(off).toEqual([]);
  });

  it('draws the same Alea stream as seedrandom', () => {
    for (const name of ['a', 'rlm-gym/oolong/7', 'rlm-gym/oolong/7/records#0/lines', 'x'.repeat(300)]) {
      const ref = seedrandom.alea(name);
      const mine = new Rng(name);
      const got: number[] = [];
      const want: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        got.push(mine.next());
        want.push(ref());
      }
      expect(got).toEqual(want);
    }
  });
});

describe('host storage: streamed chunk files', () => {
  it('holds the in-memory text byte for byte, across chunk boundaries, for both families', () => {
    for (const family of ['oolong', 'oolong-pairs']) {
      for (const seed of [3, 4]) {
        const mem = generateTask(family, { seed, contextTokens: 60_000 });
        const host = generateTask(family, { seed, contextTokens: 60_000, contextStorage: 'host' });
        try {
          expect(isChunkedContext(host.context)).toBe(true);
          const ctx = host.context as ChunkedContext;
          verifyChunkedContext(ctx);
          expect(chunkText(ctx)).toBe(mem.context);
          expect([host.question, host.answer, host.meta.contextTokens, host.meta.contextChars]).toEqual([mem.question, mem.answer, mem.meta.contextTokens, mem.meta.contextChars]);
          expect(ctx.length).toBe(mem.meta.contextChars);
          expect(host.options.contextStorage).toBe('host');
          expect(verifyTaskId(host)).toBe(true);
        } finally {
          removeTaskContext(host);
        }
      }
    }
    // Small chunks: many files, every one cut at a line inside; concatenated they are still the text.
    const rng = () => Rng.forTask('oolong', 11).fork('t');
    const userIds = drawUserIds(rng().fork('u'), 40);
    const plan = { budgetTokens: 30_000, userIds, drawUser: (r: Rng) => r.int(userIds.length), drawLabel: (r: Rng) => r.int(6) };
    const mem = recordsContext(rng(), plan, null);
    const dir = join(scratch, 'small-chunks');
    const host = recordsContext(rng(), plan, dir, { chunkChars: 7_777 });
    const ctx = host.context as ChunkedContext;
    expect(ctx.chunks.length).toBeGreaterThan(10);
    expect(chunkText(ctx)).toBe(mem.context);
    expect([host.records.count, host.records.tokens, host.records.chars, host.records.bytes]).toEqual([mem.records.count, mem.records.tokens, mem.records.chars, mem.records.bytes]);
    expect(Array.from(host.records.label)).toEqual(Array.from(mem.records.label));
  });

  it('is byte-identical per seed: same chunk hashes and id in another directory; sizes are exact o200k counts', () => {
    const a = generateTask('oolong', { seed: 21, contextTokens: 120_000, contextStorage: 'host', contextDir: join(scratch, 'a') });
    const b = generateTask('oolong', { seed: 21, contextTokens: 120_000, contextStorage: 'host', contextDir: join(scratch, 'b') });
    const ca = a.context as ChunkedContext;
    const cb = b.context as ChunkedContext;
    expect(ca.dir).not.toBe(cb.dir);
    expect(ca.chunks.map((c) => c.sha256)).toEqual(cb.chunks.map((c) => c.sha256));
    expect(a.id).toBe(b.id);
    // contextDir is placement, not identity; generating again into the same directory reuses the verified files.
    const again = generateTask('oolong', { seed: 21, contextTokens: 120_000, contextStorage: 'host', contextDir: join(scratch, 'a') });
    expect(again.id).toBe(a.id);
    const text = chunkText(ca);
    expect(countTokens(text)).toBe(a.meta.contextTokens);
    expect(Math.abs((a.meta.contextTokens as number) - 120_000) / 120_000).toBeLessThanOrEqual(0.05);
    // Another seed differs.
    const c = generateTask('oolong', { seed: 22, contextTokens: 120_000, contextStorage: 'host', contextDir: join(scratch, 'a') });
    expect((c.context as ChunkedContext).chunks[0].sha256).not.toBe(ca.chunks[0].sha256);
  });

  it('refuses an in-memory context above 20M tokens with a message naming the way out', () => {
    for (const family of ['oolong', 'oolong-pairs']) {
      expect(() => generateTask(family, { seed: 1, contextTokens: 30_000_000, contextStorage: 'memory' })).toThrow(TaskOptionError);
      expect(() => generateTask(family, { seed: 1, contextTokens: 30_000_000, contextStorage: 'memory' })).toThrow(/contextStorage 'host'/);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// An independent solver over the chunk files: its own parsing, labels from the instance bank (the public door).

const LABELS = ['abbreviation', 'entity', 'description', 'human', 'location', 'numeric'];
const MONTH = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const dayKey = (mon: string, dd: string, yyyy: string): number => Number(yyyy) * 10_000 + (MONTH.indexOf(mon) + 1) * 100 + Number(dd);

/** Reads the chunk files one at a time (never the whole text at once) and calls `each` per record line. */
function forEachRecord(ctx: ChunkedContext, each: (user: number, day: number, label: string) => void): number {
  let rest = '';
  let n = 0;
  const re = /^Date: (\w{3}) (\d{2}), (\d{4}) \|\| User: (\d{5}) \|\| Instance: (.+)$/;
  for (const c of ctx.chunks) {
    const text = rest + readFileSync(join(ctx.dir, c.file), 'utf8');
    const lines = text.split('\n');
    rest = lines.pop() as string;
    for (const line of lines) {
      const m = re.exec(line);
      if (!m) throw new Error(`unparsable record line: ${line}`);
      const label = oolongBankLabel(m[5]);
      if (label === null) throw new Error(`instance not in the bank: ${m[5]}`);
      each(Number(m[4]), dayKey(m[1], m[2], m[3]), label);
      n++;
    }
  }
  expect(rest).toBe('');
  return n;
}

function solveHostOolong(task: Task): string {
  const ctx = task.context as ChunkedContext;
  const q = task.question;
  let m: RegExpExecArray | null;
  let keep: (user: number, day: number) => boolean = () => true;
  if ((m = /records of the users ([\d, and]+) \(taken together\)/.exec(q))) {
    const users = new Set(m[1].split(/, | and /).map(Number));
    keep = (u) => users.has(u);
  } else if ((m = /records dated from (\w{3}) (\d{2}), (\d{4}) to (\w{3}) (\d{2}), (\d{4}) \(both dates inclusive\)/.exec(q))) {
    const from = dayKey(m[1], m[2], m[3]);
    const to = dayKey(m[4], m[5], m[6]);
    keep = (_, d) => d >= from && d <= to;
  }
  const counts: Record<string, number> = Object.fromEntries(LABELS.map((l) => [l, 0]));
  const all: Record<string, number> = Object.fromEntries(LABELS.map((l) => [l, 0]));
  const n = forEachRecord(ctx, (u, d, l) => {
    all[l]++;
    if (keep(u, d)) counts[l]++;
  });
  expect(n).toBe(task.meta.records);
  expect(all).toEqual(task.meta.labelCounts);
  if ((m = /have an instance in the category '(\w+)'\?/.exec(q))) return String(counts[m[1]]);
  if ((m = /which category has the (most|least) instances\?/.exec(q))) {
    const values = LABELS.map((l) => counts[l]);
    const best = m[1] === 'most' ? Math.max(...values) : Math.min(...values);
    const winners = LABELS.filter((l) => counts[l] === best);
    expect(winners).toHaveLength(1);
    return winners[0];
  }
  if ((m = /is the category '(\w+)' more common, less common, or the same frequency as the category '(\w+)'/.exec(q))) {
    const a = counts[m[1]];
    const b = counts[m[2]];
    return a > b ? 'more' : a < b ? 'less' : 'same';
  }
  throw new Error(`unrecognized oolong question: ${q}`);
}

describe('host storage: gold answers', () => {
  it('oolong: every query kind is recovered from the chunk files + the bank', () => {
    const kinds = ['count', 'most_frequent', 'least_frequent', 'compare', 'count_users', 'count_dates'];
    kinds.forEach((query, i) => {
      const task = generateTask('oolong', { seed: 40 + i, contextTokens: 40_000 + i * 7_000, query, contextStorage: 'host', contextDir: join(scratch, 'gold') });
      const solved = solveHostOolong(task);
      expect(solved, `${query} seed ${40 + i}`).toBe(task.answer);
      expect(scoreTask(task, solved).score).toBe(1);
    });
  });

  it('oolong-pairs: the pair set is recovered from the chunk files + the bank', () => {
    for (const seed of [5, 6, 7, 8]) {
      const task = generateTask('oolong-pairs', { seed, contextTokens: 9_000, contextStorage: 'host', contextDir: join(scratch, 'pairs') });
      const per = new Map<number, Record<string, number>>();
      forEachRecord(task.context as ChunkedContext, (u, _d, l) => {
        const row = per.get(u) ?? Object.fromEntries(LABELS.map((x) => [x, 0]));
        row[l]++;
        per.set(u, row);
      });
      const test = pairTest(task.question);
      const users = [...per.keys()].sort((x, y) => x - y);
      const pairs: string[] = [];
      for (let i = 0; i < users.length; i++) {
        for (let j = i + 1; j < users.length; j++) if (test(per.get(users[i])!, per.get(users[j])!)) pairs.push(`(${users[i]}, ${users[j]})`);
      }
      expect(pairs.join('\n'), `seed ${seed}`).toBe(task.answer);
      expect(scoreTask(task, pairs.join('\n')).score).toBe(1);
    }
    expect(readdirSync(join(scratch, 'pairs')).length).toBe(4);
  });
});

type Row = Record<string, number>;
/** The condition of a pairs question, read from its wording (the seven documented shapes). */
function pairTest(q: string): (x: Row, y: Row) => boolean {
  const has = (u: Row, l: string): boolean => u[l] > 0;
  const shapes: [RegExp, (a: string, b: string) => (x: Row, y: Row) => boolean][] = [
    [/both users have at least one instance in the category '(\w+)'\./, (a) => (x, y) => has(x, a) && has(y, a)],
    [/both users have at least one '(\w+)' instance and at least one '(\w+)' instance\./, (a, b) => (x, y) => has(x, a) && has(y, a) && has(x, b) && has(y, b)],
    [/both users have at least one '(\w+)' instance, and at least one of the two users has a '(\w+)' instance\./, (a, b) => (x, y) => has(x, a) && has(y, a) && (has(x, b) || has(y, b))],
    [/one of the two users has at least one '(\w+)' instance and the other user has at least one '(\w+)' instance\./, (a, b) => (x, y) => (has(x, a) && has(y, b)) || (has(x, b) && has(y, a))],
    [/both users have at least one '(\w+)' instance and neither user has any '(\w+)' instance\./, (a, b) => (x, y) => has(x, a) && has(y, a) && !has(x, b) && !has(y, b)],
    [/both users have at least (\d+) instances in the category '(\w+)'\./, (k, a) => (x, y) => x[a] >= Number(k) && y[a] >= Number(k)],
    [/both users have at least one '(\w+)' instance, and exactly one of the two users has a '(\w+)' instance\./, (b, a) => (x, y) => has(x, b) && has(y, b) && has(x, a) !== has(y, a)],
  ];
  for (const [re, make] of shapes) {
    const m = re.exec(q);
    if (m) return make(m[1], m[2]);
  }
  throw new Error(`unrecognized pairs question: ${q}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Episodes: the reference policy plays host-stored tasks through RLMEnv (the REPL's `context` is the host API).

const refSub: SubCallHandler = async (req) => ({ text: referenceRespond([{ role: 'user', content: req.prompt }]), model: 'ref', promptTokens: 0, completionTokens: 0 });

async function playHost(family: string, taskOptions: Record<string, unknown>, seed: number) {
  pool ??= new SandboxPool({ workers: 1 });
  const env = new RLMEnv({ task: family, taskOptions, contextStorage: 'host', contextDir: join(scratch, 'episodes'), pool, subModel: refSub });
  try {
    const { observation } = await env.reset({ seed });
    const msgs: Message[] = [...observation];
    const replies: string[] = [];
    for (;;) {
      const reply = referenceRespond(msgs);
      replies.push(reply);
      const r = await env.step(reply);
      msgs.push({ role: 'assistant', content: reply }, ...r.observation);
      if (r.terminated || r.truncated) return { score: r.info.score?.score ?? 0, turns: r.info.turn, subCalls: r.info.subCalls, replies, observations: msgs.filter((m) => m.role === 'user').map((m) => m.content) };
      if (replies.length > 10) throw new Error('episode did not end');
    }
  } finally {
    await env.close();
  }
}

describe('host storage: the reference programs', () => {
  it('every phase of both families is valid JS in several cells; a 100M-token context gets 14 scan cells', () => {
    const b = { subCallsLeft: 500, maxPromptChars: 400_000 };
    const shape = { chars: 329_034_732, lines: 3_384_308 };
    expect(scanCellCount(shape)).toBe(14);
    for (const [family, query] of [['oolong', 'count'], ['oolong', 'count_users'], ['oolong', 'count_dates'], ['oolong', 'compare'], ['oolong-pairs', null]] as const) {
      const task = generateTask(family, { seed: 9, contextTokens: 3_000, ...(query ? { query } : {}) });
      const q = parseQuestion(task.question);
      for (const phase of ['explore', 'solve', 'safe', 'resort'] as const) {
        const cells = programCells(q, phase, b, shape);
        expect(cells.length, `${family} ${phase}`).toBe(phase === 'explore' || phase === 'resort' ? 1 : 16);
        // Each cell compiles on its own (the REPL runs them one by one, sharing top-level names).
        for (const code of cells) expect(() => new Function('context', 'print', 'FINAL', 'llm_query_batched', code)).not.toThrow();
      }
      // Without a host-backed context nothing changes: the in-memory program, one cell.
      expect(programCells(q, 'solve', b, null)).toHaveLength(1);
    }
  });
});

describe('host storage: episodes through RLMEnv', () => {
  it('oolong: the reference policy scans the host-backed context in cells, classifies distinct texts by sub-calls and scores 1', async () => {
    for (const [seed, query] of [[2, 'count'], [3, 'count_dates'], [4, 'most_frequent']] as const) {
      const r = await playHost('oolong', { contextTokens: 150_000, query }, seed);
      expect(r.score, `seed ${seed} ${query}\n${r.observations.join('\n---\n').slice(-3000)}`).toBe(1);
      expect(r.turns).toBe(2);
      expect(r.subCalls).toBeGreaterThan(0);
      // The task message described a host-backed context, and the solve reply ran several cells.
      expect(r.observations[0]).toMatch(/host-backed text of [\d,]+ characters/);
      expect((r.replies[1].match(/```repl/g) ?? []).length).toBeGreaterThanOrEqual(3);
    }
  }, 120_000);

  it('oolong-pairs: the same scan gives per-user label counts and the exact pair set', async () => {
    const r = await playHost('oolong-pairs', { contextTokens: 12_000 }, 5);
    expect(r.score).toBe(1);
    expect(r.observations[0]).toMatch(/host-backed text/);
  }, 120_000);
});
