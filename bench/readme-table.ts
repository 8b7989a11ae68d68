/**
 * The README's performance table, generated from a bench results file (bench/results.json by default): one row per
 * result — value, baseline, ratio, goal, met — and a sentence saying what the number means.
 *
 *   npm run -s bench -- --readme                                   # print the table for bench/results.json
 *   node --import tsx bench/readme-table.ts [--results FILE] [--write README.md]
 *
 * --write replaces the block between `<!-- bench-table:start -->` and `<!-- bench-table:end -->` in that file (the
 * machine line and the table), leaving the rest of the "## Performance" section as it is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './lib.ts';

export const START = '<!-- bench-table:start -->';
export const END = '<!-- bench-table:end -->';

export interface BenchFile {
  machine: { cpus?: number; model?: string; memGB?: number; node?: string; platform?: string; loadavg?: number[]; loadavg_end?: number[]; date?: string };
  quick?: boolean;
  duration_s?: number;
  results: BenchResult[];
}

/** Numbers as a reader wants them: 3 significant digits, thousands separated, no exponent. */
export function fmt(x: unknown): string {
  if (typeof x !== 'number') return x === null || x === undefined ? '–' : String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const v = a >= 1000 ? Math.round(x) : Number(x.toPrecision(3));
  return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
type Peers = Record<string, { p50?: number; p99?: number; ratio_vs_js?: number; sandboxed?: boolean; skipped?: string }>;
const PEER_NAMES: Record<string, string> = {
  rlms_local_repl: 'the official rlms LocalREPL',
  python3_subprocess: 'a python3 subprocess',
  rlm_gym_js: "rlm-gym's JS REPL",
  rlm_gym_python: "rlm-gym's Python REPL",
};

/** One sentence per result: what the number means (curated for the known benchmarks, else built from its fields). */
export function meaning(r: BenchResult): string {
  const v = fmt(r.value);
  const b = fmt(r.baseline_value);
  const n = r.name;
  let m: RegExpMatchArray | null;
  if ((m = n.match(/^taskgen_(.+)_(\d+[mk])$/))) {
    return `Generating a ${m[2]!.toUpperCase()}-token ${m[1]} task produces its context at ${v} MB/s; writing the same bytes from a repeated template runs at ${b} MB/s.`;
  }
  if ((m = n.match(/^peer_repl_(.+)$/))) {
    const peers = (r.peers ?? {}) as Peers;
    const parts = Object.entries(peers)
      .filter(([, p]) => p.p50 !== undefined)
      .map(([id, p]) => `${PEER_NAMES[id] ?? id} ${fmt(p.p50)} ms (p99 ${fmt(p.p99)}; ${p.sandboxed ? 'sandboxed' : 'not sandboxed'})`);
    const skipped = Object.entries(peers).filter(([, p]) => p.skipped).map(([id]) => PEER_NAMES[id] ?? id);
    return `One cell that does "${String(r.cell ?? m[1])}", p50 per REPL: ${parts.join(', ')}${skipped.length ? `; not measured: ${skipped.join(', ')}` : ''}.`;
  }
  switch (n) {
    case 'step_overhead':
      return `A one-line cell through env.step (parse, worker round trip, isolate run, observation) costs ${v} ms at the median; the same code evaluated in an isolate in-process costs ${b} ms.`;
    case 'step_vs_python_repl':
      return `The same env.step (${v} ms) next to a persistent local python3 exec() round trip (${b} ms), the unsandboxed way peers run cells.`;
    case 'python_step_overhead':
      return `A small cell in rlm-gym's Python REPL (Pyodide in a locked process) costs ${v} ms at the median; an unsandboxed python3 subprocess exec() costs ${b} ms.`;
    case 'python_step_vs_js':
      return `The same small cell in the Python REPL (${v} ms) and in the JS REPL (${b} ms).`;
    case 'python_reset_grpo16':
      return `A GRPO group's 16 resets of one context take ${v} ms with the Python REPL (a fresh sandbox each) and ${b} ms with the JS REPL.`;
    case 'reset_10m':
      return `RLMEnv.reset with a 10M-token context already cached by the worker takes ${v} ms; copying its bytes once takes ${b} ms.`;
    case 'harness_turn':
      return `CPU per turn of the whole rollout path (${v} ms) against its parts run alone (${b} ms): what the harness adds per turn.`;
    case 'harness_episodes_per_s':
      return `Small episodes finished per second through the whole harness (${v}) against RLMEnv alone at the same concurrency (${b}).`;
    case 'parquet_write':
      return `RunWriter writes ${v} rows/s (episodes + steps, ZSTD Parquet, crash-safe parts) where JSON Lines of the same records runs at ${b} rows/s.`;
    case 'parquet_size':
      return `The run takes ${v} MB as ZSTD Parquet against ${b} MB as JSON Lines.`;
    case 'parquet_vs_duckdb':
      return `Writing the whole run with RunWriter takes ${v} ms (${fmt(r.parts)} crash-safe parts with fsync, manifest, validation) against ${b} ms for DuckDB's COPY of the same rows, already loaded, to ZSTD Parquet (one file per table, no fsync).`;
    case 'memory_per_episode':
      return `Each concurrent 1M-token episode adds ${v} MB of peak RSS; its context is ${b} MB of bytes.`;
  }
  if ((m = n.match(/^scale_(\w+?)_(\w+)$/)) && typeof r.peak_rss_mb === 'number') {
    return `A full reference-policy episode on a ${m[1]!.toUpperCase()}-token ${m[2]} task takes ${v} s (score ${fmt(r.score)}, peak RSS ${fmt(r.peak_rss_mb)} MB); generating the task alone takes ${b} s.`;
  }
  return `${n}: ${v} ${r.unit}, against ${r.baseline} (${b}); goal: ${r.goal}.`;
}

function met(r: BenchResult): string {
  return r.goal_met === true ? 'yes' : r.goal_met === false ? 'no' : '–';
}

export function renderTable(file: BenchFile): string {
  const mc = file.machine ?? {};
  const load = (a?: number[]) => (a && a.length ? a.map((x) => fmt(x)).join(' / ') : 'n/a');
  const lines = [
    `Machine: ${mc.cpus ?? '?'} vCPU ${mc.model ?? ''}, ${mc.memGB ?? '?'} GB, ${mc.platform ?? ''}, Node ${mc.node ?? '?'} — ${mc.date ?? '?'}` +
      `${file.quick ? ' (--quick)' : ''}; load average (1/5/15 min) ${load(mc.loadavg)} at the start, ${load(mc.loadavg_end)} at the end` +
      `${file.duration_s ? `; ${fmt(file.duration_s)} s in all` : ''}. Generated from \`bench/results.json\` by \`bench/readme-table.ts\`.`,
    '',
    '| benchmark | value | baseline | ratio | goal | met | what it means |',
    '|---|---:|---|---:|---|---|---|',
  ];
  for (const r of file.results) {
    lines.push(
      `| ${r.name} | ${fmt(r.value)} ${esc(r.unit)} | ${esc(r.baseline)}: ${fmt(r.baseline_value)} | ${fmt(r.ratio)} | ${esc(r.goal)} | ${met(r)} | ${esc(meaning(r))} |`,
    );
  }
  return lines.join('\n');
}

/** `readme` with the block between the markers replaced by `table`. Throws when the markers are missing. */
export function replaceBlock(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`the README has no ${START} … ${END} block to replace`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

export function readResults(file: string): BenchFile {
  const data = JSON.parse(readFileSync(file, 'utf8')) as BenchFile;
  if (!data || !Array.isArray(data.results)) throw new Error(`${file} is not a bench results file (no "results" array)`);
  return data;
}

export const DEFAULT_RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json');

const USAGE = `Usage: node --import tsx bench/readme-table.ts [--results FILE] [--write README.md]
Prints the README performance table for a bench results file (default bench/results.json); --write replaces the
${START} … ${END} block of that file instead.`;

export function main(argv: string[]): number {
  let results = DEFAULT_RESULTS;
  let write: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if ((a === '--results' || a === '--write') && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      process.stderr.write(`${a} needs a file\n`);
      return 2;
    }
    if (a === '--results') results = argv[++i]!;
    else if (a === '--write') write = argv[++i]!;
    else {
      process.stderr.write(`unknown argument '${a}'\n${USAGE}\n`);
      return 2;
    }
  }
  const table = renderTable(readResults(results));
  if (write) writeFileSync(write, replaceBlock(readFileSync(write, 'utf8'), table));
  else process.stdout.write(table + '\n');
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
