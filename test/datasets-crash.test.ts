/**
 * Atomicity: a writer SIGKILLed while writing many parts leaves only valid part files; reopening (resume) continues the
 * numbering and finishes the run with every episode exactly once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { RunWriter, finishedEpisodeIds, readManifest, readRun, syntheticEpisodes } from '../datasets/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const N = 400;
const OPTS = { n: N, runId: 'crash', tokens: true, textChars: 1500, maxSubCalls: 6, turns: [2, 6] as [number, number] };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

describe('SIGKILL mid-run', () => {
  it('leaves only valid part files; resume completes every episode exactly once', async () => {
    const work = mkdtempSync(join(tmpdir(), 'rlm-crash-'));
    dirs.push(work);
    const dir = join(work, 'run');
    const child = join(work, 'child.mts');
    const datasets = JSON.stringify(join(ROOT, 'datasets', 'index.ts'));
    writeFileSync(
      child,
      `import { RunWriter, syntheticEpisodes } from ${datasets};
const eps = syntheticEpisodes(${JSON.stringify(OPTS)});
const w = await RunWriter.open(${JSON.stringify(dir)}, { runId: 'crash', flushEvery: 1, manifest: { config: { n: ${N} } } });
for (const e of eps) await w.add(e);
await w.close();
process.stdout.write('finished\\n');
`,
    );
    const proc = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', child], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));

    // Wait for a handful of parts, then kill without warning.
    const deadline = Date.now() + 45_000;
    const partsOnDisk = () => (existsSync(join(dir, 'episodes')) ? readdirSync(join(dir, 'episodes')).filter((f) => f.endsWith('.parquet')).length : 0);
    while (partsOnDisk() < 8 && Date.now() < deadline && proc.exitCode === null) await sleep(10);
    expect(proc.exitCode, out).toBeNull(); // still running: we kill it mid-way
    proc.kill('SIGKILL');
    await exited;
    expect(out).not.toContain('finished');

    // Every part file that exists is readable by DuckDB; temp files never match *.parquet.
    const db = await DuckDBInstance.create();
    const con = await db.connect();
    let killedParts = 0;
    for (const sub of ['episodes', 'steps']) {
      for (const f of readdirSync(join(dir, sub))) {
        if (!f.endsWith('.parquet')) {
          expect(f).toMatch(/^\..*\.tmp$/);
          continue;
        }
        expect(f).toMatch(/^part-\d{5}\.parquet$/);
        const r = await con.runAndReadAll(`select count(*)::int as n from read_parquet('${join(dir, sub, f)}')`);
        expect((r.getRowObjectsJson()[0] as { n: number }).n).toBeGreaterThan(0);
        if (sub === 'episodes') killedParts++;
      }
    }
    expect(killedParts).toBeGreaterThanOrEqual(8);
    expect((await readManifest(dir)).status).toBe('running');
    const before = await readRun(dir); // readable as is (orphan steps parts are ignored)
    const done = await finishedEpisodeIds(dir);
    expect(done.size).toBe(before.episodes.length);
    expect(done.size).toBeLessThan(N);

    // Resume: numbering continues after the existing parts; only unfinished episodes are written.
    const maxBefore = Math.max(...readdirSync(join(dir, 'episodes')).filter((f) => f.endsWith('.parquet')).map((f) => Number(f.slice(5, 10))));
    const w = await RunWriter.open(dir, { flushEvery: 64 });
    expect(w.written).toBe(done.size);
    const rest = syntheticEpisodes(OPTS).filter((e) => !done.has(e.episode_id));
    const first = await (async () => {
      for (const e of rest) await w.add(e);
      return w.flush();
    })();
    const m = await w.close();
    expect(m.status).toBe('completed');
    expect(m.sessions.map((s) => s.status)).toEqual(['crashed', 'completed']);
    const newParts = m.parts.filter((p) => p.index > maxBefore);
    expect(newParts.length).toBeGreaterThan(0);
    expect(Math.min(...newParts.map((p) => p.index))).toBe(maxBefore + 1);
    expect(first === null || first.index > maxBefore).toBe(true);
    expect(readdirSync(join(dir, 'episodes')).every((f) => f.endsWith('.parquet'))).toBe(true); // temp files cleaned

    // Exactly once, in DuckDB and in readRun.
    const r = await con.runAndReadAll(
      `select count(*)::int as n, count(distinct episode_id)::int as d from read_parquet('${dir}/episodes/*.parquet')`,
    );
    expect(r.getRowObjectsJson()[0]).toEqual({ n: N, d: N });
    const s = await con.runAndReadAll(
      `select count(*)::int as n, count(distinct (episode_id, turn))::int as d from read_parquet('${dir}/steps/*.parquet')`,
    );
    const expectedSteps = syntheticEpisodes(OPTS).reduce((a, e) => a + e.steps.length, 0);
    expect(s.getRowObjectsJson()[0]).toEqual({ n: expectedSteps, d: expectedSteps });
    const run = await readRun(dir, { verify: true });
    expect(run.episodes.map((e) => e.episode_index)).toEqual(Array.from({ length: N }, (_, i) => i));
    con.closeSync();
  }, 120_000);
});
