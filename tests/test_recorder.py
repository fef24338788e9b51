"""The recorder: a user's own network and loop, measured as infoplane measures."""

import math
import warnings

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import infoplane as ip
from infoplane import recorder
from infoplane.cli import main

WIDTH = "binning-width:width=0.25"
KDE = "kde-upper:var=0.1"


def data(n=60, seed=0):
    """Inputs with repeats (a 2x3 'image' per sample) and labels: n samples of 12
    distinct inputs, each label a noisy function of the input."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(12, 2, 3))
    ids = np.concatenate([np.arange(12), rng.integers(0, 12, n - 12)])
    labels = (patterns[ids, 0, 0] > 0).astype(int) ^ (rng.random(n) < 0.2)
    return patterns[ids], labels, ids


def network(x, weights):
    """Two deterministic layers of the inputs: per-sample activations."""
    h1 = np.tanh(x.reshape(len(x), -1) @ weights[0])
    return {"h1": h1, "h2": np.tanh(h1 @ weights[1])}


@pytest.fixture
def weights():
    rng = np.random.default_rng(1)
    return [rng.normal(size=(6, 5)), rng.normal(size=(5, 3))]


def test_records_equal_mutual_information_over_samples(weights):
    x, y, ids = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
    acts = network(x, weights)
    plane.record(0, acts)
    result = plane.result()
    assert result.layers == ("h1", "h2")
    assert result.estimators == (WIDTH, KDE)
    for layer, a in enumerate(acts.values()):
        for e, spec in enumerate((WIDTH, KDE)):
            expected = ip.mutual_information(a, y, inputs=ids, estimator=spec)
            got = result.i_xt[0, 0, layer, e], result.i_ty[0, 0, layer, e]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_repeated_inputs_are_one_input_with_a_weight(weights):
    x, y, ids = data()
    plane = ip.InformationPlane(x, y)
    # Distinct inputs in order of first occurrence: here the first 12 samples.
    np.testing.assert_array_equal(plane.first_samples, np.arange(12))
    np.testing.assert_array_equal(plane.distinct_inputs, x[:12])
    counts = np.bincount(ids)
    assert plane.h_x == pytest.approx(-np.sum(counts / 60 * np.log(counts / 60)))
    # I(X;Y) by counting (input, label) pairs.
    joint = np.zeros((12, 2))
    np.add.at(joint, (ids, y), 1 / 60)
    p_x, p_y = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    i_xy = np.sum(joint[nz] * np.log(joint[nz] / (p_x @ p_y)[nz]))
    assert plane.i_xy == pytest.approx(i_xy, abs=1e-12)
    # The distinct inputs' activations give the same numbers as every sample's.
    per_sample, distinct = ip.InformationPlane(x, y), ip.InformationPlane(x, y)
    per_sample.record(3, network(x, weights))
    distinct.record(3, network(plane.distinct_inputs, weights))
    np.testing.assert_array_equal(per_sample.result().i_xt, distinct.result().i_xt)
    # Input ids serve as inputs; every sample distinct without inputs.
    by_id = ip.InformationPlane(ids, y)
    assert by_id.h_x == pytest.approx(plane.h_x)
    assert ip.InformationPlane(None, y).h_x == pytest.approx(math.log(60))
    assert ip.InformationPlane(ids.astype(str), y).h_x == pytest.approx(plane.h_x)


def test_any_array_like_and_any_shape(weights):
    x, y, _ = data()
    # float32, as networks give (JAX arrays are float32 without 64-bit types).
    acts = {k: v.astype(np.float32) for k, v in network(x, weights).items()}
    reference = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
    reference.record(0, acts)

    class OnlyArray:  # anything with __array__
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    class OnlyDLPack:  # anything with __dlpack__ (a CPU buffer)
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kwargs):
            return self.a.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    forms = {
        "jax": {k: jnp.asarray(v) for k, v in acts.items()},
        "__array__": {k: OnlyArray(v) for k, v in acts.items()},
        "__dlpack__": {k: OnlyDLPack(np.ascontiguousarray(v)) for k, v in acts.items()},
        "list": [acts["h1"], acts["h2"]],
        # A conv-like map (samples, channels, h, w): flattened per sample.
        "maps": {"h1": acts["h1"][:, :, None, None], "h2": acts["h2"][:, None, :]},
    }
    for form, layers in forms.items():
        plane = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
        plane.record(0, layers)
        result = plane.result()
        if form == "list":
            assert result.layers == ("layer 1", "layer 2")
        np.testing.assert_allclose(
            result.i_xt, reference.result().i_xt, rtol=0, atol=1e-12, err_msg=form
        )
        np.testing.assert_allclose(result.i_ty, reference.result().i_ty, atol=1e-12)


def test_labels_as_classes_or_rows_of_p_y_given_x(weights):
    x, y, _ = data()
    acts = network(x, weights)
    values = []
    for labels in (y, y * 10 + 3, y.astype(float), y[:, None], np.eye(2)[y]):
        plane = ip.InformationPlane(x, y, estimators=[WIDTH])
        plane = ip.InformationPlane(x, labels, estimators=[WIDTH])
        plane.record(0, acts)
        values.append(plane.result().i_ty)
    for v in values[1:]:
        np.testing.assert_array_equal(v, values[0])
    # Soft labels: p(y|x) rows are averaged over each input's samples.
    soft = np.stack([np.full(60, 0.25), np.full(60, 0.75)], axis=1)
    plane = ip.InformationPlane(x, soft, estimators=[WIDTH])
    assert plane.i_xy == pytest.approx(0, abs=1e-12)
    plane.record(0, acts)
    np.testing.assert_allclose(plane.result().i_ty, 0, atol=1e-12)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", np.nan, "cat"], dtype=object),  # pandas' missing text
        np.array([1.0, None, 1.0, 0.0], dtype=object),
    ],
)
def test_a_missing_label_is_refused_not_a_class_of_its_own(labels):
    with pytest.raises(ValueError, match="sample 2 has none|sample 1 has none"):
        ip.InformationPlane(np.eye(4), labels)
    with pytest.raises(ValueError, match="needs a label"):
        ip.mutual_information(np.eye(4), labels)
    # The text "nan" is a class name like any other.
    text = np.array(["cat", "dog", "nan", "cat"])
    assert ip.mutual_information(np.eye(4), text, units="bits")[1] == pytest.approx(1.5)


def test_several_networks_by_seed_or_a_leading_axis(weights):
    x, y, _ = data()
    rng = np.random.default_rng(2)
    nets = [weights] + [[rng.normal(size=w.shape) for w in weights] for _ in range(2)]
    one_by_one = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
    stacked = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
    for epoch in (0, 10):
        acts = [network(x * (1 + epoch / 10), w) for w in nets]
        for seed, a in zip((5, 1, 9), acts, strict=True):
            one_by_one.record(epoch, a, seed=seed)
        layers = {k: np.stack([a[k] for a in acts]) for k in acts[0]}
        stacked.record(epoch, layers, seed=[5, 1, 9])
    a, b = one_by_one.result(), stacked.result()
    assert a.seed_labels == b.seed_labels == [1, 5, 9]  # in increasing order
    assert a.i_xt.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(a.i_xt, b.i_xt, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.i_ty, b.i_ty, rtol=0, atol=1e-12)


def test_one_compiled_program_serves_every_epoch(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH, KDE])
    before = eqx.debug.get_num_traces(recorder._measure_one)
    for epoch in range(5):
        plane.record(epoch, network(x * (1 + epoch), weights))
    assert eqx.debug.get_num_traces(recorder._measure_one) - before <= 1
    assert plane.epochs == [0, 1, 2, 3, 4]
    assert len(plane) == 5
    assert (0, 4) in plane
    assert (1, 4) not in plane
    assert (0, 5) not in plane


def test_metrics_give_curves_and_the_result_round_trips(weights, tmp_path, capsys):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH], units="bits", name="toy")
    for epoch in (0, 4, 8):
        plane.record(
            epoch,
            network(x, weights),
            metrics={"train_loss": 1 / (epoch + 1), "test_accuracy": 0.5},
        )
    result = plane.result()
    assert result.source == "recorder"
    assert result.name == "toy"
    np.testing.assert_array_equal(result.arrays["train_loss"], [[1, 1 / 5, 1 / 9]])
    assert "test_loss" not in result.arrays
    assert result.info["h_x"] == pytest.approx(plane.h_x / math.log(2))
    assert result.info["layer_units"] == {"h1": 5, "h2": 3}
    assert result.info["samples"] == 60
    assert result.info["distinct_inputs"] == 12
    run = result.save(tmp_path / "toy")
    loaded = ip.Result.load(run)
    np.testing.assert_array_equal(loaded.i_xt, result.i_xt)
    assert main(["summary", str(run)]) == 0
    assert "h2" in capsys.readouterr().out


def test_kept_activations_are_measured_again(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH], keep=[0, 8])
    for epoch in (0, 4, 8):
        plane.record(epoch, network(x * (1 + epoch), weights))
    kept = plane.activations(8)
    assert kept["h1"].shape == (12, 5)  # the distinct inputs
    with pytest.raises(KeyError, match="no activations kept for epoch 4"):
        plane.activations(4)
    again = plane.remeasure([KDE, "binning-observed:bins=8,scope=run"])
    assert list(again.epochs) == [0, 8]
    direct = ip.InformationPlane(x, y, estimators=[KDE])
    for epoch in (0, 8):
        direct.record(epoch, network(x * (1 + epoch), weights))
    np.testing.assert_array_equal(again.i_xt[..., 0], direct.result().i_xt[..., 0])
    # The run-wide range is that of every kept activation.
    low = min(a.min() for e in (0, 8) for a in plane.activations(e).values())
    assert again.estimators[1].startswith("binning-observed:bins=8,scope=run,range=")
    assert float(again.estimators[1].split("=")[-1].split(":")[0]) == low
    with pytest.raises(ValueError, match="no activations are kept"):
        ip.InformationPlane(x, y).remeasure([KDE])
    # A recording's Result (as saved and loaded) points to the plane, not to a run.
    with pytest.raises(ValueError, match=r"keep=\.\.\.\) and call plane.remeasure"):
        plane.result().remeasure(KDE)


def test_clipping_warns_at_the_result(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y)  # binning on [-1, 1]
    plane.record(0, {"relu": 5 * np.maximum(network(x, weights)["h1"], 0)})
    with pytest.warns(ip.ClippingWarning, match="clipped up to"):
        result = plane.result()
    assert result.arrays["clipped_fraction"].max() > 0
    plane = ip.InformationPlane(x, y, estimators=["binning-width:width=1e-30"])
    plane.record(0, {"h1": network(x, weights)["h1"]})
    with pytest.warns(ip.ClippingWarning, match=r"beyond width \* 2\*\*31"):
        plane.result()


# -- bad input: one clear ValueError, nothing recorded half ------------------------


def _plane(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH])
    plane.record(0, network(x, weights))
    return plane, x


def _nan(a):
    a = a.copy()
    a[7, 1] = np.nan
    return a


@pytest.mark.unchecked_types
@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            lambda p, x, w: p.record(
                1, {**network(x, w), "h2": network(x[:50], w)["h2"]}
            ),
            r"layer h2 at epoch 1 has 50 rows .* 60 samples or 12 distinct inputs",
        ),
        (
            lambda p, x, w: p.record(
                2, {**network(x, w), "h2": _nan(network(x, w)["h2"])}
            ),
            "layer h2 at epoch 2 holds NaN or infinite values .* sample 7, unit 1",
        ),
        (
            lambda p, x, w: p.record(
                3, {"h1": network(x, w)["h1"] * np.inf, "h2": network(x, w)["h2"]}
            ),
            "layer h1 at epoch 3 holds NaN or infinite",
        ),
        (
            lambda p, x, w: p.record(0, network(x, w)),
            "epoch 0 of seed 0 is already recorded",
        ),
        (
            lambda p, x, w: p.record(4, {**network(x, w), "h2": network(x, w)["h1"]}),
            "layer h2 at epoch 4 has 5 units, but 3 before",
        ),
        (
            lambda p, x, w: p.record(5, {"h1": network(x, w)["h1"]}),
            r"the record at epoch 5 lacks h2: every record names the same layers",
        ),
        (
            lambda p, x, w: p.record(6, {**network(x, w), "h3": network(x, w)["h1"]}),
            "the record at epoch 6 adds h3",
        ),
        (
            lambda p, x, w: p.record(
                7, {**network(x, w), "h2": network(x, w)["h2"] + np.arange(60)[:, None]}
            ),
            "layer h2 at epoch 7: samples of the same input have activations up to",
        ),
        (lambda p, x, w: p.record(-1, network(x, w)), "epoch must be >= 0"),
        (lambda p, x, w: p.record(1.5, network(x, w)), "epoch must be an integer"),
        (
            lambda p, x, w: p.record(8, network(x, w), seed=[1, 2]),
            r"layer h1 at epoch 8 has shape \(60, 5\), but 2 seeds need a leading axis",
        ),
        (
            lambda p, x, w: p.record(9, network(x, w), metrics={"loss": 1.0}),
            "unknown metric 'loss' at epoch 9",
        ),
        (
            lambda p, x, w: p.record(9, {**network(x, w), "h2": np.zeros((60, 0))}),
            "layer h2 at epoch 9 has no units",
        ),
        (
            lambda p, x, w: p.record(
                9, {**network(x, w), "h2": np.ones((60, 2), complex)}
            ),
            "layer h2 at epoch 9 holds complex128 values",
        ),
        (
            lambda p, x, w: p.record(9, {**network(x, w), "h2": network(x, w)}),
            r"layer h2 at epoch 9 is a dict of h1, h2; give one array per layer",
        ),
        (
            lambda p, x, w: p.record(9, {**network(x, w), "h2": [[1.0, 2.0], [3.0]]}),
            "layer h2 at epoch 9 cannot be read as an array",
        ),
        (
            lambda p, x, w: p.record(
                9, {**network(x, w), "h2": (network(x, w)["h2"],) * 2}
            ),
            r"layer h2 at epoch 9 is a tuple of 2 arrays .*give one of them",
        ),
    ],
)
def test_a_bad_record_is_one_clear_error_and_keeps_nothing(record, message, weights):
    plane, x = _plane(weights)
    before = plane.result().i_xt
    with pytest.raises(ValueError, match=message):
        record(plane, x, weights)
    assert plane.epochs == [0]
    assert plane.layers == ("h1", "h2")
    np.testing.assert_array_equal(plane.result().i_xt, before)


def test_a_bad_first_record_fixes_no_layers(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y)
    acts = network(x, weights)
    with pytest.raises(ValueError, match="layer h2 at epoch 0 holds NaN"):
        plane.record(0, {**acts, "h2": _nan(acts["h2"])})
    assert plane.layers is None
    assert len(plane) == 0
    plane.record(0, {"h1": acts["h1"]})  # a fresh start with other layers
    assert plane.layers == ("h1",)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros((4, 2)), [0, 0.5, 1, 1]), {}, "sample 1 has label 0.5"),
        ((np.zeros((4, 2)), [[0.5, 0.6]] * 4), {}, r"row 0 is \[0.5, 0.6\]"),
        ((np.zeros((4, 2)), [[-1, 2]] * 4), {}, "rows of p\\(y\\|x\\)"),
        ((np.zeros((4, 2)), [0, np.nan, 1, 1]), {}, "sample 1 has label nan"),
        ((np.zeros((3, 2)), [0, 1, 1, 0]), {}, "inputs have 3 samples but labels"),
        ((np.full((4, 2), np.nan), [0, 1, 1, 0]), {}, "inputs contain NaN"),
        ((np.zeros((4, 2), complex), [0, 1, 1, 0]), {}, "complex"),
        ((np.zeros((4, 2)), np.zeros((4, 2, 2))), {}, "labels must be integer"),
        ((np.zeros((4, 2)), [0, 1, 1, 0]), {"estimators": []}, "at least one"),
        ((np.zeros((4, 2)), [0, 1, 1, 0]), {"estimators": ["nope"]}, "unknown"),
        (
            (np.zeros((4, 2)), [0, 1, 1, 0]),
            {"estimators": ["binning-observed:scope=run"]},
            "needs the range of the whole run",
        ),
        (
            (np.zeros((4, 2)), [0, 1, 1, 0]),
            {"estimators": ["quantized"]},
            "give its grid, e.g. quantized:bits=8",
        ),
        ((np.zeros((4, 2)), [0, 1, 1, 0]), {"units": "bytes"}, "units must be"),
        ((np.zeros((4, 2)), [0, 1, 1, 0]), {"keep": "some"}, "keep must be"),
    ],
)
def test_bad_measured_samples_are_refused(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ip.InformationPlane(*args, **kwargs)


def test_a_result_needs_every_network_at_every_epoch(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH])
    with pytest.raises(ValueError, match="nothing is recorded yet"):
        plane.result()
    for epoch in (0, 5):
        plane.record(epoch, network(x, weights), seed=0)
    plane.record(0, network(x, weights), seed=1)
    with pytest.raises(ValueError, match="seed 1 lacks epoch\\(s\\) 5"):
        plane.result()
    plane.record(5, network(x, weights), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plane.result().i_xt.shape == (2, 2, 2, 1)


def test_epochs_and_seeds_may_be_zero_d_integer_arrays(weights):
    # A JAX loop's step counter is a 0-d array, not a Python int.
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH])
    acts = network(x, weights)
    plane.record(jnp.array(3), acts, seed=jnp.array(2))
    plane.record(np.int64(0), acts, seed=np.array(2))
    stacked = {k: np.stack([v, v]) for k, v in acts.items()}
    plane.record(jnp.asarray(3, jnp.int32), stacked, seed=jnp.arange(2))
    assert plane.epochs == [0, 3]
    assert sorted(plane._records) == [(0, 3), (1, 3), (2, 0), (2, 3)]


@pytest.mark.unchecked_types
def test_other_zero_d_arrays_are_no_epoch(weights):
    x, y, _ = data()
    plane = ip.InformationPlane(x, y, estimators=[WIDTH])
    acts = network(x, weights)
    for bad in (jnp.array(1.0), jnp.array(True), np.bool_(True), jnp.arange(2)):
        with pytest.raises(ValueError, match="epoch must be an integer"):
            plane.record(bad, acts)


@pytest.mark.unchecked_types
def test_one_epoch_to_keep_is_refused_with_its_spelling():
    with pytest.raises(ValueError, match=r"one epoch is keep=\[epoch\]"):
        ip.InformationPlane(np.zeros((4, 2)), [0, 1, 1, 0], keep=5)


def test_kept_activations_are_copies_not_views_of_a_reused_buffer(weights):
    # A loop that writes each epoch's activations into one buffer keeps each epoch.
    x, y, _ = data()  # every sample a distinct input: records are not regrouped
    plane = ip.InformationPlane(None, y, estimators=[WIDTH], keep="all")
    buffer = np.empty((len(x), 5))
    for epoch in range(3):
        buffer[:] = network(x * (epoch + 1), weights)["h1"]
        plane.record(epoch, {"h1": buffer})
    np.testing.assert_array_equal(plane.activations(0)["h1"], network(x, weights)["h1"])
    again = plane.remeasure([WIDTH])
    np.testing.assert_array_equal(again.i_xt, plane.result().i_xt)


def test_kept_activations_past_the_limit_warn_once(weights, monkeypatch):
    x, y, _ = data()
    plane = ip.InformationPlane(None, y, estimators=[WIDTH], keep="all")
    h1 = np.asarray(network(x, weights)["h1"], np.float64)
    monkeypatch.setattr(recorder, "KEEP_LIMIT", int(2.5 * h1.nbytes))
    plane.record(0, {"h1": h1})
    plane.record(1, {"h1": h1})
    with pytest.warns(ip.RunWarning, match=r"kept activations now take .* keep fewer"):
        plane.record(2, {"h1": h1})  # 3 epochs' arrays: past the limit
    plane.record(
        3, {"h1": h1}
    )  # said once (pytest turns any other warning into an error)
    assert len(plane.activations(3)["h1"]) == len(x)
