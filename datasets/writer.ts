/**
 * RunWriter: buffers finished episodes and writes them as Parquet part files, crash-safely, with a manifest.
 *
 *     const w = await RunWriter.open('runs/x', { runId: 'x', manifest: { config, seed, endpoints }, flushEvery: 16 });
 *     for await (const ep of episodes) await w.add(ep);   // flushes every 16 episodes
 *     await w.close();                                     // or close({ status: 'interrupted' }) on SIGINT
 *
 * Each flush writes `steps/part-NNNNN.parquet` then `episodes/part-NNNNN.parquet` and rewrites manifest.json (all three
 * to temp names fsynced in parallel; steps renamed and its directory fsynced before the episodes rename, the commit
 * point). Parts are pipelined: add() returns before its part is committed (at most one part in flight), flush() and
 * close() wait for everything. Reopening a directory resumes it: numbering continues after the
 * existing parts, previous parts stay in the manifest, parts written but not yet in the manifest (crash after rename) are
 * adopted, orphan steps parts and temp files are removed.
 */
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open as fsOpen, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { EpisodeRecord } from '../rollouts/types.ts';
import {
  EPISODES_DIR,
  LOCK_FILE,
  MANIFEST_FILE,
  STEPS_DIR,
  assertConsistent,
  listRunParts,
  partName,
  sha256Hex,
} from './layout.ts';
import {
  type Manifest,
  type ManifestInput,
  type PartCounts,
  type PartInfo,
  type RunStatus,
  emptyCounts,
  isSecretKey,
  newManifest,
  newSession,
  readManifestFile,
  redactUrl,
  scrubSecrets,
  serializeManifest,
  totalCounts,
} from './manifest.ts';
import { DatasetError, decodeParquet, encodeRowsFast, fsyncDir, isTempName, removeQuietly, writeFileAtomic, writeTempSynced } from './parquet.ts';
import { EPISODES_SCHEMA, type EpisodeRow, SCHEMA_VERSION, STEPS_SCHEMA, type StepRow, episodeRow, rowsFromTable, stepRows } from './schema.ts';

export interface RunWriterOptions {
  /** Run id stamped on every row. Default: the existing manifest's run_id when resuming, else the directory's name. */
  runId?: string;
  /** What the manifest records about the run (command, config, seed, shard, endpoints, …). */
  manifest?: ManifestInput;
  /** Flush a part every K buffered episodes. Default 16. */
  flushEvery?: number;
}

export interface CloseOptions {
  /** Default 'completed'. Use 'interrupted' on SIGINT/SIGTERM, 'failed' on a fatal error. */
  status?: Exclude<RunStatus, 'running'>;
  /** Stored as manifest.summary (scrubbed), e.g. accuracy, mean reward, throughput. */
  summary?: Record<string, unknown>;
  /** Any other key is merged into manifest.extra (scrubbed), e.g. `interrupted_episodes: [...]`. */
  [extra: string]: unknown;
}

/** A part encoded and waiting for its commit. */
interface Encoded {
  batch: Buffered[];
  index: number;
  counts: PartCounts;
  epRows: number;
  stRows: number;
  epBytes: Uint8Array;
  stBytes: Uint8Array;
  epSha: string;
  stSha: string;
}

/** One added episode: its row first, then the rows of its rlm_query children (so a part never splits a tree). */
interface Buffered {
  episodes: EpisodeRow[];
  steps: StepRow[];
}

const openDirs = new Set<string>();

function nowIso(): string {
  return new Date().toISOString();
}

/** Is `pid` a live process that could be a writer? (On Linux also checks it is a node process, against pid reuse.) */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|tsx|bun|deno/i.test(cmd);
  } catch {
    return true; // no /proc: assume alive
  }
}

function countEpisodes(rows: readonly Pick<EpisodeRow, 'correct' | 'terminated' | 'truncated' | 'error' | 'reward_error' | 'stop_reason'>[], steps: number): PartCounts {
  const c = emptyCounts();
  c.episodes = rows.length;
  c.steps = steps;
  for (const r of rows) {
    if (r.correct) c.correct++;
    if (r.terminated) c.terminated++;
    if (r.truncated) c.truncated++;
    if (r.error !== null) c.errors++;
    if (r.reward_error !== null) c.reward_errors++;
    const k = String(r.stop_reason);
    c.by_stop_reason[k] = (c.by_stop_reason[k] ?? 0) + 1;
  }
  return c;
}

/** sha256 hex of a part file, computed on the thread pool (WebCrypto) so the event loop keeps producing the next part. */
async function sha256Async(data: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

/** Recent scrubJsonText results: a run sends the same sampling parameters for most episodes. */
const scrubbedTexts = new Map<string, string>();

/** sampling_params is JSON text: redact secret-named keys if any slipped in (re-serialized only then). */
function scrubJsonText(text: string): string {
  const hit = scrubbedTexts.get(text);
  if (hit !== undefined) return hit;
  const out = scrubJsonTextUncached(text);
  if (scrubbedTexts.size >= 256) scrubbedTexts.clear();
  scrubbedTexts.set(text, out);
  return out;
}

/** Could scrubbing change this JSON text? Conservative: false only when no key is secret-named and no string could match. */
function mayHoldSecret(text: string): boolean {
  if (text.includes('\\u')) return true; // escapes could hide a pattern
  if (/sk-|hf_|gh[pousr]_|xox[abprs]-|AKIA|Bearer|:\/\/|[?&;][^=&\s#]+=/.test(text)) return true;
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)) if (isSecretKey(m[1]!)) return true;
  return false;
}

function scrubJsonTextUncached(text: string): string {
  if (!mayHoldSecret(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const scrubbed = scrubSecrets(parsed, []);
  return JSON.stringify(scrubbed) === JSON.stringify(parsed) ? text : JSON.stringify(scrubbed);
}

export class RunWriter {
  readonly dir: string;
  readonly runId: string;
  readonly flushEvery: number;
  /** True when open() found an existing run (resume). */
  readonly resumed: boolean;

  private m: Manifest;
  private buffer: Buffered[] = [];
  private ids = new Set<string>();
  private nextIndex: number;
  /** Flushes encode one after another, and commit one after another, but part N+1 encodes while part N commits. */
  private encodeQueue: Promise<unknown> = Promise.resolve();
  private commitQueue: Promise<unknown> = Promise.resolve();
  /** The last flush that add() started, settled (its error, if any, is parked in `failure`). */
  private inflight: Promise<void> = Promise.resolve();
  /** An error of a flush that add() started, not yet reported to a caller. */
  private failure: { error: unknown } | null = null;
  private closed = false;

  private constructor(dir: string, runId: string, flushEvery: number, manifest: Manifest, ids: Set<string>, nextIndex: number, resumed: boolean) {
    this.dir = dir;
    this.runId = runId;
    this.flushEvery = flushEvery;
    this.m = manifest;
    this.ids = ids;
    this.nextIndex = nextIndex;
    this.resumed = resumed;
  }

  /** Create or resume a run directory. Writes manifest.json (status 'running') before returning. */
  static async open(dir: string, opts: RunWriterOptions = {}): Promise<RunWriter> {
    const abs = resolve(dir);
    const flushEvery = opts.flushEvery ?? 16;
    if (!Number.isInteger(flushEvery) || flushEvery < 1) throw new RangeError(`flushEvery must be a positive integer, got ${flushEvery}`);
    if (openDirs.has(abs)) throw new DatasetError(`run ${abs} is already open for writing in this process`, 'locked');
    await mkdir(join(abs, EPISODES_DIR), { recursive: true });
    await mkdir(join(abs, STEPS_DIR), { recursive: true });
    await acquireLock(abs);
    openDirs.add(abs);
    try {
      return await RunWriter.init(abs, opts, flushEvery);
    } catch (e) {
      openDirs.delete(abs);
      await rm(join(abs, LOCK_FILE), { force: true });
      throw e;
    }
  }

  private static async init(abs: string, opts: RunWriterOptions, flushEvery: number): Promise<RunWriter> {
    const notes: string[] = [];
    // 1. Temp files of a crashed writer.
    for (const sub of ['', EPISODES_DIR, STEPS_DIR]) {
      for (const f of await readdir(join(abs, sub))) {
        if (isTempName(f)) {
          await unlink(join(abs, sub, f));
          notes.push(`removed temp file ${sub ? sub + '/' : ''}${f}`);
        }
      }
    }
    const prev = readManifestFile(join(abs, MANIFEST_FILE));
    const input = opts.manifest ?? {};
    const now = nowIso();
    const runId = opts.runId ?? prev?.run_id ?? basename(abs);
    if (prev && prev.run_id !== runId) {
      throw new DatasetError(`run ${abs} has run_id "${prev.run_id}" but the writer was opened with runId "${runId}"`, 'run_id_mismatch');
    }
    // 2. Orphan steps parts (crash between the two renames): their episodes were not committed and will be re-run.
    const listing = await listRunParts(abs);
    assertConsistent(abs, listing);
    for (const f of listing.orphanSteps) {
      await unlink(join(abs, f));
      notes.push(`removed orphan ${f} (its episodes part was never committed)`);
    }
    // 3. Reconcile manifest parts with the committed files.
    const known = new Map((prev?.parts ?? []).map((p) => [p.index, p]));
    const parts: PartInfo[] = [];
    const ids = new Set<string>();
    for (const pp of listing.committed) {
      const epPath = join(abs, pp.episodesFile);
      const stPath = join(abs, pp.stepsFile);
      const have = known.get(pp.index);
      const epBytes = await readFile(epPath);
      const [epStat, stStat] = [await stat(epPath), await stat(stPath)];
      if (have && have.episodes.bytes === epStat.size && have.steps.bytes === stStat.size) {
        for (const r of rowsFromTable<{ episode_id: string }>(decodeParquet(epBytes, epPath, ['episode_id']))) ids.add(r.episode_id);
        parts.push(have);
        continue;
      }
      if (have) throw new DatasetError(`run ${abs}: ${pp.episodesFile} or ${pp.stepsFile} changed size since the manifest recorded it`, 'inconsistent');
      // Committed after the last manifest write: adopt it.
      const epTable = decodeParquet(epBytes, epPath);
      const epRows = rowsFromTable<EpisodeRow>(epTable);
      for (const r of epRows) ids.add(r.episode_id);
      const stBytes = await readFile(stPath);
      const stTable = decodeParquet(stBytes, stPath, ['episode_id']);
      parts.push({
        index: pp.index,
        name: pp.name,
        episodes: { file: pp.episodesFile, rows: epTable.numRows, bytes: epBytes.length, sha256: sha256Hex(epBytes) },
        steps: { file: pp.stepsFile, rows: stTable.numRows, bytes: stBytes.length, sha256: sha256Hex(stBytes) },
        counts: countEpisodes(epRows, stTable.numRows),
        written_at: (await stat(epPath)).mtime.toISOString(),
      });
      notes.push(`adopted ${pp.name} (committed after the last manifest write)`);
    }
    for (const p of prev?.parts ?? []) {
      if (!listing.committed.some((c) => c.index === p.index)) notes.push(`part ${p.name} listed in the manifest is missing on disk; dropped`);
    }
    const maxIndex = Math.max(-1, ...listing.committed.map((p) => p.index), ...(prev?.parts ?? []).map((p) => p.index));

    let manifest: Manifest;
    if (prev) {
      const sessions = prev.sessions.map((s) => (s.status === 'running' ? { ...s, status: 'crashed' as const } : s));
      sessions.push(newSession(input, now));
      manifest = {
        ...prev,
        status: 'running',
        ended_at: null,
        updated_at: now,
        sessions,
        endpoints: input.endpoints ? input.endpoints.map((e) => ({ ...e, url: redactUrl(e.url) })) : prev.endpoints,
        notes: [...(prev.notes ?? []), ...notes.map((n) => `${now} ${n}`)],
        parts,
        counts: totalCounts(parts),
      };
    } else {
      manifest = newManifest(runId, input, now, SCHEMA_VERSION);
      manifest.parts = parts;
      manifest.counts = totalCounts(parts);
      manifest.notes = notes.map((n) => `${now} ${n}`);
    }
    const w = new RunWriter(abs, runId, flushEvery, manifest, ids, maxIndex + 1, prev !== null || parts.length > 0);
    await w.writeManifest();
    return w;
  }

  /** A copy of the current manifest (as last written). */
  get manifest(): Manifest {
    return structuredClone(this.m);
  }

  /** Episodes buffered, not yet in a part file. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Episodes committed to part files (including those of previous sessions). */
  get written(): number {
    return this.m.counts.episodes;
  }

  /** True when this episode id is already committed or buffered. */
  has(episodeId: string): boolean {
    return this.ids.has(episodeId);
  }

  /**
   * Buffer one finished episode (validated against the schema now, so a bad record fails here, naming the field).
   * Every `flushEvery` episodes it starts a flush and resolves once the flush before that one is written: parts are
   * pipelined (a part encodes while the one before it commits, and commits while the caller produces the next), at most
   * one is in flight,
   * and {@link flush} / {@link close} wait for all of them. A failed flush keeps its episodes buffered (the next flush
   * retries them) and rejects the next add() that starts a flush, or flush()/close().
   * Throws DatasetError 'duplicate_episode' for an id already in the run.
   */
  add(episode: EpisodeRecord): Promise<void> {
    if (this.closed) return Promise.reject(new DatasetError(`RunWriter for ${this.dir} is closed`, 'closed'));
    try {
      if (episode.run_id !== this.runId) {
        throw new DatasetError(`episode ${episode.episode_id} has run_id "${episode.run_id}", expected "${this.runId}"`, 'run_id_mismatch');
      }
      const tree = [episode, ...(episode.children ?? [])];
      for (const e of tree) {
        if (this.ids.has(e.episode_id) || tree.filter((x) => x.episode_id === e.episode_id).length > 1) {
          throw new DatasetError(`episode ${e.episode_id} is already in run ${this.runId} (written or buffered)`, 'duplicate_episode');
        }
      }
      const rows: EpisodeRow[] = [];
      const steps: StepRow[] = [];
      for (const e of tree) {
        const row = episodeRow(e);
        steps.push(...stepRows(e));
        // sampling_params may carry extra_body (headers?) — redact secret-named keys. task_options are left byte-exact (replay).
        rows.push({ ...row, sampling_params: scrubJsonText(row.sampling_params) });
      }
      for (const e of tree) this.ids.add(e.episode_id);
      this.buffer.push({ episodes: rows, steps });
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.buffer.length >= this.flushEvery) {
      const previous = this.inflight;
      this.inflight = this.enqueueFlush().then(
        () => undefined,
        (e: unknown) => {
          this.failure ??= { error: e };
        },
      );
      return previous.then(() => this.throwFailure());
    }
    return Promise.resolve();
  }

  /**
   * Write the buffered episodes as one part (no-op when empty), after any flush in flight. Serialized: concurrent
   * calls queue. Rejects with the error of an earlier pipelined flush that add() could not report yet.
   */
  async flush(): Promise<PartInfo | null> {
    let part: PartInfo | null = null;
    let own: { error: unknown } | null = null;
    try {
      part = await this.enqueueFlush();
    } catch (e) {
      own = { error: e };
    }
    await this.inflight;
    const parked = this.failure;
    this.failure = null; // reported now (one error per call; the episodes of every failed flush stay buffered)
    if (own) throw own.error;
    if (parked) throw parked.error;
    return part;
  }

  private enqueueFlush(): Promise<PartInfo | null> {
    const encoded = this.encodeQueue.then(() => this.encodeStage());
    this.encodeQueue = encoded.catch(() => undefined);
    const previousCommit = this.commitQueue; // captured now: commits keep the order of the flush calls
    const committed = encoded.then((e) => previousCommit.then(() => (e ? this.commitStage(e) : null)));
    this.commitQueue = committed.catch(() => undefined);
    return committed;
  }

  private throwFailure(): void {
    const f = this.failure;
    if (!f) return;
    this.failure = null;
    throw f.error;
  }

  /** Takes the buffered episodes and encodes them as one part (both tables, sha256s); null when nothing is buffered. */
  private async encodeStage(): Promise<Encoded | null> {
    if (this.buffer.length === 0) return null;
    const batch = this.buffer.splice(0);
    const index = this.nextIndex++;
    const episodes = batch.flatMap((b) => b.episodes);
    const steps = batch.flatMap((b) => b.steps);
    try {
      // Both tables at once: the first one's pages compress on the thread pool while the second is shredded.
      const [stBytes, epBytes] = await Promise.all([
        encodeRowsFast(STEPS_SCHEMA, steps as unknown as Record<string, unknown>[]),
        encodeRowsFast(EPISODES_SCHEMA, episodes as unknown as Record<string, unknown>[]),
      ]);
      const [epSha, stSha] = await Promise.all([sha256Async(epBytes), sha256Async(stBytes)]);
      return { batch, index, counts: countEpisodes(episodes, steps.length), epRows: episodes.length, stRows: steps.length, epBytes, stBytes, epSha, stSha };
    } catch (e) {
      this.buffer.unshift(...batch); // keep them for the next attempt
      throw e;
    }
  }

  /** Commits an encoded part (after the part before it): temp files, renames, fsyncs, manifest. */
  private async commitStage(e: Encoded): Promise<PartInfo> {
    const { batch, index, epBytes, stBytes } = e;
    const name = partName(index);
    const epFile = `${EPISODES_DIR}/${name}.parquet`;
    const stFile = `${STEPS_DIR}/${name}.parquet`;
    const part: PartInfo = {
      index,
      name,
      episodes: { file: epFile, rows: e.epRows, bytes: epBytes.length, sha256: e.epSha },
      steps: { file: stFile, rows: e.stRows, bytes: stBytes.length, sha256: e.stSha },
      counts: e.counts,
      written_at: nowIso(),
    };
    const parts = [...this.m.parts, part];
    const next: Manifest = { ...this.m, parts, counts: totalCounts(parts), updated_at: part.written_at };
    // Crash safety, with the fsyncs overlapped: the three files go to temp names and are fsynced in parallel; then the
    // steps part is renamed and its directory fsynced (so the episodes part can never be visible without it), then the
    // episodes part is renamed (the commit point) and its directory fsynced (so after a power loss the manifest never
    // lists a part whose rename was lost), then the manifest; a crash anywhere leaves either the old state plus temp
    // files (removed on resume) or a committed part that resume adopts if the manifest missed it.
    const stPath = join(this.dir, stFile);
    const epPath = join(this.dir, epFile);
    const mfPath = join(this.dir, MANIFEST_FILE);
    const temps: string[] = [];
    let stepsCommitted = false;
    try {
      const settled = await Promise.allSettled([writeTempSynced(stPath, stBytes), writeTempSynced(epPath, epBytes), writeTempSynced(mfPath, serializeManifest(next))]);
      for (const r of settled) if (r.status === 'fulfilled') temps.push(r.value);
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      await rename(temps[0]!, stPath);
      stepsCommitted = true;
      await fsyncDir(join(this.dir, STEPS_DIR));
      await rename(temps[1]!, epPath); // commit point
    } catch (e) {
      for (const t of temps) await removeQuietly(t);
      if (stepsCommitted) await removeQuietly(stPath);
      this.buffer.unshift(...batch); // keep them for the next attempt
      throw e;
    }
    this.m = next;
    try {
      await fsyncDir(join(this.dir, EPISODES_DIR));
      await rename(temps[2]!, mfPath);
    } catch (e) {
      await removeQuietly(temps[2]!);
      throw e;
    }
    await fsyncDir(this.dir);
    return part;
  }

  /**
   * Flush, then finalize manifest.json (status, ended_at, summary) and release the directory. If the final flush fails,
   * the manifest is written with status 'failed' and the error is rethrown.
   */
  async close(opts: CloseOptions = {}): Promise<Manifest> {
    if (this.closed) return this.manifest;
    let status = (opts.status ?? 'completed') as Exclude<RunStatus, 'running'>;
    let failure: unknown = null;
    try {
      await this.flush();
    } catch (e) {
      failure = e;
      status = 'failed';
      this.m.notes.push(`${nowIso()} final flush failed: ${e instanceof Error ? e.message : String(e)} (${this.buffer.length} episodes not written)`);
    }
    const now = nowIso();
    this.m.status = status;
    this.m.ended_at = now;
    this.m.updated_at = now;
    const s = this.m.sessions[this.m.sessions.length - 1];
    if (s) {
      s.ended_at = now;
      s.status = status;
    }
    const { status: _s, summary, ...extra } = opts;
    if (summary) this.m.summary = summary;
    if (Object.keys(extra).length) this.m.extra = { ...(this.m.extra ?? {}), ...extra };
    this.closed = true;
    try {
      await this.writeManifest();
    } finally {
      openDirs.delete(this.dir);
      await rm(join(this.dir, LOCK_FILE), { force: true });
    }
    if (failure) throw failure;
    return this.manifest;
  }

  private async writeManifest(): Promise<void> {
    await writeFileAtomic(join(this.dir, MANIFEST_FILE), serializeManifest(this.m));
  }
}

/** Exclusive lock file holding the writer's pid; a lock whose pid is dead (a killed writer) is taken over. */
async function acquireLock(dir: string): Promise<void> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fsOpen(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(existsSync(path) ? readFileSync(path, 'utf8').trim() : NaN);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new DatasetError(
          `run ${dir} is being written by process ${pid} (lock ${path}); if no writer is running, delete that file`,
          'locked',
        );
      }
      await rm(path, { force: true }); // stale (dead pid, or our own pid from a writer that was never closed)
    }
  }
  await writeFile(path, String(process.pid));
}

/** Writes finished episodes to a new run directory in one go (RunWriter open → add each → close). */
export async function writeRun(dir: string, episodes: Iterable<EpisodeRecord> | AsyncIterable<EpisodeRecord>, options: RunWriterOptions = {}): Promise<Manifest> {
  const writer = await RunWriter.open(dir, options);
  try {
    for await (const ep of episodes) await writer.add(ep);
  } catch (e) {
    await writer.close({ status: 'failed' });
    throw e;
  }
  return writer.close({ status: 'completed' });
}
