"""In-process kernel timings: the hot function alone, python vs pyfast native code vs Numba.

    python scripts/kernels.py [--repeat N]

Whole-process runs (``scripts/bench.py``) include start-up and compile latency; this script
answers the other question -- how fast is the native code once it exists.  Each kernel is a
function of ``scripts/workloads`` run on fixed arguments: python runs the plain function,
pyfast calls the entry of ``pyfast.compiler.compile_function`` (compiled before timing;
its compile time is printed), Numba calls ``numba.njit`` of the same source (if numba is
installed; first call excluded).  Each figure is the minimum over ``--repeat`` runs; every
result is checked equal to python's before it is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))

#: (workload module, function, arguments): the kernels the issues set targets for.
KERNELS = [
    ("fib", "fib", (30,)),
    ("leibniz", "leibniz", (10_000_000,)),
    ("sieve", "sieve", (2_000_000,)),
    ("matmul", "matmul", None),  # arguments made by the workload's make_matrix
]


def load(name: str) -> dict:
    """The workload's functions (its module-level run at a tiny ``BENCH_SCALE``, silenced)."""
    path = os.path.join(HERE, "workloads", f"{name}.py")
    with open(path) as file:
        source = file.read()
    namespace: dict = {"__name__": f"kernel_{name}"}
    os.environ["BENCH_SCALE"] = "0.001"
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, path, "exec"), namespace)
    return namespace


def best(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    from pyfast.compiler import compile_function

    try:
        import numba
    except ImportError:
        numba = None
    print(f"python {sys.version.split()[0]}; minimum of {options.repeat} runs")
    header = f"{'kernel':10s} {'python':>10s} {'pyfast':>10s} {'ratio':>7s} {'compile':>9s}"
    print(header + (f" {'numba':>10s} {'pyfast/numba':>12s}" if numba else ""))
    for module, name, args in KERNELS:
        namespace = load(module)
        func = namespace[name]
        if args is None:
            args = (namespace["make_matrix"](120, 1), namespace["make_matrix"](120, 2))
        signature = tuple(map(type, args))
        compiled = compile_function(func, signature, fallback=func, miss=None, sample=args)
        expected = func(*args)
        if compiled.entry(*args) != expected:
            raise SystemExit(f"{name}: native result differs from python's")
        python = best(lambda f=func, a=args: f(*a), max(1, options.repeat // 2))
        native = best(lambda c=compiled, a=args: c.entry(*a), options.repeat)
        line = (
            f"{name:10s} {python * 1000:8.1f}ms {native * 1000:8.2f}ms "
            f"{python / native:6.1f}x {compiled.compile_ms:7.1f}ms"
        )
        if numba is not None:
            jitted = numba.njit(func)
            try:
                jitted(*args)
            except Exception as exc:  # noqa: BLE001 - numba does not take every kernel
                line += f" {'n/a':>10s}  ({type(exc).__name__})"
            else:
                fast = best(lambda j=jitted, a=args: j(*a), options.repeat)
                line += f" {fast * 1000:8.2f}ms {native / fast:11.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
