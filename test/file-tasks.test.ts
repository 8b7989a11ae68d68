/**
 * Your own tasks from files (`--task file:PATH`): every scorer, bad rows (row number + column), Parquet, and the CLI
 * path — rollout, replay, and the refusal of a changed file by replay and resume.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeParquet, readRun } from '../datasets/index.ts';
import { TaskFileError, extractChoice, generateTask, lastBoxed, loadTaskFile, parseDate, scoreTask } from '../tasks/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-filetasks-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(import.meta.dirname, '..');

let fileNo = 0;
function jsonl(rows: unknown[]): string {
  const p = path.join(tmp, `t${fileNo++}.jsonl`);
  fs.writeFileSync(p, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  return p;
}

const base = { question: 'Q?', context: 'some context' };

describe('file tasks: every scorer', () => {
  const file = jsonl([
    { id: 'exact', ...base, answer: 'Mango', scorer: 'exact' },
    { id: 'num', ...base, answer: 47, scorer: 'numeric_decay' },
    { id: 'pairs', ...base, answer: [[3, 1], [2, 5]], scorer: 'f1_pairs' },
    { id: 'set', ...base, answer: ['red', 'blue', 'green'], scorer: 'f1_set' },
    { id: 'contains', ...base, answer: 'Ada Lovelace', aliases: ['Countess of Lovelace'], scorer: 'contains' },
    { id: 'choice', ...base, answer: 'C', scorer: 'choice' },
    { id: 'aliases', ...base, answer: 'Ada Lovelace', aliases: ['Lovelace', 'A. Lovelace'], scorer: 'aliases' },
    { id: 'date', ...base, answer: '[datetime.date(2023, 1, 6)]', scorer: 'exact', meta: { answer_parse: 'after_last_colon', compare: 'date' } },
    { id: 'colon', ...base, answer: 'spam', scorer: 'exact', meta: { answer_parse: 'after_last_colon' } },
    { id: 'boxed', ...base, answer: ['Arvid', 'Nils'], scorer: 'f1_set', meta: { answer_parse: 'boxed', set_metric: 'recall' } },
    { id: 'docs', question: 'Who?', context: [{ id: 'd1', title: 'T', text: 'x' }], answer: 'x', scorer: 'exact' },
  ]);
  const task = (i: number) => generateTask(`file:${file}`, { seed: i });
  const score = (i: number, p: string) => scoreTask(task(i), p).score;

  it('exact: normalized exact match only', () => {
    expect(score(0, 'mango')).toBe(1);
    expect(score(0, 'Answer: "Mango."')).toBe(1);
    expect(score(0, 'a mango')).toBe(0);
  });
  it('numeric_decay: 0.75^|Δ| on the first number', () => {
    expect(score(1, '47')).toBe(1);
    expect(score(1, 'about 45 of them')).toBeCloseTo(0.75 ** 2, 10);
    expect(score(1, 'none')).toBe(0);
  });
  it('f1_pairs: F1 over unordered pairs; the gold answer is shown as sorted (a, b) lines', () => {
    expect(task(2).answer).toBe('(1, 3)\n(2, 5)');
    expect(score(2, '(3, 1)\n(5, 2)')).toBe(1);
    expect(score(2, '(1, 3)')).toBeCloseTo(2 / 3, 10);
  });
  it('f1_set: F1 over comma/newline-separated items; recall with set_metric', () => {
    expect(score(3, 'Green, red\nblue')).toBe(1);
    expect(score(3, 'red, purple')).toBeCloseTo(0.4, 10);
    expect(score(9, 'The players are \\boxed{Nils, Arvid, Ivo}')).toBe(1);
    expect(score(9, '\\boxed{Nils}')).toBe(0.5);
  });
  it('contains: the gold or an alias occurs in the prediction', () => {
    expect(score(4, 'It was Ada Lovelace, I think.')).toBe(1);
    expect(score(4, 'the countess of lovelace')).toBe(1);
    expect(score(4, 'Lovelace')).toBe(0);
  });
  it('choice: LongBench-v2 extraction or a bare letter', () => {
    expect(score(5, 'Reasoning… The correct answer is (C)')).toBe(1);
    expect(score(5, '**The correct answer is C**')).toBe(1);
    expect(score(5, '(C)')).toBe(1);
    expect(score(5, 'The correct answer is (B)')).toBe(0);
    expect(score(5, 'I cannot tell')).toBe(0);
    expect(extractChoice('C.')).toBe('C');
  });
  it('aliases: exact match against the answer or any alias', () => {
    expect(score(6, 'A. Lovelace')).toBe(1);
    expect(score(6, 'lovelace')).toBe(1);
    expect(score(6, 'Ada')).toBe(0);
  });
  it('OOLONG parsing: after the last colon, dates compared as dates', () => {
    expect(score(7, 'The answer is: Jan 6, 2023')).toBe(1);
    expect(score(7, 'Label: 2023-01-06')).toBe(1);
    expect(score(7, 'Answer: 2023-01-07')).toBe(0);
    expect(score(8, 'Reasoning: lots. Answer: **[spam]**')).toBe(1);
    expect(parseDate('6 January 2023')).toBe('2023-01-06');
    expect(lastBoxed('\\boxed{a} then \\boxed{\\{b\\}}')).toBe('\\{b\\}');
  });
  it('documents as context; the task records the file, row and sha256', () => {
    const t = task(10);
    expect(t.context).toEqual([{ id: 'd1', title: 'T', text: 'x' }]);
    expect(t.id).toBe('docs');
    expect(t.options).toEqual({ seed: 10, sha256: loadTaskFile(file).sha256, rowId: 'docs' });
    expect(t.meta.row).toBe(11);
  });
  it('a row index past the end and generator options are refused', () => {
    expect(() => task(11)).toThrow(/row 11 does not exist: the file has 11 rows/);
    expect(() => generateTask(`file:${file}`, { seed: 0, contextTokens: 1000 })).toThrow(/'contextTokens' does not apply/);
  });
});

describe('file tasks: bad rows fail fast with the row number and the column', () => {
  const cases: [unknown[], RegExp][] = [
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact' }, { id: 'b', question: 'Q', answer: 'x', scorer: 'exact' }], /row 2, column 'context': missing/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'f1' }], /row 1, column 'scorer': must be one of exact, numeric_decay, f1_pairs, f1_set, contains, choice, aliases/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact' }, { id: 'a', ...base, answer: 'y', scorer: 'exact' }], /row 2, column 'id': duplicate id 'a' \(also row 1\)/],
    [[{ id: 7, ...base, answer: 'x', scorer: 'exact' }], /row 1, column 'id': must be a non-empty string/],
    [[{ id: 'a', ...base, answer: 'lots', scorer: 'numeric_decay' }], /row 1, column 'answer': scorer numeric_decay needs a number/],
    [[{ id: 'a', ...base, answer: 'E or F', scorer: 'choice' }], /row 1, column 'answer': scorer choice needs a single capital letter/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact', aliases: ['y'] }], /row 1, column 'aliases': given, but scorer 'exact' does not use aliases/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact', extra: 1 }], /row 1, column 'extra': unknown column/],
    [[{ id: 'a', question: 'Q', context: [{ id: 'd', text: 't' }], answer: 'x', scorer: 'exact' }], /row 1, column 'context': document 0 needs a string 'title'/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact', meta: [1] }], /row 1, column 'meta': must be a JSON object/],
    [[{ id: 'a', ...base, answer: 'x', scorer: 'exact' }, '{"id": "b", oops'], /line 2 is not valid JSON/],
  ];
  for (const [rows, message] of cases) {
    it(String(message), () => {
      const f = jsonl(rows);
      expect(() => loadTaskFile(f)).toThrow(TaskFileError);
      expect(() => loadTaskFile(f)).toThrow(message);
    });
  }
  it('a missing file and an empty file', () => {
    expect(() => loadTaskFile(path.join(tmp, 'nope.jsonl'))).toThrow(/cannot read the task file \(ENOENT\)/);
    expect(() => loadTaskFile(jsonl([]))).toThrow(/no rows/);
  });
});

describe('file tasks: Parquet', () => {
  it('reads the same columns from Parquet (documents as a list of structs, meta as a JSON string)', () => {
    const doc = new arrow.Struct([new arrow.Field('id', new arrow.Utf8()), new arrow.Field('title', new arrow.Utf8()), new arrow.Field('text', new arrow.Utf8())]);
    const table = new arrow.Table({
      id: arrow.vectorFromArray(['p1', 'p2'], new arrow.Utf8()),
      question: arrow.vectorFromArray(['Q1?', 'Q2?'], new arrow.Utf8()),
      context: arrow.vectorFromArray([[{ id: 'd1', title: 'T', text: 'hello' }], [{ id: 'd2', title: 'T2', text: 'bye' }]], new arrow.List(new arrow.Field('item', doc))),
      answer: arrow.vectorFromArray(['x', 'B'], new arrow.Utf8()),
      scorer: arrow.vectorFromArray(['exact', 'choice'], new arrow.Utf8()),
      meta: arrow.vectorFromArray(['{"source":"unit"}', null], new arrow.Utf8()),
    });
    const p = path.join(tmp, 'tasks.parquet');
    fs.writeFileSync(p, encodeParquet(table));
    const f = loadTaskFile(p);
    expect(f.format).toBe('parquet');
    expect(f.rows.map((r) => r.id)).toEqual(['p1', 'p2']);
    expect(f.rows[0].context).toEqual([{ id: 'd1', title: 'T', text: 'hello' }]);
    expect(f.rows[0].meta).toEqual({ source: 'unit' });
    expect(scoreTask(generateTask(`file:${p}`, { seed: 1 }), 'The correct answer is (B)').score).toBe(1);
    const bad = new arrow.Table({ id: arrow.vectorFromArray(['p1'], new arrow.Utf8()), colour: arrow.vectorFromArray(['red'], new arrow.Utf8()) });
    const pb = path.join(tmp, 'bad.parquet');
    fs.writeFileSync(pb, encodeParquet(bad));
    expect(() => loadTaskFile(pb)).toThrow(/unknown column 'colour'/);
  });
});

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, OPENAI_BASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('file tasks through the CLI', () => {
  it('rollout plays every row and records path, sha256 and row ids; replay verifies; a changed file is refused by replay and resume', async () => {
    const file = jsonl([
      { id: 'r-1', question: 'What is the secret word?', context: 'The secret word is mango.', answer: 'mango', scorer: 'exact' },
      { id: 'r-2', question: 'How many?', context: 'one two three', answer: 3, scorer: 'numeric_decay' },
      { id: 'r-3', question: 'Which?', context: [{ id: 'd', title: 'D', text: 'alpha' }], answer: 'A', scorer: 'choice' },
    ]);
    const out = path.join(tmp, 'run');
    const r = await run('scripts/rollout.ts', ['--task', `file:${path.relative(root, file)}`, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const data = await readRun(out);
    expect(data.episodes.map((e) => e.task_id).sort()).toEqual(['r-1', 'r-2', 'r-3']);
    const extra = data.manifest.extra as { task_files: { path: string; sha256: string; row_ids: string[] }[] };
    expect(extra.task_files).toEqual([expect.objectContaining({ path: file, sha256: loadTaskFile(file).sha256, row_ids: ['r-1', 'r-2', 'r-3'], rows: 3 })]);
    const replay = await run('scripts/replay.ts', [out, '--quiet']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('3 ok');

    fs.appendFileSync(file, JSON.stringify({ id: 'r-4', question: 'New?', context: 'x', answer: 'x', scorer: 'exact' }) + '\n');
    const changed = await run('scripts/replay.ts', [out, '--quiet']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/the file changed since the run was recorded/);
    const resumed = await run('scripts/rollout.ts', ['--resume', out, '--quiet']);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(/changed since the run was recorded .* restore the original file to resume/);

    const bad = jsonl([{ id: 'a', question: 'Q', context: 'c', answer: 'x', scorer: 'exact' }, { id: 'b', question: 'Q', context: 'c', answer: 'x' }]);
    const refused = await run('scripts/rollout.ts', ['--task', `file:${bad}`, '--out', path.join(tmp, 'bad-run')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/row 2, column 'scorer': missing/);
    expect(fs.existsSync(path.join(tmp, 'bad-run'))).toBe(false);
  }, 180_000);
});
