"""Build: neutral bytecode blocks + argument types -> typed SSA IR, for a whole compilation unit.

In: a live function object, its original code, the native types of its arguments.
Out: a ``Unit``: the ``FunctionIR`` of the function and of every function it calls (compiled
into the same LLVM module, recursion becoming a direct self call), plus the guards the entry
must check before running native code (``runtime.entry.GlobalValue`` / ``GlobalIdentity``).

Method: abstract interpretation of the value stack, one bytecode block *version* at a time
(``infer.Versions``).  Stack slots and locals hold *abstract values*: an ``ir.Value`` (a native
scalar or tuple), or a compile-time structure -- a tuple being packed/unpacked (``TupleAbs``),
a ``range`` and its iterator (``RangeAbs``/``IterAbs``, three native ints each), a list
iterator (``ListIterAbs``: the list and the next index), or a global object known by identity
(``Static``: a function, the ``math`` module, a builtin, a math function).  Structures cost
nothing at run time: ``a, b = b, a`` or ``for i in range(n)`` leave only scalar SSA values.
On an edge the native parts of the live state become block arguments.

Globals: a number is read through a ``GlobalValue`` guard (its current value is a body
argument, so rebinding is seen by the next call); a function, ``math``, a math function or a
builtin through a ``GlobalIdentity`` guard.

Frame states: at the start of every original instruction the builder snapshots its abstract
frame (``ir.FrameState``) and every op and terminator of that instruction carries it, so that
``deopt`` can resume the interpreter there.  The NULL of a call sequence is modelled
(``NULL``) because a resumed frame must hold exactly the interpreter's value stack.
"""

from __future__ import annotations

import builtins
import math
import sys
from collections import deque
from collections.abc import Callable, Iterator
from types import BuiltinFunctionType, CodeType, FunctionType

from pyfast.compiler import infer, ir, numeric, opcodes, records
from pyfast.compiler.api import Unsupported, object_call, prescreen
from pyfast.compiler.decode import INLINED, Block, Instr, decode
from pyfast.compiler.opcodes import BUILTINS
from pyfast.compiler.runtime.entry import GlobalIdentity, GlobalValue
from pyfast.compiler.types import (
    ARRAY_INDICES,
    ARRAY_ITEMS,
    BOOL,
    FLOAT,
    FROM_PY,
    INT,
    NATIVE,
    NONE,
    NUMERIC,
    ArrayType,
    ListType,
    RType,
    TupleType,
    Type,
)

#: What a call of each ``api.object_call`` name returns (always exactly this type).
OBJECT_CALLS: dict[str, RType] = {"random.random": FLOAT}

#: Operands ``tuple_contains`` compares.
_PLAIN_NUMBERS = frozenset({INT, FLOAT, BOOL})
#: Builtins of one list argument that ``ir.ListReduce`` computes.
_REDUCTIONS = frozenset({"sum", "min", "max"})
#: Global values read natively (a global list could be rebound and freed during the call).
_SCALAR_GLOBALS = frozenset({int, float, bool, type(None)})
#: Code flags of functions that cannot be called natively (``CO_VARARGS``, ``CO_VARKEYWORDS``:
#: ``inspect``'s, which costs ~8 ms of imports).
_VARARGS = 0x04 | 0x08


@records.value
class TupleAbs:
    """A tuple known item by item (``BUILD_TUPLE``), never materialised unless returned."""

    items: tuple[object, ...]


@records.value
class RangeAbs:
    """``range(start, stop, step)``, three native ints; the step is known to be nonzero."""

    start: ir.Value
    stop: ir.Value
    step: ir.Value


@records.value
class IterAbs:
    """An iterator over a range: the next value ``index``, ``stop`` and ``step``."""

    index: ir.Value
    stop: ir.Value
    step: ir.Value


@records.value
class ListIterAbs:
    """An iterator over a list (or a tuple whose items have one type): the sequence and the
    index of the next item (a list iterator re-reads the length at every step, so appends
    during the loop are seen)."""

    list: ir.Value
    index: ir.Value


@records.value
class ListRevIterAbs:
    """``reversed(list)`` (or of a tuple, as ``ListIterAbs``): the sequence and the index of
    the next item (counting down; like CPython's reverse iterator it stops when the index
    leaves the list's current length)."""

    list: ir.Value
    index: ir.Value


@records.value
class EnumerateAbs:
    """``enumerate(inner, count)``: another iterator and the next count."""

    inner: object
    count: ir.Value


@records.value
class ZipAbs:
    """``zip(*iterators)``: stops when the first of them is exhausted."""

    iterators: tuple[object, ...]


#: The iterator structures ``for`` can run (see ``FunctionBuilder.more``/``step``).
ITERATORS = (IterAbs, ListIterAbs, ListRevIterAbs, EnumerateAbs, ZipAbs)


@records.value
class SliceAbs:
    """``slice(start, stop, step)`` about to index a list (``None`` parts are constants)."""

    start: ir.Value
    stop: ir.Value
    step: ir.Value | None = None


@records.value
class Static:
    """A global object known at compile time (its identity is guarded)."""

    kind: str  # "function" | "module" | "builtin" | "math" | "method" | "object"
    name: str
    obj: object


@records.value
class Marker:
    """``UNBOUND`` (a local not assigned yet), ``PLACEHOLDER`` (see ``opcodes``) or ``NULL``
    (the NULL of a call sequence)."""

    name: str


UNBOUND = Marker("unbound")
PLACEHOLDER = Marker("placeholder")
NULL = Marker("null")
MARKERS = {m.name: m for m in (UNBOUND, PLACEHOLDER, NULL)}


def shape(value: object) -> infer.Shape:
    """What block versioning distinguishes about an abstract value."""
    if isinstance(value, ir.Value):
        return value.type
    if isinstance(value, TupleAbs):
        return ("tuple", *map(shape, value.items))
    if isinstance(value, Static):
        return ("static", value.kind, value.name, value.obj)
    if isinstance(value, Marker):
        return (value.name,)
    if isinstance(value, ListIterAbs | ListRevIterAbs):
        return (type(value).__name__, value.list.type)
    if isinstance(value, EnumerateAbs):
        return ("EnumerateAbs", shape(value.inner))
    if isinstance(value, ZipAbs):
        return ("ZipAbs", *map(shape, value.iterators))
    return (type(value).__name__,)


def flatten(value: object) -> list[ir.Value]:
    """The native values an abstract value carries across an edge."""
    if isinstance(value, ir.Value):
        return [value]
    if isinstance(value, TupleAbs):
        return [v for item in value.items for v in flatten(item)]
    if isinstance(value, RangeAbs | IterAbs):
        return [value.start if isinstance(value, RangeAbs) else value.index, value.stop, value.step]
    if isinstance(value, ListIterAbs | ListRevIterAbs):
        return [value.list, value.index]
    if isinstance(value, EnumerateAbs):
        return [*flatten(value.inner), value.count]
    if isinstance(value, ZipAbs):
        return [v for it in value.iterators for v in flatten(it)]
    return []


def rebuild(s: infer.Shape, params: Iterator[ir.Value]) -> object:
    """The abstract value of shape ``s`` whose native parts are the next ``params``."""
    if isinstance(s, NATIVE):
        return next(params)
    kind = s[0]
    if kind == "tuple":
        return TupleAbs(tuple(rebuild(item, params) for item in s[1:]))
    if kind == "static":
        return Static(*s[1:])
    if kind in ("RangeAbs", "IterAbs"):
        cls = RangeAbs if kind == "RangeAbs" else IterAbs
        return cls(next(params), next(params), next(params))
    if kind in ("ListIterAbs", "ListRevIterAbs"):
        cls = ListIterAbs if kind == "ListIterAbs" else ListRevIterAbs
        return cls(next(params), next(params))
    if kind == "EnumerateAbs":
        inner = rebuild(s[1], params)
        return EnumerateAbs(inner, next(params))
    if kind == "ZipAbs":
        return ZipAbs(tuple(rebuild(item, params) for item in s[1:]))
    return MARKERS[kind]


class Unit:
    """All functions compiled into one LLVM module, and the guards of its entry."""

    def __init__(self, code_of: Callable[[FunctionType], CodeType]) -> None:
        self.code_of = code_of
        self.functions: dict[tuple[FunctionType, tuple[Type, ...]], ir.FunctionIR] = {}
        self.guards: list[GlobalValue | GlobalIdentity] = []
        self.globals: list[GlobalValue] = []
        self._guard_index: dict[tuple[int, str], object] = {}
        self._assumed: dict[ir.FunctionIR, set[Type]] = {}

    def global_value(
        self, namespace: dict, name: str, builtins_: dict | None, t: RType
    ) -> ir.Value:
        key = (id(namespace), name)
        if key not in self._guard_index:
            guard = GlobalValue(namespace, name, builtins_, t)
            self._guard_index[key] = ir.GlobalParam(len(self.globals), name, t)
            self.guards.append(guard)
            self.globals.append(guard)
        return self._guard_index[key]

    def identity(self, namespace: dict, name: str, builtins_: dict | None, obj: object) -> None:
        key = (id(namespace), name)
        if key not in self._guard_index:
            self._guard_index[key] = obj
            self.guards.append(GlobalIdentity(namespace, name, builtins_, obj))

    def function(self, func: FunctionType, types: tuple[Type, ...], lineno: int) -> ir.FunctionIR:
        """The IR of ``func`` for ``types``, built on first use (recursion: the same object)."""
        key = (func, types)
        fir = self.functions.get(key)
        if fir is not None:
            if fir in self._assumed:
                if fir.return_type is None:
                    raise NeedReturnType(fir)
                self._assumed[fir].add(fir.return_type)
            return fir
        code = self.code_of(func)
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if code.co_flags & _VARARGS or len(names) != len(types):
            raise Unsupported(f"call of {func.__qualname__} does not pass every parameter", lineno)
        reason = prescreen(code)
        if reason is not None:
            where = f"{func.__qualname__}, line {reason.lineno}"
            raise Unsupported(
                f"calls a function that is not compilable ({where}: {reason.reason})", lineno
            )
        name = f"{func.__qualname__}.{len(self.functions)}"
        symbol = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
        params = [ir.Param(i, n, t) for i, (n, t) in enumerate(zip(names, types, strict=True))]
        fir = ir.FunctionIR(func.__qualname__, symbol, params)
        self.functions[key] = fir
        try:
            self._settle(func, code, fir, lineno)
        except BaseException:
            del self.functions[key]
            self._assumed.pop(fir, None)
            raise
        return fir

    def _settle(self, func: FunctionType, code: CodeType, fir: ir.FunctionIR, lineno: int) -> None:
        """Build ``fir`` until the return type its recursive calls assumed is the real one."""
        count = len(self.functions)
        for _ in range(3):
            self._assumed[fir] = set()
            FunctionBuilder(self, func, code, fir).run()
            assumed = self._assumed.pop(fir)
            if assumed <= {fir.return_type}:
                return
            if len(self.functions) != count:
                raise Unsupported("mutual recursion with unsettled return types", lineno)
            fir.blocks = []
        raise Unsupported("the return type of a recursive call does not settle", lineno)


class NeedReturnType(Exception):
    """A call of a function still being built whose return type is not known yet: the block
    is retried after the other queued blocks (which may reach a ``return``)."""


@records.node
class _Frame:
    """The abstract state while interpreting one block version."""

    locals: dict[str, object]
    stack: list[object]
    block: ir.BasicBlock


class FunctionBuilder:
    """Abstract interpretation of one function for one signature into ``fir``."""

    def __init__(self, unit: Unit, func: FunctionType, code: CodeType, fir: ir.FunctionIR) -> None:
        self.unit = unit
        self.func = func
        self.fir = fir
        self.blocks: list[Block] = decode(code)
        self.versions = infer.Versions()
        self.version_block: dict[tuple[int, infer.TypeState], ir.BasicBlock] = {}
        self.queue: deque[tuple[int, infer.TypeState, ir.BasicBlock]] = deque()
        self.returns: list[tuple[ir.BasicBlock, ir.Return]] = []
        self.frame: _Frame
        self.lineno = code.co_firstlineno
        self.state: ir.FrameState | None = None

    # -- driver ---------------------------------------------------------------------------

    def run(self) -> None:
        entry = self.fir.new_block(None)
        self.frame = _Frame({p.name: p for p in self.fir.params}, [], entry)
        entry.terminator = self.edge(0, self.frame.stack)
        deferred = 0
        while self.queue:
            item = origin, state, block = self.queue.popleft()
            params = iter(block.params)
            local_values = {name: rebuild(s, params) for name, s in state.locals}
            stack = [rebuild(s, params) for s in state.stack]
            self.frame = _Frame(local_values, stack, block)
            try:
                self.interpret(self.blocks[origin])
            except NeedReturnType:
                block.ops.clear()
                self.queue.append(item)
                deferred += 1
                if deferred > len(self.queue):
                    raise
                continue
            deferred = 0
        self.finish_returns()

    def interpret(self, block: Block) -> None:
        for instr in block.instrs:
            self.lineno = instr.lineno
            if self.state is None or self.state.site != instr.site or instr.site == INLINED:
                self.state = self.snapshot(instr.site, instr.name, self.frame.stack)
            if HANDLERS[instr.op](self, instr) is False:
                self.state = None
                return
        self.state = None
        self.frame.block.terminator = self.edge(block.next, self.frame.stack)

    def finish_returns(self) -> None:
        if not self.returns:
            raise Unsupported("no path of the function returns without raising", self.lineno)
        chosen = infer.choose_return_type([ret.value.type for _, ret in self.returns])
        for block, ret in self.returns:
            if not infer.returns_as(ret.value.type, chosen):
                reason = f"returns {ret.value.type}, compiled for {chosen}"
                block.terminator = ir.Bail(reason, ret.lineno, ret.state)
        self.fir.return_type = chosen

    # -- helpers --------------------------------------------------------------------------

    def snapshot(self, site: int, name: str, stack: list[object]) -> ir.FrameState:
        """The frame at the start of instruction ``site`` with ``stack``."""
        bound = tuple((n, v) for n, v in sorted(self.frame.locals.items()) if v is not UNBOUND)
        return ir.FrameState(site, name, bound, tuple(stack))

    def emit(self, op: ir.Op) -> ir.Op:
        op.lineno = self.lineno
        op.state = self.state
        self.frame.block.ops.append(op)
        return op

    def const(self, value: object) -> ir.Const:
        return ir.Const(value, ir.const_type(value), self.lineno)

    def pop(self, n: int = 1) -> list[object]:
        stack = self.frame.stack
        values = stack[len(stack) - n :]
        del stack[len(stack) - n :]
        return values

    def end(self, terminator: ir.Terminator) -> bool:
        terminator.lineno = self.lineno
        terminator.state = self.state
        self.frame.block.terminator = terminator
        return False

    def edge(self, origin: int, stack: list[object]) -> ir.Jump:
        """The jump to the version of block ``origin`` for the current locals and ``stack``."""
        target = self.blocks[origin]
        names = sorted(target.live_in)
        local_values = [self.frame.locals.get(name, UNBOUND) for name in names]
        state = infer.TypeState(
            tuple((name, shape(v)) for name, v in zip(names, local_values, strict=True)),
            tuple(shape(v) for v in stack),
        )
        args = tuple(v for value in local_values + list(stack) for v in flatten(value))
        key = (origin, state)
        if self.versions.add(origin, state, self.lineno):
            block = self.fir.new_block(origin)
            block.params = [ir.BlockParam(i, v.type) for i, v in enumerate(args)]
            self.version_block[key] = block
            self.queue.append((origin, state, block))
        return ir.Jump(self.version_block[key], args, self.lineno)

    def branch(self, cond: ir.Value, if_true: Callable[[], ir.Jump], if_false) -> bool:
        """End the block on ``cond``; a constant condition follows only the taken edge."""
        if isinstance(cond, ir.Const):
            return self.end((if_true if cond.value else if_false)())
        return self.end(ir.Branch(cond, if_true(), if_false()))

    def scalar(self, value: object, what: str) -> ir.Value:
        if not isinstance(value, ir.Value):
            raise Unsupported(f"{what} of {_describe(value)}", self.lineno)
        return value

    def truth(self, value: object) -> ir.Value:
        """``bool(value)`` as a native bool (constant when the type decides it)."""
        if isinstance(value, ir.Const):
            return self.const(bool(value.value))
        if isinstance(value, ir.Value):
            if isinstance(value.type, TupleType):
                return self.const(bool(value.type.items))
            if value.type is BOOL:
                return value
            if value.type is NONE:
                return self.const(False)
            if isinstance(value.type, ListType):
                return self.emit(ir.Compare("!=", self.emit(ir.ListLen(value)), self.const(0)))
            return self.emit(ir.Truth(value))
        if isinstance(value, TupleAbs):
            return self.const(bool(value.items))
        if isinstance(value, Static):
            return self.const(True)
        raise Unsupported(f"truth value of {_describe(value)}", self.lineno)

    def materialize(self, value: object) -> ir.Value:
        """A native value for ``value`` (tuples become ``MakeTuple``)."""
        if isinstance(value, TupleAbs):
            return self.emit(ir.MakeTuple(tuple(map(self.materialize, value.items))))
        return self.scalar(value, "a native value")

    def as_int(self, value: ir.Value) -> ir.Value:
        return value if value.type is INT else self.emit(ir.Convert(value, INT))

    # -- instruction handlers (see ``HANDLERS``) -------------------------------------------

    def load_const(self, instr: Instr) -> None:
        self.frame.stack.append(self.constant(instr.arg))

    def constant(self, value: object) -> object:
        if type(value) is tuple:
            return TupleAbs(tuple(map(self.constant, value)))
        if ir.const_type(value) is None:
            raise Unsupported(f"constant {value!r:.40} is not compiled", self.lineno)
        return self.const(value)

    def load_fast(self, instr: Instr) -> bool | None:
        value = self.frame.locals.get(instr.arg, UNBOUND)
        if value is UNBOUND:
            return self.end(ir.Bail(f"local {instr.arg!r} referenced before assignment"))
        self.frame.stack.append(value)
        return None

    def store_fast(self, instr: Instr) -> None:
        (value,) = self.pop()
        self.frame.locals[instr.arg] = UNBOUND if value is NULL else value

    def load_fast_and_clear(self, instr: Instr) -> None:
        value = self.frame.locals.get(instr.arg, UNBOUND)
        self.frame.stack.append(NULL if value is UNBOUND else value)
        self.frame.locals[instr.arg] = UNBOUND

    def load_global(self, instr: Instr) -> None:
        self.frame.stack.append(self.resolve_global(instr.arg))

    def resolve_global(self, name: str) -> object:
        namespace = self.func.__globals__
        builtins_ = self.func.__builtins__
        if name in namespace:
            obj = namespace[name]
        elif name in builtins_:
            obj = builtins_[name]
        else:
            raise Unsupported(f"global {name!r} is not defined", self.lineno)
        if type(obj) in _SCALAR_GLOBALS:
            if ir.const_type(obj) is None:
                raise Unsupported(f"global {name!r} does not fit in 64 bits", self.lineno)
            return self.unit.global_value(namespace, name, builtins_, FROM_PY[type(obj)])
        static = _static(obj)
        if static is None:
            raise Unsupported(f"global {name!r} is a {type(obj).__name__}", self.lineno)
        self.unit.identity(namespace, name, builtins_, obj)
        return static

    def load_attr(self, instr: Instr) -> None:
        (owner,) = self.pop()
        if _is_array(owner) and instr.arg == "shape":
            dims = tuple(self.emit(ir.ArrayDim(owner, k)) for k in range(owner.type.ndim))
            self.frame.stack.append(TupleAbs(dims))
            return
        if isinstance(owner, Static) and owner.kind == "module" and owner.obj is not math:
            self.load_object_call(owner, instr.arg)
            return
        if not (isinstance(owner, Static) and owner.obj is math):
            raise Unsupported(f"attribute {instr.arg!r} of {_describe(owner)}", self.lineno)
        name = instr.arg
        obj = math.__dict__.get(name)
        if type(obj) is float:
            value = self.unit.global_value(math.__dict__, name, None, FROM_PY[float])
            self.frame.stack.append(value)
            return
        if not isinstance(obj, BuiltinFunctionType):
            raise Unsupported(f"math.{name} is not compiled", self.lineno)
        self.unit.identity(math.__dict__, name, None, obj)
        self.frame.stack.append(Static("math", name, obj))

    def load_object_call(self, module: Static, name: str) -> None:
        """``module.name`` where it is a callable ``api.object_call`` accepts (identity
        guarded, like a math function)."""
        obj = module.obj.__dict__.get(name)
        called = object_call(obj)
        if called is None:
            raise Unsupported(f"{module.name}.{name} is not compiled", self.lineno)
        self.unit.identity(module.obj.__dict__, name, None, obj)
        self.frame.stack.append(Static("object", called, obj))

    def load_method(self, instr: Instr) -> None:
        owner = self.frame.stack[-1]
        if type(owner) is ListIterAbs and instr.arg == "__setstate__":  # an OSR continuation's
            method = Static("method", "list_iterator.__setstate__", None)
            self.frame.stack[-1:] = [method, owner]
            return
        if _is_list(owner):
            if instr.arg not in opcodes.METHODS["list"]:
                raise Unsupported(f"list.{instr.arg} is not compiled", self.lineno)
            method = Static("method", f"list.{instr.arg}", getattr(list, instr.arg))
            self.frame.stack[-1:] = [method, owner]
            return
        self.load_attr(instr)
        (attr,) = self.pop()
        self.frame.stack.extend([NULL, attr] if opcodes.NULL_FIRST else [attr, NULL])

    def push_null(self, instr: Instr) -> None:
        self.frame.stack.append(NULL)

    def store_subscr(self, instr: Instr) -> None:
        item, container, index = self.pop(3)
        if _is_array(container):
            value = self.scalar(item, "array item")
            if value.type not in NUMERIC:
                raise Unsupported(f"storing a {value.type} into an array", self.lineno)
            element = ARRAY_ITEMS[container.type.dtype]
            converted = self.emit(ir.Convert(value, element))
            indices = self.array_indices(container, index)
            self.emit(ir.ArraySet(container, indices, converted))
            return
        if not _is_list(container):
            raise Unsupported(f"item assignment of {_describe(container)}", self.lineno)
        item = self.materialize(item)
        self.emit(ir.ListStore(container, self.list_index(index), item))

    def list_index(self, index: object) -> ir.Value:
        index = self.scalar(index, "list index")
        if index.type not in (INT, BOOL):
            raise Unsupported(f"list index of type {index.type}", self.lineno)
        return self.as_int(index)

    def array_indices(self, array: ir.Value, index: object) -> tuple[ir.Value, ...]:
        """Integer indices, one per axis (a bool indexes numpy arrays as a mask)."""
        indices = index.items if isinstance(index, TupleAbs) else (index,)
        if len(indices) != array.type.ndim:
            raise Unsupported(f"{len(indices)} indices into {array.type}", self.lineno)
        values = [self.scalar(i, "array index") for i in indices]
        for value in values:
            if value.type not in ARRAY_INDICES:
                raise Unsupported(f"array index of type {value.type}", self.lineno)
        return tuple(self.emit(ir.Convert(v, INT)) if v.type is not INT else v for v in values)

    def build_slice(self, instr: Instr) -> None:
        self.frame.stack.append(
            SliceAbs(*(self.scalar(v, "slice index") for v in self.pop(instr.arg)))
        )

    def slice(self, instr: Instr) -> bool | None:
        container, start, stop = self.pop(3)
        self.frame.stack.extend([container, SliceAbs(start, stop)])
        return self.subscr(instr)

    def list_slice(self, lst: ir.Value, where: SliceAbs) -> ir.Value:
        start, stop = (
            end if end.type is NONE else self.list_index(end) for end in (where.start, where.stop)
        )
        step = where.step
        step = self.const(1) if step is None or step.type is NONE else self.list_index(step)
        return self.emit(ir.ListSlice(lst, start, stop, step, lst.type))

    def subscr(self, instr: Instr) -> bool | None:
        container, index = self.pop(2)
        if _is_list(container) and isinstance(index, SliceAbs):
            self.frame.stack.append(self.list_slice(container, index))
            return None
        if _is_array(container):
            item = ARRAY_ITEMS[container.type.dtype]
            get = ir.ArrayGet(container, self.array_indices(container, index), item)
            self.frame.stack.append(self.emit(get))
            return None
        if _is_list(container):
            index = self.list_index(index)
            item = container.type.item
            if item is None:
                return self.end(ir.Bail("item of a list whose item type is unknown"))
            self.frame.stack.append(self.emit(ir.ListGet(container, index, item)))
            return None
        if isinstance(index, ir.Value) and not isinstance(index, ir.Const):
            sequence = self.sequence_tuple(container) if index.type in (INT, BOOL) else None
            if sequence is not None:
                self.frame.stack.append(self.item_at(sequence, self.as_int(index)))
                return None
        if isinstance(index, SliceAbs) and (
            _is_tuple(container) or isinstance(container, TupleAbs)
        ):
            return self.tuple_slice(container, index)
        if _is_tuple(container):
            container = TupleAbs(self.tuple_items(container))
        if not (isinstance(container, TupleAbs) and isinstance(index, ir.Const)):
            raise Unsupported(f"subscript of {_describe(container)}", self.lineno)
        if index.type not in (INT, BOOL) or not -len(container.items) <= index.value < len(
            container.items
        ):
            return self.end(ir.Bail("tuple index out of range or not an int"))
        self.frame.stack.append(container.items[index.value])
        return None

    def tuple_slice(self, container: object, where: SliceAbs) -> None:
        """``t[a:b:c]`` with constant parts: the tuple of the items python picks."""
        parts = [where.start, where.stop, where.step]
        if not all(p is None or isinstance(p, ir.Const) for p in parts):
            raise Unsupported("a tuple slice with ends known only at run time", self.lineno)
        start, stop, step = (None if p is None else p.value for p in parts)
        if step == 0:
            self.end(ir.Bail("slice step cannot be zero"))
            return
        items = container.items if isinstance(container, TupleAbs) else self.tuple_items(container)
        self.frame.stack.append(TupleAbs(items[start:stop:step]))

    def build_list(self, instr: Instr) -> None:
        items = tuple(self.materialize(v) for v in self.pop(instr.arg))
        kinds = {item.type for item in items}
        item = kinds.pop() if len(kinds) == 1 else None
        self.frame.stack.append(self.emit(ir.NewList(items, ListType(item))))

    def pop_top(self, instr: Instr) -> None:
        self.pop(instr.arg)

    def copy(self, instr: Instr) -> None:
        self.frame.stack.append(self.frame.stack[-instr.arg])

    def swap(self, instr: Instr) -> None:
        stack = self.frame.stack
        stack[-1], stack[-instr.arg] = stack[-instr.arg], stack[-1]

    def binary(self, instr: Instr) -> None:
        left, right = (self.scalar(v, f"'{instr.arg}'") for v in self.pop(2))
        if instr.arg == "*" and (_is_list(left) or _is_list(right)):
            lst, count = (left, right) if _is_list(left) else (right, left)
            repeat = ir.ListRepeat(lst, self.list_index(count), lst.type)
            self.frame.stack.append(self.emit(repeat))
            return
        result = infer.binary(instr.arg, left.type, right.type, self.lineno)
        self.frame.stack.append(self.emit(ir.Binary(instr.arg, left, right, result)))

    def unary(self, instr: Instr) -> None:
        (value,) = self.pop()
        if instr.arg == "not":
            truth = self.truth(value)
            if isinstance(truth, ir.Const):
                self.frame.stack.append(self.const(not truth.value))
                return
            value = truth
        value = self.scalar(value, f"unary '{instr.arg}'")
        result = infer.unary(instr.arg, value.type, self.lineno)
        self.frame.stack.append(self.emit(ir.Unary(instr.arg, value, result)))

    def to_bool(self, instr: Instr) -> None:
        (value,) = self.pop()
        self.frame.stack.append(self.truth(value))

    def compare(self, instr: Instr) -> bool | None:
        left, right = (self.scalar(v, f"'{instr.arg}'") for v in self.pop(2))
        if NONE in (left.type, right.type):
            if instr.arg not in ("==", "!="):
                return self.end(ir.Bail(f"'{instr.arg}' with None raises TypeError"))
            equal = left.type is right.type
            self.frame.stack.append(self.const(equal == (instr.arg == "==")))
            return None
        infer.compare(instr.arg, left.type, right.type, self.lineno)
        kind = numeric.compare_type(left.type, right.type)
        self.frame.stack.append(self.emit(ir.Compare(instr.arg, left, right, type=kind)))
        return None

    def contains(self, instr: Instr) -> None:
        item, container = self.pop(2)
        item = self.scalar(item, "'in'")
        if item.type not in NUMERIC:
            raise Unsupported(f"'in' of a {item.type}", self.lineno)
        if _is_list(container):
            found = self.emit(ir.ListContains(container, item))
        elif _is_tuple(container) and container.type.items:
            found = self.tuple_contains(item, self.tuple_items(container))
        elif isinstance(container, TupleAbs) and container.items:
            found = self.tuple_contains(item, container.items)
        else:
            raise Unsupported(f"'in' of {_describe(container)}", self.lineno)
        if instr.arg:
            found = self.emit(ir.Unary("not", found, BOOL))
        self.frame.stack.append(found)

    def tuple_contains(self, item: ir.Value, items: tuple[object, ...]) -> ir.Value:
        """``item in (a, b, ..)`` for numbers: ``item == a or item == b ..``."""
        values = [self.scalar(v, "'in'") for v in items]
        if any(v.type not in _PLAIN_NUMBERS for v in (item, *values)):
            raise Unsupported("'in' of a tuple is compiled for ints, floats and bools", self.lineno)
        if item.type is FLOAT:
            nan = self.emit(ir.Compare("!=", item, item))
            self.emit(ir.BailIf(nan, "'in' of a NaN: only the interpreter knows identity"))
        found = self.emit(ir.Compare("==", item, values[0]))
        for value in values[1:]:
            test = self.emit(ir.Compare("==", item, value))
            found = self.emit(ir.Select(found, self.const(True), test, BOOL))
        return found

    def is_op(self, instr: Instr) -> None:
        left, right = self.pop(2)
        nones = [isinstance(v, ir.Value) and v.type is NONE for v in (left, right)]
        if not any(nones):
            raise Unsupported("'is' is compiled only with None", self.lineno)
        self.frame.stack.append(self.const(all(nones) != bool(instr.arg)))

    def call(self, instr: Instr) -> bool | None:
        args = self.pop(instr.arg)
        below, above = self.pop(2)
        if below is NULL or above is NULL:
            callee = above if below is NULL else below
        else:  # a method and its receiver
            callee, args = below, [above, *args]
        if not isinstance(callee, Static):
            raise Unsupported(f"call of {_describe(callee)}", self.lineno)
        return CALLS[callee.kind](self, callee, args)

    def call_function(self, callee: Static, args: list[object]) -> None:
        values = tuple(self.materialize(v) for v in args)
        types = tuple(v.type for v in values)
        try:
            fir = self.unit.function(callee.obj, types, self.lineno)
        except Unsupported as exc:
            if exc.lineno == self.lineno:
                raise
            where = f"{callee.name}, line {exc.lineno}"
            raise Unsupported(
                f"calls a function that is not compilable ({where}: {exc.reason})", self.lineno
            ) from exc
        result = ir.Resumed()
        site = self.state.site + 1 if self.state.site != INLINED else INLINED
        after = self.snapshot(site, "", [*self.frame.stack, result])
        call = ir.CallDirect(fir, values, fir.return_type, after, result)
        self.frame.stack.append(self.emit(call))

    def call_method(self, callee: Static, args: list[object]) -> bool | None:
        receiver, *rest = args
        if callee.name == "list_iterator.__setstate__" and len(rest) == 1:
            if not _is_list(receiver.list):
                raise Unsupported("__setstate__ of a tuple iterator", self.lineno)
            # CPython clamps the index to the list: 0 <= index <= len(list).
            index = self.as_int(self.scalar(rest[0], "iterator position"))
            zero, length = self.const(0), self.emit(ir.ListLen(receiver.list))
            below = self.emit(ir.Compare("<", index, zero))
            index = self.emit(ir.Select(below, zero, index, INT))
            above = self.emit(ir.Compare(">", index, length))
            index = self.emit(ir.Select(above, length, index, INT))
            moved = ListIterAbs(receiver.list, index)
            self.frame.stack[:] = [moved if v is receiver else v for v in self.frame.stack]
            self.frame.stack.append(self.const(None))
            return None
        if callee.name == "list.pop" and len(rest) <= 1:
            index = self.list_index(rest[0]) if rest else self.const(-1)
            item = receiver.type.item
            if item is None:
                return self.end(ir.Bail("item of a list whose item type is unknown"))
            self.frame.stack.append(self.emit(ir.ListPop(receiver, index, item)))
            return None
        if callee.name != "list.append" or len(rest) != 1:
            raise Unsupported(f"call of {callee.name} with {len(rest)} arguments", self.lineno)
        self.append(receiver, rest[0])
        self.frame.stack.append(self.const(None))
        return None

    def list_append(self, instr: Instr) -> None:
        """A comprehension's append: its list is only on the value stack, out of the program's
        reach until the comprehension ends, so appending is no visible effect."""
        (item,) = self.pop()
        self.append(self.frame.stack[-instr.arg], item).effect = False

    def append(self, lst: ir.Value, item: object) -> ir.ListAppend:
        """``lst.append(item)``; a list whose item type was unknown (made empty) takes the
        item's type as its speculation from here on (reads still check every item)."""
        item = self.materialize(item)
        op = self.emit(ir.ListAppend(lst, item))
        if lst.type.item is None:
            self.refine(lst, ListType(item.type))
        return op

    def refine(self, value: ir.Value, t: Type) -> None:
        """Give ``value`` the narrower speculation ``t`` wherever the frame holds it."""
        refined = self.emit(ir.Refine(value, t))
        frame = self.frame
        frame.locals = {n: refined if v is value else v for n, v in frame.locals.items()}
        frame.stack[:] = [refined if v is value else v for v in frame.stack]

    def call_builtin(self, callee: Static, args: list[object]) -> bool | None:
        special = {
            "range": FunctionBuilder.call_range,
            "len": FunctionBuilder.call_len,
            "enumerate": FunctionBuilder.call_enumerate,
            "zip": FunctionBuilder.call_zip,
            "reversed": FunctionBuilder.call_reversed,
        }
        if callee.name in special:
            return special[callee.name](self, args)
        if len(args) == 1 and _is_list(args[0]) and callee.name in _REDUCTIONS:
            return self.call_reduce(callee.name, args[0])
        if len(args) == 1 and callee.name == "sum":  # of a tuple
            if _empty_tuple(args[0]):
                self.frame.stack.append(self.const(0))
                return None
            sequence = self.sequence_tuple(args[0])
            if sequence is not None:
                return self.call_reduce(callee.name, sequence)
        if len(args) == 1 and callee.name in ("min", "max"):
            items = self.tuple_items(args[0])
            if len(items) >= 2:  # min(t) is min(*t); of one item or none python decides
                return self.call_numeric(callee.name, list(items))
        return self.call_numeric(callee.name, args)

    def tuple_items(self, value: object) -> tuple[object, ...]:
        """The items of a tuple (structure or native value); ``()`` for anything else."""
        if _is_tuple(value):
            count = len(value.type.items)
            return tuple(self.emit(ir.TupleGet(value, i)) for i in range(count))
        return value.items if isinstance(value, TupleAbs) else ()

    def call_reduce(self, name: str, lst: ir.Value) -> bool | None:
        item = lst.type.items[0] if _is_tuple(lst) else lst.type.item
        if item not in _PLAIN_NUMBERS:
            if item is None:
                return self.end(ir.Bail("item of a list whose item type is unknown"))
            raise Unsupported(f"{name}() of a {lst.type}", self.lineno)
        result = INT if name == "sum" and item is BOOL else item
        self.frame.stack.append(self.emit(ir.ListReduce(name, lst, result)))
        return None

    def iterator(self, value: object) -> object:
        """``iter(value)`` as an iterator structure (an iterator is its own iterator)."""
        if isinstance(value, ITERATORS):
            return value
        sequence = value if _is_list(value) else self.sequence_tuple(value)
        if sequence is not None:
            return ListIterAbs(sequence, self.const(0))
        if _empty_tuple(value):
            return IterAbs(self.const(0), self.const(0), self.const(1))  # nothing, like iter(())
        if isinstance(value, RangeAbs):
            return IterAbs(value.start, value.stop, value.step)
        raise Unsupported(f"iteration over {_describe(value)}", self.lineno)

    def sequence_tuple(self, value: object) -> ir.Value | None:
        """``value`` as a native tuple whose items all have one type (a tuple display becomes
        ``MakeTuple``), which indexing by a run-time index, iteration and ``reversed`` take
        like a list; None for anything else."""
        if isinstance(value, TupleAbs) and all(isinstance(v, ir.Value) for v in value.items):
            if value.items and len({v.type for v in value.items}) == 1:
                value = self.materialize(value)
        if _is_tuple(value) and len(set(value.type.items)) == 1:
            return value
        return None

    def length(self, sequence: ir.Value) -> ir.Value:
        """``len`` of a list or of a ``sequence_tuple``."""
        if _is_tuple(sequence):
            return self.const(len(sequence.type.items))
        return self.emit(ir.ListLen(sequence))

    def item_at(self, sequence: ir.Value, index: ir.Value) -> ir.Value:
        """``sequence[index]`` of a list (its speculated item type) or a ``sequence_tuple``."""
        if _is_tuple(sequence):
            return self.emit(ir.TupleIndex(sequence, index, sequence.type.items[0]))
        return self.emit(ir.ListGet(sequence, index, sequence.type.item))

    def call_enumerate(self, args: list[object]) -> None:
        if not 1 <= len(args) <= 2:
            raise Unsupported(f"enumerate() with {len(args)} arguments", self.lineno)
        start = self.list_index(args[1]) if len(args) == 2 else self.const(0)
        self.frame.stack.append(EnumerateAbs(self.iterator(args[0]), start))

    def call_zip(self, args: list[object]) -> None:
        if not args:
            raise Unsupported("zip() of nothing", self.lineno)
        self.frame.stack.append(ZipAbs(tuple(map(self.iterator, args))))

    def call_reversed(self, args: list[object]) -> None:
        if len(args) == 1 and isinstance(args[0], RangeAbs):
            self.frame.stack.append(self.reversed_range(args[0]))
            return
        if len(args) == 1 and _empty_tuple(args[0]):
            self.frame.stack.append(self.iterator(args[0]))
            return
        sequence = None
        if len(args) == 1:
            sequence = args[0] if _is_list(args[0]) else self.sequence_tuple(args[0])
        if sequence is None:
            raise Unsupported(
                "reversed() is compiled only for a list, a tuple or a range", self.lineno
            )
        last = self.emit(ir.Binary("-", self.length(sequence), self.const(1), INT))
        self.frame.stack.append(ListRevIterAbs(sequence, last))

    def reversed_range(self, rng: RangeAbs) -> IterAbs:
        """``reversed(range(a, b, s))``: from the last item ``a + (n - 1) * s`` down to
        ``a - s`` by ``-s`` (CPython's own reversed range iterator; an overflow bails)."""
        emit = self.emit
        count = self.range_length(rng)
        steps = emit(ir.Binary("-", count, self.const(1), INT))
        last = emit(ir.Binary("+", rng.start, emit(ir.Binary("*", steps, rng.step, INT)), INT))
        before = emit(ir.Binary("-", rng.start, rng.step, INT))
        return IterAbs(last, before, emit(ir.Unary("-", rng.step, INT)))

    def call_math(self, callee: Static, args: list[object]) -> None:
        self.call_numeric(f"math.{callee.name}", args)

    def call_object(self, callee: Static, args: list[object]) -> None:
        if args:
            raise Unsupported(f"{callee.name}() with arguments", self.lineno)
        op = ir.CallObject(callee.name, callee.obj, OBJECT_CALLS[callee.name])
        self.frame.stack.append(self.emit(op))

    def call_module(self, callee: Static, args: list[object]) -> None:
        raise Unsupported(f"call of the module {callee.name}", self.lineno)

    def call_numeric(self, name: str, args: list[object]) -> None:
        values = tuple(self.scalar(v, f"argument of {name}()") for v in args)
        result = infer.call(name, tuple(v.type for v in values), self.lineno)
        self.frame.stack.append(self.emit(ir.CallBuiltin(name, values, result)))

    def call_range(self, args: list[object]) -> bool | None:
        if not 1 <= len(args) <= 3:
            raise Unsupported(f"range() with {len(args)} arguments", self.lineno)
        values = []
        for arg in args:
            value = self.scalar(arg, "argument of range()")
            infer.range_arg(value.type, self.lineno)
            values.append(self.as_int(value))
        if len(values) == 1:
            values.insert(0, self.const(0))
        if len(values) == 2:
            values.append(self.const(1))
        start, stop, step = values
        if isinstance(step, ir.Const):
            if step.value == 0:
                return self.end(ir.Bail("range() arg 3 must not be zero"))
        else:
            zero = self.emit(ir.Compare("==", step, self.const(0)))
            self.emit(ir.BailIf(zero, "range() arg 3 must not be zero"))
        self.frame.stack.append(RangeAbs(start, stop, step))
        return None

    def call_len(self, args: list[object]) -> None:
        if len(args) == 1 and _is_list(args[0]):
            self.frame.stack.append(self.emit(ir.ListLen(args[0])))
            return
        if len(args) == 1 and _is_array(args[0]):
            self.frame.stack.append(self.emit(ir.ArrayDim(args[0], 0)))
            return
        if len(args) == 1 and (isinstance(args[0], TupleAbs) or _is_tuple(args[0])):
            self.frame.stack.append(self.const(len(self.tuple_items(args[0]))))
            return
        if len(args) != 1 or not isinstance(args[0], RangeAbs):
            raise Unsupported("len() is compiled only for a range or a list", self.lineno)
        self.frame.stack.append(self.range_length(args[0]))

    def range_length(self, rng: RangeAbs) -> ir.Value:
        emit = self.emit
        one, zero = self.const(1), self.const(0)
        positive = self.step_positive(rng.step)
        low = emit(ir.Select(positive, rng.start, rng.stop, INT))
        high = emit(ir.Select(positive, rng.stop, rng.start, INT))
        size = emit(ir.Select(positive, rng.step, emit(ir.Unary("-", rng.step, INT)), INT))
        diff = emit(ir.Binary("-", high, low, INT))
        steps = emit(ir.Binary("//", emit(ir.Binary("-", diff, one, INT)), size, INT))
        count = emit(ir.Binary("+", steps, one, INT))
        nonempty = emit(ir.Compare(">", diff, zero))
        return emit(ir.Select(nonempty, count, zero, INT))

    def step_positive(self, step: ir.Value) -> ir.Value:
        if isinstance(step, ir.Const):
            return self.const(step.value > 0)
        return self.emit(ir.Compare(">", step, self.const(0)))

    def build_tuple(self, instr: Instr) -> None:
        self.frame.stack.append(TupleAbs(tuple(self.pop(instr.arg))))

    def unpack(self, instr: Instr) -> bool | None:
        (value,) = self.pop()
        if _is_tuple(value):
            value = TupleAbs(self.tuple_items(value))
        if not isinstance(value, TupleAbs):
            raise Unsupported(f"unpacking of {_describe(value)}", self.lineno)
        if len(value.items) != instr.arg:
            return self.end(ir.Bail("unpacking a tuple of the wrong length raises ValueError"))
        self.frame.stack.extend(reversed(value.items))
        return None

    def get_iter(self, instr: Instr) -> None:
        (value,) = self.pop()
        self.frame.stack.append(self.iterator(value))

    def for_iter(self, instr: Instr) -> bool:
        """Exhausted when ``more`` is false; else a helper block takes the next item (a read
        that may bail: the interpreter re-runs this FOR_ITER) and goes on to the body."""
        it = self.frame.stack[-1]
        if not isinstance(it, ITERATORS):
            raise Unsupported(f"iteration over {_describe(it)}", self.lineno)
        rest = self.frame.stack[:-1]
        done = rest if opcodes.FOR_ITER_EXIT_DELTA < 0 else [*rest, it, PLACEHOLDER]
        more = self.more(it)
        if isinstance(more, ir.Const) and not more.value:
            return self.end(self.edge(instr.arg, done))
        body = self.fallthrough()
        take = self.fir.new_block(None)
        self.end(ir.Branch(more, ir.Jump(take, ()), self.edge(instr.arg, done)))
        self.frame.block = take
        taken = self.step(it)
        if taken is None:
            return self.end(ir.Bail("item of a list whose item type is unknown"))
        item, after = taken
        return self.end(self.edge(body, [*rest, after, item]))

    def more(self, it: object) -> ir.Value:
        """Whether ``it`` has an item left (pure comparisons, in the current block)."""
        emit = self.emit
        if isinstance(it, IterAbs):
            positive = self.step_positive(it.step)
            below = emit(ir.Compare("<", it.index, it.stop))
            above = emit(ir.Compare(">", it.index, it.stop))
            if isinstance(positive, ir.Const):
                return below if positive.value else above
            return emit(ir.Select(positive, below, above, BOOL))
        if isinstance(it, ListIterAbs):
            return emit(ir.Compare("<", it.index, self.length(it.list)))
        if isinstance(it, ListRevIterAbs):
            inside = emit(ir.Compare("<", it.index, self.length(it.list)))
            started = emit(ir.Compare(">=", it.index, self.const(0)))
            return emit(ir.Select(started, inside, self.const(False), BOOL))
        if isinstance(it, EnumerateAbs):
            return self.more(it.inner)
        result = self.more(it.iterators[0])
        for other in it.iterators[1:]:
            result = emit(ir.Select(result, self.more(other), self.const(False), BOOL))
        return result

    def step(self, it: object) -> tuple[object, object] | None:
        """``(item, iterator after it)`` once ``more`` held; None when an item's type is not
        known (a list sampled empty)."""
        emit = self.emit
        if isinstance(it, IterAbs):
            return it.index, IterAbs(emit(ir.Binary("+", it.index, it.step, INT)), it.stop, it.step)
        if isinstance(it, ListIterAbs | ListRevIterAbs):
            if isinstance(it.list.type, ListType) and it.list.type.item is None:
                return None
            item = self.item_at(it.list, it.index)
            delta = self.const(1 if isinstance(it, ListIterAbs) else -1)
            return item, type(it)(it.list, emit(ir.Binary("+", it.index, delta, INT)))
        if isinstance(it, EnumerateAbs):
            taken = self.step(it.inner)
            if taken is None:
                return None
            item, inner = taken
            after = emit(ir.Binary("+", it.count, self.const(1), INT))
            return TupleAbs((it.count, item)), EnumerateAbs(inner, after)
        steps = [self.step(inner) for inner in it.iterators]
        if None in steps:
            return None
        return TupleAbs(tuple(item for item, _ in steps)), ZipAbs(tuple(a for _, a in steps))

    def jump(self, instr: Instr) -> bool:
        return self.end(self.edge(instr.arg, self.frame.stack))

    def fallthrough(self) -> int:
        return self.blocks[self.frame.block.origin].next

    def branch_if(self, instr: Instr) -> bool:
        sense, target = instr.arg
        (value,) = self.pop()
        cond = self.truth(value)
        stack = self.frame.stack
        taken, other = (
            (lambda: self.edge(target, stack)),
            (lambda: self.edge(self.fallthrough(), stack)),
        )
        return self.branch(cond, taken, other) if sense else self.branch(cond, other, taken)

    def branch_none(self, instr: Instr) -> bool:
        sense, target = instr.arg
        (value,) = self.pop()
        is_none = isinstance(value, ir.Value) and value.type is NONE
        goto = target if is_none == sense else self.fallthrough()
        return self.end(self.edge(goto, self.frame.stack))

    def branch_or_pop(self, instr: Instr) -> bool:
        sense, target = instr.arg
        cond = self.truth(self.frame.stack[-1])
        kept, popped = list(self.frame.stack), self.frame.stack[:-1]
        taken, other = (
            (lambda: self.edge(target, kept)),
            (lambda: self.edge(self.fallthrough(), popped)),
        )
        return self.branch(cond, taken, other) if sense else self.branch(cond, other, taken)

    def return_value(self, instr: Instr) -> bool:
        (value,) = self.pop()
        ret = ir.Return(self.materialize(value), self.lineno)
        if isinstance(ret.value.type, TupleType) and _holds_list(ret.value.type):
            raise Unsupported("returning a tuple that holds a list is not compiled", self.lineno)
        if self.fir.return_type is None:
            self.fir.return_type = ret.value.type
        self.returns.append((self.frame.block, ret))
        return self.end(ret)

    def unsupported(self, instr: Instr) -> None:
        raise Unsupported(f"{instr.arg} is not compiled", self.lineno)


HANDLERS: dict[str, Callable[[FunctionBuilder, Instr], bool | None]] = {
    "LOAD_CONST": FunctionBuilder.load_const,
    "LOAD_FAST": FunctionBuilder.load_fast,
    "STORE_FAST": FunctionBuilder.store_fast,
    "LOAD_FAST_AND_CLEAR": FunctionBuilder.load_fast_and_clear,
    "LIST_APPEND": FunctionBuilder.list_append,
    "LOAD_GLOBAL": FunctionBuilder.load_global,
    "LOAD_ATTR": FunctionBuilder.load_attr,
    "LOAD_METHOD": FunctionBuilder.load_method,
    "PUSH_NULL": FunctionBuilder.push_null,
    "STORE_SUBSCR": FunctionBuilder.store_subscr,
    "SUBSCR": FunctionBuilder.subscr,
    "BUILD_LIST": FunctionBuilder.build_list,
    "POP": FunctionBuilder.pop_top,
    "COPY": FunctionBuilder.copy,
    "SWAP": FunctionBuilder.swap,
    "BINARY": FunctionBuilder.binary,
    "UNARY": FunctionBuilder.unary,
    "TO_BOOL": FunctionBuilder.to_bool,
    "COMPARE": FunctionBuilder.compare,
    "IS": FunctionBuilder.is_op,
    "CONTAINS": FunctionBuilder.contains,
    "BUILD_SLICE": FunctionBuilder.build_slice,
    "SLICE": FunctionBuilder.slice,
    "CALL": FunctionBuilder.call,
    "BUILD_TUPLE": FunctionBuilder.build_tuple,
    "UNPACK": FunctionBuilder.unpack,
    "GET_ITER": FunctionBuilder.get_iter,
    "FOR_ITER": FunctionBuilder.for_iter,
    "JUMP": FunctionBuilder.jump,
    "BRANCH": FunctionBuilder.branch_if,
    "BRANCH_NONE": FunctionBuilder.branch_none,
    "BRANCH_OR_POP": FunctionBuilder.branch_or_pop,
    "RETURN": FunctionBuilder.return_value,
    "UNSUPPORTED": FunctionBuilder.unsupported,
}

CALLS: dict[str, Callable[[FunctionBuilder, Static, list[object]], bool | None]] = {
    "function": FunctionBuilder.call_function,
    "builtin": FunctionBuilder.call_builtin,
    "math": FunctionBuilder.call_math,
    "module": FunctionBuilder.call_module,
    "method": FunctionBuilder.call_method,
    "object": FunctionBuilder.call_object,
}


def _static(obj: object) -> Static | None:
    """How a global object is known at compile time, or None if it is outside the subset."""
    if isinstance(obj, FunctionType):
        return Static("function", obj.__qualname__, obj)
    if obj is math or obj is sys.modules.get("random"):
        return Static("module", obj.__name__, obj)
    called = object_call(obj)
    if called is not None:
        return Static("object", called, obj)
    name = getattr(obj, "__name__", None)
    if name in BUILTINS and getattr(builtins, name) is obj:
        return Static("builtin", name, obj)
    if isinstance(obj, BuiltinFunctionType) and math.__dict__.get(name) is obj:
        return Static("math", name, obj)
    return None


def _holds_list(t: TupleType) -> bool:
    return any(
        isinstance(i, ListType) or (isinstance(i, TupleType) and _holds_list(i)) for i in t.items
    )


def _is_list(value: object) -> bool:
    return isinstance(value, ir.Value) and isinstance(value.type, ListType)


def _is_tuple(value: object) -> bool:
    return isinstance(value, ir.Value) and isinstance(value.type, TupleType)


def _empty_tuple(value: object) -> bool:
    return (_is_tuple(value) and not value.type.items) or value == TupleAbs(())


def _is_array(value: object) -> bool:
    return isinstance(value, ir.Value) and isinstance(value.type, ArrayType)


def _describe(value: object) -> str:
    if isinstance(value, ir.Value):
        return str(value.type)
    if isinstance(value, Static):
        return f"{value.kind} {value.name}"
    kinds = {TupleAbs: "a tuple", RangeAbs: "a range", IterAbs: "a range iterator"}
    iterators = {ListIterAbs: "a list iterator", ListRevIterAbs: "a reversed list"}
    kinds |= {**iterators, EnumerateAbs: "an enumerate", ZipAbs: "a zip"}
    return kinds.get(type(value), "an unbound value")


def build_unit(
    func: FunctionType, types: tuple[Type, ...], code_of: Callable[[FunctionType], CodeType]
) -> tuple[Unit, ir.FunctionIR]:
    """The unit compiling ``func`` for ``types`` (and everything it calls)."""
    code = code_of(func)
    reason = prescreen(code)
    if reason is not None:
        raise reason
    unit = Unit(code_of)
    try:
        return unit, unit.function(func, types, code.co_firstlineno)
    except NeedReturnType as exc:
        raise Unsupported(
            "recursion without a base case that returns", code.co_firstlineno
        ) from exc
