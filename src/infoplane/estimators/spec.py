"""Estimators by name: ``"binning:bins=30,range=-1:1"`` <-> ``Binning(30, -1., 1.)``."""

from collections.abc import Callable

from ..specs import parse_spec
from .base import AbstractEstimator
from .binning import (
    Binning,
    BinningAdaptive,
    BinningObserved,
    BinningWidth,
    Quantized,
)
from .kernel import BLOCK, KDE

__all__ = ["ESTIMATORS", "parse_estimator"]


def _range(text: str) -> tuple[float, float]:
    low, sep, high = text.rpartition(":")
    if not sep:
        raise ValueError(f"a range is written low:high, e.g. -1:1, got {text!r}")
    return float(low), float(high)


def _binning(params: dict[str, str]) -> Binning:
    low, high = _range(params.pop("range", "-1:1"))
    bins, top = int(params.pop("bins", "30")), params.pop("top", "open")
    return Binning(bins=bins, low=low, high=high, top=top)


def _width(params: dict[str, str]) -> BinningWidth:
    return BinningWidth(width=float(params.pop("width", "0.07")))


def _observed(params: dict[str, str]) -> BinningObserved:
    bins, scope = int(params.pop("bins", "30")), params.pop("scope", "layer")
    if "range" not in params:
        return BinningObserved(bins=bins, scope=scope)
    low, high = _range(params.pop("range"))
    return BinningObserved(bins=bins, scope=scope, low=low, high=high)


def _adaptive(params: dict[str, str]) -> BinningAdaptive:
    return BinningAdaptive(bins=int(params.pop("bins", "30")))


def _quantized(params: dict[str, str]) -> Quantized:
    if "bits" not in params:
        if "range" in params:
            raise ValueError("a range is given only with bits")
        return Quantized()
    bits, grid = int(params.pop("bits")), params.pop("range", "-1:1")
    if grid == "layer":
        return Quantized(bits=bits, layer=True)
    low, high = _range(grid)
    return Quantized(bits=bits, low=low, high=high)


def _kernel(bound: str):
    def parse(params: dict[str, str]) -> KDE:
        var = float(params.pop("var", "0.1"))
        return KDE(bound, var=var, block=int(params.pop("block", str(BLOCK))))

    return parse


# name -> (parser of its parameters, one-line description for --help)
ESTIMATORS: dict[str, tuple[Callable[[dict[str, str]], AbstractEstimator], str]] = {
    "binning": (
        _binning,
        "equal bins on a fixed range (bins=30,range=-1:1); a value at the top of "
        "the range is a symbol of its own unless top=closed",
    ),
    "binning-width": (
        _width,
        "bins of a fixed width, unbounded range (width=0.07), as Saxe et al.",
    ),
    "binning-observed": (
        _observed,
        "equal bins on the observed min..max of each layer and epoch (bins=30), "
        "or of the whole run (scope=run)",
    ),
    "binning-adaptive": (
        _adaptive,
        "equal-mass bins per unit at weighted quantiles (bins=30), Chelombiev et al.",
    ),
    "quantized": (
        _quantized,
        "exact: the level indices of a quantised network's grid (its own grid, with "
        "quantize=8bit or 8bit-layer; or bits=8,range=-1:1 or bits=8,range=layer), "
        "no binning added (Lorenzen et al.)",
    ),
    "kde-upper": (
        _kernel("upper"),
        "Kolchinsky-Tracey upper bound, Gaussian noise (var=0.1), as Saxe et al.",
    ),
    "kde-lower": (
        _kernel("lower"),
        "Kolchinsky-Tracey lower bound, Gaussian noise (var=0.1)",
    ),
}


def parse_estimator(spec: "str | AbstractEstimator") -> AbstractEstimator:
    """Build an estimator from its command-line form ``name:key=value,key=value``.

    Raises:
        ValueError: unknown name, unknown or malformed parameter, or impossible values.
    """
    if isinstance(spec, AbstractEstimator):
        return spec
    name, params = parse_spec(spec, "estimator")
    if name not in ESTIMATORS:
        raise ValueError(
            f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}"
        )
    parser, _ = ESTIMATORS[name]
    try:
        estimator = parser(params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"estimator {spec!r}: {error}") from None
    if params:
        raise ValueError(
            f"estimator {spec!r}: unknown parameter(s) {', '.join(params)}"
        )
    return estimator
