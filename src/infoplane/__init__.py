"""infoplane: information-plane analysis of neural networks.

Train networks, measure what each hidden layer keeps about the input, I(X;T), and
about the label, I(T;Y), over training, and show it.

Examples:
    >>> import infoplane as ip
    >>> exp = ip.preset("seed", epochs=200, seeds=2)
    >>> exp.hidden
    (8, 6, 4)
"""

import importlib
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("infoplane")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

# Public name -> module that defines it. Imported on first use, so that the command
# line's --help starts without loading JAX.
_EXPORTS = {
    "PRESETS": "config",
    "ClippingWarning": "runner",
    "DataWarning": "runner",
    "RunWarning": "runner",
    "Experiment": "config",
    "load_experiment": "config",
    "preset": "config",
    "run": "runner",
    "Dataset": "datasets",
    "load_task": "datasets",
    "mutual_information": "estimators",
    "Result": "results",
    "InformationPlane": "recorder",
    "TrainingDiverged": "training",
    "DivergenceWarning": "runner",
}
_SUBMODULES = {
    "analysis", "config", "datasets", "distributed", "estimators", "ib", "model",
    "output", "plotting", "recorder", "report", "results", "runner", "schedules",
    "sweeps",
    "training", "units",
}  # fmt: skip

__all__ = sorted([*_EXPORTS, "estimators"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'infoplane' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
