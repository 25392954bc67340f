"""The loader of LLVM's objects and the machine-code cache (compiler/runtime/loader.py,
codecache.py, jit.py), in-process and through ``pyfast`` runs."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyfast.compiler import api
from pyfast.compiler.runtime import codecache, jit, llvmc, loader

#: A module using every kind of place the loader fills: a far call (libm, through a stub), a
#: C-API data symbol (through the GOT), a double constant (read-only data), a writable global
#: (``.bss``) and a jump table.
MODULE = r"""
declare double @sqrt(double)
@PyFloat_Type = external global i8
@calls = global i64 0

define double @root(double %x) {
  %c = load i64, ptr @calls
  %c1 = add i64 %c, 1
  store i64 %c1, ptr @calls
  %r = call double @sqrt(double %x)
  %s = fadd double %r, 0.125
  ret double %s
}

define ptr @float_type() {
  ret ptr @PyFloat_Type
}

define i64 @pick(i64 %k) {
entry:
  switch i64 %k, label %other [i64 0, label %a
                               i64 1, label %b
                               i64 2, label %c
                               i64 3, label %d
                               i64 4, label %e]
a: ret i64 10
b: ret i64 11
c: ret i64 12
d: ret i64 13
e: ret i64 14
other: ret i64 -1
}
"""


def _function(library: jit.NativeLibrary, name: str, restype, *argtypes):
    return ctypes.CFUNCTYPE(restype, *argtypes)(library.address(name))


def test_loaded_code_runs_with_every_relocation_kind() -> None:
    library = jit.compile_module(MODULE)
    root = _function(library, "root", ctypes.c_double, ctypes.c_double)
    assert root(2.0) == 2.0**0.5 + 0.125
    root(9.0)
    assert ctypes.c_int64.from_address(library.address("calls")).value == 2
    float_type = _function(library, "float_type", ctypes.c_void_p)
    assert float_type() == id(float)
    pick = _function(library, "pick", ctypes.c_int64, ctypes.c_int64)
    assert [pick(k) for k in range(-1, 6)] == [-1, 10, 11, 12, 13, 14, -1]
    assert not library.cached and library.llvm_ir == ""
    assert "@root" in jit.compile_module(MODULE, keep_ir=True).llvm_ir


def test_llvmc_makes_the_bytes_llvmlite_binding_makes() -> None:
    """The C functions called without ``llvmlite.binding`` compile exactly as it does."""
    if not llvmc.available():
        pytest.skip("llvmc does not know this llvmlite")
    prepared = api.prepare_function(fib, (int,), fallback=fib, miss=object())
    ours, theirs = llvmc.Backend(), jit._Binding()
    for source in (MODULE, prepared.llvm_ir):
        for level in (0, 3):
            assert ours.emit(source, True, level) == theirs.emit(source, True, level)


def test_warm_up_is_called_once_the_cheap_checks_pass(monkeypatch) -> None:
    """The hook's compiler thread starts LLVM's side while the front end runs: only for a
    function that passed the checks made without the front end."""
    from pyfast.compiler import pipeline

    events: list[str] = []
    front_end = pipeline.prepare
    monkeypatch.setattr(
        pipeline, "prepare", lambda *a, **k: events.append("front end") or front_end(*a, **k)
    )
    warm = lambda: events.append("warm up")  # noqa: E731
    with pytest.raises(api.Unsupported):
        api.prepare_function(fib, (str,), fallback=fib, miss=None, warm_up=warm)
    assert events == []
    api.prepare_function(fib, (int,), fallback=fib, miss=None, warm_up=warm)
    assert events == ["warm up", "front end"]


HELPERS_BESIDE = """
import threading
from pyfast.compiler import compile_function
from pyfast.compiler.runtime import jit

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

helpers = threading.Thread(target=jit.compile_helpers, args=(None,))
helpers.start()
print(compile_function(fib, (int,), fallback=fib, miss=None).entry(20))
helpers.join()
print(len(jit._helpers))
"""


def test_helpers_compiled_by_another_thread_meanwhile(tmp_path) -> None:
    """The hook's warm-up: ``compile_helpers`` on one thread while another compiles a unit
    that calls them (one backend, one symbol table, the helpers compiled once)."""
    command = [sys.executable, "-c", HELPERS_BESIDE]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.splitlines() == ["6765", "1"]


def test_open_library_loads_through_libc_and_fails_like_cdll(tmp_path) -> None:
    """``llvmc.open_library``: the library ``CDLL`` gives, once libc's ``dlopen`` (a foreign
    call, outside the GIL) has loaded it; a missing file raises ``CDLL``'s ``OSError``."""
    import llvmlite

    path = os.path.join(os.path.dirname(llvmlite.__file__), "binding", "libllvmlite.so")
    assert llvmc.open_library(path).LLVMPY_GetProcessTriple
    with pytest.raises(OSError):
        llvmc.open_library(str(tmp_path / "missing.so"))


@pytest.mark.parametrize("known", [True, False])
def test_invalid_ir_raises_with_either_backend(monkeypatch, known: bool) -> None:
    monkeypatch.setattr(llvmc, "VERSIONS", llvmc.VERSIONS if known else frozenset())
    jit._backend.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="expected"):
            jit.compile_module("define i64 @f( {\n")
        with pytest.raises(RuntimeError):  # parses, but a block without a terminator
            jit.compile_module("define i64 @f() {\nentry:\n  %x = add i64 1, 2\n}\n")
        library = jit.compile_module(MODULE)  # kept: its pages go with it
        assert _function(library, "root", ctypes.c_double, ctypes.c_double)(4.0) == 2.125
    finally:
        jit._backend.cache_clear()


def _mapped(address: int) -> bool:
    for line in Path("/proc/self/maps").read_text().splitlines():
        start, end = (int(part, 16) for part in line.split()[0].split("-"))
        if start <= address < end:
            return True
    return False


def test_pages_are_code_then_data_and_unmapped_with_the_library() -> None:
    library = jit.compile_module(MODULE)
    code, data = library.address("root"), library.address("calls")
    permissions = {}
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, perms = line.split()[:2]
        start, end = (int(part, 16) for part in span.split("-"))
        for name, address in (("code", code), ("data", data)):
            if start <= address < end:
                permissions[name] = perms[:3]
    assert permissions == {"code": "r-x", "data": "rw-"}
    del library
    assert not _mapped(code) and not _mapped(data)


def test_a_call_beyond_2_gib_goes_through_a_stub() -> None:
    """C-API symbols are usually within reach of a 32-bit call; one placed 1 TiB away is not:
    the call and the address taken must still reach it (jump stub, GOT slot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int)
    libc.mmap.argtypes += (ctypes.c_int, ctypes.c_long)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    here = id(object) & ~0xFFF
    hint = (here + 2**40) if here < 2**46 else (here - 2**40)
    far = libc.mmap(hint, 4096, 3, 0x22, -1, 0)  # RW, MAP_PRIVATE | MAP_ANONYMOUS
    assert far not in (None, ctypes.c_void_p(-1).value)
    ctypes.memmove(far, b"\x48\xc7\xc0\x2a\x00\x00\x00\xc3", 8)  # mov rax, 42; ret
    assert libc.mprotect(far, 4096, 5) == 0  # read, execute
    source = (
        "declare i64 @far_answer()\n"
        "define i64 @answer() {\n  %r = call i64 @far_answer()\n  ret i64 %r\n}\n"
        "define ptr @where() {\n  ret ptr @far_answer\n}\n"
    )
    data, _ = jit._emit(source, keep_ir=False)
    library = loader.load(data, {"far_answer": far}.__getitem__)
    assert abs(library.address("answer") - far) >= 2**31
    assert _function(library, "answer", ctypes.c_int64)() == 42
    assert _function(library, "where", ctypes.c_void_p)() == far


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an object", "not a little-endian ELF64 object"),
        (b"\x7fELF\x02\x01\x01" + bytes(57), "not an x86-64 relocatable object"),
    ],
)
def test_bad_objects_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(loader.LoadError, match=message):
        loader.load(data, lambda name: 0)


def test_a_truncated_object_is_refused() -> None:
    data, _ = jit._emit(MODULE, keep_ir=False)
    for size in (64, len(data) // 2, len(data) - 8):
        with pytest.raises(loader.LoadError):
            loader.load(data[:size], jit._resolve)


def test_an_unknown_symbol_is_refused() -> None:
    with pytest.raises(loader.LoadError, match="undefined symbol 'pyfast_no_such_symbol'"):
        jit.compile_module(
            "declare void @pyfast_no_such_symbol()\n"
            "define void @f() {\n  call void @pyfast_no_such_symbol()\n  ret void\n}\n"
        )


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def test_cache_round_trip_and_damage(tmp_path: Path) -> None:
    def build(**options):
        prepared = api.prepare_function(fib, (int,), fallback=fib, miss=object())
        return prepared, prepared.finish(**options)

    prepared, first = build(cache=str(tmp_path))
    assert not first.cached and prepared.load_backend(str(tmp_path))
    key = codecache.key(prepared.llvm_ir)
    second = build(cache=str(tmp_path))[1]
    assert second.cached and second.entry(20) == 6765
    assert build(cache=str(tmp_path), keep_ir=True)[1].llvm_ir  # --dump runs LLVM again
    stored = tmp_path / f"{key}.o"
    damaged = bytearray(stored.read_bytes())
    damaged[-1] ^= 1
    stored.write_bytes(bytes(damaged))
    assert codecache.read(str(tmp_path), key) is None
    third = build(cache=str(tmp_path))[1]  # recompiled and stored again
    assert not third.cached and third.entry(20) == 6765
    assert codecache.read(str(tmp_path), key) is not None


def test_the_cache_keeps_its_most_recently_used_objects(tmp_path, monkeypatch) -> None:
    folder = str(tmp_path)
    data = bytes(1000)
    monkeypatch.setattr(codecache, "MAX_BYTES", 4 * 1100)
    for k in range(4):
        codecache.write(folder, f"k{k}", data)
        os.utime(tmp_path / f"k{k}.o", (1000 + k, 1000 + k))  # k0 is the least recent
    stale = tmp_path / "k9.o.123-4.tmp"
    stale.write_bytes(b"left by a killed process")
    os.utime(stale, (0, 0))
    assert codecache.read(folder, "k0") == data  # used now: the most recent
    codecache.write(folder, "k4", data)  # 5 objects: past the limit
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["k0.o", "k3.o", "k4.o"]  # under 3/4 of the limit, oldest removed first
    codecache.trim(str(tmp_path / "missing"))  # no folder: nothing to do, no error


def test_a_cache_that_cannot_be_touched_still_hits(tmp_path, monkeypatch) -> None:
    codecache.write(str(tmp_path), "k", b"object")

    def refuse(*args: object) -> None:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(os, "utime", refuse)
    assert codecache.read(str(tmp_path), "k") == b"object"


def test_an_unwritable_cache_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    prepared = api.prepare_function(fib, (int,), fallback=fib, miss=object())
    compiled = prepared.finish(cache=str(blocker / "machine-code"))
    assert compiled.entry(15) == 610 and not compiled.cached


def test_ir_and_so_the_key_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """The key is the IR's: two processes (different hash seeds) make the same IR."""
    script = textwrap.dedent(
        """
        import math
        from pyfast.compiler import api
        from pyfast.compiler.runtime import codecache

        LIMIT = 10.0

        def advance(bodies, steps, dt):
            for _ in range(steps):
                for i, (p, v, m) in enumerate(bodies):
                    for q, w, n in bodies[i + 1 :]:
                        d = math.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2)
                        mag = dt / (d * d * d) if d < LIMIT else 0.0
                        v[0] -= (p[0] - q[0]) * n * mag
                        w[1] += (p[1] - q[1]) * m * mag
            return bodies

        bodies = [([0.0, 1.0], [0.5, 0.0], 2.0), ([1.0, 0.0], [0.0, 0.5], 3.0)]
        p = api.prepare_function(
            advance, (list, int, float), fallback=advance, miss=object(), sample=(bodies, 1, 0.1)
        )
        print(codecache.key(p.llvm_ir))
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,  # not the checkout, whose pyfast/ folder would shadow the install
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
        )
        for seed in ("1", "2", "3")
    ]
    assert [run.returncode for run in runs] == [0, 0, 0], runs[0].stderr
    assert len({run.stdout for run in runs}) == 1


PROGRAM = """
import sys

def calculate_sum(n):
    total = 0
    for i in range(1, n + 1):
        total += i
    return total

def scale(x):
    return x * 2.5 + 1

print(calculate_sum(100_000), [scale(float(i)) for i in range(3)])
print("llvmlite.binding" in sys.modules)
"""


def test_a_second_run_loads_the_code_without_llvm(tmp_path: Path, spawn, pyfast_cmds) -> None:
    (tmp_path / "main.py").write_text(PROGRAM)
    expected = "5000050000 [1.0, 3.5, 6.0]"
    cache = tmp_path / "cache"
    argv = [*pyfast_cmds[0], "--threshold", "1", "--verbose", "--cache-dir", str(cache), "main.py"]
    first = spawn(argv, tmp_path)
    binding = str(not llvmc.available())  # llvmc compiles without llvmlite.binding
    assert first.stdout.splitlines() == [expected, binding], first.stderr
    assert "from the cache" not in first.stderr
    second = spawn(argv, tmp_path)
    assert second.stdout.splitlines() == [expected, "False"], second.stderr
    assert "OSR entry for __main__.calculate_sum line 6 ready (machine code from the cache)" in (
        second.stderr
    )
    assert "compiled __main__.scale(float) in" in second.stderr
    assert "(machine code from the cache)" in second.stderr.split("compiled __main__.scale")[1]
    assert list((cache / "machine-code").glob("*.o"))


def test_no_cache_stores_no_machine_code(
    tmp_path: Path, spawn, pyfast_cmds, clean_env: dict[str, str]
) -> None:
    (tmp_path / "main.py").write_text(PROGRAM)
    env = {**clean_env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    default = tmp_path / "xdg" / "pyfast" / "machine-code"
    result = spawn([*pyfast_cmds[0], "--threshold", "1", "--no-cache", "main.py"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert not default.exists()
    assert spawn([*pyfast_cmds[0], "--threshold", "1", "main.py"], tmp_path, env).returncode == 0
    assert list(default.glob("*.o"))
