"""Output safety: nothing a user wrote is ever wiped, nothing half-written is left."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import infoplane as ip
from infoplane import output, runner
from infoplane.cli import main
from infoplane.output import atomic_directory

# These tests are about which files are kept, replaced or refused; pictures are drawn
# (and redrawn over a run) in test_cli.py, test_plotting.py and test_sweeps.py.
TINY = ["--epochs", "40", "--measure-every", "20", "--hidden", "4", "--no-pictures"]


def run_cli(out, *extra):
    return main(["run", "seed", "--out", str(out), *TINY, "--quiet", *extra])


def visible_and_hidden(folder):
    return sorted(p.name for p in folder.iterdir())


def test_force_never_deletes_a_users_folder(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "thesis.txt").write_text("thesis")
    assert run_cli(folder, "--force") == 2
    err = capsys.readouterr().err
    assert "did not write" in err
    assert len(err.strip().splitlines()) == 1
    assert visible_and_hidden(folder) == ["thesis.txt"]
    assert visible_and_hidden(tmp_path) == ["d"]


def test_force_replaces_only_an_infoplane_run(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(run) == 0
    first = (run / "arrays.npz").read_bytes()
    assert run_cli(run) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert run_cli(run, "--force", "--seed", "1") == 0
    assert (run / "arrays.npz").read_bytes() != first
    (run / "notes.txt").write_text("mine")  # a user's file inside a run: keep it
    assert run_cli(run, "--force") == 2
    assert (run / "notes.txt").read_text() == "mine"
    assert visible_and_hidden(tmp_path) == ["r"]


@pytest.mark.parametrize("out", [".", "", "..", "HOME", "CWD_PARENT"])
def test_special_output_paths_are_refused_before_training(
    out, tmp_path, monkeypatch, capsys
):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    out = {"HOME": str(tmp_path / "home"), "CWD_PARENT": str(tmp_path / "a")}.get(
        out, out
    )

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr("infoplane.runner.train", no_training)
    assert run_cli(out, "--force") == 2
    err = capsys.readouterr().err
    assert err.startswith("infoplane: error: --out")
    for folder in (work, tmp_path / "a", tmp_path / "home"):
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_force_never_replaces_a_folder_of_separate_runs(tmp_path, capsys):
    # runs/ of the README's runs/NAME: infoplane wrote every run in it, but it is
    # not one run or sweep, and --force --out runs (a name forgotten) must not wipe it.
    runs = tmp_path / "runs"
    assert run_cli(runs / "alpha") == 0
    assert run_cli(runs / "beta") == 0
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    assert not output.is_sweep_directory(runs)
    assert run_cli(runs, "--force") == 2
    assert "did not write" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
    assert main(["plot", str(runs)]) == 2  # nor is it drawn as a sweep
    assert "is not a run or sweep directory" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before


def test_a_sweep_holding_a_dead_processs_temporary_is_still_a_sweep(tmp_path):
    args = ["sweep", "seed", "--set", "lr=0.1", "--set", "measure=every:20"]
    args += ["--epochs", "40", "--quiet", "--no-pictures", "--out", str(tmp_path / "s")]
    assert main(args) == 0
    (tmp_path / "s" / f".lr=0.2.infoplane~{output._HOST}~99999999~ab12").mkdir()
    assert output.is_sweep_directory(tmp_path / "s")
    (tmp_path / "s" / ".notes").mkdir()  # a hidden folder of the user's is not ours
    assert not output.is_sweep_directory(tmp_path / "s")


def test_a_run_into_a_folder_written_meanwhile_fails_and_keeps_it(tmp_path):
    target = tmp_path / "out"

    def race():
        with atomic_directory(target) as tmp:
            (tmp / "result.json").write_text("{}")
            target.mkdir()  # another run lands first
            (target / "theirs.txt").write_text("theirs")

    with pytest.raises(FileExistsError, match="already exists"):
        race()
    assert visible_and_hidden(target) == ["theirs.txt"]
    assert visible_and_hidden(tmp_path) == ["out"]


def test_the_command_lines_run_written_meanwhile_is_kept_beside_it(tmp_path):
    target = tmp_path / "out"
    (tmp_path / "out-2").mkdir()  # taken names are skipped
    (tmp_path / "out-2" / "x.txt").write_text("x")

    def race():
        with atomic_directory(target, rescue=True) as tmp:
            (tmp / "result.json").write_text("mine")
            target.mkdir()
            (target / "theirs.txt").write_text("theirs")

    with pytest.raises(FileExistsError, match=f"written to {tmp_path / 'out-3'} inst"):
        race()
    assert visible_and_hidden(tmp_path) == ["out", "out-2", "out-3"]
    assert (tmp_path / "out-3" / "result.json").read_text() == "mine"
    assert (target / "theirs.txt").read_text() == "theirs"
    assert (tmp_path / "out-2" / "x.txt").read_text() == "x"


@pytest.mark.processes
def test_two_concurrent_runs_into_one_folder_one_fails(tmp_path):
    out = tmp_path / "same"
    command = [sys.executable, "-m", "infoplane.cli", "run", "seed", "--out", str(out)]
    command += [*TINY, "--quiet"]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [p.communicate(timeout=600) for p in runs]
    codes = sorted(p.returncode for p in runs)
    errors = "".join(err for _, err in outputs)
    assert codes == [0, 2]
    assert "already exists" in errors
    assert "Traceback" not in errors
    assert ip.Result.load(out).i_xt.shape == (1, 2, 1, 1)
    # The loser either was refused before training, or trained and was kept beside.
    if "written to" in errors:
        assert visible_and_hidden(tmp_path) == ["same", "same-2"]
        kept = ip.Result.load(tmp_path / "same-2")
        np.testing.assert_array_equal(kept.i_xt, ip.Result.load(out).i_xt)
    else:
        assert visible_and_hidden(tmp_path) == ["same"]


def test_sigterm_is_an_interrupt_that_leaves_nothing(tmp_path, monkeypatch, capsys):
    def terminated_while_training(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr("infoplane.runner.train", terminated_while_training)
    before = signal.getsignal(signal.SIGTERM)
    assert run_cli(tmp_path / "r") == 143
    assert "terminated; nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main restores the handler


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_dropped_by_a_garbage_collection_callback_still_stops_the_run(
    tmp_path, monkeypatch, capsys, signum, code
):
    # JAX keeps a gc callback; Python drops an exception raised in one, so a Ctrl-C
    # arriving there went unseen and the run finished and landed (exit 0).
    import gc

    sent = []

    def callback(phase, info):
        if not sent:
            sent.append(signum)
            os.kill(os.getpid(), signum)  # its interrupt is raised here, and dropped

    train = runner.train

    def dropped_then_trained(*args, **kwargs):
        gc.callbacks.append(callback)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(callback)
        return train(*args, **kwargs)

    monkeypatch.setattr("infoplane.runner.train", dropped_then_trained)
    assert run_cli(tmp_path / "r") == code
    assert sent == [signum]
    assert "; nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_signal_inside_jax_is_raised_at_the_next_safe_point():
    from infoplane import cli

    source = "def where():\n    return sys._getframe()\n"
    inside = {"sys": sys, "__name__": "jax._src.api"}  # a frame of JAX's code
    exec(compile(source, "api.py", "exec"), inside)
    frame = inside["where"]()
    try:
        cli._on_signal(signal.SIGTERM, frame)  # noted, not raised inside JAX
        with pytest.raises(cli.Terminated):
            cli._checkpoint()
        with pytest.raises(KeyboardInterrupt):  # a second signal: at once
            cli._on_signal(signal.SIGINT, frame)
    finally:
        cli._SIGNALLED.clear()
    cli._checkpoint()  # nothing pending: nothing raised
    with pytest.raises(KeyboardInterrupt):  # outside JAX: at once
        cli._on_signal(signal.SIGINT, sys._getframe())
    cli._SIGNALLED.clear()


def test_an_error_a_signal_caused_is_the_signals_interrupt(
    tmp_path, monkeypatch, capsys
):
    # Ctrl-C also stops ffmpeg (one process group): matplotlib then raises its
    # error, which is the interrupt's doing, not a failure of the run.
    from infoplane import cli

    def stopped_ffmpeg(*args, **kwargs):
        cli._SIGNALLED.append(KeyboardInterrupt)  # as the handler notes it in JAX
        raise RuntimeError("ffmpeg returned non-zero exit status 255")

    monkeypatch.setattr("infoplane.runner.train", stopped_ffmpeg)
    assert run_cli(tmp_path / "r") == 130
    assert capsys.readouterr().err == "infoplane: interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []


def test_temporary_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = tmp_path / f".old.infoplane~{output._HOST}~{pid}~x1"
    stale.mkdir()
    (stale / "arrays.npz").write_text("half")
    alive = tmp_path / f".mine.infoplane~{output._HOST}~{os.getpid()}~x2"
    alive.mkdir()
    other_host = tmp_path / f".old.infoplane~elsewhere~{pid}~x3"
    other_host.mkdir()
    users = tmp_path / ".hidden-user-folder"
    users.mkdir()
    with atomic_directory(tmp_path / "new") as tmp:
        (tmp / "result.json").write_text("{}")
    assert not stale.exists()
    assert alive.exists()
    assert other_host.exists()
    assert users.exists()


def test_bound_refuses_to_replace_a_users_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFOPLANE_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "b.csv"
    csv.write_text("my,own,data\n")
    assert main(["bound", "seed10", "--out", str(csv)]) == 2
    assert main(["bound", "seed10", "--out", str(csv), "--force"]) == 2
    assert csv.read_text() == "my,own,data\n"
    assert main(["bound", "seed10", "--out", str(tmp_path / "b.txt")]) == 2
    assert "must name a .csv file" in capsys.readouterr().err
    assert main(["bound", "seed10", "--out", str(tmp_path / "c.csv")]) == 0
    assert main(["bound", "seed10", "--out", str(tmp_path / "c.csv")]) == 2
    assert main(["bound", "seed10", "--out", str(tmp_path / "c.csv"), "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "b.csv", "c.csv", "c.png", "cache"
    ]  # fmt: skip


@pytest.mark.parametrize("damage", ["file", "truncated", "unwritable"])
def test_a_bad_cache_warns_and_never_costs_a_run(damage, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("INFOPLANE_CACHE", str(cache))
    dataset = ip.load_task("seed10")
    expected = ip.ib.task_curve(dataset, cache=False)
    if damage == "file":
        cache.write_text("not a folder")
    elif damage == "truncated":
        ip.ib.task_curve(dataset)
        (entry,) = cache.glob("ib-*.npz")
        entry.write_bytes(entry.read_bytes()[:100])
    else:
        cache.mkdir()
        cache.chmod(0o500)
        if os.access(cache, os.W_OK):  # root ignores permissions
            pytest.skip("this user can write anywhere")
    with pytest.warns(ip.ib.CacheWarning):
        curve = ip.ib.task_curve(dataset)
    np.testing.assert_array_equal(curve.i_xt, expected.i_xt)
    if damage == "truncated":  # repaired: the next call reads it without a warning
        np.testing.assert_array_equal(ip.ib.task_curve(dataset).i_ty, expected.i_ty)


@pytest.mark.processes
def test_run_with_ib_bound_survives_a_bad_cache(tmp_path):
    (tmp_path / "cache-file").write_text("x")  # INFOPLANE_CACHE names a file
    env = dict(os.environ, INFOPLANE_CACHE=str(tmp_path / "cache-file"))
    command = [sys.executable, "-m", "infoplane.cli", "run", "seed", *TINY]
    command += ["--out", str(tmp_path / "r"), "--ib-bound", "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "infoplane: warning: cannot use" in done.stderr  # compiled programs
    assert "infoplane: warning: cannot write the cache" in done.stderr  # IB curve
    assert "Traceback" not in done.stderr
    assert (tmp_path / "r" / "ib_distance.csv").exists()


def test_a_sweep_with_repeated_points_fails_before_any_work(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained a point of an invalid sweep")

    monkeypatch.setattr("infoplane.runner.train", no_training)
    args = ["sweep", "seed", "--set", "lr=0.1,0.10", "--out", str(tmp_path / "s")]
    assert main([*args, "--quiet"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_a_sweep_directory_but_not_a_users_folder(tmp_path):
    # A sweep of one point is a sweep directory all the same.
    args = ["sweep", "seed", "--set", "lr=0.1", "--set", "measure=every:20"]
    args += ["--epochs", "40", "--quiet", "--no-pictures"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    assert output.is_sweep_directory(tmp_path / "s")
    assert main([*args, "--out", str(tmp_path / "s"), "--force"]) == 0
    (tmp_path / "s" / "draft.tex").write_text("mine")
    assert main([*args, "--out", str(tmp_path / "s"), "--force"]) == 2
    assert (tmp_path / "s" / "draft.tex").read_text() == "mine"


def test_errors_of_the_operating_system_are_one_line(tmp_path, monkeypatch, capsys):
    assert run_cli(tmp_path / ("x" * 300)) == 2
    err = capsys.readouterr().err
    assert "File name too long" in err
    assert len(err.strip().splitlines()) == 1

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("infoplane.runner.train", out_of_memory)
    assert run_cli(tmp_path / "r") == 2
    assert "not enough memory for these sizes" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_run_name_is_plain_text_in_pictures(small_result, tmp_path):
    import dataclasses

    from infoplane.plotting import write_pictures

    name = "cost $5 $\\alpha^"  # not valid math text
    result = dataclasses.replace(
        small_result, experiment=small_result.experiment.replace(name=name)
    )
    write_pictures(result, tmp_path, video=False)
    assert (tmp_path / "plane.png").stat().st_size > 0
    assert result.plot().get_title() == name


def test_nothing_is_written_into_a_run_or_sweep_or_a_file(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(run) == 0
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    refused = {
        run / "inner": "is inside the infoplane run",
        run / "a" / "b": "is inside the infoplane run",
        tmp_path / "afile" / "x": "afile is a file, so",
        tmp_path / "link": "is a symbolic link; give the folder it points to",
    }
    for out, message in refused.items():
        assert run_cli(out) == 2
        assert message in capsys.readouterr().err
    assert main(["bound", "seed10", "--out", str(run / "b.csv")]) == 2
    assert "is inside the infoplane run" in capsys.readouterr().err
    assert output.is_run_directory(run)  # still one, whole
    assert (tmp_path / "afile").read_text() == "mine"
    # A sweep takes its own points, and nothing else.
    args = ["sweep", "seed", "--set", "lr=0.1", "--set", "measure=every:20"]
    args += ["--epochs", "40", "--quiet", "--no-pictures"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    assert run_cli(tmp_path / "s" / "extra") == 2
    assert "is inside the infoplane sweep" in capsys.readouterr().err
    assert output.is_sweep_directory(tmp_path / "s")
    for out, message in refused.items():  # nor does a shard write there
        if "afile" not in str(out):
            assert main([*args, "--shard", "0/1", "--out", str(out)]) == 2
            assert message in capsys.readouterr().err
    assert output.is_run_directory(run)


def test_a_name_that_is_no_folder_name_needs_an_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["run", "seed", *TINY, "--quiet", "--set", "name=../../escaped"]
    assert main(args) == 2
    assert "is not a folder name, so runs/NAME cannot hold it" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
