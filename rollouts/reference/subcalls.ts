/**
 * The sub-call side of the reference policy: the prompt formats its REPL programs send through `llm_query` /
 * `llm_query_batched`, and the answers a competent sub-model would give to them.
 *
 * Formats (the first line identifies the prompt; the generated programs build exactly these):
 *   classify  "Classify each numbered question into one of: abbreviation, entity, description, human, location, numeric.
 *              Reply with one line per question: <number>: <label>"
 *              + the category definitions + "Questions:" + lines "<n>. <instance text>"
 *              → "<n>: <label>" per question. The sub-model is a simulated LLM whose knowledge is the generator's
 *              instance bank (tasks/oolong-bank.ts): it finds each instance in the prompt text and recognises what it
 *              asks for, as a language model reading it would. It sees nothing else — not the task, its gold answer or
 *              the rest of the context — and it does no aggregation. A sentence it does not know gets a reader's guess.
 *              Record lines ("… || Instance: <text>") anywhere in a prompt are labelled the same way, in order.
 *   needle    "Find the sentence \"The special magic <noun> for <key> is <value>.\" in the text below. Reply with the value
 *              only, or NONE if the text has no such sentence." + "Text:" + chunk
 *              → the value, or NONE
 *   answer    "Answer the question using only the text below. Reply with the answer only, or NONE if the text does not
 *              contain it." + "Question: …" + "Text:" + chunk
 *              → a needle value if the question is a needle question and the text has it, else NONE
 *   read      READ_HEADER + READ_FIELDS + "Documents:" + blocks "=== <doc id> | <title> ===\n<text>"
 *              → one block per document: "## <doc id>", "kind: …", then "<field>: <value>" lines for what the document
 *              states as fact (browsecomp). The simulated reader's knowledge is the generator's phrasing bank
 *              (tasks/browsecomp-bank.ts): it recognises each sentence of the documents in its prompt and what it means —
 *              near misses ("applied to … but never enrolled", "had been invited but did not attend") state no fact,
 *              relative years are worked out within the document. It sees only the prompt: not the task, the question's
 *              answer or any other document, so a year stated relative to another document's entity is reported as
 *              relative ("12 years after the presenter's founding"). With accuracy < 1 it errs like a weaker reader:
 *              it takes a near miss for the fact, or misses the fact.
 * Anything else gets a short deterministic reply (UNKNOWN_SUB_REPLY).
 */
import { OOLONG_LABELS, OOLONG_LABEL_DEFINITIONS, oolongBankLabel, readBrowsecompDoc, type BrowsecompDocReading } from '../../tasks/index.ts';
import { heuristicLabel } from '../baseline/classifier.ts';

export const CLASSIFY_HEADER =
  `Classify each numbered question into one of: ${OOLONG_LABELS.join(', ')}. ` +
  'Reply with one line per question: <number>: <label>';

/** The definitions block that follows the classify header (shown to the sub-model so a real model knows the taxonomy). */
export const CLASSIFY_DEFINITIONS = OOLONG_LABELS.map((l) => `- ${l}: ${OOLONG_LABEL_DEFINITIONS[l]}`).join('\n');

export const NEEDLE_HEADER_PREFIX = 'Find the sentence "The special magic ';
export const ANSWER_HEADER = 'Answer the question using only the text below. Reply with the answer only, or NONE if the text does not contain it.';
export const UNKNOWN_SUB_REPLY = "I don't know.";

export const READ_HEADER =
  'Read each document below and report what it states as fact about its subject. Leave out what a document denies, ' +
  'retracts or corrects, and what it reports only as applied for, offered, invited, nominated, planned, rumoured or about someone else.';
/** The reply format of a read prompt (the generated programs parse exactly these field names). */
export const READ_FIELDS =
  'Reply with one block per document: a line "## <document id>", a line "kind: person|city|organisation|award|event", then one ' +
  'line "<field>: <value>" per fact the document states, with these fields —\n' +
  '- person: name, born (year), birthplace, profession, studied at, chaired (organisation; year), award (name; year)\n' +
  '- city: name, type, country, founded (year)\n' +
  '- organisation: name, type, based in, founded (year)\n' +
  '- award: name, presented by, established (a year, or "N years after the presenter\'s founding")\n' +
  '- event: name, type, organiser, held in, year, participants (names separated by "; ")\n' +
  'Write names exactly as in the document, years as four digits. Leave out a field the document does not state.';

/** The whole read prompt for some documents — the generated programs build the same string. */
export function readPrompt(docs: readonly { id: string; title: string; text: string }[]): string {
  return `${READ_HEADER}\n${READ_FIELDS}\n\nDocuments:\n\n${docs.map((d) => `=== ${d.id} | ${d.title} ===\n${d.text}`).join('\n\n')}`;
}

/** The whole classify prompt for some instance texts (numbered from 1) — the generated JS builds the same string. */
export function classifyPrompt(instances: readonly string[]): string {
  return `${CLASSIFY_HEADER}\n\nCategories:\n${CLASSIFY_DEFINITIONS}\n\nQuestions:\n${instances.map((s, i) => `${i + 1}. ${s}`).join('\n')}`;
}

/** How reliable the simulated sub-model is (bench `sub_call_necessity` draws its curve with accuracy < 1). */
export interface SubModelOptions {
  /** Probability that one instance is labelled correctly (default 1). Errors are deterministic per (salt, prompt, line). */
  accuracy?: number;
  /** Varies which instances are wrong (e.g. the episode seed). */
  salt?: string;
}

/** Answers one sub-call prompt (a single user message). Never throws. */
export function answerSubPrompt(prompt: string, options: SubModelOptions = {}): string {
  const p = prompt.replace(/\r\n/g, '\n');
  const head = p.trimStart();
  if (head.startsWith('Classify each numbered question')) return answerClassify(p, options);
  if (head.startsWith(NEEDLE_HEADER_PREFIX)) return answerNeedle(p);
  if (head.startsWith(ANSWER_HEADER)) return answerQuestion(p);
  if (head.startsWith(READ_HEADER.slice(0, 40))) return answerRead(p, options);
  if (/ \|\| Instance: /.test(p)) return answerRecordLines(p, options);
  return UNKNOWN_SUB_REPLY;
}

function answerClassify(p: string, o: SubModelOptions): string {
  const at = p.indexOf('\nQuestions:\n');
  const body = at === -1 ? p : p.slice(at + '\nQuestions:\n'.length);
  const out: string[] = [];
  const re = /^\s*(\d+)[.)]\s+(.*?)\s*$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) out.push(`${m[1]}: ${readLabel(m[2], `${m[1]}|${p.length}`, o)}`);
  return out.length > 0 ? out.join('\n') : 'NONE';
}

/** Record lines pasted as they are: one "<k>: <label>" per record line, numbered from 1 in prompt order. */
function answerRecordLines(p: string, o: SubModelOptions): string {
  const out: string[] = [];
  const re = / \|\| Instance: (.*?)\s*$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p)) !== null) out.push(`${out.length + 1}: ${readLabel(m[1], `${out.length + 1}|${p.length}`, o)}`);
  return out.join('\n');
}

/**
 * What the simulated LLM says one instance asks for: the bank's label (it "understands" every sentence the generator
 * can write); an unknown sentence gets a reader's best guess. With accuracy < 1, a deterministic share of instances
 * comes back with another label, like a weaker model's mistakes.
 */
function readLabel(sentence: string, where: string, o: SubModelOptions): string {
  const known = oolongBankLabel(sentence);
  const label = known ?? OOLONG_LABELS[heuristicLabel(sentence) - 1];
  const accuracy = o.accuracy ?? 1;
  if (accuracy >= 1) return label;
  const h = fnv1a(`${o.salt ?? ''}|${where}|${sentence}`);
  if ((h % 1_000_000) / 1_000_000 < accuracy) return label;
  // A weaker reader's mistakes are systematic, not uniform noise: it falls for the surface form (the wording heuristic's
  // answer) or, when the surface form happens to be right, for the neighbouring category.
  const surface = OOLONG_LABELS[heuristicLabel(sentence) - 1];
  if (surface !== label) return surface;
  return OOLONG_LABELS[(OOLONG_LABELS.indexOf(label) + 1 + ((h >>> 20) % 2)) % OOLONG_LABELS.length];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function findNeedle(text: string, noun: string | null, key: string): string | null {
  const re = new RegExp(`The special magic ${noun ? escapeRe(noun) : '\\w+'} for ${escapeRe(key)} is (\\S+?)\\.(?=\\s|$)`);
  const m = re.exec(text);
  return m ? m[1] : null;
}

function answerNeedle(p: string): string {
  const h = /^\s*Find the sentence "The special magic (\w+) for (\S+) is <value>\."/.exec(p);
  if (!h) return 'NONE';
  const at = p.indexOf('\nText:\n');
  const text = at === -1 ? p.slice(h[0].length) : p.slice(at + '\nText:\n'.length);
  return findNeedle(text, h[1], h[2]) ?? 'NONE';
}

function answerQuestion(p: string): string {
  const q = /\nQuestion: (.*)\n/.exec(p);
  const at = p.indexOf('\nText:\n');
  if (!q || at === -1) return 'NONE';
  const text = p.slice(at + '\nText:\n'.length);
  const sn = /special magic (\w+) for (\S+?)\?/.exec(q[1]);
  if (sn) return findNeedle(text, sn[1], sn[2]) ?? 'NONE';
  return 'NONE';
}

// ---------------------------------------------------------------------------------------------------------------
// read (browsecomp): what each document in the prompt states

const DOC_HEAD = /^=== (\S+) \| (.*) ===$/gm;

function answerRead(p: string, o: SubModelOptions): string {
  const at = p.indexOf('\nDocuments:\n');
  const body = at === -1 ? p : p.slice(at);
  const heads = [...body.matchAll(DOC_HEAD)];
  if (heads.length === 0) return 'NONE';
  const blocks: string[] = [];
  heads.forEach((h, i) => {
    const start = (h.index ?? 0) + h[0].length + 1;
    const end = i + 1 < heads.length ? (heads[i + 1].index ?? body.length) : body.length;
    const text = body.slice(start, end).replace(/\s+$/, '');
    // Mistakes depend on the document and on the prompt it came in (as oolong's depend on the chunk): the same document
    // read again in another batch can come back right.
    blocks.push(readingBlock(`${h[1]}@${p.length}`, h[1], readBrowsecompDoc(text), o));
  });
  return blocks.join('\n\n');
}

/** A field is read right with probability `accuracy` (deterministic per salt, document, prompt and field). */
function readsRight(o: SubModelOptions, id: string, field: string): boolean {
  const accuracy = o.accuracy ?? 1;
  if (accuracy >= 1) return true;
  return (fnv1a(`${o.salt ?? ''}|${id}|${field}`) % 1_000_000) / 1_000_000 < accuracy;
}

/** One document's block. A weaker reader's mistake on a field: it takes a near miss for the fact, else drops the fact. */
function readingBlock(where: string, docId: string, r: BrowsecompDocReading, o: SubModelOptions): string {
  const id = where;
  const lines = [`## ${docId}`, `kind: ${r.kind === 'unknown' ? 'unknown' : r.kind}`];
  const missOf = (slot: string): string | null => r.nearMisses.find((m) => m.slot === slot)?.value ?? null;
  const field = (name: string, value: string | number | undefined, slot?: string): void => {
    if (value === undefined) return;
    if (!readsRight(o, id, name)) {
      const wrong = slot ? missOf(slot) : null;
      if (wrong !== null) lines.push(`${name}: ${wrong.replace('|', '; ')}`);
      return;
    }
    lines.push(`${name}: ${value}`);
  };
  field('name', r.name);
  switch (r.kind) {
    case 'person':
      field('born', r.birthYear, 'birthYear');
      field('birthplace', r.birthCity, 'birthCity');
      field('profession', r.profession, 'profession');
      field('studied at', r.university, 'university');
      field('chaired', r.chair ? `${r.chair.org}; ${r.chair.year}` : undefined, 'chair');
      field('award', r.award ? `${r.award.name}; ${r.award.year}` : undefined, 'award');
      // A near miss read as a fact where the document states none of that kind.
      for (const [name, slot, has] of [['chaired', 'chair', r.chair], ['award', 'award', r.award]] as const) {
        const m = missOf(slot);
        if (!has && m !== null && !readsRight(o, id, `${name}:miss`)) lines.push(`${name}: ${m.replace('|', '; ')}`);
      }
      break;
    case 'city':
      field('type', r.cityKind);
      field('country', r.country);
      field('founded', r.founded);
      break;
    case 'organisation':
      field('type', r.orgType);
      field('based in', r.hq);
      field('founded', r.founded);
      break;
    case 'award':
      field('presented by', r.presenter);
      field('established', r.established ?? (r.establishedAfterFounding !== undefined ? `${r.establishedAfterFounding} years after the presenter's founding` : undefined));
      break;
    case 'event': {
      field('type', r.eventType);
      field('organiser', r.organiser);
      field('held in', r.city);
      field('year', r.year);
      const names = [...(r.participants ?? [])];
      if (!readsRight(o, id, 'participants')) {
        const absent = r.nearMisses.find((m) => m.slot === 'participant');
        if (absent) names.push(absent.value);
        else names.pop();
      }
      if (names.length > 0) lines.push(`participants: ${names.join('; ')}`);
      break;
    }
    default:
      break;
  }
  return lines.join('\n');
}
