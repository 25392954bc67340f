"""Overhead of pyfast on code it cannot speed up, side by side with python.

Usage: ``python scripts/overhead/run.py [--repeat N] [--rounds N]`` with the python (venv)
whose ``pyfast`` is installed.  Three cases, each run as whole processes, interleaved, and
summarised by the median (and min) wall time over ``--repeat`` runs:

- ``control``: object-heavy, class-heavy program (``control.py``), 600 rounds by default
  (~0.35 s of python): long enough that the launcher's fixed start-up, which ``hello``
  measures against its own budget, is not what it measures (at 150 rounds, ~0.1 s, the
  start-up alone is ~8%);
- ``hello``: start-up, ``print("hello world")`` (``hello.py``);
- ``import200``: importing 200 modules on a warm cache (``make_tree.py``), as a whole process;
- ``import200-in-process``: the same tree, but the time of ``import main`` alone, measured
  inside the process by a script beside ``main.py`` (``import_main.py``, run as ``__main__``
  and so cached like any script): under pyfast the hook is installed, so this is the cost of
  the 200 imports through the hook, the interpreter's and the launcher's start-up excluded.

Runtimes: ``python``; ``pyfast --no-jit``; ``pyfast``; ``pyfast (accept-all)``, whose compiler
accepts every function statically and then refuses to compile it (``accept_all.py``), the worst
case for the probes.  Ratios are against python; the budget is 1.03 for ``control``, +20 ms
for ``hello`` and 1.10 for ``import200``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def runtimes(python: str) -> dict[str, list[str]]:
    """The commands compared.  pyfast runs as a user types it, through its script
    (``pyfast hello.py``; ``python -m pyfast`` also imports ``runpy``, ~10 ms) when the venv
    has one."""
    script = os.path.join(os.path.dirname(python), "pyfast")
    pyfast = [script] if os.path.exists(script) else [python, "-m", "pyfast"]
    return {
        "python": [python],
        "pyfast --no-jit": [*pyfast, "--no-jit"],
        "pyfast": pyfast,
        "pyfast (accept-all)": [python, os.path.join(HERE, "accept_all.py")],
    }


def timed(command: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


#: The script printing how long ``import main`` took, in seconds, on its last line.
IMPORT_MAIN = (
    "import time\nstart = time.perf_counter()\nimport main\nprint(time.perf_counter() - start)\n"
)


def in_process(command: list[str], cwd: str, env: dict[str, str]) -> float:
    """The time the process itself reports on the last line of its output."""
    done = subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def measure(case: str, script: list[str], cwd: str, repeat: int, clock=timed) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYFAST", "PYTHONDONT"))}
    commands = {name: [*cmd, *script] for name, cmd in runtimes(sys.executable).items()}
    for command in commands.values():
        clock(command, cwd, env)  # warm the .pyc and pyfast caches and the OS file cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(clock(command, cwd, env))
    base = statistics.median(times["python"])
    what = "whole-process runs" if clock is timed else "runs, time of `import main` in-process"
    print(f"\n{case}: median (min) of {repeat} {what}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:20s} {median * 1000:8.1f} ms ({min(values) * 1000:7.1f})"
            f"  ratio {median / base:5.3f}  delta {(median - base) * 1000:+6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=600, help="control.py's rounds")
    parser.add_argument("--only", choices=["control", "hello", "import200", "import200-in-process"])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "control": ([os.path.join(HERE, "control.py"), str(args.rounds)], tmp),
            "hello": ([os.path.join(HERE, "hello.py")], tmp),
        }
        sys.path.insert(0, HERE)
        from make_tree import write

        main_py = write(os.path.join(tmp, "tree"))
        cases["import200"] = ([main_py], os.path.dirname(main_py))
        for case, (script, cwd) in cases.items():
            if args.only in (None, case):
                measure(case, script, cwd, args.repeat)
        if args.only in (None, "import200-in-process"):
            case = "import200-in-process"
            script = [os.path.join(os.path.dirname(main_py), "import_main.py")]
            with open(script[0], "w") as file:
                file.write(IMPORT_MAIN)
            measure(case, script, os.path.dirname(main_py), args.repeat, clock=in_process)


if __name__ == "__main__":
    main()
