"""numpy float64 arrays in native code: reads give ``numpy.float64`` with numpy's semantics,
stores write in place through the strides, ``shape``/``len``; any surprise (another dtype,
a read-only array, an index out of bounds, a result numpy would warn about) runs python.
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
    if isinstance(value, np.ndarray):
        return value.tobytes()
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
    expected, got, records = python_and_pyfast(NUMPY_SCRIPT)
    assert (got.stdout, got.stderr, got.returncode) == (
        expected.stdout,
        expected.stderr,
        expected.returncode,
    )
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
    expected, got, records = python_and_pyfast(LOOP_ONCE)
    assert got.stdout == expected.stdout and got.returncode == 0
    assert records["kernel"]["osr_entries"] == 1
