/**
 * The phrasing bank of `browsecomp`: every sentence form a document of the fictional world can contain, each written
 * once as a template and used in both directions —
 *   render: the generator fills a template with the world's values (browsecomp.ts picks which template, by seed);
 *   read:   `readBrowsecompDoc(text)` recognises each sentence of a document and returns what it *states as fact*.
 *
 * Facts have many phrasings (a birth year given outright or as "turned forty in 1978", a founding year given as
 * "received its charter in 1712, twelve years after its founding", a chair given "at the age of fifty-one" — computed
 * from the birth year in the same document), some span two sentences joined by a pronoun, and *near misses* state
 * what is not a fact: "applied to the X but never enrolled", "had been invited but did not attend", "worked briefly as
 * an engineer's assistant", a brother who studied somewhere, a retracted newspaper report. A reader must tell them
 * apart by meaning; a keyword match cannot.
 *
 * The reader is the knowledge of the simulated sub-model (rollouts/reference/subcalls.ts: it reads only the documents
 * in its prompt, as an LLM would) and of the independent solver test; the generator never needs it. It is the analogue
 * of oolong's instance bank: a code-only policy that does not have it must parse prose it has never seen.
 */
import { CITY_KINDS, EVENT_TYPES, ORG_TYPES, PROFESSIONS } from './browsecomp-world.ts';
import { pieceTokens } from './tokens.ts';

export type Slot = 'birthCity' | 'birthYear' | 'profession' | 'university' | 'chair' | 'award' | 'events';

/** What one document states (fields absent when the document does not state them). */
export interface DocReading {
  kind: 'person' | 'city' | 'organisation' | 'award' | 'event' | 'unknown';
  /** The subject as written in the lead sentence (a person's full name, an entity's name). */
  name?: string;
  // person
  birthYear?: number;
  birthCity?: string;
  profession?: string;
  university?: string;
  chair?: { org: string; year: number };
  award?: { name: string; year: number };
  // city / organisation
  cityKind?: string;
  country?: string;
  orgType?: string;
  hq?: string;
  founded?: number;
  // award
  presenter?: string;
  established?: number;
  /** Established N years after the presenter was founded (the presenter's founding year is in its own document). */
  establishedAfterFounding?: number;
  // event
  eventType?: string;
  organiser?: string;
  city?: string;
  year?: number;
  participants?: string[];
  /** Near misses the document mentions (what a careless reader would take for a fact), by slot. */
  nearMisses: { slot: string; value: string }[];
}

// ---------------------------------------------------------------------------------------------------------------
// numbers as words ("forty-three"): relative years are written out, as in prose

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

export function numberWord(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 99) throw new RangeError(`numberWord: ${n} is not in 0…99`);
  if (n < 20) return ONES[n];
  const t = TENS[Math.floor(n / 10)];
  return n % 10 === 0 ? t : `${t}-${ONES[n % 10]}`;
}

export function wordNumber(s: string): number | null {
  const [a, b] = s.split('-');
  const i = ONES.indexOf(a);
  if (i >= 0 && b === undefined) return i;
  const t = TENS.indexOf(a);
  if (t < 2) return null;
  if (b === undefined) return t * 10;
  const o = ONES.indexOf(b);
  return o >= 1 && o <= 9 ? t * 10 + o : null;
}

export function article(noun: string): string {
  return /^[aeiou]/i.test(noun) && !/^(uni|use|usu|eu)/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

// ---------------------------------------------------------------------------------------------------------------
// templates

/**
 * Placeholders: {Name} the document's subject (lead sentences), {Pron}/{pron} She|He / she|he, {Poss}/{poss} Her|His /
 * her|his, {obj} her|him, {city} {city2} {org} {org2} {award} {award2} {event} {country} {country2} {person} names,
 * {names} a list "A, B and C", {year} {year2} four-digit years, {n} {age} numbers as words, {aprof} {akind} {atype}
 * "a/an" + noun, {prof} {kind} {type} bare nouns, {Year} a year at the start of a sentence.
 */
export interface Template {
  id: string;
  text: string;
  /** How many sentences it spans (two-sentence forms are read as a pair). */
  sentences: 1 | 2;
}

/** A compiled template: the reading regex and the placeholder of each capture group. */
interface Compiled extends Template {
  re: RegExp;
  slots: string[];
  apply: (r: DocReading, v: Record<string, string>) => void;
}

/** A proper name: capitalised words, with "of"/"for" and "No. 3" inside (entity names never contain other words). */
const WORD = "\\p{Lu}[\\p{L}\\d'-]*";
const NAME = `${WORD}(?: (?:of|for|No\\.|\\d+|${WORD}))*`;
const WORDNUM = '[a-z]+(?:-[a-z]+)?';
const alt = (xs: readonly string[]): string => `(?:${xs.join('|')})`;
const PROF = alt(PROFESSIONS);
const KIND = alt(CITY_KINDS);
const TYPE = alt(ORG_TYPES);
const ETYPE = alt(EVENT_TYPES);
const GROUP: Record<string, string> = {
  Name: NAME, city: NAME, city2: NAME, org: NAME, org2: NAME, award: NAME, award2: NAME, country: NAME,
  country2: NAME, person: NAME, names: `${NAME}(?:, ${NAME})*(?: and ${NAME})?`,
  year: '\\d{4}', year2: '\\d{4}', Year: '\\d{4}', n: WORDNUM, age: WORDNUM,
  aprof: `an? ${PROF}`, prof: PROF, aprof2: `an? ${PROF}`, prof2: PROF, akind: `an? ${KIND}`, kind: KIND,
  atype: `an? ${TYPE}`, type: TYPE, aetype: `an? ${ETYPE}`, etype: ETYPE,
  Pron: '(?:She|He)', pron: '(?:she|he)', Poss: '(?:Her|His)', poss: '(?:her|his)', obj: '(?:her|him)',
};

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(t: Template, apply: Compiled['apply']): Compiled {
  const slots: string[] = [];
  let src = '';
  let last = 0;
  for (const m of t.text.matchAll(/\{(\w+)\}/g)) {
    src += escapeRe(t.text.slice(last, m.index));
    const g = GROUP[m[1]];
    if (!g) throw new Error(`browsecomp bank: unknown placeholder {${m[1]}} in "${t.text}"`);
    src += `(${g})`;
    slots.push(m[1]);
    last = m.index + m[0].length;
  }
  src += escapeRe(t.text.slice(last));
  return { ...t, re: new RegExp(`^${src}$`, 'u'), slots, apply };
}

type Values = Record<string, string | number>;

function value(t: Template, v: Values, k: string): string {
  let x = v[k];
  if (x === undefined && k.startsWith('a') && v[k.slice(1)] !== undefined) x = article(String(v[k.slice(1)]));
  if (x === undefined) throw new Error(`browsecomp bank: no value for {${k}} in "${t.text}"`);
  return String(x);
}

/** Fills a template. Values for article forms ({aprof}, …) are derived from the bare nouns when not given. */
export function renderTemplate(t: Template, v: Values): string {
  return t.text.replace(/\{(\w+)\}/g, (_, k: string) => value(t, v, k));
}

/**
 * A rendered sentence split for exact token counting: its first word (whose tokens depend on a leading space, i.e. on
 * its position in a paragraph), the rest (starting with a space), and the o200k tokens of the rest. A space always
 * starts a pretoken (tokens.ts), so the rest's tokens are the sum over its space-led words: the template's own words
 * are counted once, only the words that hold a value are looked up per sentence.
 */
export interface CountedSentence {
  first: string;
  rest: string;
  restTokens: number;
}

/** A template word: literal text and placeholders, with its tokens when it is all literal (and not the first word). */
interface Word {
  parts: string[];
  keys: (string | null)[];
  tokens: number | null;
  /**
   * " {key}" or " {key}" + closing punctuation (".", ",", ";", …): then its tokens are those of " " + value plus those of
   * the punctuation, because a letter or digit followed by punctuation is always a pretoken boundary in o200k.
   */
  simple: { key: string; suffix: string; suffixTokens: number } | null;
}

/** Tokens of " " + value, by value (world names and years recur in every sentence that mentions them). */
const spacedTokens = new Map<string | number, number>();
const SPACED_LIMIT = 200_000;

function spaced(x: string | number): number {
  let n = spacedTokens.get(x);
  if (n === undefined) {
    if (spacedTokens.size >= SPACED_LIMIT) spacedTokens.clear();
    n = pieceTokens(` ${x}`);
    spacedTokens.set(x, n);
  }
  return n;
}

const wordCache = new WeakMap<Template, Word[]>();

function templateWords(t: Template): Word[] {
  let words = wordCache.get(t);
  if (words) return words;
  words = [];
  let cur: Word = { parts: [], keys: [], tokens: null, simple: null };
  const re = /\{(\w+)\}| |[^{ ]+/g;
  for (const m of t.text.matchAll(re)) {
    if (m[0] === ' ') {
      words.push(cur);
      cur = { parts: [' '], keys: [null], tokens: null, simple: null };
    } else if (m[1] !== undefined) {
      cur.parts.push('');
      cur.keys.push(m[1]);
    } else {
      cur.parts.push(m[0]);
      cur.keys.push(null);
    }
  }
  words.push(cur);
  words.forEach((w, i) => {
    if (i === 0) return;
    if (w.keys.every((k) => k === null)) w.tokens = pieceTokens(w.parts.join(''));
    else if (w.keys.length <= 3 && w.keys[1] !== null && w.keys[0] === null && w.parts[0] === ' ' && (w.keys.length === 2 || (w.keys[2] === null && /^[.,;:!?)]+$/.test(w.parts[2])))) {
      const suffix = w.keys.length === 3 ? w.parts[2] : '';
      // Values that take an article ({aprof} → "an engineer") are rendered first; the rest are names and numbers.
      const key = w.keys[1] as string;
      if (!/^a(?:prof2?|kind|type|etype)$/.test(key)) w.simple = { key, suffix, suffixTokens: suffix === '' ? 0 : pieceTokens(suffix) };
    }
  });
  wordCache.set(t, words);
  return words;
}

function renderWord(t: Template, w: Word, v: Values): string {
  let s = '';
  for (let i = 0; i < w.parts.length; i++) s += w.keys[i] === null ? w.parts[i] : value(t, v, w.keys[i] as string);
  return s;
}

/** renderTemplate, split and counted for the generator (first + rest is the same text). */
export function renderCounted(t: Template, v: Values): CountedSentence {
  const words = templateWords(t);
  const first = renderWord(t, words[0], v);
  let rest = '';
  let restTokens = 0;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w.tokens !== null) {
      rest += w.parts.join('');
      restTokens += w.tokens;
    } else if (w.simple !== null && v[w.simple.key] !== undefined) {
      const x = v[w.simple.key];
      rest += ` ${x}${w.simple.suffix}`;
      restTokens += spaced(x) + w.simple.suffixTokens;
    } else {
      const s = renderWord(t, w, v);
      rest += s;
      restTokens += pieceTokens(s);
    }
  }
  return { first, rest, restTokens };
}

const strip = (a: string): string => a.replace(/^an? /, '');
const num = (s: string): number => Number(s);
const words = (s: string): number => wordNumber(s) ?? Number.NaN;
const miss = (r: DocReading, slot: string, value: string): void => {
  r.nearMisses.push({ slot, value });
};

/** A template family: the forms, and what each states. */
interface Group {
  /** What the generator renders with this group. */
  use: string;
  forms: [Template, Compiled['apply']][];
}

const T = (id: string, text: string, sentences: 1 | 2 = 1): Template => ({ id, text, sentences });

// --- person: lead sentences (subject = full name) ---------------------------------------------------------------
const person = (r: DocReading, v: Record<string, string>): void => {
  r.kind = 'person';
  r.name = v.Name;
  if (v.aprof !== undefined) r.profession = strip(v.aprof);
  if (v.city !== undefined) r.birthCity = v.city;
  if (v.year !== undefined) r.birthYear = num(v.year);
};

/** Lead with birthplace, birth year and profession. */
export const PERSON_LEAD_FULL = [
  T('pl1', '{Name} (born {year} in {city}) is {aprof}.'),
  T('pl2', '{Name} is {aprof} who was born in {city} in {year}.'),
  T('pl3', 'Born in {city} in {year}, {Name} became {aprof}.'),
  T('pl4', '{Name}, {aprof}, was born in {city} in {year}.'),
  T('pl5', '{Name} was born in {year} in {city} and worked as {aprof}.'),
];
/** Lead with the profession only (birth facts come later in the document). */
export const PERSON_LEAD_PROF = [
  T('pp1', '{Name} is {aprof}.'),
  T('pp2', '{Name} made a name as {aprof}.'),
  T('pp3', '{Name} worked for most of {poss} life as {aprof}.'),
  T('pp4', 'By profession, {Name} is {aprof}.'),
];
/** Birthplace and year, later in the document. */
export const BIRTH = [
  T('b1', '{Pron} was born in {city} in {year}.'),
  T('b2', '{Pron} was born in {year} in {city}.'),
  T('b3', 'A native of {city}, {pron} was born there in {year}.'),
  T('b4', '{city} was {poss} birthplace; {pron} was born there in {year}.'),
  T('b5', '{Pron} was born in {city} in {year}, not long before the railway arrived.'),
  T('b6', '{Pron} was born in {city} in {year} and moved to {city2} as a child.'),
];
/** Birthplace plus a relative year: birth year = year − age. */
export const BIRTH_RELATIVE = [
  T('br1', '{Pron} was born in {city} and turned {age} in {year}.'),
  T('br2', '{Pron} was born in {city}; in {year} {pron} turned {age}.'),
  T('br3', '{Pron} came into the world in {city}.', 1),
];
/** Birth year alone, outright or relative (used after a lead that names the birthplace only). */
export const BIRTH_YEAR = [
  T('by1', '{Pron} was born in {year}.'),
  T('by2', '{Pron} turned {age} in {year}.'),
  T('by3', '{Year} was the year of {poss} birth.'),
];
export const BIRTH_YEAR_ABSOLUTE = new Set(['by1', 'by3']);

// --- person: other facts (subject = pronoun) --------------------------------------------------------------------
export const EDUCATION = [
  T('e1', '{Pron} studied at the {org}.'),
  T('e2', '{Pron} was educated at the {org}.'),
  T('e3', '{Pron} took {poss} degree at the {org}.'),
  T('e4', '{Pron} graduated from the {org} in {year}.'),
  T('e5', 'The {org} admitted {obj} as a student in {year}, and {pron} graduated {n} years later.'),
  T('e6', 'At eighteen {pron} went up to the {org}. {Pron} would graduate from there.', 2),
  T('e7', '{Poss} student years were spent at the {org}.'),
  T('e8', 'Although {pron} never cared for lectures, {pron} completed {poss} studies at the {org}.'),
  T('e9', '{Pron} had not planned on an academic life, but graduated from the {org} in {year}.'),
  T('e10', '{Pron} chose the {org} over the {org2} and took {poss} degree there.'),
];
export const CHAIR = [
  T('c1', 'In {year}, {pron} became chair of the {org}.'),
  T('c2', '{Pron} became chair of the {org} in {year}.'),
  T('c3', '{Pron} was elected to chair the {org} in {year}.'),
  T('c4', 'The {org} chose {obj} as its chair in {year}.'),
  T('c5', 'From {year}, {pron} chaired the {org}.'),
  T('c6', 'In {year} the {org} needed a new chair. The members chose {obj}.', 2),
  T('c7', 'Not everyone expected it, but in {year} {pron} was made chair of the {org}.'),
  T('c8', '{Pron} never sought office, yet became chair of the {org} in {year}.'),
  T('c9', '{Pron} left the board of the {org2} in {year2} and became chair of the {org} in {year}.'),
];
/** Chair at an age: year = birth year + age (the birth year is stated in the same document). */
export const CHAIR_AGE = [T('ca1', '{Pron} became chair of the {org} at the age of {age}.'), T('ca2', 'At {age}, {pron} took the chair of the {org}.')];
export const AWARD = [
  T('a1', 'In {year}, {pron} received the {award}.'),
  T('a2', '{Pron} received the {award} in {year}.'),
  T('a3', '{Pron} was awarded the {award} in {year}.'),
  T('a4', 'The {award} went to {obj} in {year}.'),
  T('a5', '{Pron} won the {award} in {year}.'),
  T('a6', 'In {year} the committee of the {award} made its choice. The prize went to {obj}.', 2),
  T('a7', 'Few had tipped {obj} for it, yet {pron} won the {award} in {year}.'),
  T('a8', '{Pron} had been nominated twice before {pron} finally received the {award} in {year}.'),
  T('a9', '{Pron} received the {award} in {year}, a year after being passed over for the {award2}.'),
];
export const AWARD_AGE = [T('aa1', '{Pron} received the {award} at the age of {age}.'), T('aa2', 'At {age}, {pron} was given the {award}.')];

// --- person: near misses (state no fact about the person) -------------------------------------------------------
export const MISS_CITY = [
  T('mc1', '{Pron} grew up in {city2}, where the family moved when {pron} was small.'),
  T('mc2', '{Poss} family later settled in {city2}.'),
  T('mc3', 'Some early accounts claim {pron} was born in {city2}; the parish register shows otherwise.'),
  T('mc4', '{Pron} spent most of {poss} childhood in {city2}.'),
  T('mc5', '{Poss} younger brother was born in {city2}.'),
];
export const MISS_YEAR = [
  T('my1', '{Poss} younger brother was born in {year2}.'),
  T('my2', '{Poss} elder sister was born in {year2}.'),
  T('my3', 'An old encyclopedia gives {poss} year of birth as {year2}, a misprint.'),
  T('my4', 'The family moved house in {year2}.'),
];
export const MISS_PROF = [
  T('mp1', 'Before finding {poss} calling, {pron} worked briefly as {aprof2}\'s assistant.'),
  T('mp2', '{Poss} father was {aprof2}.'),
  T('mp3', 'Early profiles wrongly described {obj} as {aprof2}.'),
  T('mp4', '{Pron} once considered becoming {aprof2}, but never trained as one.'),
  T('mp5', '{Poss} closest friend was {aprof2}.'),
  T('mp6', '{Pron} married {aprof2}.'),
  T('mp7', '{Pron} wrote a biography of {aprof2}.'),
];
export const MISS_UNI = [
  T('mu1', '{Pron} applied to the {org2} but never enrolled.'),
  T('mu2', '{Pron} was offered a place at the {org2}, which {pron} turned down.'),
  T('mu3', 'Later in life {pron} lectured at the {org2}.'),
  T('mu4', '{Poss} brother studied at the {org2}.'),
  T('mu5', '{Pron} gave a public lecture at the {org2} in {year2}.'),
  T('mu6', '{Pron} sat the entrance examination of the {org2} and failed it.'),
  T('mu7', 'The {org2} awarded {obj} an honorary degree in {year2}.'),
  T('mu8', '{Pron} donated {poss} papers to the {org2}.'),
];
export const MISS_CHAIR = [
  T('mh1', '{Pron} was offered the chair of the {org2} in {year2} but declined.'),
  T('mh2', '{Pron} stood for the chair of the {org2} in {year2} and lost.'),
  T('mh3', '{Pron} sat on the board of the {org2} for years without ever chairing it.'),
  T('mh4', 'A report in {year2} that {pron} would become chair of the {org2} proved false.'),
  T('mh5', '{Poss} mentor became chair of the {org2} in {year2}.'),
  T('mh6', '{Pron} became vice-chair of the {org2} in {year2}.'),
  T('mh7', '{Pron} chaired the jubilee celebrations of the {org2} in {year2}.'),
];
export const MISS_AWARD = [
  T('ma1', '{Pron} was shortlisted for the {award2} in {year2}, but it went to another candidate.'),
  T('ma2', '{Pron} was nominated for the {award2} in {year2}.'),
  T('ma3', 'A newspaper reported in {year2} that {pron} had won the {award2}; it printed a correction the next day.'),
  T('ma4', '{Pron} served on the jury of the {award2} in {year2}.'),
  T('ma5', 'One of {poss} students received the {award2} in {year2}.'),
  T('ma6', "{Pron} presented the {award2} to that year's winner in {year2}."),
  T('ma7', '{Pron} designed the medal of the {award2} in {year2}.'),
];

// --- cities ---------------------------------------------------------------------------------------------------
export const CITY_LEAD_FULL = [
  T('cl1', '{Name} is {akind} in {country}. It was founded in {year}.', 2),
  T('cl2', '{Name}, {akind} in {country}, was founded in {year}.'),
  T('cl3', 'Founded in {year}, {Name} is {akind} in {country}.'),
  T('cl4', '{Name} has been {akind} in {country} since its founding in {year}.'),
];
export const CITY_LEAD = [T('cs1', '{Name} is {akind} in {country}.'), T('cs2', 'In {country} lies {Name}, {akind}.')];
export const CITY_FOUNDED = [
  T('cf1', 'It was founded in {year}.'),
  T('cf2', 'Settlers founded the town in {year}.'),
  T('cf3', 'It received its charter in {year2}, {n} years after its founding.'),
  T('cf4', 'The first houses were built in {year}, the year the town was founded.'),
];
export const CITY_MISS = [
  T('cm1', 'It is sometimes confused with {akind} of a similar name in {country2}.'),
  T('cm2', 'Its oldest surviving church was built in {year2}.'),
  T('cm3', 'The railway reached it in {year2}.'),
  T('cm4', 'Many of its families came from {city2}.'),
];

// --- organisations --------------------------------------------------------------------------------------------
export const ORG_LEAD_FULL = [
  T('ol1', 'The {Name} is {atype} based in {city}. It was founded in {year}.', 2),
  T('ol2', 'Founded in {year}, the {Name} is {atype} based in {city}.'),
  T('ol3', 'The {Name}, {atype} in {city}, was founded in {year}.'),
  T('ol4', 'The {Name} has been {atype} in {city} since its founding in {year}.'),
];
export const ORG_LEAD = [T('os1', 'The {Name} is {atype} with its seat in {city}.'), T('os2', 'The {Name} is {atype} based in {city}.')];
export const ORG_FOUNDED = [
  T('of1', 'It was founded in {year}.'),
  T('of2', 'It opened its doors in {year}, the year of its founding.'),
  T('of3', 'It took its present name in {year2}, {n} years after it was founded.'),
];
export const ORG_MISS = [
  T('om1', 'It opened a branch office in {city2} in {year2}.'),
  T('om2', 'It briefly shared premises with the {org2}.'),
  T('om3', 'Its present building dates from {year2}.'),
  T('om4', 'It is not to be confused with the {org2}.'),
];

// --- awards ---------------------------------------------------------------------------------------------------
export const AWARD_LEAD_FULL = [
  T('wl1', 'The {Name} is an award presented by the {org}. It was established in {year}.', 2),
  T('wl2', 'Established in {year}, the {Name} is an award presented by the {org}.'),
  T('wl3', 'The {org} established the {Name}, an award, in {year}.'),
  T('wl4', 'The {Name}, an award of the {org}, was instituted in {year}.'),
];
export const AWARD_LEAD = [T('ws1', 'The {Name} is an award presented by the {org}.')];
export const AWARD_ESTABLISHED = [
  T('we1', 'It was established in {year}.'),
  T('we2', 'The award was first instituted in {year}.'),
];
/** Established relative to the presenter's founding (stated in the presenter's own document). */
export const AWARD_ESTABLISHED_RELATIVE = [T('wr1', 'The award was established {n} years after the founding of the organisation that presents it.')];
export const AWARD_MISS = [
  T('wm1', 'It is often confused with the {award2}, which the {org2} presents.'),
  T('wm2', 'Its statuette was redesigned in {year2}.'),
];

// --- events ---------------------------------------------------------------------------------------------------
export const EVENT_LEAD = [
  T('vl1', 'The {Name}, {aetype} organised by the {org}, was held in {city} in {year}.'),
  T('vl2', 'In {year}, the {org} organised the {Name}, {aetype} held in {city}.'),
  T('vl3', 'The {Name} took place in {city} in {year}. It was {aetype} organised by the {org}.', 2),
  T('vl4', '{city} hosted the {Name}, {aetype} organised by the {org}, in {year}.'),
];
export const EVENT_PARTICIPANTS = [
  T('vp1', 'Participants included {names}.'),
  T('vp2', 'Among those taking part were {names}.'),
  T('vp3', '{names} took part.'),
  T('vp4', 'The participants were {names}.'),
  T('vp5', '{names} took part, though not all of them stayed to the end.'),
];
export const EVENT_PARTICIPANT_ONE = [T('vo1', '{person} took part.'), T('vo2', 'The only participant was {person}.')];
export const EVENT_MISS_PERSON = [
  T('vm1', '{person} had been invited but did not attend.'),
  T('vm2', '{person}, who was expected, withdrew before the opening.'),
  T('vm3', '{person} followed the proceedings from home.'),
  T('vm4', 'Several newspapers wrongly listed {person} among the participants.'),
  T('vm5', '{person} sent a letter of greeting but did not travel.'),
  T('vm6', '{person} reported on it for a newspaper.'),
  T('vm7', '{person} watched it from among the spectators.'),
];
export const EVENT_MISS = [T('vx1', 'A second edition was planned for {year2} but never took place.'), T('vx2', 'The organisers had first hoped to hold it in {city2}.')];

// ---------------------------------------------------------------------------------------------------------------
// reading

const forms = (ts: Template[], apply: Compiled['apply']): [Template, Compiled['apply']][] => ts.map((t) => [t, apply]);

const entity = (kind: DocReading['kind']) => (r: DocReading, v: Record<string, string>): void => {
  r.kind = kind;
  r.name = v.Name;
  if (v.year !== undefined) r.founded = num(v.year);
  if (kind === 'city') {
    r.cityKind = strip(v.akind);
    r.country = v.country;
  } else {
    r.orgType = strip(v.atype);
    r.hq = v.city;
  }
};

const GROUPS: Group[] = [
  { use: 'person lead', forms: forms([...PERSON_LEAD_FULL, ...PERSON_LEAD_PROF], person) },
  {
    use: 'birth',
    forms: [
      ...forms(BIRTH, (r, v) => {
        r.birthCity = v.city;
        r.birthYear = num(v.year);
      }),
      [BIRTH_RELATIVE[0], (r, v) => ((r.birthCity = v.city), (r.birthYear = num(v.year) - words(v.age)))],
      [BIRTH_RELATIVE[1], (r, v) => ((r.birthCity = v.city), (r.birthYear = num(v.year) - words(v.age)))],
      [BIRTH_RELATIVE[2], (r, v) => (r.birthCity = v.city)],
      [BIRTH_YEAR[0], (r, v) => (r.birthYear = num(v.year))],
      [BIRTH_YEAR[1], (r, v) => (r.birthYear = num(v.year) - words(v.age))],
      [BIRTH_YEAR[2], (r, v) => (r.birthYear = num(v.Year))],
    ],
  },
  { use: 'education', forms: forms(EDUCATION, (r, v) => (r.university = v.org)) },
  { use: 'chair', forms: forms(CHAIR, (r, v) => (r.chair = { org: v.org, year: num(v.year) })) },
  // year filled in after the whole document is read (needs the birth year): -age marks "relative".
  { use: 'chair age', forms: forms(CHAIR_AGE, (r, v) => (r.chair = { org: v.org, year: -words(v.age) })) },
  { use: 'award', forms: forms(AWARD, (r, v) => (r.award = { name: v.award, year: num(v.year) })) },
  { use: 'award age', forms: forms(AWARD_AGE, (r, v) => (r.award = { name: v.award, year: -words(v.age) })) },
  { use: 'miss city', forms: forms(MISS_CITY, (r, v) => miss(r, 'birthCity', v.city2)) },
  { use: 'miss year', forms: forms(MISS_YEAR, (r, v) => miss(r, 'birthYear', v.year2)) },
  { use: 'miss profession', forms: forms(MISS_PROF, (r, v) => miss(r, 'profession', strip(v.aprof2))) },
  { use: 'miss university', forms: forms(MISS_UNI, (r, v) => miss(r, 'university', v.org2)) },
  { use: 'miss chair', forms: forms(MISS_CHAIR, (r, v) => miss(r, 'chair', `${v.org2}|${v.year2 ?? ''}`)) },
  { use: 'miss award', forms: forms(MISS_AWARD, (r, v) => miss(r, 'award', `${v.award2}|${v.year2 ?? ''}`)) },
  { use: 'city lead', forms: forms([...CITY_LEAD_FULL, ...CITY_LEAD], entity('city')) },
  {
    use: 'city founded',
    forms: [
      [CITY_FOUNDED[0], (r, v) => (r.founded = num(v.year))],
      [CITY_FOUNDED[1], (r, v) => (r.founded = num(v.year))],
      [CITY_FOUNDED[2], (r, v) => (r.founded = num(v.year2) - words(v.n))],
      [CITY_FOUNDED[3], (r, v) => (r.founded = num(v.year))],
    ],
  },
  { use: 'city miss', forms: forms(CITY_MISS, (r, v) => miss(r, 'city', v.country2 ?? v.year2 ?? v.city2 ?? '')) },
  { use: 'org lead', forms: forms([...ORG_LEAD_FULL, ...ORG_LEAD], entity('organisation')) },
  {
    use: 'org founded',
    forms: [
      [ORG_FOUNDED[0], (r, v) => (r.founded = num(v.year))],
      [ORG_FOUNDED[1], (r, v) => (r.founded = num(v.year))],
      [ORG_FOUNDED[2], (r, v) => (r.founded = num(v.year2) - words(v.n))],
    ],
  },
  { use: 'org miss', forms: forms(ORG_MISS, (r, v) => miss(r, 'organisation', v.city2 ?? v.org2 ?? v.year2 ?? '')) },
  {
    use: 'award lead',
    forms: forms([...AWARD_LEAD_FULL, ...AWARD_LEAD], (r, v) => {
      r.kind = 'award';
      r.name = v.Name;
      r.presenter = v.org;
      if (v.year !== undefined) r.established = num(v.year);
    }),
  },
  {
    use: 'award established',
    forms: [
      ...forms(AWARD_ESTABLISHED, (r, v) => (r.established = num(v.year))),
      [AWARD_ESTABLISHED_RELATIVE[0], (r, v) => (r.establishedAfterFounding = words(v.n))],
    ],
  },
  { use: 'award miss', forms: forms(AWARD_MISS, (r, v) => miss(r, 'award', v.award2 ?? v.year2 ?? '')) },
  {
    use: 'event lead',
    forms: forms(EVENT_LEAD, (r, v) => {
      r.kind = 'event';
      r.name = v.Name;
      r.eventType = strip(v.aetype);
      r.organiser = v.org;
      r.city = v.city;
      r.year = num(v.year);
    }),
  },
  {
    use: 'participants',
    forms: [
      ...forms(EVENT_PARTICIPANTS, (r, v) => (r.participants = [...(r.participants ?? []), ...splitNames(v.names)])),
      ...forms(EVENT_PARTICIPANT_ONE, (r, v) => (r.participants = [...(r.participants ?? []), v.person])),
    ],
  },
  { use: 'event miss person', forms: forms(EVENT_MISS_PERSON, (r, v) => miss(r, 'participant', v.person)) },
  { use: 'event miss', forms: forms(EVENT_MISS, (r, v) => miss(r, 'event', v.year2 ?? v.city2 ?? '')) },
];

/** "A, B and C" → [A, B, C]. */
export function splitNames(list: string): string[] {
  return list.split(/, | and /).map((s) => s.trim()).filter(Boolean);
}

/** "A, B and C". */
export function joinNames(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

let compiled: { one: Compiled[]; two: Compiled[] } | null = null;
function bank(): { one: Compiled[]; two: Compiled[] } {
  if (!compiled) {
    const all = GROUPS.flatMap((g) => g.forms.map(([t, apply]) => compile(t, apply)));
    const ids = new Set<string>();
    for (const c of all) {
      if (ids.has(c.id)) throw new Error(`browsecomp bank: duplicate template id ${c.id}`);
      ids.add(c.id);
    }
    compiled = { one: all.filter((c) => c.sentences === 1), two: all.filter((c) => c.sentences === 2) };
  }
  return compiled;
}

/** Sentences of a document (a period followed by a space ends a sentence, except in "No. 3"). */
export function splitSentences(text: string): string[] {
  return text.split(/(?<=[.!?])(?<!\bNo\.)\s+/).filter((s) => s !== '');
}

/** Could the sentence be one of the bank's (a cheap filter: filler prose has no names, digits or pronouns). */
const MAYBE = /\d|.\p{Lu}|\b(?:she|he|her|him|his|it|its|It|Its|She|He|Her|His)\b/u;

function match(c: Compiled, s: string, r: DocReading): boolean {
  const m = c.re.exec(s);
  if (!m) return false;
  const v: Record<string, string> = {};
  c.slots.forEach((k, i) => (v[k] = m[i + 1]));
  c.apply(r, v);
  return true;
}

/**
 * What a document states: every sentence that is one of the bank's forms, read for its meaning (facts, and near misses
 * recorded apart); other sentences (filler prose) say nothing. Relative years are resolved within the document.
 */
export function readBrowsecompDoc(text: string): DocReading {
  const b = bank();
  const r: DocReading = { kind: 'unknown', nearMisses: [] };
  const ss = splitSentences(text);
  for (let i = 0; i < ss.length; i++) {
    const s = ss[i];
    if (!MAYBE.test(s)) continue;
    if (i + 1 < ss.length) {
      const pair = `${s} ${ss[i + 1]}`;
      if (b.two.some((c) => match(c, pair, r))) {
        i++;
        continue;
      }
    }
    for (const c of b.one) if (match(c, s, r)) break;
  }
  // "at the age of fifty-one": counted from the birth year stated in the same document.
  if (r.chair && r.chair.year < 0) r.chair = r.birthYear !== undefined ? { org: r.chair.org, year: r.birthYear - r.chair.year } : undefined;
  if (r.award && r.award.year < 0) r.award = r.birthYear !== undefined ? { name: r.award.name, year: r.birthYear - r.award.year } : undefined;
  return r;
}

/** Every template of the bank (for tests and docs). */
export function bankTemplates(): readonly Template[] {
  const b = bank();
  return [...b.one, ...b.two];
}
