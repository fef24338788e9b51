"""Tests for the theoretical information bottleneck curve (infoplane.ib)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infoplane.ib import IBCurve, ib_curve

# Slack for pure floating-point rounding in float64 sums of a few hundred terms.
ROUND = 1e-9


def entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def h2(p: np.ndarray) -> np.ndarray:
    """Binary entropy in bits, with 0 log 0 = 0."""
    p = np.clip(p, 0.0, 1.0)
    out = np.zeros_like(p)
    inner = (p > 0) & (p < 1)
    q = p[inner]
    out[inner] = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    return out


def h2_inv(v: np.ndarray) -> np.ndarray:
    """Inverse of h2 on [0, 1/2], by bisection (h2 is increasing there)."""
    lo, hi = np.zeros_like(v), np.full_like(v, 0.5)
    for _ in range(100):
        mid = (lo + hi) / 2
        below = h2(mid) < v
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def dsbs_curve_bits(i_xt_bits: np.ndarray, e: float) -> np.ndarray:
    """Closed-form IB curve of the doubly symmetric binary source, in bits.

    I(T;Y) = 1 - h(e * h^-1(1 - I(X;T))) with a * b = a(1 - b) + b(1 - a):
    T = X xor Bern(d) is optimal (Mrs Gerber's lemma).
    """
    d = h2_inv(np.clip(1.0 - i_xt_bits, 0.0, 1.0))
    return 1.0 - h2(e * (1 - d) + d * (1 - e))


def popcount_problem(gamma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """8 inputs; p(y=1|x) = sigmoid(gamma (popcount(x) - 1.5)).

    popcount of 3 bits takes 4 values with multiplicities 1, 3, 3, 1, so the
    minimal sufficient statistic has entropy H(1/8, 3/8, 3/8, 1/8).
    """
    f = np.array([bin(x).count("1") for x in range(8)], dtype=np.float64)
    p1 = 1.0 / (1.0 + np.exp(-gamma * (f - 1.5)))
    return np.full(8, 1 / 8), np.stack([1 - p1, p1], axis=1)


def mutual_information(p_x: np.ndarray, p_yx: np.ndarray) -> float:
    joint = p_x[:, None] * p_yx
    return entropy(p_x) + entropy(p_x @ p_yx) - entropy(joint.ravel())


def assert_hull_shape(curve: IBCurve) -> None:
    """Hull output: starts at the origin, x increasing, y non-decreasing, concave."""
    assert curve.i_xt[0] == 0.0
    assert curve.i_ty[0] == 0.0
    dx, dy = np.diff(curve.i_xt), np.diff(curve.i_ty)
    assert np.all(dx > 0)
    assert np.all(dy >= -ROUND)
    slopes = dy / dx
    assert np.all(np.diff(slopes) <= ROUND)


def assert_below_trivial_bounds(curve: IBCurve) -> None:
    """Data processing: I(T;Y) <= min(I(X;T), I(X;Y)); and I(X;T) <= H(X)."""
    assert np.all(curve.i_ty <= np.minimum(curve.i_xt, curve.i_xy) + ROUND)
    assert np.all(curve.i_xt <= curve.h_x + ROUND)


def test_deterministic_labels_give_the_corner() -> None:
    p_x = np.array([0.1, 0.2, 0.15, 0.25, 0.2, 0.1])
    p_yx = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    h_y = entropy(p_x @ p_yx)
    for hull in (False, True):
        curve = ib_curve(p_x, p_yx, hull=hull)
        # Points must lie on I(T;Y) = min(I(X;T), H(Y)); 1e-8 nats leaves room
        # for the tol=1e-10 stopping rule only, the corner itself is exact.
        np.testing.assert_allclose(
            curve.i_ty, np.minimum(curve.i_xt, h_y), rtol=0, atol=1e-8
        )
        np.testing.assert_allclose(curve.i_ty.max(), h_y, rtol=0, atol=1e-8)
    assert curve.i_xy == pytest.approx(h_y, abs=1e-12)
    # The Lagrangian cannot see inside the corner (Kolchinsky et al. 2019): the
    # hull is the straight line from the origin to (H(Y), H(Y)).
    np.testing.assert_allclose(curve.i_xt, [0.0, h_y], atol=1e-8)
    assert_hull_shape(curve)


@pytest.mark.parametrize("e", [0.1, 0.25])
def test_doubly_symmetric_binary_source_matches_closed_form(e: float) -> None:
    p_x = np.array([0.5, 0.5])
    p_yx = np.array([[1 - e, e], [e, 1 - e]])
    # Denser than the default grid: above beta = 1e3 the DSBS curve is flat at
    # its top, and the extra points tighten the hull near the origin.
    betas = np.geomspace(1.0, 1e3, 128)
    raw = ib_curve(p_x, p_yx, betas=betas, hull=False).to_bits()
    assert raw.units == "bits"
    # Spec tolerance: 1e-3 bits at every computed point.
    np.testing.assert_allclose(
        raw.i_ty, dsbs_curve_bits(raw.i_xt, e), rtol=0, atol=1e-3
    )
    # Guard against a vacuous pass: the sweep must cover the inside of the curve.
    inside = (raw.i_xt > 0.05) & (raw.i_xt < 0.95)
    assert len(np.unique(np.round(raw.i_xt[inside], 6))) >= 5
    # Large beta: T = X, so I(X;T) = H(X) = 1 bit and I(T;Y) = 1 - h(e).
    assert raw.i_xt[-1] == pytest.approx(1.0, abs=1e-6)
    assert raw.i_ty[-1] == pytest.approx(1 - h2(np.array(e))[()], abs=1e-6)

    curve = ib_curve(p_x, p_yx, betas=betas).to_bits()
    assert_hull_shape(curve)
    # The hull is piecewise linear under a concave curve, so it lies below it;
    # with this grid the largest chord gap (next to the origin, where the first
    # non-trivial point appears) stays under 1e-3 bits.
    grid = np.linspace(0.0, 1.0, 1001)
    gap = dsbs_curve_bits(grid, e) - np.interp(grid, curve.i_xt, curve.i_ty)
    assert gap.min() >= -1e-9
    assert gap.max() <= 1e-3


@pytest.mark.parametrize("max_clusters", [None, 8])
def test_stochastic_labels_reach_ixy_at_minimal_sufficient_statistic(
    max_clusters: int | None,
) -> None:
    p_x, p_yx = popcount_problem()
    curve = ib_curve(p_x, p_yx, max_clusters=max_clusters)
    i_xy = mutual_information(p_x, p_yx)
    h_s = entropy(np.array([1, 3, 3, 1]) / 8)
    assert curve.i_xy == pytest.approx(i_xy, abs=1e-12)
    assert curve.max_clusters == (4 if max_clusters is None else max_clusters)
    # At beta = 1e4 misassignment weights are ~exp(-beta * KL) ~ 0, so the top is
    # exact up to the stopping rule: 1e-8 nats on I(T;Y), 1e-6 nats on I(X;T).
    assert curve.i_ty[-1] == pytest.approx(i_xy, abs=1e-8)
    assert curve.i_xt[-1] == pytest.approx(h_s, abs=1e-6)
    # The curve actually rises through the interior, not just a jump to the top.
    assert np.sum((curve.i_ty > 0.1 * i_xy) & (curve.i_ty < 0.9 * i_xy)) >= 3
    assert_hull_shape(curve)
    assert_below_trivial_bounds(curve)


def test_raw_points_respect_bounds_and_hull_dominates_them() -> None:
    p_x, p_yx = popcount_problem(gamma=1.0)
    betas = np.geomspace(1.0, 1e3, 24)
    raw = ib_curve(p_x, p_yx, betas=betas, hull=False)
    assert raw.beta.shape == raw.i_xt.shape == raw.i_ty.shape == (24,)
    assert_below_trivial_bounds(raw)
    curve = ib_curve(p_x, p_yx, betas=betas)
    assert set(curve.beta[1:]) <= set(betas)
    envelope = np.interp(raw.i_xt, curve.i_xt, curve.i_ty)
    assert np.all(raw.i_ty <= envelope + ROUND)


@settings(max_examples=10, deadline=None)
@given(
    weights=st.lists(st.floats(0.05, 1.0), min_size=5, max_size=5),
    rows=st.lists(
        st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(
            lambda r: sum(r) > 0.05
        ),
        min_size=5,
        max_size=5,
    ),
)
def test_random_problems_give_valid_curves(
    weights: list[float], rows: list[list[float]]
) -> None:
    p_x = np.asarray(weights) / np.sum(weights)
    p_yx = np.asarray(rows)
    p_yx = p_yx / p_yx.sum(axis=1, keepdims=True)
    # Fixed shapes and cluster bound so hypothesis reuses one compiled solver.
    curve = ib_curve(
        p_x, p_yx, betas=np.geomspace(1.0, 1e3, 16), max_clusters=5, max_iter=500
    )
    assert_hull_shape(curve)
    assert_below_trivial_bounds(curve)


def test_jax_inputs_and_global_precision_untouched() -> None:
    p_x, p_yx = popcount_problem()
    ref = ib_curve(p_x, p_yx)
    got = ib_curve(jnp.asarray(p_x, jnp.float32), jnp.asarray(p_yx, jnp.float32))
    assert got.i_xt.dtype == np.float64
    # float32 inputs perturb p(y|x) by ~1e-7, which moves the curve by about as much.
    assert got.i_ty[-1] == pytest.approx(ref.i_ty[-1], abs=1e-6)
    assert not jax.config.jax_enable_x64
    assert jnp.zeros(1).dtype == jnp.float32


def test_to_bits_and_immutability() -> None:
    curve = ib_curve(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]))
    bits = curve.to_bits()
    np.testing.assert_allclose(bits.i_ty, curve.i_ty / math.log(2))
    assert bits.h_x == pytest.approx(1.0)
    assert bits.to_bits() is bits
    with pytest.raises(ValueError, match="read-only"):
        curve.i_ty[0] = 1.0


GOOD_PX = np.array([0.5, 0.5])
GOOD_PYX = np.array([[0.9, 0.1], [0.2, 0.8]])


@pytest.mark.unchecked_types
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_x": np.array([1.5, -0.5])}, r"p_x has negative entries"),
        ({"p_x": np.array([0.5, 0.6])}, r"p_x must sum to 1.*p_x / p_x.sum"),
        ({"p_x": np.array([0.5, np.nan])}, r"p_x contains NaN"),
        ({"p_x": np.ones((2, 1)) / 2}, r"p_x must be a non-empty 1-D array"),
        (
            {"p_y_given_x": np.array([[1.1, -0.1], [0.5, 0.5]])},
            r"p_y_given_x has negative entries",
        ),
        (
            {"p_y_given_x": np.array([[0.9, 0.2], [0.5, 0.5]])},
            r"p_y_given_x must sum to 1 in every row.*axis=1",
        ),
        ({"p_y_given_x": np.full((3, 2), 0.5)}, r"shape \(n, c\) = \(2, c\)"),
        ({"p_y_given_x": np.array([0.5, 0.5])}, r"shape \(n, c\)"),
        ({"tol": 0.0}, r"tol must be a finite number > 0, got 0.0"),
        ({"tol": float("nan")}, r"tol must be"),
        ({"max_iter": 0}, r"max_iter must be an integer >= 1, got 0"),
        ({"max_iter": 10.5}, r"max_iter must be an integer"),
        ({"max_clusters": 0}, r"max_clusters must be an integer >= 1"),
        ({"betas": np.array([2.0, 1.0])}, r"betas must be non-decreasing.*np.sort"),
        ({"betas": np.array([-1.0, 1.0])}, r"betas must be .*> 0"),
        ({"betas": np.array([])}, r"betas must be a non-empty"),
        ({"merge_tol": -1.0}, r"merge_tol must be finite and >= 0"),
        ({"perturbation": 0.5}, r"perturbation must lie in \(0, 0.5\)"),
    ],
)
def test_invalid_inputs_raise_helpful_errors(kwargs: dict, match: str) -> None:
    args = {"p_x": GOOD_PX, "p_y_given_x": GOOD_PYX} | kwargs
    p_x, p_yx = args.pop("p_x"), args.pop("p_y_given_x")
    with pytest.raises(ValueError, match=match):
        ib_curve(p_x, p_yx, **args)


def test_task_curve_merges_equal_rows_caches_and_reaches_the_edge(
    tmp_path, monkeypatch
):
    import infoplane as ip
    from infoplane.ib import task_curve

    monkeypatch.setenv("INFOPLANE_CACHE", str(tmp_path))
    hard = task_curve(ip.load_task("tishby12"))
    # Deterministic labels: the corner (0,0) - (H(Y), H(Y)) - (H(X), H(Y)).
    np.testing.assert_allclose(hard.i_xt, [0, hard.i_xy, 12 * np.log(2)], atol=1e-6)
    np.testing.assert_allclose(hard.i_ty, [0, hard.i_xy, hard.i_xy], atol=1e-6)
    assert len(list(tmp_path.iterdir())) == 1
    again = task_curve(ip.load_task("tishby12"))
    np.testing.assert_array_equal(again.i_ty, hard.i_ty)
    # Sharp stochastic labels: 16 distinct p(y|x) among 4096 inputs (gamma=2 has 53,
    # and its curve costs 2.5 times as long to trace).
    soft = ip.load_task("tishby12:gamma=30")
    curve = task_curve(soft)
    # Smooth, concave, rising to I(X;Y); merging inputs with equal p(y|x) is exact:
    # compare with the unmerged problem at a few betas (docs/protocols.md §3, the IB
    # equations depend on x only through p(y|x)).
    assert curve.i_ty[-1] == pytest.approx(soft.i_xy, abs=1e-4)
    slopes = np.diff(curve.i_ty) / np.diff(curve.i_xt)
    assert np.all(np.diff(slopes) <= 1e-9)
    assert np.all(curve.i_ty <= np.minimum(curve.i_xt, soft.i_xy) + 1e-9)
    # I(X;Y) is reached at about H(S), the entropy of the distinct values of p(y|x).
    _, group = np.unique(soft.p_y.round(12), axis=0, return_inverse=True)
    h_s = -sum(p * np.log(p) for p in np.bincount(group.ravel()) / 4096)
    first = curve.i_xt[np.argmax(curve.i_ty >= soft.i_xy - 1e-4)]
    assert first <= h_s + 1e-6


def _mi_of_encoder(p_x, p_yx, q):
    """I(X;T) and I(T;Y) of p(t|x) = q by plain NumPy, in nats."""
    joint_xt = p_x[:, None] * q
    p_t = joint_xt.sum(0)
    joint_ty = joint_xt.T @ p_yx
    p_y = p_x @ p_yx
    with np.errstate(divide="ignore", invalid="ignore"):
        i_xt = np.nansum(joint_xt * np.log(q / p_t))
        i_ty = np.nansum(joint_ty * np.log(joint_ty / np.outer(p_t, p_y)))
    return i_xt, i_ty


def test_refinement_fills_jumps_and_encoders_check_every_point():
    rng = np.random.default_rng(7)
    p_x = np.full(12, 1 / 12)
    rows = rng.dirichlet(np.ones(3), size=4)
    p_yx = rows[np.arange(12) % 4]
    coarse = ib_curve(p_x, p_yx, refine=0, hull=False)
    fine = ib_curve(p_x, p_yx, hull=False, encoders=True)
    assert len(fine.beta) > len(coarse.beta)
    assert np.diff(fine.i_xt).max() < np.diff(coarse.i_xt).max()
    assert fine.encoders.shape == (len(fine.beta), 12, fine.max_clusters)
    for k in range(len(fine.beta)):
        i_xt, i_ty = _mi_of_encoder(p_x, p_yx, np.asarray(fine.encoders[k]))
        assert i_xt == pytest.approx(fine.i_xt[k], abs=1e-9)
        assert i_ty == pytest.approx(fine.i_ty[k], abs=1e-9)
    # Refinement resumes each sweep at its first inserted beta: its values are those
    # of one sweep over the refined betas from the start.
    once = ib_curve(p_x, p_yx, betas=fine.beta, refine=0, hull=False, encoders=True)
    for name in ("i_xt", "i_ty", "n_iter", "encoders"):
        np.testing.assert_array_equal(getattr(once, name), getattr(fine, name))
    hull = ib_curve(p_x, p_yx, encoders=True)
    assert hull.encoders.shape[0] == len(hull.beta)
    origin = _mi_of_encoder(p_x, p_yx, np.asarray(hull.encoders[0]))
    np.testing.assert_allclose(origin, 0, atol=1e-12)


def test_points_that_hit_the_iteration_cap_are_reported():
    p_x = np.full(4, 0.25)
    p_yx = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    capped = ib_curve(p_x, p_yx, max_iter=1, hull=False, refine=0)
    np.testing.assert_array_equal(capped.capped, capped.beta)
    usual = ib_curve(p_x, p_yx, hull=False, refine=0)
    assert usual.capped.size < len(usual.beta) / 10  # a few near a phase transition
    assert set(usual.capped) <= set(usual.beta[usual.n_iter == 1000])


def test_bound_of_a_joint_from_a_file(tmp_path, capsys):
    from infoplane.cli import main

    # A doubly symmetric binary source with crossover 0.1, as a joint and as rows.
    p_xy = np.array([[0.45, 0.05], [0.05, 0.45]])
    np.savez(tmp_path / "joint.npz", p_xy=p_xy)
    np.savez(tmp_path / "rows.npz", p_y=p_xy * 2, p_x=np.array([0.5, 0.5]))
    np.savez(tmp_path / "bad.npz", p_xy=np.array([[0.5, 0.6]]))
    ends = []
    for name in ("joint", "rows"):
        out = tmp_path / f"{name}.csv"
        assert main(["bound", f"file:{tmp_path / name}.npz", "--out", str(out)]) == 0
        last = out.read_text().splitlines()[-1].split(",")
        ends.append(float(last[2]))
    assert ends[0] == pytest.approx(1 - 0.4689955935892812, abs=1e-6)  # bits
    assert ends[1] == ends[0]
    capsys.readouterr()
    bad = ["bound", f"file:{tmp_path / 'bad.npz'}", "--out", str(tmp_path / "b.csv")]
    assert main(bad) == 2
    assert "p_xy must sum to 1" in capsys.readouterr().err
    np.savez(tmp_path / "objects.npz", p_xy=np.array([[0.5, 0.5]], dtype=object))
    bad[1] = f"file:{tmp_path / 'objects.npz'}"
    assert main(bad) == 2
    assert "holds Python objects (dtype=object)" in capsys.readouterr().err
