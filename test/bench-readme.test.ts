/**
 * The README's performance table is generated from bench/results.json (bench/readme-table.ts): every result has a row
 * with its numbers and a sentence saying what it means, the README's block is exactly that output, --write replaces
 * only the marked block, and `npm run bench -- --readme` prints it. Also the peer_repl bench's fixed inputs (its 1M-char
 * context and cell checks). Nothing is timed here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESULTS, END, START, fmt, meaning, readResults, renderTable, replaceBlock, type BenchFile } from '../bench/readme-table.ts';
import { peerCells, peerContext } from '../bench/peer-repl.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rlm-readme-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('README performance table', () => {
  const committed = readResults(DEFAULT_RESULTS);

  it('has one row per result of bench/results.json, with its value, ratio, met and a meaning that quotes the value', () => {
    const table = renderTable(committed);
    const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| benchmark'));
    expect(rows).toHaveLength(committed.results.length);
    for (const [i, r] of committed.results.entries()) {
      const cells = rows[i]!.split(/(?<!\\)\|/).map((c) => c.trim());
      expect(cells[1]).toBe(r.name);
      expect(cells[2]).toContain(fmt(r.value));
      expect(cells[4]).toBe(fmt(r.ratio));
      expect(cells[6]).toBe(r.goal_met === true ? 'yes' : r.goal_met === false ? 'no' : '–');
      const m = meaning(r);
      expect(cells[7]).toBe(m.replace(/\|/g, '\\|'));
      expect(m).toContain(fmt(r.value));
      expect(m.length).toBeGreaterThan(40);
    }
    expect(table).toContain(String(committed.machine.date));
  });

  it('is what README.md shows between the markers (regenerate with --write README.md)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const a = readme.indexOf(START);
    const b = readme.indexOf(END);
    expect(a).toBeGreaterThan(readme.indexOf('## Performance'));
    expect(readme.slice(a + START.length, b).trim()).toBe(renderTable(committed));
  });

  it('--write replaces only the marked block; a file without markers is refused; --readme prints the table', () => {
    const doc = `# x\nbefore\n${START}\nold table\n${END}\nafter\n`;
    const file: BenchFile = {
      machine: { cpus: 2, date: '2026-01-01T00:00:00Z' },
      results: [{ name: 'made_up', value: 1.23456, unit: 'ms', baseline: 'nothing', baseline_value: 2, ratio: 0.617, goal: 'none', goal_met: null }],
    };
    const out = replaceBlock(doc, renderTable(file));
    expect(out.startsWith(`# x\nbefore\n${START}\n`)).toBe(true);
    expect(out.endsWith(`${END}\nafter\n`)).toBe(true);
    expect(out).not.toContain('old table');
    expect(out).toContain('| made_up | 1.23 ms | nothing: 2 | 0.617 | none | – | made_up: 1.23 ms, against nothing (2); goal: none. |');
    expect(() => replaceBlock('# no markers', 'x')).toThrow(/no <!-- bench-table:start -->/);

    const results = join(tmp, 'results.json');
    const readme = join(tmp, 'README.md');
    writeFileSync(results, JSON.stringify(file));
    writeFileSync(readme, doc);
    const w = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/readme-table.ts', '--results', results, '--write', readme], { cwd: ROOT, encoding: 'utf8' });
    expect(w.status, w.stderr).toBe(0);
    expect(readFileSync(readme, 'utf8')).toBe(out);
    const bad = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/readme-table.ts', '--write'], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    const p = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/index.ts', '--readme'], { cwd: ROOT, encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.trim()).toBe(renderTable(committed));
  });
});

describe('peer_repl inputs', () => {
  it('a 1M-char context whose needle count every cell check agrees on', () => {
    const { context, needles } = peerContext();
    expect(context.length).toBe(1_000_000);
    expect(needles).toBe((context.match(/magic number is \d+/g) ?? []).length);
    expect(needles).toBeGreaterThan(50);
    const [print, regex, persisted] = peerCells(needles);
    expect(print!.check('hello\n')).toBe(true);
    expect(regex!.check(`${needles}\n`)).toBe(true);
    expect(regex!.check(`${needles + 1}\n`)).toBe(false);
    expect(persisted!.check('3\n')).toBe(true);
    expect(persisted!.check('NaN')).toBe(false);
  });
});
