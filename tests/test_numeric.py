"""compiler/numeric.py: every operator, builtin and math function compiled into a tiny native
function (body + entry thunk), called from Python and compared with the interpreter: same
value, type and float bits, or a bail (``MISS``) exactly when Python raises or the exact result
does not fit the static type."""

from __future__ import annotations

import math
import operator
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("llvmlite")

from pyfast.compiler import llir as ir  # noqa: E402
from pyfast.compiler import numeric  # noqa: E402
from pyfast.compiler.runtime import entry, jit  # noqa: E402
from pyfast.compiler.types import BOOL, FLOAT, INT, NONE, TupleType  # noqa: E402

MISS = object()
FALLBACK = object()
INT_EDGES = [
    0,
    1,
    -1,
    2,
    -2,
    3,
    7,
    -7,
    2**31,
    -(2**31),
    2**31 - 1,
    2**53 - 1,
    2**53,
    2**53 + 1,
    -(2**53) - 1,
    2**62,
    -(2**62),
    2**63 - 1,
    -(2**63),
    2**63 - 2,
    -(2**63) + 1,
    10**18,
    62,
    63,
    64,
    65,
]
FLOAT_EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    3.0,
    -3.0,
    0.1,
    2.0,
    1e-300,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    2.0**53,
    2.0**53 + 2,
    2.0**63,
    -(2.0**63),
    9.223372036854775e18,
    1e16 + 0.5,
    4503599627370497.5,
    0.49999999999999994,
    1e308,
    710.0,
    -745.2,
    1e-10,
    math.pi,
    1.0000000000000002,
]
BOOL_EDGES = [False, True]
EDGES = {INT: INT_EDGES, FLOAT: FLOAT_EDGES, BOOL: BOOL_EDGES}
STRATEGIES = {
    INT: st.one_of(
        st.sampled_from(INT_EDGES), st.integers(-(2**63), 2**63 - 1), st.integers(-1000, 1000)
    ),
    FLOAT: st.one_of(
        st.sampled_from(FLOAT_EDGES),
        st.floats(),
        st.floats(-1e3, 1e3),
        st.integers(-(2**60), 2**60).map(float),
    ),
    BOOL: st.booleans(),
}
NUMBERS = (INT, FLOAT, BOOL)

_cache: dict[object, object] = {}


def _fallback(*args):
    return FALLBACK


def build(key, types, result, emit):
    """A builtin running ``emit(builder, *values) -> Emitted`` natively on ``types``."""
    if key in _cache:
        return _cache[key]
    module = ir.Module("test")
    params = [entry.llvm_type(t) for t in types]
    ptr = ir.PointerType()
    body = ir.Function(module, ir.FunctionType(ir.IntType(32), [ptr, ptr, *params]), "body")
    b = ir.IRBuilder(body.append_basic_block())
    emitted = emit(b, *body.args[2:])
    b.store(emitted.value, body.args[0])
    bail = emitted.bail if emitted.bail is not None else ir.Constant(ir.IntType(1), 0)
    b.ret(b.zext(bail, ir.IntType(32)))
    spec = entry.add_entry(module, body, types, result, [], "f")
    lib = jit.compile_module(str(module))
    fn, _ = entry.make_builtin(lib, spec, fallback=_fallback, miss=MISS, qualname="f")
    _cache[key] = fn
    return fn


def fits(value, t) -> bool:
    if isinstance(t, TupleType):
        return type(value) is tuple and all(map(fits, value, t.items))
    if type(value) is not t.py_type:
        return False
    return t is not INT or -(2**63) <= value < 2**63


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) is float:
        if math.isnan(a):
            return math.isnan(b)
        return struct.pack("d", a) == struct.pack("d", b)
    return a == b


def check(native, reference, args, result, may_bail=False):
    try:
        expected = reference(*args)
    except (ArithmeticError, ValueError):
        expected = MISS
    if expected is not MISS and not fits(expected, result):
        expected = MISS
    got = native(*args)
    assert got is not FALLBACK, args
    if expected is MISS:
        assert got is MISS, (args, got)
    elif got is MISS:
        assert may_bail, (args, expected)
    else:
        assert same(got, expected), (args, got, expected)


# ---------------------------------------------------------------------------------------------
# binary operators

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}
PAIRS = [(x, y) for x in NUMBERS for y in NUMBERS]
TOO_BIG = object()  # an exact int result far past int64: Python would take ages to compute it


def _int_pow(x, y):
    if type(x) is not float and type(y) is not float and y > 64 and abs(x) > 1:
        return TOO_BIG
    return x**y


def _int_lshift(x, y):
    return TOO_BIG if y > 64 and x else x << y


REFERENCE = {**BINARY, "**": _int_pow, "<<": _int_lshift}


def binary_native(op, left, right):
    result = numeric.binary_type(op, left, right)
    fn = build(
        ("bin", op, left, right),
        (left, right),
        result,
        lambda b, x, y: numeric.emit_binary(b, op, left, right, x, y),
    )
    return fn, result


def big_int_division(op, args) -> bool:
    return op == "/" and any(type(a) is int and abs(a) > 2**53 for a in args)


def _python_type(op, left, right):
    try:
        return type(BINARY[op](left.py_type(1), right.py_type(1)))
    except TypeError:
        return None


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("left,right", PAIRS, ids=lambda t: str(t))
def test_binary_edges(op, left, right):
    result = numeric.binary_type(op, left, right)
    python_type = _python_type(op, left, right)
    if result is None:
        assert python_type is None or (left, right) == (BOOL, BOOL) or op in ("<<", ">>")
        pytest.skip("not native")
    assert result.py_type is python_type
    fn, result = binary_native(op, left, right)
    for x in EDGES[left]:
        for y in EDGES[right]:
            args = (x, y)
            check(fn, REFERENCE[op], args, result, may_bail=big_int_division(op, args))


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("left,right", PAIRS, ids=lambda t: str(t))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_binary_random(op, left, right, data):
    if numeric.binary_type(op, left, right) is None:
        return
    fn, result = binary_native(op, left, right)
    args = (data.draw(STRATEGIES[left]), data.draw(STRATEGIES[right]))
    if op in ("<<", ">>") and data.draw(st.booleans()) and right is INT:
        args = (args[0], data.draw(st.integers(-2, 70)))
    if op == "**" and data.draw(st.booleans()) and right is INT:
        args = (args[0], data.draw(st.integers(-3, 70)))
    check(fn, REFERENCE[op], args, result, may_bail=big_int_division(op, args))


def test_int_pow_exact_boundaries():
    fn, result = binary_native("**", INT, INT)
    for base in range(-12, 13):
        for exp in range(0, 70):
            check(fn, operator.pow, (base, exp), result)
    for base, exp in [(-2, 63), (2, 62), (3, 39), (3, 40), (-3, 39), (2**31, 2), (-(2**31), 3)]:
        check(fn, operator.pow, (base, exp), result)


def test_unsupported_binary_types():
    assert numeric.binary_type("<<", FLOAT, INT) is None
    assert numeric.binary_type("&", INT, FLOAT) is None
    assert numeric.binary_type("+", NONE, INT) is None
    assert numeric.binary_type("&", BOOL, BOOL) is BOOL
    assert numeric.binary_type("+", BOOL, BOOL) is INT
    assert numeric.binary_type("/", INT, INT) is FLOAT


# ---------------------------------------------------------------------------------------------
# unary, truth, comparisons, conversions

UNARY = {"-": operator.neg, "+": operator.pos, "~": operator.invert, "not": operator.not_}


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("t", [*NUMBERS, NONE], ids=str)
def test_unary(op, t):
    result = numeric.unary_type(op, t)
    if result is None:
        assert op in "-+~" and (t is NONE or t is FLOAT and op == "~" or t is BOOL and op == "~")
        return
    fn = build(("un", op, t), (t,), result, lambda b, v: numeric.emit_unary(b, op, t, v))
    for v in EDGES.get(t, [None]):
        check(fn, UNARY[op], (v,), result)


COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
}
MIXED_EDGES = [
    0,
    1,
    -1,
    2**53,
    2**53 + 1,
    -(2**53) - 1,
    2**63 - 1,
    -(2**63),
    2**62 + 1,
    9007199254740993,
    -9007199254740993,
    2**63 - 512,
    2**63 - 1024,
]


def compare_native(op, left, right):
    return build(
        ("cmp", op, left, right),
        (left, right),
        BOOL,
        lambda b, x, y: numeric.emit_compare(b, op, left, right, x, y),
    )


@pytest.mark.parametrize("op", COMPARE)
@pytest.mark.parametrize("left,right", PAIRS + [(NONE, NONE), (NONE, INT), (FLOAT, NONE)], ids=str)
def test_compare_edges(op, left, right):
    if not numeric.compare_supported(op, left, right):
        assert NONE in (left, right) and op not in ("==", "!=")
        return
    fn = compare_native(op, left, right)
    floats = FLOAT_EDGES + [float(i) for i in MIXED_EDGES] + [2.0**63 - 1024, 2.0**62 + 0.0]
    pools = {INT: INT_EDGES + MIXED_EDGES, FLOAT: floats, BOOL: BOOL_EDGES, NONE: [None]}
    for x in pools[left]:
        for y in pools[right]:
            check(fn, COMPARE[op], (x, y), BOOL)


@pytest.mark.parametrize("op", COMPARE)
@settings(max_examples=150, deadline=None)
@given(i=STRATEGIES[INT], d=STRATEGIES[FLOAT], delta=st.integers(-3, 3))
def test_compare_int_float_random(op, i, d, delta):
    fn = compare_native(op, INT, FLOAT)
    check(fn, COMPARE[op], (i, d), BOOL)
    if math.isfinite(d) and -(2**63) <= int(d) + delta < 2**63:
        check(fn, COMPARE[op], (int(d) + delta, d), BOOL)
    check(compare_native(op, FLOAT, INT), COMPARE[op], (d, i), BOOL)


@pytest.mark.parametrize("t", [*NUMBERS, NONE], ids=str)
def test_truth(t):
    fn = build(
        ("truth", t), (t,), BOOL, lambda b, v: numeric.Emitted(numeric.emit_truth(b, t, v), None)
    )
    for v in EDGES.get(t, [None]):
        check(fn, bool, (v,), BOOL)


@pytest.mark.parametrize("src,dst", [(BOOL, INT), (BOOL, FLOAT), (INT, FLOAT), (INT, INT)], ids=str)
def test_convert(src, dst):
    fn = build(("conv", src, dst), (src,), dst, lambda b, v: numeric.emit_convert(b, v, src, dst))
    for v in EDGES[src]:
        check(fn, dst.py_type, (v,), dst)


# ---------------------------------------------------------------------------------------------
# builtins and math

CALLS = {
    "abs": abs,
    "min": min,
    "max": max,
    "int": int,
    "float": float,
    "bool": bool,
    "round": lambda x, *n: 0 if n and n[0] < -40 else round(x, *n),  # 10**huge takes ages
    "divmod": divmod,
    "pow": _int_pow,
    **{
        f"math.{name}": getattr(math, name)
        for name in (
            "sqrt exp log log2 log10 sin cos tan asin acos atan atan2 hypot floor ceil trunc fabs"
            " pow isnan isinf isfinite copysign"
        ).split()
    },
}
ARITIES = {
    "min": (2, 3),
    "max": (2, 3),
    "round": (1, 2),
    "divmod": (2,),
    "pow": (2,),
    "math.log": (1, 2),
    "math.atan2": (2,),
    "math.hypot": (2,),
    "math.pow": (2,),
    "math.copysign": (2,),
}


def signatures(name):
    for arity in ARITIES.get(name, (1,)):
        if arity == 1:
            yield from ((t,) for t in NUMBERS)
        elif arity == 2:
            yield from PAIRS
        else:
            yield from ((t, t, t) for t in NUMBERS)


def call_native(name, types):
    result = numeric.call_type(name, types)
    if result is None:
        return None, None
    fn = build(
        ("call", name, types),
        types,
        result,
        lambda b, *vs: numeric.emit_call(b, name, types, list(vs)),
    )
    return fn, result


def call_cases():
    return [
        pytest.param(name, types, id=f"{name}{tuple(map(str, types))}")
        for name in CALLS
        for types in signatures(name)
    ]


SMALL_EDGES = {
    INT: [0, 1, -1, 2, -3, 2**53 + 1, 2**63 - 1, -(2**63), 10**18],
    FLOAT: [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        2.5,
        -1.5,
        5e-324,
        1e300,
        -1e300,
        1.7976931348623157e308,
        math.inf,
        -math.inf,
        math.nan,
        710.0,
        1e-320,
        2.0**63,
        -(2.0**63),
        9.2e18,
        3.0,
        1e-310,
    ],
    BOOL: BOOL_EDGES,
}


@pytest.mark.parametrize("name,types", call_cases())
def test_call_edges(name, types):
    fn, result = call_native(name, types)
    if fn is None:
        mixed = len(set(types)) > 1
        assert name in ("min", "max") and mixed or name == "round" and FLOAT in types, types
        return
    pools = [SMALL_EDGES[t] if len(types) > 1 else EDGES[t] for t in types]
    for args in _product(pools):
        check(fn, CALLS[name], args, result, may_bail=_round_to_tens(name, args))


def _round_to_tens(name, args) -> bool:
    """round(x, -n) is left to the interpreter (native code bails)."""
    return name == "round" and len(args) == 2 and args[1] < 0


def _product(pools):
    if not pools:
        yield ()
        return
    for first in pools[0]:
        for rest in _product(pools[1:]):
            yield (first, *rest)


@pytest.mark.parametrize("name,types", call_cases())
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_call_random(name, types, data):
    fn, result = call_native(name, types)
    if fn is None:
        return
    args = tuple(data.draw(STRATEGIES[t]) for t in types)
    check(fn, CALLS[name], args, result, may_bail=_round_to_tens(name, args))


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(min_value=0, allow_nan=False) | st.floats(0, 1e-300),
    y=st.floats(min_value=0, allow_nan=False) | st.floats(0, 1e-300),
)
def test_hypot_random(x, y):
    fn, result = call_native("math.hypot", (FLOAT, FLOAT))
    check(fn, math.hypot, (x, y), result)


def test_round_half_even():
    fn, result = call_native("round", (FLOAT,))
    for k in range(-40, 40):
        check(fn, round, (k + 0.5,), result)
        check(fn, round, (k / 4,), result)


def test_min_max_first_of_equals():
    fn, _ = call_native("min", (FLOAT, FLOAT))
    assert struct.pack("d", fn(0.0, -0.0)) == struct.pack("d", 0.0)
    assert struct.pack("d", fn(-0.0, 0.0)) == struct.pack("d", -0.0)
    assert math.isnan(fn(math.nan, 1.0)) and fn(1.0, math.nan) == 1.0
    fn, _ = call_native("max", (FLOAT, FLOAT))
    assert struct.pack("d", fn(-0.0, 0.0)) == struct.pack("d", -0.0)


def test_math_constants():
    for name, value in numeric.MATH_CONSTANTS.items():
        assert same(value, getattr(math, name))


def test_call_type_rejects():
    assert numeric.call_type("min", (INT,)) is None
    assert numeric.call_type("min", (INT, FLOAT)) is None
    assert numeric.call_type("round", (FLOAT, INT)) is None
    assert numeric.call_type("math.gamma", (FLOAT,)) is None
    assert numeric.call_type("divmod", (INT, INT)) == TupleType((INT, INT))
    assert numeric.call_type("divmod", (INT, FLOAT)) == TupleType((FLOAT, FLOAT))
    assert numeric.call_type("round", (FLOAT, NONE)) is INT
    assert sys.version_info >= (3, 11)
