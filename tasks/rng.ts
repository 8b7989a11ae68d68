/**
 * Seeded randomness for every generator. One PRNG algorithm (seedrandom's Alea: fast — a few ns per draw — and
 * identical on every platform), never Math.random.
 *
 * Streams: a generator forks named sub-streams (`rng.fork('filler')`) for independent concerns, so that changing how
 * much filler is drawn never changes which needle, label or entity is chosen. A fork is derived from the parent's
 * seed string and the stream name only, not from how far the parent has advanced.
 */
import seedrandom from 'seedrandom';

/** Running sums of weights, for Rng.weightedCumulative. */
export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    out[i] = sum;
  });
  return out;
}

export class Rng {
  readonly seedString: string;
  /**
   * Alea's state [s0, s1, s2, c], seeded by seedrandom and stepped here with the same arithmetic: seedrandom keeps the
   * state in object fields, which V8 boxes as heap numbers; a Float64Array holds them unboxed, so a draw is a few
   * multiplies instead of a few allocations. Same doubles in, same doubles out (test/tasks.test.ts checks the streams).
   */
  private readonly s: Float64Array;

  constructor(seedString: string) {
    this.seedString = seedString;
    const st = seedrandom.alea(seedString, { state: true }).state();
    this.s = Float64Array.of(st.s0, st.s1, st.s2, st.c);
  }

  private prng(): number {
    const s = this.s;
    const t = 2091639 * s[0] + s[3] * 2.3283064365386963e-10; // 2^-32
    s[0] = s[1];
    s[1] = s[2];
    const c = t | 0;
    s[3] = c;
    return (s[2] = t - c);
  }

  /** The root stream of one task: distinct families never share a stream for the same numeric seed. */
  static forTask(family: string, seed: number): Rng {
    return new Rng(`rlm-gym/${family}/${seed}`);
  }

  fork(stream: string): Rng {
    return new Rng(`${this.seedString}/${stream}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.prng() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.prng() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick on an empty list');
    return items[Math.floor(this.prng() * items.length)];
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.prng() * (i + 1));
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** k distinct items (k clamped to the list length), in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    const copy = items.slice();
    const n = Math.min(k, copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.prng() * (copy.length - i));
      const t = copy[i];
      copy[i] = copy[j];
      copy[j] = t;
    }
    return copy.slice(0, n);
  }

  /** Index drawn proportionally to non-negative weights (at least one positive). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.prng() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /**
   * Index drawn from cumulative weights (`cum[i]` = w0 + … + wi, non-decreasing, last > 0) by binary search:
   * O(log n) per draw for hot loops over many weights (e.g. one draw per record among hundreds of users).
   */
  weightedCumulative(cum: ArrayLike<number>): number {
    const x = this.prng() * cum[cum.length - 1];
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x < cum[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** 32 random hex digits in UUID v4 layout (version nibble 4, RFC 4122 variant). */
  uuid(): string {
    const hex = '0123456789abcdef';
    let s = '';
    for (let i = 0; i < 32; i++) {
      let d = this.int(16);
      if (i === 12) d = 4;
      if (i === 16) d = 8 + (d & 3);
      s += hex[d];
      if (i === 7 || i === 11 || i === 15 || i === 19) s += '-';
    }
    return s;
  }
}
