"""Theoretical information bottleneck (IB) curve of a discrete joint p(x, y).

The IB curve is

    F(r) = max { I(T;Y) : I(X;T) <= r,  T - X - Y a Markov chain },

the upper edge of the information plane: no representation T of X, learned or
not, lies above it. It is traced with the iterative IB algorithm of Tishby,
Pereira & Bialek (1999). For a fixed trade-off ``beta`` the self-consistent
equations

    p(t|x) ∝ p(t) exp(-beta KL[p(y|x) || p(y|t)]),
    p(t)   = sum_x p(x) p(t|x),
    p(y|t) = sum_x p(y|x) p(t|x) p(x) / p(t)

are iterated to a fixed point (a jitted ``lax.while_loop``), and ``beta`` is
swept upwards by deterministic annealing (a ``lax.scan``): each ``beta`` is
warm-started from the previous solution after every live cluster has been split
in two with a small deterministic perturbation; after convergence clusters whose
p(y|t) coincide are merged again. ``T`` lives in a fixed number of slots
(``max_clusters``) so that every shape is static.

Everything is computed in nats and float64, inside ``jax.enable_x64(True)`` so
that the package-wide float32 default is left alone; ``0 log 0 = 0`` throughout.

Every computed point is the (I(X;T), I(T;Y)) of an actual encoder p(t|x), so it
is achievable and lies on or below the true curve whether or not the iteration
converged or found the global optimum; solver failures can only make the result
a looser, lower estimate, never an overestimate.
"""

import contextlib
import functools
import hashlib
import math
import os
import warnings
import zipfile
from dataclasses import dataclass, replace
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, Int

from ._environment import CacheWarning, cache_dir
from .units import entropy, from_nats

__all__ = [
    "CacheWarning",
    "IBCurve",
    "Joint",
    "distance_below",
    "ib_curve",
    "load_joint",
    "task_curve",
]

_SUM_TOL = 1e-6
# Below this mass a cluster is treated as dead: its slot is freed for a split.
_MIN_MASS = 1e-12
_DEFAULT_CLUSTER_CAP = 64


@dataclass(frozen=True, eq=False)
class IBCurve:
    """Points of the information bottleneck curve.

    Attributes:
        beta: Shape (m,). The trade-off parameter that produced each point; 0 for
            the origin added by the concave hull.
        i_xt: Shape (m,). I(X;T), increasing when the hull is taken.
        i_ty: Shape (m,). I(T;Y), non-decreasing and concave in ``i_xt`` when the
            hull is taken.
        n_iter: Shape (m,). Fixed-point iterations spent on each point; equal to
            ``max_iter`` where the tolerance was not reached.
        i_xy: I(X;Y), the supremum of ``i_ty``.
        h_x: H(X), the supremum of ``i_xt``.
        max_clusters: The cardinality bound on T that was used.
        units: ``"nats"`` or ``"bits"``.
        max_iter: The iteration cap per beta (0 when unknown, e.g. for the
            appended edge point).
        encoders: With ``encoders=True``, shape (m, n, max_clusters): p(t|x) of
            each point, so that any point can be checked independently.
    """

    beta: np.ndarray
    i_xt: np.ndarray
    i_ty: np.ndarray
    n_iter: np.ndarray
    i_xy: float
    h_x: float
    max_clusters: int
    units: str = "nats"
    max_iter: int = 0
    encoders: np.ndarray | None = None

    @property
    def capped(self) -> np.ndarray:
        """The betas whose iterations hit ``max_iter`` before converging: their
        points are achievable but may lie below the curve."""
        if not self.max_iter:
            return np.empty(0)
        return self.beta[self.n_iter >= self.max_iter]

    def to_bits(self) -> "IBCurve":
        """Return the same curve with information measured in bits."""
        if self.units == "bits":
            return self
        return replace(
            self,
            i_xt=_frozen(from_nats(self.i_xt, "bits")),
            i_ty=_frozen(from_nats(self.i_ty, "bits")),
            i_xy=from_nats(self.i_xy, "bits"),
            h_x=from_nats(self.h_x, "bits"),
            units="bits",
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def _stats(
    q: Float[Array, "n k"], p_x: Float[Array, " n"], p_yx: Float[Array, "n c"]
) -> tuple[Float[Array, " k"], Float[Array, "k c"]]:
    """p(t) and p(y|t) of the encoder q = p(t|x); p(y|t) is 0 for empty t."""
    joint = p_x[:, None] * q
    p_t = joint.sum(axis=0)
    p_yt = joint.T @ p_yx / jnp.where(p_t > 0, p_t, 1.0)[:, None]
    return p_t, p_yt


def _ib_update(
    q: Float[Array, "n k"],
    p_x: Float[Array, " n"],
    p_yx: Float[Array, "n c"],
    beta: Float[Array, ""],
) -> Float[Array, "n k"]:
    """One application of the self-consistent IB equations."""
    p_t, p_yt = _stats(q, p_x, p_yx)
    log_p_t = jnp.where(p_t > 0, jnp.log(jnp.where(p_t > 0, p_t, 1.0)), -jnp.inf)
    # sum_y p(y|x) log p(y|x) is the same for every t and cancels in the
    # normalisation, so only the cross-entropy part of the KL is needed. Clamping
    # log p(y|t) keeps 0 * log 0 finite; a cluster missing a label that x has
    # then gets weight exp(-beta * ~700), i.e. the KL = inf limit.
    log_p_yt = jnp.log(jnp.maximum(p_yt, jnp.finfo(q.dtype).tiny))
    return jax.nn.softmax(log_p_t + beta * (p_yx @ log_p_yt.T), axis=1)


def _solve_beta(q, p_x, p_yx, beta, tol, max_iter):
    """Iterate the IB equations until max |Δp(t|x)| <= tol or max_iter steps."""

    def cond(state):
        _, moving, it = state
        return moving & (it < max_iter)

    def body(state):
        q, _, it = state
        q_new = _ib_update(q, p_x, p_yx, beta)
        # max |Δ| > tol, where a NaN in Δ makes the max NaN and stops, without
        # the float max: XLA's CPU reduction of it cost a quarter of an iteration
        # on small problems; 0 = settled, 1 = moving, 2 = NaN.
        delta = q_new - q
        code = jnp.where(jnp.isnan(delta), 2, (jnp.abs(delta) > tol).astype(int))
        return q_new, jnp.max(code.astype(jnp.int8)) == 1, it + 1

    q, _, n_iter = lax.while_loop(cond, body, (q, jnp.asarray(True), 0))
    return q, n_iter


def _split(
    q: Float[Array, "n k"],
    p_x: Float[Array, " n"],
    pattern: Float[Array, "n k"],
    eps: Float[Array, ""],
) -> Float[Array, "n k"]:
    """Split live clusters, heaviest first, into free slots.

    Cluster j keeps p(t_j|x) (1/2 + eps s_j(x)) and its new twin gets
    p(t_j|x) (1/2 - eps s_j(x)), so rows stay normalised. Below the critical beta
    of that split the twins relax back together and are merged; above it they
    drift apart, which is how annealing discovers new clusters.
    """
    k = q.shape[1]
    p_t = p_x @ q
    live = p_t > _MIN_MASS
    q = jnp.where(live, q, 0.0)
    q = q / q.sum(axis=1, keepdims=True)
    n_pairs = jnp.minimum(live.sum(), k - live.sum())
    by_mass = jnp.argsort(jnp.where(live, -p_t, jnp.inf))  # live, heaviest first
    free = jnp.argsort(live, stable=True)  # free slots first
    rank_live, rank_free = jnp.argsort(by_mass), jnp.argsort(free)
    is_src = live & (rank_live < n_pairs)
    is_dst = ~live & (rank_free < n_pairs)
    src = jnp.where(is_dst, by_mass[jnp.minimum(rank_free, k - 1)], jnp.arange(k))
    factor = jnp.where(
        is_src,
        0.5 + eps * pattern,
        jnp.where(is_dst, 0.5 - eps * pattern[:, src], 1.0),
    )
    # Gathers only: each slot reads from exactly one source slot, so there are
    # no colliding scatters to worry about.
    return q[:, src] * factor


def _merge(
    q: Float[Array, "n k"],
    p_x: Float[Array, " n"],
    p_yx: Float[Array, "n c"],
    merge_tol: Float[Array, ""],
) -> Float[Array, "n k"]:
    """Fold each live cluster into the first one whose p(y|t) matches it.

    Clusters with equal p(y|t) carry no extra information about Y, but merging
    them lowers I(X;T) and frees slots for later splits.
    """
    k = q.shape[1]
    p_t, p_yt = _stats(q, p_x, p_yx)
    live = p_t > _MIN_MASS
    dist = jnp.max(jnp.abs(p_yt[:, None, :] - p_yt[None, :, :]), axis=-1)
    close = (dist <= merge_tol) & live[:, None] & live[None, :]
    target = jnp.where(live, jnp.argmax(close, axis=0), jnp.arange(k))
    q = jnp.where(live, q, 0.0) @ (target[:, None] == jnp.arange(k)).astype(q.dtype)
    return q / q.sum(axis=1, keepdims=True)


def _information(
    q: Float[Array, "n k"], p_x: Float[Array, " n"], p_yx: Float[Array, "n c"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """I(X;T) and I(T;Y) in nats, with 0 log 0 = 0."""
    p_t, _ = _stats(q, p_x, p_yx)
    p_y = p_x @ p_yx
    joint_xt = p_x[:, None] * q
    joint_ty = joint_xt.T @ p_yx
    ratio_xt = jnp.where(joint_xt > 0, q / jnp.where(p_t > 0, p_t, 1.0), 1.0)
    ratio_ty = jnp.where(joint_ty > 0, joint_ty / jnp.outer(p_t, p_y), 1.0)
    return (
        jnp.sum(joint_xt * jnp.log(ratio_xt)),
        jnp.sum(joint_ty * jnp.log(ratio_ty)),
    )


@functools.partial(jax.jit, static_argnames="keep")
def _anneal(
    p_x,
    p_yx,
    betas,
    steps,
    q0,
    i_xt0,
    pattern,
    tol,
    max_iter,
    merge_tol,
    eps,
    jump,
    keep=False,
):
    """Deterministic annealing over ``betas[:steps]``, starting from the encoder
    ``q0`` (whose I(X;T) is ``i_xt0``); the rest of ``betas`` is padding that costs
    no iterations, so that resumed sweeps reuse the program compiled for the whole
    list.

    Returns per-beta I(X;T), I(T;Y), iterations and (with ``keep``) the encoders
    p(t|x), and the first step whose I(X;T) exceeds the previous one by more than
    ``jump`` (``len(betas)`` if none) with the encoder it started from: a sweep that
    only inserts betas after that step's predecessor can resume from there.
    """
    n_betas = betas.shape[0]

    def step(carry, x):
        q_in, prev_i_xt, first, saved = carry
        beta, index = x
        active = index < steps
        q = _split(q_in, p_x, pattern, eps)
        q, n_iter = _solve_beta(q, p_x, p_yx, beta, tol, jnp.where(active, max_iter, 0))
        q = _merge(q, p_x, p_yx, merge_tol)
        i_xt, i_ty = _information(q, p_x, p_yx)
        found = active & (first == n_betas) & (i_xt - prev_i_xt > jump)
        carry = (
            q,
            i_xt,
            jnp.where(found, index, first),
            jnp.where(found, q_in, saved),
        )
        return carry, (i_xt, i_ty, n_iter, q if keep else None)

    start = (q0, i_xt0, jnp.asarray(n_betas), q0)
    (_, _, first, saved), out = lax.scan(step, start, (betas, jnp.arange(n_betas)))
    return out, first, saved


def _split_pattern(n: int, k: int, seed: int) -> np.ndarray:
    """The fixed perturbation s_j(x) in [-1, 1] used when cluster j splits."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, k))


def _upper_concave_envelope(x: np.ndarray, y: np.ndarray) -> Int[np.ndarray, " m"]:
    """Indices of the non-decreasing upper concave hull of points (x, y)."""
    keep: list[int] = []
    for i in np.lexsort((-y, x)):  # by x, the highest y first among ties
        if keep and x[i] == x[keep[-1]]:
            continue
        while len(keep) >= 2:
            (x0, y0), (x1, y1) = (x[keep[-2]], y[keep[-2]]), (x[keep[-1]], y[keep[-1]])
            if (x1 - x0) * (y[i] - y0) - (y1 - y0) * (x[i] - x0) < 0:
                break
            keep.pop()  # keep[-1] is on or below the chord: not a vertex
        keep.append(i)
    # Past its maximum the hull descends; the curve itself stays flat there.
    top = int(np.argmax(y[keep]))
    return np.asarray(keep[: top + 1])


def _check_distribution(a: ArrayLike, name: str, axis: int | None) -> np.ndarray:
    if np.iscomplexobj(a):
        raise ValueError(f"{name} holds complex numbers; pass real probabilities.")
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers (probabilities).") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; pass finite probabilities.")
    if np.any(a < 0):
        raise ValueError(
            f"{name} has negative entries (min {a.min():.3g}); "
            "probabilities must be >= 0."
        )
    sums = a.sum(axis=axis)
    worst = np.max(np.abs(sums - 1.0))
    if worst > _SUM_TOL:
        where = "" if axis is None else " in every row"
        raise ValueError(
            f"{name} must sum to 1{where} (tolerance {_SUM_TOL:g}), but a sum is "
            f"off by {worst:.3g}; normalise it, e.g. {name} / {name}.sum"
            f"({'' if axis is None else f'axis={axis}, keepdims=True'})."
        )
    return a / (sums if axis is None else sums[:, None])


def ib_curve(
    p_x: Float[ArrayLike, " n"],
    p_y_given_x: Float[ArrayLike, "n c"],
    *,
    betas: Float[ArrayLike, " b"] | None = None,
    max_clusters: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    merge_tol: float = 1e-7,
    perturbation: float = 0.05,
    seed: int = 0,
    hull: bool = True,
    refine: int | None = None,
    encoders: bool = False,
) -> IBCurve:
    """Trace the information bottleneck curve of p(x, y) = p(x) p(y|x).

    For each ``beta`` the IB Lagrangian ``min I(X;T) - beta I(T;Y)`` is solved by
    the iterations

        p(t|x) ∝ p(t) exp(-beta KL[p(y|x) || p(y|t)]),

    warm-started from the previous ``beta`` (see the module docstring).

    With ``hull=True`` the result is the upper concave hull of the computed points
    together with (0, 0), cut at its maximum so that it is non-decreasing. It
    still lies on or below the true curve: a time-sharing encoder (use T1 with
    probability lam, else T2, and reveal which) achieves every chord, and the IB
    curve is concave, so it lies above every chord of achievable points.

    When Y is a deterministic function of X the curve is the corner
    ``min(I(X;T), H(Y))`` and the Lagrangian only finds its two ends (0, 0) and
    (H(Y), H(Y)) (Kolchinsky, Tracey & Van Kuyk 2019); the hull fills in the
    straight line between them, which is exact in that case.

    Args:
        p_x: Shape (n,). The input distribution p(x).
        p_y_given_x: Shape (n, c). Row x is p(y|x).
        betas: Increasing trade-offs to sweep. Default ``geomspace(1, 1e4, 128)``;
            values below 1 only give the trivial T since I(T;Y) <= I(X;T).
        max_clusters: Bound on |T|. Default ``min(d, 64)`` with d the number of
            distinct rows of p(y|x) (over x with p(x) > 0): d clusters suffice to
            reach I(X;Y) (the minimal sufficient statistic), and the cap of 64
            bounds the cost at n x 64 per iteration. Below d the top of the curve
            is reached only approximately (about 1e-4 nats short for 4096
            inputs with a sigmoid label in our benchmark).
        tol: Stop iterating a ``beta`` when no p(t|x) moves by more than this.
        max_iter: Iteration cap per ``beta``. Convergence slows down near phase
            transitions (critical slowing down), and for many distinct p(y|x)
            the cap is often hit; unconverged points are still achievable, just
            possibly below the curve (for the 4096-input benchmark the hull moves
            by < 1e-5 nats from 1000 to 3000 iterations).
        merge_tol: Clusters whose p(y|t) differ by at most this (max norm) merge.
        perturbation: Relative size ``eps`` of the split perturbation, in (0, 0.5).
        seed: Seed of the fixed split perturbation pattern.
        hull: Return the concave hull (default) or the raw per-``beta`` points.
        refine: Rounds of refinement: where I(X;T) jumps between neighbouring
            betas by more than 1% of H(X), eight betas are inserted between them
            (geometrically) and the sweep runs again (resumed at the first
            inserted beta: up to there it would repeat the last sweep exactly).
            Default 2 rounds for the default ``betas``, none for betas you give.
        encoders: Also return p(t|x) of every point (``curve.encoders``); costs
            memory ``len(betas) x n x max_clusters``.

    The solver is compiled once per (n, c, max_clusters, len(betas)); a call
    costs about ``len(betas) * max_iter`` updates of size n x max_clusters at
    worst (a minute for n = 4096, 64 clusters, 64 betas on 2 CPU cores).

    Returns:
        An ``IBCurve`` in nats; ``i_xt``, ``i_ty``, ``beta`` and ``n_iter`` have
        one entry per hull vertex (or per ``beta`` with ``hull=False``).

    Raises:
        ValueError: If an argument is malformed: probabilities that are negative,
            non-finite or do not sum to 1 within 1e-6, mismatched shapes,
            non-positive or decreasing ``betas``, or a bad ``tol``, ``max_iter``,
            ``max_clusters``, ``merge_tol`` or ``perturbation``.

    Examples:
        Doubly symmetric binary source with crossover 0.1:

        >>> import numpy as np
        >>> curve = ib_curve(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]))
        >>> bool(np.isclose(curve.to_bits().i_ty[-1], 1 - 0.4689955935892812))
        True

    References:
        N. Tishby, F. C. Pereira, W. Bialek. The information bottleneck method.
        Proc. 37th Allerton Conference, 1999. arXiv:physics/0004057.

        A. Kolchinsky, B. D. Tracey, S. Van Kuyk. Caveats for information
        bottleneck in deterministic scenarios. ICLR 2019. arXiv:1808.07593.
    """
    p_x_np = np.asarray(p_x)
    p_yx_np = np.asarray(p_y_given_x)
    if p_x_np.ndim != 1 or p_x_np.size == 0:
        raise ValueError(
            f"p_x must be a non-empty 1-D array of shape (n,), got shape "
            f"{p_x_np.shape}; flatten it or pass p(x) itself."
        )
    if p_yx_np.ndim != 2 or p_yx_np.shape[0] != p_x_np.shape[0]:
        raise ValueError(
            f"p_y_given_x must have shape (n, c) = ({p_x_np.shape[0]}, c) to match "
            f"p_x, got shape {p_yx_np.shape}; row x must hold p(y|x)."
        )
    p_x_np = _check_distribution(p_x_np, "p_x", axis=None)
    p_yx_np = _check_distribution(p_yx_np, "p_y_given_x", axis=1)

    if betas is None:
        betas_np = np.geomspace(1.0, 1e4, 128)
    else:
        betas_np = np.asarray(betas, dtype=np.float64).reshape(-1)
        if (
            betas_np.size == 0
            or not np.all(np.isfinite(betas_np))
            or np.any(betas_np <= 0)
        ):
            raise ValueError(
                f"betas must be a non-empty array of finite values > 0, got "
                f"{betas_np!r}; e.g. np.geomspace(1, 1e4, 128)."
            )
        if np.any(np.diff(betas_np) < 0):
            raise ValueError(
                "betas must be non-decreasing because each beta is warm-started "
                "from the previous one; pass np.sort(betas)."
            )
    if not isinstance(tol, Real) or not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}; e.g. 1e-10.")
    for name, value in (("max_iter", max_iter), ("max_clusters", max_clusters)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Integral) or value < 1
        ):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    if not isinstance(merge_tol, Real) or not 0 <= merge_tol < math.inf:
        raise ValueError(f"merge_tol must be finite and >= 0, got {merge_tol!r}.")
    if not isinstance(perturbation, Real) or not 0 < perturbation < 0.5:
        raise ValueError(
            f"perturbation must lie in (0, 0.5) so split weights stay positive, "
            f"got {perturbation!r}; e.g. 0.05."
        )

    if max_clusters is None:
        n_distinct = len(np.unique(p_yx_np[p_x_np > 0], axis=0))
        max_clusters = min(n_distinct, _DEFAULT_CLUSTER_CAP)
    max_clusters = int(max_clusters)
    pattern = _split_pattern(p_x_np.shape[0], max_clusters, seed)

    h_x = entropy(p_x_np)
    jump = 0.01 * max(h_x, 1e-12)  # a gap in I(X;T) that refinement fills

    def sweep(betas_np, start=0, resume=None):
        """Anneal over ``betas_np``; with ``resume = (outputs, q)`` from a sweep that
        ran ``betas_np[:start]`` identically and then stood at encoder ``q``, only
        ``betas_np[start:]`` is run (padded to the full length, so the compiled
        program is the one for the whole list) and the outputs are identical to a
        sweep from the start, since each beta depends only on the ones before it.

        Returns the per-beta outputs as NumPy arrays and the first jump of I(X;T)
        with the encoder before it, as :func:`_anneal` does, in the list's indices.
        """
        n_run = len(betas_np) - start
        if resume is None:
            q0 = np.zeros_like(pattern)
            q0[:, 0] = 1.0  # beta -> 0: a single cluster
            i_xt0 = np.inf  # no jump into the first beta
        else:
            q0, i_xt0 = resume[1], resume[0][0][start - 1]
        out, first, saved = _anneal(
            jnp.asarray(p_x_np),
            jnp.asarray(p_yx_np),
            jnp.asarray(np.r_[betas_np[start:], np.full(start, betas_np[-1])]),
            jnp.asarray(n_run, dtype=jnp.int32),
            jnp.asarray(q0),
            jnp.asarray(i_xt0, dtype=jnp.float64),
            jnp.asarray(pattern),
            jnp.asarray(tol, dtype=jnp.float64),
            jnp.asarray(max_iter, dtype=jnp.int32),
            jnp.asarray(merge_tol, dtype=jnp.float64),
            jnp.asarray(perturbation, dtype=jnp.float64),
            jnp.asarray(jump, dtype=jnp.float64),
            keep=encoders,
        )
        out = [None if o is None else np.asarray(o)[:n_run] for o in out]
        if resume is not None:
            out = [
                None if o is None else np.concatenate([p[:start], o])
                for p, o in zip(resume[0], out, strict=True)
            ]
        first = int(first)
        return out, (start + first if first < n_run else None), saved

    if refine is None:
        refine = 2 if betas is None else 0
    with jax.enable_x64(True):
        out, first, saved = sweep(betas_np)
        for _ in range(refine):
            jumps = np.flatnonzero(np.diff(out[0]) > jump)
            if not jumps.size:
                break
            inserted = [
                np.geomspace(betas_np[j], betas_np[j + 1], 10)[1:-1] for j in jumps
            ]
            old, betas_np = betas_np, np.unique(np.concatenate([betas_np, *inserted]))
            # The sweep is sequential: up to the first jump (where the first betas
            # are inserted) it would repeat the last one bit for bit, so it resumes
            # from the encoder kept there.
            same = np.flatnonzero(old[: len(betas_np)] != betas_np[: len(old)])
            same = same[0] if same.size else min(len(old), len(betas_np))
            if first is not None and first == jumps[0] + 1 and first <= same:
                out, first, saved = sweep(betas_np, first, (out, saved))
            else:
                out, first, saved = sweep(betas_np)
        i_xt, i_ty, n_iter, q = out
        # Rounding can leave values like -1e-16 or I(T;Y) = 4e-17 > I(X;T) = 0.
        # Undo only rounding-sized violations of 0 <= I(T;Y) <= I(X;T) (data
        # processing); anything larger would be a bug and is left visible.
        i_xt = np.maximum(np.asarray(i_xt, dtype=np.float64), 0.0)
        i_ty = np.maximum(np.asarray(i_ty, dtype=np.float64), 0.0)
        i_ty = np.where(i_ty - i_xt < 1e-12, np.minimum(i_ty, i_xt), i_ty)
        n_iter = np.asarray(n_iter, dtype=np.int64)

    if encoders:
        q = np.asarray(q)
    if hull:
        i_xt, i_ty = np.r_[0.0, i_xt], np.r_[0.0, i_ty]
        betas_np, n_iter = np.r_[0.0, betas_np], np.r_[0, n_iter]
        idx = _upper_concave_envelope(i_xt, i_ty)
        betas_np, i_xt, i_ty, n_iter = (
            betas_np[idx],
            i_xt[idx],
            i_ty[idx],
            n_iter[idx],
        )
        if encoders:  # the origin's encoder: every x in one cluster
            one = np.zeros((1, *q.shape[1:]))
            one[0, :, 0] = 1.0
            q = np.concatenate([one, q])[idx]

    p_y = p_x_np @ p_yx_np
    i_xy = h_x + entropy(p_y) - entropy((p_x_np[:, None] * p_yx_np).ravel())
    return IBCurve(
        beta=_frozen(betas_np),
        i_xt=_frozen(i_xt),
        i_ty=_frozen(i_ty),
        n_iter=_frozen(n_iter),
        i_xy=max(i_xy, 0.0),
        h_x=h_x,
        max_clusters=max_clusters,
        units="nats",
        max_iter=int(max_iter),
        encoders=_frozen(q) if encoders else None,
    )


def task_curve(dataset, *, cache: bool = True) -> IBCurve:
    """The IB curve of a data set's population p(x) and p(y|x), cached on disk.

    Inputs with the same p(y|x) are merged first: the fixed points of the IB
    equations depend on x only through p(y|x), so the curve is unchanged, and the
    problem shrinks to the number of distinct p(y|x) (the minimal sufficient
    statistic S). Beyond I(X;T) = H(S) the curve is flat at I(X;Y); a last point at
    (H(X), I(X;Y)) is appended so that it can be drawn to the edge of the plane.
    With hard labels the curve is the corner I(T;Y) = min(I(X;T), H(Y)).

    Args:
        dataset: a :class:`~infoplane.Dataset`.
        cache: read and write the curve under ``$INFOPLANE_CACHE`` (default
            ``~/.cache/infoplane``), keyed by a hash of p(x) and p(y|x).

    Returns:
        The curve in nats.
    """
    p_x = np.asarray(dataset.p_x, np.float64)
    p_y = np.asarray(dataset.p_y, np.float64)
    key = hashlib.sha256(
        b"ib-task-curve-v2" + p_x.tobytes() + p_y.tobytes() + str(p_y.shape).encode()
    ).hexdigest()[:24]
    path = cache_dir() / f"ib-{key}.npz"
    if cache:
        stored = _read_cached_curve(path)
        if stored is not None:
            return stored
    keep = p_x > 0
    rows, group = np.unique(p_y[keep].round(12), axis=0, return_inverse=True)
    merged = np.bincount(group.ravel(), weights=p_x[keep], minlength=len(rows))
    curve = ib_curve(merged / merged.sum(), rows)
    h_x = entropy(p_x[keep] / p_x[keep].sum())
    curve = replace(
        curve,
        beta=_frozen(np.append(curve.beta, np.inf)),
        i_xt=_frozen(np.append(curve.i_xt, h_x)),
        i_ty=_frozen(np.append(curve.i_ty, curve.i_xy)),
        n_iter=_frozen(np.append(curve.n_iter, 0)),
        h_x=h_x,
    )
    if cache:
        _write_cached_curve(path, curve)
    return curve


def _read_cached_curve(path) -> "IBCurve | None":
    """A curve stored by :func:`_write_cached_curve`, or None (a warning if damaged)."""
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as stored:
            return IBCurve(
                beta=_frozen(stored["beta"]),
                i_xt=_frozen(stored["i_xt"]),
                i_ty=_frozen(stored["i_ty"]),
                n_iter=_frozen(stored["n_iter"]),
                i_xy=float(stored["i_xy"]),
                h_x=float(stored["h_x"]),
                max_clusters=int(stored["max_clusters"]),
                max_iter=int(stored["max_iter"]),
            )
    except Exception as error:  # any damage: the cache is only a shortcut
        warnings.warn(
            f"ignoring a damaged cache entry {path} ({type(error).__name__}); "
            "computing the curve again",
            CacheWarning,
            stacklevel=3,
        )
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def _write_cached_curve(path, curve: "IBCurve") -> None:
    """Store a curve atomically; a cache that cannot be written only warns."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            tmp,
            beta=curve.beta,
            i_xt=curve.i_xt,
            i_ty=curve.i_ty,
            n_iter=curve.n_iter,
            i_xy=curve.i_xy,
            h_x=curve.h_x,
            max_clusters=curve.max_clusters,
            max_iter=curve.max_iter,
        )
        os.replace(tmp, path)
    except OSError as error:
        warnings.warn(
            f"cannot write the cache {path} ({error.strerror}); the curve is not "
            "kept for next time (set INFOPLANE_CACHE to a writable folder)",
            CacheWarning,
            stacklevel=3,
        )
        with contextlib.suppress(OSError):
            tmp.unlink()


class Joint(NamedTuple):
    """A joint p(x, y) = p(x) p(y|x) without inputs, e.g. read from a file."""

    name: str
    p_x: np.ndarray  # (n,)
    p_y: np.ndarray  # (n, c): row x is p(y|x)


def load_joint(spec: str):
    """The p(x, y) that ``spec`` names, for :func:`task_curve`.

    A task (``seed10``, ``tishby12:gamma=2``, see :func:`infoplane.load_task`), or
    ``file:PATH.npz`` holding ``p_xy`` (the joint, shape (n, c)), or ``p_y`` (rows
    p(y|x), shape (n, c)) with an optional ``p_x`` (uniform otherwise), or
    ``inputs`` and ``labels`` as a task's data file.

    Raises:
        ValueError: the file is missing or unreadable, or holds no distribution.
    """
    from .datasets import load_task

    if not spec.startswith("file:"):
        return load_task(spec)
    path = Path(spec.removeprefix("file:")).expanduser()
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist or is not a file")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k in ("p_xy", "p_y", "p_x")}
    except (OSError, ValueError, EOFError, AttributeError, zipfile.BadZipFile) as e:
        if "allow_pickle" in str(e):
            raise ValueError(
                f"{str(path)!r} holds Python objects (dtype=object), which infoplane "
                "does not unpickle; save the distributions as numbers"
            ) from None
        raise ValueError(f"cannot read {str(path)!r} as a .npz file") from None
    if "p_xy" in arrays:
        joint = _check_distribution(arrays["p_xy"], "p_xy", axis=None)
        if joint.ndim != 2:
            raise ValueError(f"p_xy must have shape (n, c), got {joint.shape}")
        p_x = joint.sum(axis=1)
        keep = p_x > 0
        return Joint(spec, p_x[keep], joint[keep] / p_x[keep, None])
    if "p_y" in arrays:
        p_y = np.asarray(arrays["p_y"], np.float64)
        if p_y.ndim != 2:
            raise ValueError(f"p_y must have shape (n, c), got {p_y.shape}")
        p_y = _check_distribution(p_y, "p_y", axis=1)
        p_x = arrays.get("p_x", np.full(len(p_y), 1 / len(p_y)))
        p_x = _check_distribution(np.asarray(p_x, np.float64), "p_x", axis=None)
        if p_x.shape != (len(p_y),):
            raise ValueError(f"p_x must have shape ({len(p_y)},), got {p_x.shape}")
        return Joint(spec, p_x, p_y)
    return load_task(spec)


def distance_below(curve: IBCurve, i_xt, i_ty) -> np.ndarray:
    """How far points of the information plane lie below the curve, in nats.

    The curve's I(T;Y) at each point's I(X;T) (linear between computed points, which
    the concave hull makes a valid bound), minus the point's I(T;Y). Zero on the
    curve; a point can't lie above it except by estimation error.
    """
    return np.interp(np.asarray(i_xt), curve.i_xt, curve.i_ty) - np.asarray(i_ty)
