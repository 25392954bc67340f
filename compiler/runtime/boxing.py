"""Boxing and unboxing: native values <-> the Python objects they stand for.

In: an ``llvmlite`` builder positioned in a function of a module, a ``Type`` and a native value
(``entry.llvm_type`` representation) or an object pointer; ``fail`` emits what to do when
boxing fails (no memory: the exception is set), ``guard(ok, what)`` what to do when an object
is not of the expected type (continue in a new block when ``ok``).
Out: ``box`` -> a ``PyObject *`` new reference (lists are borrowed pointers, increfed here;
``OBJECT`` values are owned already and passed through).  ``unbox`` -> the native value of an
object checked to be exactly of type ``t`` (an int must fit in 64 bits; a list is returned
borrowed; its items are checked when read, not here).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from llvmlite import ir
from pyfast.compiler.runtime import capi
from pyfast.compiler.types import BOOL, FLOAT, INT, NONE, OBJECT, ListType, TupleType, Type

_PTR = ir.PointerType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_I8 = ir.IntType(8)
_I1 = ir.IntType(1)
OB_TYPE = 8  # offsetof(PyObject, ob_type) on 64-bit builds, 3.11-3.13
OB_SIZE = 16  # offsetof(PyVarObject, ob_size)
OB_FVAL = 16  # offsetof(PyFloatObject, ob_fval)
TUPLE_ITEMS = 24  # offsetof(PyTupleObject, ob_item)
_IMMORTAL_SINGLETONS = sys.version_info >= (3, 12)  # None/True/False need no incref (PEP 683)


def incref(b: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    b.call(capi.function(b.module, "Py_IncRef"), [obj])
    return obj


def _singleton(b: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    return obj if _IMMORTAL_SINGLETONS else incref(b, obj)


def _null_check(b: ir.IRBuilder, obj: ir.Value, fail: Callable[[], None]) -> None:
    with b.if_then(b.icmp_unsigned("==", obj, _PTR(None)), likely=False):
        fail()


def box(b: ir.IRBuilder, t: Type, value: ir.Value, fail: Callable[[], None] | None) -> ir.Value:
    """A new reference to the boxed ``value`` of type ``t``; with no ``fail`` (a scalar only),
    NULL when boxing failed, for the caller to check."""
    module = b.module
    if isinstance(t, TupleType):
        tup = b.call(capi.function(module, "PyTuple_New"), [_I64(len(t.items))])
        _null_check(b, tup, fail)
        for i, item in enumerate(t.items):

            def drop_and_fail() -> None:
                b.call(capi.function(module, "Py_DecRef"), [tup])
                fail()

            boxed = box(b, item, b.extract_value(value, i), drop_and_fail)
            b.call(capi.function(module, "PyTuple_SetItem"), [tup, _I64(i), boxed])
        return tup
    if t is INT:
        obj = b.call(capi.function(module, "PyLong_FromLongLong"), [value])
    elif t is FLOAT:
        obj = b.call(capi.function(module, "PyFloat_FromDouble"), [value])
    elif t is BOOL:
        true = capi.data(module, "_Py_TrueStruct")
        return _singleton(b, b.select(value, true, capi.data(module, "_Py_FalseStruct")))
    elif t is NONE:
        return _singleton(b, capi.data(module, "_Py_NoneStruct"))
    elif isinstance(t, ListType):
        return incref(b, value)
    elif t is OBJECT:
        return value
    else:
        raise TypeError(f"cannot box a {t} value")
    if fail is not None:
        _null_check(b, obj, fail)
    return obj


def field(b: ir.IRBuilder, obj: ir.Value, offset: int, typ: ir.Type) -> ir.Value:
    """The ``typ`` at byte ``offset`` of the object ``obj``."""
    return b.load(b.gep(obj, [_I64(offset)], source_etype=_I8), typ=typ)


def is_type(b: ir.IRBuilder, obj: ir.Value, type_symbol: str) -> ir.Value:
    """``type(obj) is <type_symbol>`` (exactly, as an i1)."""
    return b.icmp_unsigned("==", field(b, obj, OB_TYPE, _PTR), capi.data(b.module, type_symbol))


def is_object(b: ir.IRBuilder, obj: ir.Value, symbol: str) -> ir.Value:
    return b.icmp_unsigned("==", obj, capi.data(b.module, symbol))


def unbox(
    b: ir.IRBuilder,
    t: Type,
    obj: ir.Value,
    guard: Callable[[ir.Value, str], None],
    overflow: ir.Value,
) -> ir.Value:
    """The native value of ``obj``, after ``guard``s that it is exactly a ``t``; ``overflow``
    is an i32 slot for ``PyLong_AsLongAndOverflow``."""
    if t is INT:
        guard(is_type(b, obj, "PyLong_Type"), "int")
        value = b.call(capi.function(b.module, "PyLong_AsLongAndOverflow"), [obj, overflow])
        guard(b.icmp_signed("==", b.load(overflow, typ=_I32), _I32(0)), "i64")
        return value
    if t is FLOAT:
        guard(is_type(b, obj, "PyFloat_Type"), "float")
        return field(b, obj, OB_FVAL, ir.DoubleType())
    if t is BOOL:
        is_true = is_object(b, obj, "_Py_TrueStruct")
        guard(b.or_(is_true, is_object(b, obj, "_Py_FalseStruct")), "bool")
        return is_true
    if t is NONE:
        guard(is_object(b, obj, "_Py_NoneStruct"), "none")
        return _I1(0)
    if isinstance(t, ListType):
        guard(is_type(b, obj, "PyList_Type"), "list")
        return obj
    if isinstance(t, TupleType):
        guard(is_type(b, obj, "PyTuple_Type"), "tuple")
        guard(b.icmp_signed("==", field(b, obj, OB_SIZE, _I64), _I64(len(t.items))), "length")
        result = ir.Constant(ir.LiteralStructType([_llvm(i) for i in t.items]), ir.Undefined)
        for i, item in enumerate(t.items):
            element = field(b, obj, TUPLE_ITEMS + 8 * i, _PTR)
            result = b.insert_value(result, unbox(b, item, element, guard, overflow), i)
        return result
    raise TypeError(f"cannot unbox a {t}")


def _llvm(t: Type) -> ir.Type:
    from pyfast.compiler.runtime.entry import llvm_type

    return llvm_type(t)
