"""ip.run(experiment, model=factory): an Equinox model of the user's in the compiled
loop, seeds vmapped, measured as the recorder measures its activations."""

import importlib.util
import runpy
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoplane as ip
from infoplane import cli, training, user_model
from infoplane.model import MLP

# The digits task reads scikit-learn's bundled images. Checked without importing it
# (2 s): the tests that load the task import it.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="the digits task needs scikit-learn",
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "cnn_equinox_run.py"

ESTIMATORS = ("binning-width:width=0.25", "kde-upper:var=0.1")
# 5 epochs measured at 0, 2 and 4: the last measurement is of the final parameters,
# which the run keeps.
CNN_EXP = ip.Experiment(
    name="cnn",
    task="digits",
    loss="softmax_ce",
    optimizer="adam",
    lr=0.05,
    epochs=5,
    measure="every:2",
    estimators=ESTIMATORS,
    measure_output=True,
    measure_samples=200,
    seeds=10,
)


class CNN(eqx.Module):
    """Conv 3x3 (4 channels) on one 8x8 image, 2x2 max-pooling, a dense layer."""

    conv: eqx.nn.Conv2d
    pool: eqx.nn.MaxPool2d
    dense: eqx.nn.Linear
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.conv = eqx.nn.Conv2d(1, 4, 3, key=k1)  # (1, 8, 8) -> (4, 6, 6)
        self.pool = eqx.nn.MaxPool2d(2, stride=2)  # -> (4, 3, 3)
        self.dense = eqx.nn.Linear(36, 12, key=k2)
        self.out = eqx.nn.Linear(12, 10, key=k3)

    def __call__(self, image):
        conv = self.pool(jnp.tanh(self.conv(image[None])))
        dense = jnp.tanh(self.dense(conv.ravel()))
        return self.out(dense), {"conv": conv, "dense": dense}


@pytest.fixture(scope="module")
def cnn_run():
    return ip.run(CNN_EXP, model=CNN, keep="activations", keep_seeds=CNN_EXP.seeds)


def test_a_cnn_trains_ten_seeds_named_as_it_names_its_layers(cnn_run):
    result = cnn_run
    assert result.layers == ("conv", "dense", "output")
    assert result.i_xt.shape == (10, 3, 3, 2)
    assert np.isfinite(result.i_xt).all()
    assert np.isfinite(result.i_ty).all()
    assert (result.arrays["diverged_epoch"] == -1).all()
    # Ten different networks (own keys, own splits) that learnt: chance is 0.1.
    assert len(np.unique(result.i_xt[:, -1, 1, 1])) == 10
    assert result.arrays["final_test_accuracy"].mean() > 0.5
    assert result.info["model"] == {
        "name": f"{__name__}.CNN",
        "layers": ["conv", "dense"],
        "units": [36, 12],
        "sample_shape": [8, 8],
        "parameters": 4 * 9 + 4 + 36 * 12 + 12 + 12 * 10 + 10,
        "weights": [".conv.weight", ".dense.weight", ".out.weight"],
    }
    # A model's layers have no known bounds: no saturation, except of the output's
    # probabilities.
    assert np.isnan(result.arrays["saturation"][..., :2]).all()
    assert np.isfinite(result.arrays["saturation"][..., 2]).all()
    assert result.arrays["kept_activations"].shape == (10, 3, 200, 36 + 12 + 10)


def test_the_run_measures_as_the_recorder_on_its_activations(cnn_run):
    result = cnn_run
    kept = result.arrays["kept_activations"]
    for seed in range(CNN_EXP.seeds):
        # The measured samples (weights are sample counts; 0 pads the subset).
        counts = result.arrays["kept_weights"][seed].round().astype(int)
        rows = np.repeat(np.arange(len(counts)), counts)
        plane = ip.InformationPlane(
            None, result.arrays["kept_p_y"][seed][rows], estimators=ESTIMATORS
        )
        for k, epoch in enumerate(result.epochs):
            layers = np.split(kept[seed, k][rows], [36, 48], axis=1)
            plane.record(int(epoch), dict(zip(result.layers, layers, strict=True)))
        with warnings.catch_warnings():  # a seed's output may sit in one bin
            warnings.simplefilter("ignore", ip.ClippingWarning)
            recorded = plane.result()
        assert recorded.layers == result.layers
        for name in ("i_xt", "i_ty"):
            np.testing.assert_allclose(
                recorded.arrays[name][0], result.arrays[name][seed], rtol=0, atol=1e-9
            )
        np.testing.assert_array_equal(
            recorded.arrays["occupied_bins"][0, ..., 0],
            result.arrays["occupied_bins"][seed, ..., 0],
        )


def test_kept_activations_are_the_trained_modules_layers(cnn_run):
    # The final parameters, put back into the factory's module, give the layers
    # the run measured at its last epoch.
    result = cnn_run
    data = ip.load_task("digits").scaled(result.experiment.scale)
    models = result.kept_models(CNN)
    assert len(models) == 10
    assert all(isinstance(m, CNN) for m in models)
    for seed in (0, 9):
        trained = models[seed]
        index = result.arrays["measured_inputs"][seed]
        images = data.inputs[index[index >= 0]].reshape(-1, 8, 8)
        logits, layers = jax.vmap(trained)(images)
        mine = np.concatenate(
            [
                np.asarray(layers["conv"]).reshape(len(images), -1),
                np.asarray(layers["dense"]),
                np.asarray(jax.nn.softmax(logits)),
            ],
            axis=1,
        )
        kept = result.arrays["kept_activations"][seed, -1, : len(images)]
        np.testing.assert_allclose(kept, mine, rtol=0, atol=2e-5)
        initial = CNN(user_model.network_key(result.experiment.seed, seed))
        assert not np.allclose(initial.dense.weight, trained.dense.weight)
    with pytest.raises(ValueError, match="pass its factory"):
        result.kept_models()
    with pytest.raises(ValueError, match="not the model this run trained"):
        result.kept_models(lambda key: eqx.nn.Linear(64, 10, key=key))


def test_it_saves_loads_summarises_and_measures_again(cnn_run, tmp_path, capsys):
    path = cnn_run.save(tmp_path / "cnn")
    loaded = ip.Result.load(path)
    assert loaded.layers == cnn_run.layers
    assert loaded.info["model"] == cnn_run.info["model"]
    np.testing.assert_array_equal(loaded.i_xt, cnn_run.i_xt)
    assert cli.main(["summary", str(path)]) == 0
    table = capsys.readouterr().out
    for word in ("conv", "dense", "output", "kde-upper"):
        assert word in table
    again = loaded.remeasure("binning-width:width=0.25")
    np.testing.assert_allclose(
        again.i_xt[..., 0], cnn_run.i_xt[..., 0], rtol=0, atol=1e-12
    )
    assert again.layers == cnn_run.layers


def test_a_second_run_of_the_model_reuses_the_compiled_program(cnn_run):
    traces = eqx.debug.get_num_traces(training._advance)
    other = CNN_EXP.replace(
        seed=7, lr=0.1, epochs=2, measure="every:1", hidden=(3,), activation="relu"
    )
    ip.run(other, model=CNN)  # the MLP's fields do not apply: nothing recompiles
    ip.run(other, model=lambda key: CNN(key))  # a factory alike: the same modules
    assert eqx.debug.get_num_traces(training._advance) == traces

    class ReluCNN(CNN):  # the same arrays, another function: a program of its own
        def __call__(self, image):
            conv = self.pool(jax.nn.relu(self.conv(image[None])))
            dense = jax.nn.relu(self.dense(conv.ravel()))
            return self.out(dense), {"conv": conv, "dense": dense}

    ip.run(other, model=ReluCNN)
    assert eqx.debug.get_num_traces(training._advance) == traces + 1


class Mirror(eqx.Module):
    """infoplane's own MLP, as a model of the user's."""

    mlp: MLP

    def __call__(self, x):
        logits, hidden = self.mlp(x)
        return logits, list(hidden)


def test_a_factory_of_infoplanes_mlp_trains_as_infoplane_does():
    exp = ip.preset(
        "seed", epochs=60, measure="every:20", seeds=2, grad_stats=True
    ).replace(estimators=("kde-upper:var=0.1",))
    # Each network's JAX key back to its index, to draw the MLP the run would draw
    # (the seeds are padded to a multiple of the devices: those networks too).
    index = {
        jax.random.key_data(user_model.network_key(exp.seed, i)).tobytes(): i
        for i in range(exp.seeds + jax.device_count())
    }

    def factory(key):
        i = index[jax.random.key_data(key).tobytes()]
        init = np.random.SeedSequence(exp.seed, spawn_key=(i,)).spawn(4)[1]
        return Mirror(MLP(10, exp.hidden, 2, key=np.random.default_rng(init)))

    mine, theirs = ip.run(exp, model=factory), ip.run(exp)
    assert mine.layers == theirs.layers == ("layer 1", "layer 2", "layer 3")
    assert mine.info["model"]["weights"] == [
        f".mlp.layers[{i}].weight" for i in range(4)
    ]
    for name in ("i_xt", "i_ty", "train_loss", "test_accuracy", "grad_mean_norm"):
        np.testing.assert_allclose(
            mine.arrays[name], theirs.arrays[name], rtol=1e-4, atol=1e-6, err_msg=name
        )


# -- what the loop refuses -------------------------------------------------------------

SMALL = CNN_EXP.replace(seeds=2, epochs=2, measure="every:1", measure_output=False)


class Bare(eqx.Module):
    """A linear model on the flattened image that returns what it is given."""

    weight: jax.Array
    returns: object = eqx.field(static=True)

    def __call__(self, image):
        logits = self.weight @ image.ravel()
        return self.returns(logits)


def bare(returns, weight=None):
    return lambda key: Bare(
        jax.random.normal(key, (10, 64)) if weight is None else weight, returns
    )


@pytest.mark.unchecked_types
@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        (CNN(jax.random.key(0)), TypeError, "give a factory"),
        ("CNN", TypeError, "function of a JAX key"),
        (lambda key: 1 / 0, ValueError, "raised ZeroDivisionError"),
        (lambda key: {"w": key}, TypeError, "must return an Equinox module"),
        (
            bare(lambda z: (z, [z]), jnp.zeros((10, 64), jnp.int32)),
            TypeError,
            "int32 array at .weight",
        ),
        (
            bare(lambda z: (z, [z]), jnp.zeros((10, 64), jnp.bfloat16)),
            TypeError,
            "bfloat16 array at .weight; infoplane's loop trains every parameter in",
        ),
        (bare(lambda z: z), ValueError, r"must return \(logits, layers\)"),
        (bare(lambda z: (z[:2], [z])), ValueError, r"shape \(10,\)"),
        (bare(lambda z: (z, z)), ValueError, "returns its layers as a"),
        (bare(lambda z: (z, {"h": 3.0})), ValueError, "layer 'h' .* is a float"),
        (bare(lambda z: (z, {"h": z > 0})), ValueError, "is a bool array of shape"),
        (bare(lambda z: (z, {"": z})), ValueError, "non-empty text"),
        (bare(lambda z: (z, {"output": z})), ValueError, "'output'"),
        (
            lambda key: eqx.nn.Linear(64, 10, key=key),  # wants a flat vector
            ValueError,
            r"called on one input of shape \(8, 8\)",
        ),
    ],
    ids=[
        "a module",
        "not callable",
        "factory raises",
        "not a module",
        "integer array",
        "bfloat16 array",
        "logits only",
        "two logits",
        "layers an array",
        "layer a float",
        "layer of booleans",
        "empty name",
        "output taken",
        "call raises",
    ],
)
def test_a_model_breaking_the_contract_is_refused_before_training(model, error, match):
    exp = SMALL.replace(measure_output=True)
    with pytest.raises(error, match=match):
        ip.run(exp, model=model)


class Normed(eqx.Module):
    """A dense layer with batch statistics (BatchNorm keeps state)."""

    dense: eqx.nn.Linear
    norm: eqx.nn.BatchNorm

    def __init__(self, key):
        self.dense = eqx.nn.Linear(64, 10, key=key)
        self.norm = eqx.nn.BatchNorm(10, axis_name="batch", mode="batch")

    def __call__(self, image, state=None):
        hidden, _ = self.norm(self.dense(image.ravel()), state)
        return hidden, {"h": jnp.tanh(hidden)}


@pytest.mark.unchecked_types
def test_a_model_with_state_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"holds state \(eqx.nn.StateIndex at .norm"):
        ip.run(SMALL, model=lambda key: eqx.nn.make_with_state(Normed)(key)[0])


def test_what_does_not_apply_to_a_model_is_refused():
    model = bare(lambda z: (z, [jnp.tanh(z)]))
    with pytest.raises(ValueError, match="set quantize=none"):
        ip.run(SMALL.replace(quantize="8bit"), model=model)

    class Biases(eqx.Module):
        bias: jax.Array

        def __call__(self, image):
            return self.bias + image.sum(), [image]

    biases = lambda key: Biases(jnp.zeros(10))  # noqa: E731
    with pytest.raises(ValueError, match="set grad_stats=False"):
        ip.run(SMALL.replace(grad_stats=True), model=biases)


def test_a_layer_of_nan_is_refused_naming_it():
    def nan_layer(z):
        return z, {"fine": jnp.tanh(z), "broken": jnp.log(-1.0 - z**2)}

    with pytest.raises(
        ValueError, match="layer 'broken' .* NaN or infinite .* epoch 0"
    ):
        ip.run(SMALL, model=bare(nan_layer))


def test_layers_keep_the_order_the_model_names_them_in():
    # JAX gives a dict back from tracing with its keys sorted; the layers are shown,
    # and the last hidden one found, in the order the model returns them.
    def ordered(z):
        return z, {"z_first": jnp.tanh(z), "a_second": jnp.tanh(z[:3])}

    result = ip.run(SMALL, model=bare(ordered))
    assert result.layers == ("z_first", "a_second")
    assert result.info["model"]["units"] == [10, 3]
    # a_second is the first 3 of z_first's 10 values: it can only know less
    assert (result.i_xt[:, :, 1] <= result.i_xt[:, :, 0] + 1e-12).all()


def test_modules_that_differ_between_keys_are_refused():
    def factory(key):  # a width drawn from the key: each seed its own shapes
        width = 4 + int(jax.random.randint(key, (), 0, 1000))
        return Bare(jax.random.normal(key, (10, 64)), lambda z: (z, [z[:width]]))

    with pytest.raises(ValueError, match="differ in more than their arrays' values"):
        ip.run(SMALL, model=factory)


def test_the_example_runs(tmp_path):
    main = runpy.run_path(str(EXAMPLE), run_name="example")["main"]
    result = main(epochs=3, every=1, seeds=2, out=str(tmp_path / "run"))
    assert list(result.epochs) == [0, 1, 2]
    assert result.layers == ("conv", "dense", "output")
    assert result.info["model"]["units"] == [72, 32]
    loaded = ip.Result.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.i_xt, result.i_xt)
    assert (tmp_path / "run" / "plane.png").stat().st_size > 0
