"""Estimators of I(X;T) and I(T;Y): one family, one call each (nats)."""

from .base import AbstractEstimator
from .binning import AbstractBinning, Binning
from .measure import mutual_information
from .spec import ESTIMATORS, parse_estimator

__all__ = [
    "ESTIMATORS",
    "AbstractBinning",
    "AbstractEstimator",
    "Binning",
    "mutual_information",
    "parse_estimator",
]
