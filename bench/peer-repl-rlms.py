"""Driver for bench/peer-repl.ts: the official RLM implementation's local REPL (PyPI `rlms`, rlm.environments.LocalREPL:
an unsandboxed exec() in the harness's own Python process), timed in-process the way its RLM loop calls it.

Protocol (JSON lines on stdin/stdout): first {"context_file": path}; then {"code": str, "n": int} → {"ms": [...], "out": str,
"err": str} with the wall time of each of n execute_code() calls. On a missing package the first reply is {"error": str}.
"""
import json
import sys
import time

first = json.loads(sys.stdin.readline())
try:
    from importlib.metadata import version

    from rlm.environments.local_repl import LocalREPL
except Exception as e:  # noqa: BLE001 - report any import failure to the bench
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(0)

with open(first["context_file"], encoding="utf-8") as f:
    context = f.read()
repl = LocalREPL(context_payload=context)
print(json.dumps({"ready": True, "version": version("rlms"), "context_chars": len(repl.locals["context"])}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    ms = []
    res = None
    for _ in range(req["n"]):
        t = time.perf_counter()
        res = repl.execute_code(req["code"])
        ms.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"ms": ms, "out": res.stdout if res else "", "err": res.stderr if res else ""}), flush=True)
repl.cleanup()
