"""Python's scalar numeric semantics as typing rules and LLVM emitters.

In: an ``llir.IRBuilder`` positioned in a native body, the operator or builtin name,
the operands' ``RType`` and their native values (i64 / double / i1).
Out: the result's ``RType`` (``*_type`` functions; ``None`` = not supported natively) and the
result value (``emit_*``), with an ``i1`` bail flag when native code cannot produce CPython's
exact result (the operation would raise, overflow int64, or return another type).

Every result is bit-identical to CPython's: int ops as Objects/longobject.c on values that fit
in 64 bits, float ops as Objects/floatobject.c (float_rem, _float_div_mod, float_pow, float
round), ``math`` as Modules/mathmodule.c (math_1's errno/isnan/isinf rules, m_log, m_atan2,
math_pow, vector_norm for hypot), builtins as Python/bltinmodule.c.  Operands of mixed kinds are
first widened (``emit_convert``) to the kind CPython computes in: bool -> int -> float.

numpy scalars (numpy 2.x) compute in the type numpy's promotion gives (NEP 50, ``_numpy_kind``:
a Python int or float is "weak" and takes the numpy operand's type when of the same kind or
lower), their operands converted as numpy converts them, and whatever numpy would warn about
(or raise under ``np.seterr``) bails: integer overflow, division by zero, a float result that is
not finite, a Python float too large for float32, a Python int out of int32's range.  float32
results are computed in double and rounded to float32 (exact for + - * /).
libm functions are declared in the builder's module (``runtime.capi``) and called with the
``nobuiltin`` attribute, so LLVM never swaps them for a differently rounded equivalent.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pyfast.compiler import llir as ir
from pyfast.compiler import records
from pyfast.compiler.types import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    NP_BOOL,
    NP_F32,
    NP_F64,
    NP_I32,
    NP_I64,
    RType,
    TupleType,
)

_I1 = ir.IntType(1)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()
_F32 = ir.FloatType()
_INT_MIN = -(2**63)
_TWO63 = 9223372036854775808.0  # 2**63 as a double: ints are in [-_TWO63, _TWO63)
_TWO53 = 2**53


@records.value
class Emitted:
    """A native result; ``bail`` (i1 or None) true means: hand the call back to the interpreter."""

    value: ir.Value
    bail: ir.Value | None


MATH_CONSTANTS: dict[str, float] = {
    "pi": math.pi,
    "e": math.e,
    "tau": math.tau,
    "inf": math.inf,
    "nan": math.nan,
}

_NUMBERS = (BOOL, INT, FLOAT)  # in widening order

#: numpy scalar types: (kind, bits); kind 0 bool, 1 integer, 2 floating.
_NP_CLASS: dict[RType, tuple[int, int]] = {
    NP_BOOL: (0, 8),
    NP_I32: (1, 32),
    NP_I64: (1, 64),
    NP_F32: (2, 32),
    NP_F64: (2, 64),
}
#: NEP 50: a Python int or float is weak -- (its kind, the type it becomes when the numpy
#: operand is of a lower kind).  A Python bool is a numpy.bool.
_WEAK: dict[RType, tuple[int, RType]] = {INT: (1, NP_I64), FLOAT: (2, NP_F64)}


def _numpy_kind(left: RType, right: RType) -> RType | None:
    """The numpy type ``left op right`` computes in when one of them is a numpy scalar
    (numpy 2's ``result_type``), else None."""
    if left not in _NP_CLASS and right not in _NP_CLASS:
        return None
    left, right = (NP_BOOL if t is BOOL else t for t in (left, right))
    if left in _WEAK or right in _WEAK:
        weak, strong = (left, right) if left in _WEAK else (right, left)
        kind, default = _WEAK[weak]
        return strong if _NP_CLASS[strong][0] >= kind else default
    if left not in _NP_CLASS or right not in _NP_CLASS:
        return None
    (high, (high_kind, high_bits)), (_, (low_kind, low_bits)) = sorted(
        ((t, _NP_CLASS[t]) for t in (left, right)), key=lambda pair: pair[1], reverse=True
    )
    if high_kind == 2 and low_kind == 1 and low_bits >= high_bits:
        return NP_F64  # an int32 or int64 does not fit in a float32
    return high


def _kind(*types: RType) -> RType | None:
    """The type CPython computes mixed numeric operands in (bool < int < float), or numpy's
    when a numpy scalar is one of two operands."""
    if any(t in _NP_CLASS for t in types):
        return _numpy_kind(*types) if len(types) == 2 else None
    if not all(t in _NUMBERS for t in types):
        return None
    return max(types, key=_NUMBERS.index)


# ---------------------------------------------------------------------------------------------
# Small emit helpers


def _i64(v: int) -> ir.Constant:
    return ir.Constant(_I64, v)


def _f64(v: float) -> ir.Constant:
    return ir.Constant(_F64, v)


_TRUE = ir.Constant(_I1, 1)
_FALSE = ir.Constant(_I1, 0)


def _intrinsic(b: ir.IRBuilder, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    module = b.module
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


def _checked(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """``llvm.<op>.with.overflow.i64``: (result, overflowed)."""
    fn = _intrinsic(
        b, f"llvm.{op}.with.overflow.i64", ir.LiteralStructType([_I64, _I1]), [_I64, _I64]
    )
    pair = b.call(fn, [x, y])
    return b.extract_value(pair, 0), b.extract_value(pair, 1)


def _fcall(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """An exact LLVM float intrinsic (fabs floor ceil trunc round copysign sqrt)."""
    fn = _intrinsic(b, f"llvm.{name}.f64", _F64, [_F64] * len(args))
    return b.call(fn, args)


def _libm(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    from pyfast.compiler.runtime import capi

    return b.call(capi.libm(b.module, name), args)


def _or(b: ir.IRBuilder, *flags: ir.Value | None) -> ir.Value | None:
    present = [f for f in flags if f is not None]
    if not present:
        return None
    result = present[0]
    for flag in present[1:]:
        result = b.or_(result, flag)
    return result


def _isnan(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.fcmp_unordered("uno", x, x)


def _isinf(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.fcmp_ordered("==", _fcall(b, "fabs", x), _f64(math.inf))


def _isfinite(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.fcmp_ordered("<", _fcall(b, "fabs", x), _f64(math.inf))


def _is_odd_integer(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """CPython's DOUBLE_IS_ODD_INTEGER: fmod(fabs(x), 2.0) == 1.0."""
    return b.fcmp_ordered("==", b.frem(_fcall(b, "fabs", x), _f64(2.0)), _f64(1.0))


def _to_int(b: ir.IRBuilder, x: ir.Value, bits: int = 64) -> Emitted:
    """PyLong_FromDouble of an integral double: bail on nan, inf and outside int<bits>."""
    low, high = _f64(-(2.0 ** (bits - 1))), _f64(2.0 ** (bits - 1))
    in_range = b.and_(b.fcmp_ordered(">=", x, low), b.fcmp_ordered("<", x, high))
    safe = b.select(in_range, x, _f64(0.0))
    return Emitted(b.fptosi(safe, _I64), b.not_(in_range))


def _select_chain(
    b: ir.IRBuilder,
    default: tuple[ir.Value, ir.Value],
    cases: list[tuple[ir.Value, ir.Value, ir.Value]],
) -> tuple[ir.Value, ir.Value]:
    """``if c1: (v1, bail1) elif c2: ... else default`` with selects (cases first-wins)."""
    value, bail = default
    for cond, case_value, case_bail in reversed(cases):
        value = b.select(cond, case_value, value)
        bail = b.select(cond, case_bail, bail)
    return value, bail


# ---------------------------------------------------------------------------------------------
# int (i64) operations: Objects/longobject.c on values that fit in 64 bits


def _int_add(b, x, y):
    return _checked(b, "sadd", x, y)


def _int_sub(b, x, y):
    return _checked(b, "ssub", x, y)


def _int_mul(b, x, y):
    return _checked(b, "smul", x, y)


def _int_floordiv(b, x, y):
    q, _, bail = _int_divmod(b, x, y)
    return q, bail


def _int_mod(b, x, y):
    zero = b.icmp_signed("==", y, _i64(0))
    # x % -1 == 0 for every x; srem INT_MIN, -1 is undefined in LLVM
    safe = b.select(b.or_(zero, b.icmp_signed("==", y, _i64(-1))), _i64(1), y)
    r = b.srem(x, safe)
    adjust = b.and_(b.icmp_signed("!=", r, _i64(0)), b.icmp_signed("<", b.xor(r, y), _i64(0)))
    return b.select(adjust, b.add(r, y), r), zero


def _int_divmod(b, x, y):
    """l_divmod: floor quotient and remainder with the divisor's sign; bail on y == 0 and on
    INT_MIN // -1 (the quotient 2**63 does not fit)."""
    overflow = b.and_(b.icmp_signed("==", x, _i64(_INT_MIN)), b.icmp_signed("==", y, _i64(-1)))
    bail = b.or_(b.icmp_signed("==", y, _i64(0)), overflow)
    safe = b.select(bail, _i64(1), y)
    q = b.sdiv(x, safe)
    r = b.srem(x, safe)
    adjust = b.and_(b.icmp_signed("!=", r, _i64(0)), b.icmp_signed("<", b.xor(r, safe), _i64(0)))
    q = b.sub(q, b.zext(adjust, _I64))
    r = b.select(adjust, b.add(r, safe), r)
    return q, r, bail


def _int_truediv(b, x, y):
    """long_true_divide's fast path: both |x|, |y| <= 2**53 convert exactly, so the double
    quotient is the correctly rounded one; larger operands bail (rare), y == 0 bails."""

    def small(v):
        return b.icmp_unsigned("<=", b.add(v, _i64(_TWO53)), _i64(2 * _TWO53))

    bail = b.or_(b.icmp_signed("==", y, _i64(0)), b.not_(b.and_(small(x), small(y))))
    return b.fdiv(b.sitofp(x, _F64), b.sitofp(y, _F64)), bail


def _int_pow(b, x, y):
    """long_pow for a non-negative exponent by repeated squaring with overflow checks (the
    base is squared only while exponent bits remain); a negative exponent bails (float)."""
    negative = b.icmp_signed("<", y, _i64(0))
    start_exp = b.select(negative, _i64(0), y)
    fn = b.function
    start = b.block
    head = fn.append_basic_block("pow.head")
    step = fn.append_basic_block("pow.step")
    done = fn.append_basic_block("pow.done")
    b.branch(head)
    b.position_at_end(head)
    result = b.phi(_I64)
    base = b.phi(_I64)
    exp = b.phi(_I64)
    overflow = b.phi(_I1)
    result.add_incoming(_i64(1), start)
    base.add_incoming(x, start)
    exp.add_incoming(start_exp, start)
    overflow.add_incoming(negative, start)
    b.cbranch(b.and_(b.icmp_signed("!=", exp, _i64(0)), b.not_(overflow)), step, done)
    b.position_at_end(step)
    odd = b.trunc(exp, _I1)
    product, product_overflow = _checked(b, "smul", result, base)
    next_exp = b.lshr(exp, _i64(1))
    square, square_overflow = _checked(b, "smul", base, base)
    next_overflow = b.or_(
        b.and_(odd, product_overflow),
        b.and_(b.icmp_signed("!=", next_exp, _i64(0)), square_overflow),
    )
    result.add_incoming(b.select(odd, product, result), step)
    base.add_incoming(square, step)
    exp.add_incoming(next_exp, step)
    overflow.add_incoming(next_overflow, step)
    b.branch(head)
    b.position_at_end(done)
    return result, overflow


def _int_lshift(b, x, y):
    """long_lshift: negative count -> ValueError (bail); any bit lost -> bail; 0 << n == 0."""
    negative = b.icmp_signed("<", y, _i64(0))
    big = b.icmp_signed(">", y, _i64(63))
    count = b.select(b.or_(negative, big), _i64(0), y)
    r = b.shl(x, count)
    lost = b.icmp_signed("!=", b.ashr(r, count), x)
    nonzero = b.icmp_signed("!=", x, _i64(0))
    return r, b.or_(negative, b.or_(b.and_(big, nonzero), lost))


def _int_rshift(b, x, y):
    """long_rshift: negative count bails; counts past 63 give 0 or -1."""
    count = b.select(b.icmp_unsigned(">", y, _i64(63)), _i64(63), y)
    return b.ashr(x, count), b.icmp_signed("<", y, _i64(0))


_INT_OPS: dict[str, Callable] = {
    "+": _int_add,
    "-": _int_sub,
    "*": _int_mul,
    "//": _int_floordiv,
    "%": _int_mod,
    "/": _int_truediv,
    "**": _int_pow,
    "<<": _int_lshift,
    ">>": _int_rshift,
    "&": lambda b, x, y: (b.and_(x, y), None),
    "|": lambda b, x, y: (b.or_(x, y), None),
    "^": lambda b, x, y: (b.xor(x, y), None),
}

_BOOL_OPS: dict[str, Callable] = {op: _INT_OPS[op] for op in "&|^"}


# ---------------------------------------------------------------------------------------------
# float (double) operations: Objects/floatobject.c


def _float_truediv(b, x, y):
    return b.fdiv(x, y), b.fcmp_ordered("==", y, _f64(0.0))


def _float_rem(b, x, y):
    """float_rem: fmod, then give the remainder the divisor's sign (a zero gets it too)."""
    mod = b.frem(x, y)
    nonzero = b.fcmp_unordered("!=", mod, _f64(0.0))
    differ = b.xor(b.fcmp_ordered("<", y, _f64(0.0)), b.fcmp_ordered("<", mod, _f64(0.0)))
    adjusted = b.select(b.and_(nonzero, differ), b.fadd(mod, y), mod)
    result = b.select(nonzero, adjusted, _fcall(b, "copysign", _f64(0.0), y))
    return result, b.fcmp_ordered("==", y, _f64(0.0))


def _float_div_mod(b, x, y):
    """_float_div_mod: (floordiv, mod) exactly as CPython computes them; bail on y == 0."""
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    nonzero = b.fcmp_unordered("!=", mod, _f64(0.0))
    differ = b.xor(b.fcmp_ordered("<", y, _f64(0.0)), b.fcmp_ordered("<", mod, _f64(0.0)))
    adjust = b.and_(nonzero, differ)
    mod = b.select(adjust, b.fadd(mod, y), mod)
    div = b.select(adjust, b.fsub(div, _f64(1.0)), div)
    mod = b.select(nonzero, mod, _fcall(b, "copysign", _f64(0.0), y))
    floor = _fcall(b, "floor", div)
    floor = b.select(
        b.fcmp_ordered(">", b.fsub(div, floor), _f64(0.5)), b.fadd(floor, _f64(1.0)), floor
    )
    div_nonzero = b.fcmp_unordered("!=", div, _f64(0.0))
    floordiv = b.select(div_nonzero, floor, _fcall(b, "copysign", _f64(0.0), b.fdiv(x, y)))
    return floordiv, mod, b.fcmp_ordered("==", y, _f64(0.0))


def _float_floordiv(b, x, y):
    floordiv, _, bail = _float_div_mod(b, x, y)
    return floordiv, bail


def _float_pow(b, x, y):
    """float_pow with its special cases; complex results, 0.0 ** negative and overflow bail."""
    ax = _fcall(b, "fabs", x)
    odd = _is_odd_integer(b, y)
    negative = b.fcmp_ordered("<", x, _f64(0.0))
    power = _libm(b, "pow", ax, y)
    negate = b.and_(negative, odd)
    unit = b.fcmp_ordered("==", ax, _f64(1.0))
    general = b.select(unit, _f64(1.0), power)
    general = b.select(negate, b.fneg(general), general)
    general_bail = b.or_(
        b.and_(negative, b.fcmp_unordered("!=", y, _fcall(b, "floor", y))),
        b.and_(b.not_(unit), _isinf(b, power)),
    )
    y_positive = b.fcmp_ordered(">", y, _f64(0.0))
    inf_y = b.select(
        unit,
        _f64(1.0),
        b.select(
            b.icmp_unsigned("==", y_positive, b.fcmp_ordered(">", ax, _f64(1.0))),
            _fcall(b, "fabs", y),
            _f64(0.0),
        ),
    )
    inf_x = b.select(
        y_positive,
        b.select(odd, x, ax),
        b.select(odd, _fcall(b, "copysign", _f64(0.0), x), _f64(0.0)),
    )
    zero_x = b.select(odd, x, _f64(0.0))
    one = _f64(1.0)
    nan_y = b.select(b.fcmp_ordered("==", x, one), one, y)
    return _select_chain(
        b,
        (general, general_bail),
        [
            (b.fcmp_ordered("==", y, _f64(0.0)), one, _FALSE),
            (_isnan(b, x), x, _FALSE),
            (_isnan(b, y), nan_y, _FALSE),
            (_isinf(b, y), inf_y, _FALSE),
            (_isinf(b, x), inf_x, _FALSE),
            (b.fcmp_ordered("==", x, _f64(0.0)), zero_x, b.fcmp_ordered("<", y, _f64(0.0))),
        ],
    )


_FLOAT_OPS: dict[str, Callable] = {
    "+": lambda b, x, y: (b.fadd(x, y), None),
    "-": lambda b, x, y: (b.fsub(x, y), None),
    "*": lambda b, x, y: (b.fmul(x, y), None),
    "/": _float_truediv,
    "//": _float_floordiv,
    "%": _float_rem,
    "**": _float_pow,
}


def _finite(emit: Callable) -> Callable:
    """numpy's version of a float operation: a result that is not finite also bails."""

    def emit_np(b, x, y):
        value, bail = emit(b, x, y)
        return value, _or(b, bail, b.not_(_isfinite(b, value)))

    return emit_np


def _float32(emit: Callable) -> Callable:
    """numpy's float32 version of a float operation: computed in double and rounded once to
    float32 (the correctly rounded float32 result for + - * /); a result that is not finite
    bails."""

    def emit_np(b, x, y):
        value, bail = emit(b, b.fpext(x, _F64), b.fpext(y, _F64))
        rounded = b.fptrunc(value, _F32)
        return rounded, _or(b, bail, b.not_(_isfinite(b, b.fpext(rounded, _F64))))

    return emit_np


def _in_int32(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """Whether the i64 ``v`` is an int32's value."""
    return b.icmp_unsigned("<", b.add(v, _i64(2**31)), _i64(2**32))


def _int32(emit: Callable) -> Callable:
    """numpy's int32 version of an int operation: computed on the values in int64 (where
    + - * // % & | ^ of int32 values never overflow); a result outside int32 bails (numpy wraps
    and warns, or wraps silently for ** and <<: the interpreter does either)."""

    def emit_np(b, x, y):
        value, bail = emit(b, x, y)
        return value, _or(b, bail, b.not_(_in_int32(b, value)))

    return emit_np


#: numpy.int64's operations are int's: their results are numpy's wherever numpy's do not wrap,
#: and they bail on every overflow and division by zero (where numpy warns or wraps); ``/``
#: divides the doubles of both.
_NP_I64_OPS = _INT_OPS
_NP_I32_OPS = {op: emit if op == "/" else _int32(emit) for op, emit in _INT_OPS.items()}
_NP_F64_OPS: dict[str, Callable] = {op: _finite(_FLOAT_OPS[op]) for op in "+-*/"}
_NP_F32_OPS: dict[str, Callable] = {op: _float32(_FLOAT_OPS[op]) for op in "+-*/"}

#: computation kind -> op -> emitter(builder, x, y) -> (value, bail or None)
_BINARY: dict[RType, dict[str, Callable]] = {
    BOOL: _BOOL_OPS,
    INT: _INT_OPS,
    FLOAT: _FLOAT_OPS,
    NP_I64: _NP_I64_OPS,
    NP_I32: _NP_I32_OPS,
    NP_F64: _NP_F64_OPS,
    NP_F32: _NP_F32_OPS,
}
#: The type ``/`` of two integers gives.
_TRUE_DIVIDE = {INT: FLOAT, NP_I64: NP_F64, NP_I32: NP_F64}


def _binary_kind(op: str, left: RType, right: RType) -> RType | None:
    kind = _kind(left, right)
    if kind is None:
        return None
    if kind is BOOL and op not in _BOOL_OPS:
        kind = INT
    return kind if op in _BINARY.get(kind, ()) else None


def binary_type(op: str, left: RType, right: RType) -> RType | None:
    """The result type of ``left op right``, or None if native code does not handle it."""
    kind = _binary_kind(op, left, right)
    if op == "/" and kind in _TRUE_DIVIDE:
        return _TRUE_DIVIDE[kind]
    return kind


def emit_binary(builder: ir.IRBuilder, op: str, left: RType, right: RType, a, b) -> Emitted:
    kind = _binary_kind(op, left, right)
    if kind is None:
        raise TypeError(f"unsupported operand types for {op}: {left} and {right}")
    x = emit_convert(builder, a, left, kind)
    y = emit_convert(builder, b, right, kind)
    value, bail = _BINARY[kind][op](builder, x.value, y.value)
    return Emitted(value, _or(builder, x.bail, y.bail, bail))


# ---------------------------------------------------------------------------------------------
# unary operations, truth, conversions


def _neg_int(b, v):
    return _checked(b, "ssub", _i64(0), v)


#: (op, operand type) -> (result type, emitter(builder, v) -> (value, bail))
_UNARY: dict[tuple[str, RType], tuple[RType, Callable]] = {
    ("-", INT): (INT, _neg_int),
    ("+", INT): (INT, lambda b, v: (v, None)),
    ("~", INT): (INT, lambda b, v: (b.xor(v, _i64(-1)), None)),
    ("-", BOOL): (INT, lambda b, v: (b.sext(v, _I64), None)),
    ("+", BOOL): (INT, lambda b, v: (b.zext(v, _I64), None)),
    # ~bool is deprecated (a warning) in 3.12+: left to the interpreter
    ("-", FLOAT): (FLOAT, lambda b, v: (b.fneg(v), None)),
    ("+", FLOAT): (FLOAT, lambda b, v: (v, None)),
    **{("-", t): (t, lambda b, v: (b.fneg(v), None)) for t in (NP_F64, NP_F32)},
    ("-", NP_I64): (NP_I64, _neg_int),
    ("-", NP_I32): (NP_I32, lambda b, v: (b.neg(v), b.not_(_in_int32(b, b.neg(v))))),
    **{("+", t): (t, lambda b, v: (v, None)) for t in (NP_F64, NP_F32, NP_I64, NP_I32)},
    **{("~", t): (t, lambda b, v: (b.xor(v, _i64(-1)), None)) for t in (NP_I64, NP_I32)},
    **{
        ("not", t): (BOOL, lambda b, v, t=t: (b.not_(emit_truth(b, t, v)), None))
        for t in (INT, BOOL, FLOAT, NONE)
    },
}


def unary_type(op: str, t: RType) -> RType | None:
    entry = _UNARY.get((op, t))
    return entry[0] if entry else None


def emit_unary(builder: ir.IRBuilder, op: str, t: RType, v) -> Emitted:
    value, bail = _UNARY[op, t][1](builder, v)
    return Emitted(value, bail)


_TRUTH: dict[RType, Callable] = {
    INT: lambda b, v: b.icmp_signed("!=", v, _i64(0)),
    BOOL: lambda b, v: v,
    FLOAT: lambda b, v: b.fcmp_unordered("!=", v, _f64(0.0)),
    NONE: lambda b, v: _FALSE,
    NP_F64: lambda b, v: b.fcmp_unordered("!=", v, _f64(0.0)),
    NP_F32: lambda b, v: b.fcmp_unordered("!=", v, ir.Constant(_F32, 0.0)),
    NP_I64: lambda b, v: b.icmp_signed("!=", v, _i64(0)),
    NP_I32: lambda b, v: b.icmp_signed("!=", v, _i64(0)),
    NP_BOOL: lambda b, v: v,
}


def emit_truth(builder: ir.IRBuilder, t: RType, v) -> ir.Value:
    """``bool(v)`` as an i1 (nan is true)."""
    return _TRUTH[t](builder, v)


def _same(b: ir.IRBuilder, v: ir.Value) -> tuple[ir.Value, None]:
    return v, None


#: How Python (``__float__``, PyLong_AsDouble: round-half-even) and numpy (a C cast) make a
#: double of a value.
_DOUBLE: dict[RType, Callable] = {
    **dict.fromkeys((BOOL, NP_BOOL), lambda b, v: b.uitofp(v, _F64)),
    **dict.fromkeys((INT, NP_I64, NP_I32), lambda b, v: b.sitofp(v, _F64)),
    **dict.fromkeys((FLOAT, NP_F64), lambda b, v: v),
    NP_F32: lambda b, v: b.fpext(v, _F64),
}
_FLOATS = (FLOAT, NP_F64, NP_F32)


def _double(src: RType) -> Callable:
    return lambda b, v: (_DOUBLE[src](b, v), None)


def _float32_of_double(b: ir.IRBuilder, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """A double cast to float32; a finite one that overflows bails (numpy warns)."""
    r = b.fptrunc(x, _F32)
    return r, b.and_(_isinf(b, b.fpext(r, _F64)), _isfinite(b, x))


def _int_of_float(src: RType, bits: int) -> Callable:
    """A float stored into an int array: ``int()`` of it (truncated), which must fit."""

    def emit(b: ir.IRBuilder, v: ir.Value) -> tuple[ir.Value, ir.Value]:
        converted = _to_int(b, _fcall(b, "trunc", _DOUBLE[src](b, v)), bits)
        return converted.value, converted.bail

    return emit


def _int32_of_int(b: ir.IRBuilder, v: ir.Value) -> tuple[ir.Value, ir.Value]:
    return v, b.not_(_in_int32(b, v))


#: (from, to) -> emitter(builder, v) -> (value, bail or None): Python's widening (bool -> int
#: -> float), how ``int()``/``float()``/``math`` see a numpy scalar, and numpy's conversion of a
#: value to a numpy type -- of an operand (NEP 50) and of an item stored into an array
#: (``a[i] = x``: a float into an int array is truncated, a value out of the type's range
#: bails: numpy raises OverflowError or ValueError, or warns).
_CONVERT: dict[tuple[RType, RType], Callable] = {
    (BOOL, INT): lambda b, v: (b.zext(v, _I64), None),
    (NP_BOOL, INT): lambda b, v: (b.zext(v, _I64), None),
    (NP_BOOL, BOOL): _same,
    **{(t, INT): _same for t in (NP_I64, NP_I32)},
    **{(t, dst): _double(t) for t in _DOUBLE for dst in (FLOAT, NP_F64) if t is not dst},
    **{(t, NP_F32): lambda b, v: (b.uitofp(v, _F32), None) for t in (BOOL, NP_BOOL)},
    (INT, NP_F32): lambda b, v: (b.fptrunc(b.sitofp(v, _F64), _F32), None),  # as numpy: twice
    **{(t, NP_F32): lambda b, v: (b.sitofp(v, _F32), None) for t in (NP_I64, NP_I32)},
    **{(t, NP_F32): _float32_of_double for t in (FLOAT, NP_F64)},
    **{(t, NP_I64): lambda b, v: (b.zext(v, _I64), None) for t in (BOOL, NP_BOOL)},
    **{(t, NP_I64): _same for t in (INT, NP_I32)},
    **{(t, NP_I64): _int_of_float(t, 64) for t in _FLOATS},
    **{(t, NP_I32): lambda b, v: (b.zext(v, _I64), None) for t in (BOOL, NP_BOOL)},
    **{(t, NP_I32): _int32_of_int for t in (INT, NP_I64)},
    **{(t, NP_I32): _int_of_float(t, 32) for t in _FLOATS},
    **{
        (t, NP_BOOL): lambda b, v, t=t: (emit_truth(b, t, v), None) for t in _TRUTH if t is not NONE
    },
}


def emit_convert(builder: ir.IRBuilder, v, src: RType, dst: RType) -> Emitted:
    """``v`` from ``src`` as a ``dst`` (see ``_CONVERT``)."""
    if src == dst:
        return Emitted(v, None)
    value, bail = _CONVERT[src, dst](builder, v)
    return Emitted(value, bail)


# ---------------------------------------------------------------------------------------------
# comparisons


_ICMP = {"<": "<", "<=": "<=", "==": "==", "!=": "!=", ">": ">", ">=": ">="}
_MIRROR = {"<": ">", "<=": ">=", "==": "==", "!=": "!=", ">": "<", ">=": "<="}


def _sign(b: ir.IRBuilder, greater: ir.Value, less: ir.Value) -> ir.Value:
    return b.sub(b.zext(greater, _I64), b.zext(less, _I64))


def _compare_int_float(b: ir.IRBuilder, op: str, i: ir.Value, d: ir.Value) -> ir.Value:
    """``i op d`` exactly, as float_richcompare does (the int is never rounded)."""
    above = b.fcmp_ordered(">=", d, _f64(_TWO63))
    below = b.fcmp_ordered("<", d, _f64(-_TWO63))
    in_range = b.and_(b.fcmp_ordered(">=", d, _f64(-_TWO63)), b.fcmp_ordered("<", d, _f64(_TWO63)))
    safe = b.select(in_range, d, _f64(0.0))
    whole = b.fptosi(safe, _I64)
    frac = b.fsub(safe, b.sitofp(whole, _F64))  # exact
    by_whole = _sign(b, b.icmp_signed(">", i, whole), b.icmp_signed("<", i, whole))
    by_frac = _sign(b, b.fcmp_ordered("<", frac, _f64(0.0)), b.fcmp_ordered(">", frac, _f64(0.0)))
    sign = b.select(b.icmp_signed("!=", by_whole, _i64(0)), by_whole, by_frac)
    sign = b.select(above, _i64(-1), b.select(below, _i64(1), sign))
    result = b.icmp_signed(_ICMP[op], sign, _i64(0))
    nan = _isnan(b, d)
    if op == "!=":
        return b.or_(result, nan)
    return b.and_(result, b.not_(nan))


def compare_type(left: RType, right: RType) -> RType:
    """``bool``, or ``numpy.bool`` when a numpy scalar is compared."""
    return NP_BOOL if left in _NP_CLASS or right in _NP_CLASS else BOOL


def compare_supported(op: str, left: RType, right: RType) -> bool:
    """Whether ``emit_compare`` handles ``left op right`` (None only with ``==``/``!=``)."""
    if op not in _ICMP:
        return False
    if _kind(left, right) is not None:
        return True
    return (
        NONE in (left, right)
        and op in ("==", "!=")
        and (left in _NUMBERS + (NONE,))
        and (right in _NUMBERS + (NONE,))
    )


def emit_compare(builder: ir.IRBuilder, op: str, left: RType, right: RType, a, b) -> Emitted:
    """``a op b`` as an i1, with Python's rules (exact int/float comparison, nan unordered);
    numpy compares integers and bools exactly, and floats in the promoted type (an operand
    converted as for arithmetic, which may bail)."""
    if NONE in (left, right):
        same = left == right
        return Emitted(ir.Constant(_I1, int(same == (op == "=="))), None)
    kind = _numpy_kind(left, right)
    if kind in (NP_F64, NP_F32):
        x, y = emit_convert(builder, a, left, kind), emit_convert(builder, b, right, kind)
        compare = builder.fcmp_unordered if op == "!=" else builder.fcmp_ordered
        return Emitted(compare(op, x.value, y.value), _or(builder, x.bail, y.bail))
    return Emitted(_compare_python(builder, op, left, right, a, b), None)


def _compare_python(builder: ir.IRBuilder, op: str, left: RType, right: RType, a, b) -> ir.Value:
    """``a op b`` of Python numbers (or numpy integers and bools, which compare as ints)."""
    if left is FLOAT and right is FLOAT:
        if op == "!=":
            return builder.fcmp_unordered("!=", a, b)
        return builder.fcmp_ordered(op, a, b)
    if left is FLOAT:
        y = emit_convert(builder, b, right, INT).value
        return _compare_int_float(builder, _MIRROR[op], y, a)
    x = emit_convert(builder, a, left, INT).value
    if right is FLOAT:
        return _compare_int_float(builder, op, x, b)
    return builder.icmp_signed(op, x, emit_convert(builder, b, right, INT).value)


# ---------------------------------------------------------------------------------------------
# builtins and math functions: Python/bltinmodule.c, Modules/mathmodule.c


def _as_float(b: ir.IRBuilder, t: RType, v) -> ir.Value:
    return emit_convert(b, v, t, FLOAT).value


def _math_1_bail(b: ir.IRBuilder, x: ir.Value, r: ir.Value) -> ir.Value:
    """math_1: a nan from a non-nan or an infinity from a finite argument raises."""
    return b.or_(b.and_(_isnan(b, r), b.not_(_isnan(b, x))), b.and_(_isinf(b, r), _isfinite(b, x)))


def _math_1(compute: Callable) -> Callable:
    def emit(b, types, values):
        x = _as_float(b, types[0], values[0])
        r = compute(b, x)
        return Emitted(r, _math_1_bail(b, x, r))

    return emit


def _log(name: str) -> Callable:
    """loghelper + m_log/m_log2/m_log10: x <= 0 (-inf included) raises; 2-arg log divides."""

    def one(b, t, v):
        x = _as_float(b, t, v)
        return _libm(b, name, x), b.fcmp_ordered("<=", x, _f64(0.0))

    def emit(b, types, values):
        num, bail = one(b, types[0], values[0])
        if len(values) == 1:
            return Emitted(num, bail)
        den, den_bail = one(b, types[1], values[1])
        zero = b.fcmp_ordered("==", den, _f64(0.0))
        return Emitted(b.fdiv(num, den), _or(b, bail, den_bail, zero))

    return emit


def _atan2(b, types, values):
    """m_atan2's special cases, then libm atan2 (math_2 never raises for it)."""
    y, x = (_as_float(b, t, v) for t, v in zip(types, values, strict=True))
    x_positive = b.fcmp_ordered("==", _fcall(b, "copysign", _f64(1.0), x), _f64(1.0))
    pi = math.pi
    inf_both = _fcall(b, "copysign", b.select(x_positive, _f64(0.25 * pi), _f64(0.75 * pi)), y)
    inf_y = b.select(_isinf(b, x), inf_both, _fcall(b, "copysign", _f64(0.5 * pi), y))
    axis = _fcall(b, "copysign", b.select(x_positive, _f64(0.0), _f64(pi)), y)
    value, _ = _select_chain(
        b,
        (_libm(b, "atan2", y, x), _FALSE),
        [
            (b.or_(_isnan(b, x), _isnan(b, y)), _f64(math.nan), _FALSE),
            (_isinf(b, y), inf_y, _FALSE),
            (b.or_(_isinf(b, x), b.fcmp_ordered("==", y, _f64(0.0))), axis, _FALSE),
        ],
    )
    return Emitted(value, None)


def _hypot(b, types, values):
    """math.hypot(x, y) = vector_norm of (|x|, |y|): scaled, lossless squares, Neumaier sum
    and a differential correction of the square root (CPython 3.11-3.13)."""
    ax, ay = (_fcall(b, "fabs", _as_float(b, t, v)) for t, v in zip(types, values, strict=True))
    first = b.select(b.fcmp_ordered(">", ax, _f64(0.0)), ax, _f64(0.0))
    top = b.select(b.fcmp_ordered(">", ay, first), ay, first)  # the max, skipping nans
    found_nan = b.or_(_isnan(b, ax), _isnan(b, ay))
    # frexp(top) < -1023 (tiny subnormals): CPython divides everything by DBL_MIN first
    tiny = b.fcmp_ordered("<", top, _f64(2.0**-1024))
    factor = b.select(tiny, _f64(2.2250738585072014e-308), _f64(1.0))
    ax, ay, top = (b.fdiv(v, factor) for v in (ax, ay, top))
    # scale = ldexp(1.0, -frexp(top).exponent); a subnormal top is normalised by 2**54 first
    subnormal = b.fcmp_ordered("<", top, _f64(2.0**-1022))
    normal = b.select(subnormal, b.fmul(top, _f64(2.0**54)), top)
    exponent = b.sub(b.lshr(b.bitcast(normal, _I64), _i64(52)), _i64(1022))
    exponent = b.sub(exponent, b.select(subnormal, _i64(54), _i64(0)))
    scale = _libm(b, "ldexp", _f64(1.0), b.trunc(b.neg(exponent), ir.IntType(32)))

    def dl_mul(x, y):
        z = b.fmul(x, y)
        return z, _fcall(b, "fma", x, y, b.fneg(z))

    def dl_fast_sum(a, c):
        x = b.fadd(a, c)
        return x, b.fsub(c, b.fsub(x, a))

    csum, frac1, frac2 = _f64(1.0), _f64(0.0), _f64(0.0)
    for v in (ax, ay):
        hi, lo = dl_mul(b.fmul(v, scale), b.fmul(v, scale))
        csum, sum_lo = dl_fast_sum(csum, hi)
        frac1, frac2 = b.fadd(frac1, lo), b.fadd(frac2, sum_lo)
    h = _fcall(b, "sqrt", b.fadd(b.fsub(csum, _f64(1.0)), b.fadd(frac1, frac2)))
    hi, lo = dl_mul(b.fneg(h), h)
    csum, sum_lo = dl_fast_sum(csum, hi)
    frac1, frac2 = b.fadd(frac1, lo), b.fadd(frac2, sum_lo)
    x = b.fadd(b.fsub(csum, _f64(1.0)), b.fadd(frac1, frac2))
    h = b.fadd(h, b.fdiv(x, b.fmul(_f64(2.0), h)))
    norm = b.fmul(b.fdiv(h, scale), factor)
    value, _ = _select_chain(
        b,
        (norm, _FALSE),
        [
            (_isinf(b, top), _f64(math.inf), _FALSE),
            (found_nan, _f64(math.nan), _FALSE),
            (b.fcmp_ordered("==", top, _f64(0.0)), _f64(0.0), _FALSE),
        ],
    )
    return Emitted(value, None)


def _math_pow(b, types, values):
    """math_pow: IEEE specials handled directly; a non-finite libm result from finite
    arguments raises."""
    x, y = (_as_float(b, t, v) for t, v in zip(types, values, strict=True))
    power = _libm(b, "pow", x, y)
    ax = _fcall(b, "fabs", x)
    odd = b.and_(_isfinite(b, y), _is_odd_integer(b, y))
    y_positive = b.fcmp_ordered(">", y, _f64(0.0))
    y_negative = b.fcmp_ordered("<", y, _f64(0.0))
    inf_x = b.select(
        y_positive,
        b.select(odd, x, ax),
        b.select(
            b.fcmp_ordered("==", y, _f64(0.0)),
            _f64(1.0),
            b.select(odd, _fcall(b, "copysign", _f64(0.0), x), _f64(0.0)),
        ),
    )
    inf_y = b.select(
        b.fcmp_ordered("==", ax, _f64(1.0)),
        _f64(1.0),
        b.select(
            b.and_(y_positive, b.fcmp_ordered(">", ax, _f64(1.0))),
            y,
            b.select(b.and_(y_negative, b.fcmp_ordered("<", ax, _f64(1.0))), b.fneg(y), _f64(0.0)),
        ),
    )
    one = _f64(1.0)
    value, bail = _select_chain(
        b,
        (power, b.not_(_isfinite(b, power))),
        [
            (_isnan(b, x), b.select(b.fcmp_ordered("==", y, _f64(0.0)), one, x), _FALSE),
            (_isnan(b, y), b.select(b.fcmp_ordered("==", x, one), one, y), _FALSE),
            (_isinf(b, x), inf_x, _FALSE),
            (_isinf(b, y), inf_y, _FALSE),
        ],
    )
    return Emitted(value, bail)


def _integral(rounding: str) -> Callable:
    """math.floor/ceil/trunc: an int argument is returned as int, a float one is rounded and
    converted (PyLong_FromDouble: nan, inf and values outside int64 bail)."""

    def emit(b, types, values):
        if types[0] is not FLOAT:
            return Emitted(emit_convert(b, values[0], types[0], INT).value, None)
        return _to_int(b, _fcall(b, rounding, values[0]))

    return emit


def _float_round(b: ir.IRBuilder, x: ir.Value) -> Emitted:
    """float.__round__(None): round half to even, as CPython's float___round___impl."""
    rounded = _fcall(b, "round", x)
    halfway = b.fcmp_ordered("==", _fcall(b, "fabs", b.fsub(x, rounded)), _f64(0.5))
    even = b.fmul(_f64(2.0), _fcall(b, "round", b.fdiv(x, _f64(2.0))))
    return _to_int(b, b.select(halfway, even, rounded))


def _round(b, types, values):
    if len(types) == 2 and types[1] is not NONE:
        digits = emit_convert(b, values[1], types[1], INT).value
        value = emit_convert(b, values[0], types[0], INT).value
        return Emitted(value, b.icmp_signed("<", digits, _i64(0)))
    if types[0] is FLOAT:
        return _float_round(b, values[0])
    return Emitted(emit_convert(b, values[0], types[0], INT).value, None)


def _abs(b, types, values):
    t, v = types[0], values[0]
    if t is FLOAT:
        return Emitted(_fcall(b, "fabs", v), None)
    x = emit_convert(b, v, t, INT).value
    negated, overflow = _neg_int(b, x)
    return Emitted(b.select(b.icmp_signed("<", x, _i64(0)), negated, x), overflow)


def _min_max(op: str) -> Callable:
    """min/max keep the first of equal items: an item replaces the current one only when
    ``item < current`` (min) or ``item > current`` (max)."""

    def emit(b, types, values):
        current = values[0]
        for v in values[1:]:
            better = emit_compare(b, op, types[0], types[0], v, current).value
            current = b.select(better, v, current)
        return Emitted(current, None)

    return emit


def _int(b, types, values):
    if types[0] is FLOAT:
        return _to_int(b, _fcall(b, "trunc", values[0]))
    return Emitted(emit_convert(b, values[0], types[0], INT).value, None)


def _divmod(b, types, values):
    kind = _binary_kind("//", *types)
    x, y = (emit_convert(b, v, t, kind).value for t, v in zip(types, values, strict=True))
    q, r, bail = (_int_divmod if kind is INT else _float_div_mod)(b, x, y)
    pair = ir.Constant(ir.LiteralStructType([q.type, r.type]), None)
    pair = b.insert_value(b.insert_value(pair, q, 0), r, 1)
    return Emitted(pair, bail)


def _pow(b, types, values):
    return emit_binary(b, "**", types[0], types[1], values[0], values[1])


def _numeric_args(count: tuple[int, ...], result: Callable[[tuple[RType, ...]], object]):
    def rule(args):
        if len(args) not in count or _kind(*args) is None:
            return None
        return result(args)

    return rule


def _same_type(args):
    return args[0] if all(a == args[0] for a in args) else None


def _math_isx(test: Callable) -> Callable:
    def emit(b, types, values):
        return Emitted(test(b, _as_float(b, types[0], values[0])), None)

    return emit


def _copysign(b, types, values):
    x, y = (_as_float(b, t, v) for t, v in zip(types, values, strict=True))
    return Emitted(_fcall(b, "copysign", x, y), None)


def _round_type(args):
    if len(args) == 2 and args[1] is NONE:
        args = args[:1]
    if len(args) == 1:
        return INT if args[0] in _NUMBERS else None
    return INT if len(args) == 2 and all(a in (INT, BOOL) for a in args) else None


_ONE = (1,)
_TWO = (2,)
_FLOAT_RESULT = _numeric_args(_ONE, lambda a: FLOAT)
_FLOAT_RESULT_2 = _numeric_args(_TWO, lambda a: FLOAT)

#: name -> (type rule(args) -> result type or None, emitter(builder, types, values) -> Emitted)
_CALLS: dict[str, tuple[Callable, Callable]] = {
    "abs": (_numeric_args(_ONE, lambda a: FLOAT if a[0] is FLOAT else INT), _abs),
    "min": (lambda a: _same_type(a) if len(a) >= 2 and _kind(*a) else None, _min_max("<")),
    "max": (lambda a: _same_type(a) if len(a) >= 2 and _kind(*a) else None, _min_max(">")),
    "int": (_numeric_args(_ONE, lambda a: INT), _int),
    "float": (_FLOAT_RESULT, lambda b, t, v: Emitted(_as_float(b, t[0], v[0]), None)),
    "bool": (
        lambda a: BOOL if len(a) == 1 and a[0] in _NUMBERS + (NONE,) else None,
        lambda b, t, v: Emitted(emit_truth(b, t[0], v[0]), None),
    ),
    "round": (_round_type, _round),
    "divmod": (
        _numeric_args(_TWO, lambda a: TupleType((_binary_kind("//", *a),) * 2)),
        _divmod,
    ),
    "pow": (_numeric_args(_TWO, lambda a: binary_type("**", *a)), _pow),
    "math.sqrt": (_FLOAT_RESULT, _math_1(lambda b, x: _fcall(b, "sqrt", x))),
    "math.fabs": (_FLOAT_RESULT, _math_1(lambda b, x: _fcall(b, "fabs", x))),
    **{
        f"math.{name}": (_FLOAT_RESULT, _math_1(lambda b, x, name=name: _libm(b, name, x)))
        for name in ("exp", "sin", "cos", "tan", "asin", "acos", "atan")
    },
    "math.log": (_numeric_args((1, 2), lambda a: FLOAT), _log("log")),
    "math.log2": (_FLOAT_RESULT, _log("log2")),
    "math.log10": (_FLOAT_RESULT, _log("log10")),
    "math.atan2": (_FLOAT_RESULT_2, _atan2),
    "math.hypot": (_FLOAT_RESULT_2, _hypot),
    "math.pow": (_FLOAT_RESULT_2, _math_pow),
    "math.copysign": (_FLOAT_RESULT_2, _copysign),
    "math.floor": (_numeric_args(_ONE, lambda a: INT), _integral("floor")),
    "math.ceil": (_numeric_args(_ONE, lambda a: INT), _integral("ceil")),
    "math.trunc": (_numeric_args(_ONE, lambda a: INT), _integral("trunc")),
    "math.isnan": (_numeric_args(_ONE, lambda a: BOOL), _math_isx(_isnan)),
    "math.isinf": (_numeric_args(_ONE, lambda a: BOOL), _math_isx(_isinf)),
    "math.isfinite": (_numeric_args(_ONE, lambda a: BOOL), _math_isx(_isfinite)),
}


#: What ``int()`` takes a numpy scalar as (``__int__``: an integer exactly); ``float()`` and
#: ``math`` functions take every one as the Python float ``__float__`` gives.
_AS_INT = {NP_F64: FLOAT, NP_F32: FLOAT, NP_I64: INT, NP_I32: INT, NP_BOOL: BOOL}


def _plain(name: str, args: tuple[RType, ...]) -> tuple[RType, ...] | None:
    """``args`` with numpy scalars read as the Python numbers ``name`` converts them to, else
    None (``math.trunc`` calls ``__trunc__``, which only numpy.float64, a float, has)."""
    numpy = {t for t in args if t in _NP_CLASS}
    if not numpy:
        return args
    if name == "int":
        return tuple(_AS_INT.get(t, t) for t in args)
    if name == "float" or name.startswith("math.") and (name != "math.trunc" or numpy == {NP_F64}):
        return tuple(FLOAT if t in _NP_CLASS else t for t in args)
    return None


def call_type(name: str, args: tuple[RType, ...]) -> RType | TupleType | None:
    """The result type of calling builtin or ``math.<fn>`` ``name``; None if unsupported."""
    entry = _CALLS.get(name)
    plain = _plain(name, tuple(args))
    return entry[0](plain) if entry and plain is not None else None


def emit_call(builder: ir.IRBuilder, name: str, args: tuple[RType, ...], values: list) -> Emitted:
    plain = _plain(name, tuple(args))
    values = [
        emit_convert(builder, v, t, p).value for v, t, p in zip(values, args, plain, strict=True)
    ]
    return _CALLS[name][1](builder, plain, values)
