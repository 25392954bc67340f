"""Deopt: which bails must resume the interpreter mid-function, and the code that resumes it.

In: a ``build.Unit`` whose ops carry ``ir.FrameState``s (``mark_effects``, ``dirty_blocks``);
an original code object, a frame state and a reason (``resume_point``).
Out: the effect flags of ``CallDirect`` ops, the blocks that may be entered after an effect,
and ``runtime.resume.ResumePoint`` objects: the interpreter code that finishes a call from one
instruction, given the frame's values.

Model (PyPy's and Cinder's guards, on a small scale).  Native code that has not changed
anything visible yet bails by returning "miss": the interpreter re-runs the whole call, with
exact tracebacks and no extra cost.  Once an effect may have happened (a list store or append,
a call of a function that has one), re-running would repeat it, so a bail *deoptimizes*: native
code boxes the frame's values and calls the ``ResumePoint`` of that instruction, whose function
is the original bytecode with a new entry -- its parameters are the bound locals and the
value-stack slots; a prologue after ``RESUME`` pushes the slots (a ``PUSH_NULL`` for the NULL of
a call sequence) and jumps to the instruction, which the interpreter then re-executes (so an
overflowing ``+`` gives the big int, a bad index raises ``IndexError`` with python's message,
on the user's line).  Its result, or its exception, is the call's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import CodeType, FunctionType

from bytecode import Bytecode, Instr, Label
from pyfast.compiler import build, ir
from pyfast.compiler.api import Unsupported
from pyfast.compiler.osr import with_entry
from pyfast.compiler.runtime.resume import ResumePoint

#: Every resume code made in this process.  A traceback entry of a function directly above a
#: frame running its resume code is the dispatch that entered native code: the launcher
#: leaves it out of the tracebacks it prints, which then read as python's.
RESUME_CODES: set[CodeType] = set()


def mark_effects(unit: build.Unit) -> None:
    """Set ``CallDirect.effect`` where the callee (transitively) has an effect."""
    effectful: set[ir.FunctionIR] = set()
    changed = True
    while changed:
        changed = False
        for fir in unit.functions.values():
            if fir not in effectful and any(
                op.effect or (isinstance(op, ir.CallDirect) and op.callee in effectful)
                for block in fir.blocks
                for op in block.ops
            ):
                effectful.add(fir)
                changed = True
    for fir in unit.functions.values():
        for block in fir.blocks:
            for op in block.ops:
                if isinstance(op, ir.CallDirect):
                    op.effect = op.callee in effectful


def _targets(terminator: ir.Terminator) -> list[ir.BasicBlock]:
    if isinstance(terminator, ir.Jump):
        return [terminator.target]
    if isinstance(terminator, ir.Branch):
        return [terminator.if_true.target, terminator.if_false.target]
    return []


def dirty_blocks(fir: ir.FunctionIR) -> set[int]:
    """Labels of the blocks that may be entered after an effect of the same call."""
    dirty: set[int] = set()
    work = list(fir.blocks)
    while work:
        block = work.pop()
        if block.label in dirty or any(op.effect for op in block.ops):
            for target in _targets(block.terminator):
                if target.label not in dirty:
                    dirty.add(target.label)
                    work.append(target)
    return dirty


def flat_values(state: ir.FrameState) -> Iterator[ir.Value]:
    """The native values of ``state`` in the order ``ResumePoint`` reads them."""
    for _, value in state.locals:
        yield from build.flatten(value)
    for value in state.stack:
        yield from build.flatten(value)


_RESUMABLE = frozenset({"tuple", "static", "RangeAbs", "IterAbs", "null"})


def _check(value: object, where: str) -> None:
    shape = build.shape(value)
    if not isinstance(shape, tuple):
        return
    if shape[0] not in _RESUMABLE:
        raise Unsupported(f"cannot resume with {shape[0]} in {where}")
    if shape[0] == "tuple":
        for item in value.items:
            _check(item, where)


def resume_code(code: CodeType, state: ir.FrameState) -> CodeType:
    """``code`` entered at instruction ``state.site`` with ``state``'s locals and stack."""
    bc = Bytecode.from_code(code)
    positions = [k for k, item in enumerate(bc) if isinstance(item, Instr)]
    found = bc[positions[state.site]].name if state.site < len(positions) else None
    if found is None or (state.name and found != state.name):
        raise Unsupported(f"resume point {state.site} ({state.name}) not found in the bytecode")
    target = Label()
    bc.insert(positions[state.site], target)
    slots = [None if value is build.NULL else f".stack{k}" for k, value in enumerate(state.stack)]

    def prologue(location: object) -> list[Instr]:
        return [
            Instr("PUSH_NULL", location=location)
            if name is None
            else Instr("LOAD_FAST", name, location=location)
            for name in slots
        ]

    names = [name for name, _ in state.locals] + [name for name in slots if name is not None]
    return with_entry(bc, target, names, prologue)


def resume_point(
    func: FunctionType,
    code: CodeType,
    state: ir.FrameState,
    reason: str,
    listener: Callable[[str], None] | None,
) -> ResumePoint:
    """The ``ResumePoint`` for a bail at ``state`` in ``func`` (whose original code is ``code``);
    raises ``Unsupported`` when the frame holds something the interpreter cannot be given."""
    for name, value in state.locals:
        _check(value, f"local {name!r}")
    for value in state.stack:
        _check(value, "the value stack")
    code = resume_code(code, state)
    RESUME_CODES.add(code)
    resumed = FunctionType(code, func.__globals__, func.__name__)
    resumed.__qualname__ = func.__qualname__
    return ResumePoint(
        resumed,
        tuple(build.shape(value) for _, value in state.locals),
        tuple(build.shape(value) for value in state.stack),
        reason,
        listener,
    )
