/**
 * OOLONG converters (HF `oolongbench/oolong-synth`, `oolongbench/oolong-real`; scoring per abertsch72/oolong's eval).
 *
 * oolong (synth) rows: id, context_len, dataset, context_window_text, context_window_text_with_labels, question,
 * task_group, task, answer, answer_type, input_subset, num_labels, context_window_id. The model sees
 * `context_window_text` (never the labelled text) and the question. Official scoring, mapped to file-task scorers:
 *   - the prediction is read after its last ':' with '*', '[' and ']' removed   → meta.answer_parse "after_last_colon"
 *   - the gold `answer` is a Python-list literal: "[47]", "['spam']", "[datetime.date(2023, 1, 6)]"
 *   - ANSWER_TYPE.NUMERIC → numeric_decay (0.75^|Δ|); ANSWER_TYPE.DATE → exact with compare "date";
 *     "more common" / "less common" / "same frequency" → contains; anything else → exact.
 * The paper's trec_coarse rows are in the validation split (`--dataset trec_coarse` keeps only those).
 *
 * oolong-real rows: id, context_window_id, context_window_text, question, answer, question_type, episodes, campaign.
 * The prediction is read from \boxed{…}; an integer answer → numeric_decay; a comma-separated list → f1_set with
 * set_metric "recall" (|gold ∩ pred| / |gold|, the official list overlap); a string → exact (case-insensitive).
 */
import type { FileTaskRow } from '../file-tasks.ts';
import { ConvertError, type InputRow, isIntLike, isNonEmptyString, isString, need } from './input.ts';

export interface ConvertOptions {
  /** oolong / oolong-pairs: keep only rows of this `dataset` (e.g. trec_coarse). */
  dataset?: string | null;
  /** Keep only rows whose context_len is at most this. */
  maxContextLen?: number | null;
  /** browsecomp-plus: documents per query (gold + evidence + seeded fill). */
  docsPerQuery?: number;
  seed?: number;
}

const COMPARISON = ['more common', 'less common', 'same frequency'];

/** "[47]" → ["47"]; "['spam', 'ham']" → ["spam", "ham"]; "[datetime.date(2023, 1, 6)]" → ["2023-01-06"]. */
export function parsePythonList(s: string): string[] {
  const t = s.trim();
  const inner = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  const out: string[] = [];
  const re = /datetime\.date\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^,\s][^,]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(inner)) !== null) {
    if (m[1]) out.push(`${m[1]}-${m[2].padStart(2, '0')}-${m[3].padStart(2, '0')}`);
    else if (m[4] !== undefined) out.push(m[4].replace(/\\(.)/g, '$1'));
    else if (m[5] !== undefined) out.push(m[5].replace(/\\(.)/g, '$1'));
    else if (m[6] !== undefined) out.push(m[6].trim());
  }
  return out;
}

function keep(r: InputRow, o: ConvertOptions): boolean {
  if (o.dataset && r.value.dataset !== o.dataset) return false;
  if (o.maxContextLen != null && typeof r.value.context_len === 'number' && r.value.context_len > o.maxContextLen) return false;
  return true;
}

export function convertOolongSynth(rows: InputRow[], o: ConvertOptions = {}): FileTaskRow[] {
  const out: FileTaskRow[] = [];
  for (const r of rows) {
    if (!keep(r, o)) continue;
    const id = need(r, 'id', isIntLike, 'an integer id');
    const context = need(r, 'context_window_text', isString, 'a string');
    const question = need(r, 'question', isNonEmptyString, 'a string');
    const answerRaw = need(r, 'answer', isString, "a Python-list literal such as \"[47]\" or \"['spam']\"");
    const answerType = need(r, 'answer_type', isString, 'a string such as ANSWER_TYPE.NUMERIC');
    const values = parsePythonList(answerRaw);
    if (values.length === 0) throw new ConvertError(`${r.file} row ${r.row}, column 'answer': empty answer list ${answerRaw}`);
    const gold = values[0];
    const meta: Record<string, unknown> = {
      source: 'oolong-synth', dataset: r.value.dataset ?? null, context_len: r.value.context_len ?? null, task: r.value.task ?? null,
      task_group: r.value.task_group ?? null, answer_type: answerType, context_window_id: r.value.context_window_id ?? null,
      answer_parse: 'after_last_colon',
    };
    let row: FileTaskRow;
    const base = { id: `oolong-synth-${id}`, question, context, aliases: [] as string[] };
    if (/NUMERIC/i.test(answerType)) {
      if (!/^-?\d+(\.\d+)?$/.test(gold)) throw new ConvertError(`${r.file} row ${r.row}, column 'answer': numeric answer expected, got ${answerRaw}`);
      row = { ...base, answer: Number(gold), scorer: 'numeric_decay', meta };
    } else if (/DATE/i.test(answerType)) {
      row = { ...base, answer: gold, scorer: 'exact', meta: { ...meta, compare: 'date' } };
    } else {
      const cmp = COMPARISON.find((c) => gold.toLowerCase().includes(c));
      row = cmp ? { ...base, answer: cmp, scorer: 'contains', meta } : { ...base, answer: gold, scorer: 'exact', meta };
    }
    out.push(row);
  }
  return out;
}

export function convertOolongReal(rows: InputRow[], o: ConvertOptions = {}): FileTaskRow[] {
  void o;
  const out: FileTaskRow[] = [];
  for (const r of rows) {
    const id = r.value.id;
    if (!(typeof id === 'string' || typeof id === 'number')) throw new ConvertError(`${r.file} row ${r.row}, column 'id': expected a string or integer id`);
    const context = need(r, 'context_window_text', isString, 'a string');
    const question = need(r, 'question', isNonEmptyString, 'a string');
    const answer = r.value.answer;
    const meta: Record<string, unknown> = {
      source: 'oolong-real', question_type: r.value.question_type ?? null, campaign: r.value.campaign ?? null,
      episodes: r.value.episodes ?? null, context_window_id: r.value.context_window_id ?? null, answer_parse: 'boxed',
    };
    const base = { id: `oolong-real-${id}`, question, context, aliases: [] as string[] };
    if (typeof answer === 'number' || (typeof answer === 'string' && /^-?\d+$/.test(answer.trim()))) {
      out.push({ ...base, answer: Number(answer), scorer: 'numeric_decay', meta });
    } else if (typeof answer === 'string' && answer.includes(',')) {
      const items = answer.split(',').map((s) => s.trim()).filter(Boolean);
      out.push({ ...base, answer: items, scorer: 'f1_set', meta: { ...meta, set_metric: 'recall' } });
    } else if (Array.isArray(answer)) {
      out.push({ ...base, answer: answer.map(String), scorer: 'f1_set', meta: { ...meta, set_metric: 'recall' } });
    } else if (typeof answer === 'string' && answer.trim() !== '') {
      out.push({ ...base, answer: answer.trim(), scorer: 'exact', meta });
    } else {
      throw new ConvertError(`${r.file} row ${r.row}, column 'answer': expected an integer, a string or a comma-separated list`);
    }
  }
  return out;
}
