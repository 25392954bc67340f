"""The one table of per-version bytecode differences (CPython 3.11, 3.12, 3.13).

In: an instruction name and its argument as ``dis`` lists it (``argument``; a jump's is the
block index ``decode`` gives its target).
Out: zero or more *neutral* instructions ``(op, arg)`` whose meaning is the same on every
supported version.  Every other stage (decode, build, prescreen) speaks only the neutral set.

Neutral instruction set (stack effect in brackets, TOS last):

==================  =============================================================
``LOAD_CONST c``    [] -> [c]
``LOAD_FAST n``     [] -> [local n]
``STORE_FAST n``    [v] -> []
``LOAD_GLOBAL n``   [] -> [global or builtin n]
``PUSH_NULL``       [] -> [NULL]      the NULL of a call sequence; a global load with the
                    push-NULL flag becomes ``PUSH_NULL`` + ``LOAD_GLOBAL`` in the version's order
``LOAD_ATTR n``     [obj] -> [obj.n]
``LOAD_METHOD n``   [obj] -> [meth, obj] for a method, else the attribute and a NULL in the
                    version's order (``NULL_FIRST``)
``POP k``           [v1..vk] -> []
``COPY k`` / ``SWAP k`` as in CPython
``BINARY op``       [a, b] -> [a op b]     op is ``+ - * / // % ** << >> & | ^`` (in-place same)
``UNARY op``        [v] -> [op v]          op is ``- + ~ not``
``TO_BOOL``         [v] -> [bool(v)]
``COMPARE op``      [a, b] -> [a op b]     op is ``< <= == != > >=``
``IS invert``       [a, b] -> [a is b] (or ``is not``)
``CONTAINS invert`` [a, b] -> [a in b] (or ``not in``)
``BUILD_SLICE n``   [a, b] -> [slice(a, b)] (``n`` = 3 adds a step)
``SLICE``           [c, a, b] -> [c[a:b]] (3.12+; 3.11 builds the slice and subscripts)
``CALL n``          [x, y, a1..an] -> [result]: ``y(a1..an)`` when x is NULL, ``x(a1..an)`` when
                    y is NULL, else the method call ``x(y, a1..an)``
``STORE_SUBSCR``    [v, c, i] -> []        c[i] = v
``SUBSCR``          [c, i] -> [c[i]]
``BUILD_LIST n``    [v1..vn] -> [[v1..vn]]
``LIST_APPEND i``   [l, .., v] -> [l, ..]      l.append(v), l the i-th slot below v
``LOAD_FAST_AND_CLEAR n``  [] -> [local n, or NULL if unbound]; n becomes unbound (3.12+: an
                    inlined comprehension saves the variable it reuses; ``STORE_FAST`` of
                    the NULL unbinds it again)
``BUILD_TUPLE n``   [v1..vn] -> [(v1..vn)]
``UNPACK n``        [t] -> [t[n-1]..t[0]]
``GET_ITER``        [v] -> [iter(v)]
``FOR_ITER b``      [it] -> [it, next(it)]; when exhausted jump to block b with the stack
                    changed by ``FOR_ITER_EXIT_DELTA`` (the iterator popped on 3.11; on 3.12+
                    kept with a placeholder above it, which the following ``POP`` removes)
``JUMP b``          unconditional jump
``BRANCH (s, b)``   [v] -> []; jump to b if bool(v) is s
``BRANCH_NONE (s, b)``  [v] -> []; jump to b if (v is None) is s
``BRANCH_OR_POP (s, b)`` [v] -> [v] and jump if bool(v) is s, else [] and fall through
``RETURN``          [v] -> return v
==================  =============================================================

3.11 compiles a list comprehension to a nested function, called at once with the iterator:
``LOAD_CONST code`` (``LOAD_CLOSURE n`` .. ``BUILD_TUPLE``) ``MAKE_FUNCTION f`` <iterable>
``GET_ITER`` ``CALL 0``.  ``decode`` inlines it (``MAKE_FUNCTION`` and ``LOAD_CLOSURE`` never
reach the builder); its cells (``LOAD_DEREF``/``STORE_DEREF``) are plain locals.

Names missing from ``TABLE`` are outside the compiled subset; ``api.prescreen`` rejects them.
"""

from __future__ import annotations

import opcode
import sys

Neutral = tuple[str, object]

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CodeType

    Rule = Callable[[object], list[Neutral]]

VERSION = sys.version_info[:2]

BINARY_SYMBOLS: tuple[str, ...] = tuple(sym.removesuffix("=") for _, sym in opcode._nb_ops)
#: CALL_INTRINSIC_1 operands that are plain unary operators (3.12+).
INTRINSIC_UNARY: dict[int, str] = {5: "+"}
#: Every loop jumps backward (3.11 also has ``POP_JUMP_BACKWARD_IF_*``).
BACKWARD_JUMPS = frozenset(op for name, op in opcode.opmap.items() if "BACKWARD" in name)


def jumps_backward(code: CodeType) -> bool:
    """Whether ``code`` has a loop: a scan of its opcodes, without ``dis``."""
    return not BACKWARD_JUMPS.isdisjoint(code.co_code[::2])


def _drop(arg: object) -> list[Neutral]:
    return []


def _same(op: str) -> Rule:
    return lambda arg: [(op, arg)]


def _fixed(op: str, value: object) -> Rule:
    return lambda arg: [(op, value)]


def _branch(op: str, sense: bool) -> Rule:
    return lambda arg: [(op, (sense, arg))]


def _global(arg: object) -> list[Neutral]:
    push_null, name = arg
    if not push_null:
        return [("LOAD_GLOBAL", name)]
    pair = [("PUSH_NULL", None), ("LOAD_GLOBAL", name)]
    return pair if NULL_FIRST else pair[::-1]


def _attr(arg: object) -> list[Neutral]:
    if isinstance(arg, tuple):  # 3.12+: (is a method load, name)
        return [("LOAD_METHOD" if arg[0] else "LOAD_ATTR", arg[1])]
    return [("LOAD_ATTR", arg)]


def _binary(arg: object) -> list[Neutral]:
    return [("BINARY", BINARY_SYMBOLS[int(arg)])]


def _compare(arg: object) -> list[Neutral]:
    # ``dis`` names the operator; 3.13's "cast to bool" bit does not matter for scalars.
    return [("COMPARE", arg)]


def _intrinsic(arg: object) -> list[Neutral]:
    if int(arg) not in INTRINSIC_UNARY:
        return [("UNSUPPORTED", f"intrinsic {arg!r}")]
    return [("UNARY", INTRINSIC_UNARY[int(arg)])]


def _pair(first: str, second: str) -> Rule:
    return lambda arg: [(first, arg[0]), (second, arg[1])]


def _return_const(arg: object) -> list[Neutral]:
    return [("LOAD_CONST", arg), ("RETURN", None)]


_COMMON: dict[str, Rule] = {
    "NOP": _drop,
    "RESUME": _drop,
    "CACHE": _drop,
    "EXTENDED_ARG": _drop,
    "PUSH_NULL": _fixed("PUSH_NULL", None),
    "STORE_SUBSCR": _fixed("STORE_SUBSCR", None),
    "BINARY_SUBSCR": _fixed("SUBSCR", None),
    "BUILD_LIST": _same("BUILD_LIST"),
    "LIST_APPEND": _same("LIST_APPEND"),
    "LOAD_CONST": _same("LOAD_CONST"),
    "LOAD_FAST": _same("LOAD_FAST"),
    "STORE_FAST": _same("STORE_FAST"),
    "LOAD_GLOBAL": _global,
    "LOAD_ATTR": _attr,
    "POP_TOP": _fixed("POP", 1),
    "COPY": _same("COPY"),
    "SWAP": _same("SWAP"),
    "BINARY_OP": _binary,
    "UNARY_NEGATIVE": _fixed("UNARY", "-"),
    "UNARY_INVERT": _fixed("UNARY", "~"),
    "UNARY_NOT": _fixed("UNARY", "not"),
    "COMPARE_OP": _compare,
    "IS_OP": _same("IS"),
    "CONTAINS_OP": _same("CONTAINS"),
    "BUILD_SLICE": _same("BUILD_SLICE"),
    "CALL": _same("CALL"),
    "BUILD_TUPLE": _same("BUILD_TUPLE"),
    "UNPACK_SEQUENCE": _same("UNPACK"),
    "GET_ITER": _same("GET_ITER"),
    "FOR_ITER": _same("FOR_ITER"),
    "JUMP_FORWARD": _same("JUMP"),
    "JUMP_BACKWARD": _same("JUMP"),
    "JUMP_BACKWARD_NO_INTERRUPT": _same("JUMP"),
    "RETURN_VALUE": _fixed("RETURN", None),
}

#: Whether the NULL of a call sequence sits below the callable (3.11, 3.12) or above it (3.13).
NULL_FIRST: bool = VERSION < (3, 13)

_PER_VERSION: dict[tuple[int, int], dict[str, Rule]] = {
    (3, 11): {
        "PRECALL": _drop,
        "MAKE_CELL": _drop,
        "COPY_FREE_VARS": _drop,
        # A cell of the function's own (a variable a comprehension reads) is a plain local:
        # the comprehension is inlined (``decode``), so no closure ever sees the cell.
        "LOAD_DEREF": _same("LOAD_FAST"),
        "STORE_DEREF": _same("STORE_FAST"),
        "LOAD_CLOSURE": _same("LOAD_CLOSURE"),
        "MAKE_FUNCTION": _same("MAKE_FUNCTION"),
        "LOAD_METHOD": _same("LOAD_METHOD"),
        "UNARY_POSITIVE": _fixed("UNARY", "+"),
        "POP_JUMP_FORWARD_IF_TRUE": _branch("BRANCH", True),
        "POP_JUMP_BACKWARD_IF_TRUE": _branch("BRANCH", True),
        "POP_JUMP_FORWARD_IF_FALSE": _branch("BRANCH", False),
        "POP_JUMP_BACKWARD_IF_FALSE": _branch("BRANCH", False),
        "POP_JUMP_FORWARD_IF_NONE": _branch("BRANCH_NONE", True),
        "POP_JUMP_BACKWARD_IF_NONE": _branch("BRANCH_NONE", True),
        "POP_JUMP_FORWARD_IF_NOT_NONE": _branch("BRANCH_NONE", False),
        "POP_JUMP_BACKWARD_IF_NOT_NONE": _branch("BRANCH_NONE", False),
        "JUMP_IF_TRUE_OR_POP": _branch("BRANCH_OR_POP", True),
        "JUMP_IF_FALSE_OR_POP": _branch("BRANCH_OR_POP", False),
    },
    (3, 12): {
        "LOAD_FAST_CHECK": _same("LOAD_FAST"),
        "LOAD_FAST_AND_CLEAR": _same("LOAD_FAST_AND_CLEAR"),
        "RETURN_CONST": _return_const,
        "CALL_INTRINSIC_1": _intrinsic,
        "END_FOR": _fixed("POP", 2),
        "BINARY_SLICE": _fixed("SLICE", None),
        "POP_JUMP_IF_TRUE": _branch("BRANCH", True),
        "POP_JUMP_IF_FALSE": _branch("BRANCH", False),
        "POP_JUMP_IF_NONE": _branch("BRANCH_NONE", True),
        "POP_JUMP_IF_NOT_NONE": _branch("BRANCH_NONE", False),
    },
    (3, 13): {
        "LOAD_FAST_CHECK": _same("LOAD_FAST"),
        "LOAD_FAST_AND_CLEAR": _same("LOAD_FAST_AND_CLEAR"),
        "LOAD_FAST_LOAD_FAST": _pair("LOAD_FAST", "LOAD_FAST"),
        "STORE_FAST_STORE_FAST": _pair("STORE_FAST", "STORE_FAST"),
        "STORE_FAST_LOAD_FAST": _pair("STORE_FAST", "LOAD_FAST"),
        "RETURN_CONST": _return_const,
        "CALL_INTRINSIC_1": _intrinsic,
        "TO_BOOL": _same("TO_BOOL"),
        "END_FOR": _fixed("POP", 1),
        "BINARY_SLICE": _fixed("SLICE", None),
        "POP_JUMP_IF_TRUE": _branch("BRANCH", True),
        "POP_JUMP_IF_FALSE": _branch("BRANCH", False),
        "POP_JUMP_IF_NONE": _branch("BRANCH_NONE", True),
        "POP_JUMP_IF_NOT_NONE": _branch("BRANCH_NONE", False),
    },
}

#: How the stack changes on the exhausted edge of FOR_ITER (see the module docstring).
_FOR_ITER_EXIT_DELTA = {(3, 11): -1, (3, 12): +1, (3, 13): +1}

TABLE: dict[str, Rule] = {**_COMMON, **_PER_VERSION.get(VERSION, {})}
FOR_ITER_EXIT_DELTA: int = _FOR_ITER_EXIT_DELTA.get(VERSION, +1)

#: Builtins the compiler knows (``build`` handles ``range``/``len``/iterators, ``numeric`` the
#: rest); ``api`` refuses a function loading another global object before compiling it.
BUILTINS = frozenset(
    {
        *("abs", "min", "max", "int", "float", "bool", "round", "divmod", "pow", "range", "len"),
        *("enumerate", "zip", "reversed", "sum"),
    }
)

#: Methods the compiler knows, by receiver type name (``build`` types the calls).
METHODS: dict[str, frozenset[str]] = {
    "list": frozenset({"append", "pop"}),
    "list_iterator": frozenset({"__setstate__"}),  # what an OSR continuation's prologue calls
}
METHOD_NAMES: frozenset[str] = frozenset().union(*METHODS.values())
#: Attributes the compiler reads on values (besides ``math.<name>``): ``ndarray.shape``.
ATTRIBUTE_NAMES: frozenset[str] = METHOD_NAMES | {"shape"}

#: ``LOAD_ATTR``'s oparg holds the name index shifted left by this much (3.12+: the low bit
#: says "method load"); ``LOAD_METHOD`` (3.11) never shifts.
ATTR_NAME_SHIFT: int = 0 if VERSION < (3, 12) else 1

#: Opcode numbers of ``TABLE`` for the fast ``dis``-level scan in ``api.prescreen``.
SUPPORTED_OPCODES: frozenset[int] = frozenset(
    opcode.opmap[name] for name in TABLE if name in opcode.opmap
)


#: Instructions whose oparg's low bit is a flag (push a NULL / a method load) beside the name.
_FLAGGED = frozenset({"LOAD_GLOBAL", *(["LOAD_ATTR"] if VERSION >= (3, 12) else [])})


def argument(name: str, arg: int | None, argval: object) -> object:
    """What ``translate`` takes for an instruction as ``dis`` lists it: its ``argval``, or
    ``(flag, name)`` for an instruction of ``_FLAGGED``."""
    return (bool(arg & 1), argval) if name in _FLAGGED and arg is not None else argval


def translate(name: str, arg: object) -> list[Neutral]:
    """Neutral instructions for one versioned instruction; ``UNSUPPORTED`` if outside the subset."""
    rule = TABLE.get(name)
    if rule is None:
        return [("UNSUPPORTED", name)]
    return rule(arg)
