"""Numba variant of workloads/spectral_norm.py: float arrays instead of lists."""

import os

import numpy as np
from numba import njit

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


@njit
def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


@njit
def mul_av(v, out):
    n = v.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(i, j) * v[j]
        out[i] = s


@njit
def mul_atv(v, out):
    n = v.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(j, i) * v[j]
        out[i] = s


@njit
def mul_atav(v, out, tmp):
    mul_av(v, tmp)
    mul_atv(tmp, out)


@njit
def spectral_norm(n):
    u = np.ones(n)
    v = np.zeros(n)
    tmp = np.zeros(n)
    for _ in range(10):
        mul_atav(u, v, tmp)
        mul_atav(v, u, tmp)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    return (vbv / vv) ** 0.5


N = int(250 * SCALE**0.5)
print(f"spectral_norm({N}) = {spectral_norm(N):.9f}")
