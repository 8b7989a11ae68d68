/**
 * --out: every finished session becomes one episode of a normal run directory (episodes/steps Parquet + manifest), in
 * finishing order, so online training also yields datasets that `export`, `replay` and DuckDB read. Parts are flushed
 * every `flushEvery` episodes and at least every `flushIntervalMs` while episodes wait, and on shutdown.
 */
import { RunWriter, type ManifestInput } from '../datasets/index.ts';
import type { EpisodeRecord } from '../rollouts/index.ts';

export interface RecorderOptions {
  dir: string;
  runId: string;
  manifest: ManifestInput;
  flushEvery?: number;
  flushIntervalMs?: number;
  /** Where write failures are reported (they never fail the client's step). */
  onError?: (e: Error) => void;
}

export class Recorder {
  private pending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  recorded = 0;
  errors = 0;

  private constructor(
    private readonly writer: RunWriter,
    private readonly onError: (e: Error) => void,
  ) {}

  static async open(o: RecorderOptions): Promise<Recorder> {
    const writer = await RunWriter.open(o.dir, { runId: o.runId, manifest: o.manifest, flushEvery: o.flushEvery ?? 16 });
    const r = new Recorder(writer, o.onError ?? ((e) => process.stderr.write(`[serve] recording failed: ${e.message}\n`)));
    r.timer = setInterval(() => {
      if (r.writer.pending > 0) r.chain(() => r.writer.flush().then(() => undefined));
    }, o.flushIntervalMs ?? 10_000);
    r.timer.unref();
    return r;
  }

  get dir(): string {
    return this.writer.dir;
  }

  get runId(): string {
    return this.writer.runId;
  }

  /** Queues one finished episode (in order); failures are counted and reported, never thrown at the session. */
  add(episode: EpisodeRecord): void {
    this.chain(async () => {
      await this.writer.add(episode);
      this.recorded++;
    });
  }

  /** Writes what is buffered and finalizes the manifest; `sessions` (the server's counters) go to extra.env_server. */
  async close(sessions: Record<string, unknown> = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pending;
    const server = (this.writer.manifest.extra?.env_server ?? {}) as Record<string, unknown>;
    await this.writer.close({ status: 'completed', env_server: { ...server, sessions } });
  }

  private chain(f: () => Promise<void>): void {
    this.pending = this.pending.then(f).catch((e: Error) => {
      this.errors++;
      this.onError(e);
    });
  }
}
