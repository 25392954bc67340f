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
- ``LIST``  an argument of exact type ``list``: a *borrowed* ``PyObject *`` (the caller's
  reference keeps it alive for the whole call).  Its items stay Python objects; native code
  reads its length and appends or stores boxed numbers -- side effects, made exact by
  deoptimization (see ``deopt``).
- ``OBJECT`` an owned ``PyObject *`` of unknown type: the result of a call that finished in the
  interpreter.  It only travels to a resume point (``deopt``), which consumes the reference.
- ``TupleType`` a tuple of the above scalars, as an LLVM struct of the item representations.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RType:
    """A scalar native type: like a C type that remembers which Python type it boxes to."""

    name: str
    py_type: type
    llvm: str

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
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
LIST = RType("list", list, "ptr")
OBJECT = RType("object", object, "ptr")

#: Scalars with arithmetic (``numeric`` types them).
NUMERIC = frozenset({INT, FLOAT, BOOL})

Type = RType | TupleType

#: The exact Python type of an argument -> its native type.  A type missing here (a subclass
#: of int, a str, ...) is not compiled.
FROM_PY: dict[type, RType] = {t.py_type: t for t in (INT, FLOAT, BOOL, NONE, LIST)}
