"""The compiler's one narrow interface to the hook.

Contract
--------
``prescreen(code) -> Unsupported | None``
    Static check of one code object (not its nested code objects) without importing
    llvmlite.  ``None`` means "may be compilable, instrument it"; an ``Unsupported`` value
    (not raised) carries the reason and the source line of the first construct the compiler
    can never handle.  Must be fast: it runs at import time on every function.

``compile_function(func, signature, *, fallback, miss) -> CompiledFunction``
    ``func`` is the live function object (its ``__code__`` is the *original*, un-instrumented
    code; globals, defaults and closure come from it).  ``signature`` is a tuple of exact
    argument types, one per positional slot in ``co_varnames[:co_argcount + co_kwonlyargcount]``.
    Raises ``Unsupported`` when the function cannot be compiled for this signature; any other
    exception is a compiler failure that the hook reports as ``failed``.

``CompiledFunction.entry`` is a real builtin (METH_FASTCALL) called with those positional
values.  It returns:

- the function's result, computed natively, when every argument matches ``signature``;
- ``fallback(*args)`` when a guard fails (the hook passes its profiler callback or the
  previously compiled entry, so several signatures chain);
- ``miss`` when native code cannot finish the call exactly (int overflow past 64 bits, a
  condition that raises in Python, ...).  The caller then runs the original bytecode, which
  is exact because compiled bodies have no observable side effects before they bail out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import CodeType, FunctionType


class Unsupported(Exception):
    """The compiler cannot handle this function; ``reason`` and ``lineno`` say why and where."""

    def __init__(self, reason: str, lineno: int | None = None) -> None:
        super().__init__(reason if lineno is None else f"{reason} (line {lineno})")
        self.reason = reason
        self.lineno = lineno


@dataclasses.dataclass
class CompiledFunction:
    """Native code for one (function, signature) pair, kept alive as long as ``entry`` is."""

    entry: Callable[..., object]
    signature: tuple[type, ...]
    compile_ms: float
    ir_text: str = ""
    llvm_ir: str = ""
    counters: Callable[[], dict[str, int]] = dict


def prescreen(code: CodeType) -> Unsupported | None:
    return Unsupported("the native compiler is not built yet")


def compile_function(
    func: FunctionType,
    signature: tuple[type, ...],
    *,
    fallback: Callable[..., object],
    miss: object,
) -> CompiledFunction:
    raise Unsupported("the native compiler is not built yet")
