"""Runs over several processes (machines), with ``jax.distributed``.

Every process runs the same program. After :func:`initialize`, ``jax.devices()`` lists
the devices of all processes; training puts the seed axis on one mesh over all of
them, so each process trains the networks on its own devices and draws only their
initial parameters and data splits. After each compiled chunk the records are
gathered (an all-gather over the processes), so every process holds the same host
arrays and takes the same decisions (divergence, run-wide binning ranges); process 0
alone writes files and shows progress.

A process that dies ends the run on every process: a peer waiting for it in a
gather fails at once (its connection closed), and the coordination service notices a
process that stops sending heartbeats within ``heartbeat_timeout`` seconds and stops
the others.

Examples:
    In a script started once per process (``srun``, or by hand with the same
    coordinator on every process)::

        import infoplane as ip

        ip.distributed.initialize()  # SLURM: nothing to say; else coordinator=...
        result = ip.run(ip.preset("tishby2017", seeds=400))  # on every process
        if ip.distributed.is_main():
            result.save("runs/big")
"""

import collections
import contextlib
import hashlib
import os
import socket
import sys
import time

import jax
import numpy as np

from . import _environment

__all__ = ["check_same", "gather", "initialize", "is_main", "share"]


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    heartbeat_timeout: int = 100,
    initialization_timeout: int = 300,
) -> None:
    """Join this process to a multi-process run; call it before anything uses JAX.

    With no arguments, JAX finds them in the environment (SLURM, Open MPI, or
    ``JAX_COORDINATOR_ADDRESS``); else give all three.

    Args:
        coordinator: ``HOST:PORT`` of process 0, which serves the coordination on that
            port; the same on every process.
        num_processes: how many processes the run has.
        process_id: this process, 0 to ``num_processes - 1``.
        heartbeat_timeout: seconds after which a silent process counts as dead and
            the run fails on every process.
        initialization_timeout: seconds to wait for every process to join.

    Raises:
        ValueError: the processes are not described (no cluster found and not all of
            the arguments given), JAX has already started, or (a process other than
            0) the coordinator cannot be reached within ``initialization_timeout``.
    """
    if jax.distributed.is_initialized():
        raise ValueError("the distributed runtime is already initialised")
    if coordinator is not None and process_id not in (None, 0):
        # JAX would wait here in native code, deaf to Ctrl-C and SIGTERM, and then
        # abort the process without a word: wait in Python instead, and say why.
        _reach(coordinator, initialization_timeout)
    _environment.cpu_collectives()
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=initialization_timeout,
            heartbeat_timeout_seconds=heartbeat_timeout,
        )
    except RuntimeError as error:
        if "must be called before" not in str(error):
            raise
        raise ValueError(
            "JAX has already started in this process; call "
            "infoplane.distributed.initialize() before anything else uses JAX "
            "(restart the notebook kernel)"
        ) from None
    except ValueError as error:
        raise ValueError(
            f"cannot start a distributed run ({error}): run under SLURM (srun), or "
            "give the coordinator (HOST:PORT of process 0), the number of processes "
            "and this process's id"
        ) from None
    devices = collections.Counter(d.process_index for d in jax.devices())
    if len(set(devices.values())) > 1:  # every process sees it and says so
        listed = ", ".join(f"process {p}: {n}" for p, n in sorted(devices.items()))
        raise ValueError(
            f"the processes have different numbers of devices ({listed}); give "
            "each the same number (on CPUs, INFOPLANE_CPU_DEVICES=N)"
        )
    # The first collective connects the processes (gloo on CPUs prints a line on
    # stdout as it does): connect now, quietly, so that a missing peer shows here.
    with _quiet_stdout():
        share(0)


def _reach(coordinator: str, timeout: float) -> None:
    """Wait until ``HOST:PORT`` accepts a connection (process 0 has started).

    Raises:
        ValueError: not ``HOST:PORT``, an unknown host, or no answer in ``timeout``.
    """
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--coordinator must be HOST:PORT, got {coordinator!r}")
    try:
        socket.getaddrinfo(host, int(port))
    except OSError as error:
        raise ValueError(
            f"cannot find the coordinator's host {host!r} ({error})"
        ) from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ValueError(
                    f"the coordinator {coordinator} (process 0) did not answer within "
                    f"{timeout:g} s; start process 0 there, or check the address"
                ) from None
            time.sleep(0.5)


def is_main() -> bool:
    """Whether this process is process 0: the one that writes and reports."""
    return jax.process_index() == 0


def gather(array) -> np.ndarray:
    """The whole of ``array`` as a host array, on every process.

    An array on this process's devices alone is copied; one spread over several
    processes is all-gathered, so every process must call this, in the same order.
    """
    if getattr(array, "is_fully_addressable", True):
        return np.asarray(array)
    from jax.experimental.multihost_utils import process_allgather

    return np.asarray(process_allgather(array, tiled=True))


def check_same(text: str) -> None:
    """Check that every process was asked the same ``text`` (e.g. its experiment as
    JSON); every process calls it.

    Raises:
        ValueError: on every process, when a process holds another text.
    """
    if jax.process_count() == 1:
        return
    from jax.experimental.multihost_utils import process_allgather

    digest = np.frombuffer(hashlib.sha256(text.encode()).digest()[:4], np.int32)
    digests = np.asarray(process_allgather(digest)).reshape(-1)
    differ = np.flatnonzero(digests != digests[0])
    if differ.size:
        raise ValueError(
            f"process {', '.join(map(str, differ))} of this distributed run was "
            "started with other settings than process 0; start every process with "
            "the same command (only --process-id differs)"
        )


def share(value: int) -> int:
    """Process 0's ``value`` (an integer), on every process; every process calls it."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental.multihost_utils import broadcast_one_to_all

    return int(broadcast_one_to_all(np.int32(value)))


@contextlib.contextmanager
def _quiet_stdout():
    """Send what native code writes on file descriptor 1 to nowhere meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
