"""The shared settings record and the command-line grammar, in process."""

from __future__ import annotations

import pytest
from pyfast.launcher import cmdline

from pyfast.settings import ENV, Settings, SettingsError, disabled, export


def test_environment_round_trip() -> None:
    settings = Settings(
        threshold=1,
        jit=False,
        report=True,
        report_json="/r.json",
        include=("a*", "b"),
        exclude=("c",),
        cache=False,
        cache_dir="/c",
        verbose=True,
        dump=("f",),
    )
    assert Settings.from_env(settings.to_env()) == settings
    assert set(settings.to_env()) == {name for name, _ in ENV.values()}
    assert Settings().to_env() == {}


def test_globs_split_on_commas() -> None:
    assert Settings(include=["a, b", "c"]).include == ("a", "b", "c")
    assert Settings.from_env({"PYFAST_EXCLUDE": "x,,y"}).exclude == ("x", "y")


@pytest.mark.parametrize(
    "environ",
    [{"PYFAST_THRESHOLD": "abc"}, {"PYFAST_THRESHOLD": "-3"}, {"PYFAST_VERBOSE": "maybe"}],
)
def test_malformed_environment(environ) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(environ)


def test_export_replaces_stale_twins() -> None:
    environ = {"PYFAST_THRESHOLD": "9", "PYFAST_NO_JIT": "1", "OTHER": "x"}
    export(Settings(verbose=True), environ)
    assert environ == {"PYFAST": "1", "PYFAST_VERBOSE": "1", "OTHER": "x"}


def test_kill_switch() -> None:
    assert disabled({"PYFAST_DISABLE": "1"})
    assert not disabled({"PYFAST_DISABLE": "0"})
    assert not disabled({})


def _parse(text: str, **kwargs) -> cmdline.Command:
    return cmdline.parse(text.split(), **kwargs)


def test_clusters_and_attached_values() -> None:
    command = _parse("-OOBu -Werror -X dev -vx --threshold=3 script.py -O --threshold 4")
    assert command.interpreter_flags == ["-O", "-O", "-B", "-u", "-W", "error", "-X", "dev"]
    assert command.options == {"verbose": True, "threshold": 3}
    assert command.skip_first_line
    assert (command.mode, command.target, command.args) == (
        "script",
        "script.py",
        ["-O", "--threshold", "4"],
    )
    assert command.launcher_args == ["-v", "-x", "--threshold", "3"]


@pytest.mark.parametrize(
    ("text", "mode", "target", "args"),
    [
        ("-c pass a", "command", "pass", ["a"]),
        ("-Bcpass a", "command", "pass", ["a"]),
        ("-m json.tool -x", "module", "json.tool", ["-x"]),
        ("- a", "stdin", None, ["a"]),
        ("-- -weird.py a", "script", "-weird.py", ["a"]),
        ("-q", "interactive", None, []),
    ],
)
def test_targets(text, mode, target, args) -> None:
    command = _parse(text)
    assert (command.mode, command.target, command.args) == (mode, target, args)
    assert cmdline.parse(command.target_argv()).target == target


def test_repeatable_options_accumulate() -> None:
    command = _parse("--include a --include b,c --no-jit --report x.py")
    assert command.options == {"include": ("a", "b,c"), "jit": False, "report": True}


def test_python_grammar_for_the_handoff() -> None:
    command = _parse("-v -E -x s.py --threshold", python=True)
    assert command.interpreter_flags == ["-v", "-E"]
    assert command.launcher_args == ["-x"]
    assert command.args == ["--threshold"]


@pytest.mark.parametrize("text", ["--bogus", "-S", "-W", "--threshold", "--threshold x", "-k"])
def test_usage_errors(text) -> None:
    with pytest.raises(cmdline.UsageError):
        _parse(text)
