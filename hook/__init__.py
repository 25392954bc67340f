"""pyfast.hook: the import hook and the runtime profiler.

Interface used by the launcher (the only one):

``install(settings)``
    Idempotent.  Puts the ``sys.meta_path`` finder in place (right before ``PathFinder``),
    publishes the settings to ``runtime``, puts the tracer guard in place (while a tracer is
    active, native code is off and the finder answers as ``PathFinder``), and arranges the
    ``--report`` / ``--report-json`` output at exit.
``uninstall()``
    Removes the finder and the tracer guard; code already instrumented keeps running
    correctly (its probes still find their slots).
``main_code(source, filename) -> CodeType``
    Compiles the ``__main__`` script (or ``-c`` / stdin code) through the same policy and
    instrumentation as imported modules.  Raises exactly python's ``SyntaxError``.

Modules: ``finder`` (policy, finder, loader), ``instrument`` (bytecode probes), ``versions``
(per-version opcodes), ``runtime`` (profiler, compile requests), ``tracers`` (tracer guard),
``cache`` (disk cache), ``report`` (table and JSON).
"""

from __future__ import annotations

import sys
from types import CodeType

from pyfast.hook import finder, runtime, tracers

from pyfast.settings import Settings

_finder: finder.Finder | None = None
_atexit_registered = False


def install(settings: Settings) -> None:
    global _finder, _atexit_registered
    runtime.publish(settings)
    policy = finder.Policy(settings)
    if _finder is None:
        _finder = finder.Finder(policy)
        sys.meta_path.insert(_path_finder_index(), _finder)
    else:
        _finder.policy = policy
    runtime.on_suspend = _step_aside
    tracers.install()
    if not _atexit_registered:
        import atexit

        atexit.register(_report_at_exit)
        _atexit_registered = True


def _step_aside(tracing: bool) -> None:
    if _finder is not None:
        _finder.step_aside(tracing)


def _report_at_exit() -> None:
    """``--report`` / ``--report-json`` output (``report`` is imported only when asked for)."""
    if runtime.settings.report or runtime.settings.report_json:
        from pyfast.hook import report

        report.write_at_exit()


def uninstall() -> None:
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None
    tracers.uninstall()
    runtime.on_suspend = None


def main_code(source: bytes, filename: str) -> CodeType:
    def original() -> CodeType:
        return compile(source, filename, "exec", dont_inherit=True)

    if _finder is None or _finder.policy.by_name("__main__") is False:
        return original()
    try:
        return finder.build("__main__", filename, original)
    except SyntaxError:
        raise
    except Exception as exc:  # noqa: BLE001 - any hook failure: python's own compile
        runtime.log(f"cannot instrument __main__: {exc!r}")
        return original()


def _path_finder_index() -> int:
    from importlib.machinery import PathFinder

    for index, entry in enumerate(sys.meta_path):
        if entry is PathFinder:
            return index
    return len(sys.meta_path)


__all__ = ["install", "main_code", "uninstall"]
