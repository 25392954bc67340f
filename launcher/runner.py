"""Run the user's program as ``__main__``, exactly as python would.

In: a parsed ``Command`` (script, ``-m`` module, ``-c`` code or stdin), the program name for
python's "can't open file" message, and the function that compiles main code
(``pyfast.hook.main_code``, or ``compile`` when pyfast is disabled).
Out: the exit status; ``SystemExit`` and uncaught exceptions reach python's own top level, so
exit codes, ``KeyboardInterrupt``'s death by SIGINT, ``-i`` and ``sys.last_exc`` behave as
python's.  Tracebacks are printed by ``sys.excepthook`` with the launcher's and pyfast's own
frames removed, so they are python's to the byte.

What python sets up per mode (CPython 3.11-3.13, checked against ``Modules/main.c``):

========  =================  ==================  ===========================================
mode      ``sys.argv[0]``    ``sys.path[0]``     ``__main__`` globals
========  =================  ==================  ===========================================
script    path as typed      realpath's dir      ``__file__`` (cwd-joined), ``__cached__``,
                                                 a ``SourceFileLoader``; both deleted at end
dir/zip   path as typed      the path itself     run through ``runpy`` as module ``__main__``
-m        '-m', then origin  cwd                 ``runpy._run_module_as_main`` (its frames
                                                 show in tracebacks, as in python)
-c        '-c'               ''                  no ``__file__``
stdin     '-' (or '')        ''                  ``__file__ = '<stdin>'`` while running
========  =================  ==================  ===========================================

``sys.path[0]`` is not inserted under ``-P``/``-I``/``PYTHONSAFEPATH``, except for dir/zip.
"""

from __future__ import annotations

import builtins
import marshal
import os
import sys
import types
from importlib._bootstrap_external import MAGIC_NUMBER  # importlib.util costs 5 ms to import
from importlib.machinery import BuiltinImporter, SourceFileLoader, SourcelessFileLoader

from pyfast.launcher.cmdline import Command

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable

    MainCode = Callable[[bytes, str], types.CodeType]


class _Target:
    """What ``run`` executes: a module through ``runpy`` (``module``; ``alter_argv`` as
    ``runpy._run_module_as_main`` takes it), else the code that ``code()`` compiles;
    ``finish()`` runs after it unless it raised ``SystemExit``."""

    __slots__ = ("code", "module", "alter_argv", "finish")

    def __init__(
        self,
        code: Callable[[], types.CodeType] | None = None,
        module: str | None = None,
        alter_argv: bool = True,
        finish: Callable[[], None] = lambda: None,
    ) -> None:
        self.code = code
        self.module = module
        self.alter_argv = alter_argv
        self.finish = finish


def run(command: Command, program: str, main_code: MainCode) -> int:
    """Run ``command``'s target in a fresh ``__main__``; return the exit status.  The target
    runs in this very frame (no helper between them), so the program finds few frames below
    its own: the ``pyfast`` script's and ``cli.main``'s, then this one."""
    main = types.ModuleType("__main__")
    main.__annotations__ = {}
    main.__builtins__ = builtins
    main.__loader__ = BuiltinImporter
    globals_ = main.__dict__
    sys.modules["__main__"] = main
    target = _target(command, program, main_code, globals_)
    if not isinstance(target, _Target):
        return target
    inspect = sys.flags.inspect
    try:
        if target.module is not None:
            _runpy()._run_module_as_main(target.module, alter_argv=target.alter_argv)
        else:
            exec(target.code(), globals_)
    except SystemExit:
        if not inspect:
            raise
        _print_uncaught(*sys.exc_info())
    except BaseException:
        _print_uncaught(*sys.exc_info())
        target.finish()
        if not inspect:
            # Let python's own top level finish the job (exit status 1, KeyboardInterrupt's
            # death by SIGINT after atexit, sys.last_exc) without printing it a second time.
            sys.excepthook = _silent_excepthook
            raise
    else:
        target.finish()
    return 0


def _target(command: Command, program: str, main_code: MainCode, globals_: dict) -> _Target | int:
    """Set ``sys.argv``, ``sys.path[0]`` and ``__main__``'s globals as python does for the
    mode; the target, or 2 when the script cannot be opened."""
    safe_path = sys.flags.safe_path
    if not safe_path:
        del sys.path[0]  # the launcher's own entry, which python put there for it
    if command.mode == "module":
        sys.argv[:] = ["-m", *command.args]
        _insert_path0(None if safe_path else os.getcwd())
        return _Target(module=command.target)
    if command.mode == "command":
        sys.argv[:] = ["-c", *command.args]
        _insert_path0(None if safe_path else "")
        if sys.version_info >= (3, 13):  # 3.13 shows the lines of -c code in tracebacks
            import linecache  # here: it costs 3 ms of every start-up

            lines = [line + "\n" for line in command.target.splitlines()]
            linecache.cache["<string>"] = (len(command.target), None, lines, "<string>")
        return _Target(lambda: main_code(command.target.encode(), "<string>"))
    if command.mode in ("stdin", "interactive"):
        sys.argv[:] = ["-" if command.mode == "stdin" else "", *command.args]
        _insert_path0(None if safe_path else "")
        source = _skip_first_line(sys.stdin.buffer.read(), command.skip_first_line)
        return _file(globals_, "<stdin>", lambda: main_code(source, "<stdin>"))
    return _script(command, program, main_code, globals_, safe_path)


def _script(
    command: Command, program: str, main_code: MainCode, globals_: dict, safe_path: bool
) -> _Target | int:
    path = command.target
    sys.argv[:] = [path, *command.args]
    if _is_importer_path(path):
        _insert_path0(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))
        return _Target(module="__main__", alter_argv=False)
    filename = os.path.join(os.getcwd(), path)
    try:
        with open(filename, "rb") as file:
            data = file.read()
    except OSError as error:
        print(
            f"{program}: can't open file {filename!r}: [Errno {error.errno}] {error.strerror}",
            file=sys.stderr,
        )
        return 2
    _insert_path0(None if safe_path else os.path.dirname(os.path.realpath(path)))
    if data[:4] == MAGIC_NUMBER:
        globals_["__loader__"] = SourcelessFileLoader("__main__", filename)
        return _file(globals_, filename, lambda: marshal.loads(memoryview(data)[16:]))
    globals_["__loader__"] = SourceFileLoader("__main__", filename)
    source = _skip_first_line(data, command.skip_first_line)
    return _file(globals_, filename, lambda: main_code(source, filename))


def _file(globals_: dict, filename: str, code: Callable[[], types.CodeType]) -> _Target:
    """Python's ``PyRun_SimpleFile``: ``__file__``/``__cached__`` exist only while it runs."""
    globals_["__file__"] = filename
    globals_["__cached__"] = None

    def forget_file() -> None:
        globals_.pop("__file__", None)
        globals_.pop("__cached__", None)

    return _Target(code, finish=forget_file)


def _insert_path0(entry: str | None) -> None:
    if entry is not None:
        sys.path.insert(0, entry)


def _is_importer_path(path: str) -> bool:
    """Whether python runs ``path`` as a directory or zip file with a ``__main__`` module."""
    for hook in sys.path_hooks:
        try:
            hook(path)
        except ImportError:
            continue
        return True
    return False


def _skip_first_line(source: bytes, skip: bool) -> bytes:
    """``-x``: blank out the first line, keeping line numbers as python does."""
    if not skip:
        return source
    newline = source.find(b"\n")
    return b"" if newline < 0 else source[newline:]


def _silent_excepthook(*args: object) -> None:
    sys.excepthook = sys.__excepthook__


def _print_uncaught(
    kind: type[BaseException], value: BaseException, tb: types.TracebackType | None
) -> None:
    value.__traceback__ = _user_traceback(tb, cut=True)
    _strip_chained(value, {id(value)})
    sys.excepthook(kind, value, value.__traceback__)


def _runpy():
    """``runpy``, imported when a module, a directory or a zip file runs (it and what it
    imports cost ~10 ms of every start-up otherwise)."""
    import runpy

    return runpy


def _own_files() -> tuple[str, ...]:
    """Path prefixes of pyfast's own code: the folders of its loaded modules (only those can
    have frames), found when a traceback is printed, not at every start-up."""
    folders = {
        os.path.join(os.path.dirname(module.__file__), "")
        for name, module in list(sys.modules.items())
        if (name == "pyfast" or name.startswith("pyfast.")) and getattr(module, "__file__", None)
    }
    return tuple(folders)


def _is_own(frame: types.FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_own_files())


def _entered_native(frame: types.FrameType, inner: types.FrameType | None) -> bool:
    """``frame`` is where a function entered native code that later resumed the interpreter:
    the next user frame runs a resume code of the same function (see ``deopt``)."""
    deopt = sys.modules.get("pyfast.compiler.deopt")
    return (
        deopt is not None
        and inner is not None
        and inner.f_code in deopt.RESUME_CODES
        and inner.f_code.co_qualname == frame.f_code.co_qualname
    )


def _user_traceback(tb: types.TracebackType | None, *, cut: bool) -> types.TracebackType | None:
    """``tb`` without pyfast's frames; with ``cut``, also without the frames above ``run``
    (``runpy`` running ``pyfast.__main__``, the ``pyfast`` script)."""
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    if cut:
        for index, entry in enumerate(entries):
            if entry.tb_frame.f_code is run.__code__:
                entries = entries[index + 1 :]
                break
    entries = [entry for entry in entries if not _is_own(entry.tb_frame)]
    result = None
    for entry in reversed(entries):
        if not _entered_native(entry.tb_frame, result and result.tb_frame):
            # -1: no line number (tb_lineno None); the new entry then finds none either
            lineno = -1 if entry.tb_lineno is None else entry.tb_lineno
            result = types.TracebackType(result, entry.tb_frame, entry.tb_lasti, lineno)
    return result


def _strip_chained(value: BaseException, seen: set[int]) -> None:
    related = [value.__cause__, value.__context__, *getattr(value, "exceptions", ())]
    for other in related:
        if other is not None and id(other) not in seen:
            seen.add(id(other))
            other.__traceback__ = _user_traceback(other.__traceback__, cut=False)
            _strip_chained(other, seen)
