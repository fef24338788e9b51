"""The size of compiled measurement programs, and reloading them from JAX's cache.

A measurement unrolled per unit (or per word of units) grew with layer width: a
1024-wide layer under ``binning-width`` compiled to about 4,000 XLA:CPU kernels, took
minutes to compile, and crashed jaxlib's loader (SIGSEGV) when a second run read it
back from the persistent compilation cache. Nor may a program grow with the number of
samples: the kernel bounds loop over blocks of rows, in memory O(block x samples).
"""

import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from infoplane.estimators import JointDistribution, parse_estimator


def compiled_measurement(spec: str, width: int, inputs: int = 1024):
    """The compiled program that measures one layer of ``width`` units on ``inputs``
    distinct inputs, as the training loop does (``measure_layers``)."""
    estimator = parse_estimator(spec)
    rng = np.random.default_rng(0)
    layer = np.tanh(rng.normal(size=(inputs, width))).astype(np.float32)
    measured_on = JointDistribution.of(
        np.ones(inputs), np.eye(2)[rng.integers(0, 2, inputs)]
    )
    measure = jax.jit(lambda a, i: estimator.measure_layers([a], i))
    with jax.enable_x64(True):
        return measure.lower(layer, measured_on).compile()


def compiled_instructions(spec: str, width: int, inputs: int = 1024) -> int:
    """HLO instructions of :func:`compiled_measurement`'s program."""
    text = compiled_measurement(spec, width, inputs).as_text()
    return len(re.findall(r"^\s+(?:ROOT )?\S+ = ", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    "spec", ["binning-width:width=0.07", "binning:bins=30", "binning-adaptive:bins=30"]
)
def test_measurement_program_does_not_grow_with_layer_width(spec):
    # 16 units are 16 words under binning-width (2 under binning); 256 are 16 times
    # as many. Unrolled, the program grew about in proportion.
    narrow = compiled_instructions(spec, 16)
    wide = compiled_instructions(spec, 256)
    assert wide <= 1.1 * narrow, (narrow, wide)


@pytest.mark.parametrize(
    "spec", ["kde-upper:var=0.1", "binning:bins=30", "binning-adaptive:bins=30"]
)
def test_measurement_program_does_not_grow_with_sample_count(spec):
    # The kernel bounds loop over blocks of 256 rows (2 blocks here, 32 there); a
    # program unrolled per block, or per sample, would grow 16-fold. (At 256 samples
    # there is one block and XLA drops the loop: a smaller program, not a larger.)
    few = compiled_instructions(spec, 16, inputs=512)
    many = compiled_instructions(spec, 16, inputs=8192)
    assert many <= 1.1 * few, (few, many)


def test_kernel_bounds_take_memory_in_blocks_not_all_pairs():
    # 8192 samples: the n x n matrix of distances alone would be 512 MiB in float64;
    # blocks of 256 rows need 256 x n (16 MiB) at a time.
    n, block = 8192, 256
    memory = compiled_measurement("kde-lower:var=0.1", 16, inputs=n).memory_analysis()
    assert memory.temp_size_in_bytes < 3 * block * n * 8, memory.temp_size_in_bytes


def run_twice(tmp_path, width: int) -> list[subprocess.CompletedProcess]:
    """The same run in two fresh processes sharing a fresh compilation cache."""
    env = dict(os.environ, INFOPLANE_CACHE=str(tmp_path / "cache"))
    env.pop("INFOPLANE_JAX_CACHE", None)
    args = [sys.executable, "-m", "infoplane.cli", "run", "seed"]
    args += ["--hidden", str(width), "--estimator", "binning-width:width=0.07"]
    args += ["--epochs", "20", "--measure-every", "20", "--no-video", "--force"]
    runs = []
    for i in range(2):
        out = ["--out", str(tmp_path / f"run{i}")]
        runs.append(
            subprocess.run(
                args + out, env=env, capture_output=True, text=True, timeout=900
            )
        )
        if i == 0:
            assert runs[0].returncode == 0, runs[0].stderr[-2000:]
            # The second run must load the training program from the cache.
            entries = list((tmp_path / "cache" / "jax").glob("jit__advance*"))
            assert entries, "the training program was not written to the cache"
    return runs


@pytest.mark.slow
def test_wide_run_reloads_from_a_warm_compilation_cache(tmp_path):
    # A 1024-wide layer: before the fix the second run died with SIGSEGV (exit -11
    # here) in jaxlib's CPU loader; 768 units still loaded.
    first, second = run_twice(tmp_path, 1024)
    assert second.returncode == 0, (second.returncode, second.stderr[-2000:])
    results = [
        json.loads((tmp_path / f"run{i}" / "result.json").read_text()) for i in (0, 1)
    ]
    assert results[0]["experiment"] == results[1]["experiment"]
    arrays = [np.load(tmp_path / f"run{i}" / "arrays.npz") for i in (0, 1)]
    for name in arrays[0].files:
        np.testing.assert_array_equal(arrays[1][name], arrays[0][name], err_msg=name)
