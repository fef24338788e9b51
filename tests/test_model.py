import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoplane.estimators.base import JointDistribution
from infoplane.estimators.diagnostics import layer_statistics
from infoplane.model import ACTIVATIONS, MLP, quantize, quantize_range

# Forward passes compiled once per network shape, as training runs them: op by op,
# JAX would compile each operation of the network on its own (tens of programs).
_batch = eqx.filter_jit(MLP.batch)
_call = eqx.filter_jit(MLP.__call__)
_vmapped = eqx.filter_jit(lambda model, x: jax.vmap(model)(x))


def test_per_example_call_returns_logits_and_every_hidden_layer():
    model = MLP(10, (8, 6, 4), 2, key=jax.random.PRNGKey(0))
    logits, hidden = _call(model, jnp.ones(10))
    assert logits.shape == (2,)
    assert [h.shape for h in hidden] == [(8,), (6,), (4,)]
    assert all(np.all(np.abs(np.asarray(h)) < 1) for h in hidden)  # tanh range


def test_batch_equals_vmap_of_the_per_example_call():
    model = MLP(10, (8, 6, 4), 2, key=jax.random.PRNGKey(1))
    x = jax.random.normal(jax.random.PRNGKey(2), (64, 10))
    logits, hidden = _batch(model, x)
    ref_logits, ref_hidden = _vmapped(model, x)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-6)
    for a, b in zip(hidden, ref_hidden, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_initialisation_is_equinox_default_distribution():
    # Uniform on ±1/sqrt(fan_in), as eqx.nn.Linear: bounds hold and the spread
    # matches the uniform's standard deviation 1/sqrt(3 fan_in) to within 5%.
    model = MLP(100, (400,), 2, key=jax.random.PRNGKey(0))
    w = np.asarray(model.layers[0].weight)
    assert w.dtype == np.float32
    assert w.shape == (400, 100)
    assert np.abs(w).max() <= 0.1
    assert w.std() == pytest.approx(0.1 / np.sqrt(3), rel=0.05)
    b = np.asarray(model.layers[1].bias)
    assert np.abs(b).max() <= 1 / np.sqrt(400)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_runs(name):
    model = MLP(3, (5,), 2, activation=name, key=jax.random.PRNGKey(0))
    logits, (h,) = _call(model, jnp.array([1.0, -2.0, 3.0]))
    assert np.all(np.isfinite(logits))
    assert h.shape == (5,)


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(3, (5,), 2, activation="swish", key=jax.random.PRNGKey(0))


def test_layer_statistics_equal_a_layer_by_layer_computation():
    rng = np.random.default_rng(0)
    tanh_layer = np.tanh(rng.normal(size=(50, 5)) * 4).astype(np.float32)
    tanh_layer[:, 2] = 1.0  # a unit stuck at the bound: dead and saturated
    relu_layer = np.maximum(rng.normal(size=(50, 3)), 0).astype(np.float32)
    relu_layer[:, 0] = 0.0  # a dead relu unit
    weights = rng.integers(0, 3, 50).astype(np.float32)
    stats = layer_statistics(  # feature-major: units, then inputs
        [tanh_layer.T, relu_layer.T],
        JointDistribution.of(weights, np.ones((50, 1))),
        [(-1.0, 1.0), None],
    )
    used = weights > 0
    near = (np.abs(tanh_layer) > 0.99).mean(axis=1)
    assert float(stats["saturation"][0]) == pytest.approx(
        (weights * near).sum() / weights.sum(), rel=1e-6
    )
    assert np.isnan(stats["saturation"][1])
    for i, a in enumerate([tanh_layer, relu_layer]):
        seen = a[used]
        constant = (seen.max(axis=0) == seen.min(axis=0)).mean()
        assert float(stats["dead_fraction"][i]) == pytest.approx(constant)
        assert float(stats["activation_min"][i]) == seen.min()
        assert float(stats["activation_max"][i]) == seen.max()
    assert float(stats["dead_fraction"][1]) >= 1 / 3


@pytest.mark.parametrize(
    ("activation", "quantize", "bits"),
    [("tanh", "8bit", 8), ("hardtanh", "8bit", 8), ("sigmoid", "4bit", 4)],
)
def test_quantised_forward_pass_has_at_most_2_to_the_bits_levels(
    activation, quantize, bits
):
    model = MLP(12, (64, 32), 2, activation, key=jax.random.PRNGKey(0),
                quantize=quantize)  # fmt: skip
    x = jax.random.normal(jax.random.PRNGKey(1), (4096, 12)) * 3
    _, hidden = _batch(model, x)
    low, high = quantize_range(activation)
    step = (high - low) / (2**bits - 1)
    for layer in hidden:
        a = np.asarray(layer, np.float64)
        j = (a - low) / step
        np.testing.assert_allclose(j, np.round(j), atol=1e-3)  # on the grid
        assert a.min() >= low
        assert a.max() <= high
        for unit in a.T:
            assert len(np.unique(unit)) <= 2**bits
    # Unquantised, the same network is the plain one, bit for bit.
    plain = MLP(12, (64, 32), 2, activation, key=jax.random.PRNGKey(0))
    again = MLP(12, (64, 32), 2, activation, key=jax.random.PRNGKey(0),
                quantize="none")  # fmt: skip
    for p, q in zip(_batch(plain, x)[1], _batch(again, x)[1], strict=True):
        np.testing.assert_array_equal(p, q)


def test_quantisation_passes_gradients_straight_through():
    # Compiled, as training computes gradients: taken op by op, JAX compiles each
    # operation of the forward and backward pass on its own.
    # 100 points: 101 would put one at 0, exactly between two levels, where the
    # compiled and the op-by-op roundings may pick different neighbours.
    x = jnp.linspace(-0.99, 0.99, 100)
    grad = jax.jit(jax.grad(lambda v: jnp.sum(quantize(v, 8, -1.0, 1.0) * v)))(x)
    # d/dv [q(v) v] with dq/dv = 1 straight through: q(v) + v.
    np.testing.assert_allclose(grad, quantize(x, 8, -1.0, 1.0) + x, atol=1e-6)

    model = MLP(12, (10, 7), 2, "tanh", key=jax.random.PRNGKey(0), quantize="8bit")
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 12))

    def loss(m):
        return jnp.mean(m.batch(x)[0] ** 2)

    grads = eqx.filter_jit(jax.grad(loss))(model)
    for layer in grads.layers:  # every layer, the first one too: through both grids
        assert np.all(np.isfinite(layer.weight))
        assert np.abs(np.asarray(layer.weight)).sum() > 0


def test_quantisation_refuses_activations_with_no_range():
    with pytest.raises(ValueError, match="no fixed range"):
        MLP(3, (4,), 2, "elu", key=jax.random.PRNGKey(0), quantize="8bit")
    with pytest.raises(ValueError, match="unknown quantize"):
        MLP(3, (4,), 2, "tanh", key=jax.random.PRNGKey(0), quantize="3bit")
    assert quantize_range("tanh") == (-1.0, 1.0)
    with pytest.raises(ValueError, match="8bit-layer"):
        quantize_range("relu")  # relu has no fixed range: its own, per layer
