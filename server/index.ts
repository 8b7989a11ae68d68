/**
 * server/ — the env server for Python trainers (`npm run serve`): RLMEnv sessions over a shared sandbox pool, served as
 * a stateful HTTP JSON API (/v1/sessions…) and as OpenEnv's WebSocket protocol (/ws, plus GET /health, /metadata,
 * /schema); token auth off loopback, session caps, idle expiry, graceful drain, recording to a run directory.
 *
 *   const server = await startEnvServer({ port: 8100, sub: { client, sampling } });
 *   // … POST http://127.0.0.1:8100/v1/sessions {"task":"sniah","seed":1} …
 *   await server.close();
 */
export { startEnvServer } from './server.ts';
export type { EnvServer, EnvServerOptions } from './server.ts';
export { ApiError, ServerConfigError } from './errors.ts';
export type { ApiErrorCode } from './errors.ts';
export { DEFAULT_LIMITS, resolveServerLimits, sessionLimits, budgetsView, envLimits } from './limits.ts';
export type { ServerLimits } from './limits.ts';
export { authorized, isLoopback, presentedToken, requireTokenFor, tokenMatches } from './auth.ts';
export { ActionSchema, ResetSchema, BudgetsSchema, schemas } from './protocol.ts';
export type { Action, Budgets, ResetRequest, WireInfo } from './protocol.ts';
export { SessionTable } from './sessions.ts';
export type { SessionCounters } from './sessions.ts';
export { Session } from './session.ts';
export { episodeRecord } from './record.ts';
