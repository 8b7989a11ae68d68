/**
 * OOLONG-Pairs, built the paper's way (arXiv 2512.24601, appendix D.1): 20 tasks per OOLONG-synth trec_coarse context
 * window, whose gold pairs are computed from the window's `context_window_text_with_labels` (lines
 * "Date: <Mon DD, YYYY> || User: <id> || Instance: <question> || Label: <label>"), while the model is given the
 * unlabelled `context_window_text`. Score: F1 over the set of unordered user-id pairs.
 *
 * The 20 conditions (labels: description and abstract concept, entity, human being, numeric value, location,
 * abbreviation):
 *   1–10  symmetric: both users have ≥ 1 instance of X or Y (some also: every instance of one label, for both users,
 *         is after / before a date — vacuously true for a user without such instances)
 *   11–20 asymmetric: one user meets role A and the other role B (in either order), each role a conjunction of
 *         "at least k" / "exactly k" instance counts
 * The question states these conventions so that a careful reader cannot read two answers into it.
 */
import type { FileTaskRow } from '../file-tasks.ts';
import { ConvertError, type InputRow, isString, need } from './input.ts';
import type { ConvertOptions } from './oolong.ts';

export const TREC_LABELS = ['description and abstract concept', 'entity', 'human being', 'numeric value', 'location', 'abbreviation'] as const;
export type TrecLabel = (typeof TREC_LABELS)[number];

interface Count {
  label: TrecLabel;
  op: 'atLeast' | 'exactly';
  n: number;
}
interface DateRule {
  label: TrecLabel;
  rel: 'after' | 'before';
  /** YYYY-MM-DD */
  date: string;
}
export type PairSpec =
  | { task: number; kind: 'symmetric'; anyOf: [TrecLabel, TrecLabel]; dates: DateRule[] }
  | { task: number; kind: 'asymmetric'; a: Count[]; b: Count[] };

const ge = (label: TrecLabel, n = 1): Count => ({ label, op: 'atLeast', n });
const eq = (label: TrecLabel, n = 1): Count => ({ label, op: 'exactly', n });
const D = 'description and abstract concept';
const E = 'entity';
const H = 'human being';
const N = 'numeric value';
const L = 'location';
const A = 'abbreviation';

/** The paper's 20 OOLONG-Pairs conditions. */
export const OOLONG_PAIRS_TASKS: readonly PairSpec[] = [
  { task: 1, kind: 'symmetric', anyOf: [N, L], dates: [] },
  { task: 2, kind: 'symmetric', anyOf: [E, H], dates: [] },
  { task: 3, kind: 'symmetric', anyOf: [D, A], dates: [] },
  { task: 4, kind: 'symmetric', anyOf: [H, L], dates: [{ label: H, rel: 'after', date: '2023-01-06' }] },
  { task: 5, kind: 'symmetric', anyOf: [E, N], dates: [{ label: E, rel: 'before', date: '2023-03-15' }] },
  { task: 6, kind: 'symmetric', anyOf: [L, A], dates: [] },
  { task: 7, kind: 'symmetric', anyOf: [D, N], dates: [{ label: N, rel: 'after', date: '2023-02-01' }] },
  { task: 8, kind: 'symmetric', anyOf: [H, D], dates: [] },
  { task: 9, kind: 'symmetric', anyOf: [E, L], dates: [{ label: L, rel: 'after', date: '2023-04-10' }] },
  { task: 10, kind: 'symmetric', anyOf: [N, A], dates: [{ label: A, rel: 'before', date: '2023-05-20' }] },
  { task: 11, kind: 'asymmetric', a: [ge(E), ge(A)], b: [eq(E)] },
  { task: 12, kind: 'asymmetric', a: [ge(N, 2)], b: [ge(L), ge(H)] },
  { task: 13, kind: 'asymmetric', a: [eq(D)], b: [ge(A), ge(E)] },
  { task: 14, kind: 'asymmetric', a: [ge(H), ge(N)], b: [eq(L, 2)] },
  { task: 15, kind: 'asymmetric', a: [ge(E), ge(L), ge(A)], b: [eq(N)] },
  { task: 16, kind: 'asymmetric', a: [ge(D), ge(H)], b: [ge(E, 2), eq(A)] },
  { task: 17, kind: 'asymmetric', a: [eq(N)], b: [ge(L), ge(D)] },
  { task: 18, kind: 'asymmetric', a: [ge(A), eq(H)], b: [ge(E), ge(N)] },
  { task: 19, kind: 'asymmetric', a: [ge(L, 2), ge(E)], b: [eq(D), eq(A)] },
  { task: 20, kind: 'asymmetric', a: [ge(N), ge(H)], b: [ge(L), ge(E), eq(A)] },
];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

interface Instance {
  label: TrecLabel;
  date: string;
}

/** Parses the labelled lines into per-user instances (users in first-seen order). */
export function parseLabelledContext(text: string, where: string): Map<number, Instance[]> {
  const users = new Map<number, Instance[]>();
  const re = /^Date: ([A-Z][a-z]{2}) (\d{1,2}), (\d{4}) \|\| User: (\d+) \|\| Instance: .*? \|\| Label: (.+?)\s*$/;
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('Date:')) continue;
    const m = re.exec(line);
    if (!m) throw new ConvertError(`${where}: a labelled line does not parse: ${line.slice(0, 120)}`);
    const label = m[5].toLowerCase() as TrecLabel;
    if (!TREC_LABELS.includes(label)) throw new ConvertError(`${where}: unknown trec_coarse label '${m[5]}' (labels: ${TREC_LABELS.join(', ')})`);
    const month = MONTHS.indexOf(m[1]) + 1;
    if (month === 0) throw new ConvertError(`${where}: bad month '${m[1]}' in ${line.slice(0, 80)}`);
    const date = `${m[3]}-${String(month).padStart(2, '0')}-${m[2].padStart(2, '0')}`;
    const u = Number(m[4]);
    if (!users.has(u)) users.set(u, []);
    users.get(u)!.push({ label, date });
    n++;
  }
  if (n === 0) throw new ConvertError(`${where}: context_window_text_with_labels has no labelled record lines`);
  return users;
}

const count = (xs: Instance[], l: TrecLabel): number => xs.filter((x) => x.label === l).length;
const meets = (xs: Instance[], cs: Count[]): boolean => cs.every((c) => (c.op === 'exactly' ? count(xs, c.label) === c.n : count(xs, c.label) >= c.n));

function symmetricOk(xs: Instance[], s: Extract<PairSpec, { kind: 'symmetric' }>): boolean {
  if (count(xs, s.anyOf[0]) === 0 && count(xs, s.anyOf[1]) === 0) return false;
  return s.dates.every((d) => xs.filter((x) => x.label === d.label).every((x) => (d.rel === 'after' ? x.date > d.date : x.date < d.date)));
}

/** Gold pairs of one task over the parsed users: [low, high], sorted. */
export function goldPairs(users: Map<number, Instance[]>, spec: PairSpec): [number, number][] {
  const ids = [...users.keys()].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const x = users.get(ids[i])!;
      const y = users.get(ids[j])!;
      const ok =
        spec.kind === 'symmetric'
          ? symmetricOk(x, spec) && symmetricOk(y, spec)
          : (meets(x, spec.a) && meets(y, spec.b)) || (meets(y, spec.a) && meets(x, spec.b));
      if (ok) out.push([ids[i], ids[j]]);
    }
  }
  return out;
}

const human = (iso: string): string => {
  const [y, m, d] = iso.split('-').map(Number);
  return `${LONG_MONTHS[m - 1]} ${d}, ${y}`;
};
const article = (l: TrecLabel): string => (/^[aeiou]/.test(l) ? 'an' : 'a');
const countText = (c: Count): string =>
  `${c.op === 'exactly' ? 'exactly' : 'at least'} ${c.n === 1 ? 'one instance' : `${c.n === 2 ? 'two' : c.n} instances`} with ${c.label}`;
const list = (xs: string[]): string => (xs.length <= 2 ? xs.join(' and ') : `${xs.slice(0, -1).join(', ')}, and ${xs[xs.length - 1]}`);

export function pairQuestion(spec: PairSpec): string {
  let condition: string;
  if (spec.kind === 'symmetric') {
    condition = `where both users have at least one instance with ${article(spec.anyOf[0])} ${spec.anyOf[0]} or ${spec.anyOf[1]}`;
    for (const d of spec.dates) {
      condition += `, and all instances that are ${article(d.label)} ${d.label} for both users must be ${d.rel} ${human(d.date)} (a user with no such instance meets this)`;
    }
  } else {
    condition = `such that one user has ${list(spec.a.map(countText))}, and the other user has ${list(spec.b.map(countText))} (in either order)`;
  }
  return (
    `In the above data, list all pairs of user IDs (no duplicate pairs, list lower ID first) ${condition}. ` +
    'Each of the questions can be labelled as one of the labels (the data does not provide the labels, you need to figure ' +
    `out the label from the semantics of the question): ${TREC_LABELS.join(', ')}. Every record counts, including repeated ` +
    'questions. In your answer, list all pairs in the format (user_id_1, user_id_2), separated by newlines.'
  );
}

/** One task per (trec_coarse context window, condition): rows of oolong-synth with their labelled text. */
export function convertOolongPairs(rows: InputRow[], o: ConvertOptions = {}): FileTaskRow[] {
  const dataset = o.dataset ?? 'trec_coarse';
  const windows = new Map<string, InputRow>();
  for (const r of rows) {
    if (r.value.dataset !== dataset) continue;
    if (o.maxContextLen != null && typeof r.value.context_len === 'number' && r.value.context_len > o.maxContextLen) continue;
    const key = `${String(r.value.context_window_id)}|${String(r.value.context_len)}`;
    if (!windows.has(key)) windows.set(key, r);
  }
  if (windows.size === 0) throw new ConvertError(`no oolong-synth rows of dataset '${dataset}' in the input (OOLONG-Pairs is built on trec_coarse, which is in the validation split)`);
  const out: FileTaskRow[] = [];
  for (const r of windows.values()) {
    const labelled = need(r, 'context_window_text_with_labels', isString, 'the labelled context text');
    const context = need(r, 'context_window_text', isString, 'the unlabelled context text');
    const users = parseLabelledContext(labelled, `${r.file} row ${r.row}`);
    for (const spec of OOLONG_PAIRS_TASKS) {
      const pairs = goldPairs(users, spec);
      out.push({
        id: `oolong-pairs-${String(r.value.context_window_id)}-${String(r.value.context_len)}-t${spec.task}`,
        question: pairQuestion(spec),
        context,
        answer: pairs,
        scorer: 'f1_pairs',
        aliases: [],
        meta: { source: 'oolong-pairs (built from oolong-synth)', task: spec.task, context_len: r.value.context_len ?? null, context_window_id: r.value.context_window_id ?? null, users: users.size, pairs: pairs.length },
      });
    }
  }
  return out;
}
