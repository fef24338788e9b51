import math
from collections import Counter

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import infoplane as ip
from infoplane.estimators import Binning, JointDistribution, parse_estimator
from infoplane.estimators.discrete import group_ids, pack_symbols
from infoplane.model import MLP
from infoplane.specs import parse_spec

# Forward passes compiled once per network shape, as training runs them: op by op,
# JAX would compile each operation of the network on its own (tens of programs).
_batch = eqx.filter_jit(MLP.batch)
# Group ids of symbols, compiled as the estimators run them.
_grouped = jax.jit(lambda symbols, base: group_ids(pack_symbols(symbols, base)),
                   static_argnums=1)  # fmt: skip

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
    np.testing.assert_allclose(
        got, counting_reference(a, labels, ids), rtol=0, atol=1e-9
    )


def test_agrees_with_per_sample_counting_on_trained_activations():
    # Activations of a trained seed network on 50,000 drawn samples.
    exp = ip.preset("seed", epochs=300)
    data = ip.load_task("seed10")
    model = MLP(10, exp.hidden, 2, key=jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1024, 50_000)
    _, hidden = _batch(model, jnp.asarray(data.inputs))
    for layer in hidden:
        a = np.asarray(layer)[ids]
        got = ip.mutual_information(a, data.labels[ids], inputs=ids)
        want = counting_reference(a, data.labels[ids], ids)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_inputs_built_on_the_host_equal_those_built_by_jax():
    rng = np.random.default_rng(3)
    w = rng.integers(0, 5, 40).astype(float)
    p_y = rng.dirichlet(np.ones(3), 40)  # soft labels
    host = JointDistribution.of(w, p_y)
    with jax.enable_x64(True):
        traced = jax.jit(JointDistribution.of)(jnp.asarray(w), jnp.asarray(p_y))
    for name, value in vars(host).items():
        np.testing.assert_allclose(value, getattr(traced, name), rtol=1e-14)
    p = (w[:, None] * p_y).sum(axis=0) / w.sum()
    assert float(host.h_y) == pytest.approx(-np.sum(p * np.log(p)), rel=1e-14)
    np.testing.assert_allclose(host.share, w / w.sum(), rtol=1e-15)
    np.testing.assert_array_equal(host.used, w > 0)


def test_agrees_with_scikit_learn_on_random_symbols():
    from sklearn.metrics import mutual_info_score  # 2 s to import: only where used

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
    assert i_xt == 0
    assert i_ty == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_properties(seed, units):
    # T is a function of X here, so I(T;Y) <= H(T) = I(X;T). Fixed shapes (only
    # the unit count varies) keep compilation out of the loop.
    from sklearn.metrics import mutual_info_score

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
        a = np.concatenate(
            [
                rng.uniform(low - 1, high + 1, 10_000),
                edges,
                np.nextafter(edges, -np.inf),
                np.nextafter(edges, np.inf),
                [-np.inf, np.inf],
            ]
        )
        # XLA flushes float64 subnormals (below 2.2e-308) to zero; leave them out.
        a = a[(a == 0) | (np.abs(a) > 1e-300)]
        estimator = Binning(bins=bins, low=low, high=high)
        closed = Binning(bins=bins, low=low, high=high, top="closed")
        for values in (a, a.astype(np.float32)):
            got = np.asarray(estimator.symbols(values[:, None]))[:, 0]
            np.testing.assert_array_equal(got, np.digitize(values, edges))
            # A closed top edge: only a value exactly at high moves, into bin `bins`.
            got = np.asarray(closed.symbols(values[:, None]))[:, 0]
            want = np.where(values == high, bins, np.digitize(values, edges))
            np.testing.assert_array_equal(got, want)


def test_top_edge_open_by_default_and_closed_symmetric_in_sign():
    # A tanh layer saturated towards +1: 40% of its values are exactly +1.0 in
    # float32 (docs/protocols.md §4 quotes these numbers).
    rng = np.random.default_rng(0)
    a = np.tanh(8 + 4 * rng.normal(size=(1024, 4))).astype(np.float32)
    labels = np.arange(1024) % 2
    default, closed = (
        "binning:bins=30,range=-1:1",
        "binning:bins=30,range=-1:1,top=closed",
    )
    assert parse_estimator(closed) == Binning(top="closed")
    assert parse_estimator(default) == Binning(top="open")
    measure = {
        (spec, sign): ip.mutual_information(sign * a, labels, estimator=spec)
        for spec in (default, closed)
        for sign in (1, -1)
    }
    # The notebook's rule: +1.0 is a symbol of its own, -1.0 shares bin 1.
    assert measure[default, 1][0] == pytest.approx(3.684, abs=5e-4)
    assert measure[default, -1][0] == pytest.approx(1.366, abs=5e-4)
    # Closed: +1.0 joins the top bin as -1.0 joins the bottom one; a and -a agree,
    # and a measures as -a did under the default.
    np.testing.assert_allclose(measure[closed, 1], measure[closed, -1], atol=1e-12)
    np.testing.assert_allclose(measure[closed, 1], measure[default, -1], atol=1e-12)
    # Nothing at +1.0 is clipped, either way.
    for spec in (default, closed):
        clipped = parse_estimator(spec).diagnostics(a, np.ones(1024))
        assert float(clipped["clipped_fraction"]) == 0.0
    with pytest.raises(ValueError, match="top must be open or closed"):
        parse_estimator("binning:top=half")


@pytest.mark.parametrize("units", [1, 9, 30])
def test_packing_and_grouping_are_exact(units):
    rng = np.random.default_rng(units)
    symbols = rng.integers(0, 3, size=(3000, units))
    ids = np.asarray(_grouped(jnp.asarray(symbols), 32))
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
        ids = np.asarray(_grouped(jnp.asarray(symbols), None))
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


def test_one_parser_reads_estimator_and_task_specs():
    assert parse_spec(" binning : bins = 3 , range=-1:1, ") == (
        "binning",
        {"bins": "3", "range": "-1:1"},
    )
    assert parse_spec("tishby12:gamma=2.5", "task", float) == (
        "tishby12",
        {"gamma": 2.5},
    )
    with pytest.raises(ValueError, match="task 'tishby12:gamma=x': gamma must be a"):
        ip.load_task("tishby12:gamma=x")
    with pytest.raises(ValueError, match="task parameters are key=value"):
        ip.load_task("tishby12:2")
    with pytest.raises(ValueError, match="bins is given twice"):
        parse_estimator("binning:bins=3,bins=4")
    with pytest.raises(ValueError, match="key=value, got '=3'"):
        parse_estimator("binning:=3")


def test_mutual_information_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must have shape"):
        ip.mutual_information(np.zeros((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        ip.mutual_information(np.full((2, 1), np.nan), [0, 1])
    with pytest.raises(ValueError, match="weights"):
        ip.mutual_information(np.zeros((2, 1)), [0, 1], weights=[-1, 2])
    with pytest.raises(ValueError, match=r"rows of p\(y\|x\).*row 1 is \[0.5, 0.6\]"):
        ip.mutual_information(np.zeros((2, 1)), [[0.5, 0.5], [0.5, 0.6]])
    with pytest.raises(ValueError, match="sample 1 has label 0.5"):
        ip.mutual_information(np.zeros((2, 1)), [0.0, 0.5])
    with pytest.raises(ValueError, match="labels must have shape"):
        ip.mutual_information(np.zeros((2, 1)), np.ones((2, 1, 1)))


def soft_reference(activations, p_y, inputs, weights):
    """I(X;T) and I(T;Y) by direct summation over dictionaries, each sample adding
    ``weight * p(y|x)`` to p(t, y) (nats)."""
    joint_ty, joint_xt = Counter(), Counter()
    for a, row, x, w in zip(activations, p_y, inputs, weights, strict=True):
        t = np.digitize(a, EDGES).tobytes()
        joint_xt[x, t] += w
        for y, p in enumerate(row):
            joint_ty[t, y] += w * p

    def entropy(counter, *axes):
        masses = Counter()
        for key, m in counter.items():
            masses[tuple(key[i] for i in axes)] += m
        total = sum(masses.values())
        return -sum(m / total * math.log(m / total) for m in masses.values() if m > 0)

    i_xt = entropy(joint_xt, 0) + entropy(joint_xt, 1) - entropy(joint_xt, 0, 1)
    i_ty = entropy(joint_ty, 0) + entropy(joint_ty, 1) - entropy(joint_ty, 0, 1)
    return i_xt, i_ty


def test_mutual_information_with_soft_labels_equals_direct_computation():
    rng = np.random.default_rng(11)
    a, ids = random_layer(rng, 600, 2, inputs=80)
    logits = rng.normal(size=(600, 3)) * 2
    p_y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    w = rng.integers(0, 3, 600).astype(np.float64)
    got = ip.mutual_information(a, p_y, inputs=ids, weights=w)
    want = soft_reference(a, p_y, ids, w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # Without input ids every row is its own input.
    got = ip.mutual_information(a, p_y, weights=w)
    want = soft_reference(a, p_y, np.arange(600), w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # One-hot rows are integer labels.
    labels = rng.integers(0, 3, 600)
    np.testing.assert_array_equal(
        ip.mutual_information(a, np.eye(3)[labels], inputs=ids),
        ip.mutual_information(a, labels, inputs=ids),
    )
    # A kernel bound measures each input once, with p(y|x) the weighted mean of
    # its samples' rows.
    mass = np.bincount(ids, weights=w, minlength=80)
    rows = np.stack([np.bincount(ids, w * p_y[:, c], 80) for c in range(3)], 1)
    live = mass > 0
    distinct = np.zeros((80, 2), np.float32)
    distinct[ids] = a
    kde = ip.estimators.KDE(var=0.1)
    want = kde(distinct[live], mass[live], rows[live] / mass[live, None])
    got = ip.mutual_information(a, p_y, inputs=ids, weights=w, estimator=kde)
    np.testing.assert_allclose(got, np.asarray(want), rtol=0, atol=1e-12)


# The binning family (fixed width, observed range, equal mass) and what every estimator
# shares. Shapes are kept fixed across cases so each estimator compiles once.

FAMILY = [
    ip.estimators.Binning(bins=30, low=-1.0, high=1.0),
    ip.estimators.BinningWidth(width=0.07),
    ip.estimators.BinningObserved(bins=30),
    ip.estimators.BinningAdaptive(bins=30),
    ip.estimators.KDE(var=0.1),
    ip.estimators.KDE("lower", var=0.1),
]
FAMILY_IDS = [e.spec.partition(":")[0] for e in FAMILY]


def digitize_reference(a, low, high, bins):
    """numpy.digitize on BinningObserved's edges, with the top edge inclusive."""
    edges = low + np.arange(bins + 1) * ((high - low) * (1 / bins))
    edges[-1] = high
    return np.where(a == high, bins, np.digitize(a, edges))


def equal_mass_reference(a, w, bins):
    """Per unit: floor(bins * mass strictly below the value / total mass), O(n^2)."""
    below = (w[:, None, None] * (a[:, None, :] < a[None, :, :])).sum(0)
    return np.clip(np.floor(below * bins / w.sum()), 0, bins - 1).astype(int)


def plugin_reference(symbols, w, labels):
    """Plug-in H(T) and I(T;Y) of rows of symbols with weights, by dictionaries."""
    keys = [row.tobytes() for row in np.asarray(symbols, np.int64)]
    mass_t, mass_ty, mass_y = Counter(), Counter(), Counter()
    for key, weight, label in zip(keys, w, labels, strict=True):
        mass_t[key] += weight
        mass_ty[key, label] += weight
        mass_y[label] += weight
    total = sum(w)

    def entropy(masses):
        return -sum(m / total * math.log(m / total) for m in masses.values() if m > 0)

    h_t = entropy(mass_t)
    return h_t, h_t + entropy(mass_y) - entropy(mass_ty)


def test_fixed_width_symbols_are_floor_of_value_over_width():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(size=(500, 3)) * 5, [[0.0, -0.0, 0.07]]])
    est = ip.estimators.BinningWidth(width=0.07)
    np.testing.assert_array_equal(est.symbols(a), np.floor(a / 0.07))
    a32 = a.astype(np.float32)  # compared in float64, like NumPy on the upcast values
    want = np.floor(a32.astype(np.float64) / 0.07)
    np.testing.assert_array_equal(est.symbols(a32), want)
    # On the edges k * width themselves (where numpy.floor(a / width) may say k - 1
    # when a / width rounds down), the index is k.
    k = np.arange(-5000, 5000)
    for width in (0.07, 0.1, 1 / 3):
        edges = k * width
        got = np.asarray(
            ip.estimators.BinningWidth(width=width).symbols(edges[:, None])
        )
        np.testing.assert_array_equal(got[:, 0], k)
        # Just below each edge (but not the subnormal below 0, which XLA flushes).
        below = np.where(k == 0, -1e-300, np.nextafter(edges, -np.inf))[:, None]
        got = np.asarray(ip.estimators.BinningWidth(width=width).symbols(below))
        np.testing.assert_array_equal(got[:, 0], k - 1)
    # Values beyond the int32 range are clipped to it (documented).
    huge = np.array([[1e300, -1e300, 3.0]])
    got = np.asarray(ip.estimators.BinningWidth(width=1.0).symbols(huge))
    assert got.tolist() == [[2**31 - 1, -(2**31), 3]]


def test_fixed_width_keeps_large_relu_values_apart():
    # The ReLU failure of fixed-range binning: values >= 1 all lumped on [-1, 1].
    a = np.linspace(0, 5, 64)[:, None]
    labels = np.arange(64) % 2
    fixed = ip.mutual_information(a, labels, estimator="binning:bins=30,range=-1:1")
    wide = ip.mutual_information(a, labels, estimator="binning-width:width=0.07")
    assert wide[0] == pytest.approx(math.log(64), abs=1e-12)
    assert fixed[0] < wide[0] - 1


def test_observed_range_equals_binning_on_the_observed_range():
    rng = np.random.default_rng(1)
    a = np.maximum(rng.normal(size=(400, 4)) * 2, 0)  # relu-like, many exact zeros
    w = rng.integers(0, 3, 400).astype(np.float64)
    a[w == 0] *= 10  # inputs of zero weight lie outside and set no range
    labels = rng.integers(0, 3, 400)
    low, high = a[w > 0].min(), a[w > 0].max()
    want = digitize_reference(a, low, high, 20)
    est = ip.estimators.BinningObserved(bins=20)
    got = np.asarray(est.symbols(a, w))
    live = w > 0
    np.testing.assert_array_equal(got[live], want[live])
    assert got[live].min() >= 1
    assert got[live].max() == 20
    # Binning on the same range differs only in putting the maximum in its own bin.
    fixed = np.asarray(Binning(bins=20, low=low, high=high).symbols(a))
    np.testing.assert_array_equal(np.minimum(fixed, 20)[live], got[live])
    i_xt, i_ty = est(a, w, np.eye(3)[labels])
    want_xt, want_ty = plugin_reference(want[live], w[live], labels[live])
    assert float(i_xt) == pytest.approx(want_xt, abs=1e-12)
    assert float(i_ty) == pytest.approx(want_ty, abs=1e-12)


def test_observed_range_of_a_constant_layer_is_one_bin():
    est = ip.estimators.BinningObserved(bins=30)
    a = np.full((16, 3), 0.25)
    assert np.unique(np.asarray(est.symbols(a))).tolist() == [1]
    labels = np.eye(2)[np.arange(16) % 2]
    assert tuple(map(float, est(a, np.ones(16), labels))) == (0.0, 0.0)


def test_equal_mass_matches_quantile_reference_and_balances_bins():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(600, 3)) ** 3  # continuous, skewed
    w = rng.uniform(0, 2, 600)
    w[::10] = 0
    est = ip.estimators.BinningAdaptive(bins=12)
    got = np.asarray(est.symbols(a, w))
    np.testing.assert_array_equal(got, equal_mass_reference(a, w, 12))
    for u in range(3):
        mass = np.bincount(got[:, u], weights=w, minlength=12) / w.sum()
        # Each bin within one input's mass of 1/bins.
        assert np.all(np.abs(mass - 1 / 12) <= w.max() / w.sum() + 1e-12)


def test_equal_mass_bins_are_exact_at_quantile_boundaries():
    # 237 equal inputs in 3 bins: 3 * 79 / 237 = 1 exactly, but 237 * fl(1 / 237) < 1,
    # so dividing by multiplying with the reciprocal (as XLA does) would be one off.
    n = 237
    a = np.arange(float(n))[:, None]
    got = np.asarray(ip.estimators.BinningAdaptive(bins=3).symbols(a, np.ones(n)))
    np.testing.assert_array_equal(got[:, 0], np.arange(n) * 3 // n)


def test_equal_mass_puts_ties_together():
    rng = np.random.default_rng(3)
    a = np.round(rng.normal(size=(600, 2)), 1)  # many ties
    a[:50, 0] = -0.0  # negative zero ties with zero
    a[50:100, 0] = 0.0
    w = rng.integers(0, 4, 600).astype(np.float64)
    got = np.asarray(ip.estimators.BinningAdaptive(bins=7).symbols(a, w))
    np.testing.assert_array_equal(got, equal_mass_reference(a, w, 7))
    for u in range(2):
        for value in np.unique(a[:, u]):
            assert len(set(got[a[:, u] == value, u].tolist())) == 1


def family_layer(seed):
    """Random activations, weights (a quarter zero) and 2-class labels, all float32.

    Every family test uses this shape and these dtypes, so each estimator compiles
    once for all of them.
    """
    rng = np.random.default_rng(seed)
    a = np.tanh(rng.normal(size=(256, 8)) * 2).astype(np.float32)
    a[::7] = a[1::7][: len(a[::7])]  # some repeated rows
    w = rng.integers(0, 4, 256).astype(np.float32)
    labels = rng.integers(0, 2, 256)
    return a, w, labels, np.eye(2, dtype=np.float32)[labels]


@pytest.mark.parametrize("est", FAMILY, ids=FAMILY_IDS)
def test_family_limits_constant_and_identity(est):
    # T = X (distinct inputs, separated by every estimator): I(X;T) = H(X) and
    # I(T;Y) = H(Y); a constant layer gives 0 for both.
    x = np.arange(256)
    bits = (((x[:, None] >> np.arange(7, -1, -1)) & 1) - 0.5).astype(np.float32)
    w = (1 + x % 5).astype(np.float32)
    p = w / w.sum(dtype=np.float64)
    labels = np.eye(2, dtype=np.float32)[x % 2]
    h_x = -np.sum(p * np.log(p))
    h_y = -np.sum((p @ labels) * np.log(p @ labels))
    if isinstance(est, ip.estimators.KDE):
        est = ip.estimators.KDE(est.bound, var=1e-4)
    i_xt, i_ty = est(bits, w, labels)
    assert float(i_xt) == pytest.approx(h_x, abs=1e-9)
    assert float(i_ty) == pytest.approx(h_y, abs=1e-9)
    i_xt, i_ty = est(np.full((256, 8), 0.3, np.float32), w, labels)
    assert abs(float(i_xt)) < 1e-12
    assert abs(float(i_ty)) < 1e-12


@pytest.mark.parametrize("est", FAMILY, ids=FAMILY_IDS)
def test_family_invariants(est):
    a, w, labels, p_y = family_layer(4)
    base = np.asarray(est(a, w, p_y))
    # At most ln N (N inputs of weight > 0), and I(T;Y) at most ln 2.
    assert base[0] <= math.log(np.count_nonzero(w)) + 1e-12
    assert base[1] <= math.log(2) + 1e-12
    # Permuting inputs and units changes nothing.
    rng = np.random.default_rng(4)
    rows, units = rng.permutation(256), rng.permutation(8)
    again = est(a[rows][:, units], w[rows], p_y[rows])
    np.testing.assert_allclose(np.asarray(again), base, rtol=0, atol=1e-10)
    # Inputs of zero weight contribute nothing, whatever their activations.
    moved = a.copy()
    moved[w == 0] = rng.normal(size=(np.count_nonzero(w == 0), 8)) * 9
    again = est(moved, w, p_y)
    np.testing.assert_allclose(np.asarray(again), base, rtol=0, atol=1e-10)
    # Bits are nats / ln 2, through the public function.
    bits = ip.mutual_information(a, labels, weights=w, estimator=est.spec, units="bits")
    np.testing.assert_allclose(np.asarray(bits) * math.log(2), base, atol=1e-10)


@pytest.mark.parametrize("est", FAMILY, ids=FAMILY_IDS)
def test_family_runs_under_jit_and_vmap_over_layers(est):
    import jax

    layers = [family_layer(seed)[0] for seed in (5, 6, 7)]
    _, w, _, p_y = family_layer(5)
    stack = np.stack(layers)
    i_xt, i_ty = jax.jit(jax.vmap(est, in_axes=(0, None, None)))(stack, w, p_y)
    diag = jax.jit(jax.vmap(est.diagnostics, in_axes=(0, None)))(stack, w)
    for k, layer in enumerate(layers):
        want = np.asarray(est(layer, w, p_y))
        np.testing.assert_allclose([i_xt[k], i_ty[k]], want, rtol=0, atol=1e-9)
        for name, value in est.diagnostics(layer, w).items():
            assert float(diag[name][k]) == pytest.approx(float(value), abs=1e-12)


@pytest.mark.parametrize("est", FAMILY, ids=FAMILY_IDS)
def test_family_measures_layers_of_several_widths_at_once(est):
    # What the training loop calls: every layer of a network in one call (binnings
    # batch the layers whose symbols pack into the same number of words; 13 units of
    # 30 bins need two words, 8 and below one). It must equal layer by layer.
    a, w, _, p_y = family_layer(8)
    wide = np.concatenate([a, family_layer(9)[0][:, :5]], axis=1)
    layers = [a, a[:, 4:], wide, wide[:, 1:]]
    # The distribution built on the host with NumPy, as training does; measure
    # builds it with JAX inside its compiled function.
    together = est.measure_layers(layers, JointDistribution.of(w, p_y))
    for layer, (i_xt, i_ty, diagnostics) in zip(layers, together, strict=True):
        alone = est.measure(layer, w, p_y)
        assert float(i_xt) == pytest.approx(float(alone[0]), abs=1e-12)
        assert float(i_ty) == pytest.approx(float(alone[1]), abs=1e-12)
        assert diagnostics.keys() == alone[2].keys()
        for name, value in alone[2].items():
            assert float(diagnostics[name]) == pytest.approx(float(value), abs=1e-12)


def test_layers_counted_together_keep_their_own_word_widths():
    # Four inputs: 12 units of 5 bits fit in one word beside two 2-bit row indices.
    # Layer A (14 units) packs its last 2 units in a 10-bit word, layer B (13 units)
    # its last one in a 5-bit word. Rows 0 and 1 of A differ in both words such that
    # a shift of only 5 bits would make (id 1, word 0) and (id 0, word 32) collide.
    def value(symbol):  # an activation that 30 bins on [-1, 1] give this symbol
        return -1.5 if symbol == 0 else -1 + (symbol - 0.5) / 15

    symbols = np.ones((4, 14), int)
    symbols[0, 12:] = [0, 1]
    symbols[1, 0], symbols[1, 12:] = 2, [0, 0]
    symbols[2, 0], symbols[3, 0] = 3, 4
    layer_a = np.vectorize(value)(symbols).astype(np.float32)
    layer_b = layer_a[:, :13]
    w, p_y = np.ones(4, np.float32), np.eye(2, dtype=np.float32)[[0, 1, 0, 1]]
    est = Binning()
    np.testing.assert_array_equal(np.asarray(est.symbols(layer_a)), symbols)
    (i_xt, _, diagnostics), _ = est.measure_layers(
        [layer_a, layer_b], JointDistribution.of(w, p_y)
    )
    assert float(i_xt) == pytest.approx(math.log(4), abs=1e-12)
    assert float(diagnostics["occupied_bins"]) == 4


@pytest.mark.parametrize("est", FAMILY, ids=FAMILY_IDS)
def test_family_specs_round_trip(est):
    assert parse_estimator(est.spec) == est
    assert est.spec.partition(":")[0] in ip.estimators.ESTIMATORS


def test_specs_of_new_binnings():
    est = ip.estimators
    assert est.BinningWidth(width=0.07).spec == "binning-width:width=0.07"
    assert est.BinningObserved(bins=30).spec == "binning-observed:bins=30"
    assert est.BinningAdaptive(bins=30).spec == "binning-adaptive:bins=30"
    odd = est.BinningWidth(width=0.123456789)
    assert parse_estimator(odd.spec) == odd
    exact = Binning(bins=7, low=-0.123456789, high=2.0)
    assert parse_estimator(exact.spec) == exact
    assert parse_estimator("binning-adaptive:bins=8") == est.BinningAdaptive(bins=8)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ip.estimators.BinningWidth(width=0), "finite width > 0, got width=0"),
        (lambda: ip.estimators.BinningWidth(width=-0.1), "got width=-0.1"),
        (lambda: ip.estimators.BinningWidth(width=np.inf), "got width=inf"),
        (lambda: ip.estimators.BinningWidth(width="0.1"), "got width='0.1'"),
        (
            lambda: ip.estimators.BinningObserved(bins=1),
            "integer bins >= 2, got bins=1",
        ),
        (lambda: ip.estimators.BinningObserved(bins=2.5), "got bins=2.5"),
        (
            lambda: ip.estimators.BinningAdaptive(bins=0),
            "binning-adaptive needs an integer",
        ),
        (lambda: ip.estimators.BinningAdaptive(bins=True), "got bins=True"),
        (lambda: parse_estimator("binning-width:width=-1"), "got width=-1"),
        (lambda: parse_estimator("binning-observed:bins=x"), "binning-observed:bins=x"),
        (lambda: parse_estimator("binning-adaptive:range=0:1"), "unknown parameter"),
    ],
)
def test_new_binnings_reject_bad_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_binning_diagnostics_on_relu_like_activations():
    # Hand count, range -1:1 (values above 1 and below -1 are clipped):
    # row 0: 0 of 2 clipped, row 1: 2 of 2, row 2: 0 of 2 (1.0 is the top edge itself)
    # and weight 0, row 3: 1 of 2. Fraction (1*0 + 2*1 + 0*0 + 1*0.5) / 4 = 0.625.
    a = np.array([[0.0, 0.5], [1.5, 2.0], [0.2, 1.0], [-3.0, 0.1]])
    w = np.array([1.0, 2.0, 0.0, 1.0])
    diag = Binning(bins=30, low=-1.0, high=1.0).diagnostics(a, w)
    assert set(diag) == {"occupied_bins", "clipped_fraction"}
    assert float(diag["clipped_fraction"]) == pytest.approx(0.625, abs=1e-15)
    assert float(diag["occupied_bins"]) == 3
    # Rows 1 to 3 of a ReLU layer lumped into the overflow bin: 2 symbols, not 4.
    lumped = np.array([[0.0, 0.0], [1.5, 1.5], [3.0, 3.0], [1.0, 1.0]])
    diag = Binning(bins=30, low=-1.0, high=1.0).diagnostics(lumped, np.ones(4))
    assert float(diag["occupied_bins"]) == 2
    assert float(diag["clipped_fraction"]) == pytest.approx(0.5, abs=1e-15)
    wide = ip.estimators.BinningWidth(width=0.07).diagnostics(lumped, np.ones(4))
    assert float(wide["occupied_bins"]) == 4
    assert float(wide["clipped_fraction"]) == 0.0
    # Beyond width * 2**31 the int32 bin indices clip: 1e30 and 2e30 share a bin,
    # and that is said rather than measured silently as one symbol.
    huge = np.array([[0.0], [1e30], [2e30], [-1e30]])
    wide = ip.estimators.BinningWidth(width=0.07).diagnostics(huge, np.ones(4))
    assert float(wide["occupied_bins"]) == 3
    assert float(wide["clipped_fraction"]) == pytest.approx(0.75, abs=1e-15)
    for est in (
        ip.estimators.BinningObserved(bins=4),
        ip.estimators.BinningAdaptive(bins=4),
    ):
        assert set(est.diagnostics(a, w)) == {"occupied_bins"}
    # Two equal-mass bins per unit: rows 0 and 3 share (0, 0), row 1 is (1, 1).
    halves = ip.estimators.BinningAdaptive(bins=2).diagnostics(a, w)
    assert float(halves["occupied_bins"]) == 2
    assert ip.estimators.KDE().diagnostics(a, w) == {}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.5, 3.0, 1e6]))
def test_equal_mass_and_observed_range_match_references(seed, scale):
    # Fixed shapes and bins: one compilation for all examples. Rounding makes ties.
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=(64, 3)) * scale, 1)
    w = rng.integers(0, 4, 64).astype(np.float64)
    w[0] = 1.0
    got = np.asarray(ip.estimators.BinningAdaptive(bins=5).symbols(a, w))
    np.testing.assert_array_equal(got, equal_mass_reference(a, w, 5))
    live = w > 0
    got = np.asarray(ip.estimators.BinningObserved(bins=5).symbols(a, w))[live]
    want = digitize_reference(a, a[live].min(), a[live].max(), 5)[live]
    np.testing.assert_array_equal(got, want)


def test_observed_range_scope_and_given_range():
    run = parse_estimator("binning-observed:bins=4,scope=run,range=0:8")
    assert run.spec == "binning-observed:bins=4,scope=run,range=0:8"
    a = np.array([[0.0], [1.0], [2.0], [4.0]])
    # Bins of width 2 on [0, 8]: 0 and 1 share bin 1, 2 is bin 2, 4 is bin 3.
    np.testing.assert_array_equal(np.asarray(run.symbols(a)).ravel(), [1, 1, 2, 3])
    assert parse_estimator("binning-observed:scope=run").unresolved
    with pytest.raises(ValueError, match="scope must be layer or run"):
        parse_estimator("binning-observed:scope=network")
    with pytest.raises(ValueError, match="only with scope=run"):
        parse_estimator("binning-observed:range=0:1")


def _dictionary_mi(keys, labels, weights):
    """I(X;T) = H(T) and I(T;Y) of distinct inputs with masses ``weights``, by
    counting the keys in dictionaries (nats)."""
    p_t, p_ty, p_y = Counter(), Counter(), Counter()
    for k, y, w in zip(keys, labels.tolist(), weights.tolist(), strict=True):
        p_t[k] += w
        p_ty[k, y] += w
        p_y[y] += w

    def entropy(p):
        return -sum(v * math.log(v) for v in p.values() if v > 0)

    return entropy(p_t), entropy(p_t) + entropy(p_y) - entropy(p_ty)


@pytest.mark.parametrize(("activation", "quantize"), [("tanh", "8bit"),
                                                      ("sigmoid", "4bit")])  # fmt: skip
def test_quantized_equals_dictionary_count_of_quantised_vectors(activation, quantize):
    data = ip.load_task("tishby12")
    bits = ip.model.QUANTIZE[quantize]
    low, high = ip.model.quantize_range(activation)
    model = MLP(12, (10, 7, 5), 2, activation, key=jax.random.PRNGKey(3),
                         quantize=quantize)  # fmt: skip
    _, hidden = _batch(model, jnp.asarray(data.inputs * 2.0 - 1.0))
    est = parse_estimator(f"quantized:bits={bits},range={low:g}:{high:g}")
    assert est == ip.estimators.Quantized(bits=bits, low=low, high=high)
    weights = np.full(len(data.labels), 1 / len(data.labels))
    for layer in hidden:
        a = np.asarray(layer)
        # The quantised float vectors themselves are the symbols: no grid involved.
        want = _dictionary_mi([row.tobytes() for row in a], data.labels, weights)
        got = ip.mutual_information(a, data.labels, weights=weights, estimator=est)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        symbols = np.asarray(est.symbols(a))
        assert symbols.min() >= 0
        assert symbols.max() < 2**bits
        assert len({r.tobytes() for r in symbols}) == len({r.tobytes() for r in a})


@pytest.mark.unchecked_types
def test_quantized_spec_and_its_grid():
    assert parse_estimator("quantized").spec == "quantized"
    assert parse_estimator("quantized").from_network
    spec = "quantized:bits=8,range=0:1"
    assert parse_estimator(spec).spec == spec
    for bad in (
        "quantized:range=0:1",
        "quantized:bits=0",
        "quantized:bits=8,range=1:0",
    ):
        with pytest.raises(ValueError, match="quantized"):
            parse_estimator(bad)
    with pytest.raises(ValueError, match="quantised network"):
        ip.mutual_information(np.zeros((4, 2)), np.arange(4) % 2, estimator="quantized")
    with pytest.raises(ValueError, match="quantize=8bit"):
        ip.Experiment(estimators=("quantized",))
    with pytest.raises(ValueError, match="no fixed range"):
        ip.Experiment(activation="elu", quantize="8bit")
    with pytest.raises(ValueError, match="quantize must be one of"):
        ip.Experiment(quantize="2bit")
    with pytest.raises(ValueError, match="quantize must be text"):
        ip.Experiment(quantize=8)
    exp = ip.Experiment(quantize="8bit", estimators=("quantized",))
    assert exp.quantize == "8bit"
