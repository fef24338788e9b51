import gc
import sys

import pytest

# Nothing heavy is imported at module level: pytest-xdist's controller loads this file
# too, and it runs no tests; JAX and infoplane cost it about 2 s before the workers
# start.


def pytest_configure(config):
    """Keep the tests' small compiled programs on disk, in processes that run tests.

    infoplane keeps compiled programs on disk that took at least 0.2 s to compile.
    The tests compile many smaller ones (eager operations, tiny networks, one program
    per shape): keep those too, so that the other test processes (pytest-xdist's
    workers) and the next run of the suite load them rather than compile them again.
    Tests of the cache itself run in processes of their own, with infoplane's
    settings. infoplane sets its own threshold when its environment module is first
    imported: the update must come after that import, or the import would undo it.
    """
    if config.getoption("dist", "no") != "no" and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller
    import jax

    from infoplane import _environment  # noqa: F401  (sets infoplane's threshold)

    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def pytest_collection_finish(session):
    """Spare the garbage collector the imported modules, and collect less often.

    JAX keeps every traced and compiled program; by the end of the suite the heap is
    large, and Python's default thresholds spent about a tenth of the suite's time
    in full collections scanning it. Objects alive after collection (modules, JAX's
    own tables) are frozen out of the collector's scans, and young collections come
    every 50,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@pytest.fixture(scope="session")
def small_result():
    """A short real run of the seed protocol, two seeds (shared across tests)."""
    import infoplane as ip

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
    import equinox as eqx
    import jax
    import numpy as np

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
