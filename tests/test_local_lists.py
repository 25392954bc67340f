"""Local lists (``compiler.local_lists``): ``[x] * n`` that never leaves its call is kept as a
native buffer -- which lists qualify, and that results, exceptions and bails stay python's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def sieve(limit):
    flags = [True] * (limit + 1)
    flags[0] = False
    flags[1] = False
    i = 2
    while i * i <= limit:
        if flags[i]:
            for j in range(i * i, limit + 1, i):
                flags[j] = False
        i += 1
    count = 0
    total = 0
    for k in range(limit + 1):
        if flags[k]:
            count += 1
            total += k
    return count, total


def fib_table(n):
    table = [0] * (n + 1)
    if n > 0:
        table[1] = 1
    for i in range(2, n + 1):
        table[i] = table[i - 1] + table[i - 2]
    return table[n]


def smooth(n, k):
    xs = [0.5] * n
    for i in range(n):
        xs[i] = xs[i - 1] * k + i  # xs[-1] first: negative indices count from the end
    s = 0.0
    for x in xs:
        s += x
    return s, len(xs)


def pick(n, flag):
    if flag:
        xs = [1] * n
    else:
        xs = [2] * n
    return xs[n // 2] + len(xs)


def read_at(n, i):
    xs = [7] * n
    return xs[i]


def store_at(n, i):
    xs = [1.5] * n
    xs[i] = 2.5
    return xs[0]


def returned(n):
    xs = [0] * n
    xs[0] = 1
    return xs


def stored_elsewhere(n, out):
    xs = [0] * n
    out[0] = xs
    return len(xs)


def changes_its_argument(n, out):
    xs = [1] * n
    out[0] = xs[0]
    return len(xs)


def made_in_a_loop(n):
    s = 0
    for _ in range(3):
        row = [1] * n
        s += row[0]
    return s


def mixed_items(n):
    xs = [0] * n
    xs[0] = 0.5
    return xs[0]


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (sieve, (0,)),  # flags[1] = False: IndexError
        (sieve, (1,)),
        (sieve, (2,)),
        (sieve, (1000,)),
        (fib_table, (0,)),
        (fib_table, (1,)),
        (fib_table, (90,)),
        (fib_table, (200,)),  # past int64: the call bails and the interpreter gives the big int
        (smooth, (10, 0.5)),
        (smooth, (0, 0.5)),
        (smooth, (-3, 0.5)),
        (pick, (9, True)),
        (pick, (9, False)),
    ],
)
def test_local_lists_match_python(func, args, strict):
    """Native where python returns an int64-sized result; a miss (python re-runs the call)
    where python raises or the result is past int64."""
    c = strict.compile(func, *args)
    assert "local list" in c.ir_text
    got = c.entry(*args)
    try:
        expected = func(*args)
    except IndexError:
        assert got is strict.MISS
    else:
        native = func is not fib_table or args[0] < 93
        assert (type(got), got) == (type(expected), expected) if native else got is strict.MISS


@pytest.mark.parametrize(("func", "args"), [(read_at, (3, 5)), (store_at, (3, -4))])
def test_an_index_out_of_range_leaves_it_to_python(func, args, strict):
    c = strict.compile(func, 3, 1)
    assert "local list" in c.ir_text
    assert c.entry(*args) is strict.MISS
    with pytest.raises(IndexError):
        func(*args)
    assert c.entry(3, -1) == func(3, -1)


def test_a_list_too_long_for_a_local_buffer_is_left_to_python(strict):
    c = strict.compile(read_at, 3, 1)
    assert c.entry(2**28 + 1, 0) is strict.MISS  # LOCAL_LIMIT: python makes the (2 GiB) list
    assert c.entry(2**20, -1) == 7


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (returned, (3,)),
        (stored_elsewhere, (3, [None])),
        (changes_its_argument, (3, [None])),
        (made_in_a_loop, (3,)),
        (mixed_items, (3,)),
    ],
)
def test_lists_seen_outside_or_mixed_stay_python_lists(func, args, strict):
    c = strict.compile(func, *args)
    assert "local list" not in c.ir_text
    expected_args = [list(a) if isinstance(a, list) else a for a in args]
    assert repr(c.entry(*args)) == repr(func(*expected_args)) and repr(args) == repr(
        tuple(expected_args)
    )


def agrees(strict, func, *args):
    """The compiled ``func`` gives python's result, or misses where python raises."""
    got = strict.compile(func, 10, *(0.5 for _ in args[1:])).entry(*args)  # one compile each
    try:
        expected = func(*args)
    except IndexError:
        return got is strict.MISS
    return repr(got) == repr(expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(-5, 300), st.floats(-2, 2, allow_nan=False))
def test_random_sizes(strict, n, k):
    assert agrees(strict, sieve, n) and agrees(strict, fib_table, min(n, 92))
    assert agrees(strict, smooth, n, k)


SCRIPT = """
def sieve(limit):
    flags = [True] * (limit + 1)
    count = 0
    for i in range(2, limit + 1):
        if flags[i]:
            count += 1
            for j in range(i * i, limit + 1, i):
                flags[j] = False
    return count

def nth(n, i):
    xs = [n] * n
    return xs[i]

for n in (10, 1000, 5000):
    print(sieve(n))
print([nth(3, i) for i in (1, -1, 0)])
print(nth(3, 5))
"""


def test_local_lists_run_natively_through_pyfast(python_and_pyfast):
    got, records = python_and_pyfast(SCRIPT)
    assert "IndexError: list index out of range" in got.stderr
    for name in ("sieve", "nth"):
        assert records[name]["status"] == "compiled", records[name]
        assert records[name]["native_calls"] >= 1, records[name]


def test_buffers_are_freed(strict):
    """Every call frees its buffers, also when it bails (traced by tracemalloc: PyMem)."""
    import tracemalloc

    c = strict.compile(read_at, 3, 1)
    c.entry(1000, 0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            assert c.entry(1000, -1) == 7 and c.entry(1000, 1000) is strict.MISS
        assert tracemalloc.get_traced_memory()[0] - before < 8000  # 2 * 200 buffers of 8 kB
    finally:
        tracemalloc.stop()
