"""The runtimes compared, as a table: each turns a workload into commands, or says why not.

In: a ``Context`` (interpreters, directories, timeout, scale) and a ``Workload``.
Out: for each runtime, ``probe`` gives a ``Probe`` (available or not, why, version) and
``prepare`` gives either a ``Prepared`` (the command of the n-th timed run, the output check,
build time, an extras reader) or a ``Skip`` (``n/a``, ``unavailable`` or ``failed`` with a reason).

Column order is ``RUNTIMES`` order.  CPython comes first: its output is the reference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import measure
from .workloads import Workload


@dataclasses.dataclass(frozen=True)
class Context:
    python: str
    pypy: str | None
    cc: str | None
    build_dir: Path
    work_dir: Path
    timeout: float
    base_env: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Probe:
    available: bool
    version: str | None = None
    reason: str | None = None
    import_s: float | None = None


@dataclasses.dataclass(frozen=True)
class Prepared:
    command: Callable[[int], measure.Command]
    check: str = "exact"
    build_s: float | None = None
    extras: Callable[[int], dict | None] | None = None


@dataclasses.dataclass(frozen=True)
class Skip:
    status: str
    reason: str


def _ask(ctx: Context, argv: list[str]) -> measure.Run:
    return measure.run(measure.Command(tuple(argv)), ctx.timeout, ctx.base_env)


def _python_module_version(ctx: Context, module: str, install: str, timed: bool = False) -> Probe:
    """Import ``module`` in a fresh process; ``timed`` keeps that process's wall time."""
    found = _ask(ctx, [ctx.python, "-c", f"import {module}; print({module}.__version__)"])
    if found.ok:
        return Probe(True, found.stdout.strip(), import_s=found.wall_s if timed else None)
    return Probe(False, reason=f"{module} not importable ({found.failure()}); {install}")


class CPython:
    name = "cpython"
    label = "CPython"

    def probe(self, ctx: Context) -> Probe:
        found = _ask(ctx, [ctx.python, "-c", "import sys; print(sys.version.split()[0])"])
        return (
            Probe(True, found.stdout.strip()) if found.ok else Probe(False, reason=found.failure())
        )

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        return Prepared(lambda i: measure.Command((ctx.python, str(workload.script))))


class _Pyfast:
    """``pyfast`` as a user types it (the script beside the interpreter; ``python -m pyfast``,
    which also imports ``runpy``, when there is none) with a JSON report per run; cold and
    warm differ in the cache dir."""

    def probe(self, ctx: Context) -> Probe:
        code = "import importlib.metadata as m, pyfast.launcher.cli; print(m.version('pyfast'))"
        found = _ask(ctx, [ctx.python, "-c", code])
        if not found.ok:
            return Probe(False, reason=f"pyfast launcher not importable ({found.failure()})")
        return Probe(True, found.stdout.strip() + _git_revision())

    def _command(self, ctx: Context, script: Path, cache: Path, report: Path) -> measure.Command:
        command = Path(ctx.python).with_name("pyfast")
        launcher = (str(command),) if command.exists() else (ctx.python, "-m", "pyfast")
        argv = (*launcher, "--cache-dir", str(cache))
        return measure.Command(argv + ("--report-json", str(report), str(script)))

    def _dir(self, ctx: Context, workload: Workload) -> Path:
        path = ctx.work_dir / self.name / workload.name
        path.mkdir(parents=True, exist_ok=True)
        return path


class PyfastCold(_Pyfast):
    name = "pyfast-cold"
    label = "pyfast (cold)"

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        base = self._dir(ctx, workload)

        def command(i: int) -> measure.Command:
            cache = base / f"cache-{i}"
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir()
            return self._command(ctx, workload.script, cache, base / f"report-{i}.json")

        return Prepared(command, extras=lambda i: read_report(base / f"report-{i}.json"))


class PyfastWarm(_Pyfast):
    name = "pyfast-warm"
    label = "pyfast (warm)"

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        base = self._dir(ctx, workload)
        cache = base / "cache"
        cache.mkdir(exist_ok=True)
        priming = measure.run(
            self._command(ctx, workload.script, cache, base / "report-priming.json"),
            ctx.timeout,
            ctx.base_env,
        )
        if not priming.ok:
            return Skip("failed", f"priming run: {priming.failure()}")

        def command(i: int) -> measure.Command:
            return self._command(ctx, workload.script, cache, base / f"report-{i}.json")

        return Prepared(command, extras=lambda i: read_report(base / f"report-{i}.json"))


class PyPy:
    name = "pypy"
    label = "PyPy"

    def probe(self, ctx: Context) -> Probe:
        if ctx.pypy is None:
            return Probe(False, reason="pypy3 not found: install it with `apt-get install pypy3`")
        code = (
            "import platform, sys; v = getattr(sys, 'pypy_version_info', (0, 0, 0));"
            " print('%d.%d.%d (Python %s)' % (v[0], v[1], v[2], platform.python_version()))"
        )
        found = _ask(ctx, [ctx.pypy, "-c", code])
        if not found.ok:
            return Probe(False, reason=f"{ctx.pypy} does not run ({found.failure()})")
        return Probe(True, found.stdout.strip())

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        assert ctx.pypy is not None
        pypy = ctx.pypy
        return Prepared(lambda i: measure.Command((pypy, str(workload.script))))


class Numba:
    name = "numba"
    label = "Numba @njit"

    def probe(self, ctx: Context) -> Probe:
        return _python_module_version(ctx, "numba", "install it with `pip install numba`", True)

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        variant = workload.numba
        if variant is None:
            return Skip("n/a", "no @njit variant: nothing numeric to jit")
        return Prepared(
            lambda i: measure.Command((ctx.python, str(variant))), check=workload.numba_check
        )


class _Cython:
    """A module compiled by ``cythonize`` into the build cache, run as ``python -c 'import m'``."""

    def probe(self, ctx: Context) -> Probe:
        return _python_module_version(ctx, "Cython", "install it with `pip install cython`")

    def _source(self, workload: Workload) -> Path | None:
        raise NotImplementedError

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        source = self._source(workload)
        if source is None:
            return Skip("n/a", "the article shows no typed variant")
        built = build_extension(source, ctx)
        if isinstance(built, Skip):
            return built
        where, build_s = built
        argv = (ctx.python, "-c", f"import {source.stem}")
        return Prepared(lambda i: measure.Command(argv, cwd=str(where)), build_s=build_s)


class Cython(_Cython):
    name = "cython"
    label = "Cython (pure Python)"

    def _source(self, workload: Workload) -> Path | None:
        return workload.script


class CythonTyped(_Cython):
    name = "cython-typed"
    label = "Cython (typed)"

    def _source(self, workload: Workload) -> Path | None:
        return workload.cython_typed


class C:
    """A hand-written ``workloads/c/NAME.c`` built once with ``gcc -O2`` into the build cache."""

    name = "c"
    label = "C (gcc -O2)"

    def probe(self, ctx: Context) -> Probe:
        if ctx.cc is None:
            return Probe(False, reason="gcc not found: install it with `apt-get install gcc`")
        found = _ask(ctx, [ctx.cc, "-dumpfullversion"])
        if not found.ok:
            return Probe(False, reason=f"{ctx.cc} does not run ({found.failure()})")
        return Probe(True, "gcc " + found.stdout.strip())

    def prepare(self, workload: Workload, ctx: Context) -> Prepared | Skip:
        if workload.c is None:
            return Skip("n/a", "no hand-written C variant")
        built = build_c(workload.c, ctx)
        if isinstance(built, Skip):
            return built
        program, build_s = built
        return Prepared(lambda i: measure.Command((str(program),)), build_s=build_s)


RUNTIMES = (
    CPython(),
    PyfastCold(),
    PyfastWarm(),
    PyPy(),
    Numba(),
    Cython(),
    CythonTyped(),
    C(),
)
NAMES = tuple(r.name for r in RUNTIMES)


def build_extension(source: Path, ctx: Context) -> tuple[Path, float] | Skip:
    """Compile ``source`` with cythonize into a cache dir keyed by its text and the toolchain.

    Returns the directory holding only the extension module and the build's wall time (the
    recorded one when the build is reused), or a ``Skip("failed", ...)`` with the error.
    """
    tag = _ask(
        ctx, [ctx.python, "-c", "import sys, Cython; print(sys.version, Cython.__version__)"]
    )
    key = hashlib.sha256(source.read_bytes() + tag.stdout.encode()).hexdigest()[:16]
    where = ctx.build_dir / "cython" / f"{source.stem}-{key}"
    stamp = where / "build.json"
    if stamp.exists():
        return where, json.loads(stamp.read_text())["build_s"]
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    copy = where / source.name
    shutil.copyfile(source, copy)
    start = time.perf_counter()
    built = measure.run(
        measure.Command(
            (ctx.python, "-m", "Cython.Build.Cythonize", "-3", "-i", "-q", copy.name),
            cwd=str(where),
        ),
        ctx.timeout,
        ctx.base_env,
    )
    build_s = time.perf_counter() - start
    modules = list(where.glob(f"{source.stem}.*.so")) + list(where.glob(f"{source.stem}.*.pyd"))
    if not built.ok or not modules:
        return Skip("failed", f"cythonize: {built.failure()}")
    for leftover in where.iterdir():
        if leftover not in modules:
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    stamp.write_text(json.dumps({"build_s": build_s, "source": str(source)}))
    return where, build_s


#: How ``build_c`` compiles: part of the cache key, so a change rebuilds.
C_FLAGS = ("-O2", "-std=c99", "-Wall")


def build_c(source: Path, ctx: Context) -> tuple[Path, float] | Skip:
    """Compile ``source`` with ``gcc -O2`` into a cache dir keyed by its text, flags and gcc.

    Returns the executable and the build's wall time (the recorded one when the build is
    reused), or a ``Skip("failed", ...)`` with the compiler's last error line.
    """
    assert ctx.cc is not None
    tag = _ask(ctx, [ctx.cc, "--version"])
    key_text = source.read_bytes() + " ".join(C_FLAGS).encode() + tag.stdout.encode()
    where = ctx.build_dir / "c" / f"{source.stem}-{hashlib.sha256(key_text).hexdigest()[:16]}"
    program, stamp = where / source.stem, where / "build.json"
    if stamp.exists() and program.exists():
        return program, json.loads(stamp.read_text())["build_s"]
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    start = time.perf_counter()
    built = _ask(ctx, [ctx.cc, *C_FLAGS, "-o", str(program), str(source)])
    build_s = time.perf_counter() - start
    if not built.ok or not program.exists():
        return Skip("failed", f"gcc: {built.failure()}")
    stamp.write_text(json.dumps({"build_s": build_s, "source": str(source)}))
    return program, build_s


def read_report(path: Path) -> dict | None:
    """The pyfast figures of one run from its ``--report-json`` file (None when absent/bad)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return summarize_report(report)


def summarize_report(report: object) -> dict | None:
    """Compiled-function count, compile times and first native call from a pyfast report.

    Accepts ``functions`` as a list of records or a mapping name -> record; each record may
    carry ``status``, ``native_calls``, ``compile_ms``, ``osr_entries``.  The compile-time
    median and maximum are over the functions that spent time compiling.  The optional
    top-level ``first_native_call_ms`` is passed through (None when the report lacks it).
    """
    if not isinstance(report, dict):
        return None
    functions = report.get("functions", [])
    if isinstance(functions, dict):
        functions = [dict(record, name=name) for name, record in functions.items()]
    records = [f for f in functions if isinstance(f, dict)]
    compile_ms = [
        float(f["compile_ms"]) for f in records if _number(f.get("compile_ms")) and f["compile_ms"]
    ]
    return {
        "functions": len(records),
        "functions_compiled": sum(1 for f in records if f.get("status") == "compiled"),
        "native_calls": sum(
            int(f["native_calls"]) for f in records if _number(f.get("native_calls"))
        ),
        "osr_entries": sum(int(f["osr_entries"]) for f in records if _number(f.get("osr_entries"))),
        "compile_ms_total": sum(compile_ms),
        "compile_ms_median": statistics.median(compile_ms) if compile_ms else None,
        "compile_ms_max": max(compile_ms) if compile_ms else None,
        "first_native_call_ms": report.get("first_native_call_ms"),
    }


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _git_revision() -> str:
    repo = Path(__file__).resolve().parents[2]
    try:
        found = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" (git {found.stdout.strip()})" if found.returncode == 0 else ""
