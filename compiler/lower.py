"""Lower: typed SSA IR -> LLVM IR (``llir``) plus the METH_FASTCALL entry.

In: a ``build.Unit`` (every ``FunctionIR`` of one compilation, their guards) and its entry
function, an empty ``llir.Module`` (the JIT sets its triple and data layout), and the
listener that hears deoptimizations.
Out: the module filled with

- one internal ``{i32, T} @<symbol>(ptr obj_out, i32 depth, <params>, <unit globals>)`` per
  function, returning a status and the result of type ``T`` in registers (status 0 = the
  result is valid, 1 = bail, 2 = exception set, 3 = deoptimized: the interpreter's result is
  a new reference at ``obj_out``), direct calls between them
  passing ``depth + 1`` and bailing past ``entry.MAX_NATIVE_DEPTH`` (the interpreter then
  recurses, and raises ``RecursionError`` where Python would; the entry leaves a call near
  the recursion limit to the interpreter);
- in a function with ``ir.TailCall`` (``tailcalls``), a loop head after the entry block whose
  phis hold the parameters, the depth and the accumulator: each tail call feeds them and
  branches back, each return folds the accumulator into its value;
- at each possible bail, a branch to the single ``ret i32 1`` block where no effect can have
  happened yet in the call (``deopt.dirty_blocks``), else to a block that calls the bail's
  ``ResumePoint`` (pinned in a slot) with the frame's values and returns status 3 or 2;
- every ``POLL_INTERVAL``-th back edge of a function is a *poll*: it calls ``pyfast.poll``
  (``runtime.threads``), which may let other threads run -- allowed at call depth 0 where
  every object the frame holds is owned (an argument, or a list the call made:
  ``_borrowed``) -- and runs the signal handlers (Ctrl-C stops a native loop as it stops the
  interpreter's; status 2 when a handler raised); then, as a thread or a signal handler may
  have rebound a global number the unit read at entry, it checks those guards again
  (``entry.add_guards_changed``) and, when one no longer holds, resumes the interpreter at
  the back edge, so ``while not stop:`` sees ``stop`` set;
- a function that makes native calls counts each of its calls at its start, in one of
  ``COUNT_LANES`` counters by depth; every ``LANE_INTERVAL``-th count polls the signal handlers
  and the guards, and lets other threads run in a unit whose frames hold numbers only: a
  native recursion stops on Ctrl-C too;
- a small function that calls itself is lowered twice: its calls of itself go to the copy,
  which LLVM inlines (``INLINE_RECURSION_OPS``);
- the body ABI of ``runtime.entry``, ``i32 @<symbol>.body(ptr out, ptr obj_out, <params>,
  <globals>)`` (internal: only the entry calls it);
- the entry thunk added by ``runtime.entry.add_entry``, whose ``EntrySpec`` is returned.

Lists: a function that makes lists or stores into them has a *keep* list, made on first use
and released at every return: it owns the lists the call made, and the items its stores
replaced when those could be containers (dropping one could free a list the call still reads
through a borrowed pointer).  Items that are numbers, bools or None are dropped at once.

All scalar semantics come from ``numeric`` (never duplicated here); block parameters become
phi nodes.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable

from pyfast.compiler import deopt, ir, local_lists, numeric, tailcalls
from pyfast.compiler import llir as ll
from pyfast.compiler.api import Unsupported
from pyfast.compiler.build import Unit
from pyfast.compiler.runtime import boxing, capi, objects, resume, threads
from pyfast.compiler.runtime.entry import (
    MAX_NATIVE_DEPTH,
    STATUS_ERROR,
    STATUS_RESUMED,
    EntrySpec,
    add_entry,
    add_guards_changed,
    llvm_type,
)
from pyfast.compiler.types import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    NP_F32,
    NP_F64,
    ArrayType,
    ListType,
    LocalListType,
    TupleType,
    Type,
)

#: A recursion's calls are counted in this many counters, by depth (a power of two): one
#: count in memory updated by every call serialises the calls (recursive ``fib`` took twice
#: as long); a counter polls every ``LANE_INTERVAL``-th call.
COUNT_LANES = 64
LANE_INTERVAL = 1 << 10

#: A function that calls itself natively and holds at most this many ops is lowered twice:
#: its calls of itself go to the copy, which calls the function and which LLVM inlines
#: (``alwaysinline``), so each native call runs two levels of the recursion, like a C
#: compiler's recursive inlining (``fib``: 4.1 -> 2.9 ms; its compilation 20 -> 29 ms).
INLINE_RECURSION_OPS = 40

#: Back edges between two signal polls (a power of two).  2**16 iterations of the tightest
#: loops take well under a millisecond.
POLL_INTERVAL = 1 << 16

_I32 = ll.IntType(32)
_I64 = ll.IntType(64)
_I8 = ll.IntType(8)
_I1 = ll.IntType(1)
_PTR = ll.PointerType()
_LIST_ITEMS = 24  # offsetof(PyListObject, ob_item) on 64-bit builds, 3.11-3.13
_SSIZE_MAX = 2**63 - 1
#: Objects a keep list holds before the op that would add one bails (the interpreter then
#: finishes the call: a loop making a temporary list per iteration stays bounded in memory).
KEEP_LIMIT = 1 << 16
#: Ops after which the function needs its keep list.
_KEEPS = (ir.NewList, ir.ListRepeat, ir.ListStore, ir.ListSlice, ir.ListPop)
#: Builtins native code calls on lists of numbers (``ir.ListReduce``).
_REDUCERS = {"sum": builtins.sum, "min": builtins.min, "max": builtins.max}
#: The exact types a list item may have for ``ListReduce``/``ListContains`` to run no Python code.
_NUMBER_TYPES = ("PyLong_Type", "PyFloat_Type", "PyBool_Type")


def _result_type(fir: ir.FunctionIR) -> ll.LiteralStructType:
    """``{status, result}``: both come back in registers (no memory round trip per call)."""
    return ll.LiteralStructType([_I32, llvm_type(fir.return_type)])


def _signature(fir: ir.FunctionIR, unit: Unit) -> ll.FunctionType:
    params = [llvm_type(p.type) for p in fir.params] + [llvm_type(g.type) for g in unit.globals]
    return ll.FunctionType(_result_type(fir), [_PTR, _I32, *params])


class _Deopt:
    """What the lowering of one unit needs to make resume points: a ``deopt.ResumeCode`` per
    function (its original code, the listener) and the slots it pins."""

    def __init__(
        self, unit: Unit, listener: Callable[[str], None] | None, slots: dict[str, object]
    ) -> None:
        self.codes = {
            fir: deopt.ResumeCode(func, unit.code_of(func), listener)
            for (func, _), fir in unit.functions.items()
        }
        self.slots = slots
        self.count = 0

    def point(self, fir: ir.FunctionIR, state: ir.FrameState, reason: str) -> resume.ResumePoint:
        self.count += 1
        return self.codes[fir].point(state, reason)


class _FunctionLowering(ir.OpVisitor):
    """Emits one ``FunctionIR`` into its LLVM function."""

    def __init__(
        self,
        fir: ir.FunctionIR,
        fn: ll.Function,
        impls: dict,
        unit: Unit,
        resumes: _Deopt,
        guards_changed: ll.Function | None,
        inlined: bool = False,
        releases: bool = False,
    ) -> None:
        self.fir = fir
        self.inlined = inlined  # the function's inlined copy (``_inlines_itself``)
        self.releases = releases  # no frame of any call chain holds a borrowed object
        self.guards_changed = guards_changed
        self.borrowed = _borrowed(fir)
        self.fn = fn
        self.impls = impls
        self.resumes = resumes
        self.obj_out, self.depth, *rest = fn.args
        self.params = rest[: len(fir.params)]
        self.globals = rest[len(fir.params) :]
        self.values: dict[int, ll.Value] = {}
        self.dirty_in = deopt.dirty_blocks(fir)
        self.dirty = False  # an effect may have happened before the op being lowered
        self.current: ir.Op | ir.Terminator | None = None
        self.resume_blocks: dict[int, ll.Block] = {}  # id(frame state) -> its resume block
        self.resumed: ll.PhiInstr | None = None  # the resume sites' shared tail
        self.callees: dict[int, str] = {}  # id(CallObject.callee) -> the name of its pin
        self.cold = fn.module.add_metadata(
            [ll.MetaDataString(fn.module, "branch_weights"), _I32(1), _I32(1 << 20)]
        )
        entry = fn.append_basic_block("entry")
        self.allocas = ll.IRBuilder(entry)
        self.keep = None
        if any(_keeps(op) for block in fir.blocks for op in block.ops):
            self.keep = self.allocas.alloca(_PTR, name="keep")
            self.allocas.store(_PTR(None), self.keep)
            self.kept = self.allocas.alloca(_I64, name="kept")
            self.allocas.store(_I64(0), self.kept)
        self.blocks = {b.label: fn.append_basic_block(f"block{b.label}") for b in fir.blocks}
        self.exit = fn.append_basic_block("exit")
        self.status = self.allocas.alloca(_I32, name="status")
        result_type = _result_type(fir)
        self.result = self.allocas.alloca(result_type.elements[1], name="result")
        self.allocas.store(ll.Constant(result_type.elements[1], ll.Undefined), self.result)
        self.b = ll.IRBuilder(self.exit)
        if self.keep is not None:
            self.b.call(capi.function(fn.module, "Py_DecRef"), [self.b.load(self.keep, typ=_PTR)])
        self.buffers: dict[int, ll.Value] = {}  # id(NewLocalList) -> its buffer's slot
        for op in (op for block in fir.blocks for op in block.ops):
            if isinstance(op, ir.NewLocalList):
                slot = self.buffers[id(op)] = self.allocas.alloca(_PTR, name="buffer")
                self.allocas.store(_PTR(None), slot)
                free = capi.function(fn.module, "PyMem_Free")
                self.b.call(free, [self.b.load(slot, typ=_PTR)])
        pair = ll.Constant(result_type, ll.Undefined)
        pair = self.b.insert_value(pair, self.b.load(self.status, typ=_I32), 0)
        self.b.ret(self.b.insert_value(pair, self.b.load(self.result), 1))
        self.bail_block = fn.append_basic_block("bail")
        self.b = ll.IRBuilder(self.bail_block)
        self.ret(_I32(1))
        self.b = ll.IRBuilder(entry)
        self.ticks = self.allocas.alloca(_I32, name="ticks")
        self.allocas.store(_I32(0), self.ticks)
        self.released: ll.Value | None = None  # when the call last let other threads run (ns)
        self.label = 0  # of the block being lowered
        self.chained: set[int] = set()  # ids of the block's ops whose checks are deferred
        self.deferred: dict[int, tuple[ll.Value, ll.Block]] = {}  # id(op) -> (bail, target)
        self.accumulator: ll.PhiInstr | None = None
        self.start = self.prologue(entry)  # where the entry block goes

    def prologue(self, entry: ll.Block) -> ll.Block:
        """Where a call goes from the entry block: in a function that makes native calls, a
        count of the call (``poll_on_entry``); then, in one with tail calls, their loop head
        (``start_loop``); then block 0."""
        first = before = None
        calls = any(isinstance(op, ir.CallDirect) for block in self.fir.blocks for op in block.ops)
        if calls and not self.inlined:  # the copy's calls go to the function, which counts
            first = self.fn.append_basic_block("counted")
            self.b.position_at_end(first)
            self.poll_on_entry()
            before = self.b.block
        after = self.blocks[0]
        if any(isinstance(block.terminator, ir.TailCall) for block in self.fir.blocks):
            after = self.head = self.start_loop(before or entry)
        if first is None:
            return after
        self.b.branch(after)
        return first

    def start_loop(self, before: ll.Block) -> ll.Block:
        """A loop head entered from ``before``, going to block 0, which ``ir.TailCall``
        branches back to: the parameters, the depth and the accumulator become its phis."""
        head = self.fn.append_basic_block("tail")
        b = ll.IRBuilder(head)

        def phi(first: ll.Value) -> ll.PhiInstr:
            node = b.phi(first.type)
            node.add_incoming(first, before)
            return node

        self.params = [phi(param) for param in self.params]
        self.depth = phi(self.depth)
        if self.fir.accumulator is not None:
            self.accumulator = phi(_I64(tailcalls.IDENTITY[self.fir.accumulator]))
        b.branch(self.blocks[0])
        return head

    def run(self) -> None:
        for block in self.fir.blocks:
            self.b.position_at_end(self.blocks[block.label])
            for param in block.params:
                self.values[id(param)] = self.b.phi(llvm_type(param.type))
        self.allocas.position_at_end(self.fn.entry_basic_block)
        for block in self.fir.blocks:
            self.label = block.label
            self.dirty = block.label in self.dirty_in
            self.b.position_at_end(self.blocks[block.label])
            self.chained = _finite_chains(block)
            for op in block.ops:
                self.current = op
                if op.effect:
                    self.check_deferred()
                self.values[id(op)] = op.accept(self)
                self.dirty = self.dirty or op.effect
            self.current = block.terminator
            self.check_deferred()
            block.terminator.accept(self)
        self.allocas.branch(self.start)

    def ret(self, status: ll.Value) -> None:
        """Return ``status`` through the exit block (which releases the keep list)."""
        self.b.store(status, self.status)
        self.b.branch(self.exit)

    def fail(self) -> None:
        self.ret(_I32(STATUS_ERROR))

    def keep_object(self, obj: ll.Value) -> None:
        """Hand the reference ``obj`` to the keep list (released when the call returns)."""
        b, module = self.b, self.fn.module
        current = b.load(self.keep, typ=_PTR)
        with b.if_then(b.icmp_unsigned("==", current, _PTR(None)), likely=False):
            made = b.call(capi.function(module, "PyList_New"), [_I64(0)])
            with b.if_then(b.icmp_unsigned("==", made, _PTR(None)), likely=False):
                b.call(capi.function(module, "Py_DecRef"), [obj])
                self.fail()
            b.store(made, self.keep)
        b.store(b.add(b.load(self.kept, typ=_I64), _I64(1)), self.kept)
        self.append_owned(b.load(self.keep, typ=_PTR), obj)

    def append_owned(self, lst: ll.Value, obj: ll.Value) -> None:
        """``lst.append(obj)``, consuming the new reference ``obj`` (no memory: status 2)."""
        b, module = self.b, self.fn.module
        failed = b.call(capi.function(module, "PyList_Append"), [lst, obj])
        b.call(capi.function(module, "Py_DecRef"), [obj])
        with b.if_then(b.icmp_signed("!=", failed, _I32(0)), likely=False):
            self.fail()

    def bail_if_keep_full(self) -> None:
        kept = self.b.load(self.kept, typ=_I64)
        self.bail_unless_false(self.b.icmp_signed(">=", kept, _I64(KEEP_LIMIT)))

    def new_object(self, obj: ll.Value) -> ll.Value:
        """A new reference that the keep list takes over (NULL: the exception is set)."""
        with self.b.if_then(self.b.icmp_unsigned("==", obj, _PTR(None)), likely=False):
            self.fail()
        self.keep_object(obj)
        return obj

    def value(self, v: ir.Value) -> ll.Value:
        if isinstance(v, ir.Const):
            return llvm_type(v.type)(0 if v.type is NONE else v.value)
        if isinstance(v, ir.Param):
            return self.params[v.index]
        if isinstance(v, ir.GlobalParam):
            return self.globals[v.index]
        return self.values[id(v)]

    def checked(self, emitted: numeric.Emitted) -> ll.Value:
        if emitted.bail is not None:
            self.bail_unless_false(emitted.bail)
        return emitted.value

    def bail_unless_false(self, flag: ll.Value) -> None:
        self.cold_branch(flag, self.bail_target())

    def cold_branch(self, flag: ll.Value, target: ll.Block) -> None:
        """Go to ``target`` if ``flag`` (rarely: bails are cold), else on in a new block."""
        cont = self.fn.append_basic_block()
        self.b.cbranch(flag, target, cont).set_metadata("prof", self.cold)
        self.b.position_at_end(cont)

    def bail_target(self) -> ll.Block:
        """Where the current op bails; first, the deferred checks, in order (an earlier op
        whose result was not finite bails there instead)."""
        target = self.own_bail_target()
        if not self.deferred:
            return target
        dispatch = self.fn.append_basic_block("dispatch")
        with self.b.goto_block(dispatch):
            for cond, where in self.deferred.values():
                cont = self.fn.append_basic_block()
                self.b.cbranch(cond, where, cont)
                self.b.position_at_end(cont)
            self.b.branch(target)
        return dispatch

    def own_bail_target(self) -> ll.Block:
        """Where the current op bails: "miss" while clean, else its resume point."""
        if not self.dirty:
            return self.bail_block
        state = self.current.state
        block = self.resume_blocks.get(id(state))
        if block is None:
            block = self.resume_blocks[id(state)] = self.fn.append_basic_block("deopt")
            with self.b.goto_block(block):
                self.resume(state, _reason(self.current))
        return block

    def resume(self, state: ir.FrameState, reason: str) -> None:
        """End the current block: call the resume point of ``state``, then, in a tail every
        site of the function shares, return status 3 or 2."""
        symbol = f"{self.fn.name}.resume{self.resumes.count}"
        point = self.resumes.point(self.fir, state, f"line {self.current.lineno}: {reason}")
        b = self.b
        self.resumes.slots[symbol] = point
        point_slot = b.load(objects.slot(self.fn.module, symbol), typ=_PTR)
        values = [(v.type, self.value(v)) for v in deopt.flat_values(state)]
        result = resume.emit_call(b, point_slot, values, symbol)
        if self.resumed is None:
            tail = self.fn.append_basic_block("resumed")
            with b.goto_block(tail):
                self.resumed = b.phi(_PTR)
                with b.if_then(b.icmp_unsigned("==", self.resumed, _PTR(None)), likely=False):
                    self.fail()
                b.store(self.resumed, self.obj_out)
                self.ret(_I32(STATUS_RESUMED))
        self.resumed.add_incoming(result, b.block)
        b.branch(self.resumed.parent)

    # -- ops ----------------------------------------------------------------------------

    def visit_binary(self, op: ir.Binary) -> ll.Value:
        a, b = self.value(op.left), self.value(op.right)
        emitted = numeric.emit_binary(self.b, op.op, op.left.type, op.right.type, a, b)
        if id(op) in self.chained:
            self.deferred[id(op)] = (emitted.bail, self.bail_target())
            return emitted.value
        value = self.checked(emitted)
        self.covered(op)
        return value

    def covered(self, op: ir.Op) -> None:
        """Forget the deferred checks of ``op``'s operands (and theirs): ``op``'s own check
        failing would have caught them."""
        for operand in op.operands():
            if self.deferred.pop(id(operand), None) is not None:
                self.covered(operand)

    def check_deferred(self) -> None:
        """Branch on every deferred check, in order, before anything observable."""
        pending, self.deferred = self.deferred, {}
        for cond, target in pending.values():
            self.cold_branch(cond, target)

    def visit_unary(self, op: ir.Unary) -> ll.Value:
        v = self.value(op.operand)
        return self.checked(numeric.emit_unary(self.b, op.op, op.operand.type, v))

    def visit_compare(self, op: ir.Compare) -> ll.Value:
        a, b = self.value(op.left), self.value(op.right)
        return self.checked(numeric.emit_compare(self.b, op.op, op.left.type, op.right.type, a, b))

    def visit_truth(self, op: ir.Truth) -> ll.Value:
        return numeric.emit_truth(self.b, op.operand.type, self.value(op.operand))

    def visit_convert(self, op: ir.Convert) -> ll.Value:
        v = self.value(op.operand)
        return self.checked(numeric.emit_convert(self.b, v, op.operand.type, op.type))

    def visit_select(self, op: ir.Select) -> ll.Value:
        return self.b.select(*map(self.value, op.operands()))

    def visit_call_builtin(self, op: ir.CallBuiltin) -> ll.Value:
        types = tuple(a.type for a in op.args)
        values = [self.value(a) for a in op.args]
        return self.checked(numeric.emit_call(self.b, op.name, types, values))

    def deeper(self) -> ll.Value:
        """The depth of a call made here, bailing past ``MAX_NATIVE_DEPTH``."""
        depth = self.b.add(self.depth, _I32(1))
        self.bail_unless_false(self.b.icmp_signed(">", depth, _I32(MAX_NATIVE_DEPTH)))
        return depth

    def poll_on_entry(self) -> None:
        """At the start of a call of a function that makes native calls (so of every
        recursion's calls), count it in its depth's counter (``COUNT_LANES``); every
        ``LANE_INTERVAL``-th count there, poll: the signal handlers run (Ctrl-C stops a native
        recursion as it stops the interpreter's; status 2 when a handler raised), and other
        threads may run if the whole unit is quiet (``tailcalls.quiet``: no frame of any call
        chain holds a borrowed object, only the arguments of the outermost call; else a
        caller may hold one); then, if a handler or a thread rebound a global the unit read,
        the call bails (it has done nothing yet): the interpreter makes it with the new
        value."""
        b, module = self.b, self.fn.module
        lane = b.zext(b.and_(self.depth, _I32(COUNT_LANES - 1)), _I64)
        counts = _module_global(module, "pyfast.calls", ll.ArrayType(_I32, COUNT_LANES))
        calls = b.gep(counts, [_I64(0), lane])
        count = b.add(b.load(calls, typ=_I32), _I32(1))
        b.store(count, calls)
        due = b.icmp_unsigned("==", b.and_(count, _I32(LANE_INTERVAL - 1)), _I32(0))
        with b.if_then(due, likely=False):
            released = _PTR(None)  # when the module's recursions last let threads run (ns)
            if self.releases:
                released = _module_global(module, "pyfast.released", _I64)
            failed = b.call(threads.declare(module), [released, _I1(self.releases)])
            with b.if_then(b.icmp_signed("!=", failed, _I32(0)), likely=False):
                self.fail()
            if self.guards_changed is not None:
                self.bail_unless_false(b.call(self.guards_changed, self.globals))

    def fold(self, value: ll.Value) -> ll.Value:
        """The accumulator combined with the int ``value`` (checked: bails on overflow)."""
        op = self.fir.accumulator
        return self.checked(numeric.emit_binary(self.b, op, INT, INT, self.accumulator, value))

    def visit_call_direct(self, op: ir.CallDirect) -> ll.Value:
        b = self.b
        obj_slot = self.allocas.alloca(_PTR)
        depth = self.deeper()
        args = [obj_slot, depth, *map(self.value, op.args), *self.globals]
        pair = b.call(self.impls[op.callee], args)
        status = b.extract_value(pair, 0)
        with b.if_then(b.icmp_signed("!=", status, _I32(0)), likely=False):
            with b.if_then(b.icmp_signed("==", status, _I32(STATUS_ERROR))):
                self.fail()
            with b.if_then(b.icmp_signed("==", status, _I32(STATUS_RESUMED))):
                self.values[id(op.result)] = b.load(obj_slot, typ=_PTR)
                self.resume(op.after, f"{op.callee.name} deoptimized")
            b.branch(self.bail_target())  # the callee bailed: the call is redone
            b.position_at_end(b.append_basic_block())  # unreachable: if_then's exit branch
        result = b.extract_value(pair, 1)
        if isinstance(op.type, ListType):
            self.keep_object(result)  # the callee returned a new reference
        return result

    def visit_call_object(self, op: ir.CallObject) -> ll.Value:
        b, module = self.b, self.fn.module
        call = capi.function(module, "PyObject_Vectorcall")
        pin = self.callees.setdefault(id(op.callee), f"{op.name}.{len(self.callees)}")
        result = b.call(call, [self.pinned(pin, op.callee), _PTR(None), _I64(0), _PTR(None)])
        with b.if_then(b.icmp_unsigned("==", result, _PTR(None)), likely=False):
            self.fail()  # out of memory: the exception propagates
        value = b.call(capi.function(module, "PyFloat_AsDouble"), [result])
        b.call(capi.function(module, "Py_DecRef"), [result])
        return value

    def visit_make_tuple(self, op: ir.MakeTuple) -> ll.Value:
        result = ll.Constant(llvm_type(op.type), ll.Undefined)
        for i, item in enumerate(op.items):
            result = self.b.insert_value(result, self.value(item), i)
        return result

    def visit_tuple_get(self, op: ir.TupleGet) -> ll.Value:
        return self.b.extract_value(self.value(op.tuple), op.index)

    def visit_tuple_index(self, op: ir.TupleIndex) -> ll.Value:
        b = self.b
        tup = self.value(op.tuple)
        count = len(op.tuple.type.items)
        index, outside = _wrap_index(b, self.value(op.index), _I64(count))
        self.bail_unless_false(outside)
        item = b.extract_value(tup, count - 1)
        for i in reversed(range(count - 1)):
            item = b.select(b.icmp_signed("==", index, _I64(i)), b.extract_value(tup, i), item)
        return item

    def list_size(self, lst: ir.Value) -> ll.Value:
        return boxing.field(self.b, self.value(lst), boxing.OB_SIZE, _I64)

    def list_slot(self, op: ir.ListGet | ir.ListStore, size: ll.Value) -> tuple[ll.Value, ll.Value]:
        """The address of item ``op.index`` (negative counts from the end) and whether the
        index is out of range."""
        b = self.b
        index, outside = _wrap_index(b, self.value(op.index), size)
        items = boxing.field(b, self.value(op.list), _LIST_ITEMS, _PTR)
        return b.gep(items, [index], source_etype=_PTR), outside

    def box(self, item: ir.Value) -> ll.Value:
        return boxing.box(self.b, item.type, self.value(item), self.fail)

    def visit_list_get(self, op: ir.ListGet) -> ll.Value:
        if isinstance(op.list.type, LocalListType):
            memory, _ = _LOCAL_ITEMS[op.type]
            value = self.b.load(self.local_slot(op), typ=memory)
            return self.b.trunc(value, _I1) if op.type is BOOL else value
        address, outside = self.list_slot(op, self.list_size(op.list))
        self.bail_unless_false(outside)
        obj = self.b.load(address, typ=_PTR)
        return boxing.unbox(self.b, op.type, obj, self.guard, self.overflow())

    def guard(self, ok: ll.Value, what: str) -> None:
        self.bail_unless_false(self.b.not_(ok))

    def visit_new_list(self, op: ir.NewList) -> ll.Value:
        b, module = self.b, self.fn.module
        self.bail_if_keep_full()
        made = self.new_object(b.call(capi.function(module, "PyList_New"), [_I64(len(op.items))]))
        setitem = capi.function(module, "PyList_SetItem")
        for i, item in enumerate(op.items):
            b.call(setitem, [made, _I64(i), self.box(item)])
        return made

    def visit_list_repeat(self, op: ir.ListRepeat) -> ll.Value:
        self.bail_if_keep_full()
        repeat = capi.function(self.fn.module, "PySequence_Repeat")
        return self.new_object(self.b.call(repeat, [self.value(op.list), self.value(op.count)]))

    def visit_list_len(self, op: ir.ListLen) -> ll.Value:
        if isinstance(op.list.type, LocalListType):
            return self.b.extract_value(self.value(op.list), 1)
        return self.list_size(op.list)

    def visit_new_local_list(self, op: ir.NewLocalList) -> ll.Value:
        b = self.b
        count = self.value(op.count)
        count = b.select(b.icmp_signed("<", count, _I64(0)), _I64(0), count)
        self.bail_unless_false(b.icmp_signed(">", count, _I64(LOCAL_LIMIT)))
        memory, item_size = _LOCAL_ITEMS[op.type.item]
        size = b.mul(count, _I64(item_size))
        data = b.call(capi.function(self.fn.module, "PyMem_Malloc"), [size])
        self.bail_unless_false(b.icmp_unsigned("==", data, _PTR(None)))
        b.store(data, self.buffers[id(op)])
        item = _to_memory(b, self.value(op.item), memory)
        boxing.counted_loop(
            b, count, lambda i: b.store(item, b.gep(data, [i], source_etype=memory))
        )
        made = b.insert_value(ll.Constant(llvm_type(op.type), ll.Undefined), data, 0)
        return b.insert_value(made, count, 1)

    def local_slot(self, op: ir.ListGet | ir.ListStore) -> ll.Value:
        """The address of item ``op.index`` of a local list; bails when out of range."""
        b = self.b
        local = self.value(op.list)
        index, outside = _wrap_index(b, self.value(op.index), b.extract_value(local, 1))
        self.bail_unless_false(outside)
        memory, _ = _LOCAL_ITEMS[op.list.type.item]
        return b.gep(b.extract_value(local, 0), [index], source_etype=memory)

    def array_element(self, op: ir.ArrayGet | ir.ArraySet) -> tuple[ll.Value, ll.Value]:
        """The address of ``op``'s element (negative indices count from the end of their axis,
        strides in bytes) and whether an index is out of bounds."""
        b = self.b
        array = self.value(op.array)
        ndim = op.array.type.ndim
        offset, outside = _I64(0), _I1_FALSE
        for axis, index in enumerate(op.indices):
            size = b.extract_value(array, boxing.ARRAY_FIELDS + axis)
            i, out_of_axis = _wrap_index(b, self.value(index), size)
            outside = b.or_(outside, out_of_axis)
            stride = b.extract_value(array, boxing.ARRAY_FIELDS + ndim + axis)
            offset = b.add(offset, b.mul(i, stride))
        data = b.extract_value(array, boxing.ARRAY_POINTER)
        return b.gep(data, [offset], source_etype=_I8), outside

    def visit_array_get(self, op: ir.ArrayGet) -> ll.Value:
        address, outside = self.array_element(op)
        self.bail_unless_false(outside)
        return boxing.load_item(self.b, op.type, address)

    def visit_array_set(self, op: ir.ArraySet) -> ll.Value:
        b = self.b
        address, outside = self.array_element(op)
        ndim = op.array.type.ndim
        writeable = b.extract_value(self.value(op.array), boxing.ARRAY_FIELDS + 2 * ndim)
        self.bail_unless_false(b.or_(outside, b.not_(writeable)))
        boxing.store_item(b, op.item.type, self.value(op.item), address)
        return _I1_FALSE

    def visit_array_dim(self, op: ir.ArrayDim) -> ll.Value:
        return self.b.extract_value(self.value(op.array), boxing.ARRAY_FIELDS + op.axis)

    def visit_list_append(self, op: ir.ListAppend) -> ll.Value:
        self.append_owned(self.value(op.list), self.box(op.item))
        return _I1_FALSE

    def pinned(self, name: str, obj: object) -> ll.Value:
        """A load of ``obj``'s address (pinned in a slot of this function's own)."""
        symbol = f"{self.fn.name}.{name}"
        module = self.fn.module
        var = module.globals.get(symbol) or objects.slot(module, symbol)
        self.resumes.slots[symbol] = obj
        return self.b.load(var, typ=_PTR)

    def bail_unless_numbers(self, lst: ir.Value) -> None:
        """Bail unless every item of ``lst`` is exactly an int, a float or a bool."""
        b = self.b
        items = boxing.field(b, self.value(lst), _LIST_ITEMS, _PTR)

        def check(index: ll.Value) -> None:
            item = b.load(b.gep(items, [index], source_etype=_PTR), typ=_PTR)
            number = functools.reduce(b.or_, (boxing.is_type(b, item, t) for t in _NUMBER_TYPES))
            self.bail_unless_false(b.not_(number))

        boxing.counted_loop(b, self.list_size(lst), check)

    def visit_list_reduce(self, op: ir.ListReduce) -> ll.Value:
        b, module = self.b, self.fn.module
        if isinstance(op.list.type, TupleType):  # of numbers: a new tuple of them
            sequence = self.box(op.list)
        else:
            self.bail_unless_numbers(op.list)
            sequence = self.value(op.list)
        args = self.allocas.alloca(_PTR)
        b.store(sequence, args)
        call = capi.function(module, "PyObject_Vectorcall")
        result = b.call(call, [self.pinned(op.name, _REDUCERS[op.name]), args, _I64(1), _PTR(None)])
        if isinstance(op.list.type, TupleType):
            b.call(capi.function(module, "Py_DecRef"), [sequence])
        self.bail_after(b.icmp_unsigned("==", result, _PTR(None)), "PyErr_Clear")  # min([])
        value = boxing.unbox(
            b,
            op.type,
            result,
            lambda ok, what: self.bail_after(b.not_(ok), "Py_DecRef", result),
            self.overflow(),
        )
        b.call(capi.function(module, "Py_DecRef"), [result])
        return value

    def bail_after(self, cond: ll.Value, cleanup: str, obj: ll.Value | None = None) -> None:
        """Bail if ``cond``, calling the C-API function ``cleanup`` first: ``PyErr_Clear`` after
        a call that raised (the interpreter re-runs the instruction and raises it itself), or
        ``Py_DecRef`` of a new reference ``obj``."""
        b = self.b
        with b.if_then(cond, likely=False):
            b.call(capi.function(self.fn.module, cleanup), [] if obj is None else [obj])
            b.branch(self.bail_target())
            b.position_at_end(b.append_basic_block())  # unreachable: if_then's exit branch

    def overflow(self) -> ll.Value:
        """An i32 slot for ``PyLong_AsLongAndOverflow``."""
        return self.allocas.alloca(_I32)

    def visit_list_contains(self, op: ir.ListContains) -> ll.Value:
        b, module = self.b, self.fn.module
        item = self.value(op.item)
        if isinstance(item.type, ll.DoubleType | ll.FloatType):  # a NaN finds only itself
            self.bail_unless_false(b.fcmp_unordered("uno", item, item))
        self.bail_unless_numbers(op.list)
        boxed = self.box(op.item)
        found = b.call(capi.function(module, "PySequence_Contains"), [self.value(op.list), boxed])
        b.call(capi.function(module, "Py_DecRef"), [boxed])
        self.bail_after(b.icmp_signed("<", found, _I32(0)), "PyErr_Clear")
        return b.icmp_signed("==", found, _I32(1))

    def visit_list_slice(self, op: ir.ListSlice) -> ll.Value:
        b = self.b
        step = self.value(op.step)
        self.bail_unless_false(b.icmp_signed("==", step, _I64(0)))
        self.bail_if_keep_full()
        size = self.list_size(op.list)
        backwards = b.icmp_signed("<", step, _I64(0))
        start = self.slice_end(op.start, size, backwards, (_I64(0), _I64(_SSIZE_MAX)))
        stop = self.slice_end(op.stop, size, backwards, (_I64(_SSIZE_MAX), _I64(-_SSIZE_MAX - 1)))
        high, low = b.select(backwards, start, stop), b.select(backwards, stop, start)
        floor = _I64(-_SSIZE_MAX)  # PySlice_Unpack: -step must not overflow
        magnitude = b.neg(b.select(b.icmp_signed("<", step, floor), floor, step))
        magnitude = b.select(backwards, magnitude, step)
        count = b.add(b.sdiv(b.sub(b.sub(high, low), _I64(1)), magnitude), _I64(1))
        count = b.select(b.icmp_signed("<", low, high), count, _I64(0))
        made = self.new_object(b.call(capi.function(self.fn.module, "PyList_New"), [count]))
        source = boxing.field(b, self.value(op.list), _LIST_ITEMS, _PTR)
        target = boxing.field(b, made, _LIST_ITEMS, _PTR)

        def copy(i: ll.Value) -> None:
            item = b.load(
                b.gep(source, [b.add(start, b.mul(i, step))], source_etype=_PTR), typ=_PTR
            )
            b.store(boxing.incref(b, item), b.gep(target, [i], source_etype=_PTR))

        boxing.counted_loop(b, count, copy)
        return made

    def slice_end(
        self,
        end: ir.Value,
        size: ll.Value,
        backwards: ll.Value,
        defaults: tuple[ll.Value, ll.Value],
    ) -> ll.Value:
        """A slice's start or stop as ``PySlice_Unpack`` and ``PySlice_AdjustIndices`` make it:
        ``None`` is the first ``defaults`` going forwards, the second going backwards; a
        negative index counts from the end; then clamped to the list (-1 backwards)."""
        b = self.b
        if end.type is NONE:
            i = b.select(backwards, defaults[1], defaults[0])
        else:
            i = self.value(end)
        low = b.select(backwards, _I64(-1), _I64(0))
        high = b.select(backwards, b.sub(size, _I64(1)), size)
        wrapped = b.add(i, size)
        wrapped = b.select(b.icmp_signed("<", wrapped, _I64(0)), low, wrapped)
        return b.select(
            b.icmp_signed("<", i, _I64(0)),
            wrapped,
            b.select(b.icmp_signed(">=", i, size), high, i),
        )

    def visit_list_pop(self, op: ir.ListPop) -> ll.Value:
        b, module = self.b, self.fn.module
        lst = self.value(op.list)
        index, outside = _wrap_index(b, self.value(op.index), self.list_size(op.list))
        self.bail_unless_false(outside)
        items = boxing.field(b, lst, _LIST_ITEMS, _PTR)
        obj = b.load(b.gep(items, [index], source_etype=_PTR), typ=_PTR)
        value = boxing.unbox(b, op.type, obj, self.guard, self.overflow())
        if isinstance(op.type, ListType):
            self.bail_if_keep_full()
        boxing.incref(b, obj)  # removing the item drops the list's reference
        removed = b.call(
            capi.function(module, "PyList_SetSlice"),
            [lst, index, b.add(index, _I64(1)), _PTR(None)],
        )
        if isinstance(op.type, ListType):
            self.keep_object(obj)  # native code may still read it
        else:
            b.call(capi.function(module, "Py_DecRef"), [obj])
        with b.if_then(b.icmp_signed("!=", removed, _I32(0)), likely=False):
            self.fail()
        return value

    def visit_refine(self, op: ir.Refine) -> ll.Value:
        return self.value(op.operand)

    def visit_list_store(self, op: ir.ListStore) -> ll.Value:
        if isinstance(op.list.type, LocalListType):
            memory, _ = _LOCAL_ITEMS[op.item.type]
            self.b.store(_to_memory(self.b, self.value(op.item), memory), self.local_slot(op))
            return _I1_FALSE
        if op.item.type in (BOOL, NONE):
            return self.store_singleton(op)
        if op.item.type is not FLOAT:
            return self.replace_item(op)
        b = self.b
        address, outside = self.list_slot(op, self.list_size(op.list))
        self.bail_unless_false(outside)
        old = b.load(address, typ=_PTR)
        alone = b.icmp_signed("==", b.load(old, typ=_I64), _I64(1))
        with b.if_else(b.and_(boxing.is_type(b, old, "PyFloat_Type"), alone)) as (reuse, other):
            with reuse:  # the list holds the only reference: no one can tell the float changed
                b.store(self.value(op.item), b.gep(old, [_I64(boxing.OB_FVAL)], source_etype=_I8))
            with other:
                self.replace_item(op)
        return _I1_FALSE

    def store_singleton(self, op: ir.ListStore) -> ll.Value:
        """Store ``True``, ``False`` or ``None``; storing the object the slot already holds
        changes nothing (no reference moves), so it is skipped."""
        b = self.b
        address, outside = self.list_slot(op, self.list_size(op.list))
        self.bail_unless_false(outside)
        new = boxing.singleton(b, op.item.type, self.value(op.item))
        with b.if_then(b.icmp_unsigned("!=", b.load(address, typ=_PTR), new)):
            self.replace_item(op)
        return _I1_FALSE

    def replace_item(self, op: ir.ListStore) -> ll.Value:
        """Store a new reference to the boxed item; release or keep the one it replaces."""
        b, module = self.b, self.fn.module
        self.bail_if_keep_full()
        boxed = self.box(op.item)  # first: boxing may run finalizers that change the list
        address, outside = self.list_slot(op, self.list_size(op.list))
        self.bail_after(outside, "Py_DecRef", boxed)
        old = b.load(address, typ=_PTR)
        b.store(boxed, address)
        singleton = _I1_FALSE
        for name in boxing.SINGLETONS:
            singleton = b.or_(singleton, boxing.is_object(b, old, name))
        number = b.or_(
            boxing.is_type(b, old, "PyFloat_Type"), boxing.is_type(b, old, "PyLong_Type")
        )
        with b.if_else(singleton) as (release, other):
            with release:
                boxing.release_singleton(b, old)
            with other:
                with b.if_else(number) as (drop, keep):
                    with drop:
                        b.call(capi.function(module, "Py_DecRef"), [old])
                    with keep:
                        self.keep_object(old)
        return _I1_FALSE

    def visit_bail_if(self, op: ir.BailIf) -> ll.Value:
        self.bail_unless_false(self.value(op.cond))
        return _I1_FALSE

    # -- terminators --------------------------------------------------------------------

    def edge(self, jump: ir.Jump) -> ll.Block:
        """The LLVM block to branch to for ``jump``, phis fed from the current block."""
        for param, arg in zip(jump.target.params, jump.args, strict=True):
            self.values[id(param)].add_incoming(self.value(arg), self.b.block)
        return self.blocks[jump.target.label]

    def poll_on_back_edge(self, *jumps: ir.Jump) -> None:
        """Count a back edge among ``jumps``; every ``POLL_INTERVAL``-th, poll (see the module
        docstring): other threads, signals, the guards."""
        if all(j.target.label > self.label for j in jumps):
            return
        b, module = self.b, self.fn.module
        ticks = b.add(b.load(self.ticks, typ=_I32), _I32(1))
        b.store(ticks, self.ticks)
        due = b.icmp_unsigned("==", b.and_(ticks, _I32(POLL_INTERVAL - 1)), _I32(0))
        state = self.current.state
        values = _frame_values(state)
        with b.if_then(due, likely=False):
            if self.released is None:
                self.released = self.allocas.alloca(_I64, name="released")
                self.allocas.store(_I64(0), self.released)
            owned = values is not None and not any(id(v) in self.borrowed for v in values)
            may_release = b.and_(_I1(owned), b.icmp_signed("==", self.depth, _I32(0)))
            failed = b.call(threads.declare(module), [self.released, may_release])
            with b.if_then(b.icmp_signed("!=", failed, _I32(0)), likely=False):
                self.fail()
            if self.guards_changed is not None:
                self.leave_if_guards_changed(state, values)

    def leave_if_guards_changed(
        self, state: ir.FrameState | None, values: list[ir.Value] | None
    ) -> None:
        """At a poll: resume the interpreter at the back edge when a guard no longer holds
        (a miss while the call is clean and its frame cannot be handed over: it holds a local
        list; no check where the call can do neither)."""
        b = self.b
        if values is not None and not any(isinstance(v.type, LocalListType) for v in values):
            changed = b.call(self.guards_changed, self.globals)
            with b.if_then(changed, likely=False):
                self.resume(state, "a global changed while the loop ran")
        elif not self.dirty:
            changed = b.call(self.guards_changed, self.globals)
            self.cold_branch(changed, self.bail_block)

    def visit_jump(self, op: ir.Jump) -> None:
        self.poll_on_back_edge(op)
        self.b.branch(self.edge(op))

    def visit_branch(self, op: ir.Branch) -> None:
        self.poll_on_back_edge(op.if_true, op.if_false)
        cond = self.value(op.cond)
        if op.if_true.target is op.if_false.target:
            # Two edges to one block need distinct predecessors for the phis.
            here = self.b.block
            targets = []
            for jump in (op.if_true, op.if_false):
                self.b.position_at_end(self.fn.append_basic_block())
                targets.append(self.b.block)
                self.visit_jump(jump)
            self.b.position_at_end(here)
            self.b.cbranch(cond, *targets)
            return
        self.b.cbranch(cond, self.edge(op.if_true), self.edge(op.if_false))

    def visit_return(self, op: ir.Return) -> None:
        value = self.value(op.value)
        if self.accumulator is not None:
            value = self.fold(value)
        if isinstance(op.value.type, ListType):
            boxing.incref(self.b, value)  # the caller gets a new reference
        self.b.store(value, self.result)
        self.ret(_I32(0))

    def visit_tail_call(self, op: ir.TailCall) -> None:
        depth = self.deeper()
        args = list(map(self.value, op.args))
        accumulator = self.accumulator
        if op.addend is not None:
            accumulator = self.fold(self.value(op.addend))
        here = self.b.block
        for phi, value in zip(self.params, args, strict=True):
            phi.add_incoming(value, here)
        self.depth.add_incoming(depth, here)
        if accumulator is not None:
            self.accumulator.add_incoming(accumulator, here)
        self.b.branch(self.head)

    def visit_bail(self, op: ir.Bail) -> None:
        self.b.branch(self.bail_target())


_I1_FALSE = ll.IntType(1)(0)


#: How a local list stores its items (type, bytes): a bool as a byte, like C's ``bool``.
_LOCAL_ITEMS: dict[Type, tuple[ll.Type, int]] = {
    BOOL: (_I8, 1),
    INT: (_I64, 8),
    FLOAT: (ll.DoubleType(), 8),
}
#: The most items of a local list; a longer one (2 GiB as a CPython list) is left to the
#: interpreter, which knows whether the memory for the real list is there (MemoryError).
LOCAL_LIMIT = 2**28


def _inlines_itself(fir: ir.FunctionIR) -> bool:
    """Whether ``fir`` calls itself natively and is small (``INLINE_RECURSION_OPS``)."""
    ops = [op for block in fir.blocks for op in block.ops]
    return len(ops) <= INLINE_RECURSION_OPS and any(
        isinstance(op, ir.CallDirect) and op.callee is fir for op in ops
    )


def _module_global(module: ll.Module, name: str, typ: ll.Type) -> ll.GlobalVariable:
    """The module's internal global ``name`` of ``typ``, zeroed, made on first use."""
    var = module.globals.get(name)
    if var is None:
        var = ll.GlobalVariable(module, typ, name)
        var.linkage = "internal"
        var.initializer = ll.Constant(typ, None)
    return var


def _to_memory(b: ll.IRBuilder, value: ll.Value, memory: ll.Type) -> ll.Value:
    return b.zext(value, memory) if value.type == _I1 else value


#: numpy float operations whose result is not finite when an operand is not, each checked by
#: ``numeric`` for a result that is not finite (numpy warns), and the operand types that need
#: no conversion (which could bail on its own).
_FINITE_CHAIN_OPS = frozenset("+-*")
_FINITE_CHAIN_OPERANDS = {NP_F64: (NP_F64, FLOAT), NP_F32: (NP_F32,)}


def _finite_chains(block: ir.BasicBlock) -> set[int]:
    """The ops of ``block`` whose finiteness check can wait for their one user's (a ``+ - *``
    of numpy floats -- its result is not finite if this one is not): ``x * y + z`` branches
    once.  Where anything bails before the check, the deferred ones are tested first, in
    order (``bail_target``); before an effect they are branched on (``check_deferred``)."""

    def chainable(op: object) -> bool:
        operands = _FINITE_CHAIN_OPERANDS.get(getattr(op, "type", None), ())
        return (
            isinstance(op, ir.Binary)
            and op.op in _FINITE_CHAIN_OPS
            and op.left.type in operands
            and op.right.type in operands
        )

    users: dict[int, list[object]] = {}
    for op in block.ops:
        for operand in op.operands():
            users.setdefault(id(operand), []).append(op)
    for value in block.terminator.operands():
        users.setdefault(id(value), []).append(block.terminator)
    return {
        id(op)
        for op in block.ops
        if chainable(op) and len(users.get(id(op), ())) == 1 and chainable(users[id(op)][0])
    }


def _wrap_index(b: ll.IRBuilder, index: ll.Value, size: ll.Value) -> tuple[ll.Value, ll.Value]:
    """A negative ``index`` counted from the end, and whether it is outside ``[0, size)``."""
    index = b.select(b.icmp_signed("<", index, _I64(0)), b.add(index, size), index)
    return index, b.icmp_unsigned(">=", index, size)


def _frame_values(state: ir.FrameState | None) -> list[ir.Value] | None:
    """The native values of the frame ``state`` describes; ``None`` when it cannot be
    described (the interpreter could not be given it)."""
    if state is None:
        return None
    try:
        deopt.check_resumable(state)
    except Unsupported:
        return None
    return list(deopt.flat_values(state))


#: Ops whose result (a new list) the call owns: its keep list holds it.
_OWNED = (ir.NewList, ir.ListRepeat, ir.ListSlice)


def _borrowed(fir: ir.FunctionIR) -> set[int]:
    """The ids of ``fir``'s values that may be objects the call does not own (an item read
    from a list, ...): another thread could free them while the GIL is released.  Its
    parameters are owned at depth 0, by the caller's frame; a block parameter is borrowed
    when one of its incoming values is."""
    borrowed = {
        id(op)
        for block in fir.blocks
        for op in block.ops
        if _holds_objects(op.type)
        and not isinstance(op, _OWNED)
        and not (isinstance(op, ir.CallDirect) and isinstance(op.type, ListType))
    }
    changed = True
    while changed:
        changed = False
        for block in fir.blocks:
            for jump in block.terminator.jumps():
                for param, arg in zip(jump.target.params, jump.args, strict=True):
                    if id(arg) in borrowed and id(param) not in borrowed:
                        borrowed.add(id(param))
                        changed = True
    return borrowed


def _holds_objects(t: Type) -> bool:
    if isinstance(t, TupleType):
        return any(_holds_objects(item) for item in t.items)
    return llvm_type(t) == _PTR or isinstance(t, ArrayType)


def _keeps(op: ir.Op) -> bool:
    return isinstance(op, _KEEPS) or (
        isinstance(op, ir.CallDirect) and isinstance(op.type, ListType)
    )


def _reason(where: ir.Op | ir.Terminator) -> str:
    """Why ``where`` bails, for the report."""
    reason = getattr(where, "reason", None)
    if reason is not None:
        return reason
    what = getattr(where, "op", None) or getattr(where, "name", None)
    if isinstance(where, ir.ListStore):
        return "list index out of range"
    if isinstance(where, ir.ListGet):
        return f"list index out of range or the item is not {where.type}"
    if isinstance(where, ir.ArrayGet | ir.ArraySet):
        return "array index out of bounds or a read-only array"
    if isinstance(where, ir.CallDirect):
        return f"{where.callee.name} bailed"
    return f"{what} left the native range or raises"


def lower_unit(
    module: ll.Module,
    unit: Unit,
    main: ir.FunctionIR,
    listener: Callable[[str], None] | None = None,
    caller_globals: dict | None = None,
    entered_once: bool = False,
) -> EntrySpec:
    """Fill ``module`` with the unit's functions, the ABI body of ``main`` and its entry;
    ``listener(reason)`` hears every deoptimization; ``caller_globals`` and ``entered_once``:
    see ``add_entry``."""
    deopt.mark_effects(unit)
    for fir in unit.functions.values():
        local_lists.rewrite(fir)
    deopt.mark_effects(unit)
    quiet = tailcalls.quiet(unit)
    tailcalls.rewrite(quiet)
    releases = main in quiet  # then so is every function of the unit
    impls = {}
    for fir in unit.functions.values():
        impls[fir] = ll.Function(module, _signature(fir, unit), fir.symbol)
        impls[fir].linkage = "internal"
    resumes = _Deopt(unit, listener, {})
    guards_changed = None
    if unit.globals:
        name = f"{main.symbol}.guards_changed"
        guards_changed, slots = add_guards_changed(module, unit.guards, name)
        resumes.slots.update(slots)
    for fir in unit.functions.values():
        targets = impls
        if _inlines_itself(fir):
            copy = ll.Function(module, _signature(fir, unit), f"{fir.symbol}.inlined")
            copy.linkage = "internal"
            copy.attributes.add("alwaysinline")
            _FunctionLowering(fir, copy, impls, unit, resumes, guards_changed, True).run()
            targets = {**impls, fir: copy}
        _FunctionLowering(
            fir, impls[fir], targets, unit, resumes, guards_changed, releases=releases
        ).run()
    params: list[Type] = [p.type for p in main.params]
    globals_ = [llvm_type(g.type) for g in unit.globals]
    body_type = ll.FunctionType(_I32, [_PTR, _PTR, *(llvm_type(t) for t in params), *globals_])
    body = ll.Function(module, body_type, f"{main.symbol}.body")
    body.linkage = "internal"  # inlined into the entry (unless ``entered_once``)
    out, obj_out, *rest = body.args
    b = ll.IRBuilder(body.append_basic_block("entry"))
    pair = b.call(impls[main], [obj_out, _I32(0), *rest])
    b.store(b.extract_value(pair, 1), out)
    b.ret(b.extract_value(pair, 0))
    name = f"{main.symbol}.entry"
    calls = any(
        isinstance(step, (ir.CallDirect, ir.TailCall))
        for fir in unit.functions.values()
        for block in fir.blocks
        for step in (*block.ops, block.terminator)
    )
    spec = add_entry(
        module,
        body,
        params,
        main.return_type,
        unit.guards,
        name,
        caller_globals,
        entered_once,
        calls,
    )
    spec.slots.update(resumes.slots)
    return spec


def format_unit(unit: Unit) -> str:
    """The IR of every function of the unit, for ``CompiledFunction.ir_text``."""
    return "\n\n".join(ir.format_function(fir) for fir in unit.functions.values())
