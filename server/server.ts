/**
 * startEnvServer: one node:http server carrying the stateful JSON API, OpenEnv's GET routes and its WebSocket at /ws
 * (the `ws` library), sessions over one shared SandboxPool, sub-calls answered here by the configured sub-model, and
 * the optional recorder. close() is the graceful drain SIGTERM triggers: stop accepting, let in-flight steps finish,
 * close every session (freeing its sandbox), finish the recording.
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';
import { SandboxPool } from '../env/index.ts';
import { TASK_FAMILY_NAMES } from '../tasks/index.ts';
import { SubModelRouter, type PolicyClient, type SamplingParams, type SubModel } from '../rollouts/index.ts';
import { buildReward, type CompositeReward } from '../rewards/index.ts';
import type { ManifestInput } from '../datasets/index.ts';
import { authorized, requireTokenFor } from './auth.ts';
import { ServerConfigError } from './errors.ts';
import { budgetsView, resolveServerLimits, type ServerLimits } from './limits.ts';
import { handleOpenEnvSocket } from './openenv-ws.ts';
import { Recorder } from './recorder.ts';
import { handleRequest } from './routes.ts';
import { SessionTable } from './sessions.ts';

export interface EnvServerOptions {
  /** Default 127.0.0.1. Anything but loopback needs `token`. */
  host?: string;
  /** Default 8100; 0 = any free port. */
  port?: number;
  /** Bearer token every route but /health requires; null = none (loopback only). */
  token?: string | null;
  /** Default 256. */
  maxSessions?: number;
  /** Default 10 minutes. */
  idleTimeoutMs?: number;
  /** Request body / WebSocket message cap. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Server-wide budgets and sandbox limits; sessions may lower them. */
  limits?: Partial<ServerLimits>;
  /** Families sessions may ask for. Default: all. */
  families?: string[];
  /** Family of a reset without `task`. Default: the first of `families`. */
  defaultTask?: string;
  /** Generator options every session starts from (e.g. { contextTokens }). */
  taskOptions?: Record<string, unknown>;
  /**
   * Answers llm_query / llm_query_batched: one client, or named sub-models (llm_query(prompt, "name")) as the rollout
   * runner takes them; null = sub-calls fail with a clear error in the REPL.
   */
  sub?: { client?: PolicyClient; models?: SubModel[]; sampling: Omit<SamplingParams, 'seed'> } | null;
  /** Default: accuracy. */
  reward?: CompositeReward;
  /** A shared pool; default: the server starts (and closes) its own, sized to hold maxSessions sandboxes. */
  pool?: SandboxPool;
  /** Worker processes of the server's own pool. Default: min(cores, 4). */
  workers?: number;
  /** Record finished sessions to a run directory. */
  record?: { dir: string; runId?: string; manifest?: ManifestInput; flushEvery?: number; flushIntervalMs?: number } | null;
  /** How long a drain waits for in-flight steps. Default 60 s. */
  drainTimeoutMs?: number;
  /** WebSocket ping interval; a peer that misses one pong is dropped. Default 30 s. */
  heartbeatMs?: number;
  /** REPL language of sessions that do not choose one. Default 'js'. */
  repl?: 'js' | 'python';
}

export interface EnvServer {
  /** http://host:port */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly sessions: SessionTable;
  readonly pool: SandboxPool;
  readonly recordDir: string | null;
  stats(): Record<string, unknown>;
  /** Graceful drain (idempotent): resolves when every session is closed and the recording is finished. */
  close(): Promise<void>;
}

const PACKAGE_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
})();

export async function startEnvServer(o: EnvServerOptions = {}): Promise<EnvServer> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? null;
  requireTokenFor(host, token);
  const maxSessions = intOption(o.maxSessions, 'maxSessions', 256);
  const idleTimeoutMs = intOption(o.idleTimeoutMs, 'idleTimeoutMs', 600_000);
  const maxBodyBytes = intOption(o.maxBodyBytes, 'maxBodyBytes', 4 * 1024 * 1024);
  const limits = resolveServerLimits(o.limits);
  const families = o.families ?? [...TASK_FAMILY_NAMES];
  for (const f of families) if (!TASK_FAMILY_NAMES.includes(f)) throw new ServerConfigError(`unknown task '${f}'; valid: ${TASK_FAMILY_NAMES.join(', ')}`);
  const defaultTask = o.defaultTask ?? families[0];
  if (!families.includes(defaultTask)) throw new ServerConfigError(`default task '${defaultTask}' is not among the served families (${families.join(', ')})`);
  const reward = o.reward ?? (await buildReward('accuracy'));
  const ownsPool = !o.pool;
  // Our own pool must hold every session at once: at least maxSessions isolates over its workers.
  const workers = o.workers ?? Math.max(1, Math.min(os.availableParallelism(), 4));
  const pool = o.pool ?? new SandboxPool({ workers, maxSessionsPerWorker: Math.max(64, Math.ceil(maxSessions / workers)) });
  const subModels = o.sub ? (o.sub.models?.length ? o.sub.models : o.sub.client ? [{ name: null, client: o.sub.client }] : []) : [];
  if (o.sub && subModels.length === 0) throw new ServerConfigError('sub: give a client or models');
  const sub = o.sub ? { router: new SubModelRouter(subModels), sampling: o.sub.sampling } : null;

  let recorder: Recorder | null = null;
  if (o.record) {
    recorder = await Recorder.open({
      dir: o.record.dir,
      runId: o.record.runId ?? (o.record.dir.split(/[\\/]/).filter(Boolean).pop() as string),
      manifest: {
        ...o.record.manifest,
        // replay rebuilds the reward from config.reward (the spec as written).
        config: { reward: reward.spec, ...(o.record.manifest?.config ?? {}) },
        extra: { ...(o.record.manifest?.extra ?? {}), env_server: { limits: budgetsView(limits), families, default_task: defaultTask, task_options: o.taskOptions ?? {} } },
      },
      flushEvery: o.record.flushEvery,
      flushIntervalMs: o.record.flushIntervalMs,
    });
  }

  const table = new SessionTable({
    maxSessions,
    idleTimeoutMs,
    deps: {
      pool,
      limits,
      families,
      defaultTask,
      taskOptions: o.taskOptions ?? {},
      sub,
      reward,
      runId: recorder?.runId ?? 'env-server',
      repl: o.repl ?? 'js',
    },
    onEpisode: (ep) => recorder?.add(ep),
  });

  const startedAt = Date.now();
  const stats = () => ({
    sessions: { live: table.live, kept: table.size, max: maxSessions, idle_timeout_s: idleTimeoutMs / 1000, ...table.counters },
    pool: pool.stats,
    recording: recorder ? { dir: recorder.dir, recorded: recorder.recorded, errors: recorder.errors } : null,
    limits: budgetsView(limits),
    draining: table.draining,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
  });
  const metadata = {
    name: 'rlm-gym',
    description:
      'Recursive Language Model episodes: the long context is a variable in a sandboxed REPL (JavaScript, or Python with repl=python); the action is the model\'s whole reply (its ```repl code runs), the observation the REPL output. Sub-calls (llm_query) are answered by the server.',
    readme_content: null,
    version: PACKAGE_VERSION,
    author: null,
    documentation_url: null,
  };
  const ctx = { table, token, maxBodyBytes, metadata, stats };

  let activeRequests = 0;
  const server = http.createServer((req, res) => {
    activeRequests++;
    res.once('close', () => activeRequests--);
    void handleRequest(ctx, req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than typical client pools keep connections (avoids reset races)
  server.headersTimeout = 70_000;
  server.requestTimeout = 0; // a step may legitimately take minutes (cells blocked on sub-calls)

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBodyBytes });
  const alive = new WeakMap<WebSocket, boolean>();
  server.on('upgrade', (req, socket: Socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    if (path !== '/ws') return refuse(socket, 404, 'Not Found', `no WebSocket route ${path}; the OpenEnv endpoint is /ws`);
    if (!authorized(req.headers.authorization, token)) return refuse(socket, 401, 'Unauthorized', 'missing or wrong token');
    if (table.draining) return refuse(socket, 503, 'Service Unavailable', 'the server is shutting down');
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      handleOpenEnvSocket(ws, table, maxSessions);
    });
  });
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate(); // a vanished peer: 'close' fires and its session ends
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, o.heartbeatMs ?? 30_000);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new ServerConfigError(`${host}:${o.port ?? 8100} is already in use (--port)`) : e),
    );
    server.listen(o.port ?? 8100, host, () => resolve());
  }).catch(async (e) => {
    clearInterval(heartbeat);
    await table.drain(0);
    await recorder?.close();
    if (ownsPool) await pool.close();
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${port}`,
    host,
    port,
    sessions: table,
    pool,
    recordDir: recorder?.dir ?? null,
    stats,
    close() {
      closing ??= (async () => {
        // While draining the listener stays open and answers new work with 503 (clearer than a refused connection);
        // in-flight steps finish and get their responses; then sessions close and the listener goes.
        table.draining = true;
        clearInterval(heartbeat);
        await table.drain(o.drainTimeoutMs ?? 60_000);
        const deadline = Date.now() + 5_000;
        while (activeRequests > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await recorder?.close({ ...table.counters });
        if (ownsPool) await pool.close();
      })();
      return closing;
    },
  };
}

function intOption(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new ServerConfigError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function refuse(socket: Socket, status: number, text: string, message: string): void {
  const body = JSON.stringify({ error: { code: status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : 'shutting_down', message } });
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
