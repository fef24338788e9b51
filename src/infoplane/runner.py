"""Running an experiment: its data, the compiled loop, and the Result.

``run`` joins the pieces: it loads the data set, checks what can be known before any
work, resolves run-wide binning ranges, trains with progress, and builds the
:class:`~infoplane.Result`, turning the run's warnings into Python warnings.
"""

import warnings
from collections.abc import Callable

import numpy as np

from .config import Experiment
from .datasets import Dataset, load_task
from .distributed import is_main
from .estimators import parse_estimator
from .results import Result
from .training import DivergenceWarning, train

__all__ = ["ClippingWarning", "check_sizes", "run"]


def run(
    experiment: Experiment,
    *,
    progress: bool = False,
    on_chunk: Callable[[np.ndarray, dict], None] | None = None,
    strict: bool = False,
) -> Result:
    """Train and measure ``experiment``; return its :class:`~infoplane.Result`.

    In a multi-process run (:func:`infoplane.distributed.initialize`) every process
    calls it with the same experiment; the networks are shared out over all
    processes' devices, and every process returns the same, whole Result.

    Args:
        experiment: what to run.
        progress: show a progress bar over epochs (terminal or notebook); in a
            multi-process run only process 0 shows it.
        on_chunk: optional callback after each compiled chunk of the run, with the
            epochs it measured and its records (see ``training.train``).
        strict: raise when any network diverges, not only when all do.

    Raises:
        ValueError: sizes the data set cannot give (see :func:`check_sizes`).
        TrainingDiverged: the loss of every network (with ``strict``, of any)
            became NaN, infinite or absurdly large.

    Warns:
        DivergenceWarning: some networks diverged; their values from then on are
            NaN (``result.arrays["diverged_epoch"]`` says when), the others are kept.
        ClippingWarning: an estimator's bins clipped activations or held a layer in
            one bin.

    Examples:
        >>> import infoplane as ip
        >>> result = ip.run(ip.preset("seed", epochs=40, measure="every:20"))
        >>> result.i_xt.shape  # (seed, epoch, layer, estimator)
        (1, 2, 3, 1)
    """
    from tqdm.auto import tqdm

    dataset = load_task(experiment.task)
    check_sizes(experiment, dataset)
    seeds = experiment.seeds
    bar = tqdm(
        total=experiment.epochs,
        unit="epoch",
        desc=f"{experiment.name} ({seeds} seed{'s' * (seeds > 1)})",
        disable=not progress or not is_main(),
        leave=False,
    )

    def report(epochs, chunk):
        bar.update(int(epochs[-1]) + 1 - bar.n)
        if on_chunk is not None:
            on_chunk(epochs, chunk)

    try:
        experiment = _resolve_run_ranges(experiment, dataset)
        arrays = train(experiment, dataset, on_chunk=report, strict=strict)
        bar.update(experiment.epochs - bar.n)  # the epochs after the last measurement
    finally:
        bar.close()
    result = Result.from_training(experiment, dataset, arrays)
    for line in result.info["warnings"]:
        warnings.warn(line, ClippingWarning, stacklevel=2)
    return result


def check_sizes(experiment: Experiment, dataset: Dataset) -> None:
    """Refuse, before any work, sizes that the data set cannot give.

    Raises:
        ValueError: an empty training or test set, or a batch larger than the
            training set.
    """
    train = dataset.train_size(
        train_samples=experiment.train_samples,
        train_fraction=experiment.train_fraction,
    )
    test = experiment.test_samples if dataset.population else len(dataset.p_x) - train
    if train == 0 or test == 0:
        which = "training" if train == 0 else "test"
        raise ValueError(
            f"train_fraction={experiment.train_fraction} leaves the {which} set of "
            f"{dataset.name} empty ({len(dataset.p_x)} samples); choose a fraction "
            "that keeps samples on both sides"
        )
    if experiment.batch_size > train:
        raise ValueError(
            f"batch_size={experiment.batch_size} is larger than the training set "
            f"({train} samples); use at most {train}, or 0 for full batch"
        )


def _resolve_run_ranges(experiment: Experiment, dataset: Dataset) -> Experiment:
    """Give run-wide binning ranges (``binning-observed:scope=run``) their values.

    A first pass trains the same networks with a cheap estimator and records each
    layer's smallest and largest activation at every measurement; the global range is
    the extremes over layers, epochs and seeds. Training does not depend on the
    estimators, so the second pass replays the same networks.
    """
    estimators = [parse_estimator(e) for e in experiment.estimators]
    if not any(getattr(e, "unresolved", False) for e in estimators):
        return experiment
    with warnings.catch_warnings():  # the second pass reports divergence
        warnings.simplefilter("ignore", DivergenceWarning)
        first = train(experiment.replace(estimators=("binning:bins=2",)), dataset)
    low = float(np.nanmin(first["activation_min"]))
    high = float(np.nanmax(first["activation_max"]))
    resolved = [
        e.spec + f",range={low!r}:{high!r}" if getattr(e, "unresolved", False) else e
        for e in estimators
    ]
    return experiment.replace(estimators=tuple(resolved))


class ClippingWarning(UserWarning):
    """A fixed binning range lumped activation values outside it together."""
