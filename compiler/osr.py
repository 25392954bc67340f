"""On-stack replacement: run the rest of a running call natively from a hot loop header.

In: an original (un-instrumented) function, one of its loop headers, and -- at run time -- the
values its frame holds there (the live locals and the ``range`` iterators of the enclosing
``for`` loops).
Out: ``LoopHeader`` descriptions (``loop_headers``), a *continuation* function that performs
"the rest of the call from header H" (``make_continuation``), native code for it
(``prepare_loop``, through the ordinary ``prepare_function``), the trampoline the loop probe
calls (``enter``), and the probe the hook plants on back edges (``plant_probes``).

The transformation
------------------
A continuation is the original bytecode with a new entry.  Its parameters are the locals live
at H followed by the state of each enclosing ``for`` loop's iterator, outermost first:
``(start, stop, step)`` for a ``range`` iterator, ``(list, index)`` for a list iterator.  The
locals keep their names (``co_varnames`` is reordered so they come first), so the body reads
them where it always did; a prologue after ``RESUME`` rebuilds every iterator as
``iter(range(start, stop, step))`` -- the same ``LOAD_GLOBAL range / CALL / GET_ITER`` pattern a
normal ``for i in range(...)`` compiles to -- or as ``iter(list)`` moved on by
``__setstate__(index)`` (``build`` knows that call), and jumps to H.  Locals dead at H stay unbound,
which is exact because every path from H writes them before reading them.  The original entry
code stays in the code object but is unreachable.

A ``range`` whose step the source fixes (``range(a, b)``, or ``range(a, b, 2)`` with a
constant step: ``LoopHeader.steps``) is rebuilt with that step as a constant, as in the
original call: the native loop then knows its direction and stride (seed_sum's runs 2.5x
faster than with a step it reads from a parameter).  ``entry_args`` refuses an iterator with
another step (``range`` rebound in the module after the header was compiled).

Why a miss is exact
-------------------
The interpreter's frame is never touched: the probe *copies* the locals and the iterator
objects, and ``iterator_state`` reads an iterator's position without advancing it.  A compiled
continuation is a pure native body (no Python objects, no side effects, see ``runtime.entry``), so
when it returns ``miss`` -- a guard failed, an int left 64 bits, a condition that raises in
Python -- nothing observable has happened: the probe discards the miss and the interpreter
continues the loop from H with its own, untouched locals and iterators.  When it returns a
value, that value is what the rest of the call returns, and the probe returns it from the frame.

Header contract
---------------
At a header the value stack holds exactly the iterators of the enclosing ``for`` loops
(innermost on top).  ``loop_headers`` checks this with a stack-depth analysis and refuses
(``LoopHeader.reason``) a header where anything else is on the stack (``with`` blocks,
comprehensions inlined by 3.12+), a local that is live at H but may be unbound when a back edge
reaches H, generators, and functions whose locals are captured by inner functions.
"""

from __future__ import annotations

import bisect
import builtins
import dis
import functools
import operator
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import CodeType, FunctionType

from pyfast.compiler import records
from pyfast.compiler.api import cells_inlined
from pyfast.compiler.decode import JUMPS, NO_FALLTHROUGH, Op, instructions, leaders
from pyfast.compiler.opcodes import jumps_backward

TYPE_CHECKING = False  # ``bytecode`` (~50 ms) is imported only to edit code: headers need ``dis``
if TYPE_CHECKING:
    from bytecode import Bytecode, Instr, Label

RANGE_STATE = (int, int, int)
"""The signature types of one range iterator's ``(start, stop, step)`` parameters."""
LIST_STATE = (list, int)
"""The signature types of one list iterator's ``(list, index)`` parameters."""

_RANGE_ITERATORS = (type(iter(range(0))), type(iter(range(2**64))))
_LIST_ITERATOR = type(iter([]))


def _next_indexed(r: range, index: int | None) -> int:
    return r.start + index * r.step


def _next_rebased(r: range, index: int | None) -> int:
    return r.start


@records.value
class _Version:
    """What differs between CPython versions, for everything this module emits or reads."""

    precall: bool
    """3.11 puts ``PRECALL n`` before ``CALL n``."""
    jump_if_true: str
    """The forward "pop and jump if true" opcode."""
    jump_if_none: str
    """The forward "pop and jump if None" opcode."""
    jump_if_not_none: str
    """The forward "pop and jump if not None" opcode."""
    null_before_callable: bool
    """``PUSH_NULL`` goes under the callable (3.11, 3.12) or above it (3.13)."""
    load_local: str
    """The load used by the probe: ``LOAD_FAST`` checks boundness only up to 3.11."""
    range_next: Callable[[range, int | None], int]
    """``(range, index)`` from a range iterator's ``__reduce__`` -> the next value it yields:
    3.11 reduces to the original range and an index, 3.12+ to ``range(next, stop, step)``."""
    method: Callable[[str], tuple[str, object]]
    """A method load: ``LOAD_METHOD name`` (3.11) or ``LOAD_ATTR (True, name)``."""


_VERSIONS = {
    (3, 11): _Version(
        True,
        "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        True,
        "LOAD_FAST",
        _next_indexed,
        lambda name: ("LOAD_METHOD", name),
    ),
    (3, 12): _Version(
        False,
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        True,
        "LOAD_FAST_CHECK",
        _next_rebased,
        lambda name: ("LOAD_ATTR", (True, name)),
    ),
    (3, 13): _Version(
        False,
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        False,
        "LOAD_FAST_CHECK",
        _next_rebased,
        lambda name: ("LOAD_ATTR", (True, name)),
    ),
}
_V = _VERSIONS[sys.version_info[:2]]
JUMP_IF_TRUE = _V.jump_if_true

# Opcode names by role; a name missing from a version simply never matches.
#: Local-variable ops by effect; the cell ops are those of 3.11 functions whose cells only
#: inlined comprehensions read (``api.cells_inlined``: cells of any other function refuse OSR).
_READS = frozenset(
    {"LOAD_FAST", "LOAD_FAST_CHECK", "DELETE_FAST", "LOAD_FAST_LOAD_FAST"}
    | {"LOAD_DEREF", "LOAD_CLOSURE", "DELETE_DEREF"}
)
_WRITES = frozenset({"STORE_FAST", "STORE_FAST_STORE_FAST", "STORE_DEREF"})
_UNBINDS = frozenset({"DELETE_FAST", "LOAD_FAST_AND_CLEAR", "DELETE_DEREF"})
_LOCAL_OPS = _READS | _WRITES | _UNBINDS | {"STORE_FAST_LOAD_FAST"}
_UNSUPPORTED_FLAGS = (
    ("generator", 0x20),  # CO_GENERATOR
    ("coroutine", 0x80),  # CO_COROUTINE
    ("async generator", 0x200),  # CO_ASYNC_GENERATOR
    ("iterable coroutine", 0x100),  # CO_ITERABLE_COROUTINE
)
_ARG_FLAGS = 0x04 | 0x08  # CO_VARARGS | CO_VARKEYWORDS


class OsrUnsupported(Exception):
    """This header cannot be entered mid-call; ``reason`` says why."""


@records.value
class LoopHeader:
    """One loop header of an original code object.

    ``key`` is the offset in the original ``co_code`` of the header instruction (the target of
    the back edges, including its ``EXTENDED_ARG`` prefix: the offset ``dis`` shows as the jump
    target).  ``iterators`` is how many ``for``-loop iterators are on the value stack there
    (innermost on top).  ``locals`` are the locals live at H, in ``co_varnames`` order: the
    continuation's first parameters.  ``back_edges`` are the offsets of the jumps that close the
    loop.  ``reason`` is ``None`` when OSR can enter here, else why not.  ``steps``, per
    iterator: the step of a ``range`` the source fixes (``_fixed_step``), else ``None``.
    """

    key: int
    lineno: int | None
    iterators: int
    locals: tuple[str, ...]
    back_edges: tuple[int, ...]
    reason: str | None = None
    steps: tuple[int | None, ...] = ()


def _local_names(code: CodeType) -> tuple[str, ...]:
    """``co_varnames`` then the cells that are not parameters (3.11 keeps those apart)."""
    return code.co_varnames + tuple(c for c in code.co_cellvars if c not in code.co_varnames)


def _names(op: Op) -> tuple[str, ...]:
    return op.argval if isinstance(op.argval, tuple) else (op.argval,)


def _effects(op: Op, slot: Mapping[str, int], saved: int) -> tuple[int, int, int]:
    """``(reads, writes, unbinds)`` of one op as bit masks over ``co_varnames``.

    ``saved``: the locals an inlined comprehension (3.12+) saves with ``LOAD_FAST_AND_CLEAR``
    and restores with a plain ``STORE_FAST`` of a value that may be "unbound": a store to one
    of those never proves it bound."""
    names = _names(op) if op.name in _LOCAL_OPS else ()
    bits = [1 << slot[n] if n in slot else 0 for n in names]  # 3.13 cells are not varnames
    if op.name == "STORE_FAST_LOAD_FAST":  # stores the first, then loads the second
        return bits[1] & ~bits[0], bits[0] & ~saved, 0
    mask = functools.reduce(operator.or_, bits, 0)  # LOAD_FAST_LOAD_FAST may name one twice
    reads = mask if op.name in _READS else 0
    writes = mask & ~saved if op.name in _WRITES else 0
    unbinds = mask if op.name in _UNBINDS else 0
    return reads, writes, unbinds


@records.node
class _Flow:
    """Control flow of one code object: ops, basic blocks, and stack depths."""

    ops: list[Op]
    index: dict[int, int]  # start offset -> position in ops
    depth: list[int | None]  # value-stack depth before each op (None: unreachable)
    blocks: list[range]  # op positions of each basic block
    block_at: list[int]  # op position -> its block
    succ: list[list[int]]  # normal successor blocks
    handler: list[int | None]  # the exception handler block covering each block


def _flow(code: CodeType) -> _Flow:
    ops = instructions(code)
    index = {op.start: k for k, op in enumerate(ops)}
    starts = [op.start for op in ops]
    cover: list[int | None] = [None] * len(ops)
    handler_depth: dict[int, int] = {}
    for entry in dis.Bytecode(code).exception_entries:
        target = index[entry.target]
        handler_depth[target] = entry.depth + int(entry.lasti) + 1
        lo, hi = bisect.bisect_left(starts, entry.start), bisect.bisect_left(starts, entry.end)
        cover[lo:hi] = [target] * (hi - lo)
    starts = leaders(ops, index) | handler_depth.keys()
    starts.update(k for k in range(1, len(ops)) if cover[k] != cover[k - 1])
    bounds = sorted(b for b in starts if b < len(ops)) + [len(ops)]
    blocks = [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    block_at = [b for b, r in enumerate(blocks) for _ in r]
    succ: list[list[int]] = []
    for r in blocks:
        last = ops[r.stop - 1]
        nxt = [block_at[r.stop]] if last.name not in NO_FALLTHROUGH and r.stop < len(ops) else []
        if last.opcode in JUMPS:
            nxt.append(block_at[index[last.argval]])
        succ.append(nxt)
    handler = [None if cover[r.start] is None else block_at[cover[r.start]] for r in blocks]

    depth: list[int | None] = [None] * len(ops)
    depth[0] = 0
    work = [0]
    while work:
        k = work.pop()
        op = ops[k]
        arg = op.arg if op.opcode >= dis.HAVE_ARGUMENT else None
        edges = []
        if op.name not in NO_FALLTHROUGH and k + 1 < len(ops):
            edges.append((k + 1, dis.stack_effect(op.opcode, arg, jump=False)))
        if op.opcode in JUMPS:
            edges.append((index[op.argval], dis.stack_effect(op.opcode, arg, jump=True)))
        edges = [(s, depth[k] + effect) for s, effect in edges]
        if cover[k] is not None:
            edges.append((cover[k], handler_depth[cover[k]]))
        for s, d in edges:
            if depth[s] is None:
                depth[s] = d
                work.append(s)
    return _Flow(ops, index, depth, blocks, block_at, succ, handler)


def _live_in(flow: _Flow, effects: list[tuple[int, int, int]]) -> list[int]:
    """Per block: the locals (bit mask) that may be read before being written."""
    gen_kill = []
    for r in flow.blocks:
        gen = kill = 0
        for k in reversed(r):
            reads, writes, _ = effects[k]
            gen = reads | (gen & ~writes)
            kill |= writes
        gen_kill.append((gen, kill))
    live = [0] * len(flow.blocks)
    changed = True
    while changed:
        changed = False
        for b in range(len(flow.blocks) - 1, -1, -1):
            out = 0
            for s in flow.succ[b]:
                out |= live[s]
            gen, kill = gen_kill[b]
            new = gen | (out & ~kill)
            if flow.handler[b] is not None:
                new |= live[flow.handler[b]]
            if new != live[b]:
                live[b] = new
                changed = True
    return live


def _bound_out(flow: _Flow, effects: list[tuple[int, int, int]], params: int) -> list[int]:
    """Per block: the locals (bit mask) definitely bound at its end (all, if unreachable)."""
    transfer = []
    for r in flow.blocks:
        keep, add = -1, 0
        for k in r:
            _, writes, unbinds = effects[k]
            add = (add | writes) & ~unbinds
            keep &= ~unbinds
        transfer.append((keep, add))
    into = [-1] * len(flow.blocks)
    into[0] = params
    out = [-1] * len(flow.blocks)
    changed = True
    while changed:
        changed = False
        for b in range(len(flow.blocks)):
            keep, add = transfer[b]
            out[b] = (into[b] & keep) | add
            targets = [(s, out[b]) for s in flow.succ[b]]
            if flow.handler[b] is not None:
                targets.append((flow.handler[b], into[b] & keep))
            for s, bound in targets:
                merged = into[s] & bound if s != 0 else params
                if merged != into[s]:
                    into[s] = merged
                    changed = True
    return out


def _reachable(flow: _Flow, start: int) -> set[int]:
    seen = {start}
    work = [start]
    while work:
        b = work.pop()
        nxt = flow.succ[b] if flow.handler[b] is None else [*flow.succ[b], flow.handler[b]]
        for s in nxt:
            if s not in seen:
                seen.add(s)
                work.append(s)
    return seen


def _code_reason(code: CodeType) -> str | None:
    for what, flag in _UNSUPPORTED_FLAGS:
        if code.co_flags & flag:
            return f"OSR does not enter a {what}"
    if code.co_cellvars and not cells_inlined(code):
        return "a local is captured by an inner function (" + ", ".join(code.co_cellvars) + ")"
    if code.co_name == "<module>" or not code.co_flags & 0x02:  # CO_NEWLOCALS
        return MODULE_LEVEL_REASON
    return None


MODULE_LEVEL_REASON = "loop at module level: its variables are module globals"
"""Reason the hook reports for a loop in module (or class) body code (see docs/osr.md)."""


@functools.lru_cache(maxsize=512)
def loop_headers(code: CodeType) -> tuple[LoopHeader, ...]:
    """Every loop header of an original code object, in offset order (pure ``dis`` analysis).

    Cached per code object; cheap when the code has no backward jump."""
    if not jumps_backward(code):
        return ()
    flow = _flow(code)
    backs: dict[int, list[int]] = {}
    for k, op in enumerate(flow.ops):
        if op.opcode in JUMPS and flow.depth[k] is not None and flow.index[op.argval] <= k:
            backs.setdefault(flow.block_at[flow.index[op.argval]], []).append(k)
    code_reason = _code_reason(code)
    slot = {name: n for n, name in enumerate(_local_names(code))}
    saved = 0
    for op in flow.ops:
        if op.name == "LOAD_FAST_AND_CLEAR":
            saved |= 1 << slot[op.argval]
    effects = [_effects(op, slot, saved) for op in flow.ops]
    live = _live_in(flow, effects)
    nparams = code.co_argcount + code.co_kwonlyargcount
    nparams += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    bound = _bound_out(flow, effects, (1 << nparams) - 1)
    loops = [
        (k, flow.index[op.argval])
        for k, op in enumerate(flow.ops)
        if op.name == "FOR_ITER" and flow.depth[k] is not None
    ]
    headers = []
    for b, sources in sorted(backs.items()):
        body = _reachable(flow, b)
        sources = [s for s in sources if flow.block_at[s] in body]
        if not sources:
            continue  # a backward jump that closes no cycle (e.g. out of a cold handler)
        h = flow.blocks[b].start
        enclosing = [f for f, exit_ in loops if f <= h < exit_]
        names = tuple(n for n in slot if live[b] >> slot[n] & 1)
        reason = code_reason
        if reason is None:
            on_back_edges = -1
            for s in sources:
                on_back_edges &= bound[flow.block_at[s]]
            if flow.depth[h] != len(enclosing) or any(
                flow.depth[f] != depth for depth, f in enumerate(enclosing, 1)
            ):
                reason = "the value stack at the loop header holds more than loop iterators"
            elif unbound := [n for n in names if not on_back_edges >> slot[n] & 1]:
                reason = f"local {unbound[0]!r} may be unbound at the loop header"
        headers.append(
            LoopHeader(
                key=flow.ops[h].start,
                lineno=flow.ops[h].lineno,
                iterators=len(enclosing),
                locals=names,
                back_edges=tuple(flow.ops[s].start for s in sources),
                reason=reason,
                steps=tuple(_fixed_step(flow, f) for f in enclosing),
            )
        )
    return tuple(headers)


def _fixed_step(flow: _Flow, at: int) -> int | None:
    """The step of the iterator that the ``FOR_ITER`` at op position ``at`` runs, when the
    source fixes it: ``GET_ITER`` of a call of the global ``range`` (with its ``NULL``) with
    one or two arguments (1), or three whose last is a constant int; else ``None``.  The call's
    arguments must be straight-line code (one basic block, found by stack depths)."""
    ops, depth = flow.ops, flow.depth
    call = at - 2 - _V.precall  # [PRECALL n] CALL n; GET_ITER; FOR_ITER
    if call < 1 or ops[at - 1].name != "GET_ITER" or ops[at - 2].name != "CALL":
        return None
    n = ops[at - 2].arg
    if n not in (1, 2, 3) or depth[call] is None:
        return None
    callable_depth = depth[call] - n - 2
    g = call - 1
    while g > 0 and (depth[g] or 0) > callable_depth:
        g -= 1
    op = ops[g]
    if (
        depth[g] != callable_depth
        or depth[g + 1] != callable_depth + 2
        or flow.block_at[g] != flow.block_at[call]
        or (op.name, op.argval) != ("LOAD_GLOBAL", "range")
    ):
        return None
    if n < 3:
        return 1
    last = ops[call - 1]
    return last.argval if last.name == "LOAD_CONST" and type(last.argval) is int else None


def iterator_state(it: object) -> tuple[int, int, int] | tuple[list, int] | None:
    """Without advancing it: ``(next, stop, step)`` of a ``range`` iterator, ``(list, index)``
    of a list iterator that is not exhausted and whose list starts with a number, a list or a
    tuple (``_NATIVE_ITEMS``); else ``None``.

    ``range(next, stop, step)`` yields exactly the values ``it`` has left (``stop`` is
    normalised from the remaining count); a list iterator goes on from ``index`` of ``list``
    (``iter(list)`` then ``__setstate__(index)``: the same object, so appends stay seen)."""
    if type(it) is _LIST_ITERATOR:
        reduced = it.__reduce__()  # (iter, (list,), index), or (iter, ((),)) once exhausted
        if len(reduced) != 3 or not _native_items(reduced[1][0]):
            return None
        return reduced[1][0], reduced[2]
    if type(it) not in _RANGE_ITERATORS:
        return None
    _, (r,), index = it.__reduce__()
    start = _V.range_next(r, index)
    return start, start + it.__length_hint__() * r.step, r.step


#: What the first item of a list must be for its loop to be worth compiling (the compiler
#: speculates on it; a list of strings or objects would only be refused, after its imports).
_NATIVE_ITEMS = (int, float, bool, list, tuple)


def _native_items(xs: list) -> bool:
    return not xs or type(xs[0]) in _NATIVE_ITEMS


def signature_of(header: LoopHeader, values: Sequence[object]) -> tuple[type, ...] | None:
    """The ``prepare_loop`` signature for one probe's values, or ``None`` (an iterator other
    than a range's or a list's)."""
    n = len(header.locals)
    states = [iterator_state(it) for it in values[n:]]
    if None in states:
        return None
    types = tuple(type(v) for v in values[:n])
    return types + tuple(t for state in states for t in map(type, state))


def iterator_kinds(header: LoopHeader, signature: Sequence[type]) -> tuple[str, ...]:
    """``"range"`` or ``"list"`` per iterator of ``signature`` (see ``signature_of``)."""
    kinds = []
    at = len(header.locals)
    for _ in range(header.iterators):
        kind = "list" if signature[at] is list else "range"
        kinds.append(kind)
        at += len(LIST_STATE if kind == "list" else RANGE_STATE)
    return tuple(kinds)


def _find(code: CodeType, key: int) -> LoopHeader:
    for header in loop_headers(code):
        if header.key == key:
            if header.reason is not None:
                raise OsrUnsupported(header.reason)
            return header
    raise OsrUnsupported(f"no loop header at offset {key}")


def header_labels(bc: Bytecode, code: CodeType) -> dict[int, Label]:
    """Header key -> the ``Label`` in front of that instruction in ``bc``.

    ``bc`` must be a fresh ``Bytecode.from_code(code)``: call this before editing it (labels
    survive later edits)."""
    from bytecode import Instr, Label

    starts = [op.start for op in instructions(code)]
    keys = {h.key for h in loop_headers(code)}
    labels: dict[int, Label] = {}
    pending: list[Label] = []
    position = 0
    for item in bc:
        if isinstance(item, Label):
            pending.append(item)
        elif isinstance(item, Instr):
            if starts[position] in keys:
                if not pending:
                    raise OsrUnsupported("loop header without a label")
                labels[starts[position]] = pending[0]
            pending = []
            position += 1
    if position != len(starts):
        raise OsrUnsupported("bytecode and dis disagree on this code object")
    return labels


def _call(nargs: int, location: object) -> list[Instr]:
    from bytecode import Instr

    call = [Instr("PRECALL", nargs, location=location)] if _V.precall else []
    return call + [Instr("CALL", nargs, location=location)]


#: The parameters that rebuild one iterator of each kind.
_STATE_PARTS = {"range": ("start", "stop", "step"), "list": ("list", "index")}

_continuations: dict[tuple[CodeType, int, tuple[str, ...]], CodeType] = {}


def continuation_code(
    code: CodeType, key: int, kinds: tuple[str, ...] | None = None, cache: str | None = None
) -> CodeType:
    """The continuation's code object for header ``key`` of ``code`` whose iterators are of
    ``kinds`` (default: all ``range``), cached in this process and, marshaled, in the
    machine-code cache folder ``cache`` (``codecache``): a later run makes it without
    importing ``bytecode`` (~30 ms)."""
    header = _find(code, key)
    kinds = kinds or ("range",) * header.iterators
    result = _continuations.get((code, key, kinds))
    if result is None:
        from pyfast.compiler.runtime import codecache

        result = codecache.kept_code(
            cache,
            "osr continuation",
            (code, key, kinds),
            (__file__,),
            lambda: _make_continuation(code, header, kinds),
        )
        _continuations[(code, key, kinds)] = result
    return result


def _make_continuation(code: CodeType, header: LoopHeader, kinds: tuple[str, ...]) -> CodeType:
    from bytecode import Bytecode, Instr

    bc = Bytecode.from_code(code)
    names = [[f".osr{k}.{part}" for part in _STATE_PARTS[kind]] for k, kind in enumerate(kinds)]
    target = header_labels(bc, code)[header.key]

    def prologue(location: object) -> list[Instr]:
        out: list[Instr] = []
        for kind, state, step in zip(kinds, names, header.steps, strict=True):
            loads = [Instr("LOAD_FAST", name, location=location) for name in state]
            if kind == "range":  # iter(range(start, stop, step))
                if step is not None:
                    loads[-1] = Instr("LOAD_CONST", step, location=location)
                out.append(Instr("LOAD_GLOBAL", (True, "range"), location=location))
                out += [*loads, *_call(3, location), Instr("GET_ITER", location=location)]
            else:  # it = iter(list); it.__setstate__(index)
                out += [loads[0], Instr("GET_ITER", location=location)]
                out.append(Instr("COPY", 1, location=location))
                out.append(Instr(*_V.method("__setstate__"), location=location))
                out += [loads[1], *_call(1, location), Instr("POP_TOP", location=location)]
        return [*out, Instr("JUMP_FORWARD", target, location=location)]

    return with_entry(bc, [*header.locals, *(n for state in names for n in state)], prologue)


def with_entry(bc: Bytecode, argnames: list[str], prologue: Callable[[object], list]) -> CodeType:
    """``bc`` with a new entry: parameters ``argnames``; after ``RESUME``, ``prologue(location)``
    (which ends in jumps to labels already in ``bc``).  The old entry stays, unreachable.
    (Deoptimization's resume code is made the same way, see ``deopt``.)"""
    from bytecode import Instr

    at = next(k for k, item in enumerate(bc) if isinstance(item, Instr) and item.name == "RESUME")
    bc[at + 1 : at + 1] = prologue(bc[at].location)
    bc.argnames = argnames
    bc.argcount = len(argnames)
    bc.posonlyargcount = 0
    bc.kwonlyargcount = 0
    bc.flags &= ~_ARG_FLAGS
    return bc.to_code()


def make_continuation(
    func: FunctionType,
    header: LoopHeader,
    live_locals: Sequence[str] | None = None,
    kinds: tuple[str, ...] | None = None,
    cache: str | None = None,
) -> FunctionType:
    """A function computing the rest of ``func``'s call from ``header``.

    Parameters: ``header.locals`` then, per iterator, outermost first, ``(start, stop, step)``
    for a ``range`` one and ``(list, index)`` for a ``list`` one (``kinds``; default: all
    ``range``).  ``live_locals``, when given, must equal ``header.locals`` (the analysis
    decides them); ``cache``: see ``continuation_code``."""
    if live_locals is not None and tuple(live_locals) != header.locals:
        raise OsrUnsupported(f"live locals at the header are {header.locals}, not {live_locals}")
    kinds = kinds or ("range",) * header.iterators
    code = continuation_code(func.__code__, header.key, kinds, cache)
    if "range" in kinds and func.__globals__.get("range", builtins.range) is not builtins.range:
        raise OsrUnsupported("'range' is rebound in the function's module")
    cont = FunctionType(code, func.__globals__, func.__name__, None, func.__closure__)
    cont.__qualname__ = func.__qualname__
    return cont


def prepare_loop(
    func: FunctionType,
    header: LoopHeader,
    signature: tuple[type, ...],
    *,
    fallback: Callable[..., object],
    miss: object,
    deopt: Callable[[str], None] | None = None,
    sample: tuple | None = None,
    code_of: Callable[[FunctionType], CodeType] | None = None,
    on_tracer: Callable[[], object] | None = None,
    warm_up: Callable[[], object] | None = None,
    cache: str | None = None,
):
    """The front half of native code for ``func``'s continuation at ``header`` (a
    ``PreparedFunction``; ``finish()`` gives the ``CompiledFunction``); ``warm_up``: see
    ``api.prepare_function``; ``cache``: see ``continuation_code``.

    ``signature``: the types of ``header.locals`` then ``int, int, int`` per iterator (see
    ``signature_of``).  Raises ``Unsupported``/``OsrUnsupported`` like ``compile_function``."""
    from pyfast.compiler.api import prepare_function

    cont = make_continuation(func, header, kinds=iterator_kinds(header, signature), cache=cache)
    return prepare_function(
        cont,
        signature,
        fallback=fallback,
        miss=miss,
        deopt=deopt,
        sample=sample,
        code_of=code_of,
        on_tracer=on_tracer,
        warm_up=warm_up,
        entered_once=True,
    )


def entry_args(header: LoopHeader, values: Sequence[object]) -> list[object] | None:
    """The compiled loop's arguments for the probe's ``values`` (locals, then iterator
    objects), or ``None`` when an iterator is neither a ``range`` nor a live list iterator,
    or is a ``range`` with another step than ``header.steps`` fixes (the interpreter then
    continues the loop).  The entry returns the rest of the call's result, or "miss" (the
    interpreter continues the loop with its own untouched state)."""
    n = len(header.locals)
    args = list(values[:n])
    for it, step in zip(values[n:], header.steps, strict=True):
        state = iterator_state(it)
        if state is None or (len(state) == len(RANGE_STATE) and step not in (None, state[-1])):
            return None
        args.extend(state)
    return args


def plant_probes(
    bc: Bytecode,
    labels: Mapping[int, Label],
    headers: Iterable[LoopHeader],
    *,
    load_slot: Callable[[LoopHeader, object], list[Instr]],
    miss: object,
) -> None:
    """Put a loop probe on every back edge of each OSR-able header, in place in ``bc``.

    For header H (``labels[H.key]``) the back edges are re-routed through a check C placed
    just before H; code that reached H by falling through jumps over C, so the probe runs only
    when an iteration ends (every local it passes is bound there).  C pushes the probe's
    callable with ``load_slot(H, location)`` and goes on to H when it is ``None`` (three
    instructions per iteration with the hook's ``load_slot``).  Otherwise an out-of-line
    block, appended to ``bc``, calls it as ``slot(*locals, *iterators)`` (iterators outermost
    first, copied, not popped); if the result is not the constant ``miss`` (the sentinel, or
    the hook's placeholder of it) it pops the iterators and returns it from the frame, else it
    drops it and jumps to H.
    """
    from bytecode import Instr, Label

    wanted = {labels[h.key]: h for h in headers if h.reason is None}
    checks = {label: Label() for label in wanted}
    seen: set[Label] = set()
    for item in bc:
        if isinstance(item, Label):
            seen.add(item)
        elif (
            isinstance(item, Instr) and item.has_jump() and item.arg in seen and item.arg in checks
        ):
            item.arg = checks[item.arg]
    tail: list = []
    k = 0
    while k < len(bc):
        item = bc[k]
        if isinstance(item, Label) and item in wanted:
            header = wanted[item]
            where = next(x.location for x in bc[k:] if isinstance(x, Instr))
            probe = Label()
            block = [Instr("JUMP_FORWARD", item, location=where), checks[item]]
            block += load_slot(header, where)
            block.append(Instr(_V.jump_if_not_none, probe, location=where))
            bc[k:k] = block
            k += len(block)
            load = load_slot(header, where)
            tail += [probe, *_probe(header, load, miss, where, frozenset(bc.cellvars))]
            tail.append(Instr("JUMP_BACKWARD", item, location=where))
        k += 1
    bc.extend(tail)


def _probe(
    header: LoopHeader, load: list[Instr], miss: object, where: object, cells: frozenset[str]
) -> list[Instr]:
    """Reload the slot (another thread may have emptied it), call it, return or drop."""
    from bytecode import CellVar, Instr, Label

    n = len(header.locals)
    k = header.iterators
    drop = Label()
    null = [Instr("PUSH_NULL", location=where)]
    if _V.null_before_callable:
        null.append(Instr("SWAP", 2, location=where))
    block = [
        *load,
        Instr("COPY", 1, location=where),
        Instr(_V.jump_if_none, drop, location=where),
        *null,
    ]
    block += [
        Instr("LOAD_DEREF", CellVar(name), location=where)
        if name in cells
        else Instr(_V.load_local, name, location=where)
        for name in header.locals
    ]
    block += [Instr("COPY", n + k + 2, location=where) for _ in range(k)]
    block += _call(n + k, where)
    block += [
        Instr("COPY", 1, location=where),
        Instr("LOAD_CONST", miss, location=where),
        Instr("IS_OP", 0, location=where),
        Instr(_V.jump_if_true, drop, location=where),
    ]
    for _ in range(k):
        block += [Instr("SWAP", 2, location=where), Instr("POP_TOP", location=where)]
    block += [Instr("RETURN_VALUE", location=where), drop, Instr("POP_TOP", location=where)]
    return block


__all__ = [
    "MODULE_LEVEL_REASON",
    "LIST_STATE",
    "RANGE_STATE",
    "LoopHeader",
    "OsrUnsupported",
    "prepare_loop",
    "continuation_code",
    "entry_args",
    "header_labels",
    "iterator_kinds",
    "iterator_state",
    "loop_headers",
    "make_continuation",
    "plant_probes",
    "signature_of",
]
