"""The command line: python's grammar, plus pyfast's own long options before the target.

In: an argument list -- the launcher's ``sys.argv[1:]``, or a plain ``python``'s
``sys.orig_argv[1:]`` when the autoload ``.pth`` hands a run over to the launcher.
Out: a ``Command``: the interpreter flags python must apply itself (``-O``, ``-W error``, ...),
the settings given as options, and the target (script, ``-m`` module, ``-c`` code, ``-`` stdin,
or nothing: the REPL) with its arguments.  Raises ``UsageError`` (one line, exit status 2).

Options stop at the target, as in python: everything after it belongs to the user's program.
"""

from __future__ import annotations

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

USAGE = """\
usage: pyfast [option] ... [-c cmd | -m mod | file | -] [arg] ...

Runs Python exactly like `python`, with hot functions compiled to native code.

pyfast options (each has an environment twin):
  --threshold N      compile after N calls or loop iterations; 1 = at once  (PYFAST_THRESHOLD)
  --no-jit           profile only, never compile                            (PYFAST_NO_JIT=1)
  --report           print a summary of what was compiled on exit           (PYFAST_REPORT=1)
  --report-json PATH write the JSON report to PATH on exit                  (PYFAST_REPORT_JSON)
  --include GLOB     only modules matching GLOB (repeatable, comma-separated) (PYFAST_INCLUDE)
  --exclude GLOB     never modules matching GLOB (repeatable, comma-separated) (PYFAST_EXCLUDE)
  --dump GLOB        dump the IR and LLVM IR of matching functions to stderr (PYFAST_DUMP)
  --cache-dir DIR    where compiled code is cached                          (PYFAST_CACHE_DIR)
  --no-cache         do not use the cache                                   (PYFAST_NO_CACHE=1)
  -v, --verbose      say what was compiled, and why not                     (PYFAST_VERBOSE=1)
  -V, --version      print pyfast's and python's version and exit
  -h, --help         print this help and exit
PYFAST_DISABLE=1 switches pyfast off whatever else is set.

python's options, applied by the interpreter as usual:
  -b -bb -B -d -E -i -I -O -OO -P -q -s -u -x -W arg -X opt --check-hash-based-pycs mode
(-v is pyfast's --verbose; -S is not supported, pyfast is found through site-packages.)
"""


class UsageError(Exception):
    """A bad command line; the launcher prints ``pyfast: error: <message>`` and exits 2."""


class Command:
    """One parsed command line.

    ``mode`` is ``script`` (``target`` is the path as typed), ``module`` (``target`` is the
    module name), ``command`` (``target`` is the code), ``stdin`` (``-``) or ``interactive``
    (no target).  ``interpreter_flags`` are python's own flags as separate tokens;
    ``launcher_args`` are pyfast's, normalised, so ``python <flags> -m pyfast <launcher_args>
    <target_argv()>`` repeats the command with the flags applied by the interpreter.
    (A plain class: ``dataclasses`` would import ``inspect``, 10 ms of every start-up.)
    """

    def __init__(self) -> None:
        self.interpreter_flags: list[str] = []
        self.launcher_args: list[str] = []
        self.options: dict[str, object] = {}
        self.mode = "interactive"
        self.target: str | None = None
        self.args: list[str] = []
        self.skip_first_line = False
        self.action: str | None = None

    def target_argv(self) -> list[str]:
        """The tokens that name the target and its arguments, as they would be typed."""
        if self.mode == "script":
            flag = ["--"] if self.target.startswith("-") else []
        else:
            flag = _TARGET_FLAG[self.mode]
        return [*flag, *([] if self.target is None else [self.target]), *self.args]


_TARGET_FLAG = {"module": ["-m"], "command": ["-c"], "stdin": ["-"], "interactive": []}


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"invalid int value: {text!r}") from None


#: pyfast's long options: name -> (Settings field, value parser or constant).  A parser means
#: the option takes a value; ``tuple`` means it accumulates (repeatable).
LONG_OPTIONS: dict[str, tuple[str, Callable[[str], object] | object]] = {
    "--threshold": ("threshold", _int),
    "--no-jit": ("jit", False),
    "--report": ("report", True),
    "--report-json": ("report_json", str),
    "--include": ("include", tuple),
    "--exclude": ("exclude", tuple),
    "--dump": ("dump", tuple),
    "--cache-dir": ("cache_dir", str),
    "--no-cache": ("cache", False),
    "--verbose": ("verbose", True),
}

#: python's long options: name -> takes a value.
PYTHON_LONG_FLAGS = {
    "--check-hash-based-pycs": True,
    "--help-env": False,
    "--help-xoptions": False,
    "--help-all": False,
}

#: Short options of the launcher: character -> what it does.
LAUNCHER_SHORT = {
    **dict.fromkeys("bBdEiIOPqsuR", "flag"),
    "W": "flag_arg",
    "X": "flag_arg",
    "c": "command",
    "m": "module",
    "x": "skip_first_line",
    "v": "verbose",
    "h": "help",
    "?": "help",
    "V": "version",
}

#: Short options of a plain ``python`` (for the hand-over): ``-v`` and friends are python's.
PYTHON_SHORT = {**LAUNCHER_SHORT, **dict.fromkeys("vhV?S", "flag")}

_ACTIONS = {"--help": "help", "--version": "version"}


def parse(argv: Sequence[str], *, python: bool = False) -> Command:
    """Parse ``argv`` (without the program name); ``python=True`` reads python's own grammar."""
    shorts = PYTHON_SHORT if python else LAUNCHER_SHORT
    command = Command()
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            if i < len(argv):
                command.mode, command.target = "script", argv[i]
                i += 1
            break
        if token == "-":
            command.mode = "stdin"
            break
        if not token.startswith("-"):
            command.mode, command.target = "script", token
            break
        if token.startswith("--"):
            i = _long(command, token, argv, i, python)
        else:
            i = _short(command, token, argv, i, shorts)
        if command.mode != "interactive":
            break
    command.args = list(argv[i:])
    return command


def _take_value(name: str, inline: str | None, argv: Sequence[str], i: int) -> tuple[str, int]:
    if inline is not None:
        return inline, i
    if i >= len(argv):
        raise UsageError(f"argument {name}: expected one argument")
    return argv[i], i + 1


def _long(command: Command, token: str, argv: Sequence[str], i: int, python: bool) -> int:
    name, eq, inline_value = token.partition("=")
    inline = inline_value if eq else None
    if name in PYTHON_LONG_FLAGS:
        command.interpreter_flags.append(name)
        if PYTHON_LONG_FLAGS[name]:
            value, i = _take_value(name, inline, argv, i)
            command.interpreter_flags.append(value)
        return i
    if name in _ACTIONS and not python:
        command.action = _ACTIONS[name]
        return i
    if name not in LONG_OPTIONS or python:
        raise UsageError(f"unrecognized option {token!r}")
    field, kind = LONG_OPTIONS[name]
    if not callable(kind):
        if inline is not None:
            raise UsageError(f"argument {name}: ignored explicit argument {inline!r}")
        command.options[field] = kind
        command.launcher_args.append(name)
        return i
    value, i = _take_value(name, inline, argv, i)
    command.launcher_args += [name, value]
    if kind is tuple:
        command.options[field] = (*command.options.get(field, ()), value)
    else:
        try:
            command.options[field] = kind(value)
        except UsageError as error:
            raise UsageError(f"argument {name}: {error}") from None
    return i


def _short(command: Command, token: str, argv: Sequence[str], i: int, shorts: dict) -> int:
    for j, char in enumerate(token[1:], start=2):
        kind = shorts.get(char)
        rest = token[j:] or None
        if kind is None:
            hint = " (pyfast cannot run without site)" if char == "S" else ""
            raise UsageError(f"unknown option -{char}{hint}")
        if kind == "flag":
            command.interpreter_flags.append(f"-{char}")
        elif kind in ("help", "version"):
            command.action = kind
        elif kind == "verbose":
            command.options["verbose"] = True
            command.launcher_args.append("-v")
        elif kind == "skip_first_line":
            command.skip_first_line = True
            command.launcher_args.append("-x")
        else:
            value, i = _take_value(f"-{char}", rest, argv, i)
            if kind == "flag_arg":
                command.interpreter_flags += [f"-{char}", value]
            else:
                command.mode, command.target = kind, value
            return i
    return i
