"""Tuples as sequences in native code: a tuple whose items share one type is indexed at run
time, iterated (also through ``enumerate``, ``zip`` and ``reversed``), summed, searched with
``in`` and sliced with constant ends -- compared with python, bails included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfast.compiler import Unsupported


def at(t, i):
    return t[i]


def walk(t):
    s = 0.0
    for k, x in enumerate(t):
        s = s * 2 + k * x
    for x in reversed(t):
        s = s * 3 - x
    return s


def pairs(t, xs):
    s = 0
    for a, b in zip(t, xs):  # noqa: B905 - the code under test is a user's
        s += a * b
    return s


def total(t):
    return sum(t)


def member(t, x):
    return x in t, x not in t


def ends(t):
    return t[1:], t[::-1], t[:-1:2], len(t[5:])


def displayed(i):
    s = 0
    for x in (3, 5, 7):
        s += x
    return s + (10, 20, 30)[i]


def marks(t, out):
    for i, x in enumerate(t):
        out[i] = x * 2  # an effect: a later bail resumes the interpreter mid-loop
        s = 10 // x
    return s


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (at, ((1.5, 2.5, 3.5), 0)),
        (at, ((1.5, 2.5, 3.5), -1)),
        (at, ((1.5, 2.5, 3.5), -3)),
        (at, ((1, 2, 3), 2)),
        (at, (((1, 2), (3, 4)), 1)),
        (walk, ((0.5, -1.5, 2.25),)),
        (walk, ((),)),
        (pairs, ((1, 2, 3), [4, 5])),
        (pairs, ((1, 2), [4, 5, 6])),
        (total, ((1, 2, 3),)),
        (total, ((0.1, 0.2, 0.3, 1e16, -1e16),)),
        (total, ((True, True, False),)),
        (total, ((),)),
        (member, ((1, 2, 3), 2)),
        (member, ((1.5, 2.5), 3.0)),
        (ends, ((1, 2, 3, 4),)),
        (displayed, (1,)),
        (displayed, (-3,)),
    ],
)
def test_tuple_sequences_match_python(func, args, strict):
    c = strict.compile(func, *args)
    assert repr(c.entry(*args)) == repr(func(*args))


@pytest.mark.parametrize(("func", "args"), [(at, ((1.5, 2.5), 2)), (displayed, (3,))])
def test_an_index_out_of_range_leaves_it_to_python(func, args, strict):
    c = strict.compile(func, *args)
    assert c.entry(*args) is strict.MISS
    with pytest.raises(IndexError):
        func(*args)


def test_a_bail_after_an_effect_resumes_in_the_tuple_loop(strict):
    """``10 // 0`` bails after ``out`` changed: python resumes the enumerate over the tuple at
    its position, finishes the loop and raises ZeroDivisionError there."""
    c = strict.compile(marks, (1, 2, 3), [0, 0, 0])
    out = [0, 0, 0]
    assert c.entry((1, 2, 5), out) == 2 and out == [2, 4, 10]
    out = [0, 0, 0]
    with pytest.raises(ZeroDivisionError):
        c.entry((1, 0, 5), out)
    assert out == [2, 0, 0]


def test_a_tuple_of_mixed_items_needs_a_constant_index(strict):
    with pytest.raises(Unsupported):
        strict.compile(at, (1, 2.5), 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=3, max_size=3), st.integers(-4, 3))
def test_random_tuples(strict, items, i):
    t, floats = tuple(items), (0.5, 1.5, 2.5)
    got = strict.compile(at, floats, 0).entry(t, i)
    assert got is strict.MISS if not -3 <= i < 3 else repr(got) == repr(t[i])
    for func in (walk, total):
        assert repr(strict.compile(func, floats).entry(t)) == repr(func(t))
