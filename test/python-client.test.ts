/**
 * Python against a live server: the stdlib client's own unittest (system python3), and one full episode through each
 * trainer adapter against the REAL libraries in the pinned venv (clients/python/requirements-test.txt): OpenEnv's
 * unmodified GenericEnvClient over /ws and a typed EnvClient, Gymnasium, SkyRL, verifiers, verl (see the adapter test
 * for what verl is tested against). Skipped, visibly, only when python3 (resp. the venv) is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SandboxPool } from '../env/index.ts';
import { connect, startReferenceServer, type Connection, type ReferenceServer } from '../rollouts/index.ts';
import { startEnvServer, type EnvServer } from '../server/index.ts';
import { repoRoot, systemPython, venvPython } from './helpers/python.ts';

const SAMPLING = { temperature: 0, top_p: 1, max_tokens: 256, stop: null, top_k: null, logprobs: false, extra_body: null };
const TOKEN = 'py-test-token-\u00e9';
let pool: SandboxPool;
let sub: Connection;
let policy: ReferenceServer;
let server: EnvServer;
let tokenServer: EnvServer;

beforeAll(async () => {
  pool = new SandboxPool({ workers: 1 });
  sub = await connect({ model: 'reference' });
  policy = await startReferenceServer();
  const common = { port: 0, pool, sub: { client: sub.clients[0], sampling: SAMPLING }, taskOptions: { contextTokens: 2000 } };
  server = await startEnvServer(common);
  tokenServer = await startEnvServer({ ...common, token: TOKEN });
});

afterAll(async () => {
  await server?.close();
  await tokenServer?.close();
  await policy?.close();
  await sub?.close();
  await pool?.close();
});

function python(bin: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, {
      cwd: repoRoot,
      env: {
        ...process.env,
        RLM_GYM_URL: server.url,
        RLM_GYM_POLICY_URL: policy.url,
        RLM_GYM_TOKEN_URL: tokenServer.url,
        RLM_GYM_TOKEN: TOKEN,
        PYTHONDONTWRITEBYTECODE: '1',
        NO_PROXY: '127.0.0.1,localhost',
      },
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** unittest's summary: "Ran N tests" and OK without skips. */
function expectAllRan(r: { code: number | null; out: string }, atLeast: number): void {
  expect(r.code, r.out).toBe(0);
  const ran = Number(/Ran (\d+) tests?/.exec(r.out)?.[1] ?? 0);
  expect(ran, r.out).toBeGreaterThanOrEqual(atLeast);
  expect(r.out).toMatch(/\nOK\s*$/);
  expect(r.out, 'no test may be skipped here').not.toMatch(/skipped/);
}

const sys = systemPython();
describe.skipIf(!sys)(`Python client (stdlib, ${sys ?? 'no python3: skipped'})`, () => {
  it('python3 -m unittest clients/python/tests/test_client.py against the live server', async () => {
    const r = await python(sys!, ['-m', 'unittest', 'discover', '-s', path.join('clients', 'python', 'tests'), '-p', 'test_client.py', '-v']);
    expectAllRan(r, 8);
    expect(server.sessions.live).toBe(0); // every session the client opened was closed by it
  }, 120_000);
});
if (!sys) it.skip('Python client: python3 not found on PATH — the Python client test is skipped', () => undefined);

const venv = venvPython();
describe.skipIf(!venv.python)(`trainer adapters against the real libraries (${venv.python ? '.venv' : venv.reason})`, () => {
  it('one full episode through each adapter (OpenEnv generic + typed client, Gymnasium, SkyRL, verifiers, verl)', async () => {
    const r = await python(venv.python!, ['-m', 'unittest', 'discover', '-s', path.join('clients', 'python', 'tests'), '-p', 'test_adapters.py', '-v']);
    expectAllRan(r, 7);
  }, 300_000);
});
if (!venv.python) it.skip(`trainer adapters: ${venv.reason}`, () => undefined);
