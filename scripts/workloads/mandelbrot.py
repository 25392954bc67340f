"""Mandelbrot set membership on a grid: tight float loops with an early exit."""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def mandelbrot(size, max_iter):
    inside = 0
    total_iter = 0
    for y in range(size):
        ci = 2.0 * y / size - 1.0
        for x in range(size):
            cr = 2.0 * x / size - 1.5
            zr = 0.0
            zi = 0.0
            i = 0
            while i < max_iter:
                zr2 = zr * zr
                zi2 = zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
                i += 1
            total_iter += i
            if i == max_iter:
                inside += 1
    return inside, total_iter


SIZE = int(300 * SCALE**0.5)
inside, total_iter = mandelbrot(SIZE, 100)
print(f"mandelbrot {SIZE}x{SIZE}: {inside} points inside, {total_iter} iterations")
