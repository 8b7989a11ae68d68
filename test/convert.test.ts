/**
 * Converters (`npm run tasks -- convert --from … IN… --out tasks.jsonl`) on small fixture files written in the datasets'
 * published row schemas (test/fixtures/convert; see /shared notes formats.md): the rows they produce, their official
 * scoring rules through the file-task scorers, OOLONG-Pairs gold pairs checked by an independent reading of the
 * labelled text, Parquet input, and the CLI.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeParquet } from '../datasets/index.ts';
import { CONVERT_SOURCES, OOLONG_PAIRS_TASKS, convertFiles, parsePythonList, writeTaskFile } from '../tasks/convert/index.ts';
import { generateTask, loadTaskFile, scoreTask, type Task } from '../tasks/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const fx = (f: string) => path.join(root, 'test', 'fixtures', 'convert', f);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-convert-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Converts, writes, reloads as a task file: what a user gets. */
function tasksOf(from: (typeof CONVERT_SOURCES)[number], files: string[], o: Record<string, unknown> = {}): Task[] {
  const out = path.join(tmp, `${from}-${Math.random().toString(36).slice(2)}.jsonl`);
  writeTaskFile(convertFiles(from, files, o), out);
  return loadTaskFile(out).rows.map((_, i) => generateTask(`file:${out}`, { seed: i }));
}
const score = (t: Task, p: string) => scoreTask(t, p).score;

describe('oolong (synth)', () => {
  it('parses Python-list answers', () => {
    expect(parsePythonList('[47]')).toEqual(['47']);
    expect(parsePythonList("['spam']")).toEqual(['spam']);
    expect(parsePythonList('[datetime.date(2023, 1, 6)]')).toEqual(['2023-01-06']);
    expect(parsePythonList("['a, b', 'c']")).toEqual(['a, b', 'c']);
  });

  it('keeps trec_coarse rows; numeric 0.75^|Δ|, labels exact, dates by date, comparisons by containment; after the last colon', () => {
    const ts = tasksOf('oolong', [fx('oolong-synth.jsonl')], { dataset: 'trec_coarse' });
    expect(ts.map((t) => t.id)).toEqual(['oolong-synth-101', 'oolong-synth-102', 'oolong-synth-103', 'oolong-synth-104']);
    const [num, label, date, cmp] = ts;
    expect(num.context).not.toContain('|| Label:');
    expect(score(num, 'Reasoning: I counted. Answer: 4')).toBe(1);
    expect(score(num, 'Answer: 6')).toBeCloseTo(0.5625, 10);
    expect(score(label, `Label: ${label.answer}`)).toBe(1);
    expect(score(label, 'Label: location, probably')).toBe(0);
    expect(score(date, 'Date: Jan 1, 2022')).toBe(1);
    expect(score(date, 'Date: 2022-01-02')).toBe(0);
    expect(score(cmp, 'Answer: location is **more common than** entity')).toBe(1);
    expect(score(cmp, 'Answer: location is less common than entity')).toBe(0);
    expect(tasksOf('oolong', [fx('oolong-synth.jsonl')])).toHaveLength(5);
  });

  it('reads the same rows from Parquet (the form the dataset is published in)', () => {
    const rows = fs.readFileSync(fx('oolong-synth.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const cols = Object.keys(rows[0]);
    const table = new arrow.Table(
      Object.fromEntries(cols.map((c) => [c, typeof rows[0][c] === 'number' ? arrow.vectorFromArray(rows.map((r) => BigInt(r[c] as number)), new arrow.Int64()) : arrow.vectorFromArray(rows.map((r) => r[c] as string), new arrow.Utf8())])),
    );
    const p = path.join(tmp, 'validation.parquet');
    fs.writeFileSync(p, encodeParquet(table));
    expect(tasksOf('oolong', [p], { dataset: 'trec_coarse' }).map((t) => t.answer)).toEqual(tasksOf('oolong', [fx('oolong-synth.jsonl')], { dataset: 'trec_coarse' }).map((t) => t.answer));
  });
});

describe('oolong-real', () => {
  it('reads \\boxed{} answers: integers 0.75^|Δ|, lists by overlap with the gold, strings case-insensitively', () => {
    const [count, list, str] = tasksOf('oolong-real', [fx('oolong-real.jsonl')]);
    expect(score(count, 'There were \\boxed{2} rolls.')).toBe(1);
    expect(score(count, '\\boxed{3}')).toBe(0.75);
    expect(score(list, '\\boxed{Percy, Vex}')).toBe(1);
    expect(score(list, '\\boxed{Vex}')).toBe(0.5);
    expect(score(list, '\\boxed{Vex, Percy, Grog}')).toBe(1);
    expect(score(str, 'I think \\boxed{vex}')).toBe(1);
    expect(score(str, '\\boxed{Percy}')).toBe(0);
  });
});

/** The test's own reading of labelled lines and of two of the paper's conditions (not the converter's code). */
function independentPairs(labelled: string, task: number): string[] {
  const users = new Map<string, string[]>();
  for (const line of labelled.split('\n')) {
    const user = /User: (\d+)/.exec(line)![1];
    const label = line.split(' || Label: ')[1];
    users.set(user, [...(users.get(user) ?? []), label]);
  }
  const n = (u: string, l: string) => users.get(u)!.filter((x) => x === l).length;
  const ok = (x: string, y: string): boolean => {
    if (task === 1) return [x, y].every((u) => n(u, 'numeric value') > 0 || n(u, 'location') > 0);
    if (task === 11) {
      const a = (u: string) => n(u, 'entity') >= 1 && n(u, 'abbreviation') >= 1;
      const b = (u: string) => n(u, 'entity') === 1;
      return (a(x) && b(y)) || (a(y) && b(x));
    }
    throw new Error('not covered');
  };
  const ids = [...users.keys()].sort();
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) if (ok(ids[i], ids[j])) out.push(`(${ids[i]}, ${ids[j]})`);
  return out;
}

describe('oolong-pairs (built the paper\'s way)', () => {
  it('20 tasks per trec_coarse context window, gold from the labelled text, model sees the unlabelled text; F1', () => {
    const ts = tasksOf('oolong-pairs', [fx('oolong-synth.jsonl')]);
    expect(OOLONG_PAIRS_TASKS).toHaveLength(20);
    expect(ts).toHaveLength(20); // one trec_coarse window (context_window_id 7 at 1024)
    const labelled = (JSON.parse(fs.readFileSync(fx('oolong-synth.jsonl'), 'utf8').split('\n')[0]) as { context_window_text_with_labels: string }).context_window_text_with_labels;
    for (const t of ts) {
      expect(t.context).not.toContain('Label:');
      expect(t.question).toMatch(/list all pairs of user IDs \(no duplicate pairs, list lower ID first\)/);
    }
    expect(ts[0].answer.split('\n').filter(Boolean)).toEqual(independentPairs(labelled, 1));
    expect(ts[10].answer.split('\n').filter(Boolean)).toEqual(independentPairs(labelled, 11));
    expect(ts[3].question).toMatch(/after January 6, 2023 \(a user with no such instance meets this\)/);
    expect(ts[10].question).toMatch(/one user has at least one instance with entity and at least one instance with abbreviation, and the other user has exactly one instance with entity \(in either order\)/);
    const gold = ts[0].answer;
    expect(score(ts[0], gold)).toBe(1);
    expect(score(ts[0], gold.split('\n').slice(1).join('\n'))).toBeLessThan(1);
  });
});

describe('browsecomp-plus', () => {
  it('one task per decrypted query: gold + evidence documents plus seeded corpus draws, deterministic; exact match', () => {
    const files = [fx('browsecomp-plus-queries.jsonl'), fx('browsecomp-plus-corpus.jsonl')];
    const ts = tasksOf('browsecomp-plus', files, { docsPerQuery: 10, seed: 3 });
    expect(ts.map((t) => t.id)).toEqual(['browsecomp-plus-74', 'browsecomp-plus-75']);
    const docs = ts[0].context as { id: string; title: string; text: string }[];
    expect(docs).toHaveLength(10);
    const ids = docs.map((d) => d.id);
    for (const must of ['d003', 'd005', 'd010']) expect(ids).toContain(must);
    expect(new Set(ids).size).toBe(10);
    expect(docs.find((d) => d.id === 'd003')!.title).toBe('https://example.org/3');
    expect(tasksOf('browsecomp-plus', files, { docsPerQuery: 10, seed: 3 })[0].context).toEqual(docs);
    expect(tasksOf('browsecomp-plus', files, { docsPerQuery: 10, seed: 4 })[0].context).not.toEqual(docs);
    expect(score(ts[0], 'Maria Dalmacio')).toBe(1);
    expect(score(ts[0], 'maria dalmacio.')).toBe(1);
    expect(score(ts[0], 'Maria')).toBe(0);
  });

  it('refuses the encrypted form with advice', () => {
    const enc = path.join(tmp, 'enc.jsonl');
    fs.writeFileSync(enc, JSON.stringify({ query_id: '1', query: 'U2FsdGVkX1+abcdefghijklmnopqrstuvw==', answer: 'QUJDREVGR0hJSktMTU5PUA==', gold_docs: [], negative_docs: [], evidence_docs: [] }) + '\n');
    expect(() => convertFiles('browsecomp-plus', [enc])).toThrow(/look encrypted; decrypt the dataset with BrowseComp-Plus's official script first/);
  });
});

describe('longbench-v2', () => {
  it('multiple choice with the official answer format; --codeqa keeps Code Repository Understanding', () => {
    const all = tasksOf('longbench-v2', [fx('longbench-v2.json')]);
    expect(all).toHaveLength(2);
    const [codeqa] = tasksOf('longbench-v2', [fx('longbench-v2.json')], { domain: 'Code Repository Understanding' });
    expect(codeqa.question).toMatch(/\(B\) parse_config\(\)/);
    expect(codeqa.question).toMatch(/The correct answer is \(insert answer here\)/);
    expect(score(codeqa, 'The correct answer is (B)')).toBe(1);
    expect(score(codeqa, 'The correct answer is (A)')).toBe(0);
  });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'scripts/tasks.ts', 'convert', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run tasks -- convert (CLI)', () => {
  it('writes a task file; bad input is one line and exit 2', async () => {
    const out = path.join(tmp, 'cli.jsonl');
    const r = await cli(['--from', 'longbench-v2', '--codeqa', fx('longbench-v2.json'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 task\(s\) written to .*--task file:/);
    expect(loadTaskFile(out).rows[0].scorer).toBe('choice');
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify([{ _id: 'x', question: 'q', context: 'c', choice_A: 'a', choice_B: 'b', choice_C: 'c', choice_D: 'd', answer: 'E' }]));
    const e = await cli(['--from', 'longbench-v2', bad, '--out', path.join(tmp, 'x.jsonl')]);
    expect(e.code).toBe(2);
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
    expect(e.stderr).toMatch(/bad\.json row 1, column 'answer': expected one of A, B, C, D/);
    const u = await cli(['--from', 'nope', bad, '--out', path.join(tmp, 'x.jsonl')]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown --from 'nope'; valid: oolong, oolong-real, oolong-pairs, browsecomp-plus, longbench-v2/);
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--from <source>/);
  }, 60_000);
});
