"""The launcher is a drop-in ``python``: ``pyfast ARGS`` against ``python ARGS``.

Every case writes small files to a temp dir and runs the same arguments with this interpreter,
``python -m pyfast`` and the ``pyfast`` script (``bin/pyfast``); stdout, stderr and the exit status
must be equal (the only allowed difference: the program name that starts python's "can't open
file" message).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import textwrap

import pytest

PROBE = """\
KEYS = list(globals())
import atexit, importlib.machinery, sys
print("argv", sys.argv)
print("path0", sys.path[0] if sys.path else None)
print("keys", KEYS)
print("name", __name__, globals().get("__file__"), globals().get("__cached__", "-"))
print("spec", getattr(__spec__, "name", None), __package__, __doc__)
FILE_LOADER = importlib.machinery.SourceFileLoader
print("loader", __loader__ if isinstance(__loader__, type) else isinstance(__loader__, FILE_LOADER))
print("main", sys.modules["__main__"].__dict__ is globals())
print("flags", __debug__, tuple(sys.flags), sys.warnoptions, sys._xoptions)
print("stdout", sys.stdout.write_through, type(sys.stdout.buffer).__name__)
atexit.register(lambda: print("atexit", "__file__" in globals()))
"""

PICKLE_SPAWN = """\
import multiprocessing, pickle

class Point:
    def __init__(self, x):
        self.x = x

def double(point, queue):
    queue.put(point.x * 2)

if __name__ == "__main__":
    print(pickle.loads(pickle.dumps(Point(21))).x)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=double, args=(Point(4), queue))
    child.start()
    print(queue.get(timeout=30))
    child.join()
    print(child.exitcode)
"""

TRACEBACK = """\
def inner(n):
    return 1 / n

def outer():
    try:
        inner(0)
    except ZeroDivisionError as error:
        raise ValueError("wrapped") from error

outer()
"""

CASES = {
    "script": ({"main.py": PROBE}, ["main.py", "a", "-b", "--c"], None),
    "script-in-subdir": ({"sub/main.py": PROBE}, ["sub/../sub/main.py"], None),
    "command": ({}, ["-c", PROBE, "x", "-y"], None),
    "module": ({"mod.py": PROBE}, ["-m", "mod", "a"], None),
    "package": (
        {"pkg/__init__.py": "import sys; print('init', sys.argv)\n", "pkg/__main__.py": PROBE},
        ["-m", "pkg", "a"],
        None,
    ),
    "stdin-dash": ({}, ["-", "a"], PROBE),
    "stdin-piped": ({}, [], PROBE),
    "directory": ({"app/__main__.py": PROBE}, ["app", "z"], None),
    "pickle-and-spawn": ({"main.py": PICKLE_SPAWN}, ["main.py"], None),
    "exit-int": ({"main.py": "import sys\nsys.exit(3)\n"}, ["main.py"], None),
    "exit-str": ({"main.py": "import sys\nsys.exit('bye')\n"}, ["main.py"], None),
    "exit-none": ({"main.py": "raise SystemExit\n"}, ["main.py"], None),
    "traceback": ({"main.py": TRACEBACK}, ["main.py"], None),
    "traceback-command": ({}, ["-c", TRACEBACK], None),
    "traceback-module": ({"mod.py": TRACEBACK}, ["-m", "mod"], None),
    "traceback-hook": (
        {"main.py": "import sys\nsys.excepthook = lambda *a: print('hooked', a[0])\n1/0\n"},
        ["main.py"],
        None,
    ),
    "missing-script": ({}, ["missing.py"], None),
    "missing-module": ({}, ["-m", "missing_module"], None),
    "directory-without-main": ({"empty/x.txt": ""}, ["empty"], None),
    "syntax-error": ({"main.py": "x = (\n"}, ["main.py"], None),
    "syntax-error-stdin": ({}, ["-"], "print(1\n"),
    "keyboard-interrupt": (
        {"main.py": "import atexit\natexit.register(print, 'bye')\nraise KeyboardInterrupt\n"},
        ["main.py"],
        None,
    ),
    "sigint": (
        {
            "main.py": (
                "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
            )
        },
        ["main.py"],
        None,
    ),
    "skip-first-line": (
        {"main.py": "garbage\nimport sys\nraise ValueError(sys.argv)\n"},
        ["-x", "main.py"],
        None,
    ),
    "flag-O": ({"main.py": PROBE}, ["-O", "main.py"], None),
    "flag-OO-B": ({"main.py": PROBE}, ["-OOB", "main.py"], None),
    "flag-u": ({"main.py": PROBE}, ["-u", "main.py"], None),
    "flag-W-error": (
        {"main.py": "import warnings\nwarnings.warn('careful')\n"},
        ["-W", "error", "main.py"],
        None,
    ),
    "flag-Wd-X-dev": ({"main.py": PROBE}, ["-Wd", "-X", "dev", "main.py"], None),
    "flag-I": ({"main.py": PROBE}, ["-I", "main.py"], None),
    "flag-P-s-E": ({"main.py": PROBE}, ["-P", "-s", "-E", "main.py"], None),
    "flag-c-in-cluster": ({}, ["-Oc", "print(__debug__)"], None),
    "double-dash": ({"main.py": PROBE}, ["--", "main.py", "--"], None),
}


def _write(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _normalised(result) -> tuple[str, str, int]:
    stderr = re.sub(r"^\S+: can't open file", "PROGRAM: can't open file", result.stderr, flags=re.M)
    return result.stdout, stderr, result.returncode


@pytest.mark.parametrize("case", CASES)
def test_same_as_python(case, tmp_path, spawn, pyfast_cmds) -> None:
    files, args, stdin = CASES[case]
    _write(tmp_path, files)
    expected = _normalised(spawn([sys.executable, *args], tmp_path, input=stdin))
    for command in pyfast_cmds:
        assert _normalised(spawn([*command, *args], tmp_path, input=stdin)) == expected, command


def test_sigint_death_is_a_signal(tmp_path, spawn, pyfast_cmds) -> None:
    _write(tmp_path, {"main.py": "raise KeyboardInterrupt\n"})
    for command in pyfast_cmds:
        assert spawn([*command, "main.py"], tmp_path).returncode == -signal.SIGINT


def test_interactive_repl_has_the_hook(tmp_path, spawn, clean_env) -> None:
    (tmp_path / "startup.py").write_text("import os\nSTARTED = 'yes'\n")
    env = {**clean_env, "PYTHONSTARTUP": str(tmp_path / "startup.py")}
    lines = (
        "import sys\n"
        "print(sys.argv, repr(sys.path[0]), STARTED, os.environ.get('PYTHONSTARTUP'))\n"
        "print('hook', 'pyfast.hook' in sys.modules, os.environ.get('PYFAST'))\n"
    )
    expected = spawn([sys.executable, "-q", "-i"], tmp_path, env=env, input=lines)
    result = spawn([sys.executable, "-m", "pyfast", "-q", "-i"], tmp_path, env=env, input=lines)
    assert expected.stdout.splitlines()[1] == "hook False None"
    assert result.stdout.splitlines() == [expected.stdout.splitlines()[0], "hook True 1"]
    assert (result.stderr, result.returncode) == (expected.stderr, expected.returncode)
    lines = "import os, sys\nprint(sys.argv, 'pyfast.hook' in sys.modules, os.environ['PYFAST'])\n"
    isolated = spawn([sys.executable, "-m", "pyfast", "-q", "-I", "-i"], tmp_path, input=lines)
    assert isolated.stdout == "[''] True 1\n", isolated.stderr


def _env_of(spawn, tmp_path, args, env=None) -> dict[str, str]:
    (tmp_path / "env.py").write_text(
        "import json, os\n"
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('PYFAST')}))\n"
    )
    result = spawn([sys.executable, "-m", "pyfast", *args, "env.py"], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_options_are_exported_for_children(tmp_path, spawn) -> None:
    exported = _env_of(
        spawn,
        tmp_path,
        [
            "--threshold",
            "5",
            "--no-jit",
            "--report-json",
            "r.json",
            "--include",
            "a*",
            "--include=b,c",
            "--exclude",
            "x",
            "--no-cache",
            "--cache-dir",
            "cache",
            "-v",
            "--dump",
            "f",
        ],
    )
    owner = exported.pop("PYFAST_REPORT_OWNER")
    assert owner.isdigit()
    assert exported == {
        "PYFAST": "1",
        "PYFAST_THRESHOLD": "5",
        "PYFAST_NO_JIT": "1",
        "PYFAST_REPORT_JSON": str(tmp_path / "r.json"),
        "PYFAST_INCLUDE": "a*,b,c",
        "PYFAST_EXCLUDE": "x",
        "PYFAST_NO_CACHE": "1",
        "PYFAST_CACHE_DIR": str(tmp_path / "cache"),
        "PYFAST_VERBOSE": "1",
        "PYFAST_DUMP": "f",
    }


def test_environment_twins_and_precedence(tmp_path, spawn, clean_env) -> None:
    env = {**clean_env, "PYFAST_THRESHOLD": "7", "PYFAST_REPORT": "1", "PYFAST_INCLUDE": "m"}
    assert _env_of(spawn, tmp_path, [], env) == {
        "PYFAST": "1",
        "PYFAST_THRESHOLD": "7",
        "PYFAST_REPORT": "1",
        "PYFAST_INCLUDE": "m",
    }
    # The command line wins; a default value is not exported at all.
    assert _env_of(spawn, tmp_path, ["--threshold", "1000", "--include", "n"], env) == {
        "PYFAST": "1",
        "PYFAST_REPORT": "1",
        "PYFAST_INCLUDE": "n",
    }


def test_disable_wins(tmp_path, spawn, clean_env) -> None:
    env = {**clean_env, "PYFAST_DISABLE": "1", "PYFAST_THRESHOLD": "abc"}
    (tmp_path / "main.py").write_text(
        "import os, sys\nprint('pyfast.hook' in sys.modules, os.environ.get('PYFAST'))\n"
    )
    result = spawn([sys.executable, "-m", "pyfast", "--threshold", "1", "main.py"], tmp_path, env)
    assert (result.stdout, result.stderr, result.returncode) == ("False None\n", "", 0)


BAD = [
    (["--threshold", "-1", "main.py"], {}, "threshold must be at least 1"),
    (["--threshold", "abc", "main.py"], {}, "argument --threshold: invalid int value: 'abc'"),
    (["--threshold"], {}, "argument --threshold: expected one argument"),
    (["--report-json", "/nonexistent/dir/x.json", "main.py"], {}, "no such directory"),
    (["--report-json", ".", "main.py"], {}, "it is a directory"),
    (["--no-jit=3", "main.py"], {}, "ignored explicit argument '3'"),
    (["--bogus", "main.py"], {}, "unrecognized option '--bogus'"),
    (["-S", "main.py"], {}, "unknown option -S"),
    (["-W"], {}, "argument -W: expected one argument"),
    (["main.py"], {"PYFAST_THRESHOLD": "abc"}, "PYFAST_THRESHOLD must be an integer, not 'abc'"),
    (["main.py"], {"PYFAST_THRESHOLD": "0"}, "threshold must be at least 1, not 0"),
    (["main.py"], {"PYFAST_REPORT": "maybe"}, "PYFAST_REPORT must be 0 or 1, not 'maybe'"),
]


@pytest.mark.parametrize(("args", "env", "message"), BAD)
def test_bad_options_are_one_line_errors(args, env, message, tmp_path, spawn, clean_env) -> None:
    (tmp_path / "main.py").write_text("print('ran')\n")
    command = [sys.executable, "-m", "pyfast", *args]
    result = spawn(command, tmp_path, env={**clean_env, **env})
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("pyfast: error: ")
    assert message in result.stderr


def test_options_after_the_script_belong_to_it(tmp_path, spawn) -> None:
    (tmp_path / "main.py").write_text("import sys\nprint(sys.argv)\n")
    result = spawn([sys.executable, "-m", "pyfast", "main.py", "--bogus", "-S"], tmp_path)
    assert result.stdout == "['main.py', '--bogus', '-S']\n"


def test_version_and_help(tmp_path, spawn, pyfast_cmds) -> None:
    import pyfast

    python = sys.version.split()[0]
    for command in pyfast_cmds:
        for flag in ("--version", "-V"):
            result = spawn([*command, flag], tmp_path)
            assert (result.stdout, result.returncode) == (
                f"pyfast {pyfast.__version__} (Python {python})\n",
                0,
            )
        result = spawn([*command, "--help"], tmp_path)
        assert result.returncode == 0
        assert result.stdout.startswith("usage: pyfast")
        for option in ("--threshold", "--report-json", "--include", "PYFAST_DISABLE"):
            assert option in result.stdout


def test_child_python_processes_inherit_the_settings(tmp_path, spawn) -> None:
    (tmp_path / "main.py").write_text(
        textwrap.dedent(
            """\
            import subprocess, sys
            code = "import os; print(os.environ['PYFAST'], os.environ['PYFAST_THRESHOLD'])"
            subprocess.run([sys.executable, "-c", code], check=True)
            """
        )
    )
    result = spawn([sys.executable, "-m", "pyfast", "--threshold", "3", "main.py"], tmp_path)
    assert (result.stdout, result.returncode) == ("1 3\n", 0), result.stderr


def test_report_owner_is_kept_by_children(tmp_path, spawn, clean_env) -> None:
    env = {**clean_env, "PYFAST_REPORT_JSON": str(tmp_path / "r.json"), "PYFAST_REPORT_OWNER": "1"}
    assert _env_of(spawn, tmp_path, [], env)["PYFAST_REPORT_OWNER"] == "1"
    assert _env_of(spawn, tmp_path, ["--report-json", "r.json"], env)["PYFAST_REPORT_OWNER"] != "1"


def test_handoff_marker_is_consumed(tmp_path, spawn, clean_env) -> None:
    env = {**clean_env, "PYFAST_HANDOFF": "python9"}
    (tmp_path / "main.py").write_text("import os\nprint(os.environ.get('PYFAST_HANDOFF'))\n")
    assert spawn([sys.executable, "-m", "pyfast", "main.py"], tmp_path, env).stdout == "None\n"
    missing = spawn([sys.executable, "-m", "pyfast", "gone.py"], tmp_path, env)
    assert missing.stderr.startswith("python9: can't open file ")


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_no_traceback_frames_from_pyfast(tmp_path, spawn) -> None:
    _write(tmp_path, {"main.py": TRACEBACK})
    result = spawn([sys.executable, "-m", "pyfast", "--threshold", "1", "main.py"], tmp_path)
    assert "pyfast" not in result.stderr and "runpy" not in result.stderr
    assert result.stderr.count('File "') == 4


FRAMES_BELOW = """
import sys
frame = sys._getframe().f_back
names = []
while frame is not None:
    names.append(frame.f_code.co_name)
    frame = frame.f_back
print(names[:2])
"""


def test_few_launcher_frames_below_the_script(tmp_path, spawn, pyfast_cmds) -> None:
    """The script runs in ``runner.run``'s own frame: below ``<module>`` are only that and
    the entry point's ``main`` (then what runs it: the ``pyfast`` script, or runpy and
    ``pyfast/__main__.py``); python has none."""
    (tmp_path / "main.py").write_text(FRAMES_BELOW)
    for command in pyfast_cmds:
        got = spawn([*command, "main.py"], tmp_path)
        assert got.stdout == "['run', 'main']\n", got.stderr


def test_traceback_entry_without_a_line_number(tmp_path, spawn) -> None:
    source = 'c = compile("1/0", "<x>", "exec")\nexec(c.replace(co_linetable=b""))\n'
    (tmp_path / "main.py").write_text(source)
    expected = spawn([sys.executable, "main.py"], tmp_path)
    got = spawn([sys.executable, "-m", "pyfast", "main.py"], tmp_path)
    assert (got.returncode, got.stderr) == (expected.returncode, expected.stderr)
    assert got.stderr.endswith("ZeroDivisionError: division by zero\n")
