"""The whole chain, as a user runs it: ``pyfast --threshold 1 --report-json R script.py``
against ``python script.py`` -- same stdout, stderr's last line and exit code -- with the JSON
report proving the named functions really ran natively (calls or OSR entries)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# name -> (script, {qualname: least native_calls}, {qualname: least osr_entries})
SCRIPTS: dict[str, tuple[str, dict[str, int], dict[str, int]]] = {
    "fib": (
        """
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        print(fib(20), fib(21))
        """,
        {"fib": 1},
        {},
    ),
    "tail_recursion": (
        """
        def tri(n):
            if n <= 0:
                return 0
            return n + tri(n - 1)
        def euclid(a, b):
            return a if b == 0 else euclid(b, a % b)
        print(tri(150), tri(250), euclid(1071, 462), euclid(2**70, 6))
        try:
            tri(100_000)
        except RecursionError as e:
            print("caught", type(e).__name__)
        tri(100_000)
        """,
        {"tri": 1, "euclid": 1},
        {},
    ),
    "recursion_limit_lowered": (
        """
        import sys
        def tri(n):
            if n <= 0:
                return 0
            return n + tri(n - 1)
        def deep(n):
            if n <= 0:
                return 0
            below = deep(n - 1)
            return below + 1
        print(tri(10), deep(10))
        sys.setrecursionlimit(80)
        for f in (tri, deep):
            try:
                print(f(150))
            except RecursionError as e:
                print("caught", e)
        print(tri(50), deep(50))
        """,
        {"tri": 1, "deep": 1},
        {},
    ),
    "recursion_sees_a_global_set_by_a_signal_handler": (
        """
        import signal
        STOP = 0
        def f(n):
            if STOP == 1 or n < 2:
                return 0
            return f(n - 1) + f(n - 2)
        def stop(*args):
            global STOP
            STOP = 1
        signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        print(f(80))  # years of work until the recursion's poll sees STOP
        """,
        {"f": 1},
        {},
    ),
    "overflow_to_big_int": (
        """
        def square(x):
            return x * x
        print([square(v) for v in (3, 2**31, 2**40, -(2**62))])
        """,
        {"square": 1},
        {},
    ),
    "float_kernel": (
        """
        def leibniz(n):
            s = 0.0
            sign = 1.0
            for k in range(n):
                s += sign / (2 * k + 1)
                sign = -sign
            return 4 * s
        for _ in range(3):
            print(leibniz(100_000))
        """,
        {"leibniz": 1},
        {},
    ),
    "exceptions_keep_python_messages": (
        """
        def div(a, b):
            return a // b
        print(div(7, 2), div(-9, 4))
        try:
            div(1, 0)
        except ZeroDivisionError as e:
            print("caught", e)
        div(5, 0)
        """,
        {"div": 1},
        {},
    ),
    "global_rebinding_seen": (
        """
        SCALE = 2
        def scaled(x):
            return x * SCALE
        print(scaled(3), scaled(4))
        SCALE = 2.5
        print(scaled(3), scaled(4))
        """,
        {"scaled": 1},
        {},
    ),
    "global_set_by_a_thread": (
        """
        import threading, time
        stop = False
        def spin():
            n = 0
            while not stop:
                n += 1
            return n
        def setter():
            global stop
            time.sleep(0.2)
            stop = True
        stop = True
        print(spin())  # compiles spin: the next call is native from its start
        stop = False
        threading.Thread(target=setter).start()
        print("stopped", spin() > 0)
        """,
        {"spin": 1},
        {},
    ),
    "global_set_by_a_signal_handler": (
        """
        import signal
        running = True
        def handler(signum, frame):
            global running
            running = False
        signal.signal(signal.SIGALRM, handler)
        def work():
            total = 0.0
            i = 0
            while running:
                total += i * 0.5
                i += 1
            return i > 0 and total >= 0
        running = False
        print(work())  # compiles work: the next call is native from its start
        running = True
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        print(work())
        """,
        {"work": 1},
        {},
    ),
    "osr_seed_sum": (
        """
        def calculate_sum(n):
            total = 0
            for i in range(1, n + 1):
                total += i
            return total
        print(calculate_sum(200_000))
        """,
        {"calculate_sum": 1},
        {"calculate_sum": 1},
    ),
    "osr_while_break_continue_else": (
        """
        def search(n):
            k = 0
            hits = 0
            while k < n:
                k += 1
                if k % 3 == 0:
                    continue
                hits += k
                if hits > 10**12:
                    break
            else:
                hits = -hits
            return k, hits
        print(search(100_000))
        """,
        {"search": 1},
        {"search": 1},
    ),
    "osr_nested_loops": (
        """
        def grid(n):
            total = 0
            for i in range(n):
                for j in range(i, n, 2):
                    total += i * j
            return total
        print(grid(300))
        """,
        {"grid": 1},
        {"grid": 1},
    ),
    "osr_fixed_and_variable_steps": (
        """
        def strides(n, step):
            total = 0
            for i in range(n, -n, -3):
                for j in range(0, n, step):
                    total += i * j - step
            return total
        print(strides(400, 7), strides(401, 2))
        """,
        {"strides": 1},
        {"strides": 1},
    ),
    "osr_calls_an_instrumented_function": (
        """
        def helper(i, j):
            return 1.0 / (i + j + 1)
        def total(n):
            s = 0.0
            for i in range(n):
                for j in range(n):
                    s += helper(i, j)
            return s
        print(total(300))
        """,
        {"total": 1, "helper": 1},
        {"total": 1},
    ),
    "osr_random_calls": (
        """
        import random
        def estimate_pi(samples):
            hits = 0
            for _ in range(samples):
                x = random.random()
                y = random.random()
                if x * x + y * y <= 1.0:
                    hits += 1
            return hits
        random.seed(12345)
        print(estimate_pi(50_000), random.random())
        """,
        {"estimate_pi": 1},
        {"estimate_pi": 1},
    ),
    "osr_list_loops": (
        """
        def grow(xs):
            out = 0
            for x in xs:
                if x < 5 and len(xs) < 3000:
                    xs.append(x + 10)  # seen by the loop, natively too
                out += x
            return out, len(xs)
        def nested(rows):
            t = 0
            for row in rows:
                for v in row:
                    t += v
            return t
        print(grow(list(range(2000))))
        print(nested([[i, i + 1, i * 2] for i in range(5000)]))
        """,
        {"grow": 1, "nested": 1},
        {"grow": 1, "nested": 1},
    ),
    "osr_list_loop_deoptimizes_on_a_surprise": (
        """
        def scale(xs, out):
            for x in xs:
                out.append(x * 2.0)  # an effect: a later surprise resumes here, exactly
            return len(out)
        out = []
        data = [float(i) for i in range(3000)] + [4, 5.5]
        print(scale(data, out), out[-3:])
        """,
        {"scale": 1},
        {"scale": 1},
    ),
    "shared_code_other_globals": (
        """
        import builtins
        import types
        K = 1
        def g(x):
            return x + K
        def total(n):
            s = 0
            for i in range(n):
                s += K
            return s
        print(g(1), total(5000))
        ns = {"K": 100, "__builtins__": builtins}
        h = types.FunctionType(g.__code__, ns)  # g's code and slot, other globals
        other = types.FunctionType(total.__code__, ns)
        print(h(1), other(5000), g(2), total(10))
        """,
        {"g": 1, "total": 1},
        {"total": 1},
    ),
    "osr_int_overflows_mid_loop": (
        """
        def grow(n):
            x = 1
            for i in range(n):
                x = x * 3 + i
            return x
        print(grow(100))
        """,
        {},
        {},
    ),
}


def _dedent(source: str) -> str:
    return textwrap.dedent(source).lstrip()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_native_run_matches_python(name, tmp_path, spawn):
    source, native, osr = SCRIPTS[name]
    (tmp_path / "main.py").write_text(_dedent(source))
    expected = spawn([sys.executable, "main.py"], tmp_path)
    report = tmp_path / "report.json"
    got = spawn(
        [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
        + ["main.py"],
        tmp_path,
    )
    assert got.stdout == expected.stdout
    assert got.returncode == expected.returncode
    assert got.stderr.strip().splitlines()[-1:] == expected.stderr.strip().splitlines()[-1:]
    document = json.loads(report.read_text())
    assert document["first_native_call_ms"] > 0
    records = {f["qualname"]: f for f in document["functions"]}
    for qualname, least in native.items():
        rec = records[qualname]
        assert rec["status"] == "compiled", rec
        assert rec["native_calls"] >= least, rec
    for qualname, least in osr.items():
        assert records[qualname]["osr_entries"] >= least, records[qualname]


def test_traceback_of_native_exception_points_at_user_line(tmp_path, spawn):
    (tmp_path / "main.py").write_text(
        _dedent(
            """
            import math
            def f(x):
                return math.sqrt(x)
            print(f(4.0))
            f(-1.0)
            """
        )
    )
    expected = spawn([sys.executable, "main.py"], tmp_path)
    got = spawn([sys.executable, "-m", "pyfast", "--threshold", "1", "main.py"], tmp_path)
    assert got.stderr == expected.stderr
    assert "ValueError: math domain error" in got.stderr


def test_module_level_loop_is_reported_unsupported(tmp_path, spawn):
    (tmp_path / "main.py").write_text(
        "total = 0\nfor i in range(1000):\n    total += i\nprint(total)\n"
    )
    report = tmp_path / "report.json"
    got = spawn(
        [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
        + ["main.py"],
        tmp_path,
    )
    assert got.stdout == "499500\n"
    (rec,) = [f for f in json.loads(report.read_text())["functions"] if f["qualname"] == "<module>"]
    assert rec["status"] == "unsupported" and "module level" in rec["reason"]


LITTLE_WORK = """
def scale(x):
    return x * 0.5 + 1.0

def poly(x):
    return ((x * 0.5 + 1.0) * x - 2.0) * x + 3.0

total = 0.0
for i in range(50):
    total += scale(float(i)) + poly(float(i))
print(total)
"""


def test_a_function_with_too_little_work_stays_interpreted(tmp_path, spawn):
    """Called from the interpreter, ``x * 0.5 + 1.0`` costs less than a call of native code:
    past ``--threshold 1`` it is left alone, with the reason in the report."""
    (tmp_path / "main.py").write_text(LITTLE_WORK)
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "pyfast", "--threshold", "5", "--report-json", str(report)]
    got = spawn([*argv, "main.py"], tmp_path)
    assert got.stdout == spawn([sys.executable, "main.py"], tmp_path).stdout, got.stderr
    rows = {f["qualname"]: f for f in json.loads(report.read_text())["functions"]}
    assert rows["scale"]["status"] == "unsupported"
    assert rows["scale"]["reason"].startswith("too little work for native code to gain")
    assert "too little work" not in (rows["poly"]["reason"] or "")


#: Refusals raised inside the compiler (at the 3rd call, and for an OSR entry), then a loop
#: compiled: a caller's local dies with its frame, and collecting finds python's garbage.
REFUSED = """
import gc, sys, weakref


class Big:
    pass


def refused():
    return sys.maxsize  # reads a module: the compiler refuses it


def loop_refused(n):
    t = 0
    for i in range(n):
        t += sys.maxsize % (i + 2)
    return t


def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def caller():
    big = Big()
    for _ in range(3):
        refused()
    loop_refused(50)
    return weakref.ref(big)


gc.collect()
dead = caller()() is None
print(dead, work(100), gc.collect())
"""


def test_compiling_and_refusing_leave_the_program_no_garbage(tmp_path, spawn):
    """The compiler's exception, raised from a frame that holds it, formed a cycle through its
    traceback: the probe's callers' frames, and ``big``, lived on as garbage; and the objects
    of instrumenting and compiling (bytecode's graphs, the IR, llvmlite's modules) were left
    for the program's own collections.  CPython's test_gc counts them."""
    (tmp_path / "main.py").write_text(REFUSED)
    expected = spawn([sys.executable, "main.py"], tmp_path).stdout
    assert expected == "True 197 0\n"
    for threshold in ("1", "3", "1"):  # the last one with the instrumented script cached
        argv = [sys.executable, "-m", "pyfast", "--threshold", threshold, "main.py"]
        got = spawn(argv, tmp_path)
        assert got.stdout == expected, (threshold, got.stderr)


#: A function whose loop compiles (shared by the scripts below).
WORK = """
def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s
"""

FORKED = (
    """
import os, sys, threading, time
from pyfast.hook import runtime
"""
    + WORK
    + """
def other(n):
    t = 0
    for i in range(n):
        t += i % 5
    return t

def profile(name):
    return next((f for f in runtime.functions if f.name == "__main__." + name), None)

def status(name):
    return getattr(profile(name), "status", "cold")

def until_compiled(func):
    deadline = time.time() + 30
    while (status(func.__name__) != "compiled" or runtime._busy) and time.time() < deadline:
        func(100)
        time.sleep(0.01)
    return status(func.__name__)

print("parent", until_compiled(work), flush=True)
if os.fork() == 0:
    print("child", until_compiled(other), other(1000), flush=True)
    os._exit(0)
os.wait()
running = threading.Event()
release = threading.Event()
runtime.background(lambda: running.set() or release.wait())
running.wait()
if os.fork() == 0:
    for _ in range(20):
        other(10)
    print("busy child", status("other"), profile("other").reason, flush=True)
    os._exit(0)
os.wait()
release.set()
"""
)


def test_a_forked_child_compiles_with_its_own_compiler_thread(tmp_path, spawn):
    """A child forked after a compilation starts its own compiler thread (the parent's queue
    has no thread there); one forked while the parent compiled compiles nothing, as LLVM's
    locks may be held (before: its compilations never ran, or could wait forever)."""
    (tmp_path / "main.py").write_text(FORKED)
    got = spawn([sys.executable, "-m", "pyfast", "--threshold", "5", "main.py"], tmp_path)
    assert got.stdout.splitlines() == [
        "parent compiled",
        "child compiled 2000",
        "busy child cold not compiled in a process forked while pyfast was compiling",
    ], got.stderr


THREADS_SEEN = (
    """
import _thread, threading, time
from pyfast.hook import runtime
"""
    + WORK
    + """
before = _thread._count()
deadline = time.time() + 30
while time.time() < deadline and not (
    any(f.status == "compiled" for f in runtime.functions) and _thread._count() == before
):
    work(100)
    time.sleep(0.01)
names = [t.name for t in threading.enumerate()]
print(runtime.functions[0].status, _thread._count() - before, names)
"""
)


def test_the_compiler_thread_is_gone_between_compilations(tmp_path, spawn):
    """Programs that count threads (CPython's test suite does after every test) see python's
    count once the compilations are done; ``threading.enumerate()`` never shows the thread."""
    (tmp_path / "main.py").write_text(THREADS_SEEN)
    got = spawn([sys.executable, "-m", "pyfast", "--threshold", "5", "main.py"], tmp_path)
    assert got.stdout == "compiled 0 ['MainThread']\n", got.stderr


C_API_TRACER = """
import collections, ctypes, sys
def f(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
def g(n):
    t = 0.0
    for i in range(n):
        t += i / 2
    return t
for _ in range(20):
    f(10)
g(1000)
TRACEFUNC = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.c_int, ctypes.c_void_p
)
events = collections.Counter()
def trace(obj, frame, what, arg):
    if frame.f_code.co_name in ("f", "g"):
        events[frame.f_code.co_name, what, frame.f_lineno] += 1
    return 0
trace_c = TRACEFUNC(trace)
set_trace = ctypes.pythonapi.PyEval_SetTrace
set_trace.argtypes = (TRACEFUNC, ctypes.py_object)
set_trace(trace_c, None)
results = [f(5) for _ in range(30)], g(100)
set_trace(ctypes.cast(None, TRACEFUNC), None)
print(results)
print(sorted(events.items()))
"""


def test_tracer_set_through_the_c_api_sees_every_call_and_line(python_and_pyfast):
    """A tracer set with ``PyEval_SetTrace`` (as coverage's C tracer is) goes around the
    Python-level guard: the native entries find it in the thread state, native code is not
    entered while it is set, and it sees python's calls and line events exactly."""
    got, records = python_and_pyfast(C_API_TRACER)
    assert "(('f', 0, 3), 30)" in got.stdout  # the 30 calls made under the tracer
    assert records["f"]["native_calls"] == 20  # the calls before the tracer, none under it
    assert records["g"]["native_calls"] == 1  # its OSR entry before the tracer


SHIPPED_BY_VALUE = """
import pickle, subprocess, sys, types
def g(x):
    total = 0
    for i in range(x):
        total += i
    return total
def h(x):
    return x + 1
if __name__ == "__main__":
    print(g(10), g(10), h(1), h(1))
    print(types.FunctionType(h.__code__, {"__builtins__": {}})(5))  # restricted builtins
    # What cloudpickle does with a function of the main script: its code pickled field by
    # field, rebuilt from them in another process (here python, without pyfast).
    names = ["co_code", "co_consts", "co_names", "co_varnames", "co_argcount", "co_flags"]
    names += ["co_nlocals", "co_stacksize", "co_linetable", "co_exceptiontable", "co_name"]
    fields = pickle.dumps({name: getattr(g.__code__, name) for name in names})
    child = (
        "import pickle, sys, types; fields = pickle.loads(sys.stdin.buffer.read())"
        "; code = (lambda: None).__code__.replace(**fields)"
        "; print(types.FunctionType(code, {'__builtins__': __builtins__})(100))"
    )
    done = subprocess.run([sys.executable, "-c", child], input=fields, capture_output=True)
    print(done.stdout.decode(), done.stderr.decode()[-200:])
"""


def test_probes_need_no_builtins_and_pickle_inert(tmp_path, spawn):
    """A probe reads no global and no builtin, and its slot pickles as an inert stand-in: an
    instrumented function runs with restricted builtins, and its code, shipped by value to a
    process without pyfast (cloudpickle: joblib, dask, ray), runs there as python's."""
    (tmp_path / "main.py").write_text(_dedent(SHIPPED_BY_VALUE))
    expected = spawn([sys.executable, "main.py"], tmp_path)
    got = spawn([sys.executable, "-m", "pyfast", "--threshold", "1", "main.py"], tmp_path)
    assert (got.stdout, got.returncode) == (expected.stdout, expected.returncode)
    assert "4950" in got.stdout


CRUNCH_LOOP = """
def crunch(n):
    s = 0.0
    for i in range(n):
        s += (i % 7) * 0.5
    return s
"""
CRUNCH_RECURSION = """
def crunch(n):
    if n < 2:
        return n
    return crunch(n - 1) + crunch(n - 2)
"""


@pytest.mark.parametrize(
    ("crunch", "work"),
    [(CRUNCH_LOOP, "200_000_000"), (CRUNCH_RECURSION, "40")],
    ids=["loop", "recursion"],
)
def test_other_threads_run_during_a_native_loop(crunch, work, tmp_path, spawn):
    """A native loop, or a recursion whose frames hold numbers only, lets other threads run
    now and then, as the interpreter does: a ticker thread keeps ticking while ``crunch``
    runs (about a second of native work)."""
    (tmp_path / "main.py").write_text(
        _dedent(crunch)
        + _dedent(
            f"""
            import threading, time
            ticks = []
            done = False
            def ticker():
                while not done:
                    ticks.append(time.perf_counter())
                    time.sleep(0.001)
            crunch(10)  # compiles crunch: the next call is native from its start
            thread = threading.Thread(target=ticker)
            thread.start()
            start = time.perf_counter()
            crunch({work})
            end = time.perf_counter()
            done = True
            thread.join()
            print(sum(start < t < end for t in ticks) > 10)
            """
        )
    )
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "pyfast", "--threshold", "1", "--report-json", str(report)]
    got = spawn([*argv, "main.py"], tmp_path)
    assert got.stdout == "True\n", got.stderr
    records = {f["qualname"]: f for f in json.loads(report.read_text())["functions"]}
    assert records["crunch"]["native_calls"] >= 2


SPIN = """
def spin(n):
    s = 0.0
    for i in range(n):
        s += i * 0.5
    return s
print(spin(10**15))
"""
RECURSE = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
print(fib(90))
"""


def _sigint_default() -> None:
    """A child started from a shell's background job inherits SIGINT ignored, and then python
    (and so pyfast) never raises KeyboardInterrupt: the test needs the usual disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("script", "options", "marker"),
    [
        (SPIN, ["--threshold", "1"], "] compiled __main__.spin(int)"),
        (SPIN, [], "] OSR entry for __main__.spin line"),
        (RECURSE, ["--threshold", "1"], "] compiled __main__.fib(int)"),
    ],
    ids=["compiled-call", "osr-entry", "recursion"],
)
def test_ctrl_c_stops_a_native_loop(script, options, marker, tmp_path, clean_env):
    """SIGINT during a native loop or recursion (days of work left): KeyboardInterrupt, and
    the process ends as python's does (killed by SIGINT).  Without the back-edge poll (the
    count of a recursion's calls) it never ends."""
    (tmp_path / "main.py").write_text(_dedent(script))
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "pyfast", "-v", "--report-json", str(report), *options]
    proc = subprocess.Popen(
        [*argv, "main.py"],
        cwd=tmp_path,
        env=clean_env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_default,
    )
    try:
        lines = []
        while not any(marker in line for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        time.sleep(0.3)  # the running call is in native code by now
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[1]
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGINT
    assert rest.rstrip().endswith("KeyboardInterrupt"), rest
    assert json.loads(report.read_text())["functions"][0]["status"] == "compiled"
