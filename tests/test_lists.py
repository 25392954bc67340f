"""Lists in native code: reads with a speculated item type (checked at every read, deoptimizing
exactly there on a surprise), stores, appends, ``for x in xs``, ``[x] * n``, list displays,
nested lists and lists of tuples -- compared with python on result, exception and the lists
themselves (mutations and aliasing as in python)."""

from __future__ import annotations

import gc
import sys
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfast.compiler import Unsupported, compile_function
from pyfast.compiler.types import FLOAT, INT, LIST, ListType, TupleType, of_value

MISS = object()
FALLBACK = object()


def _fallback(*args: object) -> object:
    return FALLBACK


def total(xs):
    s = 0
    for x in xs:
        s += x
    return s


def dot(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[-1 - i]
    return s


def scale_into(src, dst, k):
    for i in range(len(src)):
        dst[i] = src[i] * k
    return dst


def column_sum(m, j):
    s = 0.0
    for row in m:
        s += row[j]
    return s


def path_length(points):
    d = 0.0
    px, py = points[0]
    for x, y in points:
        d += abs(x - px) + abs(y - py)
        px, py = x, y
    return d


def flags(n):
    fs = [True] * (n + 1)
    count = 0
    for i in range(2, n + 1):
        if fs[i]:
            count += 1
            for j in range(i * i, n + 1, i):
                fs[j] = False
    return count


def pair(a, b):
    return [a, b, a + b]


def grow_while_iterating(xs):
    n = 0
    for x in xs:
        if len(xs) < 10:
            xs.append(x + 1)
        n += 1
    return n


def first(xs):
    return xs[0] if xs else -1


def weighted(xs):
    s = 0.0
    for i, x in enumerate(xs, 1):
        s += i * x
    return s


def pairwise(xs, ys):
    s = 0
    for x, y in zip(xs, ys):  # noqa: B905 - the code under test is a user's
        s += x * y
    return s


def indexed_pairs(xs, n):
    s = 0
    for k, (x, i) in enumerate(zip(xs, range(n))):  # noqa: B905 - the code under test is a user's
        s += k * x - i
    return s


def backwards(xs):
    out = 0
    for x in reversed(xs):
        out = out * 10 + x
    return out


def log_enumerate(xs, out):
    """Appends, then overflows mid-loop: the resume rebuilds enumerate(list iterator)."""
    for i, x in enumerate(xs):
        out.append(i)
        out.append(x * x * x)
    return len(out)


def log_zip_reversed(xs, ys, out):
    for x, y in zip(reversed(xs), ys):  # noqa: B905 - the code under test is a user's
        out.append(x)
        out.append(x * y)
    return len(out)


def matrix(n, m):
    return [[0.0] * m for _ in range(n)]


def positive_squares(xs):
    return [x * x for x in xs if x > 0]


def comprehension_keeps_variable(n):
    x = 7
    ys = [x * 2 for x in range(n)]
    return x + len(ys)


def table(n):
    return [[i * j for j in range(n)] for i in range(n)]


def halves(n):
    out = []
    for i in range(n):
        out.append(i * 0.5)
    s = 0.0
    for k in range(len(out)):
        s += out[k]
    return s


def evens_or_empty(xs, flag):
    if flag:
        return []
    return [x for x in xs if x % 2 == 0]


def stats(xs):
    return sum(xs), min(xs), max(xs)


def member(xs, x):
    return x in xs, x not in xs, x in (1, 2.5, 3)


def window(xs, a, b):
    return len(xs[a:b]) * 1000 + len(xs[:b]) * 100 + len(xs[a:]) * 10 + sum(xs[-2:])


def drain(xs):
    s = 0
    while xs:
        s += xs.pop()
    return s


def pop_at(xs, i):
    return xs.pop(i) * 10 + len(xs)


def pop_row(m):
    row = m.pop()
    return len(row) + row[0]


def countdown(a, b, s):
    out = 0
    for i in reversed(range(a, b, s)):
        out = out * 10 + i
    return out


def tuple_stats(a, b, c):
    t = (a, b, c)
    return min(t), max(t), len(t), min((a, b)), max(t) - min(t)


def spread(point):
    return max(point) - min(point) + len(point)


NAN = float("nan")

CASES = [
    (stats, [([1, 2, 3],), ([1.5, -2.0],), ([True, False],), ([],), ([1, 2.5],), ([0.1] * 10,)]),
    (stats, [([2**62, 2**62],), ([1, "a"],), ([NAN, 1.0],), ([1e308, 1e308, -1e308],)]),
    (member, [([1, 2, 3], 2), ([1.0, 2.0], 2), ([1.0, NAN], NAN), ([1, 2], 2.5), ([], 1)]),
    (member, [([1, "a"], 1), ([True], 1)]),
    (window, [([1, 2, 3, 4, 5], 1, 3), ([1, 2, 3], -5, 10), ([1, 2, 3], 3, 1), ([], 0, 0)]),
    (drain, [([1, 2, 3],), ([],), ([1.5, 2],), ([1, "a", 2],)]),
    (pop_at, [([1, 2, 3], 0), ([1, 2, 3], -1), ([1, 2, 3], 5), ([], 0)]),
    (pop_row, [([[1, 2], [3, 4, 5]],), ([[1.5]],), ([],)]),
    (tuple_stats, [(1, 2, 3), (3.5, -1, 2), (NAN, 1.0, 2.0), (1.0, NAN, 0.5), (True, 0, -1)]),
    (spread, [((1.5, 2.5, -3.0),), ((4, 2),)]),
    (countdown, [(0, 5, 1), (1, 8, 3), (5, 0, -2), (3, 3, 1), (0, 5, 0), (-(2**63), 1 - 2**63, 1)]),
    (matrix, [(2, 3), (0, 3), (3, 0), (2, -1)]),
    (positive_squares, [([1, -2, 3],), ([],), ([1, 2**40, 3],), ([1.5, -2.0],), ([1, "a"],)]),
    (comprehension_keeps_variable, [(4,), (0,)]),
    (table, [(3,), (0,), (2**5,)]),
    (halves, [(5,), (0,)]),
    (evens_or_empty, [([1, 2, 4], False), ([1, 2], True)]),
    (total, [([1, 2, 3],), ([],), ([1, 2.5, 3],), ([1, "a"],), ([2**62, 2**62],)]),
    (dot, [([1.0, 2.0], [3.0, 4.0]), ([1.0, 2.0], [3.0]), ([1.0, 2], [3.0, 4.0])]),
    (scale_into, [([1, 2, 3], [0, 0, 0], 3), ([1, 2, 3], [0], 3), ([1, 2], [0, 0], 2**62)]),
    (column_sum, [([[1.0, 2.0], [3.0, 4.0]], 1), ([[1.0, 2.0], [3.0]], 1), ([[1.0], 5], 0)]),
    (path_length, [([(0.0, 0.0), (1.0, 2.0), (3.0, 1.0)],), ([(0.0, 0.0), (1.0,)],)]),
    (flags, [(10,), (1000,)]),
    (pair, [(1, 2), (2**62, 2**62)]),
    (grow_while_iterating, [([1, 2],)]),
    (first, [([5, 6],), ([],)]),
    (weighted, [([1.0, 2.0, 3.0],), ([],), ([1.0, "x"],)]),
    (pairwise, [([1, 2, 3], [4, 5]), ([1, 2], [3, 4, 5]), ([2**40], [2**40])]),
    (indexed_pairs, [([5, 6, 7], 2), ([5, 6], 9)]),
    (backwards, [([1, 2, 3],), ([],), ([9] * 25,)]),
    (log_enumerate, [([1, 2, 3], []), ([1, 2**30, 3], []), ([1, 2**21, 2**22], [])]),
    (log_zip_reversed, [([1, 2], [3, 4], []), ([1, 2**40], [2**40, 2**40, 7], [])]),
]


def copy(value):
    if isinstance(value, list):
        return [copy(v) for v in value]
    return value


def outcome(call):
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001
        line = traceback.extract_tb(exc.__traceback__)[-1].lineno
        return ("raise", type(exc), str(exc), line)
    return ("ok", type(value), value)


def run_native(func, args):
    """Compile for the types of ``args`` (sampled: the speculation comes from these values),
    call natively; a miss or a failed guard runs python, as the hook does."""
    signature = tuple(map(type, args))
    try:
        c = compile_function(func, signature, fallback=_fallback, miss=MISS, sample=args)
    except Unsupported:  # e.g. sampled empty, no path returns: the hook runs python
        return outcome(lambda: func(*args)), None
    result = outcome(lambda: c.entry(*args))
    if result[:3] in (("ok", object, MISS), ("ok", object, FALLBACK)):
        result = outcome(lambda: func(*args))
    return result, c


@pytest.mark.parametrize(
    ("func", "args"),
    [(f, args) for f, inputs in CASES for args in inputs],
    ids=lambda v: getattr(v, "__name__", None) or "",
)
def test_list_code_matches_python(func, args):
    python_args, native_args = copy(list(args)), copy(list(args))
    expected = outcome(lambda: func(*python_args))
    got, _ = run_native(func, native_args)
    assert repr(got) == repr(expected)  # repr: a NaN result equals itself
    assert repr(native_args) == repr(python_args)


def test_aliasing_is_seen():
    xs = [1, 2, 3]
    c = compile_function(
        scale_into, (list, list, int), fallback=_fallback, miss=MISS, sample=(xs, xs, 2)
    )
    assert c.entry(xs, xs, 2) == [2, 4, 6] and xs == [2, 4, 6]


def doubled(src, dst):
    for x in src:
        dst.append(x * 2.0)
    return len(dst)


def test_a_surprising_item_deoptimizes_at_the_read():
    c = compile_function(doubled, (list, list), fallback=_fallback, miss=MISS, sample=([1.0], []))
    dst: list = []
    with pytest.raises(TypeError, match="can't multiply sequence by non-int of type 'float'"):
        c.entry([1.0, 2.0, "ab", 4.0], dst)
    assert dst == [2.0, 4.0]  # appended once each, then python raised at the third item
    line = doubled.__code__.co_firstlineno + 1  # the ``for``: its FOR_ITER reads the item
    assert c.deopts() == {f"line {line}: list index out of range or the item is not float": 1}
    dst = []  # an int first: nothing appended yet (the first iteration has its own version
    assert c.entry([2, 0.5], dst) is MISS and dst == []  # of the loop header): a clean miss
    assert c.entry([0.5, 2], dst) == 2 and dst == [1.0, 4.0]  # after an append: deoptimizes


def test_new_lists_are_owned_and_returned():
    c = compile_function(pair, (int, int), fallback=_fallback, miss=MISS)
    results = [c.entry(i, 1) for i in range(1000)]
    last = results.pop()
    references = sys.getrefcount(last)  # outside ``assert``: pytest keeps its operands
    assert last == [999, 1, 1000] and references == 2


def test_speculated_types_come_from_the_sample():
    assert of_value([[1.0, 2.0]]) == ListType(ListType(FLOAT))
    assert of_value([(1, 2.0)]) == ListType(TupleType((INT, FLOAT)))
    assert of_value([]) == LIST and of_value(["a"]) == LIST
    assert of_value([([1],)]) == LIST  # a tuple holding a list is not native


@pytest.mark.parametrize(
    "func",
    [matrix, positive_squares, table, halves, evens_or_empty, stats, member, window, drain]
    + [pop_at, pop_row, countdown, tuple_stats, spread],
)
def test_comprehensions_and_appended_lists_compile(func):
    args = next(args for f, inputs in CASES if f is func for args in inputs)
    c = compile_function(func, tuple(map(type, args)), fallback=_fallback, miss=MISS, sample=args)
    assert c.entry(*copy(list(args))) == func(*copy(list(args)))


def log_then_cube(xs, out):
    out.append(len(xs))
    return [x * x * x for x in xs]


def test_a_bail_inside_a_comprehension_after_an_effect():
    """3.12+ inline comprehensions: the interpreter resumes inside it.  3.11 calls a nested
    function there, which a resume cannot re-create: the function is not compiled."""

    def compile_it():
        sample = ([1, 2], [])
        return compile_function(
            log_then_cube, (list, list), fallback=_fallback, miss=MISS, sample=sample
        )

    if sys.version_info < (3, 12):
        with pytest.raises(Unsupported, match="inside a comprehension"):
            compile_it()
        return
    c = compile_it()
    out: list = []
    assert c.entry([1, 2**30, 3], out) == [1, 2**90, 27] and out == [3]
    assert sum(c.deopts().values()) == 1


def test_a_popped_list_lives_on():
    rows = [[1, 2], [3, 4, 5]]
    last = rows[-1]
    c = compile_function(pop_row, (list,), fallback=_fallback, miss=MISS, sample=(rows,))
    before = sys.getrefcount(last)
    assert c.entry(rows) == 6 and rows == [[1, 2]]
    after = sys.getrefcount(last)
    assert after == before - 1  # the list's reference is gone; ours stays, nothing leaked


def nest(xs, ys):
    xs[0] = ys
    xs[1] = xs
    return len(xs[0])


def bump(xs, k):
    for i in range(len(xs)):
        xs[i] = xs[i] + k
    return len(xs)


def test_a_float_only_the_list_holds_is_updated_in_place():
    """Storing a float over a float that nothing else references reuses the object; one the
    program still holds keeps its value."""
    xs = [0.5 + i for i in range(4)]  # four distinct floats, referenced by the list alone
    held = xs[1]
    shared = [2.5] * 3
    c = compile_function(bump, (list, float), fallback=_fallback, miss=MISS, sample=(xs, 1.0))
    for _ in range(3):
        assert c.entry(xs, 1.0) == 4 and c.entry(shared, 0.25) == 3
    assert xs == [3.5, 4.5, 5.5, 6.5] and held == 1.5 and shared == [3.25] * 3
    ids = list(map(id, xs))
    c.entry(xs, 1.0)
    assert list(map(id, xs)) == [ids[0], id(xs[1]), ids[2], ids[3]]  # xs[1] was new: held
    assert xs[1] == 5.5 and held == 1.5


def test_storing_a_list_into_a_list():
    ys = [7, 8]
    c = compile_function(nest, (list, list), fallback=_fallback, miss=MISS, sample=([[1]], ys))
    for _ in range(1000):
        xs = [[0], [0]]
        old = xs[0]
        assert c.entry(xs, ys) == 2
        assert xs[0] is ys and xs[1] is xs and sys.getrefcount(old) == 2
    gc.collect()  # each xs holds itself
    assert sys.getrefcount(ys) == 3  # ys, the argument, and the last xs


def mark(xs, flag):
    for i in range(len(xs)):
        xs[i] = flag
    xs[0] = None
    return len(xs)


def test_singleton_stores_keep_reference_counts():
    """Storing ``True``/``False``/``None`` over the same object is skipped, over another one
    moves one reference each way; over a number or another object releases or keeps it."""
    c = compile_function(mark, (list, bool), fallback=_fallback, miss=MISS, sample=([1], True))
    kept = object()

    def run() -> None:
        for _ in range(100):
            xs = [True, False, None, 3, 2.5, kept, True]
            assert c.entry(xs, False) == 7 and xs == [None] + [False] * 6
            assert c.entry(xs, False) == c.entry(xs, True) == 7 and xs == [None] + [True] * 6

    run()  # the first run makes what lives on (pytest's assertion helpers hold None)
    counts = [sys.getrefcount(x) for x in (True, False, None, kept)]
    run()
    assert [sys.getrefcount(x) for x in (True, False, None, kept)] == counts


def stepped(xs, a, b, c):
    return xs[a:b:c]


def stepped_ends(xs, c):
    return len(xs[::c]) * 1000 + len(xs[1::c]) * 100 + len(xs[:-1:c]) * 10 + len(xs[::-1][:1])


BOUNDS = st.one_of(st.integers(-8, 8), st.sampled_from([2**63 - 1, -(2**63), -(2**63) + 1]))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6), BOUNDS, BOUNDS, BOUNDS)
def test_slices_with_a_step(n, a, b, c):
    """``xs[a:b:c]`` copies what python copies (``None`` ends, clamping, extreme ends); a zero
    step leaves it to python (ValueError)."""
    xs = [float(i) for i in range(n)]
    got = _stepped.entry(xs, a, b, c)
    if c == 0:
        assert got is MISS
    else:
        assert got == xs[a:b:c] and all(x is y for x, y in zip(got, xs[a:b:c], strict=True))
        assert _stepped_ends.entry(xs, c) == stepped_ends(xs, c)


_stepped = compile_function(
    stepped, (list, int, int, int), fallback=_fallback, miss=MISS, sample=([0.5], 0, 1, 1)
)
_stepped_ends = compile_function(
    stepped_ends, (list, int), fallback=_fallback, miss=MISS, sample=([0.5], 1)
)


ITEMS = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.booleans(),
    st.sampled_from([2**63 - 1, -(2**63), 0.5, -0.0]),
)


def agrees_on(func, xs, sample):
    """``func(xs)`` compiled with the speculation of ``sample``: python's result (value, type,
    exception; repr, so that a NaN equals itself)."""
    c = compile_function(func, (list,), fallback=_fallback, miss=MISS, sample=(sample,))
    expected = outcome(lambda: func(list(xs)))
    got = outcome(lambda: c.entry(list(xs)))
    if got[:3] == ("ok", object, MISS):
        got = outcome(lambda: func(list(xs)))
    assert repr(got) == repr(expected)


@settings(max_examples=150, deadline=None)
@given(xs=st.lists(ITEMS, max_size=8), sample=st.lists(ITEMS, min_size=1, max_size=3))
def test_sum_over_random_lists(xs, sample):
    """Any list, compiled with any speculation: python's result."""
    agrees_on(total, xs, sample)


@settings(max_examples=150, deadline=None)
@given(xs=st.lists(ITEMS, max_size=8), sample=st.lists(ITEMS, min_size=1, max_size=3))
def test_sum_min_max_of_random_lists(xs, sample):
    """CPython's own builtins run natively once the items are numbers: python's result."""
    agrees_on(stats, xs, sample)


@settings(max_examples=100, deadline=None)
@given(src=st.lists(st.integers(-(2**63), 2**63), max_size=6), k=st.integers(-(2**40), 2**40))
def test_scaling_random_lists(src, k):
    dst_python, dst_native = [0] * len(src), [0] * len(src)
    expected = outcome(lambda: scale_into(src, dst_python, k))
    got, _ = run_native(scale_into, [src, dst_native, k])
    assert got[0] == expected[0] and dst_native == dst_python


SCRIPT = """
def mul_av(v, out):
    n = len(v)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += v[j] / (i + j + 1)
        out[i] = s

def sieve(limit):
    flags = [True] * (limit + 1)
    count = 0
    for i in range(2, limit + 1):
        if flags[i]:
            count += 1
            for j in range(i * i, limit + 1, i):
                flags[j] = False
    return count

def advance(bodies, dt):
    for b in bodies:
        b[0] += dt * b[1]

v = [1.0] * 50
out = [0.0] * 50
for _ in range(3):
    mul_av(v, out)
print(sum(out))
print(sieve(10000))
bodies = [[0.0, 1.0], [1.0, 0.5]]
for _ in range(100):
    advance(bodies, 0.01)
print(bodies)
bodies[1][1] = "x"
advance(bodies, 0.01)
"""


def test_list_programs_run_natively_through_pyfast(python_and_pyfast):
    got, records = python_and_pyfast(SCRIPT)
    assert "TypeError: can't multiply sequence by non-int of type 'float'" in got.stderr
    for name in ("mul_av", "sieve", "advance"):
        assert records[name]["status"] == "compiled", records[name]
        assert records[name]["native_calls"] >= 1, records[name]


COMPREHENSIONS = """
def matmul(a, b):
    n, m, inner = len(a), len(b[0]), len(b)
    c = [[0.0] * m for _ in range(n)]
    for i in range(n):
        ai, ci = a[i], c[i]
        for j in range(m):
            s = 0.0
            for k in range(inner):
                s += ai[k] * b[k][j]
            ci[j] = s
    return c

def grid(n):
    return [[(i * n + j) % 7 / 7.0 for j in range(n)] for i in range(n)]

a = grid(4)
for _ in range(3):
    c = matmul(a, grid(4))
print(c)
x = 5
print([x * x for x in range(4)], x)
"""


def test_comprehensions_run_natively_through_pyfast(python_and_pyfast):
    got, records = python_and_pyfast(COMPREHENSIONS)
    for name in ("matmul", "grid"):
        assert records[name]["status"] == "compiled", records[name]
        assert records[name]["native_calls"] >= 1, records[name]


def temporaries(n):
    total = 0
    for i in range(n):
        row = [i] * 3
        total += len(row)
    return total


def test_temporary_lists_stay_bounded():
    """Each iteration's list lives until the call returns; past ``KEEP_LIMIT`` of them the call
    bails to the interpreter (a miss here: nothing visible changed), which frees them as it goes."""
    from pyfast.compiler.lower import KEEP_LIMIT

    c = compile_function(temporaries, (int,), fallback=_fallback, miss=MISS)
    assert c.entry(1000) == 3000
    assert c.entry(KEEP_LIMIT + 10) is MISS


def norm(p, scale):
    x, y = p
    return (x * x + y * y) * scale


def test_tuple_arguments_are_typed_from_the_sample():
    c = compile_function(
        norm, (tuple, float), fallback=_fallback, miss=MISS, sample=((3.0, 4.0), 2.0)
    )
    assert c.entry((3.0, 4.0), 2.0) == 50.0
    assert c.entry((3, 4.0), 2.0) is FALLBACK  # another tuple shape: the guard sends it to python
    assert c.entry((3.0,), 2.0) is FALLBACK
    with pytest.raises(Unsupported, match="argument types"):
        compile_function(
            norm, (tuple, float), fallback=_fallback, miss=MISS, sample=(("a", 1), 2.0)
        )
    with pytest.raises(Unsupported, match="argument types"):
        compile_function(norm, (tuple, float), fallback=_fallback, miss=MISS)


BAILING = """
def total(xs):
    s = 0
    for x in xs:
        s += x
    return s

ints = list(range(100))
mixed = ints + [0.5]
print(total(ints))
for _ in range(30):
    t = total(mixed)
print(t)
"""


def test_a_function_that_keeps_bailing_runs_interpreted(python_and_pyfast):
    """Compiled for lists of ints, then always given one ending in a float: every native call
    bails after summing; after ten the function stays interpreted."""
    got, records = python_and_pyfast(BAILING)
    assert got.returncode == 0
    assert records["total"]["reason"] == "left interpreted: native code bailed out of 10 calls"
