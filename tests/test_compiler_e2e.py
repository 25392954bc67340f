"""End to end, in process: compile_function -> entry(*args) agrees with the interpreter.

Every case compares value, type (and float bits through repr) with ``f(*args)``.  ``MISS`` is
accepted exactly when Python raises, when the result is an int past 64 bits, when an int
argument is past 2**31 (an intermediate result may overflow 64 bits), or when the case says
the native code may bail (``bail=True``: the path's return type differs from the compiled one).
"""

from __future__ import annotations

import math
import sys

import pytest
from pyfast.compiler import Unsupported, compile_function

MISS = object()
FALLBACK = object()


def fallback(*args: object) -> object:
    return FALLBACK


_compiled: dict = {}
_kept: list = []


def compiled(func, signature):
    key = (func, signature)
    if key not in _compiled:
        _compiled[key] = fresh(func, signature)
    return _compiled[key]


def fresh(func, signature):
    """A new compilation, kept alive for the session like the hook keeps its entries."""
    cf = compile_function(func, signature, fallback=fallback, miss=MISS)
    _kept.append(cf)
    return cf


def same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def _big(value: object, limit: int = 2**63) -> bool:
    if isinstance(value, tuple):
        return any(_big(item, limit) for item in value)
    return type(value) is int and not -limit <= value < limit


def check(func, *args, bail: bool = False) -> object:
    """Assert the compiled entry agrees with ``func(*args)``; return what the entry gave."""
    try:
        expected, raised = func(*args), None
    except Exception as exc:  # noqa: BLE001 - any Python exception must become MISS
        expected, raised = None, exc
    cf = compiled(func, tuple(type(a) for a in args))
    got = cf.entry(*args)
    assert got is not FALLBACK, "guards failed for matching argument types"
    if raised is not None or _big(expected):
        assert got is MISS, (
            f"{func.__name__}{args}: python gave {raised or expected!r}, got {got!r}"
        )
    elif got is MISS:
        may_overflow = _big(args, 2**31)
        assert bail or may_overflow, f"{func.__name__}{args}: unexpected bail ({expected!r})"
    else:
        assert same(got, expected), f"{func.__name__}{args}: {got!r} != {expected!r}"
    return got


# -- the corpus --------------------------------------------------------------------------


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def collatz(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def leibniz(n):
    total = 0.0
    sign = 1.0
    for k in range(n):
        total += sign / (2 * k + 1)
        sign = -sign
    return 4 * total


def sum_range(n):
    total = 0
    for i in range(n):
        total += i
    return total


def sum_range2(a, b):
    total = 0
    for i in range(a, b):
        total += i * i
    return total


def sum_step(a, b, c):
    total = 0
    for i in range(a, b, c):
        total = total * 3 + i
    return total


def half_sum(n):
    x = 0
    for _ in range(n):
        x += 0.5
    return x


def nested_break_continue(n):
    count = 0
    for i in range(n):
        if i % 3 == 0:
            continue
        for j in range(i):
            if j * j > i:
                break
            count += j
    return count


def is_prime(n):
    if n < 2:
        return False
    for d in range(2, n):
        if d * d > n:
            break
        if n % d == 0:
            return False
    else:
        return True
    return True


def first_square_above(n):
    i = 0
    while True:
        if i * i > n:
            break
        i += 1
    return i


def while_else(n):
    i = 0
    while i < n:
        if i == 7:
            break
        i += 2
    else:
        i = -i
    return i


def mixed(a, b):
    return a * 2 + b / 4 - a // 3


def chained(a, b, c):
    return a < b <= c


def chained_branch(a, b, c):
    if 0 <= a < b < c != 10:
        return 1
    return 2


def and_or(a, b):
    return a and b or a


def or_value(a, b):
    return a or b


def divmod_pair(a, b):
    return a // b, a % b


def swap(a, b):
    a, b = b, a
    return a - b, a


def unpack(a, b):
    t = (a, b)
    x, y = t
    return y * 10 + x


def math_funcs(x):
    return math.sqrt(x) + math.exp(-x) + math.log(x + 1) + math.sin(x) * math.cos(x)


def math_domain(x):
    return math.sqrt(x - 5)


def hypot(a, b):
    return math.hypot(a, b) + math.pi


def builtins_mix(a, b):
    return min(a, b), max(a, b), abs(a - b)


def rounding(x):
    return round(x), int(x), float(int(x)), bool(x)


def use_divmod(a, b):
    q, r = divmod(a, b)
    return q * b + r


def maybe_none(x):
    y = None
    if x > 0:
        y = x
    if y is None:
        return 0
    return y


def not_it(x):
    return not x


def bool_arith(a, b):
    return a + b + True


def square(n):
    return n * n


def power(a, b):
    return a**b


def divide(a, b):
    return a / b


def range_len(a, b, c):
    return len(range(a, b, c))


def negate(x):
    return -x, ~x


def shifts(x, n):
    return x << n, x >> n


def floor_mod(a, b):
    return a // b, a % b


def float_pow(a, b):
    return a**b


def unbound(c):
    if c:
        y = 1
    return y


def early_return(n):
    for i in range(n):
        if i * i >= n:
            return i
    return -1


def triangle(n):
    total = 0
    for i in range(n):
        for j in range(i):
            total += j
    return total


def nan_compare(x):
    return x < 1.0, x == x, x != x


def returns_float_or_int(n):
    if n > 0:
        return n / 2
    return n


SCALE = 3


def scaled(x):
    return x * SCALE


def helper(x):
    return x + 1


def calls_helper(x):
    return helper(x) * 2


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


INTS = [0, 1, -1, 7, -7, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1]
SMALL = [0, 1, -1, 2, 5, 10, 97, 100]
FLOATS = [0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, math.inf, -math.inf, math.nan]

CASES = [
    (fib, [(n,) for n in (0, 1, 2, 10, 20, -3)]),
    (gcd, [(a, b) for a in (0, 12, -18, 2**62) for b in (0, 8, -27, 7)]),
    (collatz, [(n,) for n in (1, 7, 27, 97)]),
    (leibniz, [(n,) for n in (0, 1, 1000)]),
    (sum_range, [(n,) for n in (0, 1, 10, -5, 100_000)]),
    (sum_range2, [(a, b) for a in (-3, 0, 5) for b in (-3, 0, 10)]),
    (sum_step, [(a, b, c) for a in (-5, 0, 9) for b in (-7, 0, 10) for c in (-3, -1, 0, 1, 4)]),
    (half_sum, [(n,) for n in (0, 1, 7)], True),
    (nested_break_continue, [(n,) for n in (0, 5, 40)]),
    (is_prime, [(n,) for n in (0, 1, 2, 9, 17, 97, 100)]),
    (first_square_above, [(n,) for n in (0, 1, 50, 10_000)]),
    (while_else, [(n,) for n in (0, 3, 6, 20)]),
    (mixed, [(a, b) for a in (0, 5, -7, 2**62) for b in (0.0, 2.5, -1e308)]),
    (mixed, [(a, b) for a in (0, 5, -7) for b in (0, 3, -9)]),
    (chained, [(a, b, c) for a in (0, 1, 2) for b in (0, 1, 2) for c in (1, 2)]),
    (chained, [(a, b, c) for a in (0.5, math.nan) for b in (0, 1) for c in (1.0, -0.0)]),
    (chained_branch, [(a, b, c) for a in (-1, 0, 3) for b in (1, 4) for c in (5, 10)]),
    (and_or, [(a, b) for a in (0, 3) for b in (0, 4)]),
    (and_or, [(a, b) for a in (0.0, 3.5) for b in (0.0, 4.0)]),
    (or_value, [(a, b) for a in (0, 3) for b in (0.0, 4.5)], True),
    (divmod_pair, [(a, b) for a in (7, -7, 0) for b in (2, -2, 0)]),
    (swap, [(a, b) for a in (1, -(2**63)) for b in (5, 2**63 - 1)]),
    (unpack, [(1, 2), (-3, 4)]),
    (math_funcs, [(x,) for x in (0.0, 1.0, 2.5, 100.0)]),
    (math_funcs, [(x,) for x in (0, 3, 10)]),
    (math_domain, [(x,) for x in (4.0, 5.0, 9.0, math.inf, math.nan)]),
    (hypot, [(a, b) for a in (3.0, 0.0, -1e308) for b in (4.0, 1e308)]),
    (builtins_mix, [(a, b) for a in (1, -5, 2**62) for b in (3, -5, -(2**62))]),
    (builtins_mix, [(a, b) for a in (1.5, -0.0, math.nan) for b in (0.0, -2.0, math.nan)]),
    (rounding, [(x,) for x in (0.5, 1.5, -2.5, 2.675, -0.0, 1e300, math.inf, math.nan)]),
    (use_divmod, [(a, b) for a in (17, -17) for b in (5, -5, 0)]),
    (use_divmod, [(a, b) for a in (17.5, -17.0) for b in (5.0, -0.5, 0.0)]),
    (maybe_none, [(x,) for x in (-3, 0, 4)]),
    (not_it, [(x,) for x in INTS[:4]]),
    (not_it, [(x,) for x in FLOATS]),
    (bool_arith, [(a, b) for a in (True, False) for b in (True, False)]),
    (square, [(n,) for n in INTS]),
    (power, [(a, b) for a in (0, 2, -3) for b in (0, 3, 62, 64)]),
    (power, [(a, b) for a in (2, -3) for b in (-1, -2)], True),
    (power, [(a, b) for a in (2.0, -8.0, 0.0) for b in (0.5, 3.0, -1.0, 1e10)], True),  # complex
    (divide, [(a, b) for a in (1, -7, 2**60) for b in (2, -3, 0)]),
    (divide, [(a, b) for a in (1.0, -0.0) for b in (2.0, 0.0, math.inf)]),
    (range_len, [(a, b, c) for a in (-5, 0, 9) for b in (-7, 10) for c in (-3, 0, 1, 4)]),
    (negate, [(x,) for x in INTS]),
    (shifts, [(x, n) for x in (1, -5, 2**40) for n in (0, 3, 30, 63, 64, -1)]),
    (floor_mod, [(a, b) for a in INTS[:5] for b in (3, -3, 0)]),
    (floor_mod, [(a, b) for a in FLOATS[:6] for b in (3.0, -0.5, 0.0, math.inf)]),
    (float_pow, [(a, b) for a in (2.5, -2.0) for b in (2, 3, -2)]),
    (unbound, [(True,), (False,)]),
    (early_return, [(n,) for n in (0, 1, 10, 99)]),
    (triangle, [(n,) for n in (0, 3, 50)]),
    (nan_compare, [(x,) for x in FLOATS]),
    (returns_float_or_int, [(n,) for n in (-2, 0, 3)], True),
    (scaled, [(x,) for x in (2, -(2**62))]),
    (calls_helper, [(x,) for x in (1, 2**63 - 1)]),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(CASES)]
)
def test_corpus(case) -> None:
    func, arglists, *bail = case
    for args in arglists:
        check(func, *args, bail=bool(bail))


def test_native_calls_counted() -> None:
    cf = compiled(fib, (int,))
    before = cf.counters()["native_calls"]
    assert cf.entry(15) == 610
    assert cf.counters()["native_calls"] == before + 1


def test_wrong_argument_types_fall_back() -> None:
    cf = compiled(gcd, (int, int))
    assert cf.entry(1.5, 2) is FALLBACK
    assert cf.entry(2**70, 2) is FALLBACK
    assert cf.entry(True, 2) is FALLBACK
    assert cf.entry(1) is FALLBACK


def test_global_rebinding_is_seen() -> None:
    global SCALE
    cf = fresh(scaled, (int,))
    assert cf.entry(5) == 15
    SCALE = 4
    try:
        assert cf.entry(5) == 20
        SCALE = 2.5
        assert cf.entry(5) is FALLBACK
    finally:
        SCALE = 3


def test_callee_monkeypatch_is_seen() -> None:
    global helper
    cf = fresh(calls_helper, (int,))
    assert cf.entry(5) == 12
    original = helper
    helper = lambda x: x - 1  # noqa: E731
    try:
        assert cf.entry(5) is FALLBACK
    finally:
        helper = original
    assert cf.entry(5) == 12


def test_builtin_shadowed_by_module_global() -> None:
    cf = fresh(builtins_mix, (int, int))
    assert cf.entry(1, 2) == (1, 2, 1)
    globals()["abs"] = lambda x: 0
    try:
        assert cf.entry(1, 2) is FALLBACK
    finally:
        del globals()["abs"]


def test_recursion_is_a_direct_self_call() -> None:
    cf = compiled(fib, (int,))
    assert "call_direct fib." in cf.ir_text
    assert cf.functions == ("fib",)


def test_callee_is_compiled_into_the_same_module() -> None:
    cf = compiled(calls_helper, (int,))
    assert cf.functions == ("calls_helper", "helper")


def test_mutual_recursion() -> None:
    check(is_even, 10)
    check(is_even, 7)


def test_deep_recursion_bails() -> None:
    assert compiled(is_even, (int,)).entry(5000) is MISS


# -- tail calls (``tailcalls``): the call in return position is a loop, its addend folded ----


def tri(n):
    if n <= 0:
        return 0
    return n + tri(n - 1)


def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


def euclid(a, b):
    if b == 0:
        return a
    return euclid(b, a % b)


def seesaw(n, cut, step):
    """Adds ``step`` for the frames above ``cut`` and ``-step`` below: folded from the top,
    the partial sums group the addends otherwise than python, which adds from the bottom."""
    if n == 0:
        return 0
    here = step if n > cut else -step
    return here + seesaw(n - 1, cut, step)


def both_operators(n):
    if n <= 0:
        return 1
    if n % 3 == 0:
        return n * both_operators(n - 1)
    return n + both_operators(n - 1)


def keeps_a_list(xs, n):
    if n == 0:
        return 0
    xs.append(n)
    return n + keeps_a_list(xs, n - 1)


def loops_then_recurses(n):
    total = 0
    for i in range(n % 4):
        total += i
    if n <= 0:
        return total
    return total + loops_then_recurses(n - 1)


@pytest.mark.parametrize(
    ("func", "folded"),
    [(tri, "+ "), (fact, "* "), (euclid, ""), (fib, "+ "), (both_operators, "* ")],
)
def test_a_call_of_itself_in_return_position_is_a_loop(func, folded) -> None:
    signature = (int,) * func.__code__.co_argcount
    lines = compiled(func, signature).ir_text.splitlines()
    tails = [line.split("tail_call ")[1] for line in lines if "tail_call " in line]
    assert tails, lines
    assert all(f"{folded}{func.__name__}.0(" in tail for tail in tails), tails


@pytest.mark.parametrize(
    ("func", "signature"), [(keeps_a_list, (list, int)), (loops_then_recurses, (int,))]
)
def test_no_tail_loop_where_a_call_could_resume_the_interpreter(func, signature) -> None:
    text = compiled(func, signature).ir_text
    assert "tail_call" not in text
    assert f"call_direct {func.__name__}." in text


@pytest.mark.parametrize("n", [0, 1, 2, 10, 150, 200, -4])
def test_tail_loops_agree_with_python(n) -> None:
    for func in (tri, fact, both_operators):
        check(func, n)
    check(euclid, n * 7919, 2 * n + 1)
    check(euclid, -(2**62), n)


def test_a_tail_loop_counts_its_depth_like_calls() -> None:
    assert check(tri, 199) == 19900
    assert compiled(tri, (int,)).entry(201) is MISS  # past the native depth: python recurses
    assert compiled(tri, (int,)).entry(5000) is MISS  # python raises RecursionError


def test_a_call_near_the_recursion_limit_is_left_to_the_interpreter() -> None:
    recursive, leaf = compiled(tri, (int,)).entry, compiled(leibniz, (int,)).entry
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 150)  # python refuses tri(150) from here
    try:
        assert recursive(10) is MISS
        assert leaf(1000) == leibniz(1000)  # no native calls: no need for headroom
    finally:
        sys.setrecursionlimit(limit)
    assert recursive(10) == 55


def test_folding_in_another_order_stays_exact() -> None:
    big = 2**62
    # Python's order passes 2 * big (past int64: native calls made one by one bail); from
    # the top the sums stay in int64 and reach the exact result natively.
    assert compiled(seesaw, (int, int, int)).entry(4, 2, -big) == seesaw(4, 2, -big) == 0
    # From the top 2 * big overflows where python's order does not: a bail, and the
    # interpreter gives the exact result.
    assert compiled(seesaw, (int, int, int)).entry(4, 2, big) is MISS
    assert check(fact, 21) is MISS  # past int64 in any order


def test_unsupported_reason_and_line() -> None:
    def uses_set(n):
        xs = {n}
        return xs

    with pytest.raises(Unsupported) as info:
        compile_function(uses_set, (int,), fallback=fallback, miss=MISS)
    assert info.value.lineno == uses_set.__code__.co_firstlineno + 1

    with pytest.raises(Unsupported, match="argument types"):
        compile_function(fib, (str,), fallback=fallback, miss=MISS)
