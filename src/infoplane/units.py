"""Information units and entropy. Everything is computed in nats; conversion to bits
happens at the edges (results, pictures, files)."""

import math

import numpy as np

__all__ = ["UNITS", "check_units", "entropy", "from_nats"]

UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}


def check_units(units: str) -> str:
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    return units


def from_nats(values, units: str):
    """Convert a value (or array) in nats to ``units``."""
    return values * UNITS[check_units(units)]


def entropy(p: np.ndarray) -> float:
    """The entropy of a distribution ``p`` (non-negative, summing to 1), in nats."""
    p = np.asarray(p, np.float64)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))
