/**
 * Questions over the browsecomp world: constraints on a target person, distractor people that satisfy all but one
 * constraint, and the solver that proves the answer unique against the world graph.
 *
 * Each constraint reads exactly one *slot* of a person (birthCity, birthYear, profession, university, chair, award,
 * events) plus immutable facts of other entities (a city's kind, an organisation's type, …). That makes distractors
 * easy to build and keeps uniqueness checkable: rewriting one slot of one person changes only that person's truth
 * values. Phrasings (one numbered line per constraint):
 *   birthKind       They were born in a <city kind>.                          person doc + city doc
 *   birthFounded    Their place of birth was founded before|after <year>.     person doc + city doc
 *   birthCountry    They were born in <country>.                              person doc + city doc
 *   birthDecade     They were born in the <decade>s.                          person doc
 *   profession      They worked as a <profession>.                            person doc
 *   eduCity         They studied at a university located in <city>.          person doc + university doc
 *   eduFounded      They studied at a university founded before <year>.      person doc + university doc
 *   chairType       They chaired a <organisation type>.                       person doc + organisation doc
 *   chairCity       They chaired an organisation based in <city>.            person doc + organisation doc
 *   chairYear       They became chair of an organisation in or after|before <year>.   person doc
 *   awardOrgType    They received an award presented by a <organisation type>.  person + award + organisation docs
 *   awardEstablished They received an award that was established before <year>.  person doc + award doc
 *   eventType       They took part in a <event type>.                         event doc (participants are listed there)
 *   eventCity       They took part in an event held in <city>.               event doc
 *   eventDecade     They took part in an event held in the <decade>s.        event doc
 *   eventOrgType    They took part in an event organised by a <organisation type>.  event doc + organisation doc
 */
import type { Rng } from './rng.ts';
import {
  type Person,
  type World,
  article,
  awardYears,
  chairYears,
  cityOk,
  eventOk,
  universityOk,
} from './browsecomp-world.ts';

export type Slot = 'birthCity' | 'birthYear' | 'profession' | 'university' | 'chair' | 'award' | 'events';

/** A document of the world, before ids are assigned: entity kind + index. */
export type EntityRef = { kind: 'person' | 'city' | 'org' | 'award' | 'event'; index: number };

export interface Constraint {
  kind: string;
  slot: Slot;
  text: string;
  params: Record<string, string | number>;
  test(w: World, p: Person): boolean;
  /** Documents (besides the person's own) that establish the constraint for this person; assumes test() holds. */
  evidence(w: World, p: Person): EntityRef[];
}

const decade = (y: number): number => Math.floor(y / 10) * 10;

/** Every constraint the target satisfies, one per kind (thresholds drawn around the target's own values). */
function deriveConstraints(w: World, t: Person, rng: Rng): Constraint[] {
  const out: Constraint[] = [];
  const city = w.cities[t.birthCity];
  const cityRef = (p: Person): EntityRef[] => [{ kind: 'city', index: p.birthCity }];
  out.push({
    kind: 'birthKind', slot: 'birthCity', text: `They were born in ${article(city.kind)}.`, params: { cityKind: city.kind },
    test: (W, p) => W.cities[p.birthCity].kind === city.kind, evidence: (_W, p) => cityRef(p),
  });
  if (rng.chance(0.6)) {
    const year = (Math.floor(city.founded / 25) + 1) * 25; // smallest multiple of 25 above the founding year
    out.push({
      kind: 'birthFounded', slot: 'birthCity', text: `Their place of birth was founded before ${year}.`, params: { op: 'before', year },
      test: (W, p) => W.cities[p.birthCity].founded < year, evidence: (_W, p) => cityRef(p),
    });
  } else {
    const year = Math.ceil(city.founded / 25) * 25 - 25; // largest multiple of 25 below the founding year
    out.push({
      kind: 'birthFounded', slot: 'birthCity', text: `Their place of birth was founded after ${year}.`, params: { op: 'after', year },
      test: (W, p) => W.cities[p.birthCity].founded > year, evidence: (_W, p) => cityRef(p),
    });
  }
  out.push({
    kind: 'birthCountry', slot: 'birthCity', text: `They were born in ${city.country}.`, params: { country: city.country },
    test: (W, p) => W.cities[p.birthCity].country === city.country, evidence: (_W, p) => cityRef(p),
  });
  const d = decade(t.birthYear);
  out.push({
    kind: 'birthDecade', slot: 'birthYear', text: `They were born in the ${d}s.`, params: { decade: d },
    test: (_W, p) => decade(p.birthYear) === d, evidence: () => [],
  });
  out.push({
    kind: 'profession', slot: 'profession', text: `They worked as ${article(t.profession)}.`, params: { profession: t.profession },
    test: (_W, p) => p.profession === t.profession, evidence: () => [],
  });
  const uni = w.orgs[t.university];
  const uniRef = (p: Person): EntityRef[] => [{ kind: 'org', index: p.university }];
  out.push({
    kind: 'eduCity', slot: 'university', text: `They studied at a university located in ${w.cities[uni.hq].name}.`,
    params: { city: w.cities[uni.hq].name },
    test: (W, p) => W.orgs[p.university].hq === uni.hq, evidence: (_W, p) => uniRef(p),
  });
  const uniYear = (Math.floor(uni.founded / 50) + 1) * 50;
  out.push({
    kind: 'eduFounded', slot: 'university', text: `They studied at a university founded before ${uniYear}.`, params: { year: uniYear },
    test: (W, p) => W.orgs[p.university].founded < uniYear, evidence: (_W, p) => uniRef(p),
  });
  if (t.chair) {
    const org = w.orgs[t.chair.org];
    const chairRef = (p: Person): EntityRef[] => (p.chair ? [{ kind: 'org', index: p.chair.org }] : []);
    out.push({
      kind: 'chairType', slot: 'chair', text: `They chaired ${article(org.type)}.`, params: { orgType: org.type },
      test: (W, p) => p.chair !== null && W.orgs[p.chair.org].type === org.type, evidence: (_W, p) => chairRef(p),
    });
    out.push({
      kind: 'chairCity', slot: 'chair', text: `They chaired an organisation based in ${w.cities[org.hq].name}.`,
      params: { city: w.cities[org.hq].name },
      test: (W, p) => p.chair !== null && W.orgs[p.chair.org].hq === org.hq, evidence: (_W, p) => chairRef(p),
    });
    if (rng.chance(0.5)) {
      const year = Math.floor(t.chair.year / 5) * 5;
      out.push({
        kind: 'chairYear', slot: 'chair', text: `They became chair of an organisation in or after ${year}.`, params: { op: 'from', year },
        test: (_W, p) => p.chair !== null && p.chair.year >= year, evidence: () => [],
      });
    } else {
      const year = Math.floor(t.chair.year / 5) * 5 + 5;
      out.push({
        kind: 'chairYear', slot: 'chair', text: `They became chair of an organisation before ${year}.`, params: { op: 'before', year },
        test: (_W, p) => p.chair !== null && p.chair.year < year, evidence: () => [],
      });
    }
  }
  if (t.award) {
    const award = w.awards[t.award.award];
    const presenter = w.orgs[award.org];
    out.push({
      kind: 'awardOrgType', slot: 'award', text: `They received an award presented by ${article(presenter.type)}.`,
      params: { orgType: presenter.type },
      test: (W, p) => p.award !== null && W.orgs[W.awards[p.award.award].org].type === presenter.type,
      evidence: (W, p) => (p.award ? [{ kind: 'award', index: p.award.award }, { kind: 'org', index: W.awards[p.award.award].org }] : []),
    });
    const year = (Math.floor(award.established / 10) + 1) * 10;
    out.push({
      kind: 'awardEstablished', slot: 'award', text: `They received an award that was established before ${year}.`, params: { year },
      test: (W, p) => p.award !== null && W.awards[p.award.award].established < year,
      evidence: (_W, p) => (p.award ? [{ kind: 'award', index: p.award.award }] : []),
    });
  }
  if (t.events.length > 0) {
    const e = w.events[rng.pick(t.events)];
    const firstEvent = (pred: (ei: number) => boolean) => (_W: World, p: Person): EntityRef[] => {
      const hit = p.events.find(pred);
      return hit === undefined ? [] : [{ kind: 'event', index: hit }];
    };
    const isType = (ei: number): boolean => w.events[ei].type === e.type;
    out.push({
      kind: 'eventType', slot: 'events', text: `They took part in ${article(e.type)}.`, params: { eventType: e.type },
      test: (_W, p) => p.events.some(isType), evidence: firstEvent(isType),
    });
    const inCity = (ei: number): boolean => w.events[ei].city === e.city;
    out.push({
      kind: 'eventCity', slot: 'events', text: `They took part in an event held in ${w.cities[e.city].name}.`,
      params: { city: w.cities[e.city].name },
      test: (_W, p) => p.events.some(inCity), evidence: firstEvent(inCity),
    });
    const ed = decade(e.year);
    const inDecade = (ei: number): boolean => decade(w.events[ei].year) === ed;
    out.push({
      kind: 'eventDecade', slot: 'events', text: `They took part in an event held in the ${ed}s.`, params: { decade: ed },
      test: (_W, p) => p.events.some(inDecade), evidence: firstEvent(inDecade),
    });
    const orgType = w.orgs[e.organiser].type;
    const byType = (ei: number): boolean => w.orgs[w.events[ei].organiser].type === orgType;
    out.push({
      kind: 'eventOrgType', slot: 'events', text: `They took part in an event organised by ${article(orgType)}.`,
      params: { orgType },
      test: (_W, p) => p.events.some(byType),
      evidence: (W, p) => {
        const hit = p.events.find(byType);
        return hit === undefined ? [] : [{ kind: 'event', index: hit }, { kind: 'org', index: W.events[hit].organiser }];
      },
    });
  }
  return out;
}

/** Constraints answerable from the person's own document alone (the rest need a second document). */
const SINGLE_DOC = new Set(['birthDecade', 'profession', 'chairYear']);
/** Per question, at most this many constraints on one slot ("took part in X" twice could be two different events). */
const SLOT_CAP: Record<Slot, number> = { birthCity: 2, birthYear: 1, profession: 1, university: 1, chair: 2, award: 1, events: 1 };

export function satisfiesAll(w: World, p: Person, cs: readonly Constraint[]): boolean {
  for (const c of cs) if (!c.test(w, p)) return false;
  return true;
}

export function countSatisfied(w: World, p: Person, cs: readonly Constraint[]): number {
  let n = 0;
  for (const c of cs) if (c.test(w, p)) n++;
  return n;
}

/** The solver: indexes of all people that satisfy every constraint. */
export function solve(w: World, cs: readonly Constraint[]): number[] {
  const out: number[] = [];
  w.people.forEach((p, i) => {
    if (satisfiesAll(w, p, cs)) out.push(i);
  });
  return out;
}

function setSlot(p: Person, slot: Slot, value: unknown): void {
  (p as unknown as Record<string, unknown>)[slot] = value;
}

/** Plausible alternative values of a slot for this person (given their birth year). */
function alternatives(w: World, p: Person, slot: Slot, rng: Rng): unknown[] {
  switch (slot) {
    case 'birthYear': {
      const ys: number[] = [];
      for (let y = 1900; y <= 1985; y++) ys.push(y);
      return ys;
    }
    case 'birthCity':
      return w.cities.map((_, i) => i).filter((i) => cityOk(w, p, i));
    case 'profession':
      return [...new Set(w.people.map((q) => q.profession)), p.profession];
    case 'university':
      return w.orgs.map((_, i) => i).filter((i) => universityOk(w, p, i));
    case 'chair': {
      const out: unknown[] = [null];
      w.orgs.forEach((o, i) => {
        if (o.type === 'university') return;
        const r = chairYears(w, p, i);
        if (!r) return;
        for (const y of new Set([r[0], rng.range(r[0], r[1]), r[1]])) out.push({ org: i, year: y });
      });
      return out;
    }
    case 'award': {
      const out: unknown[] = [null];
      w.awards.forEach((_, i) => {
        const r = awardYears(w, p, i);
        if (!r) return;
        for (const y of new Set([r[0], rng.range(r[0], r[1]), r[1]])) out.push({ award: i, year: y });
      });
      return out;
    }
    case 'events':
      return [[], ...w.events.map((_, i) => i).filter((i) => eventOk(w, p, i)).map((i) => [i])];
  }
}

/**
 * Rewrites one slot of `p` to a random plausible value for which `accept(p)` holds. Returns false (and leaves `p`
 * unchanged) when no value works.
 */
function rewriteSlot(w: World, p: Person, slot: Slot, accept: (p: Person) => boolean, rng: Rng): boolean {
  const before = (p as unknown as Record<string, unknown>)[slot];
  const ok: unknown[] = [];
  for (const v of alternatives(w, p, slot, rng)) {
    setSlot(p, slot, v);
    if (accept(p)) ok.push(v);
  }
  if (ok.length === 0) {
    setSlot(p, slot, before);
    return false;
  }
  setSlot(p, slot, rng.pick(ok));
  return true;
}

/** After a birth-year change, drops or re-dates facts that no longer fit the person's lifetime. */
function repairTimeline(w: World, p: Person, rng: Rng): void {
  if (!cityOk(w, p, p.birthCity)) {
    const ok = w.cities.map((_, i) => i).filter((i) => cityOk(w, p, i));
    if (ok.length > 0) p.birthCity = rng.pick(ok);
  }
  if (!universityOk(w, p, p.university)) {
    const ok = w.orgs.map((_, i) => i).filter((i) => universityOk(w, p, i));
    if (ok.length > 0) p.university = rng.pick(ok);
  }
  if (p.chair) {
    const r = chairYears(w, p, p.chair.org);
    p.chair = r ? { org: p.chair.org, year: Math.min(r[1], Math.max(r[0], p.chair.year)) } : null;
  }
  if (p.award) {
    const r = awardYears(w, p, p.award.award);
    p.award = r ? { award: p.award.award, year: Math.min(r[1], Math.max(r[0], p.award.year)) } : null;
  }
  p.events = p.events.filter((e) => eventOk(w, p, e));
}

/** Slot order for rewriting: birth year first, because the plausible values of the other slots depend on it. */
const SLOT_ORDER: Slot[] = ['birthYear', 'birthCity', 'profession', 'university', 'chair', 'award', 'events'];

/**
 * Turns person `p` into a near miss: every constraint holds except `broken`. Returns false when impossible
 * (then `p` may be partially rewritten, which is harmless: uniqueness is enforced afterwards anyway).
 */
function makeDistractor(w: World, p: Person, cs: readonly Constraint[], broken: Constraint, rng: Rng): boolean {
  for (const slot of SLOT_ORDER) {
    const onSlot = cs.filter((c) => c.slot === slot);
    if (onSlot.length === 0) continue;
    const accept = (q: Person): boolean => onSlot.every((c) => c.test(w, q) === (c !== broken));
    if (!rewriteSlot(w, p, slot, accept, rng)) return false;
    if (slot === 'birthYear') repairTimeline(w, p, rng);
  }
  return countSatisfied(w, p, cs) === cs.length - 1 && !broken.test(w, p);
}

export interface ComposedQuestion {
  target: number;
  constraints: Constraint[];
  /** People rewritten to satisfy all constraints but one (index → broken constraint kind). */
  designedDistractors: { person: number; broken: string }[];
}

/**
 * Picks a target and 3–4 constraints, builds distractors, then enforces uniqueness by rewriting any other person that
 * satisfies everything. Returns null when this world cannot host a good question (the caller draws a new world).
 */
export function composeQuestion(w: World, rng: Rng, numConstraints: number): ComposedQuestion | null {
  const order = rng.shuffle(w.people.map((_, i) => i));
  for (const target of order.slice(0, 40)) {
    const t = w.people[target];
    const candidates = rng.shuffle(deriveConstraints(w, t, rng));
    // Each constraint alone must be shared by at least two people, else it gives the answer away.
    const informative = candidates.filter((c) => solve(w, [c]).length >= 2);
    const chosen: Constraint[] = [];
    const perSlot = new Map<Slot, number>();
    let singleDoc = 0;
    for (const c of informative) {
      if (chosen.length === numConstraints) break;
      if ((perSlot.get(c.slot) ?? 0) >= SLOT_CAP[c.slot]) continue;
      if (SINGLE_DOC.has(c.kind) && singleDoc >= 1) continue;
      if (chosen.some((o) => o.kind === c.kind)) continue;
      chosen.push(c);
      perSlot.set(c.slot, (perSlot.get(c.slot) ?? 0) + 1);
      if (SINGLE_DOC.has(c.kind)) singleDoc++;
    }
    if (chosen.length < numConstraints) continue;
    // At least two different slots, so the question needs at least two lines of evidence.
    if (new Set(chosen.map((c) => c.slot)).size < 2) continue;

    // Distractors: two per constraint in worlds of 60+ people (one in smaller ones), each breaking exactly that one.
    const others = rng.shuffle(w.people.map((_, i) => i).filter((i) => i !== target));
    const designed: { person: number; broken: string }[] = [];
    let next = 0;
    const perConstraint = w.people.length >= 60 ? 2 : 1;
    for (const broken of chosen.flatMap((c) => Array.from({ length: perConstraint }, () => c))) {
      for (let tries = 0; tries < 3 && next < others.length; tries++) {
        const idx = others[next++];
        const p = w.people[idx];
        const backup = structuredClone(p);
        if (makeDistractor(w, p, chosen, broken, rng)) {
          designed.push({ person: idx, broken: broken.kind });
          break;
        }
        w.people[idx] = backup;
      }
    }

    // Uniqueness: anyone else who satisfies every constraint gets one slot rewritten to break one constraint.
    let unique = false;
    for (let round = 0; round < 50; round++) {
      const sat = solve(w, chosen).filter((i) => i !== target);
      if (sat.length === 0) {
        unique = true;
        break;
      }
      for (const i of sat) {
        const p = w.people[i];
        const breakable = rng.shuffle([...chosen]);
        for (const c of breakable) {
          if (rewriteSlot(w, p, c.slot, (q) => !c.test(w, q), rng)) {
            if (c.slot === 'birthYear') repairTimeline(w, p, rng);
            break;
          }
        }
      }
    }
    if (!unique || !satisfiesAll(w, t, chosen)) return null;
    return { target, constraints: chosen, designedDistractors: designed.filter((d) => !satisfiesAll(w, w.people[d.person], chosen)) };
  }
  return null;
}

/**
 * A value of constraint `c`'s slot that would satisfy `c` for person `p` but is not p's own (for a near-miss sentence:
 * "applied to <a university in the right city> but never enrolled"). Null when there is none.
 */
export function nearMissValue(w: World, p: Person, c: Constraint, rng: Rng): unknown {
  const own = (p as unknown as Record<string, unknown>)[c.slot];
  const probe = structuredClone(p);
  const ok: unknown[] = [];
  for (const v of alternatives(w, p, c.slot, rng)) {
    if (v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (JSON.stringify(v) === JSON.stringify(own)) continue;
    if (c.slot === 'events' && p.events.includes((v as number[])[0])) continue;
    if (c.slot === 'chair' && p.chair && (v as { org: number }).org === p.chair.org) continue;
    if (c.slot === 'award' && p.award && (v as { award: number }).award === p.award.award) continue;
    setSlot(probe, c.slot, v);
    if (c.test(w, probe)) ok.push(v);
  }
  return ok.length === 0 ? null : rng.pick(ok);
}
