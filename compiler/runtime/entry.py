"""METH_FASTCALL entry thunks: guards, unboxing, the native body call, boxing.

In: a native body (``i32 body(ptr out, params..., global values...)``, 0 = ok, 1 = bail), its
parameter and result ``Type``s and the globals it depends on.
Out: ``add_entry`` adds the thunk ``PyObject *name(PyObject *self, PyObject *const *args,
Py_ssize_t nargs)`` to the module; after ``jit.compile_module``, ``make_builtin`` turns it into a
real builtin function plus a counters callable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from llvmlite import ir

from pyfast.compiler.types import RType, Type


@dataclasses.dataclass(frozen=True)
class GlobalValue:
    """A global read by the body; its current value is passed as an extra body argument.

    Looked up like LOAD_GLOBAL (namespace, then builtins); missing or not exactly ``type`` ->
    guard failure (fallback)."""

    namespace: dict
    name: str
    builtins: dict | None
    type: RType


@dataclasses.dataclass(frozen=True)
class GlobalIdentity:
    """A global that must still be the very same object ``expect``."""

    namespace: dict
    name: str
    builtins: dict | None
    expect: object


Guard = GlobalValue | GlobalIdentity


@dataclasses.dataclass(frozen=True)
class EntrySpec:
    """What ``make_builtin`` needs to know about a thunk added by ``add_entry``."""

    name: str
    params: tuple[Type, ...]
    result: Type
    guards: tuple[Guard, ...]


def add_entry(
    module: ir.Module,
    body: ir.Function,
    params: Sequence[Type],
    result: Type,
    guards: Sequence[Guard],
    name: str,
) -> EntrySpec:
    raise NotImplementedError


def make_builtin(
    lib, spec: EntrySpec, *, fallback: Callable, miss: object, qualname: str
) -> tuple[Callable[..., object], Callable[[], dict[str, int]]]:
    raise NotImplementedError
