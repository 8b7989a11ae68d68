/**
 * Regex search over a host-backed context, block by block (see tasks/chunked.ts). Runs in a worker thread of the
 * sandbox worker process (host-context.ts starts it from an esbuild bundle of this file), so that a catastrophic regex
 * can be cut off: the thread is terminated at the cell's deadline, which interrupts even a backtracking regex.
 *
 * Each block of BLOCK chars is searched with LOOKBEHIND chars before it (so `^`, `\b` and lookbehinds see their left
 * context) and OVERLAP chars after it (a match that starts in the block may extend up to OVERLAP chars past its end);
 * only matches starting inside the block count, so none is reported twice. A match longer than OVERLAP that crosses a
 * block boundary may be missed (documented limit), and `$` without the m flag only matches at the very end.
 */
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ChunkedReader } from '../../tasks/chunked-reader.ts';
import type { ChunkedContext } from '../../tasks/chunked.ts';

export const SEARCH_BLOCK = 1 << 23;
export const SEARCH_OVERLAP = 1 << 16;
const LOOKBEHIND = 256;

export interface SearchRequest {
  source: string;
  flags: string;
  from: number;
  to: number;
  limit: number;
  /** Chars of surrounding text on each side of a match. */
  window: number;
  /** Longest match text / capture returned (longer ones are cut, `truncated: true`). */
  maxMatchChars: number;
  /** Chars of all returned text together (matches, groups, before/after); the search stops there, `limited`. */
  maxReplyChars?: number;
}

export interface SearchMatch {
  index: number;
  end: number;
  line: number;
  match: string;
  groups: (string | null)[];
  before: string;
  after: string;
  truncated?: boolean;
}

export interface SearchResult {
  matches: SearchMatch[];
  /**
   * True when the search stopped before `to`: `limit` matches were found, or the next match would have taken the
   * reply past `maxReplyChars` (there may be more: search again from the last match's end).
   */
  limited: boolean;
  scannedChars: number;
}

/** Builds the regex (global, no sticky); throws SyntaxError with the engine's message for a bad pattern or flag. */
export function compileSearch(source: string, flags: string): RegExp {
  const clean = flags.replace(/[gy]/g, '');
  return new RegExp(source, `${clean}g`);
}

const cap = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

export function searchChunked(reader: ChunkedReader, req: SearchRequest): SearchResult {
  const re = compileSearch(req.source, req.flags);
  const matches: SearchMatch[] = [];
  const maxReply = req.maxReplyChars ?? Number.POSITIVE_INFINITY;
  let replyChars = 0;
  const to = Math.min(req.to, reader.length);
  let scanned = 0;
  for (let s = Math.max(0, req.from); s < to; s += SEARCH_BLOCK) {
    const e = Math.min(s + SEARCH_BLOCK, to);
    const a = Math.max(0, s - LOOKBEHIND);
    const b = Math.min(to, e + SEARCH_OVERLAP);
    const text = reader.slice(a, b);
    re.lastIndex = s - a;
    // Line numbers: counted forward from the previous match (or from the block start, looked up once per block).
    let linePos = -1;
    let line = 0;
    for (;;) {
      const m = re.exec(text);
      if (m === null) break;
      const at = a + m.index;
      if (at >= e) break;
      if (m[0].length === 0) re.lastIndex = m.index + 1; // empty matches must not loop
      // `$` (no m flag) at the end of a block that is not the end of the context is not the end of the input.
      if (!re.multiline && b < reader.length && m.index + m[0].length === text.length && /\$/.test(req.source)) continue;
      const end = at + m[0].length;
      if (linePos < 0) {
        line = reader.lineOf(s);
        linePos = s - a;
      }
      for (let p = text.indexOf('\n', linePos); p !== -1 && p < m.index; p = text.indexOf('\n', p + 1)) line++;
      linePos = m.index;
      const rel = m.index;
      const relEnd = rel + m[0].length;
      const groups = m.slice(1).map((g) => (g === undefined ? null : cap(g, req.maxMatchChars)));
      const hit: SearchMatch = {
        index: at,
        end,
        line,
        match: cap(m[0], req.maxMatchChars),
        groups,
        before: rel >= req.window || a === 0 ? text.slice(Math.max(0, rel - req.window), rel) : reader.slice(Math.max(0, at - req.window), at),
        after: relEnd + req.window <= text.length || b === reader.length ? text.slice(relEnd, relEnd + req.window) : reader.slice(end, Math.min(reader.length, end + req.window)),
      };
      if (m[0].length > req.maxMatchChars || m.slice(1).some((g) => g !== undefined && g.length > req.maxMatchChars)) hit.truncated = true;
      // Counted before it is kept: a match (with its groups) that would take the reply past the cap is not returned.
      let size = hit.match.length + hit.before.length + hit.after.length + 64;
      for (const g of groups) size += g === null ? 4 : g.length + 4;
      if (replyChars + size > maxReply) return { matches, limited: true, scannedChars: scanned + (at - s) };
      replyChars += size;
      matches.push(hit);
      if (matches.length >= req.limit) return { matches, limited: true, scannedChars: scanned + (at - s) };
    }
    scanned += e - s;
  }
  return { matches, limited: false, scannedChars: scanned };
}

// ---- thread entry: a reader per search over the session's open descriptors (msg.fds, owned and closed by the
// session's HostContext): the thread never holds a file itself — a cached fd would keep a deleted temp context's disk
// space for the thread's lifetime, and a thread terminated mid-search could not close what it opened ----
if (!isMainThread && (workerData as { rlmHostSearch?: boolean } | null)?.rlmHostSearch === true && parentPort) {
  const port = parentPort;
  // This thread's Linux tid, so the host can read its CPU time from /proc (-1 elsewhere: wall time is used instead).
  let tid = -1;
  try {
    tid = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
  } catch {
    tid = -1;
  }
  port.postMessage({ hello: true, tid });
  port.on('message', (msg: { id: number; ctx: ChunkedContext; req: SearchRequest; fds: number[] }) => {
    let r: ChunkedReader | null = null;
    try {
      r = new ChunkedReader(msg.ctx, { fds: msg.fds });
      port.postMessage({ id: msg.id, ok: true, result: searchChunked(r, msg.req) });
    } catch (e) {
      const err = e as Error;
      port.postMessage({ id: msg.id, ok: false, name: err?.name ?? 'Error', message: err?.message ?? String(e) });
    } finally {
      r?.close();
    }
  });
}
