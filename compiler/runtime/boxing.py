"""Boxing: native values -> new references to the Python objects they stand for.

In: an ``llvmlite`` builder positioned in a function of a module, a ``Type`` and its native
value (``entry.llvm_type`` representation), and ``fail``, which emits what to do when boxing
fails (no memory: the exception is set) at the builder's position.
Out: a ``PyObject *`` new reference.  ``LIST`` values are borrowed pointers (increfed here);
``OBJECT`` values are owned already (passed through).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from llvmlite import ir
from pyfast.compiler.runtime import capi
from pyfast.compiler.types import BOOL, FLOAT, INT, LIST, NONE, OBJECT, TupleType, Type

_PTR = ir.PointerType()
_I64 = ir.IntType(64)
_IMMORTAL_SINGLETONS = sys.version_info >= (3, 12)  # None/True/False need no incref (PEP 683)


def incref(b: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    b.call(capi.function(b.module, "Py_IncRef"), [obj])
    return obj


def _singleton(b: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    return obj if _IMMORTAL_SINGLETONS else incref(b, obj)


def _null_check(b: ir.IRBuilder, obj: ir.Value, fail: Callable[[], None]) -> None:
    with b.if_then(b.icmp_unsigned("==", obj, _PTR(None)), likely=False):
        fail()


def box(b: ir.IRBuilder, t: Type, value: ir.Value, fail: Callable[[], None]) -> ir.Value:
    """A new reference to the boxed ``value`` of type ``t``."""
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
    elif t is LIST:
        return incref(b, value)
    elif t is OBJECT:
        return value
    else:
        raise TypeError(f"cannot box a {t} value")
    _null_check(b, obj, fail)
    return obj
