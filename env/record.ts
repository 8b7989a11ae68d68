/**
 * What a step record keeps of a sub-call: at most N chars of its prompt and of its response (a marker says how much was
 * cut), plus the full length and the sha256 of each, so a run's rows stay bounded however much the code sent. Replay
 * matches re-executed sub-calls by the prompt's sha256.
 */
import { createHash } from 'node:crypto';
import { fmtInt } from './sandbox/limits.ts';
import type { SubCallRecord } from './sandbox/types.ts';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The marker ending a cut prompt/response in a record. */
export function recordMarker(fullChars: number, kept: number): string {
  return `… [recorded ${fmtInt(kept)} of ${fmtInt(fullChars)} chars]`;
}

export function recordSubCall(c: SubCallRecord, maxChars: number): SubCallRecord {
  const cut = (s: string) => (s.length > maxChars ? s.slice(0, maxChars) + recordMarker(s.length, maxChars) : s);
  return {
    ...c,
    refused: c.refused ?? false,
    prompt: cut(c.prompt),
    response: cut(c.response),
    prompt_chars: c.prompt_chars ?? c.prompt.length,
    prompt_sha256: c.prompt_sha256 ?? sha256(c.prompt),
    response_chars: c.response_chars ?? c.response.length,
    response_sha256: c.response_sha256 ?? sha256(c.response),
  };
}
