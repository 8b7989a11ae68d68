import type { SandboxLimits } from './types.ts';
import { SandboxConfigError } from './errors.ts';

/** Every limit with its value filled in (what the worker and the isolate see). */
export interface ResolvedLimits {
  memoryMB: number;
  cellCpuTimeoutMs: number;
  cellWallTimeoutMs: number;
  maxOutputChars: number;
  maxSubCalls: number;
  maxSubConcurrency: number;
  maxSubPromptChars: number;
  maxSubContextChars: number;
  maxFinalChars: number;
  maxCodeChars: number;
  maxJournalChars: number;
  maxJournalReplayMs: number;
  maxSubCallCharsPerCell: number;
  maxSubCallCharsPerEpisode: number;
  rlmRecursive: boolean;
  /** Not configurable: the longest error description shown (inside CellResult.error). */
  maxErrorChars: number;
}

export const LIMIT_DEFAULTS = {
  cellCpuTimeoutMs: 10_000,
  cellWallTimeoutMs: 120_000,
  maxOutputChars: 20_000,
  maxSubCalls: 500,
  maxSubConcurrency: 16,
  maxSubPromptChars: 400_000,
  maxSubContextChars: 50_000_000,
  maxFinalChars: 100_000,
  maxCodeChars: 1_000_000,
  maxJournalChars: 64_000_000,
  maxJournalReplayMs: 30_000,
  maxSubCallCharsPerCell: 100_000_000,
  maxSubCallCharsPerEpisode: 500_000_000,
  rlmRecursive: false,
  maxErrorChars: 2_000,
} as const;

/** Headroom added to the context's size for the default memory limit, and the clamp of that default. */
export const MEMORY_HEADROOM_MB = 128;
export const MEMORY_DEFAULT_MAX_MB = 4_096;
/** isolated-vm refuses less than 8 MB; more than 16 GB is surely a mistake. */
export const MEMORY_MIN_MB = 8;
export const MEMORY_MAX_MB = 16_384;

/** Default memory limit: context bytes × 2 + 128 MB, at most 4 GB. */
export function defaultMemoryMB(contextBytes: number): number {
  const mb = Math.ceil((contextBytes * 2) / (1024 * 1024)) + MEMORY_HEADROOM_MB;
  return Math.min(MEMORY_DEFAULT_MAX_MB, mb);
}

type Range = { min: number; max: number; integer: boolean };
const RANGES: Record<Exclude<keyof ResolvedLimits, 'maxErrorChars' | 'rlmRecursive'>, Range> = {
  memoryMB: { min: MEMORY_MIN_MB, max: MEMORY_MAX_MB, integer: false },
  cellCpuTimeoutMs: { min: 1, max: 3_600_000, integer: false },
  cellWallTimeoutMs: { min: 1, max: 24 * 3_600_000, integer: false },
  maxOutputChars: { min: 0, max: 100_000_000, integer: true },
  maxSubCalls: { min: 0, max: 10_000_000, integer: true },
  maxSubConcurrency: { min: 1, max: 10_000, integer: true },
  maxSubPromptChars: { min: 1, max: 500_000_000, integer: true },
  maxSubContextChars: { min: 0, max: 500_000_000, integer: true },
  maxFinalChars: { min: 1, max: 100_000_000, integer: true },
  maxCodeChars: { min: 1, max: 100_000_000, integer: true },
  maxJournalChars: { min: 0, max: 2_000_000_000, integer: true },
  maxJournalReplayMs: { min: 0, max: 24 * 3_600_000, integer: false },
  maxSubCallCharsPerCell: { min: 0, max: 10_000_000_000, integer: true },
  maxSubCallCharsPerEpisode: { min: 0, max: 100_000_000_000, integer: true },
};

/** Validates the limits of a session and fills in defaults. Throws SandboxConfigError naming the bad field. */
export function resolveLimits(opts: SandboxLimits, contextBytes: number): ResolvedLimits {
  const out = {
    memoryMB: defaultMemoryMB(contextBytes),
    ...LIMIT_DEFAULTS,
  } as ResolvedLimits;
  for (const key of Object.keys(RANGES) as (keyof typeof RANGES)[]) {
    const v = (opts as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const r = RANGES[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || (r.integer && !Number.isInteger(v)) || v < r.min || v > r.max) {
      throw new SandboxConfigError(
        `sandbox option ${key} must be ${r.integer ? 'an integer' : 'a number'} in [${r.min}, ${r.max}], got ${describe(v)}`,
      );
    }
    out[key] = v;
  }
  if (opts.rlmRecursive !== undefined) {
    if (typeof opts.rlmRecursive !== 'boolean') throw new SandboxConfigError(`sandbox option rlmRecursive must be a boolean, got ${describe(opts.rlmRecursive)}`);
    out.rlmRecursive = opts.rlmRecursive;
  }
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

/** 1234567 → "1,234,567" (own implementation: no dependence on ICU data, byte-identical everywhere). */
export function fmtInt(n: number): string {
  const s = String(Math.trunc(Math.abs(n)));
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? '-' : '') + out;
}

/** The marker appended to output that was cut. */
export function truncationMarker(droppedChars: number): string {
  return `\n… [output truncated: ${fmtInt(droppedChars)} more chars]`;
}
