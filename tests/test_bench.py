"""The benchmark harness (scripts/bench.py): pure helpers, and one real run on `hello`.

Needs neither matplotlib, numba, cython nor pypy: runtimes that are missing are reported as
unavailable, and the chart step degrades to a message.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


@pytest.fixture(scope="module")
def bench():
    """The harness package (scripts/bench/), imported without leaving it on sys.path."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        package = importlib.import_module("bench")
        for part in ("measure", "report", "runtimes", "workloads", "cli"):
            importlib.import_module(f"bench.{part}")
    finally:
        sys.path.remove(str(SCRIPTS))
    yield package
    for name in [n for n in sys.modules if n == "bench" or n.startswith("bench.")]:
        del sys.modules[name]


def test_stats_median_min_max(bench):
    s = bench.measure.stats([3.0, 1.0, 2.0, 10.0])
    assert (s.median, s.min, s.max) == (2.5, 1.0, 10.0)
    assert bench.measure.stats([4.0]).median == 4.0
    with pytest.raises(ValueError):
        bench.measure.stats([])


def test_check_output_exact_and_last_line(bench):
    check = bench.measure.check_output
    assert check("50000005000000\n", "50000005000000\n")
    assert not check("-2004260032\n", "50000005000000\n")
    assert not check("1.0\n", "1.0")
    assert check("hits 1 of 3\npi ~ 3.14\n", "hits 2 of 3\npi ~ 3.14\n", "last-line")
    assert not check("hits 1 of 3\npi ~ 3.15\n", "hits 2 of 3\npi ~ 3.14\n", "last-line")
    assert not check("", "x\n", "last-line")


def test_judge_reports_wrong_and_failed(bench):
    Run = bench.measure.Run
    judge = bench.cli._judge
    good = Run(0.1, 1000, 0, "50000005000000\n", "")
    assert judge(good, "pypy", "50000005000000\n", "exact") is None
    wrong = judge(
        Run(0.1, 1000, 0, "-2004260032\n", ""), "cython-typed", "50000005000000\n", "exact"
    )
    assert wrong["status"] == "WRONG" and wrong["output"] == "-2004260032\n"
    crashed = judge(Run(0.1, 1000, 1, "", "boom\nValueError: bad\n"), "numba", None, "exact")
    assert crashed == {"status": "failed", "reason": "exit status 1: ValueError: bad"}
    late = Run(5.0, 0, -9, "", "", timed_out=True)
    assert judge(late, "pypy", "x", "exact")["reason"] == "timed out after 5 s"


def test_measure_run_reports_output_status_and_rss(bench, tmp_path):
    m = bench.measure
    done = m.run(m.Command((sys.executable, "-c", "import sys; print('hi'); sys.exit(3)")), 60)
    assert (done.stdout, done.returncode, done.ok) == ("hi\n", 3, False)
    assert 1000 < done.peak_rss_kb < 200_000 and done.wall_s > 0
    missing = m.run(m.Command(("no-such-program-xyz",), cwd=str(tmp_path)), 60)
    assert missing.returncode == 127 and "no-such-program-xyz" in missing.stderr


def test_summarize_report_list_and_mapping(bench):
    summarize = bench.runtimes.summarize_report
    records = [
        {"name": "f", "status": "compiled", "native_calls": 3, "compile_ms": 10.0},
        {"name": "g", "status": "rejected", "native_calls": 0},
        {
            "name": "h",
            "status": "compiled",
            "native_calls": 1,
            "compile_ms": 30.0,
            "osr_entries": 1,
        },
    ]
    s = summarize({"functions": records, "first_native_call_ms": 42.0})
    assert s["functions"] == 3 and s["functions_compiled"] == 2 and s["native_calls"] == 4
    assert (s["compile_ms_total"], s["compile_ms_median"], s["compile_ms_max"]) == (
        40.0,
        20.0,
        30.0,
    )
    assert s["first_native_call_ms"] == 42.0 and s["osr_entries"] == 1
    mapping = summarize({"functions": {r["name"]: r for r in records}})
    assert mapping["functions_compiled"] == 2 and mapping["first_native_call_ms"] is None
    assert summarize([1, 2]) is None


def _results(cells: dict) -> dict:
    labels = {
        "cpython": "CPython",
        "pypy": "PyPy",
        "cython-typed": "Cython (typed)",
        "numba": "Numba",
    }
    return {
        "date": "2026-01-01 00:00 UTC",
        "mode": "quick",
        "command": "python scripts/bench.py --quick",
        "scale": 0.2,
        "repeat": 3,
        "machine": {"platform": "Linux", "cpu": "cpu", "cores": 2},
        "runtimes": {
            name: {
                "label": label,
                "available": name != "numba",
                "version": "1.0",
                "reason": None if name != "numba" else "numba not importable",
            }
            for name, label in labels.items()
        },
        "libraries": {},
        "workloads": [{"name": "seed_sum", "results": cells}],
    }


def test_render_markdown_speedups_wrong_and_unavailable(bench):
    ok = {"status": "ok", "check": "exact", "min_s": 0.3, "max_s": 0.5, "peak_rss_kb": 10240}
    cells = {
        "cpython": dict(ok, median_s=0.4, speedup=1.0),
        "pypy": dict(ok, median_s=0.05, speedup=8.0),
        "cython-typed": {"status": "WRONG", "output": "-2004260032\n", "check": "exact"},
        "numba": {"status": "unavailable", "reason": "numba not importable"},
    }
    text = bench.report.render_markdown(_results(cells))
    row = next(line for line in text.splitlines() if line.startswith("| seed_sum"))
    assert row == "| seed_sum | 0.400 s | 8.00x | **WRONG** [1] | unavailable |"
    assert "| workload | CPython | PyPy | Cython (typed) | Numba |" in text
    assert "1. seed_sum / cython-typed: printed `-2004260032`" in text
    assert "- Numba: unavailable — numba not importable" in text
    assert "0.050 s (0.300–0.500), 10 MB" in text
    assert "Reproduce: `python scripts/bench.py --quick`" in text


def test_speedup_cell_formats(bench):
    notes = bench.report._Notes()
    cell = bench.report.speedup_cell
    assert cell({"status": "ok", "speedup": 123.4}, "pypy", "w", notes) == "123.4x"
    assert cell({"status": "ok", "speedup": 0.5}, "pypy", "w", notes) == "0.50x"
    partial = {"status": "ok", "speedup": 2.0, "check": "last-line"}
    assert cell(partial, "numba", "w", notes) == "2.00x [1]"
    assert cell({"status": "failed", "reason": "exit 1"}, "pypy", "w", notes) == "failed [2]"
    assert cell({"status": "n/a"}, "numba", "w", notes) == "n/a"


def test_select_workloads(bench):
    names = [w.name for w in bench.workloads.select(["hello", "fib"])]
    assert names == ["fib", "hello"]
    with pytest.raises(ValueError, match="nope"):
        bench.workloads.select(["nope"])
    for w in bench.workloads.WORKLOADS:
        assert w.script.exists(), w.script
        assert w.numba is None or w.numba.exists()
        assert w.c is None or w.c.exists()


def test_harness_runs_hello(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "bench.py"),
            "--only",
            "hello",
            "--runtimes",
            "cpython",
            "pyfast-cold",
            "pyfast-warm",
            "--repeat",
            "2",
            "--timeout",
            "60",
            "--out",
            str(out),
            "--build-dir",
            str(tmp_path / "build"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hello: cpython run 1/2" in proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["repeat"] == 2 and results["machine"]["cores"] >= 1
    [hello] = results["workloads"]
    assert hello["name"] == "hello" and hello["expected_output"] == "hello world\n"
    cpython = hello["results"]["cpython"]
    assert cpython["status"] == "ok" and len(cpython["runs"]) == 2
    assert cpython["min_s"] <= cpython["median_s"] <= cpython["max_s"]
    assert set(hello["results"]) == {"cpython", "pyfast-cold", "pyfast-warm"}
    for name in ("pyfast-cold", "pyfast-warm"):  # runs the workload, as a user types it
        assert hello["results"][name]["status"] in ("ok", "unavailable"), hello["results"][name]
    table = (out / "results.md").read_text()
    assert "| workload | CPython | pyfast (cold) | pyfast (warm) |" in table
    assert any(line.startswith("| hello | ") for line in table.splitlines())


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_c_runtime_builds_once_and_prints_what_python_prints(bench, tmp_path):
    runtimes, measure, workloads = bench.runtimes, bench.measure, bench.workloads
    env = {**os.environ, "BENCH_SCALE": "0.01"}
    ctx = runtimes.Context(
        python=sys.executable,
        pypy=None,
        cc=shutil.which("gcc"),
        build_dir=tmp_path / "build",
        work_dir=tmp_path,
        timeout=60,
        base_env=env,
    )
    c = runtimes.C()
    assert c.probe(ctx).available
    for workload in workloads.select(["leibniz", "seed_sum"]):
        plan = c.prepare(workload, ctx)
        python = subprocess.run(
            [sys.executable, str(workload.script)], env=env, capture_output=True, text=True
        )
        assert measure.run(plan.command(0), 60, env).stdout == python.stdout
        assert c.prepare(workload, ctx).build_s == plan.build_s  # built once, reused
    assert isinstance(c.prepare(workloads.select(["hello"])[0], ctx), runtimes.Skip)
    no_cc = runtimes.Context(**{**ctx.__dict__, "cc": None})
    assert not c.probe(no_cc).available
