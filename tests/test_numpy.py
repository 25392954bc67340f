"""numpy arrays (float64, float32, int64, int32, bool) in native code: reads give numpy's
scalars with numpy's semantics (NEP 50), stores write in place through the strides and convert
as numpy does, ``shape``/``len``; any surprise (another dtype, a read-only array, an index out
of bounds, a result numpy would warn about or raise for) runs python.
Compared with python on value, type, bits, warnings, exceptions and the arrays."""

from __future__ import annotations

import math
import traceback
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

from pyfast.compiler import Unsupported, compile_function  # noqa: E402

MISS = object()
FALLBACK = object()


def _fallback(*args: object) -> object:
    return FALLBACK


def kernel(a, b, out):
    total = 0.0
    for i in range(a.shape[0]):
        v = a[i] * b[i] + 0.5 * a[i]
        out[i] = v
        total += v
    return total


def weighted_grid(m):
    s = 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            s += m[i, j] * (i - j)
    return s


def stencil(a, out):
    for i in range(1, len(a) - 1):
        out[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
    return out[-2]


def positives(a):
    n = 0
    for i in range(len(a)):
        if a[i] > 0.0:
            n += 1
    return n


def first_is_big(a):
    return a[0] > 1.0


def root_sum(a):
    s = 0.0
    for i in range(len(a)):
        s += math.sqrt(a[i])
    return s


def ratio(a, b):
    return a[0] / b[0]


def scaled_store(a, k):
    for i in range(len(a)):
        a[i] = k * i
    return a[len(a) - 1]


def at(a, i):
    return a[i]


def outcome(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
        except Exception as exc:  # noqa: BLE001
            line = traceback.extract_tb(exc.__traceback__)[-1].lineno
            result = ("raise", type(exc), str(exc), line)
        else:
            result = ("ok", type(value), _bits(value))
    return result, [str(w.message) for w in caught]


def _bits(value):
    if isinstance(value, list):
        return [_bits(item) for item in value]
    if isinstance(value, np.ndarray | np.generic):
        return type(value), value.tobytes()
    if isinstance(value, float):
        return np.float64(value).tobytes()
    return value


def copy(args):
    return [a.copy() if isinstance(a, np.ndarray | list) else a for a in args]


def run(func, args):
    """python and native (a miss or a failed guard runs python, as the hook does)."""
    python_args, native_args = copy(args), copy(args)
    expected = outcome(lambda: func(*python_args))
    signature = tuple(map(type, args))
    c = compile_function(func, signature, fallback=_fallback, miss=MISS, sample=tuple(args))
    got = outcome(lambda: c.entry(*native_args))
    if got[0][:2] == ("ok", object):
        got = outcome(lambda: func(*native_args))
    return expected, got, python_args, native_args, c


A = np.linspace(-1.0, 2.0, 9)
M = np.arange(12.0).reshape(3, 4)
CASES = [
    (kernel, [A, A[::-1].copy(), np.empty(9)]),
    (kernel, [A[::2], A[1::2].copy()[:5], np.empty(5)]),
    (weighted_grid, [M]),
    (weighted_grid, [M.T]),
    (weighted_grid, [np.empty((0, 3))]),
    (stencil, [A, np.zeros(9)]),
    (positives, [A]),
    (first_is_big, [A[::-1]]),
    (root_sum, [np.abs(A)]),
    (root_sum, [A]),  # math domain error
    (ratio, [A, np.zeros(1)]),  # numpy warns: divide by zero
    (ratio, [np.array([1e308]), np.array([1e-308])]),  # numpy warns: overflow
    (scaled_store, [np.zeros(4), 2**60 + 1]),
    (scaled_store, [np.zeros(4), 0.5]),
    (at, [A, -2]),
    (at, [A, 9]),  # numpy's IndexError
    (at, [M, 1]),
]


@pytest.mark.parametrize(("func", "args"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_numpy_code_matches_python(func, args):
    if func is at and args[0].ndim == 2:
        with pytest.raises(Unsupported, match="1 indices"):
            compile_function(
                at, (np.ndarray, int), fallback=_fallback, miss=MISS, sample=tuple(args)
            )
        return
    expected, got, python_args, native_args, _ = run(func, args)
    assert got == expected
    for p, n in zip(python_args, native_args, strict=True):
        assert _bits(p) == _bits(n)


def test_results_are_numpy_scalars_and_run_natively():
    out = np.empty(9)
    c = compile_function(
        kernel, (np.ndarray,) * 3, fallback=_fallback, miss=MISS, sample=(A, A, out)
    )
    result = c.entry(A, A, out)
    assert type(result) is np.float64 and result == kernel(A, A, np.empty(9))
    assert c.counters()["native_calls"] == 1
    big = c = compile_function(
        first_is_big, (np.ndarray,), fallback=_fallback, miss=MISS, sample=(A,)
    )
    assert type(big.entry(A)) is np.bool_


def test_guards_send_other_arrays_to_python():
    c = compile_function(positives, (np.ndarray,), fallback=_fallback, miss=MISS, sample=(A,))
    assert c.entry(A) == positives(A)
    subclass = type("Sub", (np.ndarray,), {})
    for other in (np.arange(3), A.astype(np.float32), M, A.astype(">f8"), A.view(subclass)):
        assert c.entry(other) is FALLBACK


def test_read_only_array_is_stored_by_python():
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    c = compile_function(
        scaled_store, (np.ndarray, int), fallback=_fallback, miss=MISS, sample=(np.zeros(3), 1)
    )
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        c.entry(frozen, 1)  # the store bails; python raises at it


def logged_scale(a, log, k):
    """Appends (an effect), then overflows: the resume gets numpy scalars back."""
    for i in range(len(a)):
        log.append(a[i])
        a[i] = a[i] * k
    return log


def test_deoptimizing_with_numpy_values_in_the_frame():
    a = np.array([1.0, 2.0, 1e300, 4.0])
    expected, got, python_args, native_args, c = run(logged_scale, [a, [], 1e10])
    assert got == expected
    assert [type(x) for x in native_args[1]] == [np.float64] * 4
    assert native_args[1] == python_args[1] and _bits(native_args[0]) == _bits(python_args[0])
    assert sum(c.deopts().values()) == 1


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(FLOATS, min_size=1, max_size=8), other=st.lists(FLOATS, min_size=8, max_size=8)
)
def test_kernel_over_random_arrays(values, other):
    a = np.array(values)
    b = np.array(other[: len(values)])
    expected, got, python_args, native_args, _ = run(kernel, [a, b, np.zeros(len(values))])
    assert got == expected
    assert _bits(python_args[2]) == _bits(native_args[2])


NUMPY_SCRIPT = """
import numpy as np

def kernel(a, b, out):
    total = 0.0
    for i in range(a.shape[0]):
        v = a[i] * b[i] + 0.5 * a[i]
        out[i] = v
        total += v
    return total

n = 2000
a = np.arange(n, dtype=np.float64) / n
b = np.ones(n) - a
out = np.empty(n)
for _ in range(3):
    t = kernel(a, b, out)
print(repr(t), type(t).__name__, out[-1])
"""


def test_numpy_loop_runs_natively_through_pyfast(python_and_pyfast):
    got, records = python_and_pyfast(NUMPY_SCRIPT)
    assert records["kernel"]["status"] == "compiled" and records["kernel"]["native_calls"] >= 2


def half(x):
    return x * 0.5


def test_numpy_scalar_arguments():
    x = np.float64(3.0)
    c = compile_function(half, (np.float64,), fallback=_fallback, miss=MISS, sample=(x,))
    result = c.entry(x)
    assert type(result) is np.float64 and result == 1.5
    assert c.entry(3.0) is FALLBACK and c.entry(np.float32(3.0)) is FALLBACK


LOOP_ONCE = """
import numpy as np

def kernel(a, out):
    total = 0.0
    for i in range(a.shape[0]):
        v = a[i] * 0.5
        out[i] = v
        total += v
    return total

a = np.arange(5000.0)
out = np.empty(5000)
t = kernel(a, out)
print(repr(t), type(t).__name__, out[-1])
"""


def test_a_loop_with_numpy_scalar_locals_is_entered(python_and_pyfast):
    """Called once: the loop's OSR entry takes ``total`` as a numpy.float64."""
    got, records = python_and_pyfast(LOOP_ONCE)
    assert got.returncode == 0
    assert records["kernel"]["osr_entries"] == 1


# -- float32, int64, int32 and bool -----------------------------------------------------------

DTYPES = ("float64", "float32", "int64", "int32", "bool")
ELEMENTS = {
    "float64": st.floats(width=64),
    "float32": st.floats(width=32),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "bool": st.booleans(),
}
#: Python operands: ints (in and past int32's range), floats (past float32's too), bools.
PYTHON = st.one_of(
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)]),
    st.floats(width=64),
    st.sampled_from([1e300, 3.5e38, 1e-50, 0.5]),
    st.booleans(),
)
OPERATORS = ("+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^")
COMPARISONS = ("<", "<=", "==", "!=", ">", ">=")


def _function(source: str, name: str):
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - test functions made per operator
    return namespace[name]


ITEM_OP_X = {op: _function(f"def f(a, x):\n    return a[0] {op} x\n", "f") for op in OPERATORS}
X_OP_ITEM = {op: _function(f"def f(a, x):\n    return x {op} a[0]\n", "f") for op in OPERATORS}
ITEM_OP_ITEM = {
    op: _function(f"def f(a, b):\n    return a[0] {op} b[0]\n", "f")
    for op in OPERATORS + COMPARISONS
}
ITEM_CMP_X = {op: _function(f"def f(a, x):\n    return a[0] {op} x\n", "f") for op in COMPARISONS}
_COMPILED: dict = {}


def compiled(func, args):
    """``func`` compiled for the types of ``args`` (once), or None when it is not compiled."""
    key = (func, *(a.dtype if isinstance(a, np.ndarray) else type(a) for a in args))
    if key not in _COMPILED:
        signature = tuple(map(type, args))
        try:
            _COMPILED[key] = compile_function(
                func, signature, fallback=_fallback, miss=MISS, sample=tuple(args)
            )
        except Unsupported:
            _COMPILED[key] = None
    return _COMPILED[key]


def same_as_python(func, args):
    """Native and python agree on ``func(*args)`` (value, type, bits, warnings, exception and
    the arrays); returns whether native code ran it to the end."""
    python_args, native_args = copy(args), copy(args)
    expected = outcome(lambda: func(*python_args))
    c = compiled(func, args)
    if c is None:
        return False
    before = c.counters()["native_calls"]
    got = outcome(lambda: c.entry(*native_args))
    native = got[0][:2] != ("ok", object)
    if not native:  # a miss: python runs the call, as the hook does
        got = outcome(lambda: func(*native_args))
    assert got == expected, (func, args)
    for p, n in zip(python_args, native_args, strict=True):
        assert _bits(p) == _bits(n)
    return native and c.counters()["native_calls"] > before


@settings(max_examples=300, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), op=st.sampled_from(OPERATORS + COMPARISONS))
def test_items_with_python_numbers(data, dtype, op):
    a = np.array([data.draw(ELEMENTS[dtype])], dtype=dtype)
    x = data.draw(PYTHON)
    funcs = [ITEM_CMP_X[op]] if op in COMPARISONS else [ITEM_OP_X[op], X_OP_ITEM[op]]
    for func in funcs:
        same_as_python(func, [a, x])


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
    op=st.sampled_from(OPERATORS + COMPARISONS),
)
def test_items_with_items(data, dtypes, op):
    a, b = (np.array([data.draw(ELEMENTS[d])], dtype=d) for d in dtypes)
    same_as_python(ITEM_OP_ITEM[op], [a, b])


def store(a, x):
    a[0] = x
    return a[0]


def store_item(a, b):
    a[-1] = b[0]
    return a[-1]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), other=st.sampled_from(DTYPES))
def test_stores_convert_as_numpy(data, dtype, other):
    a = np.zeros(2, dtype=dtype)
    same_as_python(store, [a, data.draw(PYTHON)])
    same_as_python(store_item, [a, np.array([data.draw(ELEMENTS[other])], dtype=other)])


#: What numpy 2 gives -- (a numpy type, another operand) -> the result's type -- and what
#: native code must run to the end (the promotion table, ``numeric._numpy_kind``).
NATIVE_RESULTS = [
    (np.float32(1.5), 2, np.float32),
    (np.float32(1.5), 0.1, np.float32),
    (np.float32(1.5), True, np.float32),
    (np.float32(1.5), np.float64(2.0), np.float64),
    (np.float32(1.5), np.int32(3), np.float64),
    (np.float32(1.5), np.int64(3), np.float64),
    (np.int64(7), 2, np.int64),
    (np.int64(7), 2.5, np.float64),
    (np.int64(7), np.int32(2), np.int64),
    (np.int64(7), np.True_, np.int64),
    (np.int32(7), 2, np.int32),
    (np.int32(7), 2.5, np.float64),
    (np.int32(7), True, np.int32),
    (np.True_, 2, np.int64),
    (np.True_, 2.5, np.float64),
    (np.True_, np.int32(2), np.int32),
    (np.True_, np.float32(2), np.float32),
]


@pytest.mark.parametrize(("x", "y", "result"), NATIVE_RESULTS, ids=str)
def test_promotion_runs_natively_with_numpys_types(x, y, result):
    a = np.array([x])
    args = [a, np.array([y])] if isinstance(y, np.generic) else [a, y]
    func = ITEM_OP_ITEM["+"] if isinstance(y, np.generic) else ITEM_OP_X["+"]
    assert type(x + y) is result
    assert same_as_python(func, args)
    assert type(compiled(func, args).entry(*args)) is result


def test_promotion_table_is_numpys():
    """``numeric._numpy_kind`` against numpy's own result types, for every pair of operands."""
    from pyfast.compiler import numeric
    from pyfast.compiler.types import BOOL, FLOAT, INT, of_value

    values = [np.float64(1.5), np.float32(1.5), np.int64(3), np.int32(3), np.True_, 3, 1.5, True]
    python = {int: INT, float: FLOAT, bool: BOOL}
    for x in values:
        for y in values:
            tx, ty = (python.get(type(v)) or of_value(v) for v in (x, y))
            kind = numeric._numpy_kind(tx, ty)
            if kind is None:
                assert not isinstance(x, np.generic) and not isinstance(y, np.generic)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                expected = type(x * y)  # "+" of two bools is numpy's logical or, also bool
            assert kind.name == f"numpy.{expected.__name__}", (x, y)


UNARY_AND_CALLS = [
    _function(f"def f(a):\n    return {expr}\n", "f")
    for expr in (
        "-a[0]",
        "+a[0]",
        "~a[0]",
        "not a[0]",
        "float(a[0])",
        "int(a[0])",
        "math.sqrt(a[0])",
        "math.floor(a[0])",
        "math.trunc(a[0])",
        "1 if a[0] else 2",
    )
]
for _f in UNARY_AND_CALLS:
    _f.__globals__["math"] = math


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES))
def test_unary_operators_and_calls(data, dtype):
    a = np.array([data.draw(ELEMENTS[dtype])], dtype=dtype)
    for func in UNARY_AND_CALLS:
        same_as_python(func, [a])


def int_sum(a):
    s = 0
    for i in range(len(a)):
        s += a[i]
    return s


def f32_dot(a, b):
    s = a[0] * 0  # a numpy.float32 (NEP 50)
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def count_true(m):
    n = 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                n += 1
    return n


def gather(values, index):
    s = 0.0
    for k in range(len(index)):
        s += values[index[k]]
    return s


def threshold(a, out, t):
    for i in range(len(a)):
        out[i] = a[i] > t
    return out


def shapes(a):
    return a.shape, len(a)


I64 = np.arange(-5, 7, dtype=np.int64)
KERNELS = [
    (int_sum, [I64]),
    (int_sum, [I64[::-3]]),
    (int_sum, [np.array([2**62, 2**62], dtype=np.int64)]),  # numpy warns: overflow
    (int_sum, [np.arange(10, dtype=np.int32)]),
    (int_sum, [np.array([2**31 - 1, 1], dtype=np.int32)]),  # numpy warns: overflow
    (int_sum, [np.array([True, False, True])]),
    (f32_dot, [np.linspace(0, 1, 7, dtype=np.float32), np.full(7, 0.1, dtype=np.float32)]),
    (f32_dot, [np.array([3e38, 3e38], np.float32), np.ones(2, np.float32)]),  # overflow
    (count_true, [np.eye(4, dtype=bool)]),
    (count_true, [np.eye(4, dtype=bool).T[::2]]),
    (gather, [np.linspace(0, 1, 5), np.array([4, 0, -1], dtype=np.int64)]),
    (gather, [np.linspace(0, 1, 5), np.array([4, 5], dtype=np.int32)]),  # IndexError
    (threshold, [np.arange(5, dtype=np.int32), np.zeros(5, dtype=bool), 2]),
    (threshold, [np.arange(5, dtype=np.float32), np.zeros(5, dtype=np.int64), 2.5]),
    (shapes, [np.zeros((3, 2), np.int32)]),
    (shapes, [np.zeros(4, np.float32)]),
    (at, [np.arange(3, dtype=np.int32), 5]),  # IndexError
]


@pytest.mark.parametrize(("func", "args"), KERNELS, ids=lambda v: getattr(v, "__name__", ""))
def test_dtype_kernels_match_python(func, args):
    same_as_python(func, args)


def test_kernels_over_dtypes_run_natively():
    for func, args in KERNELS[:2] + KERNELS[3:4] + KERNELS[5:7] + KERNELS[8:11]:
        assert same_as_python(func, args), func.__name__
    assert type(compiled(int_sum, [I64]).entry(I64)) is np.int64
    assert type(compiled(count_true, [np.eye(2, dtype=bool)]).entry(np.eye(2, dtype=bool))) is int


def test_other_dtypes_and_scalars_are_guarded():
    c = compiled(int_sum, [I64])
    for other in (I64.astype(np.int32), I64.astype("q"), I64.astype(">i8"), I64.astype(float)):
        assert c.entry(other) is FALLBACK
    half32 = compiled(half, [np.float32(3.0)])
    assert type(half32.entry(np.float32(3.0))) is np.float32
    assert half32.entry(np.float64(3.0)) is FALLBACK


def test_bool_is_not_an_array_index():
    with pytest.raises(Unsupported, match="array index of type bool"):
        compile_function(at, (np.ndarray, bool), fallback=_fallback, miss=MISS, sample=(A, True))


def test_unsupported_combinations_stay_interpreted():
    for func, args in [
        (ITEM_OP_X["//"], [np.ones(1, np.float32), 2.0]),  # float32 // and % not compiled
        (ITEM_OP_X["+"], [np.ones(1, bool), True]),  # bool + bool is numpy's logical or
        (ITEM_OP_ITEM["-"], [np.ones(1, bool), np.ones(1, bool)]),  # numpy raises
    ]:
        assert compiled(func, args) is None


def test_numpy_scalars_survive_a_deoptimization():
    log = []
    a = np.array([1, 2, 2**62, 2**62], dtype=np.int64)
    expected, got, python_args, native_args, c = run(logged_scale, [a, log, 2])
    assert got == expected
    assert [type(x) for x in native_args[1]] == [np.int64] * 4
    f = np.array([1.5, np.nan, 3e38], dtype=np.float32)
    f[1:2].view(np.uint32)[0] = 0x7FA00001  # a signalling NaN keeps its bits
    expected, got, python_args, native_args, c = run(logged_scale, [f, [], np.float32(10.0)])
    assert got == expected
    assert [_bits(x) for x in native_args[1]] == [_bits(x) for x in python_args[1]]


DTYPE_SCRIPT = """
import numpy as np

def smooth(a, out):
    for i in range(1, len(a) - 1):
        out[i] = (a[i - 1] + a[i] + a[i + 1]) * 0.25
    return out[1]

def histogram(values, counts):
    total = 0
    for i in range(len(values)):
        counts[values[i] % len(counts)] += 1
        total += values[i]
    return total

a = np.linspace(0, 1, 3000, dtype=np.float32)
out = np.zeros_like(a)
values = np.arange(5000, dtype=np.int64) * 7
counts = np.zeros(10, dtype=np.int32)
for _ in range(3):
    r = smooth(a, out)
    t = histogram(values, counts)
print(repr(r), type(r).__name__, out[-2], repr(t), type(t).__name__, counts.tolist())
"""


def test_float32_and_int_arrays_run_natively_through_pyfast(python_and_pyfast):
    got, records = python_and_pyfast(DTYPE_SCRIPT)
    for name in ("smooth", "histogram"):
        assert records[name]["status"] == "compiled", records[name]
        assert records[name]["native_calls"] >= 2


def chained(a, b, out, xs):
    total = 0.0
    for i in range(a.shape[0]):
        v = a[i] * b[i] + 0.5 * a[i] - a[i] * a[i]
        w = a[i] * 1e300 * xs[i]  # a list read (it may bail) between two unchecked products
        out[i] = v
        total += v + w
    return total


BIG = np.array([1.0, 1e300, 2.0, -1e308])
CHAINS = [
    [BIG[:1], BIG[:1], np.zeros(1), [1.0]],
    [BIG, np.full(4, 10.0), np.zeros(4), [1.0] * 4],  # a[1] * a[1] overflows: resumes there
    [BIG[2:], BIG[2:], np.zeros(2), [1.0, 1.0]],  # 2e300 * 2.0: finite; then -1e308 overflows
    [BIG[1:], np.ones(3), np.zeros(3), [1.0]],  # xs[1] is out of range after an overflow
    [np.array([np.inf]), np.ones(1), np.zeros(1), [1.0]],  # inf read from the array
    [np.array([1e200, 1.0]), np.array([1e200, 1.0]), np.zeros(2), [np.nan, 2.0]],
    # float32: 1e300 does not fit (numpy warns in the cast), and 3e38 * 2 overflows
    [np.ones(2, np.float32), np.ones(2, np.float32), np.zeros(2, np.float32), [1.0, 1.0]],
    [np.array([3e38, 1], np.float32), np.full(2, 2, np.float32), np.zeros(2, np.float32), [1.0]],
]


@pytest.mark.parametrize("args", CHAINS)
def test_deferred_finite_checks_bail_at_the_first_op_numpy_warns_about(args):
    """``x * y + z`` checks only the sum on the hot path; where it is not finite, the first
    op whose result was not finite is where python resumes (and warns), in program order."""
    assert compiled(chained, args) is not None
    same_as_python(chained, args)
