"""When a run measures: schedules of epochs.

Epochs count from 0; a measurement at epoch e is taken after that epoch's update, as
the reproduction notebook does. A schedule only chooses which epochs are measured:
a run always trains every one of its epochs, and records the loss and accuracy after
the last one (``final_*`` arrays) whether or not the schedule measures it.
"""

import dataclasses

import numpy as np

__all__ = ["Every", "LogSpaced", "parse_schedule"]


@dataclasses.dataclass(frozen=True)
class Every:
    """Measure every ``interval`` epochs: 0, interval, 2 * interval, ...

    The last epoch is measured only when it falls on this grid: ``every:20`` over
    3000 epochs measures 0, 20, ..., 2980 (150 points, as the notebook does), and
    epochs 2981 to 2999 still train after the last measurement.
    """

    interval: int

    def __post_init__(self):
        if not isinstance(self.interval, int) or self.interval < 1:
            raise ValueError(
                "measurement interval must be a positive integer, "
                f"got {self.interval!r}"
            )

    def epochs(self, n_epochs: int) -> np.ndarray:
        if self.interval > n_epochs:
            raise ValueError(
                f"measurement interval {self.interval} is longer than the run "
                f"({n_epochs} epochs); use a smaller interval or more epochs"
            )
        return np.arange(0, n_epochs, self.interval)

    @property
    def spec(self) -> str:
        return f"every:{self.interval}"


@dataclasses.dataclass(frozen=True)
class LogSpaced:
    """About ``count`` epochs spaced geometrically from 0 to the last, both included.

    Rounding merges some of the first points, so there may be fewer than ``count``.
    """

    count: int

    def __post_init__(self):
        if not isinstance(self.count, int) or self.count < 2:
            raise ValueError(
                f"a log-spaced schedule needs at least 2 points, got {self.count!r}"
            )

    def epochs(self, n_epochs: int) -> np.ndarray:
        return (
            np.unique(np.round(np.geomspace(1, n_epochs, self.count))).astype(int) - 1
        )

    @property
    def spec(self) -> str:
        return f"log:{self.count}"


def parse_schedule(spec: str) -> Every | LogSpaced:
    """``"every:20"`` or ``"log:300"`` to a schedule."""
    kind, _, value = spec.partition(":")
    kinds = {"every": Every, "log": LogSpaced}
    if kind not in kinds or not value.strip().isdigit():
        raise ValueError(
            f"measurement schedule must be every:K or log:N with integers, got {spec!r}"
        )
    return kinds[kind](int(value))
