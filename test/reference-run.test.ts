/** The main job end to end: `npm run rollout` offline with the reference policy, reproducibility, replay, exports. */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRun, exportRun } from '../datasets/index.ts';
import { DuckDBInstance } from '@duckdb/node-api';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-ref-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, OPENAI_BASE_URL: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Rows with the columns that legitimately differ between two runs removed. */
function stable(rows: readonly object[]): unknown[] {
  return rows.map((r) => {
    const { run_id, wall_ms, duration_ms, ...rest } = r as Record<string, unknown>;
    if (Array.isArray(rest.sub_calls)) rest.sub_calls = (rest.sub_calls as Record<string, unknown>[]).map(({ latency_ms, ...c }) => c);
    return rest;
  });
}

describe('npm run rollout with the reference policy', () => {
  it('plays every family offline, prints the summary table, and is reproducible by seed', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const first = run('scripts/rollout.ts', ['--out', a, '--logprobs']);
    expect(first.code, first.stderr).toBe(0);
    for (const f of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp', 'all']) expect(first.stdout).toMatch(new RegExp(`^${f}\\s+\\d`, 'm'));
    expect(first.stdout).toMatch(/accuracy/);
    const second = run('scripts/rollout.ts', ['--out', b, '--logprobs', '--quiet']);
    expect(second.code, second.stderr).toBe(0);

    const ra = await readRun(a);
    const rb = await readRun(b);
    expect(ra.episodes).toHaveLength(8);
    expect(ra.episodes.filter((e) => e.correct).length).toBeGreaterThanOrEqual(7);
    expect(stable(rb.episodes)).toEqual(stable(ra.episodes));
    expect(stable(rb.steps)).toEqual(stable(ra.steps));
    expect(ra.steps.every((s) => s.completion_token_ids && s.completion_token_ids.length > 0)).toBe(true);
  });

  it('replay verifies the run; every export reads in DuckDB', async () => {
    const dir = path.join(tmp, 'a');
    const replay = run('scripts/replay.ts', [dir]);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('8 ok');
    const db = await (await DuckDBInstance.create()).connect();
    for (const format of ['verl', 'trl', 'sft', 'tokens'] as const) {
      const out = path.join(tmp, `x.${format}.parquet`);
      const r = await exportRun(dir, { format, out });
      expect(r.rows, format).toBeGreaterThan(0);
      const n = (await db.runAndReadAll(`select count(*)::INTEGER as n from read_parquet('${out}')`)).getRowObjects()[0].n;
      expect(n).toBe(r.rows);
    }
    const tok = (await db.runAndReadAll(`select len(token_ids)::INTEGER a, len(loss_mask)::INTEGER b, len(logprobs)::INTEGER c, list_sum(loss_mask)::INTEGER ones from read_parquet('${path.join(tmp, 'x.tokens.parquet')}')`)).getRowObjects();
    for (const r of tok) {
      expect(r.a).toBe(r.b);
      expect(r.a).toBe(r.c);
      expect(r.ones).toBeGreaterThan(0);
      expect(r.ones).toBeLessThan(r.a as number);
    }
  });
});
