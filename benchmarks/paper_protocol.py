"""Time the paper's whole protocol, the ``tishby2017`` preset, and check its picture.

The protocol (Shwartz-Ziv & Tishby 2017): the 12-bit task (4096 patterns, the
icosahedral rule), 85% of each class for training, a tanh MLP 10-7-5-4-3 with a
softmax output, Adam (lr 4e-4) on mini-batches of 256, 50 networks for 10,000 epochs,
and at 300 log-spaced epochs I(X;T) and I(T;Y) of every hidden layer and of the output
layer (30 bins on [-1, 1], over all 4096 inputs), with gradient statistics, in bits.

What one run measures, each in a fresh subprocess, so that compilation is included
and the peak memory is that of the run alone:

1. ``ip.run(ip.preset("tishby2017"))``: the wall time end to end (interpreter start,
   imports, compilation, training and measurement), the peak resident memory, the
   time per network-epoch (wall / (networks * epochs)).
2. The same preset with ``measure="log:2"``: two measurements (the first and the last
   epoch), so training alone with everything else equal. The share of the time spent
   measuring is (full - training only) / full, on the end-to-end walls.

From the full run it prints the paper's qualitative picture on the mean over seeds:
every layer's final I(T;Y) (near 1 bit), the first layer's final I(X;T) (near
12 bits), per layer the maximum over epochs of the mean I(X;T), its epoch and the
final value (the deeper layers should rise, then fall: compression), the summary's
compression with its bootstrap interval, and the epoch where the gradients go from
drift to diffusion (``infoplane.analysis.snr_transition``). Then PASS/FAIL against the
targets: under 2 minutes end to end, peak memory under 2 GiB.

Run: ``python benchmarks/paper_protocol.py`` (a few minutes on 2 CPU cores: both
subprocesses train 50 networks for 10,000 epochs). ``--epochs N`` and ``--seeds N``
run a reduced protocol (quick: ``--epochs 300 --seeds 4``); the targets are meant for
the full one. ``--json PATH`` also writes the numbers.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

PRESET = "tishby2017"
EPOCHS = 10_000
SEEDS = 50
TARGET_SECONDS = 120.0
TARGET_MEMORY_MIB = 2048.0
TOL_ITY = 0.1  # final mean I(T;Y) within this many bits of I(X;Y)
TOL_IXT = 0.5  # layer 1's final mean I(X;T) within this many bits of H(X)
DROP = 0.05  # a rise or fall counts when it exceeds this share of the maximum

# The child: nothing may start JAX's backends before infoplane has set the CPU device
# count, which happens when ``ip.preset`` first loads infoplane's training module.
CHILD = """
import json, resource, sys, time, warnings
start = time.perf_counter()
import infoplane as ip
overrides = json.loads(sys.argv[1])
exp = ip.preset({preset!r}, **overrides)
import jax
import numpy as np
import_s = time.perf_counter() - start
t = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result = ip.run(exp)
run_s = time.perf_counter() - t
maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {{
    "import_seconds": import_s,
    "run_seconds": run_s,
    "child_seconds": time.perf_counter() - start,
    "maxrss_mib": maxrss_mib,
    "devices": len(jax.devices()),
    "device_kind": jax.devices()[0].platform,
    "jax": jax.__version__,
    "cpu_count": __import__("os").cpu_count(),
    "platform": __import__("platform").platform(),
    "experiment": exp.to_dict(),
    "measurements": int(result.epochs.size),
    "warnings": [str(w.message) for w in caught],
}}
if {details}:
    from infoplane.analysis import snr_transition

    out.update(
        epochs=result.epochs.tolist(),
        layers=list(result.layers),
        estimator=result.estimators[0],
        h_x=float(result.info["h_x"]),
        i_xy=float(result.info["i_xy"]),
        mean_i_xt=result.i_xt[..., 0].mean(0).tolist(),
        mean_i_ty=result.i_ty[..., 0].mean(0).tolist(),
        final_train_accuracy=float(result.arrays["train_accuracy"][:, -1].mean()),
        final_test_accuracy=float(result.arrays["test_accuracy"][:, -1].mean()),
        summary=[r for r in result.summary() if r["estimator"] == result.estimators[0]],
        snr_transition=snr_transition(result),
    )
print(json.dumps(out))
"""


def run_child(overrides: dict, *, details: bool) -> dict:
    """Run the preset in a fresh interpreter; its numbers plus the wall seen here."""
    code = CHILD.format(preset=PRESET, details=details)
    env = dict(os.environ, MPLBACKEND="Agg")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(overrides)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"the {PRESET} subprocess ({overrides}) failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = wall
    return out


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def layer_shapes(full: dict) -> list[dict]:
    """Per layer, the seed-mean I(X;T) curve: start, maximum, its epoch, final."""
    epochs = np.asarray(full["epochs"])
    mean_xt = np.asarray(full["mean_i_xt"])  # (epoch, layer)
    mean_ty = np.asarray(full["mean_i_ty"])
    rows = []
    for j, layer in enumerate(full["layers"]):
        curve = mean_xt[:, j]
        k = int(curve.argmax())
        peak = float(curve[k])
        rise, fall = peak - float(curve[0]), peak - float(curve[-1])
        rows.append(
            {
                "layer": layer,
                "first_i_xt": float(curve[0]),
                "max_i_xt": peak,
                "max_epoch": int(epochs[k]),
                "final_i_xt": float(curve[-1]),
                "final_i_ty": float(mean_ty[-1, j]),
                "rises": rise > DROP * peak,
                "falls": fall > DROP * peak,
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--epochs", type=int, default=EPOCHS, help=f"epochs (default {EPOCHS})"
    )
    parser.add_argument(
        "--seeds", type=int, default=SEEDS, help=f"networks (default {SEEDS})"
    )
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.seeds < 1:
        parser.error("--epochs must be at least 2 and --seeds at least 1")
    reduced = args.epochs != EPOCHS or args.seeds != SEEDS
    overrides = {}
    if args.epochs != EPOCHS:
        overrides["epochs"] = args.epochs
    if args.seeds != SEEDS:
        overrides["seeds"] = args.seeds
    network_epochs = args.epochs * args.seeds

    print(f"protocol: preset {PRESET!r}, {args.seeds} networks x {args.epochs} epochs")
    if reduced:
        print(
            f"REDUCED run (the paper's protocol is {SEEDS} networks x {EPOCHS} "
            "epochs): the targets below are meant for the full protocol"
        )
    print(f"load average before: {os.getloadavg()}")

    print("[1/2] full preset, fresh process ...", flush=True)
    full = run_child(overrides, details=True)
    print("[2/2] training only (measure='log:2'), fresh process ...", flush=True)
    train_only = run_child(overrides | {"measure": "log:2"}, details=False)
    print(f"load average after: {os.getloadavg()}")

    print(
        f"\nmachine: {full['platform']}, {_cpu_model()}, "
        f"os.cpu_count()={full['cpu_count']}; python {platform.python_version()}, "
        f"jax {full['jax']}, {full['devices']} {full['device_kind']} device(s) "
        "seen by the child"
    )
    exp = full["experiment"]
    print(
        f"experiment: task {exp['task']}, hidden {exp['hidden']}, {exp['activation']}, "
        f"{exp['loss']}, {exp['optimizer']} lr {exp['lr']}, batch {exp['batch_size']}, "
        f"train_fraction {exp['train_fraction']}, measure {exp['measure']} "
        f"({full['measurements']} epochs) on {exp['measure_on']}, output measured "
        f"{exp['measure_output']}, grad_stats {exp['grad_stats']}, units "
        f"{exp['units']}, estimator {full['estimator']}"
    )

    wall, train_wall = full["process_seconds"], train_only["process_seconds"]
    share = (wall - train_wall) / wall
    run_share = (full["run_seconds"] - train_only["run_seconds"]) / full["run_seconds"]
    per_network_epoch = wall / network_epochs
    peak = full["maxrss_mib"]
    rows = [
        (
            "wall time end to end (incl. compile)",
            f"{wall:8.2f} s",
            f"< {TARGET_SECONDS:.0f} s {_verdict(wall < TARGET_SECONDS)}",
        ),
        (
            "  of which: imports / ip.run",
            f"{full['import_seconds']:.2f} / {full['run_seconds']:.2f} s",
            "",
        ),
        (
            "peak resident memory",
            f"{peak:8.0f} MiB",
            f"< {TARGET_MEMORY_MIB / 1024:.0f} GiB "
            + _verdict(peak < TARGET_MEMORY_MIB),
        ),
        ("time per network-epoch", f"{1e6 * per_network_epoch:8.2f} us", ""),
        (
            f"training only ({train_only['measurements']} measurements)",
            f"{train_wall:8.2f} s",
            f"(ip.run {train_only['run_seconds']:.2f} s)",
        ),
        (
            "share of time measuring (end to end)",
            f"{share:8.1%}",
            f"(of ip.run: {run_share:.1%})",
        ),
    ]
    print("\n" + "-" * 84)
    for name, value, target in rows:
        print(f"{name:<40}{value:>20}   {target}")
    print("-" * 84)
    if share < 0:
        print(
            "note: training only took longer than the full run; the measuring cost is "
            "below the noise (compilation and load) at this size"
        )
    for line in full["warnings"]:
        print(f"warning from the run: {line}")

    # The paper's qualitative picture, on the mean over seeds.
    shapes = layer_shapes(full)
    h_x, i_xy = full["h_x"], full["i_xy"]
    print(
        f"\nmean over {args.seeds} seeds, bits (H(X) = {h_x:.3f}, I(X;Y) = {i_xy:.3f});"
        f" final accuracy train {full['final_train_accuracy']:.3f}, "
        f"test {full['final_test_accuracy']:.3f}"
    )
    summary = {row["layer"]: row for row in full["summary"]}
    print(
        f"{'layer':<9}{'I(X;T) 0':>9}{'max':>8}{'at epoch':>10}{'final':>8}"
        f"{'shape':>15}{'final I(T;Y)':>14}   compression (95% CI), seeds"
    )
    for row in shapes:
        s = summary[row["layer"]]
        shape = {
            (True, True): "rise, fall",
            (True, False): "rise",
            (False, True): "fall",
            (False, False): "flat",
        }[(row["rises"], row["falls"])]
        print(
            f"{row['layer']:<9}{row['first_i_xt']:>9.3f}{row['max_i_xt']:>8.3f}"
            f"{row['max_epoch']:>10d}{row['final_i_xt']:>8.3f}{shape:>15}"
            f"{row['final_i_ty']:>14.3f}   {s['compression']:.3f} "
            f"({s['compression_ci_low']:.3f}, {s['compression_ci_high']:.3f}), "
            f"{s['compressing_seeds']:.0%}"
        )
    ty_ok = all(abs(r["final_i_ty"] - i_xy) <= TOL_ITY for r in shapes)
    xt_ok = abs(shapes[0]["final_i_xt"] - h_x) <= TOL_IXT
    deep = [r for r in shapes[1:] if r["layer"] != "output"]
    compressing = [r["layer"] for r in deep if r["rises"] and r["falls"]]
    print(
        f"every layer's final I(T;Y) within {TOL_ITY} bit of I(X;Y): "
        f"{'yes' if ty_ok else 'no'}"
    )
    print(
        f"layer 1 final I(X;T) = {shapes[0]['final_i_xt']:.3f}, within {TOL_IXT} bit "
        f"of H(X): {'yes' if xt_ok else 'no'}"
    )
    print(
        f"deeper hidden layers rising then falling (by > {DROP:.0%} of their max): "
        f"{len(compressing)} of {len(deep)} ({', '.join(compressing) or 'none'})"
    )
    snr = full["snr_transition"]
    print(
        "snr transition (drift -> diffusion): "
        + (f"epoch {snr}" if snr is not None else "none (mean above spread at the end)")
    )
    print(
        f"\ntargets{' (reduced run)' if reduced else ''}: end to end "
        f"{wall:.1f} s < {TARGET_SECONDS:.0f} s {_verdict(wall < TARGET_SECONDS)}; "
        f"peak {peak:.0f} MiB < {TARGET_MEMORY_MIB:.0f} MiB "
        f"{_verdict(peak < TARGET_MEMORY_MIB)}"
    )

    if args.json:
        numbers = {
            "reduced": reduced,
            "epochs": args.epochs,
            "seeds": args.seeds,
            "machine": {
                "platform": full["platform"],
                "cpu": _cpu_model(),
                "cpu_count": full["cpu_count"],
                "jax": full["jax"],
                "devices": full["devices"],
            },
            "wall_seconds": wall,
            "peak_rss_mib": peak,
            "seconds_per_network_epoch": per_network_epoch,
            "train_only_wall_seconds": train_wall,
            "measure_share": share,
            "measure_share_of_run": run_share,
            "pass_time": wall < TARGET_SECONDS,
            "pass_memory": peak < TARGET_MEMORY_MIB,
            "layers": shapes,
            "snr_transition": snr,
            "full": full,
            "train_only": train_only,
        }
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
