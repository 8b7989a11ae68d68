/**
 * The code-only baseline policy (`--model baseline-code`): a scripted "model" like the reference policy, but it never
 * calls a sub-model. It is the measure of whether a family needs delegation (bench `sub_call_necessity`): the best
 * wording heuristic we could write from the category definitions for oolong / oolong-pairs (classifier.ts), keyword and
 * regex extraction for browsecomp (browse.ts), the needle regex for sniah, and "unknown" for questions it does not recognise.
 *
 *   baselineRespond(messages) → the assistant message text (deterministic, never throws)
 *
 * Turn 1 solves and submits in the same block (the programs always call FINAL, with a best guess if needed); a later
 * turn (only after a failed cell) submits whatever guess the REPL holds. A sub-call prompt that reaches it (a user
 * running it as a sub-model) gets the reference's "I don't know." — it has no reading ability to offer.
 */
import type { Message } from '../../env/types.ts';
import { oolongSolve, pairsSolve, resort, type Budget } from '../reference/programs.ts';
import { browseHeuristicProgram } from './browse.ts';
import { isRootConversation, normalizeMessages, readConversation } from '../reference/policy.ts';
import { parseQuestion, type ParsedQuestion } from '../reference/questions.ts';
import { UNKNOWN_SUB_REPLY } from '../reference/subcalls.ts';

export const BASELINE_MODEL_ID = 'rlm-gym/baseline-code';

/** No sub-calls: every program is built with an empty sub-call budget as a second guard. */
const NO_CALLS: Budget = { subCallsLeft: 0, maxPromptChars: 2_000 };

export function baselineRespond(messages: Message[], body?: Record<string, unknown>): string {
  void body;
  try {
    const msgs = normalizeMessages(messages);
    if (msgs.length === 0 || !isRootConversation(msgs)) return UNKNOWN_SUB_REPLY;
    const c = readConversation(msgs);
    const q = parseQuestion(c.question);
    if (c.turn >= 1) return `The previous cell did not submit, so I submit the best answer I have.\n\n\`\`\`repl\n${resort(q)}\n\`\`\``;
    return `${narrate(q)}\n\n\`\`\`repl\n${baselineProgram(q)}\n\`\`\``;
  } catch {
    return 'I could not work out an answer, so I submit what I have.\n```repl\nFINAL("unknown");\n```';
  }
}

/** The one REPL program of the baseline for a question (no llm_query / llm_query_batched / rlm_query in any of them). */
export function baselineProgram(q: ParsedQuestion): string {
  switch (q.family) {
    case 'sniah':
      return sniahRegex(q.noun, q.key);
    case 'oolong':
      return oolongSolve(q.query, true, NO_CALLS, 'heuristic');
    case 'oolong-pairs':
      return pairsSolve(q.condition, true, NO_CALLS, 'heuristic');
    case 'browsecomp':
      return browseHeuristicProgram(q.constraints);
    default:
      return 'print(typeof context);\nFINAL("unknown");';
  }
}

const js = (v: unknown): string => JSON.stringify(v);

/** The needle by its fixed form; failing that, the "special magic" sentence sharing most words with the key. */
function sniahRegex(noun: string, key: string): string {
  return String.raw`const NOUN = ${js(noun)}, KEY = ${js(key)};
const escRe = (s) => s.replace(/[.*+?^$(){}|[\]\\]/g, '\\$&');
const found = new RegExp('The special magic ' + escRe(NOUN) + ' for ' + escRe(KEY) + ' is (\\S+?)\\.(?=\\s|$)').exec(context);
let value = found ? found[1] : null;
if (value === null) {
  const words = KEY.split(/[-\s]+/).filter(Boolean);
  const loose = /special magic \w+ for (\S+) is (\S+?)\.(?=\s|$)/gi;
  let bestScore = -1;
  for (let mm; (mm = loose.exec(context)) !== null; ) {
    const s = words.filter((w) => mm[1].toLowerCase().includes(w.toLowerCase())).length;
    if (s > bestScore) { value = mm[2]; bestScore = s; }
  }
}
print('answer:', value);
FINAL(value === null ? 'unknown' : value);`;
}

function narrate(q: ParsedQuestion): string {
  switch (q.family) {
    case 'sniah':
      return 'The needle has a fixed form, so a regex over the whole context finds it.';
    case 'oolong':
    case 'oolong-pairs':
      return 'I parse every record and label each instance with a wording heuristic built from the category definitions (no sub-calls), then aggregate in code.';
    case 'browsecomp':
      return 'I extract facts with keywords and names in sentences that have no negation or hedge word, join them, and pick the person who satisfies the most conditions (no sub-calls).';
    default:
      return 'I do not recognise this question and I do not use sub-models, so I submit "unknown".';
  }
}
