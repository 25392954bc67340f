"""Precise deoptimization: native code that bails after a visible effect resumes the
interpreter exactly at the bailing instruction.  Every case is compared with python: result
(value and type), exception (type, message, line), and the lists the function changed --
each effect exactly once."""

from __future__ import annotations

import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfast.compiler import compile_function, deopt
from pyfast.compiler.build import build_unit
from pyfast.compiler.ir import format_function
from pyfast.compiler.types import INT, LIST

MISS = object()
FALLBACK = object()


def _fallback(*args: object) -> object:
    return FALLBACK


def mid_call(xs, a, n):
    for i in range(n):
        xs.append(a * i + 1)  # overflows with [method, xs, a, i] on the value stack
    return len(xs)


def store(xs, n):
    for i in range(n):
        xs[i] = i * 2
    return xs


def nested(xs, n):
    s = 0
    for i in range(n):
        for j in range(n):
            xs.append(j)
            s += i * j * 10**15
    return s


def helper(xs, v):
    xs.append(v)
    return v * 10**15


def caller(xs, n):
    last = 0
    for i in range(n):
        last = helper(xs, i) + 1  # helper itself deoptimizes: the caller resumes after it
    return last


def div_after_append(xs, n):
    for i in range(n):
        xs.append(i)
        xs.append(10 // (n - 1 - i))
    return 0


def flip(xs, n):
    xs.append(n)
    if n > 5:
        return 0.5
    return n  # compiled for float: this return deoptimizes after the append


def tuple_on_stack(xs, a):
    xs.append(a)
    return (a, a * a * a)  # the tuple's first item is on the stack when '*' overflows


def stores_negative(xs, v):
    xs[-1] = v
    xs[-2] = v * v
    return len(xs)


def fill(xs, n, k):
    """Small and calling itself: every other level runs in an inlined copy (lower's
    ``INLINE_RECURSION_OPS``), which deoptimizes from its own frame."""
    if n == 0:
        return 0
    xs.append(n)
    below = fill(xs, n - 1, k)
    return below + n * k  # past int64 for a large k: every frame deoptimizes in turn


CASES = [
    (fill, (list, int, int), [([], 5, 3), ([], 40, 2**60), ([], 150, 2**62), ([], 7, -(2**61))]),
    (mid_call, (list, int, int), [([], 3, 10), ([], 2**62, 10), ([], -(2**62), 3)]),
    (store, (list, int), [([0] * 5, 5), ([0] * 5, 8), ([], 1)]),
    (nested, (list, int), [([], 3), ([], 2000)]),
    (caller, (list, int), [([], 10), ([], 20000)]),
    (div_after_append, (list, int), [([], 1), ([], 5)]),
    (flip, (list, int), [([], 3), ([], 7)]),
    (tuple_on_stack, (list, int), [([], 5), ([], 2**40)]),
    (stores_negative, (list, int), [([1, 2, 3], 4), ([1, 2, 3], 2**40), ([1], 2**40)]),
]

_compiled: dict = {}


def compiled(func, signature):
    key = (func, signature)
    if key not in _compiled:
        _compiled[key] = compile_function(func, signature, fallback=_fallback, miss=MISS)
    return _compiled[key]


def outcome(call):
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001
        line = traceback.extract_tb(exc.__traceback__)[-1].lineno
        return ("raise", type(exc), str(exc), line)
    return ("ok", type(value), value)


def copy(args):
    return [list(a) if isinstance(a, list) else a for a in args]


@pytest.mark.parametrize(
    ("func", "signature", "args"),
    [(f, sig, args) for f, sig, inputs in CASES for args in inputs],
    ids=lambda v: getattr(v, "__name__", None) or "",
)
def test_deoptimized_call_matches_python(func, signature, args):
    python_args, native_args = copy(args), copy(args)
    expected = outcome(lambda: func(*python_args))
    got = outcome(lambda: compiled(func, signature).entry(*native_args))
    if got[:3] == ("ok", object, MISS):  # a bail before any effect: the interpreter re-runs
        got = outcome(lambda: func(*native_args))
    assert got == expected
    assert native_args == python_args  # every append and store happened exactly once


def test_deopts_are_counted_by_reason():
    c = compile_function(store, (list, int), fallback=_fallback, miss=MISS)
    with pytest.raises(IndexError):
        c.entry([0, 0], 3)
    line = store.__code__.co_firstlineno + 2
    assert c.deopts() == {f"line {line}: list index out of range": 1}


def test_bail_before_any_effect_is_a_miss():
    """Nothing visible happened yet: the interpreter re-runs the call (exact tracebacks)."""
    c = compile_function(stores_negative, (list, int), fallback=_fallback, miss=MISS)
    xs = []
    assert c.entry(xs, 1) is MISS and xs == [] and c.deopts() == {}


def test_traceback_shows_only_user_frames_after_a_resume():
    c = compile_function(div_after_append, (list, int), fallback=_fallback, miss=MISS)
    with pytest.raises(ZeroDivisionError) as info:
        c.entry([], 3)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames] == [
        "test_traceback_shows_only_user_frames_after_a_resume",
        "div_after_append",
    ]
    assert frames[-1].line == "xs.append(10 // (n - 1 - i))"


def accumulate(out, start, step, n):
    x = start
    for _ in range(n):
        x = x + step
        out.append(x)
    return x


def scale_all(out, k, n):
    for i in range(n):
        out.append(i * k - k)
    return out


BOUNDARY = st.one_of(
    st.integers(-(2**63) - 5, -(2**63) + 5),
    st.integers(2**63 - 5, 2**63 + 5),
    st.integers(-(2**62), 2**62),
    st.sampled_from([0, 1, -1, 2**31, -(2**31), 2**62, -(2**62)]),
)


@settings(max_examples=150, deadline=None)
@given(start=BOUNDARY, step=BOUNDARY, n=st.integers(0, 6))
def test_appending_across_the_int64_boundary(start, step, n):
    c = compiled(accumulate, (list, int, int, int))
    python_out, native_out = [], []
    expected = outcome(lambda: accumulate(python_out, start, step, n))
    got = outcome(lambda: c.entry(native_out, start, step, n))
    if got[2] is FALLBACK:  # an argument past 64 bits: the guard sends the call to python
        got = outcome(lambda: accumulate(native_out, start, step, n))
    elif got[2] is MISS:
        got = outcome(lambda: accumulate(native_out, start, step, n))
    assert got == expected and native_out == python_out


@settings(max_examples=100, deadline=None)
@given(k=BOUNDARY, n=st.integers(0, 8))
def test_scaling_across_the_int64_boundary(k, n):
    c = compiled(scale_all, (list, int, int))
    python_out, native_out = [], []
    expected = outcome(lambda: scale_all(python_out, k, n))
    got = outcome(lambda: c.entry(native_out, k, n))
    if got[2] is FALLBACK or got[2] is MISS:
        got = outcome(lambda: scale_all(native_out, k, n))
    assert got[:2] == expected[:2] and native_out == python_out


def test_effects_and_dirty_blocks():
    unit, fir = build_unit(caller, (LIST, INT), lambda g: g.__code__)
    deopt.mark_effects(unit)
    calls = [op for b in fir.blocks for op in b.ops if type(op).__name__ == "CallDirect"]
    assert calls and all(op.effect for op in calls)
    dirty = deopt.dirty_blocks(fir)
    assert dirty and 0 not in dirty  # the entry block precedes every effect
    text = format_function(unit.functions[(helper, (LIST, INT))])
    assert "= append %1, %0 : None" in text


def test_resume_point_restores_locals_and_stack():
    """Resume ``mid_call`` at its '*' with [iterator, list.append, xs, a, i] on the stack."""
    unit, fir = build_unit(mid_call, (LIST, INT, INT), lambda g: g.__code__)
    state = next(op.state for b in fir.blocks for op in b.ops if getattr(op, "op", None) == "*")
    code = deopt.ResumeCode(mid_call, mid_call.__code__, None)
    point = code.point(state, "test")
    code.make(None)
    xs = [7]
    assert [name for name, _ in state.locals] == ["a", "i", "xs"]  # n is dead in the loop
    # those locals; the iterator (next, stop, step); then xs, a, i
    flat = [3, 4, xs, 5, 10, 1, xs, 3, 4]
    assert len(list(deopt.flat_values(state))) == len(flat)
    function, args = point(*flat)
    assert point.count == 1 and function is point.function
    assert function(*args) == 7 and xs == [7, 13, 16, 19, 22, 25, 28]


def test_a_resume_code_kept_in_the_cache_is_used_without_making_it(tmp_path, monkeypatch):
    """The resume code a first process made is kept in the machine-code cache folder; a later
    process binds its points to the kept code; a corrupt blob is made again."""
    unit, fir = build_unit(mid_call, (LIST, INT, INT), lambda g: g.__code__)
    state = next(op.state for b in fir.blocks for op in b.ops if getattr(op, "op", None) == "*")
    first = deopt.ResumeCode(mid_call, mid_call.__code__, None)
    made = first.point(state, "test")
    first.make(str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 1

    def fail(*args: object) -> None:
        raise AssertionError("made again")

    monkeypatch.setattr(deopt, "_resume_code", fail)
    again = deopt.ResumeCode(mid_call, mid_call.__code__, None)
    point = again.point(state, "test")
    again.make(str(tmp_path))
    xs = [7]
    function, args = point(3, 4, xs, 5, 10, 1, xs, 3, 4)
    assert function(*args) == 7 and xs == [7, 13, 16, 19, 22, 25, 28]
    assert function is not made.function and function.__code__ == made.function.__code__

    monkeypatch.undo()
    for blob in tmp_path.iterdir():
        blob.write_bytes(b"corrupt")
    third = deopt.ResumeCode(mid_call, mid_call.__code__, None)
    point = third.point(state, "test")
    third.make(str(tmp_path))
    assert point.function.__code__ == made.function.__code__


def test_a_resume_code_that_cannot_be_made_fails_the_compilation(monkeypatch):
    """Making the resume code is part of finishing the compilation: its failure is the
    compilation's (the hook then keeps the function interpreted), never a deoptimization's."""

    def fail(*args: object) -> None:
        raise RuntimeError("injected: bytecode cannot make the resume code")

    monkeypatch.setattr(deopt, "_resume_code", fail)
    with pytest.raises(RuntimeError, match="injected"):
        compile_function(mid_call, (list, int, int), fallback=_fallback, miss=MISS)


# -- through pyfast, as a user runs it ------------------------------------------------------

E2E = """
def squares(out, n, scale):
    for i in range(n):
        out.append(i * scale)
    return len(out)

def fill(xs, v):
    for i in range(len(xs) + 1):
        xs[i] = v * i
    return xs

total = 0
for k in range(40):
    out = []
    total += squares(out, 5, 10**17 * k)
    print(out[-1])
print(total)
fill([0, 0, 0], 2**62)
"""


def test_pyfast_deoptimizes_and_reports(python_and_pyfast):
    got, records = python_and_pyfast(E2E)
    assert "IndexError: list assignment index out of range" in got.stderr
    squares = records["squares"]
    assert squares["status"] == "compiled" and squares["native_calls"] >= 20
    assert squares["deopts"] == 10  # k >= 24 overflows; after 10 it runs interpreted
    assert squares["deopt_reasons"] == {"line 4: * left the native range or raises": 10}
    assert squares["reason"] == "left interpreted after 10 deoptimizations"
    assert records["fill"]["deopts"] == 1


OSR_EFFECTS = """
def build(out, n):
    x = 1
    for i in range(n):
        out.append(x)
        x = x * 3
    return len(out), x

print(build([], 200))
"""


def test_osr_continuation_deoptimizes_after_appends(python_and_pyfast):
    """The loop enters native code at its first back edge, appends, overflows at 3**40:
    the continuation resumes the interpreter; no append is lost or repeated."""
    got, records = python_and_pyfast(OSR_EFFECTS)
    assert got.returncode == 0
    assert records["build"]["osr_entries"] == 1 and records["build"]["deopts"] == 1


def test_a_warm_run_deoptimizes_without_bytecode(cold_and_warm):
    """The cold run makes the resume code and keeps it beside the machine code; the warm run
    (modules, machine code and resume code from the caches) deoptimizes exactly as python
    runs, without importing ``bytecode``."""
    python, cold, warm, records = cold_and_warm(
        "import sys\n"
        "def mid_call(xs, a, n):\n"
        "    for i in range(n):\n"
        "        xs.append(a * i + 1)\n"
        "    return len(xs)\n"
        "for k in range(30):\n"
        "    xs = []\n"
        "    mid_call(xs, 2**60 * k, 4)\n"
        "print(xs[-1], 'bytecode' in sys.modules)\n"
    )
    assert python.stdout.endswith("False\n") and cold.stdout.endswith("True\n"), cold
    assert warm.stdout == python.stdout, warm
    row = records["mid_call"]
    assert row["status"] == "compiled" and row["deopts"] > 0, row
