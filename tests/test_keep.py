"""run(keep="activations"): what a run trained is kept, and measured again."""

import jax.numpy as jnp
import numpy as np
import pytest

import infoplane as ip
from infoplane.results import KEPT_ARRAYS

EXP = ip.preset("seed", epochs=41, measure="every:20")  # measured at 0, 20, 40


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    result = ip.run(EXP, keep="activations")
    path = result.save(tmp_path_factory.mktemp("keep") / "run")
    return result, ip.Result.load(path)


def test_a_run_keeps_its_layers_and_parameters(kept):
    result, loaded = kept
    widths = sum(EXP.hidden) + 2 * EXP.measure_output  # the output: 2 classes
    activations = result.arrays["kept_activations"]
    assert activations.shape == (1, 3, 1024, widths)
    assert activations.dtype == np.float32
    assert result.arrays["kept_parameters"].shape[0] == 1
    # The kept values are the run's: the same networks, the same numbers.
    plain = ip.run(EXP)
    for name, array in plain.arrays.items():
        np.testing.assert_array_equal(result.arrays[name], array, err_msg=name)
    assert not set(plain.arrays) & set(KEPT_ARRAYS)
    for name in KEPT_ARRAYS:
        np.testing.assert_array_equal(loaded.arrays[name], result.arrays[name])


def test_kept_models_are_the_trained_networks(kept, small_result):
    result, loaded = kept
    (model,) = loaded.kept_models()
    assert isinstance(model, ip.model.MLP)
    assert (model.activation, model.quantize) == (EXP.activation, EXP.quantize)
    # The final parameters give the layers measured at the last epoch (the last).
    inputs = ip.load_task(EXP.task).scaled(EXP.scale).inputs
    _, hidden = model.batch(jnp.asarray(inputs))
    kept_layers = result.arrays["kept_activations"][0, -1, :, : sum(EXP.hidden)]
    np.testing.assert_allclose(np.concatenate(hidden, axis=1), kept_layers, atol=1e-6)
    first = ip.run(
        EXP.replace(epochs=1, measure="every:1"), keep="activations"
    ).kept_models()[0]
    assert not np.allclose(first.layers[0].weight, model.layers[0].weight)
    with pytest.raises(ValueError, match="without a factory"):
        loaded.kept_models(lambda key: model)
    with pytest.raises(ValueError, match="kept no parameters"):
        small_result.kept_models()


@pytest.mark.parametrize("estimator", ["kde-upper:var=0.1", "binning:bins=30"])
def test_remeasure_equals_a_run_measured_with_it(kept, estimator):
    _, loaded = kept
    again = loaded.remeasure(estimator)
    measured = ip.run(EXP.replace(estimators=(estimator,)))
    assert again.estimators == measured.estimators
    if estimator.startswith("binning"):
        np.testing.assert_array_equal(again.i_xt, measured.i_xt)
        np.testing.assert_array_equal(again.i_ty, measured.i_ty)
        np.testing.assert_array_equal(
            again.arrays["occupied_bins"], measured.arrays["occupied_bins"]
        )
    else:
        np.testing.assert_allclose(again.i_xt, measured.i_xt, rtol=0, atol=1e-9)
        np.testing.assert_allclose(again.i_ty, measured.i_ty, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(
        again.arrays["train_loss"], measured.arrays["train_loss"]
    )


def test_remeasure_without_kept_activations_is_an_error():
    with pytest.raises(ValueError, match='keep="activations"'):
        ip.run(EXP).remeasure("binning:bins=30")


def test_a_keep_too_large_is_refused_before_it_runs():
    big = ip.preset("seed", epochs=20000, measure="every:1")
    with pytest.raises(ValueError, match=r"would keep 1\.\d\d GiB"):
        ip.run(big, keep="activations")
    with pytest.raises(ValueError, match="keep must be"):
        ip.run(EXP, keep="everything")
    with pytest.raises(ValueError, match="keep_seeds"):
        ip.run(EXP, keep="activations", keep_seeds=2)


def test_a_result_missing_a_kept_array_is_damaged(kept, tmp_path):
    result, _ = kept
    arrays = {k: v for k, v in result.arrays.items() if k != "kept_p_y"}
    damaged = ip.Result(
        result.experiment, arrays, result.layers, result.estimators, result.info
    )
    damaged.save(tmp_path / "run")
    with pytest.raises(ValueError, match="without the other kept arrays"):
        ip.Result.load(tmp_path / "run")


def test_kept_seeds_and_the_output_layer_are_measured_again(tmp_path):
    exp = EXP.replace(seeds=3, measure_output=True, measure_samples=300, units="bits")
    result = ip.run(exp, keep="activations", keep_seeds=2)
    assert result.arrays["kept_activations"].shape == (2, 3, 300, sum(exp.hidden) + 2)
    again = result.remeasure("binning:bins=30")
    measured = ip.run(exp.replace(estimators=("binning:bins=30",)))
    assert again.experiment.seeds == 2
    assert again.units == "bits"
    np.testing.assert_array_equal(again.i_xt, measured.i_xt[:2])
    np.testing.assert_array_equal(again.i_ty, measured.i_ty[:2])
    np.testing.assert_array_equal(
        again.arrays["test_accuracy"], measured.arrays["test_accuracy"][:2]
    )
    loaded = ip.Result.load(again.save(tmp_path / "again"))
    np.testing.assert_array_equal(loaded.i_xt, again.i_xt)


def test_a_kept_network_that_diverged_keeps_nan_as_its_other_arrays(poison_network):

    poison_network(0)  # network 0 starts from NaN weights: it diverges at once
    with pytest.warns(ip.DivergenceWarning):
        result = ip.run(EXP.replace(seeds=2), keep="activations", keep_seeds=2)
    assert set(KEPT_ARRAYS) <= set(result.arrays)
    kept = result.arrays["kept_activations"]
    assert np.isnan(kept[0]).all()  # diverged at epoch 0, as its i_xt says
    assert np.isnan(result.i_xt[0]).all()
    assert np.isfinite(kept[1]).all()
    assert np.isfinite(result.i_xt[1]).all()
    # Measured again, it is NaN as in the run (not the 0 that binning NaN gives);
    # the network that did not diverge is what the summary and pictures show.
    again = result.remeasure("binning:bins=30,range=-1:1")
    assert np.isnan(again.i_xt[0]).all()
    assert np.isnan(again.i_ty[0]).all()
    np.testing.assert_array_equal(again.i_xt[1], result.i_xt[1])
    np.testing.assert_array_equal(again.converged, [False, True])
    row = again.summary()[0]
    assert (row["networks"], row["diverged"]) == (1, 1)
    assert row["final_i_xt"] == result.i_xt[1, -1, 0, 0]
    from infoplane import analysis
    from infoplane.plotting._plane import plane_data

    np.testing.assert_array_equal(np.isnan(analysis.loss_epochs(again, 10)), [1, 0])
    plane = plane_data(again, 0, "mean")
    np.testing.assert_array_equal(plane.x[0], result.i_xt[1, :, :, 0])
    assert plane.n_seeds == 1


def test_kept_networks_are_those_of_the_run_bit_for_bit():
    # The kept activations are exactly those the run measured (the same networks,
    # epochs and forward pass): measured again they give the run's values bit for
    # bit, where a value one ulp off could change its bin or quantisation level.
    # Two hidden layers rather than the preset's five: half the program to compile.
    exp = ip.preset("lorenzen2022", seeds=3, epochs=20, measure="log:4")
    exp = exp.replace(
        estimators=("quantized", "binning"), activation="tanh", hidden=(6, 3)
    )
    result = ip.run(exp, keep="activations", keep_seeds=2)
    for k, estimator in enumerate(result.estimators):
        again = result.remeasure(estimator)
        np.testing.assert_array_equal(again.i_xt[..., 0], result.i_xt[:2, ..., k])
        np.testing.assert_array_equal(again.i_ty[..., 0], result.i_ty[:2, ..., k])
