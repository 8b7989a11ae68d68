/**
 * The REPL programs (JavaScript source) the reference policy writes, per task family and phase:
 *   explore  turn 1: look at the context (type, size, a preview, a count of the structures the question is about)
 *   solve    turn 2: the whole solution, FINAL in the same block when the answer is determined; otherwise it prints
 *            diagnostics and leaves the answer to the next turn
 *   safe     a fallback after an error or an undetermined answer, and on the last allowed turn: conservative settings,
 *            everything inside try/catch, and it always calls FINAL (with the best guess if all else fails)
 *   resort   the last resort (a second failure): FINAL whatever best guess the REPL holds, in one line
 *
 * Conventions of the generated code: no template literals (so this file can use String.raw), every program stores its
 * current best guess in `globalThis.refGuess`, sub-call budgets come in as constants (parsed from the observations).
 */
import { OOLONG_LABELS } from '../../tasks/index.ts';
import type { BrowseConstraint, OolongQuery, PairConditionSpec, ParsedQuestion } from './questions.ts';
import { heuristicLabelSource } from '../baseline/classifier.ts';
import { ANSWER_HEADER, CLASSIFY_DEFINITIONS, CLASSIFY_HEADER, READ_FIELDS, READ_HEADER } from './subcalls.ts';
import { type HostContextShape, hostOolongCells, hostPairsCells, hostRecordsExplore } from './programs-host.ts';

export type Phase = 'explore' | 'solve' | 'safe' | 'resort';
/** Who labels oolong instances: sub-models (the reference policy) or the code-only wording heuristic (the baseline). */
export type Labeler = 'sub' | 'heuristic';

export interface Budget {
  /** Sub-calls the episode has left (from the latest status line or the system prompt). */
  subCallsLeft: number;
  /** Largest sub-call prompt, in characters. */
  maxPromptChars: number;
  /** The context is host-backed (an object with slice/search/…; the task message says so): programs use its API. */
  host?: boolean;
}

const js = (v: unknown): string => JSON.stringify(v);

/** Sub-calls a classification pass may use: at most 200, and always leave a reserve for retries. */
export function callCap(b: Budget): number {
  return Math.max(0, Math.min(200, Math.floor(b.subCallsLeft * 0.8)));
}

/** Prompt characters one chunk may fill (header and numbering included), with a safety margin. */
export function promptCap(b: Budget): number {
  return Math.max(2_000, Math.floor(b.maxPromptChars * 0.9));
}

/**
 * The code blocks of one reply: one program, or — for oolong / oolong-pairs over a host-backed context — the multi-cell
 * scan of programs-host.ts.
 */
export function programCells(q: ParsedQuestion, phase: Phase, b: Budget, host: HostContextShape | null): string[] {
  if (host && phase !== 'resort' && (q.family === 'oolong' || q.family === 'oolong-pairs')) {
    if (phase === 'explore') return [hostRecordsExplore()];
    const safe = phase === 'safe';
    if (q.family === 'oolong') return hostOolongCells(q.query, host, safe, b, js(defaultGuess(q)));
    return hostPairsCells(pairCondition(q.condition), host, safe, b);
  }
  return [program(q, phase, b)];
}

export function program(q: ParsedQuestion, phase: Phase, b: Budget): string {
  if (phase === 'resort') return resort(q);
  switch (q.family) {
    case 'sniah':
      if (b.host) return phase === 'explore' ? sniahHostExplore() : sniahHostSolve(q.noun, q.key, phase === 'safe', b);
      return phase === 'explore' ? sniahExplore(q.key) : sniahSolve(q.noun, q.key, phase === 'safe', b);
    case 'oolong':
      return phase === 'explore' ? recordsExplore() : oolongSolve(q.query, phase === 'safe', b);
    case 'oolong-pairs':
      return phase === 'explore' ? recordsExplore() : pairsSolve(q.condition, phase === 'safe', b);
    case 'browsecomp':
      return phase === 'explore' ? browseExplore() : browseSolve(q.constraints, phase === 'safe', b);
    default:
      return phase === 'explore' ? genericExplore() : genericSolve(q.question, phase === 'safe', b);
  }
}

/** What `resort` submits when the REPL holds no guess at all. */
export function defaultGuess(q: ParsedQuestion): string {
  if (q.family === 'oolong') {
    const k = q.query.kind;
    if (k === 'compare') return 'same';
    if (k === 'most_frequent' || k === 'least_frequent') return 'entity';
    return '0';
  }
  return 'unknown';
}

export function resort(q: ParsedQuestion): string {
  return String.raw`const g = globalThis.refGuess;
print('submitting the best answer found so far:', g);
FINAL(typeof g === 'string' && g.trim() !== '' ? g : ${js(defaultGuess(q))});`;
}

// ---------------------------------------------------------------------------------------------------------------
// sniah

function sniahExplore(key: string): string {
  return String.raw`print(typeof context, context.length, 'chars');
print(context.slice(0, 400));
const magicRe = /The special magic \w+ for \S+ is/g;
let magicHits = 0, magicFirst = [];
for (let mm; (mm = magicRe.exec(context)) !== null; ) { magicHits++; if (magicFirst.length < 5) magicFirst.push(mm.index); }
print('sentences with "special magic":', magicHits, 'first offsets:', magicFirst);
print('mentions of the key ' + ${js(key)} + ':', context.split(${js(key)}).length - 1);`;
}

export function sniahSolve(noun: string, key: string, safe: boolean, b: Budget): string {
  const chunkChars = Math.max(1_000, promptCap(b) - 400);
  const body = String.raw`const NOUN = ${js(noun)}, KEY = ${js(key)};
const escRe = (s) => s.replace(/[.*+?^$(){}|[\]\\]/g, '\\$&');
const needleRe = new RegExp('The special magic ' + escRe(NOUN) + ' for ' + escRe(KEY) + ' is (\\S+?)\\.(?=\\s|$)');
const found = needleRe.exec(context);
print('regex match:', found ? found[0] : null);
let value = found ? found[1] : null;
if (value === null) {
  // Not in the expected form: let sub-models read the text in overlapping chunks.
  const CHUNK = ${chunkChars}, OVERLAP = 400, MAX_CALLS = ${Math.max(0, Math.min(200, b.subCallsLeft - 2))};
  const prompts = [];
  for (let i = 0; i < context.length && prompts.length < MAX_CALLS; i += CHUNK - OVERLAP) {
    prompts.push('Find the sentence "The special magic ' + NOUN + ' for ' + KEY + ' is <value>." in the text below. Reply with the value only, or NONE if the text has no such sentence.\n\nText:\n' + context.slice(i, i + CHUNK));
  }
  const replies = prompts.length ? llm_query_batched(prompts) : [];
  const vals = replies.map((r) => String(r).trim()).filter((r) => r && !/^none\b/i.test(r) && !/^error/i.test(r));
  print('sub-model answers:', vals.slice(0, 5), 'from', prompts.length, 'chunks');
  if (vals.length > 0) value = vals[0].replace(/^["']|["'.]$/g, '');
}
${safe ? String.raw`if (value === null) {
  // Last chance: any "special magic" sentence that mentions a word of the key.
  const words = KEY.split(/[-\s]+/).filter(Boolean);
  const loose = /special magic \w+ for (\S+) is (\S+?)\.(?=\s|$)/gi;
  let best = null, bestScore = -1;
  for (let mm; (mm = loose.exec(context)) !== null; ) {
    const s = words.filter((w) => mm[1].toLowerCase().includes(w.toLowerCase())).length;
    if (s > bestScore) { best = mm[2]; bestScore = s; }
  }
  value = best;
}
` : ''}if (value !== null) globalThis.refGuess = value;
print('answer:', value);`;
  if (!safe) return `${body}\nif (value !== null) FINAL(value);`;
  return wrapSafe(body, '"unknown"');
}

/** sniah over a host-backed context: the same plan through context.search / slice / chunks (no full string exists). */
function sniahHostExplore(): string {
  return String.raw`print(context.kind, context.length, 'chars in', context.lineCount, 'lines');
print(context.slice(0, 400));
// A first look at the needle's form in the first 100M chars (a full scan is the next step's job).
const firstMagic = context.search(/The special magic \w+ for \S+ is/, { limit: 3, window: 0, to: 100000000 });
print('"special magic" sentences in the first 100M chars, at offsets:', firstMagic.map((h) => h.index));`;
}

export function sniahHostSolve(noun: string, key: string, safe: boolean, b: Budget): string {
  const chunkChars = Math.max(1_000, promptCap(b) - 400);
  const body = String.raw`const NOUN = ${js(noun)}, KEY = ${js(key)};
const escRe = (s) => s.replace(/[.*+?^$(){}|[\]\\]/g, '\\$&');
const needleRe = new RegExp('The special magic ' + escRe(NOUN) + ' for ' + escRe(KEY) + ' is (\\S+?)\\.(?=\\s|$)');
const hit = context.search(needleRe, { limit: 1 })[0];
print('search hit:', hit ? hit.match + ' at ' + hit.index + ' (line ' + hit.line + ')' : null);
let value = hit ? hit.groups[0] : null;
if (value === null) {
  // Not in the expected form: let sub-models read the text in overlapping chunks (as many as the budget allows).
  const CHUNK = ${chunkChars}, MAX_CALLS = ${Math.max(0, Math.min(200, b.subCallsLeft - 2))};
  const ranges = context.chunks(CHUNK, { overlap: 400 }).slice(0, MAX_CALLS);
  const prompts = ranges.map((r) => 'Find the sentence "The special magic ' + NOUN + ' for ' + KEY + ' is <value>." in the text below. Reply with the value only, or NONE if the text has no such sentence.\n\nText:\n' + context.slice(r.start, r.end));
  const replies = prompts.length ? llm_query_batched(prompts) : [];
  const vals = replies.map((r) => String(r).trim()).filter((r) => r && !/^none\b/i.test(r) && !/^error/i.test(r));
  print('sub-model answers:', vals.slice(0, 5), 'from', prompts.length, 'chunks of', ranges.length === 0 ? 0 : context.chunks(CHUNK, { overlap: 400 }).length);
  if (vals.length > 0) value = vals[0].replace(/^["']|["'.]$/g, '');
}
${safe ? String.raw`if (value === null) {
  // Last chance: any "special magic" sentence that mentions a word of the key.
  const words = KEY.split(/[-\s]+/).filter(Boolean);
  let best = null, bestScore = -1;
  for (const mm of context.search(/special magic \w+ for (\S+) is (\S+?)\.(?=\s|$)/i, { limit: 1000, window: 0 })) {
    const s = words.filter((w) => mm.groups[0].toLowerCase().includes(w.toLowerCase())).length;
    if (s > bestScore) { best = mm.groups[1]; bestScore = s; }
  }
  value = best;
}
` : ''}if (value !== null) globalThis.refGuess = value;
print('answer:', value);`;
  if (!safe) return `${body}\nif (value !== null) FINAL(value);`;
  return wrapSafe(body, '"unknown"');
}

// ---------------------------------------------------------------------------------------------------------------
// oolong + oolong-pairs: shared record parsing and classification

function recordsExplore(): string {
  return String.raw`print(typeof context, context.length, 'chars');
const headLines = context.slice(0, 2000).split('\n').slice(0, 5);
print(headLines.join('\n'));
let lineCount = 0;
for (let i = context.indexOf('\n'); i !== -1; i = context.indexOf('\n', i + 1)) lineCount++;
print('lines:', lineCount + (context.endsWith('\n') ? 0 : 1));
const sampleUsers = new Set((context.slice(0, 200000).match(/User: \d+/g) || []).map((s) => s.slice(6)));
print('distinct users in the first 200K chars:', sampleUsers.size);`;
}

/**
 * Parses every record line into parallel arrays (recUser, recDay as YYYYMMDD, recText) and defines classify(indexes):
 * chunked llm_query_batched classification with retries of unparsed answers; returns a Uint8Array of label numbers
 * (1…6, 0 = unknown) per record. `safe` halves the chunk size. The category of an instance comes from sub-models only:
 * the program never applies a wording rule of its own.
 */
function recordsPrelude(safe: boolean, b: Budget, labeler: Labeler = 'sub'): string {
  const targetLines = safe ? 100 : 200;
  return String.raw`const LABELS = ${js(OOLONG_LABELS)};
const MONTHS = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
const dayKey = (s) => { const m = /^(\w{3}) (\d{1,2}), (\d{4})$/.exec(String(s).trim()); return m ? Number(m[3]) * 10000 + MONTHS[m[1]] * 100 + Number(m[2]) : NaN; };
const allLines = context.split('\n');
const recUser = new Int32Array(allLines.length), recDay = new Int32Array(allLines.length), recText = [];
let nRec = 0, badLines = 0;
const LINE_RE = /^Date: (\w{3}) (\d{1,2}), (\d{4}) \|\| User: (\d+) \|\| Instance: (.*)$/;
for (const line of allLines) {
  if (line.trim() === '') continue;
  const m = LINE_RE.exec(line);
  if (!m) { badLines++; continue; }
  recUser[nRec] = Number(m[4]);
  recDay[nRec] = Number(m[3]) * 10000 + MONTHS[m[1]] * 100 + Number(m[2]);
  recText.push(m[5]);
  nRec++;
}
print('records:', nRec, '| lines not in the record format:', badLines);
${labeler === 'heuristic' ? heuristicClassify() : subCallClassify(safe, b, targetLines)}`;
}

/** Labels from the code-only baseline's wording heuristic (rollouts/baseline/classifier.ts): no sub-calls at all. */
function heuristicClassify(): string {
  return String.raw`${heuristicLabelSource()}
function classify(indexes) {
  const labels = new Uint8Array(nRec);
  for (const r of indexes) labels[r] = heuristicLabel(recText[r]);
  print('labelled', indexes.length, 'instances with the wording heuristic (no sub-calls)');
  return labels;
}`;
}

function subCallClassify(safe: boolean, b: Budget, targetLines: number): string {
  return String.raw`

const HEADER = ${js(`${CLASSIFY_HEADER}\n\nCategories:\n${CLASSIFY_DEFINITIONS}\n\nQuestions:\n`)};
// One sub-call stays in reserve: spending the whole budget without answering ends the episode.
let subCallsLeft = ${Math.max(0, b.subCallsLeft - 1)};
const CALL_CAP = ${callCap(b)}, PROMPT_CAP = ${promptCap(b)}, TARGET_LINES = ${targetLines};
const labelOf = (word) => {
  const w = String(word).toLowerCase();
  for (let i = 0; i < LABELS.length; i++) if (w === LABELS[i] || (w.length >= 3 && LABELS[i].startsWith(w))) return i + 1;
  return 0;
};
function classify(indexes) {
  const labels = new Uint8Array(nRec);
  let pending = indexes, round = 0, calls = 0;
  while (pending.length > 0 && round < 3 && subCallsLeft > 0) {
    const callsAllowed = Math.max(1, Math.min(round === 0 ? CALL_CAP : subCallsLeft, subCallsLeft));
    const per = Math.max(Math.max(10, TARGET_LINES >> round), Math.ceil(pending.length / callsAllowed));
    const chunks = [];
    let cur = [], chars = HEADER.length;
    for (const r of pending) {
      const add = recText[r].length + 8;
      if (cur.length > 0 && (cur.length >= per || chars + add > PROMPT_CAP)) { chunks.push(cur); cur = []; chars = HEADER.length; }
      cur.push(r); chars += add;
    }
    if (cur.length > 0) chunks.push(cur);
    const sent = chunks.slice(0, subCallsLeft);
    const prompts = sent.map((c) => HEADER + c.map((r, i) => (i + 1) + '. ' + recText[r]).join('\n'));
    const replies = llm_query_batched(prompts);
    subCallsLeft -= prompts.length; calls += prompts.length;
    const missing = [];
    sent.forEach((c, k) => {
      const got = new Map();
      const re = /^\s*\**\s*(\d+)\s*[:.)\-]\s*\**\s*([A-Za-z]+)/gm;
      for (let mm; (mm = re.exec(String(replies[k]))) !== null; ) got.set(Number(mm[1]), labelOf(mm[2]));
      c.forEach((r, i) => { const l = got.get(i + 1) || 0; if (l) labels[r] = l; else missing.push(r); });
    });
    for (const c of chunks.slice(sent.length)) for (const r of c) missing.push(r);
    print('classification round', round + 1 + ':', prompts.length, 'prompts of up to', per, 'questions;', missing.length, 'left without a label');
    pending = missing; round++;
  }
${safe ? String.raw`  // No label rule here: an instance the sub-models did not label stays unlabelled (and is reported).
  if (pending.length > 0) print(pending.length, 'records are still unlabelled after', round, 'rounds');
` : ''}  return labels;
}`;
}

export function oolongSolve(query: OolongQuery, safe: boolean, b: Budget, labeler: Labeler = 'sub'): string {
  const L = (l: string): number => OOLONG_LABELS.indexOf(l as (typeof OOLONG_LABELS)[number]) + 1;
  let select = 'const selected = []; for (let r = 0; r < nRec; r++) selected.push(r);';
  if (query.kind === 'count_users') {
    select = String.raw`const USERS = new Set(${js(query.users)});
const selected = []; for (let r = 0; r < nRec; r++) if (USERS.has(recUser[r])) selected.push(r);
print('records of users', [...USERS].join(', ') + ':', selected.length);`;
  } else if (query.kind === 'count_dates') {
    select = String.raw`const FROM = dayKey(${js(query.from)}), TO = dayKey(${js(query.to)});
const selected = []; for (let r = 0; r < nRec; r++) if (recDay[r] >= FROM && recDay[r] <= TO) selected.push(r);
print('records dated', FROM, 'to', TO + ':', selected.length);`;
  }
  let compute: string;
  switch (query.kind) {
    case 'count':
    case 'count_users':
    case 'count_dates':
      compute = `const result = String(counts[${L(query.label) - 1}]);`;
      break;
    case 'most_frequent':
    case 'least_frequent': {
      const better = query.kind === 'most_frequent' ? '>' : '<';
      compute = `let bestI = 0; for (let i = 1; i < 6; i++) if (counts[i] ${better} counts[bestI]) bestI = i;\nconst result = LABELS[bestI];`;
      break;
    }
    case 'compare':
      compute = `const ca = counts[${L(query.a) - 1}], cb = counts[${L(query.b) - 1}];\nconst result = ca > cb ? 'more' : ca < cb ? 'less' : 'same';`;
      break;
  }
  const body = String.raw`${recordsPrelude(safe, b, labeler)}
${select}
const labels = classify(selected);
const counts = [0, 0, 0, 0, 0, 0];
let unlabelled = 0;
for (const r of selected) { if (labels[r]) counts[labels[r] - 1]++; else unlabelled++; }
print('label counts:', JSON.stringify(Object.fromEntries(LABELS.map((l, i) => [l, counts[i]]))), '| unlabelled:', unlabelled);
${compute}
globalThis.refGuess = result;
print('answer:', result);`;
  if (!safe) return `${body}\nif (unlabelled === 0) FINAL(result);\nelse print('some records have no label yet; not submitting');`;
  return wrapSafe(body, js(defaultGuess({ family: 'oolong', query })));
}

export function pairCondition(c: PairConditionSpec): string {
  const i = (l: string): number => OOLONG_LABELS.indexOf(l as (typeof OOLONG_LABELS)[number]);
  const A = i(c.a);
  switch (c.kind) {
    case 'both':
      return `x[${A}] > 0 && y[${A}] > 0`;
    case 'atLeast':
      return `x[${A}] >= ${c.m} && y[${A}] >= ${c.m}`;
    case 'bothAll':
      return `x[${A}] > 0 && x[${i(c.b)}] > 0 && y[${A}] > 0 && y[${i(c.b)}] > 0`;
    case 'bothOneHas':
      return `x[${A}] > 0 && y[${A}] > 0 && (x[${i(c.b)}] > 0 || y[${i(c.b)}] > 0)`;
    case 'cross':
      return `(x[${A}] > 0 && y[${i(c.b)}] > 0) || (x[${i(c.b)}] > 0 && y[${A}] > 0)`;
    case 'bothNot':
      return `x[${A}] > 0 && y[${A}] > 0 && x[${i(c.b)}] === 0 && y[${i(c.b)}] === 0`;
    case 'exactlyOne':
      return `x[${i(c.b)}] > 0 && y[${i(c.b)}] > 0 && (x[${A}] > 0) !== (y[${A}] > 0)`;
  }
}

export function pairsSolve(c: PairConditionSpec, safe: boolean, b: Budget, labeler: Labeler = 'sub'): string {
  const body = String.raw`${recordsPrelude(safe, b, labeler)}
const selected = []; for (let r = 0; r < nRec; r++) selected.push(r);
const labels = classify(selected);
const perUser = new Map();
let unlabelled = 0;
for (let r = 0; r < nRec; r++) {
  let row = perUser.get(recUser[r]);
  if (!row) { row = [0, 0, 0, 0, 0, 0]; perUser.set(recUser[r], row); }
  if (labels[r]) row[labels[r] - 1]++; else unlabelled++;
}
const ids = [...perUser.keys()].sort((p, q) => p - q);
print('users:', ids.length, '| unlabelled records:', unlabelled);
const cond = (x, y) => ${pairCondition(c)};
const pairs = [];
for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
  if (cond(perUser.get(ids[i]), perUser.get(ids[j]))) pairs.push('(' + ids[i] + ', ' + ids[j] + ')');
}
const result = pairs.join('\n');
globalThis.refGuess = result;
print('pairs:', pairs.length);
print(pairs.slice(0, 10).join('\n'));`;
  if (!safe) return `${body}\nif (unlabelled === 0 && pairs.length > 0) FINAL(result);\nelse print('not submitting yet');`;
  return wrapSafe(`${body}\nif (pairs.length === 0) globalThis.refGuess = 'none';`, '"none"');
}

// ---------------------------------------------------------------------------------------------------------------
// browsecomp

function browseExplore(): string {
  return String.raw`print(Array.isArray(context) ? 'array of ' + context.length + ' documents' : typeof context);
for (const d of context.slice(0, 3)) print(d.id, '|', d.title, '|', d.text.slice(0, 200).replace(/\n/g, ' '));
const pronounRe = /\b(?:she|he|her|his|him)\b/i;
let aboutPeople = 0, chars = 0;
for (const d of context) { if (pronounRe.test(d.text)) aboutPeople++; chars += d.text.length; }
print('documents that talk about a person (she/he):', aboutPeople, 'of', context.length, '| mean length', Math.round(chars / Math.max(1, context.length)), 'chars');`;
}

/** Sub-calls a browsecomp read pass may use (the rest of the budget stays in reserve for the person documents). */
function readCaps(b: Budget): { calls: number; promptChars: number } {
  return { calls: Math.max(1, b.subCallsLeft - 2), promptChars: Math.max(4_000, Math.min(promptCap(b), 120_000)) };
}

/** The test of one constraint over a person record `p` built from the sub-models' readings. */
function browseConstraintTest(c: BrowseConstraint): string {
  switch (c.kind) {
    case 'birthKind':
      return `(cityOf(p.birthCity) || {}).kind === ${js(c.cityKind)}`;
    case 'birthFounded':
      return `cityOf(p.birthCity) !== null && cityOf(p.birthCity).founded ${c.op === 'before' ? '<' : '>'} ${c.year}`;
    case 'birthCountry':
      return `(cityOf(p.birthCity) || {}).country === ${js(c.country)}`;
    case 'birthDecade':
      return `p.birthYear !== null && Math.floor(p.birthYear / 10) * 10 === ${c.decade}`;
    case 'profession':
      return `p.profession === ${js(c.profession)}`;
    case 'eduCity':
      return `(orgs.get(p.university) || {}).hq === ${js(c.city)}`;
    case 'eduFounded':
      return `orgs.has(p.university) && orgs.get(p.university).founded < ${c.year}`;
    case 'chairType':
      return `p.chairOrg !== null && (orgs.get(p.chairOrg) || {}).type === ${js(c.orgType)}`;
    case 'chairCity':
      return `p.chairOrg !== null && (orgs.get(p.chairOrg) || {}).hq === ${js(c.city)}`;
    case 'chairYear':
      return `p.chairYear !== null && p.chairYear ${c.op === 'from' ? '>=' : '<'} ${c.year}`;
    case 'awardOrgType':
      return `p.award !== null && awards.has(p.award) && (orgs.get(awards.get(p.award).org) || {}).type === ${js(c.orgType)}`;
    case 'awardEstablished':
      return `p.award !== null && awards.has(p.award) && awards.get(p.award).established < ${c.year}`;
    case 'eventType':
      return `p.events.some((e) => e.type === ${js(c.eventType)})`;
    case 'eventCity':
      return `p.events.some((e) => e.city === ${js(c.city)})`;
    case 'eventDecade':
      return `p.events.some((e) => Math.floor(e.year / 10) * 10 === ${c.decade})`;
    case 'eventOrgType':
      return `p.events.some((e) => (orgs.get(e.organiser) || {}).type === ${js(c.orgType)})`;
    case 'unknown':
      return 'true';
  }
}

/**
 * Cheap code that narrows the person documents before they are read: a necessary condition per constraint, over the
 * raw text — the document names a city / university / organisation / award that satisfies the constraint (from the
 * readings of the entity documents), or the person's name appears in a qualifying event's document. Recall only:
 * near misses pass too; the sub-models' readings decide.
 */
function browseCandidateFilter(c: BrowseConstraint): string {
  const names = (set: string): string => `(d) => mentionsAny(d.text, ${set})`;
  switch (c.kind) {
    case 'birthKind':
    case 'birthFounded':
    case 'birthCountry':
      return names(`[...cities.keys()].filter((n) => { const p = { birthCity: n }; return ${browseConstraintTest(c)}; })`);
    case 'profession':
      return `(d) => new RegExp('\\\\b' + ${js(c.profession)} + '\\\\b').test(d.text)`;
    case 'eduCity':
    case 'eduFounded':
      return names(`[...orgs.keys()].filter((n) => orgs.get(n).type === 'university' && (() => { const p = { university: n }; return ${browseConstraintTest(c)}; })())`);
    case 'chairType':
    case 'chairCity':
      return names(`[...orgs.keys()].filter((n) => { const p = { chairOrg: n }; return ${browseConstraintTest(c)}; })`);
    case 'awardOrgType':
    case 'awardEstablished':
      return names(`[...awards.keys()].filter((n) => { const p = { award: n }; return ${browseConstraintTest(c)}; })`);
    case 'eventType':
    case 'eventCity':
    case 'eventDecade':
    case 'eventOrgType':
      return `(() => { const docs = eventList.filter((e) => { const p = { events: [e] }; return ${browseConstraintTest(c)}; }).map((e) => e.text); return (d) => docs.some((t) => t.includes(d.title)); })()`;
    default:
      return '(d) => true';
  }
}

export function browseSolve(constraints: BrowseConstraint[], safe: boolean, b: Budget = { subCallsLeft: 500, maxPromptChars: 400_000 }): string {
  const tests = constraints.map((c, i) => `  /* ${i + 1}. ${c.kind} */ (p) => ${browseConstraintTest(c)},`).join('\n');
  const filters = constraints.map((c, i) => `  /* ${i + 1}. ${c.kind} */ ${browseCandidateFilter(c)},`).join('\n');
  const unknown = constraints.filter((c) => c.kind === 'unknown').length;
  const caps = readCaps(b);
  const body = String.raw`// The documents state facts in varied prose with near misses ("applied to … but never enrolled"), so sub-models read
// them: first every document that is not about a person, then only the people that cheap code cannot rule out.
const READ = ${js(`${READ_HEADER}\n${READ_FIELDS}\n\nDocuments:\n\n`)};
const PROMPT_CHARS = ${caps.promptChars}, DOCS_PER_PROMPT = ${safe ? 10 : 20};
let readCalls = ${caps.calls};
function readDocs(docs) {
  const out = new Map();
  let pending = docs;
  for (let round = 0; round < 2 && pending.length > 0 && readCalls > 0; round++) {
    const groups = [];
    let cur = [], chars = READ.length;
    for (const d of pending) {
      const block = '=== ' + d.id + ' | ' + d.title + ' ===\n' + d.text.slice(0, PROMPT_CHARS - READ.length - 200);
      if (cur.length > 0 && (cur.length >= DOCS_PER_PROMPT || chars + block.length + 2 > PROMPT_CHARS)) { groups.push(cur); cur = []; chars = READ.length; }
      cur.push(block); chars += block.length + 2;
    }
    if (cur.length > 0) groups.push(cur);
    const sent = groups.slice(0, readCalls);
    const replies = llm_query_batched(sent.map((g) => READ + g.join('\n\n')));
    readCalls -= sent.length;
    for (const reply of replies) {
      let r = null;
      for (const line of String(reply).split('\n')) {
        const h = /^\s*##\s*(\S+)/.exec(line);
        if (h) { r = {}; out.set(h[1], r); continue; }
        const m = /^\s*([a-z ]+?)\s*:\s*(.*?)\s*$/i.exec(line);
        if (r && m) r[m[1].toLowerCase()] = m[2];
      }
    }
    pending = pending.filter((d) => !out.has(d.id));
  }
  return out;
}
const yearOf = (s) => { const m = /\b(\d{4})\b/.exec(String(s || '')); return m ? Number(m[1]) : null; };
const mentionsAny = (text, names) => names.some((n) => text.includes(n));

// 1. Everything that is not about a person (no she/he in it): cities, organisations, awards, events.
const pronounRe = /\b(?:she|he|her|his|him)\b/i;
const personDocs = context.filter((d) => pronounRe.test(d.text));
const entityDocs = context.filter((d) => !pronounRe.test(d.text));
const entityReads = readDocs(entityDocs);
const cities = new Map(), orgs = new Map(), awards = new Map(), eventList = [];
const relative = [];
for (const d of entityDocs) {
  const r = entityReads.get(d.id);
  if (!r) continue;
  const name = r.name || d.title;
  if (r.kind === 'city') cities.set(name, { kind: r.type, country: r.country, founded: yearOf(r.founded) });
  else if (r.kind === 'organisation') orgs.set(name, { type: r.type, hq: r['based in'], founded: yearOf(r.founded) });
  else if (r.kind === 'award') {
    const a = { org: r['presented by'], established: yearOf(r.established) };
    const rel = /^(\d+) years after/.exec(r.established || '');
    if (a.established === null && rel) relative.push([a, Number(rel[1])]);
    awards.set(name, a);
  } else if (r.kind === 'event') {
    eventList.push({ doc: d.id, text: d.text, name, type: r.type, organiser: r.organiser, city: r['held in'], year: yearOf(r.year),
      participants: (r.participants || '').split(';').map((s) => s.trim()).filter(Boolean) });
  }
}
// "established twelve years after the founding of its presenter": the presenter's year is in its own document.
for (const [a, n] of relative) { const o = orgs.get(a.org); if (o && o.founded !== null) a.established = o.founded + n; }
const cityOf = (name) => cities.get(name) || null;
print('read', entityReads.size, 'of', entityDocs.length, 'entity documents:', cities.size, 'cities,', orgs.size, 'organisations,', awards.size, 'awards,', eventList.length, 'events');

// 2. Narrow the people with cheap code, then read the candidates.
const FILTERS = [
${filters}
];
let candidates = personDocs.filter((d) => FILTERS.every((f) => f(d)));
print('person documents:', personDocs.length, '| candidates after the cheap filters:', candidates.length);
if (candidates.length === 0) candidates = personDocs;
const personReads = readDocs(candidates);
const people = new Map();
for (const d of candidates) {
  const r = personReads.get(d.id);
  if (!r || r.kind !== 'person') continue;
  const split = (s) => { const m = /^(.*?)\s*;\s*(\d{4})\s*$/.exec(String(s || '')); return m ? [m[1], Number(m[2])] : [s || null, null]; };
  const [chairOrg, chairYear] = split(r.chaired);
  const [award, awardYear] = split(r.award);
  people.set(d.title, { name: d.title, doc: d.id, birthYear: yearOf(r.born), birthCity: r.birthplace || null, profession: r.profession || null,
    university: r['studied at'] || null, chairOrg, chairYear, award, awardYear, events: [] });
}
for (const e of eventList) for (const n of e.participants) { const p = people.get(n); if (p) p.events.push(e); }

// 3. The constraints of the question, one test each; keep the people that pass all of them.
const TESTS = [
${tests}
];
const scored = [];
for (const p of people.values()) {
  let ok = 0;
  const failed = [];
  TESTS.forEach((test, i) => { if (test(p)) ok++; else failed.push(i + 1); });
  scored.push({ name: p.name, ok, failed });
}
scored.sort((p, q) => q.ok - p.ok || (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
const matches = scored.filter((s) => s.ok === TESTS.length);
print('read', personReads.size, 'person documents; people satisfying all', TESTS.length, 'conditions:', matches.map((s) => s.name));
print('closest others:', JSON.stringify(scored.filter((s) => s.ok < TESTS.length).slice(0, 4)));
if (scored.length > 0) globalThis.refGuess = scored[0].name;`;
  const determined = unknown === 0 ? 'matches.length === 1' : 'false';
  if (!safe) return `${body}\nif (${determined}) FINAL(matches[0].name);\nelse print('the answer is not determined yet');`;
  return wrapSafe(body, '"unknown"');
}

// ---------------------------------------------------------------------------------------------------------------
// unrecognised questions

function genericExplore(): string {
  return String.raw`print(typeof context, Array.isArray(context) ? 'array of ' + context.length : (typeof context === 'string' ? context.length + ' chars' : ''));
if (typeof context === 'string') print(context.slice(0, 600));
else if (Array.isArray(context)) for (const d of context.slice(0, 3)) print(JSON.stringify(d).slice(0, 300));
else print(JSON.stringify(context).slice(0, 600));`;
}

function genericSolve(question: string, safe: boolean, b: Budget): string {
  const maxCalls = Math.max(0, Math.min(16, b.subCallsLeft - 1));
  const chunk = Math.max(1_000, promptCap(b) - 2_000);
  const body = String.raw`const QUESTION = ${js(question.slice(0, 4000))};
const text = typeof context === 'string' ? context
  : Array.isArray(context) ? context.map((d) => (d && typeof d === 'object' ? '## ' + (d.title || d.id || '') + '\n' + (d.text || JSON.stringify(d)) : String(d))).join('\n\n')
  : JSON.stringify(context);
const CHUNK = ${chunk}, MAX_CALLS = ${maxCalls};
const prompts = [];
for (let i = 0; i < text.length && prompts.length < MAX_CALLS; i += CHUNK) {
  prompts.push(${js(ANSWER_HEADER)} + '\n\nQuestion: ' + QUESTION.replace(/\s+/g, ' ') + '\n\nText:\n' + text.slice(i, i + CHUNK));
}
const replies = prompts.length ? llm_query_batched(prompts) : [];
const found = replies.map((r) => String(r).trim()).filter((r) => r && !/^none\b/i.test(r) && !/^error/i.test(r) && !/^i don't know/i.test(r));
print('asked', prompts.length, 'chunks; answers:', found.slice(0, 5));
globalThis.refGuess = found.length > 0 ? found[0] : 'unknown';
print('answer:', globalThis.refGuess);
FINAL(globalThis.refGuess);`;
  return safe ? wrapSafe(body, '"unknown"') : body;
}

/** Runs `body` inside try/catch and always submits: the computed guess, or `fallback` when there is none. */
function wrapSafe(body: string, fallback: string): string {
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
