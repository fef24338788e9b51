"""Networks trained by their own loops, in Equinox, PyTorch and Keras, measured by
the recorder, against an independent count (binning) and an independent pairwise
formula (the Kolchinsky-Tracey upper bound), per sample, in plain NumPy.

The frameworks are optional: a test whose framework is not installed is skipped.
"""

import math
import os
import runpy
from collections import Counter
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.spatial.distance import cdist

import infoplane as ip

EXAMPLES = Path(__file__).parent.parent / "examples"
WIDTH, BINNING, KDE = (
    "binning-width:width=0.07",
    "binning:bins=30,range=-1:1",
    "kde-upper:var=0.1",
)
ESTIMATORS = [WIDTH, BINNING, KDE]
VAR = 0.1


# -- the independent references ------------------------------------------------------


def _entropy_by_counting(keys) -> float:
    counts = list(Counter(keys).values())
    n = sum(counts)
    return -math.fsum(c / n * math.log(c / n) for c in counts)


def counted(symbols: np.ndarray, inputs: list[bytes], labels) -> tuple[float, float]:
    """Plug-in I(X;T), I(T;Y) over samples, counting symbols in dictionaries:
    H(X) + H(T) - H(X,T) and H(T) + H(Y) - H(T,Y)."""
    t = [tuple(row) for row in symbols.tolist()]
    y = list(labels)
    h = _entropy_by_counting
    return (
        h(inputs) + h(t) - h(zip(inputs, t, strict=True)),
        h(t) + h(y) - h(zip(t, y, strict=True)),
    )


def kde_upper(a: np.ndarray, labels: np.ndarray, var: float = VAR):
    """I_up = -(1/N) sum_i ln[(1/N) sum_j exp(-||h_i - h_j||^2 / (2 var))] over the
    N samples; I(T;Y) = that minus sum_y p(y) times the same within class y."""

    def bound(h):
        d = cdist(h, h, "sqeuclidean")
        return -np.mean(np.log(np.mean(np.exp(-d / (2 * var)), axis=1)))

    h_t = bound(a)
    h_t_y = sum(np.mean(labels == c) * bound(a[labels == c]) for c in np.unique(labels))
    return h_t, h_t - h_t_y


def reference(spec: str, a: np.ndarray, inputs: list[bytes], labels: np.ndarray):
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    if spec == WIDTH:
        return counted(np.floor(a / 0.07).astype(np.int64), inputs, labels)
    if spec == BINNING:
        return counted(np.digitize(a, np.linspace(-1, 1, 31)), inputs, labels)
    return kde_upper(a, labels)


def check_against_references(result, activations, inputs, labels):
    """Every recorded number (nats) against the references on the same samples:
    ``activations[(seed, epoch)][layer]`` per sample."""
    assert result.units == "nats"
    checked = 0
    for (seed, epoch), layers in activations.items():
        s = result.seed_labels.index(seed)
        k = list(result.epochs).index(epoch)
        for layer, (name, a) in enumerate(layers.items()):
            assert result.layers[layer] == name
            for e, spec in enumerate(result.estimators):
                i_xt, i_ty = reference(spec, a, inputs, labels)
                got = result.i_xt[s, k, layer, e], result.i_ty[s, k, layer, e]
                np.testing.assert_allclose(
                    got, (i_xt, i_ty), rtol=0, atol=1e-9, err_msg=f"{name} {spec}"
                )
                checked += 1
    return checked


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's bundled 8x8 digits, with the first 200 images measured twice:
    1997 samples of 1797 distinct inputs."""
    from sklearn.datasets import load_digits  # 2 s to import: only where used

    data = load_digits()
    images = np.concatenate([data.images, data.images[:200]]) / 16.0
    labels = np.concatenate([data.target, data.target[:200]])
    inputs = [row.tobytes() for row in images.reshape(len(images), -1)]
    return images.astype(np.float32), labels, inputs


# -- Equinox ---------------------------------------------------------------------------


class MLP(eqx.Module):
    layers: list

    def __init__(self, widths, key):
        keys = jax.random.split(key, len(widths) - 1)
        self.layers = [
            eqx.nn.Linear(a, b, key=k)
            for a, b, k in zip(widths[:-1], widths[1:], keys, strict=True)
        ]

    def __call__(self, x):
        hidden = []
        for layer in self.layers[:-1]:
            x = jnp.tanh(layer(x))
            hidden.append(x)
        return self.layers[-1](x), hidden


def test_equinox_mlps_trained_by_their_own_loop(digits):
    images, labels, inputs = digits
    x = images.reshape(len(images), -1)
    plane = ip.InformationPlane(images, labels, estimators=ESTIMATORS)
    assert plane.h_x == pytest.approx(_entropy_by_counting(inputs), abs=1e-12)
    # Two networks trained together (vmapped), recorded with a leading seed axis.
    models = eqx.filter_vmap(lambda k: MLP([64, 16, 8, 10], k))(
        jax.random.split(jax.random.key(0), 2)
    )
    optimizer = optax.adam(1e-2)
    state = eqx.filter_vmap(lambda m: optimizer.init(eqx.filter(m, eqx.is_array)))(
        models
    )

    def loss(model):
        logits, _ = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @eqx.filter_jit
    @eqx.filter_vmap
    def step(model, state):
        grads = eqx.filter_grad(loss)(model)
        updates, state = optimizer.update(grads, state)
        return eqx.apply_updates(model, updates), state

    @eqx.filter_jit
    @eqx.filter_vmap
    def layers(model):
        logits, hidden = jax.vmap(model)(x)
        return {"fc1": hidden[0], "fc2": hidden[1], "output": jax.nn.softmax(logits)}

    seen = {}
    for epoch in range(30):
        models, state = step(models, state)
        if epoch in (0, 14, 29):
            acts = layers(models)
            plane.record(epoch, acts, seed=[3, 4])
            for s, seed in enumerate((3, 4)):
                seen[(seed, epoch)] = {n: np.asarray(a[s]) for n, a in acts.items()}
    result = plane.result()
    assert result.i_xt.shape == (2, 3, 3, 3)
    assert check_against_references(result, seen, inputs, labels) == 54
    # The networks learnt something: the output knows most of the label.
    assert result.i_ty[:, -1, 2, 0].min() > 0.8 * plane.i_xy


# -- PyTorch ---------------------------------------------------------------------------


def _torch_cnn(torch):
    from collections import OrderedDict

    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            features=nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2)),
            classifier=nn.Sequential(
                nn.Flatten(),
                nn.Linear(36, 12),
                nn.Tanh(),
                nn.Dropout(0.5),
                nn.Linear(12, 10),
            ),
        )
    )


def test_torch_cnn_trained_by_its_own_loop(digits):
    torch = pytest.importorskip("torch")
    from infoplane.torch import activations

    torch.set_num_threads(1)  # two busy threads on two shared cores crawl
    images, labels, inputs = digits
    x, y = torch.tensor(images[:, None]), torch.tensor(labels)
    model = _torch_cnn(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    names = ["features.2", "classifier.2", "classifier.4"]
    plane = ip.InformationPlane(x, y, estimators=ESTIMATORS)
    seen = {}
    for epoch in range(8):
        model.train()
        for batch in torch.randperm(len(x)).split(256):
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch in (0, 7):
            with activations(model, names) as acts:
                for batch in x.split(1000):  # joined in call order
                    model(batch)
                assert not torch.is_grad_enabled()
                assert not model.training  # dropout off while measuring
            assert model.training  # and back on after
            assert all(not m._forward_hooks for m in model.modules())
            assert list(acts) == names
            assert acts["features.2"].shape == (len(x), 4, 3, 3)
            assert not acts["features.2"].requires_grad
            plane.record(epoch, acts)
            seen[(0, epoch)] = {n: a.numpy() for n, a in acts.items()}
    # Logits (and relu maps) beyond [-1, 1]: binning's end bins hold them, and say so.
    with pytest.warns(ip.ClippingWarning, match="clipped up to"):
        result = plane.result()
    assert result.info["layer_units"] == dict(zip(names, (36, 12, 10), strict=True))
    assert check_against_references(result, seen, inputs, labels) == 18
    # A tensor that requires grad, straight from a forward pass, records too.
    hidden = model.features(x)
    assert hidden.requires_grad
    plane.record(8, {**seen[(0, 7)], "features.2": hidden})


def test_torch_activations_say_what_is_wrong():
    torch = pytest.importorskip("torch")
    from infoplane.torch import activations

    model = _torch_cnn(torch)
    with (
        pytest.raises(ValueError, match="no module named 'features.9'"),
        activations(model, ["features.9"]),
    ):
        pass
    with (
        pytest.raises(ValueError, match="'classifier.1' did not run"),
        activations(model, ["classifier.1"]),
    ):
        model.features(torch.zeros(2, 1, 8, 8))
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(RuntimeError, match="boom"), activations(model, ["features.0"]):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training
    with activations(model, {"features.0": "conv", "": "logits"}) as acts:
        model(torch.zeros(3, 1, 8, 8))
    assert list(acts) == ["conv", "logits"]


@pytest.mark.unchecked_types
def test_torch_module_named_by_a_number_says_names_are_text():
    torch = pytest.importorskip("torch")
    from infoplane.torch import activations

    model = _torch_cnn(torch)  # "no module named 1; its modules include 0, 1, 2"
    with (
        pytest.raises(ValueError, match="text.*'1', not 1"),
        activations(model.classifier, [1]),
    ):
        pass


def test_a_module_used_twice_in_forward_is_refused_not_mixed():
    torch = pytest.importorskip("torch")
    from infoplane.torch import activations

    class Shared(torch.nn.Module):  # one Tanh module after both linear layers
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(4, 8), torch.nn.Linear(8, 8)
            self.act = torch.nn.Tanh()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    model, x = Shared(), torch.zeros(6, 4)

    def in_two_batches():  # two calls of the model
        model(x[:3])
        model(x[3:])

    with (
        pytest.raises(ValueError, match="'act' ran 4 times in 2 call"),
        activations(model, ["act"]),
    ):
        in_two_batches()
    with activations(model, ["fc1", "fc2"]) as acts:
        in_two_batches()
    assert [tuple(a.shape) for a in acts.values()] == [(6, 8), (6, 8)]


def test_an_in_place_activation_after_a_hooked_module_does_not_change_its_output():
    torch = pytest.importorskip("torch")
    from infoplane.torch import activations

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True), torch.nn.Linear(8, 2)
    )
    x = torch.randn(16, 4)
    for batches in (1, 2):  # one call (its output as caught) or joined batches
        with activations(model, ["0", "1"]) as acts:
            for part in x.chunk(batches):
                model(part)
        with torch.no_grad():
            linear = model[0](x)
        torch.testing.assert_close(acts["0"], linear)  # not ReLU'd in place
        torch.testing.assert_close(acts["1"], linear.clamp(min=0))


def test_torch_tensors_of_any_kind_record():
    torch = pytest.importorskip("torch")
    x, y = np.eye(4), np.array([0, 1, 0, 1])
    h = torch.tensor([[0.1], [0.3], [0.5], [0.9]], requires_grad=True) * 1.0
    planes = [ip.InformationPlane(x, y) for _ in range(3)]
    planes[0].record(0, {"h": h.detach().numpy()})
    planes[1].record(0, {"h": h})  # requires grad: detached here
    planes[2].record(0, {"h": h.to(torch.bfloat16)})  # NumPy has no bfloat16
    values = [p.result().i_xt for p in planes]
    np.testing.assert_array_equal(values[0], values[1])
    np.testing.assert_array_equal(values[0], values[2])


# -- Keras -----------------------------------------------------------------------------


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def test_keras_mlp_fitted_with_the_callback(digits):
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    images, labels, inputs = digits
    x = images.reshape(len(images), -1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="tanh", name="fc1"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    plane = ip.InformationPlane(x, labels, estimators=ESTIMATORS, keep="all")
    callback = InformationPlaneCallback(plane, ["fc1", "output"], every=3)
    history = model.fit(
        x, labels, epochs=7, batch_size=256, verbose=0, callbacks=[callback]
    )
    assert plane.epochs == [0, 3, 6]  # every 3, and the last
    result = plane.result()
    np.testing.assert_allclose(
        result.arrays["train_loss"][0], np.array(history.history["loss"])[[0, 3, 6]]
    )
    # The callback ran the distinct inputs; the last epoch's are the model's now.
    w1, b1, w2, b2 = (
        np.asarray(getattr(model.get_layer(name), part).value, np.float64)
        for name in ("fc1", "output")
        for part in ("kernel", "bias")
    )
    fc1 = np.tanh(plane.distinct_inputs @ w1 + b1)
    logits = fc1 @ w2 + b2
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    kept = plane.activations(6)
    np.testing.assert_allclose(kept["fc1"], fc1, atol=1e-5)
    np.testing.assert_allclose(kept["output"], probs, atol=1e-5)
    # Per sample: each sample gets its input's activations.
    per_sample = {
        (0, e): {n: a[plane.input_ids] for n, a in plane.activations(e).items()}
        for e in plane.epochs
    }
    assert check_against_references(result, per_sample, inputs, labels) == 18


def test_keras_callback_needs_a_model_whose_layers_it_can_read():
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, name="dense")

        def call(self, x):
            return self.dense(x)

    x, y = np.eye(4, dtype="float32"), np.array([0, 1, 0, 1])
    model = Subclassed()
    model.compile("sgd", "sparse_categorical_crossentropy")
    plane = ip.InformationPlane(x, y)
    callback = InformationPlaneCallback(plane, ["dense"])
    with pytest.raises(ValueError, match="functional or Sequential model"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    with pytest.raises(ValueError, match="every must be"):
        InformationPlaneCallback(plane, ["dense"], every=0)
    with pytest.raises(ValueError, match="made without inputs"):
        InformationPlaneCallback(ip.InformationPlane(None, y), ["dense"])
    # One id per sample: ids are not what the model takes.
    with pytest.raises(ValueError, match="one id per sample"):
        InformationPlaneCallback(ip.InformationPlane(np.arange(4), y), ["dense"])


def test_keras_callback_reads_accuracy_under_its_other_names():
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    x, y = np.eye(8, dtype="float32"), np.arange(8) % 2
    for metric in ("acc", keras.metrics.SparseCategoricalAccuracy()):
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(2, "softmax", name="out")]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[metric])
        plane = ip.InformationPlane(x, y)
        callback = InformationPlaneCallback(plane, ["out"])
        history = model.fit(
            x, y, epochs=2, verbose=0, callbacks=[callback], validation_data=(x, y)
        )
        name = "acc" if metric == "acc" else "sparse_categorical_accuracy"
        arrays = plane.result().arrays
        np.testing.assert_allclose(arrays["train_accuracy"][0], history.history[name])
        np.testing.assert_allclose(
            arrays["test_accuracy"][0], history.history[f"val_{name}"]
        )


def test_keras_callback_says_how_to_fit_again():
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    x, y = np.eye(8, dtype="float32"), np.arange(8) % 2
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(2, "softmax", name="out")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    plane = ip.InformationPlane(x, y)
    callback = InformationPlaneCallback(plane, ["out"])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    weights = [keras.ops.convert_to_numpy(w.value) for w in model.weights]
    with pytest.raises(ValueError, match=r"initial_epoch=2"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    for before, after in zip(weights, model.weights, strict=True):
        after = keras.ops.convert_to_numpy(after.value)
        np.testing.assert_array_equal(before, after)  # refused before training
    model.fit(x, y, initial_epoch=2, epochs=4, verbose=0, callbacks=[callback])
    assert plane.epochs == [0, 1, 2, 3]


def test_keras_callback_refuses_a_layer_called_twice_and_reads_a_shared_one():
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    x, y = np.eye(8, dtype="float32"), np.arange(8) % 2
    # One layer at two places of the model: whose outputs? (Keras' layer.output
    # silently gives the first call's.)
    twice = keras.layers.Dense(8, "tanh", name="twice")
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(2, "softmax", name="out")(twice(twice(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    callback = InformationPlaneCallback(ip.InformationPlane(x, y), ["twice"])
    with pytest.raises(ValueError, match="twice.*called 2 times"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    # An encoder shared by two models: each model's own call of it is read.
    encoder = keras.layers.Dense(4, "tanh", name="encoder")
    first = keras.Input((8,))
    keras.Model(first, keras.layers.Dense(8, name="decoder")(encoder(first)))
    second = keras.Input((8,))
    classifier = keras.Model(
        second, keras.layers.Dense(2, "softmax", name="out")(encoder(second))
    )
    classifier.compile("adam", "sparse_categorical_crossentropy")
    plane = ip.InformationPlane(x, y, keep="all")
    callback = InformationPlaneCallback(plane, ["encoder"])
    classifier.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    expected = keras.ops.convert_to_numpy(encoder(x))
    np.testing.assert_allclose(plane.activations(0)["encoder"], expected, atol=1e-6)


# -- the examples run ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "framework"),
    [("equinox_mlp.py", None), ("torch_cnn.py", "torch"), ("keras_mlp.py", "keras")],
)
def test_examples_run(example, framework, tmp_path):
    if framework == "torch":
        pytest.importorskip("torch").set_num_threads(1)
    elif framework == "keras":
        _keras()
    main = runpy.run_path(str(EXAMPLES / example), run_name="example")["main"]
    result = main(epochs=3, every=1, out=str(tmp_path / "run"))
    assert list(result.epochs) == [0, 1, 2]
    assert result.info["samples"] == 1797
    loaded = ip.Result.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.i_xt, result.i_xt)
    assert (tmp_path / "run" / "plane.png").stat().st_size > 0


def test_keras_callback_reused_on_another_model_reads_that_model():
    keras = _keras()
    from infoplane.keras import InformationPlaneCallback

    x, y = np.eye(8, dtype="float32"), np.arange(8) % 2
    plane = ip.InformationPlane(x, y, keep="all")
    callback = InformationPlaneCallback(plane, ["h"])
    models = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(3, "tanh", name="h")]
        )
        model.compile("sgd", "mse")
        callback.seed = seed
        model.fit(x, np.zeros((8, 3)), epochs=1, verbose=0, callbacks=[callback])
        models.append(model)
    for seed, model in enumerate(models):
        kernel, bias = (np.asarray(v.value) for v in model.get_layer("h").weights)
        np.testing.assert_allclose(
            plane.activations(0, seed=seed)["h"], np.tanh(x @ kernel + bias), atol=1e-6
        )
