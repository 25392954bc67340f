"""Per-version bytecode differences the instrumenter needs, in one table.

In: ``sys.version_info``.  Out: ``OPS``, the ``Ops`` record for the running interpreter: the
names of the conditional jumps, whether ``PUSH_NULL`` goes before or after the callable, and
whether a ``CALL`` needs a ``PRECALL`` in front.  ``instrument`` builds every sequence it
inserts from these fields only.
"""

from __future__ import annotations

import sys


class Ops:
    """Fields: the forward conditional jumps (they pop TOS); whether ``PUSH_NULL`` precedes the
    callable (3.11, 3.12) or follows it (3.13); whether a call is ``PRECALL n; CALL n`` (3.11).
    """

    __slots__ = (
        "jump_forward_if_none",
        "jump_forward_if_not_none",
        "jump_forward_if_true",
        "null_before_callable",
        "precall",
    )

    def __init__(
        self,
        jump_forward_if_none: str,
        jump_forward_if_not_none: str,
        jump_forward_if_true: str,
        *,
        null_before_callable: bool,
        precall: bool,
    ) -> None:
        self.jump_forward_if_none = jump_forward_if_none
        self.jump_forward_if_not_none = jump_forward_if_not_none
        self.jump_forward_if_true = jump_forward_if_true
        self.null_before_callable = null_before_callable
        self.precall = precall


TABLE: dict[tuple[int, int], Ops] = {
    (3, 11): Ops(
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        "POP_JUMP_FORWARD_IF_TRUE",
        null_before_callable=True,
        precall=True,
    ),
    (3, 12): Ops(
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_IF_TRUE",
        null_before_callable=True,
        precall=False,
    ),
    (3, 13): Ops(
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_IF_TRUE",
        null_before_callable=False,
        precall=False,
    ),
}

OPS: Ops | None = TABLE.get(sys.version_info[:2])
