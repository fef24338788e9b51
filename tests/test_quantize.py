"""Quantisation on each layer's observed range (quantize="8bit-layer"), the rule of
Lorenzen et al.'s code, and its exact estimator quantized:bits=8,range=layer."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoplane as ip
from infoplane.estimators.spec import parse_estimator
from infoplane.model import MLP, QUANTIZE, layer_range, quantize_is_layer

# Forward passes compiled once per network shape, as training runs them: op by op,
# JAX would compile each operation of the network on its own (tens of programs).
_batch = eqx.filter_jit(MLP.batch)


def _plain_and_quantised(activation, quantize, x):
    """The hidden layers of the same network, unquantised and quantised."""
    key = jax.random.PRNGKey(0)
    plain = MLP(12, (10, 7, 5), 2, activation, key=key)
    quantised = MLP(12, (10, 7, 5), 2, activation, key=key, quantize=quantize)
    fn = ip.model.ACTIVATIONS[activation].fn
    # Layer by layer: the quantised layer's input, through the plain activation.
    h, pairs = x.T, []
    for layer, q in zip(plain.layers[:-1], _batch(quantised, x)[1], strict=True):
        pairs.append((np.asarray(fn(layer.weight @ h + layer.bias[:, None]).T), q))
        h = q.T
    return pairs


@pytest.mark.parametrize(
    ("activation", "quantize"), [("relu", "8bit-layer"), ("tanh", "4bit-layer")]
)
def test_layer_range_spans_every_value_with_2_to_the_bits_levels(activation, quantize):
    bits = QUANTIZE[quantize]
    assert quantize_is_layer(quantize)
    x = jax.random.normal(jax.random.PRNGKey(1), (500, 12)) * 3
    for before, after in _plain_and_quantised(activation, quantize, x):
        low, high = min(before.min(), 0.0), max(before.max(), 0.0)
        assert (float(layer_range(jnp.asarray(before))[0]), high) == (low, high)
        step = (high - low) / (2**bits - 1)
        a = np.asarray(after, np.float64)
        j = (a - low) / step
        np.testing.assert_allclose(j, np.round(j), atol=1e-3)  # on the grid
        assert len(np.unique(a)) <= 2**bits
        # Nothing clipped: every value within half a level of its own, the largest
        # relu value is the top level (on a fixed 0..1 grid it would be 1).
        assert np.abs(a - before).max() <= step / 2 + 1e-5
        np.testing.assert_allclose(a.max(), high, rtol=1e-6)
        np.testing.assert_allclose(a.min(), low, rtol=1e-6, atol=1e-7)
    if activation == "relu":
        assert high > 1  # the range follows the values past the old 0..1 grid


def test_layer_range_trains_straight_through_and_needs_a_batch():
    model = MLP(12, (10, 7), 2, "relu", key=jax.random.PRNGKey(0),
                quantize="8bit-layer")  # fmt: skip
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 12))
    grads = eqx.filter_jit(jax.grad(lambda m: jnp.mean(m.batch(x)[0] ** 2)))(model)
    for layer in grads.layers:
        assert np.all(np.isfinite(layer.weight))
        assert np.abs(np.asarray(layer.weight)).sum() > 0
    with pytest.raises(ValueError, match="batch"):
        model(x[0])  # one example has no range of its own
    # A layer that is constant 0 (all relu units dead) stays 0, not NaN.
    q = ip.model.quantize(jnp.zeros(5), 8, *layer_range(jnp.zeros(5)))
    np.testing.assert_array_equal(q, np.zeros(5))


def test_quantized_on_the_layer_range_is_exact_on_any_subset():
    data = ip.load_task("tishby12")
    model = MLP(12, (10, 7, 5), 2, "relu", key=jax.random.PRNGKey(3),
                quantize="8bit-layer")  # fmt: skip
    _, hidden = _batch(model, jnp.asarray(data.inputs * 2.0 - 1.0))
    est = parse_estimator("quantized:bits=8,range=layer")
    assert est == ip.estimators.Quantized(bits=8, layer=True)
    assert est.spec == "quantized:bits=8,range=layer"
    subset = np.random.default_rng(0).choice(len(data.labels), 300, replace=False)
    for layer in hidden:
        for rows in (slice(None), subset):  # the grid's ends, or inside them
            a = np.asarray(layer)[rows]
            symbols = np.asarray(est.symbols(a))
            assert symbols.min() >= 0
            assert symbols.max() < 2**8
            # One symbol per distinct quantised vector: no two levels merged.
            distinct = {r.tobytes() for r in a}
            assert len({r.tobytes() for r in symbols}) == len(distinct)
    weights = np.full(len(data.labels), 1 / len(data.labels))
    diagnostics = est.diagnostics(np.asarray(hidden[0]), weights)
    assert "clipped_fraction" not in diagnostics  # its range spans every value


def test_quantized_on_a_fixed_grid_reports_the_clipped_share():
    est = ip.estimators.Quantized(bits=2, low=0.0, high=1.0)
    a = np.array([[0.0, 0.5], [1.0, 2.0], [3.0, 0.2], [0.4, 1.0]])
    clipped = est.diagnostics(a, np.full(4, 0.25))["clipped_fraction"]
    assert float(clipped) == pytest.approx(2 / 8)  # 2.0 and 3.0; 1.0 is the top


def test_config_refuses_a_fixed_grid_for_relu_and_fills_in_the_layer_grid():
    with pytest.raises(ValueError, match="8bit-layer"):
        ip.Experiment(activation="relu", quantize="8bit")
    exp = ip.Experiment(activation="relu", quantize="4bit-layer",
                        estimators=("quantized",))  # fmt: skip
    assert exp.quantize == "4bit-layer"
    for bad in ("quantized:range=layer", "quantized:bits=8,range=layer:1"):
        with pytest.raises(ValueError, match="range|float"):
            parse_estimator(bad)
    with pytest.raises(ValueError, match="not both"):
        ip.estimators.Quantized(bits=8, low=0.0, high=1.0, layer=True)
    with pytest.raises(ValueError, match="output is not quantised"):
        ip.preset("lorenzen2022", measure_output=True)


def test_the_output_layer_measured_rounded_on_the_layer_range_rule():
    # The README's comparison with Lorenzen et al.'s output layer: the output is not
    # quantised in training, so it is measured by naming the grid rule explicitly;
    # the hidden layers' values are those of the preset's own estimator.
    short = dict(seeds=2, epochs=30, measure="log:3")
    own = ip.run(ip.preset("lorenzen2022", **short))
    grid = "quantized:bits=8,range=layer"
    both = ip.run(
        ip.preset("lorenzen2022", measure_output=True, estimators=(grid,), **short)
    )
    assert both.layers[-1] == "output"
    np.testing.assert_array_equal(both.i_xt[:, :, :-1], own.i_xt)
    np.testing.assert_array_equal(both.i_ty[:, :, :-1], own.i_ty)
    # The softmax output rounded to at most 256 levels per unit, on all 4096 inputs:
    # at most H(X) = 12 bits, and above 0 (the network's outputs vary).
    output = both.i_xt[:, :, -1, 0]
    assert np.all(output > 0)
    assert np.all(output <= 12 + 1e-9)


def test_a_network_measured_on_its_own_fixed_grid_has_nothing_clipped():
    # hardtanh at lr=1 saturates at once: many values sit on the top level, which the
    # compiled forward pass must put at 1.0 exactly. An ulp above (XLA's fused
    # multiply-add did that), the estimator on the same grid reported up to 11% of
    # the values clipped, and the run warned.
    exp = ip.preset(
        "seed", epochs=40, measure="every:20", hidden=(6, 4), activation="hardtanh",
        lr=1.0, quantize="8bit", estimators=("quantized:bits=8,range=-1:1",),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ip.ClippingWarning)
        result = ip.run(exp)
    assert np.max(result.arrays["activation_max"]) == 1.0  # the top level is reached
    assert np.all(result.arrays["clipped_fraction"] == 0)
