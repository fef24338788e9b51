import json
import shutil

import numpy as np
import pytest

import infoplane as ip
from infoplane import analysis, output, sweeps
from infoplane.cli import main
from infoplane.config import parse_values


def test_parse_values_by_field_type():
    assert parse_values("hidden", "10;10,7;10,7,5") == [(10,), (10, 7), (10, 7, 5)]
    assert parse_values("train_fraction", "0.05,0.45;0.85") == [0.05, 0.45, 0.85]
    assert parse_values("activation", "tanh,relu") == ["tanh", "relu"]
    # A task spec keeps its own options, whichever separator splits the points.
    two = "tishby12:gamma=2,theta=7;tishby12:gamma=4,theta=7"
    assert parse_values("task", two) == two.split(";")
    assert parse_values("task", "mnist:/d,train=50,test=10,seed10") == [
        "mnist:/d,train=50,test=10",
        "seed10",
    ]
    assert parse_values("grad_stats", "true") == [True]
    assert parse_values("estimators", "binning:bins=30,range=-1:1+binning:bins=4") == [
        ("binning:bins=30,range=-1:1", "binning:bins=4")
    ]
    with pytest.raises(
        ValueError, match=r"unknown experiment field\(s\): colour; fields are"
    ):
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
    # Two files whose folder names coincide are two points, not one repeated.
    with pytest.raises(ValueError, match=r"share the folder name task=file:a_b\.npz"):
        sweeps.grid(base, ["task=file:a/b.npz;file:a_b.npz"])


def test_epochs_to_compression_and_to_a_loss(small_result):
    result = small_result  # seed, 400 epochs measured every 20, two seeds
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


def test_a_sweep_without_pictures_writes_its_files_and_pictures_come_later(
    tmp_path, capsys
):
    out = tmp_path / "s"
    args = ["sweep", "seed", "--set", "hidden=4;4,3", "--epochs", "60", "--seeds", "2"]
    assert main([*args, "--out", str(out), "--quiet", "--no-pictures"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "hidden=4",
        "hidden=4-3",
        "summary.csv",
        "sweep.json",
        "verdict.txt",
    ]
    for point in ("hidden=4", "hidden=4-3"):
        files = sorted(p.name for p in (out / point).iterdir())
        assert files == ["arrays.npz", "information.csv", "result.json"]
    verdicts = (out / "verdict.txt").read_text()
    # The sweep's own pictures (by --collect), then all of them (by plot).
    assert main(["sweep", "--collect", str(out), "--quiet"]) == 0
    assert {"sweep.png", "depth.png"} <= {p.name for p in out.iterdir()}
    assert (out / "verdict.txt").read_text() == verdicts
    collected = (out / "sweep.png").stat().st_ino
    code = main(["plot", str(out), "--no-video"])
    assert (code, capsys.readouterr().out) == (
        0,
        f"wrote 6 pictures in {out}/ and its points\n",
    )
    drawn = ["arrays.npz", "curves.png", "information.csv", "plane.png", "result.json"]
    for point in ("hidden=4", "hidden=4-3"):
        assert sorted(p.name for p in (out / point).iterdir()) == drawn
    assert (out / "sweep.png").stat().st_ino != collected  # drawn again
    assert output.is_sweep_directory(out)
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no temporary folder left
    assert (out / "verdict.txt").read_text() == verdicts
    # A sweep whose points are not all there yet is not drawn.
    shutil.rmtree(out / "hidden=4")
    assert main(["plot", str(out)]) == 2
    assert "1 of 2 points" in capsys.readouterr().err
    assert main(["summary", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"1 of 2 points of {out} are not complete yet: hidden=4;" in err


# Without pictures: what this checks is which points run and the files they leave;
# the sweep above and the one without pictures draw them.
SHARDED = ["sweep", "seed", "--set", "lr=0.1,0.2,0.3", "--set", "measure=every:20"]
SHARDED += ["--epochs", "40", "--no-pictures", "--quiet"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The SHARDED sweep run in one go."""
    whole = tmp_path_factory.mktemp("sweep") / "whole"
    assert main([*SHARDED, "--out", str(whole)]) == 0
    return whole


def assert_same_sweep(a, b):
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in json.loads((a / "sweep.json").read_text())["points"]:
        x, y = ip.Result.load(a / name), ip.Result.load(b / name)
        assert x.arrays.keys() == y.arrays.keys()
        for key, value in x.arrays.items():
            np.testing.assert_array_equal(y.arrays[key], value)
    for name in ("summary.csv", "verdict.txt", "sweep.json"):
        assert (a / name).read_text() == (b / name).read_text()


def test_sweep_shards_skip_done_points_refuse_others_and_collect_to_the_whole(
    whole, tmp_path, capsys
):
    split = tmp_path / "split"
    out = ["--out", str(split)]
    # A shard run again skips its complete points.
    assert main([*SHARDED[:-1], *out, "--shard", "0/2"]) == 0
    assert "2 point(s) run, 0 already complete" in capsys.readouterr().out
    first = split / "lr=0.1,measure=every:20" / "arrays.npz"
    written = first.stat().st_mtime_ns
    assert main([*SHARDED[:-1], *out, "--shard", "0/2"]) == 0
    assert "0 point(s) run, 2 already complete" in capsys.readouterr().out
    assert first.stat().st_mtime_ns == written  # not run again
    same = [*SHARDED[:-1], *out, "--shard", "0/2"]
    same[3] = "lr=0.1;0.2;0.30"  # the same grid, written otherwise
    assert main(same) == 0
    assert "0 point(s) run, 2 already complete" in capsys.readouterr().out
    # Nor does it run into another sweep, or beside a user's file.
    other = [*SHARDED, *out, "--shard", "1/2"]
    other[3] = "lr=0.5,0.6"
    assert main(other) == 2
    assert "holds another sweep" in capsys.readouterr().err
    (split / "notes.txt").write_text("mine")
    assert main([*SHARDED, *out, "--shard", "1/2"]) == 2
    assert "not part of this sweep" in capsys.readouterr().err
    (split / "notes.txt").unlink()
    # Collected, the shards equal the sweep run whole.
    assert main(["sweep", "--collect", str(split)]) == 2  # a point missing
    err = capsys.readouterr().err
    assert "1 of 3 points" in err
    assert "lr=0.2,measure=every:20" in err
    assert main([*SHARDED, *out, "--shard", "1/2"]) == 0
    assert main(["sweep", "--collect", str(split), "--no-pictures", "--quiet"]) == 0
    assert_same_sweep(whole, split)


@pytest.mark.parametrize(("signal", "code"), [(KeyboardInterrupt, 130), (None, 143)])
def test_an_interrupted_sweep_keeps_its_points_and_the_same_command_finishes_it(
    whole, tmp_path, monkeypatch, capsys, signal, code
):
    from infoplane.cli import Terminated

    signal = signal or Terminated  # SIGTERM: a batch job's time limit
    out = tmp_path / "s"
    real, calls = sweeps.run, []

    def stopped_in_the_second_point(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise signal
        return real(*args, **kwargs)

    monkeypatch.setattr("infoplane.sweeps.run", stopped_in_the_second_point)
    assert main([*SHARDED, "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert f"the 1 complete point(s) of 3 are kept in {out}/" in err
    assert "the same command runs the others" in err
    first = "lr=0.1,measure=every:20"
    assert sorted(p.name for p in out.iterdir()) == [first, "sweep.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no temporary left
    written = (out / first / "arrays.npz").stat().st_mtime_ns
    monkeypatch.undo()
    assert main([*SHARDED[:-1], "--out", str(out)]) == 0
    assert "holds 1 of this sweep's 3 points: running the others" in (
        capsys.readouterr().err
    )
    assert (out / first / "arrays.npz").stat().st_mtime_ns == written  # not again
    assert_same_sweep(whole, out)
    # Finished, it is an earlier sweep like any other: --force to replace it.
    assert main([*SHARDED, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_sweep_interrupted_as_it_writes_its_own_files_keeps_its_points(
    whole, tmp_path, monkeypatch, capsys
):
    from infoplane import report

    def interrupted(*args, **kwargs):
        (args[2] / "summary.csv").write_text("half")  # what was written so far
        raise KeyboardInterrupt

    out = tmp_path / "s"
    monkeypatch.setattr(report, "write_sweep", interrupted)
    assert main([*SHARDED, "--out", str(out)]) == 130
    assert "the 3 complete point(s) of 3 are kept in" in capsys.readouterr().err
    assert "summary.csv" not in {p.name for p in out.iterdir()}  # not half of it
    monkeypatch.undo()
    assert main([*SHARDED, "--out", str(out)]) == 0  # then writes them
    assert_same_sweep(whole, out)


def test_a_sweep_interrupted_before_its_first_point_leaves_nothing(
    tmp_path, monkeypatch, capsys
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("infoplane.sweeps.run", interrupted)
    assert main([*SHARDED, "--out", str(tmp_path / "s")]) == 130
    assert "interrupted; nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("0/3", {}, (0, 3)),
        ("2/3", {}, (2, 3)),
        ("slurm", {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "5"}, (4, 5)),
        (  # --array=0-4:2: tasks 0, 2, 4 are shards 0, 1, 2
            "slurm",
            {
                "SLURM_ARRAY_TASK_ID": "4",
                "SLURM_ARRAY_TASK_STEP": "2",
                "SLURM_ARRAY_TASK_COUNT": "3",
            },
            (2, 3),
        ),
        (
            "slurm",
            {
                "SLURM_ARRAY_TASK_ID": "5",
                "SLURM_ARRAY_TASK_MIN": "1",
                "SLURM_ARRAY_TASK_COUNT": "5",
            },
            (4, 5),
        ),
    ],
)
def test_shard_specs(text, environ, expected):
    assert sweeps.parse_shard(text, environ) == expected
    assert sweeps.shard(list("abcdefg"), *expected) == list(
        range(expected[0], 7, expected[1])
    )


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "0/0", "slurm"])
def test_bad_shard_specs(text):
    with pytest.raises(ValueError, match="shard"):
        sweeps.parse_shard(text, {})


def test_an_array_of_listed_task_ids_asks_for_explicit_shards():
    listed = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1"}
    with pytest.raises(ValueError, match="give --shard I/N for each task"):
        sweeps.parse_shard("slurm", {**listed, "SLURM_ARRAY_TASK_COUNT": "3"})


def test_a_bad_later_point_fails_the_sweep_before_any_work(
    tmp_path, monkeypatch, capsys
):
    def no_training(*args, **kwargs):
        raise AssertionError("trained a point of a sweep that cannot finish")

    monkeypatch.setattr("infoplane.runner.train", no_training)
    args = ["sweep", "tishby2017", "--set", "train_fraction=0.5,0.01", "--quiet"]
    for extra in ([], ["--shard", "0/1"]):
        assert main([*args, *extra, "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert "point train_fraction=0.01: batch_size=256 is larger" in err
    assert list(tmp_path.iterdir()) == []


DIVERGING = ["sweep", "seed", "--set", "lr=1e6,0.1", "--set", "measure=every:20"]
DIVERGING += ["--epochs", "40", "--no-pictures", "--quiet"]


def test_a_point_that_fails_keeps_the_points_before_it(tmp_path, capsys):
    out = tmp_path / "s"
    args = [*DIVERGING, "--out", str(out)]
    args[3] = "lr=0.1,1e6"  # the failing point second
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "training diverged" in err
    kept = "the 1 complete point(s) of 2 are kept in"
    assert f"point lr=1000000.0,measure=every:20 failed; {kept} {out}/" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "lr=0.1,measure=every:20",
        "sweep.json",
    ]


def test_a_points_diverged_networks_are_named_with_the_point(
    tmp_path, capsys, poison_network
):
    poison_network(1)  # in every point, network 1 diverges at once
    out = tmp_path / "s"
    args = [*DIVERGING, "--seeds", "2", "--out", str(out)]
    args[3] = "lr=0.1,0.2"
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    diverged = "training diverged: the loss of 1 of 2 networks"
    for point in ("lr=0.1,measure=every:20", "lr=0.2,measure=every:20"):
        line = f"infoplane: warning: {point}: {diverged}"
        assert sum(e.startswith(line) for e in err) == 1, err
        saved = ip.Result.load(out / point).info["warnings"]
        assert [w for w in saved if w.startswith(diverged)] != []


def test_a_shard_runs_its_other_points_past_a_failing_one(tmp_path, capsys):
    out = tmp_path / "s"
    assert main([*DIVERGING, "--shard", "0/1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "infoplane: error: lr=1000000.0,measure=every:20: training diverged" in err
    failed = "1 of this run's 2 point(s) failed (lr=1000000.0,measure=every:20)"
    assert f"{failed}; the others (1) are complete in {out}/" in err
    assert ip.Result.load(out / "lr=0.1,measure=every:20").experiment.lr == 0.1


def test_a_point_another_copy_of_the_shard_wrote_counts_as_done(
    tmp_path, monkeypatch, capsys
):
    from infoplane import cli

    run_point = cli._run_point

    def beaten(exp, name, out, args):
        run_point(exp, name, out, args)  # a second copy of this shard, first
        run_point(exp, name, out, args)

    monkeypatch.setattr(cli, "_run_point", beaten)
    out = tmp_path / "s"
    assert main([*SHARDED[:-1], "--shard", "0/2", "--out", str(out)]) == 0
    assert "0 point(s) run, 2 already complete" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_a_run_of_another_experiment_under_a_points_name_is_refused(tmp_path, capsys):
    # Else the resumed or collected sweep reports it as that point (lr=5 as 0.2).
    out = tmp_path / "s"
    assert main([*SHARDED[:-1], "--shard", "0/2", "--out", str(out)]) == 0
    point = "lr=0.2,measure=every:20"
    args = ["run", "seed", "--lr", "5", "--epochs", "40", "--measure-every", "20"]
    assert main([*args, "--no-pictures", "--quiet", "--out", str(out / point)]) == 0
    capsys.readouterr()
    for again in (["--shard", "1/2"], []):  # the other shard; the resume
        assert main([*SHARDED, *again, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert (
            f"{out / point} holds a run of another experiment (lr 5.0, not 0.2)" in err
        )
    assert main(["sweep", "--collect", str(out), "--quiet"]) == 2
    assert "holds a run of another experiment" in capsys.readouterr().err
