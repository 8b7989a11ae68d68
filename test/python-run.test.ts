/**
 * `repl: 'python'` end to end: the env (Python system prompt, ```python fences, notices, text FINAL_VAR), then
 * `npm run rollout -- --repl python` offline with the reference policy (every family, the JS reference's scores), and
 * `npm run replay` of that Python run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RLMEnv } from '../env/index.ts';
import { readRun } from '../datasets/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-py-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, encoding: 'utf8', timeout: 420_000, env: { ...process.env, OPENAI_BASE_URL: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('RLMEnv with repl: python', () => {
  it('prompts for Python, runs ```python / ```py / ```repl fences, explains a ```js block, and honours a text FINAL_VAR', async () => {
    const env = new RLMEnv({ task: 'sniah', taskOptions: { contextTokens: 2_000 }, repl: 'python', subModel: async () => ({ text: 'ok', model: 'm', promptTokens: 1, completionTokens: 1 }) });
    try {
      const reset = await env.reset({ seed: 5 });
      expect(reset.observation[0].content).toContain('stored in a Python REPL as the variable `context`');
      expect(reset.observation[0].content).toContain('`llm_query(prompt, model=None)` → str');
      const a = await env.step('Look:\n```python\nn = len(context)\nprint(type(context).__name__)\n```\n```py\nprint(n > 0)\n```');
      expect(a.observation[0].content).toMatch(/\[cell 1\/2\]\nstr\n+\[cell 2\/2\]\nTrue\n/);
      const b = await env.step('```js\nconst x = 1;\n```');
      expect(b.observation[0].content).toContain('Write Python in a ```repl block');
      expect(b.observation[0].content).toContain('(Only Python runs here, not JavaScript.)');
      const c = await env.step('```repl\nguess = "12345"\n```');
      expect(c.terminated).toBe(false);
      const d = await env.step('The answer is in guess. FINAL_VAR(guess)');
      expect(d.terminated).toBe(true);
      expect(d.info.finalAnswer).toBe('12345');
    } finally {
      await env.close();
    }
  }, 120_000);

  it('rejects an unknown repl', () => {
    expect(() => new RLMEnv({ repl: 'ruby' as never })).toThrow(/repl/);
  });
});

describe('npm run rollout -- --repl python', () => {
  it('plays every family offline at the JavaScript reference scores, and replay verifies the Python run', async () => {
    const py = path.join(tmp, 'py');
    const jsDir = path.join(tmp, 'js');
    const first = run('scripts/rollout.ts', ['--repl', 'python', '--n', '1', '--out', py, '--quiet']);
    expect(first.code, first.stderr).toBe(0);
    for (const f of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp', 'all']) expect(first.stdout).toMatch(new RegExp(`^${f}\\s+\\d`, 'm'));
    const second = run('scripts/rollout.ts', ['--n', '1', '--out', jsDir, '--quiet']);
    expect(second.code, second.stderr).toBe(0);

    const rp = await readRun(py);
    const rj = await readRun(jsDir);
    expect((rp.manifest as { extra?: { env?: { repl?: string } } }).extra?.env?.repl).toBe('python');
    const scores = (r: typeof rp) => Object.fromEntries(r.episodes.map((e) => [e.episode_id, [e.task_id, e.score, e.correct, e.stop_reason]]));
    expect(scores(rp)).toEqual(scores(rj));
    expect(rp.episodes).toHaveLength(4);
    // The policy wrote Python (and the env ran it): no JavaScript declarations in the recorded cells.
    const cells = rp.steps.flatMap((s) => s.code_cells);
    expect(cells.length).toBeGreaterThan(0);
    expect(cells.some((c) => /^\s*(const|let) /m.test(c))).toBe(false);
    expect(cells.some((c) => /^import re/m.test(c))).toBe(true);

    const replay = run('scripts/replay.ts', [py]);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('4 ok');
  }, 900_000);
});
