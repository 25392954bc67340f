"""Benchmark harness: pyfast side by side with CPython, PyPy, Numba, Cython and C.

    python scripts/bench.py [--quick] [--only NAME ...] [--runtimes NAME ...] --out DIR

Writes DIR/results.json, DIR/results.md and DIR/speedups.png; see docs/benchmarks.md.
"""

import sys

from bench.cli import main

sys.exit(main())
