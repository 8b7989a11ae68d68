/**
 * `npm run bench` argument handling only: --help and bad arguments. No benchmark runs here and nothing is timed —
 * the benchmarks themselves are never part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseFlags, resolvePlan, UsageError } from '../bench/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/index.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run bench (arguments)', () => {
  it('--help: usage and every benchmark on stdout, exit 0', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run bench/);
    for (const b of ['step_overhead', 'python_step_overhead', 'reset_10m', 'taskgen', 'harness_turn', 'parquet_write', 'memory_per_episode', 'concurrency_1000', 'scale_10m', 'report']) {
      expect(r.stdout).toContain(b);
    }
  });

  it('an unknown flag, an unknown benchmark, --only without a list: one stderr line, exit 2, nothing on stdout', () => {
    for (const args of [['--fast'], ['--only', 'warp_speed'], ['--only']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });

  it('--only resolves benchmarks, family forms and result names', () => {
    expect(resolvePlan(['taskgen_sniah', 'taskgen_browsecomp_10m', 'parquet_size'])).toEqual([
      { id: 'taskgen', select: ['sniah', 'browsecomp'] },
      { id: 'parquet_write', select: null },
    ]);
    expect(resolvePlan(['scale_10m', 'scale_10m_oolong'])).toEqual([{ id: 'scale_10m', select: null }]);
    const all = resolvePlan(null).map((p) => p.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(14);
    expect(all).toEqual(expect.arrayContaining(['taskgen', 'step_overhead', 'parquet_write', 'peer_repl', 'env_server', 'scale_10m', 'concurrency_1000']));
    expect(resolvePlan(['concurrency_1000_rss_per_episode'])).toEqual([{ id: 'concurrency_1000', select: null }]);
    expect(resolvePlan(['peer_repl_regex_1m'])).toEqual([{ id: 'peer_repl', select: null }]);
    expect(resolvePlan(['restore_new_worker'])).toEqual([{ id: 'rollback', select: null }]);
    expect(resolvePlan(['env_server_ws'])).toEqual([{ id: 'env_server', select: null }]);
    expect(resolvePlan(['python_reset_grpo16'])).toEqual([{ id: 'python_step_overhead', select: null }]);
    expect(parseFlags(['--json', '--quick', '--only=reset_10m'])).toMatchObject({ json: true, quick: true, only: ['reset_10m'] });
    expect(() => parseFlags(['--jsn'])).toThrow(UsageError);
  });
});
