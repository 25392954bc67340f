"""Where the time of ``pyfast scripts/examples/seed_sum.py`` goes, next to python and PyPy.

    python scripts/seed_sum_breakdown.py [--runs N]

The article's example is one call of ``calculate_sum(10_000_000)``: counting calls never
makes it hot, so the loop enters native code by OSR.  Each round runs every measurement once
(interleaved, so a noisy machine hits them alike); the figures are medians over ``--runs``
rounds, in milliseconds:

- ``python``, ``pyfast``, ``pypy``: the whole process, as a user runs it (PyPy when ``pypy3``
  is on PATH; pyfast without ``--report-json``, see ``pyfast_run``); ``pyfast`` cold:
  pyfast's caches (instrumented script, machine code) are removed first, as on a first run;
  ``pyfast warm``: right after it, with both caches kept, as on every later run;
- ``interpreter start``: ``python -c pass``; ``pyfast start``: ``pyfast -c pass`` minus it
  (the ``pyfast`` script beside the interpreter when there is one);
- ``LLVM import``: loading LLVM as pyfast does (``jit.start_llvm``: llvmlite's library and
  the host's target machine, through ``llvmc`` or ``llvmlite.binding``), in a fresh process,
  minus the interpreter start and the import of ``jit`` itself;
- ``compile`` and ``first native call`` (cold and warm): from pyfast's JSON report
  (``compile_ms`` of ``calculate_sum``, ``first_native_call_ms`` from pyfast's start);
- ``native loop``: the whole call run natively, in a process that compiled it already.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from bench import measure
from overhead.run import runtimes

HERE = os.path.dirname(os.path.abspath(__file__))
#: pyfast as a user runs it: the ``pyfast`` script beside this interpreter, else ``-m pyfast``.
PYFAST = runtimes(sys.executable)["pyfast"]
SCRIPT = os.path.join(HERE, "examples", "seed_sum.py")
JIT = "from pyfast.compiler.runtime import jit"
NATIVE = f"""
import time
from pyfast.compiler import compile_function
namespace = {{}}
source = open({SCRIPT!r}).read().split("\\nprint(")[0]
exec(compile(source, {SCRIPT!r}, "exec"), namespace)
func = namespace["calculate_sum"]
entry = compile_function(func, (int,), fallback=func, miss=None).entry
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    assert entry(10_000_000) == 50000005000000
    best = min(best, time.perf_counter() - start)
print(best * 1000)
"""


def wall(argv: list[str], env: dict) -> float:
    """Milliseconds ``argv`` takes, start to exit (``bench``'s measurement; output discarded)."""
    done = measure.run(measure.Command(tuple(argv)), 300.0, env)
    if not done.ok:
        raise SystemExit(f"{argv[0]}: {done.failure()}")
    return done.wall_s * 1000


def pyfast_run(folder: str, env: dict, cold: bool) -> tuple[float, float, float]:
    """``pyfast seed_sum.py``, with empty caches if ``cold``: (wall ms, compile ms, first native
    call ms).  The wall time is a run as a user types it; the other two come from a second run
    in the same cache state with ``--report-json`` (writing the report imports ``json`` and
    pyfast's report module, which the user does not pay).  The machine-code cache is
    ``folder``'s (``XDG_CACHE_HOME``)."""
    script = os.path.join(folder, "seed_sum.py")
    env = {**env, "XDG_CACHE_HOME": folder}
    report = os.path.join(folder, "report.json")
    runs = []
    for extra in ([], ["--report-json", report]):
        if cold:
            shutil.rmtree(os.path.join(folder, "__pycache__"), ignore_errors=True)
            shutil.rmtree(os.path.join(folder, "pyfast"), ignore_errors=True)
        runs.append(wall([*PYFAST, *extra, script], env))
    with open(report) as file:
        data = json.load(file)
    (row,) = [f for f in data["functions"] if f["qualname"] == "calculate_sum"]
    return runs[0], row["compile_ms"], data["first_native_call_ms"] or float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    pypy = shutil.which("pypy3")
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(SCRIPT, folder)
        for _ in range(options.runs):
            start = wall([sys.executable, "-c", "pass"], env)
            figures = {
                "python": wall([sys.executable, os.path.join(folder, "seed_sum.py")], env),
                "interpreter start": start,
                "pyfast start": wall([*PYFAST, "-c", "pass"], env) - start,
                "LLVM import": wall([sys.executable, "-c", f"{JIT}; jit.start_llvm()"], env)
                - wall([sys.executable, "-c", JIT], env),
            }
            for cache in ("cold", "warm"):
                took, compile_ms, first = pyfast_run(folder, env, cold=cache == "cold")
                figures[f"pyfast {cache}"] = took
                figures[f"compile, {cache}"] = compile_ms
                figures[f"first native call, {cache}"] = first
            if pypy:
                figures["pypy"] = wall([pypy, os.path.join(folder, "seed_sum.py")], env)
            for name, value in figures.items():
                rows.setdefault(name, []).append(value)
    native = subprocess.run(
        [sys.executable, "-c", NATIVE], check=True, capture_output=True, text=True, env=env
    )
    rows["native loop"] = [float(native.stdout)]
    median = {name: statistics.median(values) for name, values in rows.items()}
    print(f"python {sys.version.split()[0]}; medians of {options.runs} interleaved rounds (ms)")
    for name, value in median.items():
        print(f"  {name:24s} {value:9.1f}")
    for cache in ("cold", "warm"):
        print(f"  pyfast {cache} vs python {median['python'] / median[f'pyfast {cache}']:6.2f}x")
    if pypy:
        print(f"  pypy vs python           {median['python'] / median['pypy']:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
