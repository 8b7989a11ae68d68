/**
 * tasks/ — seeded task generators and scorers (the door of this layer).
 *
 *   generateTask('sniah', { seed: 7, contextTokens: 100_000 })  → Task (byte-identical for the same seed + options)
 *   scoreTask(task, prediction)                                  → { score ∈ [0,1], correct, details } (never throws on
 *                                                                  a malformed prediction: it scores 0)
 * Families: sniah, oolong, oolong-pairs, browsecomp (see each file's header for formats and scoring).
 */
import { browsecompFamily } from './browsecomp.ts';
import { TaskOptionError, UnknownTaskError } from './errors.ts';
import { fileTaskFamily, isFileTaskName } from './file-tasks.ts';
import { pluginFamily, pluginFamilyNames, reserveTaskFamilyNames } from './plugins.ts';
import { oolongFamily } from './oolong.ts';
import { oolongPairsFamily } from './oolong-pairs.ts';
import { sniahFamily } from './sniah.ts';
import { placesOnHost, type PlacementOptions } from './storage.ts';
import type { GenerateOptions, ScoreResult, Task, TaskFamilyDef } from './types.ts';

export type { AnswerType, ChunkedContext, Doc, GenerateOptions, ScoreResult, Task, TaskFamily, TaskFamilyDef, TaskPlugin } from './types.ts';
export { TaskFileError, TaskOptionError, TaskPluginError, UnknownTaskError } from './errors.ts';
export {
  FILE_COLUMNS, FILE_SCORERS, FILE_TASK_PREFIX, afterLastColon, extractChoice, isFileTaskName, lastBoxed, loadTaskFile, parseDate,
  resolveFileTaskName, scoreFileTask, type FileScorer, type FileTaskRow, type TaskFile,
} from './file-tasks.ts';
export { isPluginSpec, isTaskFamilyDef, loadTaskPlugin, pluginFamilyNames, registerTaskFamily } from './plugins.ts';
export {
  BLOCK_CHARS, ChunkedContextError, DEFAULT_CHUNK_CHARS, DOC_SEPARATOR, checkChunkedFiles, createChunkWriter, describeChunkedContext,
  isChunkedContext, openChunkedContext, verifyChunkedContext, verifyChunkedContextAsync, type ChunkFile, type ChunkWriter, type ChunkedDocs,
} from './chunked.ts';
export {
  CONTEXT_STORAGES, DEFAULT_HOST_CONTEXT_THRESHOLD, MAX_HOST_CONTEXT_TOKENS, isTemporaryContext, placesOnHost, removeTaskContext,
  type ContextStorage, type PlacementOptions,
} from './storage.ts';
export { ChunkedReader } from './chunked-reader.ts';
export { canonicalJson, taskHash, verifyTaskId, type TaskHashInput } from './hash.ts';
export { countTokens } from './tokens.ts';
export { matchesAny, normalizeAnswer, numericScore, parseFirstNumber, parsePairs, setF1 } from './normalize.ts';
export { OOLONG_LABELS, OOLONG_LABEL_DEFINITIONS, type OolongLabel } from './records.ts';
export { OOLONG_LEADS, bankLabel as oolongBankLabel, instanceBank as oolongInstanceBank } from './oolong-bank.ts';
export { OOLONG_QUERY_KINDS, type OolongQueryKind } from './oolong.ts';
export { PAIR_CONDITION_KINDS, type PairCondition } from './oolong-pairs.ts';
export { SNIAH_VALUE_TYPES, type SniahValueType } from './sniah.ts';
export { formatTaskSummary } from './preview.ts';
export { readBrowsecompDoc, type DocReading as BrowsecompDocReading } from './browsecomp-bank.ts';

/** The registry: every family by name. */
export const TASK_FAMILIES: Record<string, TaskFamilyDef> = {
  sniah: sniahFamily,
  oolong: oolongFamily,
  'oolong-pairs': oolongPairsFamily,
  browsecomp: browsecompFamily,
};

export const TASK_FAMILY_NAMES: readonly string[] = Object.keys(TASK_FAMILIES);
reserveTaskFamilyNames(TASK_FAMILY_NAMES);

/**
 * The family definition: a built-in, a registered plugin (registerTaskFamily / loadTaskPlugin), or `file:/abs/path`
 * (rows of a task file). Throws UnknownTaskError (listing the valid names) for anything else.
 */
export function getTaskFamily(name: string): TaskFamilyDef {
  const def = Object.prototype.hasOwnProperty.call(TASK_FAMILIES, name) ? TASK_FAMILIES[name] : undefined;
  if (def) return def;
  const plugin = pluginFamily(name);
  if (plugin) return plugin;
  if (isFileTaskName(name)) return fileTaskFamily(name);
  throw new UnknownTaskError(String(name), [...TASK_FAMILY_NAMES, ...pluginFamilyNames(), 'file:PATH', './plugin.ts']);
}

/**
 * Generates one task. Options are validated per family (TaskOptionError names the option and the rule);
 * defaults are filled in and recorded in `task.options`, so `generateTask(task.family, task.options)` regenerates it.
 */
export function generateTask(family: string, options: GenerateOptions, placement?: PlacementOptions): Task {
  const def = getTaskFamily(family);
  if (options === null || typeof options !== 'object') {
    throw new TaskOptionError(family, '', 'options must be an object with at least a numeric \'seed\'');
  }
  if (!placement) return def.generate(options);
  // Placement (where the context lives) applies to the families that support host-backed contexts; for the others,
  // 'auto' means memory as always and an explicit 'host' is an error.
  const given = Object.fromEntries(Object.entries(placement).filter(([, v]) => v !== undefined)) as PlacementOptions;
  if (def.hostContext) return def.generate({ ...given, ...options });
  if (given.contextStorage === 'host') {
    throw new TaskOptionError(family, 'contextStorage', `the ${family} generator does not support host-backed contexts (contextStorage 'host'); families that do: ${hostContextFamilies().join(', ')}`);
  }
  return def.generate(options);
}

/**
 * Whether generating `family` with these options gives a host-backed context, without generating it (the family's own
 * chars-per-token estimate, as its generator decides). Families without host support: false (an explicit 'host' is
 * refused by generateTask). Without contextTokens the family's default size is used.
 */
export function willBeHostBacked(family: string, options: Record<string, unknown> & PlacementOptions): boolean {
  const def = getTaskFamily(family);
  if (!def.hostContext) return false;
  const tokens = Number(options.contextTokens ?? def.defaults.contextTokens ?? 0);
  return placesOnHost(options, tokens * (def.contextCharsPerToken ?? 4));
}

/** Built-in families whose generators can write host-backed contexts. */
export function hostContextFamilies(): string[] {
  return Object.values(TASK_FAMILIES).filter((d) => d.hostContext).map((d) => d.name);
}

/**
 * Scores a prediction against a task's gold answer. A malformed prediction (not a string, unparsable, empty) scores
 * 0 — it never throws for that. An unknown `task.family` is a programming error and throws UnknownTaskError.
 */
export function scoreTask(task: Task, prediction: string): ScoreResult {
  const def = getTaskFamily(task.family);
  try {
    const r = def.score(task, prediction);
    const score = Number.isFinite(r.score) ? Math.min(1, Math.max(0, r.score)) : 0;
    return { ...r, score };
  } catch (err) {
    // Defensive: a scorer bug or an odd prediction must cost the episode its reward, not crash a batch of rollouts.
    return { score: 0, correct: false, details: { error: err instanceof Error ? err.message : String(err) } };
  }
}
