"""Whole-process times of the benchmark workloads under several ``--threshold`` values.

Usage: ``python scripts/overhead/thresholds.py [--repeat N] [--scale S] [--thresholds 1,10,...]
[--only NAME ...] [--json PATH]`` with the python (venv) whose ``pyfast`` is installed; run it
from outside the repository.  Every workload of ``scripts/workloads`` (``hello`` excepted:
nothing to compile) and the overhead control (``control.py``) runs as a whole process under
``python`` and under ``pyfast --threshold N`` for each N, interleaved round by round, on a warm
pyfast cache (one unmeasured run of each first).  Prints, per workload, the median wall time
of each runtime and its ratio to python's; the data behind the default threshold
(docs/overhead.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
WORKLOADS = (
    "seed_sum",
    "fib",
    "nbody",
    "spectral_norm",
    "mandelbrot",
    "sieve",
    "monte_carlo_pi",
    "matmul",
    "leibniz",
    "numpy_loop",
    "objects",
    "control",
)


def script_of(name: str) -> str:
    if name == "seed_sum":
        return os.path.join(SCRIPTS, "examples", "seed_sum.py")
    if name == "control":
        return os.path.join(HERE, "control.py")
    return os.path.join(SCRIPTS, "workloads", f"{name}.py")


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--scale", type=float, default=1.0, help="BENCH_SCALE")
    parser.add_argument("--thresholds", default="1,10,100,1000,10000")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS)
    parser.add_argument("--json", help="also write the raw times here")
    args = parser.parse_args()
    thresholds = [int(t) for t in args.thresholds.split(",")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYFAST", "PYTHONDONT"))}
    env["BENCH_SCALE"] = repr(args.scale)
    python = sys.executable
    runtimes = {"python": [python]}
    for t in thresholds:
        runtimes[f"t={t}"] = [python, "-m", "pyfast", "--threshold", str(t)]
    names = args.only or list(WORKLOADS)
    print(f"python {sys.version.split()[0]} at {python}; scale {args.scale}; {args.repeat} runs")
    times: dict[str, dict[str, list[float]]] = {n: {r: [] for r in runtimes} for n in names}
    for name in names:
        for command in runtimes.values():
            timed([*command, script_of(name)], env)  # warm caches
    for _ in range(args.repeat):
        for name in names:
            for runtime, command in runtimes.items():
                times[name][runtime].append(timed([*command, script_of(name)], env))
    head = f"{'workload':16s}" + "".join(f"{r:>16s}" for r in runtimes)
    print(head)
    for name in names:
        base = statistics.median(times[name]["python"])
        cells = []
        for runtime in runtimes:
            median = statistics.median(times[name][runtime])
            cells.append(
                f"{median:7.3f}" + (f" {base / median:5.2f}x" if runtime != "python" else "")
            )
        print(f"{name:16s}" + "".join(f"{c:>16s}" for c in cells))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"scale": args.scale, "times": times}, file, indent=1)


if __name__ == "__main__":
    main()
