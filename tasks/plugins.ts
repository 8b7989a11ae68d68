/**
 * Task plugins: your own seeded family in a module (`--task ./my-family.ts`, or `.js` / `.mjs`), exporting
 *   { name, generate({ seed, contextTokens, ...options }) → Task, score(task, prediction) → ScoreResult }
 * (optionally description, defaults, optionDocs) — the same contract as the built-ins — as the default export, as a
 * named export `family`, or as the module's own top-level exports.
 *
 * A plugin is validated when it is loaded (clear errors: what is missing, what a trial task got wrong), then registered
 * under its name so that scoring, rollouts, replay, resume and export find it like a built-in. Every task it generates
 * is checked against the Task shape, so a plugin bug surfaces as one message naming the plugin, not a crash elsewhere.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TaskPluginError } from './errors.ts';
import { isChunkedContext } from './chunked.ts';
import type { GenerateOptions, ScoreResult, Task, TaskFamilyDef, TaskPlugin } from './types.ts';

const registry = new Map<string, TaskFamilyDef>();
/** Names a plugin may not take (the built-ins, registered by tasks/index.ts). */
const reserved = new Set<string>();

export function reserveTaskFamilyNames(names: Iterable<string>): void {
  for (const n of names) reserved.add(n);
}

export function pluginFamily(name: string): TaskFamilyDef | undefined {
  return registry.get(name);
}

export function pluginFamilyNames(): string[] {
  return [...registry.keys()];
}

/** Does this `--task` value name a plugin module (a path), rather than a built-in or `file:`? */
export function isPluginSpec(spec: string): boolean {
  return !spec.startsWith('file:') && (/^\.{1,2}[\\/]/.test(spec) || path.isAbsolute(spec) || /\.(m?js|ts|mts)$/.test(spec));
}

/** An object that looks like a family definition (has generate and score functions). */
export function isTaskFamilyDef(v: unknown): v is TaskPlugin {
  return !!v && typeof v === 'object' && typeof (v as TaskPlugin).generate === 'function' && typeof (v as TaskPlugin).score === 'function';
}

function fail(where: string, message: string): never {
  throw new TaskPluginError(where, message);
}

function checkTask(where: string, name: string, t: unknown, call: string): Task {
  const bad = (m: string): never => fail(where, `${call} returned ${m}`);
  if (!t || typeof t !== 'object') bad(`${typeof t}, not a Task object`);
  const task = t as Task;
  if (typeof task.id !== 'string' || task.id === '') bad('a task without a string id');
  if (task.family !== name) bad(`family '${String(task.family)}', but the plugin is named '${name}'`);
  if (!Number.isFinite(task.seed)) bad('a task without a numeric seed');
  if (!task.options || typeof task.options !== 'object') bad('a task without an options object');
  if (typeof task.question !== 'string' || task.question === '') bad('a task without a question string');
  const ctxOk =
    typeof task.context === 'string' ||
    isChunkedContext(task.context) ||
    (Array.isArray(task.context) && task.context.every((d) => d && typeof d.id === 'string' && typeof d.title === 'string' && typeof d.text === 'string'));
  if (!ctxOk) bad('a context that is neither a string nor a list of {id, title, text} documents');
  if (typeof task.answer !== 'string') bad(`an answer of type ${typeof task.answer} (answers are strings)`);
  if (typeof task.answerType !== 'string') bad('a task without an answerType');
  if (!task.meta || typeof task.meta !== 'object') bad('a task without a meta object');
  return task;
}

function checkScore(where: string, r: unknown, call: string): ScoreResult {
  const bad = (m: string): never => fail(where, `${call} returned ${m}`);
  if (!r || typeof r !== 'object') bad(`${typeof r}, not { score, correct, details }`);
  const s = r as ScoreResult;
  if (typeof s.score !== 'number' || !Number.isFinite(s.score) || s.score < 0 || s.score > 1) bad(`score ${String(s.score)} (must be a number in [0, 1])`);
  if (typeof s.correct !== 'boolean') bad('no boolean `correct`');
  if (!s.details || typeof s.details !== 'object') bad('no `details` object');
  return s;
}

/**
 * Validates a family definition (shape, then one trial task at seed 0 scored against its own gold answer) and
 * registers it under its name; returns the registered definition, whose generate() checks every task it makes.
 * Registering the same name again replaces the earlier plugin (a reloaded module); a built-in name is refused.
 */
export function registerTaskFamily(def: unknown, where = 'task family'): TaskFamilyDef {
  if (!def || typeof def !== 'object') fail(where, 'must export an object { name, generate, score }');
  const d = def as Partial<TaskFamilyDef>;
  if (typeof d.name !== 'string' || !/^[a-z0-9][\w.-]*$/i.test(d.name)) fail(where, `needs a 'name' (letters, digits, '-', '_', '.'), got ${JSON.stringify(d.name)}`);
  const name = d.name;
  if (reserved.has(name)) fail(where, `name '${name}' is a built-in family; choose another name`);
  if (typeof d.generate !== 'function') fail(where, "needs a 'generate({ seed, ...options }) → Task' function");
  if (typeof d.score !== 'function') fail(where, "needs a 'score(task, prediction) → { score, correct, details }' function");
  if (d.defaults !== undefined && (typeof d.defaults !== 'object' || d.defaults === null)) fail(where, "'defaults' must be an object");
  const rawGenerate = d.generate.bind(d);
  const rawScore = d.score.bind(d);
  const registered: TaskFamilyDef = {
    name,
    description: typeof d.description === 'string' ? d.description : `task plugin ${name}`,
    defaults: { ...(d.defaults ?? {}) },
    optionDocs: d.optionDocs,
    generate: (o: GenerateOptions) => checkTask(where, name, rawGenerate(o), `generate(${JSON.stringify(o)})`),
    score: (task: Task, prediction: string) => checkScore(where, rawScore(task, prediction), 'score()'),
  };
  let trial: Task;
  try {
    trial = registered.generate({ seed: 0 });
  } catch (e) {
    if (e instanceof TaskPluginError) throw e;
    fail(where, `generate({ seed: 0 }) threw: ${(e as Error).message}`);
  }
  const again = registered.generate({ seed: 0 });
  if (again.id !== trial.id || again.answer !== trial.answer || again.question !== trial.question) fail(where, 'generate({ seed: 0 }) is not deterministic: two calls gave different tasks');
  try {
    const s = registered.score(trial, trial.answer);
    if (s.score !== 1) fail(where, `score(task, task.answer) gave ${s.score}: the gold answer must score 1`);
  } catch (e) {
    if (e instanceof TaskPluginError) throw e;
    fail(where, `score() threw: ${(e as Error).message}`);
  }
  registry.set(name, registered);
  return registered;
}

/** Imports a plugin module (path relative to `cwd`), validates and registers it. */
export async function loadTaskPlugin(spec: string, cwd = process.cwd()): Promise<TaskFamilyDef & { path: string }> {
  const abs = path.resolve(cwd, spec);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new TaskPluginError(spec, `cannot import ${abs}: ${(e as Error).message}`);
  }
  const candidate = [mod.default, mod.family, mod].find(isTaskFamilyDef);
  if (!candidate) {
    throw new TaskPluginError(spec, 'exports no task family: export default (or `export const family =`) { name, generate, score }');
  }
  const def = registerTaskFamily(candidate, spec);
  return { ...def, path: abs };
}
