"""Differential testing: generated arithmetic functions, compiled vs interpreted.

Hypothesis builds small functions from random expression trees (``+ - * / // %``, ``**`` with a
small constant exponent, unary ``-``, comparisons, ``not``/``and``/``or``, ``abs``/``min``/
``max``) over int/float/bool arguments, and feeds them edge-case inputs (0, +-1, +-2**31,
+-2**63, huge ints, nan, +-inf, -0.0, bools).  The compiled entry with the interpreter re-run
on MISS (exactly what the hook does) must agree with the interpreter on value, type (float
bits through repr), exception type and message.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyfast.compiler import Unsupported, compile_function

MISS = object()

INPUTS = {
    int: [0, 1, -1, 2, -2, 7, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63), 2**64, -(3**50)],
    float: [0.0, -0.0, 1.0, -1.5, 0.1, 1e300, -1e-300, math.inf, -math.inf, math.nan],
    bool: [True, False],
}

LEAVES = st.sampled_from(["a", "b", "0", "1", "2", "-3", "0.5", "2.0", "True"])
BINARY = st.sampled_from(["+", "-", "*", "/", "//", "%"])
COMPARE = st.sampled_from(["<", "<=", "==", "!=", ">", ">="])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, BINARY, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["0", "1", "2", "3"])).map(
            lambda t: f"({t[0]} ** {t[1]})"
        ),
        children.map(lambda c: f"(-{c})"),
        st.tuples(children, COMPARE, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"(not {c})"),
        st.tuples(st.sampled_from(["abs", "min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]})" if t[0] == "abs" else f"{t[0]}({t[1]}, {t[2]})"
        ),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=6)

_cache: dict = {}
FALLBACK = object()


def _fallback(*args: object) -> object:
    return FALLBACK


def _compiled(source: str, signature: tuple[type, ...]):
    key = (source, signature)
    if key not in _cache:
        namespace: dict = {}
        exec(compile(source, "<generated>", "exec"), namespace)
        func = namespace["f"]
        try:
            entry = compile_function(func, signature, fallback=_fallback, miss=MISS).entry
        except Unsupported:
            entry = None
        _cache[key] = (func, entry)  # compiled code stays alive for the session
    return _cache[key]


def _outcome(call):
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("raise", type(exc), str(exc))


def _same(x: tuple, y: tuple) -> bool:
    if x[0] != y[0]:
        return False
    if x[0] == "raise":
        return x == y
    return type(x[1]) is type(y[1]) and repr(x[1]) == repr(y[1])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    expr=EXPRESSIONS,
    types=st.tuples(st.sampled_from([int, float, bool]), st.sampled_from([int, float, bool])),
    data=st.data(),
)
def test_compiled_agrees_with_interpreter(expr: str, types, data) -> None:
    source = f"def f(a, b):\n    return {expr}\n"
    func, entry = _compiled(source, types)
    if entry is None:
        return
    args = tuple(data.draw(st.sampled_from(INPUTS[t])) for t in types)
    expected = _outcome(lambda: func(*args))
    native = _outcome(lambda: entry(*args))
    if native in (("ok", MISS), ("ok", FALLBACK)):
        native = _outcome(lambda: func(*args))  # a bail or a failed guard: the interpreter runs
    else:
        assert expected[0] != "raise", f"{source} {args}: python raised {expected}, got {native}"
    assert _same(native, expected), f"{source} {args}: {native} != {expected}"


#: A recursive function whose last call of itself is in return position (``tailcalls``
#: folds its addend into an accumulator): ``{call}`` is ``f(n - 1, {next_k})``.
RECURSIVE = """
def f(n, k):
    if n <= 0:
        return {base}
    return {tail}
"""
TAILS = st.sampled_from(["{addend} {op} {call}", "{call} {op} {addend}", "{call}"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["0", "1", "k", "n - k"]),
    tail=TAILS,
    addend=st.sampled_from(["k", "n", "n * k", "k - n", "k // 3"]),
    op=st.sampled_from(["+", "*"]),
    next_k=st.sampled_from(["k", "k + n", "-k", "k * 2", "k // 2"]),
    n=st.integers(-2, 220),
    k=st.sampled_from([*INPUTS[int], 3, -5, 2**20]),
)
def test_tail_recursion_agrees_with_interpreter(base, tail, addend, op, next_k, n, k) -> None:
    call = f"f(n - 1, {next_k})"
    source = RECURSIVE.format(base=base, tail=tail.format(addend=addend, op=op, call=call))
    func, entry = _compiled(source, (int, int))
    expected = _outcome(lambda: func(n, k))
    native = _outcome(lambda: entry(n, k))
    if native in (("ok", MISS), ("ok", FALLBACK)):  # a bail, or k past int64: interpreted
        native = _outcome(lambda: func(n, k))
    same = native == expected and type(native[-1]) is type(expected[-1])  # ints: no repr
    assert same, f"{source} {(n, k)}: {native[0]} differs"
