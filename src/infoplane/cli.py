"""The ``infoplane`` command: parse, build an Experiment, call the library, write files.

JAX is imported only by commands that need it, so ``--help`` and ``--version`` start
fast.
"""

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import warnings
from pathlib import Path

from infoplane import __version__

__all__ = ["main"]

USAGE_ERROR, RUNTIME_ERROR = 2, 1


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.replace(" ", "").split(","))
    except ValueError:  # also an empty item: 3,,2 is a typo, not 3,2
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 8,6,4, got {text!r}"
        ) from None


def _path(text: str) -> Path:
    # ~ too where the shell left it (--out=~/runs/x): checked and written alike.
    return Path(text).expanduser()


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 0 or a positive integer, got {text!r}"
        )
    return value


def _loss(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive loss, got {text!r}")
    return value


NO_PICTURES = (
    "write the result files only, no pictures: quicker for many runs (an array job, "
    "a large sweep); infoplane plot RUN_DIR draws them later"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infoplane",
        description=(
            "Information-plane analysis of neural networks: train networks, measure "
            "I(X;T) and I(T;Y) of every hidden layer over training, and draw them."
        ),
        epilog="Example: infoplane run seed --out runs/seed  (see `infoplane presets`)",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="train networks and measure their information plane",
        description=(
            "Train the networks of an experiment, measure I(X;T) and I(T;Y) of each "
            "layer on the schedule, and write result.json, arrays.npz, "
            "information.csv and pictures (plane.png, plane.gif, curves.png) to --out."
        ),
    )
    run.add_argument(
        "experiment",
        metavar="PRESET|FILE.toml|TASK",
        help=(
            "a preset name (list them with `infoplane presets`), a TOML file, or a "
            "data task (digits, mnist:DIR, file:X.npz) to train with the classify "
            "preset; mnist:DIR,train=5000,test=1000 takes the first 5000 training "
            "and 1000 test images"
        ),
    )
    run.add_argument("--out", type=_path, help="output directory (default: runs/NAME)")
    run.add_argument("--seeds", type=int, help="number of networks to train together")
    run.add_argument("--seed", type=int, help="base seed; every key derives from it")
    run.add_argument("--epochs", type=int, help="training epochs")
    run.add_argument("--hidden", type=_int_list, help="hidden widths, e.g. 8,6,4")
    run.add_argument("--activation", help="hidden nonlinearity, e.g. tanh, relu")
    run.add_argument("--lr", type=float, help="learning rate")
    measure = run.add_mutually_exclusive_group()
    measure.add_argument(
        "--measure-every", type=int, metavar="K", help="measure every K epochs"
    )
    measure.add_argument(
        "--measure", metavar="SPEC", help="measurement schedule: every:K or log:N"
    )
    run.add_argument(
        "--estimator",
        action="append",
        metavar="SPEC",
        help="estimator, repeatable, e.g. binning:bins=30,range=-1:1",
    )
    run.add_argument("--units", choices=("nats", "bits"), help="units of results")
    run.add_argument(
        "--grad-stats",
        action="store_true",
        help="record per-layer gradient mean/spread norms and draw snr.png",
    )
    run.add_argument(
        "--ib-bound",
        action="store_true",
        help="draw the task's information bottleneck curve on the planes (cached)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=(
            "set any experiment field, repeatable, e.g. --set batch_size=256; "
            "--set task=file:mine.npz trains on your own arrays (an .npz with "
            "inputs and labels)"
        ),
    )
    run.add_argument(
        "--log-every",
        type=_count,
        default=200,
        metavar="N",
        help="print test accuracy and loss every N epochs and at the last "
        "(0: never; default 200)",
    )
    run.add_argument(
        "--no-video", action="store_true", help="skip plane.gif and plane.mp4"
    )
    run.add_argument("--no-pictures", action="store_true", help=NO_PICTURES)
    run.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier infoplane run in --out (never other files)",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress bar, log lines or summary"
    )
    run.add_argument(
        "--keep",
        type=int,
        default=0,
        metavar="N",
        help="also keep the first N networks' activations at every measured epoch, "
        "and their final parameters, in arrays.npz (float32: N x measurements x "
        "measured inputs x units x 4 bytes, at most 1 GiB), so that `infoplane "
        "remeasure` can measure the run again with another estimator",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when any network diverges; by default a run fails only "
        "when all do, and a diverged network's later values are NaN",
    )
    several = run.add_argument_group(
        "more than one machine",
        "Start the same command once per process (srun does). The networks are "
        "shared out over the devices of all processes; process 0 writes --out and "
        "reports, the others print only errors.",
    )
    several.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run (jax.distributed): under SLURM nothing more "
        "is needed, else give the three options below",
    )
    several.add_argument(
        "--coordinator", metavar="HOST:PORT", help="address of process 0"
    )
    several.add_argument(
        "--num-processes", type=int, metavar="N", help="processes in the run"
    )
    several.add_argument(
        "--process-id", type=int, metavar="I", help="this process, 0 to N-1"
    )
    several.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=100,
        metavar="SECONDS",
        help="a process silent this long counts as dead and the run fails on "
        "every process (default 100)",
    )
    several.add_argument(
        "--join-timeout",
        type=int,
        default=300,
        metavar="SECONDS",
        help="how long the processes wait for each other to start (default 300)",
    )

    commands.add_parser("presets", help="list the presets with a one-line description")

    bound = commands.add_parser(
        "bound",
        help="the information bottleneck curve of a task, as CSV and a picture",
        description=(
            "Compute the information bottleneck curve of a task's population p(x, y) "
            "(cached on disk) and write it as CSV (beta, i_xt, i_ty) and a picture "
            "next to it (same name, .png). With deterministic labels the curve is the "
            "corner I(T;Y) = min(I(X;T), H(Y)); use e.g. tishby12:gamma=2 for "
            "stochastic labels and a smooth curve."
        ),
    )
    bound.add_argument(
        "task",
        metavar="TASK",
        help="e.g. tishby12:gamma=2, seed10, or file:JOINT.npz with p_xy (n x c), "
        "or p_y rows p(y|x) and optionally p_x",
    )
    bound.add_argument("--out", type=_path, required=True, help="CSV file to write")
    bound.add_argument("--units", choices=("nats", "bits"), default="bits")
    bound.add_argument(
        "--force",
        action="store_true",
        help="replace a CSV and its picture that infoplane wrote",
    )

    sweep = commands.add_parser(
        "sweep",
        help="run an experiment over a grid of field values",
        description=(
            "Run one experiment for every combination of --set values; write one run "
            "directory per point, sweep.png (the information planes side by side) and, "
            "when the number of hidden layers varies, depth.png (epochs to the "
            "compression phase and to a training loss, against depth)."
        ),
        epilog=(
            "Examples: infoplane sweep tishby2017 --set train_fraction=0.05,0.45,0.85 "
            "--out runs/fractions ;  infoplane sweep tishby2017 "
            "--set 'hidden=10;10,7;10,7,5;10,7,5,4' --out runs/depth ;  "
            "infoplane sweep tishby2017 --set train_fraction=0.05,0.45 --shard 0/2 "
            "--out runs/f  (and --shard 1/2), then infoplane sweep --collect runs/f"
        ),
    )
    sweep.add_argument("experiment", metavar="PRESET|FILE.toml", nargs="?")
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUES",
        help="values of one field: ',' or ';' between points (';' for tuple fields)",
    )
    sweep.add_argument("--out", type=_path, help="output directory")
    sweep.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the points I, I+N, I+2N, ... (0 <= I < N) into --out, "
        "skipping points already complete there, e.g. one task of an array job; "
        "`slurm` reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT",
    )
    sweep.add_argument(
        "--collect",
        type=_path,
        metavar="DIR",
        help="draw sweep.png and write summary.csv and verdict.txt of a sharded "
        "sweep once all its points exist (says which are missing otherwise)",
    )
    sweep.add_argument("--seeds", type=int, help="networks per point")
    sweep.add_argument("--epochs", type=int, help="training epochs")
    sweep.add_argument(
        "--loss-threshold",
        type=_loss,
        default=0.1,
        help="training loss that counts as converged in depth.png (default 0.1)",
    )
    sweep.add_argument("--video", action="store_true", help="animate every point too")
    sweep.add_argument("--no-pictures", action="store_true", help=NO_PICTURES)
    sweep.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier infoplane sweep in --out (never other files)",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress or summary")
    sweep.add_argument(
        "--strict", action="store_true", help="fail when any network diverges"
    )

    remeasure = commands.add_parser(
        "remeasure",
        help="measure a saved run again with another estimator",
        description=(
            "Measure the activations that a run kept (infoplane run ... --keep N) "
            "again with another estimator, as the training loop would have measured "
            "them, and write the result as a run directory of the kept networks."
        ),
        epilog="Example: infoplane run seed --keep 1 --out runs/seed ;  infoplane "
        "remeasure runs/seed --estimator kde-upper:var=0.1 --out runs/seed-kde",
    )
    remeasure.add_argument("run_dir", type=_path, metavar="RUN_DIR")
    remeasure.add_argument(
        "--estimator", required=True, metavar="SPEC", help="e.g. kde-upper:var=0.1"
    )
    remeasure.add_argument("--out", type=_path, required=True, help="output directory")
    remeasure.add_argument(
        "--no-video", action="store_true", help="skip plane.gif and plane.mp4"
    )
    remeasure.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier infoplane run in --out (never other files)",
    )
    remeasure.add_argument("--quiet", action="store_true", help="no summary")

    plot = commands.add_parser(
        "plot",
        help="draw the pictures of a saved run (or sweep) again",
        description=(
            "Draw every picture of a saved run into its directory again: plane.png, "
            "curves.png, snr.png (with gradient statistics), plane.gif and plane.mp4 "
            "(where ffmpeg is available), with the task's IB curve on the planes "
            "when the run holds ib_bound.csv; of a sweep, every point's and the "
            "sweep's own (sweep.png, depth.png). E.g. the pictures of runs made "
            "with --no-pictures or --no-video, or by an older infoplane. The old "
            "pictures are replaced only once every new one is drawn. Of several "
            "directories, each is drawn that can be; the others are named, and the "
            "exit code is then not 0."
        ),
        epilog="Example: infoplane run seed --no-pictures --out runs/seed ;  "
        "infoplane plot runs/seed ;  infoplane plot runs/*",
    )
    plot.add_argument(
        "dirs", type=_path, nargs="+", metavar="DIR", help="run or sweep directories"
    )
    plot.add_argument(
        "--no-video",
        action="store_true",
        help="skip plane.gif and plane.mp4 (those already there stay)",
    )
    plot.add_argument(
        "--loss-threshold",
        type=_loss,
        default=0.1,
        help="of a sweep: training loss that counts as converged in depth.png "
        "(default 0.1)",
    )
    plot.add_argument("--quiet", action="store_true", help="no list of the pictures")

    summary = commands.add_parser(
        "summary",
        help="print the summary table of a saved run (or of every point of a sweep)",
        description=(
            "Print, per estimator and layer, the final and peak I(X;T), the final "
            "I(T;Y) and the compression (the cross-fitted drop of I(X;T) from its "
            "peak, with a 95% bootstrap interval over networks and the share of "
            "networks dropping past --threshold); of a sweep, every point's table "
            "and the verdicts: which layers compress."
        ),
        epilog="Example: infoplane summary runs/seed",
    )
    summary.add_argument("run_dir", type=_path, metavar="RUN_DIR|SWEEP_DIR")
    summary.add_argument(
        "--threshold",
        type=float,
        default=0.05,
        help="relative drop of I(X;T) from its peak that counts as compression "
        "(default 0.05: 5%%)",
    )
    return parser


def _experiment(args):
    import infoplane as ip
    from infoplane.datasets import DATA_TASKS

    source = args.experiment
    if source in (*DATA_TASKS, "mnist") or source.startswith(("file:", "mnist:")):
        # A data task: the classify preset, named after the data (runs/NAME).
        exp = ip.preset("classify", task=source, name=_data_name(source))
    elif source.endswith((".npz", ".npy", ".csv")):
        raise ValueError(
            f"{source} is read as an experiment (a preset or a TOML file); to train on "
            f"the arrays of a .npz file, name it as a task: file:{source}"
        )
    elif source.endswith(".toml") or Path(source).is_file():
        exp = ip.load_experiment(source)
    else:
        exp = ip.preset(source)
    overrides = _option_fields(args)
    settings = _set_fields(args)
    for field in settings & overrides.keys():
        raise ValueError(
            f"{field} is given both by its option and by --set {field}=...; give one"
        )
    if "task" in settings and exp.task == source:
        raise ValueError(
            f"the task is given both as {source} and by --set task=...; give one"
        )
    return exp.replace(**overrides)


def _data_name(task: str) -> str:
    """A data task's name: the data set's (``digits``, ``mnist``) or the file's
    without its suffix (``file:data/mine.npz``: ``mine``)."""
    kind, _, where = task.partition(":")
    if kind != "file":
        return kind
    return Path(os.path.expanduser(where.strip())).stem or "classify"


def _set_fields(args) -> set[str]:
    """The fields that ``--set`` options name."""
    return {item.partition("=")[0].strip() for item in args.set or ()}


def _option_fields(args) -> dict:
    """The experiment fields that ``args``' own options (``--epochs``...) set."""
    overrides = {
        "seeds": args.seeds,
        "seed": getattr(args, "seed", None),
        "epochs": args.epochs,
        "hidden": getattr(args, "hidden", None),
        "activation": getattr(args, "activation", None),
        "lr": getattr(args, "lr", None),
        "units": getattr(args, "units", None),
        "estimators": tuple(getattr(args, "estimator", None) or ()) or None,
        "grad_stats": True if getattr(args, "grad_stats", False) else None,
        "measure": (
            f"every:{args.measure_every}"
            if getattr(args, "measure_every", None) is not None
            else getattr(args, "measure", None)
        ),
    }
    return {k: v for k, v in overrides.items() if v is not None}


def _settings(settings: list[str]) -> dict:
    """``--set FIELD=VALUE`` options of ``run`` as experiment fields."""
    from infoplane.config import parse_settings

    fields = {}
    for field, values in parse_settings(settings).items():
        if len(values) != 1:
            comma = (
                "; a comma separates values, so name a path that holds one as "
                "`run file:PATH` or in a TOML file"
                if field == "task"
                else ""
            )
            raise ValueError(f"--set {field} takes one value here (use `sweep`){comma}")
        fields[field] = values[0]
    return fields


def _log_line(epoch: int, chunk_row: dict) -> str:
    return (
        f"epoch {epoch:>6d}  test accuracy {chunk_row['test_accuracy']:.4f}  "
        f"test loss {chunk_row['test_loss']:.4f}  "
        f"train accuracy {chunk_row['train_accuracy']:.4f}"
    )


def _final_row(result) -> dict:
    """The log line's values at the end of a run, averaged over its networks."""
    import numpy as np

    keys = ("test_accuracy", "test_loss", "train_accuracy")
    with warnings.catch_warnings():  # every network diverged: NaN, as in the log
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmean(result.arrays[f"final_{k}"])) for k in keys}


def _run(args) -> int:
    from infoplane.config import PRESETS
    from infoplane.datasets import load_task

    exp = _experiment(args)
    exp = exp.replace(**_settings(args.set))
    load_task(exp.task)  # e.g. a data file that cannot be read: fail before starting
    if args.keep < 0:
        raise ValueError(f"--keep must be 0 or more networks, got {args.keep}")
    if args.keep > exp.seeds:
        raise ValueError(
            f"--keep {args.keep} keeps more networks than the run trains "
            f"({exp.seeds}); give at most {exp.seeds}, or more with --seeds"
        )
    dist = _start_distributed(args)
    if dist is not None:
        # Each process trains its share of one run: one started otherwise would mix
        # two runs in one result.
        dist.check_same(json.dumps([exp.to_dict(), args.keep, args.strict]))
        if not dist.is_main():
            args.quiet = True  # only process 0 reports
    if args.experiment in PRESETS and PRESETS[args.experiment].sweep:
        from infoplane.config import parse_settings

        compared = parse_settings(PRESETS[args.experiment].sweep).keys()
        for field in compared & (_option_fields(args).keys() | _set_fields(args)):
            raise ValueError(
                f"{args.experiment} compares {field} itself, so it cannot be set "
                f"here; sweep it: infoplane sweep {args.experiment} --set {field}=..."
            )
        if args.keep:
            raise ValueError(
                f"--keep keeps one run's networks; {args.experiment} is a grid of "
                "runs: run its points one by one to keep them"
            )
        return _run_points(exp, list(PRESETS[args.experiment].sweep), args, dist)
    out = args.out or _default_out(exp.name)

    import infoplane as ip
    from infoplane import analysis, report
    from infoplane.output import atomic_directory

    printed: set[str] = set()
    with contextlib.ExitStack() as stack:
        tmp = _on_main(
            dist,
            lambda: stack.enter_context(
                atomic_directory(out, overwrite=args.force, rescue=True)
            ),
        )
        # Only the process that writes prints a run's warnings.
        quiet = _warnings_once(Warning) if tmp is None else _warnings_printed(printed)
        with quiet:
            result = ip.run(
                exp,
                progress=not args.quiet,
                on_chunk=_checking(None if args.quiet else _log_lines(args.log_every)),
                strict=args.strict,
                keep="activations" if args.keep else None,
                keep_seeds=args.keep or 1,
            )

        def write():
            for line in result.info["warnings"]:
                if line not in printed:
                    print(f"infoplane: warning: {line}", file=sys.stderr)
            gap = report.write_run(
                result,
                tmp,
                video=not args.no_video,
                ib_bound=args.ib_bound,
                pictures=not args.no_pictures,
            )
            _checkpoint()
            stack.close()  # the run directory appears
            return gap

        gap = _on_main(dist, write)
    if not args.quiet:
        last = exp.epochs - 1
        if args.log_every and last % args.log_every:  # the end, unless just logged
            print(_log_line(last, _final_row(result)), file=sys.stderr)
        if gap is not None:
            pairs = zip(result.layers, gap[:, 0], strict=True)
            text = ", ".join(f"{name} {g:.3f}" for name, g in pairs)
            print(f"final distance below the IB bound ({result.units}): {text}")
        print(analysis.summary_table(result))
        print(f"wrote {out}/")
    return 0


def _start_distributed(args):
    """Join the multi-process run that ``--distributed`` asks for (before anything
    starts JAX): the :mod:`infoplane.distributed` module, or None for a run alone."""
    given = {
        "--coordinator": args.coordinator,
        "--num-processes": args.num_processes,
        "--process-id": args.process_id,
    }
    if not args.distributed:
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise ValueError(f"{', '.join(named)} need --distributed")
        return None
    if args.heartbeat_timeout < 1 or args.join_timeout < 1:
        raise ValueError("--heartbeat-timeout and --join-timeout take 1 second or more")
    from infoplane import distributed

    distributed.initialize(
        args.coordinator,
        args.num_processes,
        args.process_id,
        heartbeat_timeout=args.heartbeat_timeout,
        initialization_timeout=args.join_timeout,
    )
    return distributed


class PointsFailed(RuntimeError):
    """Points of a sweep failed (each said why as it did); the others are kept."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class PeerFailed(RuntimeError):
    """Process 0 of a multi-process run failed; the others stop with its exit code."""

    shared = True  # every process knows: see _leave

    def __init__(self, code: int):
        super().__init__(
            f"process 0 of this distributed run stopped (exit code {code}); its "
            "error says why; nothing was written"
        )
        self.code = code


def _on_main(dist, action):
    """``action()`` on the process that writes: the only one, or process 0 of a
    multi-process run, which then tells the others whether it succeeded (they raise
    :class:`PeerFailed` if not, and return None otherwise)."""
    if dist is None:
        return action()
    if not dist.is_main():
        code = dist.share(0)
        if code:
            raise PeerFailed(code)
        return None
    try:
        value = action()
    except BaseException as error:
        with contextlib.suppress(Exception):  # a peer that is gone already
            dist.share(_exit_code(error))
            error.shared = True  # every process knows: see _leave
        raise
    dist.share(0)
    return value


def _log_lines(log_every: int):
    """An ``on_chunk`` callback printing the notebook's log line every ``log_every``
    epochs (above the progress bar)."""
    import numpy as np
    from tqdm import tqdm

    next_log = 0

    def on_chunk(epochs, chunk):
        nonlocal next_log
        for j, epoch in enumerate(epochs):
            if log_every and epoch >= next_log:
                row = {
                    k: float(np.nanmean(v[:, j]))
                    for k, v in chunk.items()
                    if k.endswith(("loss", "accuracy"))
                }
                tqdm.write(_log_line(int(epoch), row), file=sys.stderr)
                next_log = (epoch // log_every + 1) * log_every

    return on_chunk


@contextlib.contextmanager
def _warnings_once(category):
    """Silence ``category``: the command prints those lines itself, once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


@contextlib.contextmanager
def _warnings_printed(printed: set[str]):
    """Print a run's warnings (``RunWarning``) as they come, one line each (e.g. a
    data warning before a long training), and note them in ``printed``."""
    from tqdm import tqdm

    from infoplane.runner import RunWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", RunWarning)
        show = warnings.showwarning

        def print_line(message, category, *args, **kwargs):
            if not issubclass(category, RunWarning):
                show(message, category, *args, **kwargs)
            elif str(message) not in printed:
                printed.add(str(message))
                tqdm.write(f"infoplane: warning: {message}", file=sys.stderr)

        warnings.showwarning = print_line
        yield


def _sweep(args) -> int:
    if args.collect is not None:
        if args.experiment or args.set or args.shard or args.out:
            raise ValueError(
                "--collect DIR takes no experiment, --set, --shard or --out"
            )
        return _collect(args.collect, args)
    if not args.experiment or not args.set or args.out is None:
        raise ValueError(
            "sweep needs PRESET|FILE.toml, --set FIELD=VALUES and --out DIR "
            "(or --collect DIR)"
        )
    if args.shard is not None:
        return _run_shard(_experiment(args), args.set, args)
    return _run_points(_experiment(args), args.set, args)


def _run_shard(base, settings: list[str], args) -> int:
    """Run one shard of a sweep into a shared directory; complete points are kept."""
    from infoplane import sweeps

    index, count = sweeps.parse_shard(args.shard)
    ran, done = _fill_sweep(base, settings, args.out, index, count, args)
    if not args.quiet:
        print(
            f"shard {index}/{count}: {ran} point(s) run, {done} already complete, "
            f"in {args.out}/"
        )
    return 0


def _fill_sweep(base, settings, out: Path, index: int, count: int, args):
    """Run the points of shard ``index``/``count`` of a sweep that are not complete
    in the shared directory ``out``, each appearing whole; (run, already complete)."""
    from infoplane import report, sweeps
    from infoplane.output import is_run_directory, refuse_foreign

    points = sweeps.grid(base, settings)
    names = [sweeps.point_name(p, settings) for p in points]
    manifest = report.sweep_manifest(base, settings, names)
    mine = sweeps.shard(points, index, count)
    sweeps.check_points([points[i] for i in mine], [names[i] for i in mine])
    if (out / "sweep.json").is_file():
        report.claim_manifest(out, manifest)  # the same sweep, or an error
    refuse_foreign(out, allowed=names)
    report.claim_manifest(out, manifest)
    done = [i for i in mine if is_run_directory(out / names[i])]
    for i in done:
        report.check_point(out / names[i], points[i])
    ran, failed = 0, []
    try:
        for i in mine:
            if i in done:
                continue
            try:
                _run_point(points[i], names[i], out, args)
            except Exception as error:  # the other points go on
                _checkpoint()  # a signal's doing (ffmpeg stopped with us): stop
                if isinstance(error, FileExistsError) and is_run_directory(
                    out / names[i]
                ):
                    done.append(i)  # another process ran it meanwhile (same point)
                    continue
                if args.debug:
                    raise
                failed.append((names[i], error))
                print(
                    f"infoplane: error: {names[i]}: {_error(error)[1]}",
                    file=sys.stderr,
                )
                continue
            ran += 1
    except KeyboardInterrupt as interrupt:
        if ran or done:
            interrupt.note = (
                f"{len(done) + ran} of this run's {len(mine)} point(s) are complete "
                f"in {out}/; the same command runs the others"
            )
        raise
    if failed:
        raise PointsFailed(
            _error(failed[0][1])[0],
            f"{len(failed)} of this run's {len(mine)} point(s) failed "
            f"({', '.join(name for name, _ in failed[:5])}); the others "
            f"({len(done) + ran}) are complete in {out}/",
        )
    return ran, len(done)


def _run_point(exp, name: str, out: Path, args) -> None:
    """One point of a sweep, appearing whole as ``out/name``."""
    import infoplane as ip
    from infoplane import report
    from infoplane.output import atomic_directory

    with atomic_directory(out / name) as tmp, _warnings_once(ip.RunWarning):
        result = ip.run(
            exp, progress=not args.quiet, strict=args.strict, on_chunk=_checking(None)
        )
        for line in result.info["warnings"]:
            print(f"infoplane: warning: {name}: {line}", file=sys.stderr)
        report.write_run(
            result,
            tmp,
            video=getattr(args, "video", False),
            pictures=not args.no_pictures,
        )
        _checkpoint()


def _collect(out: Path, args) -> int:
    """The combined files of a sweep whose points were written by shards."""
    from infoplane import report, sweeps
    from infoplane.config import Experiment
    from infoplane.output import (
        remove_stale_temporaries,
        scratch_directory,
    )

    manifest = report.read_manifest(out)
    names, results = report.sweep_results(out, manifest["points"])
    points = sweeps.grid(Experiment.from_dict(manifest["base"]), manifest["settings"])
    for name, exp in zip(names, points, strict=True):
        report.check_point(out / name, exp)
    remove_stale_temporaries(out)
    with scratch_directory(out, "collect") as tmp:
        verdicts = report.write_sweep(
            results,
            names,
            tmp,
            loss_threshold=getattr(args, "loss_threshold", 0.1),
            pictures=not args.no_pictures,
        )
        for written in tmp.iterdir():
            os.replace(written, out / written.name)  # each file appears whole
    if not args.quiet:
        _print_sweep(names, results, verdicts)
        print(f"wrote {out}/")
    return 0


def _default_out(name: str) -> Path:
    """``runs/NAME``, for a name that stays in ``runs/``."""
    if name in ("", ".", "..") or "/" in name or os.sep in name:
        raise ValueError(
            f"the experiment's name {name!r} is not a folder name, so runs/NAME "
            "cannot hold it; give --out, or a name without '/'"
        )
    return Path("runs") / name


def _run_points(base, settings: list[str], args, dist=None) -> int:
    """Run every point of a grid; write their directories and combined figures (in
    a multi-process run ``dist``, every process runs, process 0 writes)."""
    from tqdm import tqdm

    import infoplane as ip
    from infoplane import report, sweeps
    from infoplane.output import atomic_directory, is_run_directory

    points = sweeps.grid(base, settings)
    names = [sweeps.point_name(p, settings) for p in points]
    out = args.out or _default_out(base.name)
    manifest = report.sweep_manifest(base, settings, names)
    if dist is None and report.unfinished_sweep(out, manifest):
        if not args.quiet:
            done = sum(is_run_directory(out / name) for name in names)
            print(
                f"infoplane: {out} holds {done} of this sweep's {len(names)} "
                "points: running the others",
                file=sys.stderr,
            )
        _fill_sweep(base, settings, out, 0, 1, args)
        return _collect(out, args)
    sweeps.check_points(points, names)
    video = getattr(args, "video", False)
    pictures = not args.no_pictures
    with contextlib.ExitStack() as stack:
        tmp = _on_main(
            dist,
            lambda: stack.enter_context(
                atomic_directory(out, overwrite=args.force, rescue=True)
            ),
        )
        bar = tqdm(total=len(points), desc=base.name, unit="point", disable=args.quiet)

        def write_point(i, exp, result):
            if tmp is None:  # not the writing process
                return
            for line in result.info["warnings"]:
                print(f"infoplane: warning: {names[i]}: {line}", file=sys.stderr)
            part = tmp / f".{names[i]}.partial"  # the point appears whole
            part.mkdir()
            report.write_run(result, part, video=video, pictures=pictures)
            part.rename(tmp / names[i])
            bar.update(1)
            _checkpoint()

        def write():
            report.write_manifest(tmp, manifest)
            verdicts = report.write_sweep(
                results,
                names,
                tmp,
                loss_threshold=getattr(args, "loss_threshold", 0.1),
                pictures=pictures,
            )
            _checkpoint()
            stack.close()  # the sweep directory appears
            return verdicts

        try:
            with _warnings_once(ip.RunWarning if tmp is not None else Warning):
                results = sweeps.run_sweep(
                    points,
                    on_result=write_point,
                    progress=not args.quiet,
                    strict=args.strict,
                    on_chunk=_checking(None),
                )
            bar.close()
            verdicts = _on_main(dist, write)
        except (KeyboardInterrupt, Exception) as stop:
            bar.close()
            if dist is None and tmp.exists():  # the points that are complete stay
                failed = None if _stopped(stop) else names
                stop.note = _keep_points(tmp, out, manifest, failed)
            raise
    if not args.quiet:
        _print_sweep(names, results, verdicts)
        print(f"wrote {out}/")
    return 0


def _keep_points(tmp: Path, out: Path, manifest: dict, failed=None) -> str | None:
    """Keep the complete points of an interrupted (or ``failed``: its names) sweep
    as a sweep directory that the same command finishes; what to tell the user, or
    None if none was kept."""
    from infoplane import report
    from infoplane.output import keep

    complete = [p for p in tmp.iterdir() if p.is_dir() and p.name[0] != "."]
    if not complete:
        return None
    for other in set(tmp.iterdir()) - set(complete):  # partial points, combined files
        if other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
        else:
            other.unlink()
    report.write_manifest(tmp, manifest)
    where = keep(tmp, out)
    if where is None:
        return None
    kept = (
        f"the {len(complete)} complete point(s) of {len(manifest['points'])} are "
        f"kept in {where}/"
    )
    if failed is not None and len(complete) < len(failed):
        return f"point {failed[len(complete)]} failed; {kept}"
    again = (
        "the same command" if where == out else f"the same command with --out {where}"
    )
    return f"{kept}; {again} runs the others"


def _bound(args) -> int:
    from infoplane.datasets import Dataset
    from infoplane.ib import load_joint, task_curve
    from infoplane.output import check_output_file
    from infoplane.report import ib_csv_header, write_bound
    from infoplane.runner import repeated_rows
    from infoplane.units import UNITS, from_nats

    picture = args.out.with_suffix(".png")
    check_output_file(
        args.out,
        suffix=".csv",
        overwrite=args.force,
        # Any units; "beta,i_xt,i_ty": infoplane 0.1.0's header, without them.
        headers=["beta,i_xt,i_ty", *(",".join(ib_csv_header(u)) for u in UNITS)],
    )
    if picture.exists() or picture.is_symlink():
        if not args.force:
            raise FileExistsError(f"{picture} already exists; replace it with --force")
        if not args.out.is_file():  # an infoplane CSV (checked above) comes with it
            raise FileExistsError(
                f"{picture} was not written by infoplane (no {args.out.name} of "
                "infoplane's beside it); --force replaces only what infoplane wrote, "
                "so choose another name"
            )
    dataset = load_joint(args.task)
    for line in repeated_rows(dataset) if isinstance(dataset, Dataset) else ():
        print(f"infoplane: warning: {line}", file=sys.stderr)
    curve = task_curve(dataset)
    _checkpoint()
    write_bound(curve, args.out, picture, units=args.units, title=dataset.name)
    if curve.capped.size:
        betas = ", ".join(f"{b:.4g}" for b in curve.capped[:5])
        print(
            f"infoplane: warning: {curve.capped.size} point(s) hit the iteration cap "
            f"(beta = {betas}): achievable, but possibly below the curve",
            file=sys.stderr,
        )
    i_xy = from_nats(curve.i_xy, args.units)
    print(f"{dataset.name}: I(X;Y) = {i_xy:.6f} {args.units}, {len(curve.i_xt)} points")
    print(f"wrote {args.out} and {picture}")
    return 0


def _presets() -> int:
    from infoplane.config import PRESETS

    width = max(map(len, PRESETS))
    for name, entry in PRESETS.items():
        print(f"{name.ljust(width)}  {entry.description}")
    return 0


def _remeasure(args) -> int:
    from infoplane import analysis, report
    from infoplane.output import atomic_directory
    from infoplane.results import Result

    if args.out.resolve() == args.run_dir.resolve():
        raise ValueError(
            "--out is the run being measured; write the new measurement elsewhere"
        )
    with atomic_directory(args.out, overwrite=args.force, rescue=True) as tmp:
        result = Result.load(args.run_dir).remeasure(args.estimator)
        report.write_run(result, tmp, video=not args.no_video)
        _checkpoint()
    if not args.quiet:
        print(analysis.summary_table(result))
        print(f"wrote {args.out}/")
    return 0


def _plot(args) -> int:
    """Draw each directory's pictures; one that cannot be drawn is named and the
    others are still drawn, as shell tools treat their arguments."""
    from infoplane.report import redraw_pictures

    code = 0
    for directory in args.dirs:
        _checkpoint()
        try:
            written = redraw_pictures(
                directory, video=not args.no_video, loss_threshold=args.loss_threshold
            )
        except Exception as error:
            _checkpoint()  # a signal's doing (ffmpeg stopped with us): stop
            if args.debug:
                raise
            failed, message = _error(error)
            print(f"infoplane: error: {message}", file=sys.stderr)
            code = max(code, failed)
            continue
        if args.quiet:
            continue
        if all(p.parent == directory for p in written):
            print(f"wrote {', '.join(p.name for p in written)} in {directory}/")
        else:
            print(f"wrote {len(written)} pictures in {directory}/ and its points")
    return code


def _summary(args) -> int:
    from infoplane.analysis import summary_table, verdicts
    from infoplane.output import is_sweep_directory
    from infoplane.report import sweep_results
    from infoplane.results import Result

    path = args.run_dir
    if not (path / "sweep.json").is_file() and not is_sweep_directory(path):
        print(summary_table(Result.load(path), threshold=args.threshold))
        return 0
    names, results = sweep_results(path)  # a sweep: every point, then the verdicts
    lines = verdicts(results, names, threshold=args.threshold)
    _print_sweep(names, results, lines, threshold=args.threshold)
    return 0


def _print_sweep(names, results, verdicts: list[str], threshold: float = 0.05):
    """Each point's summary table, then the verdicts."""
    from infoplane.analysis import summary_table

    for name, result in zip(names, results, strict=True):
        print(f"== {name}")
        print(summary_table(result, threshold=threshold))
    print("\n".join(verdicts))


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, batch schedulers, ``docker stop``), handled as Ctrl-C."""


# The interrupt of each signal received. Raised wherever the main thread runs, it
# can land in a garbage-collection callback (JAX keeps one), where Python prints and
# drops it, or in Python that JAX's C++ called, which it can abort on. So inside JAX
# the first signal is only noted, and the command raises it at safe points
# (:func:`_checkpoint`): between chunks of training and before anything appears.
_SIGNALLED: list[type[KeyboardInterrupt]] = []
_JAX = ("jax", "jaxlib", "equinox")


def _on_signal(signum, frame):
    stop = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    _SIGNALLED.append(stop)
    if len(_SIGNALLED) > 1 or not _inside(frame, _JAX):  # a second one: at once
        raise stop
    # Written directly: a print here could land inside another print.
    os.write(2, b"infoplane: stopping when JAX returns (again to stop at once)\n")


def _inside(frame, packages: tuple[str, ...]) -> bool:
    """Whether ``frame`` or a caller of it runs code of one of ``packages``."""
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] in packages:
            return True
        frame = frame.f_back
    return False


def _stopped(error: BaseException) -> bool:
    """Whether ``error`` ends the command because of a signal: its interrupt, or
    what a signal caused meanwhile (ffmpeg, in our process group, stopped too)."""
    return isinstance(error, KeyboardInterrupt) or bool(_SIGNALLED)


def _checkpoint(*args) -> None:
    """Raise the interrupt of a signal received and not raised yet (also an
    ``on_chunk`` callback, so it takes and ignores the chunk)."""
    if _SIGNALLED:
        raise _SIGNALLED[-1]


def _checking(on_chunk):
    """``on_chunk``, or nothing, then :func:`_checkpoint`."""

    def checked(epochs, chunk):
        if on_chunk is not None:
            on_chunk(epochs, chunk)
        _checkpoint()

    return checked


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"infoplane: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``infoplane`` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    previous = {}
    _SIGNALLED.clear()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _on_signal)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = _command(args)
        if _SIGNALLED:  # noted inside JAX, and the command finished before a checkpoint
            stop = _SIGNALLED[-1]()
            stop.note = "it came as the command finished, which it did"
            raise stop
        return code
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)
    except BrokenPipeError:
        # The reader of stdout left (`infoplane presets | head`): stop quietly, as
        # Unix tools do, and keep Python from failing again on flushing stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as error:  # one clear line, unless --debug
        if _SIGNALLED and not args.debug:  # what the signal caused: its interrupt
            interrupt = _SIGNALLED[-1]()
            interrupt.note = getattr(error, "note", None)
            return _interrupted(interrupt)
        if args.debug:
            raise
        code, message = _error(error)
        note = getattr(error, "note", None)
        print(f"infoplane: error: {message}", file=sys.stderr)
        if note:
            print(f"infoplane: {note}", file=sys.stderr)
        return _leave(code, error)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _SIGNALLED.clear()


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    what = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
    kept = getattr(interrupt, "note", None) or "nothing was written"
    print(f"infoplane: {what}; {kept}", file=sys.stderr)
    return _leave(_exit_code(interrupt), interrupt)


def _leave(code: int, error: BaseException) -> int:
    """``code``, the exit code of a command that ``error`` ended.

    In a multi-process run, a failure that every process meets alike (bad input,
    divergence, one that process 0 shared with the others) ends normally: all
    processes meet at JAX's shutdown barrier and leave together. Any other failure (a
    peer that died, a signal to this process alone) exits at once, as JAX would
    otherwise wait at that barrier for peers that may be gone.
    """
    jax = sys.modules.get("jax")
    if jax is None or not jax.distributed.is_initialized():
        return code
    from infoplane.training import TrainingDiverged

    alike = isinstance(error, ValueError | TrainingDiverged)
    if alike or getattr(error, "shared", False):
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_code(error: BaseException) -> int:
    """The exit code of a command that ``error`` ends."""
    if isinstance(error, Terminated):
        return 143
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, Exception):
        return _error(error)[0]
    return RUNTIME_ERROR


def _command(args) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "presets":
        return _presets()
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "bound":
        return _bound(args)
    if args.command == "remeasure":
        return _remeasure(args)
    if args.command == "plot":
        return _plot(args)
    return _summary(args)


def _error(error: Exception) -> tuple[int, str]:
    """The exit code and one-line message of an error that ends a command."""
    from infoplane.training import TrainingDiverged

    if isinstance(error, PeerFailed | PointsFailed):
        return error.code, str(error)
    if isinstance(error, ValueError | FileExistsError):
        return USAGE_ERROR, str(error)
    if isinstance(error, TrainingDiverged):
        return RUNTIME_ERROR, str(error)
    if isinstance(error, MemoryError):
        return USAGE_ERROR, (
            "not enough memory for these sizes; use fewer seeds, epochs, samples "
            "or narrower layers"
        )
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return USAGE_ERROR, f"{error.strerror}{where}"
    if "Gloo" in str(error):  # a gather of a multi-process run lost its peer
        return RUNTIME_ERROR, (
            f"another process of this distributed run stopped ({error}); its log "
            "says why; nothing was written"
        )
    return RUNTIME_ERROR, f"{error} (infoplane --debug COMMAND ... shows the traceback)"


if __name__ == "__main__":
    sys.exit(main())
