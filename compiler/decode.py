"""Decode: one code object -> basic blocks of version-neutral instructions.

In: a ``CodeType`` (the original, un-instrumented code of the function).
Out: ``Blocks``: a list of ``Block`` (index 0 is the entry) whose instructions are ``Instr``
values from the neutral set of ``opcodes`` (branch targets are block indices), each with its
source line and its *site* (the index of the original instruction it came from among the
instructions ``bytecode`` lists, the address ``deopt`` resumes at), plus the set of locals
live on entry to each block (used by ``build`` so that a
dead local never splits a block into type versions).

``dis`` does the per-version work of finding jump targets and skipping CACHE entries
(``instructions``, which ``osr`` reads too; ``bytecode``, ~30 ms of imports, is not needed to
compile a function); ``opcodes.translate`` does the rest.  An instruction outside the subset is
kept as ``UNSUPPORTED`` so that the builder rejects the function only if the path is reachable.
"""

from __future__ import annotations

import dis
from types import CodeType

from pyfast.compiler import opcodes, records

#: Neutral ops after which control never falls through to the next block.
TERMINATORS = frozenset({"JUMP", "RETURN", "UNSUPPORTED"})
#: Neutral ops whose argument holds a jump target (block index) as described in ``opcodes``.
BRANCHES = frozenset({"BRANCH", "BRANCH_NONE", "BRANCH_OR_POP"})
#: Versioned instructions after which control never falls through (a name missing from a
#: version never matches).
NO_FALLTHROUGH = frozenset(
    {
        "RETURN_VALUE",
        "RETURN_CONST",
        "RAISE_VARARGS",
        "RERAISE",
        "JUMP_FORWARD",
        "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT",
        "JUMP_NO_INTERRUPT",
        "JUMP",
    }
)
#: Opcodes whose argument is a jump target.
JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


@records.value
class Op:
    """One versioned instruction as ``dis`` lists it, ``EXTENDED_ARG`` folded in."""

    start: int  # offset of the first code unit, EXTENDED_ARG prefix included
    name: str
    opcode: int
    arg: int | None
    argval: object
    lineno: int | None


def instructions(code: CodeType) -> list[Op]:
    """The instructions of ``code``, without ``EXTENDED_ARG`` and ``CACHE`` entries: position
    ``k`` is the *site* ``k`` (the ``bytecode`` library lists the same instructions)."""
    ops: list[Op] = []
    prefix: int | None = None
    for ins in dis.get_instructions(code):
        if ins.opname == "EXTENDED_ARG":
            prefix = ins.offset if prefix is None else prefix
            continue
        if ins.opname == "CACHE":
            continue
        lineno = ins.positions.lineno if ins.positions else None
        start = ins.offset if prefix is None else prefix
        ops.append(Op(start, ins.opname, ins.opcode, ins.arg, ins.argval, lineno))
        prefix = None
    return ops


@records.value
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


@records.node
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
    blocks = _blocks(code)
    _liveness(blocks)
    return blocks


def leaders(ops: list[Op], index: dict[int, int]) -> set[int]:
    """The positions in ``ops`` (``instructions``; ``index``: start offset -> position) that
    begin a basic block by control flow: 0, every jump target, and the instruction after a
    jump or an instruction that never falls through."""
    found = {0}
    for k, op in enumerate(ops):
        if op.opcode in JUMPS:
            found.update((index[op.argval], k + 1))
        elif op.name in NO_FALLTHROUGH:
            found.add(k + 1)
    return found


def _blocks(code: CodeType) -> list[Block]:
    """Blocks start at ``leaders`` and at exception handlers (decoded, never entered: no edge
    leads there)."""
    ops = instructions(code)
    index = {op.start: k for k, op in enumerate(ops)}
    starts = leaders(ops, index)
    starts.update(index[entry.target] for entry in dis.Bytecode(code).exception_entries)
    bounds = sorted(k for k in starts if k < len(ops))
    block_at = {k: i for i, k in enumerate(bounds)}
    lineno = code.co_firstlineno
    blocks = []
    for i, (first, stop) in enumerate(zip(bounds, [*bounds[1:], len(ops)], strict=True)):
        instrs = []
        for site in range(first, stop):
            op = ops[site]
            lineno = op.lineno or lineno
            if op.opcode in JUMPS:
                arg = block_at[index[op.argval]]
            else:
                arg = opcodes.argument(op.name, op.arg, op.argval)
            for name, narg in opcodes.translate(op.name, arg):
                instrs.append(Instr(name, _retarget(name, narg, arg), lineno, site, op.name))
        blocks.append(Block(i, instrs, i + 1 if i + 1 < len(bounds) else None))
    _inline_comprehensions(blocks)
    return blocks


#: The site of an instruction the interpreter cannot be resumed at: inside an inlined
#: comprehension, or while its function object would be on the interpreter's stack.
INLINED = -1


def _inline_comprehensions(blocks: list[Block]) -> None:
    """Splice each 3.11 comprehension call (see ``opcodes``) into ``blocks``: the call becomes a
    jump into the comprehension's own blocks (locals renamed apart, its free variables the
    caller's locals), whose ``RETURN`` jumps to the rest of the calling block."""
    k = 0
    while k < len(blocks):
        block = blocks[k]
        ops = [ins.op for ins in block.instrs]
        if "MAKE_FUNCTION" not in ops:
            k += 1
            continue
        call = next(
            (j for j in range(1, len(ops)) if ops[j - 1 : j + 1] == ["GET_ITER", "CALL"]), None
        )
        make = max((j for j in range(call or 0) if ops[j] == "MAKE_FUNCTION"), default=None)
        if call is None or make is None or block.instrs[call].arg != 0:
            at = ops.index("MAKE_FUNCTION")
            reason = "a comprehension whose iterable has branches"
            block.instrs[at:] = [records.replace(block.instrs[at], op="UNSUPPORTED", arg=reason)]
            continue
        start = make - 1
        if block.instrs[make].arg & 8:  # closure: LOAD_CLOSURE .. BUILD_TUPLE n LOAD_CONST
            start -= 1 + block.instrs[make - 2].arg
        closure = [ins.arg for ins in block.instrs[start:make] if ins.op == "LOAD_CLOSURE"]
        inner = block.instrs[make - 1].arg
        tag = f"@{len(blocks)}"
        entry = len(blocks)
        body = _blocks(inner)
        cont = entry + len(body)
        names = dict(zip(inner.co_freevars, closure, strict=True))
        blocks.extend(_spliced(body, entry, cont, names, tag))
        first = block.instrs[call]
        rest = block.instrs[call + 1 :]
        hidden = [records.replace(ins, site=INLINED) for ins in block.instrs[make + 1 : call]]
        block.instrs[start:] = [
            *hidden,
            records.replace(first, op="STORE_FAST", arg=".0" + tag, site=INLINED),
            records.replace(first, op="JUMP", arg=entry, site=INLINED),
        ]
        blocks.append(Block(cont, rest, block.next))
        block.next = None


def _spliced(
    body: list[Block], offset: int, cont: int, free: dict[str, str], tag: str
) -> list[Block]:
    """``body`` renumbered from ``offset``, ``RETURN`` a jump to ``cont``; its free variables
    renamed by ``free``, its own locals suffixed with ``tag``."""
    out = []
    for block in body:
        instrs = []
        for ins in block.instrs:
            arg = ins.arg
            if ins.op in _READS | _WRITES:
                arg = free.get(arg) or arg + tag
            elif ins.op in ("JUMP", "FOR_ITER"):
                arg += offset
            elif ins.op in BRANCHES:
                arg = (arg[0], arg[1] + offset)
            op = ins.op
            if op == "RETURN":
                op, arg = "JUMP", cont
            instrs.append(records.replace(ins, op=op, arg=arg, site=INLINED))
        nxt = block.next + offset if block.next is not None else None
        out.append(Block(block.index + offset, instrs, nxt))
    return out


def _retarget(op: str, narg: object, target: object) -> object:
    if op in BRANCHES:
        return (narg[0], target)
    return narg


_READS = frozenset({"LOAD_FAST", "LOAD_FAST_AND_CLEAR"})
_WRITES = frozenset({"STORE_FAST", "LOAD_FAST_AND_CLEAR"})


def _liveness(blocks: list[Block]) -> None:
    uses: list[set[str]] = []
    defs: list[set[str]] = []
    for block in blocks:
        used: set[str] = set()
        defined: set[str] = set()
        for ins in block.instrs:
            if ins.op in _READS and ins.arg not in defined:
                used.add(ins.arg)
            if ins.op in _WRITES:
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
