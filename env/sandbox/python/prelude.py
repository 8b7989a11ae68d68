"""The Python REPL's prelude: the globals the model's code sees and the private cell runner.

Imported once when the Pyodide memory snapshot is built (so every sandbox starts from the same interpreter state);
``open_session`` is called once per sandbox with the context, the seed, the limits and three host functions (JavaScript
functions of the sandbox process: ``host_sub`` answers one sub-call request synchronously, ``host_emit`` streams output,
``host_sleep`` advances the fixed clock). Rules it follows, as the JavaScript prelude does:

- the host functions, the output buffer, the counters and the pending answer live in closures and in ``_S``, never in
  the model's globals; everything that leaves is a ``str`` built here and size-checked before it leaves;
- errors of a cell are caught and described HERE, under the CPU limit (a looping ``__str__`` is interrupted like any
  other code);
- reserved names are restored after every cell; the value of a cell's last expression is not echoed.
"""

import builtins
import json
import sys
import types

_REAL_IMPORT = builtins.__import__

# Modules the model's code may not import (and their submodules). The bridge to JavaScript first, then the OS.
BLOCKED_MODULES = (
    "js", "pyodide", "pyodide_js", "_pyodide", "_pyodide_core", "micropip", "pyodide_http",
    "ctypes", "_ctypes", "cffi",
    "subprocess", "_posixsubprocess", "multiprocessing", "_multiprocessing",
    "socket", "_socket", "ssl", "_ssl", "select", "selectors", "asyncio", "_asyncio", "concurrent",
    "signal", "_signal", "faulthandler", "gc", "mmap", "fcntl", "termios", "pty", "tty", "resource",
)
# What to say instead of the generic refusal.
_HINTS = {
    "asyncio": "sub-calls are synchronous here; use llm_query_batched(prompts) to run many in parallel",
    "concurrent": "there are no threads here; use llm_query_batched(prompts) to run many sub-calls in parallel",
}

RESERVED = ("llm_query", "llm_query_batched", "rlm_query", "FINAL", "FINAL_VAR", "SHOW_VARS", "print", "context", "answer", "SubCallBudgetError")


def _blocked(name):
    for b in BLOCKED_MODULES:
        if name == b or name.startswith(b + "."):
            return True
    return False


class _Blocker:
    """sys.meta_path[0]: refuses the blocked modules before any finder looks for them."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if _blocked(name):
            hint = _HINTS.get(name.split(".")[0], "this sandbox has no JavaScript bridge, processes, network, signals or gc")
            raise ImportError(f"import of '{name}' is not allowed: {hint}", name=name)
        return None

    @staticmethod
    def invalidate_caches():
        return None


class SubCallBudgetError(Exception):
    pass


class _Session:
    pass


_S = _Session()
_S.ready = False


def _fmt_int(n):
    return f"{n:,}"


def open_session(ctx_text, docs, config_json, host_sub, host_emit, host_sleep, host_leave):
    """Called once per sandbox (after the snapshot is restored): installs the globals and locks the interpreter."""
    if _S.ready:
        raise RuntimeError("open_session called twice")
    cfg = json.loads(config_json)
    _S.cfg = cfg
    _S.sub = host_sub
    _S.emit = host_emit
    _S.sleep = host_sleep
    _S.leave = host_leave
    _S.remaining = cfg["remaining"]
    _S.out = []
    _S.out_len = 0
    _S.shown = 0
    _S.dropped = 0
    _S.pending = 0
    _S.final = None
    _S.last_budget_error = None

    if docs:
        ctx = [{"id": d[0], "title": d[1], "text": d[2]} for d in json.loads(ctx_text)]
    else:
        ctx = str(ctx_text)
    del ctx_text
    _S.context = ctx

    _lock_down(cfg)
    g = {"__name__": "__main__", "__builtins__": builtins}
    _S.globals = g
    _S.base_names = set(g)
    _restore(g)
    _S.ready = True


# ---------------------------------------------------------------------------------------------------------------------
# output

class _Writer:
    """sys.stdout / sys.stderr of the sandbox: a capped private buffer, streamed to the host in chunks."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        _write(s)
        return len(s)

    def flush(self):
        return None

    def isatty(self):
        return False

    def writable(self):
        return True


def _write(s):
    n = len(s)
    room = _S.cfg["maxOutputChars"] - _S.shown
    if n <= room:
        _S.out.append(s)
        _S.shown += n
        _S.pending += n
    else:
        if room > 0:
            _S.out.append(s[:room])
            _S.shown += room
            _S.pending += room
        _S.dropped += n - max(room, 0)
    if _S.pending >= 4096:
        _flush()


def _flush():
    if _S.pending == 0:
        return
    chunk = "".join(_S.out)
    _S.out = []
    _S.pending = 0
    _S.emit(chunk)


_WRITER = _Writer()


def _print(*args, sep=" ", end="\n", file=None, flush=False):
    if sep is None:
        sep = " "
    if end is None:
        end = "\n"
    if file is not None and file is not _WRITER and file is not sys.stdout and file is not sys.stderr:
        return builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
    _write(str(sep).join(str(a) for a in args) + str(end))


# ---------------------------------------------------------------------------------------------------------------------
# sub-calls (synchronous from the code's view; the host runs them on the parent process, which owns the budget)

def _exhausted(fn):
    e = SubCallBudgetError(
        f"{fn}: the sub-call budget is exhausted: all {_fmt_int(_S.cfg['maxSubCalls'])} sub-calls of this episode are used "
        "(every llm_query, every prompt of llm_query_batched and every rlm_query counts). Answer with what you have."
    )
    _S.last_budget_error = e
    return e


def _budget(msg):
    e = SubCallBudgetError(msg)
    _S.last_budget_error = e
    return e


def _item(kind, prompt, model, sub):
    item = {"kind": kind}
    if len(prompt) > _S.cfg["maxSubPromptChars"]:
        item["tooLarge"] = len(prompt)
        item["head"] = prompt[:200]
    else:
        item["prompt"] = prompt
    if model is not None:
        item["model"] = model
    if sub is not None:
        item["subContext"] = sub
    return item


def _call_host(fn, items):
    _flush()
    raw = _S.sub(json.dumps({"fn": fn, "items": items}, ensure_ascii=False))
    if not isinstance(raw, str):
        raise RuntimeError(f"{fn}: internal error (bad reply from the host)")
    rep = json.loads(raw)
    if isinstance(rep.get("remaining"), int):
        _S.remaining = rep["remaining"]
    if isinstance(rep.get("fatal"), str):
        raise RuntimeError(f"{fn}: {rep['fatal']}")
    if isinstance(rep.get("budget"), str):
        raise _budget(rep["budget"])
    return rep


def _text(v):
    return v if isinstance(v, str) else str(v)


def _model_arg(m):
    if m is None:
        return None
    s = _text(m)
    return s[:200]


def _single(fn, kind, prompt, model, sub):
    p = _text(prompt)
    if len(p) <= _S.cfg["maxSubPromptChars"] and _S.remaining < 1:
        raise _exhausted(fn)
    r = _call_host(fn, [_item(kind, p, model, sub)])["results"][0]
    if r.get("ok") is True and isinstance(r.get("text"), str):
        return r["text"]
    if r.get("tooLarge") is True:
        raise ValueError(r.get("error"))
    raise RuntimeError(f"{fn} failed: {r.get('error')}")


def llm_query(prompt, model=None):
    """Asks a sub-model; returns its reply as a str. Blocks until it answers."""
    if isinstance(prompt, (list, tuple)):
        raise TypeError("llm_query(prompt) takes one string; to send many prompts at once use llm_query_batched(prompts)")
    return _single("llm_query", "llm", prompt, _model_arg(model), None)


def llm_query_batched(prompts, model=None):
    """Sends many prompts at once (in parallel on the host); returns a list of replies, "Error: …" for a failed prompt."""
    if isinstance(prompts, (str, bytes)) or not hasattr(prompts, "__len__") or not hasattr(prompts, "__getitem__"):
        raise TypeError("llm_query_batched(prompts) takes a list of prompt strings")
    n = len(prompts)
    if n == 0:
        return []
    if _S.remaining < 1:
        raise _exhausted("llm_query_batched")
    if n > _S.remaining + 1000:
        raise _budget(
            f"llm_query_batched: {_fmt_int(n)} prompts but only {_fmt_int(_S.remaining)} of the {_fmt_int(_S.cfg['maxSubCalls'])} "
            "sub-calls of this episode are left; send fewer prompts (e.g. bigger chunks)"
        )
    m = _model_arg(model)
    items = []
    counted = 0
    for i in range(n):
        p = _text(prompts[i])
        if len(p) <= _S.cfg["maxSubPromptChars"]:
            counted += 1
        items.append(_item("llm", p, m, None))
    if counted > _S.remaining:
        raise _budget(
            f"llm_query_batched: {_fmt_int(counted)} prompts but only {_fmt_int(_S.remaining)} of the {_fmt_int(_S.cfg['maxSubCalls'])} "
            "sub-calls of this episode are left; send fewer prompts (e.g. bigger chunks)"
        )
    texts = _call_host("llm_query_batched", items).get("texts")
    if not isinstance(texts, list):
        raise RuntimeError("llm_query_batched: internal error (bad reply from the host)")
    return [t if isinstance(t, str) else str(t) for t in texts]


def rlm_query(prompt, sub_context=None):
    """A recursive sub-episode whose context is sub_context (or a plain sub-call when recursion is off)."""
    sc = None
    if sub_context is not None:
        sc = _text(sub_context)
        if len(sc) > _S.cfg["maxSubContextChars"]:
            raise ValueError(
                f"rlm_query: sub_context is {_fmt_int(len(sc))} chars; the limit is {_fmt_int(_S.cfg['maxSubContextChars'])} chars (nothing was sent)"
            )
    if not _S.cfg.get("rlmRecursive"):
        # No recursion here: one plain prompt (the prompt cap applies to what is sent, and the record shows it).
        return _single("rlm_query", "rlm", _text(prompt) if sc is None else _text(prompt) + "\n\n" + sc, None, None)
    return _single("rlm_query", "rlm", prompt, None, sc)


# ---------------------------------------------------------------------------------------------------------------------
# answers

def _serialize(v, who):
    if isinstance(v, str):
        s = v
    elif v is None:
        raise TypeError(f"{who}: the answer is None; pass the value to submit, e.g. FINAL(\"42\")")
    elif isinstance(v, (bool, int, float)):
        s = str(v)
    elif isinstance(v, (list, tuple, dict)):
        try:
            s = json.dumps(v, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise TypeError(f"{who}: the answer could not be serialized to JSON ({type(e).__name__}: {e}); pass a string") from None
    else:
        s = str(v)
        if not isinstance(s, str):
            raise TypeError(f"{who}: the answer could not be turned into a string; pass a string")
    if len(s) > _S.cfg["maxFinalChars"]:
        raise ValueError(f"{who}: the answer is {_fmt_int(len(s))} chars; the limit is {_fmt_int(_S.cfg['maxFinalChars'])} chars")
    return s


def FINAL(value):
    """Submits value as the final answer (a str is submitted as it is)."""
    _S.final = (_serialize(value, "FINAL"), "FINAL")


def FINAL_VAR(name):
    """Submits the variable with this NAME (a string) as the final answer."""
    if not isinstance(name, str):
        raise TypeError("FINAL_VAR(name) takes the NAME of a variable as a string, e.g. FINAL_VAR('result'); to submit a value use FINAL(value)")
    n = name.strip()
    g = _S.globals
    if n not in g:
        raise NameError(f"FINAL_VAR: there is no variable named '{n[:100]}'; define it first or use FINAL(value)")
    _S.final = (_serialize(g[n], f"FINAL_VAR('{n[:100]}')"), "FINAL_VAR")


def _check_answer():
    a = _S.globals.get("answer")
    if not isinstance(a, dict):
        _S.globals["answer"] = {"content": "", "ready": False}
        return
    if _S.final is None and a.get("ready") is True:
        _S.final = (_serialize(a.get("content"), 'answer["content"]'), "answer")


def _type_label(v):
    if isinstance(v, str):
        return f"str ({_fmt_int(len(v))} chars)"
    if isinstance(v, (list, tuple, dict, set, frozenset)):
        return f"{type(v).__name__} ({_fmt_int(len(v))} items)"
    if isinstance(v, types.ModuleType):
        return "module"
    if callable(v):
        return "function" if isinstance(v, types.FunctionType) else type(v).__name__
    return type(v).__name__


def SHOW_VARS():
    """Prints the variables you have defined and their types."""
    lines = []
    for k, v in list(_S.globals.items()):
        if k in _S.base_names or k in RESERVED or k.startswith("__"):
            continue
        try:
            t = _type_label(v)
        except BaseException:
            t = "unknown"
        lines.append(f"{k}: {t}")
    _write("\n".join(lines) + "\n" if lines else "(no variables defined yet)\n")


# ---------------------------------------------------------------------------------------------------------------------
# lock-down and determinism

def _refuse(what):
    def refused(*args, **kwargs):
        raise PermissionError(f"{what} is not available in this sandbox")

    refused.__name__ = what.rsplit(".", 1)[-1]
    return refused


def _lock_down(cfg):
    import os
    import random
    import time

    random.seed(cfg["seed"])

    # Blocked modules: purge the loaded ones (the bridge to JavaScript first) and refuse them at import.
    for name in list(sys.modules):
        if _blocked(name):
            del sys.modules[name]
    # Pyodide's own finders (they make `js` and `pyodide_js` importable) go; the blocker goes first.
    sys.meta_path[:] = [_Blocker] + [f for f in sys.meta_path if not (getattr(f, "__module__", "") or "").startswith(("_pyodide", "pyodide"))
                                     and not (getattr(type(f), "__module__", "") or "").startswith(("_pyodide", "pyodide"))]
    _S.meta_path = list(sys.meta_path)
    # importlib.import_module and __import__ both go through meta_path; a cached spec of a purged module is gone with it.
    sys.path_importer_cache.clear()

    os.environ.clear()
    os.environ.update({"HOME": "/home/pyodide", "PYTHONHASHSEED": "0", "TZ": "UTC"})
    for fn in ("system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
               "execvpe", "spawnl", "spawnle", "spawnv", "spawnve", "spawnlp", "spawnvp", "posix_spawn", "posix_spawnp",
               "kill", "killpg", "_exit", "abort", "putenv", "unsetenv", "chdir", "chroot", "setuid", "setgid"):
        if hasattr(os, fn):
            setattr(os, fn, _refuse(f"os.{fn}"))

    # A fixed clock that only moves when it is read (host side) or slept on (instantly, never for real).
    max_sleep_s = cfg["cellCpuTimeoutMs"] / 1000

    def sleep(seconds):
        s = float(seconds)
        if s != s or s < 0:
            raise ValueError("sleep length must be non-negative")
        if s > max_sleep_s:
            raise TimeoutError(f"time.sleep({seconds!r}) would outlast the cell's time limit of {max_sleep_s:g} s; this REPL has nothing to wait for")
        _S.sleep(s * 1000)

    time.sleep = sleep
    builtins.input = _refuse("input")
    builtins.breakpoint = _refuse("breakpoint")
    # Deep recursion overflows the WebAssembly stack (a fatal error of the interpreter): the depth is capped.
    max_depth = cfg["maxRecursionLimit"]
    real_set = sys.setrecursionlimit

    def setrecursionlimit(limit):
        if not isinstance(limit, int):
            raise TypeError("setrecursionlimit() takes an int")
        if limit > max_depth:
            raise ValueError(f"the recursion limit of this sandbox is at most {max_depth:,}")
        real_set(limit)

    _S.max_depth = max_depth
    _S.real_setrecursionlimit = real_set
    real_set(cfg["recursionLimit"])
    sys.setrecursionlimit = setrecursionlimit
    sys.stdout = _WRITER
    sys.stderr = _WRITER
    sys.stdin = None


def _restore(g):
    g["llm_query"] = llm_query
    g["llm_query_batched"] = llm_query_batched
    g["rlm_query"] = rlm_query
    g["FINAL"] = FINAL
    g["FINAL_VAR"] = FINAL_VAR
    g["SHOW_VARS"] = SHOW_VARS
    g["print"] = _print
    g["SubCallBudgetError"] = SubCallBudgetError
    if g.get("context") is not _S.context:
        g["context"] = _S.context
    if not isinstance(g.get("answer"), dict):
        g["answer"] = {"content": "", "ready": False}
    sys.stdout = _WRITER
    sys.stderr = _WRITER
    if sys.getrecursionlimit() > _S.max_depth:
        _S.real_setrecursionlimit(_S.max_depth)
    builtins.__import__ = _REAL_IMPORT
    if list(sys.meta_path) != _S.meta_path:
        sys.meta_path[:] = _S.meta_path


# ---------------------------------------------------------------------------------------------------------------------
# the cell runner (called by the host; returns the result as a JSON string)

def _cap_err(t):
    m = _S.cfg["maxErrorChars"]
    return t if len(t) <= m else t[:m] + f"… [error truncated: {_fmt_int(len(t) - m)} more chars]"


def _describe(e):
    try:
        name = type(e).__name__
        try:
            msg = str(e)
        except BaseException:
            msg = "(its message could not be read)"
        text = _cap_err(f"{name}: {msg}" if msg else name)
        line = None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<cell>":
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is not None:
            text += f" (line {line})"
        return text
    except BaseException:
        return "Exception (reading its description failed)"


def run_cell(code):
    """Runs one cell in the model's globals. The host's CPU limit is armed until ``_S.leave()``: everything that can run
    model code (the cell, describing its error, reading the answer) happens before that."""
    if not _S.ready:
        return json.dumps({"e": "InternalError: the sandbox is not open"})
    _S.out = []
    _S.pending = 0
    _S.shown = 0
    _S.dropped = 0
    _S.final = None
    _S.last_budget_error = None
    g = _S.globals
    error = None
    stop = None
    try:
        try:
            compiled = compile(code, "<cell>", "exec", dont_inherit=True)
        except SyntaxError as e:
            error = _cap_err(f"SyntaxError: {e.msg}") + (f" (line {e.lineno})" if e.lineno else "")
            compiled = None
        if compiled is not None:
            try:
                exec(compiled, g)
            except BaseException as e:
                if _S.last_budget_error is not None and e is _S.last_budget_error:
                    stop = "sub_call_budget"
                error = _describe(e)
                del e
        try:
            _check_answer()
        except BaseException as e:
            if error is None:
                error = _describe(e)
            del e
    except BaseException as e:  # interrupted while describing an error or reading the answer
        error = error or _describe(e)
        del e
    _S.leave()
    _restore(g)
    out = "".join(_S.out)
    _S.out = []
    _S.pending = 0
    fv = _S.final[0] if _S.final is not None else None
    fs = _S.final[1] if _S.final is not None else None
    return json.dumps({"o": out, "d": _S.dropped, "e": error, "s": stop, "fv": fv, "fs": fs}, ensure_ascii=False)


def restore_after_stop():
    """After a cell the host had to stop from outside (run_cell raised): reserved names back, output collected."""
    _S.leave()
    _restore(_S.globals)
    out = "".join(_S.out)
    _S.out = []
    _S.pending = 0
    return json.dumps({"o": out, "d": _S.dropped}, ensure_ascii=False)
