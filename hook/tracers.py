"""Tracer guard: native code is never entered while a tracer or profiler is active.

In: the ``sys.settrace`` and ``sys.setprofile`` audit events (raised by those functions and by
``PyEval_SetTrace``/``PyEval_SetProfile`` before the change), every later audit event of a
thread that had one, and calls to the all-threads variants (3.12+) and
``sys.monitoring.use_tool_id`` / ``free_tool_id`` / ``clear_tool_id`` (3.12+), which
``install`` wraps.  Out: ``runtime.suspend(active)`` whenever the answer to "is any tracer,
profiler or monitoring tool active?" changes.  Debuggers and coverage see every call and line
as under python because the probes then find ``None`` and fall through to the original
bytecode.

Why an audit hook: CPython runs audit hooks with tracing off, so a tracer never sees the
guard's frames -- neither while it is being installed (the event comes first) nor while it is
being removed (``sys.settrace`` and ``sys.setprofile`` stay python's own C functions).  The
removal itself raises its event before the change, so the slots come back at the thread's
next audit event (an import, ``open``, ``sys._getframe`` -- pdb's ``continue`` makes one), not
at the removal.
"""

from __future__ import annotations

import _thread
import sys

from pyfast.hook import runtime

_ALL_THREADS_NAMES = ("_settraceallthreads", "_setprofileallthreads")
_MONITORING_NAMES = ("use_tool_id", "free_tool_id", "clear_tool_id")
#: Audit events raised right before a thread's tracer or profiler changes.
_CHANGES = frozenset({"sys.settrace", "sys.setprofile"})
_originals: list[tuple[object, str, object]] = []
_all_threads = False
_installed = False  # the audit hook, which cannot be removed, acts only while installed
_audit_added = False


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
    """The audit hook: before a change of this thread's tracer or profiler, the slots go
    empty; at a later event of a thread that had one, they come back if nothing is active."""
    if not _installed:
        return
    try:
        if event in _CHANGES:
            runtime.threads_tracing.add(_thread.get_ident())
            runtime.suspend(True)
        elif runtime.threads_tracing:
            _settle()
    except Exception as exc:  # noqa: BLE001 - never the audited operation's error
        runtime.log(f"tracer guard error: {exc!r}")


def _settle() -> None:
    if sys.gettrace() is None and sys.getprofile() is None:
        runtime.threads_tracing.discard(_thread.get_ident())
    runtime.suspend(active())


def _wrap(owner: object, name: str) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    def wrapper(*args: object, **kwargs: object) -> object:
        if name in _ALL_THREADS_NAMES and args and args[0] is not None:
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
    """Update the guard after ``name(*args)`` -- or, ``installing`` tracers or profilers in
    every thread, just before it."""
    global _all_threads
    try:
        if name in _ALL_THREADS_NAMES:
            _all_threads = bool(args) and args[0] is not None
        if installing:
            runtime.suspend(True)
        else:
            _settle()
    except Exception as exc:  # noqa: BLE001
        runtime.log(f"tracer guard error: {exc!r}")


def install() -> None:
    global _installed, _audit_added
    if _installed:
        return
    _installed = True
    if not _audit_added:
        try:
            sys.addaudithook(_audit)
            _audit_added = True
        except Exception as exc:  # noqa: BLE001 - refused by another hook: natives still check
            runtime.log(f"tracer guard: no audit hook ({exc!r})")
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
    runtime.suspend(False)
