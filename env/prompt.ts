/**
 * The system prompt and the per-turn framing. One file, so a user can read exactly what the model sees and replace it
 * (`systemPrompt` config option: a string with the same {placeholders}, or a function of PromptInfo).
 */

import { isChunkedContext, type ChunkedContext } from '../tasks/chunked.ts';
import { ChunkedReader } from '../tasks/chunked-reader.ts';
import { PYTHON_CONTEXT_DESCRIPTION, PYTHON_RLM_DESCRIPTION } from './prompt-python.ts';

export { PYTHON_SYSTEM_PROMPT, PYTHON_NO_CODE_NOTICE } from './prompt-python.ts';

export interface PromptInfo {
  maxTurns: number;
  maxSubCalls: number;
  maxSubPromptChars: number;
  maxOutputChars: number;
  maxSubConcurrency: number;
  cellCpuTimeoutMs: number;
  /** 'host' = a host-backed context (chunk files on disk): `context` is an object with a read API. */
  contextType: 'string' | 'documents' | 'host';
  contextChars: number;
  /** Whether rlm_query starts a recursive sub-episode (true) or is a plain sub-model call (false). */
  recursive: boolean;
  /** The sub-models (names for llm_query(prompt, name), windows); null/empty = one unnamed sub-model of unknown window. */
  subModels?: { name: string | null; model: string; maxModelLen: number | null; maxPromptChars: number | null }[] | null;
  /** The REPL's language (default 'js'): picks the wording of {contextDescription} and {rlmDescription}. */
  repl?: 'js' | 'python';
}

export const DEFAULT_SYSTEM_PROMPT = `You answer a question about a context that is far too large to read directly. The context is NOT in this conversation: it is stored in a JavaScript REPL as the variable \`context\`. You work by writing JavaScript that inspects \`context\`, asks sub-models about pieces of it, and finally submits an answer.

## How a turn works
Write code in a fenced block tagged \`repl\` (\`\`\`repl … \`\`\`). Every such block in your reply runs in order; the next message shows what each block printed (at most {maxOutputChars} characters per block — the rest is cut, with a note saying how much). Only printed output is shown: print what you need. Variables persist across blocks and turns; re-declaring a \`const\`/\`let\` later is fine. Top-level \`await\` works but is never needed. Each block has {cellCpuTimeoutSeconds} s of CPU time.

## What the REPL gives you
- \`context\` — {contextDescription}
- \`llm_query(prompt)\` → string. Asks a sub-model; blocks until it answers. A prompt may have at most {maxSubPromptChars} characters (about {maxSubPromptTokens} tokens); a longer one throws an error instead of calling the model.{subModelDetails}
- \`llm_query_batched(prompts)\` → string[]. Sends many prompts at once ({maxSubConcurrency} in parallel) — much faster than a loop of \`llm_query\`. A prompt that fails yields a string starting with "Error:" in its slot; the others still succeed.
- \`rlm_query(prompt, subContext)\` → string. {rlmDescription}
- \`print(...)\` / \`console.log(...)\` — output for you to read.
- \`SHOW_VARS()\` — prints the variables you have defined.
- \`FINAL(value)\` — submits \`value\` as your final answer and ends the episode. \`FINAL_VAR("name")\` submits the variable with that name. Setting \`answer.content = value; answer.ready = true\` does the same.
Nothing else is available: no network, no files, no timers, no \`require\`.

## Budgets
{maxTurns} turns in all, {maxSubCalls} sub-calls in all (each prompt of a batch counts as one). Every turn message tells you what is left. Calling \`llm_query\` once per line or per record wastes the budget — group records into chunks that fill a prompt and use \`llm_query_batched\`.

## Example
\`\`\`repl
print(typeof context, context.length);
print(context.slice(0, 500));
\`\`\`
then, after reading the output:
\`\`\`repl
const text = typeof context === "string" ? context : context.map((d) => d.title + "\\n" + d.text).join("\\n\\n");
const chunkSize = 100000;
const chunks = [];
for (let i = 0; i < text.length; i += chunkSize) chunks.push(text.slice(i, i + chunkSize));
const replies = llm_query_batched(chunks.map((c) => "List every line of this text that mentions a magic number, or reply NONE.\\n\\n" + c));
const hits = replies.filter((r) => !r.startsWith("NONE"));
print(hits);
\`\`\`
and when the evidence is clear:
\`\`\`repl
FINAL(hits[0].match(/\\d+/)[0]);
\`\`\`

## Finishing
Call \`FINAL(...)\` inside a \`repl\` block, with just the answer in the format the question asks for (a value, not a sentence). Nothing after the block that calls FINAL is read. Check the evidence in the REPL before you answer — do not guess from what you expect the output to be. Writing FINAL(...) as plain text counts only when your reply has no code block.`;

/**
 * {contextDescription} for a host-backed context: too large for a string, so `context` is an object whose methods read
 * the text from disk on the host. Everything a model needs to use it without trial and error.
 */
export const HOST_CONTEXT_DESCRIPTION = `a HOST-BACKED text: far too large for a string, it stays on disk and \`context\` is an object whose methods read it (they block and return at once; no \`await\` needed). String methods such as \`context.split\` or \`context.match\` do not exist on it.
  - \`context.length\` — total characters; \`context.lineCount\` — number of lines.
  - \`context.slice(start, end)\` → string, like String.prototype.slice (negative indices count from the end); at most 4,194,304 chars per call.
  - \`context.lines(i, j)\` → array of lines i … j-1 (numbered from 0), at most 4,194,304 chars in all.
  - \`context.search(regex, { limit = 100, from, to, window = 100 })\` → up to \`limit\` matches in text order, each \`{ index, end, line, match, groups, before, after }\` (\`groups\`: the capture groups; \`before\`/\`after\`: \`window\` chars of surrounding text). A string pattern is a regex source. It scans the whole text at disk speed — this is how to find things. The returned array has \`.limited\`: true when the search stopped early (it reached \`limit\`, or 4 Mi chars of returned text) — there may be more matches: search again with \`{ from: last.end }\`. A search that runs past the cell's time is cut off with an error.
  - \`context.chunks(size, { overlap = 0 })\` → \`[{ index, start, end }]\` ranges covering the text; read each with \`context.slice(c.start, c.end)\` (e.g. to build \`llm_query_batched\` prompts).
  - For a document corpus: \`context.docs.length\` and \`context.doc(i)\` → \`{ id, title, text, start, end }\`.
  Search first (\`context.search\`), then read around the hits (\`context.slice\`); never try to read the whole text.`;

/** Fills the {placeholders} of a system prompt template. Unknown placeholders are left as they are. */
export function renderSystemPrompt(template: string, info: PromptInfo): string {
  const values: Record<string, string> = {
    maxTurns: String(info.maxTurns),
    maxSubCalls: String(info.maxSubCalls),
    maxSubPromptChars: info.maxSubPromptChars.toLocaleString('en-US'),
    maxSubPromptTokens: Math.floor(info.maxSubPromptChars / 4).toLocaleString('en-US'),
    maxOutputChars: info.maxOutputChars.toLocaleString('en-US'),
    maxSubConcurrency: String(info.maxSubConcurrency),
    cellCpuTimeoutSeconds: String(Math.round(info.cellCpuTimeoutMs / 100) / 10),
    contextDescription: info.repl === 'python' ? PYTHON_CONTEXT_DESCRIPTION[info.contextType === 'documents' ? 'documents' : 'string'] :
      info.contextType === 'host'
        ? HOST_CONTEXT_DESCRIPTION
        : info.contextType === 'documents'
        ? 'an array of documents, each `{ id, title, text }`. Search titles and texts with JavaScript (regexes, `filter`, `includes`) before you ask sub-models.'
        : 'one long string. Look at its start and its structure first (lines, separators), then search it with JavaScript (regexes, `indexOf`, `split`) before you ask sub-models.',
    subModelDetails: renderSubModelDetails(info),
    rlmDescription: info.repl === 'python' ? PYTHON_RLM_DESCRIPTION[info.recursive ? 'recursive' : 'plain'] : info.recursive
      ? 'Starts a sub-agent with its own REPL in which `subContext` (a string) is the `context`; it answers `prompt` and returns its final answer. Expensive: use it for sub-problems too large for one `llm_query`.'
      : 'Same as `llm_query(prompt + subContext)` here (recursion is disabled in this environment).',
  };
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** What the system prompt says about the sub-models' windows and names ('' when nothing is known). */
export function renderSubModelDetails(info: Pick<PromptInfo, 'subModels'>): string {
  const subs = info.subModels ?? [];
  const fmt = (n: number) => n.toLocaleString('en-US');
  const windowOf = (s: (typeof subs)[number]) =>
    s.maxModelLen !== null ? `a ${fmt(s.maxModelLen)}-token context window: a prompt of at most about ${fmt(s.maxPromptChars ?? 0)} characters fits with room for its answer` : 'an unknown context window';
  const named = subs.filter((s) => s.name !== null);
  if (named.length === 0) {
    const only = subs[0];
    return only && only.maxModelLen !== null ? ` The sub-model (${only.model}) has ${windowOf(only)}; a prompt over its window returns an error — split it into smaller chunks.` : '';
  }
  const dflt = subs.find((s) => s.name === null) ?? named[0];
  const lines = named.map((s) => `  - \`"${s.name}"\` — ${s.model}, ${windowOf(s)}`);
  return (
    `\n- Several sub-models are available: pass a name as the second argument, \`llm_query(prompt, "name")\` or \`llm_query_batched(prompts, "name")\`; without a name ${dflt.name ? `\`"${dflt.name}"\`` : `the default (${dflt.model})`} answers. An unknown name is an error.\n` +
    lines.join('\n')
  );
}

/** The first user message: the question and what the context looks like — never the context itself. */
export function renderTaskMessage(
  question: string,
  context: string | { id: string; title: string; text: string }[] | ChunkedContext,
  previewChars = 300,
  repl: 'js' | 'python' = 'js',
): string {
  let description: string;
  if (isChunkedContext(context)) {
    const reader = new ChunkedReader(context);
    try {
      const head = reader.slice(0, previewChars);
      const lines = reader.newlines + 1;
      description = context.docs
        ? `\`context\` is a host-backed corpus of ${context.docs.count.toLocaleString('en-US')} documents (${context.length.toLocaleString('en-US')} characters in all), stored on disk — not a string or an array: use \`context.docs.length\`, \`context.doc(i)\` and the other methods of \`context\` described above. The text starts with:\n\`\`\`\n${head}${context.length > previewChars ? '…' : ''}\n\`\`\``
        : `\`context\` is a host-backed text of ${context.length.toLocaleString('en-US')} characters in ${lines.toLocaleString('en-US')} lines, stored on disk — not a string: use the methods of \`context\` described above (\`context.search\`, \`context.slice\`, \`context.lines\`, \`context.chunks\`). It starts with:\n\`\`\`\n${head}${context.length > previewChars ? '…' : ''}\n\`\`\``;
    } finally {
      reader.close();
    }
  } else if (typeof context === 'string') {
    const lines = countLines(context);
    description =
      `\`context\` is a string of ${context.length.toLocaleString('en-US')} characters in ${lines.toLocaleString('en-US')} lines. ` +
      `It starts with:\n\`\`\`\n${context.slice(0, previewChars)}${context.length > previewChars ? '…' : ''}\n\`\`\``;
  } else {
    const chars = context.reduce((n, d) => n + d.text.length, 0);
    const first = context[0];
    description =
      (repl === 'python'
        ? `\`context\` is a list of ${context.length.toLocaleString('en-US')} documents (dicts with "id", "title", "text") with`
        : `\`context\` is an array of ${context.length.toLocaleString('en-US')} documents ({ id, title, text }) with`) +
      ` ${chars.toLocaleString('en-US')} characters of text in all.` +
      (first ? ` The first one is:\n\`\`\`\n${JSON.stringify({ id: first.id, title: first.title, text: first.text.slice(0, previewChars) + (first.text.length > previewChars ? '…' : '') }, null, 1)}\n\`\`\`` : '');
  }
  return `${description}\n\nQuestion: ${question}\n\nStart by writing code in a \`\`\`repl block.`;
}

/** The status line that opens every observation, so the model always knows what is left. */
export function renderBudgetLine(turn: number, maxTurns: number, subCallsLeft: number): string {
  const turnsLeft = maxTurns - turn;
  return `[turn ${turn}/${maxTurns} done · ${turnsLeft} turn${turnsLeft === 1 ? '' : 's'} left · ${subCallsLeft} sub-calls left]`;
}

export const LAST_TURN_NOTICE =
  'This is your LAST turn: answer now. Call FINAL(value) in a ```repl block with your best answer from the evidence you have.';

export const NO_CODE_NOTICE =
  'Your reply had no ```repl code block, so nothing ran. Write JavaScript in a ```repl block; call FINAL(value) inside it when you have the answer.';

function countLines(s: string): number {
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
