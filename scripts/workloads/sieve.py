"""Sieve of Eratosthenes over a list of flags: integer loops and list stores."""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def sieve(limit):
    flags = [True] * (limit + 1)
    flags[0] = False
    flags[1] = False
    i = 2
    while i * i <= limit:
        if flags[i]:
            for j in range(i * i, limit + 1, i):
                flags[j] = False
        i += 1
    count = 0
    total = 0
    for k in range(limit + 1):
        if flags[k]:
            count += 1
            total += k
    return count, total


LIMIT = int(5_000_000 * SCALE)
count, total = sieve(LIMIT)
print(f"primes up to {LIMIT}: {count}, sum {total}")
