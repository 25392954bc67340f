"""LLVM IR text, made fast: the part of ``llvmlite.ir``'s API that the compiler uses.

In: the calls the compiler makes to build a module -- types (``IntType(64)``, ``PointerType()``,
...), constants, a ``Module`` with functions, global variables and unnamed metadata, and an
``IRBuilder`` appending instructions to blocks (``if_then``, ``if_else`` and ``goto_block``
as context managers).
Out: ``str(module)``, byte for byte the text ``llvmlite.ir`` 0.50 makes of the same calls:
values named as its ``NameScope`` names them (``%".N"`` in order of creation, a taken name
deduplicated as ``name.N``), its spelling of each instruction (two spaces after ``phi`` and
``select``, doubles as space-padded hex), its typed-pointer spelling where it keeps one (an
``alloca i64`` is an ``i64*``), its metadata numbering and attribute order.

Why: ``llvmlite.ir`` makes a tree of objects and formats it with ``str.format`` when printed,
and in the front end it took ~80% of the time (19 of 24 ms for a matrix-multiply kernel, 51
of 60 ms for n-body); its import took ~8 ms more (``re``, ``string``, ...).  Here each
instruction is formatted once, when it is added: a value carries its type and its reference
text.  ``str(module)`` formats only what stays open until then: a phi's incoming edges, a
switch's cases, a function's linkage and attributes, a global variable's initializer.
``tests/test_llir.py`` compiles a corpus with this module and with ``llvmlite.ir`` in its
place (its API is a subset) and compares the texts.
"""

from __future__ import annotations

from operator import attrgetter
from struct import Struct

_spelling = attrgetter("_s")
_typed = attrgetter("typed")
_DOUBLE = Struct("d")
_FLOAT = Struct("f")
_BITS = Struct("Q")

#: Bytes written as they are in a string constant; the others as ``\\xx`` (``_escape``).
_PRINTABLE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&'()*+,-./:;<=>?@[]^_`{|}~"
)
#: The characters of a label that needs no quotes (``[-a-zA-Z$._][-a-zA-Z$._0-9]*``).
_LABEL_FIRST = "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$._"
_LABEL_CHARS = _LABEL_FIRST + "0123456789"


def _escape(data: str | bytes | bytearray) -> str:
    if isinstance(data, str):
        data = data.encode()
    return "".join([chr(c) if c in _PRINTABLE else f"\\{c:02x}" for c in data])


def _numbered(name: str) -> bool:
    """Whether ``name`` reads like the name of an unnamed value (``.N``)."""
    return name[:1] == "." and name[1:].isdecimal() and name == f".{int(name[1:])}"


def _quote(prefix: str, name: str) -> str:
    if "\\" in name or '"' in name:
        name = name.replace("\\", "\\5c").replace('"', "\\22")
    return f'{prefix}"{name}"'


# -- types ----------------------------------------------------------------------------------


class Type:
    """An LLVM type: ``str`` is its spelling; calling it makes a constant of it."""

    __slots__ = ("_s",)
    null = "zeroinitializer"

    def __str__(self) -> str:
        return self._s

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other._s == self._s

    def __hash__(self) -> int:
        return hash(self._s)

    def __call__(self, value: object) -> Constant:
        return Constant(self, value)


class _Unique(Type):
    """A type made once (per width): equal means identical."""

    __slots__ = ()
    __eq__ = object.__eq__
    __hash__ = object.__hash__


_INTS: dict[int, IntType] = {}


class IntType(_Unique):
    """``i<width>`` (one instance per width, so equal is identical); its constants of ``int``
    values are made once."""

    __slots__ = ("width", "_constants")
    null = "0"

    def __new__(cls, width: int) -> IntType:
        t = _INTS.get(width)
        if t is None:
            t = _INTS[width] = object.__new__(cls)
            t.width = width
            t._s = f"i{width}"
            t._constants = {}
        return t

    def __call__(self, value: object) -> Constant:
        if value.__class__ is not int:
            return Constant(self, value)
        constant = self._constants.get(value)
        if constant is None:
            constant = self._constants[value] = Constant(self, value)
        return constant

    def _format(self, value: object) -> str:
        if value.__class__ is bool:
            return "true" if value else "false"
        return str(value)


class DoubleType(_Unique):
    """``double`` (one instance)."""

    __slots__ = ()
    null = "0.0"

    def __new__(cls) -> DoubleType:
        return _DOUBLE_TYPE

    def _format(self, value: float) -> str:
        return format(_BITS.unpack(_DOUBLE.pack(float(value)))[0], "#16x")


class FloatType(_Unique):
    """``float`` (one instance); a constant is the float32 nearest its value, written as a
    double."""

    __slots__ = ()
    null = "0.0"

    def __new__(cls) -> FloatType:
        return _FLOAT_TYPE

    def _format(self, value: float) -> str:
        return _DOUBLE_TYPE._format(_FLOAT.unpack(_FLOAT.pack(value))[0])


class PointerType(Type):
    """The opaque ``ptr``."""

    __slots__ = ()
    null = "null"

    def __new__(cls) -> PointerType:
        return _POINTER_TYPE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PointerType) and (
            other._s == self._s or self is _POINTER_TYPE or other is _POINTER_TYPE
        )

    def __hash__(self) -> int:
        return hash(PointerType)


class _TypedPointer(PointerType):
    """The type of an alloca or a global of a non-pointer type: spelt ``<pointee>*`` (as
    ``llvmlite.ir`` spells it; LLVM reads it as ``ptr``), equal to ``ptr``."""

    __slots__ = ("pointee",)

    def __new__(cls, pointee: Type) -> _TypedPointer:
        t = object.__new__(cls)
        t.pointee = pointee
        t._s = f"{pointee._s}*"
        return t


_POINTERS: dict[str, _TypedPointer] = {}


def _pointer_to(t: Type) -> PointerType:
    if t.__class__ is PointerType:
        return t
    p = _POINTERS.get(t._s)
    if p is None:
        p = _POINTERS[t._s] = _TypedPointer(t)
    return p


class VoidType(_Unique):
    """``void`` (one instance)."""

    __slots__ = ()

    def __new__(cls) -> VoidType:
        return _VOID_TYPE


_DOUBLE_TYPE = object.__new__(DoubleType)
_DOUBLE_TYPE._s = "double"
_FLOAT_TYPE = object.__new__(FloatType)
_FLOAT_TYPE._s = "float"
_POINTER_TYPE = object.__new__(PointerType)
_POINTER_TYPE._s = "ptr"
_VOID_TYPE = object.__new__(VoidType)
_VOID_TYPE._s = "void"
_I1 = IntType(1)


class LiteralStructType(Type):
    """``{<elements>}``."""

    __slots__ = ("elements",)

    def __init__(self, elements: list[Type] | tuple[Type, ...]) -> None:
        self.elements = tuple(elements)
        self._s = "{" + ", ".join(map(_spelling, self.elements)) + "}"


class ArrayType(Type):
    """``[<count> x <element>]``; a constant of it is ``None`` (zeros) or a ``bytearray``."""

    __slots__ = ("element", "count")

    def __init__(self, element: Type, count: int) -> None:
        self.element = element
        self.count = count
        self._s = f"[{count} x {element._s}]"


class FunctionType(Type):
    """``<return type> (<argument types>)``."""

    __slots__ = ("return_type", "args")

    def __init__(self, return_type: Type, args: list[Type] | tuple[Type, ...]) -> None:
        self.return_type = return_type
        self.args = tuple(args)
        self._s = f"{return_type._s} ({', '.join(map(_spelling, self.args))})"


# -- values ---------------------------------------------------------------------------------


class Value:
    """Something an instruction can take: ``type``, ``ref`` (how an operand names it) and
    ``typed`` (``"<type> <ref>"``)."""

    __slots__ = ()


class _Undefined:
    __slots__ = ()


#: The value of ``Constant(t, Undefined)``: ``undef``.
Undefined = _Undefined()


class _Typed(Value):
    """A value of type ``typ`` that operands name ``ref``."""

    __slots__ = ("type", "ref", "typed")

    def __init__(self, typ: Type, ref: str) -> None:
        self.type = typ
        self.ref = ref
        self.typed = f"{typ._s} {ref}"


class Argument(_Typed):
    """A function's argument."""

    __slots__ = ()


class Instruction(_Typed):
    """The result of an instruction (its text is in its block already)."""

    __slots__ = ()


class Constant(_Typed):
    """A constant of type ``typ``: ``None`` is the type's null (zero), ``Undefined`` is
    ``undef``, a ``bytearray`` a string of bytes, else a number (a bool as ``true``/``false``)."""

    __slots__ = ()

    def __init__(self, typ: Type, value: object) -> None:
        if value is None:
            ref = typ.null
        elif value is Undefined:
            ref = "undef"
        elif value.__class__ is bytearray:
            ref = f'c"{_escape(value)}"'
        else:
            ref = typ._format(value)
        super().__init__(typ, ref)


class AllocaInstr(Instruction):
    """A stack slot for an ``allocated_type``, which a ``load`` without ``typ`` reads."""

    __slots__ = ("allocated_type",)


class PhiInstr(Instruction):
    """A phi node of block ``parent``: ``add_incoming`` adds its edges until printed."""

    __slots__ = ("parent", "incomings")

    def add_incoming(self, value: Value, block: Block) -> None:
        self.incomings.append(f"[{value.ref}, {block.ref}]")

    @property
    def line(self) -> str:
        if self.incomings:
            return f"  {self.ref} = phi  {self.type._s} {', '.join(self.incomings)}\n"
        return f"  {self.ref} = phi  {self.type._s}\n"


class Terminator:
    """A block's last instruction (``br`` or ``ret``); a ``br i1`` may take ``!prof``
    metadata."""

    __slots__ = ("line",)

    def __init__(self, line: str) -> None:
        self.line = line

    def set_metadata(self, name: str, node: MDValue) -> None:
        self.line = f"{self.line[:-1]}, !{name} {node.ref}\n"


class SwitchInstr:
    """``switch`` in block ``parent``: ``add_case`` adds its cases until printed."""

    __slots__ = ("parent", "value", "default", "cases")

    def __init__(self, parent: Block, value: Value, default: Block) -> None:
        self.parent = parent
        self.value = value
        self.default = default
        self.cases: list[str] = []

    def add_case(self, value: Constant, block: Block) -> None:
        self.cases.append(f"{value.typed}, label {block.ref}")

    @property
    def line(self) -> str:
        cases = " ".join(self.cases)
        return f"  switch {self.value.typed}, label {self.default.ref} [{cases}]\n"


class MetaDataString(Value):
    """A string in a metadata node (``!"..."``)."""

    __slots__ = ("ref", "typed")

    def __init__(self, module: Module | None, string: str) -> None:
        self.ref = self.typed = f'!"{_escape(string)}"'


class MDValue:
    """An unnamed metadata node of a module (``!N``)."""

    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        self.ref = ref


class Block(Value):
    """A basic block of ``function``: its lines (text, or an open instruction) in
    ``instructions``, and its ``terminator`` once it has one."""

    __slots__ = ("function", "name", "ref", "typed", "instructions", "terminator")

    def __init__(self, function: Function, name: str) -> None:
        self.function = function
        self.name = name = function._name(name)
        self.ref = ref = _quote("%", name)
        self.typed = f"label {ref}"
        self.instructions: list = []
        self.terminator = None

    def _text(self) -> str:
        name = self.name
        if not (name and name[0] in _LABEL_FIRST and not name.strip(_LABEL_CHARS)):
            name = _quote("", name)
        lines = [line if line.__class__ is str else line.line for line in self.instructions]
        return f"{name}:\n{''.join(lines)}"


class Function(Value):
    """A function of ``module``, defined once it has blocks, else declared; ``linkage`` and
    ``attributes`` (a set of names, written sorted) are read when the module is printed."""

    __slots__ = (
        "module",
        "name",
        "ref",
        "type",
        "typed",
        "ftype",
        "args",
        "blocks",
        "attributes",
        "linkage",
        "_used",
        "_bases",
        "_unnamed",
        "_numbered",
    )

    def __init__(self, module: Module, ftype: FunctionType, name: str) -> None:
        module._add_global(name, self)
        self.module = module
        self.name = name
        self.ref = _quote("@", name)
        self.type = _pointer_to(ftype)
        self.typed = f"{self.type._s} {self.ref}"
        self.ftype = ftype
        self._used: set[str] = set()
        self._bases: dict[str, int] = {}
        self._unnamed = 0
        self._numbered = False
        self.args = tuple([Argument(t, self._ref("")) for t in ftype.args])
        self._ref("")  # llvmlite.ir names the return value too
        self.blocks: list[Block] = []
        self.attributes: set[str] = set()
        self.linkage = ""

    def _name(self, name: str) -> str:
        """``name``, or the next free ``name.N`` (``.N`` for no name), now taken."""
        if not name:
            return self._ref(name)[2:-1]
        if self._taken(name):
            base, bases = name, self._bases
            while self._taken(name):
                n = bases[base] = bases.get(base, 0) + 1
                name = f"{base}.{n}"
        self._used.add(name)
        if _numbered(name):
            self._numbered = True
        return name

    def _taken(self, name: str) -> bool:
        """Whether ``name`` is taken: given before, or ``.N`` given to an unnamed value
        (those are not kept: every ``.N`` up to ``_unnamed`` is taken)."""
        return name in self._used or (_numbered(name) and 0 < int(name[1:]) <= self._unnamed)

    def _ref(self, name: str) -> str:
        """The reference of a new local value or block named ``name`` (deduplicated)."""
        if name:
            return _quote("%", self._name(name))
        n = self._unnamed + 1
        if self._numbered:  # a name given before may read like ``.N``: skip those
            while f".{n}" in self._used:
                n += 1
        self._unnamed = n
        return f'%".{n}"'

    @property
    def entry_basic_block(self) -> Block:
        return self.blocks[0]

    def append_basic_block(self, name: str = "") -> Block:
        block = Block(self, name)
        self.blocks.append(block)
        return block

    def _text(self) -> str:
        kind = "define" if self.blocks else "declare"
        ret = self.ftype.return_type._s
        head = f"{kind} {self.linkage} {ret}" if self.linkage else f"{kind} {ret}"
        args = ", ".join([a.typed for a in self.args])
        attrs = " " + " ".join(sorted(self.attributes)) if self.attributes else ""
        text = f"{head} {self.ref}({args}){attrs}\n"
        if self.blocks:
            text += "{\n" + "".join([b._text() for b in self.blocks]) + "}\n"
        return text


class GlobalVariable(Value):
    """A global of ``value_type``; its ``type`` (a pointer) may be set to ``PointerType()``;
    ``linkage``, ``initializer`` and ``global_constant`` are read when the module is printed."""

    __slots__ = (
        "name",
        "ref",
        "_type",
        "typed",
        "value_type",
        "linkage",
        "initializer",
        "global_constant",
    )

    def __init__(self, module: Module, typ: Type, name: str) -> None:
        module._add_global(name, self)
        self.name = name
        self.ref = _quote("@", name)
        self.value_type = typ
        self.type = _pointer_to(typ)
        self.linkage = ""
        self.initializer: Constant | None = None
        self.global_constant = False

    @property
    def type(self) -> PointerType:
        return self._type

    @type.setter
    def type(self, typ: PointerType) -> None:
        self._type = typ
        self.typed = f"{typ._s} {self.ref}"

    def _text(self) -> str:
        linkage = self.linkage or ("external" if self.initializer is None else "")
        kind = "constant" if self.global_constant else "global"
        text = f"{self.ref} = {linkage} {kind}" if linkage else f"{self.ref} = {kind}"
        text += f" {self.value_type._s}"
        if self.initializer is not None:
            return f"{text} {self.initializer.ref}"
        if linkage not in ("external", "extern_weak"):
            return f"{text} undef"
        return text


class Module:
    """Functions and global variables (``globals``: name -> value, in order of creation)
    and unnamed metadata; ``str`` is the module's text."""

    __slots__ = ("name", "globals", "_metadata", "_nodes")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.globals: dict[str, Function | GlobalVariable] = {}
        self._metadata: list[str] = []
        self._nodes: dict[tuple[str, ...], MDValue] = {}

    def _add_global(self, name: str, value: Function | GlobalVariable) -> None:
        if name in self.globals:
            raise NameError(f"{name!r} is defined already")
        self.globals[name] = value

    def add_metadata(self, operands: list[Value]) -> MDValue:
        """The node of ``operands`` (constants, metadata strings): a new one, or the one made
        of equal operands before."""
        return self._node(tuple([op.typed for op in operands]))

    def _node(self, key: tuple[str, ...]) -> MDValue:
        node = self._nodes.get(key)
        if node is None:
            n = len(self._metadata)
            node = self._nodes[key] = MDValue(f"!{n}")
            self._metadata.append(f"!{n} = !{{ {', '.join(key)} }}")
        return node

    def __str__(self) -> str:
        lines = [
            f'; ModuleID = "{self.name}"',
            'target triple = "unknown-unknown-unknown"',
            'target datalayout = ""',
            "",
        ]
        lines += [value._text() for value in self.globals.values()]
        lines += self._metadata
        return "\n".join(lines)


# -- the builder ----------------------------------------------------------------------------

_ICMP_SIGNED = {"==": "eq", "!=": "ne", "<": "slt", "<=": "sle", ">": "sgt", ">=": "sge"}
_ICMP_UNSIGNED = {"==": "eq", "!=": "ne", "<": "ult", "<=": "ule", ">": "ugt", ">=": "uge"}
_FCMP_ORDERED = {"==": "oeq", "!=": "one", "<": "olt", "<=": "ole", ">": "ogt", ">=": "oge"}
_FCMP_UNORDERED = {"==": "ueq", "!=": "une", "<": "ult", "<=": "ule", ">": "ugt", ">=": "uge"}
#: ``likely`` -> the operands of the node of its branch weights (``Module._node``).
_WEIGHTS = {
    True: ('!"branch_weights"', "i32 99", "i32 1"),
    False: ('!"branch_weights"', "i32 1", "i32 99"),
}


_TYPED_GEPS: dict[tuple[str, int], tuple[Type, Type]] = {}


def _typed_gep(ptr: _TypedPointer, count: int) -> tuple[Type, Type]:
    """The source element type and the result type of ``count`` indices into ``ptr``'s
    pointee (an array: the result points to its element, spelt as such)."""
    key = (ptr._s, count)
    found = _TYPED_GEPS.get(key)
    if found is None:
        last, typ = ptr, ptr.pointee
        for _ in range(count - 1):
            last, typ = typ, typ.element
        if isinstance(last, PointerType) and not isinstance(typ, PointerType):
            typ = last
        else:
            typ = _pointer_to(typ)
        found = _TYPED_GEPS[key] = (ptr.pointee, typ)
    return found


def _label_suffix(label: str, suffix: str) -> str:
    return f"{label[:25]}..{suffix}" if len(label) > 50 else label + suffix


def _binop(opname: str):
    def binop(self: IRBuilder, lhs: Value, rhs: Value, name: str = "") -> Instruction:
        typ = lhs.type
        return self._emit(typ, f"{opname} {typ._s} {lhs.ref}, {rhs.ref}", name)

    return binop


def _cast(opname: str):
    def cast(self: IRBuilder, value: Value, typ: Type, name: str = "") -> Value:
        if value.type == typ:
            return value
        return self._emit(typ, f"{opname} {value.typed} to {typ._s}", name)

    return cast


def _compare(opname: str, ops: dict[str, str]):
    def compare(self: IRBuilder, cmpop: str, lhs: Value, rhs: Value, name: str = "") -> Value:
        op = ops.get(cmpop, cmpop)
        return self._emit(_I1, f"{opname} {op} {lhs.type._s} {lhs.ref}, {rhs.ref}", name)

    return compare


class IRBuilder:
    """Appends instructions at its position in ``block`` (of ``function``)."""

    __slots__ = ("block", "function", "_lines", "_anchor")

    def __init__(self, block: Block) -> None:
        self.position_at_end(block)

    @property
    def module(self) -> Module:
        return self.function.module

    def _emit(self, typ: Type, text: str, name: str, cls: type = Instruction) -> Instruction:
        """Add the instruction ``text`` of a new value (a ``cls``) named ``name``; return the
        value."""
        ref = self.function._ref(name)
        self._add(f"  {ref} = {text}\n")
        return cls(typ, ref)

    def _void(self, line: str | Terminator | SwitchInstr) -> str:
        """Add ``line`` (or an instruction formatted when printed); return the reference its
        value would have (``llvmlite.ir`` names every instruction)."""
        ref = self.function._ref("")
        self._add(line)
        return ref

    def _add(self, line: str | Terminator | SwitchInstr | PhiInstr) -> None:
        self._lines.insert(self._anchor, line)
        self._anchor += 1

    def _terminate(self, term: Terminator | SwitchInstr) -> None:
        self._void(term)
        self.block.terminator = term

    # -- position

    def position_at_end(self, block: Block) -> None:
        self.block = block
        self.function = block.function
        self._lines = block.instructions
        self._anchor = len(block.instructions)

    def append_basic_block(self, name: str = "") -> Block:
        return self.function.append_basic_block(name)

    def goto_block(self, block: Block) -> _GotoBlock:
        """A context manager: the builder at the end of ``block`` (before its terminator),
        then back at the end of the block it was in."""
        return _GotoBlock(self, block)

    def if_then(self, pred: Value, likely: bool | None = None) -> _IfThen:
        """A context manager: the builder in a new block run when ``pred``; after it (it
        branches on unless terminated), in the block where both ways meet.  ``likely`` adds
        branch weights."""
        return _IfThen(self, pred, likely)

    def if_else(self, pred: Value, likely: bool | None = None) -> _IfElse:
        """A context manager giving two (then, otherwise), each like ``if_then``'s block."""
        return _IfElse(self, pred, likely)

    def _blocks(self, suffixes: tuple[str, ...]) -> list[Block]:
        label = self.block.name
        return [self.function.append_basic_block(_label_suffix(label, s)) for s in suffixes]

    def _cbranch_weighted(self, pred: Value, then: Block, other: Block, likely: bool | None):
        branch = self.cbranch(pred, then, other)
        if likely is not None:
            branch.set_metadata("prof", self.function.module._node(_WEIGHTS[likely]))

    # -- arithmetic, logic, comparisons, casts

    add = _binop("add")
    sub = _binop("sub")
    mul = _binop("mul")
    sdiv = _binop("sdiv")
    srem = _binop("srem")
    fadd = _binop("fadd")
    fsub = _binop("fsub")
    fmul = _binop("fmul")
    fdiv = _binop("fdiv")
    frem = _binop("frem")
    and_ = _binop("and")
    or_ = _binop("or")
    xor = _binop("xor")
    shl = _binop("shl")
    lshr = _binop("lshr")
    ashr = _binop("ashr")

    def not_(self, value: Value, name: str = "") -> Instruction:
        return self.xor(value, Constant(value.type, -1), name)

    def neg(self, value: Value, name: str = "") -> Instruction:
        return self.sub(Constant(value.type, 0), value, name)

    def fneg(self, value: Value, name: str = "") -> Instruction:
        return self._emit(value.type, f"fneg {value.typed}", name)

    icmp_signed = _compare("icmp", _ICMP_SIGNED)
    icmp_unsigned = _compare("icmp", _ICMP_UNSIGNED)
    fcmp_ordered = _compare("fcmp", _FCMP_ORDERED)
    fcmp_unordered = _compare("fcmp", _FCMP_UNORDERED)

    def select(self, cond: Value, lhs: Value, rhs: Value, name: str = "") -> Instruction:
        return self._emit(lhs.type, f"select  {cond.typed}, {lhs.typed}, {rhs.typed}", name)

    zext = _cast("zext")
    sext = _cast("sext")
    trunc = _cast("trunc")
    fpext = _cast("fpext")
    fptrunc = _cast("fptrunc")
    sitofp = _cast("sitofp")
    uitofp = _cast("uitofp")
    fptosi = _cast("fptosi")
    bitcast = _cast("bitcast")
    ptrtoint = _cast("ptrtoint")

    # -- memory

    def alloca(self, typ: Type, size: Value | None = None, name: str = "") -> AllocaInstr:
        text = f"alloca {typ._s}" if size is None else f"alloca {typ._s}, {size.typed}"
        slot = self._emit(_pointer_to(typ), text, name, AllocaInstr)
        slot.allocated_type = typ
        return slot

    def load(self, ptr: Value, name: str = "", typ: Type | None = None) -> Instruction:
        """Load a ``typ`` (by default, the type ``ptr``, an alloca, was made for)."""
        if typ is None:
            typ = ptr.allocated_type
        return self._emit(typ, f"load {typ._s}, {ptr.typed}", name)

    def store(self, value: Value, ptr: Value) -> None:
        self._void(f"  store {value.typed}, {ptr.typed}\n")

    def gep(
        self,
        ptr: Value,
        indices: list[Value],
        inbounds: bool = False,
        name: str = "",
        source_etype: Type | None = None,
    ) -> Instruction:
        """``getelementptr``: of ``source_etype``, or, without it, of what ``ptr`` (an array
        alloca) points to."""
        if source_etype is None:
            source_etype, typ = _typed_gep(ptr.type, len(indices))
        else:
            typ = ptr.type
        op = "getelementptr inbounds" if inbounds else "getelementptr"
        places = ", ".join(map(_typed, indices))
        return self._emit(typ, f"{op} {source_etype._s}, {ptr.typed}, {places}", name)

    # -- aggregates

    def extract_value(self, agg: Value, index: int, name: str = "") -> Instruction:
        typ = agg.type.elements[index]
        return self._emit(typ, f"extractvalue {agg.typed}, {index}", name)

    def insert_value(self, agg: Value, value: Value, index: int, name: str = "") -> Instruction:
        return self._emit(agg.type, f"insertvalue {agg.typed}, {value.typed}, {index}", name)

    # -- calls and phis

    def call(self, fn: Function, args: list[Value] | tuple[Value, ...], name: str = "") -> Value:
        ret = fn.ftype.return_type
        text = f"call {ret._s} {fn.ref}({', '.join(map(_typed, args))})"
        if ret is _VOID_TYPE:
            return Instruction(ret, self._void(f"  {text}\n"))
        return self._emit(ret, text, name)

    def phi(self, typ: Type, name: str = "") -> PhiInstr:
        phi = PhiInstr(typ, self.function._ref(name))
        phi.parent = self.block
        phi.incomings = []
        self._add(phi)
        return phi

    # -- terminators

    def branch(self, target: Block) -> Terminator:
        term = Terminator(f"  br {target.typed}\n")
        self._terminate(term)
        return term

    def cbranch(self, cond: Value, truebr: Block, falsebr: Block) -> Terminator:
        term = Terminator(f"  br {cond.typed}, {truebr.typed}, {falsebr.typed}\n")
        self._terminate(term)
        return term

    def switch(self, value: Value, default: Block) -> SwitchInstr:
        term = SwitchInstr(self.block, value, default)
        self._terminate(term)
        return term

    def ret(self, value: Value) -> Terminator:
        term = Terminator(f"  ret {value.typed}\n")
        self._terminate(term)
        return term


class _GotoBlock:
    __slots__ = ("builder", "block", "previous")

    def __init__(self, builder: IRBuilder, block: Block) -> None:
        self.builder = builder
        self.block = block

    def __enter__(self) -> None:
        b, block = self.builder, self.block
        self.previous = b.block
        b.position_at_end(block)
        if block.terminator is not None:
            b._anchor = block.instructions.index(block.terminator)

    def __exit__(self, *exc: object) -> None:
        self.builder.position_at_end(self.previous)


class _IfThen:
    __slots__ = ("builder", "pred", "likely", "end")

    def __init__(self, builder: IRBuilder, pred: Value, likely: bool | None) -> None:
        self.builder = builder
        self.pred = pred
        self.likely = likely

    def __enter__(self) -> Block:
        b = self.builder
        then, self.end = b._blocks((".if", ".endif"))
        b._cbranch_weighted(self.pred, then, self.end, self.likely)
        b.position_at_end(then)
        return self.end

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            b = self.builder
            if b.block.terminator is None:
                b.branch(self.end)
            b.position_at_end(self.end)


class _IfElse:
    __slots__ = ("builder", "pred", "likely", "end")

    def __init__(self, builder: IRBuilder, pred: Value, likely: bool | None) -> None:
        self.builder = builder
        self.pred = pred
        self.likely = likely

    def __enter__(self) -> tuple[_Arm, _Arm]:
        b = self.builder
        then, other, self.end = b._blocks((".if", ".else", ".endif"))
        b._cbranch_weighted(self.pred, then, other, self.likely)
        return _Arm(b, then, self.end), _Arm(b, other, self.end)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.builder.position_at_end(self.end)


class _Arm:
    __slots__ = ("builder", "block", "end")

    def __init__(self, builder: IRBuilder, block: Block, end: Block) -> None:
        self.builder = builder
        self.block = block
        self.end = end

    def __enter__(self) -> Block:
        self.builder.position_at_end(self.block)
        return self.end

    def __exit__(self, exc_type: object, *exc: object) -> None:
        b = self.builder
        if exc_type is None and b.block.terminator is None:
            b.branch(self.end)
