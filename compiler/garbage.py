"""pyfast's own cyclic garbage, collected where it is made.

In: a stretch of pyfast's work in a program's thread (``with Contained():``) that makes many
short-lived objects, some in reference cycles: ``bytecode``'s control-flow graphs when a
module is instrumented, the typed IR and the LLVM modules (``llir``) when a function is compiled.
Out: no collection runs inside it (each would also walk the program's young objects), and at
its end one collection of the youngest generation, which holds all of it, frees the cycles.
The program's next ``gc.collect()`` then finds its own garbage only, as under python
(CPython's test_gc counts it).  When the program has turned the collector off, pyfast collects
nothing either: the cycles wait, like the program's own, for a collection it asks for.
"""

from __future__ import annotations

import gc


class Contained:
    """A ``with`` block whose cyclic garbage is collected at its end (see the module)."""

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            gc.collect(0)
            gc.enable()
