/**
 * The sub-call side of the reference policy: the prompt formats its REPL programs send through `llm_query` /
 * `llm_query_batched`, and the answers a competent sub-model would give to them.
 *
 * Formats (the first line identifies the prompt; the generated programs build exactly these):
 *   classify  "Classify each numbered question into one of: abbreviation, entity, description, human, location, numeric.
 *              Reply with one line per question: <number>: <label>"
 *              + the category definitions + "Questions:" + lines "<n>. <instance text>"
 *              → "<n>: <label>" per question (the documented label rule, `oolongLabelRule`)
 *   needle    "Find the sentence \"The special magic <noun> for <key> is <value>.\" in the text below. Reply with the value
 *              only, or NONE if the text has no such sentence." + "Text:" + chunk
 *              → the value, or NONE
 *   answer    "Answer the question using only the text below. Reply with the answer only, or NONE if the text does not
 *              contain it." + "Question: …" + "Text:" + chunk
 *              → a needle value if the question is a needle question and the text has it, else NONE
 * Anything else gets a short deterministic reply (UNKNOWN_SUB_REPLY).
 */
import { OOLONG_LABELS, OOLONG_LABEL_DEFINITIONS, oolongLabelRule } from '../../tasks/index.ts';

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

/** Answers one sub-call prompt (a single user message). Never throws. */
export function answerSubPrompt(prompt: string): string {
  const p = prompt.replace(/\r\n/g, '\n');
  const head = p.trimStart();
  if (head.startsWith('Classify each numbered question')) return answerClassify(p);
  if (head.startsWith(NEEDLE_HEADER_PREFIX)) return answerNeedle(p);
  if (head.startsWith(ANSWER_HEADER)) return answerQuestion(p);
  return UNKNOWN_SUB_REPLY;
}

function answerClassify(p: string): string {
  const at = p.indexOf('\nQuestions:\n');
  const body = at === -1 ? p : p.slice(at + '\nQuestions:\n'.length);
  const out: string[] = [];
  const re = /^\s*(\d+)[.)]\s+(.*?)\s*$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    // A real model always commits to one of the labels; the documented rule covers every generated instance.
    out.push(`${m[1]}: ${oolongLabelRule(m[2]) ?? guessLabel(m[2])}`);
  }
  return out.length > 0 ? out.join('\n') : 'NONE';
}

/** A looser reading for sentences the documented rule does not cover (not produced by the generators). */
function guessLabel(sentence: string): string {
  const s = sentence.trim().toLowerCase();
  if (/^(what|which) (year|date|number|amount)\b|\bhow\b/.test(s)) return 'numeric';
  if (/\bwho\b|\bperson\b/.test(s)) return 'human';
  if (/\bwhere\b|\bcountry\b|\bcity\b/.test(s)) return 'location';
  if (/^(why|what causes|explain|describe)\b/.test(s)) return 'description';
  return 'entity';
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
