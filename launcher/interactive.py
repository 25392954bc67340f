"""The REPL: ``pyfast`` with no target is python's own interactive prompt, hook installed.

In: the interpreter flags to run python with, the environment the launcher exports.
Out: never returns -- ``os.execve`` replaces the launcher by ``python <flags>``, whose
``PYTHONSTARTUP`` is ``startup.py`` in this folder: it installs the hook, restores the user's
own ``PYTHONSTARTUP`` variable and runs that file, as python would have.  With ``-E``/``-I``
python ignores ``PYTHONSTARTUP``, so the same bootstrap runs as ``-i -c`` instead and prints
the banner itself.
"""

from __future__ import annotations

import os
import sys

from pyfast._autoload import HANDOFF

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

USER_STARTUP = "PYFAST_USER_STARTUP"
BOOTSTRAP = '__import__("pyfast.launcher.interactive").launcher.interactive.startup()'
BANNER = 'Type "help", "copyright", "credits" or "license" for more information.'


def exec_repl(flags: Sequence[str], environ: dict[str, str]) -> None:
    """Replace this process by python's REPL with the hook installed at start-up."""
    env = dict(environ)
    env[HANDOFF] = "repl"
    if {"-E", "-I"} & set(flags):
        inspect = [] if "-i" in flags else ["-i"]
        argv = [sys.executable, *flags, *inspect, "-c", BOOTSTRAP]
    else:
        if "PYTHONSTARTUP" in env:
            env[USER_STARTUP] = env["PYTHONSTARTUP"]
        env["PYTHONSTARTUP"] = os.path.join(os.path.dirname(__file__), "startup.py")
        argv = [sys.executable, *flags]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def startup() -> None:
    """Run by the REPL process before its first prompt."""
    import __main__
    from pyfast.settings import Settings, disabled

    os.environ.pop(HANDOFF, None)
    user_startup = os.environ.pop(USER_STARTUP, None)
    if sys.argv == ["-c"]:  # the -i -c form: look like a plain REPL
        sys.argv[:] = [""]
        if not sys.flags.quiet:
            print(f"Python {sys.version} on {sys.platform}\n{BANNER}", file=sys.stderr)
    elif user_startup is None:
        os.environ.pop("PYTHONSTARTUP", None)
    else:
        os.environ["PYTHONSTARTUP"] = user_startup
    if not disabled():
        from pyfast import hook

        hook.install(Settings.from_env())
    if user_startup:
        namespace = __main__.__dict__
        own_file = namespace.get("__file__")
        namespace["__file__"] = user_startup
        try:
            with open(user_startup, "rb") as file:
                exec(compile(file.read(), user_startup, "exec"), namespace)
        finally:
            namespace["__file__"] = own_file
