"""Resume points at run time: native code hands a call to the interpreter mid-function.

In: a ``ResumePoint`` (made by ``deopt.resume_point``: the resume function and the shapes of
the frame's values); in native code, the frame's native values (``emit_call``).
Out: ``emit_call`` boxes the values, has the point rebuild the Python objects (and count),
then calls the point's function -- the interpreter continuing from the site -- itself, so that
no pyfast frame is on the stack while user code runs (tracebacks show only the user's
frames).  Its result is a new reference, or NULL with the exception set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from llvmlite import ir
from pyfast.compiler.runtime import boxing, capi
from pyfast.compiler.types import RType, TupleType, Type

_PTR = ir.PointerType()
_I64 = ir.IntType(64)


def _rebuild(shape: object, values: Iterator[object]) -> object:
    """The Python object of one frame value of ``shape`` (see ``build.shape``)."""
    if isinstance(shape, RType | TupleType):
        return next(values)
    kind = shape[0]
    if kind == "tuple":
        return tuple(_rebuild(item, values) for item in shape[1:])
    if kind == "static":
        return shape[3]
    made = range(next(values), next(values), next(values))
    return iter(made) if kind == "IterAbs" else made


class ResumePoint:
    """One bail site of compiled code, like a debugger's "set next statement" there: called
    with the frame's native values boxed (locals, then stack, in ``deopt.flat_values`` order),
    it returns the argument tuple for ``function`` (the interpreter continuing from the site):
    the objects rebuilt.  ``count`` says how often it ran; ``listener(reason)`` hears each."""

    __slots__ = ("function", "locals", "stack", "reason", "listener", "count")

    def __init__(
        self,
        function: Callable[..., object],
        locals_: tuple[object, ...],
        stack: tuple[object, ...],
        reason: str,
        listener: Callable[[str], None] | None,
    ) -> None:
        self.function = function
        self.locals = locals_
        self.stack = tuple(s for s in stack if s != ("null",))
        self.reason = reason
        self.listener = listener
        self.count = 0

    def __call__(self, *values: object) -> tuple[object, ...]:
        it = iter(values)
        args = [_rebuild(s, it) for s in self.locals] + [_rebuild(s, it) for s in self.stack]
        self.count += 1
        if self.listener is not None:
            try:
                self.listener(self.reason)
            except Exception:  # noqa: BLE001 - a profiler bug must not change the call
                pass
        return tuple(args)


def emit_call(
    b: ir.IRBuilder,
    point: ir.Value,
    function: ir.Value,
    values: Sequence[tuple[Type, ir.Value]],
    fail: Callable[[], None],
) -> ir.Value:
    """Resume through the ``ResumePoint`` object ``point`` and its ``function`` with ``values``
    boxed; the result is a new reference or NULL (exception set).  A value that cannot be
    boxed (no memory) calls ``fail`` there."""
    module = b.module
    array = b.alloca(_PTR, len(values) or 1)
    for i, (t, value) in enumerate(values):
        b.store(boxing.box(b, t, value, fail), b.gep(array, [_I64(i)], source_etype=_PTR))
    vectorcall = capi.function(module, "PyObject_Vectorcall")
    args = b.call(vectorcall, [point, array, _I64(len(values)), _PTR(None)])
    decref = capi.function(module, "Py_DecRef")
    for i in range(len(values)):
        b.call(decref, [b.load(b.gep(array, [_I64(i)], source_etype=_PTR), typ=_PTR)])
    with b.if_then(b.icmp_unsigned("==", args, _PTR(None)), likely=False):
        fail()
    result = b.call(capi.function(module, "PyObject_Call"), [function, args, _PTR(None)])
    b.call(decref, [args])
    return result
