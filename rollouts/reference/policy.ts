/**
 * The embedded reference policy: a scripted "model" that plays RLM episodes by writing real REPL JavaScript, and that
 * also answers the sub-call prompts its own programs send. Served over HTTP by ./server.ts (`--model reference`), and
 * called directly by tests.
 *
 *   referenceRespond(messages, body?) → the assistant message text
 *
 * Deterministic: the reply is a pure function of `messages` (no randomness, no clock); `body` (sampling parameters) is
 * accepted for API compatibility and ignored. Never throws.
 *
 * Two kinds of request reach it:
 * - root calls: a conversation (system prompt, the task message with "Question: …", then assistant replies and REPL
 *   observations). The family is recognised from the question text; the turn number, the remaining sub-call budget and
 *   the prompt-size limit are read from the status lines and the system prompt. Turn 1 explores the context, turn 2
 *   solves and calls FINAL in the same block, later turns fall back (see programs.ts); the last allowed turn always
 *   submits.
 * - sub-calls: a single user message whose content is a prompt built by a reference program (see subcalls.ts).
 */
import type { Message } from '../../env/types.ts';
import { type Budget, type Phase, defaultGuess, programCells } from './programs.ts';
import { hostContextShape } from './programs-host.ts';
import { pythonProgram } from './programs-python.ts';
import { type ParsedQuestion, parseQuestion } from './questions.ts';
import { ANSWER_HEADER, CLASSIFY_HEADER, NEEDLE_HEADER_PREFIX, READ_HEADER, UNKNOWN_SUB_REPLY, answerSubPrompt } from './subcalls.ts';

export { answerSubPrompt, classifyPrompt, CLASSIFY_HEADER, UNKNOWN_SUB_REPLY, type SubModelOptions } from './subcalls.ts';
export { parseQuestion, type ParsedQuestion } from './questions.ts';

const DEFAULT_MAX_TURNS = 30;
const DEFAULT_SUB_CALLS = 500;
const DEFAULT_PROMPT_CHARS = 400_000;

export function referenceRespond(messages: Message[], body?: Record<string, unknown>): string {
  void body;
  try {
    const msgs = normalizeMessages(messages);
    if (msgs.length === 0) return UNKNOWN_SUB_REPLY;
    if (isRootConversation(msgs)) return rootReply(msgs);
    const last = [...msgs].reverse().find((m) => m.role === 'user');
    return answerSubPrompt(last?.content ?? '');
  } catch {
    // Defensive: a malformed request must still get a well-formed, deterministic reply.
    return 'I could not work out an answer, so I submit what I have.\n```repl\nFINAL("unknown");\n```';
  }
}

/** Accepts OpenAI-style content (a string or an array of text parts); drops anything unreadable. */
export function normalizeMessages(messages: unknown): Message[] {
  if (!Array.isArray(messages)) return [];
  const out: Message[] = [];
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const role = (m as { role?: unknown }).role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') continue;
    const c = (m as { content?: unknown }).content;
    let content = '';
    if (typeof c === 'string') content = c;
    else if (Array.isArray(c)) content = c.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
    out.push({ role, content });
  }
  return out;
}

const SUB_HEADERS = [CLASSIFY_HEADER.slice(0, 30), NEEDLE_HEADER_PREFIX, ANSWER_HEADER.slice(0, 40), READ_HEADER.slice(0, 40)];

export function isRootConversation(msgs: Message[]): boolean {
  if (msgs.length === 1 && msgs[0].role === 'user') {
    const head = msgs[0].content.trimStart();
    if (SUB_HEADERS.some((h) => head.startsWith(h))) return false;
    return /```repl/.test(head) && /(^|\n)Question: /.test(head);
  }
  return msgs.some((m) => m.role === 'system' || m.role === 'assistant');
}

export interface Conversation {
  question: string;
  /** Replies the policy already gave (= the 0-based index of the reply being written). */
  turn: number;
  maxTurns: number;
  budget: Budget;
  /** The last REPL observation (empty on the first turn). */
  observation: string;
  lastTurn: boolean;
  /** The REPL's language, read from the system prompt (a Python REPL prompt says so). */
  python: boolean;
}

export function readConversation(msgs: Message[]): Conversation {
  const system = msgs.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  const firstUser = msgs.find((m) => m.role === 'user')?.content ?? '';
  const qm = /(?:^|\n)Question: ([\s\S]*?)\n\nStart by writing code/.exec(firstUser) ?? /(?:^|\n)Question: ([\s\S]*)$/.exec(firstUser);
  const question = (qm ? qm[1] : firstUser).trim();
  const turn = msgs.filter((m) => m.role === 'assistant').length;
  const lastAssistant = msgs.map((m) => m.role).lastIndexOf('assistant');
  const observation =
    turn === 0
      ? ''
      : msgs
          .slice(lastAssistant + 1)
          .filter((m) => m.role === 'user')
          .map((m) => m.content)
          .join('\n');
  const num = (s: string | undefined): number | null => (s === undefined ? null : Number(s.replace(/,/g, '')));

  // Budgets: the latest status line ("[turn 3/30 done · 27 turns left · 480 sub-calls left]"), else the system prompt.
  const history = msgs.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
  const statuses = [...history.matchAll(/\[turn (\d+)\/(\d+) done[^\]\n]*?(?:·\s*([\d,]+) sub-calls left)?\]/g)];
  const status = statuses.length > 0 ? statuses[statuses.length - 1] : null;
  const maxTurns =
    num(status?.[2]) ?? num(/(\d[\d,]*) turns in all/.exec(system)?.[1]) ?? DEFAULT_MAX_TURNS;
  const subCallsLeft =
    num(status?.[3]) ?? num(/(\d[\d,]*) sub-calls in all/.exec(system)?.[1]) ?? DEFAULT_SUB_CALLS;
  const maxPromptChars = num(/prompt may have at most (\d[\d,]*) characters/.exec(system)?.[1]) ?? DEFAULT_PROMPT_CHARS;
  const lastTurn = /This is your LAST turn/.test(observation) || turn + 1 >= maxTurns;
  return {
    question,
    turn,
    maxTurns,
    budget: { subCallsLeft, maxPromptChars: maxPromptChars > 0 ? maxPromptChars : DEFAULT_PROMPT_CHARS, host: /`context` is a host-backed (?:text|corpus)/.test(firstUser) },
    observation,
    lastTurn,
    python: /\bin a Python REPL\b/.test(system),
  };
}

function choosePhase(c: Conversation): Phase {
  if (c.turn >= 3) return 'resort';
  if (c.lastTurn) return 'safe';
  if (c.turn === 0) return 'explore';
  if (c.turn === 1) return 'solve';
  return 'safe';
}

function rootReply(msgs: Message[]): string {
  const c = readConversation(msgs);
  const q = parseQuestion(c.question);
  const phase = choosePhase(c);
  const firstUser = msgs.find((m) => m.role === 'user')?.content ?? '';
  const cells = c.python ? [pythonProgram(q, phase, c.budget)] : programCells(q, phase, c.budget, hostContextShape(firstUser));
  return `${narrate(q, phase, c)}\n\n${cells.map((code) => `\`\`\`repl\n${code}\n\`\`\``).join('\n\n')}`;
}

/** The prose before the code block: what a model would say it is about to do. */
function narrate(q: ParsedQuestion, phase: Phase, c: Conversation): string {
  const err = /(?:^|\n)Error: ([^\n]*)/.exec(c.observation);
  const problem = err
    ? `The previous cell failed (${err[1].slice(0, 160)}). `
    : c.turn > 0 && phase !== 'explore' && phase !== 'solve'
      ? 'The previous step did not settle the answer. '
      : '';
  if (phase === 'resort') return `${problem}I will submit the best answer I have so far (default: ${defaultGuess(q)}).`;
  if (phase === 'safe') {
    const last = c.lastTurn ? 'This is my last turn, so ' : '';
    return `${problem}${last}I will run the whole solution again with conservative settings, and submit the best answer it finds either way.`;
  }
  if (phase === 'explore') {
    switch (q.family) {
      case 'sniah':
        return 'The context is a long text. Let me look at its size and start, and count the sentences that look like the needle.';
      case 'oolong':
      case 'oolong-pairs':
        return 'The context should hold one record per line. Let me check the format, the number of lines and the users.';
      case 'browsecomp':
        return 'The context is a collection of documents. Let me look at a few and count which kinds of entity they describe.';
      default:
        return 'Let me look at the context first: its type, its size and how it starts.';
    }
  }
  switch (q.family) {
    case 'sniah':
      return `The needle has a fixed form, so a regex for the key "${q.key}" over the whole context finds it (sub-models read the text only if the regex misses). I submit the captured value.`;
    case 'oolong':
      return 'The category is not written in the data, so sub-models classify the questions: I chunk the relevant records into numbered prompts, send them with llm_query_batched, parse "<number>: <label>" answers, retry any that come back unlabelled, then count in code and submit.';
    case 'oolong-pairs':
      return 'Sub-models classify every record (chunked, batched); then I count labels per user, test every pair of users against the condition in code, and submit the pairs.';
    case 'browsecomp':
      return 'The documents state their facts in varied prose with near misses, so sub-models read them: first every document that is not about a person (cities, organisations, awards, events), then only the people that cheap text filters built from those readings cannot rule out. I join the readings, test every candidate against each numbered condition and submit the one that satisfies all of them.';
    default:
      return 'I do not recognise this kind of question, so I ask sub-models to look for the answer in chunks of the context and submit what they find.';
  }
}
