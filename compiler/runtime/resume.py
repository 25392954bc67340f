"""Resume points at run time: native code hands a call to the interpreter mid-function.

In: a ``ResumePoint`` (made by ``deopt.ResumeCode.point``: the shapes of the frame's values,
and how to make the resume function); in native code, the frame's native values
(``emit_call``).
Out: ``emit_call`` boxes the values, has the point rebuild the Python objects (and count),
then calls the point's function -- the interpreter continuing from the site -- itself, so that
no pyfast frame is on the stack while user code runs (tracebacks show only the user's
frames).  Its result is a new reference, or NULL with the exception set.  The boxing helper,
``pyfast.resume``, is one function for the whole process (``define_helper``), compiled once
by ``jit`` and only declared in the modules that call it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence

from pyfast.compiler import llir as ir
from pyfast.compiler.runtime import boxing, capi
from pyfast.compiler.types import (
    BOOL,
    FLOAT,
    INT,
    NATIVE,
    NONE,
    NP_BOOL,
    NP_F32,
    NP_F64,
    NP_I32,
    NP_I64,
    OBJECT,
    ArrayType,
    ListType,
    TupleType,
    Type,
)

_PTR = ir.PointerType()
_I64 = ir.IntType(64)
_I8 = ir.IntType(8)
_I1 = ir.IntType(1)


#: numpy scalar type -> (numpy, the value it travelled as) -> the scalar.
_NUMPY_SCALARS: dict[Type, Callable[[object, object], object]] = {
    NP_F64: lambda np, v: np.float64(v),
    NP_F32: lambda np, v: np.uint32(v).view(np.float32),  # its bits: a NaN's are kept
    NP_I64: lambda np, v: np.int64(v),
    NP_I32: lambda np, v: np.int32(v),
    NP_BOOL: lambda np, v: np.bool_(v),
}


def _rebuild(shape: object, values: Iterator[object]) -> object:
    """The Python object of one frame value of ``shape`` (see ``build.shape``)."""
    if isinstance(shape, TupleType):
        return tuple(_rebuild(item, values) for item in shape.items)
    if shape in _NUMPY_SCALARS:
        return _NUMPY_SCALARS[shape](sys.modules["numpy"], next(values))
    if isinstance(shape, NATIVE):
        return next(values)
    kind = shape[0]
    if kind == "tuple":
        return tuple(_rebuild(item, values) for item in shape[1:])
    if kind == "static":
        return shape[3]
    if kind in ("ListIterAbs", "ListRevIterAbs"):
        it = (iter if kind == "ListIterAbs" else reversed)(_rebuild(shape[1], values))
        it.__setstate__(next(values))
        return it
    if kind == "EnumerateAbs":
        inner = _rebuild(shape[1], values)
        return enumerate(inner, next(values))
    if kind == "ZipAbs":
        return zip(*[_rebuild(item, values) for item in shape[1:]], strict=False)
    made = range(next(values), next(values), next(values))
    return iter(made) if kind == "IterAbs" else made


class ResumePoint:
    """One bail site of compiled code, like a debugger's "set next statement" there: called
    with the frame's native values boxed (locals, then stack, in ``deopt.flat_values`` order),
    it returns ``function`` (the function's resume code, see ``deopt.ResumeCode``) and its
    argument tuple: its entry's ``mark``, every local of the resume code (``None`` for
    those this site does not have), the stack objects rebuilt, padded to ``depth``.
    ``maker`` (the function's ``deopt.ResumeCode``) binds it (``bind``) when the compilation
    finishes.  ``count`` says how often it ran; ``listener(reason)`` hears each."""

    __slots__ = (
        "locals",
        "stack",
        "reason",
        "listener",
        "count",
        "function",
        "mark",
        "names",
        "all_names",
        "depth",
        "maker",
    )

    def __init__(
        self,
        locals_: tuple[object, ...],
        stack: tuple[object, ...],
        reason: str,
        listener: Callable[[str], None] | None,
        maker: object,
    ) -> None:
        self.locals = locals_
        self.stack = tuple(s for s in stack if s != ("null",))
        self.reason = reason
        self.listener = listener
        self.maker = maker
        self.count = 0
        self.function: Callable[..., object] | None = None

    def bind(
        self,
        function: Callable[..., object],
        mark: str,
        names: tuple[str, ...],
        all_names: tuple[str, ...],
        depth: int,
    ) -> None:
        """Enter ``function`` at the entry ``mark``; this site's locals are ``names``."""
        self.mark = mark
        self.names = names
        self.all_names = all_names
        self.depth = depth
        self.function = function  # last: a point with a function is bound

    def __call__(self, *values: object) -> tuple[Callable[..., object], tuple[object, ...]]:
        it = iter(values)
        bound = {name: _rebuild(s, it) for name, s in zip(self.names, self.locals, strict=True)}
        stack = [_rebuild(s, it) for s in self.stack]
        self.count += 1
        if self.listener is not None:
            try:
                self.listener(self.reason)
            except Exception:  # noqa: BLE001 - a profiler bug must not change the call
                pass
        padding = [None] * (self.depth - len(stack))
        return self.function, (self.mark, *(bound.get(n) for n in self.all_names), *stack, *padding)


#: How the resume helper boxes a raw 8-byte slot (``_BOX``), by type.
#: numpy scalars travel as the int/float/bool they hold, a float32 as its bits (``_rebuild``
#: makes them numpy's again), so the helper never refers to numpy, which a program need not
#: import.
_CODES = {INT: 0, FLOAT: 1, BOOL: 2, NONE: 3, OBJECT: 5}
_CODES |= {NP_F64: 1, NP_F32: 0, NP_I64: 0, NP_I32: 0, NP_BOOL: 2}
_BORROWED_CODE = 4  # a list or an array: a borrowed pointer


def _code(t: Type) -> int:
    return _BORROWED_CODE if isinstance(t, ListType | ArrayType) else _CODES[t]


def _scalars(t: Type, value: ir.Value, b: ir.IRBuilder) -> list[tuple[Type, ir.Value]]:
    """A tuple's items in order (``_rebuild`` makes the tuple again), else the value."""
    if isinstance(t, TupleType):
        return [
            pair
            for i, item in enumerate(t.items)
            for pair in _scalars(item, b.extract_value(value, i), b)
        ]
    if isinstance(t, ArrayType):  # the object is what the interpreter gets
        return [(t, b.extract_value(value, boxing.ARRAY_OBJECT))]
    return [(t, value)]


def _eight_bytes(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """A slot's raw 8 bytes as an ``i64``: a bool zero-extended, a float32's or a double's
    bits, a pointer's address."""
    if value.type == _I1:
        return b.zext(value, _I64)
    if value.type == ir.FloatType():
        return b.zext(b.bitcast(value, ir.IntType(32)), _I64)
    if value.type == ir.DoubleType():
        return b.bitcast(value, _I64)
    if isinstance(value.type, ir.PointerType):
        return b.ptrtoint(value, _I64)
    return value


def emit_call(
    b: ir.IRBuilder, point: ir.Value, values: Sequence[tuple[Type, ir.Value]], symbol: str
) -> ir.Value:
    """Resume through the ``ResumePoint`` object ``point`` with ``values``: they are stored
    raw, 8 bytes each, with a constant string of type codes (``<symbol>.codes``), and boxed by
    the shared helper.  The result is a new reference or NULL (exception set)."""
    flat = [pair for t, value in values for pair in _scalars(t, value, b)]
    raw = b.alloca(ir.ArrayType(_I64, len(flat) or 1))
    for i, (_, value) in enumerate(flat):  # slot by slot: no aggregate for LLVM to take apart
        b.store(_eight_bytes(b, value), b.gep(raw, [_I64(0), _I64(i)], inbounds=True))
    codes_type = ir.ArrayType(_I8, len(flat) or 1)
    codes = ir.GlobalVariable(b.module, codes_type, f"{symbol}.codes")
    codes.initializer = ir.Constant(codes_type, bytearray([_code(t) for t, _ in flat] or [0]))
    codes.global_constant = True
    codes.linkage = "internal"
    return b.call(_declare(b.module), [point, raw, codes, _I64(len(flat))])


HELPER = "pyfast.resume"
_HELPER_TYPE = ir.FunctionType(_PTR, [_PTR, _PTR, _PTR, _I64])


def _declare(module: ir.Module) -> ir.Function:
    existing = module.globals.get(HELPER)
    if existing is not None:
        return existing
    fn = ir.Function(module, _HELPER_TYPE, HELPER)
    fn.attributes.add("cold")
    return fn


def define_helper(module: ir.Module) -> None:
    """Define ``PyObject *pyfast.resume(point, raw, codes, n)`` in ``module``: boxes the raw
    values and, if every box exists, calls ``function(*args)`` where
    ``(function, args) = point(*boxes)``; releases the boxes.  Unoptimised (``optnone``): it
    runs only when a call deoptimizes, and so costs the process's first compile little."""
    fn = ir.Function(module, _HELPER_TYPE, HELPER)
    fn.attributes.add("noinline")
    fn.attributes.add("optnone")
    point, raw, codes, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    decref = capi.function(module, "Py_DecRef")
    boxes = b.alloca(_PTR, n)
    missing = b.alloca(_I1)
    b.store(_I1(0), missing)

    def box_one(index: ir.Value) -> None:
        code = b.load(b.gep(codes, [index], source_etype=_I8), typ=_I8)
        slot = b.gep(raw, [b.mul(index, _I64(8))], source_etype=_I8)
        after = fn.append_basic_block("boxed")
        switch = b.switch(code, after)
        results = []
        for number, (typ, make) in enumerate(_BOX):
            case = fn.append_basic_block(f"box{number}")
            switch.add_case(_I8(number), case)
            b.position_at_end(case)
            results.append((make(b, b.load(slot, typ=typ)), b.block))
            b.branch(after)
        b.position_at_end(after)
        boxed = b.phi(_PTR)
        boxed.add_incoming(_PTR(None), switch.parent)
        for value, block in results:
            boxed.add_incoming(value, block)
        b.store(boxed, b.gep(boxes, [index], source_etype=_PTR))
        is_null = b.icmp_unsigned("==", boxed, _PTR(None))
        b.store(b.or_(b.load(missing, typ=_I1), is_null), missing)

    boxing.counted_loop(b, n, box_one)
    result = b.alloca(_PTR)
    b.store(_PTR(None), result)
    with b.if_then(b.not_(b.load(missing, typ=_I1))):
        vectorcall = capi.function(module, "PyObject_Vectorcall")
        pair = b.call(vectorcall, [point, boxes, n, _PTR(None)])
        with b.if_then(b.icmp_unsigned("!=", pair, _PTR(None))):
            item = capi.function(module, "PyTuple_GetItem")
            function, args = (b.call(item, [pair, _I64(i)]) for i in (0, 1))
            call = capi.function(module, "PyObject_Call")
            b.store(b.call(call, [function, args, _PTR(None)]), result)
            b.call(decref, [pair])
    boxing.counted_loop(
        b, n, lambda i: b.call(decref, [b.load(b.gep(boxes, [i], source_etype=_PTR), typ=_PTR)])
    )
    b.ret(b.load(result, typ=_PTR))


def _owned(b: ir.IRBuilder, t: Type, value: ir.Value) -> ir.Value:
    return boxing.box(b, t, value, None)


#: Per type code: the raw slot's LLVM type and how to make a new reference from it (NULL when
#: out of memory).  ``None``/``True``/``False`` are increfed on every version (harmless where
#: they are immortal).
_BOX: tuple[tuple[ir.Type, Callable[[ir.IRBuilder, ir.Value], ir.Value]], ...] = (
    (_I64, lambda b, v: _owned(b, INT, v)),
    (ir.DoubleType(), lambda b, v: _owned(b, FLOAT, v)),
    (_I64, lambda b, v: boxing.incref(b, b.select(b.trunc(v, _I1), *_bools(b)))),
    (_I64, lambda b, v: boxing.incref(b, capi.data(b.module, "_Py_NoneStruct"))),
    (_PTR, lambda b, v: boxing.incref(b, v)),
    (_PTR, lambda b, v: v),
)


def _bools(b: ir.IRBuilder) -> tuple[ir.Value, ir.Value]:
    return capi.data(b.module, "_Py_TrueStruct"), capi.data(b.module, "_Py_FalseStruct")
