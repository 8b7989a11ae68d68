/** Result shapes shared by the worker and the parent. No isolated-vm import: the parent process never loads it. */
import type { CellResult, FinalSource } from './types.ts';
import { fmtInt, type ResolvedLimits } from './limits.ts';

/** The fixed instant the sandbox clock starts at (2025-01-01T00:00:00Z). */
export const SANDBOX_CLOCK_START_MS = Date.UTC(2025, 0, 1);

export type StopReason = NonNullable<CellResult['stopReason']>;

/** What one cell produced, minus the sub-call records (the parent owns those). */
export interface IsolateCellResult {
  output: string;
  error?: string;
  final?: { value: string; source: FinalSource };
  durationMs: number;
  /** CPU time the isolate spent on the cell (ms). */
  cpuMs?: number;
  dead?: boolean;
  stopReason?: StopReason;
}

export function deadResult(reason: StopReason, output: string, limits: ResolvedLimits, detail?: string): Omit<IsolateCellResult, 'durationMs'> {
  let error: string;
  switch (reason) {
    case 'wall_timeout':
      error = `TimeoutError: the cell exceeded its wall-clock limit of ${fmtInt(limits.cellWallTimeoutMs)} ms (time blocked on sub-calls counts); the sandbox was discarded and its variables are lost`;
      break;
    case 'memory_limit':
      error = `RangeError: the sandbox ran out of memory (limit ${fmtInt(limits.memoryMB)} MB); it was discarded and its variables are lost`;
      break;
    case 'cpu_timeout':
      error = `TimeoutError: the cell exceeded its CPU time limit of ${fmtInt(limits.cellCpuTimeoutMs)} ms and the sandbox could not be recovered; its variables are lost`;
      break;
    default:
      error = `Error: the sandbox process died${detail ? ` (${detail})` : ''}; its variables are lost`;
  }
  return { output, error, dead: true, stopReason: reason };
}
