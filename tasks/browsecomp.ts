/**
 * browsecomp — multi-hop search over a seeded fictional world rendered into N documents (BrowseComp-Plus style).
 *
 * Context: Doc[] ({ id: "doc-0001"…, title, text }), one document per entity (person, city, organisation, award,
 * event), in random order. Every sentence that states something comes from the phrasing bank (browsecomp-bank.ts):
 * several phrasings per fact type, relative years ("turned forty in 1978", "at the age of fifty-one", "took its present
 * name in 1887, forty-five years after it was founded", an award "established twelve years after the founding of the
 * organisation that presents it" — the year is in the presenter's document), two-sentence facts joined by a pronoun,
 * true facts next to negation words, and near misses that state no fact ("applied to the X but never enrolled", "had
 * been invited but did not attend"). The lead sentence opens the document; the other sentences are spread through
 * paragraphs of filler prose that bring the collection to `contextTokens` (sum over documents of title + text tokens,
 * o200k, exact — see tokens.ts).
 *
 * Question: "Among the people described in the documents, exactly one satisfies all of the following conditions:"
 * then 3–4 numbered constraints (browsecomp-question.ts lists the phrasings), then "Who is this person? Answer with
 * the person's full name only, as written in the title of their document." Distractor people (two per constraint in
 * worlds of 60+ people) satisfy all but one constraint, and each carries a near miss on the constraint it breaks; the
 * generator proves the answer unique by solving the question against the world graph (near misses are not in it).
 * Answer: the canonical name (document title); meta.aliases lists accepted variants. Score: normalized exact match.
 */
import { z } from 'zod';
import {
  AWARD, AWARD_AGE, AWARD_ESTABLISHED, AWARD_ESTABLISHED_RELATIVE, AWARD_LEAD, AWARD_LEAD_FULL, AWARD_MISS, BIRTH, BIRTH_RELATIVE,
  BIRTH_YEAR, BIRTH_YEAR_ABSOLUTE, CHAIR, CHAIR_AGE, CITY_FOUNDED, CITY_LEAD, CITY_LEAD_FULL, CITY_MISS, EDUCATION, EVENT_LEAD, EVENT_MISS,
  EVENT_MISS_PERSON, EVENT_PARTICIPANT_ONE, EVENT_PARTICIPANTS, MISS_AWARD, MISS_CHAIR, MISS_CITY, MISS_PROF, MISS_UNI, MISS_YEAR,
  ORG_FOUNDED, ORG_LEAD, ORG_LEAD_FULL, ORG_MISS, PERSON_LEAD_FULL, PERSON_LEAD_PROF, joinNames, numberWord, renderCounted,
  type CountedSentence,
} from './browsecomp-bank.ts';
import { type ComposedQuestion, type EntityRef, type Slot, composeQuestion, countSatisfied, nearMissValue } from './browsecomp-question.ts';
import {
  CITY_KINDS,
  LATEST_YEAR,
  MAX_DOCS,
  MIN_DOCS,
  PROFESSIONS,
  type Person,
  type World,
  buildWorld,
  personFullName,
  personName,
} from './browsecomp-world.ts';
import { TaskOptionError } from './errors.ts';
import { FillerWriter } from './filler.ts';
import { taskHash } from './hash.ts';
import { matchesAny, normalizeAnswer, predictionText } from './normalize.ts';
import { contextTokensSchema, parseOptions, seedSchema } from './options.ts';
import { Rng } from './rng.ts';
import { TextBuilder } from './text.ts';
import { pieceTokens } from './tokens.ts';
import type { Doc, GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

/**
 * 1,000 documents as in BrowseComp-Plus, but ~200 tokens each (200K tokens total, ~0.9 MB) so a default rollout is
 * quick; raise contextTokens for BrowseComp-Plus-like sizes (its documents average 6–11K tokens).
 */
export const BROWSECOMP_DEFAULTS = {
  contextTokens: 200_000,
  /** null: derived from contextTokens (one document per ~200 tokens, 16 … 1,000), so 200K tokens ⇒ 1,000 documents. */
  numDocs: null as number | null,
  /** null: 3 or 4, drawn from the seed. */
  constraints: null as number | null,
};

const schema = z
  .object({
    seed: seedSchema,
    contextTokens: contextTokensSchema(500, BROWSECOMP_DEFAULTS.contextTokens),
    numDocs: z.number().int().min(MIN_DOCS).max(MAX_DOCS).nullable().default(BROWSECOMP_DEFAULTS.numDocs),
    constraints: z.number().int().min(3).max(4).nullable().default(BROWSECOMP_DEFAULTS.constraints),
  })
  .strict();

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

interface DocPlan {
  ref: EntityRef;
  title: string;
  /** Sentences of the first paragraph. */
  lead: Counted[];
  /** Fact and near-miss sentences (a two-sentence form is one entry) spread through the rest of the document. */
  facts: Counted[];
}

/** A near miss to render for a person: a value of one slot that is NOT the person's (see nearMissValue). */
interface Miss {
  slot: Slot;
  value: unknown;
}

const YEAR_MAX = LATEST_YEAR;

/** The sentences of every entity: phrasings, relative forms and near misses drawn from `rng` (browsecomp-bank.ts). */
function planDocs(w: World, rng: Rng, misses: Map<number, Miss[]>): DocPlan[] {
  const plans: DocPlan[] = [];
  const participants: string[][] = w.events.map(() => []);
  const eventMisses: string[][] = w.events.map(() => []);
  w.people.forEach((p) => {
    for (const e of p.events) participants[e].push(personName(p));
  });
  const universities = w.orgs.map((o, i) => (o.type === 'university' ? i : -1)).filter((i) => i >= 0);
  const R = renderCounted;
  const pick = <T,>(xs: readonly T[]): T => rng.pick(xs);
  w.people.forEach((p, index) => {
    const city = w.cities[p.birthCity].name;
    const pro = { Pron: cap(p.pronoun), pron: p.pronoun, Poss: p.pronoun === 'she' ? 'Her' : 'His', poss: p.pronoun === 'she' ? 'her' : 'his', obj: p.pronoun === 'she' ? 'her' : 'him' };
    const facts: Counted[] = [];
    let lead: Counted;
    const maxAge = YEAR_MAX - p.birthYear;
    if (rng.chance(0.45)) {
      lead = R(pick(PERSON_LEAD_FULL), { ...pro, Name: personFullName(p), year: p.birthYear, city, prof: p.profession });
    } else {
      lead = R(pick(PERSON_LEAD_PROF), { ...pro, Name: personFullName(p), prof: p.profession });
      const age = rng.range(18, Math.min(70, maxAge));
      const form = rng.int(3);
      const city2 = w.cities[(p.birthCity + 1 + rng.int(w.cities.length - 1)) % w.cities.length].name;
      if (form === 0 || maxAge < 18) facts.push(R(pick(BIRTH), { ...pro, city, year: p.birthYear, city2 }));
      else if (form === 1) facts.push(R(pick(BIRTH_RELATIVE.slice(0, 2)), { ...pro, city, year: p.birthYear + age, age: numberWord(age) }));
      else {
        // Birthplace in one sentence, the year in another (outright or as "turned forty in 1978").
        facts.push(R(BIRTH_RELATIVE[2], { ...pro, city }));
        const by = pick(BIRTH_YEAR);
        facts.push(R(by, { ...pro, year: BIRTH_YEAR_ABSOLUTE.has(by.id) ? p.birthYear : p.birthYear + age, Year: p.birthYear, age: numberWord(age) }));
      }
    }
    const uni = w.orgs[p.university].name;
    const gradYear = Math.min(YEAR_MAX, p.birthYear + rng.range(21, 24));
    const years = rng.range(3, 5);
    const edu = pick(EDUCATION);
    // e5 gives the year of admission ("admitted her as a student in 1950, and she graduated four years later").
    // Another university for the forms that name two ("chose the X over the Y and took her degree there").
    const own = universities.indexOf(p.university);
    const k = universities.length > 1 ? rng.int(universities.length - 1) : -1;
    const org2 = k < 0 ? uni : w.orgs[universities[k >= own ? k + 1 : k]].name;
    facts.push(R(k >= 0 ? edu : EDUCATION[0], { ...pro, org: uni, org2, year: edu.id === 'e5' ? gradYear - years : gradYear, n: numberWord(years) }));
    if (p.chair) {
      const org = w.orgs[p.chair.org].name;
      const age = p.chair.year - p.birthYear;
      const other = w.orgs[rng.int(w.orgs.length)];
      const form = other.name === org ? CHAIR[1] : pick(CHAIR);
      facts.push(rng.chance(0.25) && age <= 99 ? R(pick(CHAIR_AGE), { ...pro, org, age: numberWord(age) }) : R(form, { ...pro, org, year: p.chair.year, org2: other.name, year2: Math.max(p.birthYear + 20, p.chair.year - rng.range(1, 8)) }));
    }
    if (p.award) {
      const award = w.awards[p.award.award].name;
      const age = p.award.year - p.birthYear;
      const other = w.awards[rng.int(w.awards.length)];
      const form = other.name === award ? AWARD[1] : pick(AWARD);
      facts.push(rng.chance(0.25) && age <= 99 ? R(pick(AWARD_AGE), { ...pro, award, age: numberWord(age) }) : R(form, { ...pro, award, year: p.award.year, award2: other.name }));
    }
    // Near misses: the designed ones (a value that would satisfy the constraint this person breaks), and random ones
    // for anybody, so that a near miss is no sign of a distractor.
    const mine = [...(misses.get(index) ?? [])];
    if (rng.chance(0.55)) mine.push(randomMiss(w, p, rng));
    if (rng.chance(0.2)) mine.push(randomMiss(w, p, rng));
    for (const m of mine) {
      const s = missSentence(w, p, m, pro, rng);
      if (s === null) continue;
      if (m.slot === 'events') eventMisses[(m.value as number[])[0]].push(personName(p));
      else facts.push(s);
    }
    plans.push({ ref: { kind: 'person', index }, title: personName(p), lead: [lead], facts: rng.shuffle(facts) });
  });
  w.cities.forEach((c, index) => {
    const v = { Name: c.name, kind: c.kind, country: c.country, year: c.founded };
    const facts: Counted[] = [];
    let lead: Counted[];
    if (rng.chance(0.5)) lead = [R(pick(CITY_LEAD_FULL), v)];
    else {
      lead = [R(pick(CITY_LEAD), v)];
      const n = rng.range(2, 60);
      facts.push(c.founded + n <= YEAR_MAX && rng.chance(0.4) ? R(CITY_FOUNDED[2], { year2: c.founded + n, n: numberWord(n) }) : R(pick([CITY_FOUNDED[0], CITY_FOUNDED[1], CITY_FOUNDED[3]]), v));
    }
    if (rng.chance(0.4)) {
      const t = pick(CITY_MISS);
      const other = w.cities[rng.int(w.cities.length)];
      const kind2 = pick(CITY_KINDS.filter((k) => k !== c.kind));
      const country2 = pick(w.countries.filter((x) => x !== c.country).concat(['Orlandy']));
      if (other !== c) facts.push(R(t, { kind: kind2, country2, year2: Math.min(YEAR_MAX, c.founded + rng.range(5, 300)), city2: other.name }));
    }
    plans.push({ ref: { kind: 'city', index }, title: c.name, lead, facts });
  });
  w.orgs.forEach((o, index) => {
    const v = { Name: o.name, type: o.type, city: w.cities[o.hq].name, year: o.founded };
    const facts: Counted[] = [];
    let lead: Counted[];
    if (rng.chance(0.5)) lead = [R(pick(ORG_LEAD_FULL), v)];
    else {
      lead = [R(pick(ORG_LEAD), v)];
      const n = rng.range(2, 60);
      facts.push(o.founded + n <= YEAR_MAX && rng.chance(0.4) ? R(ORG_FOUNDED[2], { year2: o.founded + n, n: numberWord(n) }) : R(pick(ORG_FOUNDED.slice(0, 2)), v));
    }
    if (rng.chance(0.4)) {
      // A branch office elsewhere would blur where a university is "located": not for universities.
      const t = pick(o.type === 'university' ? ORG_MISS.slice(1) : ORG_MISS);
      const city2 = w.cities[rng.int(w.cities.length)];
      const org2 = w.orgs[rng.int(w.orgs.length)];
      if (city2.name !== v.city && org2 !== o) facts.push(R(t, { city2: city2.name, org2: org2.name, year2: Math.min(YEAR_MAX, o.founded + rng.range(1, 200)) }));
    }
    plans.push({ ref: { kind: 'org', index }, title: o.name, lead, facts });
  });
  w.awards.forEach((a, index) => {
    const presenter = w.orgs[a.org];
    const v = { Name: a.name, org: presenter.name, year: a.established };
    const facts: Counted[] = [];
    let lead: Counted[];
    const gap = a.established - presenter.founded;
    if (rng.chance(0.5)) lead = [R(pick(AWARD_LEAD_FULL), v)];
    else {
      lead = [R(pick(AWARD_LEAD), v)];
      // Relative to the presenter's founding: the reader needs the presenter's own document for the year.
      facts.push(gap >= 1 && gap <= 99 && rng.chance(0.5) ? R(AWARD_ESTABLISHED_RELATIVE[0], { n: numberWord(gap) }) : R(pick(AWARD_ESTABLISHED), v));
    }
    if (rng.chance(0.4) && w.awards.length > 1) {
      const other = w.awards[(index + 1 + rng.int(w.awards.length - 1)) % w.awards.length];
      const t = pick(AWARD_MISS);
      facts.push(R(t, { award2: other.name, org2: w.orgs[other.org].name, year2: Math.min(YEAR_MAX, a.established + rng.range(1, 60)) }));
    }
    plans.push({ ref: { kind: 'award', index }, title: a.name, lead, facts });
  });
  w.events.forEach((e, index) => {
    const city = w.cities[e.city].name;
    const title = rng.pick([e.name, `Scenes from the ${e.name}`, `${e.name}: a report`, `${city} welcomes the ${e.name}`]);
    const lead = [R(pick(EVENT_LEAD), { Name: e.name, etype: e.type, org: w.orgs[e.organiser].name, city, year: e.year })];
    const names = participants[index];
    const facts: Counted[] = [];
    if (names.length === 1) facts.push(R(pick(EVENT_PARTICIPANT_ONE), { person: names[0] }));
    else if (names.length > 2 && rng.chance(0.3)) {
      facts.push(R(pick(EVENT_PARTICIPANTS), { names: joinNames(names.slice(0, -1)) }));
      facts.push(R(EVENT_PARTICIPANT_ONE[0], { person: names[names.length - 1] }));
    } else if (names.length > 0) facts.push(R(pick(EVENT_PARTICIPANTS), { names: joinNames(names) }));
    for (const who of eventMisses[index]) facts.push(R(pick(EVENT_MISS_PERSON), { person: who }));
    if (rng.chance(0.3)) {
      const other = w.cities[rng.int(w.cities.length)];
      if (other.name !== city) facts.push(R(pick(EVENT_MISS), { year2: Math.min(YEAR_MAX, e.year + rng.range(1, 10)), city2: other.name }));
    }
    plans.push({ ref: { kind: 'event', index }, title, lead, facts: rng.shuffle(facts) });
  });
  return plans;
}

/** A near miss on a random slot of `p` (any value but p's own). */
function randomMiss(w: World, p: Person, rng: Rng): Miss {
  const slot = rng.pick(['birthCity', 'birthYear', 'profession', 'university', 'chair', 'award', 'events'] as const);
  switch (slot) {
    case 'birthCity':
      return { slot, value: rng.int(w.cities.length) };
    case 'birthYear':
      return { slot, value: p.birthYear + (rng.chance(0.5) ? -1 : 1) * rng.range(1, 9) };
    case 'profession':
      return { slot, value: rng.pick(PROFESSIONS) };
    case 'university':
      return { slot, value: rng.int(w.orgs.length) };
    case 'chair':
      return { slot, value: { org: rng.int(w.orgs.length), year: Math.min(LATEST_YEAR, p.birthYear + rng.range(28, 70)) } };
    case 'award':
      return { slot, value: { award: rng.int(w.awards.length), year: Math.min(LATEST_YEAR, p.birthYear + rng.range(22, 70)) } };
    case 'events':
      return { slot, value: [rng.int(w.events.length)] };
  }
}

/** The sentence of a near miss, or null when the drawn value happens to be the person's own (then nothing is said). */
function missSentence(w: World, p: Person, m: Miss, pro: Record<string, string>, rng: Rng): Counted | null {
  const R = renderCounted;
  switch (m.slot) {
    case 'birthCity': {
      const c = m.value as number;
      return c === p.birthCity ? null : R(rng.pick(MISS_CITY), { ...pro, city2: w.cities[c].name });
    }
    case 'birthYear': {
      const y = m.value as number;
      if (y === p.birthYear) return null;
      const t = rng.chance(0.6) ? MISS_YEAR[y > p.birthYear ? 0 : 1] : rng.pick(MISS_YEAR.slice(2));
      return R(t, { ...pro, year2: y });
    }
    case 'profession': {
      const prof = m.value as string;
      return prof === p.profession ? null : R(rng.pick(MISS_PROF), { ...pro, prof2: prof });
    }
    case 'university': {
      const u = m.value as number;
      if (u === p.university || w.orgs[u].type !== 'university') return null;
      return R(rng.pick(MISS_UNI), { ...pro, org2: w.orgs[u].name, year2: Math.min(LATEST_YEAR, p.birthYear + rng.range(25, 60)) });
    }
    case 'chair': {
      const c = m.value as { org: number; year: number };
      if ((p.chair && p.chair.org === c.org) || w.orgs[c.org].type === 'university') return null;
      return R(rng.pick(MISS_CHAIR), { ...pro, org2: w.orgs[c.org].name, year2: c.year });
    }
    case 'award': {
      const a = m.value as { award: number; year: number };
      if (p.award && p.award.award === a.award) return null;
      return R(rng.pick(MISS_AWARD), { ...pro, award2: w.awards[a.award].name, year2: a.year });
    }
    case 'events': {
      const e = (m.value as number[])[0];
      return p.events.includes(e) ? null : { first: '', rest: '', restTokens: 0 };
    }
  }
}

type Counted = CountedSentence;

type CountedPlan = Pick<DocPlan, 'lead' | 'facts'>;

/** Tokens of a plan's title and sentences, without filler (paragraph breaks cost 0 or 1: ignored here). */
function baseTokens(plan: DocPlan, counted: CountedPlan): number {
  let n = pieceTokens(plan.title);
  counted.lead.forEach((c, i) => (n += pieceTokens(i > 0 ? ` ${c.first}` : c.first) + c.restTokens));
  for (const c of counted.facts) n += pieceTokens(` ${c.first}`) + c.restTokens;
  return n;
}

/**
 * Writes one document's text into `out` (shared by all documents: one join for the whole collection, each document a
 * slice of it): lead paragraph, then facts spread through `fillerBudget` tokens of filler.
 */
function renderText(out: TextBuilder, counted: CountedPlan, writer: FillerWriter, fillerBudget: number, rng: Rng): { tokens: number; filler: number } {
  let tokens = 0;
  const insert = (c: Counted): number => writer.insertPieces(out, c.rest === '' ? [c.first] : [c.first, c.rest], c.restTokens);
  for (const c of counted.lead) tokens += insert(c);
  tokens += writer.breakParagraph(out);
  // Split the filler into facts+1 segments at random cut points, so facts land anywhere in the body.
  const cuts = counted.facts.map(() => rng.int(fillerBudget + 1)).sort((a, b) => a - b);
  let filler = 0;
  counted.facts.forEach((fact, i) => {
    // Reach the cut with whole sentences (overshooting it is fine; only the document's total budget is a hard limit).
    if (cuts[i] > filler) filler += writer.fillPast(out, cuts[i] - filler, fillerBudget - filler);
    tokens += insert(fact);
  });
  filler += writer.fill(out, fillerBudget - filler);
  tokens += filler;
  tokens += writer.finish(out);
  return { tokens, filler };
}

/** Tokens per document when numDocs is derived from contextTokens (the default 200K tokens ⇒ 1,000 documents). */
const TOKENS_PER_DERIVED_DOC = 200;
/** Derived collections stop growing at BrowseComp-Plus's 1,000 documents; beyond that, documents get longer. */
const MAX_DERIVED_DOCS = 1_000;

export function derivedNumDocs(contextTokens: number): number {
  return Math.min(MAX_DERIVED_DOCS, Math.max(MIN_DOCS, Math.floor(contextTokens / TOKENS_PER_DERIVED_DOC)));
}

export function generateBrowsecomp(raw: GenerateOptions): Task {
  const parsed = parseOptions('browsecomp', schema, raw);
  // numDocs not given: derived from the size, and recorded in task.options like any other option.
  const opts = { ...parsed, numDocs: parsed.numDocs ?? derivedNumDocs(parsed.contextTokens) };
  const root = Rng.forTask('browsecomp', opts.seed);
  const numConstraints = opts.constraints ?? (root.fork('setup').chance(0.5) ? 3 : 4);

  let world: World | null = null;
  let composed: ComposedQuestion | null = null;
  for (let attempt = 0; attempt < 20 && !composed; attempt++) {
    world = buildWorld(root.fork(`world#${attempt}`), opts.numDocs);
    composed = composeQuestion(world, root.fork(`question#${attempt}`), numConstraints);
  }
  if (!world || !composed) {
    throw new TaskOptionError('browsecomp', 'numDocs', `could not compose a question with ${numConstraints} constraints over ${opts.numDocs} documents; use more documents`);
  }
  const w = world;
  const q = composed;

  const render = root.fork('render');
  // Designed distractors get a near miss on the constraint they break: prose that looks like it satisfies it.
  const misses = new Map<number, Miss[]>();
  const missRng = root.fork('misses');
  for (const d of q.designedDistractors) {
    const c = q.constraints.find((x) => x.kind === d.broken);
    if (!c) continue;
    const value = nearMissValue(w, w.people[d.person], c, missRng);
    if (value !== null) misses.set(d.person, [...(misses.get(d.person) ?? []), { slot: c.slot, value }]);
  }
  const plans = render.shuffle(planDocs(w, render, misses));
  const counted: CountedPlan[] = plans;
  const base = plans.map((p, i) => baseTokens(p, counted[i]));
  const baseTotal = base.reduce((a, b) => a + b, 0);
  if (baseTotal > opts.contextTokens * 1.05) {
    throw new TaskOptionError(
      'browsecomp',
      'contextTokens',
      `option 'contextTokens' must be at least about ${Math.ceil(baseTotal / 0.95 / 1000) * 1000} for ${opts.numDocs} documents (their facts alone take ${baseTotal} tokens); lower numDocs or raise contextTokens (got ${opts.contextTokens})`,
    );
  }
  // Filler shares: uneven document lengths (weights 0.25–1.75) like a real collection; any shortfall of one document
  // (filler stops a few tokens early) carries over to the next so the total lands on target.
  const extra = Math.max(0, opts.contextTokens - baseTotal);
  const weights = plans.map(() => 0.25 + 1.5 * render.next());
  const weightTotal = weights.reduce((a, b) => a + b, 0);
  const fillerRng = root.fork('filler');
  const width = Math.max(4, String(plans.length).length);
  const docs: Doc[] = [];
  const out = new TextBuilder();
  const spans: number[] = [];
  const docIdOf = new Map<string, string>();
  let tokens = 0;
  let cumulativeWeight = 0;
  let cumulativeBase = 0;
  plans.forEach((plan, i) => {
    cumulativeWeight += weights[i];
    cumulativeBase += base[i];
    const id = `doc-${String(i + 1).padStart(width, '0')}`;
    docIdOf.set(`${plan.ref.kind}:${plan.ref.index}`, id);
    const titleTokens = pieceTokens(plan.title);
    const wantTotal = cumulativeBase + Math.round((extra * cumulativeWeight) / weightTotal);
    const fillerBudget = Math.max(0, wantTotal - tokens - base[i]);
    const writer = new FillerWriter(fillerRng, [2, 6]);
    const start = out.length;
    const r = renderText(out, counted[i], writer, fillerBudget, fillerRng);
    spans.push(start, out.length);
    tokens += titleTokens + r.tokens;
    docs.push({ id, title: plan.title, text: '' });
  });
  const all = out.toString();
  docs.forEach((d, i) => (d.text = all.slice(spans[2 * i], spans[2 * i + 1])));

  const target = w.people[q.target];
  const answer = personName(target);
  const aliases = aliasesOf(w, target);
  const docId = (ref: EntityRef): string => docIdOf.get(`${ref.kind}:${ref.index}`) ?? '';
  const answerDocId = docId({ kind: 'person', index: q.target });
  const evidence = new Set<string>([answerDocId]);
  for (const c of q.constraints) for (const ref of c.evidence(w, target)) evidence.add(docId(ref));
  const lines = q.constraints.map((c, i) => `${i + 1}. ${c.text}`).join('\n');
  const question =
    'Among the people described in the documents, exactly one satisfies all of the following conditions:\n' +
    `${lines}\n` +
    "Who is this person? Answer with the person's full name only, as written in the title of their document.";
  const k = q.constraints.length;
  let nearMisses = 0;
  for (const p of w.people) if (p !== target && countSatisfied(w, p, q.constraints) === k - 1) nearMisses++;
  let contextChars = 0;
  for (const d of docs) contextChars += d.title.length + d.text.length;

  const options: Record<string, unknown> = { ...opts };
  const meta: Record<string, unknown> = {
    contextTokens: tokens,
    contextChars,
    targetTokens: opts.contextTokens,
    tokenMeasure: 'sum over documents of o200k tokens of title + text',
    numDocs: docs.length,
    entities: { people: w.people.length, cities: w.cities.length, organisations: w.orgs.length, awards: w.awards.length, events: w.events.length },
    constraints: q.constraints.map((c) => ({ kind: c.kind, text: c.text, params: c.params })),
    hops: evidence.size,
    evidenceDocIds: [...evidence].sort(),
    answerDocId,
    distractors: nearMisses,
    designedDistractors: q.designedDistractors.map((d) => ({ name: personName(w.people[d.person]), broken: d.broken, docId: docId({ kind: 'person', index: d.person }) })),
    aliases,
  };
  const id = taskHash({ family: 'browsecomp', seed: opts.seed, options, question, answer, context: docs });
  return { id, family: 'browsecomp', seed: opts.seed, options, question, context: docs, answer, answerType: 'entity', meta };
}

/** Accepted variants of a person's name: full name with middle name, "Last, First", and "F. Last" when unambiguous. */
function aliasesOf(w: World, p: Person): string[] {
  const out: string[] = [];
  if (p.middle) out.push(personFullName(p));
  out.push(`${p.last}, ${p.first}`);
  const initial = `${p.first[0]}. ${p.last}`;
  const clash = w.people.some((q) => q !== p && q.last === p.last && q.first[0] === p.first[0]);
  if (!clash) out.push(initial);
  return out;
}

export function scoreBrowsecomp(task: Task, prediction: string): ScoreResult {
  const text = predictionText(prediction);
  const aliases = Array.isArray(task.meta.aliases) ? (task.meta.aliases as unknown[]).map(String) : [];
  const correct = matchesAny(text, task.answer, aliases);
  return {
    score: correct ? 1 : 0,
    correct,
    details: { metric: 'normalized_exact_match_with_aliases', normalizedPrediction: normalizeAnswer(text), gold: task.answer, aliases },
  };
}

export const browsecompFamily: TaskFamilyDef = {
  name: 'browsecomp',
  description: 'Multi-hop search over N documents of a seeded fictional world (BrowseComp-Plus style); answer is a unique person.',
  defaults: { ...BROWSECOMP_DEFAULTS },
  generate: generateBrowsecomp,
  score: scoreBrowsecomp,
};

browsecompFamily.optionDocs = {
  seed: 'integer ≥ 0; same seed + options ⇒ identical task',
  contextTokens: `total o200k tokens of all titles + texts (default ${BROWSECOMP_DEFAULTS.contextTokens}); must exceed the facts' own size (~55 tokens per document)`,
  numDocs: `number of documents, ${MIN_DOCS} … ${MAX_DOCS} (default: contextTokens / ${TOKENS_PER_DERIVED_DOC}, ${MIN_DOCS} … ${MAX_DERIVED_DOCS}; 1,000 at the default size)`,
  constraints: 'number of constraints in the question, 3 or 4; default: drawn from the seed',
};
