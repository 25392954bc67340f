"""Boxing and unboxing: native values <-> the Python objects they stand for.

In: an ``llir`` builder positioned in a function of a module, a ``Type`` and a native value
(``entry.llvm_type`` representation) or an object pointer; ``fail`` emits what to do when
boxing fails (no memory: the exception is set), ``guard(ok, what)`` what to do when an object
is not of the expected type (continue in a new block when ``ok``).
Out: ``box`` -> a ``PyObject *`` new reference (lists are borrowed pointers, increfed here;
``OBJECT`` values are owned already and passed through).  ``unbox`` -> the native value of an
object checked to be exactly of type ``t`` (an int must fit in 64 bits; a list is returned
borrowed; its items are checked when read, not here).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from pyfast.compiler import llir as ir
from pyfast.compiler import records
from pyfast.compiler.runtime import capi
from pyfast.compiler.types import (
    ARRAY_ITEMS,
    BOOL,
    FLOAT,
    INT,
    NONE,
    NP_BOOL,
    NP_F32,
    NP_F64,
    NP_I32,
    NP_I64,
    OBJECT,
    ArrayType,
    ListType,
    RType,
    TupleType,
    Type,
)

_PTR = ir.PointerType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_I8 = ir.IntType(8)
_I1 = ir.IntType(1)
OB_TYPE = 8  # offsetof(PyObject, ob_type) on 64-bit builds, 3.11-3.13
OB_SIZE = 16  # offsetof(PyVarObject, ob_size)
OB_FVAL = 16  # offsetof(PyFloatObject, ob_fval)
TUPLE_ITEMS = 24  # offsetof(PyTupleObject, ob_item)

#: PyArrayObject_fields and PyArray_Descr offsets, the same in numpy 1.x and 2.x (64-bit).
ARRAY_DATA, ARRAY_ND, ARRAY_DIMS, ARRAY_STRIDES, ARRAY_DESCR, ARRAY_FLAGS = 16, 24, 32, 40, 56, 64
DESCR_TYPEOBJ, DESCR_BYTEORDER = 16, 26
ARRAY_WRITEABLE = 0x0400  # NPY_ARRAY_WRITEABLE
#: Fields of an unboxed array (``entry.array_type``): object, data, then dims, strides and
#: whether it is writeable.
ARRAY_OBJECT, ARRAY_POINTER, ARRAY_FIELDS = 0, 1, 2
#: Byte orders native here (little-endian); "|" is a one-byte type's.
NATIVE_ORDERS = (ord("="), ord("<"), ord("|"))
#: offsetof(Py<Type>ScalarObject, obval): a numpy scalar's value follows the object header.
SCALAR_VALUE = 16


@records.value
class NumpyScalar:
    """How numpy stores a scalar type's values -- as array items, and at ``SCALAR_VALUE`` of a
    scalar object -- and how they become the native value and back."""

    memory: ir.Type
    load: Callable[[ir.IRBuilder, ir.Value], ir.Value]
    store: Callable[[ir.IRBuilder, ir.Value], ir.Value]


def _same(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    return value


#: numpy scalar type -> its storage (the type object's symbol is ``pyfast.<t.name>``).
NUMPY_SCALARS: dict[RType, NumpyScalar] = {
    NP_F64: NumpyScalar(ir.DoubleType(), _same, _same),
    NP_F32: NumpyScalar(ir.FloatType(), _same, _same),
    NP_I64: NumpyScalar(_I64, _same, _same),
    NP_I32: NumpyScalar(_I32, lambda b, v: b.sext(v, _I64), lambda b, v: b.trunc(v, _I32)),
    NP_BOOL: NumpyScalar(
        _I8, lambda b, v: b.icmp_unsigned("!=", v, _I8(0)), lambda b, v: b.zext(v, _I8)
    ),
}


def load_item(b: ir.IRBuilder, t: RType, address: ir.Value) -> ir.Value:
    """The native value of the numpy ``t`` stored at ``address``."""
    scalar = NUMPY_SCALARS[t]
    return scalar.load(b, b.load(address, typ=scalar.memory))


def store_item(b: ir.IRBuilder, t: RType, value: ir.Value, address: ir.Value) -> None:
    """Store the native ``value`` of numpy type ``t`` at ``address`` as numpy does."""
    b.store(NUMPY_SCALARS[t].store(b, value), address)


_IMMORTAL_SINGLETONS = sys.version_info >= (3, 12)  # None/True/False need no incref (PEP 683)


def incref(b: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    """``Py_INCREF(obj)`` inline (the GIL is held): 3.11 adds to ``ob_refcnt``; 3.12+ adds to
    its low 32 bits unless they mark the object immortal (negative as an int32, PEP 683)."""
    if not _IMMORTAL_SINGLETONS:
        b.store(b.add(b.load(obj, typ=_I64), _I64(1)), obj)
        return obj
    count = b.load(obj, typ=_I32)
    with b.if_then(b.icmp_signed(">=", count, _I32(0)), likely=True):
        b.store(b.add(count, _I32(1)), obj)
    return obj


def counted_loop(b: ir.IRBuilder, n: ir.Value, body: Callable[[ir.Value], None]) -> None:
    """``for i in range(n): body(i)`` at the builder's position (which ends after the loop)."""
    fn = b.function
    head, loop, done = (fn.append_basic_block(name) for name in ("head", "loop", "done"))
    start = b.block
    b.branch(head)
    b.position_at_end(head)
    index = b.phi(_I64)
    index.add_incoming(_I64(0), start)
    b.cbranch(b.icmp_signed("<", index, n), loop, done)
    b.position_at_end(loop)
    body(index)
    index.add_incoming(b.add(index, _I64(1)), b.block)
    b.branch(head)
    b.position_at_end(done)


SINGLETONS = ("_Py_TrueStruct", "_Py_FalseStruct", "_Py_NoneStruct")


def release_singleton(b: ir.IRBuilder, obj: ir.Value) -> None:
    """``Py_DECREF`` of ``None``, ``True`` or ``False``: immortal on 3.12+; on 3.11 their count
    never reaches zero (the interpreter holds them), so a plain decrement -- of the one ``obj``
    is, found by branches: a count at a constant address does not wait for ``obj``'s load."""
    if _IMMORTAL_SINGLETONS:
        return
    for name in SINGLETONS:
        target = capi.data(b.module, name)
        with b.if_then(b.icmp_unsigned("==", obj, target)):
            b.store(b.sub(b.load(target, typ=_I64), _I64(1)), target)


def singleton(b: ir.IRBuilder, t: Type, value: ir.Value) -> ir.Value:
    """The object (a borrowed pointer) of the ``BOOL`` or ``NONE`` value ``value``."""
    module = b.module
    if t is NONE:
        return capi.data(module, "_Py_NoneStruct")
    return b.select(
        value, capi.data(module, "_Py_TrueStruct"), capi.data(module, "_Py_FalseStruct")
    )


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
    elif t in (BOOL, NONE):
        return _singleton(b, singleton(b, t, value))
    elif isinstance(t, ListType):
        return incref(b, value)
    elif isinstance(t, ArrayType):
        return incref(b, b.extract_value(value, ARRAY_OBJECT))
    elif t is NP_BOOL:  # numpy's two bools, like Python's
        true = capi.data(module, "pyfast.numpy.True")
        return incref(b, b.select(value, true, capi.data(module, "pyfast.numpy.False")))
    elif t in NUMPY_SCALARS:
        return _numpy_scalar(b, t, value, fail)
    elif t is OBJECT:
        return value
    else:
        raise TypeError(f"cannot box a {t} value")
    if fail is not None:
        _null_check(b, obj, fail)
    return obj


def _numpy_scalar(
    b: ir.IRBuilder, t: RType, value: ir.Value, fail: Callable[[], None] | None
) -> ir.Value:
    """A new numpy scalar of type ``t`` holding ``value``, made as numpy's
    ``PyArrayScalar_New`` makes one: the type's ``tp_alloc``, then the value (bit for bit)."""
    symbol = f"pyfast.{t.name}"
    obj = b.call(capi.numpy_alloc(b.module, symbol), [capi.data(b.module, symbol), _I64(0)])
    with b.if_then(b.icmp_unsigned("!=", obj, _PTR(None)), likely=True):
        store_item(b, t, value, b.gep(obj, [_I64(SCALAR_VALUE)], source_etype=_I8))
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


def unboxed_array(b: ir.IRBuilder, t: ArrayType, obj: ir.Value) -> ir.Value:
    """The ``entry.array_type`` record of the array ``obj``."""
    from pyfast.compiler.runtime.entry import array_type

    record = ir.Constant(array_type(t), ir.Undefined)
    record = b.insert_value(record, obj, ARRAY_OBJECT)
    record = b.insert_value(record, field(b, obj, ARRAY_DATA, _PTR), ARRAY_POINTER)
    for k, offset in enumerate((ARRAY_DIMS, ARRAY_STRIDES)):
        values = field(b, obj, offset, _PTR)
        for axis in range(t.ndim):
            item = b.load(b.gep(values, [_I64(axis)], source_etype=_I64), typ=_I64)
            record = b.insert_value(record, item, ARRAY_FIELDS + k * t.ndim + axis)
    flags = field(b, obj, ARRAY_FLAGS, _I32)
    writeable = b.icmp_unsigned("!=", b.and_(flags, _I32(ARRAY_WRITEABLE)), _I32(0))
    return b.insert_value(record, writeable, ARRAY_FIELDS + 2 * t.ndim)


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
    if t in NUMPY_SCALARS:
        guard(is_type(b, obj, f"pyfast.{t.name}"), t.name)
        return load_item(b, t, b.gep(obj, [_I64(SCALAR_VALUE)], source_etype=_I8))
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
    if isinstance(t, ArrayType):
        guard(is_type(b, obj, "pyfast.numpy.ndarray"), "ndarray")
        guard(b.icmp_signed("==", field(b, obj, ARRAY_ND, _I32), _I32(t.ndim)), "ndim")
        descr = field(b, obj, ARRAY_DESCR, _PTR)
        scalar_type = capi.data(b.module, f"pyfast.{ARRAY_ITEMS[t.dtype].name}")
        guard(b.icmp_unsigned("==", field(b, descr, DESCR_TYPEOBJ, _PTR), scalar_type), "dtype")
        order = field(b, descr, DESCR_BYTEORDER, _I8)
        native = [b.icmp_unsigned("==", order, _I8(o)) for o in NATIVE_ORDERS]
        guard(functools.reduce(b.or_, native), "byte order")
        return unboxed_array(b, t, obj)
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
