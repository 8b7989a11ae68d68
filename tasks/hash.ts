/**
 * Task ids: a short SHA-256 over everything that defines a task, so replay can regenerate a task and prove it is the
 * same one (`verifyTaskId`). Each field is length-prefixed so that no two different field tuples hash the same bytes.
 */
import { createHash } from 'node:crypto';
import type { ChunkedContext } from './chunked.ts';
import type { Doc, Task } from './types.ts';

/** JSON with object keys sorted recursively: the same options object always serializes to the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export interface TaskHashInput {
  family: string;
  seed: number;
  options: Record<string, unknown>;
  question: string;
  answer: string;
  context: string | Doc[] | ChunkedContext;
}

const HASH_SLICE = 1 << 20;

/**
 * 16 hex digits (64 bits) of SHA-256 over (family, seed, normalized options, question, answer, context). A chunked
 * context contributes its chunk sizes, sha256s and indexes (nl, marks), not its text.
 */
export function taskHash(input: TaskHashInput): string {
  return hashWith(input, input.context);
}

/** Options that say where a context is stored, not what it is: never part of an id. */
export const PLACEMENT_OPTIONS = ['contextDir', 'hostContextThreshold'] as const;

function hashWith(input: Omit<TaskHashInput, 'context'>, context: TaskHashInput['context']): string {
  const h = createHash('sha256');
  const field = (s: string): void => {
    h.update(`${s.length}:`);
    // Hash long strings in 1M-char slices: each update encodes its input to UTF-8 first, and one update of a 50 MB
    // context would briefly double the memory a 10M-token task needs.
    for (let i = 0; i < s.length; i += HASH_SLICE) h.update(s.length <= HASH_SLICE ? s : s.slice(i, i + HASH_SLICE));
  };
  field(input.family);
  field(String(input.seed));
  let options = input.options;
  if (PLACEMENT_OPTIONS.some((k) => k in options)) {
    options = { ...options };
    for (const k of PLACEMENT_OPTIONS) delete options[k];
  }
  field(canonicalJson(options));
  field(input.question);
  field(input.answer);
  if (typeof context === 'string') {
    field('string');
    field(context);
  } else if (!Array.isArray(context)) {
    // Host-backed: the chunk files' hashes stand for their bytes (the files are verified against them on replay), so
    // an id never needs the context as one string. Chunk boundaries are part of the id (same generator ⇒ same cut).
    const c = context as ChunkedContext;
    // The line index (`nl`), char↔byte `marks`, block size and newline count are hashed too: the reader trusts them, so a
    // tampered task.json that kept the sha256s but changed them would otherwise pass reuse / replay verification.
    field(`chunked:${c.length}:${c.bytes}:${c.chunks.length}:${JSON.stringify(c.blockChars ?? null)}:${JSON.stringify(c.newlines ?? null)}`);
    for (const ch of c.chunks) {
      field(`${ch.chars}:${ch.bytes}:${ch.sha256}:${JSON.stringify(ch.file)}`);
      field(`nl:${JSON.stringify(ch.nl ?? null)}`);
      field(`marks:${JSON.stringify(ch.marks ?? null)}`);
    }
    if (c.docs) field(`docs:${c.docs.count}:${c.docs.bytes}:${c.docs.sha256}`);
  } else {
    field(`docs:${context.length}`);
    for (const doc of context) {
      field(doc.id);
      field(doc.title);
      field(doc.text);
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** True when `task.id` matches its content (a regenerated or loaded task is the one that was recorded). */
export function verifyTaskId(task: Task): boolean {
  return task.id === taskHash(task);
}
