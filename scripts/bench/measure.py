"""Whole-process measurement and the statistics over repeated runs.

In: a ``Command`` (argv, environment additions, working directory).
Out: a ``Run`` (wall seconds, peak RSS, exit status, stdout, stderr of the program) from ``run``;
``Stats`` (median/min/max) from ``stats``; ``check_output`` compares a run's output with the
reference (CPython's) output.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


@dataclasses.dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None


@dataclasses.dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_kb: int
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """A one-line reason for a failed run: the last stderr line and the exit status."""
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f} s"
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output on stderr"
        return f"exit status {self.returncode}: {last[:200]}"


@dataclasses.dataclass(frozen=True)
class Stats:
    median: float
    min: float
    max: float


def stats(values: list[float]) -> Stats:
    """Median, min and max; ValueError on an empty list."""
    if not values:
        raise ValueError("no values")
    return Stats(statistics.median(values), min(values), max(values))


def check_output(output: str, expected: str, mode: str = "exact") -> bool:
    """True when ``output`` is the expected one: identical, or (``last-line``) same last line."""
    if mode == "exact":
        return output == expected
    if mode == "last-line":
        got, want = output.strip().splitlines(), expected.strip().splitlines()
        return bool(got) and bool(want) and got[-1] == want[-1]
    raise ValueError(f"unknown check mode {mode!r}")


#: A minimal Python process between the harness and the measured program.  A child's peak RSS
#: (ru_maxrss) starts at its parent's RSS when it is forked, so forking the programs straight
#: from the harness would report the harness's ~25 MB as a floor; this reporter (~10 MB, below
#: any interpreter's own start-up RSS) forks the program, waits for it with wait4 and writes
#: "wall_s peak_rss_kb exit_status".
_REPORTER = """
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, ("cannot run %s: %s\\n" % (argv[0], exc)).encode())
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as f:
    f.write("%r %d %d" % (wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
"""


def run(command: Command, timeout: float, base_env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to completion: wall time, peak RSS and exit status from a reporter.

    The child's environment is ``base_env`` (default: ours) plus ``command.env``.  On timeout
    the whole process group is killed and the run reports ``timed_out``.
    """
    env = dict(os.environ if base_env is None else base_env)
    env.update(command.env)
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        figures = os.path.join(tmp, "figures")
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REPORTER, figures, *command.argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=command.cwd,
                start_new_session=True,
            )
            try:
                proc.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                timed_out = True
            outer_wall = time.perf_counter() - start
        with open(out_path, "rb") as f:
            stdout = f.read().decode("utf-8", "replace")
        with open(err_path, "rb") as f:
            stderr = f.read().decode("utf-8", "replace")
        try:
            with open(figures) as f:
                wall_text, rss_text, code_text = f.read().split()
            wall, rss, code = float(wall_text), int(rss_text), int(code_text)
        except (OSError, ValueError):
            wall, rss, code = outer_wall, 0, proc.returncode or -1
        return Run(wall, rss, code, stdout, stderr, timed_out)
