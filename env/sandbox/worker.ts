/**
 * Entry point of a sandbox worker process (forked by SandboxPool with `--no-node-snapshot --import tsx`).
 * Holds several isolates (one per session), a small LRU cache of contexts (ExternalCopy by key), and relays sub-calls to
 * the parent, which runs them. If this process dies, the parent marks its sessions dead and starts a new one.
 */
import ivm from 'isolated-vm';
import { readFileSync } from 'node:fs';
import { createSpare, IsolateSession, type SpareIsolate } from './isolate-session.ts';
import { HostContext } from './host-context.ts';
import type { ContextTransfer, ParentToWorker, WorkerConfig, WorkerToParent } from './protocol.ts';

if (typeof process.send !== 'function') {
  process.stderr.write('env/sandbox/worker.ts must be started by SandboxPool (child_process.fork)\n');
  process.exit(2);
}

const config: WorkerConfig = { cacheEntries: 8, cacheMB: 1024, spares: 2, ...safeJson(process.argv[2]) };

interface Entry {
  session: IsolateSession | null;
  closed: boolean;
  /** A host-backed context's reader (closed with the session). */
  host?: HostContext | null;
}
const sessions = new Map<number, Entry>();
const pendingSubs = new Map<number, { sid: number; resolve: (reply: string) => void }>();
let nextSubId = 0;
/** LRU: Map iteration order = least recently used first. */
const cache = new Map<string, { copy: ivm.ExternalCopy<string>; bytes: number; pins: number }>();
let cacheBytes = 0;

// ---- spare isolates: made while nothing runs here, for the memory limit of the latest open ----
const spares: SpareIsolate[] = [];
let spareMB: number | null = null;
/** Opens and cells in progress; spares are only made when this is 0. */
let busy = 0;
let filling = false;

/**
 * A reused isolate serves at most this many sessions, and only while its heap stays small: the previous session's
 * garbage is collected in the next one's time, and near the memory limit it would make that session's GC slower.
 */
const MAX_ISOLATE_USES = 32;
const recycleHeapCap = (memoryMB: number) => Math.min(16, memoryMB / 8) * 1024 * 1024;

function takeSpare(memoryMB: number): SpareIsolate | undefined {
  if (spareMB !== memoryMB) {
    // The sessions asked for another size: the old spares would never fit.
    spareMB = memoryMB;
    for (const sp of spares.splice(0)) sp.dispose();
    return undefined;
  }
  // Ready ones (with their context made) first, reused ones before new ones (those keep the stock).
  let i = spares.findIndex((sp) => sp.context !== null && sp.uses > 0);
  if (i < 0) i = spares.findIndex((sp) => sp.context !== null);
  return i >= 0 ? spares.splice(i, 1)[0] : spares.pop();
}

/**
 * A closed session's isolate joins the spares (its fresh context is made when idle), or is disposed. Reused isolates
 * may fill the stock up to twice its size: new ones are only made below `config.spares`, so a steady open/close
 * stream runs on reused isolates.
 */
function recycle(session: IsolateSession): void {
  const sp = config.spares > 0 ? session.recycle(MAX_ISOLATE_USES, recycleHeapCap(session.limits.memoryMB)) : (session.dispose(), null);
  if (!sp) return;
  if (sp.memoryMB === spareMB && spares.length < 2 * config.spares) spares.push(sp);
  else sp.dispose();
}

function idle(): void {
  if (--busy > 0) return;
  scheduleFill();
}

function scheduleFill(): void {
  if (busy > 0 || filling || spareMB === null) return;
  if (spares.length >= config.spares && spares.every((sp) => sp.context !== null)) return;
  filling = true;
  setImmediate(() => void fill());
}

async function fill(): Promise<void> {
  try {
    while (busy === 0 && spareMB !== null) {
      const bare = spares.findIndex((sp) => sp.context === null);
      if (bare >= 0) {
        // Out of the list while its context is made, so an open cannot take it half-ready.
        const sp = spares.splice(bare, 1)[0]!;
        try {
          sp.context = await sp.isolate.createContext();
        } catch {
          sp.dispose();
          continue;
        }
        if (sp.memoryMB === spareMB && spares.length < 2 * config.spares) spares.push(sp);
        else sp.dispose();
        continue;
      }
      if (spares.length >= config.spares) break;
      const mb = spareMB;
      const sp = await createSpare(mb);
      if (mb === spareMB && spares.length < config.spares) spares.push(sp);
      else sp.dispose();
    }
  } catch {
    /* an isolate could not be made now: opens make their own */
  } finally {
    filling = false;
  }
}

const SHUTDOWN_REPLY = JSON.stringify({ remaining: 0, budget: null, fatal: 'the sandbox is shutting down', results: [], texts: [] });

function send(m: WorkerToParent): void {
  try {
    process.send!(m);
  } catch {
    /* parent gone: 'disconnect' ends this process */
  }
}

function safeJson(s: string | undefined): Partial<WorkerConfig> {
  try {
    return s ? (JSON.parse(s) as Partial<WorkerConfig>) : {};
  } catch {
    return {};
  }
}

function settleSubs(sid: number): void {
  for (const [id, p] of pendingSubs) {
    if (p.sid === sid) {
      pendingSubs.delete(id);
      p.resolve(SHUTDOWN_REPLY);
    }
  }
}

/**
 * The context's ExternalCopy, from the cache when possible. The entry stays pinned until `unpin()`: sessions copy it
 * into their isolate after an await, and evicting (releasing) it meanwhile failed concurrent opens with
 * "Copy has been released".
 */
function loadContext(ctx: ContextTransfer): { copy: ivm.ExternalCopy<string>; release: boolean; cached: boolean; unpin: () => void } {
  if (ctx.source.kind === 'host') return { copy: new ivm.ExternalCopy(''), release: true, cached: false, unpin: () => undefined };
  if (ctx.key !== null) {
    const hit = cache.get(ctx.key);
    if (hit) {
      cache.delete(ctx.key);
      cache.set(ctx.key, hit); // most recently used
      hit.pins++;
      return { copy: hit.copy, release: false, cached: true, unpin: () => unpin(ctx.key!, hit) };
    }
  }
  const src = ctx.source;
  if (src.kind === 'cached') throw new CacheMiss();
  const text = src.kind === 'inline' ? src.text : readFileSync(src.path).toString(src.encoding);
  if (text.length !== ctx.chars) throw new Error(`context transfer is corrupt (${text.length} chars, expected ${ctx.chars})`);
  const copy = new ivm.ExternalCopy(text);
  if (ctx.key === null) return { copy, release: true, cached: false, unpin: () => undefined };
  const bytes = src.kind === 'file' && src.encoding === 'utf16le' ? text.length * 2 : text.length;
  const entry = { copy, bytes, pins: 1 };
  cache.set(ctx.key, entry);
  cacheBytes += bytes;
  evict();
  return { copy, release: false, cached: false, unpin: () => unpin(ctx.key!, entry) };
}

/** The parent sent only the key of a context this worker no longer holds: it resends the text. */
class CacheMiss extends Error {}

function unpin(key: string, entry: { pins: number }): void {
  entry.pins--;
  if (cache.get(key) === entry) evict();
}

/** Least recently used first; pinned entries (being copied into an isolate) are skipped until unpinned. */
function evict(): void {
  for (const [k, v] of cache) {
    if (cache.size <= 1 || (cache.size <= config.cacheEntries && cacheBytes <= config.cacheMB * 1024 * 1024)) break;
    if (v.pins > 0) continue;
    cache.delete(k);
    cacheBytes -= v.bytes;
    v.copy.release(); // isolates that received it keep their own copy
  }
}

async function onOpen(m: Extract<ParentToWorker, { t: 'open' }>): Promise<void> {
  busy++;
  try {
    await open(m);
  } finally {
    idle();
  }
}

async function open(m: Extract<ParentToWorker, { t: 'open' }>): Promise<void> {
  const t0 = performance.now();
  const entry: Entry = { session: null, closed: false };
  sessions.set(m.sid, entry);
  let cached = false;
  let spareUsed = false;
  let reused = false;
  let host: HostContext | null = null;
  try {
    if (m.ctx.source.kind === 'host') host = new HostContext(m.ctx.source.context);
    const ctx = loadContext(m.ctx);
    cached = ctx.cached;
    try {
      const spare = config.spares > 0 ? takeSpare(m.limits.memoryMB) : undefined;
      spareUsed = spare !== undefined;
      reused = (spare?.uses ?? 0) > 0;
      entry.session = await IsolateSession.create({
        spare,
        context: ctx.copy,
        docLayout: m.ctx.layout,
        seed: m.seed,
        limits: m.limits,
        subCallsUsed: m.subCallsUsed,
        subCall: (payload) =>
          new Promise<string>((resolve) => {
            if (entry.closed) return resolve(SHUTDOWN_REPLY);
            const id = ++nextSubId;
            pendingSubs.set(id, { sid: m.sid, resolve });
            send({ t: 'sub', sid: m.sid, id, payload });
          }),
        onStuck: () => send({ t: 'tainted', sid: m.sid }),
        host,
      });
      entry.host = host;
    } finally {
      if (ctx.release) ctx.copy.release();
      ctx.unpin();
    }
    if (entry.closed) {
      entry.session.dispose();
      host?.close();
      sessions.delete(m.sid);
    }
    send({ t: 'opened', sid: m.sid, error: null, cached, ms: performance.now() - t0, spare: spareUsed, reused });
  } catch (e) {
    host?.close();
    sessions.delete(m.sid);
    if (e instanceof CacheMiss) send({ t: 'opened', sid: m.sid, error: 'context not cached', cached: false, ms: performance.now() - t0, miss: true });
    else send({ t: 'opened', sid: m.sid, error: e instanceof Error ? e.message : String(e), cached, ms: performance.now() - t0 });
  }
}

async function onRun(m: Extract<ParentToWorker, { t: 'run' }>): Promise<void> {
  busy++;
  try {
    await run(m);
  } finally {
    idle();
  }
}

async function run(m: Extract<ParentToWorker, { t: 'run' }>): Promise<void> {
  const entry = sessions.get(m.sid);
  if (!entry || !entry.session) {
    send({
      t: 'result',
      sid: m.sid,
      cell: m.cell,
      result: { output: '', error: 'Error: the sandbox is gone; its variables are lost', dead: true, stopReason: 'worker_crash', durationMs: 0 },
    });
    return;
  }
  const result = await entry.session.run(m.code, m.limits);
  if (result.dead) {
    settleSubs(m.sid);
    entry.host?.close();
    sessions.delete(m.sid);
  }
  send({ t: 'result', sid: m.sid, cell: m.cell, result });
}

function onClose(sid: number): void {
  const entry = sessions.get(sid);
  if (entry) {
    entry.closed = true;
    if (entry.session) recycle(entry.session);
    entry.host?.close();
    sessions.delete(sid);
    scheduleFill();
  }
  settleSubs(sid);
  send({ t: 'closed', sid });
}

process.on('message', (raw: unknown) => {
  const m = raw as ParentToWorker;
  switch (m?.t) {
    case 'open':
      void onOpen(m);
      break;
    case 'run':
      void onRun(m);
      break;
    case 'subres': {
      const p = pendingSubs.get(m.id);
      if (p) {
        pendingSubs.delete(m.id);
        p.resolve(m.reply);
      }
      break;
    }
    case 'close':
      onClose(m.sid);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.on('unhandledRejection', (e) => {
  process.stderr.write(`sandbox worker: unhandled rejection: ${e instanceof Error ? e.stack : String(e)}\n`);
});
send({ t: 'ready', pid: process.pid });
