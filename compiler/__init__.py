"""pyfast.compiler: hot, type-stable Python functions -> native code.

Pipeline, one module per stage (each module's docstring says what goes in and out):

    decode  (bytecode of one function -> basic blocks of version-neutral instructions)
    build   (blocks + argument types -> typed SSA IR, by abstract interpretation of the stack)
    infer   (type inference over locals; reject with a reason what cannot be typed exactly)
    lower   (IR -> LLVM IR text, built with llir: the part of llvmlite.ir's API it uses)
    pipeline (the stages in order: prepare -> LLVM IR text, finish -> native builtin)
    runtime (LLVM engine, C-API symbols, boxing, guards, METH_FASTCALL entry thunks,
             resume points)

    osr     (continuations: the rest of a running call from a hot loop header)
    deopt   (which bails resume the interpreter mid-function; one resume code per function)

The hook talks to the compiler only through the names exported here.  ``prescreen`` must
stay cheap and must never import llvmlite: the hook calls it on every function of every
instrumented module at import time.  ``compile_function`` may be called from a background
thread.
"""

from __future__ import annotations

from pyfast.compiler.api import Unsupported, compile_function, prescreen

__all__ = ["CompiledFunction", "Unsupported", "compile_function", "prescreen"]


def __getattr__(name: str) -> object:
    """``CompiledFunction`` on first use (see ``api.__getattr__``)."""
    if name == "CompiledFunction":
        from pyfast.compiler import api

        return api.CompiledFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
