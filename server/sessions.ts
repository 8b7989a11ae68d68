/**
 * The session table: creation under the max-sessions cap, lookup (404 unknown, 410 finished or expired), idle expiry
 * that frees the sandbox, and the drain of a graceful shutdown. Ids are random UUIDs (not guessable by other clients).
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from './errors.ts';
import { Session, type SessionDeps } from './session.ts';
import type { EpisodeRecord } from '../rollouts/index.ts';

export interface SessionTableOptions {
  /** Sessions holding (or able to hold) a sandbox: HTTP sessions not yet finished, and every open WebSocket. */
  maxSessions: number;
  /** A session without a request for this long is closed and its sandbox freed. */
  idleTimeoutMs: number;
  deps: Omit<SessionDeps, 'onFinished'>;
  /** Receives every finished episode, in finishing order (the recorder). */
  onEpisode?: (episode: EpisodeRecord) => void;
}

export interface SessionCounters {
  created: number;
  finished: number;
  expired: number;
  deleted: number;
  /** Ended because the client went away (WebSocket closed, HTTP connection dropped mid-step). */
  vanished: number;
  /** Ended unfinished (deleted, expired, vanished or drained mid-episode): not recorded. */
  abandoned_episodes: number;
}

/** How many ended sessions are remembered (so a late request gets 410 'expired' rather than 404). */
const TOMBSTONES = 10_000;

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private readonly tombstones = new Map<string, string>();
  private readonly onClose = new Map<string, (reason: string) => void>();
  private readonly deps: SessionDeps;
  private nextIndex = 0;
  private sweeper: NodeJS.Timeout | null = null;
  draining = false;
  readonly counters: SessionCounters = { created: 0, finished: 0, expired: 0, deleted: 0, vanished: 0, abandoned_episodes: 0 };

  constructor(private readonly o: SessionTableOptions) {
    this.deps = {
      ...o.deps,
      onFinished: async (build) => {
        const rec = await build(this.nextIndex++);
        this.counters.finished++;
        o.onEpisode?.(rec);
        return rec;
      },
    };
    const every = Math.max(50, Math.min(30_000, Math.floor(o.idleTimeoutMs / 4)));
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
  }

  /** Sessions that count against max sessions. */
  get live(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.transport === 'ws' || s.status !== 'finished') n++;
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A new session, or 429 at max sessions / 503 while shutting down. `onClose` runs when the table ends it. */
  create(transport: 'http' | 'ws', onClose?: (reason: string) => void): Session {
    if (this.draining) throw new ApiError('shutting_down', 'the server is shutting down; no new sessions');
    if (this.live >= this.o.maxSessions) {
      this.evictFinished();
      throw new ApiError('too_many_sessions', `the server is at its maximum of ${this.o.maxSessions} sessions (--max-sessions); close one or retry later`);
    }
    const s = new Session(randomUUID(), transport, this.deps);
    this.sessions.set(s.id, s);
    if (onClose) this.onClose.set(s.id, onClose);
    this.counters.created++;
    this.evictFinished();
    return s;
  }

  get(id: string): Session {
    const s = this.sessions.get(id);
    if (s) return s;
    const gone = this.tombstones.get(id);
    if (gone === 'expired') throw new ApiError('session_expired', `session ${id} expired after ${Math.round(this.o.idleTimeoutMs / 1000)} s without a request; its sandbox was freed`);
    if (gone) throw new ApiError('not_found', `session ${id} was ${gone}`);
    throw new ApiError('not_found', `no session ${id}`);
  }

  /** Ends a session (deleted | expired | vanished | drained): the sandbox is freed, an unfinished episode is not recorded. */
  async end(id: string, reason: 'deleted' | 'expired' | 'vanished' | 'drained'): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.remember(id, reason);
    if (reason === 'expired') this.counters.expired++;
    if (reason === 'deleted') this.counters.deleted++;
    if (reason === 'vanished') this.counters.vanished++;
    if (s.status === 'active') this.counters.abandoned_episodes++;
    const cb = this.onClose.get(id);
    this.onClose.delete(id);
    await s.close();
    cb?.(reason);
  }

  /** Closes sessions idle for longer than the timeout (a running step is not idle). */
  async sweep(now = Date.now()): Promise<void> {
    const stale = [...this.sessions.values()].filter((s) => !s.busy && now - s.lastActivity > this.o.idleTimeoutMs);
    await Promise.all(stale.map((s) => this.end(s.id, 'expired')));
  }

  /** Graceful shutdown: no new sessions, in-flight steps finish (up to `timeoutMs`), then every session closes. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    const deadline = Date.now() + timeoutMs;
    while ([...this.sessions.values()].some((s) => s.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.sessions.keys()].map((id) => this.end(id, 'drained')));
  }

  private remember(id: string, reason: string): void {
    this.tombstones.set(id, reason);
    if (this.tombstones.size > TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  /** Finished HTTP sessions are kept for GET until idle expiry; beyond 4 × max sessions the oldest go. */
  private evictFinished(): void {
    const limit = this.o.maxSessions * 4;
    if (this.sessions.size <= limit) return;
    for (const s of this.sessions.values()) {
      if (this.sessions.size <= limit) break;
      if (s.transport === 'http' && s.status === 'finished' && !s.busy) {
        this.sessions.delete(s.id);
        this.remember(s.id, 'finished and evicted (too many finished sessions kept)');
      }
    }
  }
}
