"""One JAX CPU device per core, set before JAX starts its backends."""

import contextlib
import os

import jax


def one_cpu_device_per_core() -> None:
    """Let JAX see one CPU device per core, so seeds train in parallel across cores.

    XLA runs the small matrix products of these networks on one core per device; with a
    device per core the seed axis is split across them (about twice as fast on two
    cores). Skipped when the user chose a device count (``jax_num_cpu_devices``,
    ``XLA_FLAGS``, or ``INFOPLANE_CPU_DEVICES``, e.g. ``=1`` to turn this off) or when
    JAX has already started its backends.
    """
    wanted = os.environ.get("INFOPLANE_CPU_DEVICES", str(os.cpu_count() or 1))
    if "host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    if jax.config.jax_num_cpu_devices != -1 or not wanted.isdigit():
        return
    # Once JAX's backends have started the count is fixed: keep what the user has.
    with contextlib.suppress(RuntimeError):
        jax.config.update("jax_num_cpu_devices", max(1, int(wanted)))


one_cpu_device_per_core()
