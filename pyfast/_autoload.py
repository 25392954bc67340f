"""Switching pyfast on without typing ``pyfast``: the ``.pth`` file and ``pyfast.install()``.

In: a plain ``python`` process during start-up (``PYFAST=1``, or ``sitecustomize`` calling
``pyfast.install()``), or a running program calling ``pyfast.install()``.
Out: at start-up, the process is replaced (``os.execve``, same pid) by
``python <its flags> -m pyfast <its target>`` -- the launcher runs the program from then on,
so the main script is accelerated too; the marker ``PYFAST_HANDOFF`` (the original program
name, consumed by the launcher) keeps that from happening twice.  Later, ``install`` just
installs the hook in the running process.

This module is imported by the ``.pth`` file at every start-up where ``PYFAST`` is set: it
imports nothing else unless it hands over.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself costs 4 ms of start-up
if TYPE_CHECKING:
    from pyfast.launcher.cmdline import Command

HANDOFF = "PYFAST_HANDOFF"


def activate() -> None:
    """Hand this start-up over to the launcher unless it is the launcher already."""
    if os.environ.get(HANDOFF):
        return
    from pyfast.launcher import cmdline

    try:
        command = cmdline.parse(sys.orig_argv[1:], python=True)
    except cmdline.UsageError:
        return
    if _is_launcher(command):
        return
    argv = [
        sys.executable,
        *command.interpreter_flags,
        "-m",
        "pyfast",
        *command.launcher_args,
        *command.target_argv(),
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, {**os.environ, HANDOFF: sys.orig_argv[0]})


def install(**options: object) -> None:
    from pyfast.settings import Settings, disabled, export

    if disabled():
        return
    settings = Settings.from_env().replace(**options)
    if _at_startup():
        export(settings, os.environ)
        activate()
    else:
        from pyfast import hook

        hook.install(settings)


def uninstall() -> None:
    hook = sys.modules.get("pyfast.hook")
    if hook is not None:
        hook.uninstall()


def _is_launcher(command: Command) -> bool:
    """``python -m pyfast ...``, or the ``pyfast`` script (``bin/pyfast``)."""
    if command.mode == "module":
        return command.target == "pyfast"
    if command.mode != "script" or os.path.basename(command.target) != "pyfast":
        return False
    try:
        with open(command.target, "rb") as file:
            return b"pyfast.launcher" in file.read(1024)
    except OSError:
        return False


def _at_startup() -> bool:
    """True while ``site`` is starting the interpreter, before any main code has run."""
    main_globals = getattr(sys.modules.get("__main__"), "__dict__", None)
    in_site = False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is main_globals:
            return False
        in_site = in_site or frame.f_globals.get("__name__") == "site"
        frame = frame.f_back
    return in_site
