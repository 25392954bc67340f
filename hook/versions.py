"""Per-version bytecode differences the instrumenter needs, in one table.

In: ``sys.version_info``.  Out: ``OPS``, the ``Ops`` record for the running interpreter: the
names of the conditional jumps, whether ``PUSH_NULL`` goes before or after the callable, and
whether a ``CALL`` needs a ``PRECALL`` in front.  ``instrument`` builds every sequence it
inserts from these fields only.
"""

from __future__ import annotations

import dataclasses
import sys


@dataclasses.dataclass(frozen=True)
class Ops:
    #: jump to a label later in the code when TOS is (not) None; pops TOS
    jump_forward_if_none: str
    jump_forward_if_not_none: str
    jump_forward_if_true: str
    #: ``PUSH_NULL`` precedes the callable (3.11, 3.12) or follows it (3.13)
    null_before_callable: bool
    #: 3.11 calls are ``PRECALL n; CALL n``
    precall: bool


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
