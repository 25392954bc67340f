"""Bytecode instrumentation: a module's code tree -> the same tree with profiling probes.

In: a module (or ``__main__``) code object and the compiler's ``prescreen``.
Out: ``Instrumented(code, slots, others)``: the new code tree, one ``SlotSpec`` per probe
(all marshalable, so the result can be cached on disk), and the functions left untouched with
the reason.  Probes name their slot, and the "miss" sentinel, by placeholder string constants;
``Instrumented.place`` swaps each placeholder for the runtime's object (a ``Slot``, or the
sentinel) when the code is loaded, through the recorded ``sites``, so a module loaded twice
(``__main__`` and imported) gets distinct slots.  A probe reads no global and no builtin: code
run with other globals (``FunctionType(code, {"__builtins__": {}})``) works, and code shipped
by value to another process (cloudpickle: joblib, dask) finds inert stand-ins there.

What a function gets (``OPS`` supplies the per-version opcodes), in Python terms::

    # right after RESUME (and MAKE_CELL / COPY_FREE_VARS), inline: 3 instructions
    if SLOT.value is not None: goto dispatch      # SLOT: a constant, this function's Slot
  body:
    ... the original bytecode, untouched ...
  dispatch:                       # out of line, after the last original instruction
    slot = SLOT.value
    if slot is not None:
        r = slot(<every parameter, positionally, in co_varnames order>)
        if r is not MISS: return r                # MISS: a constant, the runtime's sentinel
    goto body

and each loop header (the target of a backward jump: the ``FOR_ITER`` of a ``for`` loop, the
first body instruction of a ``while`` loop) gets a probe.  Where on-stack replacement can enter
(``pyfast.compiler.osr.loop_headers``), the back edges go through ``osr.plant_probes``::

    slot = LOOP_SLOT.value
    if slot is not None:
        r = slot(<the locals live at the header>, <the for-loop iterators, outermost first>)
        if r is not MISS: return r       # the rest of the call ran natively
    goto header

Elsewhere the header gets the same 3-instruction inline check as a function, with an
out-of-line ``LOOP_SLOT.value()`` call (it only counts iterations) that jumps back.

``SLOT.value`` is, in the bytecode, a read of the attribute named ``None`` (``PROBE_ATTRIBUTE``):
an attribute's name goes into ``co_names``, which ``inspect.getclosurevars`` takes for global
names and reports as unbound, except ``None``, ``True`` and ``False`` (once builtins).

Functions whose dispatch would be wrong or useless are left untouched: generators and
coroutines (a call returns a generator), closures (one code object is shared by every closure
instance, but a compiled entry binds one set of cells), and whatever ``prescreen`` rejects.
"""

from __future__ import annotations

import marshal
from types import CodeType

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable

PLACEHOLDER = "\x00pyfast-slot:"
MISS = "\x00pyfast-miss"  # the placeholder of the runtime's "miss" sentinel

_FUNCTION = 0x0001 | 0x0002  # CO_OPTIMIZED | CO_NEWLOCALS
_NOT_DISPATCHABLE = 0x0020 | 0x0080 | 0x0100 | 0x0200  # generator, coroutine, ...
_VARARGS, _VARKEYWORDS = 0x0004, 0x0008
#: The attribute a probe reads (``Slot.value``): a name ``inspect.getclosurevars`` skips.
PROBE_ATTRIBUTE = "None"


class Slot:
    """What a probe loads and tests: ``value`` is ``None`` (nothing to do: the original code
    runs) or the callable the runtime put there -- a register that the runtime writes and the
    probes read, like a GOT entry.  ``index`` is its number in the runtime's tables, ``code``
    the code object it was placed into (``move``): a function's code finds its module and
    original code through the slots among its constants, and only the very code placed there
    does (a copy made by ``code.replace`` keeps the constants, not the identity).

    Pickled (a function's code shipped by value to another process) as a
    ``types.SimpleNamespace`` whose ``PROBE_ATTRIBUTE`` is ``None``: there the probe is inert,
    and the program needs no pyfast to load it."""

    __slots__ = (PROBE_ATTRIBUTE, "index", "code")

    def __init__(self, value: object = None, index: int = -1) -> None:
        setattr(self, PROBE_ATTRIBUTE, value)
        self.index = index
        self.code: CodeType | None = None

    @property
    def value(self) -> object:
        return getattr(self, PROBE_ATTRIBUTE)

    @value.setter
    def value(self, value: object) -> None:
        setattr(self, PROBE_ATTRIBUTE, value)

    def __reduce__(self) -> tuple:
        from types import SimpleNamespace

        return (SimpleNamespace, (), {PROBE_ATTRIBUTE: None})


class _Record(tuple):
    """A marshalable record: a tuple with named fields (cheaper to define than a NamedTuple)."""

    __slots__ = ()
    fields: tuple[str, ...] = ()

    def __new__(cls, *values: object) -> _Record:
        assert len(values) == len(cls.fields)
        return super().__new__(cls, values)

    def __getattr__(self, name: str) -> object:
        try:
            return self[type(self).fields.index(name)]
        except ValueError:
            raise AttributeError(name) from None


class SlotSpec(_Record):
    """One probe: (kind "function" or "loop", qualname, line, code_index, owner, header).

    ``code_index`` is the pre-order index of the function's ORIGINAL code in the module tree;
    ``owner`` is, for a loop, the index of its function's SlotSpec (for a function, its own);
    ``header`` is an OSR loop's ``LoopHeader.key`` (its probe passes the live locals and the
    iterators), ``-1`` for a function or a loop that only counts iterations.
    """

    __slots__ = ()
    fields = ("kind", "qualname", "line", "code_index", "owner", "header")


class Untouched(_Record):
    """A function left alone: (qualname, line, status "unsupported" or "failed", reason)."""

    __slots__ = ()
    fields = ("qualname", "line", "status", "reason")


class Instrumented:
    """A module's instrumented tree: ``code`` (with the placeholders; None once placed), the
    probes (``slots``, raw tuples of ``SlotSpec`` fields: ``spec(k)`` makes the record), the
    functions left alone (``others``, raw ``Untouched`` tuples) and ``sites``, where the
    placeholders are (``find_sites``); ``count``, how many probes.  From the disk cache,
    ``slots`` and ``others`` stay marshaled bytes until they are needed (a profile, the
    report): most loads do not need them, and their tuples would only add to the garbage
    collector's work at import."""

    __slots__ = ("code", "_slots", "count", "others", "sites")

    def __init__(
        self,
        code: CodeType,
        slots: list | tuple | bytes,
        others: list | tuple | bytes,
        sites: tuple | None = None,
        count: int | None = None,
    ) -> None:
        self.code = code
        self._slots = slots
        self.count = len(slots) if count is None else count
        self.others = others
        self.sites = find_sites(code) or () if sites is None else sites

    @property
    def slots(self) -> list | tuple:
        self._slots = _unmarshaled(self._slots)
        return self._slots

    def spec(self, k: int) -> SlotSpec:
        return tuple.__new__(SlotSpec, self.slots[k])

    def untouched(self) -> list | tuple:
        self.others = _unmarshaled(self.others)
        return self.others

    def place(self, slots: list, base: int, miss: object) -> CodeType:
        """The tree as it runs: slot ``k``'s placeholder is ``slots[base + k]``, the
        sentinel's ``miss``.  A module is placed once: the tree with the placeholders is let go
        (``to_marshal`` comes first), so that each load keeps one tree alive, not two."""
        code, sites = self.code, self.sites
        self.code = None
        self.sites = ()
        return move(code, sites, slots, base, miss) if sites else code

    def to_marshal(self) -> tuple:
        """What the disk cache stores (``Instrumented(*data)`` reads it back)."""
        slots = marshal.dumps(tuple(map(tuple, self.slots)))
        others = marshal.dumps(tuple(map(tuple, self.untouched())))
        return (self.code, slots, others, self.sites, self.count)


def _unmarshaled(value: list | tuple | bytes) -> list | tuple:
    """A record list as stored by the cache (marshaled bytes, read on first need) or made."""
    return marshal.loads(value) if type(value) is bytes else value


def is_function(code: CodeType) -> bool:
    return code.co_flags & _FUNCTION == _FUNCTION


def parameters(code: CodeType) -> tuple[str, ...]:
    """The names the dispatch passes, in order: positional, keyword-only, *args, **kwargs."""
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & _VARARGS) + bool(code.co_flags & _VARKEYWORDS)
    return code.co_varnames[:count]


def walk(code: CodeType) -> list[CodeType]:
    """Every code object of the tree in pre-order (the numbering ``code_index`` uses)."""
    out = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out.extend(walk(const))
    return out


def instrument(code: CodeType, prescreen: Callable[[CodeType], object]) -> Instrumented:
    state = _Walk(prescreen)
    return Instrumented(state.visit(code), state.slots, state.others)


def find_sites(code: CodeType) -> tuple | None:
    """Where the placeholders of the tree are: ``(own, children)``, ``own`` the pairs
    ``(constant index, k)`` of this code object (``k`` the slot, -1 the sentinel),
    ``children`` the pairs ``(constant index, sites of that code object)``; ``None`` for a
    subtree without any.  ``bytecode`` merges equal constants: one placeholder string per slot."""
    own = []
    children = []
    for i, const in enumerate(code.co_consts):
        if isinstance(const, CodeType):
            sub = find_sites(const)
            if sub is not None:
                children.append((i, sub))
        elif isinstance(const, str) and const.startswith(PLACEHOLDER):
            own.append((i, int(const[len(PLACEHOLDER) :])))
        elif isinstance(const, str) and const == MISS:
            own.append((i, -1))
    return (tuple(own), tuple(children)) if own or children else None


def move(code: CodeType, sites: tuple, slots: list, base: int, miss: object) -> CodeType:
    """The tree with the constant at each site set: ``slots[base + k]`` (a ``Slot``, told the
    new code object it is in), or ``miss``."""
    own, children = sites
    consts = list(code.co_consts)
    for i, k in own:
        consts[i] = slots[base + k] if k >= 0 else miss
    for i, sub in children:
        consts[i] = move(consts[i], sub, slots, base, miss)
    moved = code.replace(co_consts=tuple(consts))
    for _, k in own:
        if k >= 0:  # one slot of a function's code knows it (``runtime.original_code``)
            slots[base + k].code = moved
            break
    return moved


def _reason_of(result: object) -> str:
    reason = getattr(result, "reason", None) or str(result)
    lineno = getattr(result, "lineno", None)
    return reason if lineno is None else f"{reason} (line {lineno})"


class _Walk:
    def __init__(self, prescreen: Callable[[CodeType], object]) -> None:
        self.prescreen = prescreen
        self.slots: list[SlotSpec] = []
        self.others: list[Untouched] = []
        self.index = 0

    def visit(self, code: CodeType) -> CodeType:
        index = self.index
        self.index += 1
        consts = tuple(self.visit(c) if isinstance(c, CodeType) else c for c in code.co_consts)
        if any(a is not b for a, b in zip(consts, code.co_consts, strict=True)):
            code = code.replace(co_consts=consts)
        if is_function(code):
            return self.function(code, index)
        from pyfast.compiler.opcodes import jumps_backward

        if not jumps_backward(code):  # a body without loops: no need to import ``osr``
            return code
        from pyfast.compiler import osr

        if osr.loop_headers(code):
            self.note(code, "unsupported", osr.MODULE_LEVEL_REASON)
        return code

    def function(self, code: CodeType, index: int) -> CodeType:
        reason = self.screen(code)
        if reason is not None:
            return code
        mark = len(self.slots)
        try:
            return _rewrite(code, index, self.slots)
        except Exception as exc:  # noqa: BLE001 - any instrumenter bug leaves the code alone
            del self.slots[mark:]
            self.note(code, "failed", f"instrumentation error: {exc!r}")
            return code

    def screen(self, code: CodeType) -> str | None:
        try:
            result = self.prescreen(code)
        except Exception as exc:  # noqa: BLE001
            self.note(code, "failed", f"prescreen raised {exc!r}")
            return "failed"
        if result is None and code.co_flags & _NOT_DISPATCHABLE:
            result = "generator or coroutine"
        if result is None and code.co_freevars:
            result = "closure (reads free variables: " + ", ".join(code.co_freevars) + ")"
        if result is None:
            return None
        self.note(code, "unsupported", _reason_of(result))
        return "unsupported"

    def note(self, code: CodeType, status: str, reason: str) -> None:
        self.others.append(Untouched(code.co_qualname, code.co_firstlineno, status, reason))


def _rewrite(code: CodeType, index: int, slots: list[SlotSpec]) -> CodeType:
    from bytecode import Bytecode, CellVar, Instr, Label
    from bytecode.instr import InstrLocation
    from pyfast.compiler import osr
    from pyfast.hook.versions import OPS

    if OPS is None:
        raise RuntimeError("unsupported Python version")
    bc = Bytecode.from_code(code)
    try:
        labels = osr.header_labels(bc, code)
        entries = {labels[h.key]: h for h in osr.loop_headers(code) if h.reason is None}
    except osr.OsrUnsupported:
        labels, entries = {}, {}
    items = list(bc)
    resume = next(
        i for i, item in enumerate(items) if isinstance(item, Instr) and item.name == "RESUME"
    )
    # The dispatch has no line: a tracer set through the C API, which finds the slots full,
    # sees the same line events as under python.
    nowhere = InstrLocation(None, None, None, None)
    own = len(slots)
    slots.append(SlotSpec("function", code.co_qualname, code.co_firstlineno, index, own, -1))

    def check(key: str, target: Label, where) -> list:
        return [
            *load_slot(key, where),
            Instr(OPS.jump_forward_if_not_none, target, location=where),
        ]

    value = (False, PROBE_ATTRIBUTE) if OPS.attr_with_method_flag else PROBE_ATTRIBUTE

    def load_slot(key: str, where) -> list:
        return [
            Instr("LOAD_CONST", key, location=where),
            Instr("LOAD_ATTR", value, location=where),
        ]

    def call(args: list, where) -> list:
        n = len(args)
        null = [Instr("PUSH_NULL", location=where)]
        if OPS.null_before_callable:
            null.append(Instr("SWAP", 2, location=where))
        pre = [Instr("PRECALL", n, location=where)] if OPS.precall else []
        return [*null, *args, *pre, Instr("CALL", n, location=where)]

    cells = set(code.co_cellvars)
    args = [
        Instr("LOAD_DEREF", CellVar(name), location=nowhere)
        if name in cells
        else Instr("LOAD_FAST", name, location=nowhere)
        for name in parameters(code)
    ]
    key = f"{PLACEHOLDER}{own}"
    body, dispatch, skip = Label(), Label(), Label()
    tail = [
        dispatch,
        *load_slot(key, nowhere),
        Instr("COPY", 1, location=nowhere),
        Instr(OPS.jump_forward_if_none, skip, location=nowhere),
        *call(args, nowhere),
        Instr("COPY", 1, location=nowhere),
        Instr("LOAD_CONST", MISS, location=nowhere),
        Instr("IS_OP", 0, location=nowhere),
        Instr(OPS.jump_forward_if_true, skip, location=nowhere),
        Instr("RETURN_VALUE", location=nowhere),
        skip,
        Instr("POP_TOP", location=nowhere),
        Instr("JUMP_BACKWARD", body, location=nowhere),
    ]

    headers = _loop_headers(items)
    osr_keys: dict[int, str] = {}
    out: list = []
    for i, item in enumerate(items):
        out.append(item)
        if i == resume:
            out.extend(check(key, dispatch, nowhere))
            out.append(body)
        elif isinstance(item, Label) and item in headers:
            where = next(x.location for x in items[i:] if isinstance(x, Instr))
            lkey = f"{PLACEHOLDER}{len(slots)}"
            header = entries.get(item)
            line = where.lineno or 0
            if header is not None:
                osr_keys[header.key] = lkey
                slots.append(SlotSpec("loop", code.co_qualname, line, index, own, header.key))
                continue
            slots.append(SlotSpec("loop", code.co_qualname, line, index, own, -1))
            back, probe, none = Label(), Label(), Label()
            out.extend(check(lkey, probe, where))
            out.append(back)
            tail += [
                probe,
                *load_slot(lkey, where),
                Instr("COPY", 1, location=where),
                Instr(OPS.jump_forward_if_none, none, location=where),
                *call([], where),
                none,
                Instr("POP_TOP", location=where),
                Instr("JUMP_BACKWARD", back, location=where),
            ]
    bc.clear()
    bc.extend(out)
    bc.extend(tail)
    osr.plant_probes(
        bc,
        labels,
        entries.values(),
        load_slot=lambda h, where: load_slot(osr_keys[h.key], where),
        miss=MISS,
    )
    bc.argnames = list(code.co_varnames)  # keeps co_varnames in python's order
    return bc.to_code()


def _loop_headers(items: list) -> set:
    from bytecode import Instr, Label

    seen: set = set()
    headers: set = set()
    for item in items:
        if isinstance(item, Label):
            seen.add(item)
        elif isinstance(item, Instr) and item.has_jump() and item.arg in seen:
            headers.add(item.arg)
    return headers
