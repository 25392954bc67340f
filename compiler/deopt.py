"""Deopt: which bails must resume the interpreter mid-function, and the code that resumes it.

In: a ``build.Unit`` whose ops carry ``ir.FrameState``s (``mark_effects``, ``dirty_blocks``);
a function's original code and the frame states of its bail sites (``ResumeCode``).
Out: the effect flags of ``CallDirect`` ops, the blocks that may be entered after an effect,
and per bail site a ``runtime.resume.ResumePoint``: how to enter the function's one resume
code -- the interpreter finishing the call from that instruction, given the frame's values.

Model (PyPy's and Cinder's guards, on a small scale).  Native code that has not changed
anything visible yet bails by returning "miss": the interpreter re-runs the whole call, with
exact tracebacks and no extra cost.  Once an effect may have happened (a list store or append,
a call of a function that has one), re-running would repeat it, so a bail *deoptimizes*: native
code boxes the frame's values and calls the ``ResumePoint`` of that instruction, whose function
is the original bytecode with new entries -- its parameters are a marker, the bound locals and
the value-stack slots; a prologue after ``RESUME`` picks the entry, pushes the slots (a
``PUSH_NULL`` for the NULL of a call sequence) and jumps to the instruction, which the
interpreter then re-executes (so an
overflowing ``+`` gives the big int, a bad index raises ``IndexError`` with python's message,
on the user's line).  Its result, or its exception, is the call's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import CodeType, FunctionType

from pyfast.compiler import build, ir, osr
from pyfast.compiler.api import Unsupported
from pyfast.compiler.decode import INLINED, instructions
from pyfast.compiler.osr import JUMP_IF_TRUE, with_entry
from pyfast.compiler.runtime.resume import ResumePoint

TYPE_CHECKING = False  # ``bytecode`` (~30 ms of imports) only when a resume code is made
if TYPE_CHECKING:
    from bytecode import Instr

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


def dirty_blocks(fir: ir.FunctionIR) -> set[int]:
    """Labels of the blocks that may be entered after an effect of the same call."""
    dirty: set[int] = set()
    work = list(fir.blocks)
    while work:
        block = work.pop()
        if block.label in dirty or any(op.effect for op in block.ops):
            for target in (jump.target for jump in block.terminator.jumps()):
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


_RESUMABLE = frozenset(
    {"tuple", "static", "RangeAbs", "IterAbs", "ListIterAbs", "ListRevIterAbs", "null"}
    | {"EnumerateAbs", "ZipAbs"}
)


def _check(value: object, where: str) -> None:
    shape = build.shape(value)
    if not isinstance(shape, tuple):
        return
    if shape[0] not in _RESUMABLE:
        raise Unsupported(f"cannot resume with {shape[0]} in {where}")
    if shape[0] == "tuple":
        for item in value.items:
            _check(item, where)


def check_resumable(state: ir.FrameState) -> None:
    """Raise ``Unsupported`` when the interpreter cannot be given the frame ``state``."""
    if state.site == INLINED:
        raise Unsupported("a bail inside a comprehension (3.11) after an effect")
    for name, value in state.locals:
        _check(value, f"local {name!r}")
    for value in state.stack:
        _check(value, "the value stack")


class ResumeCode:
    """The resume code of one compiled function, like a jump table into its bytecode: one code
    object per function, whatever the number of bail sites.  Its parameters are a marker (which
    entry), the union of the sites' locals and the deepest stack; its prologue finds the entry
    by marker (``is``), unbinds the locals that entry does not have (``DELETE_FAST``), pushes
    its stack slots (``PUSH_NULL`` for a NULL) and jumps to its instruction.

    ``point`` registers a bail site while lowering; ``make(cache)``, when the compilation
    finishes, binds every point to the resume code kept in the machine-code cache folder
    (marshaled: a later process, such as a warm run, has it without importing ``bytecode``,
    ~30 ms), else makes it (one ``bytecode`` round trip per function: ~1 ms per 100
    instructions) and keeps it there.  A failure is a compile failure, never a run-time one."""

    def __init__(
        self, func: FunctionType, code: CodeType, listener: Callable[[str], None] | None
    ) -> None:
        self.func = func
        self.code = code
        self.listener = listener
        self.entries: dict[tuple, int] = {}
        self.points: list[tuple[ResumePoint, tuple]] = []
        self._ops: list | None = None

    def point(self, state: ir.FrameState, reason: str) -> ResumePoint:
        """The ``ResumePoint`` of a bail at ``state``; ``Unsupported`` when the frame holds
        something the interpreter cannot be given, or its instruction is not the original
        code's (checked with ``dis``: the code itself is made later, see the class)."""
        check_resumable(state)
        if self._ops is None:
            self._ops = instructions(self.code)
        site, name = state.site, state.name
        if site >= len(self._ops) or (name and self._ops[site].name != name):
            raise Unsupported(f"resume point {site} ({name}) not found in the bytecode")
        names = tuple(name for name, _ in state.locals)
        nulls = tuple(value is build.NULL for value in state.stack)
        key = (state.site, state.name, names, nulls)
        self.entries.setdefault(key, len(self.entries))
        point = ResumePoint(
            tuple(build.shape(value) for _, value in state.locals),
            tuple(build.shape(value) for value in state.stack),
            reason,
            self.listener,
            self,
        )
        self.points.append((point, key))
        return point

    def make(self, cache: str | None) -> None:
        """Bind the points (see the class); ``cache``: the machine-code cache folder, or
        ``None``."""
        from pyfast.compiler.runtime import codecache

        keys = sorted(self.entries, key=self.entries.__getitem__)
        names = list(dict.fromkeys(name for key in keys for name in key[2]))
        depth = max(nulls.count(False) for *_, nulls in keys)
        code = codecache.kept_code(
            cache,
            "resume code",
            (self.code, keys, names, depth),
            (__file__, osr.__file__),  # their code makes it: ``_resume_code``, ``with_entry``
            lambda: _made(self.code, keys, names, depth),
        )
        RESUME_CODES.add(code)
        function = FunctionType(code, self.func.__globals__, self.func.__name__)
        function.__qualname__ = self.func.__qualname__
        marks = {const: const for const in code.co_consts if isinstance(const, str)}
        for point, key in self.points:
            mark = marks[f"{_MARK}{self.entries[key]}"]
            point.bind(function, mark, key[2], tuple(names), depth)


_MARK = "pyfast-resume-"


def _made(code: CodeType, keys: list[tuple], names: list[str], depth: int) -> CodeType:
    """``_resume_code``, its ``bytecode`` cycles collected at once (``garbage.Contained``)."""
    from pyfast.compiler.garbage import Contained

    with Contained():
        return _resume_code(code, keys, names, depth)


def _unbind(code: CodeType, name: str, location: object) -> Instr:
    """``del name`` (a cell on 3.11, where a comprehension reads the variable)."""
    from bytecode import CellVar, Instr

    if name in code.co_cellvars:
        return Instr("DELETE_DEREF", CellVar(name), location=location)
    return Instr("DELETE_FAST", name, location=location)


def _resume_code(code: CodeType, keys: list[tuple], names: list[str], depth: int) -> CodeType:
    from bytecode import Bytecode, Instr, Label

    bc = Bytecode.from_code(code)
    positions = [k for k, item in enumerate(bc) if isinstance(item, Instr)]
    labels: dict[int, Label] = {}
    for site, *_ in keys:  # each checked against ``dis`` by ``ResumeCode.point``
        labels.setdefault(site, Label())
    for site in sorted(labels, reverse=True):
        bc.insert(positions[site], labels[site])
    stack = [f".stack{k}" for k in range(depth)]

    def prologue(location: object) -> list:
        def instr(name: str, arg: object = None) -> Instr:
            return (
                Instr(name, arg, location=location)
                if arg is not None
                else Instr(name, location=location)
            )

        checks: list = []
        entries: list = []
        for k, (site, _, present, nulls) in enumerate(keys):
            entry = Label()
            checks += [instr("LOAD_FAST", ".site"), instr("LOAD_CONST", f"{_MARK}{k}")]
            checks += [instr("IS_OP", 0), instr(JUMP_IF_TRUE, entry)]
            entries.append(entry)
            entries += [_unbind(code, name, location) for name in names if name not in present]
            values = iter(stack)
            entries += [
                instr("PUSH_NULL") if null else instr("LOAD_FAST", next(values)) for null in nulls
            ]
            entries.append(instr("JUMP_FORWARD", labels[site]))
        return [*checks, instr("JUMP_FORWARD", entries[0]), *entries]

    return with_entry(bc, [".site", *names, *stack], prologue)
