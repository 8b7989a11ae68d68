/**
 * Where the records of `oolong` / `oolong-pairs` are written: one string in memory, or chunk files on disk (a
 * host-backed ChunkedContext, tasks/chunked.ts) for contexts too large to hold. Both come from the same record loop
 * (records.ts) and the same random streams, so the text is the same character for character; only the columns
 * (day, user, label per record: 9 bytes a record) stay in memory while streaming, which is all the gold answer needs.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE, createChunkWriter, type ChunkedContext } from './chunked.ts';
import { generateRecordsWithBytes, streamRecords, type RecordColumns, type RecordPlan } from './records.ts';
import type { Rng } from './rng.ts';

/** Chars (= UTF-8 bytes: records are ASCII) per o200k token of record text (measured 3.29): places a context before it exists. */
export const RECORD_CHARS_PER_TOKEN = 3.3;

export interface RecordsContext {
  records: RecordColumns;
  context: string | ChunkedContext;
  /** In memory: the context's UTF-8 bytes (a reused buffer: hash it before generating again). Host: null. */
  utf8: Uint8Array | null;
}

/** Records into memory (`dir` null) or streamed into chunk files under `dir` (`chunkChars`: see createChunkWriter). */
export function recordsContext(rng: Rng, plan: RecordPlan, dir: string | null, options: { chunkChars?: number } = {}): RecordsContext {
  if (dir === null) {
    const { records, utf8 } = generateRecordsWithBytes(rng, plan);
    return { records, context: records.context, utf8 };
  }
  const writer = createChunkWriter(dir, options);
  let done = false;
  try {
    // ASCII blocks (all of them with the built-in bank) go in as bytes: no string is made, nothing is re-encoded.
    const records = streamRecords(rng, plan, (block, ascii) => {
      if (ascii) writer.writeAscii(block);
      else writer.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('utf8'));
    });
    const context = writer.close();
    done = true;
    if (context.length !== records.chars || context.bytes !== records.bytes) {
      throw new Error(`records: chunk files hold ${context.length} chars / ${context.bytes} bytes, the generator wrote ${records.chars} / ${records.bytes}`);
    }
    return { records, context, utf8: null };
  } finally {
    if (!done) {
      try {
        discardChunkedContext(writer.close());
      } catch {
        // The writer failed itself (disk full, …): the original error is the one to report.
      }
    }
  }
}

/** Removes the files of a host-backed draw that was rejected (the next draw writes into the same directory). */
export function discardChunkedContext(ctx: ChunkedContext): void {
  for (const c of ctx.chunks) rmSync(join(ctx.dir, c.file), { force: true });
  rmSync(join(ctx.dir, MANIFEST_FILE), { force: true });
}
