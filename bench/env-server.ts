/**
 * env_server — N concurrent sessions (256; --quick 32) stepping scripted replies against `npm run serve` (a child
 * process, the real CLI) over the HTTP API and over OpenEnv's WebSocket, vs the same steps on RLMEnv in-process (same
 * concurrency, one shared pool). Reports step latency p50/p99 (client-side), throughput (steps/s) and their ratios to
 * in-process, and RSS per open session (server + its sandbox workers, all N sessions open, minus the idle server).
 *
 * Each session: reset (sniah, 1,000-token context), STEPS − 1 steps of a one-line cell, then a FINAL step. Each side
 * is warmed up first (16 sessions × 2 steps, untimed): the first requests of a fresh server load modules and JIT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { RLMEnv, SandboxPool } from '../env/index.ts';
import { log, makeResult, procMem, quantile, sig, sleep, toMB, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CELL = '```repl\nconst n = context.length; print(n + 1)\n```';
const FINAL = '```repl\nFINAL("done")\n```';
const OPTIONS = { contextTokens: 1000 };
const WARMUP_SESSIONS = 16;

interface Phase {
  latencies: number[];
  wallMs: number;
  steps: number;
}

function replies(steps: number): string[] {
  return [...Array.from({ length: steps - 1 }, () => CELL), FINAL];
}

/** All sessions open first (resets), then every session steps concurrently; latency per step, wall of the step phase. */
async function runPhase(n: number, steps: number, open: (i: number) => Promise<(reply: string) => Promise<void>>, onOpen?: () => Promise<void>): Promise<Phase> {
  const sessions = await Promise.all(Array.from({ length: n }, (_, i) => open(i)));
  await onOpen?.();
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (step) => {
      for (const r of replies(steps)) {
        const s = performance.now();
        await step(r);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { latencies, wallMs: performance.now() - t0, steps: latencies.length };
}

function post(agent: http.Agent, base: string, p: string, body: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(`${base}${p}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${p}: ${res.statusCode} ${JSON.stringify(parsed)}`));
        else resolve(parsed);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function wsSession(url: string, seed: number): Promise<(reply: string) => Promise<void>> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let waiter: ((m: any) => void) | null = null;
  ws.on('message', (d) => {
    const w = waiter;
    waiter = null;
    w?.(JSON.parse(d.toString()));
  });
  const call = (m: unknown) =>
    new Promise<any>((resolve, reject) => {
      waiter = (r) => (r.type === 'error' ? reject(new Error(JSON.stringify(r.data))) : resolve(r));
      ws.send(JSON.stringify(m));
    });
  await call({ type: 'reset', data: { task: 'sniah', seed, options: OPTIONS } });
  return async (reply) => {
    const r = await call({ type: 'step', data: { reply } });
    if (r.data.done) ws.close();
  };
}

async function waitIdle(base: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const live = await new Promise<number>((resolve, reject) =>
      http.get(`${base}/v1/stats`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')).sessions.live));
      }).on('error', reject),
    );
    if (live === 0) return;
    await sleep(50);
  }
  throw new Error('the warm-up sessions did not end');
}

/** The server child and its sandbox workers (direct children), for RSS. */
function treeRss(pid: number): number {
  let total = procMem(pid)?.rss ?? 0;
  try {
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += procMem(Number(task))?.rss ?? 0;
  } catch {
    /* no /proc */
  }
  return total;
}

async function startServer(n: number): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'scripts/serve.ts', '--port', '0', '--task', 'sniah', '--max-sessions', String(n), '--sub-model', 'none'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const end = Date.now() + 60_000;
  let url = '';
  while (!url) {
    const m = /env server at (http:\/\/[\d.]+:\d+)/.exec(err);
    if (m) url = m[1];
    else if (Date.now() > end || child.exitCode !== null) throw new Error(`serve did not start: ${err}`);
    else await sleep(50);
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function benchEnvServer(ctx: BenchContext): Promise<BenchResult[]> {
  const n = ctx.quick ? 32 : 256;
  const steps = ctx.quick ? 3 : 5;

  // In-process: RLMEnv over one shared pool sized like the server's.
  log(`env_server: in-process baseline, ${n} sessions × ${steps} steps`);
  const workers = Math.max(1, Math.min((await import('node:os')).availableParallelism(), 4));
  const pool = new SandboxPool({ workers, maxSessionsPerWorker: Math.max(64, Math.ceil(n / workers)) });
  const envs: RLMEnv[] = [];
  const openEnv = async (i: number) => {
    const env = new RLMEnv({ task: 'sniah', taskOptions: OPTIONS, pool });
    envs.push(env);
    await env.reset({ seed: i });
    return async (reply: string) => void (await env.step(reply));
  };
  await runPhase(WARMUP_SESSIONS, 2, openEnv); // warm-up (JIT, workers), untimed
  const inproc = await runPhase(n, steps, openEnv);
  for (const e of envs) await e.close();
  await pool.close();

  log('env_server: HTTP');
  const srv = await startServer(n);
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const openHttp = async (i: number) => {
    const s = await post(agent, srv.url, '/v1/sessions', { task: 'sniah', seed: i, options: OPTIONS });
    return async (reply: string) => void (await post(agent, srv.url, `/v1/sessions/${s.session_id}/step`, { reply }));
  };
  const openWs = (i: number) => wsSession(`${srv.url.replace('http', 'ws')}/ws`, i);
  // Warm-up of both transports (module loading, JIT, sandbox workers), untimed; idle RSS is read after it (workers up).
  await runPhase(WARMUP_SESSIONS, 2, openHttp);
  await runPhase(WARMUP_SESSIONS, 2, openWs);
  await waitIdle(srv.url); // the warm-up sockets' sessions end on the server before N new ones open
  await sleep(200);
  const idleRss = treeRss(srv.child.pid!);
  let openRss = 0;
  const httpPhase = await runPhase(
    n,
    steps,
    openHttp,
    async () => {
      await sleep(200);
      openRss = treeRss(srv.child.pid!);
    },
  );
  agent.destroy();
  log('env_server: WebSocket');
  const wsPhase = await runPhase(n, steps, openWs);
  await srv.stop();

  const stats = (p: Phase) => ({ p50: quantile(p.latencies, 0.5), p99: quantile(p.latencies, 0.99), tput: (p.steps / p.wallMs) * 1000 });
  const base = stats(inproc);
  const rows: BenchResult[] = [];
  for (const [name, p] of [['env_server_http', httpPhase], ['env_server_ws', wsPhase]] as const) {
    const s = stats(p);
    rows.push(
      makeResult({
        name: `${name}_step_p50`,
        value: s.p50,
        unit: 'ms/step',
        baseline: `RLMEnv.step in-process, same ${n} concurrent sessions`,
        baseline_value: base.p50,
        goal: '(informational)',
        goal_met: null,
        p99_ms: sig(s.p99),
        baseline_p99_ms: sig(base.p99),
        sessions: n,
        steps_per_session: steps,
      }),
      makeResult({
        name: `${name}_throughput`,
        value: s.tput,
        unit: 'steps/s',
        baseline: `RLMEnv.step in-process, same ${n} concurrent sessions`,
        baseline_value: base.tput,
        goal: '(informational)',
        goal_met: null,
      }),
    );
  }
  const perSession = (openRss - idleRss) / n;
  rows.push(
    makeResult({
      name: 'env_server_rss_per_session',
      value: toMB(perSession, 2),
      unit: 'MB/session',
      baseline: 'the idle, warmed-up server (+ its sandbox workers) RSS',
      baseline_value: toMB(idleRss, 1),
      goal: '(informational)',
      goal_met: null,
      sessions: n,
      open_rss_mb: toMB(openRss, 1),
    }),
  );
  return rows;
}

export const envServer: Benchmark = { id: 'env_server', run: benchEnvServer };
