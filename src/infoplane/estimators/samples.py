"""``mutual_information``: a layer's information on samples a user already has."""

import equinox as eqx
import numpy as np

from ..units import from_nats
from .base import AbstractEstimator, JointDistribution
from .binning import AbstractBinning, Binning
from .discrete import float64, pack_symbols, plugin_entropies
from .spec import parse_estimator

__all__ = ["label_distributions", "mutual_information"]


@float64
def mutual_information(
    activations,
    labels,
    *,
    inputs=None,
    weights=None,
    estimator: "AbstractEstimator | str | None" = None,
    units: str = "nats",
) -> tuple[float, float]:
    """I(X;T) and I(T;Y) of a layer's activations on samples.

    With ``inputs`` (an id of the input x of each sample), the plug-in estimate over
    samples: I(X;T) = H(X) + H(T) - H(X,T) and I(T;Y) = H(T) + H(Y) - H(T,Y), each
    sample counted ``weights[i]`` times (default once). This is exactly what counting
    samples in dictionaries gives, as the original code does, only exact and fast.
    Without ``inputs``, each row is a distinct input with mass ``weights[i]``.

    Args:
        activations: shape ``(samples, units)`` (or ``(samples,)`` for one unit).
        labels: class of each sample, shape ``(samples,)`` (any integer values, or
            text), or p(y | x) of each sample as rows ``(samples, classes)``,
            non-negative and summing to 1 (soft labels; see
            :func:`label_distributions`). I(T;Y) then uses p(t, y) = sum over the
            samples with symbol t of weight * p(y | x), as the training loop does for
            tasks with stochastic labels.
        inputs: optional id of each sample's input, shape ``(samples,)``.
        weights: optional non-negative weight of each sample, shape ``(samples,)``.
        estimator: an estimator or its name (default ``Binning()``: 30 bins on
            [-1, 1]). Non-binning estimators need activations that are a function of
            the input when ``inputs`` is given.
        units: ``"nats"`` (default) or ``"bits"``.

    Returns:
        ``(I(X;T), I(T;Y))`` as floats in ``units``.

    Raises:
        ValueError: mismatched shapes, negative or all-zero weights, non-finite
            activations, labels that are neither classes nor p(y | x) rows, or
            unknown estimator.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> x = np.arange(8)
        >>> t = np.where(x < 4, -0.5, 0.5)[:, None]
        >>> i_xt, i_ty = ip.mutual_information(t, x % 2, inputs=x, units="bits")
        >>> round(i_xt, 6), round(i_ty, 6)
        (1.0, 0.0)
        >>> p_y = np.where(x[:, None] < 4, [0.9, 0.1], [0.1, 0.9])  # soft labels
        >>> round(ip.mutual_information(t, p_y, inputs=x, units="bits")[1], 6)
        0.531004
    """
    estimator = Binning() if estimator is None else parse_estimator(estimator)
    a = np.asarray(activations)
    if a.ndim == 1:
        a = a[:, None]
    n = a.shape[0]
    if a.ndim != 2 or n == 0:
        raise ValueError(
            f"activations must have shape (samples, units), got {np.shape(activations)}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError("activations contain NaN or infinite values")
    labels = np.asarray(labels)
    if labels.ndim not in (1, 2) or len(labels) != n:
        raise ValueError(
            f"labels must have shape ({n},) or ({n}, classes) to match the "
            f"activations, got {labels.shape}"
        )
    p_y = label_distributions(labels)
    w = np.ones(n) if weights is None else _column(weights, "weights", n)
    if w.dtype.kind not in "iuf" or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be non-negative numbers, not all zero")
    if inputs is None:
        i_xt, i_ty = _distinct_inputs(estimator, a, w, p_y)
    elif isinstance(estimator, AbstractBinning):
        _, x = np.unique(_column(inputs, "inputs", n), return_inverse=True)
        x_bits = max(1, int(x.max()).bit_length())
        i_xt, i_ty = _samples(estimator, a, x.astype(np.uint64), x_bits, w, p_y)
    else:
        _, first, x = np.unique(
            _column(inputs, "inputs", n), return_index=True, return_inverse=True
        )
        if not np.array_equal(a, a[first][x]):
            raise ValueError(
                f"{estimator.spec} needs activations that are a function of the input: "
                "samples with the same input id have different activations"
            )
        mass = np.bincount(x, weights=w)
        joint = np.stack(
            [np.bincount(x, weights=w * p_y[:, c]) for c in range(p_y.shape[1])], 1
        )
        p_y_x = joint / np.where(mass > 0, mass, 1)[:, None]
        i_xt, i_ty = _distinct_inputs(estimator, a[first], mass, p_y_x)
    return float(from_nats(i_xt, units)), float(from_nats(i_ty, units))


@eqx.filter_jit
def _distinct_inputs(estimator, a, w, p_y):
    return estimator(a, w, p_y)


@eqx.filter_jit
def _samples(estimator, a, x, x_bits, w, p_y):
    """Plug-in MI over samples: I(X;T) = H(X)+H(T)-H(X,T), I(T;Y) = H(T)+H(Y)-H(T,Y)."""
    x = [(x, x_bits)]
    inputs = JointDistribution.of(w, p_y)
    t = pack_symbols(estimator.symbols(a, w), estimator.n_symbols)
    h_t, h_y, h_ty = plugin_entropies(t, inputs)
    h_x = plugin_entropies(x, inputs)[0]
    h_xt = plugin_entropies(x + t, inputs)[0]
    return h_x + h_t - h_xt, h_t + h_y - h_ty


def _is_missing(value: object) -> bool:
    """Whether a label of an object array is missing: None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:  # pandas.NA: its truth is ambiguous
        return True
    except ValueError:  # an array as a label: not missing, refused further on
        return False


def label_distributions(labels) -> np.ndarray:
    """p(y | sample) as float64 rows ``(samples, classes)``, from classes or rows.

    Labels of shape ``(samples,)`` (or ``(samples, 1)``) are classes: integers of any
    values, whole floats, or text; class k is the k-th distinct value in sorted order
    and its rows are one-hot. Labels of shape ``(samples, classes)`` are rows of
    p(y | x): finite, non-negative, each summing to 1 within 1e-6 (then divided by
    its sum).

    Raises:
        ValueError: non-whole or non-finite classes, rows that are not
            distributions, or any other shape or type.

    Examples:
        >>> label_distributions([3, 7, 3]).tolist()
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
        >>> label_distributions([[0.25, 0.75]]).tolist()
        [[0.25, 0.75]]
    """
    y = np.asarray(labels)
    n = len(y) if y.ndim else 0
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1 and n:
        if y.dtype.kind in "USO":
            missing = [i for i, v in enumerate(y) if _is_missing(v)]
            if missing:  # as text they would be one more class, "nan" or "None"
                raise ValueError(
                    f"every sample needs a label; sample {missing[0]} has none "
                    f"({y[missing[0]]!r}), {len(missing)} in all"
                )
            codes = np.unique(y.astype(str), return_inverse=True)[1]
        elif y.dtype.kind in "biuf":
            values = y.astype(np.float64) if y.dtype.kind == "f" else y
            bad = ~np.isfinite(values) | (values != np.round(values))
            if y.dtype.kind == "f" and bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"labels must be integer classes (samples,) or rows of p(y|x) "
                    f"(samples, classes); sample {i} has label {y[i].item()!r}"
                )
            codes = np.unique(y, return_inverse=True)[1]
        else:
            raise ValueError(f"labels must be integer classes, got dtype {y.dtype}")
        p_y = np.zeros((n, int(codes.max()) + 1))
        p_y[np.arange(n), codes.reshape(n)] = 1.0
        return p_y
    if y.ndim == 2 and n and y.dtype.kind in "biuf":
        p = y.astype(np.float64)
        sums = p.sum(axis=1)
        bad = ~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1)
        bad |= np.abs(sums - 1) > 1e-6
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                "labels of shape (samples, classes) must be rows of p(y|x): "
                f"non-negative, summing to 1; row {i} is {y[i].tolist()}"
            )
        return p / sums[:, None]
    raise ValueError(
        "labels must be integer classes of shape (samples,) or rows of p(y|x) of "
        f"shape (samples, classes), got shape {y.shape} and dtype {y.dtype}"
    )


def _column(values, name: str, n: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},) to match the activations, "
            f"got {values.shape}"
        )
    return values
