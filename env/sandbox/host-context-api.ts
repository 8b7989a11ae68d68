/**
 * The REPL's `context` object for a host-backed context — this module runs INSIDE the isolate. It is bundled by
 * esbuild into a script (host-context.ts) and evaluated before the prelude, so the built-ins it captures are pristine.
 * Every method validates its arguments here (clear TypeError/RangeError messages, nothing oversize crosses), then
 * makes one blocking call to the host (`applySyncPromise`), which reads the chunk files and returns JSON.
 * It must stay self-contained: no imports (the isolate has no modules), no Node or DOM globals.
 */

/** What the host tells the isolate at setup. */
export interface HostContextConfig {
  length: number;
  lines: number;
  docs: number | null;
  maxSliceChars: number;
  maxChunks: number;
  maxSearchLimit: number;
  maxSearchWindow: number;
}

interface HostRef {
  applySyncPromise(thisArg: undefined, args: [string]): unknown;
}

/** Names of string/array methods a model may try on `context`: each throws an error that says what to use instead. */
const FOREIGN_METHODS = [
  'indexOf', 'lastIndexOf', 'includes', 'split', 'match', 'matchAll', 'replace', 'replaceAll', 'substring', 'substr',
  'charAt', 'charCodeAt', 'startsWith', 'endsWith', 'trim', 'toLowerCase', 'toUpperCase', 'at', 'map', 'filter',
  'forEach', 'reduce', 'find', 'findIndex', 'some', 'every', 'join', 'concat',
];

export function installHostContext(G: Record<string, unknown>, ref: HostRef, cfgJson: string): void {
  const RA = Reflect.apply;
  const ODP = Object.defineProperty;
  const OFreeze = Object.freeze;
  const JParse = JSON.parse;
  const JStringify = JSON.stringify;
  const IsSafeInt = Number.isSafeInteger;
  const ErrorC = Error;
  const TypeErrorC = TypeError;
  const RangeErrorC = RangeError;
  const SyntaxErrorC = SyntaxError;
  const S = String;
  const MathMax = Math.max;
  const MathMin = Math.min;
  const MathCeil = Math.ceil;
  const asp = ref.applySyncPromise;
  const reGetter = (name: string) => (Reflect.getOwnPropertyDescriptor(RegExp.prototype, name) as PropertyDescriptor).get as () => unknown;
  const ReSource = reGetter('source');
  const ReFlags = reGetter('flags');
  const cfg = JParse(cfgJson) as HostContextConfig;
  const N = cfg.length;

  const fmtInt = (n: number): string => {
    const s = S(n < 0 ? -n : n);
    let out = '';
    for (let i = 0; i < s.length; i++) {
      if (i > 0 && (s.length - i) % 3 === 0) out += ',';
      out += s[i];
    }
    return (n < 0 ? '-' : '') + out;
  };
  const errorOf = (name: string, message: string): Error => {
    if (name === 'RangeError') return new RangeErrorC(message);
    if (name === 'TypeError') return new TypeErrorC(message);
    if (name === 'SyntaxError') return new SyntaxErrorC(message);
    const e = new ErrorC(message);
    if (name) ODP(e, 'name', { value: name, writable: true, enumerable: false, configurable: true });
    return e;
  };
  /**
   * One argument as JSON text, from a primitive only: JSON.stringify of an object or array would call a toJSON the
   * model's code put on Object.prototype / Array.prototype, and so let it send any payload to the host. Stringifying a
   * primitive string never looks up toJSON; numbers are converted with the captured String.
   */
  const enc = (v: unknown): string => {
    if (typeof v === 'number' && IsSafeInt(v)) return S(v);
    if (typeof v === 'string') return JStringify(v);
    throw new TypeErrorC('context: internal error (an argument is not a primitive)');
  };
  const call = (op: string, a: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): unknown => {
    // Built by concatenation only (no array or object methods the model could have replaced).
    let payload = `{"op":${JStringify(op)},"args":[${enc(a)}`;
    if (b !== undefined) payload += `,${enc(b)}`;
    if (c !== undefined) payload += `,${enc(c)}`;
    if (d !== undefined) payload += `,${enc(d)}`;
    if (e !== undefined) payload += `,${enc(e)}`;
    if (f !== undefined) payload += `,${enc(f)}`;
    payload += ']}';
    const raw = RA(asp, ref, [undefined, [payload]]);
    if (typeof raw !== 'string') throw new ErrorC(`context.${op}: internal error (bad reply from the host)`);
    const rep = JParse(raw) as { v?: unknown; e?: string; n?: string };
    if (typeof rep.e === 'string') throw errorOf(typeof rep.n === 'string' ? rep.n : 'Error', rep.e);
    return rep.v;
  };
  const int = (fn: string, name: string, v: unknown, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !IsSafeInt(v)) {
      throw new TypeErrorC(`${fn}: ${name} must be an integer (got ${typeof v === 'number' ? S(v) : typeof v})`);
    }
    return v;
  };
  /** String.prototype.slice semantics for one index: negative counts from the end, clamped to [0, N]. */
  const index = (fn: string, name: string, v: unknown, dflt: number): number => {
    const i = int(fn, name, v, dflt);
    return i < 0 ? MathMax(0, N + i) : MathMin(i, N);
  };

  const slice = (a?: unknown, b?: unknown): string => {
    const fn = 'context.slice(start, end)';
    const s = index(fn, 'start', a, 0);
    const e = index(fn, 'end', b, N);
    if (e - s > cfg.maxSliceChars) {
      throw new RangeErrorC(
        `${fn} returns at most ${fmtInt(cfg.maxSliceChars)} chars; [${fmtInt(s)}, ${fmtInt(e)}) is ${fmtInt(e - s)}. ` +
          'Read it in pieces (context.chunks(size) gives the ranges) or find what you need with context.search(regex).',
      );
    }
    if (e <= s) return '';
    return call('slice', s, e) as string;
  };

  const lines = (i?: unknown, j?: unknown): string[] => {
    const fn = 'context.lines(start, end)';
    const s = int(fn, 'start', i);
    const e = int(fn, 'end', j, s + 1);
    if (s < 0 || e < s) throw new RangeErrorC(`${fn}: need 0 <= start <= end (got ${fmtInt(s)}, ${fmtInt(e)}); lines are numbered from 0, end is exclusive`);
    if (s >= cfg.lines || e === s) return [];
    return call('lines', s, MathMin(e, cfg.lines)) as string[];
  };

  const search = (pattern?: unknown, options?: unknown): unknown[] => {
    const fn = 'context.search(regex, { limit, from, to, window })';
    let source: string;
    let flags = '';
    let isRegExp = false;
    if (pattern !== null && typeof pattern === 'object') {
      // Brand check through the captured getter (instanceof could be faked by the model's code).
      try {
        source = RA(ReSource, pattern, []) as string;
        isRegExp = true;
      } catch {
        isRegExp = false;
      }
    }
    if (isRegExp) {
      source = RA(ReSource, pattern, []) as string;
      flags = RA(ReFlags, pattern, []) as string;
    } else if (typeof pattern === 'string') {
      if (pattern.length === 0) throw new TypeErrorC(`${fn}: the pattern is empty`);
      source = pattern;
    } else {
      throw new TypeErrorC(`${fn}: regex must be a RegExp or a pattern string (got ${pattern === null ? 'null' : typeof pattern})`);
    }
    if (source.length > 10_000) throw new RangeErrorC(`${fn}: the pattern is ${fmtInt(source.length)} chars; at most 10,000`);
    const o = (options ?? {}) as Record<string, unknown>;
    if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeErrorC(`${fn}: options must be an object`);
    const limit = int(fn, 'limit', o.limit, 100);
    if (limit < 1 || limit > cfg.maxSearchLimit) throw new RangeErrorC(`${fn}: limit must be 1 … ${fmtInt(cfg.maxSearchLimit)} (got ${fmtInt(limit)})`);
    const windowChars = int(fn, 'window', o.window, 100);
    if (windowChars < 0 || windowChars > cfg.maxSearchWindow) throw new RangeErrorC(`${fn}: window must be 0 … ${fmtInt(cfg.maxSearchWindow)} (got ${fmtInt(windowChars)})`);
    const from = index(fn, 'from', o.from, 0);
    const to = index(fn, 'to', o.to, N);
    if (typeof source! !== 'string' || typeof flags !== 'string') throw new TypeErrorC(`${fn}: regex must be a RegExp or a pattern string`);
    const rep = call('search', source!, flags, from, to, limit, windowChars) as { matches: unknown[]; limited: boolean };
    // The matches array, with `limited` (true: the search stopped early, at `limit` matches or the reply-size cap;
    // search again from the last match's end for more). Not enumerable, so printing the array is unchanged.
    const out = rep.matches;
    ODP(out, 'limited', { value: rep.limited === true, writable: false, enumerable: false, configurable: false });
    return out;
  };

  const chunks = (size?: unknown, options?: unknown): unknown[] => {
    const fn = 'context.chunks(size, { overlap })';
    const n = int(fn, 'size', size, 1_000_000);
    const o = (options ?? {}) as Record<string, unknown>;
    const overlap = int(fn, 'overlap', o.overlap, 0);
    if (n < 1 || n > cfg.maxSliceChars) throw new RangeErrorC(`${fn}: size must be 1 … ${fmtInt(cfg.maxSliceChars)} chars (what one context.slice may return); got ${fmtInt(n)}`);
    if (overlap < 0 || overlap >= n) throw new RangeErrorC(`${fn}: overlap must be 0 … size - 1 (got ${fmtInt(overlap)})`);
    const step = n - overlap;
    const count = N === 0 ? 0 : MathCeil(MathMax(0, N - overlap) / step) || 1;
    if (count > cfg.maxChunks) {
      throw new RangeErrorC(`${fn}: ${fmtInt(count)} chunks of ${fmtInt(n)} chars; at most ${fmtInt(cfg.maxChunks)} — use a larger size (at least ${fmtInt(MathCeil(N / cfg.maxChunks))})`);
    }
    const out: { index: number; start: number; end: number }[] = [];
    for (let k = 0; k < count; k++) {
      const start = k * step;
      out[out.length] = OFreeze({ index: k, start, end: MathMin(N, start + n) });
    }
    return OFreeze(out) as unknown[];
  };

  const api: Record<string, unknown> = {
    kind: 'host',
    length: N,
    lineCount: cfg.lines,
    slice,
    lines,
    search,
    chunks,
    toString: () => `[host-backed context: ${fmtInt(N)} chars in ${fmtInt(cfg.lines)} lines — use context.slice / lines / search / chunks]`,
    toJSON: () => ({ kind: 'host', length: N, lineCount: cfg.lines, docs: cfg.docs }),
  };
  if (cfg.docs !== null) {
    const count = cfg.docs;
    api.docs = OFreeze({ length: count });
    api.doc = (i?: unknown): unknown => {
      const k = int('context.doc(i)', 'i', i);
      if (k < 0 || k >= count) throw new RangeErrorC(`context.doc(i): i must be 0 … ${fmtInt(count - 1)} (got ${fmtInt(k)})`);
      return OFreeze(call('doc', k) as object);
    };
  }
  for (const name of FOREIGN_METHODS) {
    const hint = () => {
      throw new TypeErrorC(
        `context.${name} is not available: this context is host-backed (${fmtInt(N)} chars on disk, not a string). ` +
          'Use context.search(regex) to find text, context.slice(a, b) / context.lines(i, j) to read it, context.chunks(size) to split it.',
      );
    };
    ODP(api, name, { value: OFreeze(hint), enumerable: false });
  }
  for (const k of Object.keys(api)) if (typeof api[k] === 'function') OFreeze(api[k]);
  ODP(G, 'context', { value: OFreeze(api), writable: false, enumerable: false, configurable: false });
}
