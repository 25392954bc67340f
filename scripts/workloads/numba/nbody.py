"""Numba variant of workloads/nbody.py: the bodies in a 5x7 float array, same arithmetic."""

import os

import numpy as np
from numba import njit

SCALE = float(os.environ.get("BENCH_SCALE", "1"))

PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24

BODIES = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, SOLAR_MASS],
        [
            4.84143144246472090e00,
            -1.16032004402742839e00,
            -1.03622044471123109e-01,
            1.66007664274403694e-03 * DAYS_PER_YEAR,
            7.69901118419740425e-03 * DAYS_PER_YEAR,
            -6.90460016972063023e-05 * DAYS_PER_YEAR,
            9.54791938424326609e-04 * SOLAR_MASS,
        ],
        [
            8.34336671824457987e00,
            4.12479856412430479e00,
            -4.03523417114321381e-01,
            -2.76742510726862411e-03 * DAYS_PER_YEAR,
            4.99852801234917238e-03 * DAYS_PER_YEAR,
            2.30417297573763929e-05 * DAYS_PER_YEAR,
            2.85885980666130812e-04 * SOLAR_MASS,
        ],
        [
            1.28943695621391310e01,
            -1.51111514016986312e01,
            -2.23307578892655734e-01,
            2.96460137564761618e-03 * DAYS_PER_YEAR,
            2.37847173959480950e-03 * DAYS_PER_YEAR,
            -2.96589568540237556e-05 * DAYS_PER_YEAR,
            4.36624404335156298e-05 * SOLAR_MASS,
        ],
        [
            1.53796971148509165e01,
            -2.59193146099879641e01,
            1.79258772950371181e-01,
            2.68067772490389322e-03 * DAYS_PER_YEAR,
            1.62824170038242295e-03 * DAYS_PER_YEAR,
            -9.51592254519715870e-05 * DAYS_PER_YEAR,
            5.15138902046611451e-05 * SOLAR_MASS,
        ],
    ]
)


@njit
def offset_momentum(bodies):
    px = py = pz = 0.0
    for k in range(bodies.shape[0]):
        px += bodies[k, 3] * bodies[k, 6]
        py += bodies[k, 4] * bodies[k, 6]
        pz += bodies[k, 5] * bodies[k, 6]
    bodies[0, 3] = -px / SOLAR_MASS
    bodies[0, 4] = -py / SOLAR_MASS
    bodies[0, 5] = -pz / SOLAR_MASS


@njit
def energy(bodies):
    e = 0.0
    n = bodies.shape[0]
    for i in range(n):
        e += (
            0.5
            * bodies[i, 6]
            * (
                bodies[i, 3] * bodies[i, 3]
                + bodies[i, 4] * bodies[i, 4]
                + bodies[i, 5] * bodies[i, 5]
            )
        )
        for j in range(i + 1, n):
            dx = bodies[i, 0] - bodies[j, 0]
            dy = bodies[i, 1] - bodies[j, 1]
            dz = bodies[i, 2] - bodies[j, 2]
            e -= bodies[i, 6] * bodies[j, 6] / (dx * dx + dy * dy + dz * dz) ** 0.5
    return e


@njit
def advance(bodies, steps, dt):
    n = bodies.shape[0]
    for _ in range(steps):
        for i in range(n):
            for j in range(i + 1, n):
                dx = bodies[i, 0] - bodies[j, 0]
                dy = bodies[i, 1] - bodies[j, 1]
                dz = bodies[i, 2] - bodies[j, 2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * d2**0.5)
                bm = bodies[j, 6] * mag
                bodies[i, 3] -= dx * bm
                bodies[i, 4] -= dy * bm
                bodies[i, 5] -= dz * bm
                bm = bodies[i, 6] * mag
                bodies[j, 3] += dx * bm
                bodies[j, 4] += dy * bm
                bodies[j, 5] += dz * bm
        for k in range(n):
            bodies[k, 0] += dt * bodies[k, 3]
            bodies[k, 1] += dt * bodies[k, 4]
            bodies[k, 2] += dt * bodies[k, 5]


STEPS = int(100_000 * SCALE)
offset_momentum(BODIES)
print(f"{energy(BODIES):.9f}")
advance(BODIES, STEPS, 0.01)
print(f"{energy(BODIES):.9f}")
