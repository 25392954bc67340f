"""compiler/llir.py writes the text ``llvmlite.ir`` writes, byte for byte.

A corpus of compilations runs twice, in two processes: with ``pyfast.compiler.llir``, and with
``llvmlite.ir`` put in its place in ``sys.modules`` before the compiler is imported (llir's API
is a subset of llvmlite.ir's, so the compiler runs on either).  The LLVM IR of every module
must be the same.  The corpus: the benchmark kernels (``scripts/kernels.py``), the process's
helper module, functions of the other tests (imported from their modules) and a few more:
ints, floats and bools with every operator, overflow, division, ``math`` and builtins,
tuples, lists, local lists, numpy arrays and scalars of every dtype, direct and recursive
calls, global guards, ``random.random()``, deoptimizations, and OSR entries.  ``SPELLINGS``
checks that the corpus still reaches every kind of instruction and every way of writing a
name, a type or a constant.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
SCRIPTS = TESTS.parent / "scripts"

CORPUS = """
import math

from test_compiler_e2e import (
    fib, gcd, collatz, sum_step, nested_break_continue, is_prime, chained_branch, and_or, swap,
    math_funcs, rounding, maybe_none, returns_float_or_int, scaled, helper, calls_helper,
    is_even, is_odd, tri, euclid, both_operators,
)
from test_deopt import caller, mid_call, tuple_on_stack
from test_lists import (
    total, dot, scale_into, column_sum, path_length, flags, pair, weighted, pairwise,
    backwards, log_enumerate, matrix, positive_squares, stats, member, window, drain, pop_at,
    pop_row,
)
from test_local_lists import smooth
from test_osr import nested, seed_sum, while_sum
from test_random import total as draws


SCALE = 3
STOP = True


def math_more(x, y):
    return (
        math.atan2(x, y) + math.hypot(x, y) + math.pow(x, y) + math.copysign(x, y),
        math.log(x, y) + math.log2(x) + math.log10(y) + math.fabs(x) + math.tan(x),
        math.asin(x) + math.acos(x) + math.atan(y) + math.pi + math.e + math.tau,
        math.isnan(x) or math.isinf(y) or math.isfinite(x),
        math.floor(x) + math.ceil(y) + math.trunc(x),
    )


def builtins_mix(a, b):
    return min(a, b), max(a, b, a), abs(a - b), pow(a, b), divmod(a, b)


def round_digits(x, d):
    return round(x, d), round(x)


def none_compare(x, y):
    return x is None, x == None, x != y, not x  # noqa: E711


def spin_global(n):
    s = 0
    for i in range(n):
        s += SCALE * i
    return s


def spin():
    n = 0
    while not STOP:
        n += 1
    return n


def store_singletons(xs, flag):
    xs[0] = flag
    xs[1] = None
    return len(xs)


def tuple_stats(a, b, c, i):
    t = (a, b, c)
    return min(t), max(t), len(t), t[i], max(t) - min(t)


def tuple_walk(t):
    s = 0.0
    for k, x in enumerate(t):
        s = s * 2 + k * x
    for x in reversed(t):
        s = s * 3 - x
    return s, sum(t), 2.0 in t, t[1:], t[::-1]


def up3(a, b):
    t = 0
    for i in range(a, b, 3):
        t += i
    return t


def over_list(xs):
    t = 0.0
    for x in xs:
        t += x * 0.5
    return t
"""

NUMPY_CORPUS = """
import math
import numpy as np

from test_numpy import (
    kernel, weighted_grid, root_sum, int_sum, f32_dot, count_true, gather, threshold, store,
    store_item, half,
)


def logged_scale(a, log, k):
    for i in range(len(a)):
        log.append(i)
        a[i] = a[i] * k
    return len(log)


def times(x, y):
    return x * y
"""

#: Run in a process of its own: ``python -c RUNNER <llir|llvmlite> <scripts folder>`` prints
#: {"texts": {case: LLVM IR or "unsupported: ..."}, "llvmlite.ir": imported or not, "numpy":
#: whether the numpy cases ran}.
RUNNER = r"""
import json
import sys

if sys.argv[1] == "llvmlite":
    import llvmlite.ir

    sys.modules["pyfast.compiler.llir"] = llvmlite.ir
sys.path[:0] = sys.argv[2:4]  # scripts/ (kernels), tests/ (the corpus's functions)
import kernels
from pyfast.compiler import Unsupported, api, osr
from pyfast.compiler.runtime import jit

texts = {}


def run(label, make):
    try:
        texts[label] = make()
    except Unsupported as exc:
        texts[label] = f"unsupported: {exc}"


def prepare(func, args, **options):
    signature = tuple(map(type, args))
    options = {"fallback": func, "miss": None, "sample": tuple(args), **options}
    return api.prepare_function(func, signature, **options).llvm_ir


def cases(source, name, calls):
    ns = {"__name__": name}
    exec(compile(source, name, "exec"), ns)
    for k, (fname, args, *options) in enumerate(calls):
        run(f"{name} {k}: {fname}", lambda: prepare(ns[fname], args, **dict(options)))
    return ns


def functions(template, name, values):
    ns = {"__name__": name, "math": __import__("math")}
    exec("\n".join(template.format(i=i, **v) for i, v in enumerate(values)), ns)
    return ns


OPERATORS = ("+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^")
COMPARISONS = ("<", "<=", "==", "!=", ">", ">=")
NUMBERS = (7, 2.5, True)

run("helpers", jit.helpers_ir)
for module, fname, make in kernels.KERNELS:
    try:
        ns = kernels.load(module)
    except ImportError:  # numpy_loop without numpy
        continue
    run(fname, lambda: prepare(ns[fname], make(ns)))

pairs = [(op, x, y) for op in OPERATORS + COMPARISONS for x in NUMBERS for y in NUMBERS]
ops = functions(
    "def f{i}(a, b):\n    return a {op} b\n", "ops", [{"op": op} for op, _, _ in pairs]
)
for i, (op, x, y) in enumerate(pairs):
    run(f"{x!r} {op} {y!r}", lambda: prepare(ops[f"f{i}"], (x, y)))
unary = ("-x", "+x", "~x", "not x", "abs(x)", "int(x)", "float(x)", "bool(x)", "-x if x else x")
for expr in unary:
    ns = functions("def f(x):\n    return {expr}\n", "unary", [{"expr": expr}])
    for x in NUMBERS:
        run(f"{expr} of {x!r}", lambda: prepare(ns["f"], (x,)))

calls = [
    ("fib", (20,)),
    ("gcd", (12, 8)),
    ("collatz", (27,)),
    ("sum_step", (0, 10, 3)),
    ("nested_break_continue", (40,)),
    ("is_prime", (97,)),
    ("chained_branch", (1, 4, 5)),
    ("chained_branch", (0.5, 4, 5.0)),
    ("and_or", (0, 4)),
    ("and_or", (0.0, 4.0)),
    ("swap", (1, 5)),
    ("math_funcs", (1.5,)),
    ("math_funcs", (3,)),
    ("math_more", (0.5, 2.0)),
    ("math_more", (1, True)),
    ("builtins_mix", (3, 4)),
    ("builtins_mix", (1.5, -2.0)),
    ("rounding", (2.5,)),
    ("round_digits", (7, 2)),
    ("maybe_none", (3,)),
    ("none_compare", (None, None)),
    ("returns_float_or_int", (3,)),
    ("scaled", (2,)),
    ("spin_global", (7,)),
    ("spin", ()),
    ("calls_helper", (1,)),
    ("calls_helper", (1,), ("from_probe", True)),
    ("is_even", (10,)),
    ("tri", (10,)),
    ("euclid", (12, 8)),
    ("both_operators", (7,)),
    ("draws", (7,)),
    ("total", ([1, 2, 3],)),
    ("total", ([1.5, 2.5],)),
    ("total", ([],)),
    ("dot", ([1.0, 2.0], [3.0, 4.0])),
    ("scale_into", ([1, 2, 3], [0, 0, 0], 3)),
    ("column_sum", ([[1.0, 2.0], [3.0, 4.0]], 1)),
    ("path_length", ([(0.0, 0.0), (1.0, 2.0)],)),
    ("flags", (10,)),
    ("pair", (1, 2)),
    ("weighted", ([1.0, 2.0],)),
    ("pairwise", ([1, 2, 3], [4, 5])),
    ("backwards", ([1, 2, 3],)),
    ("log_enumerate", ([1, 2, 3], [])),
    ("matrix", (2, 3)),
    ("positive_squares", ([1, -2, 3],)),
    ("stats", ([1, 2, 3],)),
    ("stats", ([1.5, -2.0],)),
    ("member", ([1.0, 2.0], 2.0)),
    ("member", ([1, 2, 3], 2)),
    ("window", ([1, 2, 3, 4, 5], 1, 3)),
    ("drain", ([1, 2, 3],)),
    ("pop_at", ([1, 2, 3], 0)),
    ("pop_row", ([[1, 2], [3, 4, 5]],)),
    ("store_singletons", ([1, 2], True)),
    ("tuple_stats", (1, 2, 3, -1)),
    ("tuple_stats", (3.5, -1.0, 2.0, 1)),
    ("tuple_walk", ((1.0, 2.0, 3.0),)),
    ("smooth", (5, 0.5)),
    ("mid_call", ([], 3, 10)),
    ("caller", ([], 10)),
    ("tuple_on_stack", ([], 5)),
]
corpus = cases(CORPUS, "corpus", calls)

loops = [  # (function, header, its locals, its iterators)
    ("seed_sum", 0, (0,), (iter(range(1, 11)),)),
    ("while_sum", 0, (10, 3, 5), ()),
    ("nested", 1, (3,), (iter(range(5)), iter(range(2)))),
    ("up3", 0, (0,), (iter(range(0, 30, 3)),)),
    ("over_list", 0, (0.0,), (iter([1.0, 2.0]),)),
    ("spin_global", 0, (0,), (iter(range(7)),)),
    ("flags", 1, (10, [True] * 11, 0), (iter(range(2, 11)), iter(range(4, 11, 2)))),
]
for fname, index, local_values, iterators in loops:
    func = corpus[fname]
    header = osr.loop_headers(func.__code__)[index]
    values = (*local_values, *iterators)
    args = tuple(osr.entry_args(header, values))
    signature = osr.signature_of(header, values)
    run(
        f"osr {fname} at {header.key}",
        lambda: osr.prepare_loop(
            func, header, signature, fallback=func, miss=None, sample=args
        ).llvm_ir,
    )

try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    a = np.linspace(0.0, 1.0, 9)
    m = a[:6].reshape(2, 3)
    numpy_calls = [
        ("kernel", (a, a[::-1].copy(), np.empty(9))),
        ("weighted_grid", (m,)),
        ("root_sum", (a,)),
        ("int_sum", (np.arange(5, dtype=np.int64),)),
        ("int_sum", (np.arange(5, dtype=np.int32),)),
        ("int_sum", (np.array([True, False]),)),
        ("f32_dot", (np.ones(3, np.float32), np.ones(3, np.float32))),
        ("count_true", (np.eye(3, dtype=bool),)),
        ("gather", (a, np.array([4, 0], dtype=np.int32))),
        ("threshold", (np.arange(5, dtype=np.float32), np.zeros(5, dtype=np.int64), 2.5)),
        ("logged_scale", (a, [], 3)),
        ("half", (np.float64(3.0),)),
        ("half", (np.float32(3.0),)),
        ("times", (np.int32(3), 2.5)),
        ("times", (np.int64(7), np.int32(2))),
        ("times", (np.True_, np.float32(2.0))),
        ("times", (np.float32(1.5), True)),
    ]
    dtypes = ("float64", "float32", "int64", "int32", "bool")
    for k, dtype in enumerate(dtypes):
        other = dtypes[(k + 1) % len(dtypes)]
        numpy_calls.append(("store", (np.zeros(2, dtype), NUMBERS[k % 3])))
        numpy_calls.append(("store_item", (np.zeros(2, dtype), np.ones(1, other))))
    cases(NUMPY_CORPUS, "numpy_corpus", numpy_calls)
    items = [
        (op, dtype, x)
        for op in OPERATORS + COMPARISONS
        for dtype in dtypes
        for x in (*NUMBERS, dtype)
    ]
    fs = functions(
        "def f{i}(a, x):\n    return a[0] {op} x\n\ndef g{i}(a, x):\n    return x {op} a[0]\n",
        "numpy_ops",
        [{"op": op} for op, *_ in items],
    )
    for i, (op, dtype, x) in enumerate(items):
        if x in dtypes:  # another array's item: every pair of dtypes, as the list turns
            x = np.ones(1, dtypes[(dtypes.index(x) + i) % len(dtypes)])[0]
        a = np.ones(1, dtype)
        run(f"{i}: {dtype} {op} {type(x).__name__}", lambda: prepare(fs[f"f{i}"], (a, x)))
        run(f"{i}: {type(x).__name__} {op} {dtype}", lambda: prepare(fs[f"g{i}"], (a, x)))
    for expr in ("-a[0]", "~a[0]", "not a[0]", "float(a[0])", "int(a[0])", "math.floor(a[0])"):
        ns = functions("def f(a):\n    return {expr}\n", "numpy_unary", [{"expr": expr}])
        for dtype in dtypes:
            run(f"{expr} of {dtype}", lambda: prepare(ns["f"], (np.ones(1, dtype),)))

json.dump(
    {"texts": texts, "llvmlite.ir": "llvmlite.ir" in sys.modules, "numpy": np is not None},
    sys.stdout,
)
"""

#: What the corpus must contain somewhere (in llir's texts), so that it keeps exercising
#: every instruction, type, constant and name spelling llir writes.
SPELLINGS = (
    # instructions
    *(f" = {op} " for op in ("add", "sub", "mul", "sdiv", "srem", "and", "or", "xor")),
    *(f" = {op} " for op in ("shl", "lshr", "ashr", "fadd", "fsub", "fmul", "fdiv", "frem")),
    *(f" = {op} " for op in ("fneg", "zext", "sext", "trunc", "sitofp")),
    *(f" = {op} " for op in ("uitofp", "fptosi", "bitcast", "ptrtoint", "load", "alloca")),
    *(f" = icmp {op} " for op in ("eq", "ne", "slt", "sle", "sgt", "sge", "uge", "ugt")),
    *(f" = fcmp {op} " for op in ("oeq", "olt", "ole", "ogt", "oge", "une", "uno")),
    " = select  i1 ",
    " = phi  ",
    " = getelementptr i8, ptr ",
    " = getelementptr inbounds [",
    " = getelementptr [2 x i64], [2 x i64]* ",
    " = extractvalue {",
    " = insertvalue {",
    ' = call {i64, i1} @"llvm.sadd.with.overflow.i64"(',
    "  call void @",
    "  store ",
    "  switch i8 ",
    "  ret ptr ",
    "  br label %",
    "  br i1 ",
    # types, constants
    "i64* %",
    " = alloca ptr, i64 %",
    "{i32, {i64, i64}}",
    "double              0x0",
    "double 0x3ff0000000000000",
    "i1 true",
    "i1 false",
    "i64 -1",
    "zeroinitializer",
    " undef",
    " null",
    'c"\\',
    # functions, globals, metadata
    "define internal ",
    ") cold\n",
    ") noinline optnone\n",
    ") nobuiltin\n",
    ") cold noinline\n",
    'declare double @"pow"(double %".1", double %".2") nobuiltin',
    "= external global i8",
    " = global ptr null",
    " = global i64 0",
    " = internal constant [",
    ", !prof !0\n",
    '!0 = !{ !"branch_weights", i32 1, i32 1048576 }',
    '!{ !"branch_weights", i32 1, i32 99 }',
    # block names: deduplicated, suffixed, truncated, quoted
    '%"deopt.1"',
    ".if.1",
    ".endif.endif:",
    ".else:",
    "..endif",
    "\n.1",
)

#: ... and with numpy, what only numpy's types reach (float32, bool arrays, array guards).
NUMPY_SPELLINGS = (
    " = fpext ",
    " = fptrunc ",
    " = icmp ult ",
    " = fcmp une float %",
    '!{ !"branch_weights", i32 99, i32 1 }',
    '"byte order":',
)


_SOURCES = f"CORPUS = {CORPUS!r}\nNUMPY_CORPUS = {NUMPY_CORPUS!r}"


def _run(which: str, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", f"{_SOURCES}\n{RUNNER}", which, str(SCRIPTS), str(TESTS)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_llir_writes_what_llvmlite_ir_writes(tmp_path: Path, clean_env: dict[str, str]) -> None:
    runs = {which: _run(which, clean_env, tmp_path) for which in ("llir", "llvmlite")}
    results = {}
    for which, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        results[which] = json.loads(stdout)
    ours, theirs = results["llir"], results["llvmlite"]
    assert not ours["llvmlite.ir"], "the compiler imported llvmlite.ir"
    assert theirs["llvmlite.ir"]
    assert ours["texts"].keys() == theirs["texts"].keys()
    for case, text in ours["texts"].items():
        expected = theirs["texts"][case]
        if text != expected:
            diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), lineterm="")
            raise AssertionError(f"{case}: llir differs from llvmlite.ir\n" + "\n".join(diff))
    modules = [t for t in ours["texts"].values() if not t.startswith("unsupported")]
    assert len(modules) > 500
    everything = "\n".join(modules)
    wanted = SPELLINGS + (NUMPY_SPELLINGS if ours["numpy"] else ())
    missing = [s for s in wanted if s not in everything]
    assert not missing, missing
