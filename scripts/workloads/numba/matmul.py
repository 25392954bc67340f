"""Numba variant of workloads/matmul.py: 2-D float arrays, the same loop nest."""

import os

import numpy as np
from numba import njit

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


@njit
def make_matrix(n, seed):
    m = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            m[i, j] = ((i * n + j + seed) % 17) / 7.0 - 1.0
    return m


@njit
def matmul(a, b):
    n = a.shape[0]
    m = b.shape[1]
    inner = b.shape[0]
    c = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(inner):
                s += a[i, k] * b[k, j]
            c[i, j] = s
    return c


@njit
def checksum(c):
    total = 0.0
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            total += c[i, j]
    return total


N = int(200 * SCALE ** (1 / 3))
C = matmul(make_matrix(N, 1), make_matrix(N, 2))
print(f"matmul {N}x{N}: checksum {checksum(C):.6f}, c[0][0] {C[0, 0]:.6f}")
