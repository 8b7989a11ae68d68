/**
 * Your own tasks from a file: `--task file:PATH` (JSON Lines or Parquet), one task per row.
 *
 * Columns:
 *   id        string, unique in the file                          (becomes task.id; runs record it)
 *   question  string
 *   context   string, or a list of {id, title, text} documents   (the REPL's `context`)
 *   answer    string, number, or list                            (list: strings/numbers, or [a, b] pairs for f1_pairs)
 *   scorer    exact | numeric_decay | f1_pairs | f1_set | contains | choice | aliases
 *   aliases   optional list of strings (only with `aliases` or `contains`)
 *   meta      optional JSON object (or a JSON string, for Parquet); passed through. Scorers read three keys of it:
 *             answer_parse "after_last_colon" | "boxed"  (OOLONG's answer extraction; LaTeX \boxed{…})
 *             compare      "date"                          (exact: compare as calendar dates)
 *             set_metric   "f1" (default) | "recall"        (f1_set: OOLONG-real's list overlap |gold ∩ pred| / |gold|)
 * Scorers: exact = normalized exact match; numeric_decay = 0.75^|gold − predicted| (first number); f1_pairs = F1 over
 * unordered id pairs; f1_set = F1 (or recall) over comma/newline-separated items; contains = the gold (or an alias) occurs
 * in the prediction; choice = multiple-choice letter (LongBench-v2's "The correct answer is (X)", or a bare letter);
 * aliases = exact match against the answer or any alias.
 *
 * The whole file is read and validated when first used: a bad row fails fast with its row number and column. Task i of
 * the file is row i (0-based "seed"); the task options record the file's sha256 and the row id, so replay and resume
 * re-load the same rows and refuse a file that changed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { TaskFileError, TaskOptionError } from './errors.ts';
import { readParquetObjects } from './file-parquet.ts';
import { matchesAny, normalizeAnswer, numericScore, parseFirstNumber, parsePairs, predictionText, setF1 } from './normalize.ts';
import type { AnswerType, Doc, GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

export const FILE_SCORERS = ['exact', 'numeric_decay', 'f1_pairs', 'f1_set', 'contains', 'choice', 'aliases'] as const;
export type FileScorer = (typeof FILE_SCORERS)[number];

export const FILE_COLUMNS = ['id', 'question', 'context', 'answer', 'scorer', 'aliases', 'meta'] as const;
const REQUIRED = ['id', 'question', 'context', 'answer', 'scorer'] as const;

export const FILE_TASK_PREFIX = 'file:';

export interface FileTaskRow {
  id: string;
  question: string;
  context: string | Doc[];
  answer: string | number | (string | number | [number, number])[];
  scorer: FileScorer;
  aliases: string[];
  meta: Record<string, unknown>;
}

export interface TaskFile {
  /** Absolute path. */
  path: string;
  sha256: string;
  format: 'jsonl' | 'parquet';
  rows: FileTaskRow[];
}

const cache = new Map<string, { mtimeMs: number; size: number; file: TaskFile }>();

export function isFileTaskName(name: string): boolean {
  return typeof name === 'string' && name.startsWith(FILE_TASK_PREFIX);
}

/** `file:rel/path.jsonl` → `file:/abs/rel/path.jsonl` (relative to `cwd`). */
export function resolveFileTaskName(name: string, cwd = process.cwd()): string {
  return `${FILE_TASK_PREFIX}${path.resolve(cwd, name.slice(FILE_TASK_PREFIX.length))}`;
}

/** Reads and validates a task file (cached while its size and mtime are unchanged). */
export function loadTaskFile(filePath: string): TaskFile {
  const abs = path.resolve(filePath);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    throw new TaskFileError(abs, `cannot read the task file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { code: 'unreadable' });
  }
  const hit = cache.get(abs);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.file;
  const bytes = readFileSync(abs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const format = /\.parquet$/i.test(abs) ? 'parquet' : 'jsonl';
  let raw: { row: number; value: unknown }[];
  if (format === 'parquet') {
    let parsed;
    try {
      parsed = readParquetObjects(bytes);
    } catch (e) {
      throw new TaskFileError(abs, `not a readable Parquet file: ${(e as Error).message}`, { code: 'unreadable' });
    }
    for (const c of parsed.columns) {
      if (!(FILE_COLUMNS as readonly string[]).includes(c)) throw new TaskFileError(abs, `unknown column '${c}'; columns are ${FILE_COLUMNS.join(', ')}`, { code: 'bad_row', row: null });
    }
    raw = parsed.rows.map((value, i) => ({ row: i + 1, value }));
  } else {
    raw = [];
    const lines = bytes.toString('utf8').split('\n');
    let row = 0;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      row++;
      try {
        raw.push({ row, value: JSON.parse(line) });
      } catch (e) {
        throw new TaskFileError(abs, `line ${i + 1} is not valid JSON (${(e as Error).message})`, { row });
      }
    });
  }
  if (raw.length === 0) throw new TaskFileError(abs, 'the task file has no rows', { code: 'empty' });
  const seen = new Map<string, number>();
  const rows = raw.map(({ row, value }) => {
    const r = validateRow(abs, row, value);
    const prev = seen.get(r.id);
    if (prev !== undefined) throw new TaskFileError(abs, `duplicate id '${r.id}' (also row ${prev})`, { row, column: 'id' });
    seen.set(r.id, row);
    return r;
  });
  const file: TaskFile = { path: abs, sha256, format, rows };
  cache.set(abs, { mtimeMs: st.mtimeMs, size: st.size, file });
  return file;
}

function validateRow(file: string, row: number, v: unknown): FileTaskRow {
  const bad = (column: string | null, message: string): never => {
    throw new TaskFileError(file, message, { row, column });
  };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(null, 'a row must be a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(FILE_COLUMNS as readonly string[]).includes(k)) bad(k, `unknown column; columns are ${FILE_COLUMNS.join(', ')}`);
  for (const k of REQUIRED) if (o[k] === undefined || o[k] === null) bad(k, 'missing (required)');
  if (typeof o.id !== 'string' || o.id.trim() === '') bad('id', `must be a non-empty string (got ${show(o.id)})`);
  if (typeof o.question !== 'string' || o.question.trim() === '') bad('question', `must be a non-empty string (got ${show(o.question)})`);
  let context: string | Doc[];
  if (typeof o.context === 'string') context = o.context;
  else if (Array.isArray(o.context)) {
    context = o.context.map((d, i) => {
      if (!d || typeof d !== 'object' || Array.isArray(d)) return bad('context', `document ${i} must be an object {id, title, text}`);
      const doc = d as Record<string, unknown>;
      for (const k of ['id', 'title', 'text']) if (typeof doc[k] !== 'string') bad('context', `document ${i} needs a string '${k}' (got ${show(doc[k])})`);
      for (const k of Object.keys(doc)) if (!['id', 'title', 'text'].includes(k)) bad('context', `document ${i} has an unknown field '${k}' (documents are {id, title, text})`);
      return { id: doc.id as string, title: doc.title as string, text: doc.text as string };
    });
  } else return bad('context', `must be a string or a list of {id, title, text} (got ${show(o.context)})`);
  if (typeof o.scorer !== 'string' || !(FILE_SCORERS as readonly string[]).includes(o.scorer)) bad('scorer', `must be one of ${FILE_SCORERS.join(', ')} (got ${show(o.scorer)})`);
  const scorer = o.scorer as FileScorer;
  let aliases: string[] = [];
  if (o.aliases !== undefined && o.aliases !== null) {
    if (!Array.isArray(o.aliases) || o.aliases.some((a) => typeof a !== 'string')) bad('aliases', `must be a list of strings (got ${show(o.aliases)})`);
    aliases = o.aliases as string[];
    if (aliases.length > 0 && scorer !== 'aliases' && scorer !== 'contains') bad('aliases', `given, but scorer '${scorer}' does not use aliases (use 'aliases' or 'contains')`);
  }
  let meta: Record<string, unknown> = {};
  if (o.meta !== undefined && o.meta !== null) {
    let m = o.meta;
    if (typeof m === 'string') {
      try {
        m = JSON.parse(m);
      } catch {
        bad('meta', 'a string meta must hold a JSON object');
      }
    }
    if (!m || typeof m !== 'object' || Array.isArray(m)) bad('meta', `must be a JSON object (got ${show(o.meta)})`);
    meta = m as Record<string, unknown>;
    if (meta.answer_parse !== undefined && !['after_last_colon', 'boxed'].includes(String(meta.answer_parse))) bad('meta', `answer_parse must be "after_last_colon" or "boxed" (got ${show(meta.answer_parse)})`);
    if (meta.compare !== undefined && meta.compare !== 'date') bad('meta', `compare must be "date" (got ${show(meta.compare)})`);
    if (meta.set_metric !== undefined && !['f1', 'recall'].includes(String(meta.set_metric))) bad('meta', `set_metric must be "f1" or "recall" (got ${show(meta.set_metric)})`);
  }
  const answer = o.answer;
  const isScalar = (x: unknown): boolean => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x));
  if (!isScalar(answer) && !Array.isArray(answer)) bad('answer', `must be a string, a number or a list (got ${show(answer)})`);
  switch (scorer) {
    case 'numeric_decay':
      if (!(typeof answer === 'number' && Number.isFinite(answer)) && !(typeof answer === 'string' && parseFirstNumber(answer) !== null)) bad('answer', `scorer numeric_decay needs a number (got ${show(answer)})`);
      break;
    case 'f1_pairs':
      if (Array.isArray(answer)) {
        if (!answer.every((p) => (Array.isArray(p) && p.length === 2 && p.every((x) => Number.isInteger(x))) || (typeof p === 'string' && parsePairs(p).size === 1))) bad('answer', 'scorer f1_pairs needs a list of [a, b] integer pairs (or "(a, b)" strings)');
      } else if (typeof answer !== 'string') bad('answer', 'scorer f1_pairs needs a list of pairs or "(a, b)" lines');
      break;
    case 'f1_set':
      if (!Array.isArray(answer) || !answer.every(isScalar)) bad('answer', `scorer f1_set needs a list of strings or numbers (got ${show(answer)})`);
      break;
    case 'choice':
      if (typeof answer !== 'string' || !/^[A-Z]$/.test(answer.trim())) bad('answer', `scorer choice needs a single capital letter such as "B" (got ${show(answer)})`);
      break;
    default:
      if (!isScalar(answer)) bad('answer', `scorer ${scorer} needs a string or a number (got ${show(answer)})`);
  }
  if (meta.compare === 'date' && parseDate(String(answer)) === null) bad('answer', `compare "date" needs a date answer (got ${show(answer)})`);
  return { id: o.id as string, question: o.question as string, context, answer: answer as FileTaskRow['answer'], scorer, aliases, meta };
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}…` : s;
  } catch {
    return String(v);
  }
}

/** The gold answer as a display string (task.answer): pairs as "(a, b)" lines, lists as "a, b, c". */
function answerText(r: FileTaskRow): string {
  const a = r.answer;
  if (r.scorer === 'f1_pairs') {
    const keys = [...parsePairs(Array.isArray(a) ? a.map((p) => (Array.isArray(p) ? `(${p[0]}, ${p[1]})` : String(p))).join('\n') : String(a))];
    return keys.map((k) => `(${k.replace(',', ', ')})`).join('\n');
  }
  if (Array.isArray(a)) return a.map(String).join(', ');
  return String(a);
}

const ANSWER_TYPES: Record<FileScorer, AnswerType> = {
  exact: 'exact', numeric_decay: 'numeric', f1_pairs: 'pairs', f1_set: 'exact', contains: 'exact', choice: 'label', aliases: 'entity',
};

const optionKeys = new Set(['seed', 'sha256', 'rowId']);

/** Task `seed` of a file family = its row index (0-based). Options `sha256` / `rowId`, when given, must still hold. */
export function generateFileTask(family: string, options: GenerateOptions): Task {
  const filePath = family.slice(FILE_TASK_PREFIX.length);
  for (const k of Object.keys(options)) {
    if (options[k] !== undefined && !optionKeys.has(k)) throw new TaskOptionError(family, k, `option '${k}' does not apply to tasks read from a file (valid options: seed = row index, sha256, rowId)`);
  }
  const seed = options.seed;
  if (!Number.isInteger(seed) || seed < 0) throw new TaskOptionError(family, 'seed', `option 'seed' (the row index) must be an integer ≥ 0 (got ${show(seed)})`);
  const file = loadTaskFile(filePath);
  if (typeof options.sha256 === 'string' && options.sha256 !== file.sha256) {
    throw new TaskFileError(file.path, `the file changed since the run was recorded (sha256 was ${options.sha256.slice(0, 16)}…, is now ${file.sha256.slice(0, 16)}…); restore the original file to replay or resume`, { code: 'changed' });
  }
  if (seed >= file.rows.length) throw new TaskOptionError(family, 'seed', `row ${seed} does not exist: the file has ${file.rows.length} rows (0 … ${file.rows.length - 1})`);
  const r = file.rows[seed];
  if (typeof options.rowId === 'string' && options.rowId !== r.id) {
    throw new TaskFileError(file.path, `row ${seed} has id '${r.id}', the run recorded '${options.rowId}'`, { code: 'changed', row: seed + 1, column: 'id' });
  }
  return {
    id: r.id,
    family,
    seed,
    options: { seed, sha256: file.sha256, rowId: r.id },
    question: r.question,
    context: r.context,
    answer: answerText(r),
    answerType: ANSWER_TYPES[r.scorer],
    meta: { ...r.meta, file: file.path, row: seed + 1, scorer: r.scorer, answerValue: r.answer, aliases: r.aliases },
  };
}

// ------------------------------------------------------------------------------------------------ scoring

/** OOLONG's answer extraction: the text after the last ':' with '*', '[' and ']' removed. */
export function afterLastColon(text: string): string {
  const i = text.lastIndexOf(':');
  return (i === -1 ? text : text.slice(i + 1)).replace(/[*[\]]/g, '').trim();
}

/** The content of the last \boxed{…} (balanced braces), or null. */
export function lastBoxed(text: string): string | null {
  const at = text.lastIndexOf('\\boxed{');
  if (at === -1) return null;
  let depth = 0;
  for (let i = at + 6; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}') {
      depth--;
      if (depth === 0) return text.slice(at + 7, i).trim();
    }
  }
  return null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** A calendar date (YYYY-MM-DD) from ISO, "Jan 6, 2023", "6 January 2023", "datetime.date(2023, 1, 6)", "1/6/2023". */
export function parseDate(text: string): string | null {
  const s = text.trim().toLowerCase();
  const iso = (y: number, m: number, d: number): string | null => {
    if (m < 1 || m > 12 || d < 1 || d > 31) return null;
    return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  };
  let m: RegExpExecArray | null;
  if ((m = /datetime\.date\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)/.exec(s))) return iso(+m[1], +m[2], +m[3]);
  if ((m = /\b(\d{4})-(\d{1,2})-(\d{1,2})\b/.exec(s))) return iso(+m[1], +m[2], +m[3]);
  if ((m = /\b([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b/.exec(s)) && MONTHS.includes(m[1])) return iso(+m[3], MONTHS.indexOf(m[1]) + 1, +m[2]);
  if ((m = /\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4})\b/.exec(s)) && MONTHS.includes(m[2])) return iso(+m[3], MONTHS.indexOf(m[2]) + 1, +m[1]);
  if ((m = /\b(\d{1,2})\/(\d{1,2})\/(\d{4})\b/.exec(s))) return iso(+m[3], +m[1], +m[2]);
  return null;
}

/** LongBench-v2's extraction ("The correct answer is (X)" / "… is X"), else a bare letter, "(X)" or "X)" alone. */
export function extractChoice(text: string): string | null {
  const s = text.replace(/\*/g, '');
  let m = /The correct answer is \(([A-Z])\)/.exec(s) ?? /The correct answer is ([A-Z])\b/.exec(s);
  if (m) return m[1];
  m = /^\s*\(?([A-Z])\)?[.:]?\s*$/.exec(s);
  return m ? m[1] : null;
}

function setItems(text: string): Set<string> {
  return new Set(text.split(/[\n,;]+/).map((x) => normalizeAnswer(x)).filter((x) => x.length > 0));
}

export function scoreFileTask(task: Task, prediction: string): ScoreResult {
  const scorer = task.meta.scorer as FileScorer;
  const value = task.meta.answerValue as FileTaskRow['answer'];
  const aliases = Array.isArray(task.meta.aliases) ? (task.meta.aliases as string[]) : [];
  let text = predictionText(prediction);
  const parse = task.meta.answer_parse;
  if (parse === 'after_last_colon') text = afterLastColon(text);
  else if (parse === 'boxed') text = lastBoxed(text) ?? text;
  const details: Record<string, unknown> = { metric: scorer, parsed: text.slice(0, 500) };
  const result = (score: number, extra: Record<string, unknown> = {}): ScoreResult => ({ score, correct: score === 1, details: { ...details, ...extra } });
  switch (scorer) {
    case 'exact':
      if (task.meta.compare === 'date') {
        const g = parseDate(String(value));
        const p = parseDate(text);
        return result(g !== null && g === p ? 1 : 0, { gold: g, predicted: p });
      }
      return result(matchesAny(text, String(value)) ? 1 : 0, { gold: String(value) });
    case 'aliases':
      return result(matchesAny(text, String(value), aliases) ? 1 : 0, { gold: String(value), aliases });
    case 'contains': {
      const p = normalizeAnswer(text);
      const hit = [String(value), ...aliases].some((g) => normalizeAnswer(g).length > 0 && p.includes(normalizeAnswer(g)));
      return result(hit ? 1 : 0, { gold: String(value), aliases });
    }
    case 'numeric_decay': {
      const gold = typeof value === 'number' ? value : (parseFirstNumber(String(value)) as number);
      const predicted = parseFirstNumber(text);
      return result(numericScore(gold, predicted), { gold, predicted });
    }
    case 'f1_pairs': {
      const gold = parsePairs(task.answer);
      const f = setF1(gold, parsePairs(text));
      return result(f.f1, { precision: f.precision, recall: f.recall });
    }
    case 'f1_set': {
      const gold = new Set((value as (string | number)[]).map((x) => normalizeAnswer(String(x))));
      const pred = setItems(text);
      if (task.meta.set_metric === 'recall') {
        let hit = 0;
        for (const g of gold) if (pred.has(g)) hit++;
        return result(gold.size === 0 ? 0 : hit / gold.size, { metric: 'set_recall', hits: hit, gold: gold.size });
      }
      const f = setF1(gold, pred);
      return result(f.f1, { precision: f.precision, recall: f.recall });
    }
    case 'choice': {
      const predicted = extractChoice(text);
      return result(predicted !== null && predicted === String(value).trim() ? 1 : 0, { gold: String(value).trim(), predicted });
    }
  }
  return result(0, { error: `unknown scorer ${String(scorer)}` });
}


const familyCache = new Map<string, TaskFamilyDef>();

/** The family definition of `file:/abs/path` (scoring needs no file access: everything is in the task). */
export function fileTaskFamily(name: string): TaskFamilyDef {
  let def = familyCache.get(name);
  if (!def) {
    def = {
      name,
      description: `tasks read from ${name.slice(FILE_TASK_PREFIX.length)} (one per row)`,
      defaults: {},
      generate: (o) => generateFileTask(name, o),
      score: scoreFileTask,
      optionDocs: { seed: 'row index (0-based)', sha256: 'when given, the file must still have this sha256', rowId: 'when given, the row must still have this id' },
    };
    familyCache.set(name, def);
  }
  return def;
}
