import sys

import equinox as eqx
import jax
import numpy as np
import pytest

import infoplane as ip
from infoplane import _environment  # noqa: F401  (sets infoplane's threshold on import)

# infoplane keeps compiled programs on disk that took at least 0.2 s to compile. The
# tests compile many smaller ones (eager operations, tiny networks, one program per
# shape): keep those too, so that the other test processes (pytest-xdist's workers)
# and the next run of the suite load them rather than compile them again. Tests of
# the cache itself run in processes of their own, with infoplane's settings.
# infoplane sets its own threshold when its environment module is first imported
# (above): this line must come after that import, or the import would undo it.
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


@pytest.fixture
def poison_network(monkeypatch):
    """``poison_network(i)``: network i of the next runs starts from NaN weights, so
    it diverges at once."""
    from infoplane import training

    setup = training._setup

    def poison(index: int):
        def poisoned(*args):
            state, seed_data = setup(*args)
            weight = state.model.layers[0].weight
            nan = np.array(weight)
            nan[index] = np.nan  # on the host: the weights may be sharded over devices
            state = eqx.tree_at(
                lambda s: s.model.layers[0].weight,
                state,
                jax.device_put(nan, weight.sharding),
            )
            return state, seed_data

        monkeypatch.setattr(training, "_setup", poisoned)

    return poison
