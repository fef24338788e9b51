import math

import jax
import numpy as np
import pytest
from scipy.special import logsumexp

import infoplane as ip
from infoplane.estimators import KDE, parse_estimator

# The 4096 raw 12-bit inputs of the paper's task, as rows of 0/1.
PATTERNS = ((np.arange(4096)[:, None] >> np.arange(11, -1, -1)) & 1).astype(np.float64)
UNIFORM = np.ones(4096)
PARITY = np.eye(2)[np.arange(4096) % 2]


def pairwise_reference(h, weights, p_y, scale):
    """Direct O(n^2) NumPy/SciPy version of the pairwise-distance estimate (nats)."""
    d = ((h[:, None, :] - h[None, :, :]) ** 2).sum(-1) / scale

    def entropy(m):
        live = m > 0
        return -np.sum(m[live] * logsumexp(-d[live], b=m[None, :], axis=1))

    p = weights / weights.sum()
    joint = p[:, None] * p_y
    p_c = joint.sum(0)
    h_t = entropy(p)
    h_t_y = sum(p_c[c] * entropy(joint[:, c] / p_c[c]) for c in range(len(p_c)))
    return h_t, h_t - h_t_y


def random_problem(seed, n=300, units=5, classes=3):
    rng = np.random.default_rng(seed)
    h = np.tanh(rng.normal(size=(n, units)) * 2)
    weights = rng.integers(0, 4, n).astype(np.float64)  # about a quarter are zero
    logits = rng.normal(size=(n, classes)) * 2
    p_y = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)  # soft labels
    return h, weights, p_y


@pytest.mark.parametrize(("var", "bits"), [(1e-3, 12.000), (0.1, 11.884)])
def test_upper_bound_on_raw_12_bit_inputs(var, bits):
    # docs/protocols.md §3 (Saxe et al. 2018; checked by hand): distinct
    # patterns are Hamming distance k apart, so at var=0.1 the bound is
    # 12 - 12 log2(1 + exp(-5)) = 11.88374 bits, and 12 bits as var -> 0.
    i_xt, i_ty = KDE(var=var)(PATTERNS, UNIFORM, PARITY)
    assert float(i_xt) / math.log(2) == pytest.approx(bits, abs=5e-4)
    exact = 12 - 12 * math.log2(1 + math.exp(-1 / (2 * var)))
    assert float(i_xt) / math.log(2) == pytest.approx(exact, abs=1e-10)
    # Parity of the last bit: T determines Y as var -> 0.
    assert float(i_ty) <= math.log(2) + 1e-12


@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_matches_direct_reference_with_soft_labels_and_zero_weights(bound):
    h, w, p_y = random_problem(0)
    est = KDE(bound, var=0.1)
    got = est(h, w, p_y)
    want = pairwise_reference(h, w, p_y, est.scale * est.var)
    # Same formula, summed in another order: agreement to rounding.
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-10)


def test_lower_below_upper_and_both_below_ln_n():
    h, w, p_y = random_problem(1)
    n_live = np.count_nonzero(w)
    for var in (0.1, 1e-3):  # 0.1 shares its compilation with the test above
        up = np.asarray(KDE(var=var)(h, w, p_y))
        low = np.asarray(KDE("lower", var=var)(h, w, p_y))
        assert low[0] <= up[0] + 1e-12
        assert up[0] <= math.log(n_live) + 1e-12
        assert low[0] >= -1e-12
        assert max(up[1], low[1]) <= math.log(n_live) + 1e-12


def test_blocked_equals_unblocked():
    h, w, p_y = random_problem(2)
    whole = np.asarray(KDE(var=0.1, block=len(w))(h, w, p_y))
    # One row at a time (300 blocks, an even number: the pair of blocks half way
    # round is met from both sides), padding in the last block (43, odd), 2 blocks
    # and 3 blocks.
    for block in (1, 7, 150, 100):
        blocked = np.asarray(KDE(var=0.1, block=block)(h, w, p_y))
        np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-10)


def _chunked_reference(h, labels, var):
    """Kernel upper bound by explicit differences ``h_i - h_j`` in float64, a few
    rows at a time (no expansion of the square, so no cancellation), equal weights
    and hard labels."""
    n = len(h)

    def entropy(rows):
        a = h[rows]
        logs = [
            logsumexp(-((a[i : i + 50, None] - a[None]) ** 2).sum(-1) / (2 * var), 1)
            for i in range(0, len(a), 50)
        ]
        return -(np.concatenate(logs) - math.log(len(a))).mean()

    h_t = entropy(np.arange(n))
    classes = np.unique(labels)
    h_t_y = sum(
        np.mean(labels == c) * entropy(np.flatnonzero(labels == c)) for c in classes
    )
    return h_t, h_t - h_t_y


def test_wide_float32_layer_with_close_rows_matches_explicit_differences():
    # 600 rows of 400 float32 tanh units in 30 tight clusters: squared norms ~ 100
    # while many squared distances within a cluster are ~ 0.1 to 1, where the kernel
    # counts, so the expansion ||a||^2 + ||b||^2 - 2 a.b cancels most of its digits.
    rng = np.random.default_rng(8)
    centres = rng.normal(size=(30, 400))
    rows = rng.integers(0, 30, 600)
    h = np.tanh(centres[rows] + 0.02 * rng.normal(size=(600, 400))).astype(np.float32)
    labels = rows % 4
    want = _chunked_reference(h.astype(np.float64), labels, 0.1)
    got = KDE(var=0.1, block=64)(h, np.ones(600), np.eye(4)[labels])
    assert want[0] < math.log(600) - 0.5  # the close pairs count
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-10)


def test_permuting_rows_and_units_changes_nothing():
    h, w, p_y = random_problem(3)
    rng = np.random.default_rng(3)
    rows, units = rng.permutation(len(w)), rng.permutation(h.shape[1])
    for est in (KDE(var=0.1), KDE("lower", var=0.1)):
        got = np.asarray(est(h[rows][:, units], w[rows], p_y[rows]))
        np.testing.assert_allclose(got, np.asarray(est(h, w, p_y)), atol=1e-10)


def test_zero_weight_rows_contribute_nothing():
    h, w, p_y = random_problem(4)
    live = w > 0
    est = KDE(var=0.1)
    np.testing.assert_allclose(
        np.asarray(est(h, w, p_y)),
        np.asarray(est(h[live], w[live], p_y[live])),
        rtol=0,
        atol=1e-10,
    )


def test_limits_distinct_rows_with_tiny_noise_and_constant_layer():
    h, w, _ = random_problem(5)
    labels = np.eye(2)[np.arange(len(w)) % 2]
    p = w / w.sum()
    h_x = -np.sum(p[p > 0] * np.log(p[p > 0]))
    p_y = p @ labels
    h_y = -np.sum(p_y * np.log(p_y))
    for est in (KDE(var=1e-8), KDE("lower", var=1e-8)):
        i_xt, i_ty = np.asarray(est(h, w, labels))
        # T = X: I(X;T) = H(X) and I(T;Y) = H(Y) for deterministic labels.
        assert i_xt == pytest.approx(h_x, abs=1e-9)
        assert i_ty == pytest.approx(h_y, abs=1e-9)
        i_xt, i_ty = np.asarray(est(np.zeros_like(h), w, labels))
        assert abs(i_xt) < 1e-12
        assert abs(i_ty) < 1e-12


def test_mutual_information_with_kernel_estimator_and_units():
    h, w, _ = random_problem(6, n=100)
    labels = np.arange(100) % 3
    ids = np.repeat(np.arange(100), w.astype(int))
    nats = ip.mutual_information(h[ids], labels[ids], inputs=ids, estimator="kde-upper")
    direct = ip.mutual_information(h, labels, weights=w, estimator=KDE())
    np.testing.assert_allclose(nats, direct, rtol=0, atol=1e-10)
    bits = ip.mutual_information(
        h, labels, weights=w, estimator="kde-upper:var=0.1", units="bits"
    )
    np.testing.assert_allclose(np.asarray(bits) * math.log(2), direct, atol=1e-12)


def test_jit_and_vmap_over_layers():
    rng = np.random.default_rng(7)
    layers = np.tanh(rng.normal(size=(3, 200, 4))).astype(np.float32)
    w = np.ones(200, np.float32)
    p_y = np.eye(2, dtype=np.float32)[np.arange(200) % 2]
    for est in (KDE(var=0.1, block=64), KDE("lower", var=0.1)):
        got = jax.jit(jax.vmap(est, in_axes=(0, None, None)))(layers, w, p_y)
        for k in range(3):
            want = est(layers[k].astype(np.float64), w, p_y)
            np.testing.assert_allclose(
                [got[0][k], got[1][k]], np.asarray(want), rtol=0, atol=1e-9
            )


def test_specs_round_trip_and_bad_parameters_are_rejected():
    for est in (KDE(), KDE("lower", var=1e-3), KDE(var=0.123456789, block=7)):
        assert parse_estimator(est.spec) == est
    assert KDE().spec == "kde-upper:var=0.1"
    assert KDE("lower", block=16).spec == "kde-lower:var=0.1,block=16"
    assert parse_estimator("kde-lower:var=0.5") == KDE("lower", var=0.5)
    with pytest.raises(
        ValueError, match=r"kde-upper needs a finite var > 0, got var=0"
    ):
        KDE(var=0)
    with pytest.raises(ValueError, match="var > 0, got var=nan"):
        KDE("lower", var=float("nan"))
    with pytest.raises(ValueError, match="kde bound must be upper or lower"):
        KDE("middle")
    with pytest.raises(ValueError, match="integer block >= 1, got block=0"):
        KDE(block=0)
    with pytest.raises(ValueError, match="var > 0, got var=-1"):
        parse_estimator("kde-upper:var=-1")
    with pytest.raises(ValueError, match="kde-lower:var=abc"):
        parse_estimator("kde-lower:var=abc")
    with pytest.raises(ValueError, match="unknown parameter"):
        parse_estimator("kde-upper:bins=3")
