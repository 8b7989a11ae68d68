/**
 * Reading a chunked context by range (see chunked.ts for the format): `slice(a, b)` reads only the bytes of [a, b),
 * `lineStart(i)` finds where line i starts from the per-block newline counts, `forEachBlock` streams the text in
 * block-aligned pieces (for search). Synchronous reads (positional `readSync`): callers keep sizes bounded.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_CHARS, ChunkedContextError, type ChunkedContext } from './chunked.ts';

interface Block {
  chunk: number;
  /** Offsets of the block's start: within its chunk (chars, bytes) and in the whole context (chars). */
  char: number;
  byte: number;
  global: number;
  chars: number;
  /** Newlines before this block in the whole context. */
  nlBefore: number;
  nl: number;
}

export class ChunkedReader {
  readonly ctx: ChunkedContext;
  readonly length: number;
  /** Newlines in the whole context (lines = newlines + 1). */
  readonly newlines: number;
  private readonly blocks: Block[] = [];
  private readonly chunkStart: number[] = [];
  private readonly fds: (number | null)[];
  private buf = Buffer.allocUnsafe(1 << 16);

  /** The fds were given (options.fds): their owner closes them, not this reader. */
  private readonly borrowed: boolean;

  /**
   * `options.fds`: already-open descriptors of the chunk files, one per chunk, owned by the caller (a search thread
   * reads through its session's descriptors, so it never holds a file open past the session).
   */
  constructor(ctx: ChunkedContext, options: { fds?: readonly number[] } = {}) {
    this.ctx = ctx;
    this.length = ctx.length;
    if (options.fds && options.fds.length !== ctx.chunks.length) throw new RangeError(`ChunkedReader: ${options.fds.length} fds for ${ctx.chunks.length} chunk files`);
    this.borrowed = options.fds !== undefined;
    this.fds = options.fds ? [...options.fds] : ctx.chunks.map(() => null);
    const blockChars = ctx.blockChars ?? BLOCK_CHARS;
    let global = 0;
    let nlBefore = 0;
    ctx.chunks.forEach((c, ci) => {
      this.chunkStart.push(global);
      const nl = c.nl ?? null;
      if (c.marks && c.marks.length >= 2) {
        for (let k = 0; k < c.marks.length; k += 2) {
          const end = k + 2 < c.marks.length ? c.marks[k + 2] : c.chars;
          this.pushBlock({ chunk: ci, char: c.marks[k], byte: c.marks[k + 1], global: global + c.marks[k], chars: end - c.marks[k], nlBefore, nl: 0 });
          const n = nl ? (nl[k / 2] ?? 0) : this.countNewlines(ci, c.marks[k], end);
          this.blocks[this.blocks.length - 1].nl = n;
          nlBefore += n;
        }
      } else if (c.bytes === c.chars) {
        let k = 0;
        for (let at = 0; at < c.chars || (at === 0 && c.chars === 0); at += blockChars, k++) {
          const chars = Math.min(blockChars, c.chars - at);
          const n = nl ? (nl[k] ?? 0) : this.countNewlines(ci, at, at + chars);
          this.pushBlock({ chunk: ci, char: at, byte: at, global: global + at, chars, nlBefore, nl: n });
          nlBefore += n;
          if (c.chars === 0) break;
        }
      } else {
        throw new ChunkedContextError(join(ctx.dir, c.file), 'malformed', `non-ASCII chunk ${c.file} has no marks`);
      }
      global += c.chars;
    });
    this.newlines = nlBefore;
  }

  private pushBlock(b: Block): void {
    this.blocks.push(b);
  }

  /** Opens every chunk file (if not open yet) and returns the descriptors; they stay this reader's (close() closes them). */
  openAll(): number[] {
    return this.ctx.chunks.map((_, i) => this.fd(i));
  }

  /** Closes the files (the reader reopens them if used again). Borrowed descriptors are left to their owner. */
  close(): void {
    if (this.borrowed) return;
    this.fds.forEach((fd, i) => {
      if (fd !== null) closeSync(fd);
      this.fds[i] = null;
    });
  }

  private fd(ci: number): number {
    let fd = this.fds[ci];
    if (fd === null) {
      fd = openSync(join(this.ctx.dir, this.ctx.chunks[ci].file), 'r');
      this.fds[ci] = fd;
    }
    return fd;
  }

  private readBytes(ci: number, from: number, to: number): Buffer {
    const n = to - from;
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    let off = 0;
    while (off < n) {
      const r = readSync(this.fd(ci), this.buf, off, n - off, from + off);
      if (r === 0) {
        const c = this.ctx.chunks[ci];
        throw new ChunkedContextError(join(this.ctx.dir, c.file), 'size', `context file ${join(this.ctx.dir, c.file)} is shorter than recorded (${c.bytes} bytes): it was truncated`);
      }
      off += r;
    }
    return this.buf.subarray(0, n);
  }

  /** Text of chunk `ci` between chunk-local char offsets [a, b). */
  private readChunk(ci: number, a: number, b: number): string {
    const c = this.ctx.chunks[ci];
    if (b <= a) return '';
    if (c.bytes === c.chars) return this.readBytes(ci, a, b).toString('latin1');
    // Non-ASCII: decode from the block holding `a` to the block boundary at or after `b`.
    const m = c.marks as number[];
    let lo = 0;
    let hi = m.length / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (m[mid * 2] <= a) lo = mid;
      else hi = mid - 1;
    }
    let e = lo;
    while (e < m.length / 2 && m[e * 2] < b) e++;
    const endByte = e < m.length / 2 ? m[e * 2 + 1] : c.bytes;
    const text = this.readBytes(ci, m[lo * 2 + 1], endByte).toString('utf8');
    return text.slice(a - m[lo * 2], b - m[lo * 2]);
  }

  private countNewlines(ci: number, a: number, b: number): number {
    const s = this.readChunk(ci, a, b);
    let n = 0;
    for (let p = s.indexOf('\n'); p !== -1; p = s.indexOf('\n', p + 1)) n++;
    return n;
  }

  /** Chunk index holding global offset `at` (the last chunk for at === length). */
  private chunkAt(at: number): number {
    let lo = 0;
    let hi = this.chunkStart.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunkStart[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The text of [a, b) (clamped to [0, length]); no size limit here: callers bound it. */
  slice(a: number, b: number): string {
    a = Math.max(0, Math.min(this.length, a));
    b = Math.max(a, Math.min(this.length, b));
    if (a === b) return '';
    const parts: string[] = [];
    for (let ci = this.chunkAt(a); ci < this.ctx.chunks.length && this.chunkStart[ci] < b; ci++) {
      const s = this.chunkStart[ci];
      parts.push(this.readChunk(ci, Math.max(0, a - s), Math.min(this.ctx.chunks[ci].chars, b - s)));
    }
    return parts.length === 1 ? parts[0] : parts.join('');
  }

  /** Char offset where line `i` (0-based) starts; `length` + 1 is never returned: i must be ≤ newlines. */
  lineStart(i: number): number {
    if (i <= 0) return 0;
    if (i > this.newlines) throw new RangeError(`line ${i} does not exist (the context has ${this.newlines + 1} lines)`);
    // The block holding the i-th newline: last block with nlBefore < i.
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid].nlBefore < i) lo = mid;
      else hi = mid - 1;
    }
    const b = this.blocks[lo];
    const text = this.readChunk(b.chunk, b.char, b.char + b.chars);
    let need = i - b.nlBefore;
    let p = -1;
    while (need > 0) {
      p = text.indexOf('\n', p + 1);
      need--;
    }
    return b.global + p + 1;
  }

  /** Char offset of the first "\n" at or after `from`, or -1; scans at most `maxChars` chars. */
  indexOfNewline(from: number, maxChars: number): number {
    const step = 1 << 16;
    for (let at = from; at < this.length && at < from + maxChars; at += step) {
      const s = this.slice(at, Math.min(at + step, from + maxChars));
      const k = s.indexOf('\n');
      if (k !== -1) return at + k;
    }
    return -1;
  }

  /** Line number (0-based) of char offset `at`. */
  lineOf(at: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid].global <= at) lo = mid;
      else hi = mid - 1;
    }
    const b = this.blocks[lo];
    const s = this.slice(b.global, at);
    let n = b.nlBefore;
    for (let p = s.indexOf('\n'); p !== -1; p = s.indexOf('\n', p + 1)) n++;
    return n;
  }
}
