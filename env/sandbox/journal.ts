/**
 * The journal of one REPL session: every accepted cell (its code and the sub-call replies it received, in order), so the
 * REPL can be rebuilt in a fresh sandbox by re-running the cells and answering each sub-call from the journal — no new
 * model calls. Backend-agnostic: a cell is code plus opaque request/reply strings; any REPL backend whose state is a
 * pure function of (seed, accepted cells, their sub-call replies) can be restored from it.
 *
 * Requests are kept as a sha256 (a replayed cell must ask exactly the same thing: that is the divergence check), replies
 * in full (they are what the replayed cell reads). The journal is bounded in characters and in estimated replay time;
 * past either bound it is `overflowed` and a restore resets the REPL instead (said plainly to the model).
 */
import { createHash } from 'node:crypto';

export interface JournalSubCall {
  /** sha256 (hex) of the request payload the cell sent. */
  requestHash: string;
  /** The reply it received (exactly as delivered). */
  reply: string;
}

export interface JournalEntry {
  code: string;
  subCalls: JournalSubCall[];
  /** sha256 of what the cell showed (output, error, answer): a replay must reproduce it. */
  resultHash: string;
  /** CPU time the cell took (ms): the estimate of its replay cost. */
  cpuMs: number;
}

export interface JournalLimits {
  /** Characters of code + replies kept. */
  maxChars: number;
  /** Sum of the cells' CPU time (ms): roughly what a replay costs. */
  maxReplayMs: number;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What a replay checks: the visible result of a cell. */
export function resultHash(r: { output: string; error?: string; final?: { value: string; source: string } }): string {
  return sha256(`${r.output}\u0000${r.error ?? ''}\u0000${r.final ? `${r.final.source}:${r.final.value}` : ''}`);
}

export class SessionJournal {
  private readonly list: JournalEntry[] = [];
  private chars = 0;
  private cpu = 0;
  /** Why the journal stopped being a faithful record (a bound was passed); null while it is complete. */
  overflow: string | null = null;

  constructor(readonly limits: JournalLimits) {}

  get entries(): readonly JournalEntry[] {
    return this.list;
  }
  get size(): number {
    return this.list.length;
  }
  get totalChars(): number {
    return this.chars;
  }
  get totalCpuMs(): number {
    return this.cpu;
  }

  add(entry: JournalEntry): void {
    if (this.overflow !== null) return;
    let chars = entry.code.length;
    for (const s of entry.subCalls) chars += s.reply.length + 64;
    if (this.chars + chars > this.limits.maxChars) {
      this.drop(`its journal would exceed ${this.limits.maxChars.toLocaleString('en-US')} chars`);
      return;
    }
    if (this.cpu + entry.cpuMs > this.limits.maxReplayMs) {
      this.drop(`replaying its journal would take more than ${this.limits.maxReplayMs.toLocaleString('en-US')} ms of CPU`);
      return;
    }
    this.list.push(entry);
    this.chars += chars;
    this.cpu += entry.cpuMs;
  }

  /** Starts over (after a reset: the REPL is empty again). */
  clear(): void {
    this.list.length = 0;
    this.chars = 0;
    this.cpu = 0;
    this.overflow = null;
  }

  private drop(reason: string): void {
    this.overflow = reason;
    this.list.length = 0; // useless once incomplete: free the memory
    this.chars = 0;
    this.cpu = 0;
  }
}
