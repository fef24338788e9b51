"""infoplane: information-plane analysis of neural networks.

Train networks, measure what each hidden layer keeps about the input, I(X;T), and
about the label, I(T;Y), over training, and show it.

Examples:
    >>> import infoplane as ip
    >>> exp = ip.preset("seed", epochs=200, seeds=2)
    >>> exp.hidden
    (8, 6, 4)
"""

from importlib import metadata as _metadata

from . import estimators
from .datasets import Dataset, load_task
from .estimators import mutual_information
from .experiment import PRESETS, Experiment, load_experiment, preset, run
from .results import Result
from .training import TrainingDiverged

try:
    __version__ = _metadata.version("infoplane")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "PRESETS",
    "Dataset",
    "Experiment",
    "Result",
    "TrainingDiverged",
    "estimators",
    "load_experiment",
    "load_task",
    "mutual_information",
    "preset",
    "run",
]
