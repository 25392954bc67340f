"""Native loops and the rest of the process: ``pyfast.poll``, what a loop's poll calls.

In: an LLVM module (``define_helper``; ``jit`` compiles the helper once per process and only
declares it in the modules that call it).
Out: ``i32 pyfast.poll(ptr released, i1 may_release)``, the interpreter's eval breaker on a
small scale.  With ``may_release`` (the caller holds no object it does not own, at call depth
0), it releases the GIL for a moment -- ``PyEval_SaveThread`` then ``PyEval_RestoreThread`` --
if the calling call last did so ``RELEASE_NS`` or more ago (``*released``, in nanoseconds of
``CLOCK_MONOTONIC``; 0 at the call's start).  Then it runs the signal handlers and returns
what ``PyErr_CheckSignals`` returns (-1: a handler raised).

Why two switch intervals: a thread waiting for the GIL asks its holder to drop it only after
one whole interval (``sys.getswitchinterval()``) in which nobody took the GIL.  A holder that
released it more often would take it straight back each time, and the waiting thread would
never ask: it would never run.
"""

from __future__ import annotations

import sys

from pyfast.compiler import llir as ir
from pyfast.compiler.runtime import capi

HELPER = "pyfast.poll"
TYPE = ir.FunctionType(ir.IntType(32), [ir.PointerType(), ir.IntType(1)])
#: How long a native loop keeps the GIL at most, in nanoseconds: two of the program's switch
#: intervals, read at import (the hook imports the compiler in the program's thread, never in
#: its compiler thread, which lowers the interval while it works).
RELEASE_NS = int(2 * sys.getswitchinterval() * 1e9)

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


def declare(module: ir.Module) -> ir.Function:
    existing = module.globals.get(HELPER)
    if existing is not None:
        return existing
    return ir.Function(module, TYPE, HELPER)


def define_helper(module: ir.Module) -> None:
    """Define ``pyfast.poll`` in ``module``."""
    fn = ir.Function(module, TYPE, HELPER)
    fn.attributes.add("noinline")
    fn.attributes.add("cold")
    released, may_release = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    timespec = b.alloca(ir.ArrayType(_I64, 2), name="timespec")
    with b.if_then(may_release):
        b.call(capi.libc(module, "clock_gettime"), [_I32(capi.CLOCK_MONOTONIC), timespec])
        seconds, nanoseconds = (
            b.load(b.gep(timespec, [_I64(0), _I64(k)]), typ=_I64) for k in (0, 1)
        )
        now = b.add(b.mul(seconds, _I64(10**9)), nanoseconds)
        due = b.icmp_signed(">=", b.sub(now, b.load(released, typ=_I64)), _I64(RELEASE_NS))
        with b.if_then(due):
            b.store(now, released)
            saved = b.call(capi.function(module, "PyEval_SaveThread"), [])
            b.call(capi.function(module, "PyEval_RestoreThread"), [saved])
    b.ret(b.call(capi.function(module, "PyErr_CheckSignals"), []))
