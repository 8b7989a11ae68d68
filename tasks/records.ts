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

/**
 * Record text is assembled as bytes, not strings. A record line is a handful of pretoken-aligned pieces — date, user,
 * optional lead-in, then the template's literals and slot values, the last literal with the "\n" — and every piece is
 * UTF-8-encoded once, with its o200k token count (tokens.ts), into one small store (~40 KB, plus one piece per user
 * id seen) that stays in the CPU cache. Writing a line is a few word copies into one output buffer: no per-line string,
 * rope or join, and the same loop streams blocks of lines to disk for contexts too large to hold. (Interning whole
 * sentences instead — 4 copies a line — measured no faster: the ~100K sentences miss the cache on every look-up.)
 */
class PieceStore {
  /**
   * Pieces as little-endian 32-bit words: a header word (bytes in bits 0–11, o200k tokens in bits 12–23, bit 24 set
   * when the piece is not ASCII), then the piece's UTF-8 bytes padded to whole words. A piece's id is the offset of
   * its header, so a look-up touches one place in memory.
   */
  words = new Uint32Array(1 << 12);
  used = 0;
  /** UTF-16 length of the non-ASCII pieces (for ASCII ones it is the byte count). */
  readonly wideChars = new Map<number, number>();
  add(text: string, tokens: number): number {
    let ascii = true;
    for (let i = 0; i < text.length && ascii; i++) ascii = text.charCodeAt(i) < 0x80;
    // ASCII (every built-in piece, and users): packed from the char codes, no Buffer made.
    const b: { length: number; [i: number]: number } = ascii ? { length: text.length } : Buffer.from(text, 'utf8');
    const at = ascii ? (i: number): number => text.charCodeAt(i) : (i: number): number => (b as Buffer)[i];
    if (b.length > 0xfff || tokens > 0xfff) throw new Error(`records: piece too long for the piece store (${b.length} bytes, ${tokens} tokens)`);
    const n = (b.length + 3) >> 2;
    if (this.used + n + 1 > this.words.length) {
      const grown = new Uint32Array(Math.max(this.words.length * 2, this.used + n + 1));
      grown.set(this.words.subarray(0, this.used));
      this.words = grown;
    }
    const id = this.used;
    this.words[id] = (b.length | (tokens << 12) | (ascii ? 0 : 1 << 24)) >>> 0;
    for (let i = 0; i < n; i++) {
      let w = 0;
      for (let k = 3; k >= 0; k--) w = w * 256 + (4 * i + k < b.length ? at(4 * i + k) : 0);
      this.words[id + 1 + i] = w;
    }
    this.used += n + 1;
    if (!ascii) this.wideChars.set(id, text.length);
    return id;
  }

  bytes(id: number): number {
    return this.words[id] & 0xfff;
  }

  tokensOf(id: number): number {
    return (this.words[id] >>> 12) & 0xfff;
  }

  chars(id: number): number {
    return this.words[id] & (1 << 24) ? (this.wideChars.get(id) as number) : this.words[id] & 0xfff;
  }
}

/** A compiled template: literal pieces and slot tables, as strings (renderInstance) and as store pieces (the writer). */
interface CompiledTemplate {
  /** literals[i] precedes slots[i]; literals has one more entry than slots. literals[0] starts with " ". */
  literals: string[];
  /** values: the slot's values with their leading space; ids: their pieces. */
  slots: { values: string[]; ids: Int32Array }[];
  /** Piece ids of literals[0 … slots-1]. */
  literalIds: Int32Array;
  /** Piece id of the last literal with the line's "\n" attached (the tokenizer glues it to the final "?" / "."). */
  lastId: number;
}

interface RecordTables {
  store: PieceStore;
  templates: CompiledTemplate[][];
  dateIds: number[];
  instancePiece: string;
  instanceTokens: number;
  /** Lead-in pieces (" Quick question:"). */
  leadIds: number[];
  /** 5-digit user id − 10000 → its piece (" || User: 12345 || Instance:") + 1 (0: not built); other ids in a Map. */
  fiveDigitUsers: Int32Array;
  otherUsers: Map<number, number>;
  /** Tokens of " || User: <any 5-digit id>". */
  fiveDigitUserTokens: number;
  /** Most bytes a date, a lead-in and an instance (literals + slot values + "\n") can take: one line of room. */
  maxDateBytes: number;
  maxLeadBytes: number;
  maxInstanceBytes: number;
}

let recordTables: RecordTables | null = null;
const slotTableCache = new Map<string, CompiledTemplate['slots'][number]>();

function slotTable(store: PieceStore, name: string): CompiledTemplate['slots'][number] {
  let t = slotTableCache.get(name);
  if (!t) {
    const values = slotValues(name).map((v) => ` ${v}`);
    t = { values, ids: Int32Array.from(values, (v) => store.add(v, pieceTokens(v))) };
    slotTableCache.set(name, t);
  }
  return t;
}

function compile(store: PieceStore, template: string): CompiledTemplate {
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
      slots.push(slotTable(store, parts[i]));
    }
  }
  const last = `${literals[literals.length - 1]}\n`;
  return {
    literals,
    slots,
    literalIds: Int32Array.from(literals.slice(0, -1), (l) => store.add(l, pieceTokens(l))),
    lastId: store.add(last, pieceTokens(last)),
  };
}

/** The piece of a user id (built once per id: ids are 5-digit, so at most 90,000 of them). */
function userPiece(t: RecordTables, id: number): number {
  const five = Number.isInteger(id) && id >= 10_000 && id <= 99_999;
  const known = five ? t.fiveDigitUsers[id - 10_000] - 1 : (t.otherUsers.get(id) ?? -1);
  if (known >= 0) return known;
  // The user piece carries the constant " || Instance:" too (both pretoken-aligned, so counts add up).
  // Every 5-digit id has the same o200k count (" 12345" is " ", "123", "45": each 1–3-digit string is one token;
  // test/oolong-host.test.ts checks all 90,000), which spares a BPE run per new id.
  const tokens = five ? t.fiveDigitUserTokens : pieceTokens(` || User: ${id}`);
  const p = t.store.add(` || User: ${id}${t.instancePiece}`, tokens + t.instanceTokens);
  if (five) t.fiveDigitUsers[id - 10_000] = p + 1;
  else t.otherUsers.set(id, p);
  return p;
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
  const store = new PieceStore();
  const dateIds: number[] = [];
  for (let day = 0; day < DATE_DAYS; day++) {
    const d = new Date(DATE_START_UTC + day * DAY_MS);
    const month = `Date: ${MONTHS[d.getUTCMonth()]}`;
    const dom = ` ${String(d.getUTCDate()).padStart(2, '0')},`;
    const year = ` ${d.getUTCFullYear()}`;
    // "Date: Jan" | " 03," | " 2021" are pretoken-aligned: 12 + 31 + 4 tokenizations instead of 1,461.
    dateIds.push(store.add(month + dom + year, pieceTokens(month) + pieceTokens(dom) + pieceTokens(year)));
  }
  const templates = OOLONG_LABELS.map((label) => OOLONG_TEMPLATES[label].map((tpl) => compile(store, tpl)));
  let maxInstanceBytes = 0;
  for (const list of templates) {
    for (const t of list) {
      let n = store.bytes(t.lastId);
      t.slots.forEach((slot, i) => {
        n += store.bytes(t.literalIds[i]) + Math.max(...Array.from(slot.ids, (id) => store.bytes(id)));
      });
      maxInstanceBytes = Math.max(maxInstanceBytes, n);
    }
  }
  const leadIds = OOLONG_LEADS.map((l) => store.add(` ${l}`, pieceTokens(` ${l}`)));
  const maxBytes = (ids: number[]): number => Math.max(...ids.map((id) => store.bytes(id)));
  recordTables = {
    store,
    templates,
    dateIds,
    instancePiece: ' || Instance:',
    instanceTokens: pieceTokens(' || Instance:'),
    leadIds,
    fiveDigitUsers: new Int32Array(90_000),
    otherUsers: new Map(),
    fiveDigitUserTokens: pieceTokens(' || User: 10000'),
    maxDateBytes: maxBytes(dateIds),
    maxLeadBytes: maxBytes(leadIds),
    maxInstanceBytes,
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

/** o200k tokens of " || User: <id>" for any 5-digit id (what the generator charges per user piece). */
export function userPieceTokens(): number {
  return getRecordTables().fiveDigitUserTokens;
}

/** Distinct random 5-digit user ids (10000–99999), in draw order. */
export function drawUserIds(rng: Rng, count: number): number[] {
  const ids = new Set<number>();
  while (ids.size < count) ids.add(rng.range(10_000, 99_999));
  return [...ids];
}

/** The generated records: columnar so 10M-token contexts (~400K records) stay compact. */
export interface RecordColumns {
  count: number;
  /** Day number (0 = Jan 01, 2021) per record. */
  day: Int32Array;
  /** Index into `userIds` per record. */
  user: Int32Array;
  /** Index into OOLONG_LABELS per record. */
  label: Uint8Array;
  userIds: number[];
  /** Exact o200k token count of the whole context. */
  tokens: number;
  /** Context length in UTF-16 code units (what `string.length` would be) and in UTF-8 bytes. */
  chars: number;
  bytes: number;
}

/** Records held in memory with their text. */
export interface RecordSet extends RecordColumns {
  context: string;
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
 * Receives the context's UTF-8 bytes in order, in blocks of whole lines; `ascii` says the block is all ASCII (then
 * latin1 decoding is exact and fastest). The block's memory is reused after the call returns.
 */
export type ByteSink = (block: Uint8Array, ascii: boolean) => void;

/** Block size when streaming to a sink: large enough that per-block costs vanish, small enough to stay in cache-ish. */
const SINK_BLOCK_BYTES = 4 << 20;

/**
 * Writes records, one per line, until the token budget is reached (the last line lands within one short line of the
 * budget: up to eight draws are tried for a line that still fits). Without a sink the bytes grow one buffer (the
 * context is decoded once at the end); with a sink they are handed over in blocks and never held whole.
 */
/**
 * The output buffer, kept between calls: a fresh 35 MB buffer per 10M-token task costs more in page faults and zeroing
 * than writing the records into it. Generation is synchronous, so one buffer serves every call (it holds one block
 * when streaming, the whole text until it is decoded otherwise).
 */
let SCRATCH = new Uint8Array(0);

function writeRecords(rng: Rng, plan: RecordPlan, sink: ByteSink | null): RecordColumns & { buffer: Uint8Array } {
  const t = getRecordTables();
  const store = t.store;
  const userIds = plan.userIds.map((id) => userPiece(t, id));
  let maxUserBytes = 0;
  for (const id of userIds) maxUserBytes = Math.max(maxUserBytes, store.bytes(id));
  // + 4: the last piece's word padding.
  const maxLine = t.maxDateBytes + maxUserBytes + t.maxLeadBytes + t.maxInstanceBytes + 4;
  // Upper estimate of records, to size the typed arrays once (lines are ≥ 20 tokens).
  const capacity = Math.max(16, Math.ceil(plan.budgetTokens / 18) + 16);
  let day: Int32Array<ArrayBuffer> = new Int32Array(capacity);
  let user: Int32Array<ArrayBuffer> = new Int32Array(capacity);
  let label: Uint8Array<ArrayBuffer> = new Uint8Array(capacity);
  // In memory: ~3.4 bytes per token for these records (grown by doubling if a context runs longer); streaming: blocks.
  const want = sink ? Math.max(SINK_BLOCK_BYTES, 2 * maxLine) : Math.max(4096, Math.ceil(plan.budgetTokens * 3.5) + maxLine);
  if (SCRATCH.length < want) SCRATCH = new Uint8Array(want);
  let out = SCRATCH;
  let dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = 0;
  let flushedBytes = 0;
  let blockWide = false;
  let chars = 0;
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
    const lead = rng.next() < OOLONG_LEAD_SHARE ? rng.int(t.leadIds.length) : -1;
    const slots = tpl.slots;
    const words = store.words;
    const dateId = t.dateIds[d];
    const userId = userIds[u];
    const leadId = lead >= 0 ? t.leadIds[lead] : -1;
    const dh = words[dateId];
    const uh = words[userId];
    const lh = leadId >= 0 ? words[leadId] : 0;
    const lastH = words[tpl.lastId];
    let cost = ((dh >>> 12) & 0xfff) + ((uh >>> 12) & 0xfff) + ((lh >>> 12) & 0xfff) + ((lastH >>> 12) & 0xfff);
    let wide = (dh | uh | lh | lastH) & (1 << 24);
    const lits = tpl.literalIds;
    for (let i = 0; i < slots.length; i++) {
      const ids = slots[i].ids;
      const v = ids[rng.int(ids.length)];
      slotPick[i] = v;
      const vh = words[v];
      const lh2 = words[lits[i]];
      cost += ((vh >>> 12) & 0xfff) + ((lh2 >>> 12) & 0xfff);
      wide |= (vh | lh2) & (1 << 24);
    }
    if (tokens + cost > plan.budgetTokens) {
      misses++;
      continue;
    }
    if (pos + maxLine > out.length) {
      if (sink) {
        sink(out.subarray(0, pos), !blockWide);
        flushedBytes += pos;
        pos = 0;
        blockWide = false;
      } else {
        const grown = new Uint8Array(out.length * 2);
        grown.set(out.subarray(0, pos));
        out = grown;
        SCRATCH = grown;
        dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
      }
    }
    // Word copies through a DataView (inlined by the JIT; a piece's padding bytes land past its end and are
    // overwritten by the next piece, or lie beyond the text).
    const lineStart = pos;
    let w = dateId + 1;
    let end = pos + (dh & 0xfff);
    for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
    pos = end;
    w = userId + 1;
    end = pos + (uh & 0xfff);
    for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
    pos = end;
    if (leadId >= 0) {
      w = leadId + 1;
      end = pos + (lh & 0xfff);
      for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
      pos = end;
    }
    for (let i = 0; i < slots.length; i++) {
      const lit = lits[i];
      w = lit + 1;
      end = pos + (words[lit] & 0xfff);
      for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
      pos = end;
      const v = slotPick[i];
      w = v + 1;
      end = pos + (words[v] & 0xfff);
      for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
      pos = end;
    }
    w = tpl.lastId + 1;
    end = pos + (lastH & 0xfff);
    for (; pos < end; pos += 4) dv.setUint32(pos, words[w++], true);
    pos = end;
    // ASCII pieces: chars = bytes.
    if (wide === 0) chars += pos - lineStart;
    else {
      blockWide = true;
      chars += store.chars(dateId) + store.chars(userId) + (leadId >= 0 ? store.chars(leadId) : 0) + store.chars(tpl.lastId);
      for (let i = 0; i < slots.length; i++) chars += store.chars(lits[i]) + store.chars(slotPick[i]);
    }
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
  if (sink && pos > 0) {
    sink(out.subarray(0, pos), !blockWide);
    flushedBytes += pos;
    pos = 0;
  }
  return {
    count,
    day: day.subarray(0, count),
    user: user.subarray(0, count),
    label: label.subarray(0, count),
    userIds: plan.userIds,
    tokens,
    chars,
    bytes: flushedBytes + pos,
    buffer: out.subarray(0, pos),
  };
}

/** Generates the records and their context as one string. */
export function generateRecords(rng: Rng, plan: RecordPlan): RecordSet {
  return generateRecordsWithBytes(rng, plan).records;
}

/**
 * generateRecords, plus the context's UTF-8 bytes (to hash them without re-encoding the string). `utf8` is a view of
 * a reused buffer: valid until the next records are generated.
 */
export function generateRecordsWithBytes(rng: Rng, plan: RecordPlan): { records: RecordSet; utf8: Uint8Array } {
  const { buffer, ...columns } = writeRecords(rng, plan, null);
  const b = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  // ASCII (chars = bytes): latin1 makes the one-byte string with a plain copy, no UTF-8 validation.
  const context = b.toString(columns.chars === columns.bytes ? 'latin1' : 'utf8');
  return { records: { ...columns, context }, utf8: buffer };
}

/** Generates the records and streams their context to `sink` (same records and bytes as generateRecords). */
export function streamRecords(rng: Rng, plan: RecordPlan, sink: ByteSink): RecordColumns {
  const { buffer: _unused, ...columns } = writeRecords(rng, plan, sink);
  return columns;
}

/** Per-user label counts: counts[user * 6 + label]. */
export function userLabelCounts(records: RecordColumns): Int32Array {
  const counts = new Int32Array(records.userIds.length * OOLONG_LABELS.length);
  for (let i = 0; i < records.count; i++) counts[records.user[i] * OOLONG_LABELS.length + records.label[i]]++;
  return counts;
}

export function labelCounts(records: RecordColumns): Record<OolongLabel, number> {
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
