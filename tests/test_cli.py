import json
import subprocess
import sys

import numpy as np
import pytest

import infoplane as ip
from infoplane import output, plotting
from infoplane.cli import main


def cli(*args, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "infoplane.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert out.returncode == 0, out.stderr
    return out


def run_main(*args, capsys):
    """``infoplane ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_version_and_presets_need_no_jax():
    out = cli("--help")
    assert "run" in out.stdout
    assert "presets" in out.stdout
    assert "--out" in cli("run", "--help").stdout
    assert cli("--version").stdout.startswith("infoplane ")
    # Neither the parser nor listing the presets imports JAX.
    code = (
        "import sys, infoplane.cli; infoplane.cli._parser(); "
        "print('jax' in sys.modules); infoplane.cli.main(['presets']); "
        "print('jax' in sys.modules)"
    )
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = check.stdout.splitlines()
    assert lines[0] == lines[-1] == "False"
    assert lines[1].startswith("seed ")


def test_presets_lists_names_with_descriptions(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("seed ")
    assert "tishby2017" in out
    assert "seed5" in out


def test_run_writes_every_file_as_a_subprocess(tmp_path, capsys):
    # The one run through `python -m infoplane.cli`; the summary below runs in this
    # process. Measured every 100 epochs: a short animation, still two log lines.
    out = cli(
        "run",
        "seed",
        "--out",
        str(tmp_path / "r"),
        "--epochs",
        "400",
        "--measure-every",
        "100",
        "--seeds",
        "2",
        "--hidden",
        "6,4",
        "--units",
        "bits",
    )
    files = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert {
        "result.json",
        "arrays.npz",
        "information.csv",
        "plane.png",
        "plane.gif",
        "curves.png",
    } <= set(files)
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    assert meta["units"] == "bits"
    assert meta["experiment"]["hidden"] == [6, 4]
    assert "epoch      0  test accuracy" in out.stderr  # the original's log lines
    assert "epoch    200" in out.stderr
    assert "final I(X;T)" in out.stdout
    assert "layer 2" in out.stdout
    code, summary, _ = run_main("summary", str(tmp_path / "r"), capsys=capsys)
    assert code == 0
    assert "compression" in summary


def test_run_in_process_with_quiet_and_no_video(tmp_path, capsys):
    code = main(
        [
            "run",
            "seed",
            "--out",
            str(tmp_path / "q"),
            "--epochs",
            "40",
            "--measure-every",
            "20",
            "--quiet",
            "--no-video",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == ""
    names = {p.name for p in (tmp_path / "q").iterdir()}
    assert "plane.gif" not in names
    assert "plane.png" in names


def test_plot_draws_the_pictures_of_a_saved_run_again(tmp_path, capsys):
    run = tmp_path / "q"
    args = ["run", "seed", "--out", str(run), "--epochs", "40", "--quiet"]
    assert main([*args, "--measure-every", "20", "--no-pictures"]) == 0
    files = ["arrays.npz", "information.csv", "result.json"]
    assert sorted(p.name for p in run.iterdir()) == files
    inode = lambda name: (run / name).stat().st_ino  # noqa: E731
    code, out, err = run_main("plot", str(run), "--no-video", capsys=capsys)
    assert (code, out, err) == (0, f"wrote plane.png, curves.png in {run}/\n", "")
    before = inode("plane.png")
    code, out, err = run_main("plot", str(run), capsys=capsys)
    assert (code, err) == (0, "")
    assert out.startswith("wrote plane.png, curves.png, plane.gif")
    assert inode("plane.png") != before  # replaced by a rename, not written over
    assert (run / "plane.gif").read_bytes()[:6] == b"GIF89a"
    assert output.is_run_directory(run)
    assert [p.name for p in tmp_path.iterdir()] == ["q"]  # no temporary folder left

    # Only a run directory infoplane wrote is drawn into; of several directories,
    # each that can be, and the others are named.
    users = tmp_path / "mine"
    users.mkdir()
    (users / "plane.png").write_text("my picture")
    gif, png = inode("plane.gif"), inode("plane.png")
    dirs = [str(users), str(run), str(tmp_path / "none")]
    code, out, err = run_main("plot", *dirs, "--no-video", "--quiet", capsys=capsys)
    assert (code, out) == (2, "")
    assert inode("plane.png") != png
    assert inode("plane.gif") == gif  # without video: the animation kept as it was
    assert (users / "plane.png").read_text() == "my picture"
    first, second = err.splitlines()
    assert first.endswith("mine is not a run or sweep directory written by infoplane "
                          "(a run's result.json and files, or a sweep's runs and "
                          "files, nothing else); infoplane plot draws the pictures "
                          "of such a directory")  # fmt: skip
    assert second.endswith("none is not a folder; give a run or sweep directory")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "sed"], "unknown preset 'sed'"),
        (["run", "seed", "--hidden", "8,0,4"], "hidden must be layer widths"),
        (["run", "seed", "--epochs", "0"], "epochs must be an integer from 1"),
        (["run", "seed", "--seeds", "0"], "seeds must be an integer from 1"),
        (["run", "seed", "--estimator", "binning:bins=1"], "bins >= 2"),
        (
            ["run", "seed", "--epochs", "10", "--measure-every", "20"],
            "longer than the run",
        ),
        (["summary", "/nonexistent"], "not a readable infoplane result"),
        (["run", "saxe2018-mnist"], "needs the folder of your MNIST files"),
        (["run", "mnist:/nonexistent"], "does not exist"),
        (["run", "seed", "--set", "scale=big"], "scale must be one of"),
        (["run", "seed", "--keep", "-1"], "--keep must be 0 or more"),
        (  # one path with a comma: two values to --set
            ["run", "classify", "--set", "task=file:a,b.npz"],
            "a comma separates values, so name a path that holds one as `run file:",
        ),
        (
            ["run", "seed", "--keep", "2"],
            "--keep 2 keeps more networks than the run trains (1)",
        ),
        (["run", "saxe2018", "--keep", "1"], "run its points one by one"),
        (["run", "saxe2018", "--activation", "relu"], "saxe2018 compares activation"),
        (["run", "digits", "--set", "task=seed10"], "task is given both as digits"),
        (  # which would win? Neither: the user meant one of them.
            ["run", "seed", "--epochs", "40", "--set", "epochs=60"],
            "epochs is given both by its option and by --set epochs=...; give one",
        ),
        (
            ["sweep", "seed", "--set", "epochs=40,60", "--epochs", "80", "--out", "x"],
            "epochs is given both by its option and by --set epochs=...; give one",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args, message, capsys, tmp_path):
    code = main([*args, "--out", str(tmp_path / "x")] if args[0] == "run" else args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_keep_then_remeasure_equals_a_run_measured_with_it(tmp_path, capsys):
    short = ["--epochs", "40", "--measure-every", "20", "--seeds", "3", "--quiet"]
    short += ["--no-video"]  # the animations are not what is checked
    kde = "kde-upper:var=0.1"
    run, kept, direct = (str(tmp_path / name) for name in ("r", "k", "again"))

    def remeasure(source, out, *more):
        return run_main("remeasure", source, "--estimator", kde, "--out", out, *more,
                        capsys=capsys)  # fmt: skip

    assert main(["run", "seed", *short, "--keep", "2", "--out", run]) == 0
    assert main(["run", "seed", *short, "--estimator", kde, "--out", kept]) == 0
    capsys.readouterr()
    code, out, _ = remeasure(run, direct, "--no-video")
    assert code == 0
    assert kde in out
    assert "wrote" in out
    again, measured = ip.Result.load(direct), ip.Result.load(kept)
    assert again.i_xt.shape == (2, 2, 3, 1)  # the two kept networks, 3 layers
    assert again.experiment.estimators == (kde,)
    # The kernel bound summed in another order: equal to rounding (2e-16 seen).
    np.testing.assert_allclose(again.i_xt, measured.i_xt[:2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(again.i_ty, measured.i_ty[:2], rtol=0, atol=1e-12)
    # Not onto the run it reads, not without kept activations, and nothing written.
    code, _, err = remeasure(run, run, "--force")
    assert code == 2
    assert "--out is the run being measured" in err
    code, _, err = remeasure(kept, str(tmp_path / "x"))
    assert code == 2
    assert "--keep N" in err
    assert not (tmp_path / "x").exists()
    assert "kept_activations" in ip.Result.load(run).arrays


def test_a_closed_stdout_ends_quietly():
    # The reader of stdout is gone before infoplane writes (`infoplane ... | head`).
    command = [sys.executable, "-m", "infoplane", "presets"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    assert process.wait(timeout=60) == 141  # 128 + SIGPIPE, as Unix tools exit
    assert process.stderr.read() == b""
    process.stderr.close()


@pytest.mark.parametrize("hidden", ["a,b", "3,,2", "8,6,", ""])
def test_argparse_errors_exit_2(hidden, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "seed", "--hidden", hidden])  # a missing width is a typo
    assert exit_info.value.code == 2
    assert "comma-separated integers" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "seed", "--log-every", "-5"], "expected 0 or a positive integer"),
        (["plot", "x", "--loss-threshold", "nan"], "expected a positive loss"),
        (["sweep", "seed", "--loss-threshold", "-1"], "expected a positive loss"),
    ],
)
def test_bad_numbers_of_options_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_tilde_the_shell_left_is_the_home_folder(tmp_path, monkeypatch, capsys):
    # --out=~/x: bash expands no ~ after "="; checked and written at the same place.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr("infoplane.runner.train", no_training)
    assert main(["run", "seed", "--out=~/mine", "--quiet"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert not (tmp_path / "~").exists()


def test_existing_output_needs_force(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("mine")
    args = ["run", "seed", "--out", str(tmp_path / "r"), "--epochs", "40"]
    args += ["--measure-every", "20", "--no-video"]
    code, _, err = run_main(*args, capsys=capsys)
    assert code == 2
    assert "--force" in err
    assert "Traceback" not in err
    assert (tmp_path / "r" / "keep.txt").read_text() == "mine"
    code, _, _ = run_main(*args, "--force", "--quiet", capsys=capsys)
    assert code == 2  # --force never replaces what infoplane did not write
    assert (tmp_path / "r" / "keep.txt").read_text() == "mine"


def test_divergence_exits_1_and_writes_nothing(tmp_path, capsys):
    code, _, err = run_main(
        "run",
        "seed",
        "--out",
        str(tmp_path / "d"),
        "--lr",
        "1e6",
        "--epochs",
        "100",
        "--measure-every",
        "10",
        capsys=capsys,
    )
    assert code == 1
    assert "diverged" in err
    assert "lower the learning rate" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_toml_experiment_file(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(
        'preset = "seed"\nhidden = [4]\nepochs = 40\nmeasure = "every:20"\n'
    )
    out = ["--out", str(tmp_path / "t"), "--no-video", "--quiet"]
    assert run_main("run", str(config), *out, capsys=capsys)[0] == 0
    meta = json.loads((tmp_path / "t" / "result.json").read_text())
    assert meta["experiment"]["hidden"] == [4]


def test_bound_command_and_overlay(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFOPLANE_CACHE", str(tmp_path / "cache"))
    assert main(["bound", "seed10", "--out", str(tmp_path / "b.csv")]) == 0
    rows = (tmp_path / "b.csv").read_text().splitlines()
    assert rows[0] == "beta,i_xt (bits),i_ty (bits)"
    assert rows[2].split(",")[1:] == ["1.0", "1.0"]  # the corner at H(Y) = 1 bit
    assert (tmp_path / "b.png").exists()
    assert main(["bound", "nope", "--out", str(tmp_path / "c.csv")]) == 2
    # --force replaces the pair infoplane wrote (in any units, or by infoplane 0.1.0,
    # whose header named none), never a picture of the user's.
    again = ["bound", "seed10", "--out", str(tmp_path / "b.csv"), "--force"]
    assert main([*again, "--units", "nats"]) == 0
    assert (tmp_path / "b.csv").read_text().startswith("beta,i_xt (nats),i_ty (nats)\n")
    (tmp_path / "b.csv").write_text("beta,i_xt,i_ty\n0.0,0.0,0.0\n")
    assert main(again) == 0
    (tmp_path / "fig.png").write_bytes(b"mine")
    capsys.readouterr()
    assert main(["bound", "seed10", "--out", str(tmp_path / "fig.csv"), "--force"]) == 2
    assert "fig.png was not written by infoplane" in capsys.readouterr().err
    assert (tmp_path / "fig.png").read_bytes() == b"mine"
    assert not (tmp_path / "fig.csv").exists()
    code = main(
        [
            "run",
            "seed",
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "40",
            "--measure-every",
            "20",
            "--ib-bound",
            "--quiet",
            "--no-video",
        ]
    )
    assert code == 0
    assert (tmp_path / "r" / "plane.png").exists()
    rows = (tmp_path / "r" / "ib_distance.csv").read_text().splitlines()
    assert rows[0] == "layer,estimator,distance_below_ib_bound (nats)"
    assert len(rows) == 4  # three layers, one estimator
    assert all(float(r.rsplit(",", 1)[1]) > -1e-9 for r in rows[1:])  # none above

    # Drawn again, the planes carry the same IB curve.
    drawn = []
    write_pictures = plotting.write_pictures

    def spy(result, directory, **kwargs):
        drawn.append(kwargs["ib_curve"])
        return write_pictures(result, directory, **kwargs)

    monkeypatch.setattr(plotting, "write_pictures", spy)
    assert main(["plot", str(tmp_path / "r"), "--no-video", "--quiet"]) == 0
    bound = (tmp_path / "r" / "ib_bound.csv").read_text().splitlines()
    assert bound[0] == "i_xt (nats),i_ty (nats)"
    bound = np.array([row.split(",") for row in bound[1:]], float)
    np.testing.assert_allclose(drawn[0].i_xt, bound[:, 0], rtol=1e-12)


def test_saxe2018_preset_compares_activations(tmp_path, capsys):
    code = main(
        [
            "run",
            "saxe2018",
            "--out",
            str(tmp_path / "s"),
            "--epochs",
            "30",
            "--seeds",
            "2",
            "--measure",
            "log:4",
            "--set",
            "measure_on=train",
            "--set",
            "train_fraction=0.1",
            # The kernel bound on 256 of the 410 training samples: measure_on=train
            # alone still measures over all 4096 inputs (the others weigh 0).
            "--set",
            "measure_samples=256",
            "--quiet",
            "--no-video",  # the animations are not what is checked
        ]
    )
    assert code == 0
    names = {p.name for p in (tmp_path / "s").iterdir()}
    assert {"activation=tanh", "activation=relu", "sweep.png", "verdict.txt"} <= names
    verdict = (tmp_path / "s" / "verdict.txt").read_text().splitlines()
    assert len(verdict) == 4  # two activations x two estimators
    assert verdict[0].startswith("activation=tanh, binning-width:width=0.07: ")
    relu = ip.Result.load(tmp_path / "s" / "activation=relu")
    assert relu.experiment.activation == "relu"
    assert relu.estimators == ("binning-width:width=0.07", "kde-upper:var=0.1")


def test_lorenzen2022_preset_measures_quantised_networks_exactly(tmp_path, capsys):
    import numpy as np

    args = ["run", "lorenzen2022", "--out", str(tmp_path / "q"), "--epochs", "20"]
    # Two seeds: the tanh point has the shape of tests/test_quantize.py's runs.
    code = main([*args, "--seeds", "2", "--measure", "log:4", "--quiet", "--no-video"])
    assert code == 0
    names = {p.name for p in (tmp_path / "q").iterdir()}
    assert {"activation=tanh", "activation=relu", "sweep.png", "verdict.txt"} <= names
    for activation in ("tanh", "relu"):
        result = ip.Result.load(tmp_path / "q" / f"activation={activation}")
        assert result.experiment.quantize == "8bit-layer"
        assert result.experiment.activation == activation
        # The network's own grid: each layer's observed range.
        assert result.estimators == ("quantized:bits=8,range=layer",)
        # Exact MI in bits on all 4096 inputs: at most H(X) = 12 and H(Y) < 1 bit.
        assert np.all(result.i_xt <= 12 + 1e-9)
        assert np.all(result.i_ty <= 0.999157 + 1e-6)
        assert np.isfinite(result.i_xt).all()


def test_run_on_your_own_data_file(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    np.savez(tmp_path / "mine.npz", inputs=x, labels=(x[:, 0] + x[:, 1] > 0))
    data = f"task=file:{tmp_path / 'mine.npz'}"
    args = ["run", "seed", "--set", data, "--hidden", "6,4", "--epochs", "200"]
    assert run_main(*args, "--out", str(tmp_path / "r"), "--no-video", "--quiet",
                    capsys=capsys)[0] == 0  # fmt: skip
    result = ip.Result.load(tmp_path / "r")
    assert result.experiment.task == data.removeprefix("task=")
    assert result.i_xt.shape == (1, 10, 2, 1)
    # Each training row is its own input: I(X;T) is at most ln(training rows).
    n_train = result.experiment.train_fraction * 200
    assert result.i_xt.max() <= np.log(round(n_train)) + 1e-9
    assert (tmp_path / "r" / "plane.png").exists()
    (tmp_path / "mine.npz").unlink()  # a saved result loads without its data
    assert ip.Result.load(tmp_path / "r").i_xt.shape == result.i_xt.shape
    code, _, err = run_main(*args, "--out", str(tmp_path / "s"), capsys=capsys)
    assert code == 2
    assert "does not exist" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_a_data_task_runs_with_the_classify_preset(tmp_path, capsys):
    import numpy as np

    y = np.arange(120) % 3
    x = y[:, None] * 100.0 + np.arange(120)[:, None] % 7  # 102 training rows
    np.savez(tmp_path / "d.npz", inputs=x, labels=y)
    args = ["--epochs", "5", "--measure", "log:3", "--no-video", "--log-every", "0"]
    task = f"file:{tmp_path / 'd.npz'}"
    assert main(["run", task, *args, "--out", str(tmp_path / "r")]) == 0
    result = ip.Result.load(tmp_path / "r")
    # Named after its data, so that runs of two data files do not share runs/NAME.
    assert (result.experiment.name, result.experiment.task) == ("d", task)
    assert result.experiment.scale == "unit"
    # The seed preset's loss on 3 classes, unscaled: each warning once, as it comes.
    seed = ["run", "seed", "--set", f"task={task}", "--set", "batch_size=0"]
    assert main([*seed, *args, "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert err.count("infoplane: warning: loss=sigmoid_bce") == 1
    assert err.count("far beyond [-1, 1]") == 1


def test_a_data_file_given_without_file_says_to_name_it_so(tmp_path, capsys):
    data = tmp_path / "mine.npz"
    np.savez(data, inputs=np.zeros((4, 2)), labels=np.arange(4) % 2)
    out = ["--out", str(tmp_path / "r"), "--quiet"]
    code, _, err = run_main("run", str(data), *out, capsys=capsys)
    assert code == 2
    assert f"name it as a task: file:{data}" in err
    assert "utf-8" not in err
    code, _, err = run_main("sweep", str(data), "--set", "lr=1,2", *out, capsys=capsys)
    assert code == 2
    assert f"file:{data}" in err


def test_run_logs_its_last_epoch(tmp_path, capsys):
    # 30 epochs with a line every 200: the end's accuracy is shown, not only epoch 0's
    short = ["--epochs", "30", "--measure-every", "10", "--no-pictures"]
    code, _, err = run_main(
        "run", "seed", *short, "--out", str(tmp_path / "r"), capsys=capsys
    )
    assert code == 0
    assert "epoch      0  test accuracy" in err
    assert "epoch     29  test accuracy" in err
    again = ["--out", str(tmp_path / "s"), "--log-every", "0"]
    assert (
        "test accuracy" not in run_main("run", "seed", *short, *again, capsys=capsys)[2]
    )


def test_bound_of_a_data_file_with_repeated_rows_warns(tmp_path, capsys):
    x = np.array([[0.0, 1.0], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])
    np.savez(tmp_path / "d.npz", inputs=x, labels=[0, 1, 1, 0])
    args = ["bound", f"file:{tmp_path / 'd.npz'}", "--out", str(tmp_path / "b.csv")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"warning: 1 rows of file:{tmp_path / 'd.npz'} repeat another row's" in err
