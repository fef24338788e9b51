import math
import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoplane as ip
from infoplane import training
from infoplane.config import OPTIMIZERS
from infoplane.model import MLP
from infoplane.results import AXES


def test_weighted_full_batch_gradient_equals_gradient_over_all_samples():
    data = ip.load_task("seed10")
    exp = ip.preset("seed")
    train, _ = data.split(
        np.random.default_rng(0),
        train_samples=50_000,
        test_samples=10_000,
        train_fraction=0.5,
    )
    model = MLP(10, exp.hidden, 2, key=jax.random.PRNGKey(1))
    x_fm, p_y_fm = jnp.asarray(data.inputs.T), jnp.asarray(data.p_y.T, jnp.float32)
    # Training weighs each distinct input by its share of the training samples.
    grad = eqx.filter_jit(jax.grad(training._weighted_loss))  # compiled, as in training
    weighted = grad(
        model, exp.loss, x_fm, p_y_fm, (train / train.sum()).astype(np.float32)
    )
    rows = jnp.repeat(jnp.arange(1024), train, total_repeat_length=50_000)
    everything = grad(
        model, exp.loss, x_fm[:, rows], p_y_fm[:, rows], jnp.full(50_000, 1 / 50_000)
    )
    for a, b in zip(
        jax.tree.leaves(weighted), jax.tree.leaves(everything), strict=True
    ):
        # float32 sums in different orders: equal to a few ulps of the gradient scale.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("loss", ["sigmoid_bce", "softmax_ce"])
def test_closed_form_loss_gradient_equals_autodiff(loss):
    # The custom VJP of the weighted loss against plain autodiff through optax.
    exp = ip.preset("seed", loss=loss, hidden=(5, 3))
    model = MLP(4, exp.hidden, 3, key=jax.random.PRNGKey(0))
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x_fm = jax.random.normal(keys[0], (4, 50))
    p_y_fm = jax.nn.softmax(jax.random.normal(keys[1], (3, 50)), axis=0)
    w = jax.random.uniform(keys[2], (50,))
    w = w / jnp.sum(w)  # shares, as training passes them

    def plain(model):
        logits, _ = model.features(x_fm)
        losses = training._example_losses(loss, logits, p_y_fm, axis=0)
        return jnp.sum(w * losses)

    # Both compiled, as in training (op by op, JAX compiles every operation apart).
    value, grads = eqx.filter_jit(jax.value_and_grad(training._weighted_loss))(
        model, loss, x_fm, p_y_fm, w
    )
    expected_value, expected = eqx.filter_jit(jax.value_and_grad(plain))(model)
    assert value == pytest.approx(float(expected_value), rel=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _traces():
    return eqx.debug.get_num_traces(training._advance)


def test_same_seed_same_bits_and_no_retracing():
    exp = ip.preset("seed", epochs=200, measure="every:50", seeds=2, seed=5)
    first = ip.run(exp)
    traces = _traces()
    second = ip.run(exp)
    assert _traces() == traces  # compiled once, reused
    for name, value in first.arrays.items():
        np.testing.assert_array_equal(value, second.arrays[name])
    other = ip.run(exp.replace(seed=6, lr=0.05, epochs=300))
    assert _traces() == traces  # seed, lr, epochs are not compiled in
    assert not np.array_equal(first.i_xt, other.i_xt[:, : len(first.epochs)])


@pytest.mark.parametrize("task", ["seed10", "tishby12"])
def test_what_only_changes_values_reuses_the_compiled_program(task):
    exp = ip.preset(
        "seed", task=task, hidden=(4, 3), epochs=30, measure="every:10", seeds=2
    )
    ip.run(exp)
    traces = _traces()
    for change in [
        dict(train_fraction=0.5),
        dict(measure_on="test"),
        dict(measure_on="full"),
        dict(lr=0.3),
        dict(seed=3),
        dict(epochs=45),  # measured 0, 10, ..., 40, then a final segment
        dict(measure="log:5"),
        dict(train_samples=20_000, test_samples=5_000),
        dict(name="other", units="bits"),
    ]:
        ip.run(exp.replace(**change))
        assert _traces() == traces, change
    ip.run(exp.replace(loss="softmax_ce"))  # a different program
    assert _traces() == traces + 1


@pytest.mark.parametrize("batch_size", [0, 15_000])
@pytest.mark.parametrize("seeds", [1, 3])
def test_every_epoch_trains_whatever_the_schedule(batch_size, seeds):
    # Measuring every epoch runs each of the 10 updates and measures after the last;
    # every other schedule must end in that same state after epoch 9. Epoch 8's loss
    # differs, so a run one update short would fail.
    exp = ip.preset(
        "seed",
        hidden=(4, 3),
        epochs=10,
        seeds=seeds,
        batch_size=batch_size,
        optimizer="adam",
        lr=0.01,
        measure="every:1",
    )
    reference = ip.run(exp).arrays
    last = reference["train_loss"][:, -1]
    assert not np.allclose(reference["train_loss"][:, -2], last, rtol=1e-4)
    for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        assert reference[f"final_{name}"].shape == (seeds,)
        np.testing.assert_array_equal(
            reference[f"final_{name}"], reference[name][:, -1]
        )
    for measure, measured in [
        ("every:5", [0, 5]),  # divides 10: epochs 6 to 9 run after the last one
        ("every:4", [0, 4, 8]),  # does not divide: epoch 9 runs after it
        ("every:3", [0, 3, 6, 9]),  # measures the last epoch itself
        ("log:4", [0, 1, 4, 9]),
    ]:
        result = ip.run(exp.replace(measure=measure)).arrays
        np.testing.assert_array_equal(result["epochs"], measured)
        assert result["train_loss"].shape == (seeds, len(measured))
        np.testing.assert_allclose(
            result["train_loss"], reference["train_loss"][:, measured], rtol=1e-6
        )
        for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            np.testing.assert_allclose(
                result[f"final_{name}"], reference[name][:, -1], rtol=1e-6
            )


def test_network_i_does_not_depend_on_how_many_train_together():
    one = ip.run(ip.preset("seed", epochs=100, measure="every:50", seeds=1))
    three = ip.run(ip.preset("seed", epochs=100, measure="every:50", seeds=3))
    np.testing.assert_allclose(one.i_xt[0], three.i_xt[0], atol=1e-6)
    np.testing.assert_allclose(
        one.arrays["train_loss"][0], three.arrays["train_loss"][0], rtol=1e-5
    )
    assert not np.allclose(three.i_xt[0], three.i_xt[1])


def test_divergence_is_reported():
    with pytest.raises(ip.TrainingDiverged, match="lower the learning rate"):
        ip.run(ip.preset("seed", epochs=100, measure="every:10", lr=1e6))


def test_a_run_raises_when_every_network_diverged():
    exp = ip.preset("seed", hidden=(4, 3), epochs=20, measure="every:10", seeds=3)
    with pytest.raises(ip.TrainingDiverged, match=r"3 of 3 networks .*seed 2 by epoch"):
        ip.run(exp.replace(lr=1e6))


def test_divergence_is_found_and_masked_per_network():
    loss = np.array(
        [[0.5, 0.4, np.nan, np.nan], [0.5, 200, 0.3, 0.2], [0.5, 0.4, 0.3, np.inf]]
    )
    targets = np.array([0, 10, 20, 30])
    diverged = training._find_divergence(loss, targets, np.array([-1, -1, -1]))
    np.testing.assert_array_equal(diverged, [20, 10, 30])
    # A network that diverged earlier keeps its epoch.
    again = training._find_divergence(loss, targets, np.array([-1, 5, -1]))
    np.testing.assert_array_equal(again, [20, 5, 30])
    records = {
        "train_loss": loss.astype(np.float32),
        "i_xt": np.ones((3, 4, 2, 1)),
    }
    masked = training._mask_diverged(records, targets, np.array([20, -1, 30]))
    assert masked["train_loss"].dtype == np.float32
    expected = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0]], bool)
    np.testing.assert_array_equal(~np.isnan(masked["i_xt"][..., 0, 0]), expected)
    kept = records["train_loss"][expected]
    np.testing.assert_array_equal(masked["train_loss"][expected], kept)


def test_one_diverged_network_keeps_the_others(poison_network):
    exp = ip.preset(
        "seed",
        hidden=(4, 3),
        epochs=20,
        measure="every:8",
        seeds=3,
        batch_size=20_000,
        estimators=("binning:bins=30,range=-1:1", "kde-upper:var=0.1"),
        grad_stats=True,
        measure_output=True,
    )
    clean = ip.run(exp).arrays
    assert (clean["diverged_epoch"] == -1).all()
    poison_network(1)
    with pytest.warns(ip.DivergenceWarning, match="1 of 3 networks"):
        result = ip.run(exp)
    arrays = result.arrays
    np.testing.assert_array_equal(arrays["diverged_epoch"], [-1, 0, -1])
    for name, values in clean.items():
        if AXES[name][0] != "seed" or name == "diverged_epoch":
            continue
        # The others are bit for bit what they are without a diverged neighbour.
        np.testing.assert_array_equal(arrays[name][[0, 2]], values[[0, 2]])
        if "epoch" in AXES[name] or name.startswith("final_"):
            assert np.isnan(arrays[name][1]).all(), name


def test_strict_raises_when_any_network_diverged(poison_network):
    exp = ip.preset("seed", hidden=(4, 3), epochs=20, measure="every:8", seeds=3)
    poison_network(1)
    with pytest.raises(
        ip.TrainingDiverged, match=r"1 of 3 networks .*\(seed 1 by epoch 0\)"
    ):
        training.train(exp, ip.load_task(exp.task), strict=True)


def test_minibatches_gradient_statistics_and_output_layer():
    exp = ip.preset(
        "seed",
        epochs=4,
        measure="every:2",
        batch_size=15_000,
        grad_stats=True,
        measure_output=True,
        train_samples=50_000,
    )
    result = ip.run(exp)
    assert result.layers == ("layer 1", "layer 2", "layer 3", "output")
    assert result.i_xt.shape == (1, 2, 4, 1)
    mean, std = result.arrays["grad_mean_norm"], result.arrays["grad_std_norm"]
    assert mean.shape == std.shape == (1, 2, 4)  # one per weight layer
    assert np.all(std > 0)  # four batches (the last one partial) differ
    full = ip.run(exp.replace(batch_size=0))
    np.testing.assert_allclose(full.arrays["grad_std_norm"], 0, atol=1e-6)


def test_several_devices_shard_the_seed_axis(monkeypatch):
    exp = ip.preset("seed", epochs=60, measure="every:20", seeds=4)
    if len(jax.devices()) >= 2:  # this process shards; the reference runs on one device
        sharded = ip.run(exp).i_xt[:, -1, :, 0]
        assert training._seed_mesh(exp.seeds).size == len(jax.devices())
        monkeypatch.setattr(training, "_seed_mesh", lambda n_seeds: None)
        np.testing.assert_allclose(sharded, ip.run(exp).i_xt[:, -1, :, 0], atol=1e-6)
        return

    # One device here (e.g. one GPU): both runs on the CPU, in processes of their own.
    def final_i_xt(devices):
        code = (
            "import jax, infoplane as ip;"
            f"assert len(jax.devices()) == {devices};"
            "r = ip.run(ip.preset('seed', epochs=60, measure='every:20', seeds=4));"
            "print(repr(r.i_xt[:, -1, :, 0].round(9).tolist()))"
        )
        env = dict(
            os.environ,
            JAX_PLATFORMS="cpu",
            XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return np.array(eval(out.stdout))  # noqa: S307 (our own printed list)

    np.testing.assert_allclose(final_i_xt(2), final_i_xt(1), atol=1e-6)


def test_seed_protocol_reproduces_the_notebook():
    # The notebook's run: layer 1 keeps everything (I(T;Y) = ln 2 within 0.01, I(X;T)
    # near ln 1024); the deepest layer fits, then compresses.
    result = ip.run(ip.preset("seed"))
    assert len(result.epochs) == 150
    assert result.epochs[-1] == 2980
    xt, ty = result.i_xt[0, :, :, 0], result.i_ty[0, :, :, 0]
    assert abs(ty[-1, 0] - math.log(2)) < 0.01
    assert xt[-1, 0] > math.log(1024) - 0.05
    deepest = xt[:, -1]
    assert deepest.max() - deepest[-1] > 0.5  # compression after the peak
    assert result.epochs[deepest.argmax()] < 1500
    assert ty[-1, -1] > ty[0, -1]  # fitting: I(T;Y) rose
    assert result.arrays["test_accuracy"][0, -1] > 0.85


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimizer_state_is_optax_init(optimizer):
    exp = ip.preset("seed", optimizer=optimizer)
    state, _ = training._setup(exp, ip.load_task("seed10"), 2)
    init = training._optimizer(optimizer, 1.0).init
    expected = jax.vmap(lambda m: init(eqx.filter(m, eqx.is_array)))(state.model)
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(expected)
    for a, b in zip(
        jax.tree.leaves(state.opt_state), jax.tree.leaves(expected), strict=True
    ):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_state_pytrees_are_arrays_only():
    exp = ip.preset("seed", seeds=2)
    state, _ = training._setup(exp, ip.load_task("seed10"), 2)
    leaves = jax.tree.leaves(eqx.filter(state, eqx.is_array))
    assert all(leaf.shape[0] == 2 for leaf in leaves)


def test_a_fixed_range_that_clips_relu_warns_with_the_fraction():
    exp = ip.preset(
        "seed",
        activation="relu",
        epochs=100,
        measure="every:50",
        estimators=("binning", "binning-width:width=0.07"),
    )
    with pytest.warns(
        ip.ClippingWarning, match=r"clipped up to \d+\.\d% .*binning-width"
    ):
        result = ip.run(exp)
    clipped = result.arrays["clipped_fraction"]
    assert np.nanmax(clipped[..., 0]) > 0  # the [-1, 1] range clips relu values
    # Fixed width clips only beyond width * 2**31, which relu here never reaches.
    assert (clipped[..., 1] == 0).all()
    assert len(result.info["warnings"]) == 1
    assert np.isnan(result.arrays["saturation"]).all()  # relu has no bounds


@pytest.mark.parametrize("n", [1, 2, 3, 10, 3481, 4096])
def test_shuffle_is_a_permutation_that_changes_with_the_key(n):
    values = jnp.arange(n) * 7
    key = jnp.array([7, 11], jnp.uint32)
    shuffle = jax.jit(training._shuffle)  # as training calls it: one program, not many
    orders = [np.asarray(shuffle(key, epoch, values)) for epoch in (0, 1)]
    other = np.asarray(shuffle(key.at[1].set(12), 0, values))
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.asarray(values))
    if n > 3:
        assert not np.array_equal(orders[0], orders[1])
        assert not np.array_equal(orders[0], other)


@pytest.mark.parametrize("over", ["keys", "epochs"])
def test_shuffle_positions_look_uniform(over):
    # Where each of 12 items lands over 12,000 shuffles (of different networks, or of
    # one network's epochs): a chi-square test of the 12 x 12 table against uniform
    # (121 degrees of freedom; the 99.9% quantile is about 172; fixed keys make the
    # test deterministic).
    draws = np.random.default_rng(0).integers(0, 2**32, (12_000, 2))
    keys = jnp.asarray(draws, jnp.uint32)
    epochs = jnp.zeros(12_000, jnp.int32)
    if over == "epochs":
        keys, epochs = jnp.broadcast_to(keys[0], keys.shape), jnp.arange(12_000)
    shuffle = jax.vmap(lambda k, e: training._shuffle(k, e, jnp.arange(12)))
    orders = jax.jit(shuffle)(keys, epochs)
    position = np.argsort(np.asarray(orders), axis=1)
    table = np.stack([np.bincount(position[:, i], minlength=12) for i in range(12)])
    chi2 = ((table - 1000) ** 2 / 1000).sum()
    assert chi2 < 172


def test_a_run_wide_observed_range_is_found_in_a_first_pass():
    exp = ip.preset(
        "seed",
        activation="relu",
        epochs=100,
        measure="every:50",
        seeds=2,
        estimators=("binning-observed:bins=30,scope=run",),
    )
    result = ip.run(exp)
    (spec,) = result.estimators
    low, high = (float(v) for v in spec.rpartition("range=")[2].split(":"))
    assert low == float(result.arrays["activation_min"].min())
    assert high == float(result.arrays["activation_max"].max())
    assert result.experiment.estimators == (spec,)
    again = ip.run(exp.replace(estimators=(spec,)))  # the resolved spec replays it
    np.testing.assert_array_equal(again.i_xt, result.i_xt)
