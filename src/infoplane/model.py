"""The network: a fully connected MLP that returns its logits and every hidden layer."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .estimators.base import Inputs
from .estimators.discrete import float64

__all__ = ["ACTIVATIONS", "BOUNDS", "MLP", "Dense", "layer_statistics"]

# name -> (function, range of its values, shown in --help and the docs)
ACTIVATIONS = {
    "tanh": (jnp.tanh, "(-1, 1)"),
    "relu": (jax.nn.relu, "[0, inf)"),
    "leaky_relu": (jax.nn.leaky_relu, "(-inf, inf), slope 0.01 below 0"),
    "elu": (jax.nn.elu, "(-1, inf)"),
    "softplus": (jax.nn.softplus, "(0, inf)"),
    "sigmoid": (jax.nn.sigmoid, "(0, 1)"),
    "hardtanh": (jax.nn.hard_tanh, "[-1, 1]"),
    "softsign": (jax.nn.soft_sign, "(-1, 1)"),
    "linear": (lambda x: x, "(-inf, inf)"),
}


# Bounded activations: (low, high). A unit saturates within 1% of the range's half-width
# of either bound (|a| > 0.99 for tanh).
BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hardtanh": (-1.0, 1.0),
          "softsign": (-1.0, 1.0)}  # fmt: skip


@float64
def layer_statistics(
    layers: list[Float[Array, "units inputs"]],
    inputs: Inputs,
    bounds: list[tuple[float, float] | None],
) -> dict[str, Float[Array, " layers"]]:
    """Per-layer summaries of activations on the inputs of positive weight.

    ``layers`` are feature-major, as :meth:`MLP.features` gives them (units, then
    inputs), measured on ``inputs`` (:class:`~infoplane.estimators.base.Inputs`).
    Returns ``(layers,)`` float32 arrays:

    * ``saturation``: weighted fraction of values within 1% of the half-range of a
      bound (|a| > 0.99 for tanh); NaN for a layer whose ``bounds`` are None.
    * ``dead_fraction``: fraction of units with one value on every input. A ReLU unit
      that is zero everywhere (dead) is the common case; a saturated tanh unit stuck
      at ±1 counts too.
    * ``activation_min``, ``activation_max``: the extremes over units and inputs.

    All layers are handled at once, one matrix of all their units, which compiles
    to a few operations instead of a few per layer.
    """
    widths = np.array([a.shape[0] for a in layers])
    # Row l of per_layer averages a vector over units into layer l's mean.
    per_layer = np.repeat(np.eye(len(layers)) / widths[:, None], widths, axis=1)
    member = per_layer > 0
    units = jnp.concatenate(layers, axis=0).astype(jnp.float32)
    high = jnp.max(jnp.where(inputs.used, units, -jnp.inf), axis=1)
    low = jnp.min(jnp.where(inputs.used, units, jnp.inf), axis=1)
    lows, highs = (
        np.repeat([np.nan if b is None else b[i] for b in bounds], widths)[:, None]
        for i in (0, 1)
    )
    margin = 0.01 * (highs - lows) / 2
    near = (units < lows + margin) | (units > highs - margin)
    # Per unit: the weighted share of its values near a bound, and whether it is
    # constant; then the mean of each over every layer's units, in one product.
    per_unit = [near.astype(jnp.float64) @ inputs.share, high == low]
    saturation, dead = (per_layer @ jnp.stack(per_unit, axis=1)).T.astype(jnp.float32)
    unbounded = np.array([b is None for b in bounds])
    return {
        "saturation": jnp.where(unbounded, jnp.nan, saturation),
        "dead_fraction": dead,
        "activation_min": jnp.min(jnp.where(member, low, jnp.inf), axis=1),
        "activation_max": jnp.max(jnp.where(member, high, -jnp.inf), axis=1),
    }


class Dense(eqx.Module):
    """An affine layer ``weight @ x + bias``; ``weight`` has shape ``(out, in)``."""

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        return self.weight @ x + self.bias


class MLP(eqx.Module):
    """Fully connected network: hidden layers with one activation, a linear output.

    Weights and biases are drawn uniformly on ±1/sqrt(fan_in), in float32: the
    distribution of Equinox's ``nn.Linear`` default, as the reproduction notebook uses.
    All parameters come from one draw of random numbers, which compiles far faster than
    one draw per array.

    Args:
        in_size: number of input features.
        hidden: widths of the hidden layers, e.g. ``(8, 6, 4)``.
        out_size: number of outputs (logits).
        activation: name of the hidden nonlinearity, a key of ``ACTIVATIONS``.
        key: a JAX PRNG key, or a NumPy ``Generator`` (then the parameters are NumPy
            arrays, drawn without compiling anything: how training initialises).
    """

    layers: tuple[Dense, ...]
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        hidden: tuple[int, ...],
        out_size: int,
        activation: str = "tanh",
        *,
        key: PRNGKeyArray | np.random.Generator,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of "
                f"{', '.join(ACTIVATIONS)}"
            )
        sizes = (in_size, *hidden, out_size)
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        total = sum(fan_out * (fan_in + 1) for fan_in, fan_out in pairs)
        if isinstance(key, np.random.Generator):
            u = key.uniform(-1.0, 1.0, total).astype(np.float32)
        else:
            u = jax.random.uniform(key, (total,), jnp.float32, minval=-1.0, maxval=1.0)
        layers, start = [], 0
        for fan_in, fan_out in pairs:
            scale = 1.0 / math.sqrt(fan_in)
            block = u[start : start + fan_out * (fan_in + 1)] * scale
            start += fan_out * (fan_in + 1)
            weight = block[: fan_out * fan_in].reshape(fan_out, fan_in)
            layers.append(Dense(weight, block[fan_out * fan_in :]))
        self.layers = tuple(layers)
        self.activation = activation

    def __call__(
        self, x: Float[Array, " features"]
    ) -> tuple[Float[Array, " outputs"], tuple[Float[Array, " units"], ...]]:
        """One example in; its logits and the activation of every hidden layer out."""
        fn = ACTIVATIONS[self.activation][0]
        hidden = []
        for layer in self.layers[:-1]:
            x = fn(layer(x))
            hidden.append(x)
        return self.layers[-1](x), tuple(hidden)

    def batch(
        self, inputs: Float[Array, "examples features"]
    ) -> tuple[
        Float[Array, "examples outputs"], tuple[Float[Array, "examples units"], ...]
    ]:
        """Every example at once: the same values as ``jax.vmap(model)(inputs)``."""
        logits, hidden = self.features(inputs.T)
        return logits.T, tuple(h.T for h in hidden)

    def features(
        self, inputs: Float[Array, "features examples"]
    ) -> tuple[
        Float[Array, "outputs examples"], tuple[Float[Array, "units examples"], ...]
    ]:
        """:meth:`batch` with examples along the last axis, in and out.

        XLA's CPU matrix products run ``weight @ activations`` about twice as fast as
        the example-major layout ``vmap`` produces for these narrow layers; training
        works in this layout throughout.
        """
        fn = ACTIVATIONS[self.activation][0]
        h, hidden = inputs, []
        for layer in self.layers[:-1]:
            h = fn(layer.weight @ h + layer.bias[:, None])
            hidden.append(h)
        last = self.layers[-1]
        return last.weight @ h + last.bias[:, None], tuple(hidden)
