"""The network: a fully connected MLP that returns its logits and every hidden layer."""

import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "QUANTIZE",
    "Activation",
    "Dense",
    "layer_range",
    "quantize",
    "quantize_is_layer",
    "quantize_range",
]


class Activation(NamedTuple):
    """A hidden nonlinearity: its function, its bounds, and its range in words."""

    fn: Callable
    bounds: tuple[float, float] | None  # (low, high) for bounded ones, else None
    values: str  # the range of its values, shown in --help and the docs


ACTIVATIONS = {
    "tanh": Activation(jnp.tanh, (-1.0, 1.0), "(-1, 1)"),
    "relu": Activation(jax.nn.relu, None, "[0, inf)"),
    "leaky_relu": Activation(
        jax.nn.leaky_relu, None, "(-inf, inf), slope 0.01 below 0"
    ),
    "elu": Activation(jax.nn.elu, None, "(-1, inf)"),
    "softplus": Activation(jax.nn.softplus, None, "(0, inf)"),
    "sigmoid": Activation(jax.nn.sigmoid, (0.0, 1.0), "(0, 1)"),
    "hardtanh": Activation(jax.nn.hard_tanh, (-1.0, 1.0), "[-1, 1]"),
    "softsign": Activation(jax.nn.soft_sign, (-1.0, 1.0), "(-1, 1)"),
    "linear": Activation(lambda x: x, None, "(-inf, inf)"),
}


# Quantisation of the hidden activations (Lorenzen, Igel & Nielsen 2022): the name,
# and the bits k of its grid of 2**k levels (None: not quantised). "8bit" rounds on
# the activation's own bounds (tanh: -1..1); "8bit-layer" on each layer's observed
# range in every forward pass (quantize_is_layer), the rule of Lorenzen et al.'s code
# (docs/protocols.md, "Lorenzen, Igel & Nielsen").
QUANTIZE = {"none": None, "8bit": 8, "4bit": 4, "8bit-layer": 8, "4bit-layer": 4}


def quantize_is_layer(name: str) -> bool:
    """Whether quantisation ``name`` rounds on each layer's observed range
    (:func:`layer_range`) rather than on the activation's fixed bounds."""
    return name.endswith("-layer")


def quantize_range(activation: str) -> tuple[float, float]:
    """The fixed range ``(low, high)`` a quantised layer of this activation is rounded
    on with ``quantize="8bit"`` (or ``"4bit"``): a bounded activation's own bounds
    (tanh: -1..1, sigmoid: 0..1).

    Unbounded activations (relu) have no fixed range: rounding them on one would clip
    their large values (relu on 0..1 saturates like a bounded unit). They are
    quantised on each layer's observed range instead, ``quantize="8bit-layer"``
    (:func:`layer_range`).

    Raises:
        ValueError: an activation with no fixed range.
    """
    bounds = ACTIVATIONS[activation].bounds
    if bounds is None:
        allowed = [a for a in ACTIVATIONS if ACTIVATIONS[a].bounds is not None]
        raise ValueError(
            f"a {activation} layer has no fixed range to quantise on (values "
            f"outside it would be clipped): use quantize=8bit-layer (each layer's "
            f"observed range), or a bounded activation: {', '.join(allowed)}"
        )
    return bounds


def layer_range(x: Array) -> tuple[Array, Array]:
    """The observed range of a layer's values: ``(min(0, x.min()), max(0, x.max()))``
    over all its units and the examples of one forward pass, 0 always inside (as the
    moving-average quantiser Lorenzen et al. use for relu; docs/protocols.md). No
    value of the pass is clipped."""
    return jnp.minimum(jnp.min(x), 0.0), jnp.maximum(jnp.max(x), 0.0)


def quantize(
    x: Array,
    bits: int,
    low: float | Float[Array, ""],
    high: float | Float[Array, ""],
) -> Array:
    """Values rounded to the nearest of the ``2**bits`` levels
    ``low + j * (high - low) / (2**bits - 1)``, j = 0..2**bits-1 (values outside
    [low, high] clipped first), with a straight-through gradient: the forward pass is
    quantised, the backward pass is the identity (``q(x) + x - stop_gradient(x)``,
    whose forward value is exactly the level: ``x + stop_gradient(q(x) - x)`` can be
    an ulp off it, so one level would take several float values).
    ``low`` and ``high`` may be traced (:func:`layer_range`); with ``high == low``
    (a layer that is constant 0) every value is ``low``.
    """
    levels = 2**bits - 1
    span = high - low
    step = jnp.where(span > 0, span, 1.0) / levels
    j = jnp.round((jnp.clip(x, low, high) - low) * (1 / step))
    # Clipped again: compiled, XLA fuses low + j * step into one multiply-add, whose
    # top level can land an ulp above ``high`` (1.0000001 on the grid -1..1).
    level = jnp.clip(low + j * step, low, high)
    return level + (x - lax.stop_gradient(x))


class Dense(eqx.Module):
    """An affine layer ``weight @ x + bias``; ``weight`` has shape ``(out, in)``."""

    # NumPy arrays when drawn on the host (``MLP(..., key=np.random.Generator)``).
    weight: Float[Array | np.ndarray, "out in"]
    bias: Float[Array | np.ndarray, " out"]

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
        quantize: a key of ``QUANTIZE``: ``"none"`` (the default), or ``"8bit"`` /
            ``"4bit"``: every hidden layer's values rounded to 2**k levels on
            :func:`quantize_range` in the forward pass, straight-through gradients
            (:func:`quantize`); ``"8bit-layer"`` / ``"4bit-layer"``: on each layer's
            observed range in each pass (:func:`layer_range`: the examples given to
            :meth:`batch` or :meth:`features`, so a single example cannot be run
            alone). The output logits are never quantised.
    """

    layers: tuple[Dense, ...]
    activation: str = eqx.field(static=True)
    quantize: str = eqx.field(static=True, default="none")

    def __init__(
        self,
        in_size: int,
        hidden: tuple[int, ...],
        out_size: int,
        activation: str = "tanh",
        *,
        key: PRNGKeyArray | np.random.Generator,
        quantize: str = "none",
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of "
                f"{', '.join(ACTIVATIONS)}"
            )
        if quantize not in QUANTIZE:
            raise ValueError(
                f"unknown quantize {quantize!r}; choose one of {', '.join(QUANTIZE)}"
            )
        if QUANTIZE[quantize] is not None and not quantize_is_layer(quantize):
            quantize_range(activation)  # raises for an activation with no range
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
        self.quantize = quantize

    def _nonlinearity(self) -> Callable:
        """The activation function, followed by the quantisation if any."""
        fn, bits = ACTIVATIONS[self.activation].fn, QUANTIZE[self.quantize]
        if bits is None:
            return fn
        if quantize_is_layer(self.quantize):

            def on_layer_range(x):
                a = fn(x)
                return quantize(a, bits, *layer_range(a))

            return on_layer_range
        low, high = quantize_range(self.activation)
        return lambda x: quantize(fn(x), bits, low, high)

    def __call__(
        self, x: Float[Array, " features"]
    ) -> tuple[Float[Array, " outputs"], tuple[Float[Array, " _units"], ...]]:
        """One example in; its logits and the activation of every hidden layer out."""
        if quantize_is_layer(self.quantize):
            raise ValueError(
                f"quantize={self.quantize} rounds on the range of a batch of "
                "examples: run them together with .batch (or .features)"
            )
        fn = self._nonlinearity()
        hidden = []
        for layer in self.layers[:-1]:
            x = fn(layer(x))
            hidden.append(x)
        return self.layers[-1](x), tuple(hidden)

    def batch(
        self, inputs: Float[Array, "examples features"]
    ) -> tuple[
        Float[Array, "examples outputs"], tuple[Float[Array, "examples _units"], ...]
    ]:
        """Every example at once: the same values as ``jax.vmap(model)(inputs)``
        (with ``quantize="8bit-layer"``, the grid is the range of all of them)."""
        logits, hidden = self.features(inputs.T)
        return logits.T, tuple(h.T for h in hidden)

    def features(
        self, inputs: Float[Array, "features examples"]
    ) -> tuple[
        Float[Array, "outputs examples"], tuple[Float[Array, "_units examples"], ...]
    ]:
        """:meth:`batch` with examples along the last axis, in and out.

        XLA's CPU matrix products run ``weight @ activations`` about twice as fast as
        the example-major layout ``vmap`` produces for these narrow layers; training
        works in this layout throughout.
        """
        fn = self._nonlinearity()
        h, hidden = inputs, []
        for layer in self.layers[:-1]:
            h = fn(layer.weight @ h + layer.bias[:, None])
            hidden.append(h)
        last = self.layers[-1]
        return last.weight @ h + last.bias[:, None], tuple(hidden)
