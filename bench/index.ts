/**
 * `npm run bench` — rlm-gym's performance, each number measured against a baseline in the same run on the same machine.
 *
 *   npm run bench                      # full set (≈ 10 min on 2 cores), readable table on stdout
 *   npm run bench -- --json            # one JSON object on stdout: { machine, results: [...] }
 *   npm run bench -- --quick           # reduced sizes and repetitions (< 2 min)
 *   npm run bench -- --only step_overhead,taskgen_sniah
 *
 * Each benchmark runs in its own child process (fresh heap, clean peak-RSS readings, no cross-talk between benchmarks);
 * the child sends its results back over IPC. Progress goes to stderr; stdout carries only the table or the JSON.
 * Never part of `npm test`.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchContext, BenchResult, Benchmark } from './lib.ts';

/** The registry, in run order (scale_10m last: it may wait for the reference policy). Loaded lazily per process. */
const REGISTRY: { id: string; file: string; exportName: string; subs?: readonly string[]; aliases?: readonly string[]; childPerSub?: boolean; describe: string }[] = [
  { id: 'taskgen', file: './taskgen.ts', exportName: 'taskgen', subs: ['sniah', 'oolong', 'oolong-pairs', 'browsecomp'], describe: 'MB/s of generated context per family (1M, 10M tokens) vs a repeated template; goal sniah/oolong ≥ 100, browsecomp ≥ 20' },
  { id: 'step_overhead', file: './step-overhead.ts', exportName: 'stepOverhead', aliases: ['step_vs_python_repl'], describe: 'env.step on a one-line cell via the worker vs raw in-process isolated-vm eval (and a python3 REPL); goal ≤ 0.15 ms p50' },
  { id: 'python_step_overhead', file: './python-step-overhead.ts', exportName: 'pythonStepOverhead', aliases: ['python_step_vs_js', 'python_reset_grpo16'], describe: 'Python REPL (Pyodide, locked process): small cell vs a persistent python3 exec and vs the JS REPL; 16 resets of one context' },
  { id: 'reset_10m', file: './reset-10m.ts', exportName: 'reset10m', describe: 'RLMEnv.reset with a generated 10M-token context (cached; first as extra) vs Buffer.copy of its bytes; goal ≤ 50 ms' },
  { id: 'harness_turn', file: './harness-turn.ts', exportName: 'harnessTurn', aliases: ['harness_episodes_per_s'], describe: 'per-turn overhead of the rollout path beyond its parts (goal ≤ 1 ms); episodes/s for small contexts (goal ≥ 300 and ≥ 0.9 × RLMEnv alone)' },
  { id: 'parquet_write', file: './parquet-write.ts', exportName: 'parquetWrite', aliases: ['parquet_size', 'parquet_vs_duckdb'], describe: 'RunWriter vs JSON Lines vs DuckDB; goal faster than JSONL, ≤ 1/4 its size, within 2× DuckDB' },
  { id: 'rollback', file: './rollback.ts', exportName: 'rollback', aliases: ['rollback_replay_per_cell', 'restore_new_worker', 'journal_overhead', 'event_loop_stall'], describe: 'journal replay per cell on a rollback vs the first run; restore of a session on a new worker vs a fresh open; journaling overhead per cell; event-loop stall on 5M-char inputs (goal ≤ 50 ms)' },
  { id: 'report', file: './report.ts', exportName: 'report', describe: 'HTML report of 100 and 10,000 synthetic episodes: MB vs the Parquet, open time in headless chromium vs a 1-episode page; goal ≤ 50 MB, ≤ 5 s' },
  { id: 'concurrency_1000', file: './concurrency-1000.ts', exportName: 'concurrency1000', aliases: ['concurrency_1000_rss_per_episode'], describe: '1,024 live episodes (64 tasks × GRPO groups of 16, 100k-token contexts, 3 turns) on the real path: peak RSS of harness + workers (goal ≤ 8 GB, none lost), MB per episode beyond context bytes (goal ≤ 3)' },
  { id: 'memory_per_episode', file: './memory-per-episode.ts', exportName: 'memoryPerEpisode', describe: 'peak RSS growth per concurrent episode (16 × 1M-token contexts); goal ≤ 1.3 × context bytes + 30 MB' },
  { id: 'sub_call_necessity', file: './sub-call-necessity.ts', exportName: 'subCallNecessity', subs: ['oolong', 'oolong-pairs', 'browsecomp', 'sniah'], describe: 'code-only baseline vs reference policy (sub-model right 100/95/90/80%), ≥ 30 seeds per family; goal code-only ≤ 0.35 (browsecomp ≤ 0.5), reference ≥ 0.95' },
  { id: 'peer_repl', file: './peer-repl.ts', exportName: 'peerRepl', aliases: ['peer_repl_print', 'peer_repl_regex_1m', 'peer_repl_persisted_var'], describe: 'the same cells (print, regex over 1M chars, persisted variable) through the official rlms LocalREPL, a python3 subprocess, rlm-gym JS and Python REPLs: p50/p99, ratios' },
  { id: 'env_server', file: './env-server.ts', exportName: 'envServer', aliases: ['env_server_http', 'env_server_ws'], describe: 'N concurrent sessions (256; quick 32) over `npm run serve` HTTP and WebSocket vs RLMEnv in-process: step p50/p99, throughput, RSS per session' },
  { id: 'scale_1b', file: './scale-1b.ts', exportName: 'scale1b', describe: '1B-token sniah, host-backed: generation MB/s to disk (vs a plain disk write), one reference episode (score, wall), peak RSS harness + workers, disk bytes; goal ≥ 100 MB/s, score 1, < 2 GB' },
  { id: 'scale_10m', file: './scale-10m.ts', exportName: 'scale10m', subs: ['sniah', 'oolong'], childPerSub: true, describe: 'full reference-policy episode on 10M-token sniah and oolong (real HTTP path): wall time, peak RSS, success' },
  { id: 'scale_100m_oolong', file: './scale-100m-oolong.ts', exportName: 'scale100mOolong', describe: 'reference episode on a 100M-token oolong stored on disk (host-backed context): wall, generation MB/s to disk (goal ≥ 100), peak RSS (goal < 2 GB), score' },
];

const USAGE = `Usage: npm run bench -- [--json] [--quick] [--only name[,name…]] [--cpu-prof] | --readme

Measures rlm-gym against a baseline per benchmark, in one run on this machine (warm-up, repetitions, medians).
  --json        print one JSON object { machine, results } on stdout (progress goes to stderr)
  --quick       reduced sizes and repetitions (under 2 minutes on 2 cores)
  --only LIST   comma-separated benchmarks to run (below), or a family form such as taskgen_sniah, scale_10m_oolong
  --cpu-prof    write a V8 CPU profile of each benchmark process to a temp dir (printed; open in Chrome DevTools)
  --readme      run nothing: print the README performance table from bench/results.json (bench/readme-table.ts)
  -h, --help    this text

Benchmarks:
${REGISTRY.map((b) => `  ${b.id.padEnd(19)} ${b.describe}`).join('\n')}
`;

export interface Flags {
  json: boolean;
  quick: boolean;
  cpuProf: boolean;
  help: boolean;
  readme: boolean;
  only: string[] | null;
  child: string | null;
  select: string[] | null;
}

export class UsageError extends Error {}

export function parseFlags(argv: string[]): Flags {
  const f: Flags = { json: false, quick: false, cpuProf: false, help: false, readme: false, only: null, child: null, select: null };
  const list = (v: string | undefined, flag: string): string[] => {
    if (v === undefined || v.startsWith('--') || v.trim() === '') throw new UsageError(`${flag} needs a comma-separated list of benchmark names`);
    return v.split(',').map((s) => s.trim()).filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    switch (name) {
      case '--json':
        f.json = true;
        break;
      case '--quick':
        f.quick = true;
        break;
      case '--cpu-prof':
        f.cpuProf = true;
        break;
      case '--readme':
        f.readme = true;
        break;
      case '-h':
      case '--help':
        f.help = true;
        break;
      case '--only':
        f.only = list(inline ?? argv[++i], '--only');
        break;
      case '--child': // internal: run one benchmark in this process and send the results to the parent
        f.child = inline ?? argv[++i] ?? null;
        break;
      case '--select': // internal
        f.select = list(inline ?? argv[++i], '--select');
        break;
      default:
        throw new UsageError(`unknown argument '${a}' (see npm run bench -- --help)`);
    }
  }
  return f;
}

export interface PlanItem {
  id: string;
  select: string[] | null;
}

/** Resolves --only names to benchmarks (+ sub-selections). Throws UsageError naming an unknown one. */
export function resolvePlan(only: string[] | null): PlanItem[] {
  if (!only) return REGISTRY.map((b) => ({ id: b.id, select: null }));
  const chosen = new Map<string, Set<string> | null>();
  for (const name of only) {
    const exact = REGISTRY.find((b) => b.id === name || b.aliases?.includes(name));
    if (exact) {
      chosen.set(exact.id, null);
      continue;
    }
    const sub = REGISTRY.flatMap((b) => (b.subs ?? []).map((s) => ({ b, s }))).find(({ b, s }) => name === `${b.id}_${s}` || name.startsWith(`${b.id}_${s}_`));
    if (!sub) {
      throw new UsageError(`unknown benchmark '${name}'; valid: ${REGISTRY.map((b) => b.id).join(', ')} (or e.g. taskgen_sniah, scale_10m_oolong)`);
    }
    const cur = chosen.get(sub.b.id);
    if (cur === null) continue; // the whole benchmark is already selected
    chosen.set(sub.b.id, (cur ?? new Set()).add(sub.s));
  }
  return REGISTRY.filter((b) => chosen.has(b.id)).map((b) => {
    const s = chosen.get(b.id);
    return { id: b.id, select: s ? [...s] : null };
  });
}

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    model: cpus[0]?.model?.trim() ?? 'unknown',
    memGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

// ----- child side ---------------------------------------------------------------------------------------------------

async function runChild(id: string, ctx: BenchContext): Promise<void> {
  const entry = REGISTRY.find((b) => b.id === id);
  const send = (m: unknown) =>
    new Promise<void>((resolve) => {
      if (!process.send) {
        process.stdout.write(JSON.stringify(m) + '\n');
        return resolve();
      }
      process.send(m, () => resolve());
    });
  try {
    if (!entry) throw new Error(`no benchmark '${id}'`);
    const mod = (await import(entry.file)) as Record<string, Benchmark>;
    const bench = mod[entry.exportName];
    if (!bench) throw new Error(`${entry.file} does not export ${entry.exportName}`);
    const results = await bench.run(ctx);
    await send({ ok: true, results });
  } catch (e) {
    await send({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
  process.exit(0); // do not wait for stray handles (servers, pools) of a failed benchmark
}

// ----- parent side --------------------------------------------------------------------------------------------------

const TSX_IMPORT = (() => {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
})();

const CHILD_TIMEOUT_MS = 45 * 60_000;

function runInChild(item: PlanItem, quick: boolean, cpuProfDir: string | null): Promise<{ results: BenchResult[]; error: string | null }> {
  const self = fileURLToPath(import.meta.url);
  const args = ['--child', item.id, ...(quick ? ['--quick'] : []), ...(item.select ? ['--select', item.select.join(',')] : [])];
  const execArgv = ['--no-node-snapshot', '--expose-gc', '--import', TSX_IMPORT, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${item.id}${item.select ? '-' + item.select.join('-') : ''}.cpuprofile`] : [])];
  return new Promise((resolve) => {
    // The child's stdout goes to our stderr: stdout stays clean for the table / JSON.
    const child = fork(self, args, { execArgv, stdio: ['ignore', 2, 2, 'ipc'] });
    let answer: { ok: boolean; results?: BenchResult[]; error?: string } | null = null;
    const timer = setTimeout(() => {
      answer ??= { ok: false, error: `timed out after ${CHILD_TIMEOUT_MS / 60_000} min` };
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('message', (m) => {
      answer = m as typeof answer;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (answer?.ok) resolve({ results: answer.results ?? [], error: null });
      else resolve({ results: [], error: answer?.error ?? `the benchmark process exited with ${signal ?? `code ${code}`}` });
    });
  });
}

function fmt(x: unknown): string {
  if (typeof x !== 'number') return String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export function formatTable(machine: Record<string, unknown>, results: BenchResult[], errors: { bench: string; error: string }[]): string {
  const head = ['benchmark', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met'];
  const rows = results.map((r) => [r.name, fmt(r.value), r.unit, fmt(r.baseline_value), fmt(r.ratio), r.goal, r.goal_met === null ? '–' : r.goal_met ? 'yes' : 'NO']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [
    `rlm-gym benchmarks — ${machine.date} — ${machine.cpus} × ${machine.model}, ${machine.memGB} GB, node ${machine.node}, load ${(machine.loadavg as number[]).join(' ')}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'ratio = value / baseline. Baselines:',
    ...results.map((r) => `  ${r.name}: ${r.baseline}`),
  ];
  for (const e of errors) out.push('', `FAILED ${e.bench}: ${e.error.split('\n')[0]}`);
  return out.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  let flags: Flags;
  let plan: PlanItem[];
  try {
    flags = parseFlags(argv);
    if (flags.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (flags.readme) {
      const { main: readmeTable } = await import('./readme-table.ts');
      return readmeTable([]);
    }
    plan = flags.child ? [] : resolvePlan(flags.only);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (flags.child) {
    await runChild(flags.child, { quick: flags.quick, select: flags.select });
    return 0;
  }

  // One process per benchmark; benchmarks marked childPerSub get one process per sub (e.g. per scale family).
  const items: PlanItem[] = plan.flatMap((p) => {
    const entry = REGISTRY.find((b) => b.id === p.id)!;
    if (!entry.childPerSub || !entry.subs) return [p];
    return (p.select ?? [...entry.subs]).map((s) => ({ id: p.id, select: [s] }));
  });
  const machine = machineInfo();
  const started = performance.now();
  const cpuProfDir = flags.cpuProf ? path.join(os.tmpdir(), `rlm-gym-bench-profiles-${Date.now()}`) : null;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  process.stderr.write(`[bench] ${flags.quick ? 'quick' : 'full'} run: ${items.map((i) => i.id + (i.select ? `(${i.select.join(',')})` : '')).join(', ')}\n`);
  const results: BenchResult[] = [];
  const errors: { bench: string; error: string }[] = [];
  for (const [k, item] of items.entries()) {
    const label = item.id + (item.select ? `(${item.select.join(',')})` : '');
    process.stderr.write(`[bench] (${k + 1}/${items.length}) ${label} …\n`);
    const t0 = performance.now();
    const load = Math.round(os.loadavg()[0] * 100) / 100;
    const r = await runInChild(item, flags.quick, cpuProfDir);
    // Other processes' load skews every timing on a small machine: record it with each result.
    for (const res of r.results) res.load_1m_at_start = load;
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    if (r.error) {
      errors.push({ bench: label, error: r.error });
      process.stderr.write(`[bench] ${label} FAILED after ${s} s: ${r.error}\n`);
    } else {
      results.push(...r.results);
      process.stderr.write(`[bench] ${label} done in ${s} s\n`);
    }
  }
  const duration = Math.round((performance.now() - started) / 100) / 10;
  machine.loadavg_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
  if (flags.json) {
    const out: Record<string, unknown> = { machine, quick: flags.quick, duration_s: duration, results };
    if (errors.length) out.errors = errors;
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stdout.write(formatTable(machine, results, errors));
    process.stdout.write(`\n${results.length} result(s) in ${duration} s\n`);
  }
  if (cpuProfDir) process.stderr.write(`[bench] CPU profiles (bench processes; sandbox workers are not profiled): ${cpuProfDir}\n`);
  return errors.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
