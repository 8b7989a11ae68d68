import type { ChunkedContext } from './chunked.ts';

export type { ChunkedContext } from './chunked.ts';

/** A document of a corpus task (browsecomp): `context` is an array of these. */
export interface Doc {
  id: string;
  title: string;
  text: string;
}

export type TaskFamily = 'sniah' | 'oolong' | 'oolong-pairs' | 'browsecomp';

/** How the gold answer is compared: the scorer of the family knows the details. */
export type AnswerType = 'exact' | 'numeric' | 'label' | 'pairs' | 'entity';

/**
 * One generated task. Same `family` + `seed` + `options` ⇒ byte-identical Task (context included).
 * `id` is a content hash (family, seed, options, question, answer, context) so replay can verify a re-generated task.
 */
export interface Task {
  id: string;
  family: TaskFamily | string;
  seed: number;
  /** The generator options that produced this task (normalized: defaults filled in), JSON-serializable. */
  options: Record<string, unknown>;
  question: string;
  /**
   * The context: a string, a corpus of documents, or — for giant contexts — a host-backed ChunkedContext (chunk files
   * on disk, see tasks/chunked.ts; the sandbox exposes it as an object with a small read API instead of a string).
   */
  context: string | Doc[] | ChunkedContext;
  /** Gold answer as the scorer expects it; always a string (pairs: one `(a, b)` per line; entity: canonical name). */
  answer: string;
  answerType: AnswerType;
  /** Analysis data: actual tokens/chars, needle depth, records, hops, distractors, evidence locations, aliases… */
  meta: Record<string, unknown>;
}

export interface ScoreResult {
  /** In [0, 1]. */
  score: number;
  correct: boolean;
  details: Record<string, unknown>;
}

export interface GenerateOptions {
  seed: number;
  /** Size target in tokens (o200k BPE), met within ±5%. */
  contextTokens?: number;
  [option: string]: unknown;
}

/** What a task plugin must export: name, generate and score (description, defaults and optionDocs are optional). */
export type TaskPlugin = Pick<TaskFamilyDef, 'name' | 'generate' | 'score'> & Partial<Omit<TaskFamilyDef, 'name' | 'generate' | 'score'>>;

export interface TaskFamilyDef {
  name: string;
  description: string;
  /** Default option values (contextTokens included). */
  defaults: Record<string, unknown>;
  generate(options: GenerateOptions): Task;
  score(task: Task, prediction: string): ScoreResult;
  /** Optional: one line per family option (name → meaning, accepted values, default), for help texts. */
  optionDocs?: Record<string, string>;
  /**
   * The generator accepts the placement options (contextStorage, hostContextThreshold, contextDir — tasks/storage.ts)
   * and can write its context to disk as a ChunkedContext.
   */
  hostContext?: boolean;
  /** With hostContext: chars per context token the generator estimates when it decides placement (willBeHostBacked). */
  contextCharsPerToken?: number;
}
