"""The benchmark harness behind ``scripts/bench.py``.

One module per concern:

- ``workloads``: the table of workloads (plain scripts, their Numba and typed-Cython variants).
- ``runtimes``: the table of runtimes (CPython, pyfast cold/warm, PyPy, Numba, Cython, C), each
  turning a workload into a command to run, or saying why it cannot.
- ``measure``: one whole-process run (wall time, peak RSS, output) and the statistics over runs.
- ``report``: ``results.json``, ``results.md`` and the ``speedups.png`` chart.
- ``cli``: the command line and the round-robin schedule.
"""
