/**
 * The wire between the parent (PythonPool) and a Python sandbox process: length-prefixed frames over the child's stdin
 * (parent → child) and stdout (child → parent). The child reads and writes them synchronously — it never returns to its
 * event loop once Pyodide is loaded — so a sub-call can block Python until the parent answers.
 *
 * Frame = 4-byte little-endian payload length, 1-byte kind (0 = JSON, 1 = raw bytes), payload.
 */
import type { ResolvedLimits } from '../limits.ts';
import type { FinalSource } from '../types.ts';

export const FRAME_JSON = 0;
export const FRAME_BYTES = 1;
/** A frame bigger than this is a protocol error (the biggest legitimate one is a context or a snapshot). */
export const MAX_FRAME_BYTES = 2 ** 31 - 1;

export type ParentToChild =
  | { t: 'build'; prelude: string }
  | { t: 'open'; text: string; docs: boolean; seed: number; limits: ResolvedLimits; subCallsUsed: number; heapMB: number }
  /** cpuMs: this cell's CPU limit (the session's, or lower: what is left of a turn's budget). */
  | { t: 'run'; cell: number; code: string; cpuMs?: number }
  | { t: 'subres'; reply: string }
  | { t: 'close' };

export interface PythonCellResult {
  output: string;
  dropped: number;
  error?: string;
  final?: { value: string; source: FinalSource };
  stopReason?: 'cpu_timeout' | 'sub_call_budget';
  /** The interpreter cannot continue (a fatal Pyodide error): the process exits after sending this. */
  dead?: boolean;
  /** CPU time the cell took in the sandbox process (ms). */
  cpuMs?: number;
}

export type ChildToParent =
  | { t: 'ready'; pid: number; ms: number }
  | { t: 'snapshot' } // followed by one FRAME_BYTES frame with the snapshot
  | { t: 'opened'; error: string | null; ms: number }
  | { t: 'out'; chunk: string }
  | { t: 'sub'; payload: string }
  | { t: 'result'; cell: number; result: PythonCellResult }
  | { t: 'fatal'; error: string };

export function encodeFrame(kind: number, payload: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt8(kind, 4);
  return Buffer.concat([head, payload]);
}

export function encodeJson(m: unknown): Buffer {
  return encodeFrame(FRAME_JSON, Buffer.from(JSON.stringify(m), 'utf8'));
}

/** Incremental decoder for the parent's side (stream chunks in, whole frames out). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes the next frame needs in all (header included), once its header is known. */
  private need = 5;

  push(chunk: Buffer, onFrame: (kind: number, payload: Buffer) => void): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Concatenate only when a whole frame is there (a 30 MB snapshot arrives in hundreds of chunks).
    while (this.size >= this.need) {
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
      this.chunks = [buf];
      if (this.need === 5) {
        this.need = 5 + buf.readUInt32LE(0);
        continue;
      }
      const kind = buf.readUInt8(4);
      const payload = buf.subarray(5, this.need);
      const rest = buf.subarray(this.need);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
      this.need = 5;
      onFrame(kind, payload);
    }
  }
}
