"""Kernel estimators: pairwise-distance bounds for a layer with Gaussian noise added.

Kolchinsky & Tracey (2017) bound the entropy of a mixture of Gaussians by pairwise
distances between its components. Here the mixture is T = h(X) + N(0, s2 I) over the
inputs x_i with probabilities p_i. With D_ij = ||h_i - h_j||^2 and a kernel scale c,

    H(T) - H(T|X) ~ -sum_i p_i ln sum_j p_j exp(-D_ij / (c s2)),

an upper bound on I(X;T) for c = 2 (KL divergence between components) and a lower
bound for c = 8 (Bhattacharyya distance). The noise entropy H(T|X) cancels in both
mutual informations.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .base import (
    AbstractEstimator,
    check_integer,
    check_positive,
    format_number,
    python_scalar,
)
from .discrete import compiled

__all__ = ["KDE"]

BLOCK = 256  # default rows per block (fastest on CPU); the spec names it if different

# The kernel scale c of each bound: exp(-||h_i - h_j||^2 / (c var)).
SCALES = {"upper": 2.0, "lower": 8.0}


class KDE(AbstractEstimator):
    """Kolchinsky-Tracey bound for T = h(X) plus Gaussian noise of variance ``var``.

    With kernel K_ij = exp(-||h_i - h_j||^2 / (c var)),
    I(X;T) ~ -sum_i p_i ln sum_j p_j K_ij: an upper bound with c = 2
    (``bound="upper"``, KL divergence between the noise components, eq. 10) and a
    lower bound with c = 8 (``bound="lower"``, Bhattacharyya distance, eq. 11).
    I(T;Y) = H(T) - sum_y p(y) H(T|y), where H(T|y) is the same pairwise sum with the
    weights p(x|y) = p(x) p(y|x) / p(y) (soft labels allowed); the difference of two
    bounds is an estimate, not a bound. Every value is at most H(X) <= ln N, N the
    number of inputs of weight > 0.

    Pairs of inputs are handled ``block`` by ``block`` at a time in a loop
    (``lax.scan``), so the compiled program is the same for any number of inputs N
    and its memory is O(block x N) beside the activations themselves (times the
    number of seeds under ``vmap``), not O(N^2). The kernel is symmetric, so each
    pair of inputs is computed once (about N^2 / 2 kernel values), and one pass gives
    the sums of every column of weights, p(x) and each p(x | y), together. Squared
    distances are ``||h_i||^2 + ||h_j||^2 - 2 h_i . h_j``, one float64 matrix product
    per block of rows against a block of columns. Each sum over j includes j = i,
    where the exponent is at its maximum 0: this is log-sum-exp with its shift
    known, so no term overflows and no sum that counts can underflow to 0.

    Args:
        bound: ``"upper"`` (command-line name ``kde-upper``) or ``"lower"``
            (``kde-lower``).
        var: noise variance s2, a finite number > 0 (Saxe et al. use 0.1).
        block: rows per block of the pairwise sums, at least 1 (memory only).

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> est = ip.estimators.KDE(var=0.1)
        >>> est.spec
        'kde-upper:var=0.1'
        >>> x = np.eye(4)  # four inputs, distance sqrt(2) apart
        >>> i_xt, _ = est(x, np.ones(4), np.full((4, 1), 1.0))
        >>> round(float(i_xt), 4)  # ln 4 - ln(1 + 3 exp(-10))
        1.3862
        >>> ip.estimators.KDE("lower", block=64).spec
        'kde-lower:var=0.1,block=64'

    References:
        Kolchinsky & Tracey (2017), "Estimating mixture entropy with pairwise
        distances", Entropy 19(7):361, eqs. 10 and 11; Saxe et al. (2018), ICLR,
        section 2; Kolchinsky, Tracey & Wolpert (2019), "Nonlinear information
        bottleneck", Entropy 21(12):1181.
    """

    bound: str = "upper"
    var: float = eqx.field(default=0.1, converter=python_scalar)
    block: int = eqx.field(default=BLOCK, converter=python_scalar)

    def __check_init__(self):
        if self.bound not in SCALES:
            raise ValueError(
                f"kde bound must be upper or lower, got bound={self.bound!r}"
            )
        check_positive(self.name, "var", self.var)
        check_integer(self.name, "block", self.block, 1)

    @property
    def name(self) -> str:
        """The command-line name: ``kde-upper`` or ``kde-lower``."""
        return f"kde-{self.bound}"

    @property
    def scale(self) -> float:
        """c: the kernel is exp(-||h_i - h_j||^2 / (c var))."""
        return SCALES[self.bound]

    @property
    def spec(self) -> str:
        spec = f"{self.name}:var={format_number(self.var)}"
        return spec if self.block == BLOCK else f"{spec},block={self.block}"

    @compiled
    def __call__(self, activations, weights, p_y):
        h = jnp.asarray(activations, jnp.float64)
        p = jnp.asarray(weights, jnp.float64)
        p = p / jnp.sum(p)
        joint = p[:, None] * jnp.asarray(p_y, jnp.float64)
        p_class = jnp.sum(joint, axis=0)
        # Column 0: p(x); column 1 + y: p(x | y).
        mixtures = jnp.concatenate(
            [p[:, None], joint / jnp.where(p_class > 0, p_class, 1.0)], axis=1
        )
        entropies = _pairwise_entropies(h, mixtures, self.scale * self.var, self.block)
        return entropies[0], entropies[0] - jnp.sum(p_class * entropies[1:])


def _pairwise_entropies(h, mixtures, width, block):
    """-sum_i m_ik ln sum_j m_jk exp(-||h_i - h_j||^2 / width), for every column k.

    The kernel is symmetric, so each pair of rows is computed once. The rows, padded
    with massless zero rows to a whole number B of blocks of ``block`` rows, are
    taken a tile (a block of rows against a block of columns) at a time: block b
    against the blocks b, b + 1, ..., b + B // 2 after it, cyclically. A tile's
    kernel values add to the sums of its rows and, transposed, to those of its
    columns, except on the diagonal tile (its rows already see both sides of each
    pair) and, when B is even, the tile B / 2 blocks ahead (that pair of blocks is
    met from both sides, once each way). About N^2 / 2 kernel values in all, rather
    than N^2; a tile small enough to stay in cache while it is read twice. The
    squared distances are ``||h_i||^2 + ||h_j||^2 - 2 h_i . h_j`` in float64, one
    matrix product per tile.

    Args:
        h: float64, shape ``(n, units)``.
        mixtures: float64 weights, shape ``(n, k)``, each column summing to 1 (or 0).
        width: c * var.
        block: rows per block.

    Returns:
        float64, shape ``(k,)``.
    """
    n = h.shape[0]
    block = min(block, n)
    blocks = -(-n // block)
    half = blocks // 2  # blocks after the block itself that each block meets
    h = jnp.concatenate([h, jnp.zeros((blocks * block - n, h.shape[1]), h.dtype)])
    m = jnp.concatenate(
        [mixtures, jnp.zeros((blocks * block - n, mixtures.shape[1]), mixtures.dtype)]
    )
    sq = jnp.sum(h * h, axis=1)
    diagonal = np.eye(block, dtype=bool)

    def one_tile(sums, tile):
        offset = tile % (half + 1)
        rows = (tile // (half + 1)) * block
        columns = ((tile // (half + 1) + offset) % blocks) * block
        h_i = jax.lax.dynamic_slice_in_dim(h, rows, block)
        h_j = jax.lax.dynamic_slice_in_dim(h, columns, block)
        sq_i = jax.lax.dynamic_slice_in_dim(sq, rows, block)
        sq_j = jax.lax.dynamic_slice_in_dim(sq, columns, block)
        dots = jax.lax.dot_general(h_i, h_j, (((1,), (1,)), ((), ())))
        d = jnp.maximum(sq_i[:, None] + sq_j[None, :] - 2.0 * dots, 0.0)
        # Exact zeros on the diagonal, whatever the rounding of the expansion above.
        d = jnp.where(diagonal & (offset == 0), 0.0, d)
        kernel = jnp.exp(d * (-1.0 / width))
        both_ways = (offset > 0) & ((offset < half) | (blocks % 2 == 1))
        m_i = jax.lax.dynamic_slice_in_dim(m, rows, block)
        m_j = jax.lax.dynamic_slice_in_dim(m, columns, block)
        to_columns = jax.lax.dynamic_slice_in_dim(sums, columns, block) + jnp.where(
            both_ways, kernel.T @ m_i, 0.0
        )
        sums = jax.lax.dynamic_update_slice_in_dim(sums, to_columns, columns, 0)
        to_rows = jax.lax.dynamic_slice_in_dim(sums, rows, block) + kernel @ m_j
        return jax.lax.dynamic_update_slice_in_dim(sums, to_rows, rows, 0), None

    # int32 tile numbers: under vmap the slices become gathers and scatters, which
    # are lowered after the float64 scope of the caller has ended.
    sums, _ = jax.lax.scan(
        one_tile,
        jnp.zeros(m.shape, m.dtype),
        jnp.arange(blocks * (half + 1), dtype=jnp.int32),
    )
    logs = jnp.log(jnp.where(mixtures > 0, sums[:n], 1.0))
    return -jnp.sum(mixtures * logs, axis=0)
