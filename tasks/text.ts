/**
 * TextBuilder: assembles a large string from many small pieces.
 *
 * Why not `pieces.push(...)` + one `join`: a 10M-token context is ~3.5M pieces; an array that large costs ~30 MB of
 * references and V8's join over it is slow (~300 ms). Joining every few thousand pieces into a chunk keeps the piece
 * array small and cache-friendly and makes the final join cheap, while still copying every character only about twice.
 */
const CHUNK_PIECES = 2048;

export class TextBuilder {
  private parts: string[] = [];
  private readonly chunks: string[] = [];
  /** Characters pushed so far (= the offset where the next piece starts). */
  length = 0;

  push(piece: string): void {
    this.parts.push(piece);
    this.length += piece.length;
    if (this.parts.length >= CHUNK_PIECES) this.flush();
  }

  /** True when the text ends with exactly this last piece (pieces are compared, not characters). */
  lastPieceIs(piece: string): boolean {
    return this.parts.length > 0 ? this.parts[this.parts.length - 1] === piece : false;
  }

  /** Removes the last piece if it is `piece`; returns whether it did. */
  popPiece(piece: string): boolean {
    if (!this.lastPieceIs(piece)) return false;
    this.parts.pop();
    this.length -= piece.length;
    return true;
  }

  /** The whole text. The builder stays usable (further pushes append after it). */
  toString(): string {
    const s = this.chunks.join('') + this.parts.join('');
    this.chunks.length = 0;
    this.chunks.push(s);
    this.parts = [];
    return s;
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    // Keep the last piece loose so that popPiece can still remove a trailing separator.
    const last = this.parts.pop() as string;
    if (this.parts.length > 0) this.chunks.push(this.parts.join(''));
    this.parts = [last];
  }
}

/** What FillerWriter and the generators write into: TextBuilder (pieces joined into a string) or ByteTextBuilder. */
export interface TextSink {
  /** Characters (UTF-16 code units) pushed so far. */
  length: number;
  push(piece: string): void;
  lastPieceIs(piece: string): boolean;
  popPiece(piece: string): boolean;
}

/**
 * ByteTextBuilder: assembles text as UTF-8 bytes in one growing buffer — no piece arrays, no joins, no garbage — for the
 * generators whose output is large (sniah). Pure-ASCII pieces (all of the filler) are copied char by char; any other
 * piece goes through the UTF-8 encoder. Two ways out:
 *   - in memory: `toString()` decodes the buffer once (latin1 when all ASCII: a plain copy);
 *   - streaming: with `onFlush`, full buffers are handed over (e.g. to a ChunkWriter) and the text never exists as a
 *     whole; only the last piece is kept back so `popPiece` still works.
 * `bytes()` exposes the UTF-8 bytes (e.g. to hash them without re-encoding).
 */
export class ByteTextBuilder implements TextSink {
  length = 0;
  private buf: Buffer;
  private pos = 0;
  private ascii = true;
  private lastPiece: string | null = null;
  private lastStart = 0;
  private readonly onFlush: ((bytes: Buffer, ascii: boolean) => void) | null;
  /** Bytes handed to onFlush so far. */
  private flushedBytes = 0;

  constructor(options: { initialBytes?: number; onFlush?: (bytes: Buffer, ascii: boolean) => void } = {}) {
    this.onFlush = options.onFlush ?? null;
    this.buf = Buffer.allocUnsafe(Math.max(1024, Math.ceil(options.initialBytes ?? 1 << 16)));
  }

  /** True while every piece so far was ASCII (then bytes = chars). */
  get isAscii(): boolean {
    return this.ascii;
  }

  /** UTF-8 bytes written so far (flushed ones included). */
  get byteLength(): number {
    return this.flushedBytes + this.pos;
  }

  push(piece: string): void {
    const n = piece.length;
    if (this.pos + n * 3 > this.buf.length) this.makeRoom(n * 3);
    this.lastStart = this.pos;
    this.lastPiece = piece;
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = piece.charCodeAt(i);
      if (c >= 0x80) {
        this.ascii = false;
        p += b.write(i === 0 ? piece : piece.slice(i), p, 'utf8');
        break;
      }
      b[p++] = c;
    }
    this.pos = p;
    this.length += n;
  }

  lastPieceIs(piece: string): boolean {
    return this.lastPiece !== null && this.lastPiece === piece;
  }

  /** Removes the last piece if it is `piece` (one level: the piece before it cannot be popped). */
  popPiece(piece: string): boolean {
    if (!this.lastPieceIs(piece)) return false;
    this.pos = this.lastStart;
    this.length -= piece.length;
    this.lastPiece = null;
    return true;
  }

  private makeRoom(need: number): void {
    if (this.onFlush) {
      // Hand over everything but the last piece, then move that piece to the front.
      const keep = this.lastPiece !== null ? this.lastStart : this.pos;
      if (keep > 0) {
        this.onFlush(this.buf.subarray(0, keep), this.ascii);
        this.flushedBytes += keep;
        this.buf.copyWithin(0, keep, this.pos);
        this.pos -= keep;
        this.lastStart -= keep;
      }
      if (this.pos + need <= this.buf.length) return;
    }
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** Streaming: hands over what is left. Afterwards the builder is empty (length keeps counting the chars written). */
  flush(): void {
    if (!this.onFlush) throw new Error('ByteTextBuilder.flush() needs onFlush');
    if (this.pos > 0) this.onFlush(this.buf.subarray(0, this.pos), this.ascii);
    this.flushedBytes += this.pos;
    this.pos = 0;
    this.lastPiece = null;
  }

  /** The UTF-8 bytes held (in memory: the whole text). A view, valid until the next push. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** The whole text (in-memory use). */
  toString(): string {
    if (this.onFlush) throw new Error('ByteTextBuilder.toString() on a streaming builder');
    return this.buf.toString(this.ascii ? 'latin1' : 'utf8', 0, this.pos);
  }
}
