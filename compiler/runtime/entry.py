"""METH_FASTCALL entry thunks: guards, unboxing, the native body call, boxing.

In: a native body (``i32 body(ptr out, ptr obj_out, params..., global values...)``; status
0 = result at ``out``, 1 = bail, 2 = a Python exception is set (KeyboardInterrupt from a signal
poll, or raised by the interpreter after a deoptimization), 3 = the call deoptimized and the
interpreter's result is a new reference at ``obj_out``), its
parameter and result ``Type``s and the globals it depends on.
Out: ``add_entry`` adds the thunk ``PyObject *name(PyObject *self, PyObject *const *args,
Py_ssize_t nargs)`` to the module; after ``jit.compile_module``, ``make_builtin`` turns it into a
real builtin function plus a counters callable.

The thunk returns ``miss`` while a tracer or profiler is set on the running thread (read in
the thread state, so one set through the C API counts too: debuggers, coverage and profilers
see every call as under python), and, for a body that makes native calls, when fewer than
``MAX_NATIVE_DEPTH`` Python frames are left before ``RecursionError`` (so that a recursion
python refuses is refused: the interpreter runs it); ``fallback(*args)`` when nargs, an
argument's exact type (an int must also fit in 64 bits) or a guard does not match; ``miss``
when the body bails; NULL (the exception propagates) on status 2; the object at ``obj_out`` on
status 3; else the boxed result.
On a bail it first calls the ``on_bail`` callback, if one was given (the hook counts them).
The Python objects it uses live in pinned slots (``objects``); the builtin's ``__self__`` is a
small holder that keeps them, the library (engine and machine code) and the PyMethodDef alive.
"""

from __future__ import annotations

import ctypes
import sys
import types
from collections.abc import Callable, Sequence

from pyfast.compiler import llir as ir
from pyfast.compiler import records
from pyfast.compiler.runtime import boxing, capi, objects
from pyfast.compiler.types import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    NP_BOOL,
    NP_F32,
    NP_F64,
    NP_I32,
    NP_I64,
    OBJECT,
    ArrayType,
    ListType,
    LocalListType,
    RType,
    TupleType,
    Type,
)

TYPE_CHECKING = False  # ``typing`` costs ~8 ms of imports
if TYPE_CHECKING:
    from pyfast.compiler.runtime.jit import NativeLibrary

_PTR = ir.PointerType()
#: The deepest a native call chain goes (C stack safety): a call past it bails, and the
#: interpreter recurses (and raises ``RecursionError`` where Python would).
MAX_NATIVE_DEPTH = 200
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_I1 = ir.IntType(1)
_I8 = ir.IntType(8)
_METH_FASTCALL = 0x0080
_THUNK = ir.FunctionType(_PTR, [_PTR, _PTR, _I64])


@records.value
class GlobalValue:
    """A global read by the body; its current value is passed as an extra body argument.

    Looked up like LOAD_GLOBAL (namespace, then builtins); missing or not exactly ``type`` ->
    guard failure (fallback)."""

    namespace: dict
    name: str
    builtins: dict | None
    type: RType


@records.value
class GlobalIdentity:
    """A global that must still be the very same object ``expect``."""

    namespace: dict
    name: str
    builtins: dict | None
    expect: object


Guard = GlobalValue | GlobalIdentity


class _Role:
    """Stands in a slot for an object only ``make_builtin`` knows."""

    def __init__(self, name: str) -> None:
        self.name = name


_FALLBACK = _Role("fallback")
_MISS = _Role("miss")
_ON_BAIL = _Role("on bail")
_ON_TRACER = _Role("on tracer")
_OPTIONAL = (_ON_BAIL, _ON_TRACER)  # a NULL slot: no call


@records.node
class EntrySpec:
    """What ``make_builtin`` needs about a thunk added by ``add_entry``.

    ``slots`` maps slot symbols to the object they must hold; ``_FALLBACK`` and ``_MISS``
    stand for the objects given to ``make_builtin``."""

    name: str
    params: tuple[Type, ...]
    result: Type
    guards: tuple[Guard, ...]
    slots: dict[str, object]
    counters: dict[str, str]


def llvm_type(t: Type) -> ir.Type:
    """The native representation of a value of type ``t`` (the body ABI)."""
    if isinstance(t, TupleType):
        return ir.LiteralStructType([llvm_type(item) for item in t.items])
    if isinstance(t, ListType):
        return _PTR
    if isinstance(t, LocalListType):
        return ir.LiteralStructType([_PTR, _I64])
    if isinstance(t, ArrayType):
        return array_type(t)
    return _LLVM[t]


def array_type(t: ArrayType) -> ir.LiteralStructType:
    """An array unboxed once, at entry: (object, data, dims..., strides..., writeable) --
    its geometry cannot change while native code runs, so accesses need no loads of it."""
    return ir.LiteralStructType([_PTR, _PTR, *[_I64] * (2 * t.ndim), _I1])


_LLVM: dict[RType, ir.Type] = {
    INT: _I64,
    FLOAT: ir.DoubleType(),
    BOOL: _I1,
    NONE: _I1,
    OBJECT: _PTR,
    NP_F64: ir.DoubleType(),
    NP_F32: ir.FloatType(),
    NP_I64: _I64,
    NP_I32: _I64,  # the value of an int32: arithmetic checks the range
    NP_BOOL: _I1,
}


class _Thunk:
    """Emits one thunk (or, given ``fnty``, another function that checks guards); ``fail`` is
    the block a failed check goes to: the thunk calls the fallback there."""

    def __init__(self, module: ir.Module, name: str, fnty: ir.FunctionType = _THUNK) -> None:
        self.module = module
        self.name = name
        self.fn = ir.Function(module, fnty, name)
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.fail = self.fn.append_basic_block("fallback")
        self.slots: dict[str, object] = {}

    def api(self, name: str, *args: ir.Value) -> ir.Value:
        return self.b.call(capi.function(self.module, name), args)

    def slot(self, obj: object) -> ir.Value:
        symbol = f"{self.name}.slot{len(self.slots)}"
        self.slots[symbol] = obj
        return self.b.load(objects.slot(self.module, symbol), typ=_PTR)

    def tracing(self, state: ir.Value) -> ir.Value:
        """True when a tracer or profiler is set on the thread whose state is ``state``, by
        any means."""
        at = capi.trace_fields()
        funcs = [
            self.b.ptrtoint(
                self.b.load(self.b.gep(state, [_I64(at + k)], source_etype=_I8), typ=_PTR), _I64
            )
            for k in (0, 8)
        ]
        return self.b.icmp_unsigned("!=", self.b.or_(*funcs), _I64(0))

    def shallow(self, state: ir.Value) -> ir.Value:
        """True when the thread whose state is ``state`` cannot take ``MAX_NATIVE_DEPTH`` more
        Python frames before ``RecursionError``."""
        at = self.b.gep(state, [_I64(capi.recursion_field())], source_etype=_I8)
        left = self.b.load(at, typ=_I32)
        return self.b.icmp_signed("<=", left, _I32(MAX_NATIVE_DEPTH))

    def check(self, cond: ir.Value, label: str) -> None:
        """Continue in a new block when ``cond``, else go to the fallback."""
        ok = self.fn.append_basic_block(label)
        self.b.cbranch(cond, ok, self.fail)
        self.b.position_at_end(ok)

    def unbox(self, t: Type, obj: ir.Value, overflow: ir.Value) -> ir.Value:
        """An argument or global: exactly ``t`` (a list's items are checked when read)."""
        return boxing.unbox(self.b, t, obj, self.check, overflow)

    def guards(self, guards: Sequence[Guard], overflow: ir.Value) -> list[ir.Value]:
        """Check every guard; the native values of the ``GlobalValue`` ones, in order."""
        values = []
        for guard in guards:
            found = self.lookup(guard)
            if isinstance(guard, GlobalValue):
                values.append(self.unbox(guard.type, found, overflow))
            else:
                self.check(self.b.icmp_unsigned("==", found, self.slot(guard.expect)), "identity")
        return values

    def lookup(self, guard: Guard) -> ir.Value:
        """LOAD_GLOBAL: borrowed reference or fallback (``pyfast.global``)."""
        key = self.slot(sys.intern(guard.name))
        namespace = self.slot(guard.namespace)
        builtins = self.slot(guard.builtins) if guard.builtins is not None else _PTR(None)
        lookup = _declare(self.module, LOOKUP, _LOOKUP_TYPE)
        found = self.b.call(lookup, [namespace, builtins, key])
        self.check(self.b.icmp_unsigned("!=", found, _PTR(None)), "found")
        return found

    def box(self, t: Type, value: ir.Value) -> ir.Value:
        """A new reference to the boxed ``value``; the thunk returns NULL when boxing fails."""
        return boxing.box(self.b, t, value, lambda: self.b.ret(_PTR(None)))

    def bump(self, counter: ir.GlobalVariable) -> None:
        self.b.store(self.b.add(self.b.load(counter, typ=_I64), _I64(1)), counter)


def add_entry(
    module: ir.Module,
    body: ir.Function,
    params: Sequence[Type],
    result: Type,
    guards: Sequence[Guard],
    name: str,
    caller_globals: dict | None = None,
    entered_once: bool = False,
    calls: bool = False,
) -> EntrySpec:
    """Add the METH_FASTCALL thunk ``name`` that guards, unboxes, calls ``body`` and boxes.
    ``calls``: the body makes native calls, each as deep as a Python frame.
    With ``caller_globals``, the thunk also falls back unless the running Python frame (the
    probe's: its function's) has those globals: functions that share one code object (and
    so one slot) but not their globals must not run each other's native code.
    ``entered_once``: the thunk runs once per call of what ``body`` continues (an OSR
    entry), so it is left unoptimised (``optnone``; ``body`` keeps its own code, at O3):
    O3 on the thunk's guards and boxing was ~30% of an OSR unit's LLVM time, for nothing."""
    t = _Thunk(module, name)
    if entered_once:
        t.fn.attributes.add("noinline")
        t.fn.attributes.add("optnone")
    b = t.b
    _, args, nargs = t.fn.args
    out = b.alloca(llvm_type(result), name="out")
    obj_out = b.alloca(_PTR, name="obj_out")
    overflow = b.alloca(_I32, name="overflow")
    missed = _declare(module, MISSED, _MISSED_TYPE)
    state = t.api("PyThreadState_Get")
    with b.if_then(t.tracing(state), likely=False):
        b.ret(b.call(missed, [t.slot(_ON_TRACER), t.slot(_MISS)]))
    if calls:
        with b.if_then(t.shallow(state), likely=False):
            b.ret(b.call(missed, [_PTR(None), t.slot(_MISS)]))
    if caller_globals is not None:
        running = t.api("PyEval_GetGlobals")
        t.check(b.icmp_unsigned("==", running, t.slot(caller_globals)), "caller_globals")
    t.check(b.icmp_signed("==", nargs, _I64(len(params))), "nargs")
    values = []
    for i, param in enumerate(params):
        arg = b.load(b.gep(args, [_I64(i)], source_etype=_PTR), typ=_PTR)
        values.append(t.unbox(param, arg, overflow))
    values += t.guards(guards, overflow)
    counters = {"native_calls": f"{name}.native_calls", "bailouts": f"{name}.bailouts"}
    native_calls, bailouts = (objects.counter(module, s) for s in counters.values())
    status = b.call(body, [out, obj_out, *values])
    with b.if_then(b.icmp_signed("==", status, _I32(STATUS_ERROR)), likely=False):
        b.ret(_PTR(None))
    with b.if_then(b.icmp_signed("==", status, _I32(STATUS_RESUMED)), likely=False):
        t.bump(native_calls)
        b.ret(b.load(obj_out, typ=_PTR))
    with b.if_then(b.icmp_signed("!=", status, _I32(0)), likely=False):
        t.bump(bailouts)
        b.ret(b.call(missed, [t.slot(_ON_BAIL), t.slot(_MISS)]))
    t.bump(native_calls)
    value = b.load(out, typ=llvm_type(result))
    b.ret(value if isinstance(result, ListType) else t.box(result, value))  # a list is owned
    b.position_at_end(t.fail)
    fallback = t.slot(_FALLBACK)
    b.ret(t.api("PyObject_Vectorcall", fallback, args, nargs, _PTR(None)))
    return EntrySpec(name, tuple(params), result, tuple(guards), t.slots, counters)


def add_guards_changed(
    module: ir.Module, guards: Sequence[Guard], name: str
) -> tuple[ir.Function, dict[str, object]]:
    """Add ``i1 name(<the GlobalValue guards' native values>)``: true unless every guard still
    holds with those very values (a global rebound by another thread or a signal handler
    while native code ran); and the slots it needs pinned.  Internal and cold: native loops
    call it now and then."""
    value_types = [llvm_type(g.type) for g in guards if isinstance(g, GlobalValue)]
    t = _Thunk(module, name, ir.FunctionType(_I1, value_types))
    t.fn.linkage = "internal"
    t.fn.attributes.add("noinline")
    t.fn.attributes.add("cold")
    b = t.b
    overflow = b.alloca(_I32, name="overflow")
    same = _I1(1)
    for now, then in zip(t.guards(guards, overflow), t.fn.args, strict=True):
        same = b.and_(same, _equal(b, now, then))
    b.ret(b.not_(same))
    b.position_at_end(t.fail)
    b.ret(_I1(1))
    return t.fn, t.slots


def _equal(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """``x`` and ``y`` (global values: scalars) are the same, bit for bit (so ``-0.0`` is not
    ``0.0`` and a NaN is itself)."""
    if isinstance(x.type, ir.DoubleType):
        x, y = b.bitcast(x, _I64), b.bitcast(y, _I64)
    return b.icmp_unsigned("==", x, y)


LOOKUP = "pyfast.global"
_LOOKUP_TYPE = ir.FunctionType(_PTR, [_PTR, _PTR, _PTR])
MISSED = "pyfast.missed"
_MISSED_TYPE = ir.FunctionType(_PTR, [_PTR, _PTR])


def _declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, fnty, name)


def _define(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.IRBuilder:
    fn = ir.Function(module, fnty, name)
    return ir.IRBuilder(fn.append_basic_block("entry"))


def define_lookup(module: ir.Module) -> None:
    """Define ``PyObject *pyfast.global(namespace, builtins, key)`` in ``module``, one
    function for the whole process (``jit`` compiles it once): ``key`` looked up as
    LOAD_GLOBAL does, in ``namespace`` then, unless NULL, ``builtins``; a borrowed reference,
    or NULL when missing or when a lookup raised (the error is cleared)."""
    b = _define(module, LOOKUP, _LOOKUP_TYPE)
    namespace, builtins, key = b.function.args

    def api(name: str, *args: ir.Value) -> ir.Value:
        return b.call(capi.function(module, name), args)

    for dictionary, last in ((namespace, False), (builtins, True)):
        found = api("PyDict_GetItemWithError", dictionary, key)
        with b.if_then(b.icmp_unsigned("!=", found, _PTR(None))):
            b.ret(found)
        with b.if_then(b.icmp_unsigned("!=", api("PyErr_Occurred"), _PTR(None))):
            api("PyErr_Clear")
            b.ret(_PTR(None))
        if not last:
            with b.if_then(b.icmp_unsigned("==", builtins, _PTR(None))):
                b.ret(_PTR(None))
    b.ret(_PTR(None))


def define_missed(module: ir.Module) -> None:
    """Define ``PyObject *pyfast.missed(on_bail, miss)`` in ``module``, one function for
    the whole process: what a thunk returns when its body bailed, or when a tracer kept it
    from running the body -- a new reference to ``miss``, after calling ``on_bail()`` unless
    it is NULL (its result and any exception dropped).  Unoptimised (``optnone``), as it runs
    only on a bail."""
    b = _define(module, MISSED, _MISSED_TYPE)
    b.function.attributes.add("noinline")
    b.function.attributes.add("optnone")
    on_bail, miss = b.function.args

    def api(name: str, *args: ir.Value) -> ir.Value:
        return b.call(capi.function(module, name), args)

    with b.if_then(b.icmp_unsigned("!=", on_bail, _PTR(None))):
        heard = api("PyObject_CallNoArgs", on_bail)
        with b.if_then(b.icmp_unsigned("==", heard, _PTR(None)), likely=False):
            api("PyErr_Clear")
        api("Py_DecRef", heard)
    api("Py_IncRef", miss)
    b.ret(miss)


#: The helpers thunks call (symbol -> what defines it in a module): ``jit`` compiles them once.
HELPERS = {LOOKUP: define_lookup, MISSED: define_missed}


#: Body status: a Python exception is set (the thunk returns NULL).
STATUS_ERROR = 2
#: Body status: the call deoptimized; the interpreter's result is at ``obj_out``.
STATUS_RESUMED = 3


class _MethodDef(ctypes.Structure):
    _fields_ = [
        ("ml_name", ctypes.c_char_p),
        ("ml_meth", ctypes.c_void_p),
        ("ml_flags", ctypes.c_int),
        ("ml_doc", ctypes.c_char_p),
    ]


_new_cfunction = ctypes.PYFUNCTYPE(
    ctypes.py_object, ctypes.c_void_p, ctypes.py_object, ctypes.py_object
)(("PyCFunction_NewEx", ctypes.pythonapi))


def _holder(qualname: str) -> tuple[object, str]:
    """An object to be the builtin's ``__self__`` so that its ``__qualname__`` is ``qualname``
    (CPython: a module self gives ``ml_name``, else ``type(self).__qualname__ + "." +
    ml_name``); returns it and the ``ml_name`` to use."""
    prefix, _, name = qualname.rpartition(".")
    if not prefix:
        return types.ModuleType(name), name
    cls = type("pyfast_native", (), {})
    cls.__qualname__ = prefix
    return cls(), name


def make_builtin(
    lib: NativeLibrary,
    spec: EntrySpec,
    *,
    fallback: Callable,
    miss: object,
    qualname: str,
    module: str | None = None,
    on_bail: Callable[[], object] | None = None,
    on_tracer: Callable[[], object] | None = None,
) -> tuple[Callable[..., object], Callable[[], dict[str, int]]]:
    """The compiled thunk as a real builtin, and a callable reading its counters.
    ``on_bail()``, when given, is called each time the body bails (before ``miss`` is
    returned); ``on_tracer()`` likewise each time a tracer or profiler keeps the thunk from
    running the body."""
    if not callable(fallback):  # its slot would stay NULL: the thunk would call NULL
        raise TypeError(f"fallback must be callable, not {type(fallback).__name__}")
    roles = {_FALLBACK: fallback, _MISS: miss, _ON_BAIL: on_bail, _ON_TRACER: on_tracer}
    pinned = {
        symbol: roles[obj] if isinstance(obj, _Role) else obj
        for symbol, obj in spec.slots.items()
        if not isinstance(obj, _Role) or obj not in _OPTIONAL or roles[obj] is not None
    }
    objects.pin(lib, pinned)
    holder, ml_name = _holder(qualname)
    name_bytes = ml_name.encode()
    method_def = _MethodDef(name_bytes, lib.address(spec.name), _METH_FASTCALL, None)
    holder.__dict__["pyfast_keep"] = (lib, method_def, name_bytes, pinned, spec)
    builtin = _new_cfunction(ctypes.addressof(method_def), holder, module)
    addresses = {key: lib.address(symbol) for key, symbol in spec.counters.items()}

    def counters() -> dict[str, int]:
        return {key: objects.read_counter(address) for key, address in addresses.items()}

    counters.keep = lib  # the addresses are valid as long as the library lives
    return builtin, counters
