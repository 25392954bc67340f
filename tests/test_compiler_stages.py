"""Unit tests per compiler stage: opcodes/decode, IR build + printer, inference, prescreen."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from pyfast.compiler import Unsupported, prescreen
from pyfast.compiler.build import build_unit
from pyfast.compiler.decode import decode, format_blocks
from pyfast.compiler.ir import format_function
from pyfast.compiler.types import BOOL, FLOAT, INT, NONE


def ops(func) -> list[tuple[str, object]]:
    return [(i.op, i.arg) for block in decode(func.__code__) for i in block.instrs]


def ir_of(func, *types):
    unit, fir = build_unit(func, types, lambda f: f.__code__)
    return unit, fir, format_function(fir)


# -- decode: the same neutral instructions on every version -------------------------------


def add_one(x):
    return x + 1


def call_math(x):
    return math.sqrt(x)


def swap_pair(a, b):
    a, b = b, a
    return a


def count(n):
    t = 0
    for i in range(n):
        t += i
    return t


def test_decode_straight_line() -> None:
    assert ops(add_one) == [
        ("LOAD_FAST", "x"),
        ("LOAD_CONST", 1),
        ("BINARY", "+"),
        ("RETURN", None),
    ]


def test_decode_call_models_the_null_and_drops_precall() -> None:
    """The NULL of a call sequence sits below the callable up to 3.12, above it on 3.13."""
    load = [("LOAD_GLOBAL", "math"), ("LOAD_ATTR", "sqrt")]
    null = [("PUSH_NULL", None)]
    callee = null + load if sys.version_info < (3, 13) else load + null
    assert ops(call_math) == [*callee, ("LOAD_FAST", "x"), ("CALL", 1), ("RETURN", None)]


def test_decode_superinstructions_are_split() -> None:
    loads = [arg for op, arg in ops(swap_pair) if op in ("LOAD_FAST", "STORE_FAST")]
    assert loads == ["b", "a", "b", "a", "a"]


def test_decode_for_loop_and_liveness() -> None:
    blocks = decode(count.__code__)
    names = [i.op for b in blocks for i in b.instrs]
    assert "FOR_ITER" in names and "GET_ITER" in names
    header = next(b for b in blocks if b.instrs and b.instrs[0].op == "FOR_ITER")
    assert header.live_in == {"t"}
    assert blocks[0].live_in == {"n"}
    assert "FOR_ITER" in format_blocks(blocks)


def test_decode_branches_are_neutral() -> None:
    def f(a, b):
        if a < b < 3 and a is not None:
            return 1
        return 2

    kinds = {op for op, _ in ops(f)}
    assert kinds <= {
        "LOAD_FAST", "LOAD_CONST", "COMPARE", "BRANCH", "BRANCH_OR_POP", "BRANCH_NONE",
        "SWAP", "COPY", "POP", "JUMP", "RETURN", "IS", "TO_BOOL",
    }  # fmt: skip


def test_decode_keeps_source_lines() -> None:
    first = count.__code__.co_firstlineno
    lines = {i.lineno for b in decode(count.__code__) for i in b.instrs}
    assert lines <= set(range(first, first + 5)) and first + 3 in lines


# -- IR build and printer ----------------------------------------------------------------


def test_ir_of_add_one() -> None:
    _, fir, text = ir_of(add_one, INT)
    assert fir.return_type is INT
    assert text.splitlines()[0] == f"def {fir.symbol}(x: int) -> int:"
    assert "%0 + 1 : int" in text
    assert "return %1" in text


def test_ir_is_deterministic() -> None:
    assert ir_of(count, INT)[2].split(":", 1)[1] == ir_of(count, INT)[2].split(":", 1)[1]


def test_ir_range_loop_has_no_objects() -> None:
    _, fir, text = ir_of(count, INT)
    assert "select" in text or "<" in text
    assert fir.return_type is INT
    assert "call" not in text


def test_ir_swap_is_free() -> None:
    _, _, text = ir_of(swap_pair, INT, INT)
    assert "tuple" not in text


def test_ir_math_guards() -> None:
    unit, fir, text = ir_of(call_math, FLOAT)
    assert "call math.sqrt(" in text
    assert [(type(g).__name__, g.name) for g in unit.guards] == [
        ("GlobalIdentity", "math"),
        ("GlobalIdentity", "sqrt"),
    ]


def test_ir_tuple_return() -> None:
    def pair(a, b):
        return a, b

    _, fir, text = ir_of(pair, INT, FLOAT)
    assert str(fir.return_type) == "tuple[int, float]"
    assert "tuple (%0, %1) : tuple[int, float]" in text


def larger(a, b):
    if a < b:
        return b
    return a


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def spread(x, y):
    return math.sqrt(x * x + y) * math.exp(-x)


@pytest.mark.parametrize(
    ("func", "types", "work"),
    [
        (add_one, (INT,), 1),
        (larger, (INT, INT), 1),
        (swap_pair, (INT, INT), 0),
        (spread, (FLOAT, FLOAT), 6),
        (count, (INT,), None),  # a loop
        (fib, (INT,), None),  # native calls
    ],
)
def test_straight_work_counts_what_a_native_call_saves(func, types, work) -> None:
    assert ir_of(func, *types)[1].straight_work() == work


def test_too_little_work_is_refused_only_when_asked() -> None:
    from pyfast.compiler import api

    with pytest.raises(Unsupported, match="too little work .*operations: 1"):
        api.prepare_function(add_one, (int,), fallback=add_one, miss=None, min_work=4)
    api.prepare_function(add_one, (int,), fallback=add_one, miss=None)
    api.prepare_function(count, (int,), fallback=count, miss=None, min_work=4)


# -- inference: block versions, return types, rejections -----------------------------------


def half(n):
    x = 0
    for _ in range(n):
        x += 0.5
    return x


def test_int_becoming_float_gets_two_versions() -> None:
    _, fir, text = ir_of(half, INT)
    assert fir.return_type is FLOAT
    assert "bail  # returns int, compiled for float" in text


def test_none_or_int_local_is_typed_per_path() -> None:
    def f(x):
        y = None
        if x > 0:
            y = x
        return 0 if y is None else y

    _, fir, _ = ir_of(f, INT)
    assert fir.return_type is INT


def test_bool_argument() -> None:
    _, fir, _ = ir_of(add_one, BOOL)
    assert fir.return_type is INT


def test_returns_none() -> None:
    def f(x):
        x += 1

    _, fir, _ = ir_of(f, INT)
    assert fir.return_type is NONE


def test_reject_types_that_keep_changing() -> None:
    def f(n):
        x = 0
        for _ in range(n):
            x = (x, x)
        return 1

    with pytest.raises(Unsupported) as info:
        ir_of(f, INT)
    assert info.value.lineno is not None


def test_reject_unsupported_operation_with_line() -> None:
    def f(x):
        y = x + 1
        return y + None

    with pytest.raises(Unsupported) as info:
        ir_of(f, INT)
    assert info.value.lineno == f.__code__.co_firstlineno + 2
    assert "None" in info.value.reason


def test_reject_is_between_numbers() -> None:
    def f(a, b):
        return a is b

    with pytest.raises(Unsupported, match="'is'"):
        ir_of(f, INT, INT)


def test_reject_unknown_global() -> None:
    def f(x):
        return undefined_name_xyz(x)  # noqa: F821

    with pytest.raises(Unsupported, match="not defined"):
        ir_of(f, INT)


# -- prescreen ---------------------------------------------------------------------------


def gen(n):
    yield n


def with_set(n):
    x = n + 1
    return {x}


def with_attr(o):
    return o.real


def with_str(n):
    s = "abc"
    return s


def with_try(n):
    try:
        return 1 // n
    except ZeroDivisionError:
        return 0


def closure(n):
    def inner():
        return n

    return inner


def with_import(n):
    import os

    return os


@pytest.mark.parametrize(
    ("func", "line_offset", "words"),
    [
        (gen, 0, "generator"),
        (with_set, 2, "BUILD_SET"),
        (with_attr, 1, "attribute"),
        (with_str, 1, "constant"),
        (with_try, 0, "try"),
        (closure, 0, "closure"),
        (with_import, 1, "IMPORT_NAME"),
    ],
)
def test_prescreen_rejects(func, line_offset, words) -> None:
    reason = prescreen(func.__code__)
    assert isinstance(reason, Unsupported)
    assert words in reason.reason
    assert reason.lineno == func.__code__.co_firstlineno + line_offset


@pytest.mark.parametrize("func", [add_one, call_math, swap_pair, count, half])
def test_prescreen_accepts(func) -> None:
    assert prescreen(func.__code__) is None


def test_argument_types_are_known_before_the_compiler_is_imported() -> None:
    from pyfast.compiler import api
    from pyfast.compiler.types import FROM_PY

    assert set(FROM_PY) == api.ARGUMENT_TYPES  # tuples: typed from a sample only


def test_prescreen_names_nested_code_without_its_address() -> None:
    def outer(n):
        return sum(i for i in range(n))

    reason = prescreen(outer.__code__)
    assert "nested code <genexpr>" in reason.reason and "0x" not in reason.reason


GLOBAL_CLASS = """
import sys
from pyfast.compiler import Unsupported, compile_function

class Point:
    pass

def make(n):
    return [Point() for _ in range(n)]

try:
    compile_function(make, (int,), fallback=make, miss=None)
except Unsupported as exc:
    print(exc.reason)
print("pyfast.compiler.build" in sys.modules)
"""


def test_a_global_native_code_cannot_hold_is_refused_before_the_compiler_loads(tmp_path) -> None:
    """Object-heavy code passing the pre-screen must not pay the compiler's imports.  (Run
    outside the checkout: its ``pyfast/`` folder would shadow the installed package.)"""
    command = [sys.executable, "-c", GLOBAL_CLASS]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.splitlines() == ["global 'Point' is a type", "False"]


def test_contained_collects_its_cycles_and_respects_a_disabled_collector() -> None:
    """``garbage.Contained``: no collection inside; at the end one young collection frees the
    block's reference cycles and the collector is on again; a program that turned the
    collector off keeps it off and gets no collection."""
    import gc
    import weakref

    from pyfast.compiler.garbage import Contained

    class Node:
        pass

    def cycle() -> weakref.ref:
        node = Node()
        node.me = node
        return weakref.ref(node)

    was_enabled = gc.isenabled()
    try:
        gc.enable()
        with Contained():
            assert not gc.isenabled()
            made = cycle()
            assert made() is not None  # no collection inside
        assert made() is None and gc.isenabled()
        gc.disable()
        with Contained():
            kept = cycle()
        assert kept() is not None and not gc.isenabled()
        gc.collect()
        assert kept() is None
    finally:
        (gc.enable if was_enabled else gc.disable)()


def test_an_entry_needs_a_callable_fallback_and_takes_any_miss():
    """A fallback that is not callable is refused when the entry is made (its slot would
    stay NULL); ``miss`` may be any object, None included."""
    from pyfast.compiler.api import prepare_function

    def square(x):
        return x * x

    with pytest.raises(TypeError, match="fallback must be callable, not NoneType"):
        prepare_function(square, (int,), fallback=None, miss=None).finish()
    entry = prepare_function(square, (int,), fallback=square, miss=None).finish().entry
    assert entry(3) == 9
    assert entry(2**40) is None  # 2**80 leaves int64: the body bails, the entry returns miss
    assert entry(1.5) == 2.25  # a guard fails: the fallback runs


def test_decode_sites_are_the_instructions_bytecode_lists() -> None:
    """``decode.instructions`` (``dis``) and the ``bytecode`` package, with which resume codes
    and OSR continuations are made, list the same instructions: site k is the same in both."""
    import dis as dis_module
    import inspect as inspect_module
    import types

    from bytecode import Bytecode
    from bytecode import Instr as BytecodeInstr
    from pyfast.compiler import decode as decode_module

    def codes(code: types.CodeType):
        yield code
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from codes(const)

    count = 0
    for module in (decode_module, dis_module, inspect_module):
        top = compile(inspect_module.getsource(module), module.__file__, "exec")
        for code in codes(top):
            listed = [i.name for i in Bytecode.from_code(code) if isinstance(i, BytecodeInstr)]
            assert [op.name for op in decode_module.instructions(code)] == listed, code
            count += 1
    assert count > 200
