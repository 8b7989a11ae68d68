/**
 * Records shared by `oolong` and `oolong-pairs` — the OOLONG trec_coarse imitation.
 *
 * One record per line:
 *   Date: <Mon DD, YYYY> || User: <5-digit id> || Instance: <a question-like sentence>
 * Each instance has one of six coarse labels (TREC coarse classes). The label is NOT written anywhere; it is what the
 * sentence asks for, and every template of a label opens in a way that identifies it. `oolongLabelRule` is the
 * documented keyword rule (a sub-model simulator uses it; a language model can do the same by reading):
 *   1. mentions "stand for", "abbreviation", "acronym" or "full form"          → abbreviation
 *   2. starts with "Who", "Whom" or "Whose"                                   → human
 *   3. starts with "Where", or "In which/what country|city|region|province|town" → location
 *   4. starts with "How many/much/long/old/far/tall/high/deep/often", "What year",
 *      "In what year", "When", or "What is the population"                    → numeric
 *   5. starts with "Why", "How does/do/did/can/is", "What causes", "What is the
 *      difference", "What are the effects", "Describe" or "Explain"             → description
 *   6. starts with "What is the name of", "Which", "What kind/type of" or "Name the" → entity
 * Rules are tried in that order; the templates below are written so that each sentence matches its own label's rule
 * (the tests check every template with every slot value).
 */
import type { Rng } from './rng.ts';
import { TextBuilder } from './text.ts';
import { pieceTokens } from './tokens.ts';

export const OOLONG_LABELS = ['abbreviation', 'entity', 'description', 'human', 'location', 'numeric'] as const;
export type OolongLabel = (typeof OOLONG_LABELS)[number];

/** One-line definitions, shown in questions so the policy knows the taxonomy. */
export const OOLONG_LABEL_DEFINITIONS: Record<OolongLabel, string> = {
  abbreviation: 'asks what an abbreviation or acronym stands for, or for the abbreviation of a name',
  entity: 'asks for a named thing: an object, animal, plant, instrument, vehicle, food, substance, …',
  description: 'asks for an explanation, a reason, a cause, a difference or a description',
  human: 'asks who a person is or was (an individual or a group of people)',
  location: 'asks where something is, was or happened (a place, city, country, region)',
  numeric: 'asks for a number: a count, amount, size, age, duration, year or date',
};

/** The documented label rule (see the module comment). Returns null for sentences that match no rule. */
export function oolongLabelRule(sentence: string): OolongLabel | null {
  const s = sentence.trim().toLowerCase();
  if (/\b(stand for|stands for|abbreviation|acronym|full form)\b/.test(s)) return 'abbreviation';
  if (/^(who|whom|whose)\b/.test(s)) return 'human';
  if (/^where\b/.test(s) || /^in (which|what) (country|city|region|province|town)\b/.test(s)) return 'location';
  if (
    /^how (many|much|long|old|far|tall|high|deep|often)\b/.test(s) ||
    /^(what|in what) year\b/.test(s) ||
    /^when\b/.test(s) ||
    /^what is the population\b/.test(s)
  ) {
    return 'numeric';
  }
  if (
    /^why\b/.test(s) ||
    /^how (does|do|did|can|is)\b/.test(s) ||
    /^what (causes|is the difference|are the effects)\b/.test(s) ||
    /^(describe|explain)\b/.test(s)
  ) {
    return 'description';
  }
  if (/^(what is the name of|which|what (kind|type) of|name the)\b/.test(s)) return 'entity';
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Slot vocabularies (fictional people and places, so a model cannot answer the instance itself from memory and the
// label can only come from the question's form).

const FIRST = ['Mara', 'Tobias', 'Ilse', 'Bram', 'Oda', 'Felix', 'Nadia', 'Corin', 'Lena', 'Hugo', 'Sabine', 'Emil', 'Vera', 'Jonas', 'Greta', 'Anton', 'Rosa', 'Milan', 'Petra', 'Otto'];
const LAST = ['Quill', 'Fenn', 'Okafor', 'Tell', 'Visser', 'Marlow', 'Brandt', 'Castell', 'Duvall', 'Hart', 'Lindqvist', 'Moreau', 'Novak', 'Orsini', 'Pryce', 'Renner', 'Sorensen', 'Thorne', 'Varga', 'Whitlock'];
const PERSON = FIRST.flatMap((f, i) => LAST.filter((_, j) => (i + j) % 3 === 0).map((l) => `${f} ${l}`));

const PLACE = [
  'Port Halden', 'Varenna', 'Lake Orrin', 'Castell Mor', 'Brightwater', 'Oldcastle', 'Eastmere', 'Kessandra', 'Tormouth',
  'Belhaven', 'Rookwood', 'Saltmarsh', 'Ivenholm', 'Dunmore Bay', 'Greywick', 'Ashford Vale', 'Norrow', 'Pellan',
  'Quarry Hill', 'Redcliffe', 'Sandhaven', 'Thornbury', 'Upper Lisk', 'Westerholt', 'Yarrowby', 'Zennor Point',
];
const ACRONYM = [
  'NASA', 'UNESCO', 'NATO', 'OPEC', 'UNICEF', 'FIFA', 'GDP', 'HTML', 'DNA', 'RAM', 'CPU', 'ASAP', 'LED', 'GPS', 'PDF',
  'ATM', 'CEO', 'DIY', 'FAQ', 'MRI', 'OECD', 'PIN', 'RSVP', 'SCUBA', 'SUV', 'UFO', 'USB', 'VAT', 'VIP', 'KPRA', 'TVMC',
  'HLDC', 'BRSA', 'OMFL',
];
const LONG_NAME = [
  'World Health Organization', 'International Monetary Fund', 'European Space Agency', 'National Hockey League',
  'International Olympic Committee', 'Halden Harbour Authority', 'Varenna Transit Company', 'Society of Mapmakers',
  'Northern Rail Board', 'Institute of Glass Research',
];
const REPORT = ['budget', 'safety', 'weather', 'shipping', 'medical', 'census', 'engineering', 'mining'];
const ROLE = ['mayor', 'governor', 'harbour master', 'archbishop', 'chief justice', 'chancellor', 'lighthouse keeper', 'postmaster'];
const INVENTION = ['folding telescope', 'steam loom', 'pocket compass', 'glass harmonica', 'paper kite', 'iron plough', 'diving bell', 'tide clock'];
const WORK = ['The Silent Harbour', 'Letters from Norrow', 'The Glass Orchard', 'Winter in Varenna', 'The Last Lantern', 'A Map of Salt', 'The Copper Bell', 'Night Ferry'];
const LANDMARK = ['Old Lighthouse', 'Grey Tower', 'Salt Bridge', 'Copper Dome', 'North Gate', 'Stone Lantern', 'Bell Tower', 'Harbour Wall'];
const EVENT = ['lantern festival', 'spring regatta', 'glass fair', 'winter market', 'harvest parade', 'river race', 'map congress', 'kite contest'];
const RIVER = ['Orrin River', 'Lisk River', 'Varen River', 'Halden Canal', 'Moss River', 'Tarn River'];
const THINGS = ['bridges', 'lighthouses', 'bakeries', 'windmills', 'libraries', 'islands', 'ferries', 'museums'];
const ITEM = ['loaf of bread', 'ferry ticket', 'pound of salt', 'glass lantern', 'wool blanket', 'bicycle'];
const ANIMALS = ['swallows', 'eels', 'salmon', 'cranes', 'monarch butterflies', 'reindeer', 'geese', 'whales'];
const DEVICE = ['tide clock', 'windmill', 'barometer', 'diving bell', 'water wheel', 'sextant', 'lock gate', 'steam loom'];
const PHENOMENON = ['sea fog', 'river flooding', 'coastal erosion', 'early frost', 'salt damp', 'silt build-up', 'summer drought'];
const PAIR_A = ['lake', 'brig', 'fjord', 'sonnet', 'glacier', 'harbour', 'violin', 'moth'];
const PAIR_B = ['pond', 'schooner', 'bay', 'ballad', 'ice sheet', 'marina', 'viola', 'butterfly'];
const PROCESS = ['glassblowing method', 'salt harvesting process', 'bread baking tradition', 'net mending technique', 'timber drying method', 'dye making process'];
const INSTRUMENT = ['instrument', 'sailing boat', 'breed of dog', 'kind of cheese', 'type of bicycle', 'musical instrument'];
const CATEGORY = ['animal', 'plant', 'mineral', 'fish', 'bird', 'tree'];
const CREATURE = ['halden newt', 'orrin pike', 'grey marsh crane', 'salt lily', 'copper beetle', 'river dace'];
const FOOD = ['harbour chowder', 'salt bread', 'plum cake', 'varenna dumplings', 'smoked eel pie', 'honey biscuits'];
const VEHICLE = ['schooner', 'racing yacht', 'steam launch', 'rowing eight', 'ice yacht', 'mail coach'];
const RACE = ['Halden Cup', 'Orrin Regatta', 'Varenna Trophy', 'Salt Coast Race', 'Winter Crossing'];
const PET = ['dog', 'cat', 'horse', 'parrot', 'goat'];
const TREE = ['tree', 'reed', 'flower', 'shrub', 'moss'];

const SLOTS: Record<string, readonly string[]> = {
  person: PERSON, place: PLACE, acr: ACRONYM, longname: LONG_NAME, report: REPORT, role: ROLE, invention: INVENTION,
  work: WORK, landmark: LANDMARK, event: EVENT, river: RIVER, things: THINGS, item: ITEM, animals: ANIMALS,
  device: DEVICE, phenomenon: PHENOMENON, pairA: PAIR_A, pairB: PAIR_B, process: PROCESS, instrument: INSTRUMENT,
  category: CATEGORY, creature: CREATURE, food: FOOD, vehicle: VEHICLE, race: RACE, pet: PET, tree: TREE,
};

/** Templates per label. Every slot is preceded by a space; every template ends in "?" or ".". */
export const OOLONG_TEMPLATES: Record<OolongLabel, readonly string[]> = {
  abbreviation: [
    'What does {acr} stand for?',
    'What is the full form of {acr}?',
    'What is {acr} an abbreviation for?',
    'What does the acronym {acr} mean?',
    'In the {report} report, what does {acr} stand for?',
    'What is the abbreviation for the {longname}?',
  ],
  entity: [
    'What is the name of the ship that {person} sailed on?',
    'Which {instrument} did {person} own?',
    'What kind of {category} is the {creature}?',
    'What is the name of the {pet} in {work}?',
    'Which spice is used to make {food}?',
    'Name the {vehicle} that won the {race}.',
    'What type of {tree} grows along the {river}?',
  ],
  description: [
    'Why do {animals} migrate in the autumn?',
    'How does a {device} work?',
    'What causes {phenomenon}?',
    'What is the difference between a {pairA} and a {pairB}?',
    'How did {person} become famous?',
    'Why is the {landmark} painted red?',
    'What are the effects of {phenomenon} on {things}?',
    'Describe the {process} used in {place}.',
  ],
  human: [
    'Who invented the {invention}?',
    'Who was the first {role} of {place}?',
    'Who wrote {work}?',
    'Who founded the {longname}?',
    'Who painted the portrait in {work}?',
    'Whose name is carved on the {landmark}?',
    'Who led the {event} in {place}?',
  ],
  location: [
    'Where is {place} located?',
    'Where was {person} born?',
    'In which country is the {landmark}?',
    'Where did the {event} take place?',
    'In which city did {person} open a bakery?',
    'Where does the {river} begin?',
    'Where can one see the {landmark}?',
  ],
  numeric: [
    'How many {things} are there in {place}?',
    'How tall is the {landmark}?',
    'What year did {person} publish {work}?',
    'When was the {longname} founded?',
    'How much does a {item} cost in {place}?',
    'How long is the {river}?',
    'How old was {person} when the {event} began?',
    'What is the population of {place}?',
  ],
};

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
}

let recordTables: RecordTables | null = null;
const slotTableCache = new Map<string, { values: string[]; tokens: number[] }>();

function slotTable(name: string): { values: string[]; tokens: number[] } {
  let t = slotTableCache.get(name);
  if (!t) {
    const raw = SLOTS[name];
    if (!raw) throw new Error(`records: template uses unknown slot {${name}}`);
    const values = raw.map((v) => ` ${v}`);
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
    let cost = t.dateTokens[d] + userTokens[u] + tpl.lastWithNewlineTokens;
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
    'Every instance belongs to exactly one of six categories. The category is not written in the data; it must be ' +
    'inferred from what the instance asks:\n' +
    `${defs}\n`
  );
}
