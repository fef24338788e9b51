import csv
import json
import math
import sys

import numpy as np
import pytest

import infoplane as ip
from infoplane import analysis
from infoplane.cli import main
from infoplane.output import atomic_directory
from infoplane.results import INFORMATION_COLUMNS


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


def test_saving_again_names_the_python_keyword_that_replaces(small_result, tmp_path):
    small_result.save(tmp_path / "run")
    with pytest.raises(FileExistsError, match=r"with overwrite=True$"):
        small_result.save(tmp_path / "run")
    small_result.save(tmp_path / "run", overwrite=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True replaces only"):
        small_result.save(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_files_are_open_formats(small_result, tmp_path):
    small_result.save(tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "result.json").read_text())
    assert meta["format"] == 1  # a run: what earlier versions read
    assert meta["units"] == "nats"
    assert meta["axes"]["i_xt"] == ["seed", "epoch", "layer", "estimator"]
    assert meta["experiment"]["hidden"] == [8, 6, 4]
    assert "jax" in meta["info"]["versions"]
    with open(tmp_path / "run" / "information.csv") as f:
        rows = list(csv.DictReader(f))
    header = ["seed", "epoch", "layer", "estimator", "i_xt", "i_ty", "units"]
    assert list(rows[0]) == header
    assert len(rows) == 2 * 20 * 3
    last = rows[-1]
    assert (last["seed"], last["epoch"], last["layer"]) == ("1", "380", "layer 3")
    assert last["units"] == "nats"
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


def test_summary_of_a_real_run(small_result):
    rows = small_result.summary(threshold=0.05)
    assert [r["layer"] for r in rows] == ["layer 1", "layer 2", "layer 3"]
    deepest = small_result.i_xt[:, :, 2, 0]
    drop, _ = analysis.compression_drop(deepest)
    assert rows[2]["compression"] == pytest.approx(drop.mean(), abs=1e-12)
    assert rows[2]["max_i_xt"] == pytest.approx(deepest.max(axis=1).mean())
    assert rows[2]["final_i_xt"] == pytest.approx(deepest[:, -1].mean())
    assert rows[2]["networks"] == 2
    assert rows[2]["compression_ci_low"] is None  # two networks: no interval
    assert rows[0]["clipped"] == 0.0  # tanh inside the fixed range
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


def _tamper(run, *, meta=None, arrays=None, raw_json=None, raw_npz=None):
    if raw_json is not None:
        (run / "result.json").write_text(raw_json)
    if meta is not None:
        data = json.loads((run / "result.json").read_text())
        meta(data)
        (run / "result.json").write_text(json.dumps(data))
    if raw_npz is not None:
        (run / "arrays.npz").write_bytes(raw_npz)
    if arrays is not None:
        with np.load(run / "arrays.npz") as npz:
            stored = {k: npz[k] for k in npz.files}
        arrays(stored)
        np.savez(run / "arrays.npz", **stored)


@pytest.mark.unchecked_types
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"meta": lambda m: m["layers"].pop()}, "array i_xt has shape"),
        ({"meta": lambda m: m.update(layers=5)}, "layers must be a list"),
        ({"meta": lambda m: m.pop("info")}, "'info'"),
        ({"meta": lambda m: m.update(format=7)}, "unsupported result format 7"),
        ({"meta": lambda m: m["experiment"].update(seeds=3)}, "i_xt has shape"),
        ({"meta": lambda m: m["experiment"].update(hidden="x")}, "hidden must be"),
        ({"raw_json": "[" * 100_000 + "]" * 100_000}, "RecursionError"),
        ({"raw_json": "[1, 2]"}, "does not hold an object"),
        ({"raw_npz": b"PK\x03\x04 not a zip"}, "not a readable"),
        ({"arrays": lambda a: a.update(epochs=a["epochs"][:-1])}, "i_xt has shape"),
        ({"arrays": lambda a: a.update(epochs=a["epochs"][::-1])}, "increasing"),
        ({"arrays": lambda a: a.pop("i_ty")}, "lacks i_ty"),
        ({"arrays": lambda a: a.update(extra=np.zeros(2))}, "unknown array 'extra'"),
        ({"arrays": lambda a: a.update(i_xt=a["i_xt"][..., 0])}, "has 3 axes, not 4"),
        ({"meta": lambda m: m.update(units="bits")}, "units differ from its exp"),
        ({"meta": lambda m: m["info"].update(h_x="abc")}, r"info\['h_x'\] must be"),
        ({"arrays": lambda a: a["i_ty"].__setitem__(0, np.inf)}, "i_ty must hold fin"),
        ({"arrays": lambda a: a.update(i_xt=a["i_xt"].astype(int))}, "i_xt must hold"),
        ({"arrays": lambda a: a.update(diverged_epoch=[-1, 400])}, "diverged_epoch"),
        ({"arrays": lambda a: a.update(diverged_epoch=[-1, 0.5])}, "diverged_epoch"),
    ],
)
def test_load_checks_what_it_reads(damage, message, small_result, tmp_path):
    run = small_result.save(tmp_path / "run")
    _tamper(run, **damage)
    with pytest.raises(ValueError, match=message):
        ip.Result.load(run)


def test_a_truncated_archive_is_a_clear_error(small_result, tmp_path, capsys):
    run = small_result.save(tmp_path / "run")
    data = (run / "arrays.npz").read_bytes()
    (run / "arrays.npz").write_bytes(data[: len(data) // 2])
    assert main(["summary", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is not a readable infoplane result" in err
    assert len(err.strip().splitlines()) == 1


def test_summary_of_a_sweep_directory_summarises_its_points(tmp_path, capsys):
    args = ["sweep", "seed", "--set", "lr=0.1,0.2", "--set", "measure=every:10"]
    args += ["--epochs", "40", "--no-pictures", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    assert main(["summary", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "== lr=0.1,measure=every:10" in out
    assert "== lr=0.2,measure=every:10" in out
    assert "no verdict (1 network(s)" in out
    with pytest.raises(ValueError, match="is a sweep; load its points"):
        ip.Result.load(tmp_path / "s")


# -- Results without an experiment (a user's own loop, through the recorder) --------


def recorded(*, seeds=(3, 7), units="bits", curves=False) -> ip.Result:
    """A Result as the recorder makes it: no experiment, user layer names."""
    epochs = np.array([0, 5, 10, 20])
    layers = ("fc1", "fc2", "out")
    t = np.linspace(0, 1, len(epochs))[None, :, None, None]
    depth = np.arange(len(layers))[None, None, :, None]
    shape = (len(seeds), len(epochs), len(layers), 1)
    raw = {
        "epochs": epochs,
        "i_xt": np.broadcast_to((3 - depth) * (1 - 0.2 * t), shape).copy(),
        "i_ty": np.broadcast_to(0.2 + 0.4 * t + 0 * depth, shape).copy(),
        "occupied_bins": np.full(shape, 12.0),
        "clipped_fraction": np.zeros(shape),
    }
    if curves:
        raw["train_loss"] = np.linspace(1, 0.2, len(epochs))[None].repeat(2, 0)
    facts = {"samples": 100, "h_x": math.log(100), "h_y": math.log(2)}
    facts["i_xy"] = math.log(2)
    return ip.Result.from_measurements(
        raw,
        layers,
        ("binning-width:width=0.07",),
        name="my net",
        units=units,
        seeds=seeds,
        facts=facts,
    )


def test_a_result_without_an_experiment_says_what_it_is():
    result = recorded()
    assert result.experiment is None
    assert (result.source, result.name, result.units) == ("recorder", "my net", "bits")
    assert result.seed_labels == [3, 7]
    # Facts in the result's units; values converted from nats.
    assert result.info["h_x"] == pytest.approx(math.log2(100))
    assert result.info["i_xy"] == pytest.approx(1.0)
    assert result.i_xt[0, 0, 0, 0] == pytest.approx(3 / math.log(2))
    assert "Result('my net', seeds=2" in repr(result)
    assert "<b>my net</b>" in result._repr_html_()
    rows = result.summary()
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "out"]
    # The last layer not named "output" is the deepest hidden one.
    np.testing.assert_array_equal(analysis.compression_epochs(result), [0, 0])
    with pytest.raises(ValueError, match="source"):
        ip.Result(None, result.arrays, result.layers, result.estimators, {})
    info = {"source": "recorder", "units": "bits", "seeds": [0]}
    with pytest.raises(KeyError, match="name"):
        ip.Result(None, result.arrays, result.layers, result.estimators, info)
    info = {**result.info, "seeds": [1, 1]}
    with pytest.raises(ValueError, match="repeats a seed"):
        ip.Result(None, result.arrays, result.layers, result.estimators, info)


def test_a_result_without_an_experiment_round_trips(tmp_path, capsys):
    result = recorded()
    run = result.save(tmp_path / "mine")
    meta = json.loads((run / "result.json").read_text())
    assert meta["format"] == 2
    assert meta["experiment"] is None
    assert meta["info"]["source"] == "recorder"
    loaded = ip.Result.load(run)
    assert loaded.experiment is None
    assert loaded.name == "my net"
    assert loaded.layers == result.layers
    assert loaded.seed_labels == [3, 7]
    assert loaded.info == json.loads(json.dumps(result.info))
    for name, value in result.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
        assert loaded.arrays[name].dtype == value.dtype
    with open(run / "information.csv") as f:
        rows = list(csv.DictReader(f))
    assert (rows[0]["seed"], rows[0]["layer"], rows[0]["units"]) == ("3", "fc1", "bits")
    assert rows[-1]["seed"] == "7"
    assert main(["summary", str(run)]) == 0
    out = capsys.readouterr().out
    assert "binning-width:width=0.07 (bits, 2 seed(s))" in out
    assert "fc2" in out


def test_pictures_of_a_result_without_an_experiment(tmp_path):
    from infoplane import plotting
    from infoplane.report import write_run

    result = recorded()
    ax = result.plot()
    assert ax.get_title() == "my net"
    h_x, i_xy = ax.lines  # dotted, at H(X) and I(X;Y) of the measured samples
    assert h_x.get_xdata()[0] == pytest.approx(math.log2(100))
    assert i_xy.get_ydata()[0] == pytest.approx(1.0)
    written = plotting.write_pictures(result, tmp_path)
    assert [p.name for p in written][:2] == ["plane.png", "plane.gif"]  # no curves
    with pytest.raises(ValueError, match="no loss or accuracy curves"):
        plotting.plot_curves(result)
    figure = plotting.plot_curves(recorded(curves=True), metrics="loss")
    assert figure.axes[0].lines[0].get_label() == "train"
    with pytest.raises(ValueError, match="IB bound needs the task"):
        write_run(result, tmp_path, video=False, ib_bound=True)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"meta": lambda m: m["info"].update(source="run")}, "source"),
        ({"meta": lambda m: m["info"].pop("units")}, "lacks 'units'"),
        ({"meta": lambda m: m.update(units="nats")}, "units differ"),
        ({"meta": lambda m: m["info"].update(seeds=[3])}, "i_xt has shape"),
        ({"meta": lambda m: m["info"].update(seeds=[3, True])}, "integer seed labels"),
        ({"meta": lambda m: m.update(experiment={})}, "has no experiment"),
        ({"meta": lambda m: m.update(format=1)}, "experiment must be a dict"),
        ({"meta": lambda m: m.update(layers=["a", "a", "b"])}, "layer names repeat"),
        ({"meta": lambda m: m.update(estimators=["binning-width"])}, "canonical"),
        ({"meta": lambda m: m.update(estimators=["nope"])}, "unknown estimator"),
        (
            {"arrays": lambda a: a.update(grad_mean_norm=np.zeros((2, 4, 3)))},
            "unknown array 'grad_mean_norm'",
        ),
        ({"arrays": lambda a: a.update(epochs=a["epochs"] - 5)}, "increasing"),
    ],
)
def test_load_checks_a_result_without_an_experiment(damage, message, tmp_path):
    run = recorded().save(tmp_path / "mine")
    _tamper(run, **damage)
    with pytest.raises(ValueError, match=message):
        ip.Result.load(run)


def test_to_pandas_is_the_tidy_table_of_information_csv(small_result, tmp_path):
    pd = pytest.importorskip("pandas")
    for result in (small_result, recorded()):
        run = result.save(tmp_path / result.name)
        table = result.to_pandas()
        assert list(table.columns) == list(INFORMATION_COLUMNS)
        np.testing.assert_array_equal(table.i_xt, result.i_xt.reshape(-1))
        from_csv = pd.read_csv(run / "information.csv")
        pd.testing.assert_frame_equal(table, from_csv, check_dtype=False)
    assert set(recorded().to_pandas().seed) == {3, 7}


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    with pytest.raises(ImportError, match="pip install pandas"):
        recorded().to_pandas()


def test_the_ib_distance_is_over_the_networks_that_did_not_diverge(
    small_result, tmp_path, monkeypatch
):
    from infoplane import report
    from infoplane.datasets import load_task
    from infoplane.ib import distance_below, task_curve

    monkeypatch.setenv("INFOPLANE_CACHE", str(tmp_path / "cache"))
    # Network 1 diverged at the last epoch, which was not measured: its values stay.
    arrays = {**small_result.arrays, "diverged_epoch": np.array([-1, 399])}
    result = ip.Result(
        small_result.experiment, arrays, small_result.layers,
        small_result.estimators, small_result.info,
    )  # fmt: skip
    (tmp_path / "r").mkdir()
    gap = report.write_run(result, tmp_path / "r", ib_bound=True, pictures=False)
    curve = task_curve(load_task(result.experiment.task))
    first = distance_below(curve, result.i_xt[0, -1], result.i_ty[0, -1])
    np.testing.assert_allclose(gap, first, rtol=1e-12)
