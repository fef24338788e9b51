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

    Rows are handled ``block`` at a time in a loop (``lax.scan``), so the compiled
    program is the same for any number of inputs N and its memory is
    O(block x N) beside about two copies of the activations (times the number of
    seeds under ``vmap``), not O(N^2). The kernel is symmetric, so each pair of
    inputs is computed once (about N^2 / 2 kernel values), and one pass gives the
    sums of every column of weights, p(x) and each p(x | y), together. Squared
    distances are ``||h_i||^2 + ||h_j||^2 - 2 h_i . h_j``, one float64 matrix product
    per block. Each sum over j includes j = i, where the exponent is at its maximum
    0: this is log-sum-exp with its shift known, so no term overflows and no sum
    that counts can underflow to 0.

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

    The kernel is symmetric, so each pair of rows is computed once: the rows, padded
    with massless zero rows to a whole number B of blocks, are visited ``block`` at a
    time, and block b meets the blocks b, b + 1, ..., b + B // 2 after it (cyclically)
    in one window. Its kernel values give the sums of its own rows (over the window)
    and, transposed, those of the window's rows (over block b), except for block b
    itself (its rows already see both sides of each pair) and, when B is even, the
    block B / 2 ahead (that pair of blocks is met from both sides, once each way).
    About N^2 / 2 kernel values in all, rather than N^2. The squared distances are
    ``||h_i||^2 + ||h_j||^2 - 2 h_i . h_j`` in float64, one matrix product per window.

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
    padded = blocks * block
    half = blocks // 2  # blocks after the block itself in each window
    window = (half + 1) * block
    # The padded rows, then the first half * block (< n) rows again, so every window
    # is one contiguous slice: about 1.5 copies of h, O(n x units).
    h_ext = jnp.concatenate(
        [h, jnp.zeros((padded - n, h.shape[1]), h.dtype), h[: half * block]]
    )
    m_ext = jnp.concatenate(
        [
            mixtures,
            jnp.zeros((padded - n, mixtures.shape[1]), mixtures.dtype),
            mixtures[: half * block],
        ]
    )
    sq_ext = jnp.sum(h_ext * h_ext, axis=1)
    column = jnp.arange(window)
    transposed = (column >= block) & (
        (column < half * block) if blocks % 2 == 0 else True
    )
    diagonal = jnp.arange(block)[:, None] == column

    def one_block(sums, b):
        start = b * block
        h_i = jax.lax.dynamic_slice_in_dim(h_ext, start, block)
        sq_i = jax.lax.dynamic_slice_in_dim(sq_ext, start, block)
        m_i = jax.lax.dynamic_slice_in_dim(m_ext, start, block)
        h_w = jax.lax.dynamic_slice_in_dim(h_ext, start, window)
        sq_w = jax.lax.dynamic_slice_in_dim(sq_ext, start, window)
        m_w = jax.lax.dynamic_slice_in_dim(m_ext, start, window)
        dots = jax.lax.dot_general(h_i, h_w, (((1,), (1,)), ((), ())))
        d = jnp.maximum(sq_i[:, None] + sq_w[None, :] - 2.0 * dots, 0.0)
        # Exact zeros on the diagonal, whatever the rounding of the expansion above.
        d = jnp.where(diagonal, 0.0, d)
        kernel = jnp.exp(d * (-1.0 / width))
        to_window = jnp.where(transposed[:, None], kernel.T @ m_i, 0.0)
        window_sums = jax.lax.dynamic_slice_in_dim(sums, start, window) + to_window
        sums = jax.lax.dynamic_update_slice_in_dim(sums, window_sums, start, 0)
        row_sums = jax.lax.dynamic_slice_in_dim(sums, start, block) + kernel @ m_w
        return jax.lax.dynamic_update_slice_in_dim(sums, row_sums, start, 0), None

    # int32 block numbers: under vmap the slices become gathers and scatters, which
    # are lowered after the float64 scope of the caller has ended.
    sums, _ = jax.lax.scan(
        one_block,
        jnp.zeros(m_ext.shape, mixtures.dtype),
        jnp.arange(blocks, dtype=jnp.int32),
    )
    # Fold the copies back onto the rows they repeat.
    sums = sums[:padded].at[: half * block].add(sums[padded:])[:n]
    logs = jnp.log(jnp.where(mixtures > 0, sums, 1.0))
    return -jnp.sum(mixtures * logs, axis=0)
