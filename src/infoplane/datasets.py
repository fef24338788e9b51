"""Data sets as distinct inputs with p(y | x), and how samples split into train/test.

A data set stores each distinct input once, with p(y | x) and the population p(x). The
synthetic tasks have few distinct inputs (1024 or 4096) and many samples, so a split is
a pair of per-input sample counts: a full-batch loss weighted by the training counts has
exactly the gradient of the loss over all training samples (docs/protocols.md §5).

* ``seed10``: 10 bits, label set by n mod 16 (the reproduction notebook of
  Shwartz-Ziv & Tishby). Samples are drawn from the population with replacement.
* ``tishby12``: all 4096 patterns of 12 bits with the icosahedral rule of
  Shwartz-Ziv & Tishby (2017). A split partitions the patterns, stratified by label.
* ``Dataset.from_arrays``: a user's own arrays, every row a distinct input; as a task,
  ``file:PATH.npz`` (:func:`from_file`).
"""

import dataclasses
import functools
import math
import zipfile
from pathlib import Path

import numpy as np

from .specs import parse_spec
from .units import entropy

__all__ = ["TASKS", "Dataset", "from_file", "load_task", "seed10", "tishby12"]

# The notebook's label of each residue n mod 16: NumPy's legacy
# RandomState(123456).shuffle of eight zeros then eight ones (docs/protocols.md §1).
SEED10_LABELS = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0])

TISHBY12_THRESHOLD = 7.6


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Distinct inputs, p(y | x) and p(x).

    Attributes:
        name: short name, e.g. ``"seed10"``.
        inputs: ``(n, features)`` float32, one row per distinct input.
        p_y: ``(n, classes)`` float64, p(y | x); one-hot rows for hard labels.
        p_x: ``(n,)`` float64, the population distribution over inputs.
        population: True when samples are drawn from ``p_x`` with replacement (the
            synthetic 10-bit task); False when each input is one sample of a finite
            data set that a split partitions.
    """

    name: str
    inputs: np.ndarray
    p_y: np.ndarray
    p_x: np.ndarray
    population: bool

    def __post_init__(self):
        n = self.inputs.shape[0]
        if self.inputs.ndim != 2 or n == 0:
            raise ValueError(
                f"inputs must have shape (n, features), got {self.inputs.shape}"
            )
        if self.p_y.ndim != 2 or self.p_y.shape[0] != n:
            raise ValueError(
                f"p_y must have shape ({n}, classes), got {self.p_y.shape}"
            )
        if np.any(self.p_y < 0) or not np.allclose(self.p_y.sum(1), 1, atol=1e-6):
            raise ValueError("every row of p_y must be a probability distribution")
        if self.p_x.shape != (n,) or np.any(self.p_x < 0):
            raise ValueError(f"p_x must be {n} non-negative numbers")
        if not math.isclose(self.p_x.sum(), 1.0, abs_tol=1e-6):
            raise ValueError(f"p_x must sum to 1, got {self.p_x.sum()}")

    @classmethod
    def from_arrays(cls, inputs, labels, *, name: str = "arrays") -> "Dataset":
        """A finite data set from a user's arrays; every row is its own input.

        Args:
            inputs: ``(samples, features)`` numbers.
            labels: ``(samples,)`` class of each sample, any integer values.
            name: a name for results and pictures.
        """
        if np.iscomplexobj(inputs):
            raise ValueError("inputs are complex numbers; give real numbers")
        try:
            x = np.asarray(inputs, np.float32)
        except (TypeError, ValueError):
            raise ValueError("inputs must be an array of numbers") from None
        if x.ndim == 1:
            x = x[:, None]
        x = x.reshape(len(x), -1)  # images and other shapes: one row per sample
        if x.shape[0] < 2 or x.shape[1] == 0:
            raise ValueError(
                f"inputs must hold at least 2 samples of at least 1 feature, got "
                f"shape {np.shape(inputs)}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("inputs contain NaN or infinite values")
        codes, classes = _class_codes(labels, len(x))
        p_y = np.zeros((len(x), classes))
        p_y[np.arange(len(x)), codes] = 1.0
        p_x = np.full(len(x), 1.0 / len(x))
        return cls(name, x, p_y, p_x, population=False)

    @property
    def labels(self) -> np.ndarray:
        """The most likely class of each input, shape ``(n,)``."""
        return np.argmax(self.p_y, axis=1)

    @property
    def h_x(self) -> float:
        """H(X) of the population, in nats."""
        return entropy(self.p_x)

    @property
    def i_xy(self) -> float:
        """I(X;Y) of the population, in nats (= H(Y) when labels are deterministic)."""
        h_y = entropy(self.p_x @ self.p_y)
        h_y_x = sum(p * entropy(row) for p, row in zip(self.p_x, self.p_y, strict=True))
        return h_y - h_y_x

    def split(
        self,
        rng: np.random.Generator,
        *,
        train_samples: int,
        test_samples: int,
        train_fraction: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-input sample counts of the training and test sets for one seed.

        A population data set draws ``train_samples`` and ``test_samples`` inputs from
        p(x) with replacement; a finite one puts a fraction ``train_fraction`` of each
        class in the training set (a shuffled, label-stratified split) and the rest in
        the test set.

        Args:
            rng: the NumPy generator of this seed's data draw.

        Returns:
            ``(train_counts, test_counts)``, int32 arrays of shape ``(n,)``.
        """
        n = len(self.p_x)
        if self.population:
            # One draw for both sets: inverse-CDF sampling of train + test samples.
            cdf = np.cumsum(self.p_x)
            u = rng.random(train_samples + test_samples) * cdf[-1]
            draws = np.minimum(np.searchsorted(cdf, u, side="right"), n - 1)
            return (
                np.bincount(draws[:train_samples], minlength=n).astype(np.int32),
                np.bincount(draws[train_samples:], minlength=n).astype(np.int32),
            )
        labels = self.labels
        per_class = np.round(train_fraction * np.bincount(labels)).astype(np.int32)
        order = np.lexsort((rng.random(n), labels))  # by label, shuffled within
        sorted_labels = labels[order]
        start = np.searchsorted(sorted_labels, sorted_labels)
        train = np.zeros(n, np.int32)
        train[order] = (np.arange(n) - start) < per_class[sorted_labels]
        return train, 1 - train

    def train_size(self, *, train_samples: int, train_fraction: float) -> int:
        """How many training samples a split gives (the same for every seed)."""
        if self.population:
            return train_samples
        return int(np.round(train_fraction * np.bincount(self.labels)).sum())


# At most this many classes, and this many bytes for the table of p(y | x).
MAX_CLASSES = 10_000
MAX_LABEL_TABLE_BYTES = 2**31


def _class_codes(labels, n: int) -> tuple[np.ndarray, int]:
    """Each sample's class as 0..classes-1 (sorted label values), and the count."""
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(
            f"labels must have shape ({n},) to match inputs, got {y.shape}"
        )
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(
            "labels must be integer classes (one per sample), got values like "
            f"{y[:3].tolist()}"
        )
    values, codes = np.unique(y, return_inverse=True)
    if len(values) > MAX_CLASSES or n * len(values) * 8 > MAX_LABEL_TABLE_BYTES:
        raise ValueError(
            f"{len(values):,} classes over {n:,} samples is too many (at most "
            f"{MAX_CLASSES:,} classes, and samples x classes at most "
            f"{MAX_LABEL_TABLE_BYTES // 8:,})"
        )
    return codes.ravel(), len(values)


def _bits(n_bits: int) -> np.ndarray:
    """All patterns of ``n_bits`` in counting order, most significant bit first."""
    n = np.arange(2**n_bits)
    return ((n[:, None] >> np.arange(n_bits - 1, -1, -1)) & 1).astype(np.float32)


def seed10() -> Dataset:
    """The 10-bit task of the reproduction notebook (docs/protocols.md §1).

    Input: the 10-bit binary expansion of n in 0..1023, most significant bit first.
    Label: ``SEED10_LABELS[n % 16]``. Samples are drawn uniformly with replacement.
    """
    y = SEED10_LABELS[np.arange(1024) % 16]
    return Dataset("seed10", _bits(10), np.eye(2)[y], np.full(1024, 1 / 1024), True)


def icosahedron_vertices() -> np.ndarray:
    """Unit vectors of a regular icosahedron, row i for bit i of the 12-bit task.

    The cyclic permutations of (0, ±1, ±φ); two are neighbours iff their squared
    distance is 4. The rows are ordered so that the edges are exactly the adjacency
    of docs/protocols.md §2 (0:{1,3,5,10,11}, 1:{0,2,3,4,11}, ...); since every
    automorphism of the icosahedron's graph is an isometry, any such order gives the
    same labels.
    """
    p = (1 + math.sqrt(5)) / 2
    v = np.array([
        [0, 1, p], [1, p, 0], [0, 1, -p], [-1, p, 0],
        [p, 0, -1], [0, -1, p], [1, -p, 0], [-1, -p, 0],
        [-p, 0, -1], [0, -1, -p], [-p, 0, 1], [p, 0, 1],
    ])  # fmt: skip
    return v / math.sqrt(1 + p * p)


def tishby12_score(bits: np.ndarray) -> np.ndarray:
    """f(x) = n(x) + ||sum_i x_i v_i||: set bits plus the length of their vector sum.

    The label is 1 where f(x) > 7.6; no pattern's score lies within 0.037 of it, so the
    labels do not depend on rounding.
    """
    bits = np.asarray(bits, np.float64)
    return bits.sum(axis=1) + np.linalg.norm(bits @ icosahedron_vertices(), axis=1)


def tishby12(gamma: float = math.inf, theta: float = TISHBY12_THRESHOLD) -> Dataset:
    """The 12-bit task of Shwartz-Ziv & Tishby (2017): 4096 patterns, 2118 positive.

    With a finite ``gamma`` the labels are stochastic:
    p(y=1 | x) = sigmoid(gamma * (f(x) - theta)) with f the score of
    :func:`tishby12_score`; training then uses the expected loss under p(y | x) and
    every estimator's I(T;Y) uses p(y | x), so I(X;Y) < H(Y). ``gamma = inf`` (the
    default) gives the hard labels of the paper.

    References:
        Shwartz-Ziv & Tishby (2017), arXiv:1703.00810, section 3.1 ("var_u" data).
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be positive (inf for hard labels), got {gamma}")
    x = _bits(12)
    score = tishby12_score(x) - theta
    if math.isinf(gamma):
        p1 = (score > 0).astype(float)
        name = "tishby12"
    else:
        p1 = 0.5 * (1 + np.tanh(gamma * score / 2))  # sigmoid, without overflow
        name = f"tishby12:gamma={gamma:g},theta={theta:g}"
    p_y = np.stack([1 - p1, p1], axis=1)
    return Dataset(name, x, p_y, np.full(4096, 1 / 4096), False)


TASKS = {
    "seed10": (seed10, "10 bits, label by n mod 16; 50,000/10,000 samples drawn"),
    "tishby12": (
        tishby12,
        "12 bits on an icosahedron, all 4096 patterns (the paper); "
        "tishby12:gamma=2 for stochastic labels",
    ),
}


def load_task(spec: str) -> Dataset:
    """The data set a task spec names: a built-in one, ``name`` or
    ``name:key=value,...`` (e.g. ``"tishby12:gamma=2"``), or ``file:PATH`` for your
    own arrays (see :func:`from_file`).

    Loaded once per spec (and, for a file, per modification), then cached.

    Raises:
        ValueError: unknown task or parameter, an impossible value, or a file that
            is missing or does not hold the arrays.
    """
    if spec.startswith("file:"):
        path = Path(spec.removeprefix("file:")).expanduser()
        try:
            stat = path.stat()
        except OSError:
            raise ValueError(f"data file {str(path)!r} does not exist") from None
        if not path.is_file():
            raise ValueError(f"data file {str(path)!r} is not a regular file")
        return _file_task(spec, path.resolve(), stat.st_mtime_ns, stat.st_size)
    return _builtin_task(spec)


@functools.cache
def _builtin_task(spec: str) -> Dataset:
    name, _, rest = spec.partition(":")
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}; choose one of {', '.join(TASKS)}, "
            "or file:PATH.npz for your own data"
        )
    params = parse_spec(spec, "task", float)[1]
    try:
        return TASKS[name][0](**params)
    except TypeError:
        raise ValueError(
            f"task {spec!r}: unknown parameter(s) {', '.join(params)}"
        ) from None


@functools.cache
def _file_task(spec: str, path: Path, mtime_ns: int, size: int) -> Dataset:
    del mtime_ns, size  # only part of the cache key
    return from_file(path, name=spec)


def from_file(path: str | Path, *, name: str | None = None) -> Dataset:
    """Your own data: a NumPy ``.npz`` file with arrays ``inputs`` and ``labels``.

    Write one with ``numpy.savez("mine.npz", inputs=x, labels=y)``: ``x`` of shape
    ``(samples, features)``, ``y`` of shape ``(samples,)`` with any integer class
    values. Every row is its own input (see :meth:`Dataset.from_arrays`); an
    experiment splits the rows into training and test sets by ``train_fraction``,
    stratified by label. As a task spec: ``file:mine.npz``.
    """
    path = Path(path)
    how = "write it with numpy.savez(path, inputs=x, labels=y)"
    unreadable = ValueError(f"cannot read {str(path)!r} as a .npz file; {how}")
    try:
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(
                    f"{str(path)!r} holds one array, not named arrays; {how}"
                )
            if not {"inputs", "labels"} <= set(data.files):
                found = ", ".join(data.files) or "none"
                raise ValueError(
                    f"{str(path)!r} must hold arrays named inputs and labels "
                    f"(it has {found}); {how}"
                )
            # Object arrays would need pickle, which a data file must not run.
            inputs, labels = data["inputs"], data["labels"]
    except (OSError, EOFError, zipfile.BadZipFile):
        raise unreadable from None
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise unreadable from None
    try:
        return Dataset.from_arrays(inputs, labels, name=name or f"file:{path}")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{str(path)!r}: {error}") from None
