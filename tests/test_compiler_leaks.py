"""No reference leaks in compiled code: a million calls through each path of the entry thunk
(native result, int result past 64 bits -> ``miss``, guard failure -> ``fallback``, a tuple
result, native recursion) leave the arguments' reference counts and the number of allocated
memory blocks (``sys.getallocatedblocks``, as CPython's own ``regrtest -R`` uses) flat."""

from __future__ import annotations

import sys

import pytest
from pyfast.compiler import compile_function

CALLS = 1_000_000
MISS = object()


def fallback(*args: object) -> object:
    return args[0]


def add(a, b):
    return a + b


def scale(x, k):
    return x * k + 0.5


def split(a, b):
    return divmod(a, b)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


# name -> (function, signature, argument tuple, what the call returns); no small ints among
# the arguments: their reference counts move with everything else in the process.
CASES = {
    "int result": (add, (int, int), (10**12, 70_001), 10**12 + 70_001),
    "float result": (scale, (float, int), (1.25, 3), 4.25),
    "tuple result": (split, (int, int), (10**12 + 1, 7), divmod(10**12 + 1, 7)),
    "overflow -> miss": (add, (int, int), (2**62, 2**62), MISS),
    "guard -> fallback": (add, (int, int), (1.5, 20_001), 1.5),
    "native recursion": (fib, (int,), (12,), 144),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_million_calls_leak_nothing(name):
    func, signature, args, expected = CASES[name]
    entry = compile_function(func, signature, fallback=fallback, miss=MISS).entry
    assert entry(*args) == expected or entry(*args) is expected
    watched = [*args, MISS, fallback]
    before = [sys.getrefcount(obj) for obj in watched]
    blocks = sys.getallocatedblocks()
    for _ in range(CALLS):
        entry(*args)
    grown = sys.getallocatedblocks() - blocks
    assert [sys.getrefcount(obj) for obj in watched] == before
    assert grown < 100  # a leaked object per call would be a million blocks
