"""Sweeps: one experiment varied over a grid of field values, each point a full run.

``infoplane sweep tishby2017 --set train_fraction=0.05,0.45,0.85 --out DIR`` runs the
three points, writes one run directory per point and the combined figures. Points that
differ only in fields that don't change the compiled program's shapes (seed, learning
rate, epochs, schedule) reuse it; every point trains its seeds together under ``vmap``.

A sweep can be split over the tasks of an array job: ``--shard I/N`` runs the points
``I, I + N, I + 2N, ...`` (:func:`shard`) into the shared directory, skipping points
already complete there, and ``--collect`` draws the combined figures once every point
exists.
"""

import itertools
from collections.abc import Callable, Sequence

from .config import Experiment, parse_settings
from .runner import check, run

__all__ = [
    "grid",
    "parse_shard",
    "point_name",
    "run_sweep",
    "shard",
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
        if point in points[:i]:
            raise ValueError(
                f"the sweep repeats a point ({names[i]}); give each value once"
            )
        if names[i] in names[:i]:  # e.g. file:a/b.npz and file:a_b.npz
            raise ValueError(
                f"two points of the sweep share the folder name {names[i]} ('/' and "
                "spaces are left out of folder names); give values that differ "
                "otherwise, e.g. rename a file"
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
    on_chunk: Callable[[object, dict], None] | None = None,
) -> list:
    """Run each point; return their Results in order.

    Args:
        points: the experiments, e.g. from :func:`grid`.
        on_result: called with the index, experiment and Result of each point as it
            finishes (e.g. to write it).
        progress: show a progress bar per point.
        strict: fail when any network diverges (see :func:`infoplane.run`).
        on_chunk: passed to :func:`infoplane.run` for every point.
    """
    results = []
    for i, exp in enumerate(points):
        results.append(run(exp, progress=progress, strict=strict, on_chunk=on_chunk))
        if on_result is not None:
            on_result(i, exp, results[-1])
    return results


def check_points(points: Sequence[Experiment], names: Sequence[str]) -> None:
    """Check every point as :func:`infoplane.run` would before training it, so that
    a sweep fails before any work rather than at its first bad point.

    Raises:
        ValueError: a point's task or sizes, named.
    """
    for exp, name in zip(points, names, strict=True):
        try:
            check(exp)
        except ValueError as error:
            raise ValueError(f"point {name}: {error}") from None


def parse_shard(text: str, environ=None) -> tuple[int, int]:
    """``I/N`` (0 <= I < N) as ``(I, N)``; ``slurm`` reads the array job's task id.

    With ``slurm``, the task's place in the array job: ``SLURM_ARRAY_TASK_ID`` minus
    ``SLURM_ARRAY_TASK_MIN`` (0 if unset), divided by ``SLURM_ARRAY_TASK_STEP`` (1 if
    unset; ``--array=0-8:2``), over ``SLURM_ARRAY_TASK_COUNT``.

    Raises:
        ValueError: malformed, out of range, or the variables are missing.
    """
    import os

    environ = os.environ if environ is None else environ
    if text == "slurm":
        try:
            offset = int(environ["SLURM_ARRAY_TASK_ID"])
            offset -= int(environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            step = int(environ.get("SLURM_ARRAY_TASK_STEP", "1"))
            count = int(environ["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise ValueError(
                "--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT "
                "(run it as a task of an array job, or give --shard I/N)"
            ) from None
        index, off_step = divmod(offset, max(step, 1))
        if off_step or index >= count:
            raise ValueError(
                f"array task {offset} past the first is not on an even step of "
                f"{step} among {count} tasks (an array of listed ids?); give "
                "--shard I/N for each task instead"
            )
    else:
        index_text, sep, count_text = text.partition("/")
        try:
            index, count = int(index_text), int(count_text)
        except ValueError:
            index = count = -1
        if not sep or count < 1:
            raise ValueError(f"--shard takes I/N with 0 <= I < N, got {text!r}")
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is not in 0..{count - 1}")
    return index, count


def shard(items: Sequence, index: int, count: int) -> list[int]:
    """The positions of ``items`` that shard ``index`` of ``count`` runs."""
    return list(range(index, len(items), count))
