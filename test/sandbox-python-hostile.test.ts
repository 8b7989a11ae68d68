/**
 * A hostile Python corpus: every cell tries to reach the host (the JavaScript bridge and its aliases, import tricks,
 * sys.modules / meta_path surgery, ctypes, processes, host files, sockets, signals, threads, gc and frames, secrets) or
 * to exhaust the sandbox (recursion, memory, output, sleep, infinite iteration, catastrophic regex). Each must end as an
 * error observation or a truncation; the harness survives and the next episode in the same pool works.
 * Each cell runs in a fresh sandbox, so one cell's damage cannot make another's error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool, type CellResult } from '../env/sandbox/index.ts';

const SECRET = 'sk-rlm-gym-test-secret-0123456789';

interface HostileCell {
  name: string;
  code: string;
  /** What the error (or, for truncation-only cells, the output) must look like. */
  expect: RegExp;
  /** The process is killed on this one (the cell is then rolled back into a fresh process). */
  mayDie?: boolean;
  truncates?: boolean;
}

const BLOCKED = /^ImportError: import of '[\w.]+' is not allowed/;
const CPU = /^TimeoutError: the cell timed out after 1 s CPU and was rolled back/;

const CORPUS: HostileCell[] = [
  // The JavaScript bridge and every alias of it.
  { name: 'import js', code: 'import js\nprint(js.process.env)', expect: BLOCKED },
  { name: 'import pyodide_js', code: 'import pyodide_js\nprint(pyodide_js._module)', expect: BLOCKED },
  { name: 'pyodide.ffi', code: 'from pyodide.ffi import to_js, create_proxy', expect: BLOCKED },
  { name: 'pyodide.code.run_js', code: 'from pyodide.code import run_js\nrun_js("process.exit(1)")', expect: BLOCKED },
  { name: 'pyodide.http', code: 'import pyodide.http\npyodide.http.open_url("http://127.0.0.1:9")', expect: BLOCKED },
  { name: '_pyodide_core', code: 'import _pyodide_core', expect: BLOCKED },
  { name: '_pyodide._base', code: 'import _pyodide._base\n_pyodide._base.eval_code("1")', expect: BLOCKED },
  { name: 'micropip', code: 'import micropip\nmicropip.install("requests")', expect: BLOCKED },
  // __import__ tricks.
  { name: '__import__', code: '__import__("js")', expect: BLOCKED },
  { name: 'importlib.import_module', code: 'import importlib\nimportlib.import_module("pyodide_js")', expect: BLOCKED },
  { name: 'importlib.util.find_spec', code: 'import importlib.util\nimportlib.util.find_spec("js")', expect: BLOCKED },
  { name: 'exec of an import', code: 'exec("__import__(\'pyodide_js\')")', expect: BLOCKED },
  { name: 'eval(compile(...))', code: 'eval(compile("import js", "x", "exec"))', expect: BLOCKED },
  { name: '__builtins__ dict', code: '__builtins__.__dict__["__import__"]("pyodide")', expect: BLOCKED },
  { name: 'replaced __import__', code: 'import builtins\nbuiltins.__import__ = lambda *a, **k: None\nimport js\njs.eval("1")', expect: /^AttributeError: 'NoneType' object has no attribute 'eval'/ },
  // sys.modules / meta_path surgery.
  { name: 'sys.modules["js"]', code: 'import sys\nsys.modules["js"].eval("1")', expect: /^KeyError: 'js'/ },
  { name: 'sys.modules["pyodide_js"]', code: 'import sys\nsys.modules["pyodide_js"]._api', expect: /^KeyError: 'pyodide_js'/ },
  { name: 'meta_path cleared', code: 'import sys\nsys.meta_path.clear()\nimport js', expect: /^ModuleNotFoundError: No module named 'js'/ },
  { name: 'blocker removed', code: 'import sys\ndel sys.meta_path[0]\nimport js', expect: /^ModuleNotFoundError: No module named 'js'/ },
  { name: 'sys.modules cleared', code: 'import sys\nsys.modules.clear()\nimport js', expect: /ImportError|ModuleNotFoundError|KeyError/ },
  // ctypes and processes.
  { name: 'ctypes', code: 'import ctypes\nctypes.CDLL(None)', expect: BLOCKED },
  { name: '_ctypes', code: 'import _ctypes', expect: BLOCKED },
  { name: 'os.system', code: 'import os\nos.system("cat /etc/passwd")', expect: /^PermissionError: os\.system is not available/ },
  { name: 'os.popen', code: 'import os\nos.popen("id").read()', expect: /^PermissionError: os\.popen is not available/ },
  { name: 'os.fork', code: 'import os\nos.fork()', expect: /^PermissionError: os\.fork is not available/ },
  { name: 'os.execv', code: 'import os\nos.execv("/bin/sh", ["sh"])', expect: /^PermissionError: os\.execv is not available/ },
  { name: 'subprocess', code: 'import subprocess\nsubprocess.run(["id"])', expect: BLOCKED },
  { name: 'multiprocessing', code: 'import multiprocessing', expect: BLOCKED },
  { name: 'os.kill of the parent', code: 'import os\nos.kill(os.getppid(), 9)', expect: /^PermissionError: os\.kill is not available/ },
  { name: 'os._exit', code: 'import os\nos._exit(0)', expect: /^PermissionError: os\._exit is not available/ },
  { name: 'SystemExit', code: 'raise SystemExit(3)', expect: /^SystemExit: 3/ },
  { name: 'exit()', code: 'exit()', expect: /^SystemExit/ },
  // Host files, environment, secrets.
  { name: 'open /etc/passwd', code: 'print(open("/etc/passwd").read())', expect: /^FileNotFoundError/ },
  { name: 'open /proc/self/environ', code: 'print(open("/proc/self/environ").read())', expect: /^FileNotFoundError/ },
  { name: 'open a repository file', code: `print(open(${JSON.stringify(new URL('../package.json', import.meta.url).pathname)}).read())`, expect: /^FileNotFoundError/ },
  { name: 'os.environ secret', code: 'import os\nprint(os.environ["OPENAI_API_KEY"])', expect: /^KeyError: 'OPENAI_API_KEY'/ },
  { name: 'input()', code: 'input("password: ")', expect: /^PermissionError: input is not available/ },
  // Sockets and network.
  { name: 'socket', code: 'import socket\nsocket.create_connection(("127.0.0.1", 9))', expect: BLOCKED },
  { name: '_socket', code: 'import _socket', expect: BLOCKED },
  { name: '_socket via _imp', code: 'import _imp, importlib.machinery\nm = _imp.create_builtin(importlib.machinery.ModuleSpec("_socket", None))\nm.socket().connect(("127.0.0.1", 9))', expect: /^AttributeError: module '_socket' has no attribute 'socket'/ },
  { name: 'urllib', code: 'import urllib.request\nurllib.request.urlopen("http://127.0.0.1:9")', expect: /ImportError|TimeoutError|URLError|OSError/ },
  { name: 'asyncio', code: 'import asyncio', expect: BLOCKED },
  // Signals and threads.
  { name: 'signal', code: 'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)', expect: BLOCKED },
  { name: '_signal', code: 'import _signal', expect: BLOCKED },
  { name: 'threading', code: 'import threading\nthreading.Thread(target=lambda: None).start()', expect: /^RuntimeError: can't start new thread/ },
  { name: '_thread', code: 'import _thread\n_thread.start_new_thread(print, ("x",))', expect: /^RuntimeError: can't start new thread/ },
  { name: 'concurrent.futures', code: 'from concurrent.futures import ThreadPoolExecutor', expect: BLOCKED },
  // gc / frame introspection to reach host objects.
  { name: 'gc.get_objects', code: 'import gc\nprint([o for o in gc.get_objects() if type(o).__name__ == "JsProxy"])', expect: BLOCKED },
  { name: 'a host function → Function("return process")', code: 'llm_query.__globals__["_S"].sub.constructor.constructor("return process")()', expect: /EvalError: Code generation from strings disallowed/ },
  { name: 'frame walk → Function', code: 'import sys\nf = sys._getframe()\nwhile f.f_back: f = f.f_back\nf.f_globals["_S"].emit.constructor("return 1")()', expect: /EvalError: Code generation from strings disallowed/ },
  { name: 'function.caller', code: 'llm_query.__globals__["_S"].sub.caller', expect: /TypeError: 'caller', 'callee', and 'arguments'/ },
  { name: 'JsProxy construction', code: 'jp = [c for c in object.__subclasses__() if c.__name__ == "JsProxy"][0]\njp()', expect: /^TypeError: JsProxy cannot be instantiated/ },
  // Recursion, memory, output, time, iteration.
  { name: 'recursion bomb', code: 'def f():\n    return f()\nf()', expect: /^RecursionError/ },
  { name: 'raised recursion limit', code: 'import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)', expect: /^ValueError: the recursion limit of this sandbox is at most/ },
  { name: 'nesting bomb', code: 'eval("[" * 100000 + "]" * 100000)', expect: /^SyntaxError: too many nested parentheses/ },
  { name: 'memory bomb (list of buffers)', code: 'hoard = []\nwhile True:\n    hoard.append(bytearray(10**7))', expect: /^MemoryError/ },
  { name: 'memory bomb (one string)', code: 'x = "a" * 10**9', expect: /^MemoryError/ },
  { name: 'infinite iterator into a list', code: 'import itertools\nlist(itertools.count())', expect: /^MemoryError/ },
  { name: 'infinite generator', code: 'sum(x for x in iter(int, 1))', expect: CPU },
  { name: 'output flood', code: 'while True:\n    print("x" * 1000)', expect: CPU },
  { name: 'one huge print', code: 'print("y" * 10**7)', expect: /\[output truncated: 9,998,\d{3} more chars\]$/, truncates: true },
  { name: 'time.sleep(1e9)', code: 'import time\ntime.sleep(1e9)', expect: /^TimeoutError: time\.sleep\(1000000000\.0\) would outlast/ },
  { name: 'catastrophic regex', code: 'import re\nre.match(r"(a+)+$", "a" * 40 + "b")', expect: CPU },
  { name: 'looping __str__ of an exception', code: 'class E(Exception):\n    def __str__(self):\n        while True:\n            pass\nraise E()', expect: CPU },
  { name: 'KeyboardInterrupt swallowed', code: 'while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass', expect: CPU, mayDie: true },
];

let pool: SandboxPool;
const previousKey = process.env.OPENAI_API_KEY;
beforeAll(async () => {
  process.env.OPENAI_API_KEY = SECRET; // the harness has a secret; the sandbox must not see it
  pool = new SandboxPool({ workers: 1, python: { spares: 2 } });
  await pool.warmupPython();
}, 240_000);
afterAll(async () => {
  await pool.close();
  if (previousKey === undefined) delete process.env.OPENAI_API_KEY;
  else process.env.OPENAI_API_KEY = previousKey;
});

async function play(c: HostileCell): Promise<{ r: CellResult; after: CellResult | null }> {
  const s = await pool.open(
    { repl: 'python', context: 'public context', seed: 3, cellCpuTimeoutMs: 1_000, cellWallTimeoutMs: 30_000, memoryMB: 64, maxOutputChars: 2_000 },
    async (req) => ({ text: `sub:${req.prompt.slice(0, 10)}`, model: 'm', promptTokens: 1, completionTokens: 1 }),
  );
  try {
    const r = await s.run(c.code);
    const after = r.dead ? null : await s.run('print("alive")');
    return { r, after };
  } finally {
    await s.close();
  }
}

describe('hostile Python corpus', () => {
  it('has at least 40 distinct cells', () => {
    expect(new Set(CORPUS.map((c) => c.code)).size).toBe(CORPUS.length);
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
  });

  it('every cell ends as an error observation or a truncation; the harness survives', async () => {
    const results = new Map<string, { r: CellResult; after: CellResult | null }>();
    const queue = [...CORPUS];
    await Promise.all(
      [0, 1].map(async () => {
        for (let c = queue.shift(); c; c = queue.shift()) results.set(c.name, await play(c));
      }),
    );
    const failures: string[] = [];
    for (const c of CORPUS) {
      const { r, after } = results.get(c.name)!;
      const text = c.truncates && !r.error ? r.output : (r.error ?? '');
      if (!c.expect.test(text)) failures.push(`${c.name}: ${JSON.stringify({ error: r.error, output: r.output.slice(-200), dead: r.dead })}`);
      if (c.truncates && !/\[output truncated: [\d,]+ more chars\]$/.test(r.output)) failures.push(`${c.name}: output not truncated`);
      if (r.output.includes(SECRET) || (r.error ?? '').includes(SECRET)) failures.push(`${c.name}: the secret leaked`);
      if (r.dead) failures.push(`${c.name}: the session died (${r.stopReason})`);
      if (after && after.output !== 'alive\n') failures.push(`${c.name}: the sandbox did not work afterwards: ${JSON.stringify(after)}`);
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('the next episode in the same pool works', async () => {
    const s = await pool.open({ repl: 'python', context: 'fresh', seed: 4 }, async () => ({ text: 'ok', model: 'm', promptTokens: 1, completionTokens: 1 }));
    const r = await s.run('import re, json\nprint(context, llm_query("x"), json.dumps(re.findall("e", context)))');
    expect(r.output).toBe('fresh ok ["e"]\n');
    await s.close();
  });
});
