/**
 * Task plugins (`--task ./my-family.ts`): validated on load with clear errors; usable through the env API
 * (`new RLMEnv({ task: myFamily })`) and end to end through `npm run rollout`, `npm run replay`, `--resume` and
 * `npm run export`, with the example plugin in examples/.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RLMEnv } from '../env/index.ts';
import { readRun } from '../datasets/index.ts';
import { TaskPluginError, generateTask, getTaskFamily, loadTaskPlugin, scoreTask } from '../tasks/index.ts';
import exampleFamily from '../examples/my-family.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-plugins-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function plugin(name: string, body: string): string {
  const p = path.join(tmp, `${name}.mjs`);
  fs.writeFileSync(p, body);
  return p;
}

const GOOD = `
const make = (seed, name = 'toy') => ({ id: 'toy-' + seed, family: name, seed, options: { seed }, question: 'Say ' + seed, context: 'ctx ' + seed, answer: String(seed), answerType: 'exact', meta: {} });
`;

describe('task plugins: validated on load', () => {
  it('loads the example plugin and registers it under its name', async () => {
    const def = await loadTaskPlugin('./examples/my-family.ts', root);
    expect(def.name).toBe('word-tally');
    expect(getTaskFamily('word-tally').name).toBe('word-tally');
    const a = generateTask('word-tally', { seed: 3 });
    expect(generateTask('word-tally', { seed: 3 })).toEqual(a);
    expect(scoreTask(a, a.answer).score).toBe(1);
    expect(scoreTask(a, String(Number(a.answer) + 2)).score).toBeCloseTo(0.5625, 10);
  });

  const bad: [string, string, RegExp][] = [
    ['no-export', 'export const x = 1;', /exports no task family: export default/],
    ['no-name', `${GOOD} export default { generate: (o) => make(o.seed), score: () => ({ score: 1, correct: true, details: {} }) };`, /exports no task family|needs a 'name'/],
    ['builtin-name', `${GOOD} export default { name: 'sniah', generate: (o) => make(o.seed, 'sniah'), score: () => ({ score: 1, correct: true, details: {} }) };`, /name 'sniah' is a built-in family/],
    ['throws', `export default { name: 'thrower', generate: () => { throw new Error('boom'); }, score: () => ({ score: 1, correct: true, details: {} }) };`, /generate\(\{ seed: 0 \}\) threw: boom/],
    ['wrong-family', `${GOOD} export default { name: 'wrongfam', generate: (o) => make(o.seed, 'other'), score: () => ({ score: 1, correct: true, details: {} }) };`, /returned family 'other', but the plugin is named 'wrongfam'/],
    ['no-context', `export default { name: 'noctx', generate: (o) => ({ id: 'x', family: 'noctx', seed: o.seed, options: {}, question: 'q', context: 5, answer: 'a', answerType: 'exact', meta: {} }), score: () => ({ score: 1, correct: true, details: {} }) };`, /a context that is neither a string nor a list/],
    ['gold-not-1', `${GOOD} export default { name: 'gold', generate: (o) => make(o.seed, 'gold'), score: () => ({ score: 0, correct: false, details: {} }) };`, /score\(task, task.answer\) gave 0: the gold answer must score 1/],
    ['bad-score', `${GOOD} export default { name: 'badscore', generate: (o) => make(o.seed, 'badscore'), score: () => ({ score: 7 }) };`, /score\(\) returned score 7 \(must be a number in \[0, 1\]\)/],
    ['random', `let n = 0; ${GOOD} export default { name: 'random', generate: (o) => ({ ...make(o.seed, 'random'), answer: String(n++) }), score: (t, p) => ({ score: p === t.answer ? 1 : 0, correct: p === t.answer, details: {} }) };`, /not deterministic/],
  ];
  for (const [name, body, message] of bad) {
    it(`refuses a plugin: ${name}`, async () => {
      const p = plugin(name, body);
      await expect(loadTaskPlugin(p)).rejects.toThrow(TaskPluginError);
      await expect(loadTaskPlugin(p)).rejects.toThrow(message);
    });
  }

  it('a missing module is one clear error', async () => {
    await expect(loadTaskPlugin('./no-such-family.ts', tmp)).rejects.toThrow(/cannot import .*no-such-family\.ts/);
  });
});

describe('task plugins: the env API', () => {
  it('new RLMEnv({ task: myFamily }) plays and scores a plugin task', async () => {
    const env = new RLMEnv({ task: exampleFamily, taskOptions: { contextTokens: 500 } });
    try {
      const { observation } = await env.reset({ seed: 2 });
      const item = /How many (\w+) are there/.exec(observation.map((m) => m.content).join('\n'))![1];
      const code = `const re = /: (\\d+) ${item}$/gm; let n = 0; for (let m; (m = re.exec(context)) !== null; ) n += Number(m[1]); FINAL(String(n));`;
      const r = await env.step('```repl\n' + code + '\n```');
      expect(r.terminated).toBe(true);
      expect(r.reward).toBe(1);
    } finally {
      await env.close();
    }
    expect(() => new RLMEnv({ task: { name: 'x', generate: () => ({}) as never, score: () => ({ score: 1, correct: true, details: {} }) } })).toThrow(/invalid RLMEnv config: task: .*returned object|invalid RLMEnv config: task/);
  }, 60_000);
});

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, OPENAI_BASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('task plugins: end to end through the CLI', () => {
  it('npm run rollout --task ./examples/my-family.ts, then replay, resume and export', async () => {
    const out = path.join(tmp, 'run');
    const r = await run('scripts/rollout.ts', ['--task', './examples/my-family.ts,sniah', '--n', '2', '--context-tokens', '1200', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/word-tally\s+2/);
    const data = await readRun(out);
    expect(data.episodes.filter((e) => e.task_family === 'word-tally')).toHaveLength(2);
    expect((data.manifest.extra as { task_plugins: { name: string }[] }).task_plugins).toEqual([expect.objectContaining({ name: 'word-tally', spec: './examples/my-family.ts' })]);
    const replay = await run('scripts/replay.ts', [out, '--quiet']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('4 ok');
    const resumed = await run('scripts/rollout.ts', ['--resume', out, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/4 already recorded/);
    const exported = await run('scripts/export.ts', [out, '--format', 'verl', '--out', path.join(tmp, 'verl.parquet')]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(fs.existsSync(path.join(tmp, 'verl.parquet'))).toBe(true);
    const bad = await run('scripts/rollout.ts', ['--task', './examples/nope.ts', '--out', path.join(tmp, 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/task plugin \.\/examples\/nope\.ts: cannot import/);
  }, 240_000);
});
