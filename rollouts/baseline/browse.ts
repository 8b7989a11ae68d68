/**
 * The code-only baseline's browsecomp program: the best regex/heuristic reader we could write from the question and a
 * look at the documents, without the generator's phrasing bank and without sub-calls.
 *
 * What it does (the usual tricks of information extraction by hand):
 *   - documents that use she/he are about people, the others about entities; every document title is a known name;
 *   - a sentence counts as a statement about the document's subject only if it has no negation or hedge word
 *     (not, never, declined, failed, wrongly, applied, offered, invited, nominated, planned, rumoured, …) and does not
 *     talk about someone else (brother, father, family, friend, mentor, students, …);
 *   - facts are keyword + name co-occurrence in such a sentence: "born" + a city title, "chair" + an organisation title
 *     + a year, an award title + a year, a study verb + a university title, the profession word, the city kind, the
 *     country, the organisation type; years after "found"/"establish"; "N years after/later" and "at the age of N"
 *     with number words are worked out; event participants are person titles named in clean sentences of the event;
 *   - every person is scored by the number of constraints it satisfies; the best (first on ties) is the answer.
 * It fails where meaning is not carried by those cues: near misses without a cue word ("worked briefly as an
 * engineer's assistant", "became vice-chair of", "received an honorary degree from"), facts stated in a sentence that
 * has one ("had not planned on an academic life, but graduated from …") or across two sentences ("… needed a new chair.
 * The members chose her."), years relative to another document.
 */
import type { BrowseConstraint } from '../reference/questions.ts';

const js = (v: unknown): string => JSON.stringify(v);

function test(c: BrowseConstraint): string {
  switch (c.kind) {
    case 'birthKind':
      return `(cities.get(p.birthCity) || {}).kinds?.includes(${js(c.cityKind)})`;
    case 'birthFounded':
      return `cities.has(p.birthCity) && cities.get(p.birthCity).founded !== null && cities.get(p.birthCity).founded ${c.op === 'before' ? '<' : '>'} ${c.year}`;
    case 'birthCountry':
      return `cities.has(p.birthCity) && cleanMentions(cities.get(p.birthCity).text, ${js(c.country)})`;
    case 'birthDecade':
      return `p.birthYear !== null && Math.floor(p.birthYear / 10) * 10 === ${c.decade}`;
    case 'profession':
      return `p.clean.some((s) => new RegExp('\\\\b' + ${js(c.profession)} + '\\\\b').test(s))`;
    case 'eduCity':
      return `p.universities.some((u) => orgs.has(u) && cleanMentions(orgs.get(u).text, ${js(c.city)}))`;
    case 'eduFounded':
      return `p.universities.some((u) => orgs.has(u) && orgs.get(u).founded !== null && orgs.get(u).founded < ${c.year})`;
    case 'chairType':
      return `p.chairs.some((h) => orgs.has(h.org) && orgs.get(h.org).types.includes(${js(c.orgType)}))`;
    case 'chairCity':
      return `p.chairs.some((h) => orgs.has(h.org) && cleanMentions(orgs.get(h.org).text, ${js(c.city)}))`;
    case 'chairYear':
      return `p.chairs.some((h) => h.year !== null && h.year ${c.op === 'from' ? '>=' : '<'} ${c.year})`;
    case 'awardOrgType':
      return `p.awards.some((a) => awards.has(a.name) && awards.get(a.name).orgs.some((o) => orgs.has(o) && orgs.get(o).types.includes(${js(c.orgType)})))`;
    case 'awardEstablished':
      return `p.awards.some((a) => awards.has(a.name) && awards.get(a.name).established !== null && awards.get(a.name).established < ${c.year})`;
    case 'eventType':
      return `p.events.some((e) => e.types.includes(${js(c.eventType)}))`;
    case 'eventCity':
      return `p.events.some((e) => cleanMentions(e.text, ${js(c.city)}))`;
    case 'eventDecade':
      return `p.events.some((e) => e.year !== null && Math.floor(e.year / 10) * 10 === ${c.decade})`;
    case 'eventOrgType':
      return `p.events.some((e) => e.orgs.some((o) => orgs.has(o) && orgs.get(o).types.includes(${js(c.orgType)})))`;
    case 'unknown':
      return 'true';
  }
}

/** The REPL program (JavaScript; no llm_query, llm_query_batched or rlm_query anywhere in it). Always calls FINAL. */
export function browseHeuristicProgram(constraints: BrowseConstraint[]): string {
  const tests = constraints.map((c, i) => `  /* ${i + 1}. ${c.kind} */ (p) => ${test(c)},`).join('\n');
  return String.raw`const NEG = /\b(?:not|never|no|nor|without|n't|declined|refused|turned down|failed|lost|false|wrongly|incorrectly|mistaken|misprint|correction|otherwise|instead|rumou?r\w*)\b/i;
const HEDGE = /\b(?:applied|offered|invited|nominated|shortlisted|expected|hoped|planned|considered|claim\w*|reported\w*|allegedly|supposedly)\b/i;
const OTHER = /\b(?:brother|sister|father|mother|son|daughter|family|friend|mentor|students|colleague|wife|husband|cousin)\b/i;
const KINDS = ['port city', 'river town', 'mountain town', 'market town', 'mining town'];
const TYPES = ['university', 'company', 'society', 'trust', 'orchestra', 'museum', 'newspaper', 'festival', 'expedition', 'conference', 'exhibition', 'regatta', 'congress'];
const NUM = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const numWord = (w) => { const [a, b] = String(w).toLowerCase().split('-'); const x = NUM[a]; if (x === undefined) return null; return b === undefined ? x : (NUM[b] !== undefined && NUM[b] < 10 ? x + NUM[b] : null); };
const sentences = (t) => t.split(/(?<=[.!?])(?<!\bNo\.)\s+/).filter(Boolean);
const isClean = (s) => !NEG.test(s) && !HEDGE.test(s) && !OTHER.test(s);
const cleanOf = (t) => sentences(t).filter(isClean);
// Filler prose has no names or numbers: only sentences with an inner capital or a digit can mention an entity.
const informative = (s) => /.[A-Z]|\d/.test(s);
const cleanMentions = (t, name) => cleanOf(t).some((s) => s.includes(name));
const years = (s) => (s.match(/\b(1[0-9]{3}|20[0-9]{2})\b/g) || []).map(Number);
// "twelve years after …" / "… graduated four years later": the stated year minus/plus the offset is a guess at the other.
const offset = (s) => { const m = /\b([a-z]+(?:-[a-z]+)?) years (?:after|later)\b/i.exec(s); return m ? numWord(m[1]) : null; };
const foundedIn = (t) => {
  for (const s of cleanOf(t)) {
    if (!/found|establish|institut/i.test(s)) continue;
    const ys = years(s);
    if (ys.length === 0) continue;
    const n = offset(s);
    return n !== null && /after (?:its|it was) found/i.test(s) ? ys[0] - n : ys[0];
  }
  return null;
};
const pronounRe = /\b(?:she|he|her|his|him)\b/i;
const titles = [...new Set(context.map((d) => d.title))].sort((a, b) => b.length - a.length);
const namesIn = (s, pool) => (informative(s) ? pool.filter((n) => s.includes(n)) : []);

// 1. Entities, by keyword.
const cities = new Map(), orgs = new Map(), awards = new Map(), events = [];
const entityDocs = context.filter((d) => !pronounRe.test(d.text));
for (const d of entityDocs) {
  const t = d.text, lead = t.split('\n\n')[0];
  const kinds = KINDS.filter((k) => cleanOf(lead).some((s) => s.includes(k)));
  const types = TYPES.filter((k) => cleanOf(lead).some((s) => new RegExp('\\b' + k + '\\b', 'i').test(s)) || new RegExp('\\b' + k + '\\b', 'i').test(d.title));
  if (/\baward\b/i.test(lead)) {
    const s0 = cleanOf(t);
    const rel = s0.map((s) => /(\w+(?:-\w+)?) years after the founding/i.exec(s)).find(Boolean);
    awards.set(d.title, { text: t, orgs: namesIn(lead, titles).filter((n) => n !== d.title), established: foundedIn(t), relative: rel ? numWord(rel[1]) : null });
  } else if (/\b(?:held|took place|hosted)\b/i.test(lead) && types.some((k) => ['festival', 'expedition', 'conference', 'exhibition', 'regatta', 'congress'].includes(k))) {
    const participants = new Set();
    for (const s of cleanOf(t)) for (const n of namesIn(s, titles)) participants.add(n);
    events.push({ text: t, types, year: years(lead)[0] ?? null, orgs: namesIn(lead, titles), participants });
  } else if (kinds.length > 0) {
    cities.set(d.title, { text: t, kinds, founded: foundedIn(t) });
  } else {
    orgs.set(d.title, { text: t, types, founded: foundedIn(t) });
  }
}
for (const a of awards.values()) if (a.established === null && a.relative !== null && a.orgs.length > 0 && orgs.has(a.orgs[0]) && orgs.get(a.orgs[0]).founded !== null) a.established = orgs.get(a.orgs[0]).founded + a.relative;
const cityNames = [...cities.keys()].sort((a, b) => b.length - a.length);
const orgNames = [...orgs.keys()].sort((a, b) => b.length - a.length);
const awardNames = [...awards.keys()].sort((a, b) => b.length - a.length);
print('entities by keyword:', cities.size, 'cities,', orgs.size, 'organisations,', awards.size, 'awards,', events.length, 'events');

// 2. People, by keyword + name co-occurrence in clean sentences.
const people = [];
for (const d of context.filter((x) => pronounRe.test(x.text))) {
  const clean = cleanOf(d.text);
  const p = { name: d.title, clean, birthYear: null, birthCity: null, universities: [], chairs: [], awards: [], events: [] };
  for (const s of clean) {
    // "turned forty in 1978" gives the birth year wherever it is said.
    const turned = /turned ([a-z]+(?:-[a-z]+)?) in (\d{4})/i.exec(s);
    if (turned && numWord(turned[1]) !== null) p.birthYear = Number(turned[2]) - numWord(turned[1]);
    if (/\bborn|native|birth|came into the world/i.test(s)) {
      // The first city named in the sentence, by position ("born in A … moved to B").
      const c = namesIn(s, cityNames).sort((a, b) => s.indexOf(a) - s.indexOf(b))[0];
      if (c && p.birthCity === null) p.birthCity = c;
      if (!turned && p.birthYear === null && years(s).length > 0) p.birthYear = years(s)[0];
    }
  }
  const ageYear = (s) => { const m = /(?:at the age of|^At) ([a-z]+(?:-[a-z]+)?)\b/i.exec(s); return m && p.birthYear !== null && numWord(m[1]) !== null ? p.birthYear + numWord(m[1]) : null; };
  for (const s of clean) {
    if (/stud|educat|degree|graduat|enrol|admitted/i.test(s)) for (const u of namesIn(s, orgNames)) if (orgs.get(u).types.includes('university')) p.universities.push(u);
    // The organisation named nearest after "chair", and the year nearest to it ("left the board of A in 1950 and became
    // chair of B in 1961").
    const ch = /\bchair/i.exec(s);
    if (ch) {
      const after = namesIn(s, orgNames).filter((o) => s.indexOf(o) > ch.index).sort((a, b) => s.indexOf(a) - s.indexOf(b));
      const o = after[0] ?? namesIn(s, orgNames)[0];
      if (o) {
        const ys = [...s.matchAll(/\b(1[0-9]{3}|20[0-9]{2})\b/g)].sort((a, b) => Math.abs(a.index - ch.index) - Math.abs(b.index - ch.index));
        p.chairs.push({ org: o, year: ys.length > 0 ? Number(ys[0][1]) : ageYear(s) });
      }
    }
    const named = namesIn(s, awardNames).sort((a, b) => s.indexOf(a) - s.indexOf(b));
    if (named.length > 0) p.awards.push({ name: named[0], year: years(s)[0] ?? ageYear(s) });
  }
  people.push(p);
}
const byName = new Map(people.map((p) => [p.name, p]));
for (const e of events) for (const n of e.participants) if (byName.has(n)) byName.get(n).events.push(e);

// 3. Score every person against the constraints; the best wins (the first on ties).
const TESTS = [
${tests}
];
let best = null, bestOk = -1, tied = 0;
for (const p of people) {
  let ok = 0;
  for (const t of TESTS) { try { if (t(p)) ok++; } catch (e) {} }
  if (ok > bestOk) { best = p; bestOk = ok; tied = 1; } else if (ok === bestOk) tied++;
}
print('best:', best && best.name, 'with', bestOk, 'of', TESTS.length, 'conditions;', tied, 'people tied');
FINAL(best ? best.name : 'unknown');`;
}
