import csv
import json
import math

import numpy as np
import pytest

import infoplane as ip
from infoplane.output import atomic_directory


def test_result_shapes_and_summary(small_result):
    r = small_result
    assert r.i_xt.shape == (2, 20, 3, 1) == r.i_ty.shape
    assert r.arrays["test_accuracy"].shape == (2, 20)
    assert list(r.arrays["train_size"]) == [50_000, 50_000]
    rows = r.summary()
    assert [row["layer"] for row in rows] == ["layer 1", "layer 2", "layer 3"]
    deepest = r.i_xt[:, :, 2, 0]
    assert rows[2]["max_i_xt"] == pytest.approx(deepest.max(axis=1).mean())
    assert rows[2]["compression"] == pytest.approx(
        (deepest.max(axis=1) - deepest[:, -1]).mean()
    )
    assert rows[2]["compression_std"] >= 0
    assert "Result('seed', seeds=2" in repr(r)


def test_save_load_round_trips_exactly(small_result, tmp_path):
    small_result.save(tmp_path / "run")
    loaded = ip.Result.load(tmp_path / "run")
    assert loaded.experiment == small_result.experiment
    assert loaded.layers == small_result.layers
    assert loaded.info == json.loads(json.dumps(small_result.info))
    for name, value in small_result.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
        assert loaded.arrays[name].dtype == value.dtype


def test_files_are_open_formats(small_result, tmp_path):
    small_result.save(tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "result.json").read_text())
    assert meta["units"] == "nats"
    assert meta["axes"]["i_xt"] == ["seed", "epoch", "layer", "estimator"]
    assert meta["experiment"]["hidden"] == [8, 6, 4]
    assert "jax" in meta["info"]["versions"]
    with open(tmp_path / "run" / "information.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["seed", "epoch", "layer", "estimator", "i_xt", "i_ty"]
    assert len(rows) == 2 * 20 * 3
    last = rows[-1]
    assert (last["seed"], last["epoch"], last["layer"]) == ("1", "380", "3")
    assert float(last["i_xt"]) == small_result.i_xt[1, -1, 2, 0]  # full precision


def test_units_convert_at_the_edge():
    nats = ip.run(ip.preset("seed", epochs=40, measure="every:20"))
    bits = ip.run(ip.preset("seed", epochs=40, measure="every:20", units="bits"))
    np.testing.assert_allclose(bits.i_xt * math.log(2), nats.i_xt, rtol=1e-12)
    assert bits.info["h_x"] == pytest.approx(10.0)


def test_writes_are_atomic(tmp_path):
    target = tmp_path / "out"

    def interrupted_write():
        with atomic_directory(target) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    meta = '{"format": 1, "experiment": {}, "layers": []}'
    with atomic_directory(target) as tmp:
        (tmp / "result.json").write_text(meta)
        (tmp / "curves.png").write_text("1")
    with pytest.raises(FileExistsError, match="--force"), atomic_directory(target):
        pass
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "result.json").write_text(meta)
    assert sorted(p.name for p in target.iterdir()) == ["result.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_load_rejects_what_is_not_a_result(tmp_path):
    with pytest.raises(ValueError, match="not a readable infoplane result"):
        ip.Result.load(tmp_path)


def test_compression_is_measured_with_a_bootstrap_interval(small_result):
    rows = small_result.summary(threshold=0.05)
    for row in rows:
        assert row["compression_ci_low"] <= row["compression"] + 1e-12
        assert row["compression"] <= row["compression_ci_high"] + 1e-12
        assert 0 <= row["compressing_seeds"] <= 1
    deepest = small_result.i_xt[:, :, 2, 0]
    drop = deepest.max(axis=1) - deepest[:, -1]
    expected = np.mean(drop / deepest.max(axis=1) > 0.05)
    assert rows[2]["compressing_seeds"] == expected
    assert small_result.summary(threshold=0.99)[2]["compressing_seeds"] == 0.0
    with pytest.raises(ValueError, match="threshold"):
        small_result.summary(threshold=1.5)


def test_diagnostics_are_recorded_per_layer(small_result):
    arrays = small_result.arrays
    assert arrays["saturation"].shape == (2, 20, 3)
    assert arrays["dead_fraction"].shape == (2, 20, 3)
    assert arrays["occupied_bins"].shape == (2, 20, 3, 1)
    assert np.all((arrays["saturation"] >= 0) & (arrays["saturation"] <= 1))
    # Layer 1 of 8 tanh units separates all 1024 inputs at the start.
    assert arrays["occupied_bins"][0, 0, 0, 0] == 1024
    # tanh stays inside [-1, 1]: nothing clipped, no warning.
    assert np.all(arrays["clipped_fraction"] == 0)
    assert small_result.info["warnings"] == []


def test_bins_wider_than_the_activations_warn():
    exp = ip.preset(
        "seed",
        activation="relu",  # values in [0, 1000): all in bin 0
        epochs=40,
        measure="every:20",
        estimators=("binning-width:width=1000", "binning-width:width=0.07"),
    )
    with pytest.warns(ip.ClippingWarning, match="width=1000 put every input in one"):
        result = ip.run(exp)
    assert len(result.info["warnings"]) == 1
    np.testing.assert_allclose(result.i_xt[..., 0], 0, atol=1e-12)
