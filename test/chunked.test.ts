// The chunked-context format (tasks/chunked.ts) and its range reader (tasks/chunked-reader.ts).
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkedContextError, createChunkWriter, isChunkedContext, openChunkedContext, verifyChunkedContext, verifyChunkedContextAsync } from '../tasks/chunked.ts';
import { ChunkedReader } from '../tasks/chunked-reader.ts';
import { taskHash } from '../tasks/hash.ts';

const root = mkdtempSync(join(tmpdir(), 'rlm-chunked-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, `c${n++}`);

/** Deterministic mixed text: ASCII lines, with optional non-ASCII (2-, 3- and 4-byte UTF-8, surrogate pairs). */
function sampleText(chars: number, unicode: boolean): string {
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < chars; i++) {
    const p = unicode && i % 7 === 3 ? `é✓😀 line ${i}\n` : `line ${i} of the sample text.\n`;
    parts.push(p);
    len += p.length;
  }
  return parts.join('');
}

function write(text: string, chunkChars: number, pieces = 37): ReturnType<ReturnType<typeof createChunkWriter>['close']> {
  const w = createChunkWriter(dir(), { chunkChars });
  for (let i = 0; i < text.length; i += pieces) w.write(text.slice(i, i + pieces));
  return w.close();
}

describe('chunked contexts', () => {
  for (const unicode of [false, true]) {
    it(`round-trips text across chunk and block boundaries (${unicode ? 'non-ASCII' : 'ASCII'})`, () => {
      const text = sampleText(3_000_000, unicode);
      const ctx = write(text, 1_100_000, 4099);
      expect(isChunkedContext(ctx)).toBe(true);
      expect(ctx.length).toBe(text.length);
      expect(ctx.bytes).toBe(Buffer.byteLength(text, 'utf8'));
      expect(ctx.chunks.length).toBeGreaterThan(2);
      const joined = ctx.chunks.map((c) => readFileSync(join(ctx.dir, c.file), 'utf8')).join('');
      expect(joined).toBe(text);
      verifyChunkedContext(ctx);
      const r = new ChunkedReader(ctx);
      for (const [a, b] of [[0, 10], [1_099_990, 1_100_020], [2_999_000, 3_100_000], [123_456, 1_654_321], [5, 5]]) {
        expect(r.slice(a, b)).toBe(text.slice(a, b));
      }
      const newlines = text.split('\n').length - 1;
      expect(r.newlines).toBe(newlines);
      const starts = [0];
      for (let p = text.indexOf('\n'); p !== -1; p = text.indexOf('\n', p + 1)) starts.push(p + 1);
      for (const i of [0, 1, 17, 40_000, newlines - 1, newlines]) expect(r.lineStart(i)).toBe(starts[i]);
      expect(r.lineOf(starts[40_000] + 3)).toBe(40_000);
      r.close();
      expect(openChunkedContext(ctx.dir)).toEqual(ctx);
    });
  }

  it('never splits a surrogate pair between chunks', () => {
    const text = '😀'.repeat(10);
    const ctx = write(text, 3, 1);
    for (const c of ctx.chunks) expect(readFileSync(join(ctx.dir, c.file), 'utf8')).not.toContain('\uFFFD');
    expect(new ChunkedReader(ctx).slice(0, ctx.length)).toBe(text);
  });

  it('records documents and hashes chunk hashes into the task id', () => {
    const w = createChunkWriter(dir(), { chunkChars: 64 });
    w.writeDoc({ id: 'd1', title: 'One', text: 'alpha beta' });
    w.writeDoc({ id: 'd2', title: 'Two', text: 'gamma' });
    const ctx = w.close();
    expect(ctx.docs?.count).toBe(2);
    const lines = readFileSync(join(ctx.dir, 'docs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[1]).toEqual(['d2', 'Two', 12, 17]);
    const base = { family: 'x', seed: 1, options: {}, question: 'q', answer: 'a' };
    const id = taskHash({ ...base, context: ctx });
    expect(taskHash({ ...base, context: { ...ctx, chunks: [{ ...ctx.chunks[0], sha256: '0'.repeat(64) }] } })).not.toBe(id);
  });

  it('verification names the truncated, grown, changed or missing file', async () => {
    const ctx = write(sampleText(5000, false), 2000);
    const f = join(ctx.dir, ctx.chunks[1].file);
    const original = readFileSync(f);
    truncateSync(f, 100);
    expect(() => verifyChunkedContext(ctx)).toThrow(/truncated/);
    expect(() => verifyChunkedContext(ctx)).toThrow(ctx.chunks[1].file);
    writeFileSync(f, original);
    appendFileSync(f, 'x');
    expect(() => verifyChunkedContext(ctx)).toThrow(/grown/);
    const changed = Buffer.from(original);
    changed[10] ^= 1;
    writeFileSync(f, changed);
    await expect(verifyChunkedContextAsync(ctx)).rejects.toThrow(/changed since the task was generated/);
    try {
      verifyChunkedContext(ctx);
    } catch (e) {
      expect(e).toBeInstanceOf(ChunkedContextError);
      expect((e as ChunkedContextError).code).toBe('sha256');
      expect((e as ChunkedContextError).file).toBe(f);
    }
    rmSync(f);
    expect(() => verifyChunkedContext(ctx)).toThrow(/missing/);
  });
});

describe('ChunkWriter.writeAscii', () => {
  it('gives the same files as write(), mixed with write() in any order', () => {
    const text = sampleText(2_500_000, false);
    const a = write(text, 1_000_000, 100_003);
    const w = createChunkWriter(dir(), { chunkChars: 1_000_000 });
    let i = 0;
    for (let k = 0; i < text.length; k++) {
      const n = [7, 300_001, 1_048_576, 13][k % 4];
      const piece = text.slice(i, i + n);
      if (k % 3 === 1) w.write(piece);
      else w.writeAscii(Buffer.from(piece, 'latin1'));
      i += n;
    }
    const b = w.close();
    expect(b.chunks.map((c) => [c.chars, c.sha256, c.nl])).toEqual(a.chunks.map((c) => [c.chars, c.sha256, c.nl]));
    expect(new ChunkedReader(b).slice(999_990, 1_000_010)).toBe(text.slice(999_990, 1_000_010));
  });
});

describe('a kept contextDir: reuse verifies the line index and char↔byte marks too', () => {
  it('a task.json whose nl or marks were changed (sha256s intact) is not reused; the files are regenerated', async () => {
    const { generateTask } = await import('../tasks/index.ts');
    const { reuseHostTask, TASK_FILE } = await import('../tasks/storage.ts');
    const { verifyTaskId } = await import('../tasks/hash.ts');
    const contextDir = dir();
    const opts = { seed: 4, contextTokens: 3_000, contextStorage: 'host' as const, contextDir };
    const task = generateTask('sniah', opts);
    expect(isChunkedContext(task.context)).toBe(true);
    const ctxDir = (task.context as { dir: string }).dir;
    const path = join(ctxDir, TASK_FILE);
    const good = readFileSync(path, 'utf8');
    expect(reuseHostTask(ctxDir, task.options)?.id).toBe(task.id);
    const tamper = (edit: (c: { nl?: number[]; marks?: number[] }) => void) => {
      const t = JSON.parse(good);
      edit(t.context.chunks[0]);
      writeFileSync(path, JSON.stringify(t));
      expect(verifyTaskId(t)).toBe(false);
      expect(reuseHostTask(ctxDir, task.options)).toBeNull();
    };
    tamper((c) => {
      c.nl![0] += 1;
    });
    tamper((c) => {
      c.marks = [0, 0, 5, 9];
    });
    // Generating again over the tampered file gives the genuine task back (and rewrites task.json).
    expect(generateTask('sniah', opts).id).toBe(task.id);
    expect(JSON.parse(readFileSync(path, 'utf8')).context.chunks[0].nl).toEqual(JSON.parse(good).context.chunks[0].nl);
  });
});

describe('ChunkWriter.abort', () => {
  it('closes the files and removes what it wrote, nothing else', () => {
    const d = dir();
    const w = createChunkWriter(d, { chunkChars: 1000 });
    writeFileSync(join(d, 'keep.txt'), 'mine');
    w.write('x'.repeat(2500));
    w.writeDoc({ id: 'a', title: 't', text: 'doc' });
    w.abort();
    expect(readdirSync(d)).toEqual(['keep.txt']);
    w.abort(); // idempotent
    expect(() => w.write('y')).toThrow(/after close/);
  });
});
