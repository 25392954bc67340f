"""Typed SSA IR: the compiler's model of one function specialised for one argument signature.

In: built by ``build`` (abstract interpretation of the neutral bytecode).
Out: read by ``lower`` (through ``OpVisitor``) and printed by ``format_function`` for
``CompiledFunction.ir_text`` and ``--dump``.

Model (after mypyc's ``mypyc/ir/ops.py``):

- A ``FunctionIR`` is a list of ``BasicBlock``; block 0 is the entry.  Every value has a
  static ``types.Type``; there are no Python objects anywhere in the IR.
- SSA with *block parameters* instead of phi nodes: a block declares ``params`` and every jump
  to it passes one argument per parameter, of the same type.  (A helper block that ``build``
  adds with a single predecessor -- the item read of a ``for`` over a list -- also uses that
  predecessor's values, which dominate it.)
- A block is a list of ``Op`` followed by exactly one ``Terminator``.  An op's operands are
  values defined earlier in the same block, parameters of the block, function parameters,
  globals (``Param``/``GlobalParam``) or constants (``Const``) -- never values of another
  block (they travel as block arguments), so dominance holds by construction.
- Ops are pure except those whose ``effect`` is true (list stores and appends, calls of
  ``random.random``, and calls of functions that have such ops): they change objects the
  caller can see.  A store into a *local* list (``local_lists``) is not one: no one else can
  see that list.
- An op that cannot produce CPython's exact result natively (overflow, a condition that
  raises, a guard) *bails*.  Which ops may bail is decided by ``numeric``'s emitters at
  lowering time, plus ``BailIf``, ``Bail``, ``ListStore`` and ``CallDirect``.  Every op and
  terminator carries the ``FrameState`` of the bytecode instruction it came from: where no
  effect can have happened yet in the call, a bail returns "miss" and the interpreter re-runs
  the call; after an effect, it *deoptimizes*: the interpreter resumes exactly at that
  instruction with that state (``deopt``).
- Type versions: the same bytecode block may appear several times, once per combination of
  the types of its live locals and stack slots (see ``infer``); ``BasicBlock.origin`` names the
  bytecode block and ``BasicBlock.label`` the version.
"""

from __future__ import annotations

import itertools

from pyfast.compiler import records
from pyfast.compiler.types import BOOL, FLOAT, INT, NONE, OBJECT, TupleType, Type

TYPE_CHECKING = False  # ``typing`` (~8 ms of imports) for annotations only
if TYPE_CHECKING:
    from typing import Any


class Value:
    """Anything an op can take as an operand.  ``type`` is fixed at creation."""

    type: Type


@records.node
class FrameState:
    """The interpreter's frame at the start of bytecode instruction ``site`` -- like a debugger's
    snapshot: ``site`` indexes the instructions of the original code as ``bytecode`` lists them
    (``name`` is that instruction's, to check), ``locals`` are the bound locals and ``stack`` the
    value stack (bottom first), both as ``build``'s abstract values (an ``ir.Value``, a tuple, a
    range, a known global, the NULL of a call).  Resuming there re-executes the instruction."""

    site: int
    name: str
    locals: tuple[tuple[str, object], ...]
    stack: tuple[object, ...]


@records.node
class Param(Value):
    """The function's ``index``-th positional parameter."""

    index: int
    name: str
    type: Type


@records.node
class GlobalParam(Value):
    """The current value of a module global (or ``math`` constant), passed in by the entry
    after its guard checked the type.  ``index`` is its position in ``Unit.globals``."""

    index: int
    name: str
    type: Type


@records.node
class BlockParam(Value):
    """The ``index``-th parameter of a block (a phi)."""

    index: int
    type: Type


class Op(Value):
    """An instruction producing a value.  ``visit`` names the ``OpVisitor`` method; ``state``
    is where the interpreter resumes if it bails; ``effect`` says it changes visible objects."""

    visit: str = ""
    lineno: int
    state: FrameState | None = None
    effect: bool = False

    def operands(self) -> tuple[Value, ...]:
        return ()

    def accept(self, visitor: OpVisitor) -> Any:
        return getattr(visitor, self.visit)(self)


@records.node
class Const(Value):
    """A literal int (fits i64), float, bool or None of ``type``; an operand, not an op."""

    value: object
    type: Type
    lineno: int = 0


@records.node
class Binary(Op):
    """``left op right`` with Python's semantics; ``type`` is ``numeric.binary_type``."""

    op: str
    left: Value
    right: Value
    type: Type
    lineno: int = 0
    visit = "visit_binary"

    def operands(self) -> tuple[Value, ...]:
        return (self.left, self.right)


@records.node
class Unary(Op):
    """``op operand`` for ``- + ~ not``; ``type`` is ``numeric.unary_type``."""

    op: str
    operand: Value
    type: Type
    lineno: int = 0
    visit = "visit_unary"

    def operands(self) -> tuple[Value, ...]:
        return (self.operand,)


@records.node
class Compare(Op):
    """``left op right`` for ``< <= == != > >=``; always ``bool``, never bails."""

    op: str
    left: Value
    right: Value
    lineno: int = 0
    type: Type = BOOL
    visit = "visit_compare"

    def operands(self) -> tuple[Value, ...]:
        return (self.left, self.right)


@records.node
class Truth(Op):
    """``bool(operand)`` for a scalar operand."""

    operand: Value
    lineno: int = 0
    type: Type = BOOL
    visit = "visit_truth"

    def operands(self) -> tuple[Value, ...]:
        return (self.operand,)


@records.node
class Convert(Op):
    """Widen ``operand`` to ``type`` exactly (bool -> int, where Python treats a bool as an int)."""

    operand: Value
    type: Type
    lineno: int = 0
    visit = "visit_convert"

    def operands(self) -> tuple[Value, ...]:
        return (self.operand,)


@records.node
class Select(Op):
    """``if_true if cond else if_false``; both arms have ``type``; no Python truth test."""

    cond: Value
    if_true: Value
    if_false: Value
    type: Type
    lineno: int = 0
    visit = "visit_select"

    def operands(self) -> tuple[Value, ...]:
        return (self.cond, self.if_true, self.if_false)


@records.node
class CallBuiltin(Op):
    """A numeric builtin or math function (``numeric.call_type`` names, e.g. ``"math.sqrt"``)."""

    name: str
    args: tuple[Value, ...]
    type: Type
    lineno: int = 0
    visit = "visit_call_builtin"

    def operands(self) -> tuple[Value, ...]:
        return self.args


@records.node
class CallDirect(Op):
    """A native call of another compiled function of the same unit (recursion included).
    Globals are passed implicitly (the unit shares them).  A callee that bails makes this op
    bail (the call is redone from ``state``); a callee that deoptimized returns the object the
    interpreter computed, and the caller resumes from ``after`` (the next instruction, with
    ``result``, an ``OBJECT``, on top of the stack).  ``effect`` when the callee has effects."""

    callee: FunctionIR
    args: tuple[Value, ...]
    type: Type
    after: FrameState | None = None
    result: Value | None = None
    lineno: int = 0
    visit = "visit_call_direct"

    def operands(self) -> tuple[Value, ...]:
        return self.args


@records.node
class CallObject(Op):
    """A call without arguments of a Python object the unit guards by identity, like a C call
    through a function pointer: ``callee`` is one ``api.object_call`` accepts (C code that
    returns an exact ``type`` and never raises: ``random.random``); ``name`` says which.  An
    effect: it changes the state behind it (the generator's)."""

    name: str
    callee: object
    type: Type
    lineno: int = 0
    effect = True
    visit = "visit_call_object"


@records.node
class MakeTuple(Op):
    """A tuple value from scalar or tuple items; ``type`` is their ``TupleType``."""

    items: tuple[Value, ...]
    lineno: int = 0
    type: Type = TupleType(())
    visit = "visit_make_tuple"

    def __post_init__(self) -> None:
        self.type = TupleType(tuple(item.type for item in self.items))

    def operands(self) -> tuple[Value, ...]:
        return self.items


@records.node
class TupleGet(Op):
    """Item ``index`` of a tuple value."""

    tuple: Value
    index: int
    lineno: int = 0
    type: Type = INT
    visit = "visit_tuple_get"

    def __post_init__(self) -> None:
        self.type = self.tuple.type.items[self.index]

    def operands(self) -> tuple[Value, ...]:
        return (self.tuple,)


@records.node
class Resumed(Value):
    """The object a deoptimized callee returned (``CallDirect.result``): only resume points
    read it, and they consume the reference."""

    type: Type = OBJECT


@records.node
class TupleIndex(Op):
    """``tuple[index]`` of a tuple whose items all have type ``type``, at an index known only
    at run time (negative counts from the end); bails when it is out of range (python raises
    IndexError)."""

    tuple: Value
    index: Value
    type: Type
    lineno: int = 0
    visit = "visit_tuple_index"

    def operands(self) -> tuple[Value, ...]:
        return (self.tuple, self.index)


@records.node
class ListLen(Op):
    """``len(list)`` of a ``LIST`` value; never bails."""

    list: Value
    lineno: int = 0
    type: Type = INT
    visit = "visit_list_len"

    def operands(self) -> tuple[Value, ...]:
        return (self.list,)


@records.node
class ListGet(Op):
    """``list[index]`` (negative indices count from the end), the item unboxed as ``type`` (the
    list type's speculated item type); bails when the index is out of range (Python raises
    IndexError) or the item is not exactly of that type."""

    list: Value
    index: Value
    type: Type
    lineno: int = 0
    visit = "visit_list_get"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.index)


@records.node
class NewList(Op):
    """``[items...]``: a new list (kept alive by the call until it returns) of boxed items."""

    items: tuple[Value, ...]
    type: Type
    lineno: int = 0
    visit = "visit_new_list"

    def operands(self) -> tuple[Value, ...]:
        return self.items


@records.node
class ListRepeat(Op):
    """``list * count``: a new list (``count`` <= 0 gives ``[]``), kept alive like ``NewList``."""

    list: Value
    count: Value
    type: Type
    lineno: int = 0
    visit = "visit_list_repeat"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.count)


@records.node
class NewLocalList(Op):
    """``[item] * count`` as a ``LocalListType`` (``local_lists``): a buffer of ``max(count,
    0)`` copies of the unboxed ``item``, freed when the call returns; bails (a miss) where
    CPython could not allocate the list.  ``ListGet``/``ListStore``/``ListLen`` of a local
    list read and write the buffer: a read needs no type check, a store is no effect."""

    item: Value
    count: Value
    type: Type
    lineno: int = 0
    visit = "visit_new_local_list"

    def operands(self) -> tuple[Value, ...]:
        return (self.item, self.count)


@records.node
class ArrayGet(Op):
    """``array[i]`` / ``array[i, j]`` (negative indices count from the end of their axis), the
    element as ``type``; bails when an index is out of bounds (numpy raises IndexError)."""

    array: Value
    indices: tuple[Value, ...]
    type: Type
    lineno: int = 0
    visit = "visit_array_get"

    def operands(self) -> tuple[Value, ...]:
        return (self.array, *self.indices)


@records.node
class ArraySet(Op):
    """``array[indices] = item`` (``item`` already of the element type); bails before storing
    when an index is out of bounds or the array is read-only; produces ``None``."""

    array: Value
    indices: tuple[Value, ...]
    item: Value
    lineno: int = 0
    type: Type = NONE
    effect = True
    visit = "visit_array_set"

    def operands(self) -> tuple[Value, ...]:
        return (self.array, *self.indices, self.item)


@records.node
class ArrayDim(Op):
    """``array.shape[axis]``; never bails."""

    array: Value
    axis: int
    lineno: int = 0
    type: Type = INT
    visit = "visit_array_dim"

    def operands(self) -> tuple[Value, ...]:
        return (self.array,)


@records.node
class ListAppend(Op):
    """``list.append(item)``: ``item`` (a scalar or tuple) is boxed; produces ``None``."""

    list: Value
    item: Value
    lineno: int = 0
    type: Type = NONE
    effect = True
    visit = "visit_list_append"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.item)


@records.node
class ListReduce(Op):
    """``sum(list)``, ``min(list)`` or ``max(list)`` (``name``), computed by CPython's own
    builtin once every item is checked to be an exact int, float or bool (so the builtin runs
    no Python code: exact, pure); bails if an item is anything else, if the builtin raises
    (``min`` of an empty list) or if the result is not a ``type``.  ``list`` may also be a
    tuple of numbers: the builtin gets it boxed."""

    name: str
    list: Value
    type: Type
    lineno: int = 0
    visit = "visit_list_reduce"

    def operands(self) -> tuple[Value, ...]:
        return (self.list,)


@records.node
class ListContains(Op):
    """``item in list`` by CPython's ``PySequence_Contains`` once every item is checked to be an
    exact int, float or bool; bails on another item, or when ``item`` is a float NaN (only the
    interpreter knows whether it is the very object in the list)."""

    list: Value
    item: Value
    lineno: int = 0
    type: Type = BOOL
    visit = "visit_list_contains"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.item)


@records.node
class ListPop(Op):
    """``list.pop(index)``: bails before changing anything when the index is out of range
    (python raises IndexError) or the item is not a ``type``; then removes it (an effect)."""

    list: Value
    index: Value
    type: Type
    lineno: int = 0
    effect = True
    visit = "visit_list_pop"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.index)


@records.node
class ListSlice(Op):
    """``list[start:stop:step]``, a new list: ``start``/``stop`` are ints or ``None`` constants,
    adjusted as python does (``PySlice_Unpack`` and ``PySlice_AdjustIndices``); bails when
    ``step`` is zero (python raises ValueError)."""

    list: Value
    start: Value
    stop: Value
    step: Value
    type: Type
    lineno: int = 0
    visit = "visit_list_slice"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.start, self.stop, self.step)


@records.node
class Refine(Op):
    """The same list as ``operand`` with a narrower item speculation ``type`` (a list made
    empty, once something was appended): no code, like a cast.  Items are still checked at
    every read, so a refinement can never make a result wrong."""

    operand: Value
    type: Type
    lineno: int = 0
    visit = "visit_refine"

    def operands(self) -> tuple[Value, ...]:
        return (self.operand,)


@records.node
class ListStore(Op):
    """``list[index] = item`` (negative indices count from the end); bails before storing when
    the index is out of range (Python raises IndexError); produces ``None``."""

    list: Value
    index: Value
    item: Value
    lineno: int = 0
    type: Type = NONE
    effect = True
    visit = "visit_list_store"

    def operands(self) -> tuple[Value, ...]:
        return (self.list, self.index, self.item)


@records.node
class BailIf(Op):
    """Bail out when ``cond`` (bool) is true: Python would raise here.  Produces ``None``."""

    cond: Value
    reason: str
    lineno: int = 0
    type: Type = NONE
    visit = "visit_bail_if"

    def operands(self) -> tuple[Value, ...]:
        return (self.cond,)


class Terminator:
    """Ends a block.  ``visit`` names the ``OpVisitor`` method; ``state`` as for ``Op``."""

    visit: str = ""
    lineno: int
    state: FrameState | None = None

    def accept(self, visitor: OpVisitor) -> Any:
        return getattr(visitor, self.visit)(self)

    def jumps(self) -> tuple[Jump, ...]:
        """The edges it may take (none: the call ends)."""
        return ()

    def operands(self) -> tuple[Value, ...]:
        """The values it reads, its jumps' arguments included."""
        return ()


@records.node
class Jump(Terminator):
    """Go to ``target`` passing ``args`` (one per target parameter, same types)."""

    target: BasicBlock
    args: tuple[Value, ...]
    lineno: int = 0
    visit = "visit_jump"

    def jumps(self) -> tuple[Jump, ...]:
        return (self,)

    def operands(self) -> tuple[Value, ...]:
        return self.args


@records.node
class Branch(Terminator):
    """Go to ``if_true`` or ``if_false`` on the bool ``cond``."""

    cond: Value
    if_true: Jump
    if_false: Jump
    lineno: int = 0
    visit = "visit_branch"

    def jumps(self) -> tuple[Jump, ...]:
        return (self.if_true, self.if_false)

    def operands(self) -> tuple[Value, ...]:
        return (self.cond, *self.if_true.args, *self.if_false.args)


@records.node
class Return(Terminator):
    """Return ``value``; its type equals ``FunctionIR.return_type``."""

    value: Value
    lineno: int = 0
    visit = "visit_return"

    def operands(self) -> tuple[Value, ...]:
        return (self.value,)


@records.node
class TailCall(Terminator):
    """``return <this function>(args)`` (``addend`` None), or ``return addend <op>
    <this function>(args)``, as the next iteration of the running native call: a back edge to
    the function's start with ``args`` for its parameters, like a C compiler's tail-recursion
    elimination.  ``addend`` is folded into the call's accumulator, which every ``Return``
    combines with its value (``FunctionIR.accumulator`` names the operator).  Made by
    ``tailcalls``, which proves it exact; bails where the call would (past the native depth)
    and where ``op`` would (overflow)."""

    args: tuple[Value, ...]
    addend: Value | None = None
    lineno: int = 0
    state: FrameState | None = None
    visit = "visit_tail_call"

    def operands(self) -> tuple[Value, ...]:
        return self.args if self.addend is None else (*self.args, self.addend)


@records.node
class Bail(Terminator):
    """Give the call back to the interpreter (Python would raise, or the result's type differs
    from the compiled return type)."""

    reason: str
    lineno: int = 0
    state: FrameState | None = None
    visit = "visit_bail"


@records.node
class BasicBlock:
    """A version of bytecode block ``origin`` (or a helper block): params, ops, terminator."""

    label: int
    origin: int | None
    params: list[BlockParam] = records.factory(list)
    ops: list[Op] = records.factory(list)
    terminator: Terminator | None = None


@records.node
class FunctionIR:
    """One function for one signature.  ``symbol`` is its LLVM name within the unit;
    ``accumulator`` the operator of its ``TailCall`` addends, if it has any."""

    name: str
    symbol: str
    params: list[Param]
    blocks: list[BasicBlock] = records.factory(list)
    return_type: Type | None = None
    accumulator: str | None = None

    def new_block(self, origin: int | None) -> BasicBlock:
        block = BasicBlock(len(self.blocks), origin)
        self.blocks.append(block)
        return block

    def straight_work(self) -> int | None:
        """``None`` when a call may loop or calls another function natively (``CallDirect``);
        else how many operations the function holds: the most a call of it from the
        interpreter can save by running natively (moves between representations, ``_FREE``,
        cost the interpreter nothing either)."""
        ops = [op for block in self.blocks for op in block.ops]
        if any(isinstance(op, CallDirect) for op in ops) or has_cycle(self.blocks[0]):
            return None
        return sum(not isinstance(op, _FREE) for op in ops)


def has_cycle(entry: BasicBlock) -> bool:
    """Whether the control flow from ``entry`` has a cycle (depth-first, an edge back to a
    block still on the path)."""
    on_path: set[int] = {entry.label}
    done: set[int] = set()
    stack = [(entry, iter(_successors(entry)))]
    while stack:
        block, successors = stack[-1]
        following = next(successors, None)
        if following is None:
            stack.pop()
            on_path.discard(block.label)
            done.add(block.label)
        elif following.label in on_path:
            return True
        elif following.label not in done:
            on_path.add(following.label)
            stack.append((following, iter(_successors(following))))
    return False


def _successors(block: BasicBlock) -> list[BasicBlock]:
    return [jump.target for jump in block.terminator.jumps()] if block.terminator else []


class OpVisitor:
    """Base of IR consumers: one method per op and terminator class (see each ``visit``)."""

    def visit_binary(self, op: Binary) -> Any: ...
    def visit_unary(self, op: Unary) -> Any: ...
    def visit_compare(self, op: Compare) -> Any: ...
    def visit_truth(self, op: Truth) -> Any: ...
    def visit_convert(self, op: Convert) -> Any: ...
    def visit_select(self, op: Select) -> Any: ...
    def visit_call_builtin(self, op: CallBuiltin) -> Any: ...
    def visit_call_direct(self, op: CallDirect) -> Any: ...
    def visit_call_object(self, op: CallObject) -> Any: ...
    def visit_make_tuple(self, op: MakeTuple) -> Any: ...
    def visit_tuple_get(self, op: TupleGet) -> Any: ...
    def visit_tuple_index(self, op: TupleIndex) -> Any: ...
    def visit_list_len(self, op: ListLen) -> Any: ...
    def visit_list_get(self, op: ListGet) -> Any: ...
    def visit_new_list(self, op: NewList) -> Any: ...
    def visit_list_repeat(self, op: ListRepeat) -> Any: ...
    def visit_new_local_list(self, op: NewLocalList) -> Any: ...
    def visit_list_append(self, op: ListAppend) -> Any: ...
    def visit_refine(self, op: Refine) -> Any: ...
    def visit_list_reduce(self, op: ListReduce) -> Any: ...
    def visit_list_contains(self, op: ListContains) -> Any: ...
    def visit_list_slice(self, op: ListSlice) -> Any: ...
    def visit_list_pop(self, op: ListPop) -> Any: ...
    def visit_array_get(self, op: ArrayGet) -> Any: ...
    def visit_array_set(self, op: ArraySet) -> Any: ...
    def visit_array_dim(self, op: ArrayDim) -> Any: ...
    def visit_list_store(self, op: ListStore) -> Any: ...
    def visit_bail_if(self, op: BailIf) -> Any: ...
    def visit_jump(self, op: Jump) -> Any: ...
    def visit_branch(self, op: Branch) -> Any: ...
    def visit_return(self, op: Return) -> Any: ...
    def visit_tail_call(self, op: TailCall) -> Any: ...
    def visit_bail(self, op: Bail) -> Any: ...


def const_type(value: object) -> Type | None:
    """The IR type of a literal, or None when it is not a native scalar (or an int past i64)."""
    kind = {bool: BOOL, float: FLOAT, type(None): NONE, int: INT}.get(type(value))
    if kind is INT and not -(2**63) <= value < 2**63:
        return None
    return kind


class _Printer(OpVisitor):
    """Renders the ops of ``fn`` as text; value names are ``%n`` numbered in order of first
    definition."""

    def __init__(self, fn: FunctionIR) -> None:
        self.fn = fn
        self.names: dict[int, str] = {}
        self.counter = itertools.count()

    def name(self, value: Value) -> str:
        if isinstance(value, Param):
            return value.name
        if isinstance(value, GlobalParam):
            return f"@{value.name}"
        if isinstance(value, Const):
            return repr(value.value)
        if id(value) not in self.names:
            self.names[id(value)] = f"%{next(self.counter)}"
        return self.names[id(value)]

    def args(self, values: tuple[Value, ...]) -> str:
        return ", ".join(map(self.name, values))

    def visit_binary(self, op: Binary) -> str:
        return f"{self.name(op.left)} {op.op} {self.name(op.right)}"

    def visit_unary(self, op: Unary) -> str:
        return f"{op.op} {self.name(op.operand)}"

    visit_compare = visit_binary

    def visit_truth(self, op: Truth) -> str:
        return f"truth {self.name(op.operand)}"

    def visit_convert(self, op: Convert) -> str:
        return f"convert {self.name(op.operand)}"

    def visit_select(self, op: Select) -> str:
        return f"select {self.args(op.operands())}"

    def visit_call_builtin(self, op: CallBuiltin) -> str:
        return f"call {op.name}({self.args(op.args)})"

    def visit_call_direct(self, op: CallDirect) -> str:
        return f"call_direct {op.callee.symbol}({self.args(op.args)})"

    def visit_call_object(self, op: CallObject) -> str:
        return f"call_object {op.name}()"

    def visit_make_tuple(self, op: MakeTuple) -> str:
        return f"tuple ({self.args(op.items)})"

    def visit_tuple_get(self, op: TupleGet) -> str:
        return f"{self.name(op.tuple)}[{op.index}]"

    def visit_tuple_index(self, op: TupleIndex) -> str:
        return f"{self.name(op.tuple)}[{self.name(op.index)}]"

    def visit_list_len(self, op: ListLen) -> str:
        return f"len {self.name(op.list)}"

    def visit_list_get(self, op: ListGet) -> str:
        return f"{self.name(op.list)}[{self.name(op.index)}]"

    def visit_new_list(self, op: NewList) -> str:
        return f"list [{self.args(op.items)}]"

    def visit_list_repeat(self, op: ListRepeat) -> str:
        return f"{self.name(op.list)} * {self.name(op.count)}"

    def visit_array_get(self, op: ArrayGet) -> str:
        return f"{self.name(op.array)}[{self.args(op.indices)}]"

    def visit_array_set(self, op: ArraySet) -> str:
        return f"{self.name(op.array)}[{self.args(op.indices)}] = {self.name(op.item)}"

    def visit_array_dim(self, op: ArrayDim) -> str:
        return f"{self.name(op.array)}.shape[{op.axis}]"

    def visit_new_local_list(self, op: NewLocalList) -> str:
        return f"local [{self.name(op.item)}] * {self.name(op.count)}"

    def visit_list_append(self, op: ListAppend) -> str:
        return f"append {self.args(op.operands())}"

    def visit_refine(self, op: Refine) -> str:
        return f"refine {self.name(op.operand)}"

    def visit_list_reduce(self, op: ListReduce) -> str:
        return f"{op.name} {self.name(op.list)}"

    def visit_list_contains(self, op: ListContains) -> str:
        return f"{self.name(op.item)} in {self.name(op.list)}"

    def visit_list_pop(self, op: ListPop) -> str:
        return f"pop {self.name(op.list)}[{self.name(op.index)}]"

    def visit_list_slice(self, op: ListSlice) -> str:
        ends = ":".join(self.name(v) for v in (op.start, op.stop, op.step))
        return f"{self.name(op.list)}[{ends}]"

    def visit_list_store(self, op: ListStore) -> str:
        return f"{self.name(op.list)}[{self.name(op.index)}] = {self.name(op.item)}"

    def visit_bail_if(self, op: BailIf) -> str:
        return f"bail_if {self.name(op.cond)}  # {op.reason}"

    def visit_jump(self, op: Jump) -> str:
        return f"block{op.target.label}({self.args(op.args)})"

    def visit_branch(self, op: Branch) -> str:
        return (
            f"branch {self.name(op.cond)}, "
            f"{self.visit_jump(op.if_true)}, {self.visit_jump(op.if_false)}"
        )

    def visit_return(self, op: Return) -> str:
        return f"return {self.name(op.value)}"

    def visit_tail_call(self, op: TailCall) -> str:
        call = f"{self.fn.symbol}({self.args(op.args)})"
        if op.addend is None:
            return f"tail_call {call}"
        return f"tail_call {self.name(op.addend)} {self.fn.accumulator} {call}"

    def visit_bail(self, op: Bail) -> str:
        return f"bail  # {op.reason}"


def format_function(fn: FunctionIR) -> str:
    """The IR of ``fn`` as text (deterministic: same function, same text)."""
    printer = _Printer(fn)
    params = ", ".join(f"{p.name}: {p.type}" for p in fn.params)
    lines = [f"def {fn.symbol}({params}) -> {fn.return_type}:"]
    for block in fn.blocks:
        bparams = ", ".join(f"{printer.name(p)}: {p.type}" for p in block.params)
        origin = "" if block.origin is None else f"  # bytecode block {block.origin}"
        lines.append(f"  block{block.label}({bparams}):{origin}")
        for op in block.ops:
            text = op.accept(printer)
            if isinstance(op, BailIf):
                lines.append(f"    {text}")
            else:
                lines.append(f"    {printer.name(op)} = {text} : {op.type}")
        if block.terminator is not None:
            lines.append(f"    {block.terminator.accept(printer)}")
    return "\n".join(lines)


#: Ops that move a value between representations: the interpreter does no work for them.
_FREE = (Convert, Truth, Refine, Select, MakeTuple, TupleGet, BailIf)
