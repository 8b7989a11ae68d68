/** `npm run tasks` (scripts/tasks.ts), run as a child process exactly like the npm script does. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateTask } from '../tasks/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'scripts/tasks.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run tasks', () => {
  it('unknown family: exit 2, one stderr line listing the families', () => {
    const r = run(['--task', 'haystack']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    for (const f of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp']) expect(lines[0]).toContain(f);
    expect(r.stdout).toBe('');
  });

  it('bad option value: exit 2, one line naming the option and the valid values', () => {
    const r = run(['--task', 'sniah', '--value-type', 'emoji']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/valueType.*number, uuid, word/);
    const wrongFamily = run(['--task', 'oolong', '--num-docs', '10']);
    expect(wrongFamily.code).toBe(2);
    expect(wrongFamily.stderr).toMatch(/unknown option 'numDocs'.*valid options/);
    const badN = run(['--task', 'oolong', '--n', 'many']);
    expect(badN.code).toBe(2);
    expect(badN.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('missing --task and unknown flags exit 2 with one line', () => {
    const missing = run([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--task is required.*sniah, oolong, oolong-pairs, browsecomp/);
    const unknown = run(['--task', 'sniah', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--json prints one parseable task per line, seeds seed, seed+1, … matching the library', () => {
    const r = run(['--task', 'oolong', '--n', '2', '--seed', '5', '--context-tokens', '2000', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const tasks = lines.map((l) => JSON.parse(l));
    expect(tasks.map((t) => t.seed)).toEqual([5, 6]);
    for (const t of tasks) {
      expect(typeof t.context).toBe('string');
      expect(t).toEqual(generateTask('oolong', { seed: t.seed, contextTokens: 2000 }));
    }
  });

  it('default output is a readable summary with question, answer, sizes and evidence', () => {
    const r = run(['--task', 'browsecomp', '--n', '1', '--num-docs', '30', '--context-tokens', '4000', '--opt', 'constraints=3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/=== browsecomp · id [0-9a-f]{16} · seed 1 ===/);
    expect(r.stdout).toMatch(/size: [\d,]+ tokens \(o200k\)/);
    expect(r.stdout).toMatch(/question:\n/);
    expect(r.stdout).toMatch(/answer \(entity\): \w+/);
    expect(r.stdout).toMatch(/evidence:\n\s+doc-\d{4}/);
    expect(r.stdout.match(/^\s+\d\. They /gm)).toHaveLength(3);
  });

  it('--help exits 0 and documents the families and their options', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--task <family>');
    expect(r.stdout).toContain('numDocs');
    expect(r.stdout).toContain('valueType');
  });
});
