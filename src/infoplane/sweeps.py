"""Sweeps: one experiment varied over a grid of field values, each point a full run.

``infoplane sweep tishby2017 --set train_fraction=0.05,0.45,0.85 --out DIR`` runs the
three points, writes one run directory per point and the combined figures. Points that
differ only in fields that don't change the compiled program's shapes (seed, learning
rate, epochs, schedule) reuse it; every point trains its seeds together under ``vmap``.
"""

import itertools
from collections.abc import Callable, Sequence

from .config import Experiment, parse_settings
from .runner import run

__all__ = [
    "grid",
    "point_name",
    "run_sweep",
]


def grid(base: Experiment, settings: Sequence[str]) -> list[Experiment]:
    """Every combination of ``FIELD=VALUES`` settings applied to ``base``.

    Raises:
        ValueError: a malformed setting or an invalid combination.
    """
    fields = parse_settings(settings)
    axes = [[(field, v) for v in values] for field, values in fields.items()]
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
    strict: bool = False,
) -> list:
    """Run each point; return their Results in order.

    Args:
        points: the experiments, e.g. from :func:`grid`.
        on_result: called with the index, experiment and Result of each point as it
            finishes (e.g. to write it).
        progress: show a progress bar per point.
        strict: fail when any network diverges (see :func:`infoplane.run`).
    """
    results = []
    for i, exp in enumerate(points):
        results.append(run(exp, progress=progress, strict=strict))
        if on_result is not None:
            on_result(i, exp, results[-1])
    return results
