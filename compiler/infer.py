"""Type inference: typing rules for every op, type versions of blocks, the return type.

In: the types of operands (from ``build``, which asks as it interprets the stack) and the type
state (``Shape`` of every live local and stack slot) on each edge between bytecode blocks.
Out: result types (or ``Unsupported`` with the reason and line), the set of block versions
(the fixed point), and the function's return type.

How a local that holds several types stays exact: *block versioning*.  A bytecode block is
compiled once per distinct ``TypeState`` reaching it, so every value keeps one exact type and
no int is ever silently turned into a float.  ``x = 0; for ...: x += 0.5`` gives the loop
header two versions (``x: int`` from the entry, ``x: float`` from the back edge); the function
still returns an ``int`` when the loop runs zero times.  The worklist reaches a fixed point
because each block has at most ``MAX_VERSIONS`` versions; past that the function is rejected
with the locals whose types keep changing.

Return type: each ``return`` site has one type.  When the sites disagree (``return None`` on
one path, an int on another; an int or a float as above) the function is compiled for the
type chosen by ``choose_return_type`` and the other sites bail out, so the interpreter
produces those results -- exact, just not native.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

from pyfast.compiler import numeric, records
from pyfast.compiler.api import Unsupported
from pyfast.compiler.types import (
    ARRAY_ITEMS,
    BOOL,
    FLOAT,
    INT,
    LIST,
    NATIVE,
    NONE,
    NUMERIC,
    ListType,
    RType,
    Type,
)

#: Versions of one bytecode block before the function is rejected.
MAX_VERSIONS = 6

#: What a stack slot or local holds, as far as block versioning is concerned: a ``Type``, or a
#: tuple describing a compile-time structure (``("tuple", shapes...)``, ``("range",)``,
#: ``("static", kind, name)``, ``("unbound",)``, ``("placeholder",)``).
Shape = Hashable

#: Preference among return types when return sites disagree (ties of the site count).
_RETURN_PREFERENCE = {**dict.fromkeys(ARRAY_ITEMS.values(), 5), FLOAT: 4, INT: 3, BOOL: 2, NONE: 1}


@records.value
class TypeState:
    """Shapes of the live locals (sorted by name) and of the stack (bottom first)."""

    locals: tuple[tuple[str, Shape], ...]
    stack: tuple[Shape, ...]

    def describe(self) -> str:
        return ", ".join(f"{name}: {_shape_text(shape)}" for name, shape in self.locals)


def _shape_text(shape: Shape) -> str:
    return str(shape) if isinstance(shape, NATIVE) else shape[0]


class Versions:
    """The block-versioning worklist: ``(bytecode block, TypeState)`` -> version key."""

    def __init__(self) -> None:
        self.states: dict[int, list[TypeState]] = {}

    def add(self, origin: int, state: TypeState, lineno: int) -> bool:
        """Record that ``state`` reaches ``origin``; True when it is a new version."""
        seen = self.states.setdefault(origin, [])
        if state in seen:
            return False
        if len(seen) >= MAX_VERSIONS:
            raise Unsupported(
                f"the types of locals keep changing in a loop ({_changing(seen + [state])})",
                lineno,
            )
        seen.append(state)
        return True


def _changing(states: Sequence[TypeState]) -> str:
    kinds: dict[str, set[str]] = {}
    for state in states:
        for name, shape in state.locals:
            kinds.setdefault(name, set()).add(_shape_text(shape))
    return (
        ", ".join(
            f"{name}: {' | '.join(sorted(k))}" for name, k in sorted(kinds.items()) if len(k) > 1
        )
        or "stack values"
    )


def _numeric(t: Type, what: str, lineno: int) -> RType:
    if t not in NUMERIC:
        raise Unsupported(f"{what} of {t}", lineno)
    return t


def binary(op: str, left: Type, right: Type, lineno: int) -> RType:
    """Result type of ``left op right``."""
    result = numeric.binary_type(
        op, _numeric(left, f"'{op}'", lineno), _numeric(right, f"'{op}'", lineno)
    )
    if result is None:
        raise Unsupported(f"'{op}' of {left} and {right} is not compiled", lineno)
    return result


def unary(op: str, operand: Type, lineno: int) -> RType:
    """Result type of ``op operand``."""
    result = numeric.unary_type(op, _numeric(operand, f"unary '{op}'", lineno))
    if result is None:
        raise Unsupported(f"unary '{op}' of {operand} is not compiled", lineno)
    return result


def compare(op: str, left: Type, right: Type, lineno: int) -> None:
    """Check that ``left op right`` is a native numeric comparison (result: bool)."""
    scalars = _numeric(left, f"'{op}'", lineno), _numeric(right, f"'{op}'", lineno)
    if not numeric.compare_supported(op, *scalars):
        raise Unsupported(f"'{op}' of {left} and {right} is not compiled", lineno)


def call(name: str, args: tuple[Type, ...], lineno: int) -> Type:
    """Result type of a numeric builtin or math function call."""
    scalars = tuple(_numeric(t, f"argument of {name}()", lineno) for t in args)
    result = numeric.call_type(name, scalars)
    if result is None:
        names = ", ".join(map(str, args))
        raise Unsupported(f"{name}({names}) is not compiled", lineno)
    return result


def range_arg(t: Type, lineno: int) -> RType:
    """``range`` takes ints; a bool is an int."""
    if t not in (INT, BOOL):
        raise Unsupported(f"range() of {t}", lineno)
    return t


def choose_return_type(types: Sequence[Type]) -> Type:
    """The compiled return type among the return sites' types (see the module docstring)."""
    if all(isinstance(t, ListType) for t in types) and len(set(types)) > 1:
        return LIST  # the item types are speculations; the caller checks its own reads
    counts = Counter(types)
    return max(counts, key=lambda t: (counts[t], _RETURN_PREFERENCE.get(t, 0)))


def returns_as(t: Type, chosen: Type) -> bool:
    """Whether a return site of type ``t`` returns natively as ``chosen``."""
    return t == chosen or (chosen == LIST and isinstance(t, ListType))
