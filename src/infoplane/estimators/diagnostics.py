"""Layer diagnostics: what the activations of each layer look like, beside their
information (saturation, dead units, extremes)."""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .base import JointDistribution
from .discrete import float64

__all__ = ["layer_statistics"]


@float64
def layer_statistics(
    # Each layer has its own number of units (``_units``: not one size for all).
    layers: Sequence[Float[Array | np.ndarray, "_units inputs"]],
    inputs: JointDistribution,
    bounds: list[tuple[float, float] | None],
) -> dict[str, Float[Array, " layers"]]:
    """Per-layer summaries of activations on the inputs of positive weight.

    ``layers`` are feature-major, as :meth:`infoplane.model.MLP.features` gives
    them (units, then inputs), measured on ``inputs``
    (:class:`~infoplane.estimators.base.JointDistribution`).
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
