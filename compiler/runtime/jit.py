"""The LLVM engine.

In: the text of an LLVM module (``str`` of an ``llir.Module``, no triple or data layout:
this module sets the host's) holding native bodies and entry thunks, and optionally a
machine-code cache folder (``codecache``).
Out: a ``NativeLibrary``: the module verified, optimised at O3 (new pass manager) for the host
CPU, emitted as a position-independent object and placed in this process by ``loader``; kept
alive as long as the library object; ``address(symbol)`` gives a function's or global's
address.  With a cache folder, an object already there for the same IR is loaded instead,
and LLVM is neither loaded nor run.  The C-API and libm symbols of ``capi`` resolve
the objects' undefined symbols; so do the helpers that every module may call (``HELPERS``),
compiled in one module by the first compile that calls one, at O0 (``HELPERS_LEVEL``).
"""

from __future__ import annotations

import _thread
import ctypes
import functools
from collections.abc import Callable

from pyfast.compiler import llir as ir
from pyfast.compiler.runtime import capi, codecache, entry, llvmc, loader, resume, threads

_lock = _thread.allocate_lock()  # LLVM runs one module at a time
_start_lock = _thread.allocate_lock()


def start_llvm() -> llvmc.Backend | _Binding:
    """Load LLVM and make the host's target machine (``_backend``), once per process: ~20 ms
    through ``llvmc`` (mostly ``dlopen``, outside the GIL), ~70–140 ms of Python work
    through ``llvmlite.binding``.  A thread that runs it beside the busy program takes twice
    as long; callers run it in their own thread before sending a compilation to the
    background, where LLVM itself runs without the GIL."""
    with _start_lock:
        return _backend()


@functools.cache
def _backend() -> llvmc.Backend | _Binding:
    """``llvmc`` when it knows this llvmlite (and finds its library and functions), else
    ``llvmlite.binding``: the same objects either way."""
    if llvmc.available():
        try:
            return llvmc.Backend()
        except (OSError, AttributeError):  # another layout of the package: its own loader
            pass
    return _Binding()


class _Binding:
    """LLVM through ``llvmlite.binding``: what ``llvmc.Backend`` does, for other llvmlite
    versions."""

    def __init__(self) -> None:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.llvm = llvm
        self.machine = functools.cache(self._machine)

    def _machine(self, level: int):
        llvm = self.llvm
        return llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(
            cpu=llvm.get_host_cpu_name(),
            features=llvm.get_host_cpu_features().flatten(),
            opt=level,
            reloc="pic",
            codemodel="small",
        )

    def emit(self, llvm_ir: str, keep_ir: bool, level: int = 3) -> tuple[bytes, str]:
        llvm, tm = self.llvm, self.machine(level)
        mod = llvm.parse_assembly(llvm_ir)
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=level)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        return tm.emit_object(mod), str(mod) if keep_ir else ""


class NativeLibrary:
    """Machine code for one module; keeps its pages (and so the code) alive.  ``llvm_ir`` is
    the optimised LLVM IR when it was asked for; ``cached`` says the code came from the
    machine-code cache."""

    def __init__(self, code: loader.LoadedObject, llvm_ir: str, cached: bool) -> None:
        self._code = code
        self.llvm_ir = llvm_ir
        self.cached = cached

    def address(self, symbol: str) -> int:
        return self._code.address(symbol)


_symbols_lock = _thread.allocate_lock()


def _symbols() -> dict[str, int]:
    """Undefined symbol -> address: the tables of ``capi`` first, more as objects need them
    (one dict, though the helpers may be loaded by another thread)."""
    with _symbols_lock:
        return _symbol_table()


@functools.cache
def _symbol_table() -> dict[str, int]:
    return capi.addresses()


def _resolve(name: str) -> int:
    """The address of an object's undefined symbol: the tables of ``capi``, the helpers, or
    (for LLVM's own library calls, ``memset`` and the like) the process's symbols."""
    symbols = _symbols()
    if name not in symbols:
        if name.startswith("pyfast.numpy."):
            symbols.update(capi.numpy_addresses())
        else:
            try:
                function = getattr(ctypes.CDLL(None), name)
            except AttributeError:
                raise KeyError(name) from None
            symbols[name] = ctypes.cast(function, ctypes.c_void_p).value
    return symbols[name]


#: The functions every compiled module may call (symbol -> what defines it in a module):
#: compiled together, once per process.
HELPERS: dict[str, Callable[[ir.Module], None]] = {
    resume.HELPER: resume.define_helper,
    threads.HELPER: threads.define_helper,
    **entry.HELPERS,
}
#: The helpers' optimisation level: they are glue around C-API calls, and O3 with its
#: instruction selector took ~25 ms of a process's first compilation for nothing measurable.
HELPERS_LEVEL = 0
_helpers: list[NativeLibrary] = []  # their library, kept for the process
_helpers_lock = _thread.allocate_lock()


@functools.cache
def helpers_ir() -> str:
    """The LLVM IR of the helpers, made once per process by the thread that first asks: the
    hook asks from the program's thread, inside its ``garbage.Contained`` block, so that
    ``llir``'s cyclic objects are collected there and the compiler thread only runs
    LLVM."""
    module = ir.Module(name="pyfast.helpers")
    for define in HELPERS.values():
        define(module)
    return str(module)


def compile_helpers(cache: str | None) -> None:
    """Compile the helpers (``HELPERS``), or load them from the machine-code cache folder
    ``cache``, unless done: a job for the compiler thread while the front end of the process's
    first compilation runs (in the cache: milliseconds; else LLVM's start and its O0
    compilation, ~30 ms, mostly without the GIL)."""
    _require_loader()
    with _helpers_lock:
        if not _helpers:
            library = _compile(helpers_ir(), cache, keep_ir=False, level=HELPERS_LEVEL)
            _symbols().update((symbol, library.address(symbol)) for symbol in HELPERS)
            _helpers.append(library)


def compile_module(
    llvm_ir: str, *, cache: str | None = None, keep_ir: bool = False
) -> NativeLibrary:
    """Verify, optimise (O3) and compile the module ``llvm_ir`` for the host, or load its
    object from the machine-code cache folder ``cache``; raise on invalid IR, and
    ``loader.LoadError`` where this process cannot run the code.  ``keep_ir`` compiles
    (never loads) and keeps the optimised IR as ``llvm_ir``."""
    _require_loader()
    if not _helpers and any(symbol in llvm_ir for symbol in HELPERS):
        compile_helpers(cache)
    return _compile(llvm_ir, cache, keep_ir)


def _require_loader() -> None:
    if not loader.supported():
        raise loader.LoadError("native code needs Linux on x86-64")


def cached(llvm_ir: str, cache: str | None) -> bool:
    """Whether ``compile_module(llvm_ir, cache=cache)`` finds its object in the cache (and so
    takes milliseconds, without LLVM)."""
    key = _key(llvm_ir, cache)
    return key is not None and codecache.exists(cache, key)


def _key(llvm_ir: str, cache: str | None) -> str | None:
    return codecache.key(llvm_ir) if cache else None


def _compile(llvm_ir: str, cache: str | None, keep_ir: bool, level: int = 3) -> NativeLibrary:
    key = _key(llvm_ir, cache)
    data = codecache.read(cache, key) if key and not keep_ir else None
    cached = data is not None
    optimised = ""
    if data is None:
        data, optimised = _emit(llvm_ir, keep_ir, level)
        if key:
            codecache.write(cache, key, data)
    return NativeLibrary(loader.load(data, _resolve), optimised, cached)


def _emit(llvm_ir: str, keep_ir: bool, level: int = 3) -> tuple[bytes, str]:
    """The object LLVM makes of ``llvm_ir`` at ``level``, and the optimised IR (if
    ``keep_ir``)."""
    backend = start_llvm()
    with _lock:
        return backend.emit(llvm_ir, keep_ir, level)
