"""A run's results: arrays over (seed, epoch, layer, estimator), saved as open files.

A run directory holds ``result.json`` (the experiment, versions, units, layer and
estimator names, array axes, summary), ``arrays.npz`` (every array, named) and
``information.csv`` (tidy rows ``seed,epoch,layer,estimator,i_xt,i_ty``) that pandas
or a spreadsheet reads without infoplane. Directories are written under a temporary
name and renamed, so an interrupted write never leaves a half-written result.
"""

import contextlib
import csv
import dataclasses
import html
import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from .datasets import Dataset
from .experiment import Experiment
from .output import atomic_directory
from .units import from_nats

__all__ = ["AXES", "Result"]

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
}
FORMAT_VERSION = 1
# Summary columns shown in tables: (key of Result.summary rows, heading).
SUMMARY_COLUMNS = (
    ("final_i_xt", "final I(X;T)"),
    ("final_i_ty", "final I(T;Y)"),
    ("max_i_xt", "max I(X;T)"),
    ("max_epoch", "at epoch"),
    ("compression", "compression"),
)


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
        lines.append(
            f"{estimator} clipped up to {values.max():.1%} of the activation values "
            f"of {layers[layer]} (epoch {int(arrays['epochs'][k])}): values outside "
            "its range share the end bins; for unbounded activations use binning-width "
            "or binning-observed"
        )
    return lines


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
        experiment: the configuration that produced it.
        arrays: named NumPy arrays; their axes are listed in ``AXES``. Information
            values (``i_xt``, ``i_ty``) are in ``units``.
        layers: names along the layer axis (``"layer 1"``, ..., ``"output"``).
        estimators: estimator names along the estimator axis.
        info: data set facts (``h_x``, ``i_xy`` in ``units``), versions, warnings.
    """

    experiment: Experiment
    arrays: dict[str, np.ndarray]
    layers: tuple[str, ...]
    estimators: tuple[str, ...]
    info: dict

    @classmethod
    def from_training(cls, exp: Experiment, dataset: Dataset, raw: dict) -> "Result":
        """Build from the nats arrays of ``training.train``; units change here."""
        arrays = dict(raw)
        for name in ("i_xt", "i_ty"):
            arrays[name] = from_nats(np.asarray(raw[name], np.float64), exp.units)
        layers = [f"layer {i + 1}" for i in range(len(exp.hidden))]
        if exp.measure_output:
            layers.append("output")
        info = {
            "task": dataset.name,
            "h_x": from_nats(dataset.h_x, exp.units),
            "i_xy": from_nats(dataset.i_xy, exp.units),
            "versions": _versions(),
            "warnings": _clipping_warnings(arrays, layers, exp.estimators),
        }
        return cls(exp, arrays, tuple(layers), exp.estimators, info)

    @property
    def units(self) -> str:
        return self.experiment.units

    @property
    def epochs(self) -> np.ndarray:
        return self.arrays["epochs"]

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

        Columns, each the mean over seeds with its std (``*_std``):
        ``final_i_xt``, ``final_i_ty``, ``max_i_xt`` (the maximum over epochs),
        ``max_epoch`` (where it is reached) and ``compression`` (maximum minus final:
        how much I(X;T) the layer gave back after its peak). Then
        ``compression_ci_low``/``_high``: a bootstrap confidence interval of the mean
        compression over seeds (2000 resamples, percentile method, a fixed seed), and
        ``compressing_seeds``: the fraction of seeds whose drop exceeds ``threshold``
        times their own maximum.

        Args:
            threshold: relative drop that counts as compression (default 5%).
            confidence: level of the bootstrap interval (default 95%).
        """
        if not 0 <= threshold < 1 or not 0 < confidence < 1:
            raise ValueError(
                f"threshold must be in [0, 1) and confidence in (0, 1), got "
                f"{threshold} and {confidence}"
            )
        rng = np.random.default_rng(0)
        rows = []
        for e, estimator in enumerate(self.estimators):
            for layer_index, layer in enumerate(self.layers):
                xt = self.i_xt[:, :, layer_index, e]
                ty = self.i_ty[:, :, layer_index, e]
                stats = {
                    "final_i_xt": xt[:, -1],
                    "final_i_ty": ty[:, -1],
                    "max_i_xt": xt.max(axis=1),
                    "max_epoch": self.epochs[xt.argmax(axis=1)].astype(float),
                    "compression": xt.max(axis=1) - xt[:, -1],
                }
                row = {"estimator": estimator, "layer": layer}
                for key, values in stats.items():
                    row[key] = float(values.mean())
                    row[key + "_std"] = float(values.std())
                drop = stats["compression"]
                means = drop[rng.integers(0, len(drop), (2000, len(drop)))].mean(1)
                tail = (1 - confidence) / 2
                row["compression_ci_low"] = float(np.quantile(means, tail))
                row["compression_ci_high"] = float(np.quantile(means, 1 - tail))
                peak = np.maximum(stats["max_i_xt"], 1e-300)
                row["compressing_seeds"] = float(np.mean(drop / peak > threshold))
                row["threshold"] = threshold
                rows.append(row)
        return rows

    def save(self, path: "str | Path", *, overwrite: bool = False) -> Path:
        """Write ``result.json``, ``arrays.npz`` and ``information.csv`` atomically."""
        with atomic_directory(path, overwrite=overwrite) as tmp:
            self.write_files(tmp)
        return Path(path)

    def write_files(self, directory: "str | Path") -> None:
        """Write the three result files into an existing directory."""
        directory = Path(directory)
        meta = {
            "format": FORMAT_VERSION,
            "experiment": self.experiment.to_dict(),
            "units": self.units,
            "layers": list(self.layers),
            "estimators": list(self.estimators),
            "axes": {k: list(AXES[k]) for k in self.arrays},
            "info": self.info,
            "summary": self.summary(),
        }
        (directory / "result.json").write_text(json.dumps(meta, indent=2) + "\n")
        with open(directory / "arrays.npz", "wb") as f:
            np.savez_compressed(f, **self.arrays)
        with open(directory / "information.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["seed", "epoch", "layer", "estimator", "i_xt", "i_ty"])
            seeds, epochs, layers, estimators = self.i_xt.shape
            for s in range(seeds):
                for k in range(epochs):
                    for layer in range(layers):
                        for e in range(estimators):
                            writer.writerow(
                                [
                                    s,
                                    int(self.epochs[k]),
                                    layer + 1,
                                    self.estimators[e],
                                    repr(float(self.i_xt[s, k, layer, e])),
                                    repr(float(self.i_ty[s, k, layer, e])),
                                ]
                            )

    @classmethod
    def load(cls, path: "str | Path") -> "Result":
        """Read a run directory written by :meth:`save`.

        Raises:
            ValueError: the directory is missing or is not an infoplane result.
        """
        path = Path(path)
        try:
            meta = json.loads((path / "result.json").read_text())
            with np.load(path / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as error:
            raise ValueError(
                f"{path} is not a readable infoplane result: {error}"
            ) from None
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: unsupported result format {meta.get('format')!r}"
            )
        return cls(
            Experiment.from_dict(meta["experiment"]),
            arrays,
            tuple(meta["layers"]),
            tuple(meta["estimators"]),
            meta["info"],
        )

    def plot(self, **kwargs):
        """Draw the information plane; see :func:`infoplane.plotting.plot_plane`."""
        from .plotting import plot_plane

        return plot_plane(self, **kwargs)

    def animate(self, **kwargs):
        """The animated information plane; see :func:`infoplane.plotting.animate`."""
        from .plotting import animate

        return animate(self, **kwargs)

    def _repr_html_(self) -> str:
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
            f"<b>{html.escape(self.experiment.name)}</b>: "
            f"{self.i_xt.shape[0]} seed(s), "
            f"{len(self.epochs)} measurements, {self.units}<br>"
            f'<img src="data:image/png;base64,{plane_png_base64(self)}"/>'
            f"<table><tr>{header}</tr>{rows}</table>"
        )

    def __repr__(self) -> str:
        return (
            f"Result({self.experiment.name!r}, seeds={self.i_xt.shape[0]}, "
            f"epochs={len(self.epochs)} measured, layers={len(self.layers)}, "
            f"estimators={list(self.estimators)}, units={self.units!r})"
        )
