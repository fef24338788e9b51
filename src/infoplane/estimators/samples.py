"""``mutual_information``: a layer's information on samples a user already has."""

import equinox as eqx
import numpy as np

from ..units import from_nats
from .base import AbstractEstimator, JointDistribution
from .binning import AbstractBinning, Binning
from .discrete import float64, pack_symbols, plugin_entropies
from .spec import parse_estimator

__all__ = ["mutual_information"]


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
        labels: class of each sample, shape ``(samples,)``, any integer values.
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
            activations, or unknown estimator.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> x = np.arange(8)
        >>> t = np.where(x < 4, -0.5, 0.5)[:, None]
        >>> i_xt, i_ty = ip.mutual_information(t, x % 2, inputs=x, units="bits")
        >>> round(i_xt, 6), round(i_ty, 6)
        (1.0, 0.0)
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
    labels = _column(labels, "labels", n)
    w = np.ones(n) if weights is None else _column(weights, "weights", n)
    if w.dtype.kind not in "iuf" or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be non-negative numbers, not all zero")
    classes, y = np.unique(labels, return_inverse=True)
    p_y = np.eye(len(classes))[y]
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


def _column(values, name: str, n: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},) to match the activations, "
            f"got {values.shape}"
        )
    return values
