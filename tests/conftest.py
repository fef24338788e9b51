import sys

import jax
import pytest

import infoplane as ip

# infoplane keeps compiled programs on disk that took at least 0.2 s to compile. The
# tests compile many smaller ones (eager operations, tiny networks, one program per
# shape): keep those too, so that the other test processes (pytest-xdist's workers)
# and the next run of the suite load them rather than compile them again. Tests of
# the cache itself run in processes of their own, with infoplane's settings.
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


@pytest.fixture(scope="session")
def small_result():
    """A short real run of the seed protocol, two seeds (shared across tests)."""
    return ip.run(ip.preset("seed", epochs=400, measure="every:20", seeds=2))


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Plots drawn without ``ax`` open pyplot figures, as in a notebook; close them."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
