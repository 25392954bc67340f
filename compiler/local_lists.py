"""Local lists: a list that a call makes and never lets go of is kept unboxed.

In: a typed ``ir.FunctionIR`` of a unit whose ``CallDirect.effect`` flags are set
(``deopt.mark_effects``).
Out: the same function rewritten in place.  Each ``[item] * count`` (a ``NewList`` of one
``bool``, ``int`` or ``float`` feeding a ``ListRepeat``) whose list qualifies becomes a
``NewLocalList``; the block parameters that carry it get its ``LocalListType``; its
``ListGet``/``ListStore``/``ListLen`` ops stay, lowered for the native buffer (no objects, no
reference counts, no item type checks), and its stores are no longer effects.  Like PyPy's list
strategies, or a C array on the heap of one call.

A list qualifies when nothing but this call can ever see it:

- its only uses are reads (of the item type), stores (of a value of the item type, into it),
  ``len``, and jumps to block parameters that only ever receive it (or another qualifying
  local list of the same item type) -- never a return, a call, a tuple, another list;
- the ``[item] * count`` runs at most once per call (its block is in no loop), so one slot per
  site holds the buffer that the exit frees;
- the function has no effect besides stores into its local lists.  Then every bail is a miss:
  the interpreter re-runs the whole call and makes its own list, so a local list never has to
  become a Python object.  Every stored item has the list's item type, so every read is exact.
"""

from __future__ import annotations

from pyfast.compiler import ir
from pyfast.compiler.types import BOOL, FLOAT, INT, ListType, LocalListType

#: Item types a local list holds unboxed.
ITEM_TYPES = (BOOL, INT, FLOAT)


def rewrite(fir: ir.FunctionIR) -> None:
    """Turn the qualifying ``[item] * count`` lists of ``fir`` into local lists."""
    uses = _uses(fir)
    looped = _blocks_in_loops(fir)
    webs = _webs(fir, uses)
    chosen = [web for web in webs if _qualifies(web, uses, looped)]
    if not chosen or _other_effects(fir, chosen):
        return
    for roots, params in chosen:
        local = LocalListType(next(iter(roots)).type.item)
        for param in params:
            param.type = local
        for block, index, repeat in roots.values():
            made = ir.NewLocalList(repeat.list.items[0], repeat.count, local, repeat.lineno)
            made.state = repeat.state
            block.ops[index] = made
            _replace(uses.get(id(repeat), ()), repeat, made)
        for value in (*roots, *params):
            for use in uses.get(id(value), ()):
                if isinstance(use, ir.ListStore):
                    use.effect = False
    for block in fir.blocks:
        block.ops = [op for op in block.ops if not _dropped(op, uses, chosen)]


def _replace(uses: list[object], old: ir.Value, new: ir.Value) -> None:
    for use in uses:
        if isinstance(use, ir.Jump):
            use.args = tuple(new if a is old else a for a in use.args)
        else:
            use.list = new


def _uses(fir: ir.FunctionIR) -> dict[int, list[object]]:
    """id(value) -> the ops and jumps that use it (frame states are not uses: see above)."""
    uses: dict[int, list[object]] = {}
    for block in fir.blocks:
        for op in block.ops:
            for operand in op.operands():
                uses.setdefault(id(operand), []).append(op)
        for jump in block.terminator.jumps():
            for arg in jump.args:
                uses.setdefault(id(arg), []).append(jump)
        if isinstance(block.terminator, ir.Branch):
            uses.setdefault(id(block.terminator.cond), []).append(block.terminator)
        elif isinstance(block.terminator, ir.Return):
            uses.setdefault(id(block.terminator.value), []).append(block.terminator)
    return uses


def _blocks_in_loops(fir: ir.FunctionIR) -> set[int]:
    """Labels of the blocks that can reach themselves."""
    successors = {
        block.label: [j.target.label for j in block.terminator.jumps()] for block in fir.blocks
    }
    looped = set()
    for start in successors:
        seen, work = set(), list(successors[start])
        while work:
            label = work.pop()
            if label == start:
                looped.add(start)
                break
            if label not in seen:
                seen.add(label)
                work.extend(successors[label])
    return looped


#: A candidate: its ``[item] * count`` ops (op -> (block, position, op)) and block parameters.
_Web = tuple[dict[ir.ListRepeat, tuple[ir.BasicBlock, int, ir.ListRepeat]], list[ir.BlockParam]]


def _webs(fir: ir.FunctionIR, uses: dict[int, list[object]]) -> list[_Web]:
    """The ``[item] * count`` lists and the block parameters they flow into, joined where
    they meet; a web that also takes any other list value is left out."""
    sources: dict[int, list[object]] = {}  # id(block param) -> the values jumps pass it
    for block in fir.blocks:
        for jump in block.terminator.jumps():
            for param, arg in zip(jump.target.params, jump.args, strict=True):
                sources.setdefault(id(param), []).append(arg)
    repeats = {}
    for block in fir.blocks:
        for index, op in enumerate(block.ops):
            if _repeat_of_one_scalar(op, uses):
                repeats[op] = (block, index, op)
    params = {id(p): p for block in fir.blocks for p in block.params}
    webs: list[_Web] = []
    claimed: set[int] = set()
    for repeat in repeats:
        if id(repeat) in claimed:
            continue
        roots, members, work, clean = {}, [], [repeat], True
        while work:
            value = work.pop()
            if id(value) in claimed:
                continue
            claimed.add(id(value))
            if isinstance(value, ir.ListRepeat) and value in repeats:
                roots[value] = repeats[value]
            elif id(value) in params:
                members.append(value)
                for source in sources.get(id(value), ()):
                    work.append(source)
            else:
                clean = False
            for use in uses.get(id(value), ()):
                if isinstance(use, ir.Jump):
                    work.extend(param for _, param in _passed(use, value))
        if clean:
            webs.append((roots, members))
    return webs


def _repeat_of_one_scalar(op: ir.Op, uses: dict[int, list[object]]) -> bool:
    return (
        isinstance(op, ir.ListRepeat)
        and isinstance(op.list, ir.NewList)
        and len(op.list.items) == 1
        and op.list.items[0].type in ITEM_TYPES
        and op.type == ListType(op.list.items[0].type)
        and uses.get(id(op.list)) == [op]
    )


def _qualifies(web: _Web, uses: dict[int, list[object]], looped: set[int]) -> bool:
    roots, params = web
    item = next(iter(roots)).type.item
    if any(r.type.item is not item or block.label in looped for block, _, r in roots.values()):
        return False
    members = {id(v) for v in (*roots, *params)}
    if any(p.type != ListType(item) for p in params):
        return False
    for value in (*roots, *params):
        for use in uses.get(id(value), ()):
            if not _local_use(use, value, item, members):
                return False
    return True


def _local_use(use: object, value: ir.Value, item: object, members: set[int]) -> bool:
    if isinstance(use, ir.ListGet):
        return use.list is value and use.index is not value and use.type is item
    if isinstance(use, ir.ListStore):
        return use.list is value and use.item is not value and use.item.type is item
    if isinstance(use, ir.ListLen):
        return True
    if isinstance(use, ir.Jump):
        return all(id(p) in members for _, p in _passed(use, value))
    return False


def _passed(jump: ir.Jump, value: ir.Value) -> list[tuple[ir.Value, ir.BlockParam]]:
    return [(a, p) for a, p in zip(jump.args, jump.target.params, strict=True) if a is value]


def _other_effects(fir: ir.FunctionIR, chosen: list[_Web]) -> bool:
    """Whether ``fir`` has an effect besides stores into the chosen lists."""
    members = {id(v) for roots, params in chosen for v in (*roots, *params)}
    return any(
        op.effect and not (isinstance(op, ir.ListStore) and id(op.list) in members)
        for block in fir.blocks
        for op in block.ops
    )


def _dropped(op: ir.Op, uses: dict[int, list[object]], chosen: list[_Web]) -> bool:
    """The one-item ``NewList`` a chosen ``[item] * count`` was made of."""
    return isinstance(op, ir.NewList) and any(
        use in roots for roots, _ in chosen for use in uses.get(id(op), ())
    )
