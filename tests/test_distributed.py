"""Multi-process runs on one machine: processes with one CPU device each, against one
process with as many devices, over a coordinator on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from infoplane.cli import main

TINY = ["seed", "--epochs", "40", "--measure-every", "20", "--seeds", "4"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(devices: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "JAX_COORDINATOR"))
    }
    env["JAX_PLATFORMS"] = "cpu"
    if devices == 1:
        env["INFOPLANE_CPU_DEVICES"] = "1"
        env.pop("XLA_FLAGS", None)
    else:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _infoplane(*args, devices: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "infoplane.cli", "run", *map(str, args)],
        env=_environment(devices),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _distributed(
    *args, processes: int = 2, own=None, devices=None
) -> list[subprocess.Popen]:
    """One ``infoplane run`` per process, each with one CPU device (or
    ``devices[i]``); ``own[i]``: more arguments for process i."""
    port = _free_port()
    own = own or [[]] * processes
    devices = devices or [1] * processes
    return [
        _infoplane(
            *args,
            *own[i],
            "--distributed",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            processes,
            "--process-id",
            i,
            devices=devices[i],
        )
        for i in range(processes)
    ]


@pytest.mark.processes
def test_two_processes_give_the_arrays_of_two_devices_and_process_0_writes(
    tmp_path,
):
    dist, single = tmp_path / "dist", tmp_path / "single"
    processes = _distributed(*TINY, "--no-video", "--out", dist)
    # The reference: one process with two CPU devices (this one, where it is such).
    reference = [*TINY, "--no-video", "--quiet", "--out", str(single)]
    if [d.platform for d in jax.devices()] == ["cpu", "cpu"]:
        assert main(["run", *reference]) == 0
        others = []
    else:
        others = [_infoplane(*reference, devices=2)]
    (out0, err0), (out1, err1), *rest = (
        p.communicate(timeout=300) for p in [*processes, *others]
    )
    codes = [p.returncode for p in [*processes, *others]]
    assert codes == [0] * len(codes), (err0, err1, rest)
    assert f"wrote {dist}/" in out0  # process 0 reports
    assert (out1, err1) == ("", "")  # process 1 prints nothing
    # Process 0 alone wrote: the two run directories and no temporary folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "single"]
    a, b = np.load(dist / "arrays.npz"), np.load(single / "arrays.npz")
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert a["i_xt"].shape == (4, 2, 3, 1)
    assert (dist / "result.json").read_text() == (single / "result.json").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_process_fails_the_run_on_every_process(tmp_path, victim):
    # Long enough to be training when killed; chunks short enough that a process
    # waiting to gather finds its peer gone, else the heartbeats (3 s) tell it.
    out = tmp_path / "killed"
    long = ["seed", "--epochs", "1000000", "--measure-every", "500", "--seeds", "4"]
    processes = _distributed(
        *long, "--no-video", "--quiet", "--heartbeat-timeout", "3", "--out", out
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".killed.") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, [p.poll() for p in processes]
        time.sleep(0.2)  # process 0 has claimed the output: both are starting
    time.sleep(3)
    processes[victim].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    survivor = processes[1 - victim]
    _, err = survivor.communicate(timeout=60)
    took = time.monotonic() - killed
    processes[victim].communicate()  # and close its pipes
    assert survivor.returncode != 0, err
    assert took < 30, took
    assert not out.exists()  # nothing half-written is visible


@pytest.mark.slow
def test_failures_every_process_meets_end_them_all_with_one_line(tmp_path):
    # Process 0 cannot claim --out: it says why, the others that it stopped; exit 2.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("not infoplane's")
    processes = _distributed(*TINY, "--quiet", "--out", taken)
    (out0, err0), (out1, err1) = (p.communicate(timeout=300) for p in processes)
    assert [p.returncode for p in processes] == [2, 2], (err0, err1)
    assert "taken already exists" in err0 or "not empty" in err0
    assert "process 0 of this distributed run stopped (exit code 2)" in err1
    assert (out0, out1) == ("", "")
    assert [len(err.splitlines()) for err in (err0, err1)] == [1, 1]
    # Every network diverges: every process says so; exit 1, nothing written.
    processes = _distributed(*TINY, "--lr", "1e6", "--quiet", "--out", tmp_path / "nan")
    errs = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [1, 1], errs
    assert all(err.startswith("infoplane: error: training diverged") for err in errs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    # A process started with other settings would train its share of another run
    # (its seeds' numbers silently mixed in): every process refuses, before training.
    own = [[], ["--lr", "0.5"]]
    processes = _distributed(*TINY, "--quiet", "--out", tmp_path / "mixed", own=own)
    errs = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [2, 2], errs
    message = "process 1 of this distributed run was started with other settings"
    assert all(message in err for err in errs), errs
    # Processes with unequal numbers of devices cannot share the seed axis evenly.
    processes = _distributed(*TINY, "--quiet", "--out", tmp_path / "d", devices=[1, 2])
    errs = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [2, 2], errs
    message = "different numbers of devices (process 0: 1, process 1: 2)"
    assert all(message in err for err in errs), errs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_distributed_options_need_distributed_and_a_cluster(
    capsys, tmp_path, monkeypatch
):
    code = main(["run", *TINY, "--process-id", "0", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--process-id need --distributed" in capsys.readouterr().err
    # Outside any cluster and without a coordinator (or, in this test process, after
    # JAX has started): one clear line, exit 2, nothing run.
    for name in list(os.environ):
        if name.startswith(("SLURM_", "OMPI_", "JAX_COORDINATOR")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))  # restored
    code = main(["run", *TINY, "--distributed", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "cannot start a distributed run" in err or "JAX has already started" in err
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize(
    ("coordinator", "message"),
    [
        ("127.0.0.1:FREE", "(process 0) did not answer within 1 s"),
        ("nohost.invalid:1234", "cannot find the coordinator's host 'nohost.invalid'"),
        ("no-port", "--coordinator must be HOST:PORT"),
    ],
)
def test_a_process_that_cannot_reach_the_coordinator_says_so(
    coordinator, message, capsys, tmp_path
):
    # JAX would wait in native code for --join-timeout, deaf to signals, then abort.
    coordinator = coordinator.replace("FREE", str(_free_port()))  # nobody there
    args = ["run", *TINY, "--distributed", "--coordinator", coordinator]
    args += ["--num-processes", "2", "--process-id", "1", "--join-timeout", "1"]
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists()
