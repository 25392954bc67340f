"""Matrix multiply on lists of lists: nested loops, indexing, float accumulation."""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def make_matrix(n, seed):
    return [[((i * n + j + seed) % 17) / 7.0 - 1.0 for j in range(n)] for i in range(n)]


def matmul(a, b):
    n = len(a)
    m = len(b[0])
    inner = len(b)
    c = [[0.0] * m for _ in range(n)]
    for i in range(n):
        ai = a[i]
        ci = c[i]
        for j in range(m):
            s = 0.0
            for k in range(inner):
                s += ai[k] * b[k][j]
            ci[j] = s
    return c


def checksum(c):
    total = 0.0
    for row in c:
        for x in row:
            total += x
    return total


N = int(200 * SCALE ** (1 / 3))
C = matmul(make_matrix(N, 1), make_matrix(N, 2))
print(f"matmul {N}x{N}: checksum {checksum(C):.6f}, c[0][0] {C[0][0]:.6f}")
