/**
 * Messages between the parent (SandboxPool) and a worker process, over Node's IPC channel (JSON serialization: for the
 * small messages of a step it is faster than 'advanced' — 33 vs 52 µs a round trip here; big contexts go by key or file).
 */
import type { ChunkedContext } from '../../tasks/chunked.ts';
import type { IsolateCellResult } from './results.ts';
import type { ResolvedLimits } from './limits.ts';

/** Per-run overrides of the cell limits (e.g. what is left of a turn's CPU/wall budget); never above the session's. */
export interface CellLimits {
  cpuMs?: number;
  wallMs?: number;
}

/**
 * How the context reaches the worker. Doc[] contexts travel as ONE string (id + title + text of every document,
 * concatenated) plus `layout` = [idLength, titleLength, textLength] per document; the isolate slices them back (O(1)).
 * Big texts go through a temp file written once by the parent; `key` lets the worker keep an ExternalCopy cached.
 */
export interface ContextTransfer {
  /** Worker cache key (contextKey + length), or null: do not cache. */
  key: string | null;
  chars: number;
  layout: number[] | null;
  /** 'cached': the worker should hold `key` already (no text sent); if it does not, it answers `opened` with `miss`. */
  source:
    | { kind: 'inline'; text: string }
    | { kind: 'file'; path: string; encoding: 'latin1' | 'utf16le' }
    | { kind: 'cached' }
    /** Host-backed: only the description of the chunk files crosses; the worker reads them (host-context.ts). */
    | { kind: 'host'; context: ChunkedContext };
}

export type ParentToWorker =
  | { t: 'open'; sid: number; ctx: ContextTransfer; seed: number; limits: ResolvedLimits; subCallsUsed: number }
  | { t: 'run'; sid: number; cell: number; code: string; limits?: CellLimits }
  | { t: 'subres'; sid: number; id: number; reply: string }
  | { t: 'close'; sid: number };

export type WorkerToParent =
  | { t: 'ready'; pid: number }
  | { t: 'opened'; sid: number; error: string | null; cached: boolean; ms: number; miss?: boolean; spare?: boolean; reused?: boolean }
  | { t: 'sub'; sid: number; id: number; payload: string }
  | { t: 'result'; sid: number; cell: number; result: IsolateCellResult }
  | { t: 'closed'; sid: number }
  /** An isolate thread of this worker is stuck for good: stop placing sessions here and kill it when it is empty. */
  | { t: 'tainted'; sid: number };

/** Options of the worker process, passed as argv[2] (JSON). */
export interface WorkerConfig {
  /** Max contexts kept as ExternalCopy in the worker's cache. */
  cacheEntries: number;
  /** Max total size of the cached contexts (MB of string data, chars × 1 or 2). */
  cacheMB: number;
  /** Isolates (+ empty context) kept ready, made while the worker is idle. 0 = none. */
  spares: number;
}
