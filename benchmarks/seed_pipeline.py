"""Time the whole "seed" protocol: a notebook-style reference against infoplane.

The protocol (docs/protocols.md §1): 10-bit inputs labelled by n mod 16, 50,000 training
and 10,000 test samples drawn uniformly, a tanh MLP 10-8-6-4-2 with a linear output,
sigmoid binary cross-entropy, full-batch SGD (lr 0.1) for 3000 epochs, and every 20
epochs (150 measurements) I(X;T) and I(T;Y) of each hidden layer by 30 equal bins on
[-1, 1], plug-in over the 50,000 training samples, in nats.

What one run measures, side by side:

1. The reference, written as the original notebook does it: the 50,000 x 10 sample
   rows, an Equinox MLP of ``eqx.nn.Linear`` layers, an ``eqx.filter_jit`` SGD step
   on all rows called from a Python loop of 3000 epochs, and every 20 epochs a forward
   pass and the information by per-sample Python dictionary counting. Timed end to
   end in this process, its (small) JIT compilation included.
2. ``ip.run(ip.preset("seed", seeds=1))`` in a fresh subprocess: the first call
   (compilation included, with the time JAX reports tracing, lowering and compiling)
   and a second, compiled call.
3. ``ip.run(ip.preset("seed", seeds=50))`` in a fresh subprocess: the first call, and
   the subprocess's peak resident memory.
4. The same with ``INFOPLANE_CPU_DEVICES=2``: JAX sees two CPU devices (infoplane's
   default on a two-core machine) and infoplane shards the seed axis across them.

It prints a table with the speed-ups and PASS/FAIL against the targets (>= 150x the
reference compiled, >= 30x including compilation, 50 networks in < 20 s, peak memory
< 1 GiB), and checks that the reference reaches I(T;Y) = ln 2 and I(X;T) ~ ln 1024 in
layer 1, beside infoplane's values per layer (different data draws and initial weights,
so they agree only roughly).

Run: ``python benchmarks/seed_pipeline.py`` (about 2-3 minutes on 2 CPU cores, most
of it the reference). ``--reference-epochs 200`` runs a shorter reference and
extrapolates it linearly to 3000 epochs and 150 measurements; ``--json PATH`` also
writes the numbers.
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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from infoplane.datasets import seed10

EPOCHS = 3000
EVERY = 20
N_TRAIN = 50_000
N_TEST = 10_000
HIDDEN = (8, 6, 4)
LR = 0.1
EDGES = np.linspace(-1, 1, 31)  # 30 equal bins on [-1, 1], as np.digitize edges

TARGET_COMPILED = 150.0  # reference / infoplane compiled
TARGET_FIRST = 30.0  # reference / infoplane first call, compilation included
TARGET_50_SECONDS = 20.0
TARGET_MEMORY_MIB = 1024.0
LN2 = math.log(2)
LN1024 = math.log(1024)
TOL_ITY = 0.01  # layer-1 I(T;Y) within this of ln 2
TOL_IXT = (
    0.05  # layer-1 I(X;T) within this of ln 1024 (the sample's H(X) is ~0.01 below)
)


# --- the reference: the notebook's way -------------------------------------------


class RefMLP(eqx.Module):
    layers: list

    def __init__(self, key):
        sizes = (10, *HIDDEN, 2)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = [
            eqx.nn.Linear(a, b, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        ]

    def __call__(self, x):
        hidden = []
        for layer in self.layers[:-1]:
            x = jnp.tanh(layer(x))
            hidden.append(x)
        return self.layers[-1](x), hidden


def _loss(model, x, t):
    logits, _ = jax.vmap(model)(x)
    return optax.sigmoid_binary_cross_entropy(logits, t).mean()


OPT = optax.sgd(LR)


@eqx.filter_jit
def _step(model, opt_state, x, t):
    loss, grads = eqx.filter_value_and_grad(_loss)(model, x, t)
    updates, opt_state = OPT.update(grads, opt_state, eqx.filter(model, eqx.is_array))
    return eqx.apply_updates(model, updates), opt_state, loss


@eqx.filter_jit
def _forward(model, x):
    return jax.vmap(model)(x)


def _entropy(counts: dict, n: int) -> float:
    return -sum(c / n * math.log(c / n) for c in counts.values())


def dict_information(
    activations: np.ndarray, x_ids: list, y: list
) -> tuple[float, float]:
    """Plug-in I(X;T) and I(T;Y) in nats by counting samples in dictionaries."""
    binned = np.digitize(activations, EDGES)
    n = len(x_ids)
    p_x, p_y, p_t, p_xt, p_ty = {}, {}, {}, {}, {}
    for i in range(n):
        t = binned[i].tobytes()
        x, label = x_ids[i], y[i]
        p_x[x] = p_x.get(x, 0) + 1
        p_y[label] = p_y.get(label, 0) + 1
        p_t[t] = p_t.get(t, 0) + 1
        p_xt[(x, t)] = p_xt.get((x, t), 0) + 1
        p_ty[(t, label)] = p_ty.get((t, label), 0) + 1
    h_x, h_y, h_t = _entropy(p_x, n), _entropy(p_y, n), _entropy(p_t, n)
    return h_x + h_t - _entropy(p_xt, n), h_t + h_y - _entropy(p_ty, n)


def run_reference(epochs: int, seed: int = 0) -> dict:
    """Train and measure as the notebook does; times its parts."""
    start = time.perf_counter()
    labels_of = seed10().labels
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 1024, N_TRAIN + N_TEST)
    bits = ((ids[:, None] >> np.arange(9, -1, -1)) & 1).astype(np.float32)
    y = labels_of[ids]
    targets = np.stack([y, 1 - y], axis=1).astype(np.float32)  # column 0: the label
    x_train, t_train = jnp.asarray(bits[:N_TRAIN]), jnp.asarray(targets[:N_TRAIN])
    x_test, t_test = bits[N_TRAIN:], targets[N_TRAIN:]
    x_ids, y_train = ids[:N_TRAIN].tolist(), y[:N_TRAIN].tolist()
    model = RefMLP(jax.random.PRNGKey(seed))
    opt_state = OPT.init(eqx.filter(model, eqx.is_array))
    step_s, measure_s = [], []  # the first of each includes its JIT compilation
    i_xt, i_ty, measured = [], [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model, opt_state, loss = _step(model, opt_state, x_train, t_train)
        loss.block_until_ready()
        t1 = time.perf_counter()
        step_s.append(t1 - t0)
        if epoch % EVERY == 0:
            _, hidden = _forward(model, x_train)
            row = [dict_information(np.asarray(a), x_ids, y_train) for a in hidden]
            i_xt.append([r[0] for r in row])
            i_ty.append([r[1] for r in row])
            measured.append(epoch)
            measure_s.append(time.perf_counter() - t1)
    logits, _ = _forward(model, jnp.asarray(x_test))
    accuracy = float(np.mean(np.argmax(logits, 1) == np.argmax(t_test, 1)))
    total = time.perf_counter() - start
    return {
        "epochs": epochs,
        "measurements": len(measured),
        "seconds": total,
        "train_seconds": sum(step_s),
        "measure_seconds": sum(measure_s),
        "other_seconds": total - sum(step_s) - sum(measure_s),
        "first_step_seconds": step_s[0],
        "step_seconds": float(np.mean(step_s[1:] or step_s)),
        "first_measure_seconds": measure_s[0],
        "measure_each_seconds": float(np.mean(measure_s[1:] or measure_s)),
        "final_epoch": measured[-1],
        "i_xt": i_xt[-1],
        "i_ty": i_ty[-1],
        "test_accuracy": accuracy,
        "sample_h_x": _entropy(
            {x: int(c) for x, c in enumerate(np.bincount(ids[:N_TRAIN])) if c}, N_TRAIN
        ),
    }


def extrapolate(ref: dict) -> float:
    """Linear extrapolation to 3000 epochs and 150 measurements.

    Counted once: data and model setup, the test pass, and the first step and first
    measurement (each with its JIT compilation). The other steps and measurements are
    counted at their mean time.
    """
    n_measurements = len(range(0, EPOCHS, EVERY))
    return (
        ref["other_seconds"]
        + ref["first_step_seconds"]
        + (EPOCHS - 1) * ref["step_seconds"]
        + ref["first_measure_seconds"]
        + (n_measurements - 1) * ref["measure_each_seconds"]
    )


# --- infoplane, each configuration in a fresh process ----------------------------

CHILD = """
import json, resource, time
t0 = time.perf_counter()
import jax
import infoplane as ip
import infoplane.training  # the package imports lazily; the reference's imports
                           # (JAX, Equinox, Optax) are not timed either
import_s = time.perf_counter() - t0
phases = {{"trace": 0.0, "lower": 0.0, "compile": 0.0}}  # of the first call
events = {{
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}}


def listen(event, seconds, **kwargs):
    if event in events:
        phases[events[event]] += seconds


jax.monitoring.register_event_duration_secs_listener(listen)
exp = ip.preset("seed", seeds={seeds})
t = time.perf_counter()
result = ip.run(exp)
first = time.perf_counter() - t
first_phases = dict(phases)
second = None
if {repeat}:
    t = time.perf_counter()
    result = ip.run(exp)
    second = time.perf_counter() - t
print(json.dumps({{
    "devices": len(jax.devices()),
    "import_seconds": import_s,
    "first_seconds": first,
    "first_phases": first_phases,
    "second_seconds": second,
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "epochs": result.epochs.tolist(),
    "i_xt": result.i_xt[0, :, :, 0].tolist(),
    "i_ty": result.i_ty[0, :, :, 0].tolist(),
    "test_accuracy": result.arrays["test_accuracy"][0].tolist(),
    "mean_final_i_xt": result.i_xt[:, -1, :, 0].mean(0).tolist(),
    "mean_final_i_ty": result.i_ty[:, -1, :, 0].mean(0).tolist(),
}}))
"""


def run_child(
    seeds: int, *, repeat: bool, devices: int = 1, cache: str | None = None
) -> dict:
    """Run infoplane in a fresh process. ``cache``: None for no persistent
    compilation cache (a cold start, compilation included), else a directory."""
    env = dict(os.environ)
    if cache is None:
        env["INFOPLANE_JAX_CACHE"] = "0"
    else:
        env["INFOPLANE_CACHE"] = cache
    env["XLA_FLAGS"] = " ".join(
        f
        for f in env.get("XLA_FLAGS", "").split()
        if not f.startswith("--xla_force_host_platform_device_count")
    )
    env["INFOPLANE_CPU_DEVICES"] = str(devices)  # JAX CPU devices infoplane asks for
    code = CHILD.format(seeds=seeds, repeat=repeat)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"infoplane subprocess (seeds={seeds}) failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = wall
    return out


# --- report ----------------------------------------------------------------------


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
    parser.add_argument(
        "--reference-epochs",
        type=int,
        default=EPOCHS,
        help="epochs of the reference run; fewer than 3000 are extrapolated linearly",
    )
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if not 1 <= args.reference_epochs <= EPOCHS:
        parser.error(f"--reference-epochs must be between 1 and {EPOCHS}")

    print(
        f"machine: {platform.platform()}, {_cpu_model()}, "
        f"os.cpu_count()={os.cpu_count()}"
    )
    print(
        f"python {platform.python_version()}, jax {jax.__version__}, "
        f"equinox {eqx.__version__}, optax {optax.__version__}, numpy {np.__version__}"
    )
    print(f"load average before: {os.getloadavg()}")

    print(f"\n[1/4] reference, {args.reference_epochs} epochs ...", flush=True)
    ref = run_reference(args.reference_epochs)
    shortened = args.reference_epochs < EPOCHS
    ref_time = extrapolate(ref) if shortened else ref["seconds"]
    print(
        f"      {ref['seconds']:.1f} s: training {ref['train_seconds']:.1f} s "
        f"(first step incl. compile {ref['first_step_seconds']:.2f} s, then "
        f"{1e3 * ref['step_seconds']:.1f} ms/epoch), forward + MI counting "
        f"{ref['measure_seconds']:.1f} s ({ref['measurements']} measurements, "
        f"{ref['measure_each_seconds']:.3f} s each), data/init/test "
        f"{ref['other_seconds']:.1f} s"
    )
    if shortened:
        print(
            f"      EXTRAPOLATED from {ref['epochs']} epochs / "
            f"{ref['measurements']} measurements to {EPOCHS} epochs / "
            f"{len(range(0, EPOCHS, EVERY))} measurements: {ref_time:.1f} s"
        )

    print("[2/4] infoplane seeds=1, fresh process, two calls ...", flush=True)
    one = run_child(1, repeat=True)
    with tempfile.TemporaryDirectory() as cache:
        run_child(1, repeat=False, cache=cache)  # fills the compilation cache
        warm = run_child(1, repeat=False, cache=cache)
    print("[3/4] infoplane seeds=50, fresh process, 1 device ...", flush=True)
    fifty = run_child(50, repeat=False)
    print("[4/4] infoplane seeds=50, fresh process, 2 devices ...", flush=True)
    fifty2 = run_child(50, repeat=False, devices=2)
    print(f"load average after: {os.getloadavg()}")

    compiled, first = one["second_seconds"], one["first_seconds"]
    phases = ("trace", "lower", "compile")
    peak = max(r["maxrss_mib"] for r in (one, fifty, fifty2))
    ref_label = "extrapolated" if shortened else "measured"
    rows = [
        (f"reference, 3000 epochs ({ref_label})", f"{ref_time:8.2f} s", ""),
        ("infoplane seeds=1, compiled (2nd call)", f"{compiled:8.2f} s", ""),
        ("infoplane seeds=1, 1st call incl. compile", f"{first:8.2f} s", ""),
        (
            "  (of which tracing / lowering / XLA compiling)",
            " / ".join(f"{one['first_phases'][k]:.2f}" for k in phases) + " s",
            "",
        ),
        (
            "  (fresh process: import / whole process)",
            f"{one['import_seconds']:.2f} / {one['process_seconds']:.2f} s",
            "",
        ),
        (
            "infoplane seeds=1, 1st call, warm disk cache",
            f"{warm['first_seconds']:8.2f} s",
            f"{ref_time / warm['first_seconds']:.1f}x the reference",
        ),
        (
            "speed-up reference / compiled",
            f"{ref_time / compiled:8.1f} x",
            f">= {TARGET_COMPILED:.0f}x "
            + _verdict(ref_time / compiled >= TARGET_COMPILED),
        ),
        (
            "speed-up reference / incl. compile",
            f"{ref_time / first:8.1f} x",
            f">= {TARGET_FIRST:.0f}x " + _verdict(ref_time / first >= TARGET_FIRST),
        ),
        (
            f"infoplane seeds=50, 1 device ({fifty['devices']} seen)",
            f"{fifty['first_seconds']:8.2f} s",
            f"< {TARGET_50_SECONDS:.0f} s "
            + _verdict(fifty["first_seconds"] < TARGET_50_SECONDS),
        ),
        (
            f"infoplane seeds=50, 2 devices ({fifty2['devices']} seen)",
            f"{fifty2['first_seconds']:8.2f} s",
            f"< {TARGET_50_SECONDS:.0f} s "
            + _verdict(fifty2["first_seconds"] < TARGET_50_SECONDS),
        ),
        (
            "  (whole process, 1 / 2 devices)",
            f"{fifty['process_seconds']:.2f} / {fifty2['process_seconds']:.2f} s",
            "",
        ),
        ("peak RSS seeds=1 process", f"{one['maxrss_mib']:8.0f} MiB", ""),
        (
            "peak RSS seeds=50 process, 1 / 2 devices",
            f"{fifty['maxrss_mib']:.0f} / {fifty2['maxrss_mib']:.0f} MiB",
            f"< 1 GiB {_verdict(peak < TARGET_MEMORY_MIB)}",
        ),
    ]
    print("\n" + "-" * 90)
    for name, value, target in rows:
        print(f"{name:<44}{value:>22}   {target}")
    print("-" * 90)

    # Agreement: the reference's last measurement, and infoplane's at the same epoch.
    k = one["epochs"].index(ref["final_epoch"])
    print(
        f"\ninformation at epoch {ref['final_epoch']} (nats; different data draw and "
        "init, so only roughly equal)"
    )
    print(
        f"{'layer':<8}{'ref I(X;T)':>12}{'ip I(X;T)':>12}"
        f"{'ref I(T;Y)':>12}{'ip I(T;Y)':>12}{'ip50 mean I(X;T)':>18}"
        f"{'ip50 mean I(T;Y)':>18}"
    )
    for layer in range(len(HIDDEN)):
        # The 50 networks' means are at epoch 2980: not comparable to a shortened run.
        means = ["n/a", "n/a"]
        if not shortened:
            means = [
                f"{fifty['mean_final_' + name][layer]:.4f}" for name in ("i_xt", "i_ty")
            ]
        print(
            f"{layer + 1:<8}{ref['i_xt'][layer]:>12.4f}{one['i_xt'][k][layer]:>12.4f}"
            f"{ref['i_ty'][layer]:>12.4f}{one['i_ty'][k][layer]:>12.4f}"
            f"{means[0]:>18}{means[1]:>18}"
        )
    print(
        f"{'test acc':<8}{ref['test_accuracy']:>12.4f}"
        f"{one['test_accuracy'][k]:>12.4f}   (reference: after the last epoch)"
    )
    ty_ok = abs(ref["i_ty"][0] - LN2) <= TOL_ITY
    xt_ok = abs(ref["i_xt"][0] - LN1024) <= TOL_IXT
    skip = " (SKIP as a check: shortened reference run)" if shortened else ""
    print(
        f"reference layer-1 I(T;Y) = {ref['i_ty'][0]:.4f}, ln 2 = {LN2:.4f}, "
        f"within {TOL_ITY}: {_verdict(ty_ok)}{skip}"
    )
    print(
        f"reference layer-1 I(X;T) = {ref['i_xt'][0]:.4f}, ln 1024 = {LN1024:.4f} "
        f"(sample H(X) = {ref['sample_h_x']:.4f}), within {TOL_IXT}: "
        f"{_verdict(xt_ok)}{skip}"
    )

    if args.json:
        numbers = {
            "machine": {
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "jax": jax.__version__,
            },
            "reference": ref | {"seconds_3000_epochs": ref_time},
            "reference_extrapolated": shortened,
            "infoplane_seeds1": one,
            "infoplane_seeds50_1dev": fifty,
            "infoplane_seeds50_2dev": fifty2,
            "speedup_compiled": ref_time / compiled,
            "speedup_first_call": ref_time / first,
            "peak_rss_mib": peak,
        }
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
