"""Tracer guard: native code is never entered while a tracer or profiler is active.

In: calls to ``sys.settrace`` / ``sys.setprofile`` until the first tracer or profiler is
installed, then the audit events they raise (as ``PyEval_SetTrace``/``PyEval_SetProfile`` do,
before the change) and every later audit event of a thread that had one; calls to the
all-threads variants (3.12+) and ``sys.monitoring.use_tool_id`` / ``free_tool_id`` /
``clear_tool_id`` (3.12+), which ``install`` wraps.  Out: ``runtime.suspend(active)`` whenever
the answer to "is any tracer, profiler or monitoring tool active?" changes.  Debuggers and
coverage see every call and line as under python because the probes then find ``None`` and
fall through to the original bytecode.

Two stages, so that a program that never traces pays nothing:

1. ``sys.settrace`` and ``sys.setprofile`` start wrapped in Python.  The first call that
   installs something runs the guard before the change (no tracer exists yet to see it) and
   moves to stage 2.  A new profiler would get the wrapper's own return as its first event
   (``profile`` fails "Bad return"): a stand-in takes that event, installs the profiler and
   hands it any other.
2. An audit hook, and python's own C functions back in ``sys``.  CPython runs audit hooks with
   tracing off, so a tracer never sees the guard, neither while it is being installed (the
   event comes first) nor while it is being removed.  The removal's event also comes before
   the change, so the slots come back at the thread's next audit event once nothing is set
   (an import, ``open``, ``sys._getframe`` -- pdb's ``continue`` makes one), not at the
   removal.  Audit hooks cannot be removed: after ``uninstall`` it does nothing.

A tracer set before pyfast's hook, or through the C API during stage 1, is found by native
entries in the thread state (``runtime.tracer_found`` calls ``found``), which also moves to
stage 2.
"""

from __future__ import annotations

import _thread
import sys

from pyfast.hook import runtime

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable

_SYS_NAMES = ("settrace", "setprofile")
_ALL_THREADS_NAMES = ("_settraceallthreads", "_setprofileallthreads")
_MONITORING_NAMES = ("use_tool_id", "free_tool_id", "clear_tool_id")
#: Audit events raised right before a thread's tracer or profiler changes.
_CHANGES = frozenset({"sys.settrace", "sys.setprofile"})
_originals: list[tuple[object, str, Callable]] = []
_all_threads = False
_installed = False
_audited = False  # stage 2: the audit hook is in place (for the rest of the process)
#: Threads where a native entry found a tracer (``found``): ``sys.gettrace()`` does not show
#: one set through the C API without an object, so only a change of the thread's tracer or
#: profiler (its audit event) lets a later event there bring the slots back.
_found: set[int] = set()


def active() -> bool:
    if runtime.threads_tracing or _all_threads:
        return True
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None for tool in range(6)
    )


def _audit(event: str, args: tuple) -> None:
    """Stage 2: before a change of this thread's tracer or profiler, the slots go empty; at a
    later event of a thread that had one, they come back if nothing is active."""
    if not _installed:
        return
    try:
        if event in _CHANGES:
            _suspend_here()
            _found.discard(_thread.get_ident())
        elif runtime.threads_tracing:
            _settle()
    except Exception as exc:  # noqa: BLE001 - never the audited operation's error
        runtime.log(f"tracer guard error: {exc!r}")


def _suspend_here() -> None:
    runtime.threads_tracing.add(_thread.get_ident())
    runtime.suspend(True)


def _settle() -> None:
    ident = _thread.get_ident()
    if ident not in _found and sys.gettrace() is None and sys.getprofile() is None:
        runtime.threads_tracing.discard(ident)
    runtime.suspend(active())


def found() -> None:
    """A native entry found a tracer or profiler set on its thread that the guard did not see
    being set (before pyfast's hook was installed, or through the C API in stage 1): the slots
    go empty as for any tracer, and the guard moves to stage 2, whose audit hook sees the
    tracer's removal."""
    _found.add(_thread.get_ident())
    _suspend_here()
    audit()


def audit() -> None:
    """Move to stage 2 (see the module docstring), unless there already."""
    global _audited
    if not _audited:
        try:
            sys.addaudithook(_audit)
        except Exception as exc:  # noqa: BLE001 - refused by another hook: stay in stage 1
            runtime.log(f"tracer guard: no audit hook ({exc!r})")
            return
        _audited = True
    for entry in [entry for entry in _originals if entry[1] in _SYS_NAMES]:
        owner, name, original = entry
        setattr(owner, name, original)
        _originals.remove(entry)


def _wrap(owner: object, name: str) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    def wrapper(*args: object, **kwargs: object) -> object:
        installing = bool(args) and args[0] is not None
        if installing and name in _SYS_NAMES:
            _changed(name, args, installing=True)
            audit()
            if name != "setprofile" or len(args) != 1 or kwargs:
                return original(*args, **kwargs)
            here, profiler = sys._getframe(), args[0]

            def first_event(frame: object, event: str, arg: object) -> None:
                original(profiler)
                if frame is not here:
                    profiler(frame, event, arg)

            return original(first_event)
        if installing and name in _ALL_THREADS_NAMES:
            _changed(name, args, installing=True)  # first: the new tracers never see it
        try:
            return original(*args, **kwargs)
        finally:
            _changed(name, args)

    wrapper.__name__ = getattr(original, "__name__", name)
    wrapper.__qualname__ = getattr(original, "__qualname__", name)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    wrapper.__wrapped__ = original
    _originals.append((owner, name, original))
    setattr(owner, name, wrapper)


def _changed(name: str, args: tuple, installing: bool = False) -> None:
    """Update the guard after ``name(*args)`` -- or, ``installing`` a tracer or profiler, just
    before it."""
    global _all_threads
    try:
        if name in _ALL_THREADS_NAMES:
            _all_threads = bool(args) and args[0] is not None
        if installing:
            _suspend_here()
        else:
            _settle()
    except Exception as exc:  # noqa: BLE001
        runtime.log(f"tracer guard error: {exc!r}")


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    if not _audited:
        for name in _SYS_NAMES:
            _wrap(sys, name)
    for name in _ALL_THREADS_NAMES:
        _wrap(sys, name)
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for name in _MONITORING_NAMES:
            _wrap(monitoring, name)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        runtime.threads_tracing.add(_thread.get_ident())
    runtime.suspend(active())


def uninstall() -> None:
    global _installed
    _installed = False
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)
    runtime.threads_tracing.clear()
    _found.clear()
    runtime.suspend(False)
