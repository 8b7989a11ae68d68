/**
 * The env server over real sockets on 127.0.0.1: full episodes over HTTP and over OpenEnv-shaped WebSocket messages,
 * every error status, budgets that may only be lowered, max sessions, idle expiry freeing the sandbox, vanished clients
 * (HTTP and WS) mid-step, the token check, and the drain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { connect, type Connection } from '../rollouts/index.ts';
import { referenceRespond } from '../rollouts/reference/policy.ts';
import type { Message } from '../env/index.ts';
import { startEnvServer, authorized, isLoopback, presentedToken, requireTokenFor, tokenMatches, ServerConfigError, type EnvServer } from '../server/index.ts';
import { gatedSubModel, openSocket, request, waitFor } from './helpers/env-server.ts';

const SAMPLING = { temperature: 0, top_p: 1, max_tokens: 256, stop: null, top_k: null, logprobs: false, extra_body: null };
const SMALL = { contextTokens: 2000 };
let pool: SandboxPool;
let ref: Connection;
let server: EnvServer;

beforeAll(async () => {
  pool = new SandboxPool({ workers: 1 });
  ref = await connect({ model: 'reference' });
  server = await startEnvServer({ port: 0, pool, sub: { client: ref.clients[0], sampling: SAMPLING }, limits: { maxTurns: 6 }, maxBodyBytes: 64 * 1024 });
});

afterAll(async () => {
  await server?.close();
  await ref?.close();
  await pool?.close();
});

/** Plays the reference policy through the HTTP API; returns every response. */
async function playHttp(base: string, task: string, seed: number): Promise<{ created: any; steps: any[] }> {
  const created = await request(base, 'POST', '/v1/sessions', { task, seed, options: SMALL });
  expect(created.status).toBe(201);
  const messages: Message[] = [...created.body.observation];
  const steps = [];
  for (let i = 0; i < 10; i++) {
    const reply = referenceRespond(messages);
    messages.push({ role: 'assistant', content: reply });
    const r = await request(base, 'POST', `/v1/sessions/${created.body.session_id}/step`, { reply });
    expect(r.status).toBe(200);
    steps.push(r.body);
    messages.push(...r.body.observation);
    if (r.body.terminated || r.body.truncated) break;
  }
  return { created: created.body, steps };
}

describe('HTTP API', () => {
  it('plays a full episode: reset messages, step tuples, reward and gold answer on the terminal step', async () => {
    const { created, steps } = await playHttp(server.url, 'sniah', 3);
    expect(Object.keys(created).sort()).toEqual(['info', 'observation', 'session_id']);
    expect(created.observation.map((m: Message) => m.role)).toEqual(['system', 'user']);
    expect(created.info).toMatchObject({ turn: 0, task_family: 'sniah', seed: 3, budgets: { max_turns: 6 } });
    expect(created.info.gold_answer).toBeUndefined();
    const last = steps[steps.length - 1];
    for (const s of steps) expect(Object.keys(s).sort()).toEqual(['info', 'observation', 'reward', 'terminated', 'truncated']);
    for (const s of steps.slice(0, -1)) {
      expect(s.reward).toBe(0);
      expect(s.observation).toHaveLength(1);
      expect(s.observation[0].role).toBe('user');
    }
    expect(last.terminated).toBe(true);
    expect(last.reward).toBe(1);
    expect(last.observation).toEqual([]);
    expect(last.info.final_answer).toBe(last.info.gold_answer);
    expect(last.info).toMatchObject({ stop_reason: 'final', correct: true, reward_components: { accuracy: 1 } });

    const got = await request(server.url, 'GET', `/v1/sessions/${created.session_id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ session_id: created.session_id, status: 'finished', task: 'sniah', seed: 3, step_count: steps.length });
    expect(got.body.messages.length).toBe(2 + steps.length * 2 - 1);

    const again = await request(server.url, 'POST', `/v1/sessions/${created.session_id}/step`, { reply: 'more' });
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe('session_finished');

    const del = await request(server.url, 'DELETE', `/v1/sessions/${created.session_id}`);
    expect(del.body).toEqual({ session_id: created.session_id, deleted: true });
    expect((await request(server.url, 'GET', `/v1/sessions/${created.session_id}`)).status).toBe(404);
  });

  it('a session may choose the Python REPL (repl: "python"): a full episode with the reference policy', async () => {
    const created = await request(server.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 4, options: SMALL, repl: 'python' });
    expect(created.status).toBe(201);
    expect(created.body.info.repl).toBe('python');
    expect(created.body.observation[0].content).toMatch(/Python REPL/);
    const messages: Message[] = [...created.body.observation];
    let last: any;
    for (let i = 0; i < 10; i++) {
      const reply = referenceRespond(messages);
      messages.push({ role: 'assistant', content: reply });
      last = (await request(server.url, 'POST', `/v1/sessions/${created.body.session_id}/step`, { reply })).body;
      messages.push(...last.observation);
      if (last.terminated || last.truncated) break;
    }
    expect(last).toMatchObject({ terminated: true, reward: 1, info: { stop_reason: 'final' } });
    expect((await request(server.url, 'GET', `/v1/sessions/${created.body.session_id}`)).body.repl).toBe('python');
  }, 120_000);

  it('is deterministic by seed: the same seed gives the same reset observation', async () => {
    const a = await request(server.url, 'POST', '/v1/sessions', { task: 'oolong', seed: 11, options: SMALL });
    const b = await request(server.url, 'POST', '/v1/sessions', { task: 'oolong', seed: 11, options: SMALL });
    const c = await request(server.url, 'POST', '/v1/sessions', { task: 'oolong', seed: 12, options: SMALL });
    expect(a.body.observation).toEqual(b.body.observation);
    expect(a.body.info.task_id).toBe(b.body.info.task_id);
    expect(c.body.info.task_id).not.toBe(a.body.info.task_id);
    for (const r of [a, b, c]) await request(server.url, 'DELETE', `/v1/sessions/${r.body.session_id}`);
  });

  it('answers bad input with 400 and a JSON error naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      [{ task: 'nope' }, /'nope' is not served here/],
      [{ task: 'sniah', colour: 'red' }, /unrecognized key|colour/i],
      [{ task: 'sniah', seed: -1 }, /seed/],
      [{ task: 'sniah', budgets: { max_turns: 7 } }, /budgets.max_turns: 7 is above the server's limit 6/],
      [{ task: 'sniah', budgets: { max_cost_usd: 1 } }, /no prices/],
      [{ task: 'sniah', options: { contextTokens: 5_000_000 } }, /above the server's limit 1000000/],
      [{ task: 'sniah', options: { contextTokens: 'big' } }, /contextTokens/],
    ];
    for (const [body, re] of cases) {
      const r = await request(server.url, 'POST', '/v1/sessions', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(re);
    }
    const s = await request(server.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options: SMALL, budgets: { max_turns: 2 } });
    expect(s.body.info.budgets.max_turns).toBe(2); // lowering is fine
    for (const [body, re] of [[{ text: 'x' }, /reply/], [{ reply: 3 }, /reply/], [{ reply: 'x', usage: { prompt_token_ids: [1] } }, /go together/]] as const) {
      const r = await request(server.url, 'POST', `/v1/sessions/${s.body.session_id}/step`, body);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(re);
    }
    expect((await request(server.url, 'POST', '/v1/sessions/none-such/step', { reply: 'x' })).status).toBe(404);
    expect((await request(server.url, 'GET', '/v1/nothing')).body.error.code).toBe('not_found');
    expect((await request(server.url, 'PUT', '/v1/sessions')).status).toBe(405);
    // A lowered max_turns truncates after 2 turns.
    let r;
    for (let i = 0; i < 2; i++) r = await request(server.url, 'POST', `/v1/sessions/${s.body.session_id}/step`, { reply: 'thinking, no code' });
    expect(r!.body).toMatchObject({ truncated: true, terminated: false, reward: 0, info: { stop_reason: 'max_turns' } });
  });

  it('413 for a body over the cap, declared or streamed', async () => {
    const big = JSON.stringify({ reply: 'x'.repeat(70 * 1024) });
    const r = await request(server.url, 'POST', '/v1/sessions', big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('body_too_large');
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(10 * 1024));
      req.end();
    });
    expect(streamed).toBe(413);
  });
});

describe('host-backed contexts in the server', () => {
  it('refuses context placement options from a client (400 naming the key) and creates nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rlm-gym-srv-dir-'));
    const dir = join(root, 'chunks');
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{ ...SMALL, contextStorage: 'host', contextDir: dir }, 'contextDir'],
        [{ ...SMALL, contextStorage: 'host' }, 'contextStorage'],
        [{ ...SMALL, hostContextThreshold: 1 }, 'hostContextThreshold'],
      ];
      for (const [options, key] of cases) {
        const r = await request(server.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options });
        expect(r.status, key).toBe(400);
        expect(r.body.error.code).toBe('bad_request');
        expect(r.body.error.message).toMatch(new RegExp(`^options\\.${key}: .*set by the server operator`));
      }
      const c = await openSocket(`${server.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'reset', data: { task: 'sniah', seed: 1, options: { ...SMALL, contextDir: dir } } });
      expect(await c.next()).toMatchObject({ type: 'error' });
      c.ws.close();
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("an operator's host storage (taskOptions) works; the temp chunk dir is deleted on finish, on reset and on close", async () => {
    // os.tmpdir() reads TMPDIR on every call: the generator's temp dirs land in a directory this test alone watches.
    const saved = process.env.TMPDIR;
    const watched = mkdtempSync(join(tmpdir(), 'rlm-gym-srv-tmp-'));
    process.env.TMPDIR = watched;
    const dirs = () => readdirSync(watched).filter((n) => n.startsWith('rlm-gym-context-sniah-'));
    const local = await startEnvServer({ port: 0, pool, taskOptions: { contextStorage: 'host' }, sub: { client: ref.clients[0], sampling: SAMPLING }, limits: { maxTurns: 6 } });
    try {
      // Closed mid-episode (DELETE).
      const a = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 3, options: SMALL });
      expect(a.status).toBe(201);
      expect(a.body.observation.map((m: Message) => m.content).join('\n')).toMatch(/host-backed/);
      expect(dirs()).toHaveLength(1);
      expect((await request(local.url, 'DELETE', `/v1/sessions/${a.body.session_id}`)).status).toBe(200);
      expect(dirs()).toHaveLength(0);
      // Played to the end: deleted once the episode is recorded, and the answer was right.
      const b = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 4, options: SMALL });
      expect(dirs()).toHaveLength(1);
      const messages: Message[] = [...b.body.observation];
      let last: any;
      for (let i = 0; i < 10; i++) {
        const reply = referenceRespond(messages);
        messages.push({ role: 'assistant', content: reply });
        last = (await request(local.url, 'POST', `/v1/sessions/${b.body.session_id}/step`, { reply })).body;
        messages.push(...last.observation);
        if (last.terminated || last.truncated) break;
      }
      expect(last).toMatchObject({ terminated: true, reward: 1 });
      expect(dirs()).toHaveLength(0);
      // WebSocket: a second reset drops the first episode's dir; closing drops the second's.
      const c = await openSocket(`${local.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'reset', data: { task: 'sniah', seed: 5, options: SMALL } });
      await c.next();
      const first = dirs();
      expect(first).toHaveLength(1);
      c.send({ type: 'reset', data: { task: 'sniah', seed: 6, options: SMALL } });
      await c.next();
      expect(dirs()).toHaveLength(1);
      expect(dirs()).not.toEqual(first);
      c.ws.close();
      await waitFor(() => dirs().length === 0, 5000, 'ws close removes the chunk dir');
    } finally {
      await local.close();
      process.env.TMPDIR = saved;
      if (saved === undefined) delete process.env.TMPDIR;
      rmSync(watched, { recursive: true, force: true });
    }
  });
});

describe('OpenEnv WebSocket /ws', () => {
  it('plays a full episode with OpenEnv-shaped messages; state; close ends the session', async () => {
    const before = server.sessions.counters.created;
    const liveBefore = server.sessions.live;
    const c = await openSocket(`${server.url.replace('http', 'ws')}/ws`);
    c.send({ type: 'reset', data: { task: 'sniah', seed: 5, options: SMALL, episode_id: 'ep-1' } });
    const reset = await c.next();
    expect(reset.type).toBe('observation');
    expect(Object.keys(reset.data).sort()).toEqual(['done', 'observation', 'reward']);
    expect(reset.data).toMatchObject({ reward: null, done: false, observation: { terminated: false, truncated: false } });
    const messages: Message[] = [...reset.data.observation.messages];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);

    c.send({ type: 'state' });
    const state = await c.next();
    expect(state).toMatchObject({ type: 'state', data: { episode_id: 'ep-1', step_count: 0, status: 'active', task: 'sniah', seed: 5 } });

    let last: any;
    for (let i = 0; i < 10; i++) {
      const reply = referenceRespond(messages);
      messages.push({ role: 'assistant', content: reply });
      c.send({ type: 'step', data: { reply } }); // OpenEnv sends the action itself as data
      last = await c.next();
      expect(last.type).toBe('observation');
      messages.push(...last.data.observation.messages);
      if (last.data.done) break;
    }
    expect(last.data).toMatchObject({ done: true, reward: 1, observation: { terminated: true, truncated: false, info: { correct: true, stop_reason: 'final' } } });

    c.send({ type: 'step', data: { reply: 'again' } });
    expect(await c.next()).toMatchObject({ type: 'error', data: { code: 'EXECUTION_ERROR' } });
    c.send('nonsense{' as unknown as object);
    c.ws.send('nonsense{');
    const errs = [await c.next(), await c.next()];
    expect(errs.map((e) => e.data.code)).toEqual(['UNKNOWN_TYPE', 'INVALID_JSON']);
    c.send({ type: 'dance' });
    expect(await c.next()).toMatchObject({ type: 'error', data: { code: 'UNKNOWN_TYPE', message: 'Unknown message type: dance' } });
    c.send({ type: 'reset', data: { task: 'sniah', bogus: 1 } });
    expect(await c.next()).toMatchObject({ type: 'error', data: { code: 'VALIDATION_ERROR' } });
    // A second reset on the same socket starts another episode.
    c.send({ type: 'reset', data: { task: 'sniah', seed: 6, options: SMALL } });
    expect((await c.next()).data.observation.info.seed).toBe(6);
    c.send({ type: 'close' });
    expect(await c.closed).toBe(1000);
    expect(server.sessions.counters.created).toBe(before + 1);
    await waitFor(() => server.sessions.live === liveBefore, 5000, 'the ws session to end');
    expect(server.sessions.counters.abandoned_episodes).toBeGreaterThanOrEqual(1); // seed 6 never finished: not recorded
  });

  it('refuses /ws upgrades to other paths and step before reset is an error', async () => {
    await expect(openSocket(`${server.url.replace('http', 'ws')}/other`)).rejects.toThrow(/404/);
    const c = await openSocket(`${server.url.replace('http', 'ws')}/ws`);
    c.send({ type: 'step', data: { reply: 'x' } });
    expect(await c.next()).toMatchObject({ type: 'error', data: { code: 'EXECUTION_ERROR', message: expect.stringMatching(/before reset/) } });
    c.ws.close();
    await c.closed;
  });
});

describe('serving GET routes OpenEnv clients read', () => {
  it('/health, /metadata, /schema', async () => {
    expect((await request(server.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
    const meta = (await request(server.url, 'GET', '/metadata')).body;
    expect(Object.keys(meta).sort()).toEqual(['author', 'description', 'documentation_url', 'name', 'readme_content', 'version']);
    expect(meta.name).toBe('rlm-gym');
    const schema = (await request(server.url, 'GET', '/schema')).body;
    expect(Object.keys(schema).sort()).toEqual(['action', 'observation', 'state']);
    expect(schema.action.required).toEqual(['reply']);
    expect(schema.observation.required).toEqual(['messages', 'terminated', 'truncated', 'info']);
  });
});

describe('limits and lifecycles', () => {
  it('409 while a step is in flight; a client that vanishes mid-step leaves no session and no sandbox', async () => {
    const gate = gatedSubModel();
    const local = await startEnvServer({ port: 0, pool, sub: { client: gate.client, sampling: SAMPLING } });
    try {
      const s = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options: SMALL });
      const id = s.body.session_id;
      expect(local.pool.stats.sessions).toBeGreaterThanOrEqual(1);
      // Step 1 blocks in llm_query; a raw request we can destroy.
      const body = JSON.stringify({ reply: '```repl\nprint(llm_query("hello"))\n```' });
      const req = http.request(`${local.url}/v1/sessions/${id}/step`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      req.on('error', () => undefined);
      req.end(body);
      await gate.waiting;
      const second = await request(local.url, 'POST', `/v1/sessions/${id}/step`, { reply: 'x' });
      expect(second.status).toBe(409);
      expect(second.body.error.code).toBe('step_in_flight');
      expect((await request(local.url, 'DELETE', `/v1/sessions/${id}`)).status).toBe(409);
      req.destroy(); // the client vanishes mid-step
      await waitFor(() => local.sessions.size === 0, 10_000, 'the session to end');
      expect(gate.aborted).toBe(1); // its in-flight sub-call was aborted
      expect(local.sessions.counters.vanished).toBe(1);
      expect((await request(local.url, 'GET', `/v1/sessions/${id}`)).status).toBe(404);
      await waitFor(() => local.pool.stats.sessions === 0, 5000, 'the sandbox to be freed');

      // WebSocket: a socket killed mid-step.
      const c = await openSocket(`${local.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'reset', data: { task: 'sniah', seed: 2, options: SMALL } });
      await c.next();
      c.send({ type: 'step', data: { reply: '```repl\nprint(llm_query("hello"))\n```' } });
      await waitFor(() => gate.calls === 2, 5000, 'the second sub-call');
      c.ws.terminate();
      await waitFor(() => local.sessions.size === 0 && local.pool.stats.sessions === 0, 10_000, 'the ws session to end');
      expect(local.sessions.counters.vanished).toBe(2);
    } finally {
      gate.release();
      await local.close();
    }
  });

  it('429 at max sessions (HTTP and WS); finished sessions do not count', async () => {
    const local = await startEnvServer({ port: 0, pool, maxSessions: 2, sub: { client: ref.clients[0], sampling: SAMPLING } });
    try {
      const a = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options: SMALL });
      const b = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 2, options: SMALL });
      expect([a.status, b.status]).toEqual([201, 201]);
      const c = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 3, options: SMALL });
      expect(c.status).toBe(429);
      expect(c.body.error.code).toBe('too_many_sessions');
      const ws = await openSocket(`${local.url.replace('http', 'ws')}/ws`);
      expect(await ws.next()).toMatchObject({ type: 'error', data: { code: 'CAPACITY_REACHED', max_sessions: 2 } });
      await ws.closed;
      // Finish a: its slot frees (the sandbox is gone; GET still answers).
      await request(local.url, 'POST', `/v1/sessions/${a.body.session_id}/step`, { reply: '```repl\nFINAL("x")\n```' });
      expect((await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 4, options: SMALL })).status).toBe(201);
    } finally {
      await local.close();
    }
  });

  it('idle expiry closes the session and frees its sandbox (pool stats); later requests get 410', async () => {
    const local = await startEnvServer({ port: 0, pool, idleTimeoutMs: 300, sub: { client: ref.clients[0], sampling: SAMPLING } });
    try {
      const base = pool.stats.sessions;
      const s = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options: SMALL });
      expect(pool.stats.sessions).toBe(base + 1);
      const c = await openSocket(`${local.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'reset', data: { task: 'sniah', seed: 2, options: SMALL } });
      await c.next();
      expect(pool.stats.sessions).toBe(base + 2);
      await waitFor(() => pool.stats.sessions === base, 5000, 'expiry');
      expect(local.sessions.counters.expired).toBe(2);
      const r = await request(local.url, 'POST', `/v1/sessions/${s.body.session_id}/step`, { reply: 'x' });
      expect(r.status).toBe(410);
      expect(r.body.error.code).toBe('session_expired');
      expect(await c.next()).toMatchObject({ type: 'error', data: { code: 'SESSION_ERROR' } });
      expect(await c.closed).toBe(1001);
    } finally {
      await local.close();
    }
  });

  it('drain: 503 for new work, the in-flight step finishes, then sessions close', async () => {
    const gate = gatedSubModel();
    const local = await startEnvServer({ port: 0, pool, sub: { client: gate.client, sampling: SAMPLING } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const s = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 1, options: SMALL });
    const other = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah', seed: 2, options: SMALL }, {}, agent);
    const inflight = request(local.url, 'POST', `/v1/sessions/${s.body.session_id}/step`, { reply: '```repl\nprint(llm_query("x"))\n```' });
    await gate.waiting;
    const closing = local.close();
    const refused = await request(local.url, 'POST', `/v1/sessions/${other.body.session_id}/step`, { reply: 'x' }, {}, agent);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('shutting_down');
    gate.release();
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(done.body.observation[0].content).toContain('sub:');
    await closing;
    expect(local.sessions.size).toBe(0);
    agent.destroy();
  });
});

describe('auth', () => {
  it('loopback detection and the token requirement off loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com']) expect(isLoopback(h), h).toBe(false);
    expect(() => requireTokenFor('0.0.0.0', null)).toThrow(ServerConfigError);
    expect(() => requireTokenFor('0.0.0.0', 's3cret')).not.toThrow();
    expect(() => requireTokenFor('127.0.0.1', null)).not.toThrow();
  });

  it('bearer and basic (password = token) compare in constant time', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('abcd', 'abc')).toBe(false);
    expect(presentedToken('Bearer t0k')).toBe('t0k');
    expect(presentedToken(`Basic ${Buffer.from('rlm:t0k').toString('base64')}`)).toBe('t0k');
    expect(presentedToken('Token t0k')).toBeNull();
    expect(authorized(undefined, null)).toBe(true);
    expect(authorized(undefined, 't0k')).toBe(false);
    expect(authorized('Bearer t0k', 't0k')).toBe(true);
    expect(authorized('Bearer t0K', 't0k')).toBe(false);
  });

  it('a server with a token answers 401 without it (HTTP and the WebSocket upgrade), /health stays open', async () => {
    await expect(startEnvServer({ host: '0.0.0.0', port: 0, pool })).rejects.toThrow(/--token-env/);
    const local = await startEnvServer({ port: 0, pool, token: 's3cret-token' });
    try {
      const r = await request(local.url, 'POST', '/v1/sessions', { task: 'sniah' });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect((await request(local.url, 'GET', '/schema', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await request(local.url, 'GET', '/schema', undefined, { authorization: 'Bearer s3cret-token' })).status).toBe(200);
      expect((await request(local.url, 'GET', '/health')).status).toBe(200);
      await expect(openSocket(`${local.url.replace('http', 'ws')}/ws`)).rejects.toThrow(/401/);
      const ok = await openSocket(`${local.url.replace('http', 'ws')}/ws`, { authorization: 'Bearer s3cret-token' });
      ok.ws.close();
      await ok.closed;
    } finally {
      await local.close();
    }
  });
});
