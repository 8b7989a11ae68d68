/**
 * The HTTP routes: OpenEnv's GET /health, /metadata, /schema (shapes of openenv-core 0.3.0
 * `src/openenv/core/env_server/types.py`: HealthResponse, EnvironmentMetadata, SchemaResponse), and the stateful JSON
 * API a stdlib client can call:
 *   POST   /v1/sessions             {task, seed, options, budgets}  → 201 {session_id, observation, info}
 *   POST   /v1/sessions/{id}/step   {reply, usage?}                 → {observation, reward, terminated, truncated, info}
 *   GET    /v1/sessions/{id}                                        → the session (status, messages, info, budgets)
 *   DELETE /v1/sessions/{id}                                        → {session_id, deleted: true}
 *   GET    /v1/stats                                                → sessions, pool, recording counters
 * Every route but /health needs the token when the server has one.
 */
import type http from 'node:http';
import { authorized } from './auth.ts';
import { ApiError } from './errors.ts';
import { readJson, sendError, sendJson } from './http.ts';
import { ActionSchema, ResetSchema, parseOrThrow, schemas } from './protocol.ts';
import type { SessionTable } from './sessions.ts';

export interface RouteContext {
  table: SessionTable;
  token: string | null;
  maxBodyBytes: number;
  metadata: Record<string, unknown>;
  stats: () => Record<string, unknown>;
}

const SESSION = /^\/v1\/sessions\/([^/]+)$/;
const STEP = /^\/v1\/sessions\/([^/]+)\/step$/;

export async function handleRequest(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/health') {
      allow(method, ['GET']);
      return sendJson(res, ctx.table.draining ? 503 : 200, { status: ctx.table.draining ? 'unhealthy' : 'healthy' });
    }
    if (!authorized(req.headers.authorization, ctx.token)) {
      req.resume();
      throw new ApiError('unauthorized', 'missing or wrong token: send Authorization: Bearer <token>');
    }
    if (path === '/metadata') {
      allow(method, ['GET']);
      return sendJson(res, 200, ctx.metadata);
    }
    if (path === '/schema') {
      allow(method, ['GET']);
      return sendJson(res, 200, schemas());
    }
    if (path === '/v1/stats') {
      allow(method, ['GET']);
      return sendJson(res, 200, ctx.stats());
    }
    if (path === '/v1/sessions') {
      allow(method, ['POST']);
      return await createSession(ctx, req, res);
    }
    let m = STEP.exec(path);
    if (m) {
      allow(method, ['POST']);
      return await step(ctx, decodeURIComponent(m[1]), req, res);
    }
    m = SESSION.exec(path);
    if (m) {
      allow(method, ['GET', 'DELETE']);
      const id = decodeURIComponent(m[1]);
      if (method === 'GET') return sendJson(res, 200, ctx.table.get(id).view());
      const s = ctx.table.get(id);
      if (s.busy) throw new ApiError('step_in_flight', `session ${id} has a step in flight; delete it after the response`);
      await ctx.table.end(id, 'deleted');
      return sendJson(res, 200, { session_id: id, deleted: true });
    }
    throw new ApiError('not_found', `no route ${method} ${path}`);
  } catch (e) {
    req.resume();
    sendError(res, e);
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) throw new ApiError('method_not_allowed', `method ${method} not allowed here; use ${methods.join(' or ')}`);
}

async function createSession(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = parseOrThrow(ResetSchema, await readJson(req, ctx.maxBodyBytes), 'body');
  const session = ctx.table.create('http');
  let out;
  try {
    out = await session.reset(body);
  } catch (e) {
    await ctx.table.end(session.id, 'deleted'); // a reset that failed leaves nothing behind
    throw e;
  }
  if (res.destroyed) return void (await ctx.table.end(session.id, 'vanished'));
  sendJson(res, 201, { session_id: session.id, observation: out.observation, info: out.info });
}

async function step(ctx: RouteContext, id: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (ctx.table.draining) throw new ApiError('shutting_down', 'the server is shutting down; no new steps');
  const session = ctx.table.get(id);
  const action = parseOrThrow(ActionSchema, await readJson(req, ctx.maxBodyBytes), 'action');
  if (session.busy) throw new ApiError('step_in_flight', `session ${id} already has a step in flight; wait for its response`);
  // The client went away mid-step: it cannot learn the observation, so the session ends (and frees its sandbox).
  const onGone = () => {
    if (!res.writableEnded) void ctx.table.end(id, 'vanished');
  };
  res.once('close', onGone);
  const out = await session.step(action);
  if (res.destroyed) return;
  sendJson(res, 200, out);
}
