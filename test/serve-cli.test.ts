/**
 * `npm run serve` as a user runs it (a child process): --help, refusing a non-loopback bind without a token, then a
 * recording server: episodes over HTTP and WebSocket, SIGTERM while a step is in flight (the step finishes, exit 0),
 * and the recorded run read by DuckDB, replayed by `npm run replay` and exported.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { referenceRespond } from '../rollouts/reference/policy.ts';
import { exportRun, readRun } from '../datasets/index.ts';
import type { Message } from '../env/index.ts';
import { openSocket, request } from './helpers/env-server.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-serve-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

async function waitForUrl(get: () => string, timeoutMs = 30_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = /env server at (http:\/\/[\d.]+:\d+)/.exec(get());
    if (m) return m[1];
    if (Date.now() > end) throw new Error(`server did not start: ${get()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm run serve', () => {
  it('--help lists the flags; a non-loopback bind without --token-env exits 2', async () => {
    const help = await run('scripts/serve.ts', ['--help']).done;
    expect(help.code).toBe(0);
    for (const f of ['--port', '--host', '--token-env', '--max-sessions', '--idle-timeout', '--sub-model', '--sub-endpoint', '--out', '--max-turns', '/ws']) expect(help.stdout).toContain(f);
    const open = await run('scripts/serve.ts', ['--host', '0.0.0.0', '--port', '0']).done;
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/not loopback.*--token-env/);
    const unset = await run('scripts/serve.ts', ['--host', '0.0.0.0', '--port', '0', '--token-env', 'RLM_TEST_NO_SUCH_VAR']).done;
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/RLM_TEST_NO_SUCH_VAR.*not set/);
  });

  it('records finished sessions; SIGTERM drains (in-flight step answered, exit 0); the run replays and reads in DuckDB', async () => {
    const out = path.join(tmp, 'online');
    const srv = run('scripts/serve.ts', ['--port', '0', '--task', 'sniah,oolong', '--context-tokens', '2000', '--max-turns', '8', '--out', out, '--flush-every', '2']);
    const url = await waitForUrl(srv.stderr);

    const playHttp = async (task: string, seed: number) => {
      const c = await request(url, 'POST', '/v1/sessions', { task, seed, model: 'test-policy' });
      const messages: Message[] = [...c.body.observation];
      for (;;) {
        const reply = referenceRespond(messages);
        messages.push({ role: 'assistant', content: reply });
        const usage = { prompt_tokens: 100, completion_tokens: 20, prompt_token_ids: [1, 2, 3], completion_token_ids: [4, 5], completion_logprobs: [-0.5, -0.25] };
        const r = await request(url, 'POST', `/v1/sessions/${c.body.session_id}/step`, { reply, usage });
        messages.push(...r.body.observation);
        if (r.body.terminated || r.body.truncated) return r.body;
      }
    };
    expect((await playHttp('sniah', 1)).reward).toBe(1);
    expect((await playHttp('oolong', 2)).terminated).toBe(true);
    const ws = await openSocket(`${url.replace('http', 'ws')}/ws`);
    ws.send({ type: 'reset', data: { task: 'sniah', seed: 3, budgets: { max_turns: 5 } } });
    const messages: Message[] = [...(await ws.next()).data.observation.messages];
    for (;;) {
      const reply = referenceRespond(messages);
      messages.push({ role: 'assistant', content: reply });
      ws.send({ type: 'step', data: { reply } });
      const r = await ws.next();
      messages.push(...r.data.observation.messages);
      if (r.data.done) break;
    }
    ws.ws.close();

    // A step that takes a while (CPU-bound cell) is in flight when SIGTERM arrives.
    const slow = await request(url, 'POST', '/v1/sessions', { task: 'sniah', seed: 4 });
    const inflight = request(url, 'POST', `/v1/sessions/${slow.body.session_id}/step`, { reply: '```repl\nlet x = 0; for (let i = 0; i < 3e8; i++) x += i % 7; print(x)\n```' });
    await new Promise((r) => setTimeout(r, 150));
    srv.child.kill('SIGTERM');
    const answered = await inflight;
    expect(answered.status).toBe(200);
    expect(answered.body.observation[0].content).toMatch(/\d{6,}/);
    const exit = await srv.done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/SIGTERM: draining/);

    // The recording: 3 finished episodes (the drained one was unfinished: not recorded), in finishing order.
    const data = await readRun(out);
    expect(data.manifest.status).toBe('completed');
    expect(data.episodes.map((e) => [e.episode_index, e.task_family, e.seed])).toEqual([
      [0, 'sniah', 1],
      [1, 'oolong', 2],
      [2, 'sniah', 3],
    ]);
    expect(data.episodes[0].root_model).toBe('test-policy');
    expect(JSON.parse(data.episodes[2].env_config!).env.maxTurns).toBe(5);
    expect(data.steps.length).toBeGreaterThanOrEqual(6);
    const first = data.steps.find((st) => st.episode_id === data.episodes[0].episode_id)!;
    expect([first.prompt_tokens, first.prompt_token_ids, first.completion_token_ids, first.completion_logprobs]).toEqual([100, [1, 2, 3], [4, 5], [-0.5, -0.25]]);
    const counters = (data.manifest.extra as any).env_server;
    expect(counters.sessions).toMatchObject({ created: 4, finished: 3, abandoned_episodes: 1 });
    expect(counters.limits.max_turns).toBe(8);

    const db = await DuckDBInstance.create();
    const con = await db.connect();
    const r = await con.runAndReadAll(
      `select count(*)::int n, sum(case when correct then 1 else 0 end)::int correct, count(env_config)::int cfg from read_parquet('${out}/episodes/*.parquet')`,
    );
    expect(r.getRowObjectsJson()[0]).toEqual({ n: 3, correct: 3, cfg: 3 });
    const st = await con.runAndReadAll(`select count(*)::int n from read_parquet('${out}/steps/*.parquet')`);
    expect((st.getRowObjectsJson()[0] as { n: number }).n).toBe(data.steps.length);
    con.closeSync();

    const replay = await run('scripts/replay.ts', [out]).done;
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('replayed 3 episode(s): 3 ok');

    const verl = await exportRun(out, { format: 'verl', out: path.join(tmp, 'verl.parquet') });
    expect(verl.rows).toBe(3);
  }, 120_000);
});
