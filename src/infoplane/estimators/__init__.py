"""Estimators of I(X;T) and I(T;Y): one family, one call each (nats)."""

from .base import AbstractEstimator, JointDistribution
from .binning import AbstractBinning, Binning, EqualMass, FixedWidth, ObservedRange
from .kernel import AbstractKernel, KDELower, KDEUpper
from .samples import mutual_information
from .spec import ESTIMATORS, parse_estimator

__all__ = [
    "ESTIMATORS",
    "AbstractBinning",
    "AbstractEstimator",
    "AbstractKernel",
    "Binning",
    "EqualMass",
    "FixedWidth",
    "JointDistribution",
    "KDELower",
    "KDEUpper",
    "ObservedRange",
    "mutual_information",
    "parse_estimator",
]
