"""The LLVM engine.

In: an ``llvmlite.ir.Module`` (made by ``new_module``) holding native bodies and entry thunks.
Out: a ``NativeLibrary``: the module verified, optimised at O3 (new pass manager) for the host
CPU, compiled to machine code and kept alive; ``address(symbol)`` gives a function's or
global's address.  C-API and libm symbols the code references are registered once per process.
"""

from __future__ import annotations

from llvmlite import ir


class NativeLibrary:
    """Machine code for one module; keeps its execution engine alive."""

    llvm_ir: str

    def address(self, symbol: str) -> int:
        raise NotImplementedError


def new_module(name: str) -> ir.Module:
    raise NotImplementedError


def compile_module(module: ir.Module) -> NativeLibrary:
    raise NotImplementedError
