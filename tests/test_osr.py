"""On-stack replacement, compiler side (compiler/osr.py), checked in the interpreter.

The continuation tests need no native compiler: loop probes are planted with ``plant_probes``
and, at the k-th back edge of a header, the probe's slot runs the *interpreted* continuation
through ``enter``.  The instrumented call must return (or raise) exactly what the original does,
with every side effect happening once.
"""

from __future__ import annotations

import dis
import json
import math
import sys
from pathlib import Path
from types import FunctionType

import pytest
from bytecode import Bytecode, Instr
from pyfast.compiler import osr

MISS = object()


# --- corpus -------------------------------------------------------------------------------


def seed_sum(n):
    total = 0
    for i in range(1, n + 1):
        total += i
    return total


def while_sum(n):
    i = 0
    s = 0
    while i < n:
        s += i * i
        i += 1
    return s


def nested(n):
    s = 0
    for i in range(n):
        for j in range(i):
            if j == 3:
                continue
            if s > 300:
                break
            s += j
        else:
            s += 1
    return s


def for_else_break(n, needle):
    for i in range(n):
        if i * i == needle:
            found = i
            break
    else:
        found = -1
    return found


def while_true(n):
    k = 0
    while True:
        k += 3
        if k > n:
            break
    return k


def int_becomes_float(n):
    x = 0
    for i in range(n):
        x += 0.5 if i % 3 == 0 else 1
    return x


def negative_step(a, b):
    acc = 1
    for i in range(a, b, -3):
        acc = (acc * 31 + i) % 1000003
    return acc


def loop_variable_after(n):
    for i in range(n):  # noqa: B007
        pass
    return i  # UnboundLocalError for n <= 0, as in Python


def tuple_result(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a, b


def raises_inside(n):
    s = 0
    for i in range(n, -5, -1):
        s += 100 // i
    return s


def side_effects(n, out):
    for i in range(n):
        out.append(i * 2)
    return len(out)


def early_return(n):
    for i in range(n):
        for j in range(n):
            if i * j == 12:
                return i, j
    return None


def while_in_for(n):
    total = 0
    for i in range(n):
        j = i
        while j > 0:
            total += j & 1
            j >>= 1
    return total


def big_ints(n):
    s = 0
    for i in range(2**70, 2**70 + n):
        s += i
    return s


def over_list(items):
    s = 0
    for x in items:
        s += x
    return s


def math_loop(n):
    s = 0.0
    for i in range(1, n):
        s += math.sqrt(i) / i
    return s


def keyword_only(n, *, step=2):
    s = 0
    for i in range(0, n, step):
        s -= i
    return s


def star_args(*args):
    s = 0
    for a in args:
        s += a
    k = 0
    while k < len(args):
        s *= 2
        k += 1
    return s


def make_closure(scale):
    def scaled(n):
        s = 0
        for i in range(n):
            s += i * scale
        return s

    return scaled


CORPUS = [
    (seed_sum, (100,)),
    (seed_sum, (0,)),
    (while_sum, (50,)),
    (nested, (30,)),
    (for_else_break, (40, 49)),
    (for_else_break, (40, 50)),
    (while_true, (100,)),
    (int_becomes_float, (20,)),
    (negative_step, (200, -40)),
    (loop_variable_after, (7,)),
    (loop_variable_after, (0,)),
    (tuple_result, (90,)),
    (raises_inside, (10,)),
    (side_effects, (12, [])),
    (early_return, (10,)),
    (early_return, (2,)),
    (while_in_for, (40,)),
    (big_ints, (10,)),
    (over_list, ([1, 2, 3, 4, 5],)),
    (math_loop, (30,)),
    (keyword_only, (25,)),
    (star_args, (1, 2, 3)),
    (make_closure(3), (12,)),
]


# --- helpers --------------------------------------------------------------------------------


def copied(args):
    return [list(a) if isinstance(a, list) else a for a in args]


def outcome(func, args):
    try:
        result = func(*args)
    except Exception as exc:  # noqa: BLE001 -- the exception is the outcome compared
        return "raise", type(exc), str(exc)
    return "return", type(result), repr(result)


def instrumented(func, slot, headers=None):
    """``func`` with probes on ``headers`` (default: all OSR-able ones) calling ``slot``."""
    code = func.__code__
    bc = Bytecode.from_code(code)
    labels = osr.header_labels(bc, code)
    chosen = osr.loop_headers(code) if headers is None else headers
    osr.plant_probes(
        bc,
        labels,
        chosen,
        load_slot=lambda h, where: [Instr("LOAD_GLOBAL", (False, "__osr_slot__"))],
        miss=MISS,
    )
    namespace = dict(func.__globals__, __osr_slot__=slot)
    inst = FunctionType(bc.to_code(), namespace, func.__name__, func.__defaults__, func.__closure__)
    inst.__kwdefaults__ = func.__kwdefaults__
    return inst


def switch_at(func, header, k):
    """A slot that enters the interpreted continuation at the k-th back edge of ``header``."""
    seen = {"arrivals": 0, "switched": 0}

    def slot(*values):
        seen["arrivals"] += 1
        signature = osr.signature_of(header, values)
        if seen["arrivals"] != k or signature is None:
            return MISS
        seen["switched"] += 1
        kinds = osr.iterator_kinds(header, signature)
        cont = osr.make_continuation(func, header, kinds=kinds)
        return cont(*osr.entry_args(header, values))

    return slot, seen


def osr_cases():
    for func, args in CORPUS:
        for header in osr.loop_headers(func.__code__):
            if header.reason is None:
                for k in (1, 2, 7):
                    yield pytest.param(
                        func, args, header, k, id=f"{func.__name__}-{header.key}-{k}"
                    )


# --- loop_headers ---------------------------------------------------------------------------


def shape(func):
    return [
        (h.lineno - func.__code__.co_firstlineno, h.iterators, h.locals, h.reason)
        for h in osr.loop_headers(func.__code__)
    ]


def test_headers_for_loop():
    assert shape(seed_sum) == [(2, 1, ("total",), None)]


def test_headers_while_loop_header_is_the_back_edge_target():
    ((line, iterators, names, reason),) = shape(while_sum)
    assert line == 4  # the loop body: 3.11 duplicates the test at the bottom, 3.12+ invert
    assert (iterators, names, reason) == (0, ("n", "i", "s"), None)


def test_headers_nested_with_break_continue_else():
    assert shape(nested) == [(2, 1, ("s",), None), (3, 2, ("s",), None)]
    inner = osr.loop_headers(nested.__code__)[1]
    assert len(inner.back_edges) == 2  # `continue` and the end of the body


def test_headers_while_inside_for_counts_the_outer_iterator():
    assert [(it, names) for _, it, names, _ in shape(while_in_for)] == [
        (1, ("total",)),
        (1, ("total", "j")),
    ]


def test_headers_for_else_and_while_true():
    assert shape(for_else_break) == [(1, 1, ("needle",), None)]
    assert shape(while_true) == [(3, 0, ("n", "k"), None)]


def test_local_bound_on_every_back_edge_is_passed():
    assert shape(loop_variable_after) == [(1, 1, ("i",), None)]


def test_local_maybe_unbound_on_a_back_edge_is_refused():
    def maybe(n, flag):
        for i in range(n):
            if flag:
                x = i
        return x  # noqa: F821

    ((_, _, _, reason),) = shape(maybe)
    assert reason == "local 'x' may be unbound at the loop header"


def test_no_loops_no_headers():
    def straight(a, b):
        return a + b if a > b else a - b

    assert osr.loop_headers(straight.__code__) == ()


def test_with_block_is_refused():
    def with_block(path):
        s = 0
        with open(path) as f:
            for line in f:
                s += len(line)
        return s

    reasons = {h.reason for h in osr.loop_headers(with_block.__code__)}
    assert reasons == {"the value stack at the loop header holds more than loop iterators"}


def test_try_inside_loop_is_analysed():
    def guarded(n):
        s = 0
        for i in range(n):
            try:
                s += 10 // (i - 3)
            except ZeroDivisionError:
                s -= 1
        return s

    ((_, iterators, names, reason),) = shape(guarded)
    assert (iterators, names, reason) == (1, ("s",), None)


def test_generator_and_captured_locals_are_refused():
    def gen(n):
        i = 0
        while i < n:
            yield i
            i += 1

    def captured(n):
        s = 0
        for i in range(n):
            s += i
        return lambda: s

    assert shape(gen)[0][3] == "OSR does not enter a generator"
    assert shape(captured)[0][3].startswith("a local is captured by an inner function")


def rows_then_loop(n, m):
    grid = [[0.0] * m for _ in range(n)]  # 3.11: reads m through a cell
    total = 0.0
    for i in range(n):
        for j in range(m):
            grid[i][j] = i * 0.5 + j
            total += grid[i][j]
    return total


def test_cells_read_by_a_comprehension_do_not_stop_osr():
    headers = osr.loop_headers(rows_then_loop.__code__)
    if sys.version_info >= (3, 12):  # the inlined comprehension's own loop comes first
        headers = headers[1:]
    assert [h.reason for h in headers] == [None, None]
    assert "m" in headers[0].locals


CELLS = """
def rows_then_loop(n, m):
    grid = [[0.0] * m for _ in range(n)]
    total = 0.0
    for i in range(n):
        for j in range(m):
            grid[i][j] = i * 0.5 + j
            total += grid[i][j]
    return total, len(grid)

print(rows_then_loop(300, 50))
"""


def test_osr_into_a_function_with_comprehension_cells(python_and_pyfast):
    got, records = python_and_pyfast(CELLS)
    assert records["rows_then_loop"]["osr_entries"] == 1, records["rows_then_loop"]


def test_module_level_loop_reason():
    code = compile("t = 0\nfor i in range(10):\n    t += i\n", "<m>", "exec")
    assert [h.reason for h in osr.loop_headers(code)] == [osr.MODULE_LEVEL_REASON]


def test_comprehension_header_inside_function():
    def comp(n):
        return sum([x * x for x in range(n)])

    headers = osr.loop_headers(comp.__code__)
    if sys.version_info >= (3, 12):  # inlined: list and saved `x` sit under the iterator
        assert [h.reason is not None for h in headers] == [True]
    else:
        assert headers == ()
        (inner,) = [c for c in comp.__code__.co_consts if hasattr(c, "co_code")]
        assert [h.reason is not None for h in osr.loop_headers(inner)] == [True]


def test_header_keys_match_dis_jump_targets_with_extended_arg():
    src = "def f(n):\n    s = 0\n    for i in range(n):\n"
    src += "".join(f"        s += {k}\n" for k in range(150)) + "    return s\n"
    namespace: dict = {}
    exec(src, namespace)
    import dis

    targets = {
        ins.argval for ins in dis.get_instructions(namespace["f"]) if ins.opname == "JUMP_BACKWARD"
    }
    assert [h.key for h in osr.loop_headers(namespace["f"].__code__)] == sorted(targets)
    header = osr.loop_headers(namespace["f"].__code__)[0]
    cont = osr.make_continuation(namespace["f"], header)
    assert cont(0, 2, 4, 1) == namespace["f"](4) - namespace["f"](2)


# --- iterator_state -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "r, consumed",
    [
        (range(10), 0),
        (range(10), 3),
        (range(3, 40, 7), 2),
        (range(10, -10, -3), 4),
        (range(5, 5), 0),
        (range(4), 4),
        (range(4), 9),
        (range(2**70, 2**70 + 9, 2), 1),
        (range(-(2**63), 2**63 - 1, 2**62), 2),
    ],
)
def test_iterator_state(r, consumed):
    it = iter(r)
    for _ in zip(range(consumed), it, strict=False):
        pass
    before = it.__length_hint__()
    state = osr.iterator_state(it)
    assert state == osr.iterator_state(it)
    assert it.__length_hint__() == before  # not advanced
    assert all(type(v) is int for v in state)
    assert list(range(*state)) == list(it)


def test_iterator_state_of_a_list_iterator():
    xs = [1, 2, 3]
    it = iter(xs)
    assert osr.iterator_state(it) == (xs, 0) and osr.iterator_state(it)[0] is xs
    next(it)
    assert osr.iterator_state(it) == (xs, 1) and next(it) == 2  # not advanced
    list(it)
    assert osr.iterator_state(it) is None  # exhausted: no list left to go on with
    assert osr.iterator_state(iter(["a", "b"])) is None  # strings: the compiler would refuse
    assert osr.iterator_state(iter([])) is not None


@pytest.mark.parametrize("it", [iter((1,)), (x for x in range(3)), range(3), iter("ab"), 5])
def test_iterator_state_other_iterators(it):
    assert osr.iterator_state(it) is None


# --- continuations, in the interpreter ------------------------------------------------------


@pytest.mark.parametrize("func, args, header, k", list(osr_cases()))
def test_continuation_matches_original(func, args, header, k):
    reference = copied(args)
    expected = outcome(func, reference)
    slot, seen = switch_at(func, header, k)
    actual = copied(args)
    assert outcome(instrumented(func, slot, [header]), actual) == expected
    assert actual == reference  # side effects on arguments happened exactly once
    enterable = header.iterators == 0 or func is not star_args  # a tuple iterator: no entry
    assert seen["switched"] == (enterable and seen["arrivals"] >= k)


def test_probe_that_always_misses_is_transparent():
    for func, args in CORPUS:
        inst = instrumented(func, lambda *values: MISS)
        assert outcome(inst, copied(args)) == outcome(func, copied(args))


def test_side_effects_happen_once():
    header = osr.loop_headers(side_effects.__code__)[0]
    slot, seen = switch_at(side_effects, header, 3)
    out: list[int] = []
    assert instrumented(side_effects, slot, [header])(10, out) == 10
    assert out == [i * 2 for i in range(10)] and seen["switched"] == 1


def test_entry_args_of_list_and_tuple_iterators():
    header = osr.loop_headers(seed_sum.__code__)[0]
    xs = [1, 2]
    assert osr.entry_args(header, (0, iter(xs))) == [0, xs, 0]
    assert osr.entry_args(header, (0, iter((1, 2)))) is None


def fixed_and_not(n, s):
    t = 0
    for i in range(1, n + 1):
        for j in range(n, 0, -2):
            t += i * j
    for i in range(0, n, s):
        t += i
    for i in reversed(range(n)):
        t += i
    for i in range(n if s else 3):
        t += i
    for i in range(n, 0, True):
        t += i
    while t < 100:
        t += 1
    return t


def test_steps_the_source_fixes():
    """A step is fixed only for a call of the global ``range`` whose last argument, if it has
    three, is an int constant; the arguments' code is straight-line."""
    steps = [h.steps for h in osr.loop_headers(fixed_and_not.__code__)]
    assert steps == [(1,), (1, -2), (None,), (None,), (None,), (None,), ()]


def test_a_fixed_step_is_a_constant_of_the_continuation():
    header = osr.loop_headers(fixed_and_not.__code__)[1]
    code = osr.continuation_code(fixed_and_not.__code__, header.key)
    loads = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_FAST"}
    assert ".osr0.start" in loads and ".osr1.stop" in loads
    assert ".osr0.step" not in loads and ".osr1.step" not in loads
    cont = osr.make_continuation(fixed_and_not, header)
    values = (5, 1, 0, 1, iter(range(2, 6)), iter(range(5, 0, -2)))  # i = 1, j to come: 5
    assert cont(*osr.entry_args(header, values)) == fixed_and_not(5, 1)


def test_entry_args_refuse_a_step_the_header_does_not_fix():
    """``range`` rebound after the continuation was made: the interpreter keeps the loop."""
    header = osr.loop_headers(fixed_and_not.__code__)[1]
    assert osr.entry_args(header, (5, 1, 0, 1, iter(range(3)), iter(range(4, 0, -2))))
    assert osr.entry_args(header, (5, 1, 0, 1, iter(range(0, 3, 2)), iter(range(4, 0, -2)))) is None
    assert osr.entry_args(header, (5, 1, 0, 1, iter(range(3)), iter(range(4, 0, -1)))) is None


def test_signature_of():
    header = osr.loop_headers(nested.__code__)[1]
    values = (3, iter(range(5)), iter(range(2)))
    assert osr.signature_of(header, values) == (int, int, int, int, int, int, int)
    assert osr.iterator_kinds(header, osr.signature_of(header, values)) == ("range", "range")
    mixed = osr.signature_of(header, (3.0, iter([1]), iter(range(2))))
    assert mixed == (float, list, int, int, int, int)
    assert osr.iterator_kinds(header, mixed) == ("list", "range")
    assert osr.signature_of(header, (3, iter((1,)), iter(range(2)))) is None


def test_continuation_is_cached_and_keeps_identity():
    header = osr.loop_headers(seed_sum.__code__)[0]
    a = osr.make_continuation(seed_sum, header)
    b = osr.make_continuation(seed_sum, header)
    assert a.__code__ is b.__code__
    assert (a.__name__, a.__qualname__) == (seed_sum.__name__, seed_sum.__qualname__)
    assert a.__code__.co_filename == seed_sum.__code__.co_filename
    assert a.__code__.co_firstlineno == seed_sum.__code__.co_firstlineno
    assert a.__globals__ is seed_sum.__globals__
    assert a.__code__.co_varnames[: a.__code__.co_argcount] == (
        "total",
        ".osr0.start",
        ".osr0.stop",
        ".osr0.step",
    )


def test_continuation_traceback_points_at_the_source_line():
    header = osr.loop_headers(raises_inside.__code__)[0]
    cont = osr.make_continuation(raises_inside, header)
    with pytest.raises(ZeroDivisionError) as info:
        cont(0, 2, -5, -1)
    frame = info.traceback[-1]
    assert frame.name == "raises_inside"
    assert frame.lineno + 1 == raises_inside.__code__.co_firstlineno + 3


def test_rebound_range_is_refused():
    namespace = {"range": lambda *a: [0]}
    func = FunctionType(seed_sum.__code__, namespace, "seed_sum")
    with pytest.raises(osr.OsrUnsupported):
        osr.make_continuation(func, osr.loop_headers(seed_sum.__code__)[0])


MODULE_CALLS = """
import os
import sys

def estimate(samples):
    hits = 0
    for _ in range(samples):
        if os.getpid() > 0:
            hits += 1
    return hits

print(estimate(3000))
print("pyfast.compiler.osr" in sys.modules, "bytecode" in sys.modules)
"""


STEPPED = """
def up3(a, b):
    t = 0
    for i in range(a, b, 3):
        t += i
    return t

def down7(a, b):
    t = 0
    for i in range(a, b, -7):
        t += i
    return t

def big(a, b):
    t = 0
    for i in range(a, b, 2**62):
        t += i & 0xFFFF
    return t
"""

_EDGE = 2**63


def _missed(*args):
    return MISS


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("up3", 0, 100),
        ("up3", -50, 50),
        ("up3", _EDGE - 40, _EDGE - 1),  # ``i + 3`` leaves int64 on the last step
        ("up3", _EDGE - 40, _EDGE + 40),  # the stop itself is not an int64
        ("down7", 100, -100),
        ("down7", -_EDGE + 40, -_EDGE),
        ("big", -_EDGE, _EDGE - 1),
        ("big", 0, 1),
    ],
)
def test_a_native_entry_with_a_fixed_step_matches_python(name, a, b):
    """From the second iteration on, the native OSR entry gives the call's result, or misses
    (the interpreter then finishes the loop): never another result."""
    from pyfast.compiler import api

    namespace: dict = {}
    exec(STEPPED, namespace)
    func = namespace[name]
    (header,) = osr.loop_headers(func.__code__)
    assert header.steps == ({"up3": 3, "down7": -7, "big": 2**62}[name],)
    it = iter(range(a, b, header.steps[0]))
    first = next(it, None)
    if first is None:
        return
    values = (first if name != "big" else first & 0xFFFF, it)
    args = osr.entry_args(header, values)
    signature = tuple(map(type, args))
    try:
        loop = osr.prepare_loop(func, header, signature, fallback=_missed, miss=MISS)
    except api.Unsupported:  # a state that is not int64: the interpreter keeps the loop
        assert any(type(x) is int and not -_EDGE <= x < _EDGE for x in args)
        return
    got = loop.finish().entry(*args)
    assert got is MISS or got == func(a, b)


def test_a_loop_over_a_global_module_is_refused_before_the_compiler_loads(spawn, tmp_path):
    """The global ``os`` (a module) rules the continuation out: said in the report, found
    without importing the OSR stage or ``bytecode`` (the second run: the cache is warm, so
    nothing else needs them)."""
    (tmp_path / "main.py").write_text(MODULE_CALLS)
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "pyfast", "--report-json", str(report)]  # the loop gets hot
    expected = spawn([sys.executable, "main.py"], tmp_path).stdout
    for _ in range(2):
        got = spawn([*argv, "main.py"], tmp_path)
    assert got.stdout == expected and expected.splitlines()[-1] == "False False"
    (row,) = [r for r in json.loads(report.read_text())["functions"] if r["qualname"] == "estimate"]
    assert row["reason"].startswith("no OSR entry at line 7: global 'os' is a module"), row


def test_dump_prints_the_ir_of_an_osr_entry(spawn, tmp_path):
    """``--dump`` covers a loop's OSR entry too: its typed IR and its LLVM IR, named after the
    function and the loop's line."""
    (tmp_path / "main.py").write_text(
        "def total(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n\n"
        "print(total(1000))\n"
    )
    argv = [sys.executable, "-m", "pyfast", "--threshold", "1", "--dump", "tot*", "main.py"]
    got = spawn(argv, tmp_path)
    assert got.stdout == "499500\n", got.stderr
    assert "pyfast: IR of OSR entry for __main__.total line 3\ndef total" in got.stderr
    assert "pyfast: LLVM IR of OSR entry for __main__.total line 3\n" in got.stderr
    assert "define " in got.stderr.split("LLVM IR of OSR entry")[1]


def test_an_osr_entry_thunk_is_left_unoptimised_and_its_body_is_not():
    """The thunk of an OSR entry runs once per call it continues: ``optnone`` (its O3 was
    ~30% of the unit's LLVM time); a function's entry, called per call, stays optimised."""
    from pyfast.compiler import api

    (header,) = osr.loop_headers(seed_sum.__code__)
    values = (0, iter(range(1, 11)))
    signature = osr.signature_of(header, values)
    options = {"fallback": seed_sum, "miss": None}
    loop = osr.prepare_loop(seed_sum, header, signature, **options)
    function = api.prepare_function(seed_sum, (int,), **options)

    def attributes(prepared, suffix: str) -> str:
        (line,) = [
            x for x in prepared.llvm_ir.splitlines() if x.startswith("define") and suffix in x
        ]
        return line.rpartition(")")[2]

    assert "optnone" in attributes(loop, '.entry"') and "noinline" in attributes(loop, '.entry"')
    assert "optnone" not in attributes(loop, '.body"')
    assert "optnone" not in attributes(function, '.entry"')
    assert loop.finish().entry(*osr.entry_args(header, values)) == 55


def test_jumps_backward_finds_every_loop_and_nothing_else():
    from pyfast.compiler.opcodes import jumps_backward

    looping = [seed_sum, while_sum, nested, while_true, for_else_break, over_list]
    assert all(jumps_backward(f.__code__) for f in looping)
    assert not jumps_backward(compile("x = 1\nif x:\n    y = [x]\n", "<s>", "exec"))


def test_a_body_without_loops_is_screened_without_the_osr_stage(spawn, tmp_path):
    """Instrumenting a module body (here ``-c``'s) imports ``osr`` (and ``dis``) only when
    the body loops: the program sees python's modules."""
    code = "import sys; print(sorted({'dis', 'pyfast.compiler.osr'} & set(sys.modules)))"
    expected = spawn([sys.executable, "-c", code], tmp_path).stdout
    assert expected == "[]\n"
    assert spawn([sys.executable, "-m", "pyfast", "-c", code], tmp_path).stdout == expected


#: The article's example (``scripts/examples/seed_sum.py``) at a smaller size, telling which
#: of the compiler's heavier imports the run made.
WARM_SEED = (
    Path(__file__).parents[1].joinpath("scripts", "examples", "seed_sum.py").read_text()
).replace("10_000_000", "100_000") + (
    "import sys\nheavy = {'bytecode', 'dataclasses', 'inspect', 'typing'}\n"
    "print(sorted(heavy & set(sys.modules)))\n"
)


def test_a_warm_run_enters_native_code_without_bytecode(cold_and_warm):
    """The second run finds the instrumented script, the continuation's code and the machine
    code in its caches: it imports neither ``bytecode`` (~30 ms) nor ``typing`` or
    ``inspect`` (~8 ms each) unless python does, and the loop still runs natively."""
    python, cold, warm, records = cold_and_warm(WARM_SEED)
    assert "'bytecode'" in cold.stdout and warm.stdout == python.stdout, (cold, warm)
    assert records["calculate_sum"]["osr_entries"] == 1, records["calculate_sum"]


def test_a_continuation_of_code_marshal_cannot_write_is_made_but_not_kept(tmp_path):
    header = osr.loop_headers(seed_sum.__code__)[0]
    code = seed_sum.__code__.replace(co_consts=(*seed_sum.__code__.co_consts, MISS))
    made = osr.continuation_code(code, header.key, cache=str(tmp_path))
    assert made.co_varnames[:2] == ("total", ".osr0.start") and not any(tmp_path.iterdir())


def test_a_continuation_is_made_but_not_kept_without_osr_s_source(tmp_path, monkeypatch):
    """Installed in a zip, ``osr`` has no source file to stat: nothing is kept, no error."""
    header = osr.loop_headers(while_sum.__code__)[0]
    monkeypatch.setattr(osr, "__file__", str(tmp_path / "missing" / "osr.py"))
    monkeypatch.setattr(osr, "_continuations", {})
    made = osr.continuation_code(while_sum.__code__, header.key, cache=str(tmp_path))
    assert made.co_argcount == len(header.locals) and not any(tmp_path.iterdir())


def test_a_continuation_is_stored_and_read_back(tmp_path):
    header = osr.loop_headers(nested.__code__)[1]
    made = osr.continuation_code(nested.__code__, header.key, cache=str(tmp_path))
    osr._continuations.clear()
    again = osr.continuation_code(nested.__code__, header.key, cache=str(tmp_path))
    assert again is not made and again.co_code == made.co_code
    assert again.co_varnames == made.co_varnames and again.co_consts == made.co_consts
    for blob in tmp_path.iterdir():
        blob.write_bytes(b"corrupt")
    osr._continuations.clear()
    assert osr.continuation_code(nested.__code__, header.key, cache=str(tmp_path)).co_code == (
        made.co_code
    )
