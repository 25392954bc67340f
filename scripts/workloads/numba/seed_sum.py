"""Numba variant of scripts/examples/seed_sum.py: the same loop under @njit."""

from numba import njit


@njit
def calculate_sum(n):
    total = 0
    for i in range(1, n + 1):
        total += i
    return total


print(calculate_sum(10_000_000))
