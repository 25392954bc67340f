"""Numba variant of workloads/leibniz.py."""

import os

from numba import njit

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


@njit
def leibniz(n):
    s = 0.0
    sign = 1.0
    for k in range(n):
        s += sign / (2 * k + 1)
        sign = -sign
    return s


N = int(10_000_000 * SCALE)
print(f"leibniz({N}) = {leibniz(N)!r}")
