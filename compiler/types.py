"""Types of IR values (the analogue of mypyc's ``rtypes``).

In: nothing; this is the vocabulary every stage shares.
Out: ``RType`` values.  Each says which exact Python type a boxed value has and how the value
is represented in native code.

- ``INT``   a Python ``int`` whose value fits in a signed 64-bit integer (``i64``).  Every
  operation that could leave that range is overflow-checked and bails out to the interpreter,
  which then produces the exact (big) int.
- ``FLOAT`` a Python ``float`` (``double``), IEEE results bit-for-bit as CPython computes them.
- ``BOOL``  a Python ``bool`` (``i1``); arithmetic on it follows Python (``True + 1 == 2``).
- ``NONE``  the value ``None``; it has no native payload (``i1`` that is always 0).
- ``ListType(item)`` an exact ``list``: a *borrowed* ``PyObject *`` (an argument, an item of
  another list, or a list made by the call and kept alive by it until it returns).  Its items
  stay Python objects.  ``item`` is a *speculation*, taken from a sample of the arguments when
  compiling: every read checks the item's exact type and deoptimizes when it differs; stores
  and appends take any value.  ``LIST`` (``item`` None) is a list whose items are unknown:
  reads always deoptimize.
- ``LocalListType(item)`` a list the call makes and never lets go of (``local_lists``): its
  unboxed items in a buffer the call frees, and their number (``{ptr, i64}``).
- ``OBJECT`` an owned ``PyObject *`` of unknown type: the result of a call that finished in the
  interpreter.  It only travels to a resume point (``deopt``), which consumes the reference.
- ``TupleType`` a tuple of the above scalars, as an LLVM struct of the item representations.
- ``NP_F64``, ``NP_F32``, ``NP_I64``, ``NP_I32``, ``NP_BOOL`` a ``numpy.float64`` /
  ``float32`` / ``int64`` / ``int32`` / ``bool`` scalar (what reading an array of that dtype
  gives; comparing numpy scalars gives ``numpy.bool``): ``double`` / ``float`` / ``i64`` /
  ``i64`` (an int32's value) / ``i1``, with numpy's semantics (``numeric``: NEP 50 promotion,
  results numpy would warn about bail) and boxed to numpy's types.
- ``ArrayType(dtype, ndim)`` an exact ``numpy.ndarray`` argument (a dtype of ``ARRAY_ITEMS``,
  1-D or 2-D): a borrowed pointer; items are read and written in place through its data, shape
  and strides.
"""

from __future__ import annotations

from pyfast.compiler import records


@records.value
class RType:
    """A scalar native type: like a C type that remembers which Python type it boxes to."""

    name: str
    py_type: type
    llvm: str

    def __str__(self) -> str:
        return self.name


@records.value
class TupleType:
    """A fixed-length tuple of native values: a C struct that boxes to a Python tuple."""

    items: tuple[RType | TupleType, ...]

    @property
    def name(self) -> str:
        return "tuple[" + ", ".join(str(item) for item in self.items) + "]"

    @property
    def py_type(self) -> type:
        return tuple

    def __str__(self) -> str:
        return self.name


INT = RType("int", int, "i64")
FLOAT = RType("float", float, "double")
BOOL = RType("bool", bool, "i1")
NONE = RType("None", type(None), "i1")
OBJECT = RType("object", object, "ptr")


@records.value
class ListType:
    """An exact ``list`` whose items are speculated to be of type ``item``: like a C pointer
    to an array of boxed values that is bounds- and type-checked at every read."""

    item: RType | TupleType | ListType | None

    @property
    def name(self) -> str:
        return f"list[{self.item or '?'}]"

    @property
    def py_type(self) -> type:
        return list

    def __str__(self) -> str:
        return self.name


@records.value
class LocalListType:
    """A list made by the call that never leaves it (``local_lists``): a native buffer of
    unboxed ``item`` values and its length, like a C array on the heap of the call."""

    item: RType

    @property
    def name(self) -> str:
        return f"local list[{self.item}]"

    @property
    def py_type(self) -> type:
        return list

    def __str__(self) -> str:
        return self.name


LIST = ListType(None)
NP_F64 = RType("numpy.float64", float, "double")
NP_F32 = RType("numpy.float32", float, "float")
NP_I64 = RType("numpy.int64", int, "i64")
NP_I32 = RType("numpy.int32", int, "i64")
NP_BOOL = RType("numpy.bool", bool, "i1")


@records.value
class ArrayType:
    """A ``numpy.ndarray`` of ``dtype`` with ``ndim`` dimensions: like a C pointer to a strided
    array whose bounds are checked at every access."""

    dtype: str
    ndim: int

    @property
    def name(self) -> str:
        return f"ndarray[{self.dtype}, {self.ndim}d]"

    @property
    def py_type(self) -> type:
        return object

    def __str__(self) -> str:
        return self.name


#: The numpy scalar types compiled, by the type's ``__name__``: what an argument of that type
#: is, and the items of an array whose ``dtype.type`` it is.
ARRAY_ITEMS: dict[str, RType] = {
    t.name.removeprefix("numpy."): t for t in (NP_F64, NP_F32, NP_I64, NP_I32, NP_BOOL)
}

#: What indexes an array (an int, numpy's too; a bool would be a mask).
ARRAY_INDICES = frozenset({INT, NP_I64, NP_I32})

#: Scalars with arithmetic (``numeric`` types them).
NUMERIC = frozenset({INT, FLOAT, BOOL, *ARRAY_ITEMS.values()})


Type = RType | TupleType | ListType | LocalListType | ArrayType
#: The classes of ``Type`` values (for ``isinstance``).
NATIVE = (RType, TupleType, ListType, ArrayType)

#: The exact Python type of an argument -> its native type.  A type missing here (a subclass
#: of int, a str, ...) is not compiled.
FROM_PY: dict[type, Type] = {t.py_type: t for t in (INT, FLOAT, BOOL, NONE, LIST)}

#: How deep ``of_value`` looks into nested lists and tuples.
SAMPLE_DEPTH = 3


def of_value(value: object, depth: int = SAMPLE_DEPTH) -> Type | None:
    """The native type of a sample value: for a list, items typed after its first item (a
    speculation that reads check); None when the value has no native type."""
    kind = type(value)
    if kind is list:
        if not value or depth == 0:
            return LIST
        return ListType(of_value(value[0], depth - 1))
    if kind is tuple and depth > 0:
        items = tuple(of_value(item, depth - 1) for item in value)
        scalars = all(isinstance(item, RType | TupleType) for item in items)
        return TupleType(items) if scalars else None  # a tuple holding a list: not native
    if kind.__module__ == "numpy" and kind.__name__ in ARRAY_ITEMS:
        return ARRAY_ITEMS[kind.__name__]
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        dtype = value.dtype.type.__name__  # not str(dtype): "int64" is also numpy.longlong's
        if dtype in ARRAY_ITEMS and value.ndim in (1, 2) and value.dtype.isnative:
            return ArrayType(dtype, value.ndim)
        return None
    return FROM_PY.get(kind)
