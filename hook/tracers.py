"""Tracer guard: native code is never entered while a tracer or profiler is active.

In: calls to ``sys.settrace``, ``sys.setprofile``, their all-threads variants (3.12+) and
``sys.monitoring.use_tool_id`` / ``free_tool_id`` / ``clear_tool_id`` (3.12+), which ``install``
wraps.  Out: ``runtime.suspend(active)`` whenever the answer to "is any tracer, profiler or
monitoring tool active?" changes.  Debuggers and coverage see every call and line as under
python because the probes then find ``None`` and fall through to the original bytecode.
A profiler installed through ``sys.setprofile`` is first set to a stand-in that takes the
wrapper's own return event (the profiler never saw its call) and then installs it.
A tracer set through the C API goes around these wrappers: native entries find it in the
thread state and call ``runtime.tracer_found``, which empties the slots the same way.
"""

from __future__ import annotations

import sys

from pyfast.hook import runtime

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable

_SYS_NAMES = ("settrace", "setprofile", "_settraceallthreads", "_setprofileallthreads")
_MONITORING_NAMES = ("use_tool_id", "free_tool_id", "clear_tool_id")
_originals: list[tuple[object, str, Callable]] = []
_all_threads = False


def active() -> bool:
    if runtime.threads_tracing or _all_threads:
        return True
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None for tool in range(6)
    )


def _wrap(owner: object, name: str) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    def wrapper(*args: object, **kwargs: object) -> object:
        if name in _SYS_NAMES and args and args[0] is not None:
            # Installing: pyfast's bookkeeping runs first, so the new tracer never sees it.
            _changed(name, args, installing=True)
            try:
                if name != "setprofile" or len(args) != 1 or kwargs:
                    return original(*args, **kwargs)
                # A profiler's first event would be this frame's return, whose call it never
                # saw (``profile`` fails "Bad return"): a stand-in takes that event, installs
                # the profiler and hands it any other.
                here, profiler = sys._getframe(), args[0]

                def first_event(frame: object, event: str, arg: object) -> None:
                    original(profiler)
                    if frame is not here:
                        profiler(frame, event, arg)

                return original(first_event)
            except BaseException:
                _changed(name, args)
                raise
        result = original(*args, **kwargs)
        _changed(name, args)
        return result

    wrapper.__name__ = getattr(original, "__name__", name)
    wrapper.__qualname__ = getattr(original, "__qualname__", name)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    wrapper.__wrapped__ = original
    _originals.append((owner, name, original))
    setattr(owner, name, wrapper)


def _changed(name: str, args: tuple, installing: bool = False) -> None:
    """Update the guard after ``name(*args)`` -- or, ``installing`` a tracer or profiler,
    just before it."""
    global _all_threads
    try:
        if name.endswith("allthreads"):
            _all_threads = args[0] is not None if args else False
        elif name in ("settrace", "setprofile"):
            ident = _thread_ident()
            if not installing and sys.gettrace() is None and sys.getprofile() is None:
                runtime.threads_tracing.discard(ident)
            else:
                runtime.threads_tracing.add(ident)
        runtime.suspend(active())
    except Exception as exc:  # noqa: BLE001
        runtime.log(f"tracer guard error: {exc!r}")


def _thread_ident() -> int:
    import _thread

    return _thread.get_ident()


def install() -> None:
    if _originals:
        return
    for name in _SYS_NAMES:
        _wrap(sys, name)
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for name in _MONITORING_NAMES:
            _wrap(monitoring, name)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        runtime.threads_tracing.add(_thread_ident())
    runtime.suspend(active())


def uninstall() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)
    runtime.threads_tracing.clear()
    runtime.suspend(False)
