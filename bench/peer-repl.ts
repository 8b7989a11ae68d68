/**
 * peer_repl — the same small cells through four REPLs, interleaved in rounds so background load hits all alike:
 *   - rlms_local_repl: the official RLM implementation's local REPL (PyPI `rlms`, pinned in
 *     clients/python/requirements-test.txt; rlm.environments.LocalREPL), timed in-process around execute_code() as its
 *     RLM loop calls it. NOT sandboxed: exec() in the harness's own Python process (its builtins filter is no isolation).
 *   - python3_subprocess: a persistent `python3` child, exec() of each cell, one JSON line each way. NOT sandboxed.
 *   - rlm_gym_js: rlm-gym's JS REPL, session.run() round trip to an isolated-vm isolate in a worker process. Sandboxed.
 *   - rlm_gym_python: rlm-gym's Python REPL (`--repl python`), session.run() to Pyodide in a locked process. Sandboxed.
 * Cells: a print, a regex over the 1M-char context, a variable persisted from an earlier cell. Each result row is one
 * cell: value = rlm-gym's JS REPL p50, baseline = the official local REPL's p50, and `peers` has every REPL's p50/p99,
 * its ratio to the JS REPL and whether it is sandboxed.
 * Run alone: `npm run bench -- --only peer_repl`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxPool } from '../env/index.ts';
import { log, makeResult, quantile, sig, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTEXT_CHARS = 1_000_000;
const NEEDLE_EVERY = 10_000;
const SUB = async () => ({ text: 'ok', model: 'm', promptTokens: 1, completionTokens: 1 });

export interface Cell {
  id: string;
  what: string;
  js: string;
  py: string;
  /** Run once before timing (defines the persisted variable). */
  setupJs?: string;
  setupPy?: string;
  /** Checks the output of a timed run (every REPL must compute the same thing). */
  check: (out: string) => boolean;
}

/** A deterministic 1M-char context with one "magic number" needle every 10,000 chars. */
export function peerContext(): { context: string; needles: number } {
  const parts: string[] = [];
  let len = 0;
  let needles = 0;
  let i = 0;
  while (len < CONTEXT_CHARS) {
    const line = (i % Math.round(NEEDLE_EVERY / 50) === 0 ? `the magic number is ${(i * 7919) % 100000}. ` : '') + `line ${i}: filler words about nothing in particular.\n`;
    parts.push(line);
    len += line.length;
    if (line.startsWith('the magic')) needles++;
    i++;
  }
  const context = parts.join('').slice(0, CONTEXT_CHARS);
  const count = (context.match(/magic number is \d+/g) ?? []).length;
  if (count !== needles) needles = count;
  return { context, needles };
}

export function peerCells(needles: number): Cell[] {
  return [
    { id: 'print', what: 'print a short string', js: 'print("hello")', py: 'print("hello")', check: (o) => o.trim() === 'hello' },
    {
      id: 'regex_1m',
      what: 'count regex matches over the 1M-char context',
      js: 'print((context.match(/magic number is \\d+/g) || []).length)',
      py: 'import re\nprint(len(re.findall(r"magic number is \\d+", context)))',
      check: (o) => o.trim() === String(needles),
    },
    {
      id: 'persisted_var',
      what: 'update and print a variable defined in an earlier cell',
      setupJs: 'let acc = 0',
      setupPy: 'acc = 0',
      js: 'acc += 1; print(acc)',
      py: 'acc += 1\nprint(acc)',
      check: (o) => /^\d+$/.test(o.trim()) && Number(o.trim()) > 0,
    },
  ];
}

interface Peer {
  id: string;
  sandboxed: boolean;
  describe: string;
  /** Runs `code` n times; ms per run (measured by the peer's caller) and the last output. */
  batch(code: string, n: number): Promise<{ ms: number[]; out: string }>;
  close(): Promise<void>;
}

/** JSON-lines child process: one request line, one reply line. */
class LineProcess {
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private failed: ((e: Error) => void) | null = null;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0 && this.waiting; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting;
        this.waiting = null;
        this.failed = null;
        w(line);
      }
    });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += String(d)));
    const fail = (why: string) => this.failed?.(new Error(`${why}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`));
    proc.on('error', (e) => fail(e.message));
    proc.on('exit', (code) => fail(`exited with code ${code}`));
  }
  /** Sends `obj` as one line (nothing when undefined) and resolves with the next line. */
  request(obj: unknown, timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within ' + timeoutMs + ' ms')), timeoutMs);
      this.waiting = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.failed = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      if (obj !== undefined) this.proc.stdin.write(JSON.stringify(obj) + '\n');
      this.drain();
    });
  }
  private drain(): void {
    const i = this.buf.indexOf('\n');
    if (i >= 0 && this.waiting) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const w = this.waiting;
      this.waiting = null;
      this.failed = null;
      w(line);
    }
  }
  close(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}

async function rlmsPeer(contextFile: string): Promise<{ peer: Peer; version: string } | { error: string }> {
  const python = path.join(ROOT, '.venv', 'bin', 'python');
  if (!existsSync(python)) return { error: `no ${python} (bash .ci/run creates it from clients/python/requirements-test.txt)` };
  const lp = new LineProcess(spawn(python, ['-u', path.join(ROOT, 'bench', 'peer-repl-rlms.py')], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const hello = JSON.parse(await lp.request({ context_file: contextFile })) as { ready?: boolean; version?: string; error?: string };
  if (!hello.ready) {
    lp.close();
    return { error: hello.error ?? 'the rlms driver did not start' };
  }
  return {
    version: hello.version ?? '?',
    peer: {
      id: 'rlms_local_repl',
      sandboxed: false,
      describe: `official RLM (PyPI rlms ${hello.version}) LocalREPL.execute_code: exec() in the harness's own Python process, timed in-process`,
      batch: async (code, n) => {
        const r = JSON.parse(await lp.request({ code, n })) as { ms: number[]; out: string; err: string };
        if (r.err.trim()) throw new Error(`rlms LocalREPL: ${r.err.trim()}`);
        return { ms: r.ms, out: r.out };
      },
      close: async () => lp.close(),
    },
  };
}

const PY_SUBPROCESS = `
import sys, json, io, contextlib
with open(sys.argv[1], encoding='utf-8') as f:
    g = {'context': f.read()}
sys.stdout.write('{"ready": true}\\n'); sys.stdout.flush()
for line in sys.stdin:
    code = json.loads(line)
    buf = io.StringIO()
    err = None
    with contextlib.redirect_stdout(buf):
        try:
            exec(code, g)
        except Exception as e:
            err = repr(e)
    sys.stdout.write(json.dumps({'o': buf.getvalue(), 'e': err}) + '\\n')
    sys.stdout.flush()
`;

async function python3Peer(contextFile: string): Promise<Peer | { error: string }> {
  const proc = spawn('python3', ['-u', '-c', PY_SUBPROCESS, contextFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lp = new LineProcess(proc);
  try {
    const first = await lp.request(undefined, 20_000); // the ready line, sent unasked once the context is loaded
    if (!first.includes('ready')) throw new Error(first);
  } catch (e) {
    lp.close();
    return { error: `python3: ${e instanceof Error ? e.message : String(e)}` };
  }
  return {
    id: 'python3_subprocess',
    sandboxed: false,
    describe: 'persistent python3 subprocess, exec() of the cell, one JSON line each way (timed from Node)',
    batch: async (code, n) => {
      const ms: number[] = [];
      let out = '';
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const r = JSON.parse(await lp.request(code)) as { o: string; e: string | null };
        ms.push(performance.now() - t);
        if (r.e) throw new Error(`python3: ${r.e}`);
        out = r.o;
      }
      return { ms, out };
    },
    close: async () => lp.close(),
  };
}

async function sessionPeer(pool: SandboxPool, repl: 'js' | 'python', context: string): Promise<Peer> {
  const session = await pool.open({ repl, context, seed: 1 }, SUB);
  return {
    id: repl === 'js' ? 'rlm_gym_js' : 'rlm_gym_python',
    sandboxed: true,
    describe:
      repl === 'js'
        ? "rlm-gym's JS REPL: session.run() to an isolated-vm isolate in a worker process (timed from Node)"
        : `rlm-gym's Python REPL: session.run() to Pyodide in a locked process (${pool.pythonStats?.isolation ?? 'isolation n/a'}; timed from Node)`,
    batch: async (code, n) => {
      const ms: number[] = [];
      let out = '';
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const r = await session.run(code);
        ms.push(performance.now() - t);
        if (r.error) throw new Error(`${repl} REPL: ${JSON.stringify(r.error)}`);
        out = r.output;
      }
      return { ms, out };
    },
    close: () => session.close(),
  };
}

export async function benchPeerRepl(ctx: BenchContext): Promise<BenchResult[]> {
  const rounds = ctx.quick ? 3 : 8;
  const perRound = ctx.quick ? 15 : 50;
  const { context, needles } = peerContext();
  const cells = peerCells(needles);
  const work = mkdtempSync(path.join(tmpdir(), 'rlm-peer-repl-'));
  const contextFile = path.join(work, 'context.txt');
  writeFileSync(contextFile, context);
  const pool = new SandboxPool({ workers: 1, python: { spares: 1 } });
  const peers: Peer[] = [];
  const missing: Record<string, string> = {};
  try {
    const rl = await rlmsPeer(contextFile);
    if ('error' in rl) missing.rlms_local_repl = rl.error;
    else peers.push(rl.peer);
    const p3 = await python3Peer(contextFile);
    if ('error' in p3) missing.python3_subprocess = p3.error;
    else peers.push(p3);
    await pool.warmup();
    peers.push(await sessionPeer(pool, 'js', context));
    try {
      await pool.warmupPython();
      peers.push(await sessionPeer(pool, 'python', context));
    } catch (e) {
      missing.rlm_gym_python = e instanceof Error ? e.message : String(e);
    }
    for (const [id, why] of Object.entries(missing)) log(`peer_repl: ${id} skipped: ${why}`);

    const code = (p: Peer, c: Cell, setup = false) => (p.id === 'rlm_gym_js' ? (setup ? c.setupJs : c.js) : setup ? c.setupPy : c.py);
    // Setup cells, a correctness check of every cell on every REPL, and a warm-up.
    for (const p of peers) {
      for (const c of cells) {
        const s = code(p, c, true);
        if (s) await p.batch(s, 1);
        const r = await p.batch(code(p, c)!, 20);
        if (!c.check(r.out)) throw new Error(`peer_repl: ${p.id} printed ${JSON.stringify(r.out)} for cell ${c.id}`);
      }
    }
    const samples = new Map<string, number[]>(); // `${peer}/${cell}`
    for (let r = 0; r < rounds; r++) {
      for (const c of cells) {
        for (const p of peers) {
          const b = await p.batch(code(p, c)!, perRound);
          if (!c.check(b.out)) throw new Error(`peer_repl: ${p.id} printed ${JSON.stringify(b.out)} for cell ${c.id}`);
          const k = `${p.id}/${c.id}`;
          samples.set(k, [...(samples.get(k) ?? []), ...b.ms]);
        }
      }
    }

    const results: BenchResult[] = [];
    for (const c of cells) {
      const stat = (p: Peer) => {
        const s = samples.get(`${p.id}/${c.id}`)!;
        return { p50: sig(quantile(s, 0.5), 3), p99: sig(quantile(s, 0.99), 3), n: s.length };
      };
      const js = stat(peers.find((p) => p.id === 'rlm_gym_js')!);
      const table: Record<string, unknown> = {};
      for (const p of peers) {
        const s = stat(p);
        table[p.id] = { ...s, ratio_vs_js: sig(s.p50 / js.p50, 3), sandboxed: p.sandboxed, how: p.describe };
      }
      for (const [id, why] of Object.entries(missing)) table[id] = { skipped: why };
      const official = peers.find((p) => p.id === 'rlms_local_repl');
      const base = official ?? peers.find((p) => p.id === 'python3_subprocess');
      const baseStat = base ? stat(base) : null;
      log(`peer_repl_${c.id}: ` + peers.map((p) => `${p.id} p50 ${stat(p).p50} ms (p99 ${stat(p).p99})`).join(', '));
      results.push(
        makeResult({
          name: `peer_repl_${c.id}`,
          value: js.p50,
          unit: 'ms/cell (p50), rlm-gym JS REPL',
          baseline: base ? base.describe : 'no Python peer available',
          baseline_value: baseStat ? baseStat.p50 : NaN,
          goal: 'informational: what the sandbox costs per cell next to the unsandboxed peers',
          goal_met: null,
          cell: c.what,
          p99_ms: js.p99,
          peers: table,
          sandboxed: Object.fromEntries(peers.map((p) => [p.id, p.sandboxed])),
          context_chars: context.length,
          samples_per_peer: js.n,
        }),
      );
    }
    return results;
  } finally {
    for (const p of peers) await p.close().catch(() => undefined);
    await pool.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export const peerRepl: Benchmark = {
  id: 'peer_repl',
  run: benchPeerRepl,
};
