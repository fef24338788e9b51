"""What a multi-process run costs: 2 processes x 1 device against 1 process x 2 devices.

The paper's protocol (``tishby2017``: 50 networks, Adam on batches of 256, 300
log-spaced measurements of 6 layers, gradient statistics; ``--epochs`` shortens it,
1000 by default) runs on this machine's CPU cores in two layouts, each process a fresh
interpreter:

- **1 x 2**: one process with two CPU devices (``--xla_force_host_platform_device_count
  =2``); the seed axis is sharded over them, the records come back by a local copy.
- **2 x 1**: two processes with one CPU device each, joined by ``jax.distributed``
  (coordinator on 127.0.0.1, gloo over TCP); each draws and trains its 25 networks and
  every chunk's records are all-gathered.

Both train the same 50 networks on the same two cores, so the difference is the
runtime's overhead: starting the coordination service, the all-gathers, and compiling
a multi-process program. The benchmark prints, per layout and repeat, the wall time
(the slower process), the run (``ip.run``), the host setup (drawing the networks), the
gathers (time, bytes, calls) and process 0's writing of the result files; the ratio of
the walls and of the runs (2 x 1 over 1 x 2); and whether the arrays are bit-identical.

Run: ``python benchmarks/distributed.py`` (about 12 minutes on 2 cores: 3 repeats of
each layout), ``--epochs``, ``--seeds``, ``--repeats``, ``--json PATH``.

Measured on a 2-core AMD EPYC shared with other work (load average 6-8 throughout, so
every number is noisy), JAX 0.10.2, 50 networks x 1000 epochs, 3 repeats:

- 1 x 2: wall 112-131 s (run 108-127 s); 2 x 1: wall 110-121 s (run 101-114 s);
  median wall ratio 2 x 1 / 1 x 2 = 0.91, median run ratio 0.88: no overhead
  measurable against the noise of the shared machine, beyond the start;
- start (imports, ``jax.distributed.initialize``, the first collective): 5.4-6.2 s
  against 2.6-2.9 s, i.e. about 3 s for the runtime;
- gathers: 25 calls, 6.1 MiB per process; 4.7-11.8 s of each 2 x 1 run, which is
  mostly one process waiting for the other to finish its chunk (the two share two
  busy cores), not transfer (0.01 s for the same bytes copied locally);
- host setup 4.3 ms per network; process 0's writing of result.json, arrays.npz and
  information.csv 12.8 us per CSV row;
- the arrays are bit-identical across layouts and processes.

With 1000 epochs the 300 measurements are a large share of the run (2.4 ms per
network-epoch here, against 210 us for the full 10,000-epoch protocol on an idle
machine).

Scaling model (on paper: per-device speeds from the README's single-device figures,
the rest from the measurements above)
------------------------------------------------------------------------------------
Notation: N networks, E epochs, M measurements, P processes with D devices each,
G = P * D devices, c = measurements per chunk (about M / 25, a power of two).

*Training* is embarrassingly parallel: every device runs ceil(N / G) networks under
``vmap`` and nothing crosses devices inside a chunk. Time ~ E * t(ceil(N / G)), where
t(n) is one epoch of n networks on one device. On a CPU core t(n) ~ n * 420 us for
this protocol (210 us per network-epoch on 2 cores), so the time per network-epoch
falls as 1 / G: doubling the processes halves the training time. On a GPU t(n) is
latency-bound for small n (50 networks: 47-49 us per network-epoch on an H100/H200,
i.e. t(50) ~ 2.4 ms for an epoch of 14 Adam steps), so more networks per GPU are
nearly free until the GPU fills, and more GPUs help only once each has several
hundred networks.

*Host setup*: each process draws only the networks of its own devices: N / P times
4.3 ms, in parallel over processes.

*Gathers*: per chunk one all-gather of the records, N * c rows of
R = L * (6 + 4 * Est) + 4 float64 values (L measured layers, hidden and output, Est
estimators, with gradient statistics): 64 values, 512 bytes, for ``tishby2017``. Over
the run each process receives N * M * 512 B * (P - 1) / P; a ring all-gather costs
~ 25 * (P - 1) * latency + N * M * 512 B * (P - 1) / (P * bandwidth). Every process
receives everything, so the volume per process does not shrink with P: it grows
towards N * M * 512 B, and does not depend on E. Each gather also waits for the
slowest process's chunk.

*Memory* (every process, since every process holds every record): the result's
arrays, N * M * (4 * L * Est * 8 + (6 * L + 4) * 4) bytes = 352 B per network and
measurement for ``tishby2017``, about twice that while the chunks are joined, plus one
chunk of float64 records (N * c * 512 B).

*Writing* (process 0 only, after training): ``information.csv`` has N * M * L * Est
rows, at 12.8 us a row here: it grows with N and does not shrink with P.

A cluster of 4 nodes x 8 GPUs (G = 32) running ``tishby2017`` with N = 10,000
networks, E = 10,000 epochs, M = 300. Assumptions: one process per GPU (P = 32:
``srun -N 4 --ntasks-per-node 8 --gpus-per-node 8``, JAX gives each task the GPU of its
local rank); each GPU still latency-bound at 313
networks, t(313) between 1x and 2x t(50), i.e. 2.4-4.8 ms; 10 GbE between nodes;
the host writes as fast as this one.

- training: 10,000 * (2.4-4.8 ms) = 24-48 s, all GPUs in parallel (the same 10,000
  networks on the 2 CPU cores here: 10,000 * 10,000 * 210 us = 5.8 hours);
- start and compile: ~10-20 s (XLA for the GPU, once per process, in parallel);
- host setup: 313 networks per process at 4.3 ms: ~1.3 s;
- gathers: 10,000 * 300 * 512 B = 1.5 GB received per process over the run, ~1.2 s at
  1.25 GB/s; the 8 processes of a node share its link, so up to ~10 s on 10 GbE
  (under 1 s on InfiniBand);
- memory: ~1.1 GB of records per process (~2.1 GB at the end), ~17 GB per node;
- writing on process 0: 10,000 * 300 * 6 = 18 million CSV rows at 12.8 us: ~4
  minutes and ~1 GB of CSV, the longest part of the run.

So at 10,000 networks this protocol is bound by process 0 writing the result, then by
starting up; the GPUs are nearly idle. One process per node driving its 8 GPUs
(P = 4, D = 8: one task per node with ``JAX_LOCAL_DEVICE_IDS=0,1,2,3,4,5,6,7``, else
JAX's SLURM detection gives each process one GPU) would cut the gather volume and the
host memory per node by 8.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

PRESET = "tishby2017"

# The child: one process of a layout. ``distributed.initialize`` must come before
# anything starts JAX's backends; the timing wrappers only read the clock.
CHILD = """
import hashlib, json, sys, tempfile, time
start = time.perf_counter()
args = json.loads(sys.argv[1])
import infoplane as ip
from infoplane import training
if args["process_id"] is not None:
    ip.distributed.initialize(
        args["coordinator"], args["num_processes"], args["process_id"]
    )
import jax
import numpy as np
devices = len(jax.devices())
ready_s = time.perf_counter() - start
spent = {"gather_seconds": 0.0, "gather_bytes": 0, "gather_calls": 0, "setup": 0.0}
real_gather, real_setup = training.gather, training._setup

def gather(array):
    t = time.perf_counter()
    out = real_gather(array)
    spent["gather_seconds"] += time.perf_counter() - t
    spent["gather_bytes"] += out.nbytes
    spent["gather_calls"] += 1
    return out

def setup(*a, **k):
    t = time.perf_counter()
    out = real_setup(*a, **k)
    spent["setup"] += time.perf_counter() - t
    return out

training.gather, training._setup = gather, setup
exp = ip.preset(args["preset"], epochs=args["epochs"], seeds=args["seeds"])
t = time.perf_counter()
result = ip.run(exp)
run_s = time.perf_counter() - t
write_s = rows = None
if jax.process_index() == 0:
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        result.write_files(folder)
        write_s = time.perf_counter() - t
    rows = int(np.prod(result.i_xt.shape))
digest = hashlib.sha256()
for name in sorted(result.arrays):
    digest.update(name.encode() + np.ascontiguousarray(result.arrays[name]).tobytes())
print(json.dumps({
    "process": jax.process_index(), "devices": devices, "ready_seconds": ready_s,
    "setup_seconds": spent["setup"], "run_seconds": run_s,
    "gather_seconds": spent["gather_seconds"], "gather_bytes": spent["gather_bytes"],
    "gather_calls": spent["gather_calls"], "write_seconds": write_s, "csv_rows": rows,
    "measurements": int(result.epochs.size), "digest": digest.hexdigest(),
    "child_seconds": time.perf_counter() - start, "jax": jax.__version__,
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    env.pop("XLA_FLAGS", None)
    if devices == 1:
        env["INFOPLANE_CPU_DEVICES"] = "1"
    else:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def run_layout(processes: int, devices: int, epochs: int, seeds: int) -> dict:
    """One run of the preset over ``processes`` processes of ``devices`` devices."""
    port = _free_port()
    children = []
    start = time.perf_counter()
    for i in range(processes):
        args = {
            "preset": PRESET,
            "epochs": epochs,
            "seeds": seeds,
            "coordinator": f"127.0.0.1:{port}",
            "num_processes": processes,
            "process_id": i if processes > 1 else None,
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, json.dumps(args)],
                env=_environment(devices),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = []
    for child in children:
        out, err = child.communicate(timeout=3600)
        if child.returncode != 0:
            sys.stderr.write(err)
            raise RuntimeError(f"a {processes} x {devices} child failed")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - start
    return {"wall_seconds": wall, "processes": outs}


def _line(name: str, run: dict) -> str:
    slow = max(run["processes"], key=lambda p: p["run_seconds"])
    main = run["processes"][0]
    mib = slow["gather_bytes"] / 2**20
    return (
        f"{name}: wall {run['wall_seconds']:6.1f} s"
        f"  start {slow['ready_seconds']:4.1f} s"
        f"  setup {slow['setup_seconds']:5.2f} s  run {slow['run_seconds']:6.1f} s"
        f"  gathers {slow['gather_seconds']:5.2f} s ({slow['gather_calls']} calls, "
        f"{mib:.1f} MiB)  write {main['write_seconds']:5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    print(
        f"{PRESET}: {args.seeds} networks, {args.epochs} epochs, on {os.cpu_count()} "
        f"CPU cores; {args.repeats} repeats, layouts alternating"
    )
    runs = {"1x2": [], "2x1": []}
    for repeat in range(args.repeats):
        order = ["1x2", "2x1"] if repeat % 2 == 0 else ["2x1", "1x2"]
        for name in order:
            processes, devices = map(int, name.split("x"))
            run = run_layout(processes, devices, args.epochs, args.seeds)
            runs[name].append(run)
            print(_line(f"{processes} process x {devices} device".ljust(22), run))
    digests = {p["digest"] for rs in runs.values() for r in rs for p in r["processes"]}
    walls = {
        k: statistics.median(r["wall_seconds"] for r in v) for k, v in runs.items()
    }
    trains = {
        k: statistics.median(max(p["run_seconds"] for p in r["processes"]) for r in v)
        for k, v in runs.items()
    }
    main_ = runs["1x2"][0]["processes"][0]
    rows = main_["csv_rows"]
    per_row = statistics.median(r["processes"][0]["write_seconds"] for r in runs["1x2"])
    per_network = statistics.median(
        r["processes"][0]["setup_seconds"] / args.seeds for r in runs["1x2"]
    )
    network_epochs = args.seeds * args.epochs
    print(
        f"median wall: 2x1 / 1x2 = {walls['2x1']:.1f} / {walls['1x2']:.1f} s = "
        f"{walls['2x1'] / walls['1x2']:.3f}; median run: "
        f"{trains['2x1']:.1f} / {trains['1x2']:.1f} s = "
        f"{trains['2x1'] / trains['1x2']:.3f}"
    )
    print(
        f"per network-epoch (run): 1x2 {trains['1x2'] / network_epochs * 1e6:.0f} us, "
        f"2x1 {trains['2x1'] / network_epochs * 1e6:.0f} us; host setup "
        f"{per_network * 1e3:.1f} ms per network; writing {rows} CSV rows (+ npz, "
        f"json) {per_row:.2f} s = {per_row / rows * 1e6:.1f} us per row"
    )
    print(f"arrays bit-identical across layouts and processes: {len(digests) == 1}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
