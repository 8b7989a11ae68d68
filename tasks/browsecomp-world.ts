/**
 * The seeded fictional world behind `browsecomp`: countries, cities, organisations, awards, events and people, with
 * relations (birthplace, education, chairmanship, awards, event participation). Every entity becomes one document
 * (browsecomp.ts renders them); questions are proven unique against this graph (browsecomp-question.ts).
 *
 * Names are invented (no real people or places), so a model cannot answer from memory. All entity names are unique
 * within a world; person names are unique as "First Last".
 */
import type { Rng } from './rng.ts';

export const CITY_KINDS = ['port city', 'river town', 'mountain town', 'market town', 'mining town'] as const;
export type CityKind = (typeof CITY_KINDS)[number];

export const ORG_TYPES = ['university', 'company', 'society', 'trust', 'orchestra', 'museum', 'newspaper'] as const;
export type OrgType = (typeof ORG_TYPES)[number];

export const EVENT_TYPES = ['festival', 'expedition', 'conference', 'exhibition', 'regatta', 'congress'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const PROFESSIONS = [
  'cartographer', 'violinist', 'botanist', 'engineer', 'journalist', 'architect', 'historian', 'painter', 'surgeon',
  'chemist', 'novelist', 'economist', 'astronomer', 'sculptor', 'geologist', 'photographer', 'composer', 'diplomat',
  'librarian', 'shipbuilder', 'linguist', 'mathematician', 'pharmacist', 'archaeologist',
] as const;

const COUNTRIES = ['Veldmark', 'Carrowen', 'Istmark', 'Lunaria', 'Pellandy', 'Sorvath', 'Quorlund', 'Maravel', 'Esterhold', 'Valdoria', 'Kethra', 'Brisolan', 'Ardmoor', 'Tarvenia', 'Olvesse', 'Drumlin'];

const CITY_HEADS = ['Ash', 'Bel', 'Cor', 'Dun', 'Eld', 'Fen', 'Gal', 'Har', 'Ister', 'Kel', 'Lan', 'Mor', 'Nor', 'Oss', 'Pel', 'Quen', 'Ros', 'Sel', 'Tor', 'Vel', 'Wen', 'Yar', 'Zel', 'Bram', 'Cael', 'Drev', 'Harl', 'Mar', 'Tarn', 'Lis'];
const CITY_TAILS = ['mouth', 'haven', 'ford', 'wick', 'stead', 'bury', 'port', 'dale', 'mere', 'holm', 'gate', 'crest', 'field', 'brook', 'thorn', 'by', 'wyn', 'ridge'];
const CITY_PREFIXES = ['Upper', 'Lower', 'East', 'West', 'New', 'Old', 'North', 'South'];

const FEMALE = ['Ilse', 'Mara', 'Oda', 'Nadia', 'Lena', 'Sabine', 'Vera', 'Greta', 'Rosa', 'Petra', 'Agnes', 'Beatrix', 'Clara', 'Dora', 'Elin', 'Freya', 'Hanne', 'Ines', 'Johanna', 'Katrin', 'Liesel', 'Maren', 'Nora', 'Orla', 'Paula', 'Runa', 'Selma', 'Tilde', 'Ursula', 'Wilma', 'Alma', 'Brita', 'Cosima', 'Edda', 'Fenna', 'Gisela', 'Hedda', 'Ida', 'Jorunn', 'Linnea', 'Mette', 'Nelle', 'Ottilie', 'Signe', 'Thea'];
const MALE = ['Bram', 'Tobias', 'Felix', 'Corin', 'Hugo', 'Emil', 'Jonas', 'Anton', 'Milan', 'Otto', 'Aldo', 'Bastian', 'Cyril', 'Dorian', 'Edvard', 'Falk', 'Gustav', 'Henrik', 'Ivo', 'Jasper', 'Konrad', 'Lorenz', 'Matthis', 'Niklas', 'Oskar', 'Per', 'Rasmus', 'Sten', 'Till', 'Valentin', 'Arvid', 'Birger', 'Caspar', 'Detlef', 'Espen', 'Florian', 'Gunnar', 'Harald', 'Ingmar', 'Jorik', 'Leif', 'Magnus', 'Nils', 'Ruben', 'Viggo'];
const SURNAMES = ['Okafor', 'Tell', 'Visser', 'Marlow', 'Brandt', 'Castell', 'Duvall', 'Hart', 'Lindqvist', 'Moreau', 'Novak', 'Orsini', 'Pryce', 'Renner', 'Sorensen', 'Thorne', 'Varga', 'Whitlock', 'Quill', 'Fenn', 'Aalto', 'Bergström', 'Calloway', 'Dragan', 'Ekwueme', 'Falkenrath', 'Grimaldi', 'Haverkamp', 'Ibsen', 'Jovanovic', 'Kessler', 'Larsen', 'Maddox', 'Nakamura', 'Oyelaran', 'Petrakis', 'Quinlan', 'Rosenthal', 'Szabo', 'Tanaka', 'Ulloa', 'Vasquez', 'Wexler', 'Yilmaz', 'Zeller', 'Achterberg', 'Blom', 'Cardoso', 'Delacroix', 'Engel', 'Fairbairn', 'Gallo', 'Holm', 'Iversen', 'Jansen', 'Kowalski', 'Lund', 'Mercer', 'Nygaard', 'Osei'];
const SURNAME_HEADS = ['Ash', 'Black', 'Brook', 'Cole', 'Dal', 'East', 'Fair', 'Gold', 'Hal', 'Kings', 'Mill', 'Stan', 'Thorn', 'West', 'Whit', 'Win'];
const SURNAME_TAILS = ['worth', 'ley', 'ton', 'wood', 'field', 'mere', 'ford', 'by', 'wick', 'more'];

const ORG_STEMS = ['Amber Coast', 'Northgate', 'Silver Key', 'Crescent', 'Old Bridge', 'Lantern Hill', 'Meridian', 'Saint Alden', 'Blue Heron', 'Iron Wheel', 'Greenhill', 'Larkspur', 'Tidewater', 'Highmoor', 'Copperleaf', 'Oakhollow', 'Stormwatch', 'Wren Valley', 'Juniper', 'Foxglove', 'Ravenscar', 'Kingfisher', 'Marigold', 'Obsidian', 'Quayside', 'Rosehip', 'Sable', 'Thistle', 'Umber', 'Vantage'];
const ORG_NOUNS: Record<OrgType, readonly string[]> = {
  university: ['College', 'Polytechnic', 'Academy'],
  company: ['Trading Company', 'Shipping Line', 'Ironworks'],
  society: ['Geographical Society', 'Philosophical Society', 'Society of Engravers'],
  trust: ['Trust', 'Foundation', 'Heritage Trust'],
  orchestra: ['Philharmonic', 'Symphony Orchestra', 'Chamber Ensemble'],
  museum: ['Museum', 'Gallery', 'Maritime Museum'],
  newspaper: ['Gazette', 'Courier', 'Chronicle'],
};
const AWARD_NOUNS = ['Medal', 'Prize', 'Award'];
const EVENT_THEMES = ['Lantern', 'Glacier', 'Cartography', 'Glass', 'Harvest', 'Salt', 'Winter', 'Botanical', 'Maritime', 'Engraving', 'Folk Music', 'Clockmaking', 'River', 'Printing', 'Textile'];
const EVENT_NOUNS: Record<EventType, string> = {
  festival: 'Festival', expedition: 'Expedition', conference: 'Conference', exhibition: 'Exhibition', regatta: 'Regatta', congress: 'Congress',
};

export interface City {
  name: string;
  country: string;
  kind: CityKind;
  founded: number;
}

export interface Org {
  name: string;
  type: OrgType;
  founded: number;
  /** City index of the headquarters. */
  hq: number;
}

export interface Award {
  name: string;
  /** Presenting organisation (index). */
  org: number;
  established: number;
}

export interface WorldEvent {
  name: string;
  type: EventType;
  year: number;
  city: number;
  organiser: number;
}

export interface Person {
  first: string;
  middle: string | null;
  last: string;
  pronoun: 'she' | 'he';
  birthYear: number;
  birthCity: number;
  profession: string;
  /** Organisation index of a university. */
  university: number;
  chair: { org: number; year: number } | null;
  award: { award: number; year: number } | null;
  /** Event indexes the person took part in (listed in the events' documents only). */
  events: number[];
}

export interface World {
  countries: string[];
  cities: City[];
  orgs: Org[];
  awards: Award[];
  events: WorldEvent[];
  people: Person[];
}

export const LATEST_YEAR = 2024;

export function personName(p: Person): string {
  return `${p.first} ${p.last}`;
}

export function personFullName(p: Person): string {
  return p.middle ? `${p.first} ${p.middle} ${p.last}` : `${p.first} ${p.last}`;
}

/** "a"/"an" by sound: vowel letters, except the "yoo" sound of university, union, European, … */
export function article(noun: string): string {
  return /^[aeiou]/i.test(noun) && !/^(uni|use|usu|eu)/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** How many entities of each kind a world of `numDocs` documents has (one document per entity). */
export function worldComposition(numDocs: number): { cities: number; orgs: number; awards: number; events: number; people: number } {
  const cities = Math.max(3, Math.round(numDocs * 0.14));
  const orgs = Math.max(4, Math.round(numDocs * 0.16));
  const awards = Math.max(1, Math.round(numDocs * 0.03));
  const events = Math.max(2, Math.round(numDocs * 0.15));
  return { cities, orgs, awards, events, people: numDocs - cities - orgs - awards - events };
}

/** Smallest world that still supports a question with distractors. */
export const MIN_DOCS = 16;
export const MAX_DOCS = 20_000;

function uniqueName(used: Set<string>, make: () => string, fallback: (n: number) => string): string {
  for (let i = 0; i < 200; i++) {
    const n = make();
    if (!used.has(n)) {
      used.add(n);
      return n;
    }
  }
  // Name space nearly exhausted (only for very large worlds): number the name, still unique and readable.
  for (let k = 2; ; k++) {
    const n = fallback(k);
    if (!used.has(n)) {
      used.add(n);
      return n;
    }
  }
}

// ---- sanity rules: the timeline of a person must be plausible, for generated people and rewritten distractors ----

export function cityOk(w: World, p: Person, city: number): boolean {
  return w.cities[city].founded < p.birthYear;
}
export function universityOk(w: World, p: Person, org: number): boolean {
  return w.orgs[org].type === 'university' && w.orgs[org].founded <= p.birthYear + 17;
}
export function chairYears(w: World, p: Person, org: number): [number, number] | null {
  const lo = Math.max(p.birthYear + 28, w.orgs[org].founded + 1);
  const hi = Math.min(p.birthYear + 75, LATEST_YEAR);
  return lo <= hi ? [lo, hi] : null;
}
export function awardYears(w: World, p: Person, award: number): [number, number] | null {
  const lo = Math.max(p.birthYear + 22, w.awards[award].established + 1);
  const hi = Math.min(p.birthYear + 85, LATEST_YEAR);
  return lo <= hi ? [lo, hi] : null;
}
export function eventOk(w: World, p: Person, event: number): boolean {
  const age = w.events[event].year - p.birthYear;
  return age >= 18 && age <= 80;
}

/** True when every dated fact of the person fits their lifetime and the entities' founding dates. */
export function personSane(w: World, p: Person): boolean {
  if (!cityOk(w, p, p.birthCity) || !universityOk(w, p, p.university)) return false;
  if (p.chair) {
    const r = chairYears(w, p, p.chair.org);
    if (!r || p.chair.year < r[0] || p.chair.year > r[1] || w.orgs[p.chair.org].type === 'university') return false;
  }
  if (p.award) {
    const r = awardYears(w, p, p.award.award);
    if (!r || p.award.year < r[0] || p.award.year > r[1]) return false;
  }
  return p.events.every((e) => eventOk(w, p, e));
}

export function buildWorld(rng: Rng, numDocs: number): World {
  const comp = worldComposition(numDocs);
  const usedNames = new Set<string>();

  const countries = rng.sample(COUNTRIES, Math.min(COUNTRIES.length, Math.max(2, Math.round(comp.cities / 8))));

  const cities: City[] = [];
  for (let i = 0; i < comp.cities; i++) {
    const name = uniqueName(
      usedNames,
      () => {
        const base = rng.pick(CITY_HEADS) + rng.pick(CITY_TAILS);
        return rng.chance(0.25) ? `${rng.pick(CITY_PREFIXES)} ${base}` : base;
      },
      (k) => `${rng.pick(CITY_HEADS)}${rng.pick(CITY_TAILS)} ${['Minor', 'Major', 'Cross', 'Reach', 'Vale', 'Point'][k % 6]}`,
    );
    // Kinds cycle first so even tiny worlds have several kinds, then are random.
    const kind = i < CITY_KINDS.length ? CITY_KINDS[i] : rng.pick(CITY_KINDS);
    cities.push({ name, country: countries[i % countries.length], kind, founded: rng.range(1150, 1880) });
  }
  // Shuffle so that the country/kind cycling above does not correlate with list position.
  rng.shuffle(cities);

  const orgs: Org[] = [];
  const universities = Math.max(2, Math.round(comp.orgs * 0.25));
  for (let i = 0; i < comp.orgs; i++) {
    const type: OrgType = i < universities ? 'university' : ORG_TYPES[1 + rng.int(ORG_TYPES.length - 1)];
    let hq = rng.int(cities.length);
    const name = uniqueName(
      usedNames,
      () => {
        if (rng.chance(0.5)) {
          // Named after its home city: the headquarters is then that city, as a reader would expect.
          hq = rng.int(cities.length);
          return type === 'university' ? `University of ${cities[hq].name}` : `${cities[hq].name} ${rng.pick(ORG_NOUNS[type])}`;
        }
        return `${rng.pick(ORG_STEMS)} ${rng.pick(ORG_NOUNS[type])}`;
      },
      (k) => `${rng.pick(ORG_STEMS)} ${rng.pick(ORG_NOUNS[type])} No. ${k}`,
    );
    // Universities are old (people of every generation need one to have studied at).
    const founded = type === 'university' ? rng.range(1300, 1880) : rng.range(1600, 1990);
    orgs.push({ name, type, founded, hq });
  }

  const awards: Award[] = [];
  const nonUniversity = orgs.map((o, i) => (o.type === 'university' ? -1 : i)).filter((i) => i >= 0);
  for (let i = 0; i < comp.awards; i++) {
    const name = uniqueName(
      usedNames,
      () => `${rng.chance(0.5) ? rng.pick(SURNAMES) : rng.pick(ORG_STEMS)} ${rng.pick(AWARD_NOUNS)}`,
      (k) => `${rng.pick(SURNAMES)} ${rng.pick(AWARD_NOUNS)} ${['of Merit', 'of Honour', 'for Service'][k % 3]}`,
    );
    const org = rng.pick(nonUniversity);
    awards.push({ name, org, established: Math.max(orgs[org].founded + 1, rng.range(1850, 1990)) });
  }

  const events: WorldEvent[] = [];
  for (let i = 0; i < comp.events; i++) {
    const type = i < EVENT_TYPES.length ? EVENT_TYPES[i] : rng.pick(EVENT_TYPES);
    let city = rng.int(cities.length);
    const name = uniqueName(
      usedNames,
      () => {
        city = rng.int(cities.length);
        return `${cities[city].name} ${rng.pick(EVENT_THEMES)} ${EVENT_NOUNS[type]}`;
      },
      (k) => `${cities[city].name} ${rng.pick(EVENT_THEMES)} ${EVENT_NOUNS[type]} ${['Two', 'Three', 'Four', 'Five'][k % 4]}`,
    );
    const organiser = rng.pick(nonUniversity);
    const year = rng.range(Math.max(1930, orgs[organiser].founded + 1), LATEST_YEAR);
    events.push({ name, type, year, city, organiser });
  }

  const usedPeople = new Set<string>();
  const surname = (): string => (rng.chance(0.7) ? rng.pick(SURNAMES) : rng.pick(SURNAME_HEADS) + rng.pick(SURNAME_TAILS));
  const universityIdx = orgs.map((o, i) => (o.type === 'university' ? i : -1)).filter((i) => i >= 0);
  const people: Person[] = [];
  for (let i = 0; i < comp.people; i++) {
    const pronoun = rng.chance(0.5) ? 'she' : 'he';
    const names = pronoun === 'she' ? FEMALE : MALE;
    let first = '';
    let last = '';
    uniqueName(
      usedPeople,
      () => {
        first = rng.pick(names);
        last = surname();
        return `${first} ${last}`;
      },
      (k) => {
        first = rng.pick(names);
        last = `${surname()}-${surname()}${k > 50 ? k : ''}`;
        return `${first} ${last}`;
      },
    );
    const middle = rng.chance(0.35) ? rng.pick(names.filter((n) => n !== first)) : null;
    const birthYear = rng.range(1900, 1985);
    const p: Person = {
      first, middle, last, pronoun, birthYear,
      birthCity: 0, profession: rng.pick(PROFESSIONS), university: universityIdx[0], chair: null, award: null, events: [],
    };
    const okCities = cities.map((_, c) => c).filter((c) => cityOk({ cities } as World, p, c));
    p.birthCity = okCities.length > 0 ? rng.pick(okCities) : cities.reduce((best, c, idx) => (c.founded < cities[best].founded ? idx : best), 0);
    const okUnis = universityIdx.filter((u) => orgs[u].founded <= birthYear + 17);
    p.university = okUnis.length > 0 ? rng.pick(okUnis) : universityIdx.reduce((best, u) => (orgs[u].founded < orgs[best].founded ? u : best));
    const w = { countries, cities, orgs, awards, events, people } as World;
    if (rng.chance(0.45)) {
      const org = rng.pick(nonUniversity);
      const r = chairYears(w, p, org);
      if (r) p.chair = { org, year: rng.range(r[0], r[1]) };
    }
    if (rng.chance(0.35)) {
      const award = rng.int(awards.length);
      const r = awardYears(w, p, award);
      if (r) p.award = { award, year: rng.range(r[0], r[1]) };
    }
    people.push(p);
  }

  // Participants: 2–6 per event among people of a plausible age (the world's sanity rules hold by construction).
  const world: World = { countries, cities, orgs, awards, events, people };
  events.forEach((_, e) => {
    const eligible = people.map((_, i) => i).filter((i) => eventOk(world, people[i], e));
    for (const i of rng.sample(eligible, rng.range(2, 6))) people[i].events.push(e);
  });
  for (const p of people) p.events.sort((a, b) => a - b);
  // Universities may be too young for the oldest people in tiny worlds: such people are re-dated, never left insane.
  for (const p of people) {
    if (!personSane(world, p)) {
      p.chair = p.chair && chairYears(world, p, p.chair.org) ? p.chair : null;
      p.award = p.award && awardYears(world, p, p.award.award) ? p.award : null;
      p.events = p.events.filter((e) => eventOk(world, p, e));
    }
  }
  return world;
}
