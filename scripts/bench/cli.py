"""The command line and the schedule: prepare everything, then time in round-robin.

In: ``argv`` (see ``parser``).
Out: ``OUT/results.json``, ``OUT/results.md``, ``OUT/speedups.png``; progress on stderr;
exit status 0 (even when some runtime failed: that is a result), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import measure, report, runtimes
from .workloads import REPO, WORKLOADS, Workload, select

QUICK_SCALE = 0.2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench.py",
        description="Time the workloads under CPython, pyfast, PyPy, Numba, Cython and C.",
    )
    p.add_argument("--quick", action="store_true", help=f"BENCH_SCALE={QUICK_SCALE}, 3 runs")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="workloads to run: " + " ".join(w.name for w in WORKLOADS),
    )
    p.add_argument(
        "--runtimes",
        nargs="+",
        metavar="NAME",
        choices=runtimes.NAMES,
        help="runtimes to run (cpython always runs): " + " ".join(runtimes.NAMES),
    )
    p.add_argument(
        "--repeat", type=int, metavar="N", help="timed runs per runtime (3 quick, 5 full)"
    )
    p.add_argument("--scale", type=float, help="BENCH_SCALE passed to the workloads (1.0 full)")
    p.add_argument(
        "--timeout", type=float, metavar="S", help="per-run limit (120 s quick, 300 s full)"
    )
    p.add_argument("--out", type=Path, default=REPO / ".bench" / "results", metavar="DIR")
    p.add_argument(
        "--build-dir", type=Path, default=REPO / ".bench", metavar="DIR", help="Cython/C builds"
    )
    p.add_argument("--pypy", metavar="PATH", help="the PyPy interpreter (default: pypy3 on PATH)")
    p.add_argument("--cc", metavar="PATH", help="the C compiler (default: gcc on PATH)")
    return p


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        chosen = select(args.only)
    except ValueError as exc:
        parser().error(str(exc))
    repeat = args.repeat or (3 if args.quick else 5)
    if repeat < 1:
        parser().error("--repeat must be at least 1")
    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    timeout = args.timeout or (120.0 if args.quick else 300.0)
    wanted = set(args.runtimes or runtimes.NAMES) | {"cpython"}
    table = [r for r in runtimes.RUNTIMES if r.name in wanted]
    command = shlex.join(["python", "scripts/bench.py", *(sys.argv[1:] if argv is None else argv)])

    args.out.mkdir(parents=True, exist_ok=True)
    machine = _machine()  # before the runs: its load average is the one "at start"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pyfast-bench-") as work:
        # PYFAST* would change what is measured; PYTHONDONTWRITEBYTECODE would keep the warm
        # pyfast runs (and python's own .pyc files) from ever being warm.
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYFAST") and k != "PYTHONDONTWRITEBYTECODE"
        }
        base_env["BENCH_SCALE"] = repr(scale)
        ctx = runtimes.Context(
            python=sys.executable,
            pypy=args.pypy or shutil.which("pypy3"),
            cc=args.cc or shutil.which("gcc"),
            build_dir=args.build_dir.resolve(),
            work_dir=Path(work),
            timeout=timeout,
            base_env=base_env,
        )
        probes = {}
        for r in table:
            progress(f"probing {r.label}")
            probes[r.name] = r.probe(ctx)
            if not probes[r.name].available:
                progress(f"{r.label} unavailable: {probes[r.name].reason}")
        workloads = [_measure_workload(w, table, probes, ctx, repeat) for w in chosen]
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    results = {
        "schema": 1,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "command": command,
        "scale": scale,
        "repeat": repeat,
        "timeout_s": timeout,
        "total_s": round(time.perf_counter() - started, 1),
        "machine": machine,
        "runtimes": {
            r.name: {
                "label": r.label,
                "available": probes[r.name].available,
                "version": probes[r.name].version,
                "reason": probes[r.name].reason,
                "import_s": probes[r.name].import_s,
            }
            for r in table
        },
        "libraries": {name: _version(name) for name in ("llvmlite", "numpy", "matplotlib")},
        "workloads": workloads,
    }
    for path in (report.write_json(results, args.out), report.write_markdown(results, args.out)):
        progress(f"wrote {path}")
    progress(report.write_chart(results, args.out))
    progress(f"done in {results['total_s']:.0f} s")
    return 0


def _measure_workload(
    workload: Workload,
    table: list,
    probes: dict[str, runtimes.Probe],
    ctx: runtimes.Context,
    repeat: int,
) -> dict:
    cells: dict[str, dict] = {}
    plans: dict[str, runtimes.Prepared] = {}
    for r in table:
        if not probes[r.name].available:
            cells[r.name] = {"status": report.UNAVAILABLE, "reason": probes[r.name].reason}
            continue
        progress(f"{workload.name}: preparing {r.label}")
        try:
            plan = r.prepare(workload, ctx)
        except Exception as exc:  # a harness bug must not lose the other columns
            plan = runtimes.Skip(report.FAILED, f"harness error: {exc!r}")
        if isinstance(plan, runtimes.Skip):
            cells[r.name] = {"status": plan.status, "reason": plan.reason}
        else:
            plans[r.name] = plan

    expected: str | None = None
    runs: dict[str, list[measure.Run]] = {name: [] for name in plans}
    extras: dict[str, list[dict]] = {name: [] for name in plans}
    order = list(plans)
    total = len(order) * repeat
    done = 0
    for round_ in range(repeat):
        rotated = order[round_ % len(order) :] + order[: round_ % len(order)] if round_ else order
        for name in rotated:
            if name in cells:
                continue
            done += 1
            progress(f"{workload.name}: {name} run {round_ + 1}/{repeat} [{done}/{total}]")
            plan = plans[name]
            try:
                run = measure.run(plan.command(round_), ctx.timeout, ctx.base_env)
            except OSError as exc:
                cells[name] = {"status": report.FAILED, "reason": f"cannot start: {exc}"}
                continue
            verdict = _judge(run, name, expected, plan.check)
            if verdict is not None:
                cells[name] = verdict
                if name == "cpython":
                    _no_reference(cells, plans, verdict["reason"])
                continue
            if name == "cpython" and expected is None:
                expected = run.stdout
            runs[name].append(run)
            if plan.extras is not None:
                summary = plan.extras(round_)
                if summary is not None:
                    extras[name].append(summary)

    baseline = None
    if "cpython" not in cells:
        baseline = statistics.median(r.wall_s for r in runs["cpython"])
    for name, plan in plans.items():
        if name in cells:
            cells[name].setdefault("build_s", plan.build_s)
            continue
        cells[name] = _ok_cell(runs[name], plan, baseline, extras[name])
    return {
        "name": workload.name,
        "summary": workload.summary,
        "script": str(workload.script.relative_to(REPO)),
        "expected_output": expected,
        "results": {r.name: cells[r.name] for r in table},
    }


def _judge(run: measure.Run, name: str, expected: str | None, check: str) -> dict | None:
    """None when the run counts; else the cell that replaces it (failed or WRONG)."""
    if not run.ok:
        return {"status": report.FAILED, "reason": run.failure()}
    if expected is not None and not measure.check_output(run.stdout, expected, check):
        if name == "cpython":
            return {"status": report.FAILED, "reason": "CPython's output changed between runs"}
        return {"status": report.WRONG, "output": run.stdout, "expected": expected, "check": check}
    return None


def _no_reference(cells: dict, plans: dict, reason: str) -> None:
    for name in plans:
        cells.setdefault(name, {"status": report.NA, "reason": f"no reference: CPython {reason}"})


def _ok_cell(
    runs: list[measure.Run], plan: runtimes.Prepared, baseline: float | None, extras: list[dict]
) -> dict:
    walls = [r.wall_s for r in runs]
    s = measure.stats(walls)
    cell = {
        "status": report.OK,
        "check": plan.check,
        "median_s": s.median,
        "min_s": s.min,
        "max_s": s.max,
        "peak_rss_kb": max(r.peak_rss_kb for r in runs),
        "speedup": baseline / s.median if baseline else None,
        "runs": [{"wall_s": r.wall_s, "peak_rss_kb": r.peak_rss_kb} for r in runs],
        "build_s": plan.build_s,
    }
    if plan.extras is not None:
        cell["pyfast"] = _merge_extras(extras) if extras else None
    return cell


def _merge_extras(extras: list[dict]) -> dict:
    """Median of each numeric field over the runs (None when no run had it)."""
    merged = {}
    for key in extras[0]:
        values = [e[key] for e in extras if e.get(key) is not None]
        merged[key] = statistics.median(values) if values else None
    return merged


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
