"""A linker-loader for the machine code LLVM emits: ELF x86-64 relocatable objects.

In: the bytes of a ``.o`` file (``TargetMachine.emit_object``, position-independent code, small
code model) and ``resolve(name) -> address`` for the symbols it leaves undefined (the C API,
libm, pyfast's shared helpers).
Out: a ``LoadedObject`` -- the object's sections placed in fresh pages of this process, its
relocations applied, code and constants read-only and executable, writable data
read-write -- and ``address(symbol)`` for the symbols it defines.  The pages are unmapped
when the ``LoadedObject`` is collected.

Like ``ld.so`` for a single ``.o`` with no dynamic section: what the dynamic linker's PLT and
GOT do for a shared library, two tables after the code do here.  A call to a symbol farther
than 2 GiB goes through a 14-byte ``jmp *0(%rip)`` stub; a GOT-relative load reads an
8-byte slot holding the symbol's address.  ``.eh_frame`` is not loaded (nothing unwinds
through native code).  Because the loader needs nothing from LLVM, machine code kept on disk
(``codecache``) runs without importing ``llvmlite.binding``.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys
import weakref
from collections.abc import Callable

from pyfast.compiler import records

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")

_EM_X86_64 = 62
_ET_REL = 1
_SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS = 2, 4, 8
_SHT_X86_64_UNWIND = 0x70000001
_SHF_WRITE, _SHF_ALLOC = 1, 2
_SHN_UNDEF, _SHN_ABS = 0, 0xFFF1

_PAGE = mmap.PAGESIZE
_STUB = 16  # jmp *0(%rip) (6 bytes), the 8-byte target, padding
_JUMP = b"\xff\x25\x00\x00\x00\x00"


class LoadError(Exception):
    """The object uses something this loader does not do (the function stays interpreted)."""


def supported() -> bool:
    """Whether this process can run the objects (ELF x86-64, Linux)."""
    return sys.platform == "linux" and os.uname().machine == "x86_64"


@records.value
class _Section:
    index: int
    name: str
    type: int
    flags: int
    offset: int  # in the file
    size: int
    align: int
    link: int
    info: int


#: The relocation types LLVM emits for position-independent x86-64 code (the psABI's table
#: 4.10): type -> (the field's struct format, what it holds: ``S`` the symbol's address, ``A``
#: the addend, ``P`` the field's own address, ``G`` the address of the symbol's GOT slot).
_KINDS: dict[int, tuple[str, str]] = {
    1: ("<Q", "S+A"),  # R_X86_64_64
    2: ("<i", "S+A-P"),  # R_X86_64_PC32
    4: ("<i", "S+A-P"),  # R_X86_64_PLT32
    9: ("<i", "G+A-P"),  # R_X86_64_GOTPCREL
    10: ("<I", "S+A"),  # R_X86_64_32
    11: ("<i", "S+A"),  # R_X86_64_32S
    24: ("<q", "S+A-P"),  # R_X86_64_PC64
    41: ("<i", "G+A-P"),  # R_X86_64_GOTPCRELX
    42: ("<i", "G+A-P"),  # R_X86_64_REX_GOTPCRELX
}
#: struct format -> the values it holds, [low, high)
_RANGES = {"<i": (-(2**31), 2**31), "<I": (0, 2**32), "<q": (-(2**63), 2**63), "<Q": (0, 2**64)}


def _fits(fmt: str, value: int) -> bool:
    low, high = _RANGES[fmt]
    return low <= value < high


class _Memory:
    """Anonymous pages from libc's ``mmap``; ``protect`` sets a range's access."""

    PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
    _libc = None

    @classmethod
    def libc(cls) -> ctypes.CDLL:
        if cls._libc is None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = (
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_long,
            )
            libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
            libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
            cls._libc = libc
        return cls._libc

    @classmethod
    def map(cls, size: int) -> int:
        address = cls.libc().mmap(
            None,
            size,
            cls.PROT_READ | cls.PROT_WRITE,
            mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
            -1,
            0,
        )
        if address in (None, ctypes.c_void_p(-1).value):
            raise LoadError(f"mmap of {size} bytes failed (errno {ctypes.get_errno()})")
        return address

    @classmethod
    def protect(cls, address: int, size: int, prot: int) -> None:
        if cls.libc().mprotect(address, size, prot) != 0:
            raise LoadError(f"mprotect failed (errno {ctypes.get_errno()})")


def _round(value: int, align: int) -> int:
    return -(-value // align) * align if align > 1 else value


class LoadedObject:
    """An object file's sections in this process: ``address(symbol)`` of what it defines."""

    def __init__(self, base: int, size: int, symbols: dict[str, int]) -> None:
        self._symbols = symbols
        unmap = weakref.finalize(self, _Memory.libc().munmap, base, size)
        unmap.atexit = False  # code may run until the process ends (exit handlers, threads)

    def address(self, symbol: str) -> int:
        return self._symbols[symbol]


class _Image:
    """One load of one object: sections placed, then symbols and relocations resolved."""

    def __init__(self, data: bytes, resolve: Callable[[str], int]) -> None:
        self.data = data
        self.resolve = resolve
        self.sections = self._sections()
        self.loaded = [s for s in self.sections if self._loads(s)]
        symtab = next((s for s in self.sections if s.type == _SHT_SYMTAB), None)
        if symtab is None:
            raise LoadError("the object has no symbol table")
        self.symbols = self._symbols(symtab)
        self.relocations = self._rela()

    def _sections(self) -> list[_Section]:
        data = self.data
        if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise LoadError("not a little-endian ELF64 object")
        header = _EHDR.unpack_from(data)
        e_type, machine, shoff, shentsize, shnum, shstrndx = (
            header[1],
            header[2],
            header[6],
            header[11],
            header[12],
            header[13],
        )
        if e_type != _ET_REL or machine != _EM_X86_64:
            raise LoadError(f"not an x86-64 relocatable object (type {e_type}, machine {machine})")
        raw = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        names_at = raw[shstrndx][4]

        def name(offset: int) -> str:
            start = names_at + offset
            return data[start : data.index(b"\0", start)].decode()

        return [
            _Section(i, name(r[0]), r[1], r[2], r[4], r[5], r[8], r[6], r[7])
            for i, r in enumerate(raw)
        ]

    @staticmethod
    def _loads(section: _Section) -> bool:
        return bool(section.flags & _SHF_ALLOC) and section.type != _SHT_X86_64_UNWIND

    def _symbols(self, symtab: _Section) -> list[tuple[str, int, int]]:
        """(name, section index, value) per symbol-table entry."""
        data = self.data
        strtab = self.sections[symtab.link].offset
        result = []
        for at in range(symtab.offset, symtab.offset + symtab.size, _SYM.size):
            st_name, _, _, shndx, value, _ = _SYM.unpack_from(data, at)
            start = strtab + st_name
            result.append((data[start : data.index(b"\0", start)].decode(), shndx, value))
        return result

    def _place(self, placed: dict[int, int], start: int, writable: bool) -> int:
        """Give each loaded section of that access an offset from ``start``; return the end."""
        end = start
        for section in self.loaded:
            if bool(section.flags & _SHF_WRITE) == writable:
                end = _round(end, max(section.align, 1))
                placed[section.index] = end
                end += section.size
        return end

    def load(self) -> LoadedObject:
        # Layout: read-only sections (code, constants), the GOT and the stubs; then, from the
        # next page, the writable sections.
        got_symbols, stub_names = self._tables()
        placed: dict[int, int] = {}
        got_at = _round(self._place(placed, 0, writable=False), 8)
        stubs_at = got_at + 8 * len(got_symbols)
        code_size = _round(stubs_at + _STUB * len(stub_names), _PAGE)
        size = max(_round(self._place(placed, code_size, writable=True), _PAGE), _PAGE)
        base = _Memory.map(size)
        loaded = LoadedObject(base, size, {})
        image = bytearray(size)
        for section in self.loaded:
            if section.type != _SHT_NOBITS:
                at = placed[section.index]
                image[at : at + section.size] = self.data[
                    section.offset : section.offset + section.size
                ]
        externals: dict[str, int] = {}

        def address_of(index: int) -> int:
            name, shndx, value = self.symbols[index]
            if shndx == _SHN_UNDEF:
                if name not in externals:
                    try:
                        externals[name] = self.resolve(name)
                    except KeyError:
                        raise LoadError(f"undefined symbol {name!r}") from None
                return externals[name]
            if shndx == _SHN_ABS:
                return value
            if shndx not in placed:
                raise LoadError(f"symbol {name!r} lives in a section that is not loaded")
            return base + placed[shndx] + value

        got = {index: got_at + 8 * i for i, index in enumerate(got_symbols)}
        stubs = {name: stubs_at + _STUB * i for i, name in enumerate(stub_names)}
        for target, offset, kind, index, addend in self.relocations:
            fmt, formula = _KINDS[kind]
            s = address_of(index)
            p = base + placed[target] + offset
            if formula == "G+A-P":
                struct.pack_into("<Q", image, got[index], s)
                value = base + got[index] + addend - p
            else:
                value = s + addend - (p if formula == "S+A-P" else 0)
                name = self.symbols[index][0]
                if not _fits(fmt, value) and name in stubs:
                    value = base + stubs[name] + addend - p
            if not _fits(fmt, value):
                raise LoadError(
                    f"relocation {kind} against {self.symbols[index][0]!r} out of range"
                )
            struct.pack_into(fmt, image, placed[target] + offset, value)
        for name, at in stubs.items():
            struct.pack_into("<6sQ", image, at, _JUMP, externals[name])
        ctypes.memmove(base, bytes(image), size)
        _Memory.protect(base, code_size, _Memory.PROT_READ | _Memory.PROT_EXEC)
        loaded._symbols.update(
            (name, base + placed[shndx] + value)
            for name, shndx, value in self.symbols
            if name and shndx in placed
        )
        return loaded

    def _rela(self) -> list[tuple[int, int, int, int, int]]:
        """(section index, offset, type, symbol index, addend) of every relocation that applies
        to a loaded section."""
        result = []
        for section in self.sections:
            if section.type != _SHT_RELA or not self._loads(self.sections[section.info]):
                continue
            for at in range(section.offset, section.offset + section.size, _RELA.size):
                offset, info, addend = _RELA.unpack_from(self.data, at)
                kind = info & 0xFFFFFFFF
                if kind not in _KINDS:
                    raise LoadError(f"relocation type {kind} is not supported")
                result.append((section.info, offset, kind, info >> 32, addend))
        return result

    def _tables(self) -> tuple[list[int], list[str]]:
        """The symbols (by index) read through the GOT, and the undefined symbols a 32-bit
        PC-relative relocation may need a stub for."""
        got, stubs = set(), set()
        for _, _, kind, index, _ in self.relocations:
            if _KINDS[kind][1] == "G+A-P":
                got.add(index)
            elif kind in (2, 4) and self.symbols[index][1] == _SHN_UNDEF:
                stubs.add(self.symbols[index][0])
        return sorted(got), sorted(stubs)


def load(data: bytes, resolve: Callable[[str], int]) -> LoadedObject:
    """Place the object ``data`` in this process; ``resolve`` raises ``KeyError`` for a symbol
    it does not know (``LoadError`` then, as for a malformed object)."""
    try:
        return _Image(data, resolve).load()
    except (struct.error, IndexError, KeyError, ValueError) as exc:  # inconsistent tables
        raise LoadError(f"malformed object: {exc!r}") from None
