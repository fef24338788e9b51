"""Estimators by name: ``"binning:bins=30,range=-1:1"`` <-> ``Binning(30, -1.0, 1.0)``."""

from collections.abc import Callable

from .base import AbstractEstimator
from .binning import Binning

__all__ = ["ESTIMATORS", "parse_estimator"]


def _range(text: str) -> tuple[float, float]:
    low, sep, high = text.rpartition(":")
    if not sep:
        raise ValueError(f"a range is written low:high, e.g. -1:1, got {text!r}")
    return float(low), float(high)


def _binning(params: dict[str, str]) -> Binning:
    low, high = _range(params.pop("range", "-1:1"))
    return Binning(bins=int(params.pop("bins", "30")), low=low, high=high)


# name -> (parser of its parameters, one-line description for --help)
ESTIMATORS: dict[str, tuple[Callable[[dict[str, str]], AbstractEstimator], str]] = {
    "binning": (
        _binning,
        "equal bins on a fixed range (bins=30,range=-1:1), as Shwartz-Ziv & Tishby",
    ),
}


def parse_estimator(spec: "str | AbstractEstimator") -> AbstractEstimator:
    """Build an estimator from its command-line form ``name:key=value,key=value``.

    Raises:
        ValueError: unknown name, unknown or malformed parameter, or impossible values.
    """
    if isinstance(spec, AbstractEstimator):
        return spec
    name, _, rest = str(spec).strip().partition(":")
    if name not in ESTIMATORS:
        raise ValueError(
            f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}"
        )
    params = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(
                f"estimator parameters are key=value, got {item!r} in {spec!r}"
            )
        params[key.strip()] = value.strip()
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
