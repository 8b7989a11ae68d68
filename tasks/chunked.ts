/**
 * Chunked (host-backed) contexts: a context too large for one V8 string (~2^29 chars) or for a sandbox's memory lives
 * on disk as a directory of UTF-8 chunk files, written streaming by a generator and read back by range.
 *
 * On disk (`dir`):
 *   chunk-000000.txt, chunk-000001.txt, …   the text, split every `chunkChars` UTF-16 code units (never inside a
 *                                           surrogate pair); concatenated they are the whole context, byte for byte.
 *   docs.jsonl                              corpora only: one JSON line per document, `[id, title, start, end]`
 *                                           (char offsets of the document's text in the whole context, end exclusive).
 *   context.json                            the ChunkedContext itself (so a directory can be reopened on its own).
 * A ChunkedContext (the value a Task carries in `context`) records every file's chars, bytes and sha256, so a task id
 * hashes the chunk hashes (tasks/hash.ts) and replay can prove the files are the ones generated (verifyChunkedContext).
 *
 * Blocks: the writer writes each chunk in blocks of `blockChars` (1 Mi) chars and records the newlines of each block
 * (`nl`), so line i is found by a binary search over block counts plus a scan of one block.
 * Char ↔ byte offsets: an all-ASCII chunk (bytes === chars, the common case) maps offsets 1:1. Any other chunk carries
 * `marks` — [char, byte] pairs at the start of every ~1M-char block — so a reader seeks to the block holding an
 * offset and decodes at most one block plus the requested range, never a whole chunk.
 *
 * Document corpora: `writeDoc(doc)` appends the document's text followed by DOC_SEPARATOR ("\n\n", not part of the
 * document) and records its span; `context.doc(i)` on the host returns `{ id, title, text }`.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Doc } from './types.ts';

export interface ChunkFile {
  /** Basename inside `dir`. */
  file: string;
  /** UTF-16 code units of this chunk's text. */
  chars: number;
  /** UTF-8 bytes of the file. */
  bytes: number;
  /** Hex sha256 of the file's bytes. */
  sha256: string;
  /** Non-ASCII chunks only: flat [char0, byte0, char1, byte1, …] offsets (within the chunk) of block starts, ascending. */
  marks?: number[];
  /** Newlines ("\n") per block, in order (the line index of `context.lines`). */
  nl?: number[];
}

export interface ChunkedDocs {
  count: number;
  /** Basename of the document index (JSON lines `[id, title, start, end]`). */
  file: string;
  bytes: number;
  sha256: string;
  /** Sum of title + text lengths of all documents (what `contextChars` reports for a Doc[] context). */
  chars: number;
}

export interface ChunkedContext {
  kind: 'chunked';
  /** Absolute directory holding the chunk files. */
  dir: string;
  chunks: ChunkFile[];
  /** Total chars (UTF-16 code units, like String.length). */
  length: number;
  /** Total UTF-8 bytes. */
  bytes: number;
  /** Block size the writer used (blocks of an all-ASCII chunk start at multiples of it). Default BLOCK_CHARS. */
  blockChars?: number;
  /** Total newlines ("\n"), when known. */
  newlines?: number;
  /** Document corpora: `context.doc(i)` / `context.docs.length` on the host. */
  docs?: ChunkedDocs;
}

export interface ChunkWriter {
  /** Appends text (buffered; files are written in ~1M-char blocks). */
  write(text: string): void;
  /**
   * Appends pure-ASCII text given as bytes (every byte < 0x80; not checked): no string is made and nothing is
   * re-encoded — the fast path of generators that build bytes (ByteTextBuilder). The bytes are copied.
   */
  writeAscii(bytes: Uint8Array): void;
  /** Appends one document (its text + DOC_SEPARATOR) and records its span and title. */
  writeDoc(doc: Doc): void;
  /** Chars written so far (the offset where the next write starts). */
  readonly length: number;
  /** Flushes, closes the files, writes context.json and returns the context. The writer is unusable afterwards. */
  close(): ChunkedContext;
  /** Gives up (the generator failed): closes the files and removes the ones it wrote. No-op after close(). */
  abort(): void;
}

export const CHUNK_FILE_PREFIX = 'chunk-';
export const DOCS_FILE = 'docs.jsonl';
export const MANIFEST_FILE = 'context.json';
export const DOC_SEPARATOR = '\n\n';
/** 64 Mi chars per file: few files for a 1B-token context (≈ 70), small enough to hash and verify one at a time. */
export const DEFAULT_CHUNK_CHARS = 1 << 26;
/** Block size of buffered writes and of `marks`. */
export const BLOCK_CHARS = 1 << 20;

/** A chunk file that is missing, truncated, grown or changed (sha256), or a context description that is malformed. */
export class ChunkedContextError extends Error {
  /** The offending file's path ('' when the problem is the description itself). */
  readonly file: string;
  readonly code: 'missing' | 'size' | 'sha256' | 'malformed';
  constructor(file: string, code: ChunkedContextError['code'], message: string) {
    super(message);
    this.name = 'ChunkedContextError';
    this.file = file;
    this.code = code;
  }
}

export function chunkFileName(i: number): string {
  return `${CHUNK_FILE_PREFIX}${String(i).padStart(6, '0')}.txt`;
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

class Writer implements ChunkWriter {
  private readonly dir: string;
  private readonly chunkChars: number;
  private readonly blockChars: number;
  private readonly chunks: ChunkFile[] = [];
  private pending: string[] = [];
  private pendingChars = 0;
  private fd = -1;
  private hash: Hash | null = null;
  private cur: ChunkFile | null = null;
  private marks: number[] = [];
  private nl: number[] = [];
  private newlines = 0;
  private ascii = true;
  private total = 0;
  private totalBytes = 0;
  private docsFd = -1;
  private docsHash: Hash | null = null;
  private docCount = 0;
  private docBytes = 0;
  private docChars = 0;
  private closed = false;
  /** Output buffer reused for every block: 3 bytes per UTF-16 unit is the UTF-8 worst case. */
  private buf: Buffer;
  /** writeAscii: bytes of the block being filled (in `buf`), not yet written. */
  private acc = 0;

  constructor(dir: string, chunkChars: number) {
    this.dir = resolve(dir);
    this.chunkChars = chunkChars;
    this.blockChars = Math.min(BLOCK_CHARS, chunkChars);
    mkdirSync(this.dir, { recursive: true });
    this.buf = Buffer.allocUnsafe(this.blockChars * 3 + 8);
  }

  get length(): number {
    return this.total + this.pendingChars + this.acc;
  }

  writeAscii(bytes: Uint8Array): void {
    if (this.closed) throw new Error('ChunkWriter.writeAscii after close()');
    if (this.pendingChars > 0) {
      // Text is pending as strings: keep the order by appending these bytes as a string too (rare: mixed use).
      this.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
      return;
    }
    let off = 0;
    while (off < bytes.length) {
      const used = this.cur && this.cur.chars < this.chunkChars ? this.cur.chars : 0;
      const target = Math.min(this.blockChars, this.chunkChars - used);
      const n = Math.min(target - this.acc, bytes.length - off);
      this.buf.set(bytes.subarray(off, off + n), this.acc);
      this.acc += n;
      off += n;
      if (this.acc >= target) this.emitAcc();
    }
  }

  /** Writes the block accumulated by writeAscii. */
  private emitAcc(): void {
    const n = this.acc;
    this.acc = 0;
    if (n > 0) this.emitEncoded(n, n);
  }

  write(text: string): void {
    if (this.closed) throw new Error('ChunkWriter.write after close()');
    if (typeof text !== 'string') throw new TypeError(`ChunkWriter.write expects a string, got ${typeof text}`);
    if (text.length === 0) return;
    if (this.acc > 0) {
      // Bytes of a partial block are waiting: they go first, as text.
      const head = this.buf.toString('latin1', 0, this.acc);
      this.acc = 0;
      this.pending.push(head);
      this.pendingChars += head.length;
    }
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= this.blockChars) this.drain(false);
  }

  writeDoc(doc: Doc): void {
    if (this.closed) throw new Error('ChunkWriter.writeDoc after close()');
    const start = this.length;
    this.write(doc.text);
    const end = this.length;
    this.write(DOC_SEPARATOR);
    if (this.docsFd < 0) {
      this.docsFd = openSync(join(this.dir, DOCS_FILE), 'w');
      this.docsHash = createHash('sha256');
    }
    const line = Buffer.from(`${JSON.stringify([String(doc.id), String(doc.title), start, end])}\n`, 'utf8');
    (this.docsHash as Hash).update(line);
    writeSync(this.docsFd, line);
    this.docBytes += line.length;
    this.docCount++;
    this.docChars += doc.title.length + doc.text.length;
  }

  /** Writes whole blocks (all pending text when `all`). A block never ends between the halves of a surrogate pair. */
  private drain(all: boolean): void {
    let text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    let pos = 0;
    while (text.length - pos >= this.blockChars || (all && pos < text.length)) {
      const used = this.cur && this.cur.chars < this.chunkChars ? this.cur.chars : 0;
      const room = this.chunkChars - used;
      let n = Math.min(this.blockChars, room, text.length - pos);
      // A block ending in a high surrogate keeps it for the next block (its low half may not even be written yet).
      if (isHigh(text.charCodeAt(pos + n - 1)) && !(all && n === text.length - pos)) {
        if (n > 1) n--;
        else if (text.length - pos >= 2) n = 2;
        else break;
      }
      this.emit(text.length === n && pos === 0 ? text : text.slice(pos, pos + n));
      pos += n;
    }
    if (pos < text.length) {
      const rest = pos === 0 ? text : text.slice(pos);
      this.pending.push(rest);
      this.pendingChars = rest.length;
    }
    text = '';
  }

  private emit(block: string): void {
    const n = this.buf.write(block, 0, 'utf8');
    this.emitEncoded(block.length, n);
  }

  /** Writes the first `n` bytes of `buf` (= `chars` UTF-16 units) as the next block. */
  private emitEncoded(chars: number, n: number): void {
    if (!this.cur || this.cur.chars >= this.chunkChars) this.openChunk();
    const cur = this.cur as ChunkFile;
    if (n !== chars) this.ascii = false;
    this.marks.push(cur.chars, cur.bytes);
    const bytes = this.buf.subarray(0, n);
    (this.hash as Hash).update(bytes);
    let lines = 0;
    for (let p = bytes.indexOf(10); p !== -1; p = bytes.indexOf(10, p + 1)) lines++;
    this.nl.push(lines);
    this.newlines += lines;
    let off = 0;
    while (off < n) off += writeSync(this.fd, this.buf, off, n - off);
    cur.chars += chars;
    cur.bytes += n;
    this.total += chars;
    this.totalBytes += n;
  }

  private openChunk(): void {
    this.closeChunk();
    const file = chunkFileName(this.chunks.length);
    this.fd = openSync(join(this.dir, file), 'w');
    this.hash = createHash('sha256');
    this.cur = { file, chars: 0, bytes: 0, sha256: '' };
    this.marks = [];
    this.nl = [];
    this.ascii = true;
  }

  private closeChunk(): void {
    if (!this.cur) return;
    this.cur.sha256 = (this.hash as Hash).digest('hex');
    if (!this.ascii) this.cur.marks = this.marks;
    this.cur.nl = this.nl;
    closeSync(this.fd);
    this.chunks.push(this.cur);
    this.cur = null;
    this.fd = -1;
  }

  close(): ChunkedContext {
    if (this.closed) throw new Error('ChunkWriter.close() called twice');
    if (this.acc > 0) this.emitAcc();
    if (this.pendingChars > 0) this.drain(true);
    this.closed = true;
    if (!this.cur && this.chunks.length === 0) this.openChunk(); // an empty context is one empty file
    this.closeChunk();
    const ctx: ChunkedContext = {
      kind: 'chunked', dir: this.dir, chunks: this.chunks, length: this.total, bytes: this.totalBytes, blockChars: this.blockChars, newlines: this.newlines,
    };
    if (this.docsFd >= 0) {
      closeSync(this.docsFd);
      ctx.docs = { count: this.docCount, file: DOCS_FILE, bytes: this.docBytes, sha256: (this.docsHash as Hash).digest('hex'), chars: this.docChars };
    }
    writeFileSync(join(this.dir, MANIFEST_FILE), `${JSON.stringify(ctx)}\n`);
    this.buf = Buffer.alloc(0);
    return ctx;
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    const written = this.chunks.map((c) => c.file);
    if (this.cur) written.push(this.cur.file);
    if (this.docsFd >= 0) written.push(DOCS_FILE);
    for (const fd of [this.fd, this.docsFd]) {
      try {
        if (fd >= 0) closeSync(fd);
      } catch {
        // Already failing: the generator's error is the one to report.
      }
    }
    this.fd = -1;
    this.docsFd = -1;
    this.cur = null;
    for (const f of written) rmSync(join(this.dir, f), { force: true });
    this.buf = Buffer.alloc(0);
  }
}

/** A streaming writer into `dir` (created if needed; existing chunk files of the same names are overwritten). */
export function createChunkWriter(dir: string, options: { chunkChars?: number } = {}): ChunkWriter {
  const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
  if (!Number.isInteger(chunkChars) || chunkChars < 2) throw new RangeError(`chunkChars must be an integer >= 2 (got ${chunkChars})`);
  return new Writer(dir, chunkChars);
}

/** Structural check (not the files): the shape a Task's `context` has when it is host-backed. */
export function isChunkedContext(x: unknown): x is ChunkedContext {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const c = x as Partial<ChunkedContext>;
  return c.kind === 'chunked' && typeof c.dir === 'string' && Array.isArray(c.chunks) && typeof c.length === 'number' && typeof c.bytes === 'number';
}

/** Checks the description itself: sums, names inside dir, counts. Throws ChunkedContextError('malformed'). */
export function checkChunkedShape(ctx: ChunkedContext): void {
  const bad = (why: string): never => {
    throw new ChunkedContextError('', 'malformed', `malformed chunked context (${ctx?.dir ?? '?'}): ${why}`);
  };
  if (!isChunkedContext(ctx)) bad('not a { kind: "chunked", dir, chunks, length, bytes } object');
  if (!isAbsolute(ctx.dir)) bad(`dir must be an absolute path (got ${JSON.stringify(ctx.dir)})`);
  let chars = 0;
  let bytes = 0;
  for (const c of ctx.chunks) {
    if (!c || typeof c.file !== 'string' || !/^[\w.-]+$/.test(c.file) || c.file.startsWith('.')) bad(`chunk file name ${JSON.stringify(c?.file)} is not a plain basename`);
    if (!Number.isInteger(c.chars) || !Number.isInteger(c.bytes) || c.chars < 0 || c.bytes < c.chars) bad(`chunk ${c.file} has impossible sizes`);
    if (typeof c.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(c.sha256)) bad(`chunk ${c.file} has no sha256`);
    if (c.bytes !== c.chars && (!Array.isArray(c.marks) || c.marks.length < 2)) bad(`non-ASCII chunk ${c.file} has no marks`);
    chars += c.chars;
    bytes += c.bytes;
  }
  if (chars !== ctx.length) bad(`chunk chars sum to ${chars}, length says ${ctx.length}`);
  if (bytes !== ctx.bytes) bad(`chunk bytes sum to ${bytes}, bytes says ${ctx.bytes}`);
  if (ctx.docs && (!Number.isInteger(ctx.docs.count) || ctx.docs.count < 0 || ctx.docs.file !== DOCS_FILE)) bad('docs index is malformed');
}

function sizeMismatch(path: string, expected: number, actual: number): ChunkedContextError {
  const what = actual < expected ? 'truncated' : 'grown';
  return new ChunkedContextError(path, 'size', `context file ${path} was ${what}: ${actual.toLocaleString('en-US')} bytes, the task recorded ${expected.toLocaleString('en-US')}`);
}

function shaMismatch(path: string, expected: string, actual: string): ChunkedContextError {
  return new ChunkedContextError(path, 'sha256', `context file ${path} changed since the task was generated (sha256 ${actual.slice(0, 16)}…, the task recorded ${expected.slice(0, 16)}…)`);
}

function files(ctx: ChunkedContext): { path: string; bytes: number; sha256: string }[] {
  const out = ctx.chunks.map((c) => ({ path: join(ctx.dir, c.file), bytes: c.bytes, sha256: c.sha256 }));
  if (ctx.docs) out.push({ path: join(ctx.dir, ctx.docs.file), bytes: ctx.docs.bytes, sha256: ctx.docs.sha256 });
  return out;
}

function checkSize(path: string, bytes: number): void {
  if (!existsSync(path)) throw new ChunkedContextError(path, 'missing', `context file ${path} is missing (the task's chunk files were deleted or moved)`);
  const size = statSync(path).size;
  if (size !== bytes) throw sizeMismatch(path, bytes, size);
}

/** Cheap check (names, sizes; no hashing): every file exists with its recorded size. */
export function checkChunkedFiles(ctx: ChunkedContext): void {
  checkChunkedShape(ctx);
  for (const f of files(ctx)) checkSize(f.path, f.bytes);
}

/**
 * Full check: every file exists, has its recorded size and sha256. Throws ChunkedContextError naming the first file
 * that differs. Synchronous (reads in 8 MiB pieces, ~1 s per GB); use verifyChunkedContextAsync on a server.
 */
export function verifyChunkedContext(ctx: ChunkedContext): void {
  checkChunkedFiles(ctx);
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files(ctx)) {
    const h = createHash('sha256');
    const fd = openSync(f.path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    const got = h.digest('hex');
    if (got !== f.sha256) throw shaMismatch(f.path, f.sha256, got);
  }
}

/** verifyChunkedContext without blocking the event loop. */
export async function verifyChunkedContextAsync(ctx: ChunkedContext): Promise<void> {
  checkChunkedFiles(ctx);
  for (const f of files(ctx)) {
    const h = createHash('sha256');
    for await (const piece of createReadStream(f.path, { highWaterMark: 8 << 20 })) h.update(piece as Buffer);
    const got = h.digest('hex');
    if (got !== f.sha256) throw shaMismatch(f.path, f.sha256, got);
  }
}

/** Reopens a directory written by a ChunkWriter (from its context.json); checks shape and sizes, not hashes. */
export function openChunkedContext(dir: string): ChunkedContext {
  const path = join(resolve(dir), MANIFEST_FILE);
  if (!existsSync(path)) throw new ChunkedContextError(path, 'missing', `${path} not found: not a chunked context directory`);
  let ctx: ChunkedContext;
  try {
    ctx = JSON.parse(readFileSync(path, 'utf8')) as ChunkedContext;
  } catch (err) {
    throw new ChunkedContextError(path, 'malformed', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  // The directory may have been moved since it was written: trust where it is now.
  ctx.dir = resolve(dir);
  checkChunkedFiles(ctx);
  return ctx;
}

/** A one-line description for previews and logs. */
export function describeChunkedContext(ctx: ChunkedContext): string {
  const gb = (ctx.bytes / 1e9).toFixed(2);
  return `host-backed context: ${ctx.length.toLocaleString('en-US')} chars (${gb} GB) in ${ctx.chunks.length} chunk file(s) under ${ctx.dir}${ctx.docs ? `, ${ctx.docs.count.toLocaleString('en-US')} documents` : ''}`;
}
