"""Time the jitted IB-curve solver against a plain NumPy version of it.

Problem: the 4096 12-bit patterns x in {-1, 1}^12 with uniform p(x) and a binary
label p(y=1|x) = sigmoid(gamma (w . x / sqrt(12) - theta)) for a random w, i.e.
the shape of the Tishby-style information-plane data set. Both solvers run the
same annealing schedule (same betas, split pattern, tolerances and iteration
cap), so their per-beta points must agree to rounding.

Run: ``python benchmarks/ib_bound.py`` (about a minute on 2 CPU cores).
"""

import time

import numpy as np

from infoplane.ib import _MIN_MASS, _split_pattern, ib_curve

N_BITS = 12
N_BETAS = 32
MAX_CLUSTERS = 64
MAX_ITER = 300  # per beta; the hull moves < 5e-5 nats from 300 to 3000
TOL = 1e-10
MERGE_TOL = 1e-7
EPS = 0.05
SEED = 0


def make_problem(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bits = ((np.arange(2**N_BITS)[:, None] >> np.arange(N_BITS)) & 1) * 2.0 - 1.0
    score = bits @ rng.normal(size=N_BITS) / np.sqrt(N_BITS)
    p1 = 1.0 / (1.0 + np.exp(-3.0 * (score - 0.2)))
    return np.full(2**N_BITS, 2.0**-N_BITS), np.stack([1 - p1, p1], axis=1)


def _stats(q, p_x, p_yx):
    joint = p_x[:, None] * q
    p_t = joint.sum(axis=0)
    return p_t, joint.T @ p_yx / np.where(p_t > 0, p_t, 1.0)[:, None]


def _update(q, p_x, p_yx, beta):
    p_t, p_yt = _stats(q, p_x, p_yx)
    with np.errstate(divide="ignore"):
        log_p_t = np.where(p_t > 0, np.log(np.where(p_t > 0, p_t, 1.0)), -np.inf)
    logits = log_p_t + beta * (
        p_yx @ np.log(np.maximum(p_yt, np.finfo(np.float64).tiny)).T
    )
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


def _split(q, p_x, pattern, eps):
    p_t = p_x @ q
    live = p_t > _MIN_MASS
    q = np.where(live, q, 0.0)
    q = q / q.sum(axis=1, keepdims=True)
    live_idx = np.flatnonzero(live)
    live_idx = live_idx[np.argsort(-p_t[live_idx], kind="stable")]
    free_idx = np.flatnonzero(~live)
    out = q.copy()
    for src, dst in zip(live_idx, free_idx, strict=False):
        out[:, src] = q[:, src] * (0.5 + eps * pattern[:, src])
        out[:, dst] = q[:, src] * (0.5 - eps * pattern[:, src])
    return out


def _merge(q, p_x, p_yx, merge_tol):
    k = q.shape[1]
    p_t, p_yt = _stats(q, p_x, p_yx)
    live = p_t > _MIN_MASS
    dist = np.abs(p_yt[:, None, :] - p_yt[None, :, :]).max(axis=-1)
    close = (dist <= merge_tol) & live[:, None] & live[None, :]
    target = np.where(live, close.argmax(axis=0), np.arange(k))
    q = np.where(live, q, 0.0) @ (target[:, None] == np.arange(k)).astype(q.dtype)
    return q / q.sum(axis=1, keepdims=True)


def _information(q, p_x, p_yx):
    p_t, _ = _stats(q, p_x, p_yx)
    p_y = p_x @ p_yx
    j_xt = p_x[:, None] * q
    j_ty = j_xt.T @ p_yx
    r_xt = np.where(j_xt > 0, q / np.where(p_t > 0, p_t, 1.0), 1.0)
    r_ty = np.where(j_ty > 0, j_ty / np.where(j_ty > 0, np.outer(p_t, p_y), 1.0), 1.0)
    return float(np.sum(j_xt * np.log(r_xt))), float(np.sum(j_ty * np.log(r_ty)))


def numpy_ib(p_x, p_yx, betas, k):
    """Reference: the same annealing loop as infoplane.ib, in plain NumPy."""
    pattern = _split_pattern(p_x.shape[0], k, SEED)
    q = np.zeros((p_x.shape[0], k))
    q[:, 0] = 1.0
    out = []
    for beta in betas:
        q = _split(q, p_x, pattern, EPS)
        delta, it = np.inf, 0
        while delta > TOL and it < MAX_ITER:
            q_new = _update(q, p_x, p_yx, beta)
            delta, q, it = np.abs(q_new - q).max(), q_new, it + 1
        q = _merge(q, p_x, p_yx, MERGE_TOL)
        out.append((*_information(q, p_x, p_yx), it))
    return np.array(out)


def main() -> None:
    p_x, p_yx = make_problem()
    betas = np.geomspace(1.0, 1e4, N_BETAS)
    kwargs = dict(
        betas=betas,
        max_clusters=MAX_CLUSTERS,
        tol=TOL,
        max_iter=MAX_ITER,
        merge_tol=MERGE_TOL,
        perturbation=EPS,
        seed=SEED,
        hull=False,
    )
    t0 = time.perf_counter()
    ib_curve(p_x, p_yx, **kwargs)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jx = ib_curve(p_x, p_yx, **kwargs)
    t_jax = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = numpy_ib(p_x, p_yx, betas, MAX_CLUSTERS)
    t_np = time.perf_counter() - t0

    err_xt = np.abs(jx.i_xt - ref[:, 0]).max()
    err_ty = np.abs(jx.i_ty - ref[:, 1]).max()
    print(f"problem: |X|={p_x.size}, |Y|=2, |T|<={MAX_CLUSTERS}, {N_BETAS} betas")
    print(f"I(X;Y) = {jx.i_xy:.6f} nats, top of curve I(T;Y) = {jx.i_ty[-1]:.6f}")
    print(
        f"fixed-point iterations: jax {jx.n_iter.sum()}, numpy {int(ref[:, 2].sum())}"
    )
    print(f"jax (jit, incl. compile): {t_first:8.2f} s")
    print(f"jax (jit, warm):          {t_jax:8.2f} s")
    print(f"numpy:                    {t_np:8.2f} s")
    print(f"speed-up numpy / jax warm: {t_np / t_jax:.2f}x")
    print(f"max |diff| I(X;T): {err_xt:.2e}, I(T;Y): {err_ty:.2e} nats")
    # Same iterations in float64: only summation order differs.
    if max(err_xt, err_ty) >= 1e-6:
        raise SystemExit("JAX and NumPy solvers disagree")
    print("agreement: OK (< 1e-6 nats)")


if __name__ == "__main__":
    main()
