"""Python's scalar numeric semantics as typing rules and LLVM emitters.

In: an ``llvmlite.ir.IRBuilder`` positioned in a native body, the operator or builtin name,
the operands' ``RType`` and their native values (i64 / double / i1).
Out: the result's ``RType`` (``*_type`` functions; ``None`` = not supported natively) and the
result value (``emit_*``), with an ``i1`` bail flag when native code cannot produce CPython's
exact result (the operation would raise, overflow int64, or return another type).

Every result is bit-identical to CPython's (Objects/longobject.c, Objects/floatobject.c,
Modules/mathmodule.c, Python/bltinmodule.c).  libm functions are declared in the builder's
module; ``runtime.jit`` resolves them.
"""

from __future__ import annotations

import dataclasses
import math

from llvmlite import ir
from pyfast.compiler.types import RType, TupleType


@dataclasses.dataclass(frozen=True)
class Emitted:
    """A native result; ``bail`` (i1 or None) true means: hand the call back to the interpreter."""

    value: ir.Value
    bail: ir.Value | None


MATH_CONSTANTS: dict[str, float] = {
    "pi": math.pi,
    "e": math.e,
    "tau": math.tau,
    "inf": math.inf,
    "nan": math.nan,
}


def binary_type(op: str, left: RType, right: RType) -> RType | None:
    raise NotImplementedError


def emit_binary(builder: ir.IRBuilder, op: str, left: RType, right: RType, a, b) -> Emitted:
    raise NotImplementedError


def unary_type(op: str, t: RType) -> RType | None:
    raise NotImplementedError


def emit_unary(builder: ir.IRBuilder, op: str, t: RType, v) -> Emitted:
    raise NotImplementedError


def emit_compare(builder: ir.IRBuilder, op: str, left: RType, right: RType, a, b) -> ir.Value:
    raise NotImplementedError


def emit_truth(builder: ir.IRBuilder, t: RType, v) -> ir.Value:
    raise NotImplementedError


def emit_convert(builder: ir.IRBuilder, v, src: RType, dst: RType) -> Emitted:
    raise NotImplementedError


def call_type(name: str, args: tuple[RType, ...]) -> RType | TupleType | None:
    raise NotImplementedError


def emit_call(builder: ir.IRBuilder, name: str, args: tuple[RType, ...], values: list) -> Emitted:
    raise NotImplementedError
