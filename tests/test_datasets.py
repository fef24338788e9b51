import hashlib
import os

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
    with pytest.raises(ValueError, match="unknown task 'mnist'; choose one of seed10"):
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
        "objects.npz": "cannot read",
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
        (np.zeros((4, 2)), [0, 1, np.nan, 1], "labels must be integer classes"),
        (np.zeros((4, 2)), [0, 0.5, 1, 1], r"labels must be integer classes.*0\.5"),
        (np.zeros((4, 2)), ["a", "b", "a", "b"], "labels must be integer classes"),
        (np.zeros((20_001, 1)), np.arange(20_001), "20,001 classes"),
    ],
)
def test_bad_data_is_a_clear_error(inputs, labels, message):
    with pytest.raises(ValueError, match=message):
        ip.Dataset.from_arrays(inputs, labels)


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
