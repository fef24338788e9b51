"""What to run: the frozen, validated ``Experiment``, presets, TOML files, and the
parsing of ``FIELD=VALUE`` settings from the command line."""

import dataclasses
import difflib
import math
import os
import tomllib
from pathlib import Path
from typing import NamedTuple

from .datasets import SCALES, check_task
from .schedules import parse_schedule
from .units import check_units

__all__ = [
    "PRESETS",
    "Preset",
    "Experiment",
    "load_experiment",
    "parse_settings",
    "parse_values",
    "preset",
]

LOSSES = ("sigmoid_bce", "softmax_ce")
# Stated limits on sizes, checked before anything is allocated.
MAX_WIDTH = 16_384
MAX_MEASUREMENTS = 100_000
LIMITS = {
    "epochs": (1, 10_000_000),
    "seeds": (1, 10_000),
    "seed": (0, 2**32 - 1),
    "batch_size": (0, 10_000_000),
    "train_samples": (1, 10_000_000),
    "test_samples": (1, 10_000_000),
    "measure_samples": (0, 10_000_000),
}
OPTIMIZERS = ("sgd", "adam")
MEASURE_ON = ("train", "test", "full")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A complete, validated description of a run. Immutable and hashable.

    Attributes:
        name: a label for results and pictures.
        task: the data set: a key of ``infoplane.datasets.TASKS`` (with parameters,
            e.g. ``tishby12:gamma=2``; ``digits`` from scikit-learn),
            ``mnist:DIR`` for the MNIST files you downloaded
            (:func:`infoplane.datasets.from_mnist`), or ``file:PATH.npz`` for your
            own arrays (:func:`infoplane.datasets.from_file`).
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
        train_fraction: share of each class used for training, for finite tasks
            without a given split (MNIST keeps its own).
        scale: how inputs are scaled before training (the information is measured
            on the network, whose input is then the scaled data): ``"unit"`` (one
            affine map of all values onto [-1, 1]), ``"standard"`` (each feature to
            mean 0, variance 1), ``"none"``, or ``"auto"``, the task's own choice:
            ``unit`` for the images of ``digits`` and ``mnist:``, ``none`` for the
            synthetic bits and your files. A run records the scaling it applied.
        measure_samples: measure the information on a random subset of this many
            samples of the measured set (``measure_on``), fixed for each seed (its
            inputs are recorded, ``measured_inputs``); 0 measures them all, on
            every input of the task with the others weighted 0. A measured set no
            larger than this is measured whole, on its own inputs: the same
            numbers for a fraction of the work (e.g. ``measure_on="test"`` and the
            size of the test set measure exactly the test inputs).
        quantize: ``"none"``, ``"8bit"`` or ``"4bit"``: round every hidden layer's
            values to 2**k levels on the activation's bounds in the forward pass,
            straight-through gradients (Lorenzen, Igel & Nielsen 2022; bounded
            activations only: :func:`infoplane.model.quantize_range`);
            ``"8bit-layer"`` or ``"4bit-layer"``: on each layer's observed range in
            each forward pass (each mini-batch in training, all inputs when
            measured; :func:`infoplane.model.layer_range`), the rule of Lorenzen et
            al.'s code, for any activation and the one for relu. The ``quantized``
            estimator then measures the network's exact information.
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
    scale: str = "auto"
    measure_samples: int = 0
    quantize: str = "none"

    def __post_init__(self):
        # Imported here, not above: these import JAX, and listing the presets
        # (`infoplane presets`) or reading this module needs none of it.
        from .estimators import parse_estimator
        from .model import ACTIVATIONS, QUANTIZE, quantize_is_layer, quantize_range

        hidden = self.hidden
        if _is_int(hidden):
            hidden = (hidden,)
        if not (
            isinstance(hidden, tuple | list)
            and hidden
            and all(_is_int(w) and 0 < w <= MAX_WIDTH for w in hidden)
        ):
            raise ValueError(
                f"hidden must be layer widths from 1 to {MAX_WIDTH:,}, e.g. 8,6,4; "
                f"got {hidden!r}"
            )
        object.__setattr__(self, "hidden", tuple(hidden))
        estimators = self.estimators
        if isinstance(estimators, str):
            estimators = (estimators,)
        if not isinstance(estimators, tuple | list) or not all(
            isinstance(e, str) for e in estimators
        ):
            raise ValueError(
                f"estimators must be estimator names, e.g. binning, got {estimators!r}"
            )
        if not estimators:
            raise ValueError("give at least one estimator")
        _check_types(self)
        specs = tuple(parse_estimator(e).spec for e in estimators)
        object.__setattr__(self, "estimators", specs)
        # Data on disk or in a package is read when a run loads it: a saved result
        # loads without its data.
        check_task(self.task)  # raises ValueError naming the problem
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("measure_on", self.measure_on, MEASURE_ON)
        _choice("scale", self.scale, SCALES)
        _choice("quantize", self.quantize, QUANTIZE)
        if QUANTIZE[self.quantize] is not None:
            if not quantize_is_layer(self.quantize):
                quantize_range(self.activation)  # raises for unbounded activations
        elif any(_own_grid(e) for e in specs):
            raise ValueError(
                "the quantized estimator measures a quantised network: set "
                "quantize=8bit (or 4bit), or give its grid, e.g. "
                "quantized:bits=8,range=-1:1"
            )
        if self.measure_output and any(_own_grid(e) for e in specs):
            raise ValueError(
                "the quantized estimator (the network's own grid) measures hidden "
                "layers only; the output is not quantised: set measure_output=false"
            )
        check_units(self.units)
        for field, (low, high) in LIMITS.items():
            value = getattr(self, field)
            if not low <= value <= high:
                raise ValueError(
                    f"{field} must be an integer from {low:,} to {high:,}, "
                    f"got {value!r}"
                )
        if self.lr <= 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 < self.train_fraction < 1:
            raise ValueError(
                f"train_fraction must be between 0 and 1, got {self.train_fraction!r}"
            )
        measured = len(parse_schedule(self.measure).epochs(self.epochs))
        if measured > MAX_MEASUREMENTS:
            raise ValueError(
                f"measure={self.measure!r} takes {measured:,} measurements over "
                f"{self.epochs:,} epochs; at most {MAX_MEASUREMENTS:,} are allowed"
            )

    def replace(self, **changes) -> "Experiment":
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(_unknown_fields(unknown))
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
            raise ValueError(_unknown_fields(unknown))
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        )


def _unknown_fields(unknown) -> str:
    """What to say of unknown field names: a close field for each, or all fields."""
    fields = [f.name for f in dataclasses.fields(Experiment)]
    close = {u: difflib.get_close_matches(u, fields, n=1) for u in sorted(unknown)}
    named = ", ".join(
        f"{u} (did you mean {m[0]}?)" if m else u for u, m in close.items()
    )
    if all(close.values()):
        return f"unknown experiment field(s): {named}"
    return f"unknown experiment field(s): {named}; fields are {', '.join(fields)}"


def parse_values(field: str, text: str) -> list:
    """Values of an experiment field written on the command line.

    Points are separated by ``;`` (and, for fields holding one number or word, also by
    ``,``); a tuple field takes comma-separated items, estimators ``+``-separated specs:
    ``hidden=10;10,7;10,7,5``, ``train_fraction=0.05,0.45,0.85``,
    ``estimators=binning+kde-upper:var=0.1``.

    Raises:
        ValueError: unknown field, or a value that does not parse as its type.
    """
    fields = {f.name: f for f in dataclasses.fields(Experiment)}
    if field not in fields:
        raise ValueError(_unknown_fields({field}))
    default = fields[field].default
    is_tuple = isinstance(default, tuple)
    points = [p.strip() for p in text.split(";")]
    if not is_tuple:
        points = [q.strip() for p in points for q in p.split(",")]
    if field == "task":  # a spec's own options: tishby12:gamma=2,theta=7
        points = _join_options(points)
    points = [p for p in points if p]
    if not points:
        raise ValueError(f"no values given for {field}")

    def convert(point: str):
        if field == "estimators":
            return tuple(point.split("+"))
        if is_tuple:
            return tuple(int(item) for item in point.split(","))
        if isinstance(default, bool):
            if point.lower() not in ("true", "false"):
                raise ValueError(f"{field} takes true or false, got {point!r}")
            return point.lower() == "true"
        return type(default)(point)

    try:
        return [convert(p) for p in points]
    except ValueError as error:
        raise ValueError(f"cannot read {field}={text!r}: {error}") from None


def _join_options(pieces: list[str]) -> list[str]:
    """Comma-split task specs joined again where a piece is an option (``key=value``
    without a ``name:`` of its own) of the spec before it."""
    specs: list[str] = []
    for piece in pieces:
        if specs and "=" in piece and ":" not in piece.partition("=")[0]:
            specs[-1] += f",{piece}"
        else:
            specs.append(piece)
    return specs


def parse_settings(settings: "list[str] | tuple[str, ...]") -> dict[str, list]:
    """``FIELD=VALUES`` settings (``--set`` on the command line) as field -> values.

    Raises:
        ValueError: a setting without ``=``, a field given twice, or a value that
            does not parse (see :func:`parse_values`).
    """
    fields: dict[str, list] = {}
    for setting in settings:
        field, sep, text = setting.partition("=")
        field = field.strip()
        if not sep:
            raise ValueError(f"--set takes FIELD=VALUES, e.g. lr=0.1, got {setting!r}")
        if field in fields:
            raise ValueError(f"--set {field} is given twice; give each field once")
        fields[field] = parse_values(field, text)
    return fields


def _own_grid(spec: str) -> bool:
    """The ``quantized`` estimator on the network's own grid."""
    return spec == "quantized"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(exp: Experiment) -> None:
    """Every scalar field has its declared type: bools are bools, numbers are finite
    numbers of the right kind, strings are strings."""
    for field in dataclasses.fields(exp):
        value, kind = getattr(exp, field.name), field.type
        if kind is bool:
            ok, what = isinstance(value, bool), "true or false"
        elif kind is int:
            ok, what = _is_int(value), "an integer"
        elif kind is float:
            ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
            what = "a finite number"
        elif kind is str:
            ok, what = isinstance(value, str), "text"
        else:
            continue
        if not ok:
            raise ValueError(f"{field.name} must be {what}, got {value!r}")


def _choice(field: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")


class Preset(NamedTuple):
    """A named experiment: a description, its fields, and optionally a sweep.

    A preset with ``sweep`` settings (``FIELD=VALUES`` as ``infoplane sweep`` takes
    them) is a comparison: ``infoplane run`` runs every point and draws them together.
    """

    description: str
    fields: dict
    sweep: tuple[str, ...] = ()


# The paper's task and training (Shwartz-Ziv & Tishby 2017, as their code ran it).
_PAPER = dict(
    task="tishby12",
    hidden=(10, 7, 5, 4, 3),
    loss="softmax_ce",
    optimizer="adam",
    lr=4e-4,
    batch_size=256,
    measure_on="full",
    seeds=50,
    units="bits",
    train_fraction=0.85,
)

# Your own data: a classifier's usual training (softmax, Adam, mini-batches), inputs
# scaled onto [-1, 1], information measured on a fixed subset of training samples.
_CLASSIFY = dict(
    task="digits",
    hidden=(32, 16, 8),
    activation="tanh",
    loss="softmax_ce",
    optimizer="adam",
    lr=1e-3,
    batch_size=64,
    epochs=200,
    measure="log:100",
    measure_on="train",
    measure_samples=1000,
    scale="unit",
)

# Saxe et al. (2018), Fig. 1C-D: MNIST, 784-1024-20-20-20-10, as their published code
# (ibsgd) trained and measured it; docs/protocols.md §6 says what comes from where.
_SAXE_MNIST = dict(
    name="saxe2018-mnist",
    task="mnist",  # the user's files: --set task=mnist:DIR
    hidden=(1024, 20, 20, 20),
    loss="softmax_ce",
    optimizer="sgd",
    lr=1e-3,
    batch_size=128,
    epochs=10_000,
    measure="log:150",
    estimators=("kde-upper:var=0.1", "binning-width:width=0.5"),
    measure_on="test",
    measure_output=True,
    measure_samples=5000,
    scale="unit",
    units="bits",
)

PRESETS: dict[str, Preset] = {
    "seed": Preset(
        "the reproduction notebook: 10 bits, tanh 8-6-4, full-batch SGD, 3000 epochs",
        dict(name="seed"),
    ),
    "seed5": Preset(
        "the notebook's second network: tanh 8-7-6-5-3, otherwise as seed",
        dict(name="seed5", hidden=(8, 7, 6, 5, 3)),
    ),
    "tishby2017": Preset(
        "the paper: 12 bits, tanh 10-7-5-4-3, softmax, Adam, 85% train, 50 networks",
        dict(
            _PAPER,
            name="tishby2017",
            epochs=10_000,
            measure="log:300",
            measure_output=True,
            grad_stats=True,
        ),
    ),
    "saxe2018": Preset(
        "the critique: tanh vs relu on the 12-bit task, binning and kernel MI, 50 nets",
        dict(
            _PAPER,
            name="saxe2018",
            epochs=3000,
            measure="log:30",
            estimators=("binning-width:width=0.07", "kde-upper:var=0.1"),
        ),
        sweep=("activation=tanh,relu",),
    ),
    "lorenzen2022": Preset(
        "exact MI of quantised networks (Lorenzen et al.'s code): the 12-bit task, "
        "tanh vs relu 10-7-5-4-3, 8-bit activations on each layer's observed range, "
        "Adam 1e-4, batches of 256, 80% train, 8000 epochs, the quantized estimator "
        "on all 4096 inputs, 50 nets",
        dict(
            _PAPER,
            name="lorenzen2022",
            lr=1e-4,
            train_fraction=0.8,
            epochs=8000,
            measure="log:100",
            estimators=("quantized",),
            quantize="8bit-layer",
        ),
        sweep=("activation=tanh,relu",),
    ),
    "classify": Preset(
        "your own data (digits by default; task=file:X.npz, mnist:DIR): tanh 32-16-8, "
        "softmax, Adam, batches of 64, inputs on [-1, 1], MI on 1000 training samples",
        dict(_CLASSIFY, name="classify"),
    ),
    "saxe2018-mnist": Preset(
        "Saxe et al.'s MNIST net 784-1024-20-20-20-10, tanh vs relu, kernel MI "
        "(var 0.1) on 5000 test images; SGD 1e-3, batch 128, 10,000 epochs and "
        "bin width 0.5 from their code (the paper does not say); needs task=mnist:DIR",
        _SAXE_MNIST,
        sweep=("activation=tanh,relu",),
    ),
}


def preset(name: str, /, **overrides) -> Experiment:
    """A named experiment, with fields overridden by keyword.

    Examples:
        >>> import infoplane as ip
        >>> ip.preset("seed", epochs=600, seeds=4).hidden
        (8, 6, 4)
    """
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} "
            "(`infoplane presets` lists them)"
        )
    return Experiment(**PRESETS[name].fields).replace(**overrides)


def load_experiment(path: "str | Path") -> Experiment:
    """An experiment from a TOML file: optional ``preset = "seed"``, then any fields.

    A relative path in its task (``task = "file:mine.npz"``, ``mnist:data``) is read
    from the TOML file's folder, wherever the command runs.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"cannot read experiment file {path}: {error}") from None
    if isinstance(data.get("task"), str):
        data["task"] = _beside(data["task"], Path(path).parent)
    base = data.pop("preset", None)
    if base is not None and not isinstance(base, str):
        raise ValueError(f"preset must be a preset's name, got {base!r}")
    if base is None:
        return Experiment.from_dict(data)
    return preset(
        base, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    )


def _beside(task: str, folder: Path) -> str:
    """``task`` with a relative ``file:`` or ``mnist:`` path taken from ``folder``."""
    kind, sep, rest = task.partition(":")
    if kind not in ("file", "mnist") or not sep:
        return task
    # mnist:DIR,train=N: the path ends at the first comma (a file: path may hold one).
    where, comma, options = rest.partition(",") if kind == "mnist" else (rest, "", "")
    where = where.strip()
    if not where or where.startswith("~") or Path(where).is_absolute():
        return task
    return f"{kind}:{os.path.normpath(folder / where)}{comma}{options}"
