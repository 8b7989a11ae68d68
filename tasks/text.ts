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
