/**
 * Human-readable task summaries for `npm run tasks` (and for anyone debugging a task): identity, sizes, question,
 * answer, the analysis fields of meta, and a few lines of context around the evidence.
 */
import { readBrowsecompDoc, splitSentences } from './browsecomp-bank.ts';
import { isChunkedContext } from './chunked.ts';
import { ChunkedReader } from './chunked-reader.ts';
import { headLines, linesAt } from './records.ts';
import type { Doc, Task } from './types.ts';

const num = (n: unknown): string => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n));

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** [from, to) of a string or host-backed context (the only piece a preview reads from disk). */
function contextSlice(context: Task['context'], from: number, to: number): { text: string; length: number } {
  if (isChunkedContext(context)) {
    const r = new ChunkedReader(context);
    try {
      return { text: r.slice(from, to), length: context.length };
    } finally {
      r.close();
    }
  }
  const s = context as string;
  return { text: s.slice(from, to), length: s.length };
}

function sniahEvidence(task: Task): string {
  const at = Number(task.meta.needleCharOffset ?? -1);
  if (at < 0) return '';
  const from = Math.max(0, at - 160);
  const to = at + Number((task.meta.evidence as { length?: number })?.length ?? 0) + 160;
  const { text, length } = contextSlice(task.context, from, to);
  return `${from > 0 ? '…' : ''}${text.replace(/\n+/g, ' ¶ ')}${to < length ? '…' : ''}`;
}

function recordEvidence(task: Task): string {
  if (isChunkedContext(task.context)) return `(${describeHost(task)}; see meta for the evidence lines)`;
  const ctx = task.context as string;
  const lines = Array.isArray(task.meta.evidenceLines) ? (task.meta.evidenceLines as number[]).slice(0, 4) : [];
  if (lines.length > 0) {
    const found = linesAt(ctx, lines);
    const total = Number(task.meta.evidenceLineCount ?? lines.length);
    const shown = lines.map((n) => `line ${n}: ${found.get(n) ?? ''}`).join('\n');
    return `${shown}${total > lines.length ? `\n… ${num(total - lines.length)} more evidence lines` : ''}`;
  }
  return headLines(ctx, 4)
    .map((l, i) => `line ${i + 1}: ${l}`)
    .join('\n');
}

/** The sentences of a document that state a fact (read with the phrasing bank; near misses and filler left out). */
function factSentences(text: string): string[] {
  const ss = splitSentences(text);
  const out: string[] = [];
  const states = (s: string): boolean => {
    const r = readBrowsecompDoc(s);
    return Object.keys(r).some((k) => k !== 'kind' && k !== 'nearMisses' && k !== 'name') || (r.kind !== 'unknown' && r.name !== undefined);
  };
  for (let i = 0; i < ss.length; i++) {
    if (states(ss[i])) out.push(ss[i]);
    // A two-sentence form ("… needed a new chair. The members chose her."): neither half states the fact alone.
    else if (i + 1 < ss.length && !states(ss[i + 1]) && states(`${ss[i]} ${ss[i + 1]}`)) out.push(`${ss[i]} ${ss[++i]}`);
  }
  return out;
}

function browsecompEvidence(task: Task): string {
  const docs = task.context as Doc[];
  const ids = Array.isArray(task.meta.evidenceDocIds) ? (task.meta.evidenceDocIds as string[]) : [];
  const byId = new Map(docs.map((d) => [d.id, d]));
  return ids
    .map((id) => {
      const d = byId.get(id);
      if (!d) return `${id}: (missing)`;
      const facts = factSentences(d.text).map((s) => clip(s, 200));
      return `${id} "${d.title}"\n${indent(facts.join('\n'), '    ')}`;
    })
    .join('\n');
}

/** Meta fields worth a glance, per family (everything is in --json anyway). */
function metaLine(task: Task): string {
  const m = task.meta;
  switch (task.family) {
    case 'sniah':
      return `key ${m.key} · value type ${m.valueType} · depth ${m.depth} · distractors ${m.distractorCount}`;
    case 'oolong':
      return `query ${m.queryKind} ${JSON.stringify(m.query)} · records ${num(m.records)} · users ${num(m.users)} · label counts ${JSON.stringify(m.labelCounts)}`;
    case 'oolong-pairs':
      return `condition ${JSON.stringify(m.condition)} · pairs ${m.pairCount} of ${num(m.candidatePairs)} · records ${num(m.records)} · users ${m.users}`;
    case 'browsecomp':
      return `docs ${num(m.numDocs)} · hops ${m.hops} · near-miss distractors ${m.distractors} · aliases ${JSON.stringify(m.aliases)}`;
    default:
      return JSON.stringify(m);
  }
}

function describeHost(task: Task): string {
  const c = task.context;
  return isChunkedContext(c) ? `host-backed: ${num(c.chunks.length)} chunk file(s), ${num(c.bytes)} bytes in ${c.dir}` : '';
}

export function formatTaskSummary(task: Task): string {
  const m = task.meta;
  const answer = task.answer.includes('\n') ? `\n${indent(clip(task.answer, 1200))}` : ` ${task.answer}`;
  let evidence = '';
  if (task.family === 'sniah') evidence = sniahEvidence(task);
  else if (task.family === 'oolong' || task.family === 'oolong-pairs') evidence = recordEvidence(task);
  else if (task.family === 'browsecomp') evidence = browsecompEvidence(task);
  const parts = [
    `=== ${task.family} · id ${task.id} · seed ${task.seed} ===`,
    `options: ${JSON.stringify(task.options)}`,
    `size: ${num(m.contextTokens)} tokens (o200k) · ${num(m.contextChars)} chars${Array.isArray(task.context) ? ` · ${num(task.context.length)} documents` : ''}${isChunkedContext(task.context) ? ` · ${describeHost(task)}` : ''}`,
    `meta: ${metaLine(task)}`,
    `question:\n${indent(task.question)}`,
    `answer (${task.answerType}):${answer}`,
  ];
  if (evidence) parts.push(`evidence:\n${indent(evidence)}`);
  return parts.join('\n');
}
