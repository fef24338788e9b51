"""Runs on real-sized and real data: a given split, scaling, measured subsets, the
warnings of data that does not suit the network, and the presets for your own data."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

import infoplane as ip


def _images(tmp_path, n=120, classes=3, seed=0, **split):
    """An npz of small 'images' (pixels 0..255) whose class shows in their mean."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.integers(0, 64, (n, 4, 4)) + 60 * y[:, None, None]
    path = tmp_path / "images.npz"
    if split:
        k = split["train"]
        np.savez(path, x_train=x[:k], y_train=y[:k], x_test=x[k:], y_test=y[k:])
    else:
        np.savez(path, inputs=x, labels=y)
    return f"file:{path}"


# A classifier's training: softmax, Adam, mini-batches, inputs on [-1, 1].
CLASSIFIER = dict(
    hidden=(6, 4),
    loss="softmax_ce",
    optimizer="adam",
    lr=1e-3,
    batch_size=16,
    epochs=30,
    measure="every:10",
    seeds=2,
    scale="unit",
)


def _quick(task, **fields):
    return ip.Experiment(**(CLASSIFIER | dict(task=task) | fields))


def test_a_given_split_is_what_every_network_trains_on(tmp_path):
    task = _images(tmp_path, train=90)
    result = ip.run(_quick(task, measure_samples=0, train_fraction=0.3))
    np.testing.assert_array_equal(result.arrays["train_size"], [90, 90])
    np.testing.assert_array_equal(result.arrays["test_size"], [30, 30])
    assert "measured_inputs" not in result.arrays  # measured on all 90


def test_measure_samples_is_a_fixed_subset_per_seed(tmp_path):
    task = _images(tmp_path, train=90)
    exp = _quick(task, measure_samples=25)
    result = ip.run(exp)
    index = result.arrays["measured_inputs"]
    assert index.shape == (2, 25)
    np.testing.assert_array_equal(result.arrays["measured_samples"], [25, 25])
    for row in index:
        assert len(set(row)) == 25
        assert row.max() < 90  # training rows only (measure_on=train)
    assert not np.array_equal(index[0], index[1])  # each seed its own subset
    # The same seed draws the same subset; I(X;T) <= ln 25 on 25 distinct inputs.
    np.testing.assert_array_equal(ip.run(exp).arrays["measured_inputs"], index)
    assert result.i_xt.max() <= np.log(25) + 1e-9
    # That ceiling, not the task's H(X) (ln 120), is the line on the plane.
    assert result.info["measured_h_x"] == pytest.approx(np.log(25), abs=1e-12)
    assert result.info["h_x"] == pytest.approx(np.log(120), abs=1e-12)
    ax = result.plot()
    assert ax.lines[0].get_xdata()[0] == result.info["measured_h_x"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[-1] == "H(X) of the measured samples, I(X;Y)"
    plt.close(ax.figure)
    # Measuring a subset changes nothing in training.
    everything = ip.run(exp.replace(measure_samples=0))
    np.testing.assert_array_equal(
        everything.arrays["test_accuracy"], result.arrays["test_accuracy"]
    )
    # A subset no smaller than the measured set is the whole set, measured on its own
    # inputs: the same information as measuring all 120 with the test inputs at
    # weight 0 (to rounding: sums over fewer terms).
    for size in (90, 100):
        whole = ip.run(exp.replace(measure_samples=size))
        training_rows = np.tile(np.arange(90), (2, 1))
        np.testing.assert_array_equal(whole.arrays["measured_inputs"], training_rows)
        np.testing.assert_array_equal(whole.arrays["measured_samples"], [90, 90])
        for key in ("i_xt", "i_ty"):
            np.testing.assert_allclose(
                whole.arrays[key], everything.arrays[key], atol=1e-12
            )
        assert not np.array_equal(whole.i_xt, result.i_xt)


def test_measure_samples_on_a_population_task_draws_samples():
    exp = ip.preset("seed", epochs=20, measure="every:10", seeds=3, measure_samples=300)
    result = ip.run(exp)
    np.testing.assert_array_equal(result.arrays["measured_samples"], [300] * 3)
    index = result.arrays["measured_inputs"]
    # 300 of 50,000 draws over 1024 inputs: some inputs twice, so fewer distinct
    # inputs than samples; each network's row is padded with -1 to the longest.
    distinct = (index >= 0).sum(axis=1)
    assert (distinct <= 300).all()
    assert (distinct > 200).all()
    assert distinct.max() == index.shape[1]
    assert result.i_xt.max() <= np.log(300) + 1e-9
    # On the population itself: 300 distinct inputs of the 1024 (the same program).
    full = ip.run(exp.replace(measure_on="full"))
    assert (full.arrays["measured_inputs"] >= 0).sum(axis=1).tolist() == [300] * 3


def test_a_result_with_a_subset_saves_and_loads(tmp_path):
    result = ip.run(_quick(_images(tmp_path), measure_samples=20))
    result.save(tmp_path / "r")
    loaded = ip.Result.load(tmp_path / "r")
    np.testing.assert_array_equal(
        loaded.arrays["measured_inputs"], result.arrays["measured_inputs"]
    )
    assert loaded.experiment.measure_samples == 20


def test_scale_auto_is_recorded_as_applied(tmp_path):
    task = _images(tmp_path, classes=2)
    unscaled = ip.preset("seed", task=task, hidden=(5,), epochs=10, measure="every:5")
    assert unscaled.scale == "auto"
    with pytest.warns(ip.DataWarning) as caught:
        result = ip.run(unscaled)
    assert any("far beyond" in str(w.message) for w in caught)
    assert result.experiment.scale == "none"  # your own files: as given
    assert ip.run(unscaled.replace(scale="unit")).experiment.scale == "unit"


def test_unscaled_pixels_warn_twice_with_the_fix(tmp_path):
    exp = _quick(_images(tmp_path), scale="none", epochs=10, seeds=1)
    with pytest.warns(ip.DataWarning) as caught:
        result = ip.run(exp)
    lines = [str(w.message) for w in caught]
    assert any("span [0, 18" in line and "set scale=unit" in line for line in lines)
    assert any(
        line.startswith("layer 1 is") and "saturated at the first measurement" in line
        for line in lines
    )
    assert set(lines) <= set(result.info["warnings"])
    assert result.arrays["saturation"][0, 0, 0] > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scaled: nothing to say
        ip.run(exp.replace(scale="unit"))


def test_sigmoid_loss_on_many_classes_warns(tmp_path):
    exp = _quick(_images(tmp_path, classes=4), loss="sigmoid_bce", epochs=10)
    with pytest.warns(ip.DataWarning, match="treats each of the 4 outputs"):
        ip.run(exp)


def test_accuracy_near_chance_at_the_end_warns(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.npz"
    np.savez(path, inputs=rng.normal(size=(200, 3)), labels=rng.integers(0, 4, 200))
    exp = _quick(
        f"file:{path}",
        hidden=(3,),
        batch_size=0,
        epochs=1000,  # 1000 updates: long enough to judge
        measure="log:5",
        lr=1e-4,
        seeds=1,
    )
    with pytest.warns(ip.DataWarning, match="near chance"):
        ip.run(exp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a short run is not judged
        ip.run(exp.replace(epochs=999))


def test_classify_on_digits_learns():
    exp = ip.preset("classify", epochs=30, measure="log:5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ip.run(exp)
    assert result.experiment.task == "digits"
    assert result.arrays["final_test_accuracy"][0] > 0.85
    np.testing.assert_array_equal(result.arrays["measured_samples"], [1000])
    # 1000 distinct measured inputs: the 32 wide first layer gives each its own bins,
    # I(X;T) = ln 1000 (the corner of the plane), I(T;Y) = H(Y) of the subset.
    assert result.i_xt[0, -1, 0, 0] == pytest.approx(np.log(1000))


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def _write_mnist(folder, rng):
    """A tiny MNIST in IDX files: 40 training and 12 test images of 4 x 4 pixels,
    labelled 0-9 in turn, each class brighter than the last."""
    for split, n in (("train", 40), ("t10k", 12)):
        y = np.arange(n, dtype=np.uint8) % 10
        x = rng.integers(0, 40, (n, 4, 4)) + 20 * y[:, None, None]
        _write_idx(folder / f"{split}-images-idx3-ubyte", x.astype(np.uint8))
        _write_idx(folder / f"{split}-labels-idx1-ubyte", y)


def test_saxe2018_mnist_runs_on_the_users_mnist_files(tmp_path):
    _write_mnist(tmp_path, np.random.default_rng(0))
    exp = ip.preset(
        "saxe2018-mnist",
        task=f"mnist:{tmp_path}",
        hidden=(8, 4),
        epochs=3,
        measure="every:1",
        batch_size=8,
        measure_samples=5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ip.DataWarning)  # scaled: no data warning
        # Bins of 0.5 hold the output's early probabilities (about 0.1) in one bin.
        warnings.simplefilter("ignore", ip.ClippingWarning)
        result = ip.run(exp)
    assert result.experiment.scale == "unit"
    np.testing.assert_array_equal(result.arrays["train_size"], [40])  # MNIST's split
    np.testing.assert_array_equal(result.arrays["test_size"], [12])
    measured = result.arrays["measured_inputs"]
    assert measured.shape == (1, 5)
    assert (measured >= 40).all()  # the test images (measure_on=test) come after
    assert result.layers == ("layer 1", "layer 2", "output")
    assert result.i_xt.shape == (1, 3, 3, 2)  # kernel bound and binning
    assert np.all(result.i_xt <= np.log2(5) + 1e-9)  # bits, on 5 distinct images


def test_saxe2018_mnist_on_the_first_images_of_each_split(tmp_path):
    _write_mnist(tmp_path, np.random.default_rng(1))
    task = f"mnist:{tmp_path},train=20,test=10"
    exp = ip.preset(
        "saxe2018-mnist",
        task=task,
        hidden=(8, 4),
        epochs=1,
        measure="every:1",
        batch_size=8,
        estimators=("binning",),
        measure_samples=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ip.ClippingWarning)
        result = ip.run(exp)
    assert result.experiment.task == task
    np.testing.assert_array_equal(result.arrays["train_size"], [20])
    np.testing.assert_array_equal(result.arrays["test_size"], [10])
    result.save(tmp_path / "run")
    assert ip.Result.load(tmp_path / "run").experiment.task == task
