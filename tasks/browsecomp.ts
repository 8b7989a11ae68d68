/**
 * browsecomp — multi-hop search over a seeded fictional world rendered into N documents (BrowseComp-Plus style).
 *
 * Context: Doc[] ({ id: "doc-0001"…, title, text }), one document per entity, in random order:
 *   person (title = "First Last"):  "<Full Name> (born <year> in <City>) is a <profession>."  or
 *                                   "<Full Name> is a <profession> who was born in <City> in <year>."
 *                                   "She|He studied at|was educated at the <University>."
 *                                   "In <year>, she|he became chair of the <Org>." / "She|He became chair of the <Org> in <year>."
 *                                   "In <year>, she|he received the <Award>." / "She|He received the <Award> in <year>."
 *   city (title = name):            "<City> is a <kind> in <Country>. It was founded in <year>."  or
 *                                   "<City>, a <kind> in <Country>, was founded in <year>."
 *   organisation (title = name):    "The <Org> is a <type> based in <City>. It was founded in <year>."  or
 *                                   "Founded in <year>, the <Org> is a <type> based in <City>."
 *   award (title = name):           "The <Award> is an award presented by the <Org>. It was established in <year>."  or
 *                                   "Established in <year>, the <Award> is an award presented by the <Org>."
 *   event (news; title = headline): "The <Event>, a <type> organised by the <Org>, was held in <City> in <year>."
 *                                   "Participants included A, B and C." / "Among those taking part were A, B and C."
 * The lead facts open the document; the other facts are spread through paragraphs of filler prose that bring the
 * collection to `contextTokens` (sum over documents of title + text tokens, o200k, exact — see tokens.ts).
 *
 * Question: "Among the people described in the documents, exactly one satisfies all of the following conditions:"
 * then 3–4 numbered constraints (browsecomp-question.ts lists the phrasings), then "Who is this person? Answer with
 * the person's full name only, as written in the title of their document." Distractor people satisfy all but one
 * constraint; the generator proves the answer unique by solving the question against the world graph.
 * Answer: the canonical name (document title); meta.aliases lists accepted variants. Score: normalized exact match.
 */
import { z } from 'zod';
import { type ComposedQuestion, type EntityRef, composeQuestion, countSatisfied } from './browsecomp-question.ts';
import {
  MAX_DOCS,
  MIN_DOCS,
  type Person,
  type World,
  article,
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

/**
 * A sentence as pretoken-aligned pieces: pieces[0] has no leading space; every later piece starts with a space + word
 * or with punctuation (names, years and phrase fragments recur across documents, so their counts are cache hits).
 */
type Sentence = string[];

interface DocPlan {
  ref: EntityRef;
  title: string;
  /** Sentences of the first paragraph. */
  lead: Sentence[];
  /** Fact sentences spread through the rest of the document. */
  facts: Sentence[];
  /** restTokens of each lead / fact sentence (set by baseTokens). */
  leadRest: number[];
  factRest: number[];
}

/** " A, B and C" as pieces. */
function namePieces(names: readonly string[]): string[] {
  const out: string[] = [];
  names.forEach((n, i) => {
    if (i > 0) out.push(i === names.length - 1 ? ' and' : ',');
    out.push(` ${n}`);
  });
  return out;
}

/** The fact sentences of every entity, phrasing variants drawn from `rng`. */
function planDocs(w: World, rng: Rng): DocPlan[] {
  const plans: DocPlan[] = [];
  const participants: string[][] = w.events.map(() => []);
  w.people.forEach((p) => {
    for (const e of p.events) participants[e].push(personName(p));
  });
  const the = (name: string): string => ` ${name}`;
  w.people.forEach((p, index) => {
    const city = ` ${w.cities[p.birthCity].name}`;
    const Pron = cap(p.pronoun);
    const full = personFullName(p);
    const prof = ` ${article(p.profession)}`;
    const lead: Sentence = rng.chance(0.5)
      ? [full, ' (born', ` ${p.birthYear}`, ' in', city, ')', ' is', prof, '.']
      : [full, ' is', prof, ' who was born in', city, ' in', ` ${p.birthYear}`, '.'];
    const uni = the(w.orgs[p.university].name);
    const facts: Sentence[] = [rng.chance(0.5) ? [Pron, ' studied at the', uni, '.'] : [Pron, ' was educated at the', uni, '.']];
    if (p.chair) {
      const org = the(w.orgs[p.chair.org].name);
      const y = ` ${p.chair.year}`;
      facts.push(rng.chance(0.5) ? ['In', y, ',', ` ${p.pronoun} became chair of the`, org, '.'] : [Pron, ' became chair of the', org, ' in', y, '.']);
    }
    if (p.award) {
      const award = the(w.awards[p.award.award].name);
      const y = ` ${p.award.year}`;
      facts.push(rng.chance(0.5) ? ['In', y, ',', ` ${p.pronoun} received the`, award, '.'] : [Pron, ' received the', award, ' in', y, '.']);
    }
    plans.push({ ref: { kind: 'person', index }, title: personName(p), lead: [lead], facts: rng.shuffle(facts), leadRest: [], factRest: [] });
  });
  w.cities.forEach((c, index) => {
    const kind = ` ${article(c.kind)}`;
    const lead: Sentence[] = rng.chance(0.5)
      ? [[c.name, ' is', kind, ' in', ` ${c.country}`, '.'], ['It was founded in', ` ${c.founded}`, '.']]
      : [[c.name, ',', kind, ' in', ` ${c.country}`, ',', ' was founded in', ` ${c.founded}`, '.']];
    plans.push({ ref: { kind: 'city', index }, title: c.name, lead, facts: [], leadRest: [], factRest: [] });
  });
  w.orgs.forEach((o, index) => {
    const hq = ` ${w.cities[o.hq].name}`;
    const type = ` ${article(o.type)}`;
    const lead: Sentence[] = rng.chance(0.5)
      ? [['The', the(o.name), ' is', type, ' based in', hq, '.'], ['It was founded in', ` ${o.founded}`, '.']]
      : [['Founded in', ` ${o.founded}`, ',', ' the', the(o.name), ' is', type, ' based in', hq, '.']];
    plans.push({ ref: { kind: 'org', index }, title: o.name, lead, facts: [], leadRest: [], factRest: [] });
  });
  w.awards.forEach((a, index) => {
    const org = the(w.orgs[a.org].name);
    const lead: Sentence[] = rng.chance(0.5)
      ? [['The', the(a.name), ' is an award presented by the', org, '.'], ['It was established in', ` ${a.established}`, '.']]
      : [['Established in', ` ${a.established}`, ',', ' the', the(a.name), ' is an award presented by the', org, '.']];
    plans.push({ ref: { kind: 'award', index }, title: a.name, lead, facts: [], leadRest: [], factRest: [] });
  });
  w.events.forEach((e, index) => {
    const city = w.cities[e.city].name;
    const title = rng.pick([e.name, `Scenes from the ${e.name}`, `${e.name}: a report`, `${city} welcomes the ${e.name}`]);
    const lead: Sentence = [
      'The', the(e.name), ',', ` ${article(e.type)}`, ' organised by the', the(w.orgs[e.organiser].name), ',',
      ' was held in', ` ${city}`, ' in', ` ${e.year}`, '.',
    ];
    const names = participants[index];
    const facts: Sentence[] =
      names.length === 0 ? [] : [[rng.chance(0.5) ? 'Participants included' : 'Among those taking part were', ...namePieces(names), '.']];
    plans.push({ ref: { kind: 'event', index }, title, lead: [lead], facts, leadRest: [], factRest: [] });
  });
  return plans;
}

/** Tokens of a sentence's pieces after the first (the first depends on its position: with or without a space). */
function restTokens(s: Sentence): number {
  let n = 0;
  for (let i = 1; i < s.length; i++) n += pieceTokens(s[i]);
  return n;
}

/**
 * Token cost of a plan's title and fact sentences, without filler (paragraph breaks cost 0 or 1: ignored here).
 * Fills plan.leadRest / plan.factRest so rendering does not count the same pieces twice.
 */
function baseTokens(plan: DocPlan): number {
  let n = pieceTokens(plan.title);
  plan.leadRest = plan.lead.map(restTokens);
  plan.factRest = plan.facts.map(restTokens);
  plan.lead.forEach((s, i) => (n += pieceTokens(i > 0 ? ` ${s[0]}` : s[0]) + plan.leadRest[i]));
  plan.facts.forEach((s, i) => (n += pieceTokens(` ${s[0]}`) + plan.factRest[i]));
  return n;
}

/** Writes one document's text: lead paragraph, then facts spread through `fillerBudget` tokens of filler. */
function renderText(plan: DocPlan, writer: FillerWriter, fillerBudget: number, rng: Rng): { text: string; tokens: number; filler: number } {
  const out = new TextBuilder();
  let tokens = 0;
  plan.lead.forEach((s, i) => (tokens += writer.insertPieces(out, s, plan.leadRest[i])));
  tokens += writer.breakParagraph(out);
  // Split the filler into facts+1 segments at random cut points, so facts land anywhere in the body.
  const cuts = plan.facts.map(() => rng.int(fillerBudget + 1)).sort((a, b) => a - b);
  let filler = 0;
  plan.facts.forEach((fact, i) => {
    // Reach the cut with whole sentences (overshooting it is fine; only the document's total budget is a hard limit).
    if (cuts[i] > filler) filler += writer.fillPast(out, cuts[i] - filler, fillerBudget - filler);
    tokens += writer.insertPieces(out, fact, plan.factRest[i]);
  });
  filler += writer.fill(out, fillerBudget - filler);
  tokens += filler;
  tokens += writer.finish(out);
  return { text: out.toString(), tokens, filler };
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
  const plans = render.shuffle(planDocs(w, render));
  const base = plans.map(baseTokens);
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
    const r = renderText(plan, writer, fillerBudget, fillerRng);
    tokens += titleTokens + r.tokens;
    docs.push({ id, title: plan.title, text: r.text });
  });

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
  contextTokens: `total o200k tokens of all titles + texts (default ${BROWSECOMP_DEFAULTS.contextTokens}); must exceed the facts' own size (~45 tokens per document)`,
  numDocs: `number of documents, ${MIN_DOCS} … ${MAX_DOCS} (default: contextTokens / ${TOKENS_PER_DERIVED_DOC}, ${MIN_DOCS} … ${MAX_DERIVED_DOCS}; 1,000 at the default size)`,
  constraints: 'number of constraints in the question, 3 or 4; default: drawn from the seed',
};
