"""The compiler's one narrow interface to the hook.

Contract
--------
``prescreen(code) -> Unsupported | None``
    Static check of one code object (not its nested code objects) without importing
    llvmlite.  ``None`` means "may be compilable, instrument it"; an ``Unsupported`` value
    (not raised) carries the reason and the source line of the first construct the compiler
    can never handle.  Must be fast: it runs at import time on every function.

``compile_function(func, signature, *, fallback, miss, code_of=None, deopt=None, sample=None)``
    ``-> CompiledFunction``.
    ``func`` is the live function object (its ``__code__`` is the *original*, un-instrumented
    code; globals, defaults and closure come from it).  ``code_of(g)`` must return the original
    code of any other function ``g`` that ``func`` calls (the hook replaces ``g.__code__`` when
    it instruments ``g``); by default ``g.__code__``.  ``signature`` is a tuple of exact
    argument types, one per positional slot in ``co_varnames[:co_argcount + co_kwonlyargcount]``.
    ``deopt(reason)``, when given, is called at every deoptimization (see below).
    ``sample``, when given, is the argument tuple of one call with that signature: the item
    types of its lists become the compiled code's speculation (checked at every read).
    ``on_bail()``, when given, is called each time native code bails (returns ``miss``).
    ``on_tracer()`` (``prepare_function`` only), when given, is called when the entry finds a
    tracer or profiler set on its thread; the entry then returns ``miss`` without running
    native code, whatever set it (``sys.settrace`` or the C API: coverage's C tracer).
    Raises ``Unsupported`` when the function cannot be compiled for this signature; any other
    exception is a compiler failure that the hook reports as ``failed``.

``prepare_function(...)`` (same arguments) ``-> PreparedFunction``, then ``.finish()``
    The same compilation in two halves: the front end (Python, holds the GIL, ~10 ms) and
    LLVM (``finish``; mostly outside the GIL).  The hook runs the first where the function
    got hot and the second on its compiler thread.

``CompiledFunction.entry`` is a real builtin (METH_FASTCALL) called with those positional
values.  It returns:

- the function's result, computed natively, when every argument matches ``signature``;
- ``fallback(*args)`` when a guard fails (the hook passes its profiler callback or the
  previously compiled entry, so several signatures chain);
- ``miss`` when native code cannot finish the call exactly (int overflow past 64 bits, a
  condition that raises in Python, ...) before it changed anything visible.  The caller then
  runs the original bytecode, which is exact because nothing has happened yet;
- after a visible change (a list store or append), the interpreter's result of the rest of
  the call: native code *deoptimizes*, resuming the interpreter at the bailing instruction
  with the frame's exact state (``deopt``); an exception raised there propagates.

``CompiledFunction.deopts()`` says how often each resume point ran (``{reason: count}``).
"""

from __future__ import annotations

import builtins
import math
import opcode
import sys
from types import BuiltinMethodType, CodeType, FunctionType

from pyfast.compiler import opcodes

TYPE_CHECKING = False  # typing and collections.abc cost 8 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyfast.compiler.pipeline import CompiledFunction, PreparedFunction


class Unsupported(Exception):
    """The compiler cannot handle this function; ``reason`` and ``lineno`` say why and where."""

    def __init__(self, reason: str, lineno: int | None = None) -> None:
        super().__init__(reason if lineno is None else f"{reason} (line {lineno})")
        self.reason = reason
        self.lineno = lineno


#: ``inspect.CO_*`` values (``inspect`` itself would cost 9 ms of start-up).
_REJECTED_FLAGS = {
    0x20: "generator",
    0x80: "coroutine",
    0x200: "async generator",
    0x100: "coroutine",
    0x04: "*args parameter",
    0x08: "**kwargs parameter",
}
_OPS = opcode.opmap
_ATTRIBUTE_OPS = frozenset(_OPS[n] for n in ("LOAD_ATTR", "LOAD_METHOD") if n in _OPS)
_LOAD_METHOD = opcode.opmap.get("LOAD_METHOD")
_CONST_OPS = frozenset(opcode.opmap[n] for n in ("LOAD_CONST", "RETURN_CONST") if n in opcode.opmap)
_LOAD_GLOBAL = opcode.opmap["LOAD_GLOBAL"]
_EXTENDED_ARG = opcode.opmap["EXTENDED_ARG"]
_CACHE = opcode.opmap["CACHE"]
_INTRINSIC = opcode.opmap.get("CALL_INTRINSIC_1")
_BINARY_OP = opcode.opmap["BINARY_OP"]
_RERAISE = _OPS["RERAISE"]
#: ``MAKE_FUNCTION`` where the compiler inlines comprehensions (3.11; see ``opcodes``).
_MAKE_FUNCTION = _OPS["MAKE_FUNCTION"] if "MAKE_FUNCTION" in opcodes.TABLE else None
_CLOSURE = 0x08
_CLEANUP_OPS = frozenset(_OPS[n] for n in ("SWAP", "POP_TOP", "STORE_FAST", "CACHE"))


#: Exact argument types the compiler takes (``types.FROM_PY``, and tuples of numbers typed
#: from a sample): checked here, before the compiler is imported, so a function of other
#: types costs nothing more when it gets hot.
ARGUMENT_TYPES = frozenset({int, float, bool, type(None), list})
_TUPLE_ITEMS = frozenset({int, float, bool, type(None)})


def _numbers(value: object) -> bool:
    """A tuple of numbers, bools, None or such tuples (what a tuple argument may hold)."""
    return all(type(v) in _TUPLE_ITEMS or (type(v) is tuple and _numbers(v)) for v in value)


def _numpy(t: type, value: object) -> bool:
    """A numpy scalar or array the compiler takes (``types.ARRAY_ITEMS``: float64, float32,
    int64, int32, bool; arrays in native byte order of 1 or 2 dimensions)."""
    if t.__module__ != "numpy":
        return False
    from pyfast.compiler.types import of_value  # not at start-up: the hook needs prescreen only

    return of_value(value) is not None


def _arguments_ok(signature: tuple[type, ...], sample: tuple | None) -> bool:
    if ARGUMENT_TYPES.issuperset(signature):
        return True
    if sample is None or tuple(map(type, sample)) != signature:
        return False
    return all(
        t in ARGUMENT_TYPES or (t is tuple and _numbers(v)) or _numpy(t, v)
        for t, v in zip(signature, sample, strict=True)
    )


def cells_inlined(code: CodeType) -> bool:
    """Whether every function made in ``code`` is a comprehension ``decode`` inlines (so its
    cells are plain locals)."""
    return _MAKE_FUNCTION is not None and all(
        _const_ok(c) for c in code.co_consts if isinstance(c, CodeType)
    )


def _const_ok(value: object) -> bool:
    if isinstance(value, CodeType):  # a list comprehension, inlined (3.11)
        return (
            _MAKE_FUNCTION is not None
            and value.co_name == "<listcomp>"
            and prescreen(value, inlined=True) is None
        )
    if type(value) is tuple:
        return all(map(_const_ok, value))
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return type(value) in (float, bool, type(None))


def _describe_const(value: object) -> str:
    if isinstance(value, CodeType):  # a comprehension, lambda or nested function
        return f"nested code {value.co_name}"
    return f"constant {value!r:.40}"


def _varints(data: bytes) -> list[int]:
    """The numbers of an exception table (6-bit groups, bit 6 = more follow; bit 7 marks the
    start of an entry), as ``Objects/exception_handling_notes.txt`` describes them."""
    out, value = [], 0
    for byte in data:
        value = (value << 6) | (byte & 63)
        if not byte & 64:
            out.append(value)
            value = 0
    return out


def _cleanup_handlers(code: CodeType) -> frozenset[int] | None:
    """The offsets of the exception handlers of ``code`` when each one only restores locals and
    re-raises (the cleanup of an inlined comprehension, 3.12+); None when one does more.

    Native code never catches an exception: it bails, and the interpreter re-runs the
    instruction with the handlers in place.  Skipping such a handler in native code loses only
    the restoring of a comprehension variable in a frame the exception is leaving anyway."""
    if not code.co_exceptiontable:
        return frozenset()
    numbers = _varints(code.co_exceptiontable)
    raw = code.co_code
    offsets: set[int] = set()
    for target in {2 * t for t in numbers[2::4]}:
        offset = target
        while offset < len(raw) and raw[offset] in _CLEANUP_OPS:
            offsets.add(offset)
            offset += 2
        if offset >= len(raw) or raw[offset] != _RERAISE:
            return None
        offsets.add(offset)
    return frozenset(offsets)


def _line(code: CodeType, offset: int) -> int | None:
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return code.co_firstlineno


def _attribute(code: CodeType, op: int, arg: int) -> str:
    return code.co_names[arg if op == _LOAD_METHOD else arg >> opcodes.ATTR_NAME_SHIFT]


def prescreen(code: CodeType, *, inlined: bool = False) -> Unsupported | None:
    """Why ``code`` can never be compiled (first offending construct), or None.  ``inlined``:
    ``code`` is a 3.11 comprehension, whose free variables are its caller's cells."""
    for flag, what in _REJECTED_FLAGS.items():
        if code.co_flags & flag:
            return Unsupported(f"{what} is not compiled", code.co_firstlineno)
    if code.co_name == "<listcomp>" and not inlined:
        return Unsupported("a comprehension is compiled with its caller", code.co_firstlineno)
    if (code.co_freevars and not inlined) or (code.co_cellvars and not cells_inlined(code)):
        return Unsupported("closures (cell/free variables) are not compiled", code.co_firstlineno)
    handlers = _cleanup_handlers(code)
    if handlers is None:
        return Unsupported("try/except/with is not compiled", code.co_firstlineno)
    raw = code.co_code
    previous = None
    extended = 0
    for offset in range(0, len(raw), 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = arg << 8 if op == _EXTENDED_ARG else 0
        if op == _CACHE or op == _EXTENDED_ARG or offset in handlers:
            continue
        problem = None
        if op not in opcodes.SUPPORTED_OPCODES:
            problem = f"{opcode.opname[op]} is not compiled"
        elif (
            op in _ATTRIBUTE_OPS
            and previous != _LOAD_GLOBAL
            and _attribute(code, op, arg) not in opcodes.ATTRIBUTE_NAMES
        ):
            problem = "attribute access is compiled only for math.<name>, list.append, .shape"
        elif op in _CONST_OPS and not _const_ok(code.co_consts[arg]):
            problem = f"{_describe_const(code.co_consts[arg])} is not compiled"
        elif op == _INTRINSIC and arg not in opcodes.INTRINSIC_UNARY:
            problem = f"{opcode.opname[op]} {arg} is not compiled"
        elif op == _BINARY_OP and opcodes.BINARY_SYMBOLS[arg] == "@":
            problem = "'@' is not compiled"
        elif op == _MAKE_FUNCTION and arg & ~_CLOSURE:
            problem = "a comprehension with defaults or annotations is not compiled"
        if problem is not None:
            return Unsupported(problem, _line(code, offset))
        previous = op
    return None


def _own_code(func: FunctionType) -> CodeType:
    return func.__code__


_SCALAR_GLOBALS = (int, float, bool, type(None))


def object_call(obj: object) -> str | None:
    """The name of ``obj`` if native code may call it (``ir.CallObject``): a ``random`` method
    bound to a ``_random.Random`` (what ``random.random`` is), whose C code returns a float and
    never raises.  The program imported ``random`` if such an object exists."""
    generator = sys.modules.get("_random")
    owner = getattr(obj, "__self__", None)
    if (
        generator is not None
        and isinstance(owner, generator.Random)
        and type(obj) is BuiltinMethodType
        and obj == generator.Random.random.__get__(owner)
    ):
        return "random.random"
    return None


def _global_ok(name: str, obj: object) -> bool:
    """Whether native code can read the global ``obj`` (``build.resolve_global`` decides the
    same way, after the compiler is imported): a number, a function, ``math`` and its
    functions, a builtin the compiler knows, ``random`` and its ``object_call`` methods."""
    return (
        type(obj) in _SCALAR_GLOBALS
        or isinstance(obj, FunctionType)
        or obj is math
        or obj is sys.modules.get("random")
        or (name in opcodes.BUILTINS and getattr(builtins, name) is obj)
        or math.__dict__.get(getattr(obj, "__name__", None)) is obj
        or object_call(obj) is not None
    )


def global_problem(func: FunctionType, code: CodeType) -> Unsupported | None:
    """The first global ``code`` (or a comprehension it inlines) loads that native code cannot
    hold -- found without importing the compiler, whose front end costs ~150 ms the first
    time (object-heavy code whose functions pass ``prescreen`` would pay it for nothing)."""
    raw = code.co_code
    extended = 0
    for offset in range(0, len(raw), 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = arg << 8 if op == _EXTENDED_ARG else 0
        if op != _LOAD_GLOBAL:
            continue
        name = code.co_names[arg >> 1]
        namespace = func.__globals__ if name in func.__globals__ else func.__builtins__
        if name in namespace and not _global_ok(name, namespace[name]):
            what = type(namespace[name]).__name__
            return Unsupported(f"global {name!r} is a {what}", _line(code, offset))
    for const in code.co_consts:
        if isinstance(const, CodeType) and (problem := global_problem(func, const)):
            return problem
    return None


def prepare_function(
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
    warm_up: Callable[[], object] | None = None,
    min_work: int = 0,
    entered_once: bool = False,
) -> PreparedFunction:
    """The front half of ``compile_function``; raises ``Unsupported`` the same way;
    ``from_probe``, ``min_work`` and ``entered_once``: see ``pipeline.prepare``; ``warm_up``
    is called once the
    checks made without the front end pass, before it runs (the hook starts LLVM's side
    there: ``jit.compile_helpers`` in its compiler thread)."""
    if not _arguments_ok(signature, sample):
        names = ", ".join(t.__name__ for t in signature)
        raise Unsupported(
            f"argument types ({names}) are not compiled", func.__code__.co_firstlineno
        )
    problem = global_problem(func, (code_of or _own_code)(func))
    if problem is not None:
        raise problem
    if warm_up is not None:
        warm_up()
    from pyfast.compiler import pipeline
    from pyfast.compiler.garbage import Contained

    with Contained():  # the front end's many objects: collected here, never by the program
        return pipeline.prepare(
            func,
            signature,
            fallback=fallback,
            miss=miss,
            code_of=code_of,
            deopt=deopt,
            sample=sample,
            on_bail=on_bail,
            from_probe=from_probe,
            on_tracer=on_tracer,
            min_work=min_work,
            entered_once=entered_once,
        )


def compile_function(
    func: FunctionType,
    signature: tuple[type, ...],
    *,
    fallback: Callable[..., object],
    miss: object,
    code_of: Callable[[FunctionType], CodeType] | None = None,
    deopt: Callable[[str], None] | None = None,
    sample: tuple | None = None,
) -> CompiledFunction:
    """Compile ``func`` for ``signature`` (see the module docstring for the contract)."""
    return prepare_function(
        func,
        signature,
        fallback=fallback,
        miss=miss,
        code_of=code_of,
        deopt=deopt,
        sample=sample,
    ).finish()


def __getattr__(name: str) -> object:
    """``CompiledFunction`` and ``PreparedFunction`` live in ``pipeline``, loaded on first use
    (the hook needs only ``prescreen`` at start-up)."""
    if name in ("CompiledFunction", "PreparedFunction"):
        from pyfast.compiler import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
