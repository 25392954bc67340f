"""No reference leaks in compiled code: a million calls through each path of the entry thunk
(native result, int result past 64 bits -> ``miss``, guard failure -> ``fallback``, a tuple
result, native recursion, list stores, deoptimization after a store, in a callee too) leave
the arguments' reference counts and the number of allocated memory blocks
(``sys.getallocatedblocks``, as CPython's own ``regrtest -R`` uses) flat."""

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


def store(xs, v):
    xs[0] = v
    xs[-1] = v * 0.5
    return len(xs)


def store_then_overflow(xs, v):
    xs[0] = v
    return v * v


def calls_deoptimizing(xs, v):
    return store_then_overflow(xs, v) + 1


# name -> (function, signature, argument tuple, what the call returns); no small ints among
# the arguments: their reference counts move with everything else in the process.
CASES = {
    "int result": (add, (int, int), (10**12, 70_001), 10**12 + 70_001),
    "float result": (scale, (float, int), (1.25, 3), 4.25),
    "tuple result": (split, (int, int), (10**12 + 1, 7), divmod(10**12 + 1, 7)),
    "overflow -> miss": (add, (int, int), (2**62, 2**62), MISS),
    "guard -> fallback": (add, (int, int), (1.5, 20_001), 1.5),
    "native recursion": (fib, (int,), (12,), 144),
    "list stores": (store, (list, int), ([0, 0, 0], 10**12), 3),
    "deopt after a store": (store_then_overflow, (list, int), ([0], 2**40), 2**80),
    "callee deopts": (calls_deoptimizing, (list, int), ([0], 2**40), 2**80 + 1),
}


def scaled_first(a, k):
    a[1] = a[0] * k
    return a[1]


try:
    import numpy
except ImportError:  # numpy is optional: the array case is skipped without it
    numpy = None
else:
    ARRAY = numpy.array([1.5, 0.0])
    CASES["numpy array"] = (scaled_first, (numpy.ndarray, float), (ARRAY, 2.5), 3.75)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_million_calls_leak_nothing(name):
    func, signature, args, expected = CASES[name]
    entry = compile_function(func, signature, fallback=fallback, miss=MISS, sample=args).entry
    assert entry(*args) == expected or entry(*args) is expected
    watched = [*args, MISS, fallback]
    # The counts as text: a count that equals a small int of ``watched`` would hold a reference
    # to it, and so would ``grown`` below.
    before = [str(sys.getrefcount(obj)) for obj in watched]
    blocks = sys.getallocatedblocks()
    for _ in range(CALLS):
        entry(*args)
    after = [str(sys.getrefcount(obj)) for obj in watched]
    grown = sys.getallocatedblocks() - blocks
    assert after == before
    assert grown < 100  # a leaked object per call would be a million blocks
