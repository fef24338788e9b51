"""Writing what a run found: its directory, a sweep's directory, an IB-curve file.

A run directory holds the result's files (:meth:`Result.write_files`: ``result.json``,
``arrays.npz``, ``information.csv``) and its pictures; with the IB bound also
``ib_bound.csv`` and ``ib_distance.csv``. A sweep directory holds one run directory per
point, ``sweep.json`` (the points and their settings), ``sweep.png``, ``summary.csv``,
``verdict.txt`` and, when depth varies, ``depth.png``. Callers write into the temporary
folder of :func:`infoplane.output.atomic_directory`, so nothing half-written appears.
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import analysis
from .output import write_csv
from .units import UNITS, from_nats

if TYPE_CHECKING:
    from .ib import IBCurve
    from .results import Result

__all__ = [
    "claim_manifest",
    "ib_csv_header",
    "read_manifest",
    "redraw_pictures",
    "sweep_manifest",
    "sweep_points",
    "write_bound",
    "write_manifest",
    "write_run",
    "write_sweep",
]


def ib_csv_header(units: str) -> list[str]:
    """The columns of an IB curve's CSV, values in ``units`` (a run's ``ib_bound.csv``
    has all but ``beta``)."""
    return ["beta", f"i_xt ({units})", f"i_ty ({units})"]


def write_run(
    result: "Result",
    directory: Path,
    *,
    video: bool = True,
    ib_bound: bool = False,
    pictures: bool = True,
) -> "np.ndarray | None":
    """Write a run's files and pictures into ``directory`` (which exists).

    With ``ib_bound``, also the task's IB curve (``ib_bound.csv``), each layer's final
    distance below it (``ib_distance.csv``), and the curve on the planes. Without
    ``pictures``, only the files (:func:`redraw_pictures` draws them later).

    Returns:
        With ``ib_bound``, the mean final distance below the bound (over the
        networks that did not diverge), shape
        ``(layer, estimator)`` in the result's units; else None.
    """
    result.write_files(directory)
    curve = gap = None
    if ib_bound:
        from .ib import distance_below

        curve = _task_bound(result)
        scale = UNITS[result.units]
        # Over the networks that did not diverge, as the summary's means.
        seeds = analysis.averaged(result)
        i_xt = result.i_xt[seeds, -1] / scale
        i_ty = result.i_ty[seeds, -1] / scale
        gap = np.nanmean(distance_below(curve, i_xt, i_ty), axis=0) * scale
        write_csv(
            directory / "ib_distance.csv",
            ["layer", "estimator", f"distance_below_ib_bound ({result.units})"],
            (
                (name, estimator, float(gap[layer, e]))
                for layer, name in enumerate(result.layers)
                for e, estimator in enumerate(result.estimators)
            ),
        )
        write_csv(
            directory / "ib_bound.csv",
            ib_csv_header(result.units)[1:],
            (
                (float(x * scale), float(y * scale))
                for x, y in zip(curve.i_xt, curve.i_ty, strict=True)
            ),
        )
    if pictures:
        from .plotting import write_pictures

        write_pictures(result, directory, video=video, ib_curve=curve)
    return gap


def redraw_pictures(
    directory: Path, *, video: bool = True, loss_threshold: float = 0.1
) -> list[Path]:
    """Draw every picture of the run or sweep in ``directory`` again, into it.

    A run's pictures are those a run writes
    (:func:`~infoplane.plotting.write_pictures`), with the task's IB curve on the
    planes when the run holds ``ib_bound.csv``; a sweep's are every point's and its
    own (``sweep.png``, and ``depth.png`` with ``loss_threshold`` when depth varies).
    They are drawn in a temporary folder beside the directory and then renamed over
    the old ones, so an interrupted call leaves whole pictures. Only a directory
    infoplane wrote is drawn into, and only its pictures are replaced.

    Returns:
        The pictures written.

    Raises:
        ValueError: ``directory`` is not a run or sweep directory infoplane wrote,
            or a point of the sweep is missing.
    """
    from .output import is_run_directory, is_sweep_directory, scratch_directory
    from .results import Result

    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder; give a run or sweep directory")
    sweep = is_sweep_directory(directory)
    if not sweep and not is_run_directory(directory):
        raise ValueError(
            f"{directory} is not a run or sweep directory written by infoplane (a "
            "run's result.json and files, or a sweep's runs and files, nothing else); "
            "infoplane plot draws the pictures of such a directory"
        )
    if sweep:
        names, results = sweep_results(directory)
        runs = [directory / n for n in names]
    else:
        names, runs, results = [], [directory], [Result.load(directory)]
    beside = directory.resolve().parent  # renames within one file system
    written = []
    with scratch_directory(beside, f"{directory.name}-pictures") as tmp:
        for i, (run, result) in enumerate(zip(runs, results, strict=True)):
            (tmp / str(i)).mkdir()
            written += [
                (picture, run / picture.name)
                for picture in _run_pictures(result, run, tmp / str(i), video)
            ]
        if sweep:
            _sweep_pictures(results, names, tmp, loss_threshold)
            written += [(p, directory / p.name) for p in tmp.iterdir() if p.is_file()]
        for drawn, target in written:
            os.replace(drawn, target)
    return [target for _, target in written]


def _run_pictures(result: "Result", run: Path, into: Path, video: bool) -> list[Path]:
    """Draw the pictures of ``result``, saved in ``run``, into ``into``."""
    from .plotting import write_pictures

    curve = _task_bound(result) if (run / "ib_bound.csv").is_file() else None
    return write_pictures(result, into, video=video, ib_curve=curve)


def sweep_points(directory: Path) -> list[str]:
    """The points of a sweep directory: those of its ``sweep.json``, or where that
    cannot be read, its folders."""
    try:
        names = json.loads((directory / "sweep.json").read_text())["points"]
        if not all(
            isinstance(n, str) and "/" not in n and n not in ("", ".", "..")
            for n in names
        ):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        names = sorted(p.name for p in directory.iterdir() if p.is_dir())
    return names


def check_point(directory: Path, exp) -> None:
    """Check that the run in ``directory`` is the sweep point ``exp`` it is named
    for, as far as its ``result.json`` tells: what a run resolves (``scale =
    "auto"``, an estimator's run-wide range or the network's grid) is compared as
    far as the point gives it.

    Raises:
        ValueError: a field differs (a run of another experiment under the name).
    """
    ran = json.loads((directory / "result.json").read_text())["experiment"]
    wanted = json.loads(json.dumps(exp.to_dict()))
    for key, value in wanted.items():
        there = ran.get(key)
        if key == "estimators":
            same = len(there or ()) == len(value) and all(
                str(r).startswith(w) for r, w in zip(there, value, strict=True)
            )
        else:
            same = there == value or (key == "scale" and value == "auto")
        if not same:
            raise ValueError(
                f"{directory} holds a run of another experiment ({key} {there!r}, "
                f"not {value!r}); remove it, or choose another --out"
            )


def sweep_results(
    directory: Path, names: "Sequence[str] | None" = None
) -> "tuple[list[str], list[Result]]":
    """The points of a sweep directory (``names``, or :func:`sweep_points`) and
    their results.

    Raises:
        ValueError: a point is not complete yet (they are named).
    """
    from .output import is_run_directory
    from .results import Result

    names = sweep_points(directory) if names is None else list(names)
    missing = [n for n in names if not is_run_directory(directory / n)]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(
            f"{len(missing)} of {len(names)} points of {directory} are not complete "
            f"yet: {shown}; run their shards, or the sweep's command again"
        )
    return names, [Result.load(directory / n) for n in names]


def _task_bound(result: "Result") -> "IBCurve":
    """The information bottleneck curve of the task ``result`` was trained on."""
    from .datasets import load_task
    from .ib import task_curve

    if result.experiment is None:
        raise ValueError(
            f"the IB bound needs the task of an experiment; {result.name} was "
            f"measured by the {result.source} and names no task"
        )
    return task_curve(load_task(result.experiment.task))


def sweep_manifest(base, settings: Sequence[str], names: Sequence[str]) -> dict:
    """What ``sweep.json`` holds: the base experiment, the settings, the points."""
    return {
        "format": 1,
        "base": base.to_dict(),
        "settings": list(settings),
        "points": list(names),
    }


def write_manifest(directory: Path, manifest: dict) -> None:
    """Write ``sweep.json`` into a new sweep directory."""
    (directory / "sweep.json").write_text(json.dumps(manifest, indent=2) + "\n")


def claim_manifest(directory: Path, manifest: dict) -> None:
    """Put ``sweep.json`` into a shared sweep directory, or check the one there.

    Shards of one sweep write the same manifest; the first to arrive links it into
    place (a link fails if the file exists, so two shards cannot both write it).

    Raises:
        ValueError: the directory holds a different sweep.
    """
    path = directory / "sweep.json"
    if path.exists():
        _same_sweep(directory, manifest)
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".sweep.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:  # another shard was quicker
        _same_sweep(directory, manifest)
    finally:
        tmp.unlink(missing_ok=True)


def _same_sweep(directory: Path, manifest: dict) -> None:
    try:
        there = json.loads((directory / "sweep.json").read_text())
    except (OSError, ValueError):
        there = None
    if not _same_points(there, manifest):
        raise ValueError(
            f"{directory} holds another sweep (its sweep.json differs: other "
            "points, settings or base experiment); choose another --out"
        )


def unfinished_sweep(directory: Path, manifest: dict) -> bool:
    """Whether ``directory`` holds this sweep (its ``sweep.json``) without its
    combined files: an interrupted sweep, or shards not collected yet."""
    try:
        there = json.loads((directory / "sweep.json").read_text())
    except (OSError, ValueError):
        return False
    return _same_points(there, manifest) and not (directory / "summary.csv").exists()


def _same_points(there, manifest: dict) -> bool:
    """Whether a ``sweep.json`` read back describes the sweep of ``manifest``: the
    same base experiment and points (the settings may be written otherwise:
    ``lr=0.1,0.2`` and ``lr=0.1;0.2`` are one grid)."""
    keys = ("format", "base", "points")
    return isinstance(there, dict) and all(
        there.get(key) == manifest[key] for key in keys
    )


def read_manifest(directory: Path) -> dict:
    """The ``sweep.json`` of a sweep directory, checked.

    Raises:
        ValueError: missing, unreadable, or not a sweep manifest.
    """
    try:
        manifest = json.loads((directory / "sweep.json").read_text())
        points = manifest["points"]
        settings = manifest["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"{directory} has no readable sweep.json; is it a sweep directory?"
        ) from None
    names = [*points, *settings]
    if not all(isinstance(n, str) for n in names) or any("/" in p for p in points):
        raise ValueError(f"{directory}/sweep.json is damaged")
    return manifest


def write_sweep(
    results: "Sequence[Result]",
    names: Sequence[str],
    directory: Path,
    *,
    loss_threshold: float = 0.1,
    pictures: bool = True,
) -> list[str]:
    """Write a sweep's combined files into ``directory`` beside its run directories:
    ``sweep.png``, ``depth.png`` (when depth varies; both only with ``pictures``),
    ``summary.csv``, ``verdict.txt``.

    Returns:
        The verdict lines (also in ``verdict.txt``).
    """
    if pictures:
        _sweep_pictures(results, names, directory, loss_threshold)
    rows = [
        {"point": n, **row}
        for n, r in zip(names, results, strict=True)
        for row in r.summary()
    ]
    write_csv(directory / "summary.csv", list(rows[0]), (r.values() for r in rows))
    verdicts = analysis.verdicts(results, names)
    (directory / "verdict.txt").write_text("\n".join(verdicts) + "\n")
    return verdicts


def _sweep_pictures(results, names, directory: Path, loss_threshold: float) -> None:
    """``sweep.png`` and, when depth varies, ``depth.png``."""
    from .plotting import offscreen, plot_depth, plot_sweep

    with offscreen():  # files only: no pyplot figures left open
        plot_sweep(results, names).savefig(directory / "sweep.png", dpi=150)
        depths = [len(r.experiment.hidden) for r in results]
        if len(set(depths)) > 1:
            ax = plot_depth(
                depths,
                [analysis.compression_epochs(r) for r in results],
                [analysis.loss_epochs(r, loss_threshold) for r in results],
                loss_threshold=loss_threshold,
            )
            ax.figure.savefig(directory / "depth.png", dpi=150)


def write_bound(curve: "IBCurve", path: Path, picture: Path, *, units: str, title: str):
    """Write an IB curve as CSV (``beta,i_xt,i_ty`` in ``units``) and a picture.

    Both are written under temporary names and renamed, so an interrupted write
    leaves neither half-written.
    """
    from .plotting import offscreen, plot_ib_curve

    tmp = path.with_name(f".{path.name}.tmp")
    tmp_picture = picture.with_name(f".{picture.stem}.tmp{picture.suffix}")
    try:
        write_csv(
            tmp,
            ib_csv_header(units),
            (
                (float(b), float(from_nats(x, units)), float(from_nats(y, units)))
                for b, x, y in zip(curve.beta, curve.i_xt, curve.i_ty, strict=True)
            ),
        )
        with offscreen():
            figure = plot_ib_curve(curve, units=units, title=title).figure
            figure.savefig(tmp_picture, dpi=150)
        tmp.replace(path)
        tmp_picture.replace(picture)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_picture.unlink(missing_ok=True)
