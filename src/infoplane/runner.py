"""Running an experiment: its data, the compiled loop, and the Result.

``run`` joins the pieces: it loads the data set and scales its inputs, checks what can
be known before any work, resolves run-wide binning ranges, trains with progress, and
builds the :class:`~infoplane.Result`, turning the run's warnings into Python warnings.
"""

import math
import warnings
from collections.abc import Callable

import numpy as np

from .config import Experiment
from .datasets import Dataset, load_task
from .distributed import is_main
from .estimators import Quantized, parse_estimator
from .model import QUANTIZE, quantize_is_layer, quantize_range
from .results import Result
from .schedules import parse_schedule
from .training import divergence_message, train
from .user_model import UserModel, describe_model

__all__ = [
    "KEEP_LIMIT",
    "ClippingWarning",
    "DataWarning",
    "DivergenceWarning",
    "RunWarning",
    "check_keep",
    "check_sizes",
    "kept_bytes",
    "repeated_rows",
    "run",
    "user_model",
]


def run(
    experiment: Experiment,
    *,
    model: Callable | None = None,
    progress: bool = False,
    on_chunk: Callable[[np.ndarray, dict], None] | None = None,
    strict: bool = False,
    keep: str | None = None,
    keep_seeds: int = 1,
) -> Result:
    """Train and measure ``experiment``; return its :class:`~infoplane.Result`.

    In a multi-process run (:func:`infoplane.distributed.initialize`) every process
    calls it with the same experiment; the networks are shared out over all
    processes' devices, and every process returns the same, whole Result.

    Args:
        experiment: what to run.
        model: None trains infoplane's MLP (``experiment.hidden``,
            ``activation``, ``quantize``). Or your own Equinox model, as a factory
            ``model(key) -> eqx.Module`` called once per seed with that network's
            key (:func:`infoplane.user_model.network_key`). The module is called on
            ONE input, an array of the data set's ``sample_shape`` (``(8, 8)`` for
            ``digits``, ``(features,)`` for flat data; float32), and returns
            ``(logits, layers)``: logits of shape ``(classes,)`` and the layers to
            measure, a dict of name to array (any shape; flattened per input) or a
            list of arrays (named ``layer 1``, ...). infoplane vmaps it over inputs
            and seeds; every array of the module is a trained parameter. The result
            names the layers as the model does, ``"output"`` last with
            ``measure_output``, and says what was trained in
            ``result.info["model"]``; ``hidden``, ``activation`` and ``quantize``
            do not apply (``quantize`` must stay ``"none"``).
        progress: show a progress bar over epochs (terminal or notebook); in a
            multi-process run only process 0 shows it.
        on_chunk: optional callback after each compiled chunk of the run, with the
            epochs it measured and its records (see ``training.train``).
        strict: raise when any network diverges, not only when all do.
        keep: ``"activations"`` keeps the activations of the first ``keep_seeds``
            networks' measured layers on the measured inputs at every measured
            epoch (float32, ``keep_seeds x measurements x measured inputs x units
            x 4`` bytes), and their final parameters, in the Result, for
            :meth:`Result.remeasure`. A second, cheap pass replays those networks
            (training does not depend on the estimators). None keeps nothing.
        keep_seeds: how many networks (seeds 0, 1, ...) ``keep`` keeps.

    Raises:
        ValueError: sizes the data set cannot give (see :func:`check_sizes`), or
            kept activations above ``KEEP_LIMIT`` bytes (1 GiB); a ``model`` that
            breaks its contract, or a layer of it that gives NaN or infinite values
            (see :func:`infoplane.user_model.describe_model`).
        TypeError: a ``model`` that is not a factory of Equinox modules of float
            arrays.
        TrainingDiverged: the loss of every network (with ``strict``, of any)
            became NaN, infinite or absurdly large.

    Warns:
        DivergenceWarning: some networks diverged; their values from then on are
            NaN (``result.arrays["diverged_epoch"]`` says when), the others are kept.
        ClippingWarning: an estimator's bins clipped activations or held a layer in
            one bin.
        DataWarning: the data or the training does not suit the network: inputs
            far beyond [-1, 1], a first layer saturated from the start, a binary
            sigmoid loss on more than two classes, rows that repeat another's
            inputs with another label, labels with fewer than ``FEW_PER_CLASS`` rows
            per class, test accuracy near chance at the end.

        Every warning's line is also in ``result.info["warnings"]``.

    Examples:
        >>> import infoplane as ip
        >>> result = ip.run(ip.preset("seed", epochs=40, measure="every:20"))
        >>> result.i_xt.shape  # (seed, epoch, layer, estimator)
        (1, 2, 3, 1)
    """
    from tqdm.auto import tqdm

    dataset = load_task(experiment.task)
    if experiment.scale == "auto":  # the result records the scaling applied
        experiment = experiment.replace(scale=dataset.scale)
    dataset = dataset.scaled(experiment.scale)
    user = None if model is None else user_model(experiment, dataset, model)
    check_sizes(experiment, dataset)
    if keep is not None:
        check_keep(experiment, dataset, keep, keep_seeds, model=user)
    lines = data_warnings(experiment, dataset)
    for line in lines:
        warnings.warn(line, DataWarning, stacklevel=2)
    seeds = experiment.seeds
    bar = tqdm(
        total=experiment.epochs,
        unit="epoch",
        desc=f"{experiment.name} ({seeds} seed{'s' * (seeds > 1)})",
        disable=not progress or not is_main(),
        leave=False,
    )

    # The first chunk waits for XLA to compile the program (or to load it from the
    # cache): say so, rather than sit at 0%.
    bar.set_postfix_str("compiling")

    def report(epochs, chunk):
        if bar.postfix:
            bar.set_postfix_str("", refresh=False)
        bar.update(int(epochs[-1]) + 1 - bar.n)
        if on_chunk is not None:
            on_chunk(epochs, chunk)

    try:
        experiment = _resolve_run_ranges(_resolve_grids(experiment), dataset, user)
        arrays = train(experiment, dataset, on_chunk=report, strict=strict, model=user)
        if keep is not None:
            arrays |= _replay_kept(experiment, dataset, keep_seeds, user)
        bar.update(experiment.epochs - bar.n)  # the epochs after the last measurement
    finally:
        bar.close()
    result = Result.from_training(
        experiment, dataset, arrays, model=None if user is None else user.info()
    )
    diverged = arrays["diverged_epoch"]
    if (diverged >= 0).any():
        lines.append(divergence_message(experiment, diverged))
        warnings.warn(lines[-1], DivergenceWarning, stacklevel=2)
    for line in result.info["warnings"]:
        warnings.warn(line, ClippingWarning, stacklevel=2)
    after = fit_warnings(experiment, dataset, result.arrays)
    for line in after:
        warnings.warn(line, DataWarning, stacklevel=2)
    result.info["warnings"].extend(lines + after)
    return result


# Inputs beyond this magnitude are far outside the [-1, 1] that initialisations and
# bounded activations expect (MNIST's raw pixels reach 255).
FAR_INPUT = 10.0
# A first layer with more of its values than this near its bounds at the first
# measurement is saturated by its inputs, not by training.
SATURATED = 0.9
# Test accuracy that gets less than this share of the way from chance to 1, after at
# least CHANCE_UPDATES optimiser steps, is "near chance".
NEAR_CHANCE = 0.1
CHANCE_UPDATES = 1000
# Labels with fewer rows than this per class on average, over more than two classes,
# look like a measured quantity or ids rather than classes (scikit-learn's diabetes
# target: 214 values over 442 rows).
FEW_PER_CLASS = 3


def data_warnings(experiment: Experiment, dataset: Dataset) -> list[str]:
    """What can be seen wrong before training: inputs (as scaled) far beyond
    [-1, 1], rows that repeat another's inputs with another label, labels with too
    few rows per class, and a binary sigmoid loss on more than two classes."""
    lines = []
    low, high = float(dataset.inputs.min()), float(dataset.inputs.max())
    if max(-low, high) > FAR_INPUT:
        lines.append(
            f"the inputs of {dataset.name} span [{low:.4g}, {high:.4g}] "
            f"(scale={experiment.scale}), far beyond [-1, 1]: the first layer's "
            "units saturate (tanh, sigmoid) or blow up (relu); set scale=unit (one "
            "affine map of all values onto [-1, 1], for images) or scale=standard "
            "(each feature to mean 0 and variance 1)"
        )
    lines += repeated_rows(dataset)
    classes, rows = dataset.p_y.shape[1], len(dataset.labels)
    if not dataset.population and classes > max(2, rows / FEW_PER_CLASS):
        lines.append(
            f"the labels of {dataset.name} take {classes:,} values over {rows:,} rows "
            f"(fewer than {FEW_PER_CLASS} rows per value on average): infoplane "
            "treats each value as a class, and a network cannot learn classes from "
            "so few examples; if the labels are a measured quantity (a regression "
            "target) or ids, give classes instead, e.g. bin the quantity into ranges"
        )
    if experiment.loss == "sigmoid_bce" and classes > 2:
        lines.append(
            f"loss=sigmoid_bce (the seed notebook's loss for 2 classes) treats each "
            f"of the {classes} outputs as its own yes/no question, which trains "
            f"{classes} classes poorly; use loss=softmax_ce, or start from the "
            "classify preset (softmax, Adam, mini-batches)"
        )
    return lines


def repeated_rows(dataset: Dataset) -> list[str]:
    """The warning, if any, that rows of a data set repeat another row's inputs with
    another label (``run`` and ``infoplane bound`` give it)."""
    clashes = _label_clashes(dataset)
    if not clashes:
        return []
    return [
        f"{clashes:,} rows of {dataset.name} repeat another row's inputs with "
        "another label: every row counts as its own input, so I(X;Y) "
        "(result.info['i_xy'], and the IB bound) counts them apart, but no layer "
        "can, and its I(T;Y) stays below that line; merge or remove the repeated rows"
    ]


def _label_clashes(dataset: Dataset) -> int:
    """How many rows of a finite data set with hard labels have the inputs of an
    earlier row and another label (0 for the synthetic tasks' distinct inputs)."""
    if dataset.population or not np.all(dataset.p_y.max(axis=1) == 1):
        return 0
    rows = np.ascontiguousarray(dataset.inputs + np.float32(0))  # -0.0 as 0.0
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))
    inputs = np.unique(keys.ravel(), return_inverse=True)[1].ravel()
    distinct = int(inputs.max()) + 1
    if distinct == len(inputs):  # no input repeats
        return 0
    return np.unique(np.stack([inputs, dataset.labels]), axis=1).shape[1] - distinct


def fit_warnings(experiment: Experiment, dataset: Dataset, arrays: dict) -> list[str]:
    """What a finished run shows wrong: a first layer saturated from the first
    measurement (inputs too large for it), and test accuracy near chance at the
    end of a run long enough to have learnt."""
    lines = []
    saturation = arrays["saturation"][:, 0, 0]  # (seed,): layer 1, first epoch
    if not np.isnan(saturation).all() and np.nanmean(saturation) > SATURATED:
        lines.append(
            f"layer 1 is {np.nanmean(saturation):.1%} saturated at the first "
            f"measurement (epoch {int(arrays['epochs'][0])}): its inputs are too "
            f"large for {experiment.activation}, so it starts as a binary code; "
            "scale the inputs (scale=unit or scale=standard)"
        )
    healthy = arrays["diverged_epoch"] < 0
    accuracy = arrays["final_test_accuracy"][healthy]
    if not len(accuracy):
        return lines
    train = dataset.train_size(
        train_samples=experiment.train_samples,
        train_fraction=experiment.train_fraction,
    )
    batches = (
        1 if experiment.batch_size == 0 else math.ceil(train / experiment.batch_size)
    )
    # Chance: always answering the test set's most common class.
    chance = float(arrays["test_class_share"][healthy].max(axis=1).mean())
    mean = float(np.mean(accuracy))
    if experiment.epochs * batches >= CHANCE_UPDATES and mean < chance + NEAR_CHANCE * (
        1 - chance
    ):
        lines.append(
            f"test accuracy is {mean:.3f} at the end, near chance ({chance:.3f}: "
            "always the most common class): the networks did not learn the task, "
            "so their information plane says little about learning; check the "
            "labels, the scaling of the inputs, the loss and the learning rate "
            f"(lr={experiment.lr:g})"
        )
    return lines


def user_model(experiment: Experiment, dataset: Dataset, model) -> UserModel:
    """The user's ``model`` factory, checked and described for ``experiment`` on
    ``dataset`` (see :func:`run` for the contract).

    Raises:
        ValueError: what does not apply to a user's model (``quantize``;
            ``grad_stats`` of a model of biases only), or a model that
            breaks the contract (:func:`~infoplane.user_model.describe_model`).
        TypeError: see :func:`~infoplane.user_model.describe_model`.
    """
    if experiment.quantize != "none":
        raise ValueError(
            f"quantize={experiment.quantize} rounds the layers of infoplane's MLP; a "
            "model of your own quantises its layers itself: set quantize=none"
        )
    user = describe_model(
        model, dataset, measure_output=experiment.measure_output, seed=experiment.seed
    )
    if experiment.grad_stats and not user.weights:
        raise ValueError(
            "grad_stats follows the gradients of a model's arrays other than its "
            f"biases (those named bias), and the model of {user.name} has none; set "
            "grad_stats=False"
        )
    return user


def check(experiment: Experiment) -> None:
    """What :func:`run` checks before any work, without running: the task loads and
    the sizes fit it (e.g. every point of a sweep, before the first trains).

    Raises:
        ValueError: as :func:`run` would, before training.
    """
    check_sizes(experiment, load_task(experiment.task))


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


# The most bytes of activations ``run(keep=...)`` keeps.
KEEP_LIMIT = 1 << 30


def kept_bytes(
    experiment: Experiment,
    dataset: Dataset,
    keep_seeds: int,
    *,
    model: UserModel | None = None,
) -> int:
    """The bytes of the activations ``run(keep="activations")`` keeps: float32,
    ``keep_seeds x measured epochs x measured inputs x units`` (the units of
    ``experiment.hidden``, or of a user's ``model``)."""
    epochs = len(parse_schedule(experiment.measure).epochs(experiment.epochs))
    inputs = len(dataset.p_x)
    if experiment.measure_samples:
        inputs = min(inputs, experiment.measure_samples)
    units = sum(experiment.hidden if model is None else model.units)
    if experiment.measure_output:
        units += dataset.p_y.shape[1]
    return 4 * keep_seeds * epochs * inputs * units


def check_keep(
    experiment: Experiment,
    dataset: Dataset,
    keep: str,
    keep_seeds: int,
    *,
    model: UserModel | None = None,
) -> None:
    """Refuse, before any work, a ``keep`` run cannot do or whose activations
    would be larger than ``KEEP_LIMIT``."""
    if keep != "activations":
        raise ValueError(f'keep must be "activations" or None, got {keep!r}')
    if (
        not isinstance(keep_seeds, int)
        or isinstance(keep_seeds, bool)
        or not 1 <= keep_seeds <= experiment.seeds
    ):
        raise ValueError(
            f"keep_seeds must be an integer from 1 to the run's {experiment.seeds} "
            f"seeds, got {keep_seeds!r}"
        )
    size = kept_bytes(experiment, dataset, keep_seeds, model=model)
    if size > KEEP_LIMIT:
        raise ValueError(
            f"keep={keep!r} would keep {size / 2**30:.2f} GiB of activations "
            f"({keep_seeds} seed(s) x measurements x inputs x units x 4 bytes), "
            f"above the limit of {KEEP_LIMIT / 2**30:g} GiB; keep fewer seeds, "
            "measure fewer epochs, or set measure_samples"
        )


def _replay_kept(
    experiment: Experiment, dataset: Dataset, keep_seeds: int, model=None
) -> dict:
    """The kept arrays of the first ``keep_seeds`` networks, from a second pass
    that replays the run with a cheap estimator (training does not depend on the
    estimators), recording those networks' layers at every measurement. All the
    run's networks train again, in the same program shape, so that the kept ones
    are bit for bit those of the run (alone, float32 sums may round differently);
    a kept network that diverged keeps NaN from then on, as its other arrays do."""
    again = train(
        experiment.replace(estimators=("binning:bins=2",)),
        dataset,
        keep_layers=keep_seeds,
        model=model,
    )
    return {k: v for k, v in again.items() if k.startswith("kept_")}


def _resolve_grids(experiment: Experiment) -> Experiment:
    """Give ``quantized`` (the network's own grid) its bits and range, from
    ``quantize`` and the activation, so that the result names the grid it measured
    on (and :meth:`Result.remeasure` can use it)."""
    specs = []
    for spec in experiment.estimators:
        if getattr(parse_estimator(spec), "from_network", False):
            bits = QUANTIZE[experiment.quantize]
            if quantize_is_layer(experiment.quantize):
                spec = Quantized(bits=bits, layer=True).spec
            else:
                low, high = quantize_range(experiment.activation)
                spec = Quantized(bits=bits, low=low, high=high).spec
        specs.append(spec)
    return experiment.replace(estimators=tuple(specs))


def _resolve_run_ranges(
    experiment: Experiment, dataset: Dataset, model=None
) -> Experiment:
    """Give run-wide binning ranges (``binning-observed:scope=run``) their values.

    A first pass trains the same networks with a cheap estimator and records each
    layer's smallest and largest activation at every measurement; the global range is
    the extremes over layers, epochs and seeds. Training does not depend on the
    estimators, so the second pass replays the same networks.
    """
    estimators = [parse_estimator(e) for e in experiment.estimators]
    if not any(getattr(e, "unresolved", False) for e in estimators):
        return experiment
    first = train(
        experiment.replace(estimators=("binning:bins=2",)), dataset, model=model
    )
    low = float(np.nanmin(first["activation_min"]))
    high = float(np.nanmax(first["activation_max"]))
    resolved = [
        e.spec + f",range={low!r}:{high!r}" if getattr(e, "unresolved", False) else e
        for e in estimators
    ]
    return experiment.replace(estimators=tuple(resolved))


class RunWarning(UserWarning):
    """Something about a run that its numbers alone do not show (the base of the
    run's warnings; the command line prints them as one line each)."""


class ClippingWarning(RunWarning):
    """A fixed binning range lumped activation values outside it together."""


class DataWarning(RunWarning):
    """The data or the training does not suit the network (see :func:`run`)."""


class DivergenceWarning(RunWarning, RuntimeWarning):
    """Some networks of a run diverged; their values from then on are NaN."""
