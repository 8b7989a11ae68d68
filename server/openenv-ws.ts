/**
 * OpenEnv's WebSocket protocol at /ws — one connection = one session, messages handled strictly in order. Shapes as
 * openenv-core 0.3.0 defines and its unmodified EnvClient/GenericEnvClient expect them (meta-pytorch/OpenEnv
 * `src/openenv/core/env_client.py`, `src/openenv/core/generic_client.py`, `src/openenv/core/env_server/types.py`
 * (WS*Message, WSErrorCode) and `src/openenv/core/env_server/http_server.py` (websocket_endpoint)):
 *   client → {"type":"reset","data":{…reset kwargs…}}   server → {"type":"observation","data":{"observation","reward","done"}}
 *   client → {"type":"step","data":{…the action…}}      server → {"type":"observation","data":{…}}
 *   client → {"type":"state"}                           server → {"type":"state","data":{episode_id, step_count, …}}
 *   client → {"type":"close"}                           server closes the socket (no reply), as OpenEnv's does
 *   errors → {"type":"error","data":{"message","code"}} with OpenEnv's codes (INVALID_JSON, UNKNOWN_TYPE,
 *            VALIDATION_ERROR, EXECUTION_ERROR, CAPACITY_REACHED, SESSION_ERROR).
 * Our observation: {messages, terminated, truncated, info}; done = terminated || truncated; reset's reward is null.
 */
import type { WebSocket } from 'ws';
import { ApiError } from './errors.ts';
import { ActionSchema, ResetSchema, parseOrThrow } from './protocol.ts';
import type { Session } from './session.ts';
import type { SessionTable } from './sessions.ts';

type WSErrorCode = 'INVALID_JSON' | 'UNKNOWN_TYPE' | 'VALIDATION_ERROR' | 'EXECUTION_ERROR' | 'CAPACITY_REACHED' | 'SESSION_ERROR';

/** Close code sent when the server ends the session itself (idle expiry, shutdown). */
const GOING_AWAY = 1001;
/** Messages of one socket waiting to be handled (OpenEnv's client sends one and awaits its answer). */
const MAX_QUEUED = 32;

export function handleOpenEnvSocket(ws: WebSocket, table: SessionTable, maxSessions: number): void {
  let session: Session;
  try {
    session = table.create('ws', (reason) => {
      if (reason === 'expired' || reason === 'drained') {
        sendError(ws, reason === 'expired' ? 'the session expired after being idle; its sandbox was freed' : 'the server is shutting down', 'SESSION_ERROR');
        ws.close(GOING_AWAY, reason === 'expired' ? 'session expired' : 'server shutting down');
      }
    });
  } catch (e) {
    // As OpenEnv: accept, send the capacity error, close.
    const capacity = e instanceof ApiError && e.code === 'too_many_sessions';
    send(ws, {
      type: 'error',
      data: capacity
        ? { message: (e as Error).message, code: 'CAPACITY_REACHED', active_sessions: table.live, max_sessions: maxSessions }
        : { message: (e as Error).message, code: 'SESSION_ERROR' },
    });
    ws.close();
    return;
  }

  let clientClosed = false;
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;
  ws.on('message', (raw) => {
    // Messages are answered in order; a client that piles them up without reading answers is cut off.
    if (++queued > MAX_QUEUED) {
      sendError(ws, `more than ${MAX_QUEUED} messages waiting for answers; send one at a time`, 'SESSION_ERROR');
      ws.terminate();
      return;
    }
    queue = queue.then(() => handleMessage(raw.toString())).finally(() => queued--);
  });
  ws.on('close', () => {
    void table.end(session.id, clientClosed ? 'deleted' : 'vanished');
  });
  ws.on('error', () => ws.terminate());

  async function handleMessage(text: string): Promise<void> {
    if (ws.readyState !== ws.OPEN) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return sendError(ws, `Invalid JSON: ${(e as Error).message}`, 'INVALID_JSON');
    }
    const type = msg && typeof msg === 'object' && !Array.isArray(msg) ? (msg as { type?: unknown }).type : undefined;
    const data = (msg as { data?: unknown } | null)?.data;
    try {
      switch (type) {
        case 'reset': {
          checkKeys(msg as object, ['type', 'data']);
          const req = parseOrThrow(ResetSchema, data ?? {}, 'data');
          const out = await session.reset(req);
          return send(ws, { type: 'observation', data: { observation: { messages: out.observation, terminated: false, truncated: false, info: out.info }, reward: null, done: false } });
        }
        case 'step': {
          checkKeys(msg as object, ['type', 'data']);
          if (data === undefined) throw new ApiError('bad_request', 'data: the step message needs the action as data');
          const action = parseOrThrow(ActionSchema, data, 'data');
          const out = await session.step(action);
          const done = out.terminated || out.truncated;
          return send(ws, {
            type: 'observation',
            data: { observation: { messages: out.observation, terminated: out.terminated, truncated: out.truncated, info: out.info }, reward: out.reward, done },
          });
        }
        case 'state': {
          checkKeys(msg as object, ['type']);
          const v = session.view();
          return send(ws, {
            type: 'state',
            data: {
              episode_id: session.externalEpisodeId ?? session.id,
              step_count: session.stepCount,
              session_id: session.id,
              status: v.status,
              task: v.task,
              seed: v.seed,
              messages: v.messages,
              info: v.info,
            },
          });
        }
        case 'close':
          clientClosed = true;
          ws.close(1000);
          return;
        default:
          return sendError(ws, `Unknown message type: ${typeof type === 'string' ? type : JSON.stringify(type ?? '')}`, 'UNKNOWN_TYPE');
      }
    } catch (e) {
      // Bad input is OpenEnv's VALIDATION_ERROR; everything else (step before reset, after the end, …) EXECUTION_ERROR.
      const validation = e instanceof ApiError && e.code === 'bad_request';
      return sendError(ws, (e as Error).message, validation ? 'VALIDATION_ERROR' : 'EXECUTION_ERROR');
    }
  }
}

/** OpenEnv's messages forbid extra fields (BaseMessage: extra="forbid"). */
function checkKeys(msg: object, allowed: string[]): void {
  const extra = Object.keys(msg).filter((k) => !allowed.includes(k));
  if (extra.length) throw new ApiError('bad_request', `message: unexpected field(s) ${extra.join(', ')}`);
}

function send(ws: WebSocket, body: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(body));
}

function sendError(ws: WebSocket, message: string, code: WSErrorCode): void {
  send(ws, { type: 'error', data: { message, code } });
}
