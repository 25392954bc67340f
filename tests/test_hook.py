"""The import hook and runtime profiler, in process (pyfast.hook).

Every test installs the hook with a fake compiler (``FakeCompiler``): its prescreen accepts
everything, and its ``prepare_function`` finishes with a Python "entry" that checks the exact
argument types like native code would, counts its calls, and runs the original function.
That makes dispatch, fallback chaining and the tracer guard observable without LLVM.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import json
import os
import pickle
import sys
import textwrap
import threading
import time
import traceback
import types
import zipfile

import pytest
from pyfast.compiler import api
from pyfast.compiler.api import CompiledFunction, Unsupported
from pyfast.hook import cache, finder, instrument, report, runtime

from pyfast import hook
from pyfast.settings import Settings


def _instrumented(code) -> bool:
    """``code`` (as loaded) has probes of its own."""
    return any(type(const) is instrument.Slot for const in code.co_consts)


class FakeCompiler:
    def __init__(self) -> None:
        self.unsupported: set[str] = set()
        self.failing: set[str] = set()
        self.backend_failing: set[str] = set()  # load_backend raises (LLVM cannot be loaded)
        self.prescreen_rejects: dict[str, str] = {}
        self.requests: list[tuple[str, tuple, object]] = []
        self.native: dict[str, int] = {}
        self.finishing = threading.Event()  # finish() waits for it (tests of the background)
        self.finishing.set()

    def prescreen(self, code):
        reason = self.prescreen_rejects.get(code.co_name)
        return None if reason is None else Unsupported(reason, code.co_firstlineno)

    def prepare_function(
        self,
        func,
        signature,
        *,
        fallback,
        miss,
        code_of=None,
        deopt=None,
        sample=None,
        on_bail=None,
        from_probe=False,
        on_tracer=None,
        warm_up=None,
        min_work=0,
    ):
        assert from_probe  # the hook's entries check the running frame's globals
        code = func.__code__
        assert not _instrumented(code), "the compiler must get the original code"
        name = code.co_name
        self.requests.append((name, signature, fallback))
        if name in self.failing:
            raise RuntimeError("injected compiler failure")
        if name in self.unsupported:
            raise Unsupported("injected: cannot compile", code.co_firstlineno + 1)
        if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
            raise Unsupported("*args or **kwargs")
        names = instrument.parameters(code)
        positional, kwonly = code.co_argcount, names[code.co_argcount :]

        def entry(*args):
            if tuple(map(type, args)) != signature:
                return fallback(*args)
            self.native[name] = self.native.get(name, 0) + 1
            try:
                return func(*args[:positional], **dict(zip(kwonly, args[positional:], strict=True)))
            except Exception:  # noqa: BLE001 - like native code: bail out, python raises
                return miss

        counters = lambda: {"native_calls": self.native.get(name, 0), "bailouts": 0}  # noqa: E731
        ir_text, llvm_ir = f"IR of {name}", f"LLVM of {name}"
        compiled = CompiledFunction(entry, signature, 0.1, ir_text, llvm_ir, counters)

        def finish(cache=None, keep_ir=False):
            self.finishing.wait(10)
            return compiled

        def load_backend(cache):
            if name in self.backend_failing:
                raise OSError("injected: libllvmlite.so cannot be loaded")
            return False

        return types.SimpleNamespace(finish=finish, load_backend=load_backend)


class Env:
    def __init__(self, path, fake: FakeCompiler) -> None:
        self.path = path
        self.fake = fake

    def install(self, **options) -> None:
        hook.install(Settings(**options))

    def write(self, relative: str, source: str) -> str:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return str(path)

    def main(self, source: str, name: str = "main.py", **options) -> dict:
        self.install(**options)
        path = self.write(name, source)
        code = hook.main_code((self.path / name).read_bytes(), path)
        namespace = {"__name__": "__main__", "__file__": path}
        exec(code, namespace)
        return namespace

    def record(self, qualname: str, module: str | None = None) -> dict:
        rows = [
            r
            for r in report.records()
            if r["qualname"] == qualname and (module is None or r["module"] == module)
        ]
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture
def env(tmp_path, monkeypatch):
    fake = FakeCompiler()
    monkeypatch.setattr(api, "prescreen", fake.prescreen)
    monkeypatch.setattr(api, "prepare_function", fake.prepare_function)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(cache, "_fingerprint", None)
    monkeypatch.setattr(cache, "_suffix_text", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    runtime.functions.clear()
    runtime.modules.clear()
    yield Env(tmp_path, fake)
    hook.uninstall()
    for name in set(sys.modules) - before:
        # pyfast's own lazy imports stay: a re-imported ``bytecode`` would have new classes
        if not name.startswith(("pyfast", "bytecode", "llvmlite")):
            del sys.modules[name]
    runtime.functions.clear()
    runtime.modules.clear()
    runtime.publish(Settings())
    importlib.invalidate_caches()


needs_no_tracer = pytest.mark.skipif(
    sys.gettrace() is not None, reason="the test runner itself is traced (coverage?)"
)

# --- policy ---------------------------------------------------------------------------------


def test_policy_default_takes_user_code_only():
    policy = finder.Policy(Settings())
    assert policy.by_name("json") is False
    assert policy.by_name("os.path") is False
    assert policy.by_name("pyfast") is False
    assert policy.by_name("pyfast.hook.runtime") is False
    assert policy.by_name("mylib.core") is None
    assert policy.by_location("/home/me/project/mylib/core.py")
    assert not policy.by_location(os.path.join(os.path.dirname(os.__file__), "x.py"))
    assert not policy.by_location("/opt/venv/lib/python3.11/site-packages/numpy/x.py")
    assert not policy.by_location("/usr/lib/python3/dist-packages/apt/x.py")


def test_policy_include_and_exclude_globs():
    policy = finder.Policy(Settings(include=("test.*", "mylib.*"), exclude=("mylib.slow",)))
    assert policy.by_name("test.test_int") is True
    assert policy.by_name("mylib.fast") is True
    assert policy.by_name("mylib.slow") is False
    assert policy.by_name("pyfast.hook") is False
    assert finder.Policy(Settings(include=("pyfast.*",))).by_name("pyfast.hook") is False
    assert finder.Policy(Settings(exclude=("__main__",))).by_name("__main__") is False


def test_stdlib_and_site_packages_are_not_taken_over(env):
    env.install()
    import csv  # stdlib, probably already imported: force a fresh import

    import bytecode  # site-packages

    sys.modules.pop("csv")
    import csv  # noqa: F811

    assert not _taken_over(bytecode) and not _taken_over(csv)


def _taken_over(module: types.ModuleType) -> bool:
    """Whether pyfast's finder took the module over: its loader's ``get_code`` is pyfast's."""
    return type(vars(module.__spec__.loader).get("get_code")) is finder.GetCode


def test_user_module_is_taken_over_and_included_stdlib_module_too(env):
    env.write("usermod.py", "def f(x):\n    return x + 1\n")
    env.install(include=("colorsys",))
    import usermod

    sys.modules.pop("colorsys", None)
    import colorsys

    assert _taken_over(usermod) and _taken_over(colorsys)
    assert type(usermod.__spec__.loader) is importlib.machinery.SourceFileLoader  # python's
    assert _instrumented(usermod.f.__code__)
    assert colorsys.rgb_to_hsv(0.2, 0.4, 0.4) == pytest.approx((0.5, 0.5, 0.4))


def test_excluded_main_is_plain(env):
    ns = env.main("def f(x):\n    return x\n", exclude=("__main__",))
    assert not _instrumented(ns["f"].__code__)


# --- instrumentation: what a program can observe --------------------------------------------

CORPUS = '''
import functools
from contextlib import contextmanager


def closure(n):
    def inner(k):
        return n * k
    return inner(3) + (lambda z: z + n)(1)


def defaults(a, b=2, *args, c, d=4, **kw):
    return (a, b, args, c, d, sorted(kw.items()))


def kwonly(x, *, scale=2):
    return x * scale


def gen(n):
    for i in range(n):
        yield i * i


async def coro(x):
    return x + 1


class Base:
    def __init__(self, v):
        self.v = v

    def method(self, k):
        return self.v * k

    @classmethod
    def make(cls, v):
        return cls(v)

    @staticmethod
    def static(a, b):
        return a - b

    @property
    def double(self):
        return self.v * 2


class Child(Base):
    def method(self, k):
        return super().method(k) + 1


def deco(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return ("wrapped", f(*a, **k))
    return wrapper


@deco
def decorated(x, y=1):
    """doc of decorated"""
    return x + y


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def guarded(x):
    try:
        return 10 // x
    except ZeroDivisionError:
        return "div0"
    finally:
        pass


@contextmanager
def ctx(log):
    log.append("enter")
    yield
    log.append("exit")


def with_stmt(x):
    log = []
    with ctx(log):
        log.append(x)
    return log


def matcher(v):
    match v:
        case [a, b]:
            return ("pair", a, b)
        case {"k": k}:
            return ("dict", k)
        case int(n) if n > 10:
            return ("big", n)
        case _:
            return ("other", v)


def loops(n):
    total = 0
    for i in range(n):
        if i == 7:
            continue
        total += i
    else:
        total += 1000
    while total > 50:
        total -= 7
        if total % 5 == 0:
            break
    return total


def cell_param(x):
    def get():
        return x
    x = x + 1
    return get()


def comprehension(n):
    return [i * i for i in range(n) if i % 2], {i: -i for i in range(3)}, sum(i for i in range(n))


def raises(x):
    if x > 1:
        raise ValueError(f"bad {x}")
    return x


def mutual_a(n):
    return 0 if n == 0 else mutual_b(n - 1) + 1


def mutual_b(n):
    return 0 if n == 0 else mutual_a(n - 1) + 2


def floaty(x, y):
    return x / y + x * 1.5


G = 5


def uses_global(x):
    global G
    G += x
    return G


def results():
    import asyncio
    out = []
    for rnd in range(3):
        out.append(closure(rnd))
        out.append(defaults(1, c=3))
        out.append(defaults(1, 5, 6, 7, c=3, d=8, z=9, a2=1))
        out.append(kwonly(rnd) + kwonly(rnd, scale=3))
        out.append(list(gen(rnd + 2)))
        out.append(asyncio.run(coro(rnd)))
        b, c = Base.make(rnd), Child(rnd)
        out.append((b.method(2), c.method(2), Base.static(5, rnd), c.double))
        out.append((decorated(rnd), decorated.__name__, decorated.__doc__))
        out.append(fib(rnd + 10))
        out.append((guarded(rnd), guarded(0)))
        out.append(with_stmt(rnd))
        out.append([matcher(v) for v in ([1, 2], {"k": rnd}, 11 + rnd, 3, "s")])
        out.append(loops(20 + rnd))
        out.append(cell_param(rnd))
        out.append(comprehension(5 + rnd))
        try:
            raises(rnd)
            out.append("no error")
        except ValueError as exc:
            out.append(("error", str(exc), exc.__traceback__.tb_next.tb_lineno))
        out.append((mutual_a(rnd + 4), floaty(rnd + 1, 2), floaty(1.5, rnd + 1)))
        out.append(uses_global(rnd))
        out.append((lambda q=rnd: q * 2)())
    return out
'''


@pytest.mark.parametrize("threshold", [1, 2, 10_000])
def test_corpus_behaves_as_plain_python(env, threshold):
    plain: dict = {"__name__": "__main__"}
    exec(compile(CORPUS, str(env.path / "main.py"), "exec", dont_inherit=True), plain)
    ns = env.main(CORPUS, threshold=threshold)
    assert ns["results"]() == plain["results"]()
    if threshold == 1:
        assert env.record("fib")["status"] == "compiled"
        assert env.fake.native.get("fib", 0) > 0
    statuses = {r["qualname"]: (r["status"], r["reason"]) for r in report.records()}
    assert statuses["gen"] == ("unsupported", "generator or coroutine")
    assert statuses["closure.<locals>.inner"][1].startswith("closure")


def test_observable_properties_are_python_s(env):
    path = env.write("props.py", CORPUS)
    plain_code = compile(CORPUS, path, "exec", dont_inherit=True)
    plain: dict = {"__name__": "props"}
    exec(plain_code, plain)
    env.install(threshold=1)
    import props

    for name in ("defaults", "kwonly", "fib", "guarded", "matcher", "loops", "cell_param"):
        ours, theirs = getattr(props, name), plain[name]
        assert _instrumented(ours.__code__), name
        for attr in (
            "co_name",
            "co_qualname",
            "co_varnames",
            "co_argcount",
            "co_kwonlyargcount",
            "co_firstlineno",
            "co_filename",
            "co_cellvars",
            "co_freevars",
            "co_flags",
        ):
            assert getattr(ours.__code__, attr) == getattr(theirs.__code__, attr), (name, attr)
        assert ours.__defaults__ == theirs.__defaults__
        assert ours.__kwdefaults__ == theirs.__kwdefaults__
        assert inspect.signature(ours) == inspect.signature(theirs)
        assert inspect.getsource(ours) == inspect.getsource(theirs)
        assert pickle.loads(pickle.dumps(ours)) is ours
    assert props.decorated.__wrapped__.__name__ == "decorated"
    assert props.decorated.__doc__ == "doc of decorated"
    assert pickle.loads(pickle.dumps(props.Base.static)) is props.Base.static


def _traceback_of(func, *args) -> list:
    try:
        func(*args)
    except Exception as exc:  # noqa: BLE001
        return [
            (f.filename, f.lineno, f.name, f.line, f.colno, f.end_colno)
            for f in traceback.extract_tb(exc.__traceback__)[1:]
        ]
    raise AssertionError("no exception")


def test_tracebacks_and_positions_are_python_s(env):
    plain: dict = {"__name__": "__main__"}
    exec(compile(CORPUS, str(env.path / "main.py"), "exec", dont_inherit=True), plain)
    ns = env.main(CORPUS, threshold=10_000)
    for name, args in (("raises", (5,)), ("guarded", ("x",)), ("fib", (None,))):
        assert _traceback_of(ns[name], *args) == _traceback_of(plain[name], *args)


def _line_events(func, *args) -> list:
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == func.__code__.co_filename:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        func(*args)
    finally:
        sys.settrace(None)
    return events


@needs_no_tracer
def test_tracer_sees_python_s_events_and_native_code_is_not_entered(env):
    plain: dict = {"__name__": "__main__"}
    exec(compile(CORPUS, str(env.path / "main.py"), "exec", dont_inherit=True), plain)
    ns = env.main(CORPUS, threshold=1)
    ns["fib"](5)
    before = env.fake.native["fib"]
    for name, args in (("fib", (6,)), ("loops", (15,)), ("guarded", (0,)), ("matcher", (11,))):
        assert _line_events(ns[name], *args) == _line_events(plain[name], *args)
    assert env.fake.native["fib"] == before
    slot = runtime.live[env.record("fib") and runtime.functions[0].slot]
    assert slot.value is None  # the removal's audit event came before the removal
    sys._getframe()  # the thread's next audit event finds no tracer: slots back
    assert slot.value is not None
    ns["fib"](5)
    assert env.fake.native["fib"] > before


@needs_no_tracer
def test_the_first_tracer_moves_the_guard_to_an_audit_hook(env):
    ns = env.main("def f(x):\n    return x + 1\n", threshold=1)
    ns["f"](0)
    meta_path = (id(sys.meta_path), list(sys.meta_path))
    own = next(entry for entry in sys.meta_path if type(entry) is finder.Finder)
    sys.settrace(lambda *a: None)
    try:
        assert all(slot.value is None for slot in runtime.live)
        # imports are python's own (PathFinder's frames); the list another thread may be
        # iterating is left as it is
        assert own.find_spec == importlib.machinery.PathFinder.find_spec
        assert (id(sys.meta_path), list(sys.meta_path)) == meta_path
    finally:
        sys.settrace(None)
    # python's own functions from now on: removing the next tracer runs no pyfast frame
    assert isinstance(sys.settrace, types.BuiltinFunctionType)
    assert isinstance(sys.setprofile, types.BuiltinFunctionType)
    sys.setprofile(lambda *a: None)  # seen by the audit hook, before the change
    try:
        assert all(slot.value is None for slot in runtime.live)
    finally:
        sys.setprofile(None)
    assert all(slot.value is None for slot in runtime.live)  # the removal's event came first
    sys._getframe()  # the thread's next audit event
    assert ns["f"](1) == 2 and env.fake.native["f"] >= 1
    assert "find_spec" not in vars(own)


@needs_no_tracer
def test_setprofile_and_tracer_active_at_install(env):
    ns = env.main("def f(x):\n    return x + 1\n", threshold=1)
    ns["f"](0)
    ns["f"](1)
    sys.setprofile(lambda *a: None)
    try:
        ns["f"](2)
        assert env.fake.native["f"] == 1
    finally:
        sys.setprofile(None)
    sys._getframe()  # an audit event after the removal
    ns["f"](3)
    assert env.fake.native["f"] == 2
    hook.uninstall()
    sys.settrace(lambda *a: None)
    try:
        env.install(threshold=1)
        assert all(slot.value is None for slot in runtime.live)
    finally:
        sys.settrace(None)
    sys._getframe()
    assert any(slot.value is not None for slot in runtime.live)


# --- profiler -------------------------------------------------------------------------------

PROFILED = """
def add(a, b):
    return a + b

def count(n):
    t = 0
    for i in range(n):
        t += i
    k = 0
    while k < n:
        k += 1
    return t + k

def first(xs):
    return xs[0]
"""


def test_original_code_is_found_through_the_slots_placed_in_that_very_code(env):
    """The compiler reads a callee's original code through ``original_code``: the slots in
    the instrumented code lead to it; a copy of that code (``code.replace``: the same slot
    constants) is not mistaken for it, and code without slots is its own original."""
    ns = env.main(PROFILED, threshold=10_000)
    count = ns["count"]
    original = runtime.original_code(count)
    assert original is not count.__code__
    assert not any(isinstance(c, instrument.Slot) for c in original.co_consts)
    codes = compile(textwrap.dedent(PROFILED), "x", "exec").co_consts
    (expected,) = [c for c in codes if isinstance(c, types.CodeType) and c.co_name == "count"]
    assert original.co_code == expected.co_code
    copy = types.FunctionType(count.__code__.replace(co_name="other"), ns)
    assert runtime.original_code(copy) is copy.__code__
    plain = types.FunctionType(compile("def f(): return 1", "y", "exec").co_consts[0], {})
    assert runtime.original_code(plain) is plain.__code__


def test_counts_and_signatures_while_cold(env):
    ns = env.main(PROFILED, threshold=10_000)
    for i in range(10):
        ns["add"](i, 1)
    for _ in range(3):
        ns["add"](1.5, 2)
    ns["add"]("a", "b")
    ns["count"](50)
    for _ in range(runtime.EARLY):  # the profile, and so the signatures, start at EARLY
        ns["first"]([1, 2, 3])
    ns["first"]([1.0, 2])
    ns["first"]((None,))
    add = env.record("add")
    assert add["calls"] == 14
    assert add["signatures"] == ["(int, int)", "(float, int)", "(str, str)"]
    assert add["status"] == "cold" and add["reason"] is None
    count = env.record("count")
    assert count["calls"] == 1
    assert count["loop_iterations"] == 50 + 49  # back edges: a while loop is entered once first
    assert sorted(env.record("first")["signatures"]) == [
        "(list[float | int])",
        "(list[int])",
        "(tuple[NoneType])",
    ]
    assert env.fake.requests == []


def test_numpy_signature_summary():
    np = pytest.importorskip("numpy")
    assert runtime.describe((np.zeros((2, 3)), 1)) == "(ndarray[float64, 2d], int)"


def test_threshold_one_compiles_synchronously_at_first_call(env):
    ns = env.main(PROFILED, threshold=1, dump=("ad*",))
    assert ns["add"](1, 2) == 3
    assert env.fake.requests[0][:2] == ("add", (int, int))
    assert env.fake.requests[0][2] == runtime.functions[0].on_call
    assert ns["add"](2, 3) == 5
    rec = env.record("add")
    assert rec["status"] == "compiled" and rec["native_calls"] == 1 and rec["calls"] == 2
    assert rec["compile_ms"] > 0


def test_signatures_chain_up_to_four(env):
    ns = env.main(PROFILED, threshold=1)
    values = [(1, 2), (1.5, 2.5), ("a", "b"), ([1], [2]), ((1,), (2,)), (True, False)]
    for a, b in values * 2:
        assert ns["add"](a, b) == a + b
    sigs = [r[1] for r in env.fake.requests]
    assert sigs == [(int, int), (float, float), (str, str), (list, list)]
    first_entry = runtime.functions[0].entries[0].entry
    assert env.fake.requests[1][2] is first_entry
    assert env.fake.native["add"] == 4  # the call that triggers a compile is interpreted
    assert env.record("add")["status"] == "compiled"


def _wait_until_decided(env, qualname: str) -> dict:
    deadline = time.monotonic() + 10
    while env.record(qualname)["reason"] == "compiling in background":
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return env.record(qualname)


def test_background_compilation_switches_when_ready(env):
    ns = env.main(PROFILED, threshold=5)
    env.fake.finishing.clear()
    for i in range(5):
        ns["add"](i, i)
    assert env.record("add")["reason"] == "compiling in background"
    env.fake.finishing.set()
    assert _wait_until_decided(env, "add")["status"] == "compiled"
    ns["add"](1, 1)
    assert env.fake.native["add"] == 1


def test_hot_loop_compiles_its_function_at_the_next_call(env):
    env.fake.unsupported.add("count")
    ns = env.main(PROFILED, threshold=40)
    assert ns["count"](100) == 4950 + 100
    calls_compiled = [r for r in env.fake.requests if r[1] == (int,)]  # OSR requests aside
    assert calls_compiled == []  # a function called once is not compiled for later calls
    assert ns["count"](100) == 4950 + 100
    rec = _wait_until_decided(env, "count")
    assert rec["status"] == "unsupported"
    assert rec["reason"] == "injected: cannot compile (line 6)"
    assert 40 <= rec["loop_iterations"] <= 80  # each loop counts up to the threshold, once
    slots = [runtime.live[p.slot].value for p in runtime.functions if p.spec.qualname == "count"]
    assert slots == [None]


def test_no_jit_profiles_but_never_compiles(env):
    ns = env.main(PROFILED, threshold=1, jit=False)
    ns["add"](1, 2)
    assert env.fake.requests == []
    rec = env.record("add")
    assert rec["status"] == "cold" and "jit disabled" in rec["reason"]


# --- failure injection ----------------------------------------------------------------------


def test_compiler_failure_and_unsupported_keep_python_behaviour(env):
    env.fake.failing.add("add")
    env.fake.unsupported.add("first")
    ns = env.main(PROFILED, threshold=1)
    assert ns["add"](1, 2) == 3 and ns["first"]([7]) == 7
    assert ns["add"](1, 2) == 3
    add, first = env.record("add"), env.record("first")
    assert add["status"] == "failed" and "injected compiler failure" in add["reason"]
    assert first["status"] == "unsupported" and first["reason"].startswith("injected")
    assert runtime.live[runtime.functions[0].slot].value is None


@pytest.mark.parametrize("threshold", [1, 2])
def test_a_backend_that_cannot_load_leaves_python_behaviour(env, threshold):
    env.fake.backend_failing.add("add")
    ns = env.main(PROFILED, threshold=threshold)
    assert [ns["add"](1, 2) for _ in range(3)] == [3, 3, 3]
    add = env.record("add")
    assert add["status"] == "failed" and "libllvmlite.so cannot be loaded" in add["reason"]


def test_prescreen_rejection_and_failure_leave_code_untouched(env, monkeypatch):
    env.fake.prescreen_rejects["add"] = "uses something"

    def broken(code):
        if code.co_name == "first":
            raise RuntimeError("prescreen bug")
        return env.fake.prescreen(code)

    monkeypatch.setattr(api, "prescreen", broken)
    ns = env.main(PROFILED, threshold=1)
    assert not _instrumented(ns["add"].__code__)
    assert not _instrumented(ns["first"].__code__)
    assert ns["add"](1, 2) == 3 and ns["first"]("x") == "x"
    add, first = env.record("add"), env.record("first")
    assert (add["status"], add["reason"]) == ("unsupported", "uses something (line 2)")
    assert first["status"] == "failed" and "prescreen bug" in first["reason"]


def test_instrumenter_failure_leaves_function_or_module_alone(env, monkeypatch):
    real = instrument._rewrite

    def flaky(code, index, slots):
        if code.co_name == "add":
            raise RuntimeError("rewrite bug")
        return real(code, index, slots)

    monkeypatch.setattr(instrument, "_rewrite", flaky)
    ns = env.main(PROFILED, threshold=1)
    assert ns["add"](2, 2) == 4 and ns["count"](3) == 6
    assert env.record("add")["status"] == "failed"
    assert env.record("count")["status"] == "compiled"

    def broken(code, prescreen):
        raise RuntimeError("instrument bug")

    monkeypatch.setattr(instrument, "instrument", broken)
    env.write("other.py", "def g():\n    return 42\n")
    import other

    assert other.g() == 42
    assert env.record("<module>", "other")["status"] == "failed"


def test_runtime_failure_in_hot_path_is_reported(env, monkeypatch):
    def lost(code, namespace):
        raise LookupError("lost the function")

    monkeypatch.setattr(runtime, "find_function", lost)
    ns = env.main(PROFILED, threshold=1)
    assert ns["add"](1, 2) == 3
    rec = env.record("add")
    assert rec["status"] == "failed" and "lost the function" in rec["reason"]


FINALIZED_IN_GC = """
import gc
def make():
    class Sneaky:
        def __del__(self):
            pass
    s = Sneaky()
    s.me = s
make()
gc.collect()
"""


def test_finalizer_run_by_the_collector_is_reported_unsupported_not_failed(env):
    """``__del__`` first called while its class is garbage being collected: no function object
    is reachable (the collector hides it from ``gc.get_referrers``).  Not a pyfast failure."""
    env.main(FINALIZED_IN_GC, threshold=1)
    rec = env.record("make.<locals>.Sneaky.__del__")
    assert rec["status"] == "unsupported" and "garbage collector" in rec["reason"]


# --- import machinery -----------------------------------------------------------------------


def _same_syntax_error(source: str, path: str, call) -> None:
    with pytest.raises(SyntaxError) as expected:
        compile(source, path, "exec")
    with pytest.raises(SyntaxError) as got:
        call()
    assert type(got.value) is type(expected.value)
    assert got.value.args == expected.value.args


def test_syntax_errors_are_python_s(env):
    env.install()
    bad = "def f(:\n    pass\n"
    path = env.write("badmod.py", bad)
    _same_syntax_error(bad, path, lambda: importlib.import_module("badmod"))
    _same_syntax_error(bad, path, lambda: hook.main_code(bad.encode(), path))
    indent = "if 1:\n  x = 1\n    y = 2\n"
    _same_syntax_error(indent, "<string>", lambda: hook.main_code(indent.encode(), "<string>"))


def test_packages_namespace_packages_zip_and_reload(env):
    env.write("pkg/__init__.py", "from .sub import f\n")
    env.write("pkg/sub.py", "def f(x):\n    return x * 2\n")
    env.write("nspkg/mod.py", "def g(x):\n    return x + 3\n")
    with zipfile.ZipFile(env.path / "lib.zip", "w") as zf:
        zf.writestr("zipped.py", "def h(x):\n    return x - 1\n")
    sys.path.insert(0, str(env.path / "lib.zip"))
    try:
        env.install(threshold=1)
        import nspkg.mod
        import pkg
        import zipped

        assert (pkg.f(2), nspkg.mod.g(1), zipped.h(1)) == (4, 4, 0)
        assert _taken_over(nspkg.mod)
        assert _instrumented(pkg.f.__code__)
        assert not _instrumented(zipped.h.__code__)
        env.write("pkg/sub.py", "def f(x):\n    return x * 10\n")
        os.utime(env.path / "pkg/sub.py", ns=(1, 1))
        importlib.reload(sys.modules["pkg.sub"])
        assert sys.modules["pkg.sub"].f(2) == 20
    finally:
        sys.path.remove(str(env.path / "lib.zip"))


def test_extension_and_frozen_modules_still_import(env, monkeypatch):
    env.install(include=("*",))
    for name in ("_struct", "zipimport", "math"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # the originals come back after
        module = importlib.import_module(name)
        assert not _taken_over(module)


# --- disk cache -----------------------------------------------------------------------------


def _import_fresh(name: str):
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_cache_hit_miss_and_never_clobbering_pyc(env, monkeypatch):
    path = env.write("cached.py", PROFILED)
    env.install(threshold=1)
    calls = []
    real = instrument.instrument
    monkeypatch.setattr(instrument, "instrument", lambda *a: calls.append(1) or real(*a))
    assert _import_fresh("cached").add(1, 2) == 3
    cache_file = cache.path_for(path)
    assert os.path.exists(cache_file) and ".pyfast-" in cache_file
    assert os.path.dirname(cache_file) == str(env.path / "__pycache__")
    with open(importlib.util.cache_from_source(path), "rb") as file:  # python's own, as python
        assert file.read(4) == importlib.util.MAGIC_NUMBER  # writes it on an import
    module = _import_fresh("cached")
    assert len(calls) == 1
    assert module.add(1, 2) == module.add(1, 2) == 3 and env.fake.native["add"] == 1
    assert module.count(3) == 6
    assert [r["status"] for r in report.records() if r["qualname"] == "count"][-1] == "compiled"
    env.write("cached.py", PROFILED.replace("a + b", "a - b"))
    os.utime(path, ns=(1, 1))
    assert _import_fresh("cached").add(1, 2) == -1
    assert len(calls) == 2


def test_corrupt_and_unwritable_cache_are_ignored(env, tmp_path):
    path = env.write("corrupt.py", PROFILED)
    env.install(threshold=1)
    _import_fresh("corrupt")
    cache_file = cache.path_for(path)
    with open(cache_file, "r+b") as file:
        file.seek(40)
        file.write(b"\xff" * 64)
    assert _import_fresh("corrupt").add(2, 2) == 4
    with open(cache_file, "wb") as file:
        file.write(b"junk")
    assert _import_fresh("corrupt").add(2, 3) == 5
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env.install(threshold=1, cache_dir=str(blocker / "sub"))
    assert _import_fresh("corrupt").add(3, 3) == 6


def test_no_cache_setting_writes_nothing(env):
    path = env.write("nocache.py", PROFILED)
    env.install(cache=False)
    _import_fresh("nocache")
    assert not os.path.exists(cache.path_for(path))


def test_same_file_loaded_twice_gets_distinct_slots(env):
    env.write(
        "twice.py", "COUNTER = []\ndef f(x):\n    COUNTER.append(x)\n    return len(COUNTER)\n"
    )
    env.install(threshold=1)
    first = _import_fresh("twice")
    second = _import_fresh("twice")
    assert first is not second
    assert (first.f(1), second.f(1), first.f(1)) == (1, 1, 2)
    assert first.f.__code__.co_consts != second.f.__code__.co_consts


def _slots_read(function) -> set[int]:
    """The numbers of the slots a function's probes read."""
    slots = {id(slot): k for k, slot in enumerate(runtime.live)}
    return {slots[id(c)] for c in function.__code__.co_consts if type(c) is instrument.Slot}


def test_cached_tree_is_placed_at_the_slots_of_each_load(env):
    env.write("placed.py", PROFILED)
    env.install(threshold=1)
    base = len(runtime.desired)
    first = _import_fresh("placed")  # cache miss: placed at ``base``, stored with placeholders
    assert _slots_read(first.add) == {base}
    del runtime.desired[base:], runtime.live[base:], runtime._owners[base:], runtime._counts[base:]
    runtime.modules.clear()
    runtime.functions.clear()
    again = _import_fresh("placed")  # from the cache: the same slot numbers, new slot objects
    assert _slots_read(again.add) == {base}
    assert again.add(1, 2) == again.add(1, 2) == 3 and env.fake.native["add"] == 1
    assert again.count(4) == 6 + 4
    other = _import_fresh("placed")  # loaded again: its own slots, through the recorded sites
    assert _slots_read(other.add).isdisjoint(_slots_read(again.add))
    assert other.add(2, 2) == other.add(2, 2) == 4 and env.fake.native["add"] == 2
    assert other.count(4) == 10 and other.first([5]) == 5
    slot = runtime.modules[-1].base + 0
    assert _slots_read(other.add) == {slot} and runtime.live[slot].value is not None


def test_profiles_are_made_at_the_early_th_use_and_the_report_lists_every_function(env):
    env.write("lazy.py", PROFILED)
    env.install(threshold=10_000)
    module = _import_fresh("lazy")
    assert module.count(3) == 6 and module.count(2) == 3
    assert runtime.functions == []  # each probe fired fewer than EARLY times: only counted
    rows = {r["qualname"]: r for r in report.records() if r["module"] == "lazy"}
    assert list(rows) == ["add", "count", "first"]
    assert rows["count"]["calls"] == 2 and rows["count"]["loop_iterations"] == 5 + 3
    assert rows["count"]["signatures"] == [] and rows["count"]["status"] == "cold"
    never = {**rows["add"]}
    assert never.pop("file") == str(env.path / "lazy.py") and never.pop("line") == 2
    assert never == {
        "module": "lazy",
        "qualname": "add",
        "calls": 0,
        "loop_iterations": 0,
        "signatures": [],
        "status": "cold",
        "reason": None,
        "native_calls": 0,
        "compile_ms": 0.0,
        "osr_entries": 0,
        "deopts": 0,
        "deopt_reasons": {},
    }
    for k in range(runtime.EARLY):
        assert module.add(k, 2) == k + 2
    assert [p.spec.qualname for p in runtime.functions] == ["add"]
    row = env.record("add", "lazy")
    assert row["calls"] == runtime.EARLY and row["signatures"] == ["(int, int)"]
    assert module.count(20) == 190 + 20  # the for loop's 8th iteration makes the profile
    assert [p.spec.qualname for p in runtime.functions] == ["add", "count"]
    assert env.record("count", "lazy")["loop_iterations"] == 5 + 3 + 20 + 19


def test_getclosurevars_sees_no_probe(env):
    """The probes' attribute read adds a name to ``co_names`` that ``getclosurevars`` skips:
    an instrumented function's closure variables are python's."""
    source = "import math\nLIMIT = 3\ndef f(x):\n    return min(x.real, LIMIT) + math.pi\n"
    plain: dict = {}
    exec(compile(source, "<plain>", "exec"), plain)
    ns = env.main(source, threshold=10_000)
    assert ns["f"].__code__ is not plain["f"].__code__  # instrumented
    got, expected = inspect.getclosurevars(ns["f"]), inspect.getclosurevars(plain["f"])
    assert got.unbound == expected.unbound == {"real", "pi"}
    assert got.globals.keys() == expected.globals.keys() and got.builtins == expected.builtins


def test_inside_pyfast_a_probe_neither_profiles_nor_compiles(env):
    """Code that runs while the thread is inside pyfast (an audit hook, a finalizer) calls
    instrumented functions as python would: no profile, no compilation request; the next
    call outside makes them."""
    ns = env.main(PROFILED, threshold=1)
    with runtime._Inside():
        assert ns["add"](1, 2) == 3
    assert runtime.functions == [] and env.fake.requests == []
    assert ns["add"](1, 2) == 3
    assert env.fake.requests[0][:2] == ("add", (int, int))


def test_first_call_through_the_stub_compiles_with_the_caller_s_frame(env):
    ns = env.main(PROFILED, threshold=1)
    stub = runtime.live[runtime.modules[-1].base].value
    assert stub.__func__ is runtime._first_use
    assert ns["add"](1, 2) == 3  # the stub makes the profile, which compiles at once
    assert runtime.live[runtime.modules[-1].base].value is not stub
    assert env.fake.requests[0][:2] == ("add", (int, int))
    assert runtime.functions[0].live is ns["add"]


# --- reports --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        [True, False, 0, -5, 2**80, 1.5, -0.0, 1e300, float("inf"), -float("inf")],
        '\u00e9"\\\n\t\u2028 \U0001f600',
        {"a": [1, {"b": None, "c": [[], {}]}], "\u00e9": {}},
    ],
)
def test_report_json_is_json_dumps_text(value):
    """``report.to_json`` writes ``json.dumps(value, indent=1)``'s text, without ``json``."""
    import json

    assert report.to_json(value) == json.dumps(value, indent=1)
    assert report.to_json(float("nan")) == "NaN"


def test_report_table_and_json_contract(env, tmp_path, monkeypatch, capsys):
    out = tmp_path / "report.json"
    env.fake.unsupported.add("first")
    ns = env.main(PROFILED, threshold=1, report=True, report_json=str(out))
    ns["add"](1, 2)
    ns["first"]([1])
    monkeypatch.delenv("PYFAST_REPORT_OWNER", raising=False)
    report.write_at_exit()
    import json

    text = out.read_text()
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=1) + "\n"
    assert doc["pyfast"] == "0.1.0"
    assert doc["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    add = next(f for f in doc["functions"] if f["qualname"] == "add")
    assert set(add) == {
        "module",
        "qualname",
        "file",
        "line",
        "calls",
        "loop_iterations",
        "signatures",
        "status",
        "reason",
        "native_calls",
        "compile_ms",
        "osr_entries",
        "deopts",
        "deopt_reasons",
    }
    assert add["module"] == "__main__" and add["file"] == str(env.path / "main.py")
    assert add["line"] == 2 and add["signatures"] == ["(int, int)"]
    table = capsys.readouterr().err
    assert "__main__.add" in table and "unsupported" in table and "compiling took" in table
    monkeypatch.setenv("PYFAST_REPORT_OWNER", "1")
    assert report.json_path(str(out)) == f"{out}.{os.getpid()}.json"
    monkeypatch.setenv("PYFAST_REPORT_OWNER", str(os.getpid()))
    assert report.json_path(str(out)) == str(out)


def test_verbose_and_dump_go_to_stderr(env, capsys):
    ns = env.main(PROFILED, threshold=1, verbose=True, dump=("add",))
    ns["add"](1, 2)
    ns["first"]([1])
    err = capsys.readouterr().err
    assert "] compiled __main__.add(int, int)" in err
    assert "IR of add" in err and "LLVM of add" in err
    assert "IR of first" not in err


def test_uninstalled_hook_keeps_instrumented_code_working(env):
    ns = env.main(PROFILED, threshold=1)
    hook.uninstall()
    assert ns["add"](4, 5) == 9
    env.write("after.py", "def f():\n    return 1\n")
    import after

    assert not _taken_over(after)
    assert isinstance(types.ModuleType, type)


PDB_FIRST_STOP = """
import pdb
def f():
    pdb.set_trace()
    x = 1
    return x
print(f())
"""

TRACER_INSTALLED = """
import sys
seen = []
def tracer(frame, event, arg):
    seen.append((event, frame.f_code.co_filename == __file__))
    return tracer
def g():
    return 1
sys.settrace(tracer)
g()
sys.settrace(None)
print(seen)
"""


PROFILER_INSTALLED = """
import profile, sys
seen = []
def profiler(frame, event, arg):
    seen.append((event, frame.f_code.co_name))
def g():
    return 1
sys.setprofile(profiler)
g()
sys.setprofile(None)
print(seen)
profile.Profile().runcall(g)
print("profiled")
"""


@pytest.mark.parametrize(
    "source",
    [PDB_FIRST_STOP, TRACER_INSTALLED, PROFILER_INSTALLED],
    ids=["pdb", "settrace", "setprofile"],
)
def test_a_new_tracer_does_not_see_pyfast_s_bookkeeping(source, spawn, tmp_path):
    """The guard's bookkeeping runs before a tracer is installed: pdb's first stop is the
    user's next line, and a tracer's first events are the program's (as under python).  A
    profiler's first event would be the wrapper's return: a stand-in takes it (``profile``
    raised "Bad return")."""
    (tmp_path / "main.py").write_text(source)
    expected = spawn([sys.executable, "main.py"], tmp_path, input="c\n")
    got = spawn(
        [sys.executable, "-m", "pyfast", "--threshold", "1", "main.py"], tmp_path, input="c\n"
    )
    assert (got.stdout, got.returncode) == (expected.stdout, expected.returncode)


#: ``g`` compiled (``--threshold 1``) and called natively once before a tracer comes.
NATIVE_G = """
def g(n):
    total = 0
    for i in range(n):
        total += i
    return total

g(3)
g(3)
seen = []
"""

PDB_CONTINUE = """
import pdb

def f(n):
    total = 0
    for i in range(n):
        total += i
    return total

f(10)
pdb.set_trace()
x = f(10)
print([f(100) for _ in range(20)][-1], x)
"""


def test_native_code_is_back_right_after_pdb_continue(spawn, tmp_path):
    """pdb's ``continue`` removes its tracer and then makes an audit event (``sys._getframe``):
    the next call is native again."""
    (tmp_path / "main.py").write_text(PDB_CONTINUE)
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
    got = spawn([*argv, "main.py"], tmp_path, input="c\n")
    expected = spawn([sys.executable, "main.py"], tmp_path, input="c\n")
    assert (got.stdout, got.returncode) == (expected.stdout, expected.returncode)
    (record,) = [r for r in json.loads(report.read_text())["functions"] if r["qualname"] == "f"]
    assert record["native_calls"] == record["calls"] == 22


TRACED_RUN = f"""
import importlib.util
import sys

importlib.util.find_spec("colorsys")  # the import system's caches as warm as pyfast's
{NATIVE_G}
def tracer(frame, event, arg):
    seen.append((event, frame.f_code.co_name, frame.f_code.co_filename))
    return tracer

sys.settrace(tracer)
g(3)
import colorsys  # an import while tracing: no finder frame
sys.settrace(None)
print(seen)
sys._getframe()  # the slots come back at the next audit event
print(g(10))
"""

PROFILED_RUN = f"""
import sys
{NATIVE_G}
def profiler(frame, event, arg):
    seen.append((event, frame.f_code.co_name, getattr(arg, "__name__", None)))

sys.setprofile(profiler)
g(3)
sys.setprofile(None)
print(seen)
import cProfile, pstats  # a C-API profiler on 3.11, a monitoring tool on 3.12+
profile = cProfile.Profile()
profile.enable()
g(4)
profile.disable()
print(sorted({{(file.rsplit("/", 1)[-1], name) for file, _, name in pstats.Stats(profile).stats}}))
sys._getframe()
print(g(10))
"""


@pytest.mark.parametrize("source", [TRACED_RUN, PROFILED_RUN], ids=["settrace", "profilers"])
def test_tracers_and_profilers_see_no_pyfast_frame(source, python_and_pyfast):
    """Installing and removing a tracer or profiler, and imports while it is on, show it
    python's events only (the guard runs in an audit hook, untraced); native code is off
    while it is set and back on after it is removed."""
    got, records = python_and_pyfast(source)
    assert "pyfast" not in got.stdout
    assert records["g"]["native_calls"] >= 2


def test_an_instrumented_audit_hook_does_not_deadlock_the_profiler(spawn, tmp_path):
    """Making a profile reads the module's cached slot specs (``marshal.loads``, an audited
    event); an instrumented audit hook called there runs as under python instead of waiting
    for the profiler's lock, which its own thread holds (the second, warm-cache run hung)."""
    (tmp_path / "hooks.py").write_text(
        "import sys\n\ndef audit(event, args):\n    return None\n\nsys.addaudithook(audit)\n"
    )
    (tmp_path / "main.py").write_text(
        "import os\nimport hooks\n\nfor i in range(20):\n    os.environ['X'] = str(i)\n"
        "print('done')\n"
    )
    runs = [spawn([sys.executable, "-m", "pyfast", "main.py"], tmp_path) for _ in range(2)]
    assert [(r.returncode, r.stdout) for r in runs] == [(0, "done\n")] * 2, runs[-1].stderr
