"""Data sets as distinct inputs with p(y | x), and how samples split into train/test.

A data set stores each distinct input once, with p(y | x) and the population p(x). The
synthetic tasks have few distinct inputs (1024 or 4096) and many samples, so a split is
a pair of per-input sample counts: a full-batch loss weighted by the training counts has
exactly the gradient of the loss over all training samples (docs/protocols.md §5).

* ``seed10``: 10 bits, label set by n mod 16 (the reproduction notebook of
  Shwartz-Ziv & Tishby). Samples are drawn from the population with replacement.
* ``tishby12``: all 4096 patterns of 12 bits with the icosahedral rule of
  Shwartz-Ziv & Tishby (2017). A split partitions the patterns, stratified by label.
* ``digits``: scikit-learn's bundled 8 x 8 handwritten digits (1797 x 64, 10 classes),
  read from the installed package (scikit-learn is an optional dependency).
* ``mnist:DIR``: the MNIST files a user downloaded (IDX files or Keras' ``mnist.npz``);
  its train/test split is kept (:func:`from_mnist`). ``mnist:DIR,train=5000,test=1000``
  takes the first 5000 training and the first 1000 test images.
* ``Dataset.from_arrays``: a user's own arrays, every row a distinct input; as a task,
  ``file:PATH.npz`` (:func:`from_file`), with an optional given train/test split.

Nothing here downloads anything: real data comes from an installed package or from
files on disk.

A data set may carry a fixed split (``Dataset.fixed_split``: MNIST's 60,000 training
and 10,000 test images); then every seed trains on the same rows and ``train_fraction``
does not apply. It also names how an experiment with ``scale = "auto"`` scales its
inputs (``Dataset.scale``; see :meth:`Dataset.scaled`).
"""

import dataclasses
import functools
import gzip
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .specs import parse_spec
from .units import entropy

__all__ = [
    "SCALES",
    "TASKS",
    "Dataset",
    "check_task",
    "digits",
    "from_file",
    "from_mnist",
    "load_task",
    "mnist_spec",
    "read_idx",
    "seed10",
    "tishby12",
]

# The notebook's label of each residue n mod 16: NumPy's legacy
# RandomState(123456).shuffle of eight zeros then eight ones (docs/protocols.md §1).
SEED10_LABELS = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0])

TISHBY12_THRESHOLD = 7.6

# How inputs can be scaled (Experiment.scale); "auto" is the data set's own choice.
SCALES = ("auto", "unit", "standard", "none")


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
        fixed_split: None, or a given split that every seed keeps: ``(n,)`` bool,
            True for the training rows, False for the test rows (MNIST's own
            split). With it, ``train_fraction`` does not apply.
        scale: how ``scale = "auto"`` scales the inputs: ``"none"`` (the synthetic
            bits, your own files) or ``"unit"`` (images: digits, MNIST).
        sample_shape: the shape of one input before it was flattened to a row, e.g.
            ``(8, 8)`` for the digits, ``(28, 28)`` for MNIST; ``(features,)`` for
            flat data (the default). A model of your own gets inputs of this shape
            (``ip.run(experiment, model=...)``).
    """

    name: str
    inputs: np.ndarray
    p_y: np.ndarray
    p_x: np.ndarray
    population: bool
    fixed_split: np.ndarray | None = None
    scale: str = "none"
    sample_shape: tuple[int, ...] = ()

    def __post_init__(self):
        n = self.inputs.shape[0]
        if self.inputs.ndim != 2 or n == 0:
            raise ValueError(
                f"inputs must have shape (n, features), got {self.inputs.shape}"
            )
        shape = tuple(int(d) for d in self.sample_shape) or self.inputs.shape[1:]
        if math.prod(shape) != self.inputs.shape[1]:
            raise ValueError(
                f"sample_shape {shape} does not hold the {self.inputs.shape[1]} "
                "features of an input"
            )
        object.__setattr__(self, "sample_shape", shape)
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
        if self.fixed_split is not None:
            split = self.fixed_split
            if self.population or split.shape != (n,) or split.dtype != bool:
                raise ValueError(
                    f"fixed_split must be {n} booleans (True for training rows) of a "
                    "finite data set"
                )
            if split.all() or not split.any():
                which = "test" if split.all() else "training"
                raise ValueError(f"the given split of {self.name} has no {which} rows")
        if self.scale not in SCALES[1:]:
            raise ValueError(f"scale must be one of {', '.join(SCALES[1:])}")

    @classmethod
    def from_arrays(
        cls,
        inputs,
        labels,
        *,
        name: str = "arrays",
        test_inputs=None,
        test_labels=None,
        scale: str = "none",
    ) -> "Dataset":
        """A finite data set from a user's arrays; every row is its own input.

        Args:
            inputs: ``(samples, features)`` numbers; any shape per sample (an image,
                ``(samples, 28, 28)``) is flattened to one row, and kept as
                :attr:`sample_shape`.
            labels: ``(samples,)`` class of each sample, any integer values.
            name: a name for results and pictures.
            test_inputs, test_labels: a given test set (both or neither). Then
                ``inputs`` and ``labels`` are the training set, every seed keeps
                this split (``fixed_split``) and ``train_fraction`` does not apply.
            scale: what ``scale = "auto"`` does with these inputs (see
                :meth:`scaled`).
        """
        if (test_inputs is None) != (test_labels is None):
            raise ValueError("give both test_inputs and test_labels, or neither")
        x = _input_rows(inputs)
        if test_inputs is None:
            codes, classes = _class_codes(labels, len(x))
            split = None
        else:
            x_test = _input_rows(test_inputs, "test inputs", minimum=1)
            if x_test.shape[1:] != x.shape[1:]:
                raise ValueError(
                    f"test inputs have {x_test.shape[1]} features per sample, the "
                    f"training inputs {x.shape[1]}"
                )
            y, y_test = np.asarray(labels), np.asarray(test_labels)
            if y.shape != (len(x),) or y_test.shape != (len(x_test),):
                raise ValueError(
                    f"labels must have shape ({len(x)},) and test labels "
                    f"({len(x_test)},) to match the inputs, got {y.shape} and "
                    f"{y_test.shape}"
                )
            both = np.concatenate([y, y_test])
            codes, classes = _class_codes(both, len(both))
            split = np.arange(len(x) + len(x_test)) < len(x)
            x = np.concatenate([x, x_test])
        p_y = np.zeros((len(x), classes))
        p_y[np.arange(len(x)), codes] = 1.0
        p_x = np.full(len(x), 1.0 / len(x))
        shape = np.shape(inputs)[1:] or (1,)
        return cls(
            name, x, p_y, p_x, False, fixed_split=split, scale=scale, sample_shape=shape
        )

    def scaled(self, how: str = "auto") -> "Dataset":
        """This data set with its inputs scaled for training.

        * ``"unit"``: one affine map of every value onto [-1, 1] (the smallest value
          to -1, the largest to 1), the same for every feature, so an image keeps
          its contrast: MNIST's pixels 0..255 become x / 127.5 - 1, as Saxe et al.
          (2018) scaled them.
        * ``"standard"``: each feature to mean 0 and standard deviation 1 (constant
          features to 0), for features measured in different units.
        * ``"none"``: as given.
        * ``"auto"``: the data set's own choice, :attr:`scale`.

        The statistics come from the training rows when the data set carries a fixed
        split, else from every row (each seed splits them differently, and all seeds
        share one scaling); no labels are used.
        """
        if how == "auto":
            how = self.scale
        if how not in SCALES[1:]:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {how!r}")
        if how == "none":
            return self
        x = self.inputs.astype(np.float64)
        rows = x if self.fixed_split is None else x[self.fixed_split]
        if how == "unit":
            low, high = rows.min(), rows.max()
            span = high - low if high > low else 2.0
            x = (x - low) * (2.0 / span) - 1.0
        else:
            std = rows.std(axis=0)
            x = (x - rows.mean(axis=0)) / np.where(std > 0, std, 1.0)
        return dataclasses.replace(self, inputs=x.astype(np.float32), scale=how)

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
        p(x) with replacement; one with a fixed split gives it, the same for every
        seed; another finite one puts a fraction ``train_fraction`` of each
        class in the training set (a shuffled, label-stratified split) and the rest in
        the test set.

        Args:
            rng: the NumPy generator of this seed's data draw.

        Returns:
            ``(train_counts, test_counts)``, int32 arrays of shape ``(n,)``.
        """
        n = len(self.p_x)
        if self.fixed_split is not None:
            return self.fixed_split.astype(np.int32), (~self.fixed_split).astype(
                np.int32
            )
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
        if self.fixed_split is not None:
            return int(self.fixed_split.sum())
        return int(np.round(train_fraction * np.bincount(self.labels)).sum())


# At most this many classes, and this many bytes for the table of p(y | x).
MAX_CLASSES = 10_000
MAX_LABEL_TABLE_BYTES = 2**31


def _input_rows(inputs, what: str = "inputs", minimum: int = 2) -> np.ndarray:
    """``inputs`` as float32 rows, one per sample (any shape per sample flattened)."""
    if np.iscomplexobj(inputs):
        raise ValueError(f"{what} are complex numbers; give real numbers")
    try:
        with np.errstate(over="ignore"):  # said below, as values beyond float32
            x = np.asarray(inputs, np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an array of numbers") from None
    if x.ndim == 0 or len(x) < minimum or x.size == 0:
        raise ValueError(
            f"{what} must hold at least {minimum} sample{'s' * (minimum > 1)} of at "
            "least 1 feature, got "
            f"shape {np.shape(inputs)}"
        )
    # A column of one feature per sample; images and other shapes: one row each.
    x = x[:, None] if x.ndim == 1 else x.reshape(len(x), -1)
    if not np.all(np.isfinite(x)):
        if np.all(np.isfinite(np.asarray(inputs, np.float64))):
            raise ValueError(
                f"{what} reach {np.abs(np.asarray(inputs, np.float64)).max():.3g}, "
                "beyond float32's range (3.4e38), in which networks train; divide "
                "them by a constant"
            )
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def _class_codes(labels, n: int) -> tuple[np.ndarray, int]:
    """Each sample's class as 0..classes-1 (sorted label values), and the count."""
    y = np.asarray(labels)
    if y.shape != (n,):
        one_hot = y.ndim == 2 and len(y) == n and y.shape[1] > 1
        raise ValueError(
            f"labels must have shape ({n},) to match inputs, got {y.shape}"
            + ("; for one-hot rows give labels.argmax(axis=1)" if one_hot else "")
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


def digits() -> Dataset:
    """scikit-learn's 8 x 8 handwritten digits: 1797 images of 64 pixels (0..16), 10
    classes, read from the installed scikit-learn (nothing is downloaded).

    ``scale = "auto"`` maps the pixels onto [-1, 1]; each seed splits the images by
    ``train_fraction``, stratified by class.

    Raises:
        ValueError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError(
            "task digits reads scikit-learn's bundled digits, and scikit-learn is not "
            "installed: pip install scikit-learn (or pip install 'infoplane[data]')"
        ) from None
    data = load_digits()  # images (1797, 8, 8): data.data flattened
    return Dataset.from_arrays(data.images, data.target, name="digits", scale="unit")


TASKS = {
    "seed10": (seed10, "10 bits, label by n mod 16; 50,000/10,000 samples drawn"),
    "tishby12": (
        tishby12,
        "12 bits on an icosahedron, all 4096 patterns (the paper); "
        "tishby12:gamma=2 for stochastic labels",
    ),
    "digits": (digits, "scikit-learn's 8x8 digits, 1797 x 64, 10 classes"),
}
# Tasks whose data is read from disk or a package only when a run needs it, so that
# an Experiment (and a saved result) stands without the data.
DATA_TASKS = ("digits",)
HOW_TO_NAME_A_TASK = (
    f"choose one of {', '.join(TASKS)}, mnist:DIR (the MNIST files you downloaded), "
    "or file:PATH.npz for your own data"
)
MNIST_HELP = (
    "mnist:DIR reads the MNIST files you downloaded into DIR: train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each "
    "may end in .gz), or Keras' mnist.npz; infoplane downloads nothing"
)
# mnist:DIR,train=N,test=M: the first N training and M test images.
MNIST_OPTIONS = {"train": "training", "test": "test"}


def mnist_spec(spec: str) -> tuple[str, dict[str, int]]:
    """The path and the options of ``mnist:DIR[,train=N][,test=M]``, read without
    touching the disk.

    The path is everything after ``mnist:`` up to the first comma (so a path that
    holds a comma cannot be named in a spec; :func:`from_mnist` takes any path);
    ``train=N`` keeps the first N images of the training set, ``test=M`` the first M
    of the test set, each an integer >= 1.

    Raises:
        ValueError: an unknown option, a value that is not an integer >= 1.

    Examples:
        >>> mnist_spec("mnist:~/data/mnist,train=5000,test=1000")
        ('~/data/mnist', {'train': 5000, 'test': 1000})
        >>> mnist_spec("mnist:~/data/mnist")
        ('~/data/mnist', {})
    """
    path, sep, rest = spec.partition(":")[2].partition(",")
    try:
        params = parse_spec(f"mnist:{rest}", "task")[1] if sep else {}
    except ValueError:
        params = None
    usage = (
        "give mnist:DIR,train=N,test=M to keep the first N training and M test "
        "images (either or both)"
    )
    if params is None:
        raise ValueError(
            f"task {spec!r}: options are key=value, each at most once; {usage}"
        )
    options = {}
    for key, text in params.items():
        if key not in MNIST_OPTIONS:
            raise ValueError(f"task {spec!r}: unknown option {key!r}; {usage}")
        try:
            options[key] = int(text)
        except ValueError:
            options[key] = None
        if options[key] is None or options[key] < 1:
            raise ValueError(
                f"task {spec!r}: {key} must be an integer >= 1 (the number of "
                f"{MNIST_OPTIONS[key]} images to keep), got {text!r}"
            )
    return path.strip(), options


def check_task(spec: str) -> None:
    """Raise ``ValueError`` unless ``spec`` names a task, without reading data from
    disk: ``file:`` and ``mnist:`` paths and ``digits`` are read when a run needs
    them (a saved result loads without its data); the synthetic tasks are built
    (cheap, cached) to check their parameters.

    A bare ``mnist`` (the ``saxe2018-mnist`` preset before its folder is given) is
    accepted here and refused, saying what to give, by :func:`load_task`.
    """
    kind, sep, rest = spec.partition(":")
    if kind in ("file", "mnist") and sep:
        if kind == "mnist":
            rest = mnist_spec(spec)[0]
        if not rest.strip():
            example = "file:mine.npz" if kind == "file" else "mnist:~/data/mnist"
            raise ValueError(f"task {kind}: needs a path, e.g. {example}")
    elif spec == "mnist":
        return
    elif kind in DATA_TASKS:
        if rest:
            raise ValueError(f"task {kind} takes no parameters, got {spec!r}")
    else:
        load_task(spec)


def load_task(spec: str) -> Dataset:
    """The data set a task spec names: a built-in one, ``name`` or
    ``name:key=value,...`` (e.g. ``"tishby12:gamma=2"``), ``digits``,
    ``mnist:DIR`` for the MNIST files you downloaded (see :func:`from_mnist`;
    ``mnist:DIR,train=5000,test=1000`` for the first 5000 training and 1000 test
    images), or ``file:PATH`` for your own arrays (see :func:`from_file`).

    Loaded once per spec (and, for files, per modification), then cached.

    Raises:
        ValueError: unknown task or parameter, an impossible value, or files that
            are missing or do not hold the arrays.
    """
    kind, _, rest = spec.partition(":")
    if kind == "file" and spec.startswith("file:"):
        path = Path(rest).expanduser()
        try:
            stat = path.stat()
        except OSError:
            raise ValueError(f"data file {str(path)!r} does not exist") from None
        if not path.is_file():
            raise ValueError(f"data file {str(path)!r} is not a regular file")
        return _file_task(spec, path.resolve(), stat.st_mtime_ns, stat.st_size)
    if kind == "mnist":
        folder, options = mnist_spec(spec)
        if not folder:
            raise ValueError(
                f"task {spec!r} needs the folder of your MNIST files, e.g. "
                f"--set task=mnist:~/data/mnist; {MNIST_HELP}"
            )
        path = Path(folder).expanduser().resolve()
        files = _mnist_files(path)
        stats = [f.stat() for f in files]
        signature = tuple((s.st_mtime_ns, s.st_size) for s in stats)
        return _mnist_task(spec, path, signature, tuple(sorted(options.items())))
    return _builtin_task(spec)


@functools.cache
def _builtin_task(spec: str) -> Dataset:
    name, _, rest = spec.partition(":")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; {HOW_TO_NAME_A_TASK}")
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


@functools.cache
def _mnist_task(spec: str, path: Path, signature: tuple, options: tuple) -> Dataset:
    del signature  # only part of the cache key: the files' times and sizes
    return from_mnist(path, name=spec, **dict(options))


# Keras' layout of a data set with a given split (its mnist.npz).
SPLIT_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def from_file(path: str | Path, *, name: str | None = None) -> Dataset:
    """Your own data: a NumPy ``.npz`` file with arrays ``inputs`` and ``labels``, or
    with a given split as ``x_train, y_train, x_test, y_test`` (Keras' layout).

    Write one with ``numpy.savez("mine.npz", inputs=x, labels=y)``: ``x`` of shape
    ``(samples, features)`` (or any shape per sample, e.g. ``(samples, 28, 28)``
    images, flattened to rows), ``y`` of shape ``(samples,)`` with any integer class
    values. Every row is its own input (see :meth:`Dataset.from_arrays`); an
    experiment splits the rows into training and test sets by ``train_fraction``,
    stratified by label, afresh for each seed. With ``x_train, ...`` the given split
    is kept for every seed. As a task spec: ``file:mine.npz``.
    """
    path = Path(path)
    return _from_arrays(path, _npz_arrays(path), name=name or f"file:{path}")


def _from_arrays(path: Path, arrays: dict, **kwargs) -> Dataset:
    """``Dataset.from_arrays`` on arrays read from ``path``, naming it in errors."""
    try:
        return Dataset.from_arrays(**arrays, **kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{str(path)!r}: {error}") from None


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of :func:`from_file`'s ``.npz``, named as
    :meth:`Dataset.from_arrays` takes them."""
    how = (
        "write it with numpy.savez(path, inputs=x, labels=y), or with a given split "
        "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
    )
    unreadable = ValueError(f"cannot read {str(path)!r} as a .npz file; {how}")
    try:
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(
                    f"{str(path)!r} holds one array, not named arrays; {how}"
                )
            names = set(data.files)
            whole, split = {"inputs", "labels"} <= names, set(SPLIT_ARRAYS) & names
            if whole and split:
                raise ValueError(
                    f"{str(path)!r} holds both inputs/labels and "
                    f"{', '.join(sorted(split))}; keep one layout"
                )
            if not whole and set(SPLIT_ARRAYS) != split:
                found = ", ".join(data.files) or "none"
                lacking = ", ".join(a for a in SPLIT_ARRAYS if a not in names)
                wanted = (
                    f"lacks {lacking} of a given split"
                    if split
                    else "must hold arrays named inputs and labels"
                )
                raise ValueError(f"{str(path)!r} {wanted} (it has {found}); {how}")
            # Object arrays would need pickle, which a data file must not run.
            names = ("inputs", "labels") if whole else SPLIT_ARRAYS
            read = {}
            for array in names:
                try:
                    read[array] = data[array]
                except ValueError as error:
                    if "allow_pickle" not in str(error):
                        raise
                    raise ValueError(
                        f"{str(path)!r}: array {array} holds Python objects "
                        "(dtype=object), which infoplane does not unpickle; save it "
                        "as numbers, e.g. numpy.asarray(x, dtype=float), and labels "
                        "as integers"
                    ) from None
            if whole:
                arrays = {"inputs": read["inputs"], "labels": read["labels"]}
            else:
                x, y, x_test, y_test = (read[a] for a in SPLIT_ARRAYS)
                arrays = dict(
                    inputs=x, labels=y, test_inputs=x_test, test_labels=y_test
                )
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise unreadable from None
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise unreadable from None
    return arrays


# The MNIST IDX files, by part; each may also be gzipped (.gz) or spelt with a dot
# before "idx" (as some mirrors name them).
MNIST_PARTS = {
    "train images": "train-images-idx3-ubyte",
    "train labels": "train-labels-idx1-ubyte",
    "test images": "t10k-images-idx3-ubyte",
    "test labels": "t10k-labels-idx1-ubyte",
}
IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # uint8 data, 3 or 1 dims


def _mnist_files(path: Path) -> list[Path]:
    """The files ``mnist:PATH`` reads: one ``.npz``, or the four IDX files of a folder
    (preferred to an ``mnist.npz`` beside them)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"MNIST folder {str(path)!r} does not exist; {MNIST_HELP}")
    found, missing = [], []
    for part, stem in MNIST_PARTS.items():
        names = [stem, stem.replace("-idx", ".idx")]
        names = [n + ext for n in names for ext in ("", ".gz")]
        match = next((path / n for n in names if (path / n).is_file()), None)
        if match is None:
            missing.append(f"{part} ({stem}[.gz])")
        else:
            found.append(match)
    if not missing:
        return found
    if (path / "mnist.npz").is_file():
        return [path / "mnist.npz"]
    raise ValueError(
        f"MNIST folder {str(path)!r} lacks the {', '.join(missing)} and holds no "
        f"mnist.npz; {MNIST_HELP}"
    )


def read_idx(path: str | Path, kind: str | None = None) -> np.ndarray:
    """The array of an IDX file (the MNIST format), gzipped or not.

    The header is big-endian: a magic number (0x00000803 for images, 0x00000801 for
    labels: two zero bytes, the data type 0x08 for uint8, the number of dimensions),
    then each dimension as a uint32; then the uint8 data, row-major.

    Args:
        path: the file; a name ending in ``.gz`` is decompressed.
        kind: ``"images"`` or ``"labels"`` to require that magic number.

    Raises:
        ValueError: one line naming the file and what is wrong (not IDX, another
            kind, truncated, trailing bytes, a damaged gzip stream).
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        reason = str(error)
        if path.name.endswith(".gz") and not isinstance(error, FileNotFoundError):
            reason = "a damaged or truncated gzip file"
        raise ValueError(f"cannot read MNIST file {str(path)!r}: {reason}") from None
    bad = f"MNIST file {str(path)!r} is not an IDX file"
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise ValueError(f"{bad} (it does not start with an IDX magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype != 0x08 or ndim == 0:
        raise ValueError(
            f"{bad} of unsigned bytes (magic number 0x{raw[:4].hex()}; expected "
            "0x00000803 for images or 0x00000801 for labels)"
        )
    magic = int.from_bytes(raw[:4], "big")
    if kind is not None and magic != IDX_MAGIC[kind]:
        raise ValueError(
            f"MNIST file {str(path)!r} has magic number 0x{magic:08x}, not "
            f"0x{IDX_MAGIC[kind]:08x} of {kind}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"MNIST file {str(path)!r} is truncated in its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    size = math.prod(shape)
    if len(raw) != header + size:
        short = len(raw) < header + size
        state = "truncated" if short else "longer than its header says"
        raise ValueError(
            f"MNIST file {str(path)!r} is {state}: its header gives shape {shape}, "
            f"{size:,} bytes of data, and it holds {len(raw) - header:,}"
        )
    return np.frombuffer(raw, np.uint8, size, header).reshape(shape)


def from_mnist(
    path: str | Path,
    *,
    name: str | None = None,
    train: int | None = None,
    test: int | None = None,
) -> Dataset:
    """MNIST from files you downloaded, with its own split (60,000 training and
    10,000 test images, kept for every seed).

    ``path`` is a folder with the four IDX files (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each possibly ``.gz``), or a folder with Keras'
    ``mnist.npz``, or that ``.npz`` file itself (arrays ``x_train, y_train, x_test,
    y_test``). ``scale = "auto"`` maps the pixels 0..255 onto [-1, 1].

    ``train`` and ``test`` keep only the first that many images of each set, in the
    files' order (as a task spec: ``mnist:DIR,train=5000,test=1000``); None keeps
    them all.

    Raises:
        ValueError: missing files, files that are not what they should be (one
            line naming the file), or ``train``/``test`` below 1 or above the
            number of images in the file.
    """
    path = Path(path).expanduser()
    files = _mnist_files(path)
    name = name or f"mnist:{path}"
    keep = {"train": train, "test": test}
    for key, n in keep.items():
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(
                f"{name}: {key} must be an integer >= 1 (the number of "
                f"{MNIST_OPTIONS[key]} images to keep), got {n!r}"
            )
    if len(files) == 1:
        arrays = _npz_arrays(files[0])
        if "test_inputs" not in arrays:
            raise ValueError(
                f"{str(files[0])!r} must hold x_train, y_train, x_test, y_test "
                "(Keras' mnist.npz)"
            )
        source = files[0]
    else:
        parts = {}
        for (part, _), file in zip(MNIST_PARTS.items(), files, strict=True):
            parts[part] = read_idx(file, part.split()[1])
        for split in ("train", "test"):
            images, labels = parts[f"{split} images"], parts[f"{split} labels"]
            if len(images) != len(labels):
                raise ValueError(
                    f"MNIST folder {str(path)!r}: {len(images):,} {split} images but "
                    f"{len(labels):,} {split} labels"
                )
        arrays = {
            "inputs": parts["train images"],
            "labels": parts["train labels"],
            "test_inputs": parts["test images"],
            "test_labels": parts["test labels"],
        }
        source = path
    for key, prefix in (("train", ""), ("test", "test_")):
        n, held = keep[key], len(arrays[f"{prefix}inputs"])
        if n is not None and n > held:
            raise ValueError(
                f"{name}: {key}={n:,} but {str(source)!r} holds {held:,} "
                f"{MNIST_OPTIONS[key]} images"
            )
        if n is not None:
            for array in ("inputs", "labels"):
                arrays[prefix + array] = arrays[prefix + array][:n]
    return _from_arrays(source, arrays, name=name, scale="unit")
