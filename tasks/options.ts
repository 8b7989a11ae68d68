/**
 * Option validation shared by the families: each family declares a strict zod schema; `parseOptions` turns the first
 * problem into a TaskOptionError whose message names the option, the rule and the value received (and, for unknown
 * keys, the valid option names), because the CLI prints that message as its single error line.
 */
import { z } from 'zod';
import { TaskOptionError } from './errors.ts';

/** Upper bound on any context: 20M tokens ≈ 90 MB of text, about the most a 24 GiB machine holds comfortably per task. */
export const MAX_CONTEXT_TOKENS = 20_000_000;

export const seedSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function contextTokensSchema(min: number, defaultValue: number) {
  return z.number().int().min(min).max(MAX_CONTEXT_TOKENS).default(defaultValue);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function parseOptions<S extends z.ZodType>(family: string, schema: S, raw: unknown): z.output<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TaskOptionError(family, '', `options must be an object with at least a numeric 'seed' (got ${describe(raw)})`);
  }
  // `undefined` values mean "not given" (a CLI or env may spread optional flags), so defaults still apply.
  const cleaned: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) if (v !== undefined) cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const valid = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    throw new TaskOptionError(family, keys[0] ?? '', `unknown option${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}; valid options: ${valid}`);
  }
  const name = issue.path.map(String).join('.');
  const got = describe(name ? cleaned[issue.path[0] as string] : cleaned);
  let rule = issue.message.replace(/^Invalid (input|option): /, '');
  if (issue.code === 'invalid_value') rule = `must be one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'too_small') rule = `must be >= ${String(issue.minimum)}`;
  if (issue.code === 'too_big') rule = `must be <= ${String(issue.maximum)}`;
  if (issue.code === 'invalid_type' && issue.expected === 'int') rule = 'must be an integer';
  throw new TaskOptionError(family, name, `option '${name}' ${rule} (got ${got})`);
}
