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
 * Anything else gets a short deterministic reply (UNKNOWN_SUB_REPLY).
 */
import { OOLONG_LABELS, OOLONG_LABEL_DEFINITIONS, oolongBankLabel } from '../../tasks/index.ts';
import { heuristicLabel } from '../baseline/classifier.ts';

export const CLASSIFY_HEADER =
  `Classify each numbered question into one of: ${OOLONG_LABELS.join(', ')}. ` +
  'Reply with one line per question: <number>: <label>';

/** The definitions block that follows the classify header (shown to the sub-model so a real model knows the taxonomy). */
export const CLASSIFY_DEFINITIONS = OOLONG_LABELS.map((l) => `- ${l}: ${OOLONG_LABEL_DEFINITIONS[l]}`).join('\n');

export const NEEDLE_HEADER_PREFIX = 'Find the sentence "The special magic ';
export const ANSWER_HEADER = 'Answer the question using only the text below. Reply with the answer only, or NONE if the text does not contain it.';
export const UNKNOWN_SUB_REPLY = "I don't know.";

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
