"""Per-version bytecode differences the instrumenter needs, in one table.

In: ``sys.version_info``.  Out: ``OPS``, the ``Ops`` record for the running interpreter: the
names of the conditional jumps, whether ``PUSH_NULL`` goes before or after the callable,
whether a ``CALL`` needs a ``PRECALL`` in front, and how ``LOAD_ATTR`` names its attribute.
``instrument`` builds every sequence it inserts from these fields only.
"""

from __future__ import annotations

import sys


class Ops:
    """Fields: the forward conditional jumps (they pop TOS); whether ``PUSH_NULL`` precedes the
    callable (3.11, 3.12) or follows it (3.13); whether a call is ``PRECALL n; CALL n`` (3.11);
    whether ``LOAD_ATTR``'s argument is ``(is_method, name)`` (3.12+: ``LOAD_METHOD`` merged
    into it) rather than the name."""

    __slots__ = (
        "jump_forward_if_none",
        "jump_forward_if_not_none",
        "jump_forward_if_true",
        "null_before_callable",
        "precall",
        "attr_with_method_flag",
    )

    def __init__(
        self,
        jump_forward_if_none: str,
        jump_forward_if_not_none: str,
        jump_forward_if_true: str,
        *,
        null_before_callable: bool,
        precall: bool,
        attr_with_method_flag: bool,
    ) -> None:
        self.jump_forward_if_none = jump_forward_if_none
        self.jump_forward_if_not_none = jump_forward_if_not_none
        self.jump_forward_if_true = jump_forward_if_true
        self.null_before_callable = null_before_callable
        self.precall = precall
        self.attr_with_method_flag = attr_with_method_flag


TABLE: dict[tuple[int, int], Ops] = {
    (3, 11): Ops(
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        "POP_JUMP_FORWARD_IF_TRUE",
        null_before_callable=True,
        precall=True,
        attr_with_method_flag=False,
    ),
    (3, 12): Ops(
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_IF_TRUE",
        null_before_callable=True,
        precall=False,
        attr_with_method_flag=True,
    ),
    (3, 13): Ops(
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_IF_TRUE",
        null_before_callable=False,
        precall=False,
        attr_with_method_flag=True,
    ),
}

OPS: Ops | None = TABLE.get(sys.version_info[:2])
