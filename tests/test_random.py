"""Calls of ``random.random()`` in native code (``ir.CallObject``): the same numbers, the same
generator state afterwards, guards on the callable, and precise deoptimization after a call
(a call cannot be redone)."""

from __future__ import annotations

import random
from random import random as draw

import pytest
from pyfast.compiler import Unsupported, api, compile_function

MISS = object()
FALLBACK = object()
OWN = random.Random(11)
own_draw = OWN.random


def _fallback(*args: object) -> object:
    return FALLBACK


def total(n):
    s = 0.0
    for _ in range(n):
        s += random.random()
    return s


def hits(n):
    inside = 0
    for _ in range(n):
        x = draw()
        y = own_draw()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def past_the_end(xs):
    t = 0.0
    for i in range(len(xs) + 1):
        t += random.random()
        t += xs[i]  # IndexError on the last pass, after that pass's call
    return t


def with_argument(n):
    return random.random(n)


_kept: list = []


def compiled(func, signature, sample=None):
    cf = compile_function(func, signature, fallback=_fallback, miss=MISS, sample=sample)
    _kept.append(cf)
    return cf


def _both(func, *args):
    """``func(*args)`` natively and interpreted from the same generator states: the results
    (or exceptions) and the states afterwards."""
    entry = compiled(func, tuple(map(type, args)), args).entry
    outcomes = []
    for run in (entry, func):
        random.seed(5)
        OWN.seed(6)
        try:
            result = repr(run(*args))
        except Exception as exc:  # noqa: BLE001 - compared with python's
            result = f"{type(exc).__name__}: {exc}"
        outcomes.append((result, random.getstate(), OWN.getstate()))
    return outcomes


@pytest.mark.parametrize(("func", "args"), [(total, (1000,)), (hits, (5000,))])
def test_same_numbers_and_generator_state(func, args) -> None:
    native, python = _both(func, *args)
    assert native == python
    assert "call_object random.random()" in compiled(func, (int,)).ir_text


def test_an_error_after_a_call_resumes_without_calling_again() -> None:
    native, python = _both(past_the_end, [1.0, 2.0, 3.0])
    assert python[0] == "IndexError: list index out of range"
    assert native == python
    cf = compiled(past_the_end, (list,), ([1.0],))
    assert cf.resume_points  # the bail after the call deoptimizes instead of missing


def test_a_rebound_random_falls_back(monkeypatch) -> None:
    entry = compiled(total, (int,)).entry
    monkeypatch.setattr(random, "random", lambda: 0.25)
    assert entry(4) is FALLBACK


def test_arguments_are_not_compiled() -> None:
    with pytest.raises(Unsupported, match=r"random.random\(\) with arguments"):
        compile_function(with_argument, (int,), fallback=_fallback, miss=MISS)


class _Fixed(random.Random):
    def random(self) -> float:
        return 0.5


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        (random.random, "random.random"),
        (random.Random(3).random, "random.random"),
        (_Fixed(1).random, None),  # a Python method: it may do anything
        (random.SystemRandom().random, None),
        (random.uniform, None),
        (lambda: 0.5, None),
        (random, None),
    ],
)
def test_which_callables_native_code_calls(obj, name) -> None:
    assert api.object_call(obj) == name
