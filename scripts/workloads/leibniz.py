"""Leibniz series for pi: a float-only loop kernel (issue 4), 10M terms at full scale."""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def leibniz(n):
    s = 0.0
    sign = 1.0
    for k in range(n):
        s += sign / (2 * k + 1)
        sign = -sign
    return s


N = int(10_000_000 * SCALE)
print(f"leibniz({N}) = {leibniz(N)!r}")
