import numpy as np
import pytest

from infoplane.schedules import Every, LogSpaced, parse_schedule


def test_schedules():
    np.testing.assert_array_equal(Every(20).epochs(3000), np.arange(0, 3000, 20))
    assert len(Every(20).epochs(3000)) == 150
    log = LogSpaced(300).epochs(10_000)
    assert log[0] == 0
    assert log[-1] == 9999
    assert np.all(np.diff(log) > 0)
    assert 150 < len(log) <= 300
    assert parse_schedule("log:50") == LogSpaced(50)
    with pytest.raises(ValueError, match="longer than the run"):
        Every(500).epochs(100)
    with pytest.raises(ValueError, match="every:K or log:N"):
        parse_schedule("sometimes")
    with pytest.raises(ValueError, match="positive integer"):
        parse_schedule("every:0")
