"""Information units. Everything is computed in nats; conversion happens at edges."""

import math

__all__ = ["UNITS", "check_units", "from_nats"]

UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}


def check_units(units: str) -> str:
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    return units


def from_nats(values, units: str):
    """Convert a value (or array) in nats to ``units``."""
    return values * UNITS[check_units(units)]
