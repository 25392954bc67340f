"""Tail recursion: a function's calls of itself in return position become loops.

In: a typed ``build.Unit`` whose ``CallDirect.effect`` flags are set (``deopt.mark_effects``),
after ``local_lists``.
Out: the same unit rewritten in place.  In each function that qualifies (below), a block that
ends ``r = call_direct <itself>(args); return r`` ends in ``ir.TailCall(args)``, and one that
ends ``r = call_direct <itself>(args); s = x + r; return s`` (or ``r + x``; or ``*``) ends in
``ir.TailCall(args, x)``: the call becomes the next iteration of the running native call, ``x``
folded into its accumulator, which every ``return`` combines with its value
(``FunctionIR.accumulator``).  ``fib(n - 1) + fib(n - 2)`` makes one native call where it made
two; ``gcd(b, a % b)`` makes none.  This is a C compiler's accumulator recursion elimination:
LLVM's cannot see through the overflow checks.

Why the result stays Python's exactly:

- int ``+`` and ``*`` are associative and commutative on Python's (unbounded) ints; natively
  each is checked and bails on overflow.  A native run that ends computed every intermediate
  exactly, so its result is the exact sum or product, Python's, whatever the grouping; a run
  that bails re-runs the whole call in the interpreter.  ``x`` is folded before the call's
  work instead of after it: folding is pure, and it only ever bails.  A function's addends
  share one operator (the first one found); a block with the other stays a call.
- The function is *quiet*: no op with an effect, no loop, and native calls of quiet functions
  only, so a call of it returns a value, bails or raises (status 2) -- never hands the rest of
  the call to the interpreter (status 3, ``deopt``), which would need the folded frames one by
  one.  Its parameters, ops and result are numbers, bools or None: no reference crosses an
  iteration, and nothing is made once per call (``local_lists``' buffers, the keep list).
- Each iteration counts as a call (``depth + 1``, bailing past ``entry.MAX_NATIVE_DEPTH``):
  recursion Python refuses (``RecursionError``) still reaches the interpreter.
"""

from __future__ import annotations

from pyfast.compiler import ir
from pyfast.compiler.build import Unit
from pyfast.compiler.types import INT, NONE, NUMERIC

#: The operators whose addends fold into an accumulator -> the accumulator's start.
IDENTITY = {"+": 0, "*": 1}

_SCALARS = NUMERIC | {NONE}


def rewrite(quiet_functions: list[ir.FunctionIR]) -> None:
    """Turn the tail calls of a unit's quiet functions (``quiet``) into ``ir.TailCall``."""
    for fir in quiet_functions:
        if fir.return_type in _SCALARS and all(p.type in _SCALARS for p in fir.params):
            for block in fir.blocks:
                _rewrite_block(fir, block)


def quiet(unit: Unit) -> list[ir.FunctionIR]:
    """The functions whose calls never resume the interpreter (see the module docstring): the
    largest set closed under their native calls.  Their ops make numbers only: the only
    objects their frames hold are lists passed down from the outermost call's arguments."""
    quiet = {
        fir
        for fir in unit.functions.values()
        if not ir.has_cycle(fir.blocks[0])
        and all(not op.effect and op.type in _SCALARS for block in fir.blocks for op in block.ops)
    }
    changed = True
    while changed:
        changed = False
        for fir in list(quiet):
            if any(
                isinstance(op, ir.CallDirect) and op.callee not in quiet
                for block in fir.blocks
                for op in block.ops
            ):
                quiet.discard(fir)
                changed = True
    return [fir for fir in unit.functions.values() if fir in quiet]


def _rewrite_block(fir: ir.FunctionIR, block: ir.BasicBlock) -> None:
    end, ops = block.terminator, block.ops
    if not isinstance(end, ir.Return) or not ops:
        return
    last = ops[-1]
    if _is_self_call(fir, last) and end.value is last:
        block.ops = ops[:-1]
        block.terminator = ir.TailCall(last.args, None, end.lineno, last.state)
        return
    if len(ops) < 2 or not isinstance(last, ir.Binary) or end.value is not last:
        return
    call = ops[-2]
    if not _is_self_call(fir, call) or last.op not in IDENTITY or last.type is not INT:
        return
    addend = last.left if last.right is call else last.right if last.left is call else None
    if addend in (None, call) or addend.type is not INT or fir.accumulator not in (None, last.op):
        return
    fir.accumulator = last.op
    block.ops = ops[:-2]
    block.terminator = ir.TailCall(call.args, addend, end.lineno, call.state)


def _is_self_call(fir: ir.FunctionIR, op: ir.Op) -> bool:
    return isinstance(op, ir.CallDirect) and op.callee is fir
