import hashlib
import os
import warnings

import numpy as np
import pytest

import infoplane as ip
from infoplane.datasets import SEED10_LABELS, icosahedron_vertices, seed10, tishby12


def test_seed10_label_table_is_the_notebooks_shuffle():
    # The notebook draws its table with NumPy's legacy generator (docs/protocols.md §1).
    table = np.array([0] * 8 + [1] * 8)
    np.random.RandomState(123456).shuffle(table)  # noqa: NPY002 (provenance)
    np.testing.assert_array_equal(SEED10_LABELS, table)
    np.testing.assert_array_equal(
        SEED10_LABELS, [0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0]
    )


def test_seed10_inputs_and_information():
    d = seed10()
    assert d.inputs.shape == (1024, 10)
    assert d.inputs.dtype == np.float32
    # Most significant bit first: n = 5 is 0000000101.
    np.testing.assert_array_equal(d.inputs[5], [0, 0, 0, 0, 0, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(d.labels, SEED10_LABELS[np.arange(1024) % 16])
    assert d.h_x == pytest.approx(np.log(1024), abs=1e-12)
    assert d.i_xy == pytest.approx(np.log(2), abs=1e-12)


def test_seed10_split_draws_the_right_number_of_samples():
    d = seed10()
    train, test = d.split(
        np.random.default_rng(3),
        train_samples=50_000,
        test_samples=10_000,
        train_fraction=0.5,
    )
    assert int(train.sum()) == 50_000
    assert int(test.sum()) == 10_000
    assert (np.asarray(train) > 0).all()  # all 1024 inputs appear in 50,000 draws
    # Uniform draws: counts near 50000/1024 = 48.8 (a loose 6-sigma band).
    assert abs(np.asarray(train).mean() - 48.83) < 0.1
    assert np.asarray(train).std() < 12


def test_tishby12_labels_match_the_published_fingerprint():
    d = tishby12()
    labels = d.labels
    assert labels.sum() == 2118
    digest = hashlib.sha256("".join(map(str, labels)).encode()).hexdigest()
    assert digest == "8adbd792d6400d00410815b5a1f01b05b59f15fd41ace0db85c7772aa5cf4566"
    assert d.h_x / np.log(2) == pytest.approx(12.0)
    assert d.i_xy / np.log(2) == pytest.approx(
        0.999157, abs=5e-7
    )  # docs/protocols.md §2


def test_icosahedron_matches_the_reference_adjacency():
    v = icosahedron_vertices()
    gram = v @ v.T
    adjacency = {
        0: {1, 3, 5, 10, 11},
        1: {0, 2, 3, 4, 11},
        2: {1, 3, 4, 8, 9},
        3: {0, 1, 2, 8, 10},
        4: {1, 2, 6, 9, 11},
        5: {0, 6, 7, 10, 11},
        6: {4, 5, 7, 9, 11},
        7: {5, 6, 8, 9, 10},
        8: {2, 3, 7, 9, 10},
        9: {2, 4, 6, 7, 8},
        10: {0, 3, 5, 7, 8},
        11: {0, 1, 4, 5, 6},
    }
    for i, neighbours in adjacency.items():
        assert set(np.flatnonzero(np.isclose(gram[i], 1 / np.sqrt(5)))) == neighbours
    for i, j in [(0, 9), (1, 7), (2, 5), (3, 6), (4, 10), (8, 11)]:
        assert gram[i, j] == pytest.approx(-1)


@pytest.mark.parametrize("fraction", [0.05, 0.45, 0.85])
def test_tishby12_split_is_stratified_and_seeded(fraction):
    d = tishby12()
    kwargs = dict(train_samples=0, test_samples=0, train_fraction=fraction)
    train, test = (np.asarray(a) for a in d.split(np.random.default_rng(0), **kwargs))
    assert set(np.unique(train)) <= {0, 1}
    assert (train + test == 1).all()
    assert train.sum() == d.train_size(train_samples=0, train_fraction=fraction)
    # Stratified: the training set's positive rate is the data set's, to rounding.
    assert (train * d.labels).sum() / train.sum() == pytest.approx(
        2118 / 4096, abs=0.01
    )
    again = np.asarray(d.split(np.random.default_rng(0), **kwargs)[0])
    other = np.asarray(d.split(np.random.default_rng(1), **kwargs)[0])
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


def test_from_arrays_and_its_errors():
    d = ip.Dataset.from_arrays(np.zeros((5, 3)), [3, 3, 7, 7, 7], name="mine")
    assert d.p_y.shape == (5, 2)
    assert not d.population
    assert d.i_xy == pytest.approx(-(0.4 * np.log(0.4) + 0.6 * np.log(0.6)))
    with pytest.raises(ValueError, match="labels must have shape"):
        ip.Dataset.from_arrays(np.zeros((5, 3)), [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        ip.Dataset.from_arrays(np.full((2, 1), np.nan), [0, 1])


def test_unknown_task():
    with pytest.raises(
        ValueError, match="unknown task 'cifar10'; choose one of seed10"
    ):
        ip.load_task("cifar10")
    # MNIST is a task, read from the user's files: without them, say what to give.
    with pytest.raises(ValueError, match="needs the folder of your MNIST files"):
        ip.load_task("mnist")


def test_stochastic_labels_of_the_12_bit_task():
    soft = ip.load_task("tishby12:gamma=2")
    hard = ip.load_task("tishby12")
    assert soft.p_y.min() > 0
    assert soft.p_y.max() < 1
    np.testing.assert_allclose(soft.p_y.sum(1), 1)
    # I(X;Y) is below H(Y) with noisy labels, and large gamma recovers hard labels.
    assert soft.i_xy < hard.i_xy
    sharp = ip.load_task("tishby12:gamma=1000")
    np.testing.assert_array_equal(sharp.labels, hard.labels)
    assert sharp.i_xy == pytest.approx(hard.i_xy, abs=1e-6)
    with pytest.raises(ValueError, match="gamma must be positive"):
        ip.load_task("tishby12:gamma=0")
    with pytest.raises(ValueError, match="unknown parameter"):
        ip.load_task("tishby12:colour=1")


def test_training_with_soft_labels_measures_with_p_y_given_x():
    exp = ip.preset(
        "seed",
        task="tishby12:gamma=2",
        loss="softmax_ce",
        epochs=20,
        measure="every:10",
        measure_on="full",
        units="bits",
    )
    result = ip.run(exp)
    i_xy = result.info["i_xy"]
    assert i_xy == pytest.approx(0.5598, abs=1e-3)
    assert np.all(result.i_ty <= i_xy + 1e-9)  # data processing: I(T;Y) <= I(X;Y)


def _write_data(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 1)
    np.savez(path, inputs=x, labels=y)
    return x, y


def test_own_data_from_an_npz_file(tmp_path):
    path = tmp_path / "mine.npz"
    x, y = _write_data(path)
    d = ip.load_task(f"file:{path}")
    assert d.name == f"file:{path}"
    np.testing.assert_array_equal(d.inputs, x.astype(np.float32))
    np.testing.assert_array_equal(d.labels, np.unique(y, return_inverse=True)[1])
    assert not d.population
    assert ip.load_task(f"file:{path}") is d  # cached
    _write_data(path, n=80, seed=1)  # rewritten: loaded again
    assert ip.load_task(f"file:{path}").inputs.shape == (80, 4)


def test_own_data_errors_name_the_file_and_the_fix(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((3, 2)))
    (tmp_path / "junk.npz").write_text("not numpy")
    np.savez(tmp_path / "names.npz", x=np.zeros((3, 2)), y=np.zeros(3))
    np.savez(tmp_path / "short.npz", inputs=np.zeros((3, 2)), labels=np.zeros(2))
    objects = np.array([[1, "a"], [2, "b"]], dtype=object)
    np.savez(tmp_path / "objects.npz", inputs=objects, labels=np.zeros(2))
    cases = {
        "missing.npz": "does not exist",
        "one.npy": "not named arrays",
        "junk.npz": "cannot read",
        "names.npz": r"inputs and labels \(it has x, y\)",
        "short.npz": "labels must have shape",
        "objects.npz": r"array inputs holds Python objects \(dtype=object\)",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message):
            ip.load_task(f"file:{tmp_path / name}")


@pytest.mark.parametrize(
    ("inputs", "labels", "message"),
    [
        (np.zeros((4, 2)) + 1j, [0, 1, 0, 1], "complex"),
        (np.zeros((4, 0)), [0, 1, 0, 1], "at least 1 feature"),
        (np.zeros((1, 3)), [0], "at least 2 samples"),
        (np.zeros((0, 3)), [], r"at least 2 samples.*\(0, 3\)"),  # an empty split
        (np.zeros((0,)), [], r"at least 2 samples.*\(0,\)"),
        (np.zeros((4, 2)), [0, 1, np.nan, 1], "labels must be integer classes"),
        (np.zeros((4, 2)), [0, 0.5, 1, 1], r"labels must be integer classes.*0\.5"),
        (np.zeros((4, 2)), ["a", "b", "a", "b"], "labels must be integer classes"),
        (
            np.zeros((4, 2)),
            np.eye(2)[[0, 1, 0, 1]],
            r"one-hot.*labels\.argmax\(axis=1\)",
        ),
        (np.zeros((20_001, 1)), np.arange(20_001), "20,001 classes"),
    ],
)
def test_bad_data_is_a_clear_error(inputs, labels, message):
    with pytest.raises(ValueError, match=message):
        ip.Dataset.from_arrays(inputs, labels)


def test_finite_inputs_beyond_float32_are_not_called_infinite():
    x = np.array([[1.0, 2.0], [3.0, 5e39]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "overflow encountered in cast" either
        with pytest.raises(ValueError, match=r"reach 5e\+39, beyond float32's range"):
            ip.Dataset.from_arrays(x, [0, 1])


def test_images_and_integral_float_labels_are_accepted():
    d = ip.Dataset.from_arrays(np.zeros((4, 3, 2)), [1.0, 2.0, 1.0, 2.0])
    assert d.inputs.shape == (4, 6)
    assert d.p_y.shape == (4, 2)


def test_a_fifo_or_folder_named_as_the_data_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    (tmp_path / "dir.npz").mkdir()
    for name in ("pipe.npz", "dir.npz"):
        with pytest.raises(ValueError, match="is not a regular file"):
            ip.load_task(f"file:{tmp_path / name}")


# --- Real data: IDX files, MNIST, digits, given splits and scaling -------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an IDX file: magic 0x000008NN, dims as big-endian uint32."""
    header = bytes([0, 0, 0x08, array.ndim])
    dims = np.asarray(array.shape, ">u4").tobytes()
    return header + dims + np.ascontiguousarray(array, np.uint8).tobytes()


def _write_mnist(folder, *, gz: bool, n_train=30, n_test=12, seed=0, dot=False):
    """A small MNIST-like folder: 4 x 5 images, labels 0..9, IDX files (gzipped)."""
    import gzip

    rng = np.random.default_rng(seed)
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 4, 5), np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 4, 5), np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in parts.items():
        name = stem.replace("-idx", ".idx") if dot else stem
        data = _idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return parts


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_files_plain_and_gzipped(tmp_path, gz):
    parts = _write_mnist(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    images = ip.datasets.read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    labels = ip.datasets.read_idx(
        tmp_path / f"t10k-labels-idx1-ubyte{suffix}", "labels"
    )
    np.testing.assert_array_equal(images, parts["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(labels, parts["t10k-labels-idx1-ubyte"])
    assert images.shape == (30, 4, 5)


@pytest.mark.parametrize(("gz", "dot"), [(False, False), (True, False), (True, True)])
def test_mnist_folder_keeps_its_split(tmp_path, gz, dot):
    parts = _write_mnist(tmp_path / "mnist", gz=gz, dot=dot)
    d = ip.load_task(f"mnist:{tmp_path / 'mnist'}")
    assert d.inputs.shape == (42, 20)  # 30 + 12 images of 4 x 5, flattened
    np.testing.assert_array_equal(
        d.inputs[:30], parts["train-images-idx3-ubyte"].reshape(30, 20)
    )
    np.testing.assert_array_equal(d.labels[30:], np.arange(12) % 10)
    assert d.fixed_split.sum() == 30
    assert not d.fixed_split[30:].any()
    assert d.scale == "unit"
    assert ip.load_task(f"mnist:{tmp_path / 'mnist'}") is d  # cached
    # Every seed keeps the given split; train_fraction does not apply.
    for seed in (0, 1):
        train, test = d.split(
            np.random.default_rng(seed),
            train_samples=0,
            test_samples=0,
            train_fraction=0.5,
        )
        np.testing.assert_array_equal(train, d.fixed_split)
        np.testing.assert_array_equal(test, ~d.fixed_split)
    assert d.train_size(train_samples=0, train_fraction=0.5) == 30


def test_mnist_from_keras_npz(tmp_path):
    rng = np.random.default_rng(0)
    x, x_test = rng.integers(0, 256, (20, 3, 3)), rng.integers(0, 256, (6, 3, 3))
    y, y_test = np.arange(20) % 10, np.arange(6) % 10
    (tmp_path / "k").mkdir()
    np.savez(
        tmp_path / "k" / "mnist.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test
    )
    for spec in (f"mnist:{tmp_path / 'k'}", f"mnist:{tmp_path / 'k' / 'mnist.npz'}"):
        d = ip.load_task(spec)
        assert d.inputs.shape == (26, 9)
        assert d.fixed_split.sum() == 20
        assert d.scale == "unit"
        assert d.name == spec


def _corrupt(tmp_path, what):
    """A folder of MNIST files with one defect; returns the folder."""
    folder = tmp_path / what
    _write_mnist(folder, gz=what == "bad gzip")
    images = folder / "train-images-idx3-ubyte"
    if what == "truncated":
        images.write_bytes(images.read_bytes()[:-7])
    elif what == "trailing":
        images.write_bytes(images.read_bytes() + b"\0")
    elif what == "short header":
        images.write_bytes(images.read_bytes()[:9])
    elif what == "bad magic":
        images.write_bytes(b"\x1f\x8b" + images.read_bytes()[2:])
    elif what == "float data":
        images.write_bytes(b"\0\0\x0d\x03" + images.read_bytes()[4:])
    elif what == "labels as images":
        images.write_bytes((folder / "train-labels-idx1-ubyte").read_bytes())
    elif what == "count mismatch":
        labels = np.zeros(29, np.uint8)
        (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    elif what == "missing":
        (folder / "t10k-labels-idx1-ubyte").unlink()
    elif what == "bad gzip":
        path = folder / "train-images-idx3-ubyte.gz"
        path.write_bytes(path.read_bytes()[:40])  # the stream is cut short
    return folder


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("truncated", r"is truncated: its header gives shape \(30, 4, 5\)"),
        ("trailing", "longer than its header says"),
        ("short header", "truncated in its header"),
        ("bad magic", "is not an IDX file"),
        ("float data", "not an IDX file of unsigned bytes"),
        ("labels as images", "has magic number 0x00000801, not 0x00000803"),
        ("count mismatch", "30 train images but 29 train labels"),
        ("missing", r"lacks the test labels \(t10k-labels-idx1-ubyte\[\.gz\]\)"),
        ("bad gzip", "damaged or truncated gzip file"),
    ],
)
def test_bad_mnist_files_are_one_line_errors(tmp_path, what, message):
    folder = _corrupt(tmp_path, what)
    with pytest.raises(ValueError, match=message) as error:
        ip.load_task(f"mnist:{folder}")
    assert "\n" not in str(error.value)


def test_mnist_without_files_says_what_to_give(tmp_path):
    for spec in ("mnist", "mnist:  "):
        with pytest.raises(ValueError, match="needs the folder of your MNIST files"):
            ip.load_task(spec)
    with pytest.raises(ValueError, match="does not exist.*downloads nothing"):
        ip.load_task(f"mnist:{tmp_path / 'nowhere'}")
    with pytest.raises(ValueError, match="holds no mnist.npz"):
        ip.load_task(f"mnist:{tmp_path}")
    ip.datasets.check_task("mnist")  # the saxe2018-mnist preset before its folder
    with pytest.raises(ValueError, match="task mnist: needs a path"):
        ip.datasets.check_task("mnist:")


def test_npz_file_with_a_given_split_and_images(tmp_path):
    rng = np.random.default_rng(1)
    x, x_test = rng.normal(size=(40, 2, 3)), rng.normal(size=(10, 2, 3))
    y, y_test = rng.integers(0, 3, 40), rng.integers(0, 3, 10)
    np.savez(tmp_path / "s.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    d = ip.load_task(f"file:{tmp_path / 's.npz'}")
    assert d.inputs.shape == (50, 6)
    np.testing.assert_array_equal(d.fixed_split, np.arange(50) < 40)
    assert d.scale == "none"  # your own files are used as given
    np.savez(tmp_path / "part.npz", x_train=x, y_train=y, x_test=x_test)
    with pytest.raises(ValueError, match="lacks y_test of a given split"):
        ip.load_task(f"file:{tmp_path / 'part.npz'}")
    np.savez(tmp_path / "both.npz", inputs=x, labels=y, x_train=x)
    with pytest.raises(ValueError, match="keep one layout"):
        ip.load_task(f"file:{tmp_path / 'both.npz'}")
    np.savez(
        tmp_path / "wide.npz", x_train=x, y_train=y, x_test=x_test[:, :1], y_test=y_test
    )
    with pytest.raises(ValueError, match="test inputs have 3 features"):
        ip.load_task(f"file:{tmp_path / 'wide.npz'}")


def test_a_class_only_in_the_test_set_is_a_class():
    d = ip.Dataset.from_arrays(
        np.zeros((4, 2)), [0, 1, 0, 1], test_inputs=np.ones((2, 2)), test_labels=[2, 0]
    )
    assert d.p_y.shape == (6, 3)
    with pytest.raises(ValueError, match="both test_inputs and test_labels"):
        ip.Dataset.from_arrays(
            np.zeros((4, 2)), [0, 1, 0, 1], test_inputs=np.ones((2, 2))
        )


def test_scaling_unit_standard_none_and_auto():
    x = np.array([[0.0, 10.0], [255.0, 10.0], [51.0, 10.0], [102.0, 10.0]])
    d = ip.Dataset.from_arrays(x, [0, 1, 0, 1], scale="unit")
    unit = d.scaled("unit")
    # One map for all values: the smallest (0) to -1, the largest (255) to 1.
    np.testing.assert_allclose(unit.inputs[:, 0], [-1, 1, -0.6, -0.2], atol=1e-6)
    np.testing.assert_allclose(unit.inputs[:, 1], 10 / 127.5 - 1, atol=1e-6)
    assert d.scaled("auto").scale == "unit"
    np.testing.assert_array_equal(d.scaled("auto").inputs, unit.inputs)
    standard = d.scaled("standard").inputs
    np.testing.assert_allclose(standard[:, 0].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(standard[:, 0].std(), 1, atol=1e-6)
    np.testing.assert_array_equal(standard[:, 1], 0)  # a constant feature
    assert d.scaled("none") is d
    assert d.inputs.max() == 255  # scaling makes a new data set
    # With a given split, the training rows alone set the scale.
    given = ip.Dataset.from_arrays(
        x[:2], [0, 1], test_inputs=x[2:] * 2, test_labels=[0, 1]
    ).scaled("unit")
    np.testing.assert_allclose(given.inputs[:2].min(), -1)
    np.testing.assert_allclose(given.inputs[:2].max(), 1)
    with pytest.raises(ValueError, match="scale must be one of"):
        d.scaled("minmax")


def test_synthetic_tasks_are_not_scaled_by_default():
    for task in ("seed10", "tishby12"):
        d = ip.load_task(task)
        assert d.scale == "none"
        assert d.scaled("auto") is d


def test_digits_from_scikit_learn():
    d = ip.load_task("digits")
    assert d.inputs.shape == (1797, 64)
    assert d.p_y.shape == (1797, 10)
    assert (d.inputs.min(), d.inputs.max()) == (0, 16)
    assert d.fixed_split is None  # each seed splits it by train_fraction
    assert d.scale == "unit"
    scaled = d.scaled("auto").inputs
    assert (scaled.min(), scaled.max()) == (-1, 1)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    with pytest.raises(ValueError, match="pip install scikit-learn"):
        ip.datasets.digits()
    ip.datasets.check_task("digits")  # an experiment stands without it
    with pytest.raises(ValueError, match="takes no parameters"):
        ip.datasets.check_task("digits:n=5")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_first_n_training_and_test_images(tmp_path, gz):
    parts = _write_mnist(tmp_path / "m", gz=gz)
    spec = f"mnist:{tmp_path / 'm'},train=7,test=3"
    d = ip.load_task(spec)
    assert d.name == spec
    assert d.inputs.shape == (10, 20)
    np.testing.assert_array_equal(
        d.inputs[:7], parts["train-images-idx3-ubyte"][:7].reshape(7, 20)
    )
    np.testing.assert_array_equal(
        d.inputs[7:], parts["t10k-images-idx3-ubyte"][:3].reshape(3, 20)
    )
    np.testing.assert_array_equal(d.labels, [0, 1, 2, 3, 4, 5, 6, 0, 1, 2])
    np.testing.assert_array_equal(d.fixed_split, np.arange(10) < 7)
    assert d.scale == "unit"
    assert ip.load_task(spec) is d  # cached, apart from the whole files
    whole = ip.load_task(f"mnist:{tmp_path / 'm'}")
    assert whole.inputs.shape == (42, 20)
    # Either option alone; all of a set is allowed.
    only = ip.load_task(f"mnist:{tmp_path / 'm'},test=12")
    assert only.inputs.shape == (42, 20)
    np.testing.assert_array_equal(only.inputs, whole.inputs)
    assert ip.load_task(f"mnist:{tmp_path / 'm'}, train = 30").fixed_split.sum() == 30
    d = ip.datasets.from_mnist(tmp_path / "m", train=4)
    assert d.fixed_split.sum() == 4
    assert len(d.inputs) == 16


def test_mnist_first_n_of_keras_npz(tmp_path):
    rng = np.random.default_rng(0)
    x, x_test = rng.integers(0, 256, (20, 3, 3)), rng.integers(0, 256, (6, 3, 3))
    y, y_test = np.arange(20) % 10, np.arange(6) % 10
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    for spec in (
        f"mnist:{tmp_path},train=12",
        f"mnist:{tmp_path / 'mnist.npz'},train=12",
    ):
        d = ip.load_task(spec)
        assert d.inputs.shape == (18, 9)
        np.testing.assert_array_equal(d.inputs[:12], x[:12].reshape(12, 9))
        np.testing.assert_array_equal(d.inputs[12:], x_test.reshape(6, 9))
        assert d.fixed_split.sum() == 12
    with pytest.raises(ValueError, match=r"test=7 but .*mnist\.npz' holds 6 test"):
        ip.load_task(f"mnist:{tmp_path},test=7")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("train=31", r"train=31 but .* holds 30 training images"),
        ("train=5,test=13", r"test=13 but .* holds 12 test images"),
        ("train=0", r"train must be an integer >= 1 .*got '0'"),
        ("test=-2", r"test must be an integer >= 1 .*got '-2'"),
        ("train=5.5", r"train must be an integer >= 1 .*got '5.5'"),
        ("train=", r"train must be an integer >= 1 .*got ''"),
        ("samples=5", r"unknown option 'samples'.*mnist:DIR,train=N,test=M"),
        ("5000", "options are key=value"),
        ("train=5,train=6", "options are key=value"),
    ],
)
def test_mnist_bad_first_n_options_are_one_line_errors(tmp_path, options, message):
    _write_mnist(tmp_path / "m", gz=False)
    with pytest.raises(ValueError, match=message) as error:
        ip.load_task(f"mnist:{tmp_path / 'm'},{options}")
    assert "\n" not in str(error.value)
    if "holds" not in message:  # the options alone, checked without the files
        with pytest.raises(ValueError, match=message):
            ip.datasets.check_task(f"mnist:{tmp_path / 'nowhere'},{options}")
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        ip.datasets.from_mnist(tmp_path / "m", test=0)


def test_mnist_options_are_checked_without_reading_the_files(tmp_path):
    ip.datasets.check_task(f"mnist:{tmp_path / 'nowhere'},train=5000,test=1000")
    with pytest.raises(ValueError, match="task mnist: needs a path"):
        ip.datasets.check_task("mnist:,train=5")
    with pytest.raises(ValueError, match="needs the folder of your MNIST files"):
        ip.load_task("mnist:,train=5")


def test_repeated_inputs_with_other_labels_are_a_warning():
    from infoplane.runner import data_warnings

    x = np.array([[0.0, 1.0], [0.5, 0.5], [-0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    exp = ip.preset("classify")
    clash = ip.Dataset.from_arrays(x, [0, 1, 1, 1, 0], name="mine")
    (line,) = data_warnings(exp, clash)  # rows 0 and 2 (-0.0 is 0.0)
    assert line.startswith("1 rows of mine repeat another row's inputs with another")
    assert data_warnings(exp, ip.Dataset.from_arrays(x, [0, 1, 0, 1, 0])) == []
    assert data_warnings(exp, seed10()) == []


def test_labels_with_too_few_rows_per_value_are_a_warning():
    from infoplane.runner import data_warnings

    exp = ip.preset("classify")
    x = np.random.default_rng(0).normal(size=(442, 3)) / 4
    target = np.arange(442) % 214  # a measured quantity: 214 values, 442 rows
    (line,) = data_warnings(exp, ip.Dataset.from_arrays(x, target, name="diabetes"))
    assert line.startswith("the labels of diabetes take 214 values over 442 rows")
    assert "regression target" in line
    # Three rows per class, or two classes of two rows each: no warning.
    assert (
        data_warnings(exp, ip.Dataset.from_arrays(x[:441], np.arange(441) % 147)) == []
    )
    assert data_warnings(exp, ip.Dataset.from_arrays(x[:4], np.arange(4) % 2)) == []
