import math
from collections import Counter

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mutual_info_score

import infoplane as ip
from infoplane.estimators import Binning, parse_estimator
from infoplane.estimators.discrete import group_ids, pack_symbols

EDGES = np.linspace(-1, 1, 31)


def counting_reference(activations, labels, inputs):
    """Per-sample dictionary counting, as the original notebook does (nats)."""
    n = len(labels)
    keys = [np.digitize(a, EDGES).tobytes() for a in activations]

    def entropy(items):
        return -sum(c / n * math.log(c / n) for c in Counter(items).values())

    h_t, h_x, h_y = entropy(keys), entropy(inputs.tolist()), entropy(labels.tolist())
    h_xt = entropy(zip(inputs.tolist(), keys, strict=True))
    h_ty = entropy(zip(keys, labels.tolist(), strict=True))
    return h_x + h_t - h_xt, h_t + h_y - h_ty


def random_layer(rng, samples, units, inputs=1024, scale=2.0):
    ids = rng.integers(0, inputs, samples)
    per_input = np.tanh(rng.normal(size=(inputs, units)) * scale).astype(np.float32)
    return per_input[ids], ids


@pytest.mark.parametrize("units", [1, 4, 8, 13])
def test_agrees_with_per_sample_counting_on_random_activations(units):
    rng = np.random.default_rng(units)
    a, ids = random_layer(rng, 20_000, units)
    labels = rng.integers(0, 2, 20_000)
    got = ip.mutual_information(a, labels, inputs=ids)
    np.testing.assert_allclose(got, counting_reference(a, labels, ids), rtol=0, atol=1e-9)


def test_agrees_with_per_sample_counting_on_trained_activations():
    # Activations of a trained seed network on 50,000 drawn samples.
    import jax

    exp = ip.preset("seed", epochs=300)
    data = ip.load_task("seed10")
    model = ip.model.MLP(10, exp.hidden, 2, key=jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1024, 50_000)
    _, hidden = model.batch(jnp.asarray(data.inputs))
    for layer in hidden:
        a = np.asarray(layer)[ids]
        got = ip.mutual_information(a, data.labels[ids], inputs=ids)
        want = counting_reference(a, data.labels[ids], ids)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_agrees_with_scikit_learn_on_random_symbols():
    rng = np.random.default_rng(7)
    a, ids = random_layer(rng, 5000, 3, inputs=300, scale=1.0)
    labels = rng.integers(0, 4, 5000)
    symbols = [str(np.digitize(row, EDGES).tolist()) for row in a]
    i_xt, i_ty = ip.mutual_information(a, labels, inputs=ids)
    # scikit-learn's plug-in MI in nats on the same symbols; agreement to 1e-12.
    assert i_xt == pytest.approx(mutual_info_score(ids, symbols), abs=1e-12)
    assert i_ty == pytest.approx(mutual_info_score(symbols, labels), abs=1e-12)


def test_weighted_distinct_inputs_equal_expanded_samples():
    rng = np.random.default_rng(1)
    per_input = np.tanh(rng.normal(size=(200, 5)) * 2)
    labels = rng.integers(0, 2, 200)
    counts = rng.integers(0, 9, 200)
    ids = np.repeat(np.arange(200), counts)
    weighted = ip.mutual_information(per_input, labels, weights=counts)
    expanded = ip.mutual_information(per_input[ids], labels[ids], inputs=ids)
    np.testing.assert_allclose(weighted, expanded, rtol=0, atol=1e-12)


def test_limits_identity_and_constant():
    x = np.arange(1024)
    bits = ((x[:, None] >> np.arange(9, -1, -1)) & 1) - 0.5  # T = X, distinct bins
    labels = x % 2
    i_xt, i_ty = ip.mutual_information(bits, labels, inputs=x)
    assert i_xt == pytest.approx(math.log(1024), abs=1e-12)
    assert i_ty == pytest.approx(math.log(2), abs=1e-12)
    i_xt, i_ty = ip.mutual_information(np.zeros((1024, 3)), labels, inputs=x)
    assert i_xt == 0 and i_ty == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_properties(seed, units):
    # T is a function of X here, so I(T;Y) <= H(T) = I(X;T). Fixed shapes (only
    # the unit count varies) keep compilation out of the loop.
    n = 64
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 20, n)
    a = np.tanh(rng.normal(size=(20, units)) * 3)[ids]
    labels = rng.integers(0, 3, n)
    i_xt, i_ty = ip.mutual_information(a, labels, inputs=ids)
    h_y = mutual_info_score(labels, labels)
    assert -1e-12 <= i_ty <= min(i_xt, h_y) + 1e-12
    perm, unit_perm = rng.permutation(n), rng.permutation(units)
    again = ip.mutual_information(a[perm][:, unit_perm], labels[perm], inputs=ids[perm])
    np.testing.assert_allclose(again, (i_xt, i_ty), atol=1e-12)
    bits = ip.mutual_information(a, labels, inputs=ids, units="bits")
    np.testing.assert_allclose(np.asarray(bits) * math.log(2), (i_xt, i_ty), atol=1e-12)


def test_binning_matches_numpy_digitize_exactly_at_the_edges():
    rng = np.random.default_rng(1)
    for bins, low, high in [(30, -1.0, 1.0), (7, -0.3, 2.5), (2, 0.0, 1.0)]:
        edges = np.linspace(low, high, bins + 1)
        a = np.concatenate([
            rng.uniform(low - 1, high + 1, 10_000), edges,
            np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), [-np.inf, np.inf],
        ])  # fmt: skip
        # XLA flushes float64 subnormals (below 2.2e-308) to zero; leave them out.
        a = a[(a == 0) | (np.abs(a) > 1e-300)]
        estimator = Binning(bins=bins, low=low, high=high)
        for values in (a, a.astype(np.float32)):
            got = np.asarray(estimator.symbols(values[:, None]))[:, 0]
            np.testing.assert_array_equal(got, np.digitize(values, edges))


@pytest.mark.parametrize("units", [1, 9, 30])
def test_packing_and_grouping_are_exact(units):
    rng = np.random.default_rng(units)
    symbols = rng.integers(0, 3, size=(3000, units))
    ids = np.asarray(group_ids(pack_symbols(jnp.asarray(symbols), 32)))
    _, want = np.unique(symbols, axis=0, return_inverse=True)
    # Same partition of rows: a bijection between our ids and NumPy's.
    pairs = set(zip(ids.tolist(), want.ravel().tolist(), strict=True))
    assert len(pairs) == len(set(ids.tolist())) == len(set(want.ravel().tolist()))


def test_unbounded_symbols_group_exactly_beyond_16_bit_row_counts():
    import jax

    rng = np.random.default_rng(0)
    symbols = rng.integers(-(2**31), 2**31 - 1, size=(70_000, 2)) // 1000
    symbols[::2] = symbols[1::2]  # make duplicates
    with jax.enable_x64(True):
        ids = np.asarray(group_ids(pack_symbols(jnp.asarray(symbols), None)))
    _, want = np.unique(symbols, axis=0, return_inverse=True)
    assert len(set(zip(ids.tolist(), want.ravel().tolist(), strict=True))) == len(
        set(want.ravel().tolist())
    )


def test_parse_estimator_round_trips_and_rejects_bad_specs():
    est = parse_estimator("binning:bins=12,range=-2:0.5")
    assert est == Binning(bins=12, low=-2.0, high=0.5)
    assert parse_estimator(est.spec) == est
    with pytest.raises(ValueError, match="bins >= 2, got bins=1"):
        parse_estimator("binning:bins=1")
    with pytest.raises(ValueError, match="unknown estimator 'kde'"):
        parse_estimator("kde")
    with pytest.raises(ValueError, match="unknown parameter"):
        parse_estimator("binning:bins=3,colour=red")
    with pytest.raises(ValueError, match="low < high"):
        parse_estimator("binning:range=1:-1")
    with pytest.raises(ValueError, match="key=value"):
        parse_estimator("binning:30")


def test_mutual_information_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must have shape"):
        ip.mutual_information(np.zeros((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        ip.mutual_information(np.full((2, 1), np.nan), [0, 1])
    with pytest.raises(ValueError, match="weights"):
        ip.mutual_information(np.zeros((2, 1)), [0, 1], weights=[-1, 2])
