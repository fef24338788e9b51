"""Time one measurement of each estimator, as the training loop makes it.

Problem: one layer of 10 tanh units on the 4096 distinct inputs of the 12-bit task,
float32 activations, integer sample counts as weights (some zero: inputs in the test
split only) and a binary label. Each estimator is compiled once under
``jax.jit(jax.vmap(estimator))`` over a seed axis of 1 and of 50 networks, then timed
as the median of several calls. Compilation is reported apart.

Run: ``python benchmarks/estimators.py`` (about a minute on 2 CPU cores; most of it
the kernel estimators at 50 seeds). ``--repeats N`` changes the number of timed calls.

``--scale`` measures at the size of real data instead: one layer of 20 and of 1024
units on 5000 distinct inputs (``--samples N``), one network, as the training loop
measures it (``measure_layers``): compile time, the memory XLA plans for the program
(its temporaries and arguments), and time per measurement.
"""

import argparse
import os
import platform
import resource
import time

import jax
import numpy as np

from infoplane.estimators import (
    KDE,
    Binning,
    BinningAdaptive,
    BinningObserved,
    BinningWidth,
    JointDistribution,
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


def scale(samples: int, repeats: int) -> None:
    """Compile time, planned memory and time per call at ``samples`` inputs."""
    print(
        f"{samples} inputs, one network, measure_layers of one layer; jax "
        f"{jax.__version__} on {jax.default_backend()} ({os.cpu_count()} cores); "
        f"median of {repeats} calls"
    )
    header = (
        f"{'estimator':<26}{'units':>6}{'compile (s)':>13}{'memory (MiB)':>14}"
        f"{'call (s)':>10}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    p_y = np.eye(2)[rng.integers(0, 2, samples)]
    distribution = JointDistribution.of(np.ones(samples), p_y)
    for est in (KDE(var=0.1), Binning(), BinningWidth(width=0.07)):
        for width in (20, 1024):
            layer = np.tanh(rng.normal(size=(samples, width))).astype(np.float32)
            measure = jax.jit(lambda a, d, est=est: est.measure_layers([a], d))
            with jax.enable_x64(True):
                t0 = time.perf_counter()
                compiled = measure.lower(layer, distribution).compile()
                compile_s = time.perf_counter() - t0
                memory = compiled.memory_analysis()
                planned = memory.temp_size_in_bytes + memory.argument_size_in_bytes
                _, call = time_call(compiled, (layer, distribution), repeats)
            print(
                f"{est.spec:<26}{width:>6}{compile_s:>13.2f}{planned / 2**20:>14.1f}"
                f"{call:>10.3f}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak memory of this process, all of the above: {peak:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    if args.scale:
        scale(args.samples, args.repeats)
        return
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
