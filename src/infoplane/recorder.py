"""Measure any network, trained by any loop: the information plane as a recorder.

:class:`InformationPlane` takes the samples to measure on once (inputs and labels),
and each :meth:`~InformationPlane.record` call measures the activations a user's own
network gives on them, at once, with the same estimators the compiled training loop
uses, keeping only the numbers. :meth:`~InformationPlane.result` returns an
:class:`~infoplane.Result` (``source == "recorder"``, no experiment) that plots,
animates, summarises, saves and loads like a run's.

Examples:
    >>> import numpy as np, infoplane as ip
    >>> x = np.eye(4)  # four distinct inputs
    >>> plane = ip.InformationPlane(x, [0, 0, 1, 1], estimators=["binning:bins=2"])
    >>> plane.record(0, {"h": x @ np.array([[0.5], [0.5], [-0.5], [-0.5]])})
    >>> result = plane.result()  # an ip.Result: plot, summary, save, load
    >>> result.i_xt[0, 0, 0, 0].round(6), result.i_ty[0, 0, 0, 0].round(6)
    (np.float64(0.693147), np.float64(0.693147))
"""

import contextlib
import copy
import numbers
import operator
import warnings
from collections.abc import Iterable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Integer

from .estimators import JointDistribution, label_distributions, parse_estimator
from .estimators.diagnostics import layer_statistics
from .estimators.discrete import float64
from .results import Result
from .runner import KEEP_LIMIT, ClippingWarning, RunWarning
from .units import check_units, entropy

__all__ = ["METRICS", "InformationPlane"]

# Loss and accuracy a record may carry beside the activations (one number per network).
METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
# Samples of one input whose activations differ by more than this share of the
# layer's largest value are a network that is not a function of its input (dropout
# or batch statistics left on), not rounding.
FUNCTION_TOLERANCE = 1e-4
_DIAGNOSTICS = ("occupied_bins", "clipped_fraction")
_STATISTICS = ("dead_fraction", "activation_min", "activation_max")


class InformationPlane:
    """The information plane of a network you train yourself, recorded epoch by epoch.

    Give the samples to measure on once; then, whenever you like in your own loop,
    :meth:`record` the activations of the layers you care about on those samples,
    in the same order. Each record is measured at once by every estimator (in one
    compiled program, reused while the layers' shapes stay the same) and only the
    numbers are kept. :meth:`result` gives an :class:`~infoplane.Result`.

    Repeated inputs are grouped as the training loop groups them: identical input
    rows are one distinct input x with a weight (its count), and p(y | x) is the
    share of each label among its samples, so H(X), I(X;T) and I(T;Y) are the
    plug-in values over the samples. Activations must then be a function of the
    input (measure in evaluation mode: no dropout, no batch statistics); a record
    whose samples of one input differ is refused.

    Args:
        inputs: the measured inputs, an array-like of any shape ``(samples, ...)``
            (images are compared whole), or one id per sample ``(samples,)``
            (integers or text); None when every sample is a distinct input.
        labels: ``(samples,)`` integer classes (any values; floats must be whole
            numbers; text is allowed), or ``(samples, classes)`` rows of p(y | x).
        estimators: estimators by name or object, e.g.
            ``["binning-width:width=0.07", "kde-upper:var=0.1"]``; the default is
            ``binning:bins=30,range=-1:1``. ``binning-observed:scope=run`` needs
            the whole run's range: give it as ``range=low:high``, or record with
            ``keep="all"`` and call :meth:`remeasure`.
        units: ``"nats"`` or ``"bits"`` for the result.
        name: the result's name, shown in titles and tables.
        keep: epochs whose activations (on the distinct inputs) are kept for
            :meth:`remeasure` and :meth:`activations`: an iterable of epochs,
            ``"all"``, or None (the default: keep none). They stay in memory
            (distinct inputs x units values per layer, network and epoch, float32
            or float64 as given); a ``RunWarning`` says when they pass 1 GiB.

    Attributes:
        samples: the number of measured samples, N.
        distinct_inputs: the distinct inputs as given (``inputs`` at
            :attr:`first_samples`), in the order of first occurrence; None when
            ``inputs`` is None.
        first_samples: the index of each distinct input's first sample.
        input_ids: each sample's distinct input (an index into
            :attr:`distinct_inputs`); ``a[input_ids]`` spreads activations ``a`` of
            the distinct inputs over the samples.
        layers: the layer names, once something is recorded.

    Raises:
        ValueError: inputs and labels of different lengths, non-finite or complex
            inputs, labels that are neither classes nor p(y | x) rows, unknown
            estimators or units.
    """

    def __init__(
        self,
        inputs,
        labels,
        *,
        estimators: "Sequence[str] | str" = ("binning:bins=30,range=-1:1",),
        units: str = "nats",
        name: str = "recorded",
        keep: "Iterable[int] | str | None" = None,
    ):
        y = _host_array(labels, "labels")
        if y.ndim == 0 or len(y) == 0:
            raise ValueError(f"labels must hold one entry per sample, got {y.shape}")
        self.samples = n = len(y)
        p_y = label_distributions(y)
        if inputs is None:
            ids, first, self.distinct_inputs = np.arange(n), np.arange(n), None
        else:
            x = _host_array(inputs, "inputs")
            if x.ndim == 0 or len(x) != n:
                raise ValueError(
                    f"inputs have {len(x) if x.ndim else 0} samples but labels have "
                    f"{n}; give one input per label"
                )
            ids, first = _group(x)
            self.distinct_inputs = x[first]
        self.first_samples = first
        self.input_ids = ids
        weights = np.bincount(ids, minlength=len(first)).astype(np.float64)
        joint = np.zeros((len(first), p_y.shape[1]))
        np.add.at(joint, ids, p_y)
        p_y_x = joint / weights[:, None]
        self._inputs = JointDistribution.of(weights, p_y_x)

        if isinstance(estimators, str):
            estimators = (estimators,)
        self._estimators = _estimators(estimators)
        self.estimators = tuple(e.spec for e in self._estimators)
        self.units = check_units(units)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be non-empty text, got {name!r}")
        self.name = name
        self._keep = _keep(keep)
        self._kept_bytes = 0  # the memory the kept activations take

        share = weights / n
        h_y = float(self._inputs.h_y)
        h_y_x = sum(p * entropy(row) for p, row in zip(share, p_y_x, strict=True))
        self._facts = {
            "samples": n,
            "distinct_inputs": len(first),
            "inputs": "given" if inputs is not None else "every sample distinct",
            "classes": int(p_y.shape[1]),
            "h_x": entropy(share),
            "h_y": h_y,
            "i_xy": max(0.0, h_y - h_y_x),
        }
        self.layers: tuple[str, ...] | None = None
        self._widths: dict[str, int] = {}
        self._records: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        self._kept: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    # -- facts ------------------------------------------------------------------

    @property
    def h_x(self) -> float:
        """H(X) of the measured samples, in nats (ln N when all are distinct)."""
        return self._facts["h_x"]

    @property
    def i_xy(self) -> float:
        """I(X;Y) of the measured samples, in nats: the most any layer can know
        about the label."""
        return self._facts["i_xy"]

    @property
    def epochs(self) -> list[int]:
        """The epochs recorded so far (of any network), increasing."""
        return sorted({epoch for _, epoch in self._records})

    def __len__(self) -> int:
        """How many (seed, epoch) records are kept."""
        return len(self._records)

    def __contains__(self, key) -> bool:
        """``(seed, epoch) in plane``: whether that network recorded that epoch."""
        return key in self._records

    def __repr__(self) -> str:
        return (
            f"InformationPlane({self.name!r}, samples={self.samples}, "
            f"distinct_inputs={self._facts['distinct_inputs']}, "
            f"estimators={list(self.estimators)}, records={len(self)})"
        )

    # -- recording --------------------------------------------------------------

    def record(
        self,
        epoch: "int | Integer[ArrayLike, '']",
        layers,
        *,
        seed: "int | Sequence[int] | Integer[ArrayLike, '*seeds']" = 0,
        metrics: "Mapping[str, float | Sequence[float]] | None" = None,
    ) -> None:
        """Measure the layers' activations at ``epoch`` and keep the numbers.

        Args:
            epoch: a non-negative integer (or a 0-d integer array, such as a JAX
                step counter); each network records an epoch once.
            layers: ``{name: activations}`` (a list is named ``layer 1``, ...),
                each an array-like of shape ``(samples, ...)`` in the order of the
                measured samples (or ``(distinct inputs, ...)`` in the order of
                :attr:`distinct_inputs`): NumPy, JAX, PyTorch (on any device;
                detached here), or anything with ``__array__`` or ``__dlpack__``.
                A sample's values are flattened (a conv feature map of shape
                ``(samples, channels, h, w)`` is one layer of ``channels*h*w``
                units). Every record names the same layers with the same widths.
            seed: the label of the network (an integer), or a sequence of labels
                when every array has a leading axis of networks, one per label.
            metrics: optional loss and accuracy of the network(s) at this epoch,
                keys among ``train_loss``, ``test_loss``, ``train_accuracy``,
                ``test_accuracy``; one number each (a sequence with several seeds).

        Raises:
            ValueError: one line naming the layer and epoch: a row count that is
                neither the samples' nor the distinct inputs', NaN or infinite
                values, a width that changed, layers missing or added, an epoch
                recorded twice, samples of one input with different activations.
                Nothing of a refused record is kept.
        """
        epoch = _integer(epoch, "epoch")
        seeds, several = _seed_labels(seed)
        where = f"at epoch {epoch}" + (
            f" (seed {seeds[0]})" if not several and seeds != [0] else ""
        )
        for s in seeds:
            if (s, epoch) in self._records:
                raise ValueError(
                    f"epoch {epoch} of seed {s} is already recorded; each network "
                    "records an epoch once"
                )
        named = _named_layers(layers, where)
        if self.layers is not None:
            missing = [n for n in self.layers if n not in named]
            extra = [n for n in named if n not in self._widths]
            if missing or extra:
                what = "lacks " + ", ".join(missing) if missing else ""
                what += ("; " if missing and extra else "") + (
                    "adds " + ", ".join(extra) if extra else ""
                )
                raise ValueError(
                    f"the record {where} {what}: every record names the same layers "
                    f"({', '.join(self.layers)})"
                )
            named = {n: named[n] for n in self.layers}
        arrays = {
            n: self._distinct_rows(n, a, where, len(seeds) if several else None)
            for n, a in named.items()
        }
        widths = {n: a.shape[2] for n, a in arrays.items()}
        for n, width in widths.items():
            if n in self._widths and self._widths[n] != width:
                raise ValueError(
                    f"layer {n} {where} has {width} units, but {self._widths[n]} "
                    "before; a layer keeps its width between epochs"
                )
        values = _metrics(metrics, len(seeds), where)

        measured = _measure(self._estimators, list(arrays.values()), self._inputs)

        if self.layers is None:
            self.layers, self._widths = tuple(arrays), widths
        for i, s in enumerate(seeds):
            entry = {k: v[i] for k, v in measured.items()}
            entry |= {k: v[i] for k, v in values.items()}
            self._records[(s, epoch)] = entry
            if self._keeps(epoch):  # copies: the arrays may be views of the caller's
                self._kept[(s, epoch)] = {n: a[i].copy() for n, a in arrays.items()}
        before = self._kept_bytes
        if self._keeps(epoch):
            self._kept_bytes += sum(a.nbytes for a in arrays.values())
        if before <= KEEP_LIMIT < self._kept_bytes:  # said once, as it passes
            warnings.warn(
                f"the kept activations now take {self._kept_bytes / 2**30:.1f} GiB of "
                "memory; keep fewer epochs (keep= names them, e.g. keep=range(0, "
                "3000, 100))",
                RunWarning,
                stacklevel=2,
            )

    def _keeps(self, epoch: int) -> bool:
        return self._keep == "all" or epoch in self._keep

    def _distinct_rows(self, name, values, where, seeds) -> np.ndarray:
        """``values`` as floats ``(seeds, distinct inputs, units)``, checked."""
        if isinstance(values, Mapping):
            raise ValueError(
                f"layer {name} {where} is a {type(values).__name__} of "
                f"{', '.join(map(str, values))}; give one array per layer (flatten "
                "nested layers into one dict, e.g. with names like "
                f"'{name}/{next(iter(values), 'a')}')"
            )
        if (
            isinstance(values, tuple)
            and len(values) not in (self.samples, len(self.first_samples))
            and all(getattr(v, "ndim", 0) >= 1 for v in values)
        ):
            raise ValueError(
                f"layer {name} {where} is a tuple of {len(values)} arrays (a module "
                "that returns several, e.g. an LSTM's output and state); give one of "
                "them"
            )
        a = _host_array(values, f"layer {name} {where}")
        if a.dtype.kind not in "biuf" and not _is_real_float(a.dtype):
            raise ValueError(
                f"layer {name} {where} holds {a.dtype} values; give real numbers"
            )
        lead = 0 if seeds is None else 1
        if seeds is not None and (a.ndim < 1 or a.shape[0] != seeds):
            raise ValueError(
                f"layer {name} {where} has shape {a.shape}, but {seeds} seeds need a "
                f"leading axis of {seeds} networks"
            )
        rows = a.shape[lead] if a.ndim > lead else None
        distinct = len(self.first_samples)
        if rows not in (self.samples, distinct):
            counts = f"{self.samples} samples" + (
                f" or {distinct} distinct inputs" if distinct != self.samples else ""
            )
            raise ValueError(
                f"layer {name} {where} has {rows if rows is not None else 'no'} rows "
                f"(shape {a.shape}), but the measured set has {counts}; give the "
                "activations of the measured samples, in their order"
            )
        # float32 and float64 as they are (the estimators compare and sum in
        # float64 either way; a wide float32 layer need not double in memory),
        # narrower floats as float32, integers and booleans as float64: all exact.
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float32 if a.dtype.kind not in "biu" else np.float64)
        a = a.reshape((1 if seeds is None else seeds, rows, -1))
        if a.shape[2] == 0:
            raise ValueError(f"layer {name} {where} has no units")
        finite = np.isfinite(a)
        if not finite.all():
            s, i, u = np.unravel_index(np.argmin(finite), a.shape)
            raise ValueError(
                f"layer {name} {where} holds NaN or infinite values (e.g. "
                f"{a[s, i, u]} at sample {i}, unit {u}); a diverged network has no "
                "information plane"
            )
        if rows == distinct:  # the distinct inputs (or samples that all are)
            return a
        first = a[:, self.first_samples]
        spread = np.abs(a - first[:, self.input_ids]).max()
        if spread > FUNCTION_TOLERANCE * max(1.0, np.abs(a).max()):
            raise ValueError(
                f"layer {name} {where}: samples of the same input have activations "
                f"up to {spread:.3g} apart, so the layer is not a function of the "
                "input; measure in evaluation mode (no dropout or batch statistics: "
                "model.eval() in PyTorch, training=False in Keras)"
            )
        return first

    # -- results ----------------------------------------------------------------

    def result(self) -> Result:
        """Everything recorded, as an :class:`~infoplane.Result` (no experiment;
        ``source == "recorder"``).

        Networks (seeds) are along the seed axis in increasing order of their
        labels; every network must have recorded the same epochs.

        Raises:
            ValueError: nothing recorded, or networks that recorded different
                epochs.

        Warns:
            ClippingWarning: a fixed binning range clipped activations, or a layer
                sat in one bin at every measurement.
        """
        if not self._records:
            raise ValueError("nothing is recorded yet; call record() first")
        seeds = sorted({s for s, _ in self._records})
        epochs = self.epochs
        for s in seeds:
            lacking = [e for e in epochs if (s, e) not in self._records]
            if lacking:
                shown = ", ".join(map(str, lacking[:5])) + (
                    ", ..." if len(lacking) > 5 else ""
                )
                raise ValueError(
                    f"seed {s} lacks epoch(s) {shown} that other networks recorded; "
                    "record every network at the same epochs"
                )
        raw: dict[str, np.ndarray] = {"epochs": np.asarray(epochs, np.int64)}
        rows = [[self._records[(s, e)] for e in epochs] for s in seeds]
        for key in ("i_xt", "i_ty", *_DIAGNOSTICS, *_STATISTICS):
            raw[key] = np.stack([np.stack([r[key] for r in row]) for row in rows])
        for key in METRICS:
            if any(key in r for row in rows for r in row):
                raw[key] = np.array([[r.get(key, np.nan) for r in row] for row in rows])
        facts = dict(self._facts)
        facts["layer_units"] = dict(self._widths)
        result = Result.from_measurements(
            raw,
            self.layers,
            self.estimators,
            name=self.name,
            units=self.units,
            seeds=seeds,
            facts=facts,
        )
        for line in result.info["warnings"]:
            warnings.warn(line, ClippingWarning, stacklevel=2)
        return result

    def activations(
        self,
        epoch: "int | Integer[ArrayLike, '']",
        *,
        seed: "int | Integer[ArrayLike, '']" = 0,
    ) -> dict[str, np.ndarray]:
        """The kept activations of ``epoch`` (see ``keep``), ``{name: (distinct
        inputs, units)}``, rows in the order of :attr:`distinct_inputs`."""
        key = (_integer(seed, "seed"), _integer(epoch, "epoch"))
        if key not in self._kept:
            raise KeyError(
                f"no activations kept for epoch {epoch} of seed {seed}; kept: "
                f"{sorted(self._kept) or 'none'} (see keep=)"
            )
        return {n: a.copy() for n, a in self._kept[key].items()}

    def remeasure(
        self,
        estimators: "Sequence[str] | str",
        *,
        units: str | None = None,
        name: str | None = None,
    ) -> Result:
        """Measure the kept epochs again with other estimators.

        A ``binning-observed:scope=run`` estimator gets the range of every kept
        activation (all layers, epochs and networks).

        Returns:
            A Result over the kept epochs of every network that kept them.

        Raises:
            ValueError: nothing kept (record with ``keep=``).
        """
        if not self._kept:
            raise ValueError(
                "no activations are kept; create the InformationPlane with "
                "keep='all' or keep=[epochs] to measure them again"
            )
        if isinstance(estimators, str):
            estimators = (estimators,)
        resolved = []
        for e in estimators:
            estimator = parse_estimator(e)
            if getattr(estimator, "unresolved", False):
                kept = [a for layers in self._kept.values() for a in layers.values()]
                low = min(float(a.min()) for a in kept)
                high = max(float(a.max()) for a in kept)
                estimator = parse_estimator(f"{estimator.spec},range={low!r}:{high!r}")
            resolved.append(estimator.spec)
        again = copy.copy(self)
        again._estimators = _estimators(resolved)
        again.estimators = tuple(e.spec for e in again._estimators)
        again.units = check_units(units if units is not None else self.units)
        again.name = name if name is not None else self.name
        again._records, again._kept, again._keep = {}, {}, ()
        again.layers = None
        again._widths = {}
        for seed, epoch in sorted(self._kept):
            again.record(epoch, self._kept[(seed, epoch)], seed=seed)
        return again.result()


# -- helpers --------------------------------------------------------------------


@float64
def _measure(estimators, layers: list[np.ndarray], inputs: JointDistribution) -> dict:
    """Every estimator on every layer, for each network: host arrays
    ``(seeds, layer, estimator)`` and ``(seeds, layer)``."""
    if layers[0].shape[0] == 1:  # one network: no vmap (XLA:CPU runs it faster)
        out = _measure_one(estimators, [a[0] for a in layers], inputs)
        return {k: np.asarray(v)[None] for k, v in out.items()}
    out = _measure_seeds(estimators, layers, inputs)
    return {k: np.asarray(v) for k, v in out.items()}


@eqx.filter_jit
@eqx.debug.assert_max_traces(max_traces=None)  # counts traces: eqx.debug.get_num_traces
def _measure_one(estimators, layers, inputs: JointDistribution) -> dict:
    by_estimator = [e.measure_layers(layers, inputs) for e in estimators]
    measured = list(zip(*by_estimator, strict=True))  # [layer][estimator]
    record = {
        "i_xt": jnp.array([[m[0] for m in row] for row in measured], jnp.float64),
        "i_ty": jnp.array([[m[1] for m in row] for row in measured], jnp.float64),
    }
    for key in _DIAGNOSTICS:
        record[key] = jnp.array(
            [[m[2].get(key, jnp.nan) for m in row] for row in measured], jnp.float64
        )
    statistics = layer_statistics([a.T for a in layers], inputs, [None] * len(layers))
    for key in _STATISTICS:
        record[key] = statistics[key]
    return record


@eqx.filter_jit
def _measure_seeds(estimators, layers, inputs: JointDistribution) -> dict:
    return jax.vmap(lambda ls: _measure_one(estimators, ls, inputs))(layers)


def _estimators(specs) -> list:
    if not specs:
        raise ValueError("give at least one estimator")
    estimators = [parse_estimator(e) for e in specs]
    for e in estimators:
        if getattr(e, "unresolved", False):
            raise ValueError(
                f"{e.spec} needs the range of the whole run before it measures "
                "anything; give it as range=low:high, or record with keep='all' and "
                "call remeasure()"
            )
        if getattr(e, "from_network", False):
            raise ValueError(
                f"{e.spec} without a grid measures infoplane's own quantised runs; "
                "for your network give its grid, e.g. quantized:bits=8,range=-1:1"
            )
    return estimators


def _keep(keep):
    if keep is None:
        return frozenset()
    if isinstance(keep, str):
        if keep != "all":
            raise ValueError(f'keep must be "all", epochs or None, got {keep!r}')
        return "all"
    if not isinstance(keep, Iterable) or _scalar(keep):
        raise ValueError(
            f'keep must be "all", an iterable of epochs or None, got {keep!r} (one '
            "epoch is keep=[epoch])"
        )
    return frozenset(_integer(e, "keep epoch") for e in keep)


def _integer(value, what: str) -> int:
    if not isinstance(value, numbers.Integral) and _scalar(value):
        # A 0-d integer array, e.g. a JAX step counter: its value.
        with contextlib.suppress(TypeError):
            value = operator.index(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return int(value)


def _scalar(value) -> bool:
    """Whether ``value`` is a 0-d array (NumPy, JAX, ...), one number."""
    return getattr(value, "ndim", None) == 0 and hasattr(value, "dtype")


def _seed_labels(seed) -> tuple[list[int], bool]:
    """The seed labels of a record, and whether its arrays have a seed axis."""
    if isinstance(seed, numbers.Integral) or _scalar(seed):
        return [_integer(seed, "seed")], False
    if isinstance(seed, str) or not isinstance(seed, Iterable):
        raise ValueError(f"seed must be an integer or a sequence of them, got {seed!r}")
    labels = [_integer(s, "seed") for s in seed]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"seeds must be distinct integers, got {labels}")
    return labels, True


def _named_layers(layers, where: str) -> dict:
    if isinstance(layers, Mapping):
        named = dict(layers)
    elif isinstance(layers, list | tuple):
        named = {f"layer {i + 1}": a for i, a in enumerate(layers)}
    else:
        raise ValueError(
            f"layers {where} must be a dict of name to activations (or a list), got "
            f"{type(layers).__name__}"
        )
    if not named:
        raise ValueError(f"the record {where} has no layers")
    for name in named:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"layer names must be non-empty text, got {name!r}")
    return named


def _metrics(metrics, n_seeds: int, where: str) -> dict[str, np.ndarray]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics {where} must be a dict, e.g. {{'train_loss': 0.3}}")
    out = {}
    for key, value in metrics.items():
        if key not in METRICS:
            raise ValueError(
                f"unknown metric {key!r} {where}; choose among {', '.join(METRICS)}"
            )
        try:
            values = np.asarray(_host_array(value, key), np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key} {where} must be a number") from None
        if values.shape != (n_seeds,):
            raise ValueError(
                f"metric {key} {where} needs {n_seeds} value(s), one per seed, got "
                f"{values.size}"
            )
        out[key] = values
    return out


def _host_array(values, what: str) -> np.ndarray:
    """``values`` as a NumPy array on the host: NumPy, JAX, PyTorch tensors (on any
    device, detached), anything with ``__array__`` or ``__dlpack__``."""
    if hasattr(values, "detach") and callable(values.detach):
        values = values.detach()
    if hasattr(values, "cpu") and callable(values.cpu):
        values = values.cpu()
    try:
        if not hasattr(values, "__array__") and hasattr(values, "__dlpack__"):
            return np.from_dlpack(values)
        return np.asarray(values)
    except (TypeError, ValueError, RuntimeError, BufferError) as error:
        if hasattr(values, "float") and callable(values.float):  # e.g. bfloat16
            return np.asarray(values.float())
        raise ValueError(f"{what} cannot be read as an array: {error}") from None


def _is_real_float(dtype) -> bool:
    """ml_dtypes' floats (bfloat16, float8) are real numbers NumPy does not kind
    as ``f``."""
    try:
        return np.finfo(dtype).dtype == dtype and dtype.kind != "c"
    except (TypeError, ValueError):
        return False


def _group(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's distinct-input id and each distinct input's first sample, ids
    numbered in order of first occurrence (all distinct: ids are 0..N-1)."""
    n = len(x)
    if x.dtype.kind in "USO":
        if x.ndim != 1:
            raise ValueError("inputs given as text must be one id per sample")
        keys = x.astype(str)
    elif x.dtype.kind in "biuf" or _is_real_float(x.dtype):
        if np.iscomplexobj(x):
            raise ValueError("inputs are complex numbers; give real numbers")
        rows = x.reshape(n, -1)
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError("inputs contain NaN or infinite values")
        if rows.dtype.kind not in "biuf":
            rows = rows.astype(np.float32)
        if rows.dtype.kind == "f":
            rows = rows + rows.dtype.type(
                0
            )  # -0.0 becomes 0.0: equal values, equal bytes
        rows = np.ascontiguousarray(rows)
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))
        keys = keys.reshape(n)
    else:
        raise ValueError(
            f"inputs must be numbers (any shape) or ids, got dtype {x.dtype}"
        )
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct inputs by first occurrence
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(n)], first[order]
