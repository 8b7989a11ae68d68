/**
 * Reading the question, as the reference policy's "model" does: which task family it belongs to and the parameters
 * the solving program needs (needle key, query kind and labels, pair condition, browsecomp constraints).
 * Pure string parsing of the question text — never the task object — so the policy works over HTTP exactly as it does
 * in process, and an unfamiliar question simply comes back as `{ family: 'unknown' }`.
 */
import { OOLONG_LABELS, type OolongLabel } from '../../tasks/index.ts';

export interface SniahQuestion {
  family: 'sniah';
  /** number | uuid | word (the noun of "the special magic <noun>"). */
  noun: string;
  key: string;
}

export type OolongQuery =
  | { kind: 'count'; label: OolongLabel }
  | { kind: 'most_frequent' | 'least_frequent' }
  | { kind: 'compare'; a: OolongLabel; b: OolongLabel }
  | { kind: 'count_users'; label: OolongLabel; users: number[] }
  | { kind: 'count_dates'; label: OolongLabel; from: string; to: string };

export interface OolongQuestion {
  family: 'oolong';
  query: OolongQuery;
}

export type PairConditionSpec =
  | { kind: 'both'; a: OolongLabel }
  | { kind: 'atLeast'; a: OolongLabel; m: number }
  | { kind: 'bothAll' | 'bothOneHas' | 'cross' | 'bothNot' | 'exactlyOne'; a: OolongLabel; b: OolongLabel };

export interface PairsQuestion {
  family: 'oolong-pairs';
  condition: PairConditionSpec;
}

/** One numbered browsecomp constraint, normalised to a kind + parameters the solving program understands. */
export type BrowseConstraint =
  | { kind: 'birthKind'; cityKind: string }
  | { kind: 'birthFounded'; op: 'before' | 'after'; year: number }
  | { kind: 'birthCountry'; country: string }
  | { kind: 'birthDecade'; decade: number }
  | { kind: 'profession'; profession: string }
  | { kind: 'eduCity'; city: string }
  | { kind: 'eduFounded'; year: number }
  | { kind: 'chairType'; orgType: string }
  | { kind: 'chairCity'; city: string }
  | { kind: 'chairYear'; op: 'from' | 'before'; year: number }
  | { kind: 'awardOrgType'; orgType: string }
  | { kind: 'awardEstablished'; year: number }
  | { kind: 'eventType'; eventType: string }
  | { kind: 'eventCity'; city: string }
  | { kind: 'eventDecade'; decade: number }
  | { kind: 'eventOrgType'; orgType: string }
  | { kind: 'unknown'; text: string };

export interface BrowseQuestion {
  family: 'browsecomp';
  constraints: BrowseConstraint[];
}

export interface UnknownQuestion {
  family: 'unknown';
  question: string;
}

export type ParsedQuestion = SniahQuestion | OolongQuestion | PairsQuestion | BrowseQuestion | UnknownQuestion;

const LABEL = `'(${OOLONG_LABELS.join('|')})'`;
const lab = (s: string): OolongLabel => s as OolongLabel;

export function parseQuestion(question: string): ParsedQuestion {
  const q = question.replace(/\r\n/g, '\n');

  const sn = /What is the special magic (\w+) for (\S+?)\?/.exec(q);
  if (sn) return { family: 'sniah', noun: sn[1], key: sn[2] };

  if (/List every pair of distinct user IDs such that/i.test(q)) {
    const condition = parsePairCondition(q);
    if (condition) return { family: 'oolong-pairs', condition };
  }

  if (/one record per line/i.test(q) || /in the category '/.test(q)) {
    const query = parseOolongQuery(q);
    if (query) return { family: 'oolong', query };
  }

  if (/exactly one satisfies all of the following conditions/i.test(q)) {
    const constraints: BrowseConstraint[] = [];
    for (const line of q.split('\n')) {
      const m = /^\s*\d+\.\s+(.+?)\s*$/.exec(line);
      if (m) constraints.push(parseConstraint(m[1]));
    }
    if (constraints.length > 0) return { family: 'browsecomp', constraints };
  }
  return { family: 'unknown', question: q };
}

function parseOolongQuery(q: string): OolongQuery | null {
  let m = new RegExp(`How many records in the context have an instance in the category ${LABEL}`).exec(q);
  if (m) return { kind: 'count', label: lab(m[1]) };
  m = /which category has the (most|least) instances/.exec(q);
  if (m) return { kind: m[1] === 'most' ? 'most_frequent' : 'least_frequent' };
  m = new RegExp(`is the category ${LABEL} more common, less common, or the same frequency as the category ${LABEL}`).exec(q);
  if (m) return { kind: 'compare', a: lab(m[1]), b: lab(m[2]) };
  m = new RegExp(`How many records of the users ([\\d ,and]+?) \\(taken together\\) have an instance in the category ${LABEL}`).exec(q);
  if (m) {
    const users = (m[1].match(/\d+/g) ?? []).map(Number);
    return { kind: 'count_users', label: lab(m[2]), users };
  }
  m = new RegExp(
    `How many records dated from (\\w{3} \\d{1,2}, \\d{4}) to (\\w{3} \\d{1,2}, \\d{4}) \\(both dates inclusive\\) have an instance in the category ${LABEL}`,
  ).exec(q);
  if (m) return { kind: 'count_dates', from: m[1], to: m[2], label: lab(m[3]) };
  return null;
}

function parsePairCondition(q: string): PairConditionSpec | null {
  const L = LABEL;
  const tries: [RegExp, (m: RegExpExecArray) => PairConditionSpec][] = [
    [new RegExp(`both users have at least one ${L} instance, and at least one of the two users has an? ${L} instance`), (m) => ({ kind: 'bothOneHas', a: lab(m[1]), b: lab(m[2]) })],
    [new RegExp(`both users have at least one ${L} instance, and exactly one of the two users has an? ${L} instance`), (m) => ({ kind: 'exactlyOne', b: lab(m[1]), a: lab(m[2]) })],
    [new RegExp(`both users have at least one ${L} instance and neither user has any ${L} instance`), (m) => ({ kind: 'bothNot', a: lab(m[1]), b: lab(m[2]) })],
    [new RegExp(`both users have at least one ${L} instance and at least one ${L} instance`), (m) => ({ kind: 'bothAll', a: lab(m[1]), b: lab(m[2]) })],
    [new RegExp(`one of the two users has at least one ${L} instance and the other user has at least one ${L} instance`), (m) => ({ kind: 'cross', a: lab(m[1]), b: lab(m[2]) })],
    [new RegExp(`both users have at least (\\d+) instances in the category ${L}`), (m) => ({ kind: 'atLeast', m: Number(m[1]), a: lab(m[2]) })],
    [new RegExp(`both users have at least one instance in the category ${L}`), (m) => ({ kind: 'both', a: lab(m[1]) })],
  ];
  for (const [re, make] of tries) {
    const m = re.exec(q);
    if (m) return make(m);
  }
  return null;
}

const CITY_KINDS = ['port city', 'river town', 'mountain town', 'market town', 'mining town'];

export function parseConstraint(text: string): BrowseConstraint {
  const t = text.trim();
  let m: RegExpExecArray | null;
  if ((m = /^They were born in the (\d{3,4})s\.?$/.exec(t))) return { kind: 'birthDecade', decade: Number(m[1]) };
  if ((m = /^They were born in an? (.+?)\.?$/.exec(t)) && CITY_KINDS.includes(m[1])) return { kind: 'birthKind', cityKind: m[1] };
  if ((m = /^They were born in (.+?)\.?$/.exec(t))) return { kind: 'birthCountry', country: m[1] };
  if ((m = /^Their place of birth was founded (before|after) (\d+)\.?$/.exec(t))) return { kind: 'birthFounded', op: m[1] as 'before' | 'after', year: Number(m[2]) };
  if ((m = /^They worked as an? (.+?)\.?$/.exec(t))) return { kind: 'profession', profession: m[1] };
  if ((m = /^They studied at a university located in (.+?)\.?$/.exec(t))) return { kind: 'eduCity', city: m[1] };
  if ((m = /^They studied at a university founded before (\d+)\.?$/.exec(t))) return { kind: 'eduFounded', year: Number(m[1]) };
  if ((m = /^They chaired an organisation based in (.+?)\.?$/.exec(t))) return { kind: 'chairCity', city: m[1] };
  if ((m = /^They chaired an? (.+?)\.?$/.exec(t))) return { kind: 'chairType', orgType: m[1] };
  if ((m = /^They became chair of an organisation in or after (\d+)\.?$/.exec(t))) return { kind: 'chairYear', op: 'from', year: Number(m[1]) };
  if ((m = /^They became chair of an organisation before (\d+)\.?$/.exec(t))) return { kind: 'chairYear', op: 'before', year: Number(m[1]) };
  if ((m = /^They received an award presented by an? (.+?)\.?$/.exec(t))) return { kind: 'awardOrgType', orgType: m[1] };
  if ((m = /^They received an award that was established before (\d+)\.?$/.exec(t))) return { kind: 'awardEstablished', year: Number(m[1]) };
  if ((m = /^They took part in an event held in the (\d{3,4})s\.?$/.exec(t))) return { kind: 'eventDecade', decade: Number(m[1]) };
  if ((m = /^They took part in an event held in (.+?)\.?$/.exec(t))) return { kind: 'eventCity', city: m[1] };
  if ((m = /^They took part in an event organised by an? (.+?)\.?$/.exec(t))) return { kind: 'eventOrgType', orgType: m[1] };
  if ((m = /^They took part in an? (.+?)\.?$/.exec(t))) return { kind: 'eventType', eventType: m[1] };
  return { kind: 'unknown', text: t };
}
