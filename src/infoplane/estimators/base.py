"""The estimator family: one call from a layer's activations to (I(X;T), I(T;Y))."""

import abc
import math
import numbers
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Real

__all__ = ["AbstractEstimator", "JointDistribution"]


def python_scalar(value):
    """A NumPy scalar as the Python number it holds; anything else unchanged.

    Parameters must be Python numbers so they stay static under ``jit`` (NumPy scalars
    would be traced); this converter lets ``Binning(low=a.min())`` work.
    """
    return value.item() if isinstance(value, np.generic) else value


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float: ``0.07``, ``1``, ``1e-05``."""
    text = repr(float(value))
    return text.removesuffix(".0")


def check_integer(name: str, field: str, value, minimum: int) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= ``minimum``.

    ``name`` is the estimator's command-line name, used in the message.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{name} needs an integer {field} >= {minimum}, got {field}={value!r}"
        )


def check_positive(name: str, field: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} needs a finite {field} > 0, got {field}={value!r}")


class JointDistribution(eqx.Module):
    """p(x, y) over the distinct inputs x a layer is measured on, and what every
    estimator derives from it: the weights and p(y | x) it is given, the joint masses
    they make, their totals, H(Y).

    Row i of a layer's activations is input i; its mass is ``weights[i]`` (a count or
    a probability: the weights need not sum to 1) and its labels are the distribution
    ``p_y[i]`` (one-hot rows for integer labels). None of this depends on the network,
    so the training loop and the recorder build it once with NumPy (:meth:`of` on
    NumPy arrays) rather than compiling it into every measurement; inside a traced
    function :meth:`of` builds it with JAX. All arrays are float64.

    Attributes:
        weights: mass of each input (counts or probabilities), ``(inputs,)``.
        p_y: p(y | x), ``(inputs, classes)``.
        masses: the joint masses ``weights * p_y`` column by column, then
            ``weights``: ``(inputs, classes + 1)``, what the plug-in counting sums per
            symbol.
        log_totals: the logarithms of the sums of the joint masses and of the
            weights, ``(2,)``.
        inverse_totals: the reciprocals of these sums.
        h_y: H(Y) in nats.
        share: p(x), the weights over their sum.
        used: the inputs of positive weight.
    """

    # NumPy arrays when built on the host, JAX arrays (or tracers) when traced.
    weights: Float[Array | np.ndarray, " inputs"]
    p_y: Float[Array | np.ndarray, "inputs classes"]
    masses: Float[Array | np.ndarray, "inputs classes_and_1"]
    log_totals: Float[Array | np.ndarray, "2"]
    inverse_totals: Float[Array | np.ndarray, "2"]
    # NumPy's sum of a vector is a NumPy scalar, not a 0-d array.
    h_y: Float[Array | np.ndarray | np.floating, ""]
    share: Float[Array | np.ndarray, " inputs"]
    used: Bool[Array | np.ndarray, " inputs"]

    @classmethod
    def of(
        cls,
        weights: Real[ArrayLike, " inputs"],
        p_y: Real[ArrayLike, "inputs classes"],
    ) -> "JointDistribution":
        """From input weights ``(inputs,)`` and p(y | x) ``(inputs, classes)``: NumPy
        arrays give NumPy fields, computed on the host; JAX arrays (or tracers) give
        JAX fields (64-bit types must be enabled)."""
        xp = jnp if isinstance(weights, jax.Array) or isinstance(p_y, jax.Array) else np
        w = xp.asarray(weights, xp.float64)
        joint = w[:, None] * xp.asarray(p_y, xp.float64)
        mass_y = joint.sum(axis=0)
        totals = xp.stack([mass_y.sum(), w.sum()])
        log_totals = xp.log(totals)
        safe = xp.where(mass_y > 0, mass_y, 1.0)
        h_y = log_totals[0] - xp.sum(mass_y * xp.log(safe)) / totals[0]
        return cls(
            weights=w,
            p_y=xp.asarray(p_y, xp.float64),
            masses=xp.concatenate([joint, w[:, None]], axis=1),
            log_totals=log_totals,
            inverse_totals=1 / totals,
            h_y=h_y,
            share=w / totals[1],
            used=w > 0,
        )


class AbstractEstimator(eqx.Module):
    """An estimator of I(X;T) and I(T;Y) for one layer T, in nats.

    Concrete estimators are immutable, hold their parameters as fields, validate them at
    construction, and are pure JAX functions, so they run inside the compiled training
    loop, vmapped over seeds. Each row of ``activations`` is one distinct input x with
    probability ``weights[x] / sum(weights)``; ``p_y[x]`` is p(y | x).
    """

    @abc.abstractmethod
    def __call__(
        self,
        activations: Real[ArrayLike, "inputs units"],
        weights: Real[ArrayLike, " inputs"],
        p_y: Real[ArrayLike, "inputs classes"],
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """Return ``(I(X;T), I(T;Y))`` in nats."""

    def diagnostics(
        self,
        activations: Real[ArrayLike, "inputs units"],
        weights: Real[ArrayLike, " inputs"],
    ) -> dict[str, Float[Array, ""]]:
        """Cheap checks of how well this estimator suits the activations (none here).

        Estimators that can tell, e.g., how many bins a layer occupies or how much of it
        falls outside a fixed range, return those as named float64 scalars, so the
        caller can record them beside the information values and warn.
        """
        del activations, weights
        return {}

    def measure(
        self,
        activations: Real[ArrayLike, "inputs units"],
        weights: Real[ArrayLike, " inputs"],
        p_y: Real[ArrayLike, "inputs classes"],
    ) -> tuple[Float[Array, ""], Float[Array, ""], dict[str, Float[Array, ""]]]:
        """``(I(X;T), I(T;Y), diagnostics)`` at once, as the training loop records
        them; estimators that can share work between the two override it."""
        return (
            *self(activations, weights, p_y),
            self.diagnostics(activations, weights),
        )

    def measure_layers(
        self,
        layers: Sequence[Float[Array | np.ndarray, "inputs _units"]],
        inputs: JointDistribution,
    ) -> list[tuple[Float[Array, ""], Float[Array, ""], dict[str, Float[Array, ""]]]]:
        """:meth:`measure` of every layer of a network on the same ``inputs``, as the
        training loop calls it.

        By default one layer after another; estimators that can measure several
        layers in one batched computation, or use what :class:`JointDistribution`
        holds precomputed, override it, which gives the compiled loop fewer
        operations to compile and run.
        """
        return [self.measure(a, inputs.weights, inputs.p_y) for a in layers]

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """The estimator as written on the command line, e.g. ``binning:bins=30``."""
