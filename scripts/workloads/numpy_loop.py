"""A Python loop over numpy arrays (element indexing): what people write before vectorising."""

import os

import numpy as np

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def kernel(a, b, out):
    total = 0.0
    for i in range(a.shape[0]):
        v = a[i] * b[i] + 0.5 * a[i]
        out[i] = v
        total += v
    return total


N = int(1_000_000 * SCALE)
A = np.arange(N, dtype=np.float64) / N
B = np.ones(N, dtype=np.float64) - A
OUT = np.empty(N, dtype=np.float64)
print(f"numpy loop n={N}: total {kernel(A, B, OUT):.6f}, out[-1] {OUT[-1]:.9f}")
