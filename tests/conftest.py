import sys

import pytest

import infoplane as ip


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
