"""Writing what a run found: its directory, a sweep's directory, an IB-curve file.

A run directory holds the result's files (:meth:`Result.write_files`: ``result.json``,
``arrays.npz``, ``information.csv``) and its pictures; with the IB bound also
``ib_bound.csv`` and ``ib_distance.csv``. A sweep directory holds one run directory per
point, ``sweep.json`` (the points and their settings), ``sweep.png``, ``summary.csv``,
``verdict.txt`` and, when depth varies, ``depth.png``. Callers write into the temporary
folder of :func:`infoplane.output.atomic_directory`, so nothing half-written appears.
"""

import json
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

__all__ = ["write_bound", "write_run", "write_sweep"]

IB_CSV_HEADER = ["beta", "i_xt", "i_ty"]


def write_run(
    result: "Result", directory: Path, *, video: bool = True, ib_bound: bool = False
) -> "np.ndarray | None":
    """Write a run's files and pictures into ``directory`` (which exists).

    With ``ib_bound``, also the task's IB curve (``ib_bound.csv``), each layer's final
    distance below it (``ib_distance.csv``), and the curve on the planes.

    Returns:
        With ``ib_bound``, the mean final distance below the bound, shape
        ``(layer, estimator)`` in the result's units; else None.
    """
    from .plotting import write_pictures

    result.write_files(directory)
    curve = gap = None
    if ib_bound:
        from .datasets import load_task
        from .ib import distance_below, task_curve

        if result.experiment is None:
            raise ValueError(
                f"the IB bound needs the task of an experiment; {result.name} was "
                f"measured by the {result.source} and names no task"
            )
        curve = task_curve(load_task(result.experiment.task))
        scale = UNITS[result.units]
        i_xt, i_ty = result.i_xt[:, -1] / scale, result.i_ty[:, -1] / scale
        gap = np.nanmean(distance_below(curve, i_xt, i_ty), axis=0) * scale
        write_csv(
            directory / "ib_distance.csv",
            ["layer", "estimator", "distance_below_ib_bound"],
            (
                (name, estimator, float(gap[layer, e]))
                for layer, name in enumerate(result.layers)
                for e, estimator in enumerate(result.estimators)
            ),
        )
        write_csv(
            directory / "ib_bound.csv",
            ["i_xt", f"i_ty ({result.units})"],
            (
                (float(x * scale), float(y * scale))
                for x, y in zip(curve.i_xt, curve.i_ty, strict=True)
            ),
        )
    write_pictures(result, directory, video=video, ib_curve=curve)
    return gap


def write_sweep(
    results: "Sequence[Result]",
    names: Sequence[str],
    directory: Path,
    *,
    settings: Sequence[str] = (),
    loss_threshold: float = 0.1,
) -> list[str]:
    """Write a sweep's combined files into ``directory`` beside its run directories.

    Returns:
        The verdict lines (also in ``verdict.txt``).
    """
    from .plotting import offscreen, plot_depth, plot_sweep

    manifest = {
        "format": 1,
        "settings": list(settings),
        "points": list(names),
    }
    (directory / "sweep.json").write_text(json.dumps(manifest, indent=2) + "\n")
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
    rows = [
        {"point": n, **row}
        for n, r in zip(names, results, strict=True)
        for row in r.summary()
    ]
    write_csv(directory / "summary.csv", list(rows[0]), (r.values() for r in rows))
    verdicts = analysis.verdicts(results, names)
    (directory / "verdict.txt").write_text("\n".join(verdicts) + "\n")
    return verdicts


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
            IB_CSV_HEADER,
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
