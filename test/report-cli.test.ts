/**
 * `npm run rollout` sweeps and `npm run report` as a user runs them (child processes): a --context-tokens range
 * interrupted and resumed, then replayed; a sharded sweep reported from `runs/x/*`; --report; usage errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startReferenceServer, type ReferenceServer } from '../rollouts/index.ts';
import { referenceRespond } from '../rollouts/reference/policy.ts';
import { readRun } from '../datasets/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-report-cli-'));
let slow: ReferenceServer;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], onStart?: (p: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', `scripts/${script}.ts`, ...args], {
      cwd: root,
      env: { ...process.env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    onStart?.(p);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sizesOf = async (dir: string) => (await readRun(dir)).episodes.map((e) => (JSON.parse(e.task_options) as { contextTokens: number }).contextTokens);

beforeAll(async () => {
  // The reference policy behind real HTTP, slowed so that a SIGINT lands mid-run.
  slow = await startReferenceServer({
    respond: async (m, body) => {
      if (m[0].role === 'system') await new Promise((r) => setTimeout(r, 60));
      return referenceRespond(m, body);
    },
  });
});
afterAll(async () => {
  await slow.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Each test spawns several CLI processes (a few seconds each on an idle machine); the timeouts are anti-hang bounds.
describe('context-length sweeps', () => {
  it('2^11..2^13 plays --n tasks per family per size; SIGINT then --resume finishes it exactly once; replay verifies it; the report hint is printed', async () => {
    const out = path.join(tmp, 'sweep');
    const args = ['--model', 'rlm-gym/reference', '--endpoint', slow.url, '--task', 'sniah,oolong', '--n', '3', '--context-tokens', '2^11..2^13', '--concurrency', '2', '--flush-every', '2', '--out', out];
    const first = await run('rollout', args, (p) => {
      const timer = setInterval(() => {
        const dir = path.join(out, 'episodes');
        if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.parquet'))) {
          clearInterval(timer);
          p.kill('SIGINT');
        }
      }, 20);
      p.on('close', () => clearInterval(timer));
    });
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain('3 task(s) each at 3 sizes (2048, 4096, 8192 tokens)');
    const partial = (await readRun(out)).episodes.length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(18);

    const second = await run('rollout', ['--resume', out, '--endpoint', slow.url, '--quiet']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`report: npm run report -- ${out}`);
    const full = await readRun(out);
    expect(full.episodes).toHaveLength(2 * 3 * 3);
    expect(new Set(full.episodes.map((e) => e.episode_id)).size).toBe(18);
    for (const fam of ['sniah', 'oolong']) {
      for (const size of [2048, 4096, 8192]) {
        const eps = full.episodes.filter((e) => e.task_family === fam && JSON.parse(e.task_options).contextTokens === size);
        expect(eps.map((e) => e.seed).sort()).toEqual([1, 2, 3]);
        for (const e of eps) {
          expect(Math.abs(e.context_tokens - size) / size).toBeLessThanOrEqual(0.05);
          expect(e.group_id).toBe(`${fam}-${size}-${e.seed}`);
        }
      }
    }
    expect(full.manifest.config.contextTokens).toEqual([2048, 4096, 8192]);

    const replay = await run('replay', [out]);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('18 ok');
  }, 300_000);

  it('a sharded sweep: the shards partition it, --report writes a shard report, `report runs/x/*` reports the whole run', async () => {
    const parent = path.join(tmp, 'sharded');
    const common = ['--task', 'sniah', '--n', '2', '--context-tokens', '2048,4096', '--quiet'];
    const s0 = await run('rollout', [...common, '--shard', '0/2', '--out', path.join(parent, 'shard-0-of-2')]);
    expect(s0.code, s0.stderr).toBe(0);
    expect(s0.stdout).toContain(`report: npm run report -- ${path.join(parent, '*')}   (once every shard has finished)`);
    const s1 = await run('rollout', [...common, '--shard', '1/2', '--out', path.join(parent, 'shard-1-of-2'), '--report']);
    expect(s1.code, s1.stderr).toBe(0);
    expect(s1.stdout).toMatch(/report: .*shard-1-of-2\/report\.html \(\d+\.\d MB\) — this shard only/);
    expect(fs.existsSync(path.join(parent, 'shard-1-of-2', 'report.html'))).toBe(true);
    const sizes = [...(await sizesOf(path.join(parent, 'shard-0-of-2'))), ...(await sizesOf(path.join(parent, 'shard-1-of-2')))].sort();
    expect(sizes).toEqual([2048, 2048, 4096, 4096]);

    // The shell's expansion of runs/x/*: both shard directories (the shard report inside one is not an argument).
    const r = await run('report', [path.join(parent, 'shard-0-of-2'), path.join(parent, 'shard-1-of-2')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/report: .*sharded\/report\.html — 1 run\(s\) \(sharded\), 4 episodes, turns of 4 embedded/);
    const html = fs.readFileSync(path.join(parent, 'report.html'), 'utf8');
    expect(html).toContain('"shards":{"count":2,"present":[0,1],"missing":[]}');
    // A second expansion now includes runs/x/report.html itself: skipped with a note, same run.
    const again = await run('report', [...fs.readdirSync(parent).map((f) => path.join(parent, f)), '--out', path.join(tmp, 'again.html')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`note: skipped ${path.join(parent, 'report.html')}: not a directory`);
    expect(again.stdout).toContain('4 episodes');
  }, 300_000);

  it('bad sizes and bad report inputs exit 2 with one clear line; --help documents the flags', async () => {
    const bad = await run('rollout', ['--context-tokens', '2^14..2^13']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--context-tokens '2\^14\.\.2\^13': the range 2\^14\.\.2\^13 runs downwards/);
    const missing = await run('report', [path.join(tmp, 'no-such-run')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`error: ${path.join(tmp, 'no-such-run')}: no such file or directory`);
    const help = await run('report', ['--help']);
    expect(help.code).toBe(0);
    for (const f of ['--out', '--max-episodes', '--max-text', 'runs/x/*']) expect(help.stdout).toContain(f);
  }, 120_000);
});
