"""Monte-Carlo estimate of pi with the random module: calls into a C extension in a loop."""

import os
import random

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def estimate_pi(samples):
    hits = 0
    for _ in range(samples):
        x = random.random()
        y = random.random()
        if x * x + y * y <= 1.0:
            hits += 1
    return hits


random.seed(12345)
SAMPLES = int(3_000_000 * SCALE)
hits = estimate_pi(SAMPLES)
print(f"hits {hits} of {SAMPLES}")
print(f"pi ~ {4.0 * hits / SAMPLES:.2f}")
