import pytest

import infoplane as ip


@pytest.fixture(scope="session")
def small_result():
    """A short real run of the seed protocol, two seeds (shared across tests)."""
    return ip.run(ip.preset("seed", epochs=400, measure="every:20", seeds=2))
