"""What to run: a frozen, validated configuration, presets, TOML files, and ``run``."""

import dataclasses
import math
import tomllib
from collections.abc import Callable
from pathlib import Path

from .datasets import TASKS, load_task
from .estimators import parse_estimator
from .model import ACTIVATIONS
from .training import parse_schedule, train
from .units import check_units

__all__ = ["PRESETS", "Experiment", "load_experiment", "preset", "run"]

LOSSES = ("sigmoid_bce", "softmax_ce")
OPTIMIZERS = ("sgd", "adam")
MEASURE_ON = ("train", "test", "full")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A complete, validated description of a run. Immutable and hashable.

    Attributes:
        name: a label for results and pictures.
        task: the data set, a key of ``infoplane.datasets.TASKS``.
        hidden: widths of the hidden layers.
        activation: hidden nonlinearity, a key of ``infoplane.model.ACTIVATIONS``.
        loss: ``"sigmoid_bce"`` (the notebook: sigmoid cross-entropy on each output,
            averaged) or ``"softmax_ce"`` (the paper).
        optimizer: ``"sgd"`` or ``"adam"``.
        lr: learning rate.
        batch_size: samples per update; 0 for full batch (one update per epoch).
        epochs: number of training epochs.
        measure: the measurement schedule, ``"every:K"`` or ``"log:N"``.
        estimators: estimators by name, e.g. ``("binning:bins=30,range=-1:1",)``.
        measure_on: which samples the information is measured on: ``"train"``,
            ``"test"`` or ``"full"`` (every distinct input, weighted by p(x)).
        measure_output: also measure the output layer (its class probabilities).
        grad_stats: record per-layer gradient mean and spread norms.
        seeds: how many networks to train (each with its own data draw and init).
        seed: the base seed from which every key derives.
        units: ``"nats"`` or ``"bits"`` for results and pictures.
        train_samples, test_samples: samples drawn, for population tasks (seed10).
        train_fraction: share of each class used for training, for finite tasks.
    """

    name: str = "custom"
    task: str = "seed10"
    hidden: tuple[int, ...] = (8, 6, 4)
    activation: str = "tanh"
    loss: str = "sigmoid_bce"
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 0
    epochs: int = 3000
    measure: str = "every:20"
    estimators: tuple[str, ...] = ("binning:bins=30,range=-1:1",)
    measure_on: str = "train"
    measure_output: bool = False
    grad_stats: bool = False
    seeds: int = 1
    seed: int = 0
    units: str = "nats"
    train_samples: int = 50_000
    test_samples: int = 10_000
    train_fraction: float = 0.85

    def __post_init__(self):
        hidden = self.hidden
        if isinstance(hidden, int):
            hidden = (hidden,)
        if not (
            hidden
            and all(isinstance(w, int) and not isinstance(w, bool) for w in hidden)
            and all(w > 0 for w in hidden)
        ):
            raise ValueError(
                f"hidden layer widths must be positive integers, got {list(hidden)}"
            )
        object.__setattr__(self, "hidden", tuple(hidden))
        estimators = self.estimators
        if isinstance(estimators, str):
            estimators = (estimators,)
        if not estimators:
            raise ValueError("give at least one estimator")
        specs = tuple(parse_estimator(e).spec for e in estimators)
        object.__setattr__(self, "estimators", specs)
        _choice("task", self.task, TASKS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("measure_on", self.measure_on, MEASURE_ON)
        check_units(self.units)
        for field in ("epochs", "seeds", "train_samples", "test_samples"):
            _positive_int(field, getattr(self, field))
        _positive_int("batch_size", self.batch_size, allow_zero=True)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr)) or (
            self.lr <= 0
        ):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 < self.train_fraction < 1:
            raise ValueError(
                f"train_fraction must be between 0 and 1, got {self.train_fraction!r}"
            )
        parse_schedule(self.measure).epochs(self.epochs)

    def replace(self, **changes) -> "Experiment":
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(
                f"unknown experiment field(s): {', '.join(sorted(unknown))}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Experiment":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(
                f"unknown experiment field(s): {', '.join(sorted(unknown))}"
            )
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        )


def _choice(field: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")


def _positive_int(field: str, value, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{field} must be {kind} integer, got {value!r}")


PRESETS: dict[str, tuple[str, dict]] = {
    "seed": (
        "the reproduction notebook: 10 bits, tanh 8-6-4, full-batch SGD, 3000 epochs",
        dict(name="seed"),
    ),
    "seed5": (
        "the notebook's second network: tanh 8-7-6-5-3, otherwise as seed",
        dict(name="seed5", hidden=(8, 7, 6, 5, 3)),
    ),
}


def preset(name: str, **overrides) -> Experiment:
    """A named experiment, with fields overridden by keyword.

    Examples:
        >>> import infoplane as ip
        >>> ip.preset("seed", epochs=600, seeds=4).hidden
        (8, 6, 4)
    """
    if name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} "
            "(`infoplane presets` lists them)"
        )
    return Experiment(**PRESETS[name][1]).replace(**overrides)


def load_experiment(path: "str | Path") -> Experiment:
    """An experiment from a TOML file: optional ``preset = "seed"``, then any fields."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"cannot read experiment file {path}: {error}") from None
    base = data.pop("preset", None)
    if base is None:
        return Experiment.from_dict(data)
    return preset(
        base, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    )


def run(
    experiment: Experiment,
    *,
    progress: bool = False,
    on_chunk: Callable[[int, dict], None] | None = None,
):
    """Train and measure ``experiment``; return its :class:`~infoplane.Result`.

    Args:
        experiment: what to run.
        progress: show a progress bar (terminal or notebook).
        on_chunk: optional callback after each compiled chunk of measurements, with
            the count done so far and that chunk's records (see ``training.train``).

    Raises:
        TrainingDiverged: when the loss of a network becomes NaN or infinite.
    """
    from .results import Result

    dataset = load_task(experiment.task)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(parse_schedule(experiment.measure).epochs(experiment.epochs))
        bar = tqdm(total=total, unit="measurement", desc=experiment.name, leave=False)

    def report(done, chunk):
        if bar is not None:
            bar.update(done - bar.n)
        if on_chunk is not None:
            on_chunk(done, chunk)

    try:
        arrays = train(experiment, dataset, on_chunk=report)
    finally:
        if bar is not None:
            bar.close()
    return Result.from_training(experiment, dataset, arrays)
