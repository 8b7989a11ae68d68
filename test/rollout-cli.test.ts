/** `npm run rollout` as a user runs it: a child process against HTTP servers started here. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startReferenceServer, type ReferenceServer } from '../rollouts/index.ts';
import { readRun, readParquetRows, encodeRows, STEPS_SCHEMA, listRunParts } from '../datasets/index.ts';
import { scriptedPolicy } from './helpers/servers.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-cli-'));
let server: ReferenceServer;
const bodies: Record<string, unknown>[] = [];
const auth: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function rollout(args: string[], env: Record<string, string> = {}, onStart?: (p: ReturnType<typeof spawn>) => void, script = 'scripts/rollout.ts'): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], {
      cwd: root,
      env: { ...process.env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    onStart?.(p);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const small = ['--task', 'sniah', '--context-tokens', '2000'];

beforeAll(async () => {
  server = await startReferenceServer({
    respond: async (m) => {
      // Slow enough that a signal lands mid-run.
      if (m[0].role === 'system') await new Promise((r) => setTimeout(r, 40));
      return scriptedPolicy(m);
    },
    models: ['meta-llama/Llama-3.1-8B-Instruct', 'Qwen/Qwen3-8B'],
    onRequest: (b, h) => {
      bodies.push(b);
      auth.push(String(h.authorization ?? ''));
    },
  });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm run rollout (CLI)', () => {
  it('an unreachable endpoint fails in one clear line, non-zero, with no output files', async () => {
    const out = path.join(tmp, 'unreachable');
    const r = await rollout(['--model', 'qwen3', '--endpoint', 'http://127.0.0.1:9/v1', '--out', out]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('http://127.0.0.1:9/v1');
    expect(lines[0]).toContain('vllm serve');
    expect(lines[0]).toContain('--model reference');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a run in which every episode fails exits 1 naming the error', async () => {
    const failing = await startReferenceServer({ respond: () => { throw new Error('model is overloaded for good'); } });
    const r = await rollout(['--model', 'rlm-gym/reference', '--endpoint', failing.url, ...small, '--n', '2', '--max-retries', '0', '--out', path.join(tmp, 'all-fail'), '--quiet']);
    await failing.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/every episode failed; the first error: .*model is overloaded for good/);
  });

  it('falls back to OPENAI_BASE_URL', async () => {
    const r = await rollout(['--model', 'qwen3', '--out', path.join(tmp, 'env-url')], { OPENAI_BASE_URL: 'http://127.0.0.1:7/v1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('http://127.0.0.1:7/v1');
  });

  it('resolves an alias against /v1/models and lists served ids when nothing matches', async () => {
    bodies.length = 0;
    const ok = await rollout(['--model', 'qwen3', '--endpoint', server.url, ...small, '--n', '1', '--out', path.join(tmp, 'alias'), '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(new Set(bodies.map((b) => b.model))).toEqual(new Set(['Qwen/Qwen3-8B']));
    const bad = await rollout(['--model', 'gemma3', '--endpoint', server.url, '--out', path.join(tmp, 'alias-bad')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('meta-llama/Llama-3.1-8B-Instruct, Qwen/Qwen3-8B');
  });

  it.each([
    [['--n', '0'], /--n must be an integer >= 1/],
    [['--temperature', 'hot'], /--temperature must be a number/],
    [['--task', 'nope'], /unknown task 'nope'; valid: sniah, oolong, oolong-pairs, browsecomp/],
    [['--shard', '5/2'], /--shard 5\/2/],
    [['--extra-body', '{bad'], /--extra-body must be a JSON object/],
    [['--provider', 'acme'], /--provider/],
    [['--reward', 'accuracy,bogus'], /bogus/],
    [['--max-cost', '1'], /--price-in/],
    [['--price-out', '1'], /--price-out needs --price-in/],
    [['--task', 'sniah', '--context-tokens', '100'], /cannot generate sniah tasks: .*contextTokens' must be >= 256/],
    [['--out', '/proc/rlm-gym-test'], /not writable/],
    [['--bogus-flag'], /unknown option/],
    [['--endpoint', 'http://user:sk-PASS-1@127.0.0.1:9/v1'], /credentials in the URL are not supported/],
    [['--resume', '/tmp/whatever', '--n', '5'], /--resume plays the run's recorded settings; drop .*--n\b/],
  ])('bad flags %j exit 2 with one clear line', async (args, message) => {
    const r = await rollout(['--endpoint', server.url, '--model', 'qwen3', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('sk-PASS-1');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--help documents the flags', async () => {
    const r = await rollout(['--help']);
    expect(r.code).toBe(0);
    for (const f of ['--model', '--endpoint', '--group-size', '--resume', '--shard', '--logprobs', '--extra-body', '--reward', '--price-in']) expect(r.stdout).toContain(f);
  });

  it('uses the API key from --api-key-env and never writes or prints it', async () => {
    auth.length = 0;
    const secret = 'sk-test-SECRET-0123456789';
    const out = path.join(tmp, 'secret');
    const r = await rollout(['--model', 'qwen3', '--endpoint', server.url, ...small, '--n', '2', '--api-key-env', 'RLM_TEST_KEY', '--out', out], { RLM_TEST_KEY: secret });
    expect(r.code, r.stderr).toBe(0);
    expect(auth).toContain(`Bearer ${secret}`);
    expect(r.stdout + r.stderr).not.toContain(secret);
    for (const f of walk(out)) expect(fs.readFileSync(f).includes(Buffer.from(secret)), f).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).config.apiKeyEnv).toBe('RLM_TEST_KEY');
  });

  it('SIGINT stops the run (exit 130, valid files); --resume finishes it with every episode exactly once; replay verifies it', async () => {
    const out = path.join(tmp, 'interrupted');
    const args = ['--model', 'qwen3', '--endpoint', server.url, ...small, '--n', '24', '--concurrency', '2', '--flush-every', '2', '--out', out];
    const first = await rollout(args, {}, (p) => {
      const timer = setInterval(() => {
        if (fs.existsSync(path.join(out, 'episodes')) && fs.readdirSync(path.join(out, 'episodes')).some((f) => f.endsWith('.parquet'))) {
          clearInterval(timer);
          p.kill('SIGINT');
        }
      }, 20);
      p.on('close', () => clearInterval(timer));
    });
    expect(first.code, first.stderr).toBe(130);
    expect(first.stdout).toContain('--resume');
    const partial = await readRun(out);
    expect(partial.episodes.length).toBeGreaterThan(0);
    expect(partial.episodes.length).toBeLessThan(24);
    expect(partial.manifest.status).toBe('interrupted');

    const second = await rollout(['--resume', out, '--endpoint', server.url, '--quiet']);
    expect(second.code, second.stderr).toBe(0);
    const full = await readRun(out);
    const ids = full.episodes.map((e) => e.episode_id);
    expect(ids).toHaveLength(24);
    expect(new Set(ids).size).toBe(24);
    expect(full.manifest.status).toBe('completed');

    const replay = await rollout([out], {}, undefined, 'scripts/replay.ts');
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('24 ok');

    // Tamper with one recorded observation: replay must catch it and exit 1.
    const part = path.join(out, (await listRunParts(out)).committed[0].stepsFile);
    const rows = await readParquetRows<Record<string, unknown>>(part);
    rows[0].observation = String(rows[0].observation).replace('string', 'String');
    fs.writeFileSync(part, encodeRows(STEPS_SCHEMA, rows));
    const tampered = await rollout([out, '--quiet'], {}, undefined, 'scripts/replay.ts');
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/observation/);
    expect(tampered.stdout).toMatch(/1 mismatch/);
  });

  it('a run with a user reward module records every component and replays', async () => {
    const out = path.join(tmp, 'user-reward');
    const r = await rollout(['--model', 'qwen3', '--endpoint', server.url, ...small, '--n', '1', '--reward', 'accuracy,./examples/my-reward.ts:0.5', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const ep = (await readRun(out)).episodes[0];
    expect(Object.keys(ep.reward_components).sort()).toEqual(['accuracy', 'brevity', 'efficient_correct'].sort());
    const replay = await rollout([out], {}, undefined, 'scripts/replay.ts');
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
  });

  it('--out holding a run is refused; --shard slices write their own directories', async () => {
    const out = path.join(tmp, 'alias');
    const again = await rollout(['--model', 'qwen3', '--endpoint', server.url, ...small, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--resume');
    const ids: string[] = [];
    for (const i of [0, 1, 2]) {
      const dir = path.join(tmp, `shard-${i}`);
      const r = await rollout(['--model', 'qwen3', '--endpoint', server.url, ...small, '--n', '5', '--group-size', '2', '--shard', `${i}/3`, '--out', dir, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      ids.push(...(await readRun(dir)).episodes.map((e) => e.episode_id));
    }
    expect(ids.sort()).toEqual([...Array(10).keys()].map((i) => String(i).padStart(6, '0')));
  });
});

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}
