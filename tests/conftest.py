"""Shared fixtures.  Tests run with ``--import-mode=importlib``: share helpers as fixtures.

``clean_env``     the environment for spawned interpreters: no ``PYFAST*`` and no ``PYTHON*``
                  variable that changes what python prints (buffering, warnings, colours).
``pyfast_cmds``   the ways to run pyfast with this interpreter: ``python -m pyfast`` and, when
                  installed, the ``pyfast`` script (``bin/pyfast``) next to ``sys.executable``.
``spawn``         ``spawn(argv, cwd, env=None, input=None)`` -> ``CompletedProcess`` (text,
                  captured, 60 s timeout), with ``clean_env`` by default.
``python_and_pyfast`` ``run(source)`` writes ``main.py`` and runs it under python and under
                  ``pyfast --threshold 1 --report-json``: (python's, pyfast's, {qualname:
                  report record}).
``cold_and_warm`` ``run(source)`` writes ``main.py`` and runs it under python, then twice under
                  ``pyfast --threshold 1 --report-json`` with caches of its own (the hook's
                  and the machine code's: a first run, then a warm one): (python's, the
                  cold run, the warm run, {qualname: the warm report's record}).
``machine_code_cache`` (autouse, session) ``XDG_CACHE_HOME`` points at a fresh folder: the
                  machine-code cache of spawned pyfast runs starts empty, never the user's.
``strict``        ``strict.compile(func, *sample)``: ``compile_function`` for the sample's
                  types (cached per function and sample), where a failed guard fails the test
                  and a miss returns ``strict.MISS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

_DROPPED_PREFIXES = ("PYFAST", "PYTHON")
_DROPPED = {"FORCE_COLOR", "NO_COLOR"}


@pytest.fixture(scope="session", autouse=True)
def machine_code_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    return folder / "pyfast" / "machine-code"


@pytest.fixture
def clean_env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_DROPPED_PREFIXES) and name not in _DROPPED
    }


@pytest.fixture(scope="session")
def pyfast_cmds() -> list[list[str]]:
    commands = [[sys.executable, "-m", "pyfast"]]
    script = Path(sys.executable).with_name("pyfast")
    if script.exists():
        commands.append([str(script)])
    return commands


@pytest.fixture
def spawn(clean_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    def run(
        argv: list[str],
        cwd: Path | str,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=clean_env if env is None else env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    return run


@pytest.fixture
def python_and_pyfast(spawn, tmp_path) -> Callable[[str], tuple]:
    """Run ``source`` under python and under ``pyfast --threshold 1``; assert both print the
    same (stdout, stderr) and exit alike; return pyfast's run and its report's records by
    qualname."""

    def run(source: str) -> tuple:
        (tmp_path / "main.py").write_text(textwrap.dedent(source))
        expected = spawn([sys.executable, "main.py"], tmp_path)
        report = tmp_path / "report.json"
        argv = [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
        got = spawn([*argv, "main.py"], tmp_path)
        assert (got.stdout, got.stderr, got.returncode) == (
            expected.stdout,
            expected.stderr,
            expected.returncode,
        )
        records = {f["qualname"]: f for f in json.loads(report.read_text())["functions"]}
        return got, records

    return run


@pytest.fixture
def cold_and_warm(spawn, clean_env, tmp_path) -> Callable[[str], tuple]:
    def run(source: str) -> tuple:
        (tmp_path / "main.py").write_text(source)
        env = {**clean_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        python = spawn([sys.executable, "main.py"], tmp_path, env=env)
        report = tmp_path / "report.json"
        argv = [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
        cold, warm = (spawn([*argv, "main.py"], tmp_path, env=env) for _ in range(2))
        records = {f["qualname"]: f for f in json.loads(report.read_text())["functions"]}
        return python, cold, warm, records

    return run


class Strict:
    """Compiled functions whose guards must hold: the tests call them with the sample's types."""

    MISS = object()

    def __init__(self) -> None:
        self._compiled: dict[tuple[Callable, str], object] = {}

    @staticmethod
    def _fallback(*args: object) -> object:
        raise AssertionError("a guard failed")

    def compile(self, func: Callable, *sample: object) -> object:
        from pyfast.compiler import compile_function

        key = (func, repr(sample))  # a list sample is not hashable; its repr tells its items
        if key not in self._compiled:
            signature = tuple(map(type, sample))
            self._compiled[key] = compile_function(
                func, signature, fallback=self._fallback, miss=self.MISS, sample=sample
            )
        return self._compiled[key]


@pytest.fixture(scope="session")
def strict() -> Strict:
    return Strict()
