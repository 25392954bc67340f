"""Pinned Python objects and counters for native code.

In: a module, a symbol name, and (after compilation) the ``NativeLibrary`` plus the objects.
Out: ``slot`` declares a pointer-sized LLVM global that native code loads a ``PyObject *`` from;
``pin`` stores the objects' addresses into those globals once the code is compiled (the caller
keeps the objects alive as long as the code can run).  ``counter`` declares an i64 global that
native code increments and ``read_counter`` reads.  Code never embeds a runtime address.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

from pyfast.compiler import llir as ir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyfast.compiler.runtime.jit import NativeLibrary

_PTR = ir.PointerType()
_I64 = ir.IntType(64)


def _global(module: ir.Module, symbol: str, typ: ir.Type) -> ir.GlobalVariable:
    var = ir.GlobalVariable(module, typ, symbol)
    var.initializer = ir.Constant(typ, None)
    return var


def slot(module: ir.Module, symbol: str) -> ir.GlobalVariable:
    """A ``PyObject *`` slot filled by ``pin`` (null until then)."""
    return _global(module, symbol, _PTR)


def counter(module: ir.Module, symbol: str) -> ir.GlobalVariable:
    return _global(module, symbol, _I64)


def pin(lib: NativeLibrary, objects: Mapping[str, object]) -> None:
    """Write ``id(obj)`` into each slot symbol of ``lib``."""
    for symbol, obj in objects.items():
        ctypes.c_void_p.from_address(lib.address(symbol)).value = id(obj)


def read_counter(address: int) -> int:
    return ctypes.c_int64.from_address(address).value
