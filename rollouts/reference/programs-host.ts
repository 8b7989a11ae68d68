/**
 * The reference policy's programs for oolong / oolong-pairs when `context` is host-backed (chunk files on disk; the
 * REPL's `context` is an object: `context.lineCount`, `context.lines(i, j)`, `context.slice(a, b)`, …; see
 * env/sandbox/host-context-api.ts). A 100M-token context is ~3.4M records: too many to hold as strings in a sandbox,
 * too much work for one cell's CPU limit, and too much text for the sub-call budget if every record were sent.
 * So the solve turn is several cells:
 *   1. setup: constants, the record parser, and `scan(from, to)`, which reads lines in windows through
 *      `context.lines` and keeps only what the question needs — a count per distinct instance text (oolong: of the
 *      records the question selects by user or date), or per record a text id and a user (oolong-pairs);
 *   2. SCAN_CELLS cells, each scanning its share of the lines (each well under the per-cell CPU limit);
 *   3. classification of the DISTINCT instance texts by sub-models (the same prompts and parsing as the in-memory
 *      program, programs.ts — the category of an instance is judged by sub-models only, never by a wording rule),
 *      then the aggregation in code and FINAL.
 * Deduplicating is sound because an instance's category depends only on its text, and every record still counts once
 * (a text's label is added as many times as records hold it). ~200K distinct texts at 100M tokens: ~200 prompts.
 */
import { OOLONG_LABELS } from '../../tasks/index.ts';
import type { Budget } from './programs.ts';
import type { OolongQuery, PairConditionSpec } from './questions.ts';
import { CLASSIFY_DEFINITIONS, CLASSIFY_HEADER } from './subcalls.ts';

const js = (v: unknown): string => JSON.stringify(v);

/** What the task message says about a host-backed context (see env/prompt.ts renderTaskMessage). */
export interface HostContextShape {
  chars: number;
  lines: number;
}

/** Reads the host-backed context's size from the first user message, or null when the context is not host-backed. */
export function hostContextShape(taskMessage: string): HostContextShape | null {
  const m = /`context` is a host-backed text of ([\d,]+) characters in ([\d,]+) lines/.exec(taskMessage);
  if (!m) return null;
  return { chars: Number(m[1].replace(/,/g, '')), lines: Number(m[2].replace(/,/g, '')) };
}

/** Lines one scan cell reads: ~250K lines is ~0.5 s of parsing, far under the 10 s cell CPU limit even on a busy machine. */
const LINES_PER_SCAN_CELL = 250_000;
/** Cells of one reply (the env runs at most 20): setup + scans + classify. */
const MAX_SCAN_CELLS = 17;
/** Lines per `context.lines` call: ~100 chars a record, so ~2.5M chars — under the host's 4Mi-char cap per call. */
const WINDOW_LINES = 25_000;

export function scanCellCount(shape: HostContextShape): number {
  return Math.max(1, Math.min(MAX_SCAN_CELLS, Math.ceil(shape.lines / LINES_PER_SCAN_CELL)));
}

export function hostRecordsExplore(): string {
  return String.raw`print('host-backed context:', context.length, 'chars,', context.lineCount, 'lines');
print(context.lines(0, 5).join('\n'));
print('lines:', context.lineCount);
const sampleUsers = new Set((context.slice(0, 200000).match(/User: \d+/g) || []).map((s) => s.slice(6)));
print('distinct users in the first 200K chars:', sampleUsers.size);`;
}

/** Cell 1: the scanner. `keep` is JS deciding whether a record (user, day as YYYYMMDD) is needed; `perRecord` keeps a text id and user per record. */
function setupCell(keep: string, perRecord: boolean, scanCells: number): string {
  return String.raw`const LABELS = ${js(OOLONG_LABELS)};
const MONTHS = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
const LINE_RE = /^Date: (\w{3}) (\d{1,2}), (\d{4}) \|\| User: (\d+) \|\| Instance: (.*)$/;
const N_LINES = context.lineCount, SCAN_CELLS = ${scanCells}, WINDOW = ${WINDOW_LINES};
// Distinct instance texts (what sub-models will classify) and how many kept records hold each.
const textId = new Map(), texts = [];
let textCount = new Int32Array(1 << 16);
${perRecord ? 'let recText = new Int32Array(1 << 20), recUser = new Int32Array(1 << 20);\n' : ''}let nRec = 0, nKept = 0, badLines = 0, scannedTo = 0;
function grow(a, n) { if (n < a.length) return a; const b = new Int32Array(a.length * 2); b.set(a); return b; }
const keep = (user, day) => ${keep};
function scan(from, to) {
  for (let i = from; i < to; i += WINDOW) {
    const lines = context.lines(i, Math.min(to, i + WINDOW));
    for (const line of lines) {
      if (line.trim() === '') continue;
      const m = LINE_RE.exec(line);
      if (!m) { badLines++; continue; }
      nRec++;
      const user = Number(m[4]);
      if (!keep(user, Number(m[3]) * 10000 + MONTHS[m[1]] * 100 + Number(m[2]))) continue;
      let id = textId.get(m[5]);
      if (id === undefined) { id = texts.length; texts.push(m[5]); textId.set(m[5], id); textCount = grow(textCount, id); }
      textCount[id]++;
${perRecord ? '      recText = grow(recText, nKept); recUser = grow(recUser, nKept); recText[nKept] = id; recUser[nKept] = user;\n' : ''}      nKept++;
    }
  }
  scannedTo = to;
}
print('scanning', N_LINES, 'lines in', SCAN_CELLS, 'cells of about', Math.ceil(N_LINES / SCAN_CELLS), 'lines');`;
}

function scanCell(k: number): string {
  return String.raw`scan(Math.floor(${k} * N_LINES / SCAN_CELLS), Math.floor(${k + 1} * N_LINES / SCAN_CELLS));
print('scan ${k + 1}/' + SCAN_CELLS + ': lines up to', scannedTo, '| records', nRec, '| kept', nKept, '| distinct texts', texts.length, '| not records', badLines);`;
}

/**
 * classify(): sub-model labels for every distinct text (1…6, 0 = unknown), in numbered prompts of up to PROMPT_CAP
 * chars, retrying unparsed ones — the in-memory program's procedure (programs.ts subCallClassify) over `texts`.
 */
function classifyTexts(b: Budget, safe: boolean): string {
  const callCap = Math.max(0, Math.min(200, Math.floor(b.subCallsLeft * 0.8)));
  const promptCap = Math.max(2_000, Math.floor(b.maxPromptChars * 0.9));
  return String.raw`const HEADER = ${js(`${CLASSIFY_HEADER}\n\nCategories:\n${CLASSIFY_DEFINITIONS}\n\nQuestions:\n`)};
let subCallsLeft = ${Math.max(0, b.subCallsLeft - 1)};
const CALL_CAP = ${callCap}, PROMPT_CAP = ${promptCap}, TARGET_LINES = ${safe ? 100 : 200};
const labelOf = (word) => {
  const w = String(word).toLowerCase();
  for (let i = 0; i < LABELS.length; i++) if (w === LABELS[i] || (w.length >= 3 && LABELS[i].startsWith(w))) return i + 1;
  return 0;
};
function classify() {
  const labels = new Uint8Array(texts.length);
  let pending = texts.map((_, i) => i), round = 0;
  while (pending.length > 0 && round < 3 && subCallsLeft > 0) {
    const callsAllowed = Math.max(1, Math.min(round === 0 ? CALL_CAP : subCallsLeft, subCallsLeft));
    const per = Math.max(Math.max(10, TARGET_LINES >> round), Math.ceil(pending.length / callsAllowed));
    const chunks = [];
    let cur = [], chars = HEADER.length;
    for (const r of pending) {
      const add = texts[r].length + 8;
      if (cur.length > 0 && (cur.length >= per || chars + add > PROMPT_CAP)) { chunks.push(cur); cur = []; chars = HEADER.length; }
      cur.push(r); chars += add;
    }
    if (cur.length > 0) chunks.push(cur);
    const sent = chunks.slice(0, subCallsLeft);
    const replies = llm_query_batched(sent.map((c) => HEADER + c.map((r, i) => (i + 1) + '. ' + texts[r]).join('\n')));
    subCallsLeft -= sent.length;
    const missing = [];
    sent.forEach((c, k) => {
      const got = new Map();
      const re = /^\s*\**\s*(\d+)\s*[:.)\-]\s*\**\s*([A-Za-z]+)/gm;
      for (let mm; (mm = re.exec(String(replies[k]))) !== null; ) got.set(Number(mm[1]), labelOf(mm[2]));
      c.forEach((r, i) => { const l = got.get(i + 1) || 0; if (l) labels[r] = l; else missing.push(r); });
    });
    for (const c of chunks.slice(sent.length)) for (const r of c) missing.push(r);
    print('classification round', round + 1 + ':', sent.length, 'prompts of up to', per, 'distinct texts;', missing.length, 'left without a label');
    pending = missing; round++;
  }
  return labels;
}
if (scannedTo < N_LINES) throw new Error('the scan stopped at line ' + scannedTo + ' of ' + N_LINES + ' (a scan cell failed)');
print('records:', nRec, '| kept:', nKept, '| distinct instance texts:', texts.length, '| lines not in the record format:', badLines);
const labels = classify();`;
}

function wrapTry(body: string, fallback: string): string {
  const indented = body
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
  return String.raw`try {
${indented}
} catch (e) {
  print('failed:', e && e.message ? e.message : String(e));
}
{
  const g = globalThis.refGuess;
  FINAL(typeof g === 'string' && g.trim() !== '' ? g : ${fallback});
}`;
}

/** The cells of the host-backed oolong solve (setup, scans, classify + count + FINAL). */
export function hostOolongCells(query: OolongQuery, shape: HostContextShape, safe: boolean, b: Budget, guess: string): string[] {
  const L = (l: string): number => OOLONG_LABELS.indexOf(l as (typeof OOLONG_LABELS)[number]);
  let keep = 'true';
  if (query.kind === 'count_users') keep = `USERS.has(user)`;
  else if (query.kind === 'count_dates') keep = `day >= FROM && day <= TO`;
  const pre =
    query.kind === 'count_users'
      ? `const USERS = new Set(${js(query.users)});\n`
      : query.kind === 'count_dates'
        ? `const FROM = ${dayKeyOf(query.from)}, TO = ${dayKeyOf(query.to)};\n`
        : '';
  let compute: string;
  switch (query.kind) {
    case 'count':
    case 'count_users':
    case 'count_dates':
      compute = `const result = String(counts[${L(query.label)}]);`;
      break;
    case 'most_frequent':
    case 'least_frequent':
      compute = `let bestI = 0; for (let i = 1; i < 6; i++) if (counts[i] ${query.kind === 'most_frequent' ? '>' : '<'} counts[bestI]) bestI = i;\nconst result = LABELS[bestI];`;
      break;
    case 'compare':
      compute = `const ca = counts[${L(query.a)}], cb = counts[${L(query.b)}];\nconst result = ca > cb ? 'more' : ca < cb ? 'less' : 'same';`;
      break;
  }
  const cells = scanCellCount(shape);
  const last = String.raw`${classifyTexts(b, safe)}
const counts = [0, 0, 0, 0, 0, 0];
let unlabelled = 0;
for (let t = 0; t < texts.length; t++) { if (labels[t]) counts[labels[t] - 1] += textCount[t]; else unlabelled += textCount[t]; }
print('label counts:', JSON.stringify(Object.fromEntries(LABELS.map((l, i) => [l, counts[i]]))), '| unlabelled records:', unlabelled);
${compute}
globalThis.refGuess = result;
print('answer:', result);`;
  return [
    pre + setupCell(keep, false, cells),
    ...Array.from({ length: cells }, (_, k) => scanCell(k)),
    safe ? wrapTry(last, guess) : `${last}\nif (unlabelled === 0) FINAL(result);\nelse print('some records have no label yet; not submitting');`,
  ];
}

/** The cells of the host-backed oolong-pairs solve. `cond` is the pair test over two label-count rows x, y. */
export function hostPairsCells(cond: string, shape: HostContextShape, safe: boolean, b: Budget): string[] {
  const cells = scanCellCount(shape);
  const last = String.raw`${classifyTexts(b, safe)}
const perUser = new Map();
let unlabelled = 0;
for (let r = 0; r < nKept; r++) {
  let row = perUser.get(recUser[r]);
  if (!row) { row = [0, 0, 0, 0, 0, 0]; perUser.set(recUser[r], row); }
  const l = labels[recText[r]];
  if (l) row[l - 1]++; else unlabelled++;
}
const ids = [...perUser.keys()].sort((p, q) => p - q);
print('users:', ids.length, '| unlabelled records:', unlabelled);
const cond = (x, y) => ${cond};
const pairs = [];
for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
  if (cond(perUser.get(ids[i]), perUser.get(ids[j]))) pairs.push('(' + ids[i] + ', ' + ids[j] + ')');
}
const result = pairs.join('\n');
globalThis.refGuess = result;
print('pairs:', pairs.length);
print(pairs.slice(0, 10).join('\n'));`;
  return [
    setupCell('true', true, cells),
    ...Array.from({ length: cells }, (_, k) => scanCell(k)),
    safe ? wrapTry(`${last}\nif (pairs.length === 0) globalThis.refGuess = 'none';`, '"none"') : `${last}\nif (unlabelled === 0 && pairs.length > 0) FINAL(result);\nelse print('not submitting yet');`,
  ];
}

/** "Jan 03, 2021" → 20210103 (the policy reads the dates from the question; the program compares day keys). */
function dayKeyOf(s: string): number {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const m = /^(\w{3}) (\d{1,2}), (\d{4})$/.exec(s.trim());
  if (!m) throw new Error(`reference policy: unreadable date ${JSON.stringify(s)}`);
  return Number(m[3]) * 10_000 + (months.indexOf(m[1]) + 1) * 100 + Number(m[2]);
}
