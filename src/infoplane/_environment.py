"""The runtime environment infoplane prepares: JAX devices, caches on disk.

Imported by the training module before JAX starts its backends. Each setting is left
alone where the user already chose one.
"""

import contextlib
import os
import warnings
from pathlib import Path

import jax


class CacheWarning(UserWarning):
    """A cache on disk could not be read or written; the value was computed anew."""


def cache_dir() -> Path:
    """Where infoplane keeps caches: ``$INFOPLANE_CACHE``, else the user cache."""
    if os.environ.get("INFOPLANE_CACHE"):
        return Path(os.environ["INFOPLANE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infoplane"


def one_cpu_device_per_core() -> None:
    """Let JAX see one CPU device per core, so seeds train in parallel across cores.

    The cores are those this process may run on (``sched_getaffinity``: under a batch
    scheduler, the job's share of the node; else all).

    XLA runs the small matrix products of these networks on one core per device; with a
    device per core the seed axis is split across them (about twice as fast on two
    cores). Skipped when the user chose a device count (``jax_num_cpu_devices``,
    ``XLA_FLAGS``, or ``INFOPLANE_CPU_DEVICES``, e.g. ``=1`` to turn this off) or when
    JAX has already started its backends.
    """
    wanted = os.environ.get("INFOPLANE_CPU_DEVICES", str(_usable_cores()))
    if "host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    if jax.config.jax_num_cpu_devices != -1 or not wanted.isdigit():
        return
    # Once JAX's backends have started the count is fixed: keep what the user has.
    with contextlib.suppress(RuntimeError):
        jax.config.update("jax_num_cpu_devices", max(1, int(wanted)))


def _usable_cores() -> int:
    """The cores this process may run on (a batch job's share of a node), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def cpu_collectives() -> None:
    """Let CPU devices of several processes exchange arrays (gloo over TCP), and
    wait for each other up to a day.

    Needed before the backends start in a multi-process run on CPUs; JAX 0.10 uses
    gloo by default, older versions none. Left alone where the user chose one
    (``JAX_CPU_COLLECTIVES_IMPLEMENTATION``, e.g. ``mpi``). XLA gives up on a CPU
    collective after 30 minutes, but the other processes wait in one while process 0
    writes the run directory, which can take longer for a large run; a process that
    dies is noticed by its heartbeats instead. ``XLA_FLAGS`` that set
    ``--xla_cpu_collective_timeout_seconds`` are kept.
    """
    if jax.config.jax_cpu_collectives_implementation is None:
        with contextlib.suppress(RuntimeError):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_collective_timeout_seconds" not in flags:
        wait = f"--xla_cpu_collective_timeout_seconds={24 * 3600}"
        os.environ["XLA_FLAGS"] = f"{flags} {wait}".strip()


def compilation_cache() -> None:
    """Keep compiled programs on disk, so a second run of an experiment starts at once.

    Uses JAX's persistent compilation cache in ``cache_dir() / "jax"``, unless the user
    set ``jax_compilation_cache_dir`` or ``INFOPLANE_JAX_CACHE=0``.

    A kept program must load back safely. jaxlib's CPU loader (0.10) overflows its
    thread's stack, and the process dies with SIGSEGV, on cached programs of about a
    thousand kernels that call ``memcpy``. infoplane's compiled programs stay far
    below that because none grows with layer width (loops over units or words are
    ``lax.scan``, not unrolled; tests/test_program_size.py). JAX has no upper limit
    per entry to add as a second guard: its thresholds only keep programs that
    compile fast or are small out of the cache, and the programs that crashed were
    the largest and slowest to compile.
    """
    if os.environ.get("INFOPLANE_JAX_CACHE", "1") == "0":
        return
    if jax.config.jax_compilation_cache_dir:
        return
    folder = cache_dir() / "jax"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        warnings.warn(
            f"cannot use {folder} for compiled programs; every run compiles anew "
            "(set INFOPLANE_CACHE to a writable folder, or INFOPLANE_JAX_CACHE=0)",
            CacheWarning,
            stacklevel=2,
        )
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


one_cpu_device_per_core()
compilation_cache()
