"""The compilation driver: the stages of ``pyfast.compiler`` run in order.

In: a function (its original code), the exact argument types of one call signature, and the
hook's ``fallback``/``miss`` objects (see ``api``).
Out: ``prepare`` -> ``PreparedFunction`` (front end: ``build`` decodes and types the
bytecode, ``lower`` emits LLVM IR text; pure Python, under the GIL) and
``PreparedFunction.finish()`` -> ``CompiledFunction`` (``runtime.jit`` optimises and emits
machine code, ``runtime.entry`` makes the METH_FASTCALL builtin; LLVM runs outside the GIL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import CodeType, FunctionType

from pyfast.compiler import records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyfast.compiler.runtime.resume import ResumePoint


@records.node
class CompiledFunction:
    """Native code for one (function, signature) pair, kept alive as long as ``entry`` is.

    ``ir_text`` is the typed SSA IR of the function and of every function compiled into the
    same module (``--dump``); ``llvm_ir`` the optimised LLVM IR (when asked for); ``cached``
    whether the machine code came from the cache; ``counters()`` returns
    ``{"native_calls": n, "bailouts": m}``; ``functions`` names every function in the unit;
    ``resume_points`` are its deoptimization sites (``deopts()`` counts them by reason).
    """

    entry: Callable[..., object]
    signature: tuple[type, ...]
    compile_ms: float
    ir_text: str = ""
    llvm_ir: str = ""
    counters: Callable[[], dict[str, int]] = dict
    functions: tuple[str, ...] = ()
    resume_points: tuple[ResumePoint, ...] = ()
    cached: bool = False

    def deopts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for point in self.resume_points:
            if point.count:
                counts[point.reason] = counts.get(point.reason, 0) + point.count
        return counts


@records.node
class PreparedFunction:
    """A compilation half done, like a translation unit preprocessed and parsed but not yet
    run through the back end: the LLVM IR text and its entry spec, built under the GIL
    (pure Python).  ``finish()`` gets the resume codes of its deoptimization sites
    (``deopt.ResumeCode.make``), runs LLVM (optimise, emit; ctypes releases the GIL there, so it
    suits a background thread) and returns the ``CompiledFunction``.  LLVM is first loaded
    by ``load_backend``."""

    llvm_ir: str
    spec: object
    signature: tuple[type, ...]
    qualname: str
    fallback: Callable[..., object]
    miss: object
    on_bail: Callable[[], object] | None
    on_tracer: Callable[[], object] | None
    ir_text: str
    functions: tuple[str, ...]
    front_ms: float

    def load_backend(self, cache: str | None) -> bool:
        """Get ``finish(cache=cache)`` ready for a background thread: unless the machine code is
        in the cache, import LLVM now (``jit.start_llvm``).  Return whether it is in the cache:
        ``finish`` then takes milliseconds, no LLVM, so the caller runs it at once."""
        from pyfast.compiler.runtime import jit

        if jit.cached(self.llvm_ir, cache):
            return True
        jit.start_llvm()
        return False

    def finish(self, *, cache: str | None = None, keep_ir: bool = False) -> CompiledFunction:
        """``cache``: the machine-code cache folder (``runtime.codecache``) to load the code
        from or store it in; ``keep_ir``: run LLVM even on a cached module, to keep its
        optimised IR (``llvm_ir``)."""
        from pyfast.compiler.runtime import entry, jit, resume

        start = time.perf_counter()
        points = tuple(p for p in self.spec.slots.values() if isinstance(p, resume.ResumePoint))
        for maker in dict.fromkeys(point.maker for point in points):
            maker.make(cache)
        library = jit.compile_module(self.llvm_ir, cache=cache, keep_ir=keep_ir)
        native, counters = entry.make_builtin(
            library,
            self.spec,
            fallback=self.fallback,
            miss=self.miss,
            qualname=self.qualname,
            on_bail=self.on_bail,
            on_tracer=self.on_tracer,
        )
        return CompiledFunction(
            entry=native,
            signature=self.signature,
            compile_ms=self.front_ms + (time.perf_counter() - start) * 1000,
            ir_text=self.ir_text,
            llvm_ir=library.llvm_ir,
            cached=library.cached,
            counters=counters,
            functions=self.functions,
            resume_points=points,
        )


def prepare(
    func: FunctionType,
    signature: tuple[type, ...],
    *,
    fallback: Callable[..., object],
    miss: object,
    code_of: Callable[[FunctionType], CodeType] | None = None,
    deopt: Callable[[str], None] | None = None,
    sample: tuple | None = None,
    on_bail: Callable[[], object] | None = None,
    from_probe: bool = False,
    on_tracer: Callable[[], object] | None = None,
    min_work: int = 0,
    entered_once: bool = False,
) -> PreparedFunction:
    """Run the front end (decode, build, infer, lower to LLVM IR text) for ``func``;
    ``deopt(reason)`` hears the deoptimizations of the compiled code; ``sample`` (arguments
    of one call of ``signature``) gives its lists' speculated item types; ``from_probe``: the
    entry is called by the probe of a function with ``func``'s code, and checks that the
    function's globals are ``func``'s (``entry.add_entry``'s ``caller_globals``); a function
    without loops or native calls that holds fewer than ``min_work`` operations
    (``ir.FunctionIR.straight_work``) raises ``Unsupported``: called from the interpreter,
    its native code would cost more than it saves; ``entered_once``: the entry runs once per
    call of the continuation it starts (an OSR entry), see ``entry.add_entry``.  Callers run
    it in a ``garbage.Contained`` block (``api.prepare_function`` does)."""
    from pyfast.compiler import build, lower
    from pyfast.compiler import llir as ll
    from pyfast.compiler.api import Unsupported
    from pyfast.compiler.types import FROM_PY, of_value

    start = time.perf_counter()
    original = func.__code__
    if sample is not None and tuple(map(type, sample)) == signature:
        types = tuple(map(of_value, sample))
    else:
        types = tuple(FROM_PY[t] for t in signature)  # api checked them
    others = code_of or (lambda g: g.__code__)
    unit, fir = build.build_unit(func, types, lambda g: original if g is func else others(g))
    work = fir.straight_work()
    if work is not None and work < min_work:
        raise Unsupported(
            f"too little work for native code to gain (no loop; operations: {work}): a"
            " call from the interpreter would cost more; compiled callers call it natively",
            original.co_firstlineno,
        )
    module = ll.Module(name=fir.symbol)
    caller_globals = func.__globals__ if from_probe else None
    spec = lower.lower_unit(module, unit, fir, deopt, caller_globals, entered_once)
    llvm_ir = str(module)
    return PreparedFunction(
        llvm_ir=llvm_ir,
        spec=spec,
        signature=signature,
        qualname=func.__qualname__,
        fallback=fallback,
        miss=miss,
        on_bail=on_bail,
        on_tracer=on_tracer,
        ir_text=lower.format_unit(unit),
        functions=tuple(f.name for f in unit.functions.values()),
        front_ms=(time.perf_counter() - start) * 1000,
    )
