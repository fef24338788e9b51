"""A run's results: arrays over (seed, epoch, layer, estimator), saved as open files.

A result comes from one of two sources: a run of an :class:`~infoplane.Experiment`
(``source == "run"``), or a user's own training loop measured through
:class:`~infoplane.InformationPlane` (``source == "recorder"``), which has no
experiment: its facts (name, units, samples, H(X), H(Y), I(X;Y), the seeds' labels,
each layer's width) are in ``info``.

A run directory holds ``result.json`` (the experiment or the recorder's facts,
versions, units, layer and estimator names, array axes, summary), ``arrays.npz`` (every
array, named) and ``information.csv`` (tidy rows
``seed,epoch,layer,estimator,i_xt,i_ty,units``) that pandas or a spreadsheet reads
without infoplane. Directories are written under a temporary name and renamed, so an
interrupted write never leaves a half-written result.
"""

import contextlib
import dataclasses
import html
import itertools
import json
import math
import platform
import zipfile
from importlib import metadata
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .config import Experiment
from .datasets import Dataset
from .estimators import parse_estimator
from .estimators.base import JointDistribution
from .estimators.discrete import float64
from .output import atomic_directory, write_csv
from .units import UNITS, from_nats

__all__ = ["AXES", "INFORMATION_COLUMNS", "RECORDER_ARRAYS", "Result"]

# The axes of every array a Result may hold.
AXES = {
    "epochs": ("epoch",),
    "i_xt": ("seed", "epoch", "layer", "estimator"),
    "i_ty": ("seed", "epoch", "layer", "estimator"),
    "train_loss": ("seed", "epoch"),
    "test_loss": ("seed", "epoch"),
    "train_accuracy": ("seed", "epoch"),
    "test_accuracy": ("seed", "epoch"),
    "occupied_bins": ("seed", "epoch", "layer", "estimator"),
    "clipped_fraction": ("seed", "epoch", "layer", "estimator"),
    "saturation": ("seed", "epoch", "layer"),
    "activation_min": ("seed", "epoch", "layer"),
    "activation_max": ("seed", "epoch", "layer"),
    "dead_fraction": ("seed", "epoch", "layer"),
    "grad_mean_norm": ("seed", "epoch", "weight_layer"),
    "grad_std_norm": ("seed", "epoch", "weight_layer"),
    "train_size": ("seed",),
    "test_size": ("seed",),
    "train_class_share": ("seed", "class"),
    "test_class_share": ("seed", "class"),
    "final_train_loss": ("seed",),
    "final_test_loss": ("seed",),
    "final_train_accuracy": ("seed",),
    "final_test_accuracy": ("seed",),
    "diverged_epoch": ("seed",),
    # With measure_samples: each network's measured inputs (rows of the data set, -1
    # for padding) and how many samples they hold.
    "measured_inputs": ("seed", "measured"),
    "measured_samples": ("seed",),
    # With run(keep="activations"): the first kept_seed networks' layers (every
    # measured layer's units in turn) on the measured inputs at every measured epoch,
    # those inputs' weights and labels, and the networks' final weights and biases
    # (every layer's in turn, flattened; a user's model: every array of the module in
    # the order of jax.tree.leaves): what Result.remeasure measures again.
    "kept_activations": ("kept_seed", "epoch", "measured_input", "unit"),
    "kept_weights": ("kept_seed", "measured_input"),
    "kept_p_y": ("kept_seed", "measured_input", "class"),
    "kept_parameters": ("kept_seed", "parameter"),
}
KEPT_ARRAYS = ("kept_activations", "kept_weights", "kept_p_y", "kept_parameters")
# The arrays a result of a user's own loop (source "recorder") may hold.
RECORDER_ARRAYS = frozenset(
    {
        "epochs",
        "i_xt",
        "i_ty",
        "occupied_bins",
        "clipped_fraction",
        "dead_fraction",
        "activation_min",
        "activation_max",
        "train_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
    }
)
# Format 1: a run of an experiment; format 2: a result without one (the recorder's).
# A run is still written as format 1, so that earlier versions read it.
FORMAT_VERSION = 1
FORMAT_WITHOUT_EXPERIMENT = 2
# The columns of information.csv and of Result.to_pandas().
INFORMATION_COLUMNS = ("seed", "epoch", "layer", "estimator", "i_xt", "i_ty", "units")


def _clipping_warnings(arrays, layers, estimators) -> list[str]:
    """One line per estimator whose fixed range clipped activations, and one per
    estimator whose bins put a layer's every input in one bin at every measurement
    (e.g. a width far above the activations' spread)."""
    lines = []
    occupied = arrays.get("occupied_bins")
    if occupied is not None:
        for e, estimator in enumerate(estimators):
            counts = np.nan_to_num(occupied[..., e], nan=2.0)  # (seed, epoch, layer)
            one = [layers[i] for i in np.flatnonzero(counts.max(axis=(0, 1)) == 1)]
            if one:
                lines.append(
                    f"{estimator} put every input in one bin in {', '.join(one)} at "
                    "every measurement, so I(X;T) and I(T;Y) are 0 there; use "
                    "smaller bins"
                )
    clipped = arrays.get("clipped_fraction")
    if clipped is None:
        return lines
    for e, estimator in enumerate(estimators):
        values = np.nan_to_num(clipped[..., e], nan=0.0)  # (seed, epoch, layer)
        if values.max() <= 0:
            continue
        _, k, layer = np.unravel_index(values.argmax(), values.shape)
        advice = (
            "beyond width * 2**31 share the end bins; use a larger width"
            if estimator.startswith("binning-width")
            else "outside its range share the end bins; for unbounded activations "
            "use binning-width or binning-observed"
        )
        lines.append(
            f"{estimator} clipped up to {values.max():.1%} of the activation values "
            f"of {layers[layer]} (epoch {int(arrays['epochs'][k])}): values {advice}"
        )
    return lines


class _Facts:
    """What :meth:`Result.from_training` reads of a data set, for a result measured
    again (its info is then copied from the run's)."""

    name, h_x, i_xy = "", 0.0, 0.0


@float64
def _measure_kept(estimator, layers, weights, p_y) -> dict:
    """One network's kept layers (inputs first) measured by ``estimator``, as the
    training loop measures them: I(X;T), I(T;Y) (nats) and diagnostics per layer."""
    inputs = JointDistribution.of(weights, p_y)  # on the host, as training makes it
    layers = [jnp.asarray(a) for a in layers]
    return {
        k: np.asarray(v) for k, v in _measure_jit(estimator, layers, inputs).items()
    }


@eqx.filter_jit
def _measure_jit(estimator, layers, inputs: JointDistribution) -> dict:
    measured = estimator.measure_layers(layers, inputs)
    return {
        "i_xt": jnp.stack([m[0] for m in measured]).astype(jnp.float64),
        "i_ty": jnp.stack([m[1] for m in measured]).astype(jnp.float64),
        "occupied_bins": jnp.array(
            [m[2].get("occupied_bins", jnp.nan) for m in measured], jnp.float64
        ),
        "clipped_fraction": jnp.array(
            [m[2].get("clipped_fraction", jnp.nan) for m in measured], jnp.float64
        ),
    }


def _typed(meta: dict, key: str, kind: type):
    value = meta[key]
    if not isinstance(value, kind):
        raise TypeError(f"{key} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _finite(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_recorder_info(info) -> None:
    """The facts a result without an experiment must carry, with their types."""
    if not isinstance(info, dict):
        raise TypeError("info must be a dict")
    if info.get("source") != "recorder":
        raise ValueError(
            "a result without an experiment needs info['source'] == 'recorder', got "
            f"{info.get('source')!r}"
        )
    for key, kind in (("name", str), ("units", str), ("seeds", list)):
        if key not in info:
            raise KeyError(f"info lacks {key!r}")
        _typed(info, key, kind)
    if info["units"] not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}")
    seeds = info["seeds"]
    if not seeds or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds
    ):
        raise TypeError("info['seeds'] must be a list of integer seed labels")
    if len(set(seeds)) != len(seeds):
        raise ValueError("info['seeds'] repeats a seed")


def _network_sizes(experiment: Experiment, info: dict, layers) -> tuple[list, int]:
    """The widths of a run's hidden layers and its number of weight arrays: of the
    MLP of ``experiment.hidden``, or of the user's model ``info["model"]``, checked
    against the result's ``layers``."""
    model = info.get("model")
    if model is None:
        return list(experiment.hidden), len(experiment.hidden) + 1
    if not isinstance(model, dict):
        raise TypeError("info['model'] must be an object")
    names, units, weights = (
        _typed(model, key, list) for key in ("layers", "units", "weights")
    )
    if not all(isinstance(n, str) for n in names + weights):
        raise TypeError("info['model'] names its layers and weights in text")
    if len(units) != len(names) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in units
    ):
        raise ValueError("info['model'] needs a positive width for each layer")
    if list(layers) != names + ["output"] * experiment.measure_output:
        raise ValueError("its layers differ from its model's")
    return units, len(weights)


def _kept_mlp(experiment: Experiment, parameters: int, classes: int):
    """An MLP of ``experiment`` holding ``parameters`` parameters, with ``classes``
    outputs (its values to be replaced): the input width is the one that gives that
    count, as a run does not record it."""
    from .model import MLP

    hidden = experiment.hidden
    rest = sum(o * (i + 1) for i, o in itertools.pairwise([*hidden, classes]))
    # The first layer holds hidden[0] x (input width + 1) of them (weights, bias).
    with_bias, remainder = divmod(parameters - rest, hidden[0])
    if remainder or with_bias < 2:
        raise ValueError(
            f"{parameters:,} kept parameters do not make an MLP with hidden layers "
            f"{list(hidden)} and {classes} outputs"
        )
    return MLP(
        with_bias - 1,
        hidden,
        classes,
        experiment.activation,
        key=np.random.default_rng(0),
        quantize=experiment.quantize,
    )


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("infoplane", "jax", "jaxlib", "equinox", "optax", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


@dataclasses.dataclass(frozen=True, eq=False)
class Result:
    """Everything a run measured, in the units of its experiment.

    Attributes:
        experiment: the configuration that produced it; None for a result measured
            from a user's own loop (:class:`~infoplane.InformationPlane`), whose
            facts are in ``info``.
        arrays: named NumPy arrays; their axes are listed in ``AXES``. Information
            values (``i_xt``, ``i_ty``) are in ``units``.
        layers: names along the layer axis (``"layer 1"``, ..., ``"output"``, or
            the user's names).
        estimators: estimator names along the estimator axis.
        info: data set facts (``h_x``, ``i_xy`` in ``units``), versions, warnings.
            Without an experiment also ``source`` (``"recorder"``), ``name``,
            ``units``, ``seeds`` (the label of each network along the seed axis),
            and what the recorder knew: ``samples``, ``distinct_inputs``,
            ``classes``, ``h_y``, ``layer_units``. A run of a user's own model
            (``ip.run(experiment, model=factory)``) has ``model``: the factory's
            ``name``, its ``layers`` and their ``units`` (values per input), the
            ``sample_shape`` it was given, its number of ``parameters``, and the
            ``weights`` along ``grad_*_norm``'s weight_layer axis.

    Code that reads a result uses :attr:`name`, :attr:`units`, :attr:`source` and
    :attr:`seed_labels`, which answer for both kinds.
    """

    experiment: Experiment | None
    arrays: dict[str, np.ndarray]
    layers: tuple[str, ...]
    estimators: tuple[str, ...]
    info: dict

    def __post_init__(self):
        if self.experiment is None:
            _check_recorder_info(self.info)

    @classmethod
    def from_training(
        cls,
        exp: Experiment,
        dataset: "Dataset | _Facts",
        raw: dict,
        *,
        model: dict | None = None,
    ) -> "Result":
        """Build from the nats arrays of ``training.train``; units change here.
        ``model``: what a user's model was (``UserModel.info()``), kept as
        ``info["model"]``; its layers' names are the result's."""
        arrays = dict(raw)
        measured_h_x = arrays.pop("measured_h_x", None)
        for name in ("i_xt", "i_ty"):
            arrays[name] = from_nats(np.asarray(raw[name], np.float64), exp.units)
        if model is None:
            layers = [f"layer {i + 1}" for i in range(len(exp.hidden))]
        else:
            layers = list(model["layers"])
        if exp.measure_output:
            layers.append("output")
        info = {
            "task": dataset.name,
            "h_x": from_nats(dataset.h_x, exp.units),
            "i_xy": from_nats(dataset.i_xy, exp.units),
            "versions": _versions(),
            "warnings": _clipping_warnings(arrays, layers, exp.estimators),
        }
        if measured_h_x is not None:  # the largest among the networks
            info["measured_h_x"] = float(from_nats(np.max(measured_h_x), exp.units))
        if model is not None:
            info["model"] = model
        return cls(exp, arrays, tuple(layers), exp.estimators, info)

    @classmethod
    def from_measurements(
        cls,
        raw: dict,
        layers,
        estimators,
        *,
        name: str,
        units: str,
        seeds,
        facts: dict,
    ) -> "Result":
        """A result without an experiment, from nats arrays measured elsewhere (the
        recorder): ``raw`` holds ``epochs`` and ``i_xt``/``i_ty`` of shape
        ``(seed, epoch, layer, estimator)`` and any of :data:`RECORDER_ARRAYS`;
        ``facts`` the measured set's ``h_x``, ``h_y`` and ``i_xy`` (nats, or None)
        and anything else to keep in ``info``. Units change here."""
        arrays = dict(raw)
        for key in ("i_xt", "i_ty"):
            arrays[key] = from_nats(np.asarray(raw[key], np.float64), units)
        info = {"source": "recorder", "name": name, "units": units}
        info["seeds"] = [int(s) for s in seeds]
        info |= facts
        for key in ("h_x", "h_y", "i_xy"):
            if info.get(key) is not None:
                info[key] = float(from_nats(info[key], units))
        info["versions"] = _versions()
        info["warnings"] = _clipping_warnings(arrays, list(layers), list(estimators))
        return cls(None, arrays, tuple(layers), tuple(estimators), info)

    @property
    def source(self) -> str:
        """``"run"`` (an experiment infoplane trained) or ``"recorder"`` (a user's
        own loop, measured by :class:`~infoplane.InformationPlane`)."""
        return "run" if self.experiment is not None else self.info["source"]

    @property
    def name(self) -> str:
        """The name shown in titles and tables."""
        if self.experiment is not None:
            return self.experiment.name
        return self.info["name"]

    @property
    def units(self) -> str:
        """``"nats"`` or ``"bits"``: the units of every information value."""
        if self.experiment is not None:
            return self.experiment.units
        return self.info["units"]

    @property
    def seed_labels(self) -> list[int]:
        """The label of each network along the seed axis: 0, 1, ... for a run, the
        ``seed`` each was recorded with for the recorder."""
        if self.experiment is not None:
            return list(range(self.i_xt.shape[0]))
        return list(self.info["seeds"])

    @property
    def epochs(self) -> np.ndarray:
        return self.arrays["epochs"]

    @property
    def converged(self) -> np.ndarray:
        """Which networks did not diverge, ``(seed,)`` bool. A diverged network's
        values are NaN from its ``diverged_epoch`` on; summaries, verdicts and the
        pictures' means are over the others."""
        diverged = self.arrays.get("diverged_epoch")
        if diverged is None:
            return np.ones(self.i_xt.shape[0], bool)
        return np.asarray(diverged) < 0

    @property
    def i_xt(self) -> np.ndarray:
        """I(X;T), shape ``(seed, epoch, layer, estimator)``, in ``units``."""
        return self.arrays["i_xt"]

    @property
    def i_ty(self) -> np.ndarray:
        """I(T;Y), shape ``(seed, epoch, layer, estimator)``, in ``units``."""
        return self.arrays["i_ty"]

    def summary(
        self, *, threshold: float = 0.05, confidence: float = 0.95
    ) -> list[dict]:
        """One row per estimator and layer: compression, measured.

        See :func:`infoplane.analysis.summary` for the columns.
        """
        from .analysis import summary

        return summary(self, threshold=threshold, confidence=confidence)

    def save(self, path: "str | Path", *, overwrite: bool = False) -> Path:
        """Write ``result.json``, ``arrays.npz`` and ``information.csv`` atomically.

        An existing non-empty ``path`` is refused unless ``overwrite=True``, which
        replaces an earlier infoplane result there and nothing else.
        """
        with atomic_directory(path, overwrite=overwrite, force="overwrite=True") as tmp:
            self.write_files(tmp)
        return Path(path)

    def write_files(self, directory: "str | Path") -> None:
        """Write the three result files into an existing directory.

        ``information.csv`` has one row per seed, epoch, layer and estimator:
        ``seed,epoch,layer,estimator,i_xt,i_ty,units`` with the network's seed label
        (see :attr:`seed_labels`), the layer's name (``layer 1``, ..., ``output``, or
        the user's) and values written exactly.
        """
        directory = Path(directory)
        experiment = self.experiment
        meta = {
            "format": FORMAT_WITHOUT_EXPERIMENT
            if experiment is None
            else FORMAT_VERSION,
            "experiment": None if experiment is None else experiment.to_dict(),
            "units": self.units,
            "layers": list(self.layers),
            "estimators": list(self.estimators),
            "axes": {k: list(AXES[k]) for k in self.arrays},
            "info": self.info,
            "summary": self.summary(),
        }
        text = json.dumps(_finite(meta), indent=2, allow_nan=False)
        (directory / "result.json").write_text(text + "\n")
        with open(directory / "arrays.npz", "wb") as f:
            np.savez_compressed(f, **self.arrays)
        seeds, epochs, layers, estimators = self.i_xt.shape
        labels = self.seed_labels
        write_csv(
            directory / "information.csv",
            list(INFORMATION_COLUMNS),
            (
                [
                    labels[s],
                    int(self.epochs[k]),
                    self.layers[layer],
                    self.estimators[e],
                    float(self.i_xt[s, k, layer, e]),
                    float(self.i_ty[s, k, layer, e]),
                    self.units,
                ]
                for s in range(seeds)
                for k in range(epochs)
                for layer in range(layers)
                for e in range(estimators)
            ),
        )

    def to_pandas(self):
        """The tidy table of ``information.csv`` as a pandas DataFrame.

        One row per seed, epoch, layer and estimator, columns
        ``seed, epoch, layer, estimator, i_xt, i_ty, units`` (seed labels as in
        :attr:`seed_labels`, values in :attr:`units`), e.g. for
        ``df.groupby(["layer", "epoch"]).i_xt.mean()``.

        Raises:
            ImportError: pandas is not installed (it is not a dependency of
                infoplane): ``pip install pandas``.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Result.to_pandas needs pandas, which infoplane does not install: "
                "pip install pandas"
            ) from None
        seeds, epochs, layers, estimators = self.i_xt.shape
        index = np.indices((seeds, epochs, layers, estimators)).reshape(4, -1)
        columns = {
            "seed": np.asarray(self.seed_labels, np.int64)[index[0]],
            "epoch": np.asarray(self.epochs, np.int64)[index[1]],
            "layer": np.asarray(self.layers, object)[index[2]],
            "estimator": np.asarray(self.estimators, object)[index[3]],
            "i_xt": np.asarray(self.i_xt, np.float64).reshape(-1),
            "i_ty": np.asarray(self.i_ty, np.float64).reshape(-1),
            "units": np.full(index.shape[1], self.units, object),
        }
        return pd.DataFrame(columns, columns=list(INFORMATION_COLUMNS))

    @classmethod
    def load(cls, path: "str | Path") -> "Result":
        """Read a run directory written by :meth:`save`, checking what it reads.

        The JSON's fields and types, and every array's shape against the axes,
        layers, estimators and epochs the result declares, are checked.

        Raises:
            ValueError: the directory is missing, is not an infoplane result, or is
                damaged (one line saying what is wrong).
        """
        path = Path(path)
        try:
            meta = json.loads((path / "result.json").read_text())
            with (
                open(path / "arrays.npz", "rb") as f,
                np.load(f, allow_pickle=False) as npz,
            ):
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, RecursionError, zipfile.BadZipFile) as e:
            if (path / "sweep.json").exists():
                raise ValueError(
                    f"{path} is a sweep; load its points, e.g. {path}/<point>"
                ) from None
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            raise ValueError(
                f"{path} is not a readable infoplane result ({reason})"
            ) from None
        try:
            return cls._checked(meta, arrays)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{path} is a damaged infoplane result: {error}") from None

    @classmethod
    def _checked(cls, meta, arrays: dict) -> "Result":
        """A Result from the parsed JSON and arrays, once they agree."""
        if not isinstance(meta, dict):
            raise TypeError("result.json does not hold an object")
        version = meta.get("format")
        if version not in (FORMAT_VERSION, FORMAT_WITHOUT_EXPERIMENT):
            raise ValueError(f"unsupported result format {version!r}")
        layers = tuple(_typed(meta, "layers", list))
        estimators = tuple(_typed(meta, "estimators", list))
        info = _typed(meta, "info", dict)
        if not all(isinstance(x, str) for x in layers + estimators):
            raise TypeError("layer and estimator names must be text")
        if len(set(layers)) != len(layers):
            raise ValueError("its layer names repeat")
        if version == FORMAT_VERSION:
            experiment = Experiment.from_dict(_typed(meta, "experiment", dict))
            if estimators != experiment.estimators:
                raise ValueError("its estimators differ from its experiment's")
            if meta.get("units", experiment.units) != experiment.units:
                raise ValueError("its units differ from its experiment's")
            seeds, last_epoch = experiment.seeds, experiment.epochs - 1
            allowed = AXES.keys()
        else:
            if meta["experiment"] is not None:
                raise ValueError(
                    f"a format {version} result has no experiment, but it holds one"
                )
            experiment = None
            _check_recorder_info(info)
            if meta.get("units") != info["units"]:
                raise ValueError("its units differ from its info's")
            for spec in estimators:
                if parse_estimator(spec).spec != spec:
                    raise ValueError(f"estimator {spec!r} is not in canonical form")
            seeds, last_epoch = len(info["seeds"]), None
            allowed = RECORDER_ARRAYS
        for name in ("epochs", "i_xt", "i_ty"):
            if name not in arrays:
                raise KeyError(f"arrays.npz lacks {name}")
        epochs = arrays["epochs"]
        sizes = {
            "seed": seeds,
            "epoch": len(epochs),
            "layer": len(layers),
            "estimator": len(estimators),
        }
        if experiment is not None:
            widths, weight_layers = _network_sizes(experiment, info, layers)
            sizes["weight_layer"] = weight_layers
            kept = [name for name in KEPT_ARRAYS if name in arrays]
            if kept and len(kept) != len(KEPT_ARRAYS):
                raise ValueError(
                    f"arrays.npz holds {', '.join(kept)} without the other kept arrays"
                )
            if kept:
                p_y = arrays["kept_p_y"]
                if p_y.ndim != 3 or not 1 <= p_y.shape[0] <= seeds:
                    raise ValueError("array kept_p_y does not fit the run's seeds")
                sizes["kept_seed"], sizes["measured_input"] = p_y.shape[:2]
                sizes["unit"] = sum(widths) + (
                    p_y.shape[2] if experiment.measure_output else 0
                )
        for name in sorted(arrays, key=lambda n: n != "i_xt"):
            array = arrays[name]
            if name not in allowed:
                raise ValueError(f"arrays.npz holds an unknown array {name!r}")
            if array.dtype.kind not in "biuf":
                raise TypeError(f"array {name} is not numeric ({array.dtype})")
            axes = AXES[name]
            if array.ndim != len(axes):
                raise ValueError(
                    f"array {name} has {array.ndim} axes, not {len(axes)} "
                    f"({', '.join(axes)})"
                )
            pairs = zip(axes, array.shape, strict=True)
            expected = tuple(sizes.get(axis, n) for axis, n in pairs)
            if array.shape != expected:
                raise ValueError(
                    f"array {name} has shape {array.shape}, but its axes "
                    f"({', '.join(axes)}) make it {expected}"
                )
        if epochs.dtype.kind not in "iu" or not (
            len(epochs) > 0
            and np.all(np.diff(epochs) > 0)
            and epochs[0] >= 0
            and (last_epoch is None or epochs[-1] <= last_epoch)
        ):
            below = "" if last_epoch is None else f" below {last_epoch + 1}"
            raise ValueError(f"epochs must be increasing integers{below}")
        for name in ("i_xt", "i_ty"):
            if arrays[name].dtype.kind != "f" or np.isinf(arrays[name]).any():
                raise ValueError(f"array {name} must hold finite numbers (or NaN)")
        diverged = arrays.get("diverged_epoch")
        if diverged is not None and (
            diverged.dtype.kind not in "iu"
            or not ((diverged >= -1) & (diverged <= (last_epoch or 0))).all()
        ):
            raise ValueError(
                "array diverged_epoch must hold -1 or an epoch of the run per network"
            )
        for key in ("h_x", "h_y", "i_xy", "measured_h_x"):
            value = info.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TypeError(f"info[{key!r}] must be a number, got {value!r}")
        return cls(experiment, arrays, layers, estimators, info)

    def remeasure(self, estimator: str) -> "Result":
        """This run measured again with ``estimator``, from the activations it kept
        (``run(experiment, keep="activations")``).

        Every layer of every kept network at every measured epoch is measured as the
        training loop measures it (the estimator's ``measure_layers`` on the same
        activations and measured inputs), so the values equal those of a run that
        measured with ``estimator``.

        Returns:
            A Result over the kept networks (seeds 0, 1, ...) with that one
            estimator; its other per-seed arrays are those of the kept networks.

        Raises:
            ValueError: the result kept no activations, or ``estimator`` needs what
                only a run has (a run-wide range, the network's own grid).
        """
        if self.experiment is None:
            raise ValueError(
                "this result was recorded from your own training loop, and a saved "
                "recording holds no activations; to measure it again, record with "
                "InformationPlane(..., keep=...) and call plane.remeasure"
            )
        if "kept_activations" not in self.arrays:
            raise ValueError(
                "this result kept no activations to measure again; run it with "
                'ip.run(experiment, keep="activations") or, on the command line, '
                "infoplane run ... --keep N"
            )
        parsed = parse_estimator(estimator)
        if getattr(parsed, "unresolved", False) or getattr(
            parsed, "from_network", False
        ):
            raise ValueError(
                f"{parsed.spec} needs what only a run knows (a run-wide range or the "
                "network's quantisation grid); give its range or grid explicitly"
            )
        exp = self.experiment
        model = self.info.get("model")
        widths = list(exp.hidden if model is None else model["units"])
        if exp.measure_output:
            widths.append(self.arrays["kept_p_y"].shape[2])
        bounds = np.cumsum([0, *widths])
        kept = self.arrays["kept_activations"]
        records = [
            [
                _measure_kept(
                    parsed,
                    [kept[s, k, :, a:b] for a, b in itertools.pairwise(bounds)],
                    self.arrays["kept_weights"][s],
                    self.arrays["kept_p_y"][s],
                )
                for k in range(kept.shape[1])
            ]
            for s in range(kept.shape[0])
        ]
        n = kept.shape[0]
        arrays = {
            name: (array[:n] if AXES[name][0] == "seed" else array)
            for name, array in self.arrays.items()
            if name not in KEPT_ARRAYS
        }
        # A network's values from its divergence on are NaN, as in the run.
        diverged = arrays.get("diverged_epoch", np.full(n, -1))
        after = (diverged[:, None] >= 0) & (self.epochs[None, :] >= diverged[:, None])
        for name in ("i_xt", "i_ty", "occupied_bins", "clipped_fraction"):
            arrays[name] = np.array(
                [[r[name] for r in row] for row in records], np.float64
            )[..., None]
            arrays[name][after] = np.nan
        experiment = exp.replace(seeds=n, estimators=(parsed.spec,))
        result = Result.from_training(experiment, _Facts(), arrays, model=model)
        result.info.update(
            {k: v for k, v in self.info.items() if k not in ("warnings", "versions")}
        )
        return result

    def kept_models(self, factory=None) -> list:
        """The kept networks (``run(experiment, keep="activations")``) with their
        final parameters, as modules: one per kept network (seeds 0, 1, ...).

        For infoplane's own network these are :class:`~infoplane.model.MLP` modules; for
        a run of your model (``run(experiment, model=factory)``) pass the same
        ``factory``: its module, with the kept arrays put in (in ``jax.tree.leaves``
        order), is returned.

        Raises:
            ValueError: the result kept no parameters, a factory is missing or not
                wanted, or the factory's module does not hold as many parameters as
                the run kept.
        """
        if "kept_parameters" not in self.arrays or self.experiment is None:
            raise ValueError(
                "this result kept no parameters; run it with "
                'ip.run(experiment, keep="activations") or, on the command line, '
                "infoplane run ... --keep N"
            )
        exp, kept = self.experiment, self.arrays["kept_parameters"]
        model = self.info.get("model")
        if model is not None and factory is None:
            raise ValueError(
                f"this run trained your model {model['name']}: pass its factory, "
                "result.kept_models(factory)"
            )
        if model is None and factory is not None:
            raise ValueError(
                "this run trained infoplane's own network: call kept_models() "
                "without a factory"
            )
        if factory is None:
            template = _kept_mlp(exp, kept.shape[1], self.arrays["kept_p_y"].shape[2])
        else:
            from .user_model import network_key

            template = factory(network_key(exp.seed, 0))
        params, static = eqx.partition(template, eqx.is_array)
        # The run kept the parameters as training does: jax.tree.leaves order, each
        # flattened, joined; ravel_pytree's unravel splits and reshapes them back.
        flat, unravel = ravel_pytree(params)
        if flat.size != kept.shape[1]:
            raise ValueError(
                f"the factory's module holds {flat.size:,} parameters and the run "
                f"kept {kept.shape[1]:,}: it is not the model this run trained"
            )
        return [
            eqx.combine(unravel(jnp.asarray(row, flat.dtype)), static) for row in kept
        ]

    def plot(self, **kwargs):
        """Draw the information plane; see :func:`infoplane.plotting.plot_plane`."""
        from .plotting import plot_plane

        return plot_plane(self, **kwargs)

    def animate(self, **kwargs):
        """The animated information plane; see :func:`infoplane.plotting.animate`."""
        from .plotting import animate

        return animate(self, **kwargs)

    def _repr_html_(self) -> str:
        from .analysis import SUMMARY_COLUMNS
        from .plotting import plane_png_base64

        head = ["estimator", "layer", *(title for _, title in SUMMARY_COLUMNS)]
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    r["estimator"],
                    r["layer"],
                    *(
                        f"{r[key]:.{0 if key == 'max_epoch' else 3}f}"
                        for key, _ in SUMMARY_COLUMNS
                    ),
                )
            )
            + "</tr>"
            for r in self.summary()
        )
        header = "".join(f"<th>{h}</th>" for h in head)
        return (
            f"<b>{html.escape(self.name)}</b>: "
            f"{self.i_xt.shape[0]} seed(s), "
            f"{len(self.epochs)} measurements, {self.units}<br>"
            f'<img src="data:image/png;base64,{plane_png_base64(self)}"/>'
            f"<table><tr>{header}</tr>{rows}</table>"
        )

    def __repr__(self) -> str:
        return (
            f"Result({self.name!r}, seeds={self.i_xt.shape[0]}, "
            f"epochs={len(self.epochs)} measured, layers={len(self.layers)}, "
            f"estimators={list(self.estimators)}, units={self.units!r})"
        )
