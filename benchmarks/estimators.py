"""Time one measurement of each estimator, as the training loop makes it.

Problem: one layer of 10 tanh units on the 4096 distinct inputs of the 12-bit task,
float32 activations, integer sample counts as weights (some zero: inputs in the test
split only) and a binary label. Each estimator is compiled once under
``jax.jit(jax.vmap(estimator))`` over a seed axis of 1 and of 50 networks, then timed
as the median of several calls. Compilation is reported apart.

Run: ``python benchmarks/estimators.py`` (about a minute on 2 CPU cores; most of it
the kernel estimators at 50 seeds). ``--repeats N`` changes the number of timed calls.
"""

import argparse
import os
import platform
import time

import jax
import numpy as np

from infoplane.estimators import (
    KDE,
    Binning,
    BinningAdaptive,
    BinningObserved,
    BinningWidth,
)

INPUTS = 4096
UNITS = 10
SEEDS = (1, 50)
ESTIMATORS = [
    Binning(bins=30, low=-1.0, high=1.0),
    BinningWidth(width=0.07),
    BinningObserved(bins=30),
    BinningAdaptive(bins=30),
    KDE(var=0.1),
    KDE("lower", var=0.1),
]


def make_problem(seeds: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = np.tanh(rng.normal(size=(seeds, INPUTS, UNITS)) * 2).astype(np.float32)
    w = rng.integers(0, 25, size=(seeds, INPUTS)).astype(np.float32)
    labels = rng.integers(0, 2, INPUTS)
    return a, w, np.eye(2, dtype=np.float32)[labels]


def time_call(fn, args, repeats: int) -> tuple[float, float]:
    """(compile + first call, median of ``repeats`` later calls), in seconds."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    problems = {s: make_problem(s) for s in SEEDS}
    print(
        f"{INPUTS} inputs x {UNITS} units, float32 activations; "
        f"jax {jax.__version__} on {jax.default_backend()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores); "
        f"median of {args.repeats} calls"
    )
    header = (
        f"{'estimator':<26}{'1 seed (us)':>14}{'50 seeds (us)':>16}"
        f"{'per seed at 50':>16}{'compile 50 (s)':>16}"
    )
    print(header)
    print("-" * len(header))
    for est in ESTIMATORS:
        fn = jax.jit(jax.vmap(est, in_axes=(0, 0, None)))
        row = {}
        for seeds in SEEDS:
            row[seeds] = time_call(fn, problems[seeds], args.repeats)
        one, fifty = row[1][1] * 1e6, row[50][1] * 1e6
        print(
            f"{est.spec:<26}{one:>14,.0f}{fifty:>16,.0f}"
            f"{fifty / 50:>16,.0f}{row[50][0]:>16.2f}"
        )


if __name__ == "__main__":
    main()
