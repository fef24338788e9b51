"""Sweeps: one experiment varied over a grid of field values, each point a full run.

``infoplane sweep tishby2017 --set train_fraction=0.05,0.45,0.85 --out DIR`` runs the
three points, writes one run directory per point and the combined figures. Points that
differ only in fields that don't change the compiled program's shapes (seed, learning
rate, epochs, schedule) reuse it; every point trains its seeds together under ``vmap``.
"""

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from .experiment import Experiment, parse_values, run

__all__ = [
    "compression_epochs",
    "grid",
    "loss_epochs",
    "point_name",
    "run_sweep",
    "verdicts",
]


def grid(base: Experiment, settings: Sequence[str]) -> list[Experiment]:
    """Every combination of ``FIELD=VALUES`` settings applied to ``base``.

    Raises:
        ValueError: a malformed setting or an invalid combination.
    """
    axes = []
    for setting in settings:
        field, sep, values = setting.partition("=")
        if not sep:
            raise ValueError(f"a sweep setting is FIELD=VALUES, got {setting!r}")
        axes.append([(field.strip(), v) for v in parse_values(field.strip(), values)])
    fields = [axis[0][0] for axis in axes]
    if len(set(fields)) != len(fields):
        raise ValueError(f"each field may be swept once, got {', '.join(fields)}")
    points = [base.replace(**dict(combo)) for combo in itertools.product(*axes)]
    names = [point_name(p, settings) for p in points]
    for i, point in enumerate(points):
        if point in points[:i] or names[i] in names[:i]:
            raise ValueError(
                f"the sweep repeats a point ({names[i]}); give each value once"
            )
    return points


def point_name(exp: Experiment, settings: Sequence[str]) -> str:
    """A directory name for a sweep point: its values of the swept fields."""
    values = exp.to_dict()
    parts = []
    for setting in settings:
        field = setting.partition("=")[0].strip()
        value = values[field]
        text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{field}={text}".replace("/", "_").replace(" ", ""))
    return ",".join(parts)


def run_sweep(
    points: Sequence[Experiment],
    *,
    on_result: Callable[[int, Experiment, object], None] | None = None,
    progress: bool = False,
) -> list:
    """Run each point; return their Results in order.

    Args:
        points: the experiments, e.g. from :func:`grid`.
        on_result: called with the index, experiment and Result of each point as it
            finishes (e.g. to write it).
        progress: show a progress bar per point.
    """
    results = []
    for i, exp in enumerate(points):
        results.append(run(exp, progress=progress))
        if on_result is not None:
            on_result(i, exp, results[-1])
    return results


def compression_epochs(result, *, estimator: int = 0) -> np.ndarray:
    """Per seed, the epoch where the last hidden layer's I(X;T) peaks.

    After this epoch the layer compresses: it is where the compression phase starts.
    """
    hidden = len(result.experiment.hidden) - 1
    xt = result.i_xt[:, :, hidden, estimator]
    return result.epochs[np.argmax(xt, axis=1)]


def loss_epochs(result, threshold: float) -> np.ndarray:
    """Per seed, the first measured epoch with training loss below ``threshold``.

    NaN for seeds that never reach it.
    """
    below = result.arrays["train_loss"] < threshold
    first = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), result.epochs[first], np.nan)


def verdicts(results, names, *, threshold: float = 0.05) -> list[str]:
    """Which layers compress, in words and numbers, per sweep point and estimator.

    A layer compresses when the bootstrap confidence interval of its mean drop from
    the peak of I(X;T) excludes zero and more than half of the seeds drop by more than
    ``threshold`` of their peak (see :meth:`infoplane.Result.summary`).
    """
    lines = []
    for name, result in zip(names, results, strict=True):
        for estimator in result.estimators:
            rows = [
                r
                for r in result.summary(threshold=threshold)
                if r["estimator"] == estimator
            ]
            yes = [
                r
                for r in rows
                if r["compression_ci_low"] > 0 and r["compressing_seeds"] > 0.5
            ]
            if not yes:
                largest = max(rows, key=lambda r: r["compression"])
                lines.append(
                    f"{name}, {estimator}: no layer compresses (largest mean drop "
                    f"{largest['compression']:.3f} {result.units}, {largest['layer']})"
                )
                continue
            detail = "; ".join(
                f"{r['layer']} drops {r['compression']:.3f} {result.units} "
                f"[{r['compression_ci_low']:.3f}, {r['compression_ci_high']:.3f}], "
                f"{r['compressing_seeds']:.0%} of seeds"
                for r in yes
            )
            lines.append(f"{name}, {estimator}: compresses: {detail}")
    return lines
