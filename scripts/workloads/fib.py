"""Recursive Fibonacci: call overhead and small-int arithmetic."""

import math
import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


N = 32 + round(math.log(SCALE) / math.log(1.618))
print(f"fib({N}) = {fib(N)}")
