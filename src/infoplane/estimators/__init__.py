"""Estimators of I(X;T) and I(T;Y): one family, one call each (nats).

Each class is named for its command-line name: ``Binning`` is ``binning``,
``BinningWidth`` ``binning-width``, ``BinningObserved`` ``binning-observed``,
``BinningAdaptive`` ``binning-adaptive``, ``Quantized`` ``quantized``, and ``KDE`` is
``kde-upper`` or ``kde-lower`` by its ``bound``.
"""

from .base import AbstractEstimator, JointDistribution
from .binning import (
    AbstractBinning,
    Binning,
    BinningAdaptive,
    BinningObserved,
    BinningWidth,
    Quantized,
)
from .kernel import KDE
from .samples import label_distributions, mutual_information
from .spec import ESTIMATORS, parse_estimator

__all__ = [
    "ESTIMATORS",
    "KDE",
    "AbstractBinning",
    "AbstractEstimator",
    "Binning",
    "BinningAdaptive",
    "BinningObserved",
    "BinningWidth",
    "JointDistribution",
    "Quantized",
    "label_distributions",
    "mutual_information",
    "parse_estimator",
]
