"""The LLVM engine.

In: the text of an LLVM module (``str`` of an ``llvmlite.ir.Module``, no triple or data layout:
this module sets the host's) holding native bodies and entry thunks.
Out: a ``NativeLibrary``: the module verified, optimised at O3 (new pass manager) for the host
CPU, compiled to machine code by its own MCJIT engine and kept alive as long as the library
object; ``address(symbol)`` gives a function's or global's address.  The C-API and libm symbols
of ``capi`` are registered once per process, on the first compile; so are the helpers that
every module may call (``HELPERS``), compiled in one module by the first compile that calls
one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import llvmlite.binding as llvm
from llvmlite import ir
from pyfast.compiler.runtime import capi, entry, resume

_lock = threading.Lock()


@functools.cache
def _host() -> tuple[llvm.Target, str, str]:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for name, address in capi.addresses().items():
        llvm.add_symbol(name, address)
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target, llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _new_target_machine() -> llvm.TargetMachine:
    """A target machine for the host CPU.  An MCJIT engine owns (and frees) its machine, so
    each engine gets a new one."""
    target, cpu, features = _host()
    return target.create_target_machine(
        cpu=cpu, features=features, opt=3, reloc="static", codemodel="jitdefault", jit=True
    )


class NativeLibrary:
    """Machine code for one module; keeps its execution engine (and so the code) alive."""

    def __init__(self, engine: llvm.ExecutionEngine, llvm_ir: str) -> None:
        self._engine = engine
        self.llvm_ir = llvm_ir

    def address(self, symbol: str) -> int:
        address = self._engine.get_function_address(symbol)
        if not address:
            address = self._engine.get_global_value_address(symbol)
        if not address:
            raise KeyError(symbol)
        return address


@functools.cache
def _numpy() -> None:
    for name, address in capi.numpy_addresses().items():
        llvm.add_symbol(name, address)


#: The functions every compiled module may call (symbol -> what defines it in a module):
#: compiled together, once per process.
HELPERS: dict[str, Callable[[ir.Module], None]] = {
    resume.HELPER: resume.define_helper,
    **entry.HELPERS,
}
_helpers: list[NativeLibrary] = []  # their library, kept for the process
_helpers_lock = threading.Lock()


def _compile_helpers() -> None:
    with _helpers_lock:
        if not _helpers:
            module = ir.Module(name="pyfast.helpers")
            for define in HELPERS.values():
                define(module)
            library = _compile(str(module))
            for symbol in HELPERS:
                llvm.add_symbol(symbol, library.address(symbol))
            _helpers.append(library)


def compile_module(llvm_ir: str) -> NativeLibrary:
    """Verify, optimise (O3) and compile the module ``llvm_ir`` for the host; raise on invalid
    IR."""
    if "pyfast.numpy." in llvm_ir:
        _numpy()
    if not _helpers and any(symbol in llvm_ir for symbol in HELPERS):
        _compile_helpers()
    return _compile(llvm_ir)


def _compile(llvm_ir: str) -> NativeLibrary:
    tm = _new_target_machine()
    with _lock:
        mod = llvm.parse_assembly(llvm_ir)
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        engine = llvm.create_mcjit_compiler(mod, tm)
        engine.finalize_object()
        return NativeLibrary(engine, str(mod))
