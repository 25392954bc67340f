"""``pyfast``: the entry point of the ``pyfast`` script and of ``python -m pyfast``.

In: ``sys.argv`` (python's grammar plus pyfast's options, see ``cmdline``) and the environment.
Out: the exit status of the user's program, as python would give it; 2 with a one-line
``pyfast: error: ...`` for a bad command line or setting.

Steps: parse; resolve the settings (command line over ``PYFAST_*``; ``PYFAST_DISABLE`` over
all); without a target on an interactive stdin, become python's REPL (``interactive``);
re-execute the interpreter once if python flags must be applied (``python <flags> -m pyfast
...``: the new command line has none left, so this cannot loop); export the settings so child
Python processes run under pyfast too; install the hook; run the target (``runner``).
"""

from __future__ import annotations

import os
import sys
import types

from pyfast.launcher import cmdline, runner

from pyfast import __version__
from pyfast._autoload import HANDOFF
from pyfast.settings import Settings, SettingsError, disabled, export

#: Set for a child process by a launcher that writes ``--report-json``: the owner's pid.  A
#: process with another pid writes its report next to the owner's (``PATH.<pid>.json``).
REPORT_OWNER = "PYFAST_REPORT_OWNER"


def main() -> int:
    """Run ``pyfast`` with ``sys.argv``; return the exit status."""
    program = os.environ.pop(HANDOFF, None) or "pyfast"
    try:
        own = cmdline.parse(sys.orig_argv[1:], python=True)
        command = cmdline.parse(sys.argv[1:])
        if command.action == "help":
            sys.stdout.write(cmdline.USAGE)
            return 0
        if command.action == "version":
            print(f"pyfast {__version__} (Python {sys.version.split()[0]})")
            return 0
        settings = resolve(command)
    except (cmdline.UsageError, SettingsError) as error:
        print(f"pyfast: error: {error}", file=sys.stderr)
        return 2
    flags = [*own.interpreter_flags, *command.interpreter_flags]
    if command.mode == "interactive" and (os.isatty(0) or "-i" in flags):
        _export(settings, command)
        from pyfast.launcher import interactive

        interactive.exec_repl(flags, dict(os.environ))
    if command.interpreter_flags or (sys.flags.inspect and own.mode != "module"):
        # Python's own flags take effect only at start-up; under PYTHONINSPECT the REPL that
        # follows the program needs the launcher to end by returning, as `-m pyfast` does.
        _reexec([*flags, "-m", "pyfast", *command.launcher_args, *command.target_argv()], settings)
    _export(settings, command)
    if settings is None:
        return runner.run(command, program, _plain_compile)
    from pyfast import hook

    hook.install(settings)
    return runner.run(command, program, hook.main_code)


def resolve(command: cmdline.Command) -> Settings | None:
    """The settings of this run, or None when pyfast is disabled; raise ``SettingsError``.

    The command line is validated even when disabled; the environment is not read then, so a
    broken ``PYFAST_*`` value can always be overridden by ``PYFAST_DISABLE=1``.
    """
    settings = (Settings() if disabled() else Settings.from_env()).replace(**command.options)
    if settings.report_json is not None:
        settings = settings.replace(report_json=os.path.abspath(settings.report_json))
        _check_report_path(settings.report_json)
    if settings.cache_dir is not None:
        settings = settings.replace(cache_dir=os.path.abspath(settings.cache_dir))
        if os.path.exists(settings.cache_dir) and not os.path.isdir(settings.cache_dir):
            raise SettingsError(f"cache directory {settings.cache_dir!r} is not a directory")
    return None if disabled() else settings


def _check_report_path(path: str) -> None:
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        problem = "it is a directory"
    elif not os.path.isdir(folder):
        problem = f"no such directory {folder!r}"
    elif not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        problem = "permission denied"
    else:
        return
    raise SettingsError(f"cannot write the JSON report to {path!r}: {problem}")


def _export(settings: Settings | None, command: cmdline.Command) -> None:
    """Hand the settings down to child Python processes through the environment."""
    if settings is None:
        return
    export(settings, os.environ)
    if settings.report_json is not None and (
        "report_json" in command.options or REPORT_OWNER not in os.environ
    ):
        os.environ[REPORT_OWNER] = str(os.getpid())


def _reexec(args: list[str], settings: Settings | None) -> None:
    argv = [sys.executable, *args]
    if settings is not None and settings.verbose:
        print(f"pyfast: re-executing {argv}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _plain_compile(source: bytes, filename: str) -> types.CodeType:
    return compile(source, filename, "exec", dont_inherit=True)
