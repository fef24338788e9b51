"""The estimator family: one call from a layer's activations to (I(X;T), I(T;Y))."""

import abc

import equinox as eqx
from jaxtyping import Array, Float

__all__ = ["AbstractEstimator"]


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
        activations: Float[Array, "inputs units"],
        weights: Float[Array, " inputs"],
        p_y: Float[Array, "inputs classes"],
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """Return ``(I(X;T), I(T;Y))`` in nats."""

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """The estimator as written on the command line, e.g. ``binning:bins=30``."""
