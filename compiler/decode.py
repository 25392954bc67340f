"""Decode: one code object -> basic blocks of version-neutral instructions.

In: a ``CodeType`` (the original, un-instrumented code of the function).
Out: ``Blocks``: a list of ``Block`` (index 0 is the entry) whose instructions are ``Instr``
values from the neutral set of ``opcodes`` (branch targets are block indices), each with its
source line and its *site* (the index of the original instruction it came from among the
instructions ``bytecode`` lists, the address ``deopt`` resumes at), plus the set of locals
live on entry to each block (used by ``build`` so that a
dead local never splits a block into type versions).

The ``bytecode`` library does the per-version work of finding jump targets and dropping
CACHE entries; ``opcodes.translate`` does the rest.  An instruction outside the subset is kept
as ``UNSUPPORTED`` so that the builder rejects the function only if the path is reachable.
"""

from __future__ import annotations

import dataclasses
from types import CodeType

from bytecode import BasicBlock, Bytecode, ControlFlowGraph
from pyfast.compiler import opcodes

#: Neutral ops after which control never falls through to the next block.
TERMINATORS = frozenset({"JUMP", "RETURN", "UNSUPPORTED"})
#: Neutral ops whose argument holds a jump target (block index) as described in ``opcodes``.
BRANCHES = frozenset({"BRANCH", "BRANCH_NONE", "BRANCH_OR_POP"})


@dataclasses.dataclass(frozen=True)
class Instr:
    """One neutral instruction.  ``arg`` of a jump holds block indices instead of labels;
    ``site`` and ``name`` are the index and name of the original instruction."""

    op: str
    arg: object
    lineno: int
    site: int = -1
    name: str = ""

    def __str__(self) -> str:
        return f"{self.op} {self.arg!r}" if self.arg is not None else self.op


@dataclasses.dataclass
class Block:
    """A straight-line run of instructions; ``next`` is the fall-through block (or None)."""

    index: int
    instrs: list[Instr]
    next: int | None
    live_in: frozenset[str] = frozenset()

    def successors(self) -> list[int]:
        out = [target for target in map(_target, self.instrs) if target is not None]
        if self.next is not None and (not self.instrs or self.instrs[-1].op not in TERMINATORS):
            out.append(self.next)
        return out


def _target(instr: Instr) -> int | None:
    if instr.op in ("JUMP", "FOR_ITER"):
        return instr.arg
    if instr.op in BRANCHES:
        return instr.arg[1]
    return None


def decode(code: CodeType) -> list[Block]:
    """Basic blocks of ``code`` in neutral instructions, with live-in locals computed."""
    cfg = ControlFlowGraph.from_bytecode(Bytecode.from_code(code))
    index = {id(block): i for i, block in enumerate(cfg)}
    lineno = code.co_firstlineno
    blocks = []
    site = 0
    for i, block in enumerate(cfg):
        instrs = []
        for ins in block:
            lineno = ins.lineno or lineno
            arg = ins.arg
            if isinstance(arg, BasicBlock):
                arg = index[id(arg)]
            for op, narg in opcodes.translate(ins.name, arg):
                instrs.append(Instr(op, _retarget(op, narg, arg), lineno, site, ins.name))
            site += 1
        nxt = index[id(block.next_block)] if block.next_block is not None else None
        blocks.append(Block(i, instrs, nxt))
    _liveness(blocks)
    return blocks


def _retarget(op: str, narg: object, target: object) -> object:
    if op in BRANCHES:
        return (narg[0], target)
    return narg


def _liveness(blocks: list[Block]) -> None:
    uses: list[set[str]] = []
    defs: list[set[str]] = []
    for block in blocks:
        used: set[str] = set()
        defined: set[str] = set()
        for ins in block.instrs:
            if ins.op == "LOAD_FAST" and ins.arg not in defined:
                used.add(ins.arg)
            elif ins.op == "STORE_FAST":
                defined.add(ins.arg)
        uses.append(used)
        defs.append(defined)
    live = [frozenset[str]() for _ in blocks]
    changed = True
    while changed:
        changed = False
        for block in reversed(blocks):
            out: set[str] = set()
            for succ in block.successors():
                out |= live[succ]
            new = frozenset(uses[block.index] | (out - defs[block.index]))
            if new != live[block.index]:
                live[block.index] = new
                changed = True
    for block, names in zip(blocks, live, strict=True):
        block.live_in = names


def format_blocks(blocks: list[Block]) -> str:
    """Text listing of decoded blocks, for tests and ``--dump``."""
    lines = []
    for block in blocks:
        lines.append(f"block{block.index} (live: {', '.join(sorted(block.live_in))}):")
        lines.extend(f"    {ins}  # line {ins.lineno}" for ins in block.instrs)
        if block.next is not None and (not block.instrs or block.instrs[-1].op not in TERMINATORS):
            lines.append(f"    -> block{block.next}")
    return "\n".join(lines)
