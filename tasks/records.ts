/**
 * Records shared by `oolong` and `oolong-pairs` — the OOLONG trec_coarse imitation.
 *
 * One record per line:
 *   Date: <Mon DD, YYYY> || User: <5-digit id> || Instance: <a question-like sentence>
 * Each instance has one of six coarse labels (TREC coarse classes). The label is NOT written anywhere; it is what the
 * sentence asks for, carried by meaning rather than by a cue word (see oolong-bank.ts: shared frames across labels,
 * paraphrases, lead-ins). The generator knows every record's label exactly (it drew it); a policy must judge it —
 * by reading, i.e. by delegating instances to a sub-model.
 */
import { OOLONG_LEADS, OOLONG_LEAD_SHARE, OOLONG_TEMPLATES, slotValues } from './oolong-bank.ts';
import type { Rng } from './rng.ts';
import { TextBuilder } from './text.ts';
import { pieceTokens } from './tokens.ts';

export const OOLONG_LABELS = ['abbreviation', 'entity', 'description', 'human', 'location', 'numeric'] as const;
export type OolongLabel = (typeof OOLONG_LABELS)[number];

/**
 * One-line definitions, shown in questions (and in the reference policy's sub-call prompts) so a reader knows the
 * taxonomy. Deliberately about meaning: which kind of answer the question wants.
 */
export const OOLONG_LABEL_DEFINITIONS: Record<OolongLabel, string> = {
  abbreviation: 'asks what an abbreviation or acronym stands for, or what the abbreviation of a name is',
  entity: 'asks for a thing that is not a person, a place or a number: an object, creature, plant, food, substance, vehicle, language, event, work, colour, …',
  description: 'asks for an explanation, a reason, a manner, a definition or a description of something',
  human: 'asks for a person or a group of people (who someone is, or which person did or is something)',
  location: 'asks for a place (any geographic or man-made location)',
  numeric: 'asks for a number, quantity, amount of money, measurement, age, year or date',
};

export { OOLONG_TEMPLATES } from './oolong-bank.ts';

/** A compiled template: literal pieces and slot tables, each with precomputed token counts. */
interface CompiledTemplate {
  /** literals[i] precedes slots[i]; literals has one more entry than slots. literals[0] starts with " ". */
  literals: string[];
  literalTokens: number[];
  /** The last literal with the line's "\n" attached (the tokenizer glues it to the final "?" / "."). */
  lastWithNewline: string;
  lastWithNewlineTokens: number;
  slots: { values: string[]; tokens: number[] }[];
}

interface RecordTables {
  templates: CompiledTemplate[][];
  datePieces: string[];
  dateTokens: number[];
  instancePiece: string;
  instanceTokens: number;
  /** Lead-in pieces (" Quick question:") with their token counts. */
  leadPieces: string[];
  leadTokens: number[];
}

let recordTables: RecordTables | null = null;
const slotTableCache = new Map<string, { values: string[]; tokens: number[] }>();

function slotTable(name: string): { values: string[]; tokens: number[] } {
  let t = slotTableCache.get(name);
  if (!t) {
    const values = slotValues(name).map((v) => ` ${v}`);
    t = { values, tokens: values.map(pieceTokens) };
    slotTableCache.set(name, t);
  }
  return t;
}

function compile(template: string): CompiledTemplate {
  const parts = template.split(/\{(\w+)\}/);
  const literals: string[] = [];
  const slots: CompiledTemplate['slots'] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      let lit = parts[i];
      if (i === 0) lit = ` ${lit}`;
      // The space before a slot moves onto the slot value (" NASA"), so each piece starts on a pretoken boundary.
      if (i < parts.length - 1) lit = lit.replace(/ $/, '');
      literals.push(lit);
    } else {
      slots.push(slotTable(parts[i]));
    }
  }
  const last = literals[literals.length - 1];
  return {
    literals,
    literalTokens: literals.map(pieceTokens),
    lastWithNewline: `${last}\n`,
    lastWithNewlineTokens: pieceTokens(`${last}\n`),
    slots,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Records are dated between 2021-01-01 and 2024-12-31 (day numbers 0 … 1460). */
export const DATE_START_UTC = Date.UTC(2021, 0, 1);
export const DATE_DAYS = 1461;
const DAY_MS = 86_400_000;

/** "Jan 03, 2021" for a day number counted from 2021-01-01. */
export function formatDay(day: number): string {
  const d = new Date(DATE_START_UTC + day * DAY_MS);
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, '0')}, ${d.getUTCFullYear()}`;
}

function getRecordTables(): RecordTables {
  if (recordTables) return recordTables;
  const datePieces: string[] = [];
  const dateTokens: number[] = [];
  for (let day = 0; day < DATE_DAYS; day++) {
    const d = new Date(DATE_START_UTC + day * DAY_MS);
    const month = `Date: ${MONTHS[d.getUTCMonth()]}`;
    const dom = ` ${String(d.getUTCDate()).padStart(2, '0')},`;
    const year = ` ${d.getUTCFullYear()}`;
    datePieces.push(month + dom + year);
    // "Date: Jan" | " 03," | " 2021" are pretoken-aligned: 12 + 31 + 4 tokenizations instead of 1,461.
    dateTokens.push(pieceTokens(month) + pieceTokens(dom) + pieceTokens(year));
  }
  recordTables = {
    templates: OOLONG_LABELS.map((label) => OOLONG_TEMPLATES[label].map(compile)),
    datePieces,
    dateTokens,
    instancePiece: ' || Instance:',
    instanceTokens: pieceTokens(' || Instance:'),
    leadPieces: OOLONG_LEADS.map((l) => ` ${l}`),
    leadTokens: OOLONG_LEADS.map((l) => pieceTokens(` ${l}`)),
  };
  return recordTables;
}

/** Renders one instance sentence (no line prefix) — used by tests and previews. */
export function renderInstance(label: OolongLabel, templateIndex: number, slotIndexes: readonly number[]): string {
  const t = getRecordTables().templates[OOLONG_LABELS.indexOf(label)][templateIndex];
  let s = '';
  for (let i = 0; i < t.literals.length; i++) {
    s += t.literals[i];
    if (i < t.slots.length) s += t.slots[i].values[slotIndexes[i]];
  }
  return s.trim();
}

/** Every sentence a template can produce, for exhaustive rule checks (small: the slot lists are short). */
export function allInstances(label: OolongLabel): string[] {
  const out: string[] = [];
  const templates = getRecordTables().templates[OOLONG_LABELS.indexOf(label)];
  templates.forEach((t, ti) => {
    const rec = (i: number, idx: number[]): void => {
      if (i === t.slots.length) {
        out.push(renderInstance(label, ti, idx));
        return;
      }
      for (let k = 0; k < t.slots[i].values.length; k++) rec(i + 1, [...idx, k]);
    };
    rec(0, []);
  });
  return out;
}

/** Distinct random 5-digit user ids (10000–99999), in draw order. */
export function drawUserIds(rng: Rng, count: number): number[] {
  const ids = new Set<number>();
  while (ids.size < count) ids.add(rng.range(10_000, 99_999));
  return [...ids];
}

/** The generated records: columnar so 10M-token contexts (~400K records) stay compact. */
export interface RecordSet {
  count: number;
  /** Day number (0 = Jan 01, 2021) per record. */
  day: Int32Array;
  /** Index into `userIds` per record. */
  user: Int32Array;
  /** Index into OOLONG_LABELS per record. */
  label: Uint8Array;
  userIds: number[];
  context: string;
  tokens: number;
}

export interface RecordPlan {
  /** Token budget of the whole context. */
  budgetTokens: number;
  userIds: number[];
  /** Returns a user index; called once per record. */
  drawUser(rng: Rng): number;
  /** Returns a label index for the given user index. */
  drawLabel(rng: Rng, user: number): number;
}

/**
 * Writes records, one per line, until the token budget is reached (the last line lands within one short line of the
 * budget: up to eight draws are tried for a line that still fits). Lines are assembled as pretoken-aligned pieces
 * with cached counts (tokens.ts), pushed into one array and joined once.
 */
export function generateRecords(rng: Rng, plan: RecordPlan): RecordSet {
  const t = getRecordTables();
  // The user piece carries the constant " || Instance:" too (both pretoken-aligned, so counts add up).
  const userPieces = plan.userIds.map((id) => ` || User: ${id}${t.instancePiece}`);
  const userTokens = plan.userIds.map((id) => pieceTokens(` || User: ${id}`) + t.instanceTokens);
  // Upper estimate of records, to size the typed arrays once (lines are ≥ 20 tokens).
  const capacity = Math.max(16, Math.ceil(plan.budgetTokens / 18) + 16);
  let day: Int32Array<ArrayBuffer> = new Int32Array(capacity);
  let user: Int32Array<ArrayBuffer> = new Int32Array(capacity);
  let label: Uint8Array<ArrayBuffer> = new Uint8Array(capacity);
  const out = new TextBuilder();
  let tokens = 0;
  let count = 0;
  const slotPick: number[] = [];
  let misses = 0;
  while (misses < 8) {
    const d = rng.int(DATE_DAYS);
    const u = plan.drawUser(rng);
    const l = plan.drawLabel(rng, u);
    const templates = t.templates[l];
    const tpl = templates[rng.int(templates.length)];
    const lead = rng.next() < OOLONG_LEAD_SHARE ? rng.int(t.leadPieces.length) : -1;
    let cost = t.dateTokens[d] + userTokens[u] + tpl.lastWithNewlineTokens + (lead >= 0 ? t.leadTokens[lead] : 0);
    slotPick.length = 0;
    for (let i = 0; i < tpl.slots.length; i++) {
      const k = rng.int(tpl.slots[i].values.length);
      slotPick.push(k);
      cost += tpl.literalTokens[i] + tpl.slots[i].tokens[k];
    }
    if (tokens + cost > plan.budgetTokens) {
      misses++;
      continue;
    }
    // One string per line instead of ~8 pushes (measured ~10% faster; the chunk join flattens the short rope).
    let line = t.datePieces[d] + userPieces[u];
    if (lead >= 0) line += t.leadPieces[lead];
    for (let i = 0; i < tpl.slots.length; i++) line += tpl.literals[i] + tpl.slots[i].values[slotPick[i]];
    out.push(line + tpl.lastWithNewline);
    if (count === day.length) {
      const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      day = grow(day);
      user = grow(user);
      const nl = new Uint8Array(label.length * 2);
      nl.set(label);
      label = nl;
    }
    day[count] = d;
    user[count] = u;
    label[count] = l;
    count++;
    tokens += cost;
  }
  return {
    count,
    day: day.subarray(0, count),
    user: user.subarray(0, count),
    label: label.subarray(0, count),
    userIds: plan.userIds,
    context: out.toString(),
    tokens,
  };
}

/** Per-user label counts: counts[user * 6 + label]. */
export function userLabelCounts(records: RecordSet): Int32Array {
  const counts = new Int32Array(records.userIds.length * OOLONG_LABELS.length);
  for (let i = 0; i < records.count; i++) counts[records.user[i] * OOLONG_LABELS.length + records.label[i]]++;
  return counts;
}

export function labelCounts(records: RecordSet): Record<OolongLabel, number> {
  const c = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < records.count; i++) c[records.label[i]]++;
  return Object.fromEntries(OOLONG_LABELS.map((l, i) => [l, c[i]])) as Record<OolongLabel, number>;
}

/** The line (1-based) of record i is i + 1: one record per line, in order. */
export function lineOf(recordIndex: number): number {
  return recordIndex + 1;
}

/** The first `n` lines of a records context (cheap: scans only as far as needed). */
export function headLines(context: string, n: number): string[] {
  const lines: string[] = [];
  let start = 0;
  while (lines.length < n && start < context.length) {
    const end = context.indexOf('\n', start);
    if (end === -1) {
      lines.push(context.slice(start));
      break;
    }
    lines.push(context.slice(start, end));
    start = end + 1;
  }
  return lines;
}

/** Lines with the given 1-based numbers (sorted ascending), scanning the context once up to the last one. */
export function linesAt(context: string, lineNumbers: readonly number[]): Map<number, string> {
  const wanted = [...lineNumbers].sort((a, b) => a - b);
  const out = new Map<number, string>();
  let line = 1;
  let start = 0;
  for (const target of wanted) {
    while (line < target && start < context.length) {
      const nl = context.indexOf('\n', start);
      if (nl === -1) return out;
      start = nl + 1;
      line++;
    }
    const end = context.indexOf('\n', start);
    out.set(target, context.slice(start, end === -1 ? undefined : end));
  }
  return out;
}

/** The shared opening of oolong and oolong-pairs questions: the record format and the label taxonomy. */
export function oolongPreamble(): string {
  const defs = OOLONG_LABELS.map((l) => `- ${l}: ${OOLONG_LABEL_DEFINITIONS[l]}`).join('\n');
  return (
    'The context has one record per line, in the form "Date: <Mon DD, YYYY> || User: <user id> || Instance: <question>". ' +
    'Every instance belongs to exactly one of six categories, decided by what kind of answer its question asks for. The ' +
    'category is not written in the data; it must be judged from the meaning of each instance (a lead-in such as ' +
    '"Quick question:" does not change it):\n' +
    `${defs}\n` +
    'Every record (line) counts on its own: a record whose instance text repeats an earlier one counts again.\n'
  );
}
