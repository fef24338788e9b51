import json

import numpy as np
import pytest

import infoplane as ip
from infoplane import analysis, sweeps
from infoplane.cli import main
from infoplane.config import parse_values


def test_parse_values_by_field_type():
    assert parse_values("hidden", "10;10,7;10,7,5") == [(10,), (10, 7), (10, 7, 5)]
    assert parse_values("train_fraction", "0.05,0.45;0.85") == [0.05, 0.45, 0.85]
    assert parse_values("activation", "tanh,relu") == ["tanh", "relu"]
    assert parse_values("grad_stats", "true") == [True]
    assert parse_values("estimators", "binning:bins=30,range=-1:1+binning:bins=4") == [
        ("binning:bins=30,range=-1:1", "binning:bins=4")
    ]
    with pytest.raises(ValueError, match="unknown experiment field 'colour'"):
        parse_values("colour", "red")
    with pytest.raises(ValueError, match="cannot read lr"):
        parse_values("lr", "fast")


def test_grid_is_the_product_of_settings():
    base = ip.preset("seed", epochs=100)
    points = sweeps.grid(base, ["lr=0.1,0.2", "hidden=4;4,3"])
    assert [(p.lr, p.hidden) for p in points] == [
        (0.1, (4,)),
        (0.1, (4, 3)),
        (0.2, (4,)),
        (0.2, (4, 3)),
    ]
    settings = ["lr=0.1,0.2", "hidden=4;4,3"]
    assert sweeps.point_name(points[3], settings) == "lr=0.2,hidden=4-3"
    assert sweeps.point_name(points[0], settings) == "lr=0.1,hidden=4"
    with pytest.raises(ValueError, match="FIELD=VALUES"):
        sweeps.grid(base, ["lr"])
    with pytest.raises(ValueError, match="hidden must be layer widths"):
        sweeps.grid(base, ["hidden=4;0"])
    with pytest.raises(ValueError, match=r"repeats a point \(lr=0.1\)"):
        sweeps.grid(base, ["lr=0.1,0.10"])


def test_epochs_to_compression_and_to_a_loss():
    result = ip.run(ip.preset("seed", epochs=400, measure="every:20", seeds=2))
    peaks = analysis.compression_epochs(result)
    deepest = result.i_xt[:, :, -1, 0]
    np.testing.assert_array_equal(peaks, result.epochs[deepest.argmax(axis=1)])
    reached = analysis.loss_epochs(result, threshold=0.69)
    loss = result.arrays["train_loss"]
    for s in range(2):
        first = np.flatnonzero(loss[s] < 0.69)[0]
        assert reached[s] == result.epochs[first]
    assert np.isnan(analysis.loss_epochs(result, threshold=1e-9)).all()


def test_sweep_command_writes_points_and_combined_figures(tmp_path, capsys):
    code = main(
        [
            "sweep",
            "seed",
            "--set",
            "hidden=4;4,3",
            "--epochs",
            "60",
            "--seeds",
            "2",
            "--out",
            str(tmp_path / "s"),
            "--quiet",
        ]
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [
        "depth.png",
        "hidden=4",
        "hidden=4-3",
        "summary.csv",
        "sweep.json",
        "sweep.png",
        "verdict.txt",
    ]
    manifest = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert manifest["points"] == ["hidden=4", "hidden=4-3"]
    assert manifest["settings"] == ["hidden=4;4,3"]
    verdict = (tmp_path / "s" / "verdict.txt").read_text()
    assert "hidden=4-3, binning:bins=30,range=-1:1: " in verdict
    loaded = ip.Result.load(tmp_path / "s" / "hidden=4-3")
    assert loaded.experiment.hidden == (4, 3)
    assert loaded.i_xt.shape[0] == 2
    assert main(["sweep", "seed", "--set", "lr", "--out", str(tmp_path / "t")]) == 2
    assert "FIELD=VALUES" in capsys.readouterr().err
