/**
 * Reward composition: parse a spec (`accuracy,cost:-0.1,./my-reward.ts:0.5`), load user modules, and compute the weighted
 * total of an episode while recording every component's unweighted value.
 */
import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EpisodeRecord } from '../rollouts/types.ts';
import { BUILTIN_REWARD_NAMES, REWARDS } from './builtins.ts';
import type { NamedReward, RewardFn, RewardInput } from './types.ts';

export type RewardSpecErrorCode = 'empty' | 'unknown_reward' | 'bad_weight' | 'duplicate' | 'module_not_found' | 'bad_module';

/** A reward spec that cannot be used: unknown name, bad weight, duplicate component, missing or malformed module. */
export class RewardSpecError extends Error {
  override name = 'RewardSpecError';
  constructor(
    message: string,
    readonly code: RewardSpecErrorCode,
  ) {
    super(message);
  }
}

/** The spec used when none is given. */
export const DEFAULT_REWARD_SPEC = 'accuracy';

/** Extensions that make a spec item a user module path rather than a built-in name. */
export const REWARD_MODULE_EXTENSIONS: readonly string[] = ['.ts', '.mts', '.js', '.mjs'];

/** One item of a parsed spec: a built-in name, or a module path (`module` set, `name` = the path as written). */
export interface RewardSpecItem {
  name: string;
  weight: number;
  /** Set when the item is a user module: the path as written in the spec. */
  module?: string;
}

/** One resolved component of a composite reward. */
export interface RewardComponent {
  name: string;
  weight: number;
  fn: RewardFn;
  /** 'builtin', or the absolute path of the user module that exported it. */
  source: string;
}

export interface CompositeReward {
  /** Canonical spec text, e.g. "accuracy:1,cost:-0.1" (module components as `path#name:weight`). */
  spec: string;
  components: RewardComponent[];
}

export interface RewardResult {
  /** Weighted sum Σ weight·value over components; always finite (0 if it would not be). */
  reward: number;
  /** Unweighted value per component name; a broken component is recorded as 0. */
  components: Record<string, number>;
  /** null when every component returned a finite number; else one message per broken component, joined with "; ". */
  error: string | null;
}

export interface ComputeRewardOptions {
  /** Per-component deadline for async rewards (e.g. an LLM judge). Default 60_000 ms. */
  timeoutMs?: number;
}

function isModulePath(item: string): boolean {
  const ext = extname(item).toLowerCase();
  return REWARD_MODULE_EXTENSIONS.includes(ext);
}

function unknownReward(name: string): RewardSpecError {
  return new RewardSpecError(
    `unknown reward "${name}"; built-in rewards: ${BUILTIN_REWARD_NAMES.join(', ')} ` +
      `(or a module path ending in ${REWARD_MODULE_EXTENSIONS.join('/')}, e.g. ./my-reward.ts)`,
    'unknown_reward',
  );
}

/**
 * Parse a comma-separated reward spec. Each item is `name[:weight]` (default weight 1) where `name` is a built-in or a
 * path ending in .ts/.mts/.js/.mjs (a user module, loaded by {@link buildReward}). Throws {@link RewardSpecError}.
 *
 *     parseRewardSpec('accuracy,cost:-0.1,turns:-0.01')
 *     // → [{name:'accuracy',weight:1},{name:'cost',weight:-0.1},{name:'turns',weight:-0.01}]
 */
export function parseRewardSpec(spec: string): RewardSpecItem[] {
  const items: RewardSpecItem[] = [];
  const raw = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (raw.length === 0) throw new RewardSpecError(`empty reward spec; built-in rewards: ${BUILTIN_REWARD_NAMES.join(', ')}`, 'empty');
  const seen = new Set<string>();
  for (const item of raw) {
    let name = item;
    let weight = 1;
    const colon = item.lastIndexOf(':');
    if (colon >= 0) {
      const w = item.slice(colon + 1).trim();
      const head = item.slice(0, colon).trim();
      // "C:\x.ts" (a drive letter) is not a weight: only split when the tail looks like a number.
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(w)) {
        name = head;
        weight = Number(w);
      } else if (!isModulePath(item)) {
        throw new RewardSpecError(`reward "${head}": weight "${w}" is not a number (write e.g. ${head}:-0.1)`, 'bad_weight');
      }
    }
    if (!Number.isFinite(weight)) throw new RewardSpecError(`reward "${name}": weight must be finite`, 'bad_weight');
    if (name === '') throw new RewardSpecError(`reward spec item "${item}" has no name`, 'unknown_reward');
    if (seen.has(name)) throw new RewardSpecError(`reward "${name}" appears twice in the spec`, 'duplicate');
    seen.add(name);
    if (isModulePath(name)) items.push({ name, weight, module: name });
    else if (Object.hasOwn(REWARDS, name)) items.push({ name, weight });
    else throw unknownReward(name);
  }
  return items;
}

function isNamedReward(x: unknown): x is NamedReward {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as NamedReward).name === 'string' &&
    (x as NamedReward).name !== '' &&
    typeof (x as NamedReward).fn === 'function'
  );
}

/**
 * Load a user reward module (dynamic import; .ts works under tsx). Accepted shapes, first match wins:
 * 1. `export default function (episode) { … }` — one component named after the file (`my-reward.ts` ⇒ "my-reward");
 * 2. `export default [{ name, fn }, …]` — one component per entry (a single `{ name, fn }` object also works);
 * 3. `export const rewards = [{ name, fn }, …]`;
 * 4. `export function reward(episode) { … }` — one component named after the file.
 * `fn(episode: RewardInput) => number | Promise<number>`; relative paths resolve against `cwd` (default process.cwd()).
 */
export async function loadRewardModule(path: string, opts: { cwd?: string } = {}): Promise<NamedReward[]> {
  const abs = isAbsolute(path) ? path : resolve(opts.cwd ?? process.cwd(), path);
  if (!existsSync(abs)) throw new RewardSpecError(`reward module not found: ${path} (resolved to ${abs})`, 'module_not_found');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new RewardSpecError(`reward module ${path} failed to load: ${errText(e)}`, 'bad_module');
  }
  const fileName = basename(abs, extname(abs));
  const def = mod.default;
  let out: NamedReward[] | null = null;
  if (typeof def === 'function') out = [{ name: fileName, fn: def as RewardFn }];
  else if (Array.isArray(def)) out = checkList(def, path, 'default export');
  else if (isNamedReward(def)) out = [def];
  else if (Array.isArray(mod.rewards)) out = checkList(mod.rewards, path, '"rewards" export');
  else if (typeof mod.reward === 'function') out = [{ name: fileName, fn: mod.reward as RewardFn }];
  if (!out || out.length === 0) {
    throw new RewardSpecError(
      `reward module ${path} must export a default function, a default [{ name, fn }] list, ` +
        `a "rewards" [{ name, fn }] list, or a named "reward" function`,
      'bad_module',
    );
  }
  return out.map((r) => ({ name: r.name, fn: r.fn }));
}

function checkList(list: unknown[], path: string, what: string): NamedReward[] {
  list.forEach((x, i) => {
    if (!isNamedReward(x)) {
      throw new RewardSpecError(`reward module ${path}: ${what}[${i}] is not { name: string, fn: function }`, 'bad_module');
    }
  });
  return list as NamedReward[];
}

/**
 * Build a composite reward from a spec string (default {@link DEFAULT_REWARD_SPEC} = "accuracy") or parsed items, loading user modules. All components of one module get
 * the module item's weight. Component names must be unique (a module may not shadow a built-in used in the same spec).
 */
export async function buildReward(spec: string | RewardSpecItem[] = DEFAULT_REWARD_SPEC, opts: { cwd?: string } = {}): Promise<CompositeReward> {
  const items = typeof spec === 'string' ? parseRewardSpec(spec) : spec;
  const components: RewardComponent[] = [];
  for (const item of items) {
    if (item.module !== undefined) {
      const abs = isAbsolute(item.module) ? item.module : resolve(opts.cwd ?? process.cwd(), item.module);
      for (const r of await loadRewardModule(abs)) components.push({ name: r.name, weight: item.weight, fn: r.fn, source: abs });
    } else {
      const b = REWARDS[item.name];
      if (!b) throw unknownReward(item.name);
      components.push({ name: b.name, weight: item.weight, fn: b.fn, source: 'builtin' });
    }
  }
  return composeRewards(components);
}

/** Compose already-loaded reward functions (programmatic use). Weight defaults to 1. */
export function composeRewards(parts: Array<NamedReward & { weight?: number; source?: string }>): CompositeReward {
  if (parts.length === 0) throw new RewardSpecError('a composite reward needs at least one component', 'empty');
  const seen = new Set<string>();
  const components: RewardComponent[] = parts.map((p) => {
    if (!isNamedReward(p)) throw new RewardSpecError(`reward component is not { name: string, fn: function }`, 'bad_module');
    if (seen.has(p.name)) throw new RewardSpecError(`two reward components are named "${p.name}"`, 'duplicate');
    seen.add(p.name);
    const weight = p.weight ?? 1;
    if (!Number.isFinite(weight)) throw new RewardSpecError(`reward "${p.name}": weight must be finite`, 'bad_weight');
    return { name: p.name, weight, fn: p.fn, source: p.source ?? 'builtin' };
  });
  const spec = components
    .map((c) => `${c.source === 'builtin' ? c.name : `${c.source}#${c.name}`}:${c.weight}`)
    .join(',');
  return { spec, components };
}

function errText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}

function describeBad(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
        timer.unref?.();
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Compute every component on the finished episode and the weighted total. Never throws for a broken component: a reward
 * that throws, times out, or returns a non-number / NaN / ±Infinity is recorded as 0 and named in `error`
 * (e.g. `reward "my-reward" returned NaN (must be a finite number)`); the other components still count.
 * User functions get a structured clone of the episode, so they cannot mutate the record.
 */
export async function computeReward(
  composite: CompositeReward,
  episode: RewardInput | EpisodeRecord,
  opts: ComputeRewardOptions = {},
): Promise<RewardResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const { reward: _r, reward_components: _c, reward_error: _e, ...base } = episode as EpisodeRecord;
  const input = base as RewardInput;
  const needsClone = composite.components.some((c) => c.source !== 'builtin');
  const userInput = needsClone ? (structuredClone(input) as RewardInput) : input;
  const components: Record<string, number> = {};
  const errors: string[] = [];
  let total = 0;
  for (const c of composite.components) {
    let value = 0;
    try {
      const v: unknown = await withTimeout(
        Promise.resolve().then(() => c.fn(c.source === 'builtin' ? input : userInput)),
        timeoutMs,
        `reward "${c.name}"`,
      );
      if (typeof v === 'number' && Number.isFinite(v)) value = v;
      else errors.push(`reward "${c.name}" returned ${describeBad(v)} (must be a finite number)`);
    } catch (e) {
      errors.push(`reward "${c.name}" threw: ${errText(e)}`);
    }
    components[c.name] = value;
    total += c.weight * value;
  }
  if (!Number.isFinite(total)) {
    errors.push(`weighted total is not finite (${total}); recorded as 0`);
    total = 0;
  }
  return { reward: total, components, error: errors.length ? errors.join('; ') : null };
}

/** {@link computeReward} and return a copy of the episode with `reward`, `reward_components` and `reward_error` filled. */
export async function applyReward(
  composite: CompositeReward,
  episode: EpisodeRecord,
  opts: ComputeRewardOptions = {},
): Promise<EpisodeRecord> {
  const r = await computeReward(composite, episode, opts);
  return { ...episode, reward: r.reward, reward_components: r.components, reward_error: r.error };
}
