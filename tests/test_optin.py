"""Opt-ins without the ``pyfast`` command: ``PYFAST=1`` through the shipped ``.pth`` file,
``pyfast.install()`` from ``sitecustomize`` or a running program, and the cost when off.

The ``.pth`` tests run the real file.  A wheel install (CI) has it in site-packages; an
editable dev install does not, so the tests build a throwaway venv whose site-packages gets a
copy of ``pyfast/pyfast-autoload.pth`` and reaches the dev environment through
``site.addsitedir``.  With ``CI=true`` a missing installed ``.pth`` is a failure.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import pyfast

PTH = "pyfast-autoload.pth"

PROBE = """\
import os, sys
print(sys.argv, sys.path[0], __name__, globals().get("__file__"), __debug__, tuple(sys.flags))
print("hook", "pyfast.hook" in sys.modules, os.environ.get("PYFAST_THRESHOLD"), file=sys.stderr)
"""


@pytest.fixture(scope="session")
def pth_python(tmp_path_factory) -> str:
    """An interpreter whose site-packages holds pyfast's ``.pth`` file."""
    if any((Path(folder) / PTH).exists() for folder in site.getsitepackages()):
        return sys.executable
    if os.environ.get("CI") == "true":
        pytest.fail(f"{PTH} is not installed in {site.getsitepackages()}")
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    packages = Path(sysconfig.get_path("purelib", vars={"base": root, "platbase": root}))
    lines = [f"import site; site.addsitedir({folder!r})\n" for folder in site.getsitepackages()]
    (packages / "00-dev.pth").write_text("".join(lines))
    shutil.copy(Path(pyfast.__file__).with_name(PTH), packages / PTH)
    return str(root / "bin" / "python")


@pytest.fixture
def probe(tmp_path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def test_pth_costs_nothing_when_unset(pth_python, spawn, probe) -> None:
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith(('pyfast', 'llvm'))))"
    result = spawn([pth_python, "-X", "importtime", "-c", code], probe)
    assert result.stdout == "[]\n"
    imported = [line.rpartition("|")[2].strip() for line in result.stderr.splitlines()]
    assert imported and not [name for name in imported if name.startswith(("pyfast", "llvm"))]


@pytest.mark.parametrize(
    "args",
    [["probe.py", "a"], ["-O", "probe.py"], ["-c", PROBE, "x"], ["-m", "probe", "-v"], ["-"]],
)
def test_pth_hands_the_run_to_the_launcher(args, pth_python, spawn, probe, clean_env) -> None:
    stdin = PROBE if args == ["-"] else None
    plain = spawn([pth_python, *args], probe, input=stdin)
    env = {**clean_env, "PYFAST": "1", "PYFAST_THRESHOLD": "4"}
    result = spawn([pth_python, *args], probe, env=env, input=stdin)
    assert (result.stdout, result.returncode) == (plain.stdout, plain.returncode)
    assert plain.stderr == "hook False None\n"
    assert result.stderr == "hook True 4\n"


def test_pth_missing_script_message_is_pythons(pth_python, spawn, tmp_path, clean_env) -> None:
    plain = spawn([pth_python, "gone.py"], tmp_path)
    result = spawn([pth_python, "gone.py"], tmp_path, env={**clean_env, "PYFAST": "1"})
    assert (result.stderr, result.returncode) == (plain.stderr, plain.returncode) != ("", 0)


def test_pth_kill_switch(pth_python, spawn, probe, clean_env) -> None:
    env = {**clean_env, "PYFAST": "1", "PYFAST_DISABLE": "1", "PYFAST_THRESHOLD": "x"}
    assert spawn([pth_python, "probe.py"], probe, env=env).stderr == "hook False x\n"


def test_children_run_under_pyfast(pth_python, spawn, tmp_path) -> None:
    (tmp_path / "main.py").write_text(
        "import multiprocessing, subprocess, sys\n"
        "CHECK = \"import sys; print('pyfast.hook' in sys.modules)\"\n"
        "def child(queue):\n"
        "    queue.put('pyfast.hook' in sys.modules)\n"
        "if __name__ == '__main__':\n"
        "    subprocess.run([sys.executable, '-c', CHECK], check=True)\n"
        "    context = multiprocessing.get_context('spawn')\n"
        "    queue = context.Queue()\n"
        "    process = context.Process(target=child, args=(queue,))\n"
        "    process.start()\n"
        "    print(queue.get(timeout=30))\n"
        "    process.join()\n"
    )
    result = spawn([pth_python, "-m", "pyfast", "main.py"], tmp_path)
    assert (result.stdout, result.returncode) == ("True\nTrue\n", 0), result.stderr


def test_sitecustomize_opt_in(spawn, probe, clean_env) -> None:
    folder = probe / "custom"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text("import pyfast; pyfast.install(threshold=7)\n")
    plain = spawn([sys.executable, "probe.py", "a"], probe)
    env = {**clean_env, "PYTHONPATH": str(folder)}
    result = spawn([sys.executable, "probe.py", "a"], probe, env=env)
    assert (result.stdout, result.returncode) == (plain.stdout, plain.returncode)
    assert result.stderr == "hook True 7\n"


def test_install_in_a_running_program(spawn, tmp_path) -> None:
    code = (
        "import sys, pyfast\n"
        "pyfast.install(threshold=2)\n"
        "print('pyfast.hook' in sys.modules, sys.orig_argv[1])\n"
        "pyfast.uninstall()\n"
    )
    result = spawn([sys.executable, "-c", code], tmp_path)
    assert (result.stdout, result.stderr, result.returncode) == ("True -c\n", "", 0)
