"""In-process kernel timings: the hot function alone, python vs pyfast native code vs Numba.

    python scripts/kernels.py [--repeat N] [--compiles N] [--compile-only] [--only KERNEL ...]

Whole-process runs (``scripts/bench.py``) include start-up and compile latency; this script
answers the other question -- how fast is the native code once it exists.  Each kernel is a
function of ``scripts/workloads`` called on fresh arguments each time (made outside the
timing): python runs the plain function; pyfast calls the entry compiled by
``pyfast.compiler.api.prepare_function(...).finish()`` before timing (its compile time is printed; a
miss would return None and fail the result check); Numba calls ``numba.njit`` of the same
source if numba is installed (first call excluded); a kernel with a hand-written C version in
``workloads/c`` is also timed in C (``c_loop_ms``).  Each figure is the minimum over
``--repeat`` runs; every kernel's result and mutated arguments are checked equal to python's
before it is timed.

Compile time (wall clock of ``prepare_function(...).finish()``): every kernel is compiled once, then
``--compiles`` more times in rounds over the kernels, before anything is timed (and before
numba is imported, whose heap slows the compiler's garbage collections).  The process's first
compilation (the compiler's imports and LLVM's start-up included) is reported on its own; each
kernel's figure is the median of its later compilations, and the last line gives the median
and the worst of those figures.  A last line gives the same with the kernel's object already in
a machine-code cache folder (``finish(cache=...)``: the front end and the loader, no LLVM).
``--compile-only`` skips the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))


def _numpy_arrays(ns: dict) -> tuple:
    np = ns["np"]
    n = 1_000_000
    a = np.arange(n, dtype=np.float64) / n
    return a, np.ones(n, dtype=np.float64) - a, np.empty(n, dtype=np.float64)


#: (workload module, function, fresh arguments from its namespace): the kernels the issues set
#: targets for.
KERNELS: list[tuple[str, str, Callable[[dict], tuple]]] = [
    ("fib", "fib", lambda ns: (30,)),
    ("leibniz", "leibniz", lambda ns: (10_000_000,)),
    ("sieve", "sieve", lambda ns: (2_000_000,)),
    ("matmul", "matmul", lambda ns: (ns["make_matrix"](120, 1), ns["make_matrix"](120, 2))),
    ("nbody", "advance", lambda ns: (copy.deepcopy(ns["BODIES"]), 20_000, 0.01)),
    ("spectral_norm", "spectral_norm", lambda ns: (250,)),
    ("numpy_loop", "kernel", _numpy_arrays),
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


def best(func: Callable, make_args: Callable[[], tuple], repeat: int) -> float:
    """The fastest of ``repeat`` calls, each on fresh arguments (made outside the timing)."""
    times = []
    for _ in range(repeat):
        args = make_args()
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def outcome(func: Callable, args: tuple) -> str:
    """What a call returns and leaves in its (mutable) arguments, to compare runtimes."""
    return repr((func(*args), args))


def compile_ms(func: Callable, sample: tuple, cache: str | None = None) -> tuple[Callable, float]:
    """The native entry of ``func`` for ``sample``'s types and the wall time its compilation
    took (milliseconds); with a machine-code ``cache`` folder, LLVM's object is stored there,
    or loaded from there when it is already in."""
    from pyfast.compiler.api import prepare_function

    start = time.perf_counter()
    prepared = prepare_function(
        func, tuple(map(type, sample)), fallback=func, miss=None, sample=sample
    )
    compiled = prepared.finish(cache=cache)
    return compiled.entry, (time.perf_counter() - start) * 1000


def c_loop_ms(module: str, repeat: int) -> float | None:
    """The kernel hand-written in C (``workloads/c/<module>.c``, built as ``bench`` builds it),
    timed as its process at full scale minus its process at scale 0 (the loop alone; minimum
    of ``repeat`` runs each); None when there is no C version or no gcc."""
    from bench import measure, runtimes

    source = Path(HERE, "workloads", "c", f"{module}.c")
    cc = shutil.which("gcc")
    if cc is None or not source.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        ctx = runtimes.Context(
            sys.executable, None, cc, Path(folder), Path(folder), 300.0, dict(os.environ)
        )
        built = runtimes.build_c(source, ctx)
        if isinstance(built, runtimes.Skip):
            return None
        program = str(built[0])

        def run(scale: str) -> float:
            command = measure.Command((program,), (("BENCH_SCALE", scale),))
            return min(measure.run(command, ctx.timeout).wall_s for _ in range(repeat))

        return (run("1") - run("0")) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compiles", type=int, default=5, help="compilations per kernel")
    parser.add_argument("--compile-only", action="store_true", help="time compilation only")
    parser.add_argument("--only", nargs="*", metavar="KERNEL", help="run these kernels only")
    options = parser.parse_args()
    kernels = []
    module_of: dict[str, str] = {}
    for module, name, arguments in KERNELS:
        if options.only and module not in options.only:
            continue
        namespace = load(module)

        def make_args(ns: dict = namespace, make: Callable = arguments) -> tuple:
            return make(ns)

        kernels.append((name, namespace[name], make_args))
        module_of[name] = module
    if not kernels:
        return 0
    entries: dict[str, Callable] = {}
    compiles: dict[str, list[float]] = {}
    for _ in range(options.compiles + 1):  # rounds interleave the kernels
        for name, func, make_args in kernels:
            entry, ms = compile_ms(func, make_args())
            entries.setdefault(name, entry)
            compiles.setdefault(name, []).append(ms)
    first_name, first_ms = kernels[0][0], compiles[kernels[0][0]][0]
    medians = {name: statistics.median(times[1:] or times) for name, times in compiles.items()}
    loads: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        for name, func, make_args in kernels:
            compile_ms(func, make_args(), cache)  # stores the object
            loads[name] = compile_ms(func, make_args(), cache)[1]
    try:
        import numba  # after compiling: its heap slows the compiler's garbage collections
    except ImportError:
        numba = None
    print(f"python {sys.version.split()[0]}; minimum of {options.repeat} runs")
    header = f"{'kernel':14s} {'python':>10s} {'pyfast':>10s} {'ratio':>7s} {'compile':>9s}"
    print(header + (f" {'numba':>10s} {'pyfast/numba':>12s}" if numba else ""))
    for name, func, make_args in kernels:
        entry = entries[name]
        if outcome(entry, make_args()) != outcome(func, make_args()):
            raise SystemExit(f"{name}: native result differs from python's")
        ms = medians[name]
        if options.compile_only:
            print(f"{name:14s} {'':>10s} {'':>10s} {'':>7s} {ms:7.1f}ms")
            continue
        python = best(func, make_args, max(1, options.repeat // 2))
        native = best(entry, make_args, options.repeat)
        line = (
            f"{name:14s} {python * 1000:8.1f}ms {native * 1000:8.2f}ms "
            f"{python / native:6.1f}x {ms:7.1f}ms"
        )
        if numba is not None:
            jitted = numba.njit(func)
            try:
                jitted(*make_args())
            except Exception as exc:  # noqa: BLE001 - numba does not take every kernel
                line += f" {'n/a':>10s}  ({type(exc).__name__})"
            else:
                fast = best(jitted, make_args, options.repeat)
                line += f" {fast * 1000:8.2f}ms {native / fast:11.2f}x"
        c_ms = c_loop_ms(module_of[name], options.repeat)
        if c_ms is not None:
            line += f"  (C, gcc -O2: {c_ms:.2f}ms, pyfast/C {native * 1000 / c_ms:.2f}x)"
        print(line)
    worst = max(medians, key=medians.__getitem__)
    print(
        f"compile time per function (median of {options.compiles} compilations each): "
        f"median {statistics.median(medians.values()):.1f} ms, worst {medians[worst]:.1f} ms "
        f"({worst}); first compilation of the process ({first_name}, imports and LLVM "
        f"start-up included): {first_ms:.1f} ms"
    )
    worst = max(loads, key=loads.__getitem__)
    print(
        "with the object in the machine-code cache (front end and load, no LLVM): "
        f"median {statistics.median(loads.values()):.1f} ms, worst {loads[worst]:.1f} ms ({worst})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
