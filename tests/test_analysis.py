"""Summaries and verdicts: honest statistics that noise cannot fake."""

import numpy as np
import pytest

import infoplane as ip
from infoplane import analysis


def result_of(i_xt, *, clipped=None, diverged=None):
    """A Result holding the series ``i_xt`` of shape (seeds, epochs) for one layer."""
    seeds, epochs = i_xt.shape
    exp = ip.Experiment(
        name="series", hidden=(4,), seeds=seeds, epochs=epochs, measure="every:1"
    )
    arrays = {
        "epochs": np.arange(epochs),
        "i_xt": i_xt[:, :, None, None].astype(float),
        "i_ty": np.zeros((seeds, epochs, 1, 1)),
        "train_loss": np.ones((seeds, epochs)),
    }
    if clipped is not None:
        arrays["clipped_fraction"] = np.full((seeds, epochs, 1, 1), clipped)
    if diverged is not None:
        arrays["diverged_epoch"] = np.asarray(diverged)
    return ip.Result(exp, arrays, ("layer 1",), exp.estimators, {})


def test_a_stationary_noisy_series_is_not_called_compression():
    rng = np.random.default_rng(1)
    noise = 5 + 0.05 * rng.standard_normal((50, 150))
    naive = noise.max(axis=1) - noise[:, -1]
    assert naive.min() >= 0  # the old statistic: never below zero,
    assert naive.mean() > 0.1  # and about 2.5 noise deviations on average
    (row,) = result_of(noise).summary()
    assert row["compression_ci_low"] < 0 < row["compression_ci_high"]
    assert abs(row["compression"]) < 0.01
    (line,) = analysis.verdicts([result_of(noise)], ["noise"])
    assert ": no layer compresses" in line


def test_a_real_drop_is_compression_of_its_size():
    rng = np.random.default_rng(2)
    t = np.linspace(0, 1, 150)
    rise_and_fall = 5 * np.minimum(t / 0.3, 1) - 1.0 * np.clip((t - 0.3) / 0.5, 0, 1)
    series = rise_and_fall + 0.05 * rng.standard_normal((50, 150))
    (row,) = result_of(series).summary()
    assert row["compression"] == pytest.approx(1.0, abs=0.1)
    assert row["compression_ci_low"] > 0.8
    assert row["compressing_seeds"] == 1.0
    (line,) = analysis.verdicts([result_of(series)], ["drop"])
    assert line.startswith("drop, binning:bins=30,range=-1:1: compresses: layer 1")


def test_the_bootstrap_and_share_equal_a_direct_computation():
    rng = np.random.default_rng(3)
    series = np.cumsum(rng.standard_normal((7, 40)), axis=1)
    (row,) = result_of(series).summary(threshold=0.1, confidence=0.9)
    drop, peak = analysis.compression_drop(series)
    draws = np.random.default_rng(0).integers(0, 7, (2000, 7))
    means = drop[draws].mean(axis=1)
    assert row["compression"] == pytest.approx(drop.mean(), abs=1e-12)
    assert row["compression_ci_low"] == pytest.approx(np.quantile(means, 0.05))
    assert row["compression_ci_high"] == pytest.approx(np.quantile(means, 0.95))
    assert row["compressing_seeds"] == np.mean(drop > 0.1 * peak)


def test_the_cross_fitted_drop_by_hand():
    series = np.array([[0.0, 1, 2, 3, 4, 3, 2, 1.0]])
    # Even measurements 0, 2, 4, 2 peak at index 2 (value 4); the odd ones there: 3,
    # their end: 1. Odd 1, 3, 3, 1 peak first at index 1; the even ones there: 2,
    # their end: 2. Windows of one measurement (4 // 10 -> 1).
    drop, peak = analysis.compression_drop(series)
    assert drop[0] == pytest.approx(((3 - 1) + (2 - 2)) / 2)
    assert peak[0] == pytest.approx((3 + 2) / 2)
    assert analysis.compression_drop(np.array([[1.0]]))[0][0] == 0


def test_fewer_than_three_networks_give_no_interval_and_no_verdict():
    rng = np.random.default_rng(4)
    result = result_of(rng.standard_normal((2, 30)))
    (row,) = result.summary()
    assert row["compression_ci_low"] is None
    assert row["compressing_seeds"] is None
    (line,) = analysis.verdicts([result], ["two"])
    assert "no verdict (2 network(s); a verdict needs at least 3)" in line
    table = analysis.summary_table(result)
    assert "n/a" in table
    assert "[" not in table.split("\n", 2)[2]  # no interval printed


@pytest.mark.parametrize("measured", [2, 3])
def test_fewer_than_four_measurements_give_no_compression_and_no_verdict(measured):
    # One measurement per half: the peak is the end, so the drop is 0 by construction
    # however the series falls; that is no evidence against compression.
    falling = np.tile(np.linspace(5.0, 1.0, measured), (10, 1))
    assert (analysis.compression_drop(falling)[0] == 0).all()
    result = result_of(falling)
    (row,) = result.summary()
    assert np.isnan(row["compression"])
    assert row["compression_ci_low"] is row["compressing_seeds"] is None
    (line,) = analysis.verdicts([result], ["short"])
    assert line.endswith(
        f"no verdict ({measured} measured epoch(s); a verdict needs at least 4)"
    )
    table = analysis.summary_table(result)
    assert "compression needs at least 4 measured epochs" in table
    assert "n/a ± n/a" not in table
    assert "nan" not in table
    # Four measurements see a fall.
    (row,) = result_of(np.tile(np.linspace(5.0, 1.0, 4), (10, 1))).summary()
    assert row["compression"] > 1


def test_a_rounding_error_below_zero_reads_zero():
    result = result_of(np.full((4, 10), 0.5))
    result.arrays["i_ty"][:] = -2e-17  # I(T;Y) of a layer that knows nothing, rounded
    table = analysis.summary_table(result)
    assert "-0.000" not in table
    assert "0.000 ± 0.000" in table
    # A constant I(X;T) but for one value in the last bit: the drop and its
    # interval are -3e-17, which read 0.000 too.
    i_xt = np.full((4, 10), 0.1 + 0.2)
    i_xt[:, 1] = 0.3
    assert (analysis.compression_drop(i_xt)[0] < 0).all()
    table = analysis.summary_table(result_of(i_xt))
    assert "[0.000, 0.000]" in table
    assert "-0.000" not in table


def test_diverged_networks_are_left_out_and_counted():
    rng = np.random.default_rng(5)
    series = 5 + 0.05 * rng.standard_normal((4, 30))
    series[1, 10:] = np.nan
    result = result_of(series, diverged=[-1, 10, -1, -1])
    (row,) = result.summary()
    assert (row["networks"], row["diverged"]) == (3, 1)
    assert np.isfinite(row["final_i_xt"])
    assert "3 seed(s), 1 diverged" in analysis.summary_table(result)
    epochs = analysis.compression_epochs(result)  # depth.png's, over the same three
    np.testing.assert_array_equal(np.isnan(epochs), [False, True, False, False])
    assert np.isnan(analysis.compression_epochs(result_of(series[:, :3]))).all()


def test_a_verdict_says_when_the_range_clipped_the_layer():
    t = np.linspace(0, 1, 60)
    series = 3 - t + np.zeros((5, 1))
    series += 0.01 * np.random.default_rng(6).standard_normal(series.shape)
    (line,) = analysis.verdicts([result_of(series, clipped=0.66)], ["relu"])
    assert "compresses" in line
    assert "its range clipped up to 66% of the activations" in line
