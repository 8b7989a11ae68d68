/**
 * Context-length sweeps: `--context-tokens` takes one size, a list (`8192,16384,32768`) or a doubling range
 * (`2^13..2^18` = 8192, 16384, …, 262144; `8192..65536` works too). The paper plots S-NIAH over 2^13–2^18.
 */

/** A size spec that cannot be parsed; the message shows the spec and the accepted forms. */
export class ContextSizesError extends Error {
  override name = 'ContextSizesError';
}

const FORMS = "a size (8192 or 2^13), a list (8192,16384) or a doubling range (2^13..2^18)";

function parseSize(item: string, spec: string, min: number): number {
  const pow = /^2\^(\d{1,2})$/.exec(item);
  const n = pow ? 2 ** Number(pow[1]) : /^\d+$/.test(item) ? Number(item) : NaN;
  if (!Number.isSafeInteger(n)) throw new ContextSizesError(`--context-tokens '${spec}': '${item}' is not a size; use ${FORMS}`);
  if (n < min) throw new ContextSizesError(`--context-tokens '${spec}': ${n} is below the minimum of ${min} tokens`);
  return n;
}

/**
 * The sizes of a spec, ascending, without duplicates. Items are comma-separated; each is a size or `a..b`, which means
 * a, 2a, 4a, … up to b (b itself is included when it is a doubling of a).
 */
export function parseContextSizes(spec: string, min = 100): number[] {
  const items = spec.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new ContextSizesError(`--context-tokens '${spec}': empty item; use ${FORMS}`);
  const out = new Set<number>();
  for (const item of items) {
    const range = /^(.+?)\.\.(.+)$/.exec(item);
    if (!range) {
      out.add(parseSize(item, spec, min));
      continue;
    }
    const a = parseSize(range[1].trim(), spec, min);
    const b = parseSize(range[2].trim(), spec, min);
    if (b < a) throw new ContextSizesError(`--context-tokens '${spec}': the range ${item} runs downwards`);
    for (let s = a; s <= b; s *= 2) out.add(s);
    if (out.size > 64) throw new ContextSizesError(`--context-tokens '${spec}': more than 64 sizes`);
  }
  return [...out].sort((x, y) => x - y);
}

/** Sizes as recorded in a manifest: a number (runs before sweeps), a list, or absent. */
export function recordedSizes(value: unknown): number[] | undefined {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  return undefined;
}
