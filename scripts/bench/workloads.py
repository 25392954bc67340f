"""The workloads: plain Python scripts that print a checked result, and their variants.

In: nothing (the table is static; paths are relative to the repository).
Out: ``WORKLOADS``, an ordered tuple of ``Workload`` records, and ``select(names)``.

Variants live next to the scripts: ``workloads/numba/NAME.py`` (``@njit``),
``workloads/cython/*.pyx`` (hand-typed Cython) and ``workloads/c/NAME.c`` (the same kernel
written by hand in C, for workloads where "as fast as C" is the claim).

Every workload reads ``BENCH_SCALE`` (a float, 1.0 = full size) from the environment, except
the article's ``seed_sum`` example, which the harness runs as it is (ten million iterations).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
PLAIN = SCRIPTS / "workloads"
NUMBA = PLAIN / "numba"
CYTHON = PLAIN / "cython"
C = PLAIN / "c"


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark program.

    ``numba`` is the ``@njit`` rewrite a Numba user would write (``None``: nothing to jit);
    ``numba_check`` is ``"exact"`` or ``"last-line"`` when the variant legitimately prints a
    different first part (Numba's own random stream); ``cython_typed`` is the hand-typed
    ``.pyx`` the article shows, if any; ``c`` is a hand-written C program that prints the
    same output (built with ``gcc -O2``), if any.
    """

    name: str
    script: Path
    summary: str
    numba: Path | None = None
    numba_check: str = "exact"
    cython_typed: Path | None = None
    c: Path | None = None
    scaled: bool = True


def _w(name: str, summary: str, **kw: object) -> Workload:
    return Workload(name=name, script=PLAIN / f"{name}.py", summary=summary, **kw)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        name="seed_sum",
        script=SCRIPTS / "examples" / "seed_sum.py",
        summary="the article's calculate_sum(10_000_000)",
        numba=NUMBA / "seed_sum.py",
        cython_typed=CYTHON / "seed_sum_typed.pyx",
        c=C / "seed_sum.c",
        scaled=False,
    ),
    _w("fib", "recursive fib(32)", numba=NUMBA / "fib.py"),
    _w("nbody", "n-body simulation, 100k steps", numba=NUMBA / "nbody.py"),
    _w("spectral_norm", "spectral norm, n=250", numba=NUMBA / "spectral_norm.py"),
    _w("mandelbrot", "Mandelbrot 300x300, 100 iterations", numba=NUMBA / "mandelbrot.py"),
    _w("sieve", "prime sieve up to 5M", numba=NUMBA / "sieve.py"),
    _w(
        "monte_carlo_pi",
        "Monte-Carlo pi, 3M samples of random.random()",
        numba=NUMBA / "monte_carlo_pi.py",
        numba_check="last-line",
    ),
    _w("matmul", "matrix multiply 200x200, lists of lists", numba=NUMBA / "matmul.py"),
    _w(
        "leibniz",
        "Leibniz series for pi, 10M float terms",
        numba=NUMBA / "leibniz.py",
        c=C / "leibniz.c",
    ),
    _w("numpy_loop", "Python loop over numpy arrays, 1M elements", numba=NUMBA / "numpy_loop.py"),
    _w("hello", "hello world (start-up cost)", scaled=False),
    _w("objects", "control: classes, dicts, strings (not expected to speed up)"),
)


def select(names: list[str] | None) -> list[Workload]:
    """The workloads named (in table order), all when ``names`` is empty; ValueError if unknown."""
    if not names:
        return list(WORKLOADS)
    known = [w.name for w in WORKLOADS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown workload(s): {', '.join(unknown)} (known: {', '.join(known)})")
    return [w for w in WORKLOADS if w.name in names]
